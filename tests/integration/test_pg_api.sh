#!/usr/bin/env bash
# pg_api end to end: `connectord run` loads the mock SabPaisa report API
# (tests/mock/mock_sabpaisa, on a loopback ephemeral port) into
# sp_v2_transactions, and every failure a real gateway produces ends as the
# run row says it should.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
pg_tmp_start

CD="$CD_BUILD_DIR/bin/connectord"
MOCK="$CD_BUILD_DIR/tests/mock_sabpaisa"
[ -x "$MOCK" ] || cd_fail "mock server not built: $MOCK"
CFG="$CD_TEST_TMP/connectord.yaml"
cd_write_config "$CFG"
"$CD" -c "$CFG" migrate >/dev/null

MOCK_PIDS=()
cleanup() {
    local p
    for p in "${MOCK_PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    pg_tmp_stop
}
trap cleanup EXIT

# start_mock [mock options...]: sets $PORT (the mock prints its bound port).
start_mock() {
    local out="$CD_TEST_TMP/mock.$RANDOM.port"
    "$MOCK" "$@" >"$out" 2>"$out.err" &
    MOCK_PIDS+=($!)
    local i
    for i in $(seq 100); do
        [ -s "$out" ] && break
        sleep 0.05
    done
    PORT=$(head -n1 "$out")
    [ -n "$PORT" ] || cd_fail "mock did not start: $(cat "$out.err")"
}

# add_connector NAME CONFIG_JSON -> id
add_connector() {
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config)
       VALUES ('$1', 'PG_API', 'SABPAISA', '$2'::jsonb) RETURNING id"
}
run_json() {
    set +e
    "$CD" -c "$CFG" run "$@" >"$CD_TEST_TMP/run.out" 2>"$CD_TEST_TMP/run.err"
    RUN_RC=$?
    set -e
    out=$(cat "$CD_TEST_TMP/run.out")
    [ -n "$out" ] || cd_fail "no run JSON; stderr: $(cat "$CD_TEST_TMP/run.err")"
}
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

start_mock --count 3 --slow-ms 30000
BASE="http://127.0.0.1:$PORT/report"

echo "== amounts as strings and numbers with 0, 1 and 2 decimals, codes, dates and zones"
mixed=$(add_connector mixed "{\"api_base_url\": \"$BASE\", \"merchant_codes\": [\"MIXED\"]}")
run_json "$mixed" --date 2025-01-02
assert_eq 0 "$RUN_RC" "exit code"
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status"
assert_eq 7 "$(jget '["details"]["inserted"]' <<<"$out")" "inserted"
assert_eq sp_v2_transactions "$(jget '["details"]["target_table"]' <<<"$out")" "target table"
got=$(q "SELECT string_agg(transaction_id || '=' || amount_paise, ' ' ORDER BY transaction_id) FROM sp_v2_transactions")
assert_eq "M1=1010 M2=1010 M3=1000 M4=50 M5=2500 M6=725 M7=123456789" "$got" "exact paise"
assert_eq "MIX1,MIX1,MIX1,MIX1,MIX2,MIX2,MIX2" "$(q "SELECT string_agg(merchant_id, ',' ORDER BY transaction_id) FROM sp_v2_transactions")" "merchant_id trimmed, upper-case"
assert_eq 2025-01-02 "$(q "SELECT string_agg(DISTINCT transaction_date::text, ',') FROM sp_v2_transactions")" "transaction_date"
got=$(q "SELECT string_agg(transaction_id || '@' || to_char(transaction_timestamp AT TIME ZONE 'Asia/Kolkata', 'YYYY-MM-DD HH24:MI:SS'), ' ' ORDER BY transaction_id) FROM sp_v2_transactions")
assert_eq "M1@2025-01-02 10:00:00 M2@2025-01-02 11:30:00 M3@2025-01-02 00:00:00 M4@2025-01-02 23:59:59 M5@2025-01-02 00:00:01 M6@2025-01-02 18:30:00 M7@2025-01-02 12:00:00" "$got" "timestamps in Asia/Kolkata"
# The instant itself, not only its local rendering: 23:59:59 IST is 18:29:59 UTC.
assert_eq 1735842599 "$(q "SELECT extract(epoch FROM transaction_timestamp)::bigint FROM sp_v2_transactions WHERE transaction_id = 'M4'")" "epoch of M4"
assert_eq "CARD|990|SABPAISA" "$(q "SELECT coalesce(m2.payment_method,''), m1.settlement_amount_paise, m1.source_name FROM sp_v2_transactions m1, sp_v2_transactions m2 WHERE m1.transaction_id = 'M1' AND m2.transaction_id = 'M2'")" "payment method, settlement, source_name from source_entity"
assert_eq "SABPAISA-UPI|CONNECTOR|UTRM1" "$(q "SELECT m7.source_name, m7.source_type, m1.utr FROM sp_v2_transactions m7, sp_v2_transactions m1 WHERE m7.transaction_id = 'M7' AND m1.transaction_id = 'M1'")" "pg_name, source_type, utr"

echo "== the same day again: unchanged, table identical"
snap() { q "SELECT md5(string_agg(t::text, '|' ORDER BY transaction_id)) FROM (SELECT transaction_id, merchant_id, amount_paise, transaction_date, transaction_timestamp, source_name, utr, payment_method, settlement_amount_paise, updated_at FROM sp_v2_transactions) t"; }
before=$(snap)
run_json "$mixed" --date 2025-01-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status on repeat"
assert_eq 0 "$(jget '["details"]["inserted"]' <<<"$out")" "inserted on repeat"
assert_eq 0 "$(jget '["details"]["updated"]' <<<"$out")" "updated on repeat"
assert_eq 7 "$(jget '["details"]["unchanged"]' <<<"$out")" "unchanged on repeat"
assert_eq "$before" "$(snap)" "table identical"

echo "== several merchant codes in one run"
multi=$(add_connector multi "{\"api_base_url\": \"$BASE/\", \"merchant_codes\": [\"gen1\", \"GEN2\"]}")
run_json "$multi" --date 2025-01-03
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status"
assert_eq 6 "$(jget '["details"]["inserted"]' <<<"$out")" "inserted"
assert_eq "GEN1:3 GEN2:3" "$(q "SELECT string_agg(merchant_id || ':' || n, ' ' ORDER BY merchant_id) FROM (SELECT merchant_id, count(*) n FROM sp_v2_transactions WHERE transaction_date = '2025-01-03' GROUP BY 1) s")" "rows per merchant"

echo "== 401 is a configuration error with the documented message"
f401=$(add_connector f401 "{\"api_base_url\": \"$BASE\", \"merchant_codes\": [\"FAIL401\"]}")
run_json "$f401" --date 2025-01-02
assert_eq 1 "$RUN_RC" "exit code"
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_eq "API responded with status 401: Unauthorized" "$(jget '["error_message"]' <<<"$out")" "message"
assert_eq configuration_error "$(jget '["details"]["outcome"]' <<<"$out")" "outcome"

echo "== 429 with Retry-After and 500 are transient; Retry-After is recorded"
f429=$(add_connector f429 "{\"api_base_url\": \"$BASE\", \"merchant_codes\": [\"FAIL429\"]}")
run_json "$f429" --date 2025-01-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_eq "API responded with status 429: Too Many Requests" "$(jget '["error_message"]' <<<"$out")" "message"
assert_eq transient_error "$(jget '["details"]["outcome"]' <<<"$out")" "outcome"
assert_eq 7 "$(jget '["details"]["retry_after_seconds"]' <<<"$out")" "retry_after_seconds"
f500=$(add_connector f500 "{\"api_base_url\": \"$BASE\", \"merchant_codes\": [\"FAIL500\"]}")
run_json "$f500" --date 2025-01-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_eq "API responded with status 500: Internal Server Error" "$(jget '["error_message"]' <<<"$out")" "message"
assert_eq transient_error "$(jget '["details"]["outcome"]' <<<"$out")" "outcome"

echo "== 500, then success on the next attempt"
start_mock --count 4 --fail-first 1
flaky=$(add_connector flaky "{\"api_base_url\": \"http://127.0.0.1:$PORT\", \"merchant_codes\": [\"FLAKY\"]}")
run_json "$flaky" --date 2025-01-04
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "first attempt"
assert_eq transient_error "$(jget '["details"]["outcome"]' <<<"$out")" "first outcome"
run_json "$flaky" --date 2025-01-04
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "second attempt"
assert_eq 4 "$(q "SELECT count(*) FROM sp_v2_transactions WHERE merchant_id = 'FLAKY'")" "rows of the second attempt"

echo "== a stall past timeout_seconds fails, transient, in bounded time"
slow=$(add_connector slow "{\"api_base_url\": \"$BASE\", \"merchant_codes\": [\"SLOW\"], \"timeout_seconds\": 2}")
t0=$(date +%s)
run_json "$slow" --date 2025-01-02
t1=$(date +%s)
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_eq transient_error "$(jget '["details"]["outcome"]' <<<"$out")" "outcome"
assert_contains "$(jget '["error_message"]' <<<"$out")" "timed out after 2000 ms waiting for 127.0.0.1" "message"
[ $((t1 - t0)) -le 12 ] || cd_fail "the stalled run took $((t1 - t0)) s"

echo "== a body cut mid-array fails with the byte offset and leaves no rows"
trunc=$(add_connector trunc "{\"api_base_url\": \"$BASE\", \"merchant_codes\": [\"TRUNC\"]}")
run_json "$trunc" --date 2025-01-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_contains "$(jget '["error_message"]' <<<"$out")" "malformed JSON from the report API for merchant TRUNC at byte 136" "message"
assert_eq permanent_error "$(jget '["details"]["outcome"]' <<<"$out")" "outcome"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_transactions WHERE transaction_id = 'T1'")" "the item before the cut is not loaded"
start_mock --count 5000
cut=$(add_connector cut "{\"api_base_url\": \"http://127.0.0.1:$PORT\", \"merchant_codes\": [\"CUT\"]}")
run_json "$cut" --date 2025-01-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status (connection dropped)"
assert_contains "$(jget '["error_message"]' <<<"$out")" "broke off after" "message names the offset"
assert_eq transient_error "$(jget '["details"]["outcome"]' <<<"$out")" "outcome"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_transactions WHERE merchant_id = 'CUT'")" "none of the 5000 items before the drop"

echo "== bad rows: no id, non-numeric amounts, invalid UTF-8 -> record errors, the rest load"
bad=$(add_connector badrows "{\"api_base_url\": \"$BASE\", \"merchant_codes\": [\"BADROWS\"]}")
run_json "$bad" --date 2025-01-02
assert_eq 0 "$RUN_RC" "exit code of PARTIAL_SUCCESS"
assert_eq PARTIAL_SUCCESS "$(jget '["status"]' <<<"$out")" "status"
assert_eq 4 "$(jget '["records_failed"]' <<<"$out")" "records_failed"
assert_eq "R1,R6" "$(q "SELECT string_agg(transaction_id, ',' ORDER BY transaction_id) FROM sp_v2_transactions WHERE merchant_id = 'BAD'")" "good rows loaded"
runb=$(jget '["id"]' <<<"$out")
errs=$(q "SELECT string_agg(row_ref || ': ' || reason, ' | ' ORDER BY row_ref) FROM sp_v2_connector_record_errors WHERE run_id = $runb")
assert_contains "$errs" "merchant BADROWS item 2: item has no transaction_id or txn_id" "missing id"
assert_contains "$errs" "merchant BADROWS item 3: " "non-numeric amount 12.3x"
assert_contains "$errs" "merchant BADROWS item 4: " "non-numeric amount abc"
assert_contains "$errs" "merchant BADROWS item 5: " "invalid UTF-8"
assert_contains "$errs" "UTF-8" "invalid UTF-8 reason"
assert_eq "amount,amount,utr" "$(q "SELECT string_agg(field, ',' ORDER BY field) FROM sp_v2_connector_record_errors WHERE run_id = $runb AND field IS NOT NULL")" "fields of host-rejected rows"

echo "== a JSON \\u0000 in a value is a record error, not a value cut short"
nuls=$(add_connector nuls "{\"api_base_url\": \"$BASE\", \"merchant_codes\": [\"NULS\"]}")
run_json "$nuls" --date 2025-01-02
assert_eq "PARTIAL_SUCCESS|4" "$(jget '["status"]' <<<"$out")|$(jget '["records_failed"]' <<<"$out")" "four items with a NUL refused"
assert_eq 'OK\u0000|400' "$(q "SELECT transaction_id || '|' || amount_paise FROM sp_v2_transactions WHERE merchant_id = 'NULS'")" \
    "only the clean item loaded, its escaped backslash kept as text"
runn=$(jget '["id"]' <<<"$out")
assert_contains "$(q "SELECT string_agg(reason, ' | ' ORDER BY row_ref) FROM sp_v2_connector_record_errors WHERE run_id = $runn")" \
    'payee_amount holds a NUL character (\u0000)' "the reason names the field"

echo "== a value that never ends is cut off at 1 MiB, not parsed again with every chunk"
endless=$(add_connector endless "{\"api_base_url\": \"$BASE\", \"merchant_codes\": [\"ENDLESS\"]}")
run_json "$endless" --date 2025-01-02
assert_eq "FAILED|permanent_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "endless value"
assert_contains "$(jget '["error_message"]' <<<"$out")" "sent over 1048576 bytes without ending a JSON value" "endless value: message"

echo "== --type TEST: status, latency, rows seen; nothing loaded"
gen=$(add_connector gen "{\"api_base_url\": \"$BASE\", \"merchant_codes\": [\"TESTME\"]}")
run_json "$gen" --type TEST --date 2025-01-05
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "test status"
assert_eq TEST "$(jget '["run_type"]' <<<"$out")" "run type"
assert_eq 200 "$(jget '["details"]["http_status"]' <<<"$out")" "http_status"
assert_eq 3 "$(jget '["details"]["rows_seen"]' <<<"$out")" "rows_seen"
jget '["details"]["latency_ms"]' <<<"$out" | grep -Eq '^[0-9]+$' || cd_fail "latency_ms missing"
assert_eq "config,request,status,rows" "$(jget '["details"]["test_steps"]' <<<"$out" | python3 -c 'import ast,sys; print(",".join(s["step"] for s in ast.literal_eval(sys.stdin.read())))')" "test steps"
assert_contains "$(jget '["details"]["message"]' <<<"$out")" "3 transaction(s) for TESTME" "message"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_transactions WHERE merchant_id = 'TESTME'")" "nothing loaded"

# auth_case NAME MERCHANT SECRET AUTH_JSON MOCK_ARGS...: a connector whose
# credential is the secret reference env:SP_SECRET loads with the right
# value and gets the mock's 401 with a wrong one; the secret never shows.
auth_case() {
    local name=$1 merchant=$2 secret=$3 auth=$4
    shift 4
    start_mock --count 2 "$@"
    export SP_SECRET=$secret
    local id
    id=$(add_connector "$name" "{\"api_base_url\": \"http://127.0.0.1:$PORT\", \"merchant_codes\": [\"$merchant\"], $auth}")
    run_json "$id" --date 2025-01-02
    assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "$name: status with the right secret"
    assert_eq 2 "$(q "SELECT count(*) FROM sp_v2_transactions WHERE merchant_id = '$merchant'")" "$name: rows"
    export SP_SECRET=wrong
    run_json "$id" --date 2025-01-02
    assert_eq "API responded with status 401: Unauthorized" "$(jget '["error_message"]' <<<"$out")" "$name: wrong secret"
    assert_not_contains "$out$(q "SELECT string_agg(message, ' ') FROM sp_v2_connector_run_logs")" "$secret" "$name: secret anywhere"
}
echo "== bearer token from a secret reference; a wrong token is a 401"
auth_case bearer BEAR s3cret-token '"authentication_type": "BEARER", "bearer_token": {"secret": "env:SP_SECRET"}' --bearer s3cret-token
echo "== basic authentication from a secret reference; a wrong password is a 401"
auth_case basic BASIC pw-789 '"authentication_type": "BASIC", "username": "ops", "password": {"secret": "env:SP_SECRET"}' --basic ops:pw-789

echo "== the default SabPaisa connector (id 1) fails its test quickly and clearly here"
assert_eq "SabPaisa PG API|PG_API" "$(q "SELECT name, connector_type FROM sp_v2_connectors WHERE id = 1")" "default connector"
t0=$(date +%s)
run_json 1 --type TEST
t1=$(date +%s)
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_contains "$(jget '["error_message"]' <<<"$out")" "reportapi.sabpaisa.in" "message names the host"
assert_eq transient_error "$(jget '["details"]["outcome"]' <<<"$out")" "outcome"
[ $((t1 - t0)) -le 45 ] || cd_fail "the default connector's test took $((t1 - t0)) s"
echo "   default connector: $(jget '["error_message"]' <<<"$out") ($((t1 - t0)) s)"

echo "OK"
