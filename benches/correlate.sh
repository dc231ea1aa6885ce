#!/usr/bin/env bash
# Correlation cost against parsing alone, on a seeded ELB + nginx pair (one backend, so the
# nginx log has as many lines as the ELB log).
#
# Usage: benches/correlate.sh [LINES] [RUNS]   (defaults: 2000000, 3; medians)
# Prints: median seconds for `--scan` of each file alone (one thread), for `--correlate`, the
# ratio correlate / (scan ELB + scan nginx) (goal ≤ 1.5), and correlate's peak RSS (goal ≤ 256 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-2000000}
RUNS=${2:-3}
GEN=${GEN_LOGS:-tests/fixtures/bench/gen_logs.py}
D=bench-data/pair-$LINES
if [ ! -s "$D/elb.log" ]; then
  echo "generating $D"
  mkdir -p "$D"
  python3 "$GEN" --pair "$D" --lines "$LINES" --seed 11 --backends 1 --skew-ms 1200 >/dev/null 2>&1
fi
cargo build --release --quiet
TG=target/release/tailgate
BACKEND=$(python3 -c "import json; print(json.load(open('$D/meta.json'))['logged_backend'])")
OUT=$(mktemp); trap 'rm -f "$OUT"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
timeit() {
  "$@" >"$OUT" 2>/dev/null
  for _ in $(seq "$RUNS"); do
    local t0=$EPOCHREALTIME; "$@" >"$OUT" 2>/dev/null; local t1=$EPOCHREALTIME
    echo "$t1 $t0" | awk '{printf "%.6f\n", $1-$2}'
  done | median
}
echo "lines: elb $(wc -l < "$D/elb.log"), nginx $(wc -l < "$D/nginx_access.log")"
SE=$(timeit "$TG" --scan -q --threads 1 --format json "$D/elb.log")
SN=$(timeit "$TG" --scan -q --threads 1 --format json "$D/nginx_access.log")
CO=$(timeit "$TG" --correlate -q --format json --backend "$BACKEND" --log "$D/nginx_access.log" "$D/elb.log")
C1=$(timeit "$TG" --correlate -q --threads 1 --format json --backend "$BACKEND" --log "$D/nginx_access.log" "$D/elb.log")
RSS=$( { /usr/bin/time -f %M "$TG" --correlate -q --format json --backend "$BACKEND" --log "$D/nginx_access.log" "$D/elb.log" >"$OUT"; } 2>&1 | tail -1)
printf 'scan elb      %8.3f s\nscan nginx    %8.3f s\ncorrelate     %8.3f s (all %s cores)\ncorrelate -j1 %8.3f s\n' "$SE" "$SN" "$CO" "$(nproc)" "$C1"
echo "ratio correlate / (scan elb + scan nginx): $(echo "$CO $SE $SN" | awk '{printf "%.2f", $1/($2+$3)}') (goal <= 1.5); with --threads 1: $(echo "$C1 $SE $SN" | awk '{printf "%.2f", $1/($2+$3)}')"
echo "correlate peak RSS: $((RSS / 1024)) MB (goal <= 256)"
python3 - "$OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["summary"]
print("findings: lb_5xx=%d matched=%d clock_offset_ms=%s" % (d["lb_5xx"], d["matched"], d["clock_offset_ms"]))
PY
