#!/bin/bash
# test_sink_direct.sh — the sink's two paths against a real PostgreSQL: a
# first load goes straight into the target (direct COPY); a load the target
# refuses (a key already there, a key repeated within the run, a deadlock
# with a concurrent load), early or late in the stream, falls back to
# staging and a merge and still ends with exact counts and the same rows;
# both paths store identical values; rollback and kill leave nothing; and
# the merge stays linear after the target was analyzed empty (TRUNCATE).
# Drives tests/bench/sink_tool.c.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
TOOL=${SINK_TOOL:-$CD_BUILD_DIR/tests/sink_tool}
[ -x "$TOOL" ] || cd_fail "sink_tool not built at $TOOL"
pg_tmp_start
cd_write_config "$CD_TEST_TMP/c.yaml"
"$CD_BUILD_DIR/bin/connectord" -c "$CD_TEST_TMP/c.yaml" migrate >/dev/null
URL=$CD_DATABASE_URL
LOG=$CD_TEST_TMP/tool.log

field() { sed -E "s/.*\"$2\": ([0-9]+).*/\\1/" <<<"$1"; }
expect() {
    local json=$1 kv
    shift
    for kv in "$@"; do
        assert_eq "${kv#*=}" "$(field "$json" "${kv%%=*}")" "${kv%%=*} in $json"
    done
}
# tool ARGS...: runs sink_tool, its stderr (the sink's log) to $LOG.
tool() { "$TOOL" "$URL" "$@" 2>"$LOG"; }
# The loaded values, without what differs between two loads of the same
# rows (id, timestamps of the load, run id), in key order.
values() {
    q "SELECT md5(string_agg((to_jsonb(t) - 'id' - 'created_at' - 'updated_at' - 'loaded_by_run_id')::text,
                             '|' ORDER BY bank_name, bank_ref)) FROM sp_v2_bank_statements t"
}
tvalues() {
    q "SELECT md5(string_agg((to_jsonb(t) - 'id' - 'created_at' - 'updated_at' - 'loaded_by_run_id')::text,
                             '|' ORDER BY transaction_id)) FROM sp_v2_transactions t"
}
# Every row version of the table: equal means nothing was rewritten.
versions() { q "SELECT md5(string_agg(t::text || xmin::text, '|' ORDER BY id)) FROM $1 t"; }
count() { q "SELECT count(*) FROM $1"; }
reset() { q "TRUNCATE sp_v2_bank_statements, sp_v2_transactions" >/dev/null; }

echo "== a first load goes straight into the target"
out=$(tool bank_statement 5000 1)
expect "$out" direct=1 received=5000 staged=5000 inserted=5000 updated=0 unchanged=0 duplicates=0
assert_eq 5000 "$(q 'SELECT count(*) FROM sp_v2_bank_statements WHERE loaded_by_run_id = 42')" "rows with the run id"
assert_eq 0 "$(q "SELECT count(*) FROM pg_class WHERE relname LIKE 'cd_sink_stage%'")" "no staging table"
clean=$(values)
txn_out=$(tool pg_transaction 3000 1 --tz America/New_York)
expect "$txn_out" direct=1 inserted=3000
tclean=$(tvalues)

echo "== the same rows again: refused at once, merged, all unchanged, nothing rewritten"
before=$(versions sp_v2_bank_statements)
out=$(tool bank_statement 5000 1)
expect "$out" direct=0 inserted=0 updated=0 unchanged=5000 duplicates=0
assert_contains "$(cat "$LOG")" "refused the direct COPY" "fallback logged"
assert_contains "$(cat "$LOG")" "23505" "fallback reason"
assert_eq "$before" "$(versions sp_v2_bank_statements)" "table after an identical load"

echo "== both paths store the same values"
# Force the merge path for the same rows with one key already there.
reset
tool bank_statement 1 1 --from 4999 >/dev/null
out=$(tool bank_statement 5000 1)
expect "$out" direct=0 inserted=4999 unchanged=1
assert_eq "$clean" "$(values)" "values loaded through the merge = values loaded directly"
tool pg_transaction 1 1 --from 2999 --tz America/New_York >/dev/null
out=$(tool pg_transaction 3000 1 --tz America/New_York)
expect "$out" direct=0 inserted=2999 unchanged=1
assert_eq "$tclean" "$(tvalues)" "transactions (zone-less timestamps, defaults) through either path"

echo "== a conflict late in the stream, after several chunks"
# 10,000 bank rows are about 1.7 MB: the conflicting key comes after
# fifty 32 KiB chunks went in directly.
reset
tool bank_statement 1 9 --from 9000 >/dev/null # same key, other values
out=$(tool bank_statement 10000 1)
expect "$out" direct=0 received=10000 inserted=9999 updated=1 unchanged=0 duplicates=0
assert_eq 10000 "$(count sp_v2_bank_statements)" "rows after a late conflict"
late=$(values)
reset
tool bank_statement 10000 1 >/dev/null
assert_eq "$late" "$(values)" "a late fallback loads every row, the refused direct part included"

echo "== a conflict after the first direct COPY statements were completed"
# 40,000 rows are about 7 MB: past the 4 MB at which the direct COPY ends
# its first statement, so rows already accepted by the server must be
# rolled back and sent again from the spool.
reset
tool bank_statement 1 9 --from 39000 >/dev/null
out=$(tool bank_statement 40000 1)
expect "$out" direct=0 inserted=39999 updated=1 unchanged=0
assert_contains "$(cat "$LOG")" "refused the direct COPY after" "fallback logged"
assert_eq 40000 "$(count sp_v2_bank_statements)" "rows"
late=$(values)
reset
tool bank_statement 40000 1 >/dev/null
assert_eq "$late" "$(values)" "the rows of completed direct statements were sent again"

echo "== a key repeated late within the run: the last one wins"
reset
out=$(tool bank_statement 10000 1 --dup-at 9500)
expect "$out" direct=0 received=10001 staged=10001 duplicates=1 inserted=10000 updated=0 unchanged=0
# Row 0 came again with seed 2's values: loading seed 2 for it changes nothing.
out=$(tool bank_statement 1 2)
expect "$out" direct=0 unchanged=1
out=$(tool pg_transaction 2000 1 --dup-every 10)
expect "$out" direct=0 duplicates=200 inserted=2000

echo "== some keys there (some of them changed), some new: exact counts"
reset
tool bank_statement 6000 1 --alt-every 7 --alt-seed 3 >/dev/null
out=$(tool bank_statement 10000 1)
changed=$(( (6000 + 6) / 7 ))
expect "$out" direct=0 inserted=4000 updated=$changed unchanged=$((6000 - changed))
reset
tool bank_statement 10000 1 >/dev/null
want=$(values)
reset
tool bank_statement 6000 1 --alt-every 7 --alt-seed 3 >/dev/null
tool bank_statement 10000 1 >/dev/null
assert_eq "$want" "$(values)" "the merged table equals a clean load"

echo "== a rolled-back direct load leaves nothing"
reset
out=$(tool bank_statement 3000 1 --rollback)
expect "$out" direct=1 inserted=3000
assert_eq 0 "$(count sp_v2_bank_statements)" "rows after a rolled-back direct load"
tool bank_statement 3000 1 >/dev/null
before=$(versions sp_v2_bank_statements)
out=$(tool bank_statement 2000 1 --from 3000 --rollback)
expect "$out" direct=1 inserted=2000
assert_eq "$before" "$(versions sp_v2_bank_statements)" "table after a rolled-back direct load"

echo "== a direct load killed mid-stream leaves nothing"
set +e
"$TOOL" "$URL" bank_statement 30000 1 --from 100000 --kill-after 25000 >/dev/null 2>&1
rc=$?
set -e
assert_eq 137 "$rc" "killed load exit status"
sleep 0.5
assert_eq "$before" "$(versions sp_v2_bank_statements)" "table after a killed direct load"

echo "== two loads whose keys cross: a deadlock, a fallback, both end right"
# A loads keys 0..N-1 upwards, B the same keys downwards. Both send their
# first chunks (A holds key 0, B key N-1) and wait a second, then go on:
# each reaches the other's keys while the other is still loading, so the
# server must break a deadlock (40P01); the loser rolls back its direct
# part, merges after the winner commits, and finds every row there.
reset
N=20000
"$TOOL" "$URL" bank_statement $N 1 --pause-after 2000 >"$CD_TEST_TMP/a.json" 2>"$CD_TEST_TMP/a.log" &
pa=$!
"$TOOL" "$URL" bank_statement $N 1 --pause-after 2000 --reverse >"$CD_TEST_TMP/b.json" 2>"$CD_TEST_TMP/b.log" &
pb=$!
wait $pa || cd_fail "load A failed: $(cat "$CD_TEST_TMP/a.log")"
wait $pb || cd_fail "load B failed: $(cat "$CD_TEST_TMP/b.log")"
a=$(cat "$CD_TEST_TMP/a.json") b=$(cat "$CD_TEST_TMP/b.json")
echo "A: $a"
sed 's/^/   A log: /' "$CD_TEST_TMP/a.log"
echo "B: $b"
sed 's/^/   B log: /' "$CD_TEST_TMP/b.log"
# Usually one stays direct; both fall back when the loser's merge and the
# winner's COPY deadlock in turn. Never both direct: the keys are the same.
[ $(( $(field "$a" direct) + $(field "$b" direct) )) -le 1 ] || cd_fail "both loads stayed direct"
assert_eq $N $(( $(field "$a" inserted) + $(field "$b" inserted) )) "inserted by both"
assert_eq $N $(( $(field "$a" unchanged) + $(field "$b" unchanged) )) "unchanged by both"
assert_eq 0 $(( $(field "$a" updated) + $(field "$b" updated) )) "updated by both"
assert_contains "$(cat "$CD_TEST_TMP/a.log" "$CD_TEST_TMP/b.log")" "40P01" "the deadlock was met"
assert_eq $N "$(count sp_v2_bank_statements)" "rows after crossing loads"
assert_eq $N "$(q 'SELECT count(DISTINCT bank_ref) FROM sp_v2_bank_statements')" "distinct keys"

echo "== two loads of partly overlapping keys at once: no row lost"
reset
"$TOOL" "$URL" pg_transaction 20000 1 >"$CD_TEST_TMP/a.json" 2>"$CD_TEST_TMP/a.log" &
pa=$!
"$TOOL" "$URL" pg_transaction 20000 1 --from 10000 --reverse >"$CD_TEST_TMP/b.json" 2>"$CD_TEST_TMP/b.log" &
pb=$!
wait $pa || cd_fail "load A failed: $(cat "$CD_TEST_TMP/a.log")"
wait $pb || cd_fail "load B failed: $(cat "$CD_TEST_TMP/b.log")"
a=$(cat "$CD_TEST_TMP/a.json") b=$(cat "$CD_TEST_TMP/b.json")
assert_eq 30000 $(( $(field "$a" inserted) + $(field "$b" inserted) )) "inserted by both"
assert_eq 10000 $(( $(field "$a" unchanged) + $(field "$b" unchanged) )) "unchanged by both"
assert_eq 30000 "$(count sp_v2_transactions)" "rows after overlapping loads"

echo "== the same, on a database whose default isolation is REPEATABLE READ"
# The merge retries a key the other load inserted: only a fresh snapshot
# (READ COMMITTED, which connectord sets on each session) sees it.
reset
q "ALTER DATABASE connectord SET default_transaction_isolation = 'repeatable read'" >/dev/null
"$TOOL" "$URL" pg_transaction 20000 1 >"$CD_TEST_TMP/a.json" 2>"$CD_TEST_TMP/a.log" &
pa=$!
"$TOOL" "$URL" pg_transaction 20000 1 --from 10000 --reverse >"$CD_TEST_TMP/b.json" 2>"$CD_TEST_TMP/b.log" &
pb=$!
wait $pa || cd_fail "load A failed: $(cat "$CD_TEST_TMP/a.log")"
wait $pb || cd_fail "load B failed: $(cat "$CD_TEST_TMP/b.log")"
a=$(cat "$CD_TEST_TMP/a.json") b=$(cat "$CD_TEST_TMP/b.json")
assert_eq 30000 $(( $(field "$a" inserted) + $(field "$b" inserted) )) "inserted by both (repeatable read default)"
assert_eq 30000 "$(count sp_v2_transactions)" "rows after overlapping loads (repeatable read default)"
q "ALTER DATABASE connectord RESET default_transaction_isolation" >/dev/null

echo "== the merge after a TRUNCATE and an ANALYZE of the empty target"
# The planner then takes the target for empty and may rescan it in a
# nested loop once per staged row while the same statement inserts into
# it: quadratic. A refused direct COPY normally leaves dead pages that
# make the target look bigger; this throw-away trigger refuses it before
# any row (as a unique violation) so that the merge meets the target
# exactly as TRUNCATE and ANALYZE left it. The sink must turn nested loops
# off for such a merge.
q "CREATE FUNCTION test_refuse_copy() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN
     IF current_query() LIKE 'COPY sp_v2_transactions%' THEN
       RAISE unique_violation USING MESSAGE = 'test: the direct COPY refused';
     END IF;
     RETURN NULL;
   END \$\$" >/dev/null
q "CREATE TRIGGER test_refuse_copy BEFORE INSERT ON sp_v2_transactions
   FOR EACH STATEMENT EXECUTE FUNCTION test_refuse_copy()" >/dev/null
reset
q "ANALYZE sp_v2_transactions" >/dev/null
assert_eq "0 0" "$(q "SELECT reltuples::bigint || ' ' || relpages FROM pg_class WHERE relname = 'sp_v2_transactions'")" "stats of the empty target"
log_from=$(($(wc -l <"$PG_TMP_DIR/server.log") + 1))
t0=$(date +%s)
out=$(PGOPTIONS="-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0" \
    tool pg_transaction 40000 1)
t1=$(date +%s)
expect "$out" direct=0 inserted=40000 unchanged=0
assert_contains "$(cat "$LOG")" "test: the direct COPY refused" "the trigger refused the direct COPY"
echo "merge of 40000 rows into the emptied table: $((t1 - t0)) s (quadratic: minutes)"
# auto_explain's entry for the merge: from its query text to the next log line.
merge_plan=$(tail -n +"$log_from" "$PG_TMP_DIR/server.log" | awk '/Query Text: WITH u AS/ {on = 1; print; next} on && /^[0-9][0-9][0-9][0-9]-/ {on = 0} on')
assert_contains "$merge_plan" "Anti Join" "the merge's plan was logged"
assert_not_contains "$merge_plan" "Nested Loop" "the merge's plan"
[ $((t1 - t0)) -le 60 ] || cd_fail "the merge into the emptied table took $((t1 - t0)) s"
q "DROP TRIGGER test_refuse_copy ON sp_v2_transactions" >/dev/null

echo "PASS test_sink_direct"
