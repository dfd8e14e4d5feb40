#!/usr/bin/env bash
# Schedules edited mid-day and retried catch-up dates, on a controllable
# clock against a real PostgreSQL:
# - a cron moved later (02:00 -> 06:00 at 10:00) or a zone changed does not
#   run yesterday's business date a second time (021);
# - a cron moved earlier (06:00 -> 02:00 at 03:00) still runs the date its
#   new slot had already passed, since that date never ran;
# - caught-up dates finish oldest first even when the oldest one's first
#   attempt fails and waits for its retry (022).
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
source "$CD_SOURCE_DIR/tests/lib/api.sh"
pg_tmp_start
trap 'serve_stop_all; pg_tmp_stop' EXIT
CD="$CD_BUILD_DIR/bin/connectord"
NOW="$CD_TEST_TMP/now"
export CONNECTORD_TEST_NOW_FILE="$NOW"
set_now() { date -u -d "$1" +%s >"$NOW"; }
SERVE_PLUGINS="$CD_TEST_TMP/plugins"
api_plugins_dir "$SERVE_PLUGINS"
CFG="$CD_TEST_TMP/a/connectord.yaml"
serve_config "$CFG" "scheduler:" "  catchup_window: 72h" "retry:" "  base_seconds: 2" "  max_seconds: 2"
"$CD" -c "$CFG" migrate >/dev/null
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
add() { # name cron zone created-at [config]
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver,
         schedule_cron, schedule_timezone, created_at)
       VALUES ('$1', 'BANK_API', '$1', '${5:-{\"rows\": 1, \"seed\": 1\}}'::jsonb, 'test_gen', '$2', '$3', '$4')
       RETURNING id"
}
runs_of() { # connector -> "run_date|slot in UTC|status" per run, in id order
    q "SELECT string_agg(run_date || '|' || to_char(slot_time AT TIME ZONE 'UTC', 'HH24:MI') || '|' || status, ',' ORDER BY id)
       FROM sp_v2_connector_runs WHERE connector_id = $1"
}

echo "== a schedule edited after its day ran does not run that day again"
later=$(add later '0 2 * * *' Asia/Kolkata '2026-03-09T20:00:00Z')
zone=$(add zone '0 2 * * *' Asia/Kolkata '2026-03-09T20:00:00Z')
earlier=$(add earlier '0 6 * * *' Asia/Kolkata '2026-03-09T20:00:00Z')
set_now "2026-03-09T20:30:05Z" # 02:00:05 IST on 03-10: the 02:00 runs for 03-09
serve_start w1 "$CFG"
API=$(api_url w1)
api_wait_ready
wait_for "SELECT count(*) = 2 FROM sp_v2_connector_runs WHERE status = 'SUCCESS'" 60 "the 02:00 IST runs"
# 03:00 IST: the 06:00 connector moves to 02:00, an hour it already passed
set_now "2026-03-09T21:30:00Z"
req PUT "/connectors/$earlier" '{"schedule_cron": "0 2 * * *"}'
assert_eq 200 "$CODE" "cron moved earlier"
for s in 02 04 06; do
    set_now "2026-03-09T21:30:${s}Z"
    sleep 1
done
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_runs WHERE connector_id = $earlier AND status = 'SUCCESS'" 30 \
    "the date the earlier slot passed still runs"
# 10:00 IST (04:30 GMT): 02:00 -> 06:00, and Asia/Kolkata -> Europe/London
set_now "2026-03-10T04:30:00Z"
req PUT "/connectors/$later" '{"schedule_cron": "0 6 * * *"}'
assert_eq 200 "$CODE" "cron moved later"
req PUT "/connectors/$zone" '{"schedule_timezone": "Europe/London"}'
assert_eq 200 "$CODE" "zone changed"
for s in 02 04 06 08; do
    set_now "2026-03-10T04:30:${s}Z"
    sleep 1
done
assert_eq "2026-03-09|20:30|SUCCESS" "$(runs_of "$later")" "02:00 -> 06:00 at 10:00: yesterday's date ran once"
assert_eq "2026-03-09|20:30|SUCCESS" "$(runs_of "$zone")" "Kolkata -> London at 10:00 IST: yesterday's date ran once"
assert_eq "2026-03-09|20:30|SUCCESS" "$(runs_of "$earlier")" "06:00 -> 02:00 at 03:00: the date ran, at the new slot"
assert_eq "1|1|0" "$(q "SELECT (schedule_changed_at IS NOT NULL)::int || '|' ||
    (SELECT (schedule_changed_at IS NOT NULL)::int FROM sp_v2_connectors WHERE id = $zone) || '|' ||
    (SELECT count(*) FROM sp_v2_connector_audit WHERE connector_id = $later AND 'schedule_changed_at' = ANY (changed_fields))
    FROM sp_v2_connectors WHERE id = $later")" "edits are stamped; the stamp is not an audited change"
# The next day runs on the new schedules, once each.
set_now "2026-03-11T00:30:05Z" # 06:00:05 IST on 03-11
wait_for "SELECT count(*) = 2 FROM sp_v2_connector_runs WHERE connector_id = $later AND status = 'SUCCESS'" 30 "03-10 at 06:00 IST"
set_now "2026-03-11T02:00:05Z" # 02:00:05 GMT on 03-11
wait_for "SELECT count(*) = 2 FROM sp_v2_connector_runs WHERE connector_id = $zone AND status = 'SUCCESS'" 30 "03-10 at 02:00 GMT"
assert_eq "2026-03-09|20:30|SUCCESS,2026-03-10|00:30|SUCCESS" "$(runs_of "$later")" "the moved schedule's next day"
assert_eq "2026-03-09|20:30|SUCCESS,2026-03-10|02:00|SUCCESS" "$(runs_of "$zone")" "the new zone's next day"
serve_stop w1

echo "== caught-up dates finish oldest first, though the oldest is retried"
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
cu=$(add catchup '0 2 * * *' Asia/Kolkata '2020-01-01' \
    '{"rows": 1, "seed": 2, "auto_retry": true, "retry_count": 2, "fail_once_on": "2026-03-11"}')
set_now "2026-03-14T06:30:00Z" # 12:00 IST on 03-14: the slots for 03-12, 03-13 missed
serve_start w2 "$CFG"
# The retry's not_before is in real time; the queue is nudged as a manual run would be.
for i in $(seq 1 40); do
    [ "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id = $cu AND status IN ('SUCCESS', 'FAILED')")" = 3 ] && break
    set_now "2026-03-14T06:30:$((10 + i))Z"
    q "SELECT pg_notify('connectord_queue', 'nudge')" >/dev/null
    sleep 0.5
done
assert_eq "2026-03-11|1|FAILED,2026-03-11|2|SUCCESS,2026-03-12|1|SUCCESS,2026-03-13|1|SUCCESS" \
    "$(q "SELECT string_agg(r.run_date || '|' || a.attempt || '|' || a.status, ',' ORDER BY a.started_at, a.id)
          FROM sp_v2_connector_run_attempts a JOIN sp_v2_connector_runs r ON r.id = a.run_id
         WHERE r.connector_id = $cu")" \
    "the retried oldest date ran before the later ones"
serve_stop w2
echo "PASS test_serve_schedule_edits"
