#!/usr/bin/env bash
# The HTML report's cost on 100 000 findings: `--correlate --format html` against `--format json`
# of the same run (goal: html adds <= 20 %), and the time until the page is usable in headless
# Chromium (goal: < 2 s; the page stamps `data-ready-ms`, ms since navigation began, once its
# table, filters and charts are built).
#
# Usage: benches/html.sh [RUNS]   (default 5; medians, the ratio a median of per-round ratios)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
cargo build --release --quiet
TG=target/release/tailgate
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
# Half 502s of instance 10.0.1.5 the LB could not reach, half 503s without a backend.
python3 - "$D/elb.log" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(100000):
        sec, us = i * 864 // 1000, i % 1000000
        t = "2026-11-30T%02d:%02d:%02d.%06dZ" % (sec // 3600, sec // 60 % 60, sec % 60, us)
        if i % 2 == 0:
            f.write('%s lb 198.51.100.%d:4000 10.0.1.5:80 -1 -1 -1 502 - 0 0 "GET http://lb.example.com:80/user/%d/profile HTTP/1.1" "curl/8" - -\n' % (t, i % 250, i))
        else:
            f.write('%s lb 198.51.100.%d:4000 - -1 -1 -1 503 - 0 0 "GET http://lb.example.com:80/cart/%d HTTP/1.1" "curl/8" - -\n' % (t, i % 250, i))
PY
mkdir "$D/root"
ARGS=(--correlate -q --root "$D/root" --backend 10.0.1.5 --lb-idle-timeout 60 "$D/elb.log")
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
secs() { local t0=$EPOCHREALTIME; "$@"; local t1=$EPOCHREALTIME; echo "$t1 $t0" | awk '{printf "%.6f", $1-$2}'; }
"$TG" "${ARGS[@]}" --format json -o "$D/r.json" # warm the page cache
ROUNDS=$(mktemp); trap 'rm -rf "$D" "$ROUNDS"' EXIT
for _ in $(seq "$RUNS"); do
  j=$(secs "$TG" "${ARGS[@]}" --format json -o "$D/r.json")
  h=$(secs "$TG" "${ARGS[@]}" --format html -o "$D/r.html")
  echo "$j $h" >> "$ROUNDS"
done
J=$(awk '{print $1}' "$ROUNDS" | median); H=$(awk '{print $2}' "$ROUNDS" | median)
R=$(awk '{printf "%.4f\n", $2/$1}' "$ROUNDS" | median)
echo "findings: $(python3 -c "import json; print(len(json.load(open('$D/r.json'))['findings']))"), html $(($(stat -c %s "$D/r.html") / 1048576)) MiB"
printf 'correlate --format json  %8.3f s\ncorrelate --format html  %8.3f s\n' "$J" "$H"
echo "ratio html / json: $R (goal <= 1.2)"
CHROMIUM=$(command -v chromium || echo /usr/bin/chromium)
READY=$(mktemp); trap 'rm -rf "$D" "$ROUNDS" "$READY"' EXIT
for _ in $(seq "$RUNS"); do
  "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --user-data-dir="$D/profile" --virtual-time-budget=30000 --dump-dom "file://$D/r.html" 2>/dev/null \
    | grep -o 'data-ready-ms="[0-9]*"' | grep -o '[0-9]*' >> "$READY" || true
done
[ -s "$READY" ] || { echo "the page never became ready in Chromium" >&2; exit 1; }
echo "page usable in headless Chromium after: $(median < "$READY") ms median of $(wc -l < "$READY") (goal < 2000)"
