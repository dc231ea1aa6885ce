#!/usr/bin/env bash
# How long a clean build of the tests takes (dependencies built already: `cargo clean -p tailgate`,
# then `cargo test --no-run --tests`: the library, its unit tests, the binary and every integration
# test crate), at BASE and in the working tree, ROUNDS times each, alternating; prints the medians
# and their ratio (working tree / BASE). Issue 16 asks that the one test crate build no slower than
# the 33 it replaced.
#
#   bash benches/test_build.sh BASE [ROUNDS]     (default ROUNDS 3)
set -euo pipefail
cd "$(dirname "$0")/.."
base=$(git rev-parse --verify "${1:?usage: test_build.sh BASE [ROUNDS]}^{commit}")
rounds=${2:-3}
work=$PWD/target/test-build
tree=$work/tree
mkdir -p "$work"
git worktree prune
[ -d "$tree" ] && git worktree remove --force "$tree"
git worktree add -q --detach "$tree" "$base"
trap 'git worktree remove --force "$tree"' EXIT
export CARGO_TARGET_DIR=$work/target
# Dependencies once, for both trees (they are the same crates).
(cd "$tree" && cargo test -q --locked --no-run --tests >/dev/null 2>&1)
cargo test -q --locked --no-run --tests >/dev/null 2>&1
one() { # DIR -> seconds
  (cd "$1" && cargo clean -q -p tailgate && s=$(date +%s.%N) && cargo test -q --locked --no-run --tests >/dev/null 2>&1 && e=$(date +%s.%N) && awk "BEGIN { printf \"%.1f\", $e - $s }")
}
b=() a=()
for i in $(seq "$rounds"); do
  b+=("$(one "$tree")")
  a+=("$(one "$PWD")")
  echo "round $i: base ${b[-1]} s, working tree ${a[-1]} s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
mb=$(median "${b[@]}") ma=$(median "${a[@]}")
echo "clean test build, median of $rounds: base $(git rev-parse --short "$base") ${mb} s, working tree ${ma} s, ratio $(awk "BEGIN { printf \"%.2f\", $ma / $mb }")"
