#!/usr/bin/env bash
# The Windows checks, under Wine, in a fresh Wine prefix (target-win/wineprefix):
#
#   1. the library's unit tests and the tail engine's model test (proptest), cross-compiled, run
#      under Wine;
#   2. the console program: IIS discovery on the real %SystemDrive% (a real applicationHost.config
#      and a real W3C log from ../shared placed where IIS keeps them), --scan of what it found, and
#      the agent (no mode flag) writing an event to stdout for a line appended to that log;
#   3. the MSI: installs to Program Files, registers and starts the service (RUNNING); the service
#      follows the discovered IIS log and writes an event for an appended 502 to
#      %ProgramData%\tailgate\events.ndjson; a newer MSI upgrades in place (one product, service
#      RUNNING, checkpoints kept); uninstall removes the service, the files, %ProgramData%\tailgate
#      and the product's registry entries.
#
# Wine 8.0 lacks bcryptprimitives.dll!ProcessPrng, which Rust's std imports: a test-only shim
# (processprng-shim.c) is built into the prefix. Wine ends services when its last ordinary
# process exits, so a idle `cmd /c pause` keeps the prefix alive while the service is checked.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

. packaging/lib.sh
apt_need wine wine64 mingw-w64

step "build: tailgate.exe and the MSI"
bash packaging/windows/build.sh
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
next=$(echo "$version" | awk -F. '{printf "%d.%d.%d", $1, $2, $3 + 1}')
MSI_VERSION=$next bash packaging/windows/build.sh >/dev/null
msi=$root/target/packages/tailgate-$version-x86_64.msi
msi2=$root/target/packages/tailgate-$next-x86_64.msi
msiinfo export "$msi" ServiceInstall | tail -1

step "wine prefix"
export WINEPREFIX=$root/target-win/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
keep=""
cleanup() {
  if [ -n "$keep" ]; then kill "$keep" 2>/dev/null || true; fi
  wineserver -k 2>/dev/null || true
}
trap cleanup EXIT
wineserver -k 2>/dev/null || true
rm -rf "$WINEPREFIX"
wineboot -i >/dev/null 2>&1
C=$WINEPREFIX/drive_c
x86_64-w64-mingw32-gcc -shared -O2 -o "$C/windows/system32/bcryptprimitives.dll" packaging/windows/processprng-shim.c
# Let the first boot finish completely: an MSI installed while it still runs leaves the service
# STOPPED (msiexec exits 91).
wineserver -w
# Keep the prefix (and with it the service) alive between the commands below.
(sleep 3600 | wine cmd /c pause >/dev/null 2>&1) & keep=$!

# `wine_test LOG ARGS…`: cargo test for Windows (as build.sh builds), run under Wine; the summary
# lines are shown, the whole output kept in target-win/LOG; fails unless the tests passed.
wine_test() {
  local log=target-win/$1; shift
  RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO_TARGET_DIR=$root/target-win CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine \
    /usr/bin/cargo test --locked -Zbuild-std=std,panic_abort --target x86_64-pc-windows-gnu "$@" 2>&1 | tee "$log" | grep -E "^test result|FAILED|panicked" || true
  grep -q "^test result: ok" "$log"
}

step "unit tests under wine"
wine_test unit.log --lib || fail "unit tests under wine"

step "the tail engine's model test under wine (rename, copytruncate, truncate, restart, crash)"
# Windows has no inodes: file identity is the volume serial + file index. (Deletion is left out:
# Wine's delete-while-open semantics are its own; see tests/it/tail_model.rs.)
TAILGATE_MODEL_NO_DELETE=1 wine_test model.log --test it tail_model:: || fail "tail model under wine"

step "IIS on the real %SystemDrive%"
shared=$root/../shared/data/configs/iis
mkdir -p "$C/windows/system32/inetsrv/config" "$C/inetpub/logs/LogFiles/W3SVC1"
cp "$shared/site-mode/Windows/System32/inetsrv/config/applicationHost.config" "$C/windows/system32/inetsrv/config/"
w3c="$C/inetpub/logs/LogFiles/W3SVC1/u_ex$(date -u +%y%m%d).log"
cp "$shared/logs/inetpub/logs/LogFiles/W3SVC1/u_ex210401.log" "$w3c"; chmod 644 "$w3c"
cp target/msi/tailgate.exe "$C/tailgate-console.exe"
wine 'C:\tailgate-console.exe' --version | tr -d '\r'
wine 'C:\tailgate-console.exe' --version | grep -q "target x86_64-pc-windows-gnu" || fail "--version"
wine 'C:\tailgate-console.exe' --discover --format json | tr -d '\r' > target-win/discover.json
python3 - target-win/discover.json "$(basename "$w3c")" <<'EOF' || fail "IIS discovery"
import json, sys
d = json.load(open(sys.argv[1]))
want = "C:\\inetpub\\logs\\LogFiles\\W3SVC1\\" + sys.argv[2]
iis = [s for s in d["sources"] if s["server"] == "iis" and s["kind"] == "access"]
hit = [s for s in iis if want in s["files"]]
assert hit, (want, iis)
o = hit[0]["origin"]
assert o["file"].lower() == "c:\\windows\\system32\\inetsrv\\config\\applicationhost.config", o
print("discovered", want, "from %s:%s" % (o["file"], o["line"]))
EOF
wine 'C:\tailgate-console.exe' --scan --format json | tr -d '\r' > target-win/scan.json
python3 - target-win/scan.json <<'EOF' || fail "--scan of the discovered IIS log"
import json, sys
d = json.load(open(sys.argv[1]))
logs = [l for l in d["logs"] if l["path"].endswith(".log") and "W3SVC1" in l["path"]]
assert logs and logs[0]["format"] == "w3c" and logs[0]["records"] > 0 and logs[0]["bad_lines"] == 0, logs
print("--scan:", logs[0]["path"], logs[0]["records"], "records, format", logs[0]["format"])
EOF

step "the agent as a console program"
cat > "$C/console.toml" <<'EOF2'
discover = false
logs = ['C:\inetpub\logs\LogFiles\W3SVC1\u_ex*.log']
state_dir = 'C:\console-state'
start_at = "end"
poll_interval_ms = 200
EOF2
wine 'C:\tailgate-console.exe' -v --config 'C:\console.toml' > target-win/console.out 2> target-win/console.err & agent=$!
for _ in $(seq 100); do grep -q "following" target-win/console.err && break; sleep 0.1; done
for _ in $(seq 20); do
  printf '%s 10.0.0.5 GET /tailgate-console-500 - 80 - 10.0.0.9 curl/8.0 - 500 0 0 17\r\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" >> "$w3c"
  for _ in $(seq 20); do grep -qs "tailgate-console-500" target-win/console.out && break 2; sleep 0.1; done
done
# Wine turns SIGINT into the console's Ctrl+C: a graceful stop with a final checkpoint.
kill -INT "$agent" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$agent" 2>/dev/null || break; sleep 0.1; done
kill "$agent" 2>/dev/null && fail "the console agent did not stop on Ctrl+C"
wait "$agent" 2>/dev/null || true
grep -m1 "tailgate-console-500" target-win/console.out | tr -d '\r' || { cat target-win/console.err; fail "the console agent wrote no event to stdout"; }
[ -s "$C/console-state/checkpoints.json" ] || fail "the console agent wrote no checkpoint"

step "msi: install"
rc=0; wine msiexec /i "$(winepath -w "$msi")" /qn /l*v "C:\\msi-install.log" || rc=$?
[ $rc = 0 ] || { grep -aiE "error|value 3" "$C/msi-install.log" | head -20 || true; fail "msiexec /i: exit $rc"; }
state() { wine sc query tailgate 2>/dev/null | tr -d '\r' | sed -n 's/.*STATE *: *[0-9]* *//p'; }
for _ in $(seq 50); do [ "$(state)" = RUNNING ] && break; sleep 0.2; done
[ "$(state)" = RUNNING ] || fail "service not RUNNING after install: $(wine sc query tailgate 2>&1 | tr -d '\r')"
echo "service tailgate: $(state)"
[ -f "$C/Program Files/tailgate/tailgate.exe" ] || fail "not installed to Program Files"
# (Wine's sc has no qc: read the service's registry key.)
svc=$(wine reg query 'HKLM\System\CurrentControlSet\Services\tailgate' | tr -d '\r')
echo "$svc" | grep -E "ImagePath|Start|ObjectName"
echo "$svc" | grep -Eq 'Start +REG_DWORD +0x2$' || fail "the service does not start automatically"
echo "$svc" | grep -Eq 'ImagePath +REG_[A-Z_]+ +"?C:\\Program Files\\tailgate\\tailgate.exe"? --service$' || fail "ImagePath"
data="$C/ProgramData/tailgate"
for _ in $(seq 100); do grep -qs "following [1-9]" "$data/tailgate.log" && break; sleep 0.1; done
grep -s "following" "$data/tailgate.log" || fail "the service did not start following the IIS logs"
# A line appended while the service takes its starting position (the end: start_at = "end") is
# rightly not an event; append until one is seen.
for _ in $(seq 20); do
  printf '%s 10.0.0.5 GET /tailgate-msi-502 - 80 - 10.0.0.9 curl/8.0 - 502 3 12030 17\r\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" >> "$w3c"
  for _ in $(seq 20); do grep -qs "tailgate-msi-502" "$data/events.ndjson" && break 2; sleep 0.1; done
done
grep -s "tailgate-msi-502" "$data/events.ndjson" || { cat "$data/tailgate.log"; fail "no event from the service"; }

step "msi: upgrade in place to $next"
wine msiexec /i "$(winepath -w "$msi2")" /qn || fail "msiexec /i (upgrade)"
for _ in $(seq 50); do [ "$(state)" = RUNNING ] && break; sleep 0.2; done
[ "$(state)" = RUNNING ] || fail "service not RUNNING after the upgrade"
uninst='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall'
products=$(wine reg query "$uninst" /s 2>/dev/null | tr -d '\r' | grep -c 'DisplayName.*REG_SZ.*tailgate$' || true)
[ "$products" = 1 ] || fail "$products tailgate products registered after the upgrade (want 1)"
wine reg query "$uninst" /s 2>/dev/null | tr -d '\r' | grep -q "DisplayVersion.*$next" || fail "the registered version is not $next"
[ -s "$data/state/checkpoints.json" ] || fail "the upgrade lost the checkpoints"
grep -q "stopping:" "$data/tailgate.log" || fail "the old service was not stopped gracefully"
[ ! -e "$data/upgrading" ] || fail "the upgrade marker is left behind"
echo "one product, version $next, service $(state), checkpoints kept"

step "msi: uninstall"
wine msiexec /x "$(winepath -w "$msi2")" /qn || fail "msiexec /x"
sleep 1
wine sc query tailgate >/dev/null 2>&1 && fail "the service is still registered"
[ ! -e "$C/Program Files/tailgate" ] || fail "Program Files\\tailgate is left: $(ls "$C/Program Files/tailgate")"
[ ! -e "$data" ] || fail "ProgramData\\tailgate is left: $(ls -R "$data")"
left=$(wine reg query "$uninst" /s 2>/dev/null | tr -d '\r' | grep -c 'DisplayName.*REG_SZ.*tailgate$' || true)
[ "$left" = 0 ] || fail "the product is still registered"
echo "service, Program Files\\tailgate, ProgramData\\tailgate and the product registration are gone"

step "windows: all checks passed"
