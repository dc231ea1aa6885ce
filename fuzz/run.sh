#!/usr/bin/env bash
# Seed each target's corpus from the real samples in tests/fixtures, then fuzz every target
# for SECONDS (default 300) one after the other. Needs the nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
# Usage: fuzz/run.sh [SECONDS] [TARGET…]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(elb alb apache nginx w3c errorlog detect probe_response config)
fx=../tests/fixtures
seed() { # seed TARGET FILE… : one corpus file per line
  mkdir -p "corpus/$1"
  local t=$1; shift
  cat "$@" | awk -v d="corpus/$t" 'NF { f = sprintf("%s/seed-%04d", d, NR); printf "%s", $0 > f; close(f) }'
}
seed elb $fx/elb/classic-samples.log
seed alb $fx/elb/alb-samples.log
seed errorlog $fx/errorlogs/*.log
mkdir -p corpus/w3c corpus/detect corpus/apache corpus/nginx
for f in $(find $fx/iis -type f) $fx/elb/*.log $fx/errorlogs/*.log; do
  cp "$f" "corpus/w3c/$(basename "$f")"; cp "$f" "corpus/detect/$(basename "$f")"
done
printf '%s\0%s' '%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"' \
  '127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326 "-" "curl"' > corpus/apache/combined
printf '%s\0%s' '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"' \
  '127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 009 0 "-" "curl"' > corpus/nginx/combined
# probe_response: three bytes of read sizes and a stall flag, then a server's output.
mkdir -p corpus/probe_response corpus/config
printf '\x01\x10\x00HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' > corpus/probe_response/ok
printf '\x03\x07\x00HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n0\r\nT: 1\r\n\r\n' > corpus/probe_response/chunked
printf '\x02\x02\x01HTTP/1.1 200 OK\nX-A : 1\nContent-Length: 2\nContent-Length: 3\n\nok' > corpus/probe_response/bad
cp ../packaging/linux/tailgate.toml corpus/config/packaged.toml
printf '[[probes]]\nurl = "http://127.0.0.1:8080/health"\ninterval_secs = 30\ntimeout_secs = 2.5\nheaders = ["X-Health: elb"]\n' > corpus/config/probes.toml
for t in "${targets[@]}"; do
  echo "== $t ($secs s)"
  cargo +nightly fuzz run -O "$t" -- -max_total_time="$secs" -max_len=8192 2>&1 | grep -E '^(#[0-9]+ +DONE|Done|==|SUMMARY|artifact|error)' || true
done
