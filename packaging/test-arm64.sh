#!/usr/bin/env bash
# The arm64 (Graviton) checks, as root: builds the arm64 .deb and .rpm (packaging/build-arm64.sh)
# and, under qemu-user-static with Debian's arm64 glibc (libc6-arm64-cross):
#
#   1. the library's unit tests, built for aarch64, pass;
#   2. --scan and --correlate of the bundled demo give byte-identical output to the x86_64
#      portable build (packaging/build.sh, run first by test-linux.sh or here);
#   3. both binaries need GLIBC_2.17 at most; the .deb is Architecture: arm64 and depends on
#      libc6 (>= 2.17), the .rpm is aarch64 and requires glibc >= 2.17; lintian is clean.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "packaging/test-arm64.sh must run as root (it installs qemu and the arm64 glibc)" >&2; exit 2; }
. packaging/lib.sh
step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

apt_need qemu-user-static libc6-arm64-cross lintian rpm
run_arm() { qemu-aarch64-static -L /usr/aarch64-linux-gnu "$@"; }

step "build: the arm64 packages"
bash packaging/build-arm64.sh
[ -x target/x86_64-unknown-linux-gnu/release/tailgate ] || bash packaging/build.sh >/dev/null
arm=target/aarch64-unknown-linux-gnu/release/tailgate
x86=target/x86_64-unknown-linux-gnu/release/tailgate

step "glibc floor"
for b in "$arm" "$x86"; do
  glibc_at_most "$b" || fail "$b: above the glibc floor"
done

step "packages: architecture and declared floor"
deb=$(ls target/packages/tailgate_*_arm64.deb)
rpmf=$(ls target/packages/tailgate-*.aarch64.rpm)
[ "$(dpkg-deb -f "$deb" Architecture)" = arm64 ] || fail "$deb: Architecture $(dpkg-deb -f "$deb" Architecture)"
dpkg-deb -f "$deb" Depends | grep -q 'libc6 (>= 2.17)' || fail "$deb: Depends $(dpkg-deb -f "$deb" Depends)"
[ "$(rpm -qp --qf '%{ARCH}' "$rpmf" 2>/dev/null)" = aarch64 ] || fail "$rpmf: not aarch64"
rpm -qpR "$rpmf" 2>/dev/null | grep -q '^glibc >= 2.17' || fail "$rpmf: no glibc >= 2.17"
mkdir -p target/arm64-deb && dpkg-deb -x "$deb" target/arm64-deb
file target/arm64-deb/usr/bin/tailgate | grep -q 'ARM aarch64' || fail "the .deb's binary is not aarch64"
rm -rf target/arm64-deb
lintian --fail-on error,warning "$deb" || fail "lintian"

step "demo: arm64 output is the x86_64 output, byte for byte"
for args in "--scan --format json examples/demo/elb.log" \
            "--scan --format json examples/demo/nginx_access.log" \
            "--correlate --format json examples/demo/elb.log --log examples/demo/nginx_access.log --backend 10.0.1.11:80"; do
  # shellcheck disable=SC2086
  a=$(run_arm "$arm" $args | sha256sum)
  # shellcheck disable=SC2086
  b=$("$x86" $args | sha256sum)
  [ "$a" = "$b" ] || fail "tailgate $args differs on arm64"
  echo "same: tailgate $args"
done

step "unit tests under qemu"
RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo \
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu" \
  cargo-zigbuild test --locked -Zbuild-std=std,panic_abort --target aarch64-unknown-linux-gnu.2.17 --lib

printf '\n== arm64: all checks passed\n'
