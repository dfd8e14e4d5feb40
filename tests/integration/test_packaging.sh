#!/usr/bin/env bash
# The Debian packages (#8 points 1-3): build connectord and connectord-dev
# with CPack from a scratch build configured as packages are (no test hooks,
# no tests, prefix /usr), run lintian (no errors allowed), check contents,
# conffiles and Depends, unpack them into a temporary root with dpkg-deb -x,
# start the daemon from there against the test database (sd_notify READY,
# STATUS, WATCHDOG, RELOADING, STOPPING seen on a NOTIFY_SOCKET; one
# <N>-prefixed line per event), and `systemd-analyze verify` the unit with
# its paths pointed at the unpacked root.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
source "$CD_SOURCE_DIR/tests/lib/api.sh"
for tool in cpack lintian dpkg-deb dpkg-shlibdeps fakeroot systemd-analyze; do
    command -v "$tool" >/dev/null ||
        cd_fail "$tool is not installed: run packaging/dev/deps.sh (it installs lintian, dpkg-dev, fakeroot, systemd)"
done
pg_tmp_start
NOTIFY_PID=
SRV_PID=
trap '[ -n "$SRV_PID" ] && kill -9 $SRV_PID 2>/dev/null; [ -n "$NOTIFY_PID" ] && kill $NOTIFY_PID 2>/dev/null; pg_tmp_stop' EXIT
T="$CD_TEST_TMP"

echo "== a package build (scratch tree, -DCONNECTORD_TEST_HOOKS=OFF -DCONNECTORD_TESTS=OFF)"
B="$T/build-pkg"
cmake -S "$CD_SOURCE_DIR" -B "$B" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DCONNECTORD_TEST_HOOKS=OFF -DCONNECTORD_TESTS=OFF >"$T/cmake.log" 2>&1 ||
    { cat "$T/cmake.log" >&2; cd_fail "configure"; }
cmake --build "$B" -j "$(nproc)" >>"$T/cmake.log" 2>&1 || { tail -50 "$T/cmake.log" >&2; cd_fail "build"; }
(cd "$B" && cpack -G DEB) >"$T/cpack.log" 2>&1 || { cat "$T/cpack.log" >&2; cd_fail "cpack"; }
DEB=$(ls "$B"/connectord_*_*.deb)
DEV=$(ls "$B"/connectord-dev_*_*.deb)
[ -f "$DEB" ] && [ -f "$DEV" ] || cd_fail "two packages expected, got: $(ls "$B"/*.deb)"
strings "$B/bin/connectord" | grep -q CONNECTORD_TEST_NOW_FILE &&
    cd_fail "the packaged binary has the test clock hook compiled in"

echo "== lintian: no errors"
set +e
lintian --tag-display-limit 0 "$DEB" "$DEV" >"$T/lintian.log" 2>&1
lrc=$?
set -e
cat "$T/lintian.log"
grep -q '^E: ' "$T/lintian.log" && cd_fail "lintian reports errors"
# 0: clean, 1: tags at or above the fail level (errors, seen above); more: lintian broke.
[ $lrc -le 1 ] || cd_fail "lintian did not run (exit $lrc)"

echo "== control data"
assert_eq connectord "$(dpkg-deb -f "$DEB" Package)" "package name"
assert_eq connectord-dev "$(dpkg-deb -f "$DEV" Package)" "dev package name"
deps=$(dpkg-deb -f "$DEB" Depends)
for lib in libc6 libpq5 libcurl4 libjansson4 libyaml-0-2 libmicrohttpd12 libsystemd0 libssh2-1; do
    assert_contains "$deps" "$lib" "Depends (from dpkg-shlibdeps)"
done
dpkg-deb --ctrl-tarfile "$DEB" | tar -x -O ./conffiles >"$T/conffiles"
assert_contains "$(cat "$T/conffiles")" "/etc/connectord/connectord.yaml" "conffiles"
grep -v '^/etc/' "$T/conffiles" && cd_fail "a conffile outside /etc"
files=$(dpkg-deb -c "$DEB" | awk '{print $6}')
for f in ./usr/bin/connectord ./usr/bin/connectorctl ./usr/lib/connectord/plugins/pg_api.so \
         ./usr/lib/connectord/plugins/bank_sftp.so ./usr/lib/connectord/plugins/bank_api.so \
         ./usr/lib/connectord/plugins/pg_database.so ./usr/share/connectord/schema/001_documented_schema.sql \
         ./etc/connectord/connectord.yaml ./etc/connectord/conf.d/templates/axis_recon.yaml \
         ./usr/lib/systemd/system/connectord.service \
         ./usr/lib/sysusers.d/connectord.conf ./usr/share/doc/connectord/copyright \
         ./usr/share/doc/connectord/changelog.Debian.gz; do
    grep -qx "$f" <<<"$files" || cd_fail "connectord lacks $f"
done
if [ -f "$CD_SOURCE_DIR/core/web/index.html" ]; then
    grep -qx ./usr/share/connectord/web/index.html <<<"$files" || cd_fail "connectord lacks the ops page"
fi
grep -q '^\./usr/etc\|^\./usr/include' <<<"$files" && cd_fail "connectord carries /usr/etc or headers"
devfiles=$(dpkg-deb -c "$DEV" | awk '{print $6}')
for f in ./usr/include/connectord/plugin.h ./usr/include/connectord/mockhost.h \
         "./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libconnectord_mockhost.a" \
         "./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/pkgconfig/connectord-plugin.pc" \
         "./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/cmake/connectord-plugin/connectord-pluginConfig.cmake" \
         ./usr/share/doc/connectord-dev/copyright; do
    grep -qx "$f" <<<"$devfiles" || cd_fail "connectord-dev lacks $f"
done
grep -q 'bin/' <<<"$devfiles" && cd_fail "connectord-dev carries binaries"

echo "== unpacked into a temporary root"
ROOT="$T/root"
dpkg-deb -x "$DEB" "$ROOT"
dpkg-deb -x "$DEV" "$ROOT"
CD="$ROOT/usr/bin/connectord"
export CONNECTORD_DATABASE_URL="$CD_DATABASE_URL"
CONF="$ROOT/etc/connectord/connectord.yaml"
"$CD" -c "$CONF" migrate >"$T/migrate.log" 2>&1 || { cat "$T/migrate.log" >&2; cd_fail "migrate from the package"; }
"$CD" -c "$CONF" plugins --json >"$T/plugins.json" || cd_fail "plugins from the package"
assert_eq "bank_api bank_sftp pg_api pg_database" \
    "$(python3 -c 'import json,sys; print(" ".join(sorted(p["name"] for p in json.load(open(sys.argv[1]))["loaded"])))' "$T/plugins.json")" \
    "the four drivers load from /usr/lib/connectord/plugins of the package"
assert_contains "$("$CD" -c "$CONF" templates)" "AXIS RECON" \
    "the bank templates come with the package, beside its configuration"

# A NOTIFY_SOCKET like systemd's, recording what the service tells it.
NOTIFY="$T/notify.sock"
python3 - "$NOTIFY" "$T/notify.log" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode() + "\n")
PY
NOTIFY_PID=$!
for i in $(seq 1 50); do [ -S "$NOTIFY" ] && break; sleep 0.1; done
PORT=$(cd_free_port)
SLOG="$T/serve.log"
NOTIFY_SOCKET="$NOTIFY" CONNECTORD_HTTP_PORT=$PORT RUNTIME_DIRECTORY="$T" "$CD" -c "$CONF" serve >"$SLOG" 2>&1 &
SRV_PID=$!
API="http://127.0.0.1:$PORT"
for i in $(seq 1 100); do grep -q READY=1 "$T/notify.log" 2>/dev/null && break; sleep 0.1; done
grep -q READY=1 "$T/notify.log" || { cat "$SLOG" >&2; cd_fail "no READY=1 from the packaged daemon"; }
req GET /healthz
expect 200 "healthz of the packaged daemon"
req GET /plugins
assert_eq 4 "$(jq_ 'len(d["loaded"])')" "GET /plugins"
if [ -f "$ROOT/usr/share/connectord/web/index.html" ]; then
    req GET / -L
    expect 200 "the ops page from /usr/share/connectord/web"
    assert_contains "$BODY" "<" "the ops page is HTML"
fi
for i in $(seq 1 80); do grep -q '^STATUS=' "$T/notify.log" && break; sleep 0.1; done
grep -q '^STATUS=.*running of' "$T/notify.log" || cd_fail "no STATUS= line"
grep -q '^WATCHDOG=1' "$T/notify.log" || cd_fail "no WATCHDOG=1"
kill -HUP $SRV_PID
for i in $(seq 1 50); do grep -q RELOADING=1 "$T/notify.log" && break; sleep 0.1; done
grep -q RELOADING=1 "$T/notify.log" || cd_fail "no RELOADING=1 on SIGHUP"
kill -TERM $SRV_PID
wait $SRV_PID || cd_fail "the daemon did not stop cleanly"
SRV_PID=
grep -q STOPPING=1 "$T/notify.log" || cd_fail "no STOPPING=1 on SIGTERM"
# A grace longer than the unit's TimeoutStopSec must not be cut short by
# systemd's SIGKILL: the stop says how long it may take (grace + kill grace
# + 15 s, in microseconds).
grace=$(sed -n 's/^ *shutdown_grace_seconds: *\([0-9]*\).*/\1/p' "$CONF" | head -1)
kill_grace=$(sed -n 's/^ *kill_grace_seconds: *\([0-9]*\).*/\1/p' "$CONF" | head -1)
assert_eq "EXTEND_TIMEOUT_USEC=$(( (${grace:-30} + ${kill_grace:-10} + 15) * 1000000 ))" \
    "$(grep '^EXTEND_TIMEOUT_USEC=' "$T/notify.log" | head -1)" "the stop extends systemd's stop timeout"
echo "== the service log: one line per event, each with a <N> priority"
bad=$(grep -v '^<[0-7]>' "$SLOG" || true)
[ -z "$bad" ] || cd_fail "log lines without a priority prefix: $bad"
assert_contains "$(cat "$SLOG")" "<6>plugins: 4 drivers loaded from $ROOT/usr/lib/connectord/plugins" "plugin line"

echo "== systemd-analyze verify on the unit (paths pointed at the unpacked root)"
UNIT_DIR="$T/units"
mkdir -p "$UNIT_DIR"
sed -e "s|/usr/bin/connectord|$ROOT/usr/bin/connectord|g" -e "s|/etc/connectord/|$ROOT/etc/connectord/|g" \
    "$ROOT/usr/lib/systemd/system/connectord.service" >"$UNIT_DIR/connectord.service"
set +e
SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$UNIT_DIR/connectord.service" >"$T/verify.log" 2>&1
rc=$?
set -e
if [ $rc -ne 0 ] || [ -s "$T/verify.log" ]; then
    cat "$T/verify.log" >&2
    cd_fail "systemd-analyze verify failed (exit $rc) on the unit"
fi
grep -q '^Environment=TMPDIR=/var/tmp$' "$ROOT/usr/lib/systemd/system/connectord.service" ||
    cd_fail "the unit does not put the load spool (TMPDIR) on disk"
echo "== the sysusers file"
mkdir -p "$T/sysroot/etc"
systemd-sysusers --root="$T/sysroot" "$ROOT/usr/lib/sysusers.d/connectord.conf" >"$T/sysusers.log" 2>&1 ||
    { cat "$T/sysusers.log" >&2; cd_fail "systemd-sysusers refused the file"; }
grep -q '^connectord:x:[0-9]*:[0-9]*:connectord service:/var/lib/connectord:/usr/sbin/nologin$' "$T/sysroot/etc/passwd" ||
    cd_fail "sysusers made no connectord user: $(cat "$T/sysroot/etc/passwd")"
echo "packaging checks passed"
