#!/usr/bin/env bash
# Peak RSS of `--correlate` on the worst input for memory: every load-balancer line a 502 of this
# instance (half the backend's own, each with its nginx line, half the load balancer's with
# nothing local), on distinct paths, over a day.
#
# Usage: bash benches/correlate_memory.sh [LB_LINES] [PEER_BINARY]
#   LB_LINES     default 5 000 000 (~1.3 GB of ELB log, ~0.4 GB of nginx log, in $TMPDIR)
#   PEER_BINARY  another tailgate build (an older commit): its report must be byte-identical
# Prints the peak RSS per output format (goal <= 256 MB) and the findings' digest.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000000}
peer=${2:-}
cargo build --release --locked -q
bin=$PWD/target/release/tailgate
peer=${peer:+$(realpath "$peer")}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$n" "$tmp" <<'PY'
import sys, time
n, d = int(sys.argv[1]), sys.argv[2]
t0 = time.mktime((2026, 11, 25, 0, 0, 0, 0, 0, 0)) - time.timezone
elb = open(f"{d}/elb.log", "w", buffering=1 << 20)
ngx = open(f"{d}/access.log", "w", buffering=1 << 20)
for i in range(n):
    t = t0 + i * 86400.0 / n
    tm = time.gmtime(t)
    us = int((t % 1) * 1e6)
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", tm) + f".{us:06d}Z"
    client = f"198.51.{i % 250}.{i % 200}"
    path = f"/user/{i}/profile?x={i}"
    if i % 2 == 0:
        elb.write(f'{iso} my-lb {client}:4{i % 1000:03d} 10.0.1.11:80 0.000041 0.012000 0.000020 502 502 0 157 "GET http://lb.example.com:80{path} HTTP/1.1" "curl/{i % 9}" - -\n')
        # nginx stamps the end of the request, on the instance's clock (+0.3 s)
        lt = time.gmtime(t + 0.312)
        ngx.write(f'{client} - - [{time.strftime("%d/%b/%Y:%H:%M:%S", lt)} +0000] "GET {path} HTTP/1.1" 502 157 "-" "curl/{i % 9}"\n')
    else:
        elb.write(f'{iso} my-lb {client}:4{i % 1000:03d} 10.0.1.11:80 -1 -1 -1 502 0 0 0 "GET http://lb.example.com:80{path} HTTP/1.1" "curl/{i % 9}" - -\n')
PY
echo "input: $n LB 502s ($(du -h "$tmp/elb.log" | cut -f1)), $(wc -l < "$tmp/access.log") nginx lines ($(du -h "$tmp/access.log" | cut -f1))"
# (relative names: the findings, and their digest, do not depend on where $TMPDIR is)
cd "$tmp"
args=(--correlate -q --backend 10.0.1.11:80 --lb-idle-timeout 60 --log access.log elb.log)
for fmt in ndjson json text; do
  /usr/bin/time -f "  --format $fmt: peak RSS %M KiB, %e s" "$bin" "${args[@]}" --format "$fmt" > "$tmp/out.$fmt"
done
echo "  findings: $(wc -l < "$tmp/out.ndjson"), digest $(sha256sum < "$tmp/out.ndjson" | cut -c1-16)"
python3 - "$tmp/out.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print("  summary: lb_5xx=%d matched=%d causes=%s" % (s["lb_5xx"], s["matched"], s["causes"]))
PY
if [ -n "$peer" ]; then
  /usr/bin/time -f "  peer --format ndjson: peak RSS %M KiB, %e s" "$peer" "${args[@]}" --format ndjson > "$tmp/peer.ndjson"
  if cmp -s "$tmp/out.ndjson" "$tmp/peer.ndjson"; then echo "  peer: identical findings"; else echo "  peer: findings DIFFER"; exit 1; fi
fi
