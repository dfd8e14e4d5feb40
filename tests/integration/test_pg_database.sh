#!/usr/bin/env bash
# pg_database end to end: a second database in the test cluster is the
# source; `connectord run` pulls a window (or an incremental cursor) from it
# into sp_v2_transactions / sp_v2_bank_statements; every way the source can
# go wrong is a clear FAILED run.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/silent_dns.sh"
pg_tmp_start

CD="$CD_BUILD_DIR/bin/connectord"
CFG="$CD_TEST_TMP/connectord.yaml"
cd_write_config "$CFG"
"$CD" -c "$CFG" migrate >/dev/null

pg_tmp_as "$PG_TMP_BIN/createdb" -h "$PGHOST" -U "$PGUSER" src
qs() { psql -X -q -v ON_ERROR_STOP=1 -At -d src -c "$1"; }
SRC="host=$PGHOST dbname=src user=$PGUSER"

# 10,000 transactions over four days, amounts with 0-2 decimals.
qs "CREATE TABLE src_txn (id bigserial PRIMARY KEY, txn_ref text NOT NULL, merchant text NOT NULL,
      amount numeric(14,2) NOT NULL, txn_at timestamptz NOT NULL, txn_day date NOT NULL, note text)"
qs "INSERT INTO src_txn (txn_ref, merchant, amount, txn_at, txn_day, note)
    SELECT 'PGT' || lpad(i::text, 6, '0'), 'M' || (i % 7), round((i * 13 % 100000) / (10 ^ (i % 3))::numeric, 2),
           timestamptz '2025-01-01 00:00:00+05:30' + ((i - 1) / 2500) * interval '1 day' + (i % 2500) * interval '30 s',
           date '2025-01-01' + (i - 1) / 2500, 'row ' || i
      FROM generate_series(1, 10000) i"

add_connector() { # NAME CONFIG_JSON -> id (quotes in the JSON doubled for SQL)
    local cfg=${2//\'/\'\'}
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config)
       VALUES ('$1', 'PG_DATABASE', 'SRCDB', '$cfg'::jsonb) RETURNING id"
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
export SRC_CONNINFO="$SRC"

echo "== pg_transaction with \$1/\$2 bound to the window and a column_map"
MAP='"column_map": {"transaction_id": "txn_ref", "merchant_id": "merchant", "amount": "amount", "transaction_date": "txn_day", "transaction_timestamp": "txn_at"}'
tx=$(add_connector src_tx "{\"conninfo\": {\"secret\": \"env:SRC_CONNINFO\"}, \"dataset\": \"pg_transaction\", \"query\": \"SELECT txn_ref, merchant, amount, txn_at, txn_day FROM src_txn WHERE txn_day BETWEEN \$1 AND \$2\", $MAP}")
run_json "$tx" --date 2025-01-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status ($(jget '.get("error_message")' <<<"$out"))"
assert_eq 2500 "$(jget '["details"]["inserted"]' <<<"$out")" "inserted = the day's rows"
want=$(qs "SELECT md5(string_agg(txn_ref || '=' || (amount * 100)::bigint || '@' || extract(epoch FROM txn_at)::bigint, ',' ORDER BY txn_ref)) FROM src_txn WHERE txn_day = '2025-01-02'")
got=$(q "SELECT md5(string_agg(transaction_id || '=' || amount_paise || '@' || extract(epoch FROM transaction_timestamp)::bigint, ',' ORDER BY transaction_id)) FROM sp_v2_transactions")
assert_eq "$want" "$got" "ids, exact paise and instants match the source"
assert_eq "2025-01-02|SRCDB|CONNECTOR" "$(q "SELECT DISTINCT transaction_date, coalesce(source_name, 'SRCDB'), source_type FROM sp_v2_transactions")" "date and source"
run_json "$tx" --date 2025-01-02
assert_eq "0|2500" "$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")" "repeat is unchanged"

echo "== bank_statement without a column_map: the query's names are the target's"
bk=$(add_connector src_bank "{\"conninfo\": \"$SRC\", \"dataset\": \"bank_statement\", \"query\": \"SELECT 'B' || id AS bank_ref, 'SRC BANK' AS bank_name, amount, txn_day AS transaction_date, note AS remarks FROM src_txn WHERE txn_day = \$1\"}")
run_json "$bk" --date 2025-01-03
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "status ($(jget '.get("error_message")' <<<"$out"))"
assert_eq sp_v2_bank_statements "$(jget '["details"]["target_table"]' <<<"$out")" "target"
assert_eq "2500|row 5001" "$(q "SELECT count(*), min(remarks) FILTER (WHERE bank_ref = 'B5001') FROM sp_v2_bank_statements WHERE bank_name = 'SRC BANK'")" "rows"

echo "== column_map finds a mixed-case result column as the query returns it, and an unquoted name folded"
mc=$(add_connector src_mixed "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT txn_ref AS \\\"TxnRef\\\", merchant, amount, txn_day FROM src_txn WHERE txn_day = \$1\", \"column_map\": {\"transaction_id\": \"TxnRef\", \"merchant_id\": \"MERCHANT\", \"amount\": \"amount\", \"transaction_date\": \"txn_day\"}}")
run_json "$mc" --date 2025-01-04
assert_eq "SUCCESS|2500" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")" "mapped ($(jget '.get("error_message")' <<<"$out"))"

echo "== cursor_column: the second run reads only rows after the stored cursor"
qs "CREATE TABLE src_inc AS SELECT id, txn_ref || 'I' AS ref, merchant, amount, txn_day FROM src_txn WHERE id <= 1000"
INC="{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"id\", \"query\": \"SELECT id, ref, merchant, amount, txn_day FROM src_inc;\", \"column_map\": {\"transaction_id\": \"ref\", \"merchant_id\": \"merchant\", \"amount\": \"amount\", \"transaction_date\": \"txn_day\"}}"
inc=$(add_connector src_inc "$INC")
run_json "$inc" --date 2025-01-05
assert_eq "SUCCESS|1000" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")" "first pull"
assert_eq 1000 "$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $inc")" "cursor stored"
assert_eq '{"cursor_column":"id","value":"1000"}' "$(q "SELECT sync_cursor FROM sp_v2_connectors WHERE id = $inc")" "the cursor names its column"
qs "INSERT INTO src_inc SELECT id, txn_ref || 'I', merchant, amount, txn_day FROM src_txn WHERE id BETWEEN 1001 AND 1050"
run_json "$inc" --date 2025-01-05
assert_eq "SUCCESS|50|0" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")" "second pull reads only the 50 new rows"
assert_eq 50 "$(jget '["records_processed"]' <<<"$out")" "records processed"
assert_eq 1050 "$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $inc")" "cursor advanced"
run_json "$inc" --date 2025-01-05
assert_eq "SUCCESS|0|1050" "$(jget '["status"]' <<<"$out")|$(jget '["records_processed"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $inc")" "nothing new: cursor kept"

echo "== bigint and numeric cursors compare as numbers: 10 comes after 9"
NUM_MAP='"column_map": {"transaction_id": "ref", "merchant_id": "merchant", "amount": "amount", "transaction_date": "txn_day"}'
qs "CREATE TABLE src_num (id bigint, ver numeric, ref text, merchant text, amount numeric(14,2), txn_day date)"
qs "INSERT INTO src_num VALUES (8, 8.5, 'QTY8', 'M1', 1, '2025-01-05'), (9, 9.5, 'QTY9', 'M1', 1, '2025-01-05')"
numi=$(add_connector src_num_id "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"id\", \"query\": \"SELECT id, ref || 'I' AS ref, merchant, amount, txn_day FROM src_num\", $NUM_MAP}")
numv=$(add_connector src_num_ver "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"ver\", \"query\": \"SELECT ver, ref || 'V' AS ref, merchant, amount, txn_day FROM src_num\", $NUM_MAP}")
run_json "$numi" --date 2025-01-05
run_json "$numv" --date 2025-01-05
assert_eq "9|9.5" "$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $numi")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $numv")" "number cursors: first pulls"
qs "INSERT INTO src_num VALUES (10, 10.25, 'QTY10', 'M1', 1, '2025-01-05'), (11, 100, 'QTY11', 'M1', 1, '2025-01-05')"
run_json "$numi" --date 2025-01-05
assert_eq "SUCCESS|2|11" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $numi")" "bigint cursor: 10 and 11 after 9"
run_json "$numv" --date 2025-01-05
assert_eq "SUCCESS|2|100" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $numv")" "numeric cursor: 10.25 and 100 after 9.5"

echo "== cursor_column edited: the stored position is not applied to another column"
qs "CREATE TABLE src_cc AS SELECT id, 21 - id AS seq, txn_at, txn_ref || 'K' AS ref, merchant, amount, txn_day FROM src_txn WHERE id <= 20"
CC_MAP='"column_map": {"transaction_id": "ref", "merchant_id": "merchant", "amount": "amount", "transaction_date": "txn_day"}'
cc=$(add_connector src_cc "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"id\", \"query\": \"SELECT id, seq, txn_at, ref, merchant, amount, txn_day FROM src_cc\", $CC_MAP}")
run_json "$cc" --date 2025-01-05
assert_eq "SUCCESS|20|20" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $cc")" "on id: first pull"
qs "INSERT INTO src_cc SELECT id, 21 - id, txn_at, txn_ref || 'K', merchant, amount, txn_day FROM src_txn WHERE id BETWEEN 21 AND 25"
# seq runs the other way: id's position 20 applied to seq would skip every row
q "UPDATE sp_v2_connectors SET connection_config = jsonb_set(connection_config, '{cursor_column}', '\"seq\"') WHERE id = $cc" >/dev/null
run_json "$cc" --date 2025-01-05
assert_eq "SUCCESS|5|20|20" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $cc")" "on seq: from the start, the new rows loaded ($(jget '.get("error_message")' <<<"$out"))"
assert_contains "$(q "SELECT string_agg(message, ' ') FROM sp_v2_connector_run_logs WHERE run_id = $(jget '["id"]' <<<"$out")")" 'the stored cursor 20 is a position in "id", not in cursor_column "seq": pulling from the start' "on seq: the restart said why"
# a timestamp column: the number is not bound as a timestamp
q "UPDATE sp_v2_connectors SET connection_config = jsonb_set(connection_config, '{cursor_column}', '\"txn_at\"') WHERE id = $cc" >/dev/null
run_json "$cc" --date 2025-01-05
assert_eq "SUCCESS|0|25" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")" "on txn_at: from the start ($(jget '.get("error_message")' <<<"$out"))"
# a cursor stored as a bare value (before the column was kept with it) is the column's
q "UPDATE sp_v2_connectors SET connection_config = jsonb_set(connection_config, '{cursor_column}', '\"id\"'), sync_cursor = '22' WHERE id = $cc" >/dev/null
run_json "$cc" --date 2025-01-05
assert_eq "SUCCESS|3|25" "$(jget '["status"]' <<<"$out")|$(jget '["records_processed"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $cc")" "a bare stored value: rows after it"

echo "== a cursor_column of infinity or NaN is loaded, but never becomes the cursor"
qs "CREATE TABLE src_inf (ref text, merchant text, amount numeric(14,2), txn_day date, upd timestamptz, ver numeric)"
qs "INSERT INTO src_inf VALUES ('INF1', 'M1', 1.00, '2025-01-05', '2025-01-05 10:00+05:30', 1), ('INF2', 'M1', 2.00, '2025-01-05', 'infinity', 'NaN')"
INF_MAP='"column_map": {"transaction_id": "ref", "merchant_id": "merchant", "amount": "amount", "transaction_date": "txn_day"}'
inf=$(add_connector src_inf "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"upd\", \"query\": \"SELECT * FROM src_inf\", $INF_MAP}")
infn=$(add_connector src_inf_nan "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"ver\", \"query\": \"SELECT * FROM src_inf\", $INF_MAP}")
run_json "$inf" --date 2025-01-05
assert_eq "SUCCESS|2|2025-01-05 10:00:00+05:30" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $inf")" "infinity: loaded, the cursor below it"
assert_contains "$(q "SELECT string_agg(message, ' ') FROM sp_v2_connector_run_logs WHERE run_id = $(jget '["id"]' <<<"$out")")" '1 row(s) with cursor_column "upd" infinity or NaN' "infinity: a warning"
run_json "$infn" --date 2025-01-05
assert_eq "SUCCESS|2|1" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $infn")" "NaN: read, the cursor below it"
qs "INSERT INTO src_inf VALUES ('INF3', 'M1', 3.00, '2025-01-05', '2025-01-05 11:00+05:30', 2)"
run_json "$inf" --date 2025-01-05
assert_eq "SUCCESS|1|1" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")" "infinity: a later row is still read ($(jget '.get("error_message")' <<<"$out"))"
run_json "$infn" --date 2025-01-05
assert_eq "SUCCESS|2|2" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $infn")" "NaN: a later row is still read"
# a connector an earlier version left stuck at infinity pulls from the start
q "UPDATE sp_v2_connectors SET sync_cursor = 'infinity' WHERE id = $inf" >/dev/null
run_json "$inf" --date 2025-01-05
assert_eq "SUCCESS|3|2025-01-05 11:00:00+05:30" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $inf")" "a stored infinity: read from the start"

echo "== a date cursor reads its last day again: rows added to that day later are not left behind"
qs "CREATE TABLE src_day (ref text, merchant text, amount numeric(14,2), txn_day date)"
qs "INSERT INTO src_day VALUES ('DAY1', 'M1', 1.00, '2025-01-04'), ('DAY2', 'M1', 2.00, '2025-01-05')"
day=$(add_connector src_day "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"txn_day\", \"query\": \"SELECT * FROM src_day\", $INF_MAP}")
run_json "$day" --date 2025-01-05
assert_eq "SUCCESS|2|2025-01-05" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $day")" "date cursor: first pull"
qs "INSERT INTO src_day VALUES ('DAY3', 'M1', 3.00, '2025-01-05'), ('DAY4', 'M1', 4.00, '2025-01-06')"
run_json "$day" --date 2025-01-05
assert_eq "SUCCESS|2|1|2025-01-06" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $day")" "date cursor: the day's late row and the next day's"
assert_eq "DAY1 DAY2 DAY3 DAY4" "$(q "SELECT string_agg(transaction_id, ' ' ORDER BY transaction_id) FROM sp_v2_transactions WHERE transaction_id LIKE 'DAY%'")" "date cursor: every row"

echo "== cursor_column NULL: a record error on every pull, never loaded once and then skipped"
qs "CREATE TABLE src_nul (seq int, ref text, merchant text, amount numeric(14,2), txn_day date)"
qs "INSERT INTO src_nul VALUES (1, 'N1', 'M1', 1.00, '2025-01-05'), (NULL, 'N0', 'M1', 3.00, '2025-01-05'), (2, 'N2', 'M1', 2.00, '2025-01-05')"
nul=$(add_connector src_nul "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"seq\", \"query\": \"SELECT seq, ref, merchant, amount, txn_day FROM src_nul\", \"column_map\": {\"transaction_id\": \"ref\", \"merchant_id\": \"merchant\", \"amount\": \"amount\", \"transaction_date\": \"txn_day\"}}")
nul_errors() { # -> "row_ref reason [raw]" of the last run's record errors
    q "SELECT string_agg(row_ref || ' ' || reason || ' [' || raw || ']', ' | ' ORDER BY id) FROM sp_v2_connector_record_errors WHERE run_id = $(jget '["id"]' <<<"$out")"
}
run_json "$nul" --date 2025-01-05
assert_eq "PARTIAL_SUCCESS|2|1|2" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["records_failed"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $nul")" "first pull: status|inserted|failed|cursor"
errs=$(nul_errors)
assert_contains "$errs" 'row 3 cursor_column "seq" is NULL: an incremental pull cannot place the row after a cursor, so it is not loaded [' "first pull: the NULL row named"
assert_contains "$errs" "transaction_id=N0" "first pull: the row's values kept"
assert_contains "$(q "SELECT string_agg(message, ' ') FROM sp_v2_connector_run_logs WHERE run_id = $(jget '["id"]' <<<"$out")")" '1 row(s) with cursor_column "seq" NULL not loaded' "first pull: a warning in the log"
qs "INSERT INTO src_nul VALUES (3, 'N3', 'M1', 4.00, '2025-01-05'), (NULL, 'N4', 'M1', 5.00, '2025-01-05')"
run_json "$nul" --date 2025-01-05
assert_eq "PARTIAL_SUCCESS|1|2|3" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["records_failed"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $nul")" "later pull: the new row loaded, both NULL rows refused again"
errs=$(nul_errors)
assert_contains "$errs" "transaction_id=N0" "later pull: the old NULL row still reported"
assert_contains "$errs" "transaction_id=N4" "later pull: the new NULL row reported"
assert_eq "N1 N2 N3" "$(q "SELECT string_agg(transaction_id, ' ' ORDER BY transaction_id) FROM sp_v2_transactions WHERE transaction_id LIKE 'N%'")" "NULL-cursor rows never loaded"
# the fix the README gives: a value for every row in the query
q "UPDATE sp_v2_connectors SET connection_config = jsonb_set(connection_config, '{query}', to_jsonb('SELECT coalesce(seq, 0) AS seq, ref, merchant, amount, txn_day FROM src_nul'::text)), sync_cursor = NULL WHERE id = $nul" >/dev/null
run_json "$nul" --date 2025-01-05
assert_eq "SUCCESS|2|0" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["records_failed"]' <<<"$out")" "with COALESCE every row loads"

echo "== cursor_overlap: a row committed late, below the cursor, is read on the next pull"
qs "CREATE TABLE src_late AS SELECT id, txn_ref || 'L' AS ref, merchant, amount, txn_day, txn_at FROM src_txn WHERE id <= 100 AND id <> 95"
LATE_MAP='"column_map": {"transaction_id": "ref", "merchant_id": "merchant", "amount": "amount", "transaction_date": "txn_day"}'
late=$(add_connector src_late "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"id\", \"cursor_overlap\": 10, \"query\": \"SELECT id, ref, merchant, amount, txn_day FROM src_late\", $LATE_MAP}")
run_json "$late" --date 2025-01-05
assert_eq "SUCCESS|99|100" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $late")" "first pull"
# id 95 commits after that pull; 101..105 are new
qs "INSERT INTO src_late SELECT id, txn_ref || 'L', merchant, amount, txn_day, txn_at FROM src_txn WHERE id = 95 OR id BETWEEN 101 AND 105"
run_json "$late" --date 2025-01-05
assert_eq "SUCCESS|6|9|105" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $late")" "the late row and the new ones; the overlap's rows unchanged"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_transactions WHERE transaction_id = 'PGT000095L'")" "the late row loaded"
# rows only below the cursor: it never moves back
qs "DELETE FROM src_late WHERE id > 100"
run_json "$late" --date 2025-01-05
assert_eq "SUCCESS|105" "$(jget '["status"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $late")" "cursor kept at its highest"
# a stored cursor the column's type refuses is a configuration error
good_cursor=$(q "SELECT sync_cursor FROM sp_v2_connectors WHERE id = $late")
q "UPDATE sp_v2_connectors SET sync_cursor = 'not-a-number' WHERE id = $late" >/dev/null
run_json "$late" --date 2025-01-05
assert_eq "FAILED|configuration_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "a cursor that is not a number"
assert_contains "$(jget '["error_message"]' <<<"$out")" "cannot step the cursor not-a-number back by 10" "bad cursor message"
q "UPDATE sp_v2_connectors SET sync_cursor = '$good_cursor' WHERE id = $late" >/dev/null
# a timestamp cursor steps back in seconds
late_ts=$(add_connector src_late_ts "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"txn_at\", \"cursor_overlap\": 3600, \"query\": \"SELECT ref || 'T' AS ref, merchant, amount, txn_day, txn_at FROM src_late WHERE id <> 90\", $LATE_MAP}")
run_json "$late_ts" --date 2025-01-05
assert_eq "SUCCESS|99" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")" "timestamp cursor: first pull"
ts_cursor=$(q "SELECT sync_cursor FROM sp_v2_connectors WHERE id = $late_ts")
q "UPDATE sp_v2_connectors SET connection_config = jsonb_set(connection_config, '{query}', to_jsonb('SELECT ref || ''T'' AS ref, merchant, amount, txn_day, txn_at FROM src_late'::text)) WHERE id = $late_ts" >/dev/null
run_json "$late_ts" --date 2025-01-05
assert_eq "SUCCESS|1" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")" "timestamp cursor: the row an hour back read again"
assert_eq "$ts_cursor" "$(q "SELECT sync_cursor FROM sp_v2_connectors WHERE id = $late_ts")" "timestamp cursor kept"
# repeated values: rows sharing the cursor's second, one of them added after the pull
qs "CREATE TABLE src_same (ref text, merchant text, amount numeric(14,2), txn_day date, at timestamp(0))"
qs "INSERT INTO src_same VALUES ('SAME1', 'M1', 1, '2025-01-05', '2025-01-05 10:00:00'), ('SAME2', 'M1', 2, '2025-01-05', '2025-01-05 10:00:00')"
same0=$(add_connector src_same0 "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"at\", \"query\": \"SELECT ref || '0' AS ref, merchant, amount, txn_day, at FROM src_same\", $LATE_MAP}")
same1=$(add_connector src_same1 "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"at\", \"cursor_overlap\": 1, \"query\": \"SELECT ref || '1' AS ref, merchant, amount, txn_day, at FROM src_same\", $LATE_MAP}")
run_json "$same0" --date 2025-01-05
run_json "$same1" --date 2025-01-05
assert_eq "SUCCESS|2|2025-01-05 10:00:00" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $same1")" "repeated values: first pull"
qs "INSERT INTO src_same VALUES ('SAME3', 'M1', 3, '2025-01-05', '2025-01-05 10:00:00')"
run_json "$same0" --date 2025-01-05
assert_eq "SUCCESS|0" "$(jget '["status"]' <<<"$out")|$(jget '["records_processed"]' <<<"$out")" "repeated values without an overlap: the row sharing the cursor's value is behind it (as documented)"
run_json "$same1" --date 2025-01-05
assert_eq "SUCCESS|1|2|2025-01-05 10:00:00" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $same1")" "repeated values with an overlap of 1 s: read again"
# a text cursor cannot step back
txt=$(add_connector src_late_txt "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"ref\", \"cursor_overlap\": 5, \"query\": \"SELECT id, ref, merchant, amount, txn_day FROM src_late\", $LATE_MAP}")
run_json "$txt" --date 2025-01-05
assert_eq "FAILED|configuration_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "text cursor with an overlap"
assert_eq 'cursor_overlap needs a cursor_column of a number, date or timestamp type; "ref" is not one' "$(jget '["error_message"]' <<<"$out")" "text cursor message"

echo "== a query ending in a -- comment, with cursor_column: the wrapping is not commented out"
cmt=$(add_connector src_comment "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"id\", \"query\": \"SELECT id, ref || 'C' AS ref, merchant, amount, txn_day FROM src_late -- every row;\", $LATE_MAP}")
run_json "$cmt" --type TEST --date 2025-01-05
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "comment: test ($(jget '.get("error_message")' <<<"$out"))"
run_json "$cmt" --date 2025-01-05
assert_eq "SUCCESS|100|100" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $cmt")" "comment: first pull ($(jget '.get("error_message")' <<<"$out"))"
run_json "$cmt" --date 2025-01-05
assert_eq "SUCCESS|0" "$(jget '["status"]' <<<"$out")|$(jget '["records_processed"]' <<<"$out")" "comment: second pull ($(jget '.get("error_message")' <<<"$out"))"
# a test prepares what the run prepares: a wrapping the query breaks fails the test too
cbad=$(add_connector src_comment_bad "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"id\", \"query\": \"SELECT id, ref, merchant, amount, txn_day FROM src_late; -- the rest\", $LATE_MAP}")
run_json "$cbad" --type TEST --date 2025-01-05
assert_eq "FAILED|configuration_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "a query the wrapping breaks fails its test"
assert_contains "$(jget '["error_message"]' <<<"$out")" "the query wrapped for cursor_column does not prepare: ERROR:  syntax error" "the test says why"
run_json "$cbad" --date 2025-01-05
assert_eq "FAILED|configuration_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "and so does the run"

echo "== cursor_column with a LIMIT of the query's own: refused (every pull after the first read the same rows and loaded nothing)"
lim=$(add_connector src_limit "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"id\", \"query\": \"SELECT id, ref || 'M' AS ref, merchant, amount, txn_day FROM src_late ORDER BY id LIMIT 60\", $LATE_MAP}")
run_json "$lim" --date 2025-01-05
assert_eq "FAILED|configuration_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "LIMIT with a cursor"
assert_contains "$(jget '["error_message"]' <<<"$out")" "query: has LIMIT outside any parentheses, which does not work with cursor_column" "LIMIT with a cursor: why"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_transactions WHERE transaction_id LIKE '%LM'")" "LIMIT with a cursor: nothing loaded"

echo "== a query that uses \$2 only (everything up to the window's end), with and without a cursor"
upto=$(add_connector src_upto "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT ref || 'U' AS ref, merchant, amount, txn_day FROM src_late WHERE txn_day <= \$2::date\", $LATE_MAP}")
run_json "$upto" --type TEST --date 2025-01-05
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "\$2 only: test ($(jget '.get("error_message")' <<<"$out"))"
run_json "$upto" --date 2025-01-05
assert_eq "SUCCESS|100" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")" "\$2 only: run ($(jget '.get("error_message")' <<<"$out"))"
uptoc=$(add_connector src_upto_cur "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"id\", \"query\": \"SELECT id, ref || 'V' AS ref, merchant, amount, txn_day FROM src_late WHERE txn_day <= \$2::date\", $LATE_MAP}")
run_json "$uptoc" --date 2025-01-05
assert_eq "SUCCESS|100|100" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $uptoc")" "\$2 only with a cursor: first pull ($(jget '.get("error_message")' <<<"$out"))"
run_json "$uptoc" --date 2025-01-05
assert_eq "SUCCESS|0" "$(jget '["status"]' <<<"$out")|$(jget '["records_processed"]' <<<"$out")" "\$2 only with a cursor: second pull ($(jget '.get("error_message")' <<<"$out"))"

echo "== amounts from a numeric(18,4) column: its zeros past the second decimal are no fraction"
qs "CREATE TABLE src_n4 (ref text, merchant text, amount numeric(18,4), txn_day date)"
qs "INSERT INTO src_n4 VALUES ('DEC4A', 'M1', 100.5, '2025-01-05'), ('DEC4B', 'M1', 7, '2025-01-05'), ('DEC4C', 'M1', 0.125, '2025-01-05')"
n4=$(add_connector src_n4 "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT * FROM src_n4\", $LATE_MAP}")
run_json "$n4" --date 2025-01-05
assert_eq "PARTIAL_SUCCESS|2|1" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["records_failed"]' <<<"$out")" "numeric(18,4): loaded, and the fraction of a paisa refused"
assert_eq "DEC4A=10050 DEC4B=700" "$(q "SELECT string_agg(transaction_id || '=' || amount_paise, ' ' ORDER BY transaction_id) FROM sp_v2_transactions WHERE transaction_id LIKE 'DEC4%'")" "numeric(18,4): exact paise"
assert_eq "amount: '0.1250' has more than 2 decimals" "$(q "SELECT reason FROM sp_v2_connector_record_errors WHERE run_id = $(jget '["id"]' <<<"$out")")" "numeric(18,4): the refusal"

echo "== the source dies mid-stream: a failed run, retried, none of its rows kept"
died=$(add_connector src_died "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT txn_ref || 'D' AS transaction_id, merchant AS merchant_id, amount, txn_day AS transaction_date FROM src_txn, LATERAL (SELECT CASE WHEN id = 5000 THEN pg_sleep(60) END AS s) z\"}")
"$CD" -c "$CFG" run "$died" --date 2025-01-02 >"$CD_TEST_TMP/died.out" 2>"$CD_TEST_TMP/died.err" &
diedpid=$!
pulling() { qs "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'connectord pg_database' AND wait_event = 'PgSleep'"; }
for i in $(seq 1 100); do [ "$(pulling)" = 1 ] && break; sleep 0.1; done
assert_eq 1 "$(pulling)" "the pull is under way"
qs "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'connectord pg_database'" >/dev/null
wait "$diedpid" || true
out=$(cat "$CD_TEST_TMP/died.out")
assert_eq "FAILED|transient_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "source gone mid-stream"
assert_contains "$(jget '["error_message"]' <<<"$out")" "the query failed after " "source gone mid-stream: message"
# the source's reason, not libpq's "server closed the connection unexpectedly" that follows it
assert_contains "$(jget '["error_message"]' <<<"$out")" "FATAL:  terminating connection due to administrator command" "source gone mid-stream: the source's reason"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_transactions WHERE transaction_id LIKE 'PGT%D'")" "source gone mid-stream: none of the rows read before kept"

echo "== America/New_York on the day DST ends: a 25-hour window, and a timestamptz cursor stepping back across 01:00 twice"
qs "CREATE TABLE src_ny (ref text, merchant text, amount numeric(14,2), at timestamptz)"
# every 15 minutes from 23:30 EDT the day before to 00:15 EST the day after
qs "INSERT INTO src_ny SELECT 'NY' || lpad(i::text, 3, '0'), 'M1', i, timestamptz '2025-11-01 23:30:00-04' + i * interval '15 min' FROM generate_series(0, 103) i"
NY_MAP='"column_map": {"transaction_id": "ref", "merchant_id": "merchant", "amount": "amount", "transaction_date": "day", "transaction_timestamp": "at"}'
nyw=$(add_connector src_ny_window "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT ref || 'W' AS ref, merchant, amount, at::date AS day, at FROM src_ny WHERE at >= \$1::timestamptz AND at < (\$2::date + 1)::timestamptz\", $NY_MAP}")
q "UPDATE sp_v2_connectors SET schedule_timezone = 'America/New_York' WHERE id = $nyw" >/dev/null
run_json "$nyw" --date 2025-11-02
assert_eq "SUCCESS|100" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")" "NY window: 25 hours of quarter hours ($(jget '.get("error_message")' <<<"$out"))"
assert_eq "2025-11-02|2025-11-02|NY002W|NY101W" "$(q "SELECT min(transaction_date), max(transaction_date), min(transaction_id), max(transaction_id) FROM sp_v2_transactions WHERE transaction_id LIKE 'NY%W'")" "NY window: the local day, midnight EDT to midnight EST"
nyc=$(add_connector src_ny_cursor "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"cursor_column\": \"at\", \"cursor_overlap\": 1800, \"query\": \"SELECT ref || 'C' AS ref, merchant, amount, at::date AS day, at FROM src_ny WHERE at < '2025-11-02 06:30:00Z'\", $NY_MAP}")
q "UPDATE sp_v2_connectors SET schedule_timezone = 'America/New_York' WHERE id = $nyc" >/dev/null
run_json "$nyc" --date 2025-11-02
# 01:15 EST is the second 01:15 of the night
assert_eq "SUCCESS|12|2025-11-02T01:15:00-05" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $nyc")" "NY cursor: first pull ($(jget '.get("error_message")' <<<"$out"))"
# a row committed late at 01:05 EST, behind the cursor; the query now reads on
qs "INSERT INTO src_ny VALUES ('NYLATE', 'M1', 1, '2025-11-02 01:05:00-05')"
q "UPDATE sp_v2_connectors SET connection_config = jsonb_set(connection_config, '{query}', to_jsonb(\$q\$SELECT ref || 'C' AS ref, merchant, amount, at::date AS day, at FROM src_ny WHERE at < '2025-11-02 07:30:00Z'\$q\$::text)) WHERE id = $nyc" >/dev/null
run_json "$nyc" --date 2025-11-02
# back 30 minutes from 01:15 EST is 00:45 EST (01:45 EDT): 01:00 and 01:15 EST again, and the late row
assert_eq "SUCCESS|5|2|2025-11-02 02:15:00-05" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")|$(q "SELECT sync_cursor::jsonb->>'value' FROM sp_v2_connectors WHERE id = $nyc")" "NY cursor: the late row and the new ones ($(jget '.get("error_message")' <<<"$out"))"
assert_eq "$(qs "SELECT string_agg(ref || 'C=' || extract(epoch FROM at)::bigint, ' ' ORDER BY ref || 'C') FROM src_ny WHERE at < '2025-11-02 07:30:00Z'")" \
    "$(q "SELECT string_agg(transaction_id || '=' || extract(epoch FROM transaction_timestamp)::bigint, ' ' ORDER BY transaction_id) FROM sp_v2_transactions WHERE transaction_id LIKE 'NY%C'")" "NY cursor: every row once, at its instant"

fails() { # NAME CONFIG -> runs it, asserts FAILED and that nothing loaded
    local id
    id=$(add_connector "$1" "$2")
    local t0
    t0=$(date +%s)
    run_json "$id" --date 2025-01-02
    ELAPSED=$(($(date +%s) - t0))
    assert_eq 1 "$RUN_RC" "$1: exit code"
    assert_eq FAILED "$(jget '["status"]' <<<"$out")" "$1: status"
    MSG=$(jget '["error_message"]' <<<"$out")
    OUTCOME=$(jget '["details"]["outcome"]' <<<"$out")
}
before=$(q "SELECT count(*) FROM sp_v2_transactions")

echo "== the source session is read-only"
fails ro "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"query\": \"WITH d AS (DELETE FROM src_txn RETURNING *) SELECT txn_ref AS transaction_id, merchant AS merchant_id, amount, txn_day AS transaction_date FROM d\"}"
assert_contains "$MSG" "in a read-only transaction" "read-only message"
assert_eq configuration_error "$OUTCOME" "read-only outcome"
assert_eq 10000 "$(qs "SELECT count(*) FROM src_txn")" "source untouched"

echo "== statement timeout"
fails slow "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"statement_timeout_seconds\": 1, \"query\": \"SELECT txn_ref AS transaction_id, merchant AS merchant_id, amount, txn_day AS transaction_date FROM src_txn, pg_sleep(5) WHERE txn_day = \$1\"}"
assert_contains "$MSG" "canceling statement due to statement timeout" "timeout message"
assert_eq transient_error "$OUTCOME" "timeout outcome"
[ "$ELAPSED" -le 4 ] || cd_fail "statement timeout took $ELAPSED s"

echo "== the source's lock_timeout while a maintenance job holds the table: retried"
qs "CREATE TABLE src_locked AS SELECT * FROM src_txn WHERE id <= 10"
psql -X -q -d src -c "BEGIN; LOCK TABLE src_locked IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT" >/dev/null &
lockpid=$!
for i in $(seq 1 50); do [ "$(qs "SELECT count(*) FROM pg_locks WHERE relation = 'src_locked'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ] && break; sleep 0.1; done
fails locked "{\"conninfo\": \"$SRC options='-c lock_timeout=500'\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT txn_ref AS transaction_id, merchant AS merchant_id, amount, txn_day AS transaction_date FROM src_locked\"}"
assert_contains "$MSG" "canceling statement due to lock timeout" "lock timeout message"
assert_eq transient_error "$OUTCOME" "lock timeout outcome"
wait "$lockpid"

echo "== a failing query, a missing column in the map, a refused connection"
fails badq "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT * FROM no_such_table WHERE day = \$1\"}"
assert_contains "$MSG" "the query does not prepare: ERROR:  relation \"no_such_table\" does not exist" "failing query"
assert_eq configuration_error "$OUTCOME" "failing query outcome"
fails divzero "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT txn_ref AS transaction_id, merchant AS merchant_id, amount / (id - 5000) AS amount, txn_day AS transaction_date FROM src_txn ORDER BY id\"}"
assert_contains "$MSG" "the query failed after " "failure mid-stream"
assert_contains "$MSG" "division by zero" "failure mid-stream reason"
fails nocol "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT txn_ref, merchant, amount, txn_day FROM src_txn\", \"column_map\": {\"transaction_id\": \"txn_ref\", \"merchant_id\": \"merchant\", \"amount\": \"amount_inr\", \"transaction_date\": \"txn_day\"}}"
assert_eq "column_map.amount names \"amount_inr\", which the query does not return" "$MSG" "missing column"
assert_eq configuration_error "$OUTCOME" "missing column outcome"
fails refused "{\"conninfo\": \"host=127.0.0.1 port=1 dbname=src user=x connect_timeout=3\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\"}"
assert_contains "$MSG" "cannot connect to the source database: " "refused message"
assert_contains "$MSG" "Connection refused" "refused reason"
assert_eq transient_error "$OUTCOME" "refused outcome"
# a login the source refuses for good (no CONNECT privilege, pg_hba.conf) or
# a connection option libpq refuses: configuration errors, never retried
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE ROLE nocon LOGIN" -c "CREATE DATABASE src_nocon" \
    -c "REVOKE CONNECT ON DATABASE src_nocon FROM PUBLIC" -c "CREATE DATABASE src_hba"
pg_tmp_as sed -i "1i local src_hba all reject" "$PG_TMP_DIR/data/pg_hba.conf"
pg_tmp_as "$PG_TMP_BIN/pg_ctl" -D "$PG_TMP_DIR/data" reload >/dev/null
for i in $(seq 1 50); do psql -X -d src_hba -c "SELECT 1" >/dev/null 2>&1 || break; sleep 0.1; done
fails nocon "{\"conninfo\": \"host=$PGHOST dbname=src_nocon user=nocon\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\"}"
assert_contains "$MSG" 'permission denied for database "src_nocon"' "no CONNECT privilege: message"
assert_eq configuration_error "$OUTCOME" "no CONNECT privilege: outcome"
fails hba "{\"conninfo\": \"host=$PGHOST dbname=src_hba\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\"}"
assert_contains "$MSG" "pg_hba.conf rejects connection" "pg_hba.conf: message"
assert_eq configuration_error "$OUTCOME" "pg_hba.conf: outcome"
fails badopt "{\"conninfo\": \"$SRC sslmode=sometimes\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\"}"
assert_contains "$MSG" 'invalid sslmode value: "sometimes"' "bad option: message"
assert_eq configuration_error "$OUTCOME" "bad option: outcome"
fails nosvc "{\"conninfo\": \"service=no_such_service\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\"}"
assert_contains "$MSG" 'definition of service "no_such_service" not found' "unknown service: message"
assert_eq configuration_error "$OUTCOME" "unknown service: outcome"
# a host name is looked up by the driver (bounded), libpq is given the
# addresses and still names the host
fails byname "{\"conninfo\": \"host=localhost port=1 dbname=src user=x\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\"}"
assert_contains "$MSG" "cannot connect to the source database at localhost: connection to server at " "the host name kept"
assert_contains "$MSG" "Connection refused" "by name: refused reason"
if silent_dns_usable; then
    echo "== a source host whose name is never answered: failed within the connect timeout"
    cp "$CFG" "$CD_TEST_TMP/dns.yaml"
    printf 'http_client:\n  connect_timeout_seconds: 2\n' >>"$CD_TEST_TMP/dns.yaml"
    dns=$(add_connector dns_silent "{\"conninfo\": \"host=src.db.invalid dbname=src user=x\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\"}")
    silent_dns_run "$CD_TEST_TMP/dns.out" "$CD" -c "$CD_TEST_TMP/dns.yaml" run "$dns" --date 2025-01-02
    silent_dns_assert_bounded 10
    assert_eq FAILED "$(jget '["status"]' <"$CD_TEST_TMP/dns.out")" "silent DNS: status"
    assert_eq "cannot connect to the source database: cannot resolve src.db.invalid: timed out after 2.0 s" \
        "$(jget '["error_message"]' <"$CD_TEST_TMP/dns.out")" "silent DNS: message"
    assert_eq transient_error "$(jget '["details"]["outcome"]' <"$CD_TEST_TMP/dns.out")" "silent DNS: retried"
    echo "   failed after $DNS_TOOK s"
    # the same name from PGHOST, with none in the conninfo: looked up, bounded, the same way
    envdns=$(add_connector dns_pghost "{\"conninfo\": \"dbname=src user=x\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\"}")
    PGHOST=src.db.invalid silent_dns_run "$CD_TEST_TMP/dns2.out" "$CD" -c "$CD_TEST_TMP/dns.yaml" run "$envdns" --date 2025-01-02
    silent_dns_assert_bounded 10
    assert_eq "cannot connect to the source database: cannot resolve src.db.invalid: timed out after 2.0 s" \
        "$(jget '["error_message"]' <"$CD_TEST_TMP/dns2.out")" "silent DNS from PGHOST: message"
    echo "   failed after $DNS_TOOK s"
else
    echo "== a source host whose name is never answered: not checked (needs root for a mount namespace)"
fi
assert_eq "$before" "$(q "SELECT count(*) FROM sp_v2_transactions")" "no rows from failed runs"

echo "== --type TEST: connect, read-only, query described; nothing loaded"
run_json "$tx" --type TEST --date 2025-01-04
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "test status"
assert_eq "connect,read-only,select 1,query" "$(jget '["details"]["test_steps"]' <<<"$out" | python3 -c 'import ast,sys; print(",".join(s["step"] for s in ast.literal_eval(sys.stdin.read())))')" "test steps"
assert_eq "$before" "$(q "SELECT count(*) FROM sp_v2_transactions")" "nothing loaded by a test"
# a result column the dataset does not have fails the test, as it would the run
odd=$(add_connector odd_col "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT txn_ref AS transaction_id, merchant AS merchant_id, amount, txn_day AS transaction_date, note FROM src_txn WHERE txn_day = \$1\"}")
run_json "$odd" --type TEST --date 2025-01-04
assert_eq "FAILED|configuration_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "test of a query with a foreign column"
assert_contains "$(jget '["error_message"]' <<<"$out")" 'the query returns "note", which is not a column of pg_transaction' "test names the column"
run_json "$odd" --date 2025-01-04
assert_eq "FAILED|configuration_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "the run fails the same way"

echo "== a cancel reaches a query still working on its first row: the source stops it too"
slowc=$(add_connector slowcancel "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"statement_timeout_seconds\": 120, \"query\": \"SELECT txn_ref AS transaction_id, merchant AS merchant_id, amount, txn_day AS transaction_date FROM src_txn, pg_sleep(60) WHERE txn_day = \$1\"}")
"$CD" -c "$CFG" run "$slowc" --date 2025-01-02 >"$CD_TEST_TMP/slow.out" 2>"$CD_TEST_TMP/slow.err" &
runpid=$!
sleeping() { qs "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()"; }
for i in $(seq 1 100); do [ "$(sleeping)" = 1 ] && break; sleep 0.1; done
assert_eq 1 "$(sleeping)" "the query is running at the source"
t0=$SECONDS
kill -TERM "$runpid"
wait "$runpid" || true
[ $((SECONDS - t0)) -le 5 ] || cd_fail "the cancel took $((SECONDS - t0)) s"
assert_eq FAILED "$(jget '["status"]' <"$CD_TEST_TMP/slow.out")" "cancelled run"
for i in $(seq 1 20); do [ "$(sleeping)" = 0 ] && break; sleep 0.1; done
assert_eq 0 "$(sleeping)" "the source's query was cancelled, not left to run"

echo "== a connection string libpq cannot parse: a configuration error that does not quote it"
fails badconn "{\"conninfo\": \"postgresql://u:s3cr%ZZet@127.0.0.1/src\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\"}"
assert_contains "$MSG" "conninfo is not a valid libpq connection string" "parse failure named"
assert_not_contains "$MSG$(q "SELECT string_agg(message, ' ') FROM sp_v2_connector_run_logs")" "s3cr" "the password is not quoted"
assert_eq configuration_error "$OUTCOME" "parse failure outcome"

echo "== the source session works in the connector's zone and ISO dates, whatever the server's"
qs "ALTER DATABASE src SET TimeZone = 'UTC'; ALTER DATABASE src SET DateStyle = 'SQL, DMY'"
zone=$(add_connector src_zone "{\"conninfo\": \"$SRC\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT txn_ref || 'Z' AS transaction_id, merchant AS merchant_id, amount, txn_at::date AS transaction_date, txn_at AS transaction_timestamp FROM src_txn WHERE txn_at >= \$1::timestamptz AND txn_at < (\$2::date + 1)::timestamptz\"}")
run_json "$zone" --date 2025-01-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "zone: status ($(jget '.get("error_message")' <<<"$out"))"
assert_eq "2500|2025-01-02|2025-01-02|PGT002501Z|PGT005000Z" "$(q "SELECT count(*), min(transaction_date), max(transaction_date), min(transaction_id), max(transaction_id) FROM sp_v2_transactions WHERE transaction_id LIKE '%Z'")" \
    "the local day's 2500 rows, 00:00 to 24:00 in Asia/Kolkata"
qs "ALTER DATABASE src RESET TimeZone; ALTER DATABASE src RESET DateStyle"

echo "== a LATIN1 source database: its text arrives as UTF-8"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE src_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
PGCLIENTENCODING=UTF8 psql -X -q -v ON_ERROR_STOP=1 -d src_latin1 -c "CREATE TABLE t (ref text, merchant text, amount numeric(12,2), day date);
    INSERT INTO t VALUES ('LAT1', 'Café Müller', 10.00, '2025-01-02')"
lat=$(add_connector src_latin1 "{\"conninfo\": \"host=$PGHOST dbname=src_latin1 user=$PGUSER\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT ref AS transaction_id, 'M1' AS merchant_id, merchant AS merchant_name, amount, day AS transaction_date FROM t\"}")
run_json "$lat" --date 2025-01-02
assert_eq "SUCCESS|1" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")" "latin1: loaded ($(jget '.get("error_message")' <<<"$out"))"
assert_eq "Café Müller" "$(q "SELECT merchant_name FROM sp_v2_transactions WHERE transaction_id = 'LAT1'")" "latin1: the text, converted"

echo "== behind PgBouncer in transaction mode, one server session: runs follow each other cleanly"
PGB="$CD_TEST_TMP/pgb"
mkdir -p "$PGB"
cat >"$PGB/pgbouncer.ini" <<INI
[databases]
src = host=$PG_TMP_DIR port=5432 dbname=src user=$PGUSER
[pgbouncer]
listen_addr =
listen_port = 6544
unix_socket_dir = $PGB
auth_type = any
pool_mode = transaction
default_pool_size = 1
max_client_conn = 20
logfile = $PGB/pgbouncer.log
pidfile = $PGB/pgbouncer.pid
INI
[ "$(id -u)" != 0 ] || chown -R postgres: "$PGB"
pg_tmp_as /usr/sbin/pgbouncer -d "$PGB/pgbouncer.ini" || cd_fail "pgbouncer did not start: $(cat "$PGB/pgbouncer.log")"
trap 'kill "$(cat "$PGB/pgbouncer.pid" 2>/dev/null)" 2>/dev/null; pg_tmp_stop' EXIT
for i in $(seq 1 50); do [ -S "$PGB/.s.PGSQL.6544" ] && break; sleep 0.1; done
pooled=$(add_connector pooled "{\"conninfo\": \"host=$PGB port=6544 dbname=src\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT txn_ref || 'P' AS transaction_id, merchant AS merchant_id, amount, txn_day AS transaction_date FROM src_txn WHERE txn_day = \$1\"}")
for day in 2025-01-01 2025-01-02 2025-01-03; do
    run_json "$pooled" --date "$day"
    assert_eq "SUCCESS|2500" "$(jget '["status"]' <<<"$out")|$(jget '["details"].get("inserted")' <<<"$out")" \
        "pooled run for $day ($(jget '.get("error_message")' <<<"$out"))"
done
run_json "$pooled" --type TEST --date 2025-01-03
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "a test through the pooler ($(jget '.get("error_message")' <<<"$out"))"
# What the pooler's next client finds on that one server session: nothing of ours.
assert_eq "0|off|0" "$(psql -X -At -h "$PGB" -p 6544 -d src -c "SELECT (SELECT count(*) FROM pg_prepared_statements) || '|' || current_setting('default_transaction_read_only') || '|' || (current_setting('statement_timeout') <> '0')::int")" \
    "no prepared statement or session setting left behind"

echo "OK"
