#!/usr/bin/env bash
# Cross-compiles tailgate.exe for x86_64-pc-windows-gnu and builds the MSI with wixl, into
# target/packages/tailgate-<version>-x86_64.msi. The rustup toolchain has no Windows target, so
# this uses Debian's rustc-web with -Zbuild-std (std built from rust-web-src) and mingw-w64 as
# linker. Installs those (apt) when missing. Env: MSI_VERSION overrides the MSI's version (the
# upgrade test builds a second, newer MSI from the same exe).
set -euo pipefail
cd "$(dirname "$0")/../.."

. packaging/lib.sh
apt_need rustc-web cargo-web rust-web-src mingw-w64 wixl msitools

# Full paths: ~/.cargo/bin (rustup) comes first on PATH and has no Windows std.
export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO_TARGET_DIR="$PWD/target-win"
/usr/bin/cargo build --release --locked -Zbuild-std=std,panic_abort --target x86_64-pc-windows-gnu
exe=target-win/x86_64-pc-windows-gnu/release/tailgate.exe

version=${MSI_VERSION:-$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)}
mkdir -p target/packages target/msi
# wixl resolves sources relative to the working directory.
x86_64-w64-mingw32-strip -o target/msi/tailgate.exe "$exe"
cp packaging/windows/tailgate.toml target/msi/tailgate.toml
(cd target/msi && wixl -a x64 -D Version="$version" -D Exe=tailgate.exe -D Config=tailgate.toml \
  -o "../packages/tailgate-$version-x86_64.msi" ../../packaging/windows/tailgate.wxs)
ls -la "target/packages/tailgate-$version-x86_64.msi"
