#!/usr/bin/env bash
# SIGHUP rescans the plugin directory without dropping running runs: a
# driver dropped in afterwards is picked up, a run in progress finishes.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
pg_tmp_start
trap 'serve_stop_all; pg_tmp_stop' EXIT
CD="$CD_BUILD_DIR/bin/connectord"
PLUGINS="$CD_TEST_TMP/plugins"
mkdir -p "$PLUGINS"
cp "$CD_TESTPLUGINS/test_gen.so" "$PLUGINS/"
SERVE_PLUGINS="$PLUGINS" serve_config "$CD_TEST_TMP/w/connectord.yaml"
CFG="$CD_TEST_TMP/w/connectord.yaml"
"$CD" -c "$CFG" migrate >/dev/null
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
serve_start w1 "$CFG"
LOG="$CD_TEST_TMP/serve-w1.log"
assert_contains "$(cat "$LOG")" "plugins: 1 driver loaded" "one driver at start"

slow=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver)
          VALUES ('slow', 'BANK_API', 'S', '{\"rows\": 20, \"seed\": 1, \"bank\": \"SLOW\", \"sleep_ms\": 200}', 'test_gen') RETURNING id")
id=$(q "WITH r AS (INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status) VALUES ($slow, 'MANUAL', '2025-10-02', 'QUEUED') RETURNING id) SELECT id FROM r, pg_notify('connectord_queue', 'x')")
wait_for "SELECT status = 'RUNNING' FROM sp_v2_connector_runs WHERE id = $id" 10 "slow run running"

cp "$CD_TESTPLUGINS/leaker.so" "$PLUGINS/"
kill -HUP "${SERVE_PID[w1]}"
wait_log w1 "plugins: 2 drivers loaded"
kill -0 "${SERVE_PID[w1]}" || cd_fail "worker died on SIGHUP"
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 30 "the running run finished"
assert_eq 20 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'SLOW'")" "its rows"

leak=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver)
          VALUES ('leak', 'BANK_API', 'L', '{}', 'leaker') RETURNING id")
id=$(q "WITH r AS (INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status) VALUES ($leak, 'MANUAL', '2025-10-02', 'QUEUED') RETURNING id) SELECT id FROM r, pg_notify('connectord_queue', 'x')")
ASAN_OPTIONS=detect_leaks=0 wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 20 "a run of the new driver"
echo "== SIGHUP reloads the configuration; a broken file changes nothing"
printf 'workers:\n  max_concurrent_runs: 2\n' >"$CD_TEST_TMP/w/conf.d/60-more.yaml"
kill -HUP "${SERVE_PID[w1]}"
wait_log w1 "configuration reloaded"
printf 'workers: [unclosed\n' >"$CD_TEST_TMP/w/conf.d/70-broken.yaml"
kill -HUP "${SERVE_PID[w1]}"
wait_log w1 "configuration not reloaded: $CD_TEST_TMP/w/conf.d/70-broken.yaml"
kill -0 "${SERVE_PID[w1]}" || cd_fail "worker died on a broken configuration"
id=$(q "WITH r AS (INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status) VALUES ($leak, 'MANUAL', '2025-10-03', 'QUEUED') RETURNING id) SELECT id FROM r, pg_notify('connectord_queue', 'x')")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 20 "runs go on after a failed reload"
echo "== the live directory reaches runs only through SIGHUP"
queue_run() { q "WITH r AS (INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status) VALUES ($1, 'MANUAL', '$2', 'QUEUED') RETURNING id) SELECT id FROM r, pg_notify('connectord_queue', 'x')"; }
cp "$PLUGINS/test_gen.so" "$CD_TEST_TMP/test_gen.so.good"
# An ops copy in progress: the file overwritten in place, half written.
head -c 1000 "$CD_TEST_TMP/test_gen.so.good" >"$PLUGINS/test_gen.so"
id=$(queue_run "$slow" 2025-10-05)
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 30 "a run with the accepted copy despite the broken live file"
kill -HUP "${SERVE_PID[w1]}"
wait_log w1 "plugin test_gen.so refused"
id=$(queue_run "$slow" 2025-10-06)
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 30 "no test_gen after accepting the broken file"
assert_contains "$(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")" "no driver named 'test_gen'" "why"
cp "$CD_TEST_TMP/test_gen.so.good" "$PLUGINS/.test_gen.so.new" && mv "$PLUGINS/.test_gen.so.new" "$PLUGINS/test_gen.so"
kill -HUP "${SERVE_PID[w1]}"
sleep 0.5
wait_log w1 "configuration reloaded"
id=$(queue_run "$slow" 2025-10-07)
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 30 "a run after the fixed file was accepted"
echo "reload checks passed"
