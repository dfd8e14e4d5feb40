#!/bin/bash
# test_sink.sh — the record sink against a real PostgreSQL: exact counts,
# idempotent repeat loads, updates of exactly the changed rows, duplicates
# within a run (last wins), rejected rows (lengths counted in bytes in a
# SQL_ASCII database, characters a LATIN1 one lacks), nothing left by a
# rollback or a killed load, concurrent loads of the same keys, session
# time zone, a database's statement_timeout and lock_timeout, and flat
# client memory. Drives tests/bench/sink_tool.c. (test_sink_direct.sh
# covers the choice between the direct COPY and the staging merge.)
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
TOOL=${SINK_TOOL:-$CD_BUILD_DIR/tests/sink_tool}
[ -x "$TOOL" ] || cd_fail "sink_tool not built at $TOOL"
pg_tmp_start
# The target tables exactly as the migrations make them.
cd_write_config "$CD_TEST_TMP/c.yaml"
"$CD_BUILD_DIR/bin/connectord" -c "$CD_TEST_TMP/c.yaml" migrate >/dev/null
URL=$CD_DATABASE_URL

# field JSON NAME: one integer field of sink_tool's JSON line.
field() { sed -E "s/.*\"$2\": ([0-9]+).*/\\1/" <<<"$1"; }
# expect JSON "received=.. inserted=.." ...: each NAME=VALUE must match.
expect() {
    local json=$1 kv
    shift
    for kv in "$@"; do
        assert_eq "${kv#*=}" "$(field "$json" "${kv%%=*}")" "${kv%%=*} in $json"
    done
}
# The whole table, physical row versions included: equal digests mean no
# row was rewritten, not just that the values came out the same.
digest() { q "SELECT md5(string_agg(t::text || xmin::text, '|' ORDER BY id)) FROM $1 t"; }
# The data without the columns an update legitimately touches.
data_digest() {
    q "SELECT md5(string_agg((to_jsonb(t) - 'updated_at' - 'loaded_by_run_id')::text, '|' ORDER BY id)) FROM $1 t"
}

N=3000
echo "== first load, then the same rows again"
out=$("$TOOL" "$URL" bank_statement $N 1)
expect "$out" received=$N staged=$N inserted=$N updated=0 unchanged=0 duplicates=0 rejected=0 direct=1
assert_eq $N "$(q 'SELECT count(*) FROM sp_v2_bank_statements WHERE loaded_by_run_id = 42')" "rows loaded"
before=$(digest sp_v2_bank_statements)
out=$("$TOOL" "$URL" bank_statement $N 1)
expect "$out" inserted=0 updated=0 unchanged=$N direct=0
assert_eq "$before" "$(digest sp_v2_bank_statements)" "table after an identical load"

echo "== amounts, escapes and text arrive exactly"
# sink_tool sends debits as negative amounts marked DR: stored as magnitudes.
assert_eq "0|0" "$(q "SELECT count(*) FILTER (WHERE amount_paise < 0),
                             count(*) FILTER (WHERE debit_credit IS DISTINCT FROM 'CR'
                                              AND debit_credit IS DISTINCT FROM 'DR')
                      FROM sp_v2_bank_statements")" "bank amounts stored as magnitudes, each CR or DR"
assert_eq t "$(q 'SELECT remarks ~ E'"'"'^NEFT CR [0-9]+ \u20b9 Sharma\t"Traders" \\\\ a,b$'"'"'
                   FROM sp_v2_bank_statements WHERE bank_ref = '"'"'REF0000000007'"'"'')" "remarks with tab, quote, backslash, rupee sign"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE source_type <> 'CONNECTOR'")" "source_type default"

echo "== a few rows changed: exactly those updated"
out=$("$TOOL" "$URL" bank_statement $N 1 --alt-every 100 --alt-seed 9)
expect "$out" inserted=0 updated=$((N / 100)) unchanged=$((N - N / 100))
assert_eq $((N / 100)) "$(q 'SELECT count(*) FROM sp_v2_bank_statements WHERE updated_at > created_at')" \
    "rows with a new updated_at"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE updated_at > created_at
                 AND substr(bank_ref, 4)::int % 100 <> 0")" "only the changed keys were touched"
before=$(digest sp_v2_bank_statements)
out=$("$TOOL" "$URL" bank_statement $N 1 --alt-every 100 --alt-seed 9)
expect "$out" inserted=0 updated=0 unchanged=$N

echo "== a rolled-back load and a killed load leave nothing"
out=$("$TOOL" "$URL" bank_statement $((N + 500)) 1 --alt-every 3 --alt-seed 5 --rollback)
# Keys i%3 change; keys i%100 (seed 9 now) go back to seed 1 unless also i%3.
expect "$out" inserted=500 updated=$((N / 3 + N / 100 - N / 300))
assert_eq "$before" "$(digest sp_v2_bank_statements)" "table after a rollback"
set +e
"$TOOL" "$URL" bank_statement $((N + 500)) 3 --kill-after $((N + 200)) >/dev/null 2>&1
rc=$?
set -e
assert_eq 137 "$rc" "killed load exit status"
sleep 0.5
assert_eq "$before" "$(digest sp_v2_bank_statements)" "table after a killed load"
assert_eq 0 "$(q "SELECT count(*) FROM pg_class WHERE relname LIKE 'cd_sink_stage%'")" "no staging left"

echo "== duplicates within a run: the last one wins"
out=$("$TOOL" "$URL" pg_transaction $N 1 --dup-every 10)
expect "$out" received=$((N + N / 10)) staged=$((N + N / 10)) duplicates=$((N / 10)) inserted=$N updated=0
# The duplicates carried seed 2's data: loading seed 2 for those keys
# changes nothing, loading seed 1 for them changes exactly them.
out=$("$TOOL" "$URL" pg_transaction $N 1 --alt-every 10 --alt-seed 2)
expect "$out" inserted=0 updated=0 unchanged=$N
out=$("$TOOL" "$URL" pg_transaction $N 1)
expect "$out" inserted=0 updated=$((N / 10)) unchanged=$((N - N / 10))

echo "== rejected rows are counted and not loaded"
q "TRUNCATE sp_v2_transactions" >/dev/null
out=$("$TOOL" "$URL" pg_transaction $N 1 --bad-every 7 2>"$CD_TEST_TMP/rej.log")
bad=$(( (N + 6) / 7 ))
expect "$out" rejected=$bad staged=$((N - bad)) inserted=$((N - bad))
assert_contains "$(cat "$CD_TEST_TMP/rej.log")" "rejected row 0 [bank_fee]: bank_fee: '1e3' has an exponent" "reject reason"

echo "== time zones: zone-less values are read in the session zone"
# Row 4 has no timestamp: midnight of its date (2025-10-02) in the session zone.
assert_eq "2025-10-01 18:30:00+00" \
    "$(PGTZ=UTC q "SELECT transaction_timestamp FROM sp_v2_transactions WHERE transaction_id = 'TXN0000000004'")" \
    "default timestamp at local midnight (Asia/Kolkata)"
q "TRUNCATE sp_v2_transactions" >/dev/null
"$TOOL" "$URL" pg_transaction 10 1 --tz America/New_York >/dev/null
assert_eq "2025-10-02 04:00:00+00" \
    "$(PGTZ=UTC q "SELECT transaction_timestamp FROM sp_v2_transactions WHERE transaction_id = 'TXN0000000004'")" \
    "default timestamp at local midnight (America/New_York)"

echo "== a statement_timeout set on the database or role does not cut a slow load short"
# The COPY lasts as long as the download (here a 2 s pause mid-stream), the
# merge of a reload as long as it takes: neither may be cancelled at 1 s.
q "ALTER DATABASE connectord SET statement_timeout = '1s'" >/dev/null
q "TRUNCATE sp_v2_transactions" >/dev/null
for pass in first repeat; do
    set +e
    out=$("$TOOL" "$URL" pg_transaction 200 1 --pause-after 100 --pause-ms 2000 2>"$CD_TEST_TMP/st.log")
    rc=$?
    set -e
    assert_eq 0 "$rc" "$pass slow load under statement_timeout ($(cat "$CD_TEST_TMP/st.log"))"
    if [ $pass = first ]; then expect "$out" inserted=200 direct=1; else expect "$out" unchanged=200 direct=0; fi
done
assert_eq "1s" "$(q 'SHOW statement_timeout')" "the database's own setting is left alone for other sessions"
q "ALTER DATABASE connectord RESET statement_timeout" >/dev/null

echo "== two loads of the same keys at once: one inserts, the other finds them"
q "TRUNCATE sp_v2_transactions" >/dev/null
"$TOOL" "$URL" pg_transaction 20000 1 >"$CD_TEST_TMP/c1" &
p1=$!
"$TOOL" "$URL" pg_transaction 20000 1 >"$CD_TEST_TMP/c2" &
p2=$!
wait $p1 && wait $p2
c1=$(cat "$CD_TEST_TMP/c1") c2=$(cat "$CD_TEST_TMP/c2")
assert_eq 20000 $(( $(field "$c1" inserted) + $(field "$c2" inserted) )) "inserted by both"
assert_eq 20000 $(( $(field "$c1" unchanged) + $(field "$c2" unchanged) )) "unchanged by both"
assert_eq 20000 "$(q 'SELECT count(*) FROM sp_v2_transactions')" "rows after concurrent loads"

echo "== a lock_timeout set on the database does not fail a load that waits for another"
# The first load holds its keys uncommitted for 2 s (a pause mid-stream,
# after 64 KB have been sent); the second waits for it, as designed, and
# finds them, instead of failing at the database's 200 ms lock_timeout.
q "ALTER DATABASE connectord SET lock_timeout = '200ms'" >/dev/null
q "TRUNCATE sp_v2_transactions" >/dev/null
"$TOOL" "$URL" pg_transaction 2000 1 --pause-after 1000 --pause-ms 2000 >"$CD_TEST_TMP/c1" 2>&1 &
p1=$!
sleep 0.5
set +e
c2=$("$TOOL" "$URL" pg_transaction 2000 1 2>"$CD_TEST_TMP/lt.log")
rc=$?
set -e
wait $p1 || cd_fail "the first load failed: $(cat "$CD_TEST_TMP/c1")"
assert_eq 0 "$rc" "the waiting load under lock_timeout ($(cat "$CD_TEST_TMP/lt.log"))"
expect "$c2" inserted=0 unchanged=2000
assert_contains "$(cat "$CD_TEST_TMP/c1")" '"inserted": 2000' "the first load inserted"
q "ALTER DATABASE connectord RESET lock_timeout" >/dev/null

echo "== a writer that ignores the lock inserts one of our keys mid-load"
q "TRUNCATE sp_v2_transactions" >/dev/null
# The outsider holds an uncommitted row with key TXN0000000005 while the
# load runs; its commit makes our merge hit the unique index, and the
# retried merge must compare that row instead of failing or doubling it.
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL' &
BEGIN;
INSERT INTO sp_v2_transactions (transaction_id, merchant_id, amount_paise, transaction_date,
    transaction_timestamp, source_type) VALUES ('TXN0000000005', 'X', 1, '2025-10-01', now(), 'MANUAL');
SELECT pg_sleep(3);
COMMIT;
SQL
outsider=$!
sleep 1
out=$("$TOOL" "$URL" pg_transaction 1000 1)
wait $outsider
expect "$out" inserted=999 updated=1 unchanged=0
assert_eq 1000 "$(q 'SELECT count(*) FROM sp_v2_transactions')" "rows after the outsider"

echo "== bank statements from a driver that does not normalise: magnitude and CR/DR, or a record error"
# test_gen "signed" sends what a vendor's driver may: signed amounts, the
# indicator spelt D, Debit, Cr., dr, c, DEBIT., with blanks, contradicting
# the sign, or neither. The core applies bank_sftp's and bank_api's rule.
CFG=$CD_TEST_TMP/run.yaml
cd_write_config "$CFG" "$CD_TESTPLUGINS"
connector() {
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver)
       VALUES ('$1', 'BANK_API', 'SIGNED', '$2'::jsonb, 'test_gen') RETURNING id"
}
# run_gen ID: runs it for 2025-10-02; $out is the finished run's JSON.
run_gen() {
    set +e
    out=$("$CD_BUILD_DIR/bin/connectord" -c "$CFG" run "$1" --date 2025-10-02 2>"$CD_TEST_TMP/run.err")
    local rc=$?
    set -e
    [ $rc -eq 0 ] || cd_fail "connectord run $1 exited $rc: $out $(cat "$CD_TEST_TMP/run.err")"
}
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
rows() {
    q "SELECT string_agg(bank_ref || ':' || amount_paise || ':' || coalesce(debit_credit, '-'), ' '
                         ORDER BY bank_ref) FROM sp_v2_bank_statements WHERE bank_name = 'SIGNED'"
}
signed=$(connector signed '{"signed": 1, "bank": "SIGNED"}')
run_gen "$signed"
assert_eq "PARTIAL_SUCCESS|13|11|2|direct" \
    "$(jget '["status"]' <<<"$out")|$(jget '["records_processed"]' <<<"$out")|$(jget '["records_success"]' <<<"$out")|$(jget '["records_failed"]' <<<"$out")|$(jget '["details"]["load_path"]' <<<"$out")" \
    "status, records and load path of the signed run"
run1=$(jget '["id"]' <<<"$out")
assert_eq "SGN01:10000:DR SGN02:10000:DR SGN03:25000:DR SGN04:7550:CR SGN07:700:REV SGN08:1200:DR SGN09:0:DR SGN10:3000:CR SGN11:4000:DR SGN12:500:- SGN13:300:DR" \
    "$(rows)" "magnitudes and CR/DR as stored"
assert_eq "SGN05|debit_credit|debit_credit: 'CR' says credit, the amount '-20.00' says debit
SGN06|debit_credit|debit_credit: 'REV' is neither credit nor debit, and the amount '-1.00' is a debit: its direction would be lost (send C/CR/Credit, D/DR/Debit or nothing)" \
    "$(q "SELECT row_ref, field, reason FROM sp_v2_connector_record_errors WHERE run_id = $run1 ORDER BY row_ref")" \
    "contradicting or unknown indicators beside a debit are record errors naming debit_credit"
# Credits less debits, as reconciliation sums the table.
assert_eq "-38750" "$(q "SELECT sum(CASE debit_credit WHEN 'DR' THEN -amount_paise ELSE amount_paise END)
                       FROM sp_v2_bank_statements WHERE bank_name = 'SIGNED'")" "net of the statement"
run_gen "$signed"
assert_eq "0|0|11|merge" \
    "$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["details"]["updated"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")|$(jget '["details"]["load_path"]' <<<"$out")" \
    "the same records again: unchanged"
# A driver with no debit_credit column: a minus still says DR, and the
# merge writes the direction with the amount (SGN04 and SGN10 were CR,
# SGN02 was DR and is now a plain amount).
unsigned=$(connector unsigned '{"signed": 2, "bank": "SIGNED"}')
run_gen "$unsigned"
assert_eq "SUCCESS|1|3" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["details"]["updated"]' <<<"$out")" \
    "status, inserted and updated of the run without debit_credit"
assert_eq "SGN01:10000:DR SGN02:10000:- SGN03:25000:DR SGN04:7550:DR SGN07:700:REV SGN08:1200:DR SGN09:0:DR SGN10:3000:DR SGN11:4000:DR SGN12:500:- SGN13:300:DR SGN20:12345:DR" \
    "$(rows)" "directions after the load without debit_credit"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE amount_paise < 0")" "no negative bank amount"

echo "== through the runner: a download slower than the database's statement_timeout loads"
# 60 records 25 ms apart: the load's COPY is open for 1.5 s, past 1 s.
q "ALTER DATABASE connectord SET statement_timeout = '1s'" >/dev/null
slow=$(connector slow '{"rows": 60, "sleep_ms": 25, "bank": "SLOWBANK"}')
run_gen "$slow"
assert_eq "SUCCESS|60|direct" \
    "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["details"]["load_path"]' <<<"$out")" \
    "status, inserted and load path of the slow run"
q "ALTER DATABASE connectord RESET statement_timeout" >/dev/null

echo "== a SQL_ASCII database counts bytes: a value too long for it is a record error, not a failed load"
# PostgreSQL picks SQL_ASCII for a cluster initialised under the C locale.
# There VARCHAR(50) holds 50 bytes: 17 three-byte characters (51 bytes)
# fit in characters, not in bytes, and the server would refuse the COPY.
q "CREATE DATABASE cd_sqlascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >/dev/null
ASCII_URL=${URL/\/\/\/connectord/\/\/\/cd_sqlascii}
CONNECTORD_DATABASE_URL=$ASCII_URL "$CD_BUILD_DIR/bin/connectord" -c "$CD_TEST_TMP/c.yaml" migrate >/dev/null
set +e
out=$("$TOOL" "$ASCII_URL" pg_transaction 1000 1 --wide-every 100 2>"$CD_TEST_TMP/ascii.log")
rc=$?
set -e
assert_eq 0 "$rc" "load into the SQL_ASCII database ($(cat "$CD_TEST_TMP/ascii.log"))"
expect "$out" received=1000 rejected=10 staged=990 inserted=990
assert_contains "$(cat "$CD_TEST_TMP/ascii.log")" \
    "rejected row 0 [merchant_id]: merchant_id: longer than 50 bytes (17 characters; the database's encoding is SQL_ASCII, which counts bytes)" \
    "reject reason in a SQL_ASCII database"
assert_eq "990|0" "$(psql -X -q -At -d cd_sqlascii -c "SELECT count(*), count(*) FILTER (WHERE octet_length(merchant_id) > 50) FROM sp_v2_transactions")" \
    "rows loaded into the SQL_ASCII database, none cut short"
# A UTF8 database counts characters: the same rows all load, whole.
q "TRUNCATE sp_v2_transactions" >/dev/null
out=$("$TOOL" "$URL" pg_transaction 1000 1 --wide-every 100)
expect "$out" rejected=0 inserted=1000
assert_eq "10|17|51" "$(q "SELECT count(*), min(length(merchant_id)), min(octet_length(merchant_id)) FROM sp_v2_transactions WHERE merchant_id NOT LIKE 'M%'")" \
    "wide merchant ids whole in a UTF8 database"

echo "== a character a LATIN1 database cannot hold is a record error, not a failed load"
q "CREATE DATABASE cd_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >/dev/null
LATIN_URL=${URL/\/\/\/connectord/\/\/\/cd_latin1}
CONNECTORD_DATABASE_URL=$LATIN_URL "$CD_BUILD_DIR/bin/connectord" -c "$CD_TEST_TMP/c.yaml" migrate >/dev/null
# Every tenth merchant_id is Devanagari (not in LATIN1); every name has an e-acute (in it).
set +e
out=$("$TOOL" "$LATIN_URL" pg_transaction 1000 1 --wide-every 10 --latin-names 2>"$CD_TEST_TMP/latin.log")
rc=$?
set -e
assert_eq 0 "$rc" "load into the LATIN1 database ($(cat "$CD_TEST_TMP/latin.log"))"
expect "$out" received=1000 rejected=100 inserted=900
assert_contains "$(cat "$CD_TEST_TMP/latin.log")" "rejected row 0 [merchant_id]: merchant_id: '\\xE0\\xA4\\x95" \
    "the value in the reason"
assert_contains "$(cat "$CD_TEST_TMP/latin.log")" "has a character the database's encoding (LATIN1) cannot hold" \
    "reject reason in a LATIN1 database"
assert_eq "900" "$(psql -X -q -At -d cd_latin1 -c "SELECT count(*) FROM sp_v2_transactions WHERE position(chr(233) IN merchant_name) = 10")" \
    "names with an e-acute loaded whole"

echo "== client memory is flat in the number of rows"
q "TRUNCATE sp_v2_bank_statements" >/dev/null
small=$("$TOOL" "$URL" bank_statement 100000 11)
big=$("$TOOL" "$URL" bank_statement 1000000 12 --tz UTC)
expect "$big" inserted=900000 updated=100000
rss_small=$(field "$small" maxrss_kb) rss_big=$(field "$big" maxrss_kb)
echo "peak RSS: 100000 rows $rss_small KiB, 1000000 rows $rss_big KiB"
[ $((rss_big - rss_small)) -le 10240 ] || cd_fail "peak RSS grew from $rss_small to $rss_big KiB"

echo "PASS test_sink"
