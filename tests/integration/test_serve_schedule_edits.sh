#!/usr/bin/env bash
# Schedules edited mid-day and retried catch-up dates, on a controllable
# clock against a real PostgreSQL:
# - a cron moved later (02:00 -> 06:00 at 10:00) or a zone changed does not
#   run yesterday's business date a second time (021);
# - a cron moved earlier (06:00 -> 02:00 at 03:00) still runs the date its
#   new slot had already passed, since that date never ran;
# - caught-up dates finish oldest first even when the oldest one's first
#   attempt fails and waits for its retry (022);
# - a lowered sync_days_back runs the dates it would skip, once, with three
#   workers ticking (024): changed after or before the day's slot, by the
#   API or by hand, while paused; a raised one runs a date twice, harmlessly;
#   a skipped date another transaction is queueing uncommitted is not queued
#   again (025's unique key).
# - a connector created while the worker's LISTEN connection was away is
#   scheduled as soon as the connection is back, not at the minute's reload.
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

echo "== sync_days_back lowered: the dates it skips run once, with three workers"
# Daily at 02:00 IST; the slot of day T runs T minus sync_days_back.
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
cfg() { # bank days_back
    echo "{\"rows\": 2, \"seed\": 3, \"bank\": \"$1\", \"sync_days_back\": $2}"
}
dates_of() { # connector -> its runs' dates, oldest first
    q "SELECT string_agg(to_char(run_date, 'MM-DD'), ',' ORDER BY run_date, id) FROM sp_v2_connector_runs WHERE connector_id = $1"
}
gaps_of() { # connector -> "date|triggered_by" of its runs that are no slot's
    q "SELECT string_agg(to_char(run_date, 'MM-DD') || '|' || triggered_by, ',' ORDER BY run_date)
       FROM sp_v2_connector_runs WHERE connector_id = $1 AND slot_time IS NULL"
}
ticks() { # TIME: moves the test clock through a few seconds after TIME
    local s
    for s in 0 2 4; do
        date -u -d "$1 + $s seconds" +%s >"$NOW"
        sleep 1
    done
}
created=2026-04-09T20:00:00Z # 01:30 IST on 04-10
after=$(add gap_after '0 2 * * *' Asia/Kolkata $created "$(cfg GAPAFTER 2)")
before=$(add gap_before '0 2 * * *' Asia/Kolkata $created "$(cfg GAPBEFORE 2)")
stale=$(add gap_stale '0 2 * * *' Asia/Kolkata $created "$(cfg GAPSTALE 2)")
raise=$(add gap_raise '0 2 * * *' Asia/Kolkata $created "$(cfg GAPRAISE 1)")
held=$(add gap_paused '0 2 * * *' Asia/Kolkata $created "$(cfg GAPPAUSED 2)")
typo=$(add gap_typo '0 2 * * *' Asia/Kolkata $created "$(cfg GAPTYPO 1)")
wobble=$(add gap_wobble '0 2 * * *' Asia/Kolkata $created "$(cfg GAPWOBBLE 1)")
mine="$after, $before, $stale, $raise, $held, $typo, $wobble"
done_count() { q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id IN ($mine) AND status = 'SUCCESS'"; }
slots_done() { # N MESSAGE: N slot runs done, and nothing else queued or running
    wait_for "SELECT count(*) = $1 FROM sp_v2_connector_runs WHERE connector_id IN ($mine) AND slot_time IS NOT NULL
              AND status = 'SUCCESS'" 60 "$2"
    wait_for "SELECT count(*) = 0 FROM sp_v2_connector_runs WHERE connector_id IN ($mine) AND status IN ('QUEUED', 'RUNNING')" 60 "$2: the rest"
}
set_now "2026-04-09T20:30:05Z" # 02:00:05 IST on 04-10: the slot of 04-10
serve_start g1 "$CFG"
serve_start g2 "$CFG"
serve_start g3 "$CFG"
API=$(api_url g1)
api_wait_ready
slots_done 7 "the 04-10 slot"
# 10:00 IST on 04-10, after the day's slot: lowered and raised through the
# API; the paused one, the typo and the wobble by hand.
set_now "2026-04-10T04:30:00Z"
req PUT "/connectors/$after" "{\"connection_config\": $(cfg GAPAFTER 1)}"
assert_eq 200 "$CODE" "2 -> 1 through the API"
req PUT "/connectors/$raise" "{\"connection_config\": $(cfg GAPRAISE 2)}"
assert_eq 200 "$CODE" "1 -> 2 through the API"
q "UPDATE sp_v2_connectors SET status = 'PAUSED', paused_at = '2026-04-10T04:30:00Z' WHERE id = $held" >/dev/null
q "UPDATE sp_v2_connectors SET connection_config = '$(cfg GAPPAUSED 1)' WHERE id = $held" >/dev/null
q "UPDATE sp_v2_connectors SET connection_config = '$(cfg GAPTYPO 30)' WHERE id = $typo" >/dev/null
q "UPDATE sp_v2_connectors SET connection_config = '$(cfg GAPWOBBLE 3)' WHERE id = $wobble" >/dev/null
q "UPDATE sp_v2_connectors SET connection_config = '$(cfg GAPWOBBLE 1)' WHERE id = $wobble" >/dev/null
ticks "2026-04-10T04:30:01Z"
assert_eq 7 "$(done_count)" "no run for an edit itself"
# 01:00 IST on 04-11, before the day's slot, by hand.
set_now "2026-04-10T19:30:00Z"
q "UPDATE sp_v2_connectors SET connection_config = '$(cfg GAPBEFORE 1)' WHERE id = $before" >/dev/null
ticks "2026-04-10T19:30:01Z"
# 01:59:30 IST: the workers read the schedules; the hand edit after that
# (no NOTIFY) is not seen by the 02:00 slot, which runs the old value.
ticks "2026-04-10T20:29:30Z"
q "UPDATE sp_v2_connectors SET connection_config = '$(cfg GAPSTALE 1)' WHERE id = $stale" >/dev/null
ticks "2026-04-10T20:30:05Z" # 02:00:05 IST on 04-11
slots_done 13 "the 04-11 slot"
# 10:00 IST on 04-11: the typo is put right.
set_now "2026-04-11T04:30:00Z"
q "UPDATE sp_v2_connectors SET connection_config = '$(cfg GAPTYPO 1)' WHERE id = $typo" >/dev/null
# 01:00 IST on 04-12: the paused one is resumed (by hand: the API would
# stamp the real time, and nothing before it is ever scheduled).
set_now "2026-04-11T19:30:00Z"
q "UPDATE sp_v2_connectors SET status = 'ACTIVE', resumed_at = '2026-04-11T19:30:00Z' WHERE id = $held" >/dev/null
ticks "2026-04-11T19:30:01Z"
ticks "2026-04-11T20:30:05Z" # 02:00:05 IST on 04-12
slots_done 20 "the 04-12 slot"
ticks "2026-04-11T20:30:11Z"
assert_eq "04-08,04-09,04-10,04-11" "$(dates_of "$after")" "2 -> 1 after the day's slot: the date between runs once"
assert_eq "04-09|SCHEDULER (sync_days_back 2 -> 1)" "$(gaps_of "$after")" "the skipped date's run says why"
assert_eq "04-08,04-09,04-10,04-11" "$(dates_of "$before")" "2 -> 1 before the day's slot: its date runs once too"
assert_eq "04-09|SCHEDULER (sync_days_back 2 -> 1)" "$(gaps_of "$before")" "queued beside the first slot that used 1"
assert_eq "04-08,04-09,04-10,04-11" "$(dates_of "$stale")" "2 -> 1 by hand just before a slot that still ran 2"
assert_eq "04-10|SCHEDULER (sync_days_back 2 -> 1)" "$(gaps_of "$stale")" "the gap came with the first slot that used 1"
assert_eq "04-09,04-09,04-10" "$(dates_of "$raise")" "1 -> 2: a date twice, no gap run"
assert_eq "" "$(gaps_of "$raise")" "raising queues nothing more"
assert_eq "0|0|2" "$(q "SELECT string_agg((details->>'inserted') || '|' || (details->>'updated') || '|' || (details->>'unchanged'), ',')
    FROM sp_v2_connector_runs WHERE connector_id = $raise AND run_date = '2026-04-09' AND id = (SELECT max(id)
    FROM sp_v2_connector_runs WHERE connector_id = $raise AND run_date = '2026-04-09')")" "the date loaded again is unchanged"
assert_eq "04-08,04-10,04-11" "$(dates_of "$held")" "changed while paused: the pause's date stays missed, the change's is run"
assert_eq "04-10|SCHEDULER (sync_days_back 2 -> 1)" "$(gaps_of "$held")" "the gap of the resumed connector"
assert_eq "03-12,04-09,04-10,04-11" "$(dates_of "$typo")" "1 -> 30 -> 1: the day the typo ran runs, nothing before"
assert_eq "04-10|SCHEDULER (sync_days_back 30 -> 1)" "$(gaps_of "$typo")" "the typo's gap"
assert_eq "04-09,04-10,04-11" "$(dates_of "$wobble")" "1 -> 3 -> 1 between slots: nothing skipped, nothing more"
assert_eq 25 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id IN ($mine)")" "no other run"
# The skipped date runs before the slot's date (022).
assert_eq "04-09,04-10" "$(q "SELECT string_agg(to_char(r.run_date, 'MM-DD'), ',' ORDER BY a.started_at, a.id)
    FROM sp_v2_connector_run_attempts a JOIN sp_v2_connector_runs r ON r.id = a.run_id
    WHERE r.connector_id = $after AND r.run_date IN ('2026-04-09', '2026-04-10')")" "oldest date first"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_days_back_changes")" "every change consumed"
assert_eq 1 "$(cat "$CD_TEST_TMP"/serve-g[123].log | grep -c "sync_days_back would skip: .*connector $after: 2026-04-09\($\|;\)")" \
    "one worker logged the dates it queued"
serve_stop g1; serve_stop g2; serve_stop g3

echo "== sync_days_back lowered while every worker was down: caught-up slots and skipped dates"
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
down=$(add gap_down '0 2 * * *' Asia/Kolkata 2026-04-12T20:00:00Z "$(cfg GAPDOWN 3)")
set_now "2026-04-12T20:30:05Z" # 02:00:05 IST on 04-13: runs 04-10
serve_start g1 "$CFG"
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_runs WHERE connector_id = $down AND status = 'SUCCESS'" 30 "the 04-13 slot"
serve_stop g1
q "UPDATE sp_v2_connectors SET connection_config = '$(cfg GAPDOWN 1)' WHERE id = $down" >/dev/null
set_now "2026-04-15T06:30:00Z" # 12:00 IST on 04-15: the slots of 04-14 and 04-15 missed
serve_start g1 "$CFG"
serve_start g2 "$CFG"
serve_start g3 "$CFG"
wait_for "SELECT count(*) = 5 FROM sp_v2_connector_runs WHERE connector_id = $down AND status = 'SUCCESS'" 60 "the caught-up and skipped dates"
ticks "2026-04-15T06:30:01Z"
assert_eq "04-10,04-11,04-12,04-13,04-14" "$(dates_of "$down")" "3 -> 1 while down: every date once"
assert_eq "04-11|SCHEDULER (sync_days_back 3 -> 1),04-12|SCHEDULER (sync_days_back 3 -> 1)" "$(gaps_of "$down")" \
    "the dates 3 would have run at the first caught-up slot"
assert_eq "04-10,04-11,04-12,04-13,04-14" "$(q "SELECT string_agg(to_char(r.run_date, 'MM-DD'), ',' ORDER BY a.started_at, a.id)
    FROM sp_v2_connector_run_attempts a JOIN sp_v2_connector_runs r ON r.id = a.run_id WHERE r.connector_id = $down")" \
    "run oldest first"
serve_stop g1; serve_stop g2; serve_stop g3
echo "== a skipped date being queued by another transaction at the same moment is not queued again (025)"
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
race=$(add gap_race '0 2 * * *' Asia/Kolkata 2026-04-16T20:00:00Z "$(cfg GAPRACE 2)")
set_now "2026-04-16T20:30:05Z" # 02:00:05 IST on 04-17: runs 04-15
serve_start g1 "$CFG"
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_runs WHERE connector_id = $race AND status = 'SUCCESS'" 30 "the 04-17 slot"
q "UPDATE sp_v2_connectors SET connection_config = '$(cfg GAPRACE 1)' WHERE id = $race" >/dev/null
ticks "2026-04-17T19:30:00Z" # 01:00 IST on 04-18: the workers read the lowered value
# Another worker's statement queueing 04-16 (the date 2 -> 1 skips at the
# 04-18 slot) has not committed when this worker's slot statement runs:
# its NOT EXISTS cannot see that run.
psql -X -q -v ON_ERROR_STOP=1 -At -c "BEGIN;
    INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, triggered_by, attempt, max_attempts)
    VALUES ($race, 'SCHEDULED', '2026-04-16', 'QUEUED', 'SCHEDULER (sync_days_back 2 -> 1)', 1, 1);
    SELECT pg_sleep(4);
    COMMIT;" >/dev/null &
held_pid=$!
sleep 1
set_now "2026-04-17T20:30:05Z" # 02:00:05 IST on 04-18
wait "$held_pid"
q "SELECT pg_notify('connectord_queue', 'nudge')" >/dev/null # the held run was queued without one
wait_for "SELECT count(*) = 0 FROM sp_v2_connector_runs WHERE connector_id = $race AND status IN ('QUEUED', 'RUNNING')" 60 "the race's runs"
ticks "2026-04-17T20:30:10Z"
assert_eq "04-15,04-16,04-17" "$(dates_of "$race")" "the skipped date queued once, though its first insert was uncommitted"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_days_back_changes WHERE connector_id = $race")" "the change consumed"
serve_stop g1

echo "== a connector created while the worker's LISTEN connection was away is scheduled once it is back"
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
set_now "2026-04-20T10:00:30Z" # the worker reads the schedules now
serve_start l1 "$CFG"
sleep 2
# New sessions refused, then the worker's LISTEN session ended: it cannot
# come back until connections are allowed again, and the notification of
# the connector created meanwhile reaches no one. The session that does
# this connects first, and acts once new ones are refused.
psql -X -q -At -c "SELECT pg_sleep(2);
    SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'connectord-listen';
    INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_cron, schedule_timezone, created_at)
    VALUES ('unheard', 'BANK_API', 'unheard', '{\"rows\": 1, \"seed\": 1}', 'test_gen', '1 10 * * *', 'UTC', '2026-04-01')" >/dev/null &
held_pid=$!
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(2);%'" 10 "the session that acts"
psql -X -q -d postgres -c "ALTER DATABASE connectord WITH ALLOW_CONNECTIONS false" >/dev/null
wait "$held_pid"
for i in $(seq 1 50); do grep -q "LISTEN connection" "$CD_TEST_TMP/serve-l1.log" && break; sleep 0.1; done
psql -X -q -d postgres -c "ALTER DATABASE connectord WITH ALLOW_CONNECTIONS true" >/dev/null
for i in $(seq 1 100); do grep -q "(LISTEN) restored" "$CD_TEST_TMP/serve-l1.log" && break; sleep 0.1; done
grep -q "(LISTEN) restored" "$CD_TEST_TMP/serve-l1.log" || cd_fail "the LISTEN connection did not come back"
# 40 s after the worker read the schedules: only a reload on the LISTEN
# connection's return knows the 10:01 slot of the new connector.
set_now "2026-04-20T10:01:10Z"
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_runs r JOIN sp_v2_connectors c ON c.id = r.connector_id WHERE c.name = 'unheard' AND r.run_date = '2026-04-19'" 10 \
    "the new connector's slot, without waiting for the minute's reload"
serve_stop l1
echo "PASS test_serve_schedule_edits"
