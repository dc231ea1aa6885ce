#!/usr/bin/env bash
# Whole-process `tailgate --scan` against peers on the same files, in the same run.
#
# Usage: benches/scan_vs_peers.sh [LINES] [RUNS]     (defaults: 2000000 lines, 5 runs; medians)
# Data: a Classic ELB log and an nginx combined log from the project's seeded generator
# (../shared/bench/gen_logs.py, or $GEN_LOGS), cached in bench-data/. Set PEERS=1 to also run
# ../shared/bench/peers.sh (GoAccess, lnav, Python re, … when installed) on the same files.
#
# Prints median wall time per command and the ratios the project tracks:
#   tailgate --threads 1 vs `grep -c ' 502 '`   (goal ≥ 1.5× on ELB, ≥ 1× on nginx)
#   tailgate (all cores) vs `rg -c ' 502 '`      (goal ≥ 0.4× on ELB)
# Ratios are throughput ratios (peer time / tailgate time): > 1 means tailgate is faster.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-2000000}
RUNS=${2:-5}
GEN=${GEN_LOGS:-../shared/bench/gen_logs.py}
DATA=bench-data
mkdir -p "$DATA"
for kind in elb nginx; do
  f="$DATA/$kind-$LINES.log"
  [ -s "$f" ] || { echo "generating $f"; python3 "$GEN" --kind "$kind" --lines "$LINES" --seed 42 --out "$f" >/dev/null 2>&1; }
done
cargo build --release --quiet
TG=target/release/tailgate
NPROC=$(nproc)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
OUT=$(mktemp); trap 'rm -f "$OUT"' EXIT
# Output goes to a file, not /dev/null: GNU grep stops at the first match when it sees /dev/null.
timeit() { # timeit CMD… → median seconds over RUNS (after one warm-up)
  "$@" >"$OUT" 2>&1 || true
  for _ in $(seq "$RUNS"); do
    local t0=$EPOCHREALTIME
    "$@" >"$OUT" 2>&1 || true
    local t1=$EPOCHREALTIME
    echo "$t1 $t0" | awk '{printf "%.6f\n", $1-$2}'
  done | median
}

declare -A T
printf '%-8s %-32s %10s %10s\n' file command median_s MB/s
for kind in elb nginx; do
  f="$DATA/$kind-$LINES.log"
  mb=$(stat -c %s "$f" | awk '{print $1/1e6}')
  run() { # run KEY LABEL CMD…
    local key=$1 label=$2; shift 2
    local s; s=$(timeit "$@")
    T[$kind.$key]=$s
    printf '%-8s %-32s %10.3f %10.0f\n' "$kind" "$label" "$s" "$(echo "$mb $s" | awk '{print $1/$2}')"
  }
  # cat reads to /dev/null (its output is the whole file); the others write their count to a file
  run cat "cat > /dev/null" sh -c 'cat "$1" > /dev/null' sh "$f"
  run grep "grep -c ' 502 '" grep -c ' 502 ' "$f"
  command -v rg >/dev/null && run rg "rg -c ' 502 '" rg -c ' 502 ' "$f"
  run tg1 "tailgate --scan --threads 1" "$TG" --scan -q --threads 1 --format json "$f"
  run tgN "tailgate --scan (all $NPROC cores)" "$TG" --scan -q --format json "$f"
done
echo
ratio() { echo "${T[$1]} ${T[$2]}" | awk '{printf "%.2f", $1/$2}'; }
for kind in elb nginx; do
  echo "$kind: tailgate 1 thread vs grep -c: $(ratio "$kind.grep" "$kind.tg1")x (goal >= $([ $kind = elb ] && echo 1.5 || echo 1))"
  if [ -n "${T[$kind.rg]:-}" ]; then
    echo "$kind: tailgate all cores vs rg -c:   $(ratio "$kind.rg" "$kind.tgN")x$([ $kind = elb ] && echo ' (goal >= 0.4)')"
  fi
done
# Sanity: tailgate's 502 count on the ELB file (ELB status 502) next to grep's line count.
echo "elb 502s: tailgate $("$TG" --scan -q --format json "$DATA/elb-$LINES.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["logs"][0]["status_5xx"].get("502",0))'), grep -c ' 502 ' $(grep -c ' 502 ' "$DATA/elb-$LINES.log")"
if [ "${PEERS:-0}" = 1 ]; then
  d=$(mktemp -d); ln -s "$PWD/$DATA/elb-$LINES.log" "$d/elb.log"; ln -s "$PWD/$DATA/nginx-$LINES.log" "$d/nginx.log"
  bash "$(dirname "$GEN")/peers.sh" "$d" "$RUNS"
fi
