#!/usr/bin/env bash
# Builds the Linux packages into target/packages/: tailgate_<v>_amd64.deb (cargo-deb) and
# tailgate-<v>.x86_64.rpm (nfpm), from one release build plus the man page and completions
# generated from the CLI definition; then the arm64 ones (packaging/build-arm64.sh) unless
# TAILGATE_SKIP_ARM64=1. Installs cargo-deb, nfpm, cargo-zigbuild and Zig (PyPI's
# ziglang) when missing.
#
# The binary is linked against glibc 2.17 (cargo zigbuild's `<triple>.2.17`): it runs on CentOS 7,
# Amazon Linux 2, RHEL 8 and Ubuntu 18.04 as well as on this machine — a plain `cargo build` here
# needs GLIBC_2.34 and the service would not start on those. The build fails if any symbol needs
# more; the .deb declares `libc6 (>= 2.17)` (dpkg-shlibdeps, from the symbols) and the .rpm
# `glibc >= 2.17`.
set -euo pipefail
cd "$(dirname "$0")/.."
. packaging/lib.sh
TRIPLE=x86_64-unknown-linux-gnu
build_tools

cargo zigbuild --release --locked --target "$TRIPLE.$GLIBC_FLOOR"
bin=target/$TRIPLE/release/tailgate
glibc_at_most "$bin"
cargo run --release --locked --quiet --example gen_assets -- target/assets
mkdir -p target/packages
cargo deb --no-build --strip --locked --target "$TRIPLE" --output target/packages/ >/dev/null
version=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
strip -o target/assets/tailgate "$bin"
gzip -9n -c target/assets/tailgate.1 > target/assets/tailgate.1.gz
VERSION="$version" nfpm package --config packaging/rpm/nfpm.yaml --packager rpm --target target/packages/ >/dev/null
# And the arm64 (Graviton) .deb and aarch64 .rpm, unless TAILGATE_SKIP_ARM64=1 (packaging/build-arm64.sh:
# Debian's rustc-web builds the aarch64 standard library; installing it needs root once).
if [ "${TAILGATE_SKIP_ARM64:-0}" != 1 ]; then
  bash packaging/build-arm64.sh
fi
ls -1 target/packages/
