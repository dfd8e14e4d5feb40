#!/usr/bin/env bash
# The plugin SDK and a driver built outside the tree (#8 points 4-6):
# install the SDK alone to a temporary prefix, build plugins/contrib/razorpay
# and the SDK's example with nothing but that prefix, drop razorpay.so into a
# running worker's plugin directory (copy + rename), see it picked up on
# SIGHUP only, load payments from a mock Razorpay API exactly and
# idempotently, with the key pair as systemd credentials; refuse files that
# are writable by others or owned by someone else (saying which); replace
# the .so while a slow run uses it, and the run finishes.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
source "$CD_SOURCE_DIR/tests/lib/api.sh"
pg_tmp_start
MOCK_PID=
trap 'serve_stop_all; [ -n "$MOCK_PID" ] && kill $MOCK_PID 2>/dev/null; pg_tmp_stop' EXIT
T="$CD_TEST_TMP"
CD="$CD_BUILD_DIR/bin/connectord"
# ASan builds: the driver is built without it; the runner preloads nothing.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

# In the sanitizer build the SDK's static mock host is instrumented: test
# programs that link it need the same flags.
SAN_CFLAGS= SAN_LDFLAGS=
if [ "${CD_SANITIZE:-OFF}" = ON ]; then
    SAN_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
    SAN_LDFLAGS="-fsanitize=address,undefined"
fi

echo "== the SDK alone, to a temporary prefix"
SDK="$T/sdk"
cmake --install "$CD_BUILD_DIR" --component sdk --prefix "$SDK" >/dev/null
for f in include/connectord/plugin.h include/connectord/mockhost.h; do
    [ -f "$SDK/$f" ] || cd_fail "SDK lacks $f"
done
pc=$(dirname "$(find "$SDK" -name connectord-plugin.pc | head -1)")
[ -n "$pc" ] && [ -f "$pc/connectord-mockhost.pc" ] || cd_fail "SDK lacks its .pc files"
[ -z "$(find "$SDK" -name 'connectord' -type f)" ] || cd_fail "the sdk component carries the daemon"
[ ! -d "$SDK/bin" ] || cd_fail "the sdk component installs binaries"
export PKG_CONFIG_PATH="$pc"
assert_eq "-I$SDK/include" "$(pkg-config --cflags connectord-plugin | sed "s|$pc/\.\./\.\.|$SDK|; s| *$||")" \
    "pkg-config --cflags connectord-plugin points into the prefix"

echo "== the razorpay driver, built out of tree against that prefix only"
SRC="$T/razorpay-src"
mkdir -p "$SRC"
cp -r "$CD_SOURCE_DIR/plugins/contrib/razorpay/." "$SRC/"
rm -f "$SRC/razorpay.so" "$SRC/test_razorpay"
make -s -C "$SRC" MOCK_DIR="$CD_SOURCE_DIR/tests/mock" razorpay.so >"$T/make.log" 2>&1 ||
    { cat "$T/make.log" >&2; cd_fail "make razorpay.so"; }
grep -q -- "-I$CD_SOURCE_DIR/include" "$T/make.log" && cd_fail "the driver build used the source tree's headers"
exports=$(nm -D --defined-only "$SRC/razorpay.so" | awk '$2 == "T" {print $3}' | sort | tr '\n' ' ')
assert_eq "connectord_driver_init connectord_driver_magic " "$exports" "only the two entry points exported"
make -s -C "$SRC" MOCK_DIR="$CD_SOURCE_DIR/tests/mock" CFLAGS="-O2 -g $SAN_CFLAGS" \
    LDFLAGS="$SAN_LDFLAGS" test_razorpay >"$T/check.log" 2>&1 ||
    { cat "$T/check.log" >&2; cd_fail "build the razorpay unit tests"; }
make -s -C "$SRC" MOCK_DIR="$CD_SOURCE_DIR/tests/mock" check >"$T/check.log" 2>&1 ||
    { cat "$T/check.log" >&2; cd_fail "razorpay unit tests (make check)"; }
assert_contains "$(cat "$T/check.log")" "PASSED" "razorpay unit tests"

echo "== the SDK's example project, with its CMake package"
cmake -S "$SDK/share/doc/connectord-dev/examples/hello_driver" -B "$T/hello-build" \
    -DCMAKE_PREFIX_PATH="$SDK" -DCMAKE_C_FLAGS="$SAN_CFLAGS" \
    -DCMAKE_EXE_LINKER_FLAGS="$SAN_LDFLAGS" >"$T/hello.log" 2>&1 &&
    cmake --build "$T/hello-build" >>"$T/hello.log" 2>&1 &&
    ctest --test-dir "$T/hello-build" >>"$T/hello.log" 2>&1 ||
    { cat "$T/hello.log" >&2; cd_fail "example driver build/test"; }
[ -f "$T/hello-build/hello.so" ] || cd_fail "example hello.so"

echo "== mock Razorpay API and credentials"
coproc MOCK { exec "$CD_BUILD_DIR/tests/mock_razorpay" --payments 250 --key-id rzp_test_k1 \
    --key-secret 'S3cr3t-rzp-value' --slow-ms 150; }
MOCK_PID=$MOCK_PID
read -r -t 10 MPORT <&"${MOCK[0]}" || cd_fail "mock_razorpay did not start"
CREDS="$T/creds"
mkdir -p "$CREDS"
printf 'rzp_test_k1' >"$CREDS/razorpay_key_id"
printf 'S3cr3t-rzp-value' >"$CREDS/razorpay_key_secret"
chmod 0400 "$CREDS"/*
# As systemd's LoadCredential= would hand them to the service.
export CREDENTIALS_DIRECTORY="$CREDS"

echo "== a worker without the driver"
PLUGINS="$T/plugins"
mkdir -p "$PLUGINS"
cp "$CD_BUILD_DIR/lib/connectord/plugins/pg_api.so" "$PLUGINS/"
SERVE_PLUGINS="$PLUGINS" serve_config "$T/w/connectord.yaml"
CFG="$T/w/connectord.yaml"
"$CD" -c "$CFG" migrate >/dev/null
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
serve_start w1 "$CFG"
API=$(api_url w1)
api_wait_ready
LOG="$T/serve-w1.log"
assert_contains "$(cat "$LOG")" "plugins: 1 driver loaded" "pg_api only at start"

echo "== dropped in (copy to a hidden name, rename): not loaded until SIGHUP"
cp "$SRC/razorpay.so" "$PLUGINS/.razorpay.so.tmp"
mv "$PLUGINS/.razorpay.so.tmp" "$PLUGINS/razorpay.so"
sleep 2
req GET /plugins
expect 200 plugins
assert_not_contains "$BODY" '"razorpay"' "no rescan without SIGHUP"
kill -HUP "${SERVE_PID[w1]}"
for i in $(seq 1 100); do grep -q "plugins: 2 drivers loaded" "$LOG" && break; sleep 0.1; done
assert_contains "$(cat "$LOG")" "plugins: 2 drivers loaded" "razorpay after SIGHUP"
req GET /plugins
assert_eq "PG_API|pg_transaction|1.0.0" \
    "$(jq_ '"|".join(next((p["category"], p["dataset"], p["version"]) for p in d["loaded"] if p["name"] == "razorpay"))')" \
    "GET /plugins lists razorpay"

echo "== a connector with driver razorpay, keys as systemd credentials"
NEW='{"name": "Razorpay main", "connector_type": "PG_API", "driver": "razorpay", "source_entity": "RAZORPAY",
      "connection_config": {"base_url": "http://127.0.0.1:'"$MPORT"'", "merchant_id": "RZPM1",
        "key_id": {"secret": "cred:razorpay_key_id"}, "key_secret": {"secret": "cred:razorpay_key_secret"}},
      "schedule_enabled": false}'
req POST /connectors "$NEW"
expect 201 "create razorpay connector"
rz=$(jq_ 'd["connector"]["id"]')

sum_expected=$(python3 -c 'print(sum(10000 + 7*i for i in range(1, 251)))')
check_loaded() {
    assert_eq "250|$sum_expected|25|2025-10-02|2025-10-02" \
        "$(q "SELECT count(*), sum(amount_paise), count(*) FILTER (WHERE status = 'FAILED'),
                     min(transaction_date), max(transaction_date)
                FROM sp_v2_transactions WHERE merchant_id = 'RZPM1'")" "$1"
    assert_eq "pay_MOCK000005|10035|RAZORPAY|order_MOCK000005|000400000005|upi|200|9835|2025-10-01 18:33:05+00" \
        "$(PGTZ=UTC q "SELECT transaction_id, amount_paise, source_name, gateway_ref, rrn, payment_method,
                             bank_fee_paise, settlement_amount_paise, transaction_timestamp
                        FROM sp_v2_transactions WHERE transaction_id = 'pay_MOCK000005'")" "$1: one row in full"
}

echo "== connectord run: loads the day exactly"
"$CD" -c "$CFG" run "$rz" --type MANUAL --date 2025-10-02 >"$T/run1.json" 2>"$T/run1.err" ||
    { cat "$T/run1.err" "$T/run1.json" >&2; cd_fail "razorpay run"; }
assert_contains "$(cat "$T/run1.json")" '"SUCCESS"' "run status"
check_loaded "first run"
echo "== again: the same rows, all unchanged"
"$CD" -c "$CFG" run "$rz" --type MANUAL --date 2025-10-02 >"$T/run2.json" 2>"$T/run2.err" ||
    { cat "$T/run2.err" >&2; cd_fail "second razorpay run"; }
check_loaded "second run"
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
assert_eq "250|0|0" "$(jget '["details"]["inserted"]' <"$T/run1.json")|$(jget '["details"]["updated"]' <"$T/run1.json")|$(jget '["details"]["unchanged"]' <"$T/run1.json")" \
    "first run: all inserted"
assert_eq "0|0|250" "$(jget '["details"]["inserted"]' <"$T/run2.json")|$(jget '["details"]["updated"]' <"$T/run2.json")|$(jget '["details"]["unchanged"]' <"$T/run2.json")" \
    "second run: all unchanged"
assert_eq 3 "$(jget '["details"]["pages"]' <"$T/run1.json")" "three pages of 100"
for f in "$LOG" "$T/run1.err" "$T/run1.json" "$T/run2.err"; do
    assert_not_contains "$(cat "$f")" "S3cr3t-rzp-value" "secret in $f"
done
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_runs r WHERE r::text LIKE '%S3cr3t%'")" "secret in run rows"

echo "== files writable by others or owned by another user are refused, with the reason"
cp "$SRC/razorpay.so" "$PLUGINS/ww.so"
chmod 0666 "$PLUGINS/ww.so"
cp "$SRC/razorpay.so" "$PLUGINS/other.so"
chown 65534:65534 "$PLUGINS/other.so"
kill -HUP "${SERVE_PID[w1]}"
for i in $(seq 1 100); do grep -q "plugin other.so refused" "$LOG" && grep -q "plugin ww.so refused" "$LOG" && break; sleep 0.1; done
assert_contains "$(cat "$LOG")" "plugin ww.so refused: writable by others (mode 0666); run chmod go-w on it" "world-writable refused"
assert_contains "$(cat "$LOG")" "plugin other.so refused: owned by uid 65534, not by root or this service's user" "foreign owner refused"
grep -q "^<4>plugin ww.so refused" "$LOG" || cd_fail "the refusal is a <4> (warning) journal line"
rm -f "$PLUGINS/ww.so" "$PLUGINS/other.so"

echo "== the .so replaced (copy + rename) while a slow run uses it: the run finishes"
# 25 pages of 10 at 150 ms a page: several seconds of running.
q "UPDATE sp_v2_connectors SET connection_config = connection_config || '{\"page_size\": 10}' WHERE id = $rz" >/dev/null
q "DELETE FROM sp_v2_transactions WHERE merchant_id = 'RZPM1'" >/dev/null
id=$(q "WITH r AS (INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status)
                   VALUES ($rz, 'MANUAL', '2025-10-02', 'QUEUED') RETURNING id)
        SELECT id FROM r, pg_notify('connectord_queue', 'x')")
wait_for "SELECT status = 'RUNNING' FROM sp_v2_connector_runs WHERE id = $id" 10 "slow razorpay run running"
sleep 1
old_ino=$(stat -c %i "$PLUGINS/razorpay.so")
cp "$SRC/razorpay.so" "$PLUGINS/.razorpay.so.new"
mv "$PLUGINS/.razorpay.so.new" "$PLUGINS/razorpay.so"
[ "$(stat -c %i "$PLUGINS/razorpay.so")" != "$old_ino" ] || cd_fail "the file was not replaced"
kill -HUP "${SERVE_PID[w1]}"
wait_for "SELECT status = 'RUNNING' FROM sp_v2_connector_runs WHERE id = $id" 5 "still running after the swap"
wait_for "SELECT status IN ('SUCCESS', 'FAILED') FROM sp_v2_connector_runs WHERE id = $id" 60 "slow run ended"
assert_eq SUCCESS "$(q "SELECT status FROM sp_v2_connector_runs WHERE id = $id")" \
    "run across the swap: $(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")"
check_loaded "run across the swap"
kill -0 "${SERVE_PID[w1]}" || cd_fail "worker died"
echo "sdk + razorpay checks passed"
