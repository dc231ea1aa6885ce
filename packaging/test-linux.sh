#!/usr/bin/env bash
# Builds the .deb and .rpm (packaging/build.sh) and checks them on this Debian machine, as root:
#
#   unit     systemd-analyze security --offline exposure <= 2.0 ("OK"); systemd-analyze verify
#   deb      lintian clean; dpkg -i creates the user (in adm), the conffile, the dirs; the installed
#            binary, run as the tailgate user, discovers the real Debian nginx and reads its log
#            (--scan, and the agent writing an event to /var/log/tailgate/events.ndjson);
#            dpkg -P removes everything (user, group, state, events, config)
#   rpm      rpmlint clean (packaging/rpm/rpmlint.toml); payload install + `rpm -V` into an
#            alternate root; config(noreplace); scriptlets run with `rpm -i` / `rpm -e`
#   old      both packages installed into a debootstrapped Debian 11 (glibc 2.31, the oldest the
#            mirror serves; cached in target/old-userland): --version, and --scan of the demo log
#            as the tailgate user gives the same totals as here
#
# Needs nginx installed (the README's test command installs it). Uses a free loopback port and
# leaves the machine as it found it (the packages are removed, nginx stopped).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "packaging/test-linux.sh must run as root (it installs and purges the packages)" >&2; exit 2; }

step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
. packaging/lib.sh

need=()
for b in lintian rpm rpmlint systemd-analyze curl setpriv; do command -v "$b" >/dev/null || need+=("$b"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lintian rpm rpmlint systemd curl util-linux >/dev/null
fi
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || fail "nginx is not installed: run the README's test command first"

step "build"
bash packaging/build.sh
deb=$(ls target/packages/tailgate_*_amd64.deb)
rpmf=$(ls target/packages/tailgate-*.x86_64.rpm)

step "glibc floor (2.17: CentOS 7, Amazon Linux 2, RHEL 8, Ubuntu 18.04)"
mkdir -p target/floor && dpkg-deb -x "$deb" target/floor
glibc_at_most target/floor/usr/bin/tailgate || fail "the packaged binary is above the glibc floor"
rm -rf target/floor
dpkg-deb -f "$deb" Depends | grep -q 'libc6 (>= 2.17)' || fail "the .deb does not declare libc6 (>= 2.17): $(dpkg-deb -f "$deb" Depends)"
rpm -qpR "$rpmf" 2>/dev/null | grep -q '^glibc >= 2.17' || fail "the .rpm does not require glibc >= 2.17: $(rpm -qpR "$rpmf" 2>/dev/null | tr '\n' ' ')"

step "unit for systemd 219 (CentOS/RHEL 7): only directives that systemd knows"
python3 - packaging/linux/systemd219/tailgate.service tests/fixtures/systemd/rhel7-service-directives.txt <<'PY' || fail "the systemd-219 unit"
import sys
known = {l.strip() for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")}
section, bad = None, []
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    if line.startswith("["):
        section = line.strip("[]")
        continue
    key, _, value = line.partition("=")
    if f"{section}.{key}" not in known:
        bad.append(f"{n}: {section}.{key} is not a systemd 219 directive")
    if key == "Type" and value not in ("simple", "forking", "oneshot", "dbus", "notify", "idle"):
        bad.append(f"{n}: Type={value} is unknown to systemd 219")
    if key == "ProtectSystem" and value not in ("yes", "full", "no"):
        bad.append(f"{n}: ProtectSystem={value} is unknown to systemd 219")
print("\n".join(bad) or "every directive is known to RHEL 7's systemd")
sys.exit(1 if bad else 0)
PY

step "unit: exposure"
systemd-analyze security --offline=yes --threshold=20 packaging/linux/tailgate.service | tail -1
systemd-analyze security --offline=yes --threshold=20 packaging/linux/tailgate.service >/dev/null \
  || fail "the unit's exposure is above 2.0"

step "deb: lintian"
lintian --fail-on error,warning "$deb" || fail "lintian"

# Leftovers of an earlier, interrupted run would make the checks below meaningless.
remove_packages() {
  pkill -u tailgate 2>/dev/null || true
  dpkg -P tailgate >/dev/null 2>&1 || true
  rpm -e --nodeps tailgate >/dev/null 2>&1 || true
  if getent passwd tailgate >/dev/null; then userdel tailgate 2>/dev/null || true; fi
  if getent group tailgate >/dev/null; then groupdel tailgate 2>/dev/null || true; fi
  rm -rf /var/lib/tailgate /var/log/tailgate /etc/tailgate
}
work=$(mktemp -d)
nginx_pid=""
cleanup() {
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; fi
  remove_packages
  rm -rf "$work"
}
trap cleanup EXIT
remove_packages

step "deb: install"
dpkg -i "$deb"
getent passwd tailgate >/dev/null || fail "no tailgate user"
id -nG tailgate | tr ' ' '\n' | grep -qx adm || fail "tailgate is not in adm"
[ "$(getent passwd tailgate | cut -d: -f7)" != /bin/bash ] || fail "tailgate has a login shell"
dpkg-query -W -f='${Conffiles}\n' tailgate | grep -q /etc/tailgate/tailgate.toml || fail "tailgate.toml is not a conffile"
for d in /var/lib/tailgate /var/log/tailgate; do
  [ "$(stat -c %U:%G:%a "$d")" = tailgate:tailgate:750 ] || fail "$d: $(stat -c %U:%G:%a "$d")"
done
systemd-analyze verify /usr/lib/systemd/system/tailgate.service || fail "systemd-analyze verify"
# (the systemd-219 unit is a valid unit for this systemd too)
cp packaging/linux/systemd219/tailgate.service "$work/tailgate.service"
systemd-analyze verify "$work/tailgate.service" || fail "systemd-analyze verify (the systemd-219 unit)"
/usr/bin/tailgate --version
/usr/bin/tailgate --version | grep -q "commit .*target x86_64" || fail "--version lacks the commit or target"
[ -s /usr/share/man/man1/tailgate.1.gz ] || fail "no man page"
zcat /usr/share/man/man1/tailgate.1.gz | grep -q '^\.SH FILES' || fail "the man page has no FILES section"
[ -f /usr/share/bash-completion/completions/tailgate ] || fail "no bash completion"

step "deb: the tailgate user discovers the real nginx and reads its log"
# Debian's own layout: /var/log/nginx/access.log is www-data:adm 0640, readable through adm only.
log=/var/log/nginx/access.log
[ -f $log ] || install -m 0640 -o www-data -g adm /dev/null $log
chown www-data:adm $log; chmod 0640 $log
runuser -u nobody -- test -r $log && fail "$log is readable by anyone: the adm check would prove nothing"
runuser -u tailgate -- /usr/bin/tailgate --discover --format json > "$work/discover.json"
python3 - "$work/discover.json" <<'EOF' || fail "discovery as tailgate did not find $log"
import json, sys
d = json.load(open(sys.argv[1]))
srcs = [s for s in d["sources"] if s["server"] == "nginx" and s["kind"] == "access"]
files = [f for s in srcs for f in s["files"]]
assert "/var/log/nginx/access.log" in files, files
o = srcs[0]["origin"]
print("discovered:", ", ".join(sorted(set(files))), "from %s:%s" % (o["file"], o["line"]))
EOF
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The system nginx binary with a loopback-only server that proxies to a closed port (a 502),
# logging where Debian's nginx.conf says: the file the tailgate user just discovered.
cat > "$work/nginx.conf" <<EOF
user www-data;
pid $work/nginx.pid;
error_log /var/log/nginx/error.log;
daemon off;
events { worker_connections 64; }
http {
  access_log /var/log/nginx/access.log;
  server { listen 127.0.0.1:$port; location / { proxy_pass http://127.0.0.1:$dead; } }
}
EOF
nginx -c "$work/nginx.conf" & nginx_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
tag="tailgate-pkg-$RANDOM$RANDOM"
curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$port/$tag-scan" | grep -qx 502 || fail "nginx did not answer 502"
runuser -u tailgate -- /usr/bin/tailgate --scan --format ndjson > "$work/scan.ndjson"
grep "/$tag-scan HTTP" "$work/scan.ndjson" | grep '"file":"/var/log/nginx/access.log"' | grep -q '"status":502' || { cat "$work/scan.ndjson"; fail "--scan as tailgate did not report the 502 from $log"; }
echo "--scan as tailgate: $(grep -c "/$tag-scan HTTP" "$work/scan.ndjson") events for the request (access.log 502 + error.log connect() failed)"

step "deb: the agent as tailgate, with the packaged config"
# setpriv execs (runuser would fork and stand between the signal and the agent).
setpriv --reuid=tailgate --regid=tailgate --init-groups --inh-caps=-all /usr/bin/tailgate -v --config /etc/tailgate/tailgate.toml 2> "$work/agent.err" &
agent=$!
for _ in $(seq 100); do grep -q "following" "$work/agent.err" && break; sleep 0.1; done
grep -q "following" "$work/agent.err" || { cat "$work/agent.err"; fail "the agent did not start"; }
curl -s -o /dev/null "http://127.0.0.1:$port/$tag-agent"
for _ in $(seq 100); do grep -qs "$tag-agent" /var/log/tailgate/events.ndjson && break; sleep 0.1; done
grep -s "$tag-agent" /var/log/tailgate/events.ndjson || { cat "$work/agent.err"; fail "no event in /var/log/tailgate/events.ndjson"; }
kill -TERM $agent; wait $agent || fail "the agent did not stop cleanly on SIGTERM"
[ -s /var/lib/tailgate/checkpoints.json ] || fail "no checkpoint in /var/lib/tailgate"
[ "$(stat -c %U /var/lib/tailgate/checkpoints.json)" = tailgate ] || fail "checkpoint not owned by tailgate"
kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true; nginx_pid=""

step "deb: purge"
dpkg -P tailgate
for p in /usr/bin/tailgate /etc/tailgate /var/lib/tailgate /var/log/tailgate /usr/lib/systemd/system/tailgate.service /usr/lib/sysusers.d/tailgate.conf; do
  [ ! -e "$p" ] || fail "$p is left after dpkg -P"
done
! getent passwd tailgate >/dev/null || fail "the tailgate user is left after dpkg -P"
! getent group tailgate >/dev/null || fail "the tailgate group is left after dpkg -P"
echo "purged: binary, unit, config, state, events, user and group are gone"

step "rpm: rpmlint"
rpmlint -c packaging/rpm/rpmlint.toml "$rpmf" | tee "$work/rpmlint.out"
grep -q " 0 errors, 0 warnings" "$work/rpmlint.out" || fail "rpmlint"

step "rpm: payload into an alternate root"
R="$work/rpmroot"; mkdir -p "$R"
rpm --root "$R" --initdb
rpm --root "$R" -i --nodeps --noscripts "$rpmf"
rpm --root "$R" -V --nodeps tailgate || fail "rpm -V"
rpm --root "$R" -q --configfiles tailgate | grep -qx /etc/tailgate/tailgate.toml || fail "config file"
rpm --root "$R" -q --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' tailgate | grep -qx '/etc/tailgate/tailgate.toml cn' \
  || fail "tailgate.toml is not %config(noreplace)"
for f in /usr/bin/tailgate /usr/lib/systemd/system/tailgate.service /usr/lib/sysusers.d/tailgate.conf /usr/share/man/man1/tailgate.1.gz; do
  [ -e "$R$f" ] || fail "$f not in the payload"
done
cmp "$R/usr/lib/systemd/system/tailgate.service" packaging/linux/tailgate.service || fail "unit differs"
"$R/usr/bin/tailgate" --version
echo "payload verified: $(rpm --root "$R" -ql tailgate | wc -l) paths"

step "rpm: scriptlets on this root"
rpm -ivh --nodeps "$rpmf"
getent passwd tailgate >/dev/null || fail "%pre did not create the tailgate user"
id -nG tailgate | tr ' ' '\n' | grep -qx adm || fail "%pre did not put tailgate in adm"
[ "$(stat -c %U:%a /var/lib/tailgate)" = tailgate:750 ] || fail "%post did not create /var/lib/tailgate"
runuser -u tailgate -- /usr/bin/tailgate --discover >/dev/null || fail "the rpm's binary as tailgate"
rpm -e --nodeps tailgate
[ ! -e /usr/bin/tailgate ] && [ ! -e /var/lib/tailgate ] && [ ! -e /var/log/tailgate ] || fail "rpm -e left files"
echo "scriptlets: user created by %pre, dirs by %post, state removed by %postun"
# On systemd older than 235, %post puts the systemd-219 unit in /etc, and %preun takes it away.
rpm -ivh --nodeps "$rpmf" >/dev/null
fake=$(mktemp -d)
printf '#!/bin/sh\nif [ "$1" = --version ]; then echo "systemd 219"; echo "+PAM +AUDIT"; fi\nexit 0\n' > "$fake/systemctl"
chmod +x "$fake/systemctl"
[ ! -e /etc/systemd/system/tailgate.service ] || fail "/etc/systemd/system/tailgate.service exists before the test"
PATH="$fake:$PATH" sh packaging/rpm/scripts/postinstall.sh 1
cmp -s /etc/systemd/system/tailgate.service packaging/linux/systemd219/tailgate.service || fail "%post on systemd 219 did not install the systemd-219 unit"
PATH="$fake:$PATH" sh packaging/rpm/scripts/preremove.sh 0
[ ! -e /etc/systemd/system/tailgate.service ] || fail "%preun did not remove the systemd-219 unit"
sh packaging/rpm/scripts/postinstall.sh 1
[ ! -e /etc/systemd/system/tailgate.service ] || fail "%post on this systemd installed the systemd-219 unit"
rm -rf "$fake"
rpm -e --nodeps tailgate
echo "scriptlets: the systemd-219 unit in /etc on systemd < 235 only, removed on erase"

step "oldest userland reachable here: Debian 11 (glibc 2.31), debootstrapped"
# (the oldest release the Debian mirror still serves — buster and older are only on
# archive.debian.org, which this machine cannot reach; the symbol check above stands for 2.17).
# Both packages are installed into it with its own tools and scriptlets, and the binary, run
# there as the tailgate user, must read the demo log as it does here.
OLD=target/old-userland/bullseye
if [ ! -x "$OLD/usr/bin/dpkg" ] || [ ! -x "$OLD/usr/bin/systemd-sysusers" ]; then
  apt_need debootstrap
  rm -rf "$OLD"; mkdir -p "$(dirname "$OLD")"
  debootstrap --variant=minbase --include=systemd bullseye "$OLD" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || { tail -5 "$work/debootstrap.log"; fail "debootstrap bullseye"; }
fi
mount -t proc proc "$OLD/proc"
trap 'umount "$OLD/proc" 2>/dev/null || true; cleanup' EXIT
chroot "$OLD" ldd --version | sed -n 1p   # (sed reads to the end: no SIGPIPE under pipefail)
cp "$deb" "$OLD/tmp/tailgate.deb"
cp examples/demo/nginx_access.log "$OLD/tmp/access.log"
old_scan() { chroot "$OLD" setpriv --reuid=tailgate --regid=tailgate --init-groups tailgate --scan /tmp/access.log --format json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["totals"], sort_keys=True))'; }
want=$(target/x86_64-unknown-linux-gnu/release/tailgate --scan examples/demo/nginx_access.log --format json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["totals"], sort_keys=True))')
chroot "$OLD" dpkg -i /tmp/tailgate.deb >/dev/null || fail "dpkg -i on Debian 11"
chroot "$OLD" tailgate --version || fail "the .deb's binary does not run on Debian 11"
chroot "$OLD" getent passwd tailgate >/dev/null || fail "the .deb's postinst did not create the user on Debian 11"
[ "$(old_scan)" = "$want" ] || fail "the .deb's --scan on Debian 11 differs: $(old_scan) vs $want"
chroot "$OLD" dpkg -P tailgate >/dev/null 2>&1
! chroot "$OLD" getent passwd tailgate >/dev/null || fail "dpkg -P on Debian 11 left the user"
echo "deb on Debian 11: installed, --version and --scan as the tailgate user, purged"
rm -rf "$OLD/var/lib/rpm"
rpm --root "$PWD/$OLD" --initdb
rpm --root "$PWD/$OLD" -i --nodeps "$rpmf" 2>/dev/null || fail "rpm -i into Debian 11"
chroot "$OLD" tailgate --version || fail "the .rpm's binary does not run on Debian 11"
[ "$(old_scan)" = "$want" ] || fail "the .rpm's --scan on Debian 11 differs"
rpm --root "$PWD/$OLD" -e --nodeps tailgate 2>/dev/null
[ ! -e "$OLD/usr/bin/tailgate" ] || fail "rpm -e left the binary on Debian 11"
chroot "$OLD" sh -c 'userdel tailgate 2>/dev/null; groupdel tailgate 2>/dev/null; true'
echo "rpm on Debian 11: scriptlets, --version and --scan as the tailgate user, erased"
umount "$OLD/proc"
trap cleanup EXIT

step "linux packages: all checks passed"
