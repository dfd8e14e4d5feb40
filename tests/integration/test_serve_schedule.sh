#!/usr/bin/env bash
# The scheduler in `connectord serve`, on a controllable clock: three
# workers and 200 connectors due in the same minute give exactly 200 runs,
# each executed once; catch-up after downtime gives one run per missed
# business date, oldest first, never before creation or resumption (nor
# after a resumption the worker has not reloaded); a slot in a skipped DST
# hour runs right after the change, for the business date of its own day.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
pg_tmp_start
trap 'serve_stop_all; pg_tmp_stop' EXIT
CD="$CD_BUILD_DIR/bin/connectord"
NOW="$CD_TEST_TMP/now"
export CONNECTORD_TEST_NOW_FILE="$NOW"
set_now() { date -u -d "$1" +%s >"$NOW"; }

echo "== exactly once: 3 workers, 200 connectors due at 02:00 IST"
serve_config "$CD_TEST_TMP/a/connectord.yaml" "scheduler:" "  catchup_window: 1m"
"$CD" -c "$CD_TEST_TMP/a/connectord.yaml" migrate >/dev/null
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null # the default connector stays out
q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver,
     schedule_cron, schedule_timezone, created_at)
   SELECT 'c' || g, 'BANK_API', 'B' || g, jsonb_build_object('rows', 2, 'seed', g, 'bank', 'BANK' || g),
     'test_gen', '0 2 * * *', 'Asia/Kolkata', '2020-01-01'
   FROM generate_series(1, 200) g" >/dev/null
set_now "2026-03-09T20:29:50Z"   # 01:59:50 IST on 2026-03-10
serve_start w1 "$CD_TEST_TMP/a/connectord.yaml"
serve_start w2 "$CD_TEST_TMP/a/connectord.yaml"
serve_start w3 "$CD_TEST_TMP/a/connectord.yaml"
sleep 2
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_runs")" "nothing before the slot"
set_now "2026-03-09T20:30:03Z"
wait_for "SELECT count(*) = 200 FROM sp_v2_connector_runs WHERE status = 'SUCCESS'" 120 "200 runs done"
sleep 2
assert_eq 200 "$(q "SELECT count(*) FROM sp_v2_connector_runs")" "exactly one run per connector"
assert_eq 200 "$(q "SELECT count(DISTINCT connector_id) FROM sp_v2_connector_runs")" "one per connector"
assert_eq "2026-03-09 20:30:00+00|2026-03-09|SCHEDULED|200" \
    "$(q "SELECT slot_time AT TIME ZONE 'UTC' || '+00', run_date, run_type, count(*) FROM sp_v2_connector_runs GROUP BY 1, 2, 3")" \
    "slot in UTC and business date T-1 in Asia/Kolkata"
assert_eq 200 "$(q "SELECT count(*) FROM sp_v2_connector_run_attempts WHERE attempt = 1 AND status = 'SUCCESS'")" "each executed once"
assert_eq 400 "$(q "SELECT count(*) FROM sp_v2_bank_statements")" "rows of every run"
workers=$(q "SELECT count(DISTINCT worker_id) FROM sp_v2_connector_runs")
echo "runs were spread over $workers worker(s)"
serve_stop w1; serve_stop w2; serve_stop w3

echo "== empty runs, settled by the workers in batches: counters, attempts and logs per run"
# Runs that load nothing are finalized by their worker, many in one
# statement, with the log lines of many runners in another: each run must
# still get its own counters, attempt row and log lines.
q "UPDATE sp_v2_connectors SET schedule_enabled = false WHERE name LIKE 'c%'" >/dev/null
q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver,
     schedule_cron, schedule_timezone, created_at)
   SELECT 'e' || g, 'BANK_API', 'E' || g, jsonb_build_object('rows', 0, 'log_tag', 'E' || g),
     'test_gen', '0 3 * * *', 'Asia/Kolkata', '2020-01-01'
   FROM generate_series(1, 150) g" >/dev/null
serve_start w1 "$CD_TEST_TMP/a/connectord.yaml"
serve_start w2 "$CD_TEST_TMP/a/connectord.yaml"
set_now "2026-03-09T21:30:02Z"   # 03:00:02 IST
wait_for "SELECT count(*) = 150 FROM sp_v2_connector_runs r JOIN sp_v2_connectors c ON c.id = r.connector_id
          WHERE c.name LIKE 'e%' AND r.status = 'SUCCESS'" 60 "150 empty runs done"
serve_stop w1; serve_stop w2
assert_eq "150|0" "$(q "SELECT count(*), sum((r.details->>'runner_db_connections')::int)
    FROM sp_v2_connector_runs r JOIN sp_v2_connectors c ON c.id = r.connector_id WHERE c.name LIKE 'e%'")" \
    "settled by the workers (no runner connected)"
assert_eq "150" "$(q "SELECT count(*) FROM sp_v2_connectors c WHERE c.name LIKE 'e%'
    AND c.total_runs = 1 AND c.success_count = 1 AND c.failure_count = 0
    AND c.last_run_status = 'SUCCESS' AND c.last_run_at IS NOT NULL AND c.status = 'ACTIVE'")" \
    "each connector counted its one run"
assert_eq "150" "$(q "SELECT count(*) FROM sp_v2_connector_run_attempts a JOIN sp_v2_connector_runs r ON r.id = a.run_id
    JOIN sp_v2_connectors c ON c.id = r.connector_id WHERE c.name LIKE 'e%' AND a.attempt = 1 AND a.status = 'SUCCESS'")" \
    "one attempt row per run"
assert_eq "150|150" "$(q "SELECT count(*), count(*) FILTER (WHERE l.message = 'tag ' || c.source_entity)
    FROM sp_v2_connector_run_logs l JOIN sp_v2_connector_runs r ON r.id = l.run_id
    JOIN sp_v2_connectors c ON c.id = r.connector_id WHERE c.name LIKE 'e%' AND l.message LIKE 'tag %'")" \
    "each run's log line stored under that run"
q "DELETE FROM sp_v2_connectors WHERE name LIKE 'e%'" >/dev/null

echo "== catch-up: one run per missed business date, oldest first"
q "DELETE FROM sp_v2_connector_runs; DELETE FROM sp_v2_connectors WHERE name LIKE 'c%'" >/dev/null
serve_config "$CD_TEST_TMP/b/connectord.yaml" "scheduler:" "  catchup_window: 48h"
add() { # name created_at resumed_at status cron tz
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver,
         schedule_cron, schedule_timezone, created_at, resumed_at, status)
       VALUES ('$1', 'BANK_API', '$1', '{\"rows\": 1, \"seed\": 1, \"bank\": \"$1\"}', 'test_gen',
               '$5', '$6', '$2', $3, '$4') RETURNING id"
}
old=$(add old 2020-01-01 NULL ACTIVE '0 * * * *' Asia/Kolkata)
new=$(add new '2026-03-10T05:45:00Z' NULL ACTIVE '0 * * * *' Asia/Kolkata)
res=$(add resumed 2020-01-01 "'2026-03-10T06:10:00Z'" ACTIVE '0 * * * *' Asia/Kolkata)
paused=$(add paused 2020-01-01 NULL PAUSED '0 * * * *' Asia/Kolkata)
set_now "2026-03-10T06:30:20Z"   # 12:00:20 IST
serve_start w1 "$CD_TEST_TMP/b/connectord.yaml"
wait_for "SELECT count(*) = 5 FROM sp_v2_connector_runs WHERE status = 'SUCCESS'" 60 "catch-up runs"
assert_eq "2026-03-07,2026-03-08,2026-03-09" \
    "$(q "SELECT string_agg(run_date::text, ',' ORDER BY id) FROM sp_v2_connector_runs WHERE connector_id = $old")" \
    "one run per missed date, queued oldest first"
assert_eq "2026-03-08 17:30:00,2026-03-09 17:30:00,2026-03-10 06:30:00" \
    "$(q "SELECT string_agg((slot_time AT TIME ZONE 'UTC')::text, ',' ORDER BY id) FROM sp_v2_connector_runs WHERE connector_id = $old")" \
    "the latest slot of each date"
assert_eq "2026-03-09" "$(q "SELECT string_agg(run_date::text, ',') FROM sp_v2_connector_runs WHERE connector_id = $new")" "nothing before creation"
assert_eq "2026-03-09" "$(q "SELECT string_agg(run_date::text, ',') FROM sp_v2_connector_runs WHERE connector_id = $res")" "nothing before resumption"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id = $paused")" "paused never scheduled"
set_now "2026-03-10T07:30:10Z"   # 13:00 IST: the next hourly slot
wait_for "SELECT count(*) = 8 FROM sp_v2_connector_runs WHERE status = 'SUCCESS'" 60 "the next slot"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id = $paused")" "paused still never scheduled"

echo "== DST: a 02:30 job on the spring-forward day runs right after the change"
ny=$(add ny 2020-01-01 NULL ACTIVE '30 2 * * *' America/New_York)
set_now "2026-03-08T06:59:00Z"   # 01:59 EST
serve_stop w1
serve_config "$CD_TEST_TMP/c/connectord.yaml" "scheduler:" "  catchup_window: 1m"
serve_start w1 "$CD_TEST_TMP/c/connectord.yaml"
sleep 1.5
set_now "2026-03-08T07:00:30Z"   # 03:00:30 EDT
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_runs WHERE connector_id = $ny" 30 "the DST slot"
assert_eq "2026-03-08 07:00:00|2026-03-07" \
    "$(q "SELECT slot_time AT TIME ZONE 'UTC', run_date FROM sp_v2_connector_runs WHERE connector_id = $ny")" \
    "fired at the transition, for T-1 local"
echo "== DST past midnight: America/Nuuk's 23:30 slot runs at 00:00 and is still the day before's"
# 2026-03-29 01:00Z: 23:00 -02 on 03-28 becomes 00:00 -01 on 03-29. The
# 23:30 slot of 03-28 runs at the jump; its T is 03-28, so it runs 03-27
# (by the jump's own date it ran 03-28, which 03-29's slot runs again, and
# 03-27 was never run).
nuuk=$(add nuuk 2020-01-01 NULL ACTIVE '30 23 * * *' America/Nuuk)
set_now "2026-03-29T00:59:00Z"   # 22:59 -02 on 03-28
sleep 1.5
set_now "2026-03-29T01:00:30Z"   # 00:00:30 -01 on 03-29
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_runs WHERE connector_id = $nuuk" 30 "the Nuuk slot"
assert_eq "2026-03-29 01:00:00|2026-03-27" \
    "$(q "SELECT slot_time AT TIME ZONE 'UTC', run_date FROM sp_v2_connector_runs WHERE connector_id = $nuuk")" \
    "the 23:30 slot of 03-28, for 03-27"
echo "== no catch-up at all (window 0): a worker that starts on its slot's very second still runs it"
serve_stop w1
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
edge=$(add edge 2020-01-01 NULL ACTIVE '0 4 * * *' Asia/Kolkata)
set_now "2026-03-09T22:30:00Z"   # 04:00:00 IST exactly
serve_config "$CD_TEST_TMP/d/connectord.yaml" "scheduler:" "  catchup_window: 0"
serve_start w1 "$CD_TEST_TMP/d/connectord.yaml"
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_runs WHERE connector_id = $edge" 30 "the slot due as the worker started"
assert_eq "2026-03-09 22:30:00|2026-03-09" \
    "$(q "SELECT slot_time AT TIME ZONE 'UTC', run_date FROM sp_v2_connector_runs WHERE connector_id = $edge")" \
    "the 04:00 IST slot, for T-1"

echo "== one connector's stored policy, a creation just before the slot, a failed enqueue: no slot lost"
serve_stop w1
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
# Values the API refuses but a hand edit can store: they used to fail the
# statements that schedule every connector ("integer out of range").
pol() { # name config created_at
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver,
         schedule_cron, schedule_timezone, created_at)
       VALUES ('$1', 'BANK_API', '$1', '$2', 'test_gen', '0 5 * * *', 'Asia/Kolkata', '$3') RETURNING id"
}
good=$(pol good '{"rows": 0}' 2020-01-01)
huge_days=$(pol huge_days '{"rows": 0, "sync_days_back": 1e10}' 2020-01-01)
huge_retry=$(pol huge_retry '{"rows": 0, "auto_retry": true, "retry_count": 1e10}' 2020-01-01)
word_retry=$(pol word_retry '{"rows": 0, "auto_retry": "yes"}' 2020-01-01)
# Created 0.4 s before its 05:00 IST slot: a rounded creation time was
# 05:00:00, and the slot counted as "before creation".
late=$(pol late '{"rows": 0}' '2026-03-09T23:29:59.6Z')
# Every scheduled insert fails until the constraint is dropped: the worker
# keeps offering its due slots, though the window (1m) is shorter than the
# time the slots wait.
q "ALTER TABLE sp_v2_connector_runs ADD CONSTRAINT test_block_scheduled
     CHECK (run_type <> 'SCHEDULED') NOT VALID" >/dev/null
set_now "2026-03-09T23:29:50Z"   # 04:59:50 IST
serve_config "$CD_TEST_TMP/e/connectord.yaml" "scheduler:" "  catchup_window: 1m"
serve_start w1 "$CD_TEST_TMP/e/connectord.yaml"
sleep 1.5
set_now "2026-03-09T23:30:01Z"   # 05:00:01 IST
sleep 3
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id IN ($good, $huge_days, $huge_retry, $word_retry, $late)")" \
    "nothing queued while the insert fails"
set_now "2026-03-09T23:31:30Z"   # 05:01:30 IST: the slot is older than the window now
sleep 1.5
q "ALTER TABLE sp_v2_connector_runs DROP CONSTRAINT test_block_scheduled" >/dev/null
set_now "2026-03-09T23:31:32Z"   # the next tick (the test clock only moves when told)
wait_for "SELECT count(*) = 5 FROM sp_v2_connector_runs WHERE connector_id IN ($good, $huge_days, $huge_retry, $word_retry, $late) AND status = 'SUCCESS'" 30 \
    "every connector's 05:00 slot, once the insert works"
assert_eq "good|2026-03-09|1,huge_days|2016-03-12|1,huge_retry|2026-03-09|11,late|2026-03-09|1,word_retry|2026-03-09|1" \
    "$(q "SELECT string_agg(c.name || '|' || r.run_date || '|' || r.max_attempts, ',' ORDER BY c.name)
          FROM sp_v2_connector_runs r JOIN sp_v2_connectors c ON c.id = r.connector_id
         WHERE c.id IN ($good, $huge_days, $huge_retry, $word_retry, $late)")" \
    "policies clamped (3650 days back, 10 retries), a word is not a boolean"
assert_eq 5 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id IN ($good, $huge_days, $huge_retry, $word_retry, $late) AND slot_time = '2026-03-09T23:30:00Z'")" \
    "all for the 05:00 IST slot"

echo "== paused and resumed while the worker did not tick: no slot from before the resumption"
# The worker read the schedules at 04:59:50 IST; its connection is down
# (here: the test clock does not move) over the 05:00 slot, while another
# host pauses and resumes the connector by hand (no NOTIFY). Its first tick
# after the resumption must not enqueue the 05:00 slot, which fell in the
# pause: a reload would not have, and neither may the slots it kept.
serve_stop w1
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
pr=$(pol paused_resumed '{"rows": 0}' 2020-01-01)
set_now "2026-03-10T23:29:50Z"   # 04:59:50 IST on 03-11
serve_start w1 "$CD_TEST_TMP/e/connectord.yaml"
sleep 1.5
q "UPDATE sp_v2_connectors SET status = 'PAUSED', paused_at = '2026-03-10T23:29:55Z' WHERE id = $pr" >/dev/null
q "UPDATE sp_v2_connectors SET status = 'ACTIVE', resumed_at = '2026-03-10T23:30:20Z' WHERE id = $pr" >/dev/null
set_now "2026-03-10T23:30:30Z"   # 05:00:30 IST
sleep 1.5
set_now "2026-03-10T23:30:32Z"
sleep 1.5
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id = $pr")" \
    "the 05:00 slot, inside the pause, is not run after the resumption"
set_now "2026-03-11T23:30:05Z"   # 05:00:05 IST the next day
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_runs WHERE connector_id = $pr AND status = 'SUCCESS'" 30 \
    "the next day's slot runs"
assert_eq "2026-03-11 23:30:00|2026-03-11" \
    "$(q "SELECT slot_time AT TIME ZONE 'UTC', run_date FROM sp_v2_connector_runs WHERE connector_id = $pr")" \
    "the first slot after the resumption"

echo "== a failed enqueue whose connector is then paused does not widen later catch-ups"
# The 05:00 slot's insert fails; the operator pauses that connector, so the
# worker has nothing left to enqueue. A connector whose schedule never ran
# (created long ago, by hand) must then be caught up within the window
# (1m) only: the worker used to keep the failed slot's time as the start of
# every later catch-up, until some other slot was enqueued.
serve_stop w1
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
blocked=$(pol blocked '{"rows": 0}' 2020-01-01)
q "ALTER TABLE sp_v2_connector_runs ADD CONSTRAINT test_block_scheduled
     CHECK (run_type <> 'SCHEDULED') NOT VALID" >/dev/null
set_now "2026-03-12T23:29:50Z"   # 04:59:50 IST on 03-13
serve_start w1 "$CD_TEST_TMP/e/connectord.yaml"
sleep 1.5
set_now "2026-03-12T23:30:01Z"   # 05:00:01 IST: the insert fails
sleep 1.5
q "UPDATE sp_v2_connectors SET status = 'PAUSED' WHERE id = $blocked" >/dev/null
q "SELECT pg_notify('connectord_connectors', '$blocked')" >/dev/null
set_now "2026-03-12T23:30:03Z"   # the next tick: nothing left to enqueue
sleep 1.5
q "ALTER TABLE sp_v2_connector_runs DROP CONSTRAINT test_block_scheduled" >/dev/null
fresh=$(pol never_ran '{"rows": 0}' 2020-01-01)
set_now "2026-03-15T00:00:00Z"   # 05:30 IST on 03-15: its 05:00 slot is older than the window
sleep 1.5
set_now "2026-03-15T00:00:02Z"
sleep 1.5
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id IN ($blocked, $fresh)")" \
    "no catch-up beyond the window"
serve_stop w1

echo "== a schedule that cannot be used is logged once, not at every reload"
# A zone and a cron stored by hand that the API would refuse: each worker
# re-reads the schedules every minute and after every edit, and said so
# each time (1440 lines a day per worker and connector).
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
badzone=$(pol bad_zone '{"rows": 0}' 2020-01-01)
q "UPDATE sp_v2_connectors SET schedule_timezone = 'Nowhere/Atlantis' WHERE id = $badzone" >/dev/null
never=$(pol never_due '{"rows": 0}' 2020-01-01)
q "UPDATE sp_v2_connectors SET schedule_cron = '0 0 30 2 *' WHERE id = $never" >/dev/null
set_now "2026-03-16T00:00:00Z"
serve_start w1 "$CD_TEST_TMP/e/connectord.yaml"
for m in 02 04 06; do
    set_now "2026-03-16T00:${m}:00Z"   # a reload each
    q "SELECT pg_notify('connectord_connectors', '$badzone')" >/dev/null
    sleep 1.2
done
assert_eq "1|1" "$(grep -c "connector $badzone: schedule_timezone 'Nowhere/Atlantis' is not a known zone" "$CD_TEST_TMP/serve-w1.log")|$(grep -c "connector $never: no slot within" "$CD_TEST_TMP/serve-w1.log")" \
    "each said once"
q "UPDATE sp_v2_connectors SET schedule_timezone = 'Nowhere/Lemuria' WHERE id = $badzone" >/dev/null
set_now "2026-03-16T00:08:00Z"
sleep 1.5
assert_eq 1 "$(grep -c "connector $badzone: schedule_timezone 'Nowhere/Lemuria' is not a known zone" "$CD_TEST_TMP/serve-w1.log")" \
    "a different problem is said"
serve_stop w1

echo "scheduler checks passed"
