#!/usr/bin/env bash
# Behaviour-preserving changes (issue 16, "Shape") must leave every output byte-identical. This runs
# the binary built at BASE (default: origin/main, else HEAD~1) and the one built from the working tree
# over the same inputs — the README's demo in every format, every shared and fixture sample (scan,
# four formats), every config tree (discover --root, text and json), a generated ELB + nginx pair
# (correlate, one and two threads, with spilling), the probe's refusals and the usage errors — and
# compares stdout, stderr and the exit status of each run. Exit 0 when all are identical; else the
# first differences and exit 1.
#
#   bash .ci/same-outputs.sh [BASE]
#
# The base build lives in target/same-outputs (a git worktree and its own target dir, kept between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
base=${1:-$(git rev-parse --verify -q origin/main || git rev-parse HEAD~1)}
base=$(git rev-parse --verify "$base^{commit}")
work=$root/target/same-outputs
mkdir -p "$work"

# The two binaries (debug builds: outputs do not depend on the profile).
if [ ! -x "$work/bin/$base/tailgate" ]; then
  rm -rf "$work/tree"
  git worktree prune
  git worktree add -q --detach "$work/tree" "$base"
  (cd "$work/tree" && CARGO_TARGET_DIR=$work/target cargo build -q --locked --bin tailgate)
  mkdir -p "$work/bin/$base"
  cp "$work/target/debug/tailgate" "$work/bin/$base/tailgate"
  git worktree remove --force "$work/tree"
fi
cargo build -q --locked --bin tailgate
before=$work/bin/$base/tailgate
after=$root/target/debug/tailgate

# Inputs: a generated pair (seeded), plus what is in the repository and in ../shared.
pair=$work/pair
if [ ! -s "$pair/elb.log" ]; then
  gen=../shared/bench/gen_logs.py
  [ -f "$gen" ] || gen=tests/fixtures/bench/gen_logs.py
  python3 "$gen" --pair "$pair" --lines 60000 --seed 16 --error-rate 0.04 --backends 3 >/dev/null
fi
empty=$work/empty-root
mkdir -p "$empty"

# One run: NAME then the arguments. Run from the repository root with a fixed environment.
runs=()
add() { runs+=("$(printf '%q ' "$@")"); }
fmts="text json ndjson html"
demo="--correlate examples/demo/elb.log --log examples/demo/nginx_access.log --backend 10.0.1.11:80 --root $empty"
for f in $fmts; do add "demo-$f" $demo --format "$f"; done
add demo-scan --scan examples/demo/elb.log examples/demo/nginx_access.log examples/demo/nginx_error.log --format json
add demo-scan-text --scan examples/demo/elb.log examples/demo/nginx_access.log examples/demo/nginx_error.log
add demo-all-backends --correlate examples/demo/elb.log --all-backends --root "$empty" --format json
for f in $(find tests/fixtures/realworld tests/fixtures/errorlogs tests/fixtures/elb ../shared/data/elb ../shared/data/errorlogs \
  -type f \( -name '*.log' -o -name '*.txt' \) 2>/dev/null | sort); do
  n=$(echo "$f" | tr '/.' '__')
  for fm in $fmts; do add "scan-$n-$fm" --scan "$f" --format "$fm" --root "$empty"; done
done
for f in tests/fixtures/elb/*.log ../shared/data/elb/*.log; do
  [ -f "$f" ] || continue
  add "correlate-$(echo "$f" | tr '/.' '__')" --correlate "$f" --all-backends --root "$empty" --format json
done
for d in $(find tests/fixtures/configs tests/fixtures/discover ../shared/data/configs -mindepth 2 -maxdepth 3 -type d -not -name etc -not -name conf -not -name Windows 2>/dev/null | sort); do
  n=$(echo "$d" | tr '/.' '__')
  add "discover-$n-json" --discover --root "$d" --format json
  add "discover-$n-text" --discover --root "$d"
done
for t in 1 2; do
  add "pair-t$t" --correlate "$pair/elb.log" --log "$pair/nginx_access.log" --backend 10.0.1.11:80 --root "$empty" --threads "$t" --format json
  add "pair-all-t$t" --correlate "$pair/elb.log" --all-backends --root "$empty" --threads "$t" --format ndjson
  add "pair-scan-t$t" --scan "$pair/elb.log" "$pair/nginx_access.log" --threads "$t" --format json
done
add pair-text --correlate "$pair/elb.log" --log "$pair/nginx_access.log" --backend 10.0.1.11:80 --root "$empty"
add pair-stdin --correlate - --stdin-name s3/key.log --backend 10.0.1.11 --root "$empty" --format json "<$pair/elb.log"
add pair-scan-stdin --scan - --format json "<$pair/nginx_access.log"
# Refusals and usage errors (message and status).
add err-no-mode-html --discover --format html
add err-correlate-none --correlate
add err-correlate-missing --correlate /nonexistent/elb.log --root "$empty"
add err-scan-missing --scan /nonexistent/access.log
add err-scan-config --scan x.log --config y.toml
add err-root --discover --root /nonexistent
add err-backend --correlate examples/demo/elb.log --backend 10.0.0.300
add err-log-format --scan examples/demo/elb.log --log-format nginx:'$bad'
add err-since --scan examples/demo/elb.log --since 5y
add err-probe-none --probe
add err-probe-url --probe ftp://127.0.0.1/
add err-probe-header --probe http://127.0.0.1:1/ --header 'bad header'
add err-service --service
add err-config --config /nonexistent/tailgate.toml
add err-window --correlate x --window nan
add help --help

out_b=$work/out/before out_a=$work/out/after
rm -rf "$work/out"
mkdir -p "$out_b" "$out_a"
one() { # BIN OUTDIR "NAME ARGS…"
  local bin=$1 dir=$2
  eval "set -- $3"
  local name=$1
  shift
  local redirect=/dev/null args=()
  for a in "$@"; do
    case "$a" in "<"*) redirect=${a#<} ;; *) args+=("$a") ;; esac
  done
  local rc=0
  env -i PATH="$PATH" HOME=/nonexistent LANG=C TZ=UTC NO_COLOR=1 TMPDIR="${TMPDIR:-/tmp}" \
    "$bin" "${args[@]}" <"$redirect" >"$dir/$name.out" 2>"$dir/$name.err" || rc=$?
  echo "$rc" >"$dir/$name.rc"
  # (diagnostics carry the time they were written: that part is not compared)
  sed -i -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z +//' "$dir/$name.err"
}
for r in "${runs[@]}"; do
  one "$before" "$out_b" "$r"
  one "$after" "$out_a" "$r"
done
# (the base's own binary name is its commit: usage lines name the program)
if diff -r -q "$out_b" "$out_a" >/dev/null; then
  echo "same outputs: ${#runs[@]} runs (stdout, stderr, exit status) of $(git rev-parse --short "$base") and the working tree are byte-identical"
  exit 0
fi
echo "outputs differ between $(git rev-parse --short "$base") and the working tree:" >&2
diff -r -u "$out_b" "$out_a" | head -80 >&2
exit 1
