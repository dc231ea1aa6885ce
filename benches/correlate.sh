#!/usr/bin/env bash
# Correlation cost against parsing alone, on a seeded ELB + nginx pair (one backend, so the
# nginx log has as many lines as the ELB log).
#
# Usage: benches/correlate.sh [LINES] [RUNS]   (defaults: 2000000, 3; medians)
# Prints: median seconds for `--scan` of each file alone and for `--correlate`, each with one
# thread and with all cores, the like-for-like ratios correlate / (scan ELB + scan nginx)
# (goal ≤ 1.5), and correlate's peak RSS (goal ≤ 256 MB).
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
OUT=$(mktemp)
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
secs() {
  local t0=$EPOCHREALTIME; "$@" >"$OUT" 2>/dev/null; local t1=$EPOCHREALTIME
  echo "$t1 $t0" | awk '{printf "%.6f", $1-$2}'
}
echo "lines: elb $(wc -l < "$D/elb.log"), nginx $(wc -l < "$D/nginx_access.log")"
# Rounds: each round times every command once, back to back, so a change in the machine's load
# hits a round's numerator and denominator alike; the ratios are medians of per-round ratios.
CO_ARGS=(--correlate -q --format json --backend "$BACKEND" --log "$D/nginx_access.log" "$D/elb.log")
secs "$TG" "${CO_ARGS[@]}" >/dev/null # warm the page cache
ROUNDS=$(mktemp); trap 'rm -f "$OUT" "$ROUNDS"' EXIT
for _ in $(seq "$RUNS"); do
  se=$(secs "$TG" --scan -q --threads 1 --format json "$D/elb.log")
  sn=$(secs "$TG" --scan -q --threads 1 --format json "$D/nginx_access.log")
  c1=$(secs "$TG" "${CO_ARGS[@]}" --threads 1)
  sea=$(secs "$TG" --scan -q --format json "$D/elb.log")
  sna=$(secs "$TG" --scan -q --format json "$D/nginx_access.log")
  co=$(secs "$TG" "${CO_ARGS[@]}")
  echo "$se $sn $c1 $sea $sna $co" >> "$ROUNDS"
done
col() { awk -v c="$1" '{print $c}' "$ROUNDS" | median; }
ratio() { awk -v a="$1" -v b="$2" -v c="$3" '{printf "%.4f\n", $a/($b+$c)}' "$ROUNDS" | median; }
SE=$(col 1); SN=$(col 2); C1=$(col 3); SEA=$(col 4); SNA=$(col 5); CO=$(col 6)
RSS=$( { /usr/bin/time -f %M "$TG" --correlate -q --format json --backend "$BACKEND" --log "$D/nginx_access.log" "$D/elb.log" >"$OUT"; } 2>&1 | tail -1)
printf '                 1 thread   all %s cores\n' "$(nproc)"
printf 'scan elb       %8.3f s  %8.3f s\nscan nginx     %8.3f s  %8.3f s\ncorrelate      %8.3f s  %8.3f s\n' "$SE" "$SEA" "$SN" "$SNA" "$C1" "$CO"
echo "ratio correlate / (scan elb + scan nginx), like for like (goal <= 1.5):"
echo "  1 thread:  $(ratio 3 1 2)"
echo "  all cores: $(ratio 6 4 5) (correlate on all cores vs the 1-thread scans: $(ratio 6 1 2))"
echo "correlate peak RSS: $((RSS / 1024)) MB (goal <= 256)"
python3 - "$OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["summary"]
print("findings: lb_5xx=%d matched=%d clock_offset_ms=%s" % (d["lb_5xx"], d["matched"], d["clock_offset_ms"]))
PY
