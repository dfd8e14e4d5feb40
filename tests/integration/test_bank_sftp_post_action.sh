#!/usr/bin/env bash
# bank_sftp post_action (move / delete of the remote file) happens only
# after the run's rows are committed (ABI 1.2 committed callback), and
# what was committed but not acted on is caught up by a later run:
#   - the commit fails (a deferred constraint trigger refuses it at COMMIT):
#     the file stays in the drop box, no row and no LOADED ledger row; the
#     next run loads it and then moves it;
#   - SFTP fails in the callback (processed_path not writable): a warning in
#     the run's log, the run stays SUCCESS, a run for another day moves it;
#   - the runner dies between the commit and the post action: the run stays
#     SUCCESS with its rows; the next run moves the file;
#   - delete works the same way;
#   - checksum sidecars and the done marker go with their data file.
# A real OpenSSH sshd on a loopback port and a real PostgreSQL.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/plugins/bank_sftp/tests/sshd.sh"
pg_tmp_start
SSH_TMP=$(mktemp -d /tmp/cd-sshd.XXXXXX)
cleanup() {
    [ -n "${SSHD_ROOT:-}" ] && chmod 777 "$SSHD_ROOT/processed" 2>/dev/null || true
    sshd_tmp_stop
    rm -rf "$SSH_TMP"
    pg_tmp_stop
}
trap cleanup EXIT
sshd_tmp_start "$SSH_TMP"
UP="$SSHD_ROOT/upload"
DONE="$SSHD_ROOT/processed"
REMOTE="${SSHD_REMOTE_BASE}/upload"

CD="$CD_BUILD_DIR/bin/connectord"
CFG="$CD_TEST_TMP/connectord.yaml"
cd_write_config "$CFG"
cat >>"$CFG" <<YAML
runner:
  work_dir: "$CD_TEST_TMP/work"
templates:
  dir: "$CD_SOURCE_DIR/conf.d/templates"
YAML
"$CD" -c "$CFG" migrate >/dev/null

jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
run_json() {
    set +e
    "$CD" -c "$CFG" run "$@" >"$CD_TEST_TMP/run.out" 2>"$CD_TEST_TMP/run.err"
    RUN_RC=$?
    set -e
    out=$(cat "$CD_TEST_TMP/run.out")
    [ -n "$out" ] || { cat "$CD_TEST_TMP/run.err" >&2; cd_fail "no run JSON"; }
    RID=$(jget '["id"]' <<<"$out")
}
run_log() { q "SELECT string_agg(message, ' | ' ORDER BY id) FROM sp_v2_connector_run_logs WHERE run_id=$1"; }
add_connector() { # NAME EXTRA_JSON
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver)
       VALUES ('$1', 'BANK_SFTP', 'AXIS BANK', '{\"host\": \"127.0.0.1\", \"port\": $SSHD_PORT,
       \"username\": \"$SSHD_KEY_USER\", \"auth_type\": \"private_key\",
       \"private_key\": {\"secret\": \"file:$SSHD_KEY\"}, \"host_key_sha256\": \"$SSHD_FINGERPRINT\",
       \"remote_path\": \"$REMOTE\", \"min_file_age_seconds\": 60, \"size_stable_seconds\": 0,
       \"template\": \"AXIS RECON\", $2}'::jsonb, 'bank_sftp') RETURNING id"
}
axis_csv() { # FILE PREFIX DAY(dd)
    {
        printf 'TXNID,CREDIT_AMT,NET_CR_AMT,VALUE_DATE,UTR,RRN,AUTH,POST_DATE,BANK,STATUS,REMARKS\n'
        printf '%s1,100.00,99.00,%s-10-2025,U1,R1,A,%s-10-2025,AXIS,S,one\n' "$2" "$3" "$3"
        printf '%s2,200.50,199.00,%s-10-2025,U2,R2,A,%s-10-2025,AXIS,S,two\n' "$2" "$3" "$3"
        printf '%s3,(3.25),0,%s-10-2025,U3,R3,A,%s-10-2025,AXIS,S,three\n' "$2" "$3" "$3"
    } >"$1"
    touch -d '-10 minutes' "$1"
}
rows_like() { q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_ref LIKE '$1%'"; }
loaded_rows() { q "SELECT count(*) FROM sp_v2_connector_files WHERE connector_id=$1 AND remote_path='$REMOTE/$2' AND status='LOADED'"; }

# A deferred constraint trigger fires at COMMIT: while commit_refused has a
# row, the load's COMMIT fails after everything else went through.
q "CREATE TABLE commit_refused (why text)" >/dev/null
q "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN
     IF EXISTS (SELECT 1 FROM commit_refused) THEN
       RAISE EXCEPTION 'commit refused by the test';
     END IF;
     RETURN NULL;
   END \$\$" >/dev/null
q "CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT OR UPDATE ON sp_v2_bank_statements
   DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()" >/dev/null

mv_id=$(add_connector mover "\"file_pattern\": \"PA_{YYYYMMDD}.csv\", \"post_action\": \"move\", \"processed_path\": \"${SSHD_REMOTE_BASE}/processed\"")

echo "== the commit fails: the file is not moved, and the next run loads and moves it"
axis_csv "$UP/PA_20251002.csv" PA02_ 02
q "INSERT INTO commit_refused VALUES ('test')" >/dev/null
run_json "$mv_id" --date 2025-10-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_contains "$(jget '["error_message"]' <<<"$out")" "commit refused by the test" "the COMMIT failed"
[ -f "$UP/PA_20251002.csv" ] || cd_fail "the file left the drop box although its rows were not committed"
[ ! -e "$DONE/PA_20251002.csv" ] || cd_fail "the file was moved before the commit"
assert_eq 0 "$(rows_like PA02_)" "no rows"
assert_eq 0 "$(loaded_rows "$mv_id" PA_20251002.csv)" "no LOADED ledger row"
assert_not_contains "$(run_log "$RID")" "post_action" "no post action tried"
q "DELETE FROM commit_refused" >/dev/null
run_json "$mv_id" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "retry: $(jget '["error_message"]' <<<"$out")"
assert_eq 3 "$(jget '["details"]["inserted"]' <<<"$out")" "rows loaded by the next run"
assert_eq 1 "$(loaded_rows "$mv_id" PA_20251002.csv)" "LOADED"
assert_eq "move after_commit PA_20251002.csv" \
    "$(jget '["details"]["post_action"]["action"]' <<<"$out") after_commit $(jget '["details"]["post_action"]["after_commit"][0]' <<<"$out")" \
    "the run says the move waits for the commit"
[ -f "$DONE/PA_20251002.csv" ] || cd_fail "not moved after the commit"
[ ! -e "$UP/PA_20251002.csv" ] || cd_fail "still in the drop box"
assert_contains "$(run_log "$RID")" "post_action move: PA_20251002.csv moved" "the move is in the run's log (written after the commit)"

echo "== SFTP fails in the callback: a warning, the run stays SUCCESS, a later run moves it"
axis_csv "$UP/PA_20251003.csv" PA03_ 03
chmod 555 "$DONE"
run_json "$mv_id" --date 2025-10-03
chmod 777 "$DONE"
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status: $(jget '["error_message"]' <<<"$out")"
assert_eq 3 "$(rows_like PA03_)" "rows committed"
[ -f "$UP/PA_20251003.csv" ] || cd_fail "the file is gone although the move failed"
assert_contains "$(run_log "$RID")" "post_action move of PA_20251003.csv failed: cannot move $REMOTE/PA_20251003.csv to ${SSHD_REMOTE_BASE}/processed/PA_20251003.csv" "warning in the run's log"
assert_eq 4 "$(q "SELECT level FROM sp_v2_connector_run_logs WHERE run_id=$RID AND message LIKE 'post_action move of PA_20251003.csv failed%'")" "logged as a warning"
axis_csv "$UP/PA_20251004.csv" PA04_ 04
run_json "$mv_id" --date 2025-10-04
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "next day: $(jget '["error_message"]' <<<"$out")"
assert_eq '["PA_20251003.csv"]' "$(python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["details"]["post_action_caught_up"]))' <<<"$out")" "caught up at the start of the next run"
assert_contains "$(run_log "$RID")" "post_action move: PA_20251003.csv (loaded by an earlier run) moved now" "catch-up logged"
[ -f "$DONE/PA_20251003.csv" ] && [ ! -e "$UP/PA_20251003.csv" ] || cd_fail "the earlier file was not caught up"
[ -f "$DONE/PA_20251004.csv" ] && [ ! -e "$UP/PA_20251004.csv" ] || cd_fail "the day's own file was not moved"
assert_eq 3 "$(rows_like PA03_)" "the caught-up file was not loaded again"

echo "== the runner dies between the commit and the post action: the next run moves the file"
axis_csv "$UP/PA_20251005.csv" PA05_ 05
CD_TEST_BANK_SFTP_DIE_AFTER_COMMIT=1 run_json "$mv_id" --date 2025-10-05
assert_eq 0 "$RUN_RC" "exit code: the run's own verdict stands"
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "committed before the crash"
assert_eq 3 "$(rows_like PA05_)" "rows committed"
assert_eq 1 "$(loaded_rows "$mv_id" PA_20251005.csv)" "LOADED"
[ -f "$UP/PA_20251005.csv" ] || cd_fail "moved although the runner died first"
run_json "$mv_id" --date 2025-10-05
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "rerun: $(jget '["error_message"]' <<<"$out")"
assert_eq 0 "$(jget '["records_processed"]' <<<"$out")" "nothing read again"
assert_eq ALREADY_LOADED "$(jget '["details"]["files"][0]["status"]' <<<"$out")" "reported as loaded"
[ -f "$DONE/PA_20251005.csv" ] && [ ! -e "$UP/PA_20251005.csv" ] || cd_fail "not caught up after the crash"

echo "== a file changed after it was loaded is never moved by the catch-up"
axis_csv "$UP/PA_20251006.csv" PA06_ 06
CD_TEST_BANK_SFTP_DIE_AFTER_COMMIT=1 run_json "$mv_id" --date 2025-10-06
assert_eq 3 "$(rows_like PA06_)" "rows committed"
printf 'PA06_4,1.00,1.00,06-10-2025,U4,R4,A,06-10-2025,AXIS,S,four\n' >>"$UP/PA_20251006.csv"
touch -d '-10 minutes' "$UP/PA_20251006.csv"
axis_csv "$UP/PA_20251007.csv" PA07_ 07
run_json "$mv_id" --date 2025-10-07
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status"
[ -f "$UP/PA_20251006.csv" ] || cd_fail "a changed file was moved without being loaded"
run_json "$mv_id" --date 2025-10-06
assert_eq 4 "$(rows_like PA06_)" "the new version loads"
[ -f "$DONE/PA_20251006.csv" ] || cd_fail "the new version is moved once loaded"

echo "== a corrected file dropped again under a name already moved: loaded, and moved over the old copy"
axis_csv "$UP/PA_20251008.csv" PA08_ 08
run_json "$mv_id" --date 2025-10-08
[ -f "$DONE/PA_20251008.csv" ] && [ ! -e "$UP/PA_20251008.csv" ] || cd_fail "first version not moved"
axis_csv "$UP/PA_20251008.csv" PA08_ 08
printf 'PA08_4,4.00,4.00,08-10-2025,U4,R4,A,08-10-2025,AXIS,S,four\n' >>"$UP/PA_20251008.csv"
touch -d '-10 minutes' "$UP/PA_20251008.csv"
run_json "$mv_id" --date 2025-10-08
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "the corrected file: $(jget '["error_message"]' <<<"$out")"
assert_eq 4 "$(rows_like PA08_)" "its new row loaded"
assert_not_contains "$(run_log "$RID")" "failed" "no failed move"
[ ! -e "$UP/PA_20251008.csv" ] || cd_fail "the corrected file stayed in the drop box"
grep -q '^PA08_4,' "$DONE/PA_20251008.csv" || cd_fail "processed_path still holds the first version"

echo "== a moved file the bank uploads again unchanged: a duplicate, checked once, then moved without a download"
# The ledger kept the first upload's mtime: the catch-up never took the
# re-upload as loaded, and every run downloaded it to hash it, forever.
axis_csv "$UP/PA_20251009.csv" PA09_ 09
run_json "$mv_id" --date 2025-10-09
[ -f "$DONE/PA_20251009.csv" ] && [ ! -e "$UP/PA_20251009.csv" ] || cd_fail "first upload not moved"
cp "$DONE/PA_20251009.csv" "$UP/PA_20251009.csv"; touch -d '-5 minutes' "$UP/PA_20251009.csv"
run_json "$mv_id" --date 2025-10-09
assert_eq "SUCCESS|SKIPPED_DUPLICATE" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["files"][0]["status"]' <<<"$out")" "the re-upload: $(jget '["error_message"]' <<<"$out")"
assert_contains "$(run_log "$RID")" "downloading $REMOTE/PA_20251009.csv" "downloaded once to check it"
run_json "$mv_id" --date 2025-10-09
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "next run: $(jget '["error_message"]' <<<"$out")"
assert_not_contains "$(run_log "$RID")" "downloading" "not downloaded again"
assert_eq '["PA_20251009.csv"]' "$(python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["details"].get("post_action_caught_up")))' <<<"$out")" "moved by the catch-up"
[ -f "$DONE/PA_20251009.csv" ] && [ ! -e "$UP/PA_20251009.csv" ] || cd_fail "the re-upload was not moved"
assert_eq 3 "$(rows_like PA09_)" "its rows once"

echo "== post_action delete, after the commit"
del_id=$(add_connector deleter "\"file_pattern\": \"PD_{YYYYMMDD}.csv\", \"post_action\": \"delete\"")
axis_csv "$UP/PD_20251002.csv" PD02_ 02
q "INSERT INTO commit_refused VALUES ('again')" >/dev/null
run_json "$del_id" --date 2025-10-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "commit refused"
[ -f "$UP/PD_20251002.csv" ] || cd_fail "deleted although the commit failed"
q "DELETE FROM commit_refused" >/dev/null
run_json "$del_id" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status"
assert_eq 3 "$(rows_like PD02_)" "rows"
[ ! -e "$UP/PD_20251002.csv" ] || cd_fail "not deleted after the commit"
assert_contains "$(run_log "$RID")" "post_action delete: PD_20251002.csv deleted" "logged"
echo "== a data file's sidecars and done marker go with it"
sc_id=$(add_connector sidecars "\"file_pattern\": \"PS_{YYYYMMDD}.csv\", \"post_action\": \"move\", \"processed_path\": \"${SSHD_REMOTE_BASE}/processed\", \"checksum\": \"sha256_sidecar\", \"done_marker_suffix\": \".ok\"")
axis_csv "$UP/PS_20251002.csv" PS02_ 02
(cd "$UP" && sha256sum PS_20251002.csv >PS_20251002.csv.sha256 && touch PS_20251002.csv.ok)
run_json "$sc_id" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status: $(jget '["error_message"]' <<<"$out")"
for f in PS_20251002.csv PS_20251002.csv.sha256 PS_20251002.csv.ok; do
    [ -f "$DONE/$f" ] && [ ! -e "$UP/$f" ] || cd_fail "$f was not moved with its data file"
done
del2=$(add_connector sidecars_del "\"file_pattern\": \"PT_{YYYYMMDD}.csv\", \"post_action\": \"delete\", \"done_marker_suffix\": \".ok\"")
axis_csv "$UP/PT_20251002.csv" PT02_ 02
touch "$UP/PT_20251002.csv.ok"
run_json "$del2" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "delete status"
[ ! -e "$UP/PT_20251002.csv" ] && [ ! -e "$UP/PT_20251002.csv.ok" ] || cd_fail "the marker outlived its deleted file"
echo "ok"
