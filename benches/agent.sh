#!/usr/bin/env bash
# The agent's benchmarks: append→event latency at 1 k and 10 k lines/s, CPU and peak RSS while
# following 50 files at 10 k lines/s in total, idle wake-ups per second. Needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 benches/agent_bench.py target/release/tailgate "$W"
