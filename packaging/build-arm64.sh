#!/usr/bin/env bash
# Builds the arm64 (Graviton) Linux packages into target/packages/: tailgate_<v>_arm64.deb and
# tailgate-<v>.aarch64.rpm, from an aarch64 binary linked against glibc 2.17 like the x86_64 one
# (packaging/build.sh). The rustup toolchain here has no aarch64 standard library, so, as for
# Windows, Debian's rustc-web builds it from rust-web-src (-Zbuild-std); Zig (PyPI's ziglang)
# links through cargo-zigbuild. The build fails if any symbol needs more than GLIBC_2.17.
set -euo pipefail
cd "$(dirname "$0")/.."
. packaging/lib.sh
TRIPLE=aarch64-unknown-linux-gnu
apt_need rustc-web cargo-web rust-web-src binutils-aarch64-linux-gnu
build_tools

RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo \
  cargo-zigbuild zigbuild --release --locked -Zbuild-std=std,panic_abort --target "$TRIPLE.$GLIBC_FLOOR"
bin=target/$TRIPLE/release/tailgate
glibc_at_most "$bin"
# (the man page and completions come from the CLI definition, whatever the architecture)
[ -e target/assets/tailgate.1 ] || cargo run --release --locked --quiet --example gen_assets -- target/assets
mkdir -p target/packages target/assets-arm64
cargo deb --no-build --strip --locked --target "$TRIPLE" --output target/packages/ >/dev/null
version=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
aarch64-linux-gnu-strip -o target/assets-arm64/tailgate "$bin"
[ -e target/assets/tailgate.1.gz ] || gzip -9n -c target/assets/tailgate.1 > target/assets/tailgate.1.gz
# The rpm recipe, for arm64 and its binary.
sed -e 's/^arch: amd64$/arch: arm64/' -e 's#src: target/assets/tailgate$#src: target/assets-arm64/tailgate#' \
  packaging/rpm/nfpm.yaml > target/assets-arm64/nfpm.yaml
grep -q '^arch: arm64$' target/assets-arm64/nfpm.yaml && grep -q 'src: target/assets-arm64/tailgate$' target/assets-arm64/nfpm.yaml \
  || { echo "packaging/build-arm64.sh: packaging/rpm/nfpm.yaml changed shape: update the arm64 rewrite" >&2; exit 1; }
VERSION="$version" nfpm package --config target/assets-arm64/nfpm.yaml --packager rpm --target target/packages/ >/dev/null
ls -1 target/packages/ | grep -E 'arm64|aarch64'
