#!/usr/bin/env bash
# The runner end to end: `connectord run` spawns `connectord exec-run`, the
# test_gen driver emits records, the sink loads them, and the run row and
# the connector's counters say what happened. Then every way a driver can
# misbehave, each with the worker surviving and the run row saying why.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
pg_tmp_start

CD="$CD_BUILD_DIR/bin/connectord"
CFG="$CD_TEST_TMP/connectord.yaml"
cd_write_config "$CFG" "$CD_TESTPLUGINS"
cat >>"$CFG" <<YAML
runner:
  kill_grace_seconds: 1
  max_record_errors: 50
YAML
"$CD" -c "$CFG" migrate >/dev/null

# add_connector NAME TYPE DRIVER CONFIG_JSON -> id
add_connector() {
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver)
       VALUES ('$1', '$2', 'TESTBANK', '$4'::jsonb, '$3') RETURNING id"
}
# run_json ID [args...]: sets $out to the printed JSON and $RUN_RC
run_json() {
    set +e
    "$CD" -c "$CFG" run "$@" >"$CD_TEST_TMP/run.out" 2>"$CD_TEST_TMP/run.err"
    RUN_RC=$?
    set -e
    out=$(cat "$CD_TEST_TMP/run.out")
}
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

echo "== a clean load with bad rows is PARTIAL_SUCCESS, the bad rows are record errors"
gen=$(add_connector gen BANK_API test_gen '{"rows": 1000, "seed": 7, "bad_every": 100}')
run_json "$gen" --date 2025-10-02
assert_eq 0 "$RUN_RC" "exit code of a PARTIAL_SUCCESS run"
assert_eq PARTIAL_SUCCESS "$(jget '["status"]' <<<"$out")" "status"
assert_eq 1000 "$(jget '["records_processed"]' <<<"$out")" "records_processed"
assert_eq 990 "$(jget '["records_success"]' <<<"$out")" "records_success"
assert_eq 10 "$(jget '["records_failed"]' <<<"$out")" "records_failed"
assert_eq 990 "$(jget '["details"]["inserted"]' <<<"$out")" "inserted"
assert_eq direct "$(jget '["details"]["load_path"]' <<<"$out")" "a first load goes straight into the target"
assert_eq 2025-10-02 "$(jget '["run_date"]' <<<"$out")" "run_date"
run1=$(jget '["id"]' <<<"$out")
assert_eq 990 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'TESTBANK'")" "rows loaded"
assert_eq 10 "$(q "SELECT count(*) FROM sp_v2_connector_record_errors WHERE run_id = $run1 AND field = 'amount' AND row_ref LIKE 'line %'")" "record errors with field and row"
assert_eq "PARTIAL_SUCCESS|1|1|0|ACTIVE" "$(q "SELECT last_run_status, total_runs, success_count, failure_count, status FROM sp_v2_connectors WHERE id = $gen")" "connector counters"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_connector_run_attempts WHERE run_id = $run1 AND status = 'PARTIAL_SUCCESS'")" "attempt recorded"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE amount_paise IS NULL OR transaction_date <> '2025-10-02'")" "typed columns"
# Amounts are exact paise: row 0 of seed 7 is x = 2654435761 + 7.
x=$((2654435761 + 7))
assert_eq $(( (x % 100000) * 100 + x % 100 )) "$(q "SELECT amount_paise FROM sp_v2_bank_statements WHERE bank_ref = 'REF0000000000'")" "amount in paise"
assert_eq t "$(q "SELECT duration_seconds IS NOT NULL AND completed_at >= started_at FROM sp_v2_connector_runs WHERE id = $run1")" "duration and completion"

echo "== the same day again changes nothing and says so"
before=$(q "SELECT md5(string_agg(bank_ref || amount_paise || coalesce(utr,'') || coalesce(remarks,''), ',' ORDER BY bank_ref)) FROM sp_v2_bank_statements")
run_json "$gen" --date 2025-10-02
assert_eq 0 "$(jget '["details"]["inserted"]' <<<"$out")" "inserted on repeat"
assert_eq 0 "$(jget '["details"]["updated"]' <<<"$out")" "updated on repeat"
assert_eq 990 "$(jget '["details"]["unchanged"]' <<<"$out")" "unchanged on repeat"
assert_eq merge "$(jget '["details"]["load_path"]' <<<"$out")" "a repeat is merged"
assert_eq "$before" "$(q "SELECT md5(string_agg(bank_ref || amount_paise || coalesce(utr,'') || coalesce(remarks,''), ',' ORDER BY bank_ref)) FROM sp_v2_bank_statements")" "table identical"

echo "== a key repeated within a run: the last one loads, and the run's log says so"
rep=$(add_connector repeats BANK_API test_gen '{"rows": 6, "seed": 3, "repeat_every": 3, "bank": "REPEATS"}')
run_json "$rep" --date 2025-10-02
assert_eq "SUCCESS|2|4" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["duplicates"]' <<<"$out")|$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'REPEATS'")" "4 keys loaded, 2 repeats"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_connector_run_logs WHERE run_id = $(jget '["id"]' <<<"$out") AND message LIKE '2 records repeated a key already read in this run%'")" "the repeats are in the run's log"
q "DELETE FROM sp_v2_bank_statements WHERE bank_name = 'REPEATS'" >/dev/null

echo "== a failing run leaves none of its rows behind"
q "UPDATE sp_v2_connectors SET connection_config = '{\"rows\": 2000, \"seed\": 8, \"fail\": \"transient\"}' WHERE id = $gen" >/dev/null
run_json "$gen" --date 2025-10-02
assert_eq 1 "$RUN_RC" "exit code of a FAILED run"
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_contains "$(jget '["error_message"]' <<<"$out")" "source went away" "driver's message"
assert_eq transient_error "$(jget '["details"]["outcome"]' <<<"$out")" "outcome"
assert_eq 990 "$(q "SELECT count(*) FROM sp_v2_bank_statements")" "no new rows"
assert_eq "$before" "$(q "SELECT md5(string_agg(bank_ref || amount_paise || coalesce(utr,'') || coalesce(remarks,''), ',' ORDER BY bank_ref)) FROM sp_v2_bank_statements")" "no changed rows"
assert_eq "FAILED|FAILED|1" "$(q "SELECT last_run_status, status, failure_count FROM sp_v2_connectors WHERE id = $gen")" "connector shows FAILED"
q "UPDATE sp_v2_connectors SET connection_config = '{\"rows\": 10, \"seed\": 7}' WHERE id = $gen" >/dev/null
run_json "$gen" --date 2025-10-03
assert_eq "SUCCESS|ACTIVE" "$(q "SELECT last_run_status, status FROM sp_v2_connectors WHERE id = $gen")" "a later success clears FAILED"

echo "== driver-reported record errors keep a cleaned raw excerpt; errors are capped"
derr=$(add_connector derr BANK_API test_gen '{"rows": 400, "seed": 1, "driver_error_every": 4}')
run_json "$derr" --date 2025-10-02
assert_eq PARTIAL_SUCCESS "$(jget '["status"]' <<<"$out")" "status"
assert_eq 100 "$(jget '["records_failed"]' <<<"$out")" "records_failed"
assert_eq 50 "$(jget '["details"]["record_errors_stored"]' <<<"$out")" "stored errors capped"
assert_eq 50 "$(jget '["details"]["record_errors_dropped"]' <<<"$out")" "dropped errors counted"
run_d=$(jget '["id"]' <<<"$out")
assert_eq "garbage?" "$(q "SELECT raw FROM sp_v2_connector_record_errors WHERE run_id = $run_d LIMIT 1" | tr -d '\001')" "raw made valid UTF-8"

echo "== a driver that crashes mid-run"
crash=$(add_connector crash BANK_API crasher '{}')
run_json "$crash" --date 2025-10-02
assert_eq 1 "$RUN_RC" "exit code"
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_eq "driver crashed: SIGSEGV" "$(jget '["error_message"]' <<<"$out")" "reason"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'CRASHBANK'")" "no rows of the crashed run"
assert_eq "FAILED|1" "$(q "SELECT last_run_status, total_runs FROM sp_v2_connectors WHERE id = $crash")" "connector counters after a crash"

echo "== a driver that hangs and ignores cancellation is killed at its timeout"
hang=$(add_connector hang BANK_API hanger '{}')
t0=$(date +%s)
run_json "$hang" --date 2025-10-02 --timeout 2
t1=$(date +%s)
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_eq "timed out after 2 s" "$(jget '["error_message"]' <<<"$out")" "reason"
[ $((t1 - t0)) -le 15 ] || cd_fail "the hung run took $((t1 - t0)) s to be killed"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE status = 'RUNNING'")" "nothing left RUNNING"

echo "== a driver that leaks still finishes; the leak dies with its process"
leak=$(add_connector leak BANK_API leaker '{}')
ASAN_OPTIONS=detect_leaks=0 run_json "$leak" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status"
assert_eq 100 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'LEAKBANK'")" "rows"

echo "== the database lost in the middle of a load: a transient failure (retried), nothing loaded"
lost=$(add_connector dblost BANK_API test_gen '{"rows": 3000000, "seed": 5, "bank": "DBLOST"}')
( for i in $(seq 1 300); do
      n=$(q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'connectord-runner-data'")
      [ "$n" -gt 0 ] && break
      sleep 0.05
  done ) &
killer=$!
run_json "$lost" --date 2025-10-02
wait "$killer"
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_eq transient_error "$(jget '["details"]["outcome"]' <<<"$out")" "a lost database is transient: $(jget '["error_message"]' <<<"$out")"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'DBLOST'")" "no rows"

echo "== secrets: references resolved only in the runner, never logged or stored resolved"
export GEN_PW=hunter2-very-secret
sec=$(add_connector sec BANK_API test_gen '{"rows": 5, "seed": 3, "password": {"secret": "env:GEN_PW"}}')
run_json "$sec" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status"
run_s=$(jget '["id"]' <<<"$out")
logs=$(q "SELECT string_agg(message, ' | ') FROM sp_v2_connector_run_logs WHERE run_id = $run_s")
assert_contains "$logs" "connecting with password ********" "log line masked"
assert_not_contains "$logs" "$GEN_PW" "secret in run log"
assert_eq '{"url": "https://source.example/x?key=********", "tokens": ["********"], "********": 1}' \
    "$(q "SELECT details->'request' FROM sp_v2_connector_runs WHERE id = $run_s")" "a driver's detail is scrubbed, keys too"
assert_not_contains "$(cat "$CD_TEST_TMP/run.err")" "$GEN_PW" "secret in service log"
assert_eq '{"secret": "env:GEN_PW"}' "$(q "SELECT connection_config->'password' FROM sp_v2_connectors WHERE id = $sec")" "stored as reference"
# ... and where a driver writes it encoded: JSON-escaped, percent-encoded
# (a form body), in an HTTP Basic header (base64 of user:password). The
# driver logs its log_tag: the encoded forms are put there.
export GEN_PW2='p"ss\/w0rd+ &x'
enc_cfg=$(python3 -c 'import base64, json, os, urllib.parse
pw = os.environ["GEN_PW2"]
tag = "json=%s url=%s basic=Basic %s" % (json.dumps(pw)[1:-1].replace("/", "\\/"),
    urllib.parse.quote_plus(pw), base64.b64encode(("merchant:" + pw).encode()).decode())
print(json.dumps({"rows": 1, "seed": 3, "password": {"secret": "env:GEN_PW2"}, "log_tag": tag}))')
enc=$(add_connector encoded BANK_API test_gen "$enc_cfg")
run_json "$enc" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status of the encoded-secret run"
run_e=$(jget '["id"]' <<<"$out")
logs=$(q "SELECT string_agg(message, ' | ') FROM sp_v2_connector_run_logs WHERE run_id = $run_e")
assert_contains "$logs" "tag json=******** url=******** basic=Basic ********" "encoded forms masked in the run log"
while IFS= read -r form; do
    assert_not_contains "$logs$out" "$form" "encoded secret $form in the run log"
    assert_not_contains "$(cat "$CD_TEST_TMP/run.err")" "$form" "encoded secret $form in the service log"
done < <(python3 -c 'import base64, json, os, urllib.parse
pw = os.environ["GEN_PW2"]
print("\n".join([json.dumps(pw)[1:-1].replace("/", "\\/"), urllib.parse.quote_plus(pw), urllib.parse.quote(pw),
      base64.b64encode(("merchant:" + pw).encode()).decode(), "w0rd"]))')
unset GEN_PW2
plain=$(add_connector plain BANK_API test_gen '{"rows": 1, "seed": 3, "password": "plaintext-pw-123", "fail": "config"}')
run_json "$plain" --type TEST
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "failing test"
assert_eq "test failed as configured (password ********)" "$(jget '["error_message"]' <<<"$out")" "plaintext secret masked in the error"
assert_not_contains "$out$(q "SELECT string_agg(message, ' ') FROM sp_v2_connector_run_logs")" "plaintext-pw-123" "plaintext secret anywhere"
steal=$(add_connector steal BANK_API test_gen '{"rows": 1, "seed": 3, "password": {"secret": "env:CONNECTORD_DATABASE_URL"}}')
run_json "$steal" --date 2025-10-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "a reference to the service's own setting fails"
assert_contains "$(jget '["error_message"]' <<<"$out")" "env:CONNECTORD_DATABASE_URL names one of the service's own settings" "why"
assert_eq configuration_error "$(jget '["details"]["outcome"]' <<<"$out")" "not retried"
# a driver that writes its resolved secret to stderr itself and exits: the
# run fails, and what it wrote (never scrubbed) stays out of the run row
leak=$(add_connector stderr_leak BANK_API test_gen '{"rows": 1, "seed": 3, "password": {"secret": "env:GEN_PW"}, "fail": "stderr_exit"}')
run_json "$leak" --date 2025-10-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "a driver that exits by itself"
assert_eq "runner exited with status 3" "$(jget '["error_message"]' <<<"$out")" "its own stderr is not the error message"
assert_not_contains "$out$(q "SELECT string_agg(coalesce(error_message, '') || details::text, ' ') FROM sp_v2_connector_runs WHERE connector_id = $leak")" "$GEN_PW" "secret written to stderr by the driver"
unset GEN_PW
run_json "$sec" --date 2025-10-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "missing secret fails"
assert_contains "$(jget '["error_message"]' <<<"$out")" "env:GEN_PW" "names the reference"
assert_eq configuration_error "$(jget '["details"]["outcome"]' <<<"$out")" "a configuration error"

echo "== a test run loads nothing and reports its steps"
run_json "$gen" --type TEST
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "test status"
assert_eq TEST "$(jget '["run_type"]' <<<"$out")" "run type"
assert_eq connect "$(jget '["details"]["test_steps"][0]["step"]' <<<"$out")" "test steps"
assert_eq "generator reachable" "$(jget '["details"]["message"]' <<<"$out")" "test message"

echo "== refusals: paused, unknown driver, wrong category, overlap, bad arguments"
q "UPDATE sp_v2_connectors SET status = 'PAUSED' WHERE id = $gen" >/dev/null
run_json "$gen"
assert_eq 3 "$RUN_RC" "paused connector refused"
assert_contains "$(cat "$CD_TEST_TMP/run.err")" "Cannot run paused connector. Resume it first." "paused message"
q "UPDATE sp_v2_connectors SET status = 'ACTIVE' WHERE id = $gen" >/dev/null
nod=$(add_connector nodriver BANK_API no_such_driver '{}')
run_json "$nod" --date 2025-10-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "unknown driver"
assert_contains "$(jget '["error_message"]' <<<"$out")" "no driver named 'no_such_driver'" "unknown driver message"
cat_=$(add_connector wrongcat BANK_SFTP test_gen '{}')
run_json "$cat_" --date 2025-10-02
assert_contains "$(jget '["error_message"]' <<<"$out")" "driver test_gen serves BANK_API connectors, this connector is BANK_SFTP" "category mismatch"
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, status) VALUES ($gen, 'MANUAL', 'RUNNING')" >/dev/null
run_json "$gen"
assert_eq 3 "$RUN_RC" "overlapping run refused"
assert_contains "$(cat "$CD_TEST_TMP/run.err")" "already has a RUNNING run" "overlap message"
q "DELETE FROM sp_v2_connector_runs WHERE status = 'RUNNING'" >/dev/null
set +e
"$CD" -c "$CFG" run abc 2>/dev/null; assert_eq 2 $? "non-numeric id"
"$CD" -c "$CFG" run "$gen" --date 2025-02-30 2>/dev/null; assert_eq 2 $? "impossible date"
"$CD" -c "$CFG" run "$gen" --type BOGUS 2>/dev/null; assert_eq 2 $? "bad type"
"$CD" -c "$CFG" run 99999 2>"$CD_TEST_TMP/err"; assert_eq 3 $? "missing connector"
set -e
assert_contains "$(cat "$CD_TEST_TMP/err")" "Connector not found" "missing connector message"

echo "== the run date is T-1 in the connector's zone"
tz=$(add_connector tz BANK_API test_gen '{"rows": 1, "seed": 1, "sync_days_back": 1}')
q "UPDATE sp_v2_connectors SET schedule_timezone = 'Pacific/Kiritimati' WHERE id = $tz" >/dev/null
run_json "$tz"
assert_eq "$(q "SELECT ((now() AT TIME ZONE 'Pacific/Kiritimati')::date - 1)::text")" "$(jget '["run_date"]' <<<"$out")" "run_date in the connector's zone"
echo "== a driver misusing the host API: the run says what went wrong"
mis() { add_connector "$1" BANK_API abi_misuse "$2"; }
m=$(mis twice '{"mode": "begin_twice"}')
run_json "$m" --date 2025-10-02
assert_eq "FAILED|driver called records_begin twice" "$(jget '["status"]' <<<"$out")|$(jget '["error_message"]' <<<"$out")" \
    "a second records_begin stops the run, even when the driver ignores the refusal"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_ref = 'TWICE1'")" "no row read with the wrong columns"
m=$(mis badcol '{"mode": "bad_column"}')
run_json "$m" --date 2025-10-02
assert_eq "FAILED|configuration_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" \
    "a column name that is not UTF-8 is the driver's configuration error, not a lost runner"
assert_contains "$(jget '["error_message"]' <<<"$out")" "driver declared unusable columns: " "and the message says so"
m=$(mis ledgerpath '{"mode": "ledger_path"}')
run_json "$m" --date 2025-10-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "a ledger name that is not UTF-8 is refused, not dropped"
assert_contains "$(q "SELECT string_agg(message, ' | ') FROM sp_v2_connector_run_logs WHERE run_id = $(jget '["id"]' <<<"$out")")" "is not valid UTF-8" "the log says why"
m=$(mis ledgerreason '{"mode": "ledger_reason"}')
run_json "$m" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "a reason that is not UTF-8 is mended ($(jget '.get("error_message")' <<<"$out"))"
assert_eq "/upload/ok.csv|LOADED" "$(q "SELECT remote_path || '|' || status FROM sp_v2_connector_files WHERE connector_id = $m")" \
    "and the LOADED entry is kept"

echo "== a driver that forks a helper and crashes: the helper goes with it, the next load of the day is not blocked"
m=$(mis forkcrash '{"mode": "fork_crash"}')
run_json "$m" --date 2025-10-03
assert_eq "FAILED|driver crashed: SIGSEGV" "$(jget '["status"]' <<<"$out")|$(jget '["error_message"]' <<<"$out")" "the crash"
for i in $(seq 1 50); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'connectord-runner-data'")" = 0 ] && break
    sleep 0.1
done
assert_eq 0 "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'connectord-runner-data'")" "no load transaction left open"
q "UPDATE sp_v2_connectors SET connection_config = '{\"rows\": [[\"FC00001\", \"2.00\"]]}' WHERE id = $m" >/dev/null
run_json "$m" --date 2025-10-03 --timeout 10
assert_eq "SUCCESS|200" "$(jget '["status"]' <<<"$out")|$(q "SELECT amount_paise FROM sp_v2_bank_statements WHERE bank_ref = 'FC00001'")" "the same day loads"

echo "== a driver that leaves its process group and hangs is still stopped at its timeout"
m=$(mis pgidhang '{"mode": "pgid_hang"}')
SECONDS=0
run_json "$m" --date 2025-10-02 --timeout 2
assert_eq "FAILED|timed out after 2 s" "$(jget '["status"]' <<<"$out")|$(jget '["error_message"]' <<<"$out")" "timed out"
[ "$SECONDS" -le 15 ] || cd_fail "stopped only after $SECONDS s"

echo "== what a driver prints on stdout is not in the run's JSON"
m=$(mis stdout '{"mode": "stdout"}')
run_json "$m" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "stdout holds the run's JSON alone"
assert_contains "$(cat "$CD_TEST_TMP/run.err")" "a driver talking on stdout" "the driver's words go where its stderr goes"

echo "== a driver that calls exit(0) under connectord run: FAILED, saying why"
m=$(add_connector exiter BANK_API test_gen '{"rows": 2, "seed": 1, "fail": "exit0"}')
run_json "$m" --date 2025-10-02
assert_eq "FAILED|runner exited without settling the run (did the driver call exit()?)" \
    "$(jget '["status"]' <<<"$out")|$(jget '["error_message"]' <<<"$out")" "the reason is stated"

echo "== a driver told to stop that still says OK: cancelled, its rows not kept"
m=$(mis ignorecancel '{"mode": "ignore_cancel"}')
"$CD" -c "$CFG" run "$m" --date 2025-10-02 >"$CD_TEST_TMP/ign.out" 2>"$CD_TEST_TMP/ign.err" &
runpid=$!
for i in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id = $m AND status = 'RUNNING'")" = 1 ] && break
    sleep 0.1
done
sleep 0.5
q "UPDATE sp_v2_connector_runs SET cancel_requested_at = now(), cancel_requested_by = 'carol' WHERE connector_id = $m" >/dev/null
wait "$runpid" || true
assert_eq "FAILED|cancelled by carol|cancelled" "$(q "SELECT status || '|' || error_message || '|' || (details->>'outcome') FROM sp_v2_connector_runs WHERE connector_id = $m")" \
    "the run ends cancelled"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_ref = 'IGN1'")" "the row emitted before the cancel is not kept"

echo "== the load failing to start is transient, not the driver's columns"
m=$(mis spool '{"rows": [["SP1", "1.00"]]}')
TMPDIR=/nonexistent run_json "$m" --date 2025-10-02
assert_eq "FAILED|transient_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" \
    "no spool file: a failure a later attempt can get past"
assert_contains "$(jget '["error_message"]' <<<"$out")" "starting the load: " "named as the load's"

echo "== a merge that fails still counts what the run received and rejected"
m=$(mis mergefail '{"rows": [["MF1", "1.00"], ["MF2", "2.00"], ["MF3", "bad"]]}')
run_json "$m" --date 2025-10-02
assert_eq PARTIAL_SUCCESS "$(jget '["status"]' <<<"$out")" "first load"
# The reload goes through the merge, which the target table now refuses
# (a load no longer gives up on a role's lock_timeout: it waits its turn).
q "CREATE FUNCTION refuse_merge() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION 'merge refused for the test'; END \$\$;
   CREATE TRIGGER refuse_merge BEFORE INSERT OR UPDATE ON sp_v2_bank_statements FOR EACH STATEMENT EXECUTE FUNCTION refuse_merge()" >/dev/null
run_json "$m" --date 2025-10-02
q "DROP TRIGGER refuse_merge ON sp_v2_bank_statements; DROP FUNCTION refuse_merge()" >/dev/null
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "the merge failed ($(jget '.get("error_message")' <<<"$out"))"
assert_contains "$(jget '["error_message"]' <<<"$out")" "merge refused for the test" "the database's reason"
assert_eq "3|1|1" "$(jget '["records_processed"]' <<<"$out")|$(jget '["records_failed"]' <<<"$out")|$(jget '["details"]["rejected"]' <<<"$out")" \
    "processed, failed and rejected as received"

echo "== the runner holds none of \`connectord run\`'s other descriptors"
# fd 7: a descriptor without close-on-exec, as libcurl's sockets are
fdc=$(add_connector fds BANK_API abi_misuse '{"mode": "fds"}')
run_json "$fdc" --date 2025-10-02 7>>"$CD_TEST_TMP/held-by-run"
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "fds run ($(cat "$CD_TEST_TMP/run.err"))"
id=$(jget '["id"]' <<<"$out")
fdlog=$(q "SELECT string_agg(message, E'\n' ORDER BY id) FROM sp_v2_connector_run_logs WHERE run_id = $id AND message LIKE 'fd %'")
assert_contains "$fdlog" "fd 2 -> pipe:" "the runner's stderr"
assert_not_contains "$fdlog" "held-by-run" "the runner does not have the parent's descriptor"

echo "all runner checks passed"
