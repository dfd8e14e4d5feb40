#!/usr/bin/env bash
# bank_sftp end to end: a real OpenSSH sshd on a loopback port, a real
# PostgreSQL, `connectord run` — and every bad case of issue #6: wrong host
# key, wrong password, no file yet, a growing file, a missing marker, a
# checksum mismatch, a truncated download resumed, a header mismatch,
# broken rows, a renamed file, changed content, idempotence, a failed run
# leaving no LOADED ledger row; CSV, tilde TXT in Windows-1252, XLSX and
# PGP fixtures written here.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/silent_dns.sh"
source "$CD_SOURCE_DIR/plugins/bank_sftp/tests/sshd.sh"
pg_tmp_start
SSH_TMP=$(mktemp -d /tmp/cd-sshd.XXXXXX)
GNUPGHOME_T=$(mktemp -d /tmp/cd-gpg.XXXXXX)
cleanup() {
    sshd_tmp_stop
    GNUPGHOME=$GNUPGHOME_T gpgconf --kill all 2>/dev/null || true
    rm -rf "$SSH_TMP" "$GNUPGHOME_T"
    pg_tmp_stop
}
trap cleanup EXIT
sshd_tmp_start "$SSH_TMP"
UP="$SSHD_ROOT/upload"
REMOTE="${SSHD_REMOTE_BASE}/upload"

CD="$CD_BUILD_DIR/bin/connectord"
CFG="$CD_TEST_TMP/connectord.yaml"
WORK="$CD_TEST_TMP/work"
cd_write_config "$CFG"
cat >>"$CFG" <<YAML
runner:
  work_dir: "$WORK"
templates:
  dir: "$CD_SOURCE_DIR/conf.d/templates"
YAML
"$CD" -c "$CFG" migrate >/dev/null
export SFTP_PW="$SSHD_PW"

jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
# CD_VALGRIND=1: every run (and its exec-run child) under valgrind; any
# invalid access or definite leak fails the test.
VG=()
if [ -n "${CD_VALGRIND:-}" ]; then
    VG=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
        --show-leak-kinds=definite --trace-children=yes --child-silent-after-fork=yes
        --trace-children-skip='*gpg*,*gpgconf*,*gpg-agent*' --keep-debuginfo=yes
        --suppressions="$CD_SOURCE_DIR/plugins/bank_sftp/tests/valgrind.supp"
        --log-file="$CD_TEST_TMP/vg.%p.log")
fi
run_json() {
    set +e
    "${VG[@]}" "$CD" -c "$CFG" run "$@" >"$CD_TEST_TMP/run.out" 2>"$CD_TEST_TMP/run.err"
    RUN_RC=$?
    set -e
    if [ -n "${CD_VALGRIND:-}" ]; then
        local f
        for f in "$CD_TEST_TMP"/vg.*.log; do
            [ -s "$f" ] && { cat "$f" >&2; cd_fail "valgrind reported problems"; }
        done
        rm -f "$CD_TEST_TMP"/vg.*.log
    fi
    out=$(cat "$CD_TEST_TMP/run.out")
    [ -z "${CD_DEBUG:-}" ] || cat "$CD_TEST_TMP/run.err" >&2
    [ -n "$out" ] || { cat "$CD_TEST_TMP/run.err" >&2; cd_fail "no run JSON"; }
}
# conn_json EXTRA_JSON_FIELDS -> a key-auth connection_config
conn_json() {
    echo "{\"host\": \"127.0.0.1\", \"port\": $SSHD_PORT, \"username\": \"$SSHD_KEY_USER\",
      \"auth_type\": \"private_key\", \"private_key\": {\"secret\": \"file:$SSHD_KEY\"},
      \"host_key_sha256\": \"$SSHD_FINGERPRINT\", \"remote_path\": \"$REMOTE\",
      \"min_file_age_seconds\": 60, \"size_stable_seconds\": 1, $1}"
}
add_connector() { # NAME SOURCE_ENTITY CONFIG
    local cfgfile="$CD_TEST_TMP/conn.json"
    printf '%s' "$3" >"$cfgfile"
    psql -X -q -v ON_ERROR_STOP=1 -At -v cfg="$(cat "$cfgfile")" -c "" >/dev/null
    python3 - "$1" "$2" "$cfgfile" <<'PY' | psql -X -q -v ON_ERROR_STOP=1 -At
import json, sys
name, ent, path = sys.argv[1:4]
cfg = json.dumps(json.load(open(path)))
q = lambda s: "'" + s.replace("'", "''") + "'"
print("INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver)"
      f" VALUES ({q(name)}, 'BANK_SFTP', {q(ent)}, {q(cfg)}::jsonb, 'bank_sftp') RETURNING id;")
PY
}
old() { touch -d '-10 minutes' "$@"; }
axis_csv() { # FILE: AXIS RECON rows incl. quoting, Indian grouping, blank lines
    printf 'TXNID,CREDIT_AMT,NET_CR_AMT,VALUE_DATE,UTR,RRN,AUTH,POST_DATE,BANK,STATUS,REMARKS\r\n' >"$1"
    printf 'AX001,"1,00,000.00","99,800.00",02-10-2025,UTR001,RRN001,A1,02-10-2025,AXIS,SUCCESS,"settled, ok"\r\n' >>"$1"
    printf 'AX002,1250.50,1248.00,02-10-2025,UTR002,RRN002,A2,02-10-2025,AXIS,SUCCESS,"multi\nline"\r\n' >>"$1"
    printf '\r\n' >>"$1"
    printf 'AX003,(25.75),0,02-10-2025,UTR003,RRN003,A3,02-10-2025,AXIS,REFUND,\r\n' >>"$1"
}

echo "== test: fingerprint, auth, listing"
axis_csv "$UP/AXIS_RECON_20251002.csv"; old "$UP/AXIS_RECON_20251002.csv"
ax=$(add_connector axis "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "AXIS_RECON_{YYYYMMDD}*.csv"')")
run_json "$ax" --type TEST --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "test status: $(jget '["error_message"]' <<<"$out")"
assert_contains "$(jget '["details"]["message"]' <<<"$out")" "$SSHD_FINGERPRINT" "fingerprint reported"
assert_contains "$(jget '["details"]["message"]' <<<"$out")" "1 file(s) in $REMOTE match AXIS_RECON_20251002*.csv" "files counted"
assert_eq "connect,handshake,host key,auth,list" "$(python3 -c 'import json,sys; print(",".join(s["step"] for s in json.load(sys.stdin)["details"]["test_steps"]))' <<<"$out")" "steps"
# a pattern without a date matches on each of the lookback days: each file counts once
undated=$(add_connector undated "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "AXIS_RECON_*.csv"')")
run_json "$undated" --type TEST --date 2025-10-02
assert_contains "$(jget '["details"]["message"]' <<<"$out")" "1 file(s) in $REMOTE match AXIS_RECON_*.csv over the last 4 day(s)" "undated pattern counted once"

echo "== a CSV day loads exactly; the same day again loads nothing"
run_json "$ax" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status: $(jget '["error_message"]' <<<"$out")"

assert_eq 3 "$(jget '["details"]["inserted"]' <<<"$out")" "inserted"
assert_eq "AX001|10000000|9980000|CR|2025-10-02|UTR001|settled, ok|AXIS_RECON_20251002.csv" \
    "$(q "SELECT bank_ref, amount_paise, net_amount_paise, coalesce(debit_credit,'CR'), transaction_date, utr, remarks, source_file FROM sp_v2_bank_statements WHERE bank_ref='AX001'")" "row 1"
assert_eq "125050|124800" "$(q "SELECT amount_paise, net_amount_paise FROM sp_v2_bank_statements WHERE bank_ref='AX002'")" "row 2"
assert_eq "2575|DR" "$(q "SELECT amount_paise, debit_credit FROM sp_v2_bank_statements WHERE bank_ref='AX003'")" "parenthesised amount"
assert_eq "LOADED|3" "$(q "SELECT status, rows_loaded FROM sp_v2_connector_files WHERE connector_id=$ax AND remote_path='$REMOTE/AXIS_RECON_20251002.csv'")" "ledger LOADED"
[ -z "$(ls "$WORK/$ax" | grep -v gnupg || true)" ] || cd_fail "download left behind: $(ls "$WORK/$ax")"
run_json "$ax" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "repeat status"
assert_eq 0 "$(jget '["records_processed"]' <<<"$out")" "nothing read again"
assert_eq ALREADY_LOADED "$(jget '["details"]["files"][0]["status"]' <<<"$out")" "file skipped"
echo "   a file whose name is not UTF-8 is skipped with a warning, not a failure of the day"
latin1="$UP/AXIS_RECON_20251002_relev$(printf '\xe9').csv"
axis_csv "$latin1"; old "$latin1"
run_json "$ax" --date 2025-10-02
rm -f "$latin1"
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status with a Latin-1 name beside: $(jget '["error_message"]' <<<"$out")"
rid=$(jget '["id"]' <<<"$out")
assert_contains "$(q "SELECT string_agg(message, ' | ') FROM sp_v2_connector_run_logs WHERE run_id=$rid")" 'skipped "AXIS_RECON_20251002_relev\xe9.csv": the name is not UTF-8' "the skip is logged"

echo "== a renamed file is not loaded again (same sha256)"
mv "$UP/AXIS_RECON_20251002.csv" "$UP/AXIS_RECON_20251002_copy.csv"
run_json "$ax" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status"
assert_eq SKIPPED_DUPLICATE "$(jget '["details"]["files"][0]["status"]' <<<"$out")" "duplicate"
assert_eq 0 "$(jget '["records_processed"]' <<<"$out")" "no rows"
assert_eq SKIPPED_DUPLICATE "$(q "SELECT status FROM sp_v2_connector_files WHERE remote_path='$REMOTE/AXIS_RECON_20251002_copy.csv'")" "ledger"

echo "== changed content under the same name is a new version, flagged"
sed -i 's/AX002,1250.50/AX002,1350.50/' "$UP/AXIS_RECON_20251002_copy.csv"; old "$UP/AXIS_RECON_20251002_copy.csv"
run_json "$ax" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status $(jget '["error_message"]' <<<"$out")"
assert_eq AXIS_RECON_20251002_copy.csv "$(jget '["details"]["new_versions"][0]["file"]' <<<"$out")" "flagged"
assert_eq 3 "$(jget '["details"]["updated"]' <<<"$out")" "rows re-stamped with the new file and batch"
assert_eq 135050 "$(q "SELECT amount_paise FROM sp_v2_bank_statements WHERE bank_ref='AX002'")" "new amount"
assert_eq 2 "$(q "SELECT count(*) FROM sp_v2_connector_files WHERE remote_path='$REMOTE/AXIS_RECON_20251002_copy.csv'")" "two versions in the ledger"

echo "== a loaded file dropped again with the same content: downloaded once to check, then skipped"
# The bank re-uploads a file (new mtime, same bytes). Checked by its sha256
# it is a duplicate, but the ledger kept the first upload's mtime: every
# later run downloaded the file again to hash it, forever.
rd=$(add_connector redrop "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "RD_{YYYYMMDD}.csv"')")
axis_csv "$UP/RD_20251002.csv"; sed -i 's/AX00/RD00/' "$UP/RD_20251002.csv"; touch -d '-30 minutes' "$UP/RD_20251002.csv"
downloads() { # RUN_ID -> how many times the run downloaded RD_20251002.csv
    q "SELECT count(*) FROM sp_v2_connector_run_logs WHERE run_id = $1 AND message LIKE 'downloading $REMOTE/RD_20251002.csv %'"
}
run_json "$rd" --date 2025-10-02
assert_eq "SUCCESS|3|1" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(downloads "$(jget '["id"]' <<<"$out")")" "first load: $(jget '["error_message"]' <<<"$out")"
touch -d '-20 minutes' "$UP/RD_20251002.csv" # dropped again
run_json "$rd" --date 2025-10-02
assert_eq "SUCCESS|0|1" "$(jget '["status"]' <<<"$out")|$(jget '["records_processed"]' <<<"$out")|$(downloads "$(jget '["id"]' <<<"$out")")" "the re-drop is checked once: $(jget '["error_message"]' <<<"$out")"
for i in 1 2; do
    run_json "$rd" --date 2025-10-02
    assert_eq "SUCCESS|0|0|ALREADY_LOADED" "$(jget '["status"]' <<<"$out")|$(jget '["records_processed"]' <<<"$out")|$(downloads "$(jget '["id"]' <<<"$out")")|$(jget '["details"]["files"][0]["status"]' <<<"$out")" "run $i after the re-drop: not downloaded again"
done
assert_eq "3|3" "$(q "SELECT count(*), count(DISTINCT batch_id) * 3 FROM sp_v2_bank_statements WHERE bank_ref LIKE 'RD%'")" "the rows of the first load, once"
echo "   the same name with other content of the same size is still a new version"
sed -i 's/RD002,1250.50/RD002,1350.50/' "$UP/RD_20251002.csv"; touch -d '-10 minutes' "$UP/RD_20251002.csv"
run_json "$rd" --date 2025-10-02
assert_eq "SUCCESS|1|RD_20251002.csv" "$(jget '["status"]' <<<"$out")|$(downloads "$(jget '["id"]' <<<"$out")")|$(jget '["details"]["new_versions"][0]["file"]' <<<"$out")" "changed content: $(jget '["error_message"]' <<<"$out")"
assert_eq 135050 "$(q "SELECT amount_paise FROM sp_v2_bank_statements WHERE bank_ref='RD002'")" "the new version's amount"
echo "   the first content back under that name: a duplicate, checked once"
sed -i 's/RD002,1350.50/RD002,1250.50/' "$UP/RD_20251002.csv"; touch -d '-5 minutes' "$UP/RD_20251002.csv"
run_json "$rd" --date 2025-10-02
assert_eq "SUCCESS|0|1|SKIPPED_DUPLICATE" "$(jget '["status"]' <<<"$out")|$(jget '["records_processed"]' <<<"$out")|$(downloads "$(jget '["id"]' <<<"$out")")|$(jget '["details"]["files"][0]["status"]' <<<"$out")" "old content back: $(jget '["error_message"]' <<<"$out")"
run_json "$rd" --date 2025-10-02
assert_eq "SUCCESS|0|0" "$(jget '["status"]' <<<"$out")|$(jget '["records_processed"]' <<<"$out")|$(downloads "$(jget '["id"]' <<<"$out")")" "old content back, next run: not downloaded"
rm -f "$UP/RD_20251002.csv"

echo "== no file for the date: transient, with the pattern and folder"
run_json "$ax" --date 2025-10-05
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_eq "no file matching AXIS_RECON_20251005*.csv in $REMOTE" "$(jget '["error_message"]' <<<"$out")" "message"
assert_eq transient_error "$(jget '["details"]["outcome"]' <<<"$out")" "transient"

echo "== a header-only file (a day without transactions) loads as a file of 0 rows, once"
printf 'TXNID,CREDIT_AMT,NET_CR_AMT,VALUE_DATE,UTR,RRN,AUTH,POST_DATE,BANK,STATUS,REMARKS\r\n' >"$UP/AXIS_RECON_20251012.csv"
old "$UP/AXIS_RECON_20251012.csv"
run_json "$ax" --date 2025-10-12
assert_eq "SUCCESS|0" "$(jget '["status"]' <<<"$out")|$(jget '["records_processed"]' <<<"$out")" "empty file: $(jget '["error_message"]' <<<"$out")"
assert_eq "LOADED|0" "$(q "SELECT status || '|' || rows_loaded FROM sp_v2_connector_files WHERE remote_path = '$REMOTE/AXIS_RECON_20251012.csv'")" "empty file in the ledger"
run_json "$ax" --date 2025-10-12
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "empty file again"
assert_contains "$(q "SELECT string_agg(message, ' | ') FROM sp_v2_connector_run_logs WHERE run_id = $(jget '["id"]' <<<"$out")")" "already loaded" "not fetched again"

echo "== a long non-ASCII file name: batch_id is cut at a character, every row loads"
# 'AXIS_RECON_20251013_x' is 21 bytes, then 3-byte characters: byte 80 of
# the name falls inside one. Cut there, batch_id was not UTF-8, every row
# was refused, and the file was LOADED with none of them.
long="AXIS_RECON_20251013_x$(python3 -c 'print("\u0928\u093f\u092a\u091f\u093e\u0928" * 6)').csv"
axis_csv "$UP/$long"; sed -i 's/AX00/LN00/' "$UP/$long"; old "$UP/$long"
run_json "$ax" --date 2025-10-13
assert_eq "SUCCESS|3" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")" "long name: $(jget '["error_message"]' <<<"$out")"
assert_eq "3|$long" "$(q "SELECT count(*), min(source_file) FROM sp_v2_bank_statements WHERE bank_ref LIKE 'LN%' AND batch_id = 'run:' || $(jget '["id"]' <<<"$out") || ':' || left('${long}', 40)")" "batch_id: 40 characters of the name (80 bytes would split one)"
rm -f "$UP/$long"

echo "== a file whose every row is refused is FAILED in the ledger: loaded once the format is fixed"
# The bank switched to yyyy/MM/dd. LOADED with none of its rows, the file
# was skipped by every later run of its date, even after the fix.
{
  printf 'TXNID,CREDIT_AMT,NET_CR_AMT,VALUE_DATE,UTR,RRN,AUTH,POST_DATE,BANK,STATUS,REMARKS\n'
  printf 'RF001,10.00,9.90,2025/10/14,U1,R1,A,2025/10/14,AXIS,S,ok\n'
  printf 'RF002,20.00,19.90,2025/10/14,U2,R2,A,2025/10/14,AXIS,S,ok\n'
} >"$UP/AXIS_RECON_20251014.csv"; old "$UP/AXIS_RECON_20251014.csv"
run_json "$ax" --date 2025-10-14
assert_eq "PARTIAL_SUCCESS|0|2" "$(jget '["status"]' <<<"$out")|$(jget '["records_success"]' <<<"$out")|$(jget '["records_failed"]' <<<"$out")" "every row refused"
assert_eq "REFUSED" "$(jget '["details"]["files"][0]["status"]' <<<"$out")" "the file's detail"
assert_contains "$(q "SELECT status || ' ' || reason FROM sp_v2_connector_files WHERE remote_path = '$REMOTE/AXIS_RECON_20251014.csv'")" "FAILED AXIS_RECON_20251014.csv: every row refused (2 bad)" "ledger"
q "UPDATE sp_v2_connectors SET connection_config = connection_config || '{\"format\": {\"date_format\": \"yyyy/MM/dd\"}}' WHERE id = $ax" >/dev/null
run_json "$ax" --date 2025-10-14
assert_eq "SUCCESS|2" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")" "read again after the fix: $(jget '["error_message"]' <<<"$out")"
assert_eq "LOADED|2" "$(q "SELECT status || '|' || rows_loaded FROM sp_v2_connector_files WHERE remote_path = '$REMOTE/AXIS_RECON_20251014.csv' ORDER BY id DESC LIMIT 1")" "ledger after the fix"
q "UPDATE sp_v2_connectors SET connection_config = connection_config - 'format' WHERE id = $ax" >/dev/null
rm -f "$UP/AXIS_RECON_20251014.csv"

echo "== broken rows are record errors with file, line and reason; PARTIAL_SUCCESS"
{
  printf 'TXNID,CREDIT_AMT,NET_CR_AMT,VALUE_DATE,UTR,RRN,AUTH,POST_DATE,BANK,STATUS,REMARKS\n'
  printf 'BR001,10.00,9.90,03-10-2025,U,R,A,03-10-2025,AXIS,S,ok\n'
  printf 'BR002,12.3x,9.90,03-10-2025,U,R,A,03-10-2025,AXIS,S,bad amount\n'
  printf ',10.00,9.90,03-10-2025,U,R,A,03-10-2025,AXIS,S,no ref\n'
  printf 'BR004,10.00,9.90,03-10-2025,U,R\n'
  printf 'BR005,10.00,9.90,31-02-2025,U,R,A,03-10-2025,AXIS,S,bad date\n'
  printf 'BR006,"2,50,000.05",1,03-10-2025,U,R,A,03-10-2025,AXIS,S,ok\n'
} >"$UP/AXIS_RECON_20251003.csv"; old "$UP/AXIS_RECON_20251003.csv"
run_json "$ax" --date 2025-10-03
assert_eq 0 "$RUN_RC" "exit code"
assert_eq PARTIAL_SUCCESS "$(jget '["status"]' <<<"$out")" "status"
assert_eq 2 "$(jget '["details"]["inserted"]' <<<"$out")" "good rows"
assert_eq 4 "$(jget '["records_failed"]' <<<"$out")" "bad rows"
rid=$(jget '["id"]' <<<"$out")
errs=$(q "SELECT string_agg(row_ref || ' ' || reason, ' | ' ORDER BY row_ref) FROM sp_v2_connector_record_errors WHERE run_id=$rid")
assert_contains "$errs" "AXIS_RECON_20251003.csv:3 amount: '12.3x' is not an amount" "amount error"
assert_contains "$errs" "AXIS_RECON_20251003.csv:4 bank_ref: missing reference (column TXNID)" "missing ref"
assert_contains "$errs" "AXIS_RECON_20251003.csv:5 has 6 columns, the header has 11" "column count"
assert_contains "$errs" "AXIS_RECON_20251003.csv:6 transaction_date: '31-02-2025' does not match the date format" "bad date"
assert_eq 25000005 "$(q "SELECT amount_paise FROM sp_v2_bank_statements WHERE bank_ref='BR006'")" "lakh grouping"

echo "   a quote left open: its record is an error on its line, the rows it took still load"
{
  printf 'TXNID,CREDIT_AMT,NET_CR_AMT,VALUE_DATE,UTR,RRN,AUTH,POST_DATE,BANK,STATUS,REMARKS\n'
  printf 'UQ001,100.00,99.00,07-10-2025,U,R,A,07-10-2025,AXIS,S,"Payment to X\n'
  printf 'UQ002,200.00,199.00,07-10-2025,U,R,A,07-10-2025,AXIS,S,"ok"\n'
  printf 'UQ003,300.00,299.00,07-10-2025,U,R,A,07-10-2025,AXIS,S,fine\n'
} >"$UP/AXIS_RECON_20251007.csv"; old "$UP/AXIS_RECON_20251007.csv"
run_json "$ax" --date 2025-10-07
assert_eq PARTIAL_SUCCESS "$(jget '["status"]' <<<"$out")" "open quote: $(jget '["error_message"]' <<<"$out")"
assert_eq "UQ002|20000|ok UQ003|30000|fine" "$(q "SELECT string_agg(bank_ref || '|' || amount_paise || '|' || remarks, ' ' ORDER BY bank_ref) FROM sp_v2_bank_statements WHERE bank_ref LIKE 'UQ%'")" "the rows after the open quote"
assert_eq "AXIS_RECON_20251007.csv:2 text after the closing quote of a field that runs over a line break (a quote left open on line 2?); read again as records from line 3" \
    "$(q "SELECT string_agg(row_ref || ' ' || reason, ' | ') FROM sp_v2_connector_record_errors WHERE run_id=$(jget '["id"]' <<<"$out")")" "the open quote's record"

echo "== a header that does not match the template fails the file, naming the columns"
printf 'TXN_ID,AMOUNT,DATE\nX1,1.00,04-10-2025\n' >"$UP/AXIS_RECON_20251004.csv"; old "$UP/AXIS_RECON_20251004.csv"
run_json "$ax" --date 2025-10-04
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_eq "AXIS_RECON_20251004.csv: header on line 1 does not match AXIS RECON: expected columns [TXNID, CREDIT_AMT, NET_CR_AMT, VALUE_DATE, UTR, RRN, REMARKS], found [TXN_ID, AMOUNT, DATE]" \
    "$(jget '["error_message"]' <<<"$out")" "header message"
assert_eq FAILED "$(q "SELECT status FROM sp_v2_connector_files WHERE remote_path='$REMOTE/AXIS_RECON_20251004.csv'")" "ledger FAILED kept"
rm "$UP/AXIS_RECON_20251004.csv"

echo "== a file still being written is not taken"
printf 'TXNID,CREDIT_AMT,NET_CR_AMT,VALUE_DATE,UTR,RRN,AUTH,POST_DATE,BANK,STATUS,REMARKS\n' >"$UP/AXIS_RECON_20251006.csv"
old "$UP/AXIS_RECON_20251006.csv"
# the writer goes on until the run is over (however slow the runner is)
( i=0; while :; do i=$((i + 1)); printf 'G%06d,1.00,1.00,06-10-2025,U,R,A,06-10-2025,AXIS,S,x\n' "$i" >>"$UP/AXIS_RECON_20251006.csv"; touch -d '-10 minutes' "$UP/AXIS_RECON_20251006.csv"; sleep 0.1; done ) &
grower=$!
run_json "$ax" --date 2025-10-06
kill $grower; wait $grower 2>/dev/null || true
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
# the writer appends, then sets the mtime back: a listing between the two
# sees a young file instead, which is as incomplete
why=$(jget '["error_message"]' <<<"$out")
assert_contains "$why" "AXIS_RECON_20251006.csv in $REMOTE is not complete yet: " "growing"
case "$why" in *"still being written: size"* | *"younger than min_file_age_seconds"*) ;; *) cd_fail "growing: $why" ;; esac
assert_eq transient_error "$(jget '["details"]["outcome"]' <<<"$out")" "transient"
assert_eq SEEN "$(q "SELECT status FROM sp_v2_connector_files WHERE remote_path='$REMOTE/AXIS_RECON_20251006.csv'")" "ledger SEEN"
echo "   a file that grows after its listing: 'still being written', not a broken transfer"
gw=$(add_connector grows "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "GW_{YYYYMMDD}.csv"' | python3 -c 'import json,sys; d=json.load(sys.stdin); d["min_file_age_seconds"]=0; d["size_stable_seconds"]=0; print(json.dumps(d))')")
printf 'TXNID,CREDIT_AMT,NET_CR_AMT,VALUE_DATE,UTR,RRN,AUTH,POST_DATE,BANK,STATUS,REMARKS\n' >"$UP/GW_20251002.csv"
( i=0; while :; do i=$((i + 1)); printf 'GW%06d,1.00,1.00,02-10-2025,U,R,A,02-10-2025,AXIS,S,x\n' "$i" >>"$UP/GW_20251002.csv"; sleep 0.005; done ) &
grower=$!
sleep 0.5
run_json "$gw" --date 2025-10-02
kill $grower; wait $grower 2>/dev/null || true
assert_eq "FAILED|transient_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "grown: $(jget '["error_message"]' <<<"$out")"
assert_contains "$(jget '["error_message"]' <<<"$out")" "$REMOTE/GW_20251002.csv grew while it was downloaded" "grown: named as such"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_ref LIKE 'GW%'")" "grown: nothing loaded"
rm -f "$UP/GW_20251002.csv"
echo "   a young file is not taken either"
printf 'x\n' >"$UP/AXIS_RECON_20251007.csv"
run_json "$ax" --date 2025-10-07
assert_contains "$(jget '["error_message"]' <<<"$out")" "younger than min_file_age_seconds (60)" "young file"

echo "   a young file beside a complete one: the day waits for both, nothing is loaded yet"
yg=$(add_connector young "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "YG_{YYYYMMDD}_{SEQ}.csv"')")
axis_csv "$UP/YG_20251002_1.csv"; sed -i 's/AX00/YG10/' "$UP/YG_20251002_1.csv"; old "$UP/YG_20251002_1.csv"
axis_csv "$UP/YG_20251002_2.csv"; sed -i 's/AX00/YG20/' "$UP/YG_20251002_2.csv"
run_json "$yg" --date 2025-10-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "young second file: status"
assert_contains "$(jget '["error_message"]' <<<"$out")" "YG_20251002_2.csv in $REMOTE is not complete yet: modified" "young second file: why"
assert_contains "$(jget '["error_message"]' <<<"$out")" "(the 1 complete file(s) of the day wait for it)" "young second file: the first waits"
assert_eq transient_error "$(jget '["details"]["outcome"]' <<<"$out")" "young second file: retried"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_ref LIKE 'YG%'")" "nothing of the day loaded yet"
old "$UP/YG_20251002_2.csv"
run_json "$yg" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "both complete: $(jget '["error_message"]' <<<"$out")"
assert_eq 6 "$(jget '["details"]["inserted"]' <<<"$out")" "both files of the day"

echo "== done marker and checksum sidecars"
mk=$(add_connector marked "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "MK_{YYYYMMDD}.csv", "done_marker_suffix": ".ok", "checksum": "sha256_sidecar"')")
axis_csv "$UP/MK_20251002.csv"; sed -i 's/AX00/MK00/' "$UP/MK_20251002.csv"; old "$UP/MK_20251002.csv"
run_json "$mk" --date 2025-10-02
assert_contains "$(jget '["error_message"]' <<<"$out")" "done marker MK_20251002.csv.ok is not there yet" "missing marker"
touch "$UP/MK_20251002.csv.ok"
echo "0000000000000000000000000000000000000000000000000000000000000000  MK_20251002.csv" >"$UP/MK_20251002.csv.sha256"
run_json "$mk" --date 2025-10-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "checksum status"
assert_contains "$(jget '["error_message"]' <<<"$out")" "MK_20251002.csv: checksum mismatch: $REMOTE/MK_20251002.csv.sha256 says 0000000000000000000000000000000000000000000000000000000000000000, the downloaded file is $(sha256sum "$UP/MK_20251002.csv" | cut -c1-64)" "mismatch message"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_ref LIKE 'MK%'")" "nothing loaded"
(cd "$UP" && sha256sum MK_20251002.csv >MK_20251002.csv.sha256)
run_json "$mk" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "verified: $(jget '["error_message"]' <<<"$out")"
assert_eq 3 "$(jget '["details"]["inserted"]' <<<"$out")" "loaded after a good sidecar"
echo "   a loaded file whose marker and sidecar are gone since is still loaded, not incomplete"
# the bank cleans up its markers after the pickup: the day was failed as
# "not complete" on every later run of it, though nothing was missing
rm "$UP/MK_20251002.csv.ok" "$UP/MK_20251002.csv.sha256"
run_json "$mk" --date 2025-10-02
assert_eq "SUCCESS|0|ALREADY_LOADED" "$(jget '["status"]' <<<"$out")|$(jget '["records_processed"]' <<<"$out")|$(jget '["details"]["files"][0]["status"]' <<<"$out")" "marker gone: $(jget '["error_message"]' <<<"$out")"

echo "   a streamed file that fails its checksum is verified before it is read on the retry: it fails alone"
ck=$(add_connector checked "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "CK_{YYYYMMDD}_{SEQ}.csv", "checksum": "sha256_sidecar"')")
axis_csv "$UP/CK_20251002_1.csv"; sed -i 's/AX00/CK10/' "$UP/CK_20251002_1.csv"
axis_csv "$UP/CK_20251002_2.csv"; sed -i 's/AX00/CK20/' "$UP/CK_20251002_2.csv"
# the first file's sidecar is another file's digest
(cd "$UP" && sha256sum CK_20251002_2.csv | sed 's/CK_20251002_2/CK_20251002_1/' >CK_20251002_1.csv.sha256 && sha256sum CK_20251002_2.csv >CK_20251002_2.csv.sha256)
old "$UP"/CK_*
run_json "$ck" --date 2025-10-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "first attempt: the bad file's rows were streamed"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_ref LIKE 'CK%'")" "nothing loaded by it"
run_json "$ck" --date 2025-10-02
assert_eq PARTIAL_SUCCESS "$(jget '["status"]' <<<"$out")" "retry: the good file loads, the bad one fails alone ($(jget '["error_message"]' <<<"$out"))"
assert_eq "0|3" "$(q "SELECT count(*) FILTER (WHERE bank_ref LIKE 'CK1%'), count(*) FILTER (WHERE bank_ref LIKE 'CK2%') FROM sp_v2_bank_statements")" "only the verified file's rows"
assert_contains "$(jget '["error_message"]' <<<"$out")$(q "SELECT string_agg(reason, ' ') FROM sp_v2_connector_record_errors WHERE run_id = $(jget '["id"]' <<<"$out")")" "checksum mismatch" "the bad file named"
ck_note="$WORK/$ck/verify-$(printf '%s' "$REMOTE/CK_20251002_1.csv" | sha256sum | cut -c1-24)"
[ -f "$ck_note" ] || cd_fail "no verify-first note for the file that failed its checksum"
# the bank puts the right sidecar up: the verified file loads, and its note goes
(cd "$UP" && sha256sum CK_20251002_1.csv >CK_20251002_1.csv.sha256 && touch -d '-10 minutes' CK_20251002_1.csv.sha256)
run_json "$ck" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "good sidecar: $(jget '["error_message"]' <<<"$out")"
assert_eq "3|3" "$(q "SELECT count(*) FILTER (WHERE bank_ref LIKE 'CK1%'), count(*) FILTER (WHERE bank_ref LIKE 'CK2%') FROM sp_v2_bank_statements")" "the verified file loaded"
[ ! -e "$ck_note" ] || cd_fail "the verify-first note outlived the verified load"

echo "   a sidecar still being written (empty, or half a digest): the day waits, retried"
hs=$(add_connector halfside "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "HS_{YYYYMMDD}_{SEQ}.csv", "checksum": "sha256_sidecar"')")
axis_csv "$UP/HS_20251002_1.csv"; sed -i 's/AX00/HS10/' "$UP/HS_20251002_1.csv"
axis_csv "$UP/HS_20251002_2.csv"; sed -i 's/AX00/HS20/' "$UP/HS_20251002_2.csv"
(cd "$UP" && sha256sum HS_20251002_1.csv >HS_20251002_1.csv.sha256 && : >HS_20251002_2.csv.sha256)
old "$UP"/HS_*
run_json "$hs" --date 2025-10-02
assert_eq "FAILED|transient_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "empty sidecar: $(jget '["error_message"]' <<<"$out")"
assert_contains "$(jget '["error_message"]' <<<"$out")" "HS_20251002_2.csv in $REMOTE is not complete yet: HS_20251002_2.csv: checksum sidecar $REMOTE/HS_20251002_2.csv.sha256 holds 0 of the 64 hex digits" "empty sidecar named"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_ref LIKE 'HS%'")" "nothing of the day loaded yet"
(cd "$UP" && sha256sum HS_20251002_2.csv | head -c 30 >HS_20251002_2.csv.sha256)
run_json "$hs" --date 2025-10-02
assert_eq "FAILED|transient_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "half a digest: $(jget '["error_message"]' <<<"$out")"
(cd "$UP" && sha256sum HS_20251002_2.csv >HS_20251002_2.csv.sha256)
run_json "$hs" --date 2025-10-02
assert_eq "SUCCESS|6" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")" "the sidecar written: $(jget '["error_message"]' <<<"$out")"

echo "== a download that broke off resumes from its offset; sha256 over the whole file"
rs=$(add_connector resume "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "RS_{YYYYMMDD}.csv", "checksum": "sha256_sidecar"')")
{ printf 'TXNID,CREDIT_AMT,NET_CR_AMT,VALUE_DATE,UTR,RRN,AUTH,POST_DATE,BANK,STATUS,REMARKS\n'
  for i in $(seq 1 2000); do printf 'RS%05d,%d.%02d,1.00,02-10-2025,U,R,A,02-10-2025,AXIS,S,x\n' "$i" "$i" $((i % 100)); done; } >"$UP/RS_20251002.csv"
old "$UP/RS_20251002.csv"; (cd "$UP" && sha256sum RS_20251002.csv >RS_20251002.csv.sha256)
# what the first attempt left: the first 20000 bytes and the note of the version
mkdir -p "$WORK/$rs"; chmod 700 "$WORK/$rs"
key=$(printf '%s' "$REMOTE/RS_20251002.csv" | sha256sum | cut -c1-24)
head -c 20000 "$UP/RS_20251002.csv" >"$WORK/$rs/dl-$key.part"
printf '%s %s %s\n' "$(stat -c %s "$UP/RS_20251002.csv")" "$(stat -c %Y "$UP/RS_20251002.csv")" "$REMOTE/RS_20251002.csv" >"$WORK/$rs/dl-$key.meta"
run_json "$rs" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "resumed: $(jget '["error_message"]' <<<"$out")"
assert_eq 2000 "$(jget '["details"]["inserted"]' <<<"$out")" "all rows"
assert_eq "RESUMED|20000" "$(jget '["details"]["files"][0]["status"]' <<<"$out")|$(jget '["details"]["files"][0]["rows"]' <<<"$out")" "resumed at 20000"
rid=$(jget '["id"]' <<<"$out")
assert_contains "$(q "SELECT string_agg(message, ' | ') FROM sp_v2_connector_run_logs WHERE run_id=$rid")" "resuming the download of $REMOTE/RS_20251002.csv at byte 20000" "log line"
assert_eq "$(sha256sum "$UP/RS_20251002.csv" | cut -c1-64)" "$(q "SELECT sha256 FROM sp_v2_connector_files WHERE connector_id=$rs AND status='LOADED'")" "sha256 of the whole file"

echo "== a failed run leaves no LOADED ledger row and no rows"
fl=$(add_connector failing "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "FL_{YYYYMMDD}_{SEQ}.csv"')")
axis_csv "$UP/FL_20251002_1.csv"; sed -i 's/AX00/FL00/' "$UP/FL_20251002_1.csv"
axis_csv "$UP/FL_20251002_2.csv"; chmod 000 "$UP/FL_20251002_2.csv"; old "$UP"/FL_*
if [ "$(id -u)" = 0 ]; then
    run_json "$fl" --date 2025-10-02
    assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
    assert_contains "$(jget '["error_message"]' <<<"$out")" "permission denied" "why"
    assert_eq transient_error "$(jget '["details"]["outcome"]' <<<"$out")" "a listed file that cannot be opened is retried"
    assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_files WHERE connector_id=$fl AND status='LOADED'")" "no LOADED row"
    assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_ref LIKE 'FL%'")" "no rows"
    assert_eq DOWNLOADED "$(q "SELECT status FROM sp_v2_connector_files WHERE remote_path='$REMOTE/FL_20251002_1.csv'")" "the first file stays DOWNLOADED"
fi
chmod 644 "$UP/FL_20251002_2.csv"; sed -i 's/AX00/FM00/' "$UP/FL_20251002_2.csv"; old "$UP"/FL_*
run_json "$fl" --date 2025-10-02
assert_eq 6 "$(jget '["details"]["inserted"]' <<<"$out")" "{SEQ}: both files of the day"

echo "== tilde TXT in Windows-1252 (AXIS BANK template with an override), post_action move"
tx=$(add_connector txt "AXIS BANK" "$(conn_json '"template": "AXIS BANK", "file_pattern": "AXIS_{DDMMMYYYY}.txt", "format": {"encoding": "windows-1252", "skip_footer_rows": 1}, "post_action": "move", "processed_path": "'"${SSHD_REMOTE_BASE}"'/processed"')")
printf 'PRNNo~Amount~Date\r\nTX001~1,234.50 Cr~02-10-2025\r\nTX002~99.00 Dr~02-10-2025\r\nTX003~5~02-10-2025\r\nTOTAL~1,338.50~\r\n' | iconv -f utf-8 -t windows-1252 >"$UP/AXIS_02OCT2025.txt"
printf 'TX004~\x80 7.00~02-10-2025\r\n' >>"$UP/AXIS_02OCT2025.txt"; printf 'Footer \xe9\r\n' >>"$UP/AXIS_02OCT2025.txt"
old "$UP/AXIS_02OCT2025.txt"
run_json "$tx" --date 2025-10-02
assert_eq PARTIAL_SUCCESS "$(jget '["status"]' <<<"$out")" "status: $(jget '["error_message"]' <<<"$out")"
assert_eq "TX001|123450|CR TX002|9900|DR TX003|500|" "$(q "SELECT string_agg(bank_ref || '|' || amount_paise || '|' || coalesce(debit_credit,''), ' ' ORDER BY bank_ref) FROM sp_v2_bank_statements WHERE bank_ref LIKE 'TX%'")" "txt rows"
rid=$(jget '["id"]' <<<"$out")
errs=$(q "SELECT string_agg(row_ref || ' ' || reason, ' | ' ORDER BY row_ref) FROM sp_v2_connector_record_errors WHERE run_id=$rid")
assert_eq "AXIS_02OCT2025.txt:5 transaction_date: '' is missing (column Date) | AXIS_02OCT2025.txt:6 amount: '€ 7.00' is not an amount (no digits) in column Amount" "$errs" "TOTAL row is bad, Windows-1252 read as UTF-8, the footer line skipped"
[ -f "$SSHD_ROOT/processed/AXIS_02OCT2025.txt" ] || cd_fail "post_action move did not move the file"

echo "== XLSX (HDFC BANK template): shared strings, numbers, Excel dates, a title row"
FIX="$CD_BUILD_DIR/tests/bank_sftp_fixture"
hd=$(add_connector hdfc "HDFC BANK" "$(conn_json '"template": "HDFC BANK", "file_pattern": "HDFC_{YYYY-MM-DD}.xlsx", "format": {"header_row": 2}')")
printf 'MERCHANT_TRACKID\tDOMESTIC AMT\tNet Amount\tTRANS DATE\tSETTLE DATE\nHD001\t1000.1\t998.05\tD:2025-10-02\tD:2025-10-03\nHD002\tS:1,00,000.00\t-\tS:02-10-2025\t-\nHD003\tabc\t1\tD:2025-10-02\t-\n' |
    "$FIX" "$UP/HDFC_2025-10-02.xlsx" --sheet Settlement --title "HDFC settlement report"
old "$UP/HDFC_2025-10-02.xlsx"
run_json "$hd" --date 2025-10-02
assert_eq PARTIAL_SUCCESS "$(jget '["status"]' <<<"$out")" "status: $(jget '["error_message"]' <<<"$out")"
assert_eq "HD001|100010|99805|2025-10-02|2025-10-03 HD002|10000000||2025-10-02|" "$(q "SELECT string_agg(bank_ref || '|' || amount_paise || '|' || coalesce(net_amount_paise::text,'') || '|' || transaction_date || '|' || coalesce(value_date::text,''), ' ' ORDER BY bank_ref) FROM sp_v2_bank_statements WHERE bank_ref LIKE 'HD%'")" "xlsx rows"
assert_eq "HDFC BANK" "$(q "SELECT bank_name FROM sp_v2_bank_statements WHERE bank_ref='HD001'")" "bank name"
rid=$(jget '["id"]' <<<"$out")
assert_contains "$(q "SELECT string_agg(row_ref || ' ' || reason, ' | ') FROM sp_v2_connector_record_errors WHERE run_id=$rid")" "HDFC_2025-10-02.xlsx:5 amount: 'abc'" "xlsx bad row with its sheet row"

echo "   a hidden lookup sheet in front: the first visible sheet is read, and the log says so"
printf 'MERCHANT_TRACKID\tDOMESTIC AMT\tNet Amount\tTRANS DATE\tSETTLE DATE\nHH001\t12.5\t12\tD:2025-10-09\t-\n' |
    "$FIX" "$UP/HDFC_2025-10-09.xlsx" --sheet Settlement --title "HDFC settlement report" --hidden Lookup
old "$UP/HDFC_2025-10-09.xlsx"
run_json "$hd" --date 2025-10-09
assert_eq "SUCCESS|1" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")" "hidden first sheet: $(jget '["error_message"]' <<<"$out")"
assert_eq "1250|2025-10-09" "$(q "SELECT amount_paise || '|' || transaction_date FROM sp_v2_bank_statements WHERE bank_ref='HH001'")" "the data sheet's row"
assert_contains "$(q "SELECT string_agg(message, ' | ') FROM sp_v2_connector_run_logs WHERE run_id=$(jget '["id"]' <<<"$out")")" 'HDFC_2025-10-09.xlsx: sheet "Lookup" is hidden: reading sheet "Settlement"' "logged"

echo "   an XLSX that inflates far beyond its size fails as a file, before memory runs out"
bomb() { # OUT STRING_BYTES CELLS_PER_ROW: one shared string of that size, a row of references to it
    python3 - "$@" <<'PY'
import sys, zipfile
out, size, cells = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
rel = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('xl/workbook.xml', f'<workbook {ns} {rel}><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
    z.writestr('xl/_rels/workbook.xml.rels', '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
    z.writestr('xl/sharedStrings.xml', f'<sst {ns}><si><t>MERCHANT_TRACKID</t></si><si><t>{"A" * size}</t></si></sst>')
    row = ''.join(f'<c t="s"><v>1</v></c>' for _ in range(cells))
    z.writestr('xl/worksheets/sheet1.xml', f'<worksheet {ns}><sheetData><row r="1"><c t="s"><v>0</v></c></row><row r="2">{row}</row></sheetData></worksheet>')
PY
}
bomb "$UP/HDFC_2025-10-05.xlsx" 2000000 1
bomb "$UP/HDFC_2025-10-06.xlsx" 1000000 40
old "$UP"/HDFC_2025-10-0[56].xlsx
[ "$(stat -c %s "$UP/HDFC_2025-10-06.xlsx")" -lt 20000 ] || cd_fail "the bomb is not small"
run_json "$hd" --date 2025-10-05
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "a 2 MB shared string"
assert_contains "$(jget '["error_message"]' <<<"$out")" "a shared string is longer than 1048576 bytes" "long shared string named"
run_json "$hd" --date 2025-10-06
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "a row of 40 references to a 1 MB string"
assert_contains "$(jget '["error_message"]' <<<"$out")" "row 2: its cells hold more than 16 MiB" "row size named"
assert_lt() { [ "$1" -lt "$2" ] || cd_fail "$3: $1 is not below $2"; }
# (AddressSanitizer's shadow memory and quarantine add their own)
assert_lt "$(jget '["details"]["runner_peak_rss_kb"]' <<<"$out")" "$([ -n "${ASAN_OPTIONS:-}" ] && echo 262144 || echo 65536)" "the runner's memory stayed bounded"

echo "== PGP: decrypted with the configured key; a bad signature fails the file"
export GNUPGHOME=$GNUPGHOME_T
chmod 700 "$GNUPGHOME"
gpg --batch --quiet --pinentry-mode loopback --passphrase bankpass --quick-gen-key "Connector <c@example.test>" default default never 2>/dev/null
gpg --batch --quiet --pinentry-mode loopback --passphrase '' --quick-gen-key "Bank <b@example.test>" rsa2048 sign never 2>/dev/null
gpg --batch --quiet --pinentry-mode loopback --passphrase '' --quick-gen-key "Mallory <m@example.test>" rsa2048 sign never 2>/dev/null
gpg --batch --pinentry-mode loopback --passphrase bankpass --armor --export-secret-keys c@example.test >"$CD_TEST_TMP/conn.sec.asc"
gpg --batch --armor --export b@example.test >"$CD_TEST_TMP/bank.pub.asc"
axis_csv "$CD_TEST_TMP/pg.csv"; sed -i 's/AX00/PG00/' "$CD_TEST_TMP/pg.csv"
gpg --batch --quiet --yes --trust-model always --pinentry-mode loopback --passphrase '' -u b@example.test -r c@example.test --sign --encrypt -o "$UP/PGP_20251002.csv.pgp" "$CD_TEST_TMP/pg.csv"
old "$UP/PGP_20251002.csv.pgp"
export PGP_PASS=bankpass
pgcfg=$(python3 -c 'import json,sys; print(json.dumps({"private_key": {"secret": "file:"+sys.argv[1]}, "passphrase": {"secret": "env:PGP_PASS"}, "signer_key": open(sys.argv[2]).read()}))' "$CD_TEST_TMP/conn.sec.asc" "$CD_TEST_TMP/bank.pub.asc")
pg=$(add_connector pgp "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "PGP_{YYYYMMDD}.csv.pgp", "pgp": '"$pgcfg")")
run_json "$pg" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "pgp: $(jget '["error_message"]' <<<"$out")"
assert_eq 3 "$(jget '["details"]["inserted"]' <<<"$out")" "decrypted rows"
gpg --batch --quiet --yes --trust-model always --pinentry-mode loopback --passphrase '' -u m@example.test -r c@example.test --sign --encrypt -o "$UP/PGP_20251003.csv.pgp" "$CD_TEST_TMP/pg.csv"
old "$UP/PGP_20251003.csv.pgp"
run_json "$pg" --date 2025-10-03
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "bad signature fails"
assert_contains "$(jget '["error_message"]' <<<"$out")" "PGP_20251003.csv.pgp: bad signature" "bad signature message"
echo "   a signature by the signer key's signing subkey is good"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' --quick-gen-key "Bank Two <b2@example.test>" ed25519 cert never 2>/dev/null
b2=$(gpg --batch --with-colons --list-keys b2@example.test | awk -F: '/^fpr/ {print $10; exit}')
gpg --batch --quiet --pinentry-mode loopback --passphrase '' --quick-add-key "$b2" ed25519 sign never 2>/dev/null
gpg --batch --armor --export b2@example.test >"$CD_TEST_TMP/bank2.pub.asc"
pgcfg2=$(python3 -c 'import json,sys; print(json.dumps({"private_key": {"secret": "file:"+sys.argv[1]}, "passphrase": {"secret": "env:PGP_PASS"}, "signer_key": open(sys.argv[2]).read()}))' "$CD_TEST_TMP/conn.sec.asc" "$CD_TEST_TMP/bank2.pub.asc")
pg2=$(add_connector pgp2 "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "PGQ_{YYYYMMDD}.csv.pgp", "pgp": '"$pgcfg2")")
sed 's/PG00/PQ00/' "$CD_TEST_TMP/pg.csv" >"$CD_TEST_TMP/pq.csv"
gpg --batch --quiet --yes --trust-model always --pinentry-mode loopback --passphrase '' -u b2@example.test -r c@example.test --sign --encrypt -o "$UP/PGQ_20251002.csv.pgp" "$CD_TEST_TMP/pq.csv"
old "$UP/PGQ_20251002.csv.pgp"
run_json "$pg2" --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "subkey signature: $(jget '["error_message"]' <<<"$out")"
[ -z "$(find "$WORK" -name '*.plain')" ] || cd_fail "decrypted file left behind"
unset GNUPGHOME

echo "== a wrong host key fails before authentication, with both fingerprints"
wrong="SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
hk=$(add_connector hostkey "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "AXIS_RECON_{YYYYMMDD}*.csv"' | sed "s|$SSHD_FINGERPRINT|$wrong|")")
before=$(grep -c "Accepted\|Failed\|publickey" "$SSH_TMP/sshd.log" || true)
run_json "$hk" --date 2025-10-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "status"
assert_eq "host key mismatch: expected $wrong, got $SSHD_FINGERPRINT" "$(jget '["error_message"]' <<<"$out")" "message"
assert_eq configuration_error "$(jget '["details"]["outcome"]' <<<"$out")" "never retried"
assert_eq "$before" "$(grep -c "Accepted\|Failed\|publickey" "$SSH_TMP/sshd.log" || true)" "no authentication attempted"

echo "== a server that stops answering mid-download: the runner stops within seconds of being told"
# 300,000 rows: the download runs only a few chunks ahead of the load, so
# it is still going when the server's session processes are frozen.
awk 'BEGIN { print "TXNID,CREDIT_AMT,NET_CR_AMT,VALUE_DATE,UTR,RRN,AUTH,POST_DATE,BANK,STATUS,REMARKS";
    for (i = 0; i < 300000; i++) printf "HG%010d,\"%d.00\",%d.00,02-10-2025,UTR%012d,RRN%012d,A,02-10-2025,AXIS,SUCCESS,hung\n", i, i % 900 + 100, i % 900 + 90, i, i }' >"$UP/HANG_20251002.csv"
old "$UP/HANG_20251002.csv"
hg=$(add_connector hang "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "HANG_{YYYYMMDD}.csv"')")
sessions_before=$(pgrep -P "$SSHD_PID" | sort || true)
"$CD" -c "$CFG" run "$hg" --date 2025-10-02 >"$CD_TEST_TMP/hang.out" 2>"$CD_TEST_TMP/hang.err" &
run_pid=$!
# the download's local copy: dl-<first 24 hex digits of sha256(remote path)>.part
part="dl-$(printf '%s' "$REMOTE/HANG_20251002.csv" | sha256sum | cut -c1-24).part"
for _ in $(seq 1 200); do
    [ -n "$(find "$WORK" -name "$part" -size +1M 2>/dev/null)" ] && break
    sleep 0.05
done
[ -n "$(find "$WORK" -name "$part" -size +1M)" ] || cd_fail "the download of HANG_20251002.csv did not start"
frozen=$(comm -13 <(echo "$sessions_before") <(pgrep -P "$SSHD_PID" | sort) || true)
[ -n "$frozen" ] || cd_fail "no sshd session process for the download"
frozen="$frozen $(for p in $frozen; do pgrep -P "$p" || true; done)"
kill -STOP $frozen
sleep 1 # the load drains what had arrived; the download thread now waits on the server
runner=$(pgrep -f "exec-run" -P "$run_pid" || true)
[ -n "$runner" ] || cd_fail "no runner process"
t0=$(date +%s.%N)
kill -TERM "$runner"
wait "$run_pid" || true
took=$(python3 -c 'import sys, time; print("%.1f" % (time.time() - float(sys.argv[1])))' "$t0")
kill -CONT $frozen 2>/dev/null || true
kill $frozen 2>/dev/null || true
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 5 else 1)' "$took" ||
    cd_fail "the runner took $took s to stop (request timeout: 300 s)"
assert_eq FAILED "$(jget '["status"]' <"$CD_TEST_TMP/hang.out")" "hung download: status"
assert_contains "$(jget '["error_message"]' <"$CD_TEST_TMP/hang.out")" "cancelled" "hung download: message"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_ref LIKE 'HG%'")" "hung download: nothing loaded"
echo "   stopped $took s after SIGTERM"

echo "== known_hosts_file instead of a fingerprint: a match, a different key, a missing host, no file"
khc() { # KNOWN_HOSTS_FILE -> connection_config pinned by that file
    conn_json '"template": "AXIS RECON", "file_pattern": "AXIS_RECON_{YYYYMMDD}*.csv"' |
        python3 -c 'import json,sys; d=json.load(sys.stdin); d.pop("host_key_sha256"); d["known_hosts_file"]=sys.argv[1]; print(json.dumps(d))' "$1"
}
ssh-keygen -q -t ed25519 -N '' -f "$CD_TEST_TMP/other_host_key" >/dev/null
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSH_TMP/host_key.pub")" >"$CD_TEST_TMP/kh_good"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$CD_TEST_TMP/other_host_key.pub")" >"$CD_TEST_TMP/kh_other_key"
echo "[127.0.0.2]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSH_TMP/host_key.pub")" >"$CD_TEST_TMP/kh_other_host"
kh=$(add_connector kh_good "AXIS BANK" "$(khc "$CD_TEST_TMP/kh_good")")
run_json "$kh" --type TEST --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "known_hosts match: $(jget '["error_message"]' <<<"$out")"
for case in "kh_other_key|does not match" "kh_other_host|is not in"; do
    f=${case%%|*}
    kh=$(add_connector "$f" "AXIS BANK" "$(khc "$CD_TEST_TMP/$f")")
    before=$(grep -c "Accepted\|Failed\|publickey" "$SSH_TMP/sshd.log" || true)
    run_json "$kh" --date 2025-10-02
    assert_eq FAILED "$(jget '["status"]' <<<"$out")" "$f: status"
    assert_eq "host key of 127.0.0.1:$SSHD_PORT ${case#*|} known_hosts_file $CD_TEST_TMP/$f" \
        "$(jget '["error_message"]' <<<"$out")" "$f: message"
    assert_eq configuration_error "$(jget '["details"]["outcome"]' <<<"$out")" "$f: never retried"
    assert_eq "$before" "$(grep -c "Accepted\|Failed\|publickey" "$SSH_TMP/sshd.log" || true)" "$f: no authentication attempted"
done
echo "   the server's other key type: a known_hosts line or a pin of its ECDSA key is accepted, as ssh accepts it"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSH_TMP/host_key_ecdsa.pub")" >"$CD_TEST_TMP/kh_ecdsa"
kh=$(add_connector kh_ecdsa "AXIS BANK" "$(khc "$CD_TEST_TMP/kh_ecdsa")")
run_json "$kh" --type TEST --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "known_hosts with only the ECDSA key: $(jget '["error_message"]' <<<"$out")"
ecfp=$(ssh-keygen -l -E sha256 -f "$SSH_TMP/host_key_ecdsa.pub" | awk '{print $2}')
pin=$(add_connector pin_ecdsa "AXIS BANK" "$(conn_json '"template": "AXIS RECON", "file_pattern": "AXIS_RECON_{YYYYMMDD}*.csv"' | sed "s|$SSHD_FINGERPRINT|$ecfp|")")
run_json "$pin" --type TEST --date 2025-10-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "a pin of the ECDSA key: $(jget '["error_message"]' <<<"$out")"
# An ed25519 line that does not match is a changed key: the ECDSA line beside it does not save it.
cat "$CD_TEST_TMP/kh_other_key" "$CD_TEST_TMP/kh_ecdsa" >"$CD_TEST_TMP/kh_changed"
kh=$(add_connector kh_changed "AXIS BANK" "$(khc "$CD_TEST_TMP/kh_changed")")
run_json "$kh" --type TEST --date 2025-10-02
assert_eq "FAILED|host key of 127.0.0.1:$SSHD_PORT does not match known_hosts_file $CD_TEST_TMP/kh_changed" \
    "$(jget '["status"]' <<<"$out")|$(jget '["error_message"]' <<<"$out")" "a changed ed25519 key still fails"
kh=$(add_connector kh_missing "AXIS BANK" "$(khc "$CD_TEST_TMP/no_such_known_hosts")")
run_json "$kh" --date 2025-10-02
assert_eq FAILED "$(jget '["status"]' <<<"$out")" "missing known_hosts_file: status"
assert_contains "$(jget '["error_message"]' <<<"$out")" "cannot read known_hosts_file $CD_TEST_TMP/no_such_known_hosts" "missing known_hosts_file: message"

if silent_dns_usable; then
    echo "== a host name whose lookup is never answered: failed within the connect timeout"
    cp "$CFG" "$CD_TEST_TMP/dns.yaml"
    printf 'http_client:\n  connect_timeout_seconds: 2\n' >>"$CD_TEST_TMP/dns.yaml"
    dnsc=$(conn_json '"template": "AXIS RECON", "file_pattern": "AXIS_RECON_{YYYYMMDD}*.csv"' |
        python3 -c 'import json,sys; d=json.load(sys.stdin); d["host"]="sftp.bank.invalid"; print(json.dumps(d))')
    dns=$(add_connector dns_silent "AXIS BANK" "$dnsc")
    silent_dns_run "$CD_TEST_TMP/dns.out" "$CD" -c "$CD_TEST_TMP/dns.yaml" run "$dns" --date 2025-10-02
    silent_dns_assert_bounded 10
    assert_eq FAILED "$(jget '["status"]' <"$CD_TEST_TMP/dns.out")" "silent DNS: status"
    assert_eq "cannot resolve sftp.bank.invalid: timed out after 2.0 s" \
        "$(jget '["error_message"]' <"$CD_TEST_TMP/dns.out")" "silent DNS: message"
    assert_eq transient_error "$(jget '["details"]["outcome"]' <"$CD_TEST_TMP/dns.out")" "silent DNS: retried"
    echo "   failed after $DNS_TOOK s"
else
    echo "== a host name whose lookup is never answered: not checked (needs root for a mount namespace)"
fi

if [ -n "$SSHD_PW_USER" ]; then
    echo "== password authentication: right and wrong"
    pwc=$(conn_json '"template": "AXIS RECON", "file_pattern": "AXIS_RECON_{YYYYMMDD}*.csv"' | python3 -c 'import json,sys; d=json.load(sys.stdin); d.update({"auth_type":"password","username":sys.argv[1],"password":{"secret":"env:SFTP_PW"}}); d.pop("private_key"); print(json.dumps(d))' "$SSHD_PW_USER")
    pw=$(add_connector pw "AXIS BANK" "$pwc")
    run_json "$pw" --type TEST --date 2025-10-02
    assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "password test: $(jget '["error_message"]' <<<"$out")"
    SFTP_PW=wrong-password run_json "$pw" --type TEST --date 2025-10-02
    assert_eq FAILED "$(jget '["status"]' <<<"$out")" "wrong password"
    assert_contains "$(jget '["error_message"]' <<<"$out")" "SSH authentication as $SSHD_PW_USER failed" "auth message"
    assert_not_contains "$out" "wrong-password" "password not echoed"
else
    echo "== password authentication: not checked (creating the password user needs root)"
fi
echo "ok"
