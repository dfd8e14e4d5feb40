#!/bin/bash
# bench_sink.sh — the sink's load of bank statements against psql \copy of
# the same rows. Prints numbers and ratios; never fails on a slow machine.
#
#   bash tests/bench/bench_sink.sh [ROWS]     (default 1000000)
#
# CD_SOURCE_DIR and CD_BUILD_DIR default to this checkout and its build/.
# (a) \copy from CSV into an empty sp_v2_bank_statements with its indexes,
# (b) the sink's first load into another empty identical table (another
#     database, so the sink's fixed target name can be used),
# (c) the sink's repeat load of the same rows (all unchanged).
# Goal: b/a <= 1.5, c/a <= 1.0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CD_SOURCE_DIR=${CD_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
CD_BUILD_DIR=${CD_BUILD_DIR:-$CD_SOURCE_DIR/build}
TOOL=${SINK_TOOL:-$CD_BUILD_DIR/tests/sink_tool}
N=${1:-1000000}
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
pg_tmp_start

psql -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE bench_copy" -c "CREATE DATABASE bench_sink"
url_copy="postgresql:///bench_copy?host=$PGHOST&user=$PGUSER"
url_sink="postgresql:///bench_sink?host=$PGHOST&user=$PGUSER"
# Both target tables exactly as connectord's migrations make them, indexes
# included.
for url in "$url_copy" "$url_sink"; do
    printf 'database:\n  url: "%s"\n' "$url" >"$CD_TEST_TMP/m.yaml"
    "$CD_BUILD_DIR/bin/connectord" -c "$CD_TEST_TMP/m.yaml" migrate >/dev/null
done

csv="$CD_TEST_TMP/bank.csv"
"$TOOL" "$url_sink" bank_statement "$N" 1 --csv "$csv"
chmod 644 "$csv"
cols="bank_ref, bank_name, amount_paise, transaction_date, value_date, utr, rrn, remarks, debit_credit, net_amount_paise, source_file, batch_id, source_type"

now() { date +%s.%N; }
psql -X -q -d bench_copy -c "CHECKPOINT" -d bench_sink -c "CHECKPOINT" >/dev/null
t0=$(now)
psql -X -q -v ON_ERROR_STOP=1 -d bench_copy \
    -c "\\copy sp_v2_bank_statements($cols) FROM '$csv' CSV"
t1=$(now)
psql -X -q -c "CHECKPOINT" >/dev/null
t2=$(now)
first=$("$TOOL" "$url_sink" bank_statement "$N" 1)
t3=$(now)
psql -X -q -c "CHECKPOINT" >/dev/null
t4=$(now)
again=$("$TOOL" "$url_sink" bank_statement "$N" 1)
t5=$(now)

a=$(echo "$t1 - $t0" | bc -l); b=$(echo "$t3 - $t2" | bc -l); c=$(echo "$t5 - $t4" | bc -l)
printf 'rows: %s\n' "$N"
printf '(a) psql \\copy CSV into empty table:  %8.3f s\n' "$a"
printf '(b) sink first load:                  %8.3f s   b/a = %.2f   %s\n' "$b" "$(echo "$b / $a" | bc -l)" "$first"
printf '(c) sink repeat load (unchanged):     %8.3f s   c/a = %.2f   %s\n' "$c" "$(echo "$c / $a" | bc -l)" "$again"
assert_eq "$(psql -X -At -d bench_copy -c 'SELECT count(*) FROM sp_v2_bank_statements')" \
    "$(psql -X -At -d bench_sink -c 'SELECT count(*) FROM sp_v2_bank_statements')" "row counts of (a) and (b)"
