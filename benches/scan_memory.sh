#!/usr/bin/env bash
# Peak RSS of `--scan` on the worst input for memory: every line a 502 on its own path.
# Usage: bash benches/scan_memory.sh [LINES]   (default 3 400 000, ~490 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3400000}
cargo build --release --locked -q
bin=target/release/tailgate
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$n" > "$tmp/big.log" <<'PY'
import sys
w = sys.stdout.write
for i in range(int(sys.argv[1])):
    w(f'10.0.{i%250}.{i%200} - - [25/Nov/2026:{8+i//600000:02d}:{(i//10000)%60:02d}:{(i//200)%60:02d} +0000] "GET /user/{i}/profile?x={i} HTTP/1.1" 502 157 "-" "curl/{i%9}"\n')
PY
echo "input: $n lines, $(du -h "$tmp/big.log" | cut -f1)"
for fmt in ndjson json text; do
  /usr/bin/time -f "  --format $fmt: peak RSS %M KiB, %e s" "$bin" --scan "$tmp/big.log" --format "$fmt" > /dev/null
done
/usr/bin/time -f "  stdin --format ndjson: peak RSS %M KiB, %e s" "$bin" --scan - --format ndjson < "$tmp/big.log" > /dev/null
