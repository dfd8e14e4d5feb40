#!/usr/bin/env bash
# The sink at scale, through the real runner: 1,000,000 generated records
# load in one run with a runner peak memory that does not grow with the
# count (compared with a 100,000-record run), and loading the same records
# again changes nothing and says so. The sanitizer build uses a tenth.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
pg_tmp_start
CD="$CD_BUILD_DIR/bin/connectord"
CFG="$CD_TEST_TMP/connectord.yaml"
cd_write_config "$CFG" "$CD_TESTPLUGINS"
"$CD" -c "$CFG" migrate >/dev/null

BIG=1000000
[ "${CD_SANITIZE:-OFF}" = ON ] && BIG=100000
SMALL=$((BIG / 10))
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

small=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver)
           VALUES ('small', 'BANK_API', 'SMALLBANK', '{\"rows\": $SMALL, \"seed\": 1}', 'test_gen') RETURNING id")
big=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver)
         VALUES ('big', 'BANK_API', 'BIGBANK', '{\"rows\": $BIG, \"seed\": 2}', 'test_gen') RETURNING id")

out=$("$CD" -c "$CFG" run "$small" --date 2025-10-02)
rss_small=$(jget '["details"]["runner_peak_rss_kb"]' <<<"$out")
# The small run loads REF0.. under TESTBANK; the big one loads the same keys
# and more, so move the small rows aside to count the big run cleanly.
q "DELETE FROM sp_v2_bank_statements" >/dev/null

out=$("$CD" -c "$CFG" run "$big" --date 2025-10-02)
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "big run status"
assert_eq "$BIG" "$(jget '["details"]["inserted"]' <<<"$out")" "inserted"
assert_eq direct "$(jget '["details"]["load_path"]' <<<"$out")" "a first load goes straight into the target"
assert_eq "$BIG" "$(q "SELECT count(*) FROM sp_v2_bank_statements")" "rows in the table"
rss_big=$(jget '["details"]["runner_peak_rss_kb"]' <<<"$out")
echo "runner peak RSS: $SMALL rows ${rss_small} kB, $BIG rows ${rss_big} kB"
# Flat: ten times the records may not cost more than 16 MB more.
[ $((rss_big - rss_small)) -le 16384 ] || cd_fail "peak memory grew from ${rss_small} kB to ${rss_big} kB"

sum_before=$(q "SELECT sum(amount_paise), md5(string_agg(bank_ref || ':' || amount_paise, ',' ORDER BY bank_ref)) FROM sp_v2_bank_statements")
out=$("$CD" -c "$CFG" run "$big" --date 2025-10-02)
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "repeat status"
assert_eq 0 "$(jget '["details"]["inserted"]' <<<"$out")" "inserted on repeat"
assert_eq 0 "$(jget '["details"]["updated"]' <<<"$out")" "updated on repeat"
assert_eq "$BIG" "$(jget '["details"]["unchanged"]' <<<"$out")" "unchanged on repeat"
assert_eq merge "$(jget '["details"]["load_path"]' <<<"$out")" "a repeat falls back to the merge"
assert_eq "$sum_before" "$(q "SELECT sum(amount_paise), md5(string_agg(bank_ref || ':' || amount_paise, ',' ORDER BY bank_ref)) FROM sp_v2_bank_statements")" "table identical after repeat"
echo "sink scale checks passed"
