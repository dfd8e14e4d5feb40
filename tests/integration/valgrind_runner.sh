#!/usr/bin/env bash
# valgrind over `connectord run` and the `exec-run` child it spawns (the
# runner, the sink, the loader and a driver): no invalid access, no
# definite leak, in either process. Registered for the release build only
# (valgrind and ASan do not mix).
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
pg_tmp_start
CD="$CD_BUILD_DIR/bin/connectord"
CFG="$CD_TEST_TMP/connectord.yaml"
cd_write_config "$CFG" "$CD_TESTPLUGINS"
"$CD" -c "$CFG" migrate >/dev/null
id=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver)
        VALUES ('vg', 'BANK_API', 'VGBANK', '{\"rows\": 3000, \"seed\": 5, \"bad_every\": 500, \"driver_error_every\": 700}', 'test_gen') RETURNING id")
VG=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --trace-children=yes --child-silent-after-fork=yes
    --log-file="$CD_TEST_TMP/vg.%p.log")
set +e
out=$("${VG[@]}" "$CD" -c "$CFG" run "$id" --date 2025-10-02 --timeout 300)
rc=$?
set -e
cat "$CD_TEST_TMP"/vg.*.log >&2 || true
assert_eq 0 "$rc" "exit code under valgrind (99 means valgrind found errors)"
assert_contains "$out" '"status": "PARTIAL_SUCCESS"' "the run itself"
for f in "$CD_TEST_TMP"/vg.*.log; do
    [ -s "$f" ] && cd_fail "valgrind reported problems in $(basename "$f")"
done
# Again with a test run and a failing driver path.
set +e
"${VG[@]}" "$CD" -c "$CFG" run "$id" --type TEST >/dev/null
rc=$?
set -e
assert_eq 0 "$rc" "test run under valgrind"
for f in "$CD_TEST_TMP"/vg.*.log; do
    [ -s "$f" ] && cd_fail "valgrind reported problems in $(basename "$f")"
done
echo "valgrind runner checks passed"
