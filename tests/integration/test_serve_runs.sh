#!/usr/bin/env bash
# The dispatcher in `connectord serve`, on the real clock: a queued run
# starts within a second; a backfill runs its dates once each, in order;
# retries follow the policy; cancellation of queued and running runs; a
# worker killed with -9 is rescued by another; SIGTERM hands runs back;
# leftovers of a dead process on this host are rescued at start-up;
# retention prunes old logs; an idle worker uses next to no CPU.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
pg_tmp_start
trap 'serve_stop_all; pg_tmp_stop' EXIT
CD="$CD_BUILD_DIR/bin/connectord"
CFG="$CD_TEST_TMP/w/connectord.yaml"
serve_config "$CFG" "retention:" "  days: 90"
"$CD" -c "$CFG" migrate >/dev/null
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null

add() { # name config-json
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled)
       VALUES ('$1', 'BANK_API', '$1', '$2'::jsonb, 'test_gen', false) RETURNING id"
}
queue() { # connector [type] -> run id, queued and notified in one transaction
    q "WITH r AS (INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, max_attempts)
         SELECT id, '${2:-MANUAL}', '2025-10-02', 'QUEUED', connectord_max_attempts(connection_config, '${2:-MANUAL}')
         FROM sp_v2_connectors WHERE id = $1 RETURNING id)
       SELECT id FROM r, pg_notify('connectord_queue', r.id::text)"
}

echo "== retention prunes old run logs and record errors, keeps runs"
fast=$(add fast '{"rows": 3, "seed": 1, "bank": "FAST"}')
old_run=$(q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, status, started_at, completed_at) VALUES ($fast, 'MANUAL', 'SUCCESS', now() - interval '200 days', now() - interval '200 days') RETURNING id")
q "INSERT INTO sp_v2_connector_run_logs (run_id, level, message, logged_at) VALUES ($old_run, 6, 'old', now() - interval '100 days'), ($old_run, 6, 'recent', now() - interval '1 day')" >/dev/null
q "INSERT INTO sp_v2_connector_record_errors (run_id, reason, created_at) VALUES ($old_run, 'old', now() - interval '100 days'), ($old_run, 'recent', now())" >/dev/null
# A backlog bigger than a pass's batches (a year of logs, retention just
# lowered) is worked off at once, not one pass an hour.
backlog_run=$(q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, status, started_at, completed_at) VALUES ($fast, 'MANUAL', 'SUCCESS', now() - interval '300 days', now() - interval '300 days') RETURNING id")
q "INSERT INTO sp_v2_connector_run_logs (run_id, level, message, logged_at) SELECT $backlog_run, 6, 'backlog', now() - interval '200 days' FROM generate_series(1, 110000)" >/dev/null
q "INSERT INTO sp_v2_connector_record_errors (run_id, reason, created_at) SELECT $backlog_run, 'backlog', now() - interval '200 days' FROM generate_series(1, 12000)" >/dev/null

echo "== a dead process's RUNNING run on this host is rescued at start-up"
host=$(hostname)
left=$(q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, attempt, max_attempts, worker_id, started_at, lease_expires_at)
          VALUES ($fast, 'MANUAL', '2025-10-01', 'RUNNING', 1, 2, '$host/999999/dead', now(), now() + interval '1 hour') RETURNING id")
# RUNNING rows that hold no lease (an older connectord, another tool):
# lost once longer than the run's timeout (plus grace and a lease) has
# passed, not before
nolease=$(add nolease '{"rows": 1, "seed": 2, "bank": "NOLEASE"}')
young=$(add young '{"rows": 1, "seed": 3, "bank": "YOUNG"}')
stale=$(q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, attempt, max_attempts, started_at, timeout_seconds)
          VALUES ($nolease, 'MANUAL', '2025-10-01', 'RUNNING', 1, 1, now() - interval '2 hours', 600) RETURNING id")
fresh=$(q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, attempt, max_attempts, started_at, timeout_seconds)
          VALUES ($young, 'MANUAL', '2025-10-01', 'RUNNING', 1, 1, now() - interval '5 minutes', 600) RETURNING id")
serve_start w1 "$CFG"
wait_for "SELECT status = 'SUCCESS' AND attempt = 2 FROM sp_v2_connector_runs WHERE id = $left" 20 "leftover rescued and run"
wait_for "SELECT status = 'FAILED' AND error_message = 'worker lost' FROM sp_v2_connector_runs WHERE id = $stale" 20 "a lease-less run past its timeout rescued"
assert_eq RUNNING "$(q "SELECT status FROM sp_v2_connector_runs WHERE id = $fresh")" "a lease-less run within its timeout left alone"
q "UPDATE sp_v2_connector_runs SET status = 'FAILED', error_message = 'test cleanup' WHERE id = $fresh" >/dev/null
assert_eq "FAILED|worker lost" "$(q "SELECT status, error_message FROM sp_v2_connector_run_attempts WHERE run_id = $left AND attempt = 1")" "lost attempt in history"
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_run_logs WHERE run_id = $old_run" 10 "old logs pruned"
assert_eq recent "$(q "SELECT message FROM sp_v2_connector_run_logs WHERE run_id = $old_run")" "recent log kept"
assert_eq recent "$(q "SELECT reason FROM sp_v2_connector_record_errors WHERE run_id = $old_run")" "recent error kept"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE id = $old_run")" "run rows kept"
wait_for "SELECT NOT EXISTS (SELECT 1 FROM sp_v2_connector_run_logs WHERE run_id = $backlog_run) AND NOT EXISTS (SELECT 1 FROM sp_v2_connector_record_errors WHERE run_id = $backlog_run)" 30 "a backlog of 110,000 old log lines pruned in one go"
# 110,000 + 12,000 + the two old rows above, logged once when done.
for i in $(seq 1 50); do grep -q 'retention: pruned' "$CD_TEST_TMP/serve-w1.log" && break; sleep 0.1; done
assert_eq "retention: pruned 122002 log lines and record errors older than 90 days" \
    "$(grep -o 'retention: pruned.*' "$CD_TEST_TMP/serve-w1.log")" "one log line for the whole backlog"

echo "== a queued run starts within a second"
for i in 1 2 3; do
    id=$(queue "$fast")
    wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 10 "manual run"
    delay=$(q "SELECT extract(epoch FROM started_at - queued_at) FROM sp_v2_connector_runs WHERE id = $id")
    python3 -c "import sys; sys.exit(0 if float('$delay') < 1.0 else 1)" || cd_fail "run $id started $delay s after it was queued"
done

echo "== the worker settles a run that loads nothing: the runner opens no database connection"
empty=$(add empty '{"rows": 0, "seed": 1, "bank": "EMPTY"}')
id=$(queue "$empty")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 10 "empty run"
assert_eq "0|1" "$(q "SELECT details->>'runner_db_connections', attempt FROM sp_v2_connector_runs WHERE id = $id")" "no connection of its own"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_connector_run_logs WHERE run_id = $id AND message LIKE 'MANUAL run of empty%'")" "its log line stored by the worker"
assert_eq "1|1|ACTIVE" "$(q "SELECT total_runs, success_count, status FROM sp_v2_connectors WHERE id = $empty")" "connector counters"
assert_eq "SUCCESS" "$(q "SELECT string_agg(status, ',') FROM sp_v2_connector_run_attempts WHERE run_id = $id")" "attempt history"
chatty=$(add chatty '{"rows": 0, "log_lines": 6000}')
id=$(queue "$chatty")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 20 "chatty run"
assert_eq "5000|1001" "$(q "SELECT count(*), (SELECT details->>'log_lines_dropped' FROM sp_v2_connector_runs WHERE id = $id) FROM sp_v2_connector_run_logs WHERE run_id = $id")" "log lines stored by the worker up to the cap"
assert_eq t "$(q "SELECT bool_and(ok) FROM (SELECT message > lag(message) OVER (ORDER BY id) OR lag(message) OVER (ORDER BY id) IS NULL AS ok FROM sp_v2_connector_run_logs WHERE run_id = $id AND message LIKE 'chatter%') s")" "in the order the driver wrote them"
# 5000 lines in all: the run's first line says what it runs
assert_eq 4999 "$(grep -c "run $id: chatter" "$CD_TEST_TMP/serve-w1.log" || true)" "the journal gets no more of the run than its log"
assert_contains "$(cat "$CD_TEST_TMP/serve-w1.log")" "run $id: more log lines than a run keeps (5000)" "and says so once"
fid=$(queue "$fast")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $fid" 10 "run with rows"
assert_eq "1" "$(q "SELECT details->>'runner_db_connections' FROM sp_v2_connector_runs WHERE id = $fid")" "records: one data connection, commits with the run row"

echo "== backfill: one run per date, each once, in date order"
bf=$(add bf '{"rows": 2, "seed": 3, "bank": "BF", "sleep_ms": 50}')
out=$("$CD" -c "$CFG" backfill "$bf" 2025-09-01 2025-09-10)
assert_contains "$out" '"runs": 10' "backfill queued"
wait_for "SELECT count(*) = 10 FROM sp_v2_connector_runs WHERE connector_id = $bf AND status = 'SUCCESS'" 60 "backfill done"
assert_eq 10 "$(q "SELECT count(DISTINCT run_date) FROM sp_v2_connector_runs WHERE connector_id = $bf AND run_type = 'BACKFILL'")" "ten dates"
assert_eq t "$(q "SELECT bool_and(ok) FROM (SELECT started_at >= lag(completed_at) OVER (ORDER BY run_date) OR lag(completed_at) OVER (ORDER BY run_date) IS NULL AS ok FROM sp_v2_connector_runs WHERE connector_id = $bf) s")" "one after another, in date order"
assert_eq 10 "$(q "SELECT count(*) FROM sp_v2_connector_run_attempts a JOIN sp_v2_connector_runs r ON r.id = a.run_id WHERE r.connector_id = $bf")" "each executed once"

echo "   a date whose attempt fails is retried before the next date runs"
bfr=$(add bfr '{"rows": 1, "seed": 4, "bank": "BFR", "fail_once_on": "2025-08-02", "auto_retry": true, "retry_count": 1}')
out=$("$CD" -c "$CFG" backfill "$bfr" 2025-08-01 2025-08-03)
wait_for "SELECT count(*) = 3 FROM sp_v2_connector_runs WHERE connector_id = $bfr AND status = 'SUCCESS'" 60 "backfill with a retry done"
assert_eq 2 "$(q "SELECT attempt FROM sp_v2_connector_runs WHERE connector_id = $bfr AND run_date = '2025-08-02'")" "the failed date took two attempts"
assert_eq t "$(q "SELECT (SELECT started_at FROM sp_v2_connector_runs WHERE connector_id = $bfr AND run_date = '2025-08-03')
    >= (SELECT completed_at FROM sp_v2_connector_runs WHERE connector_id = $bfr AND run_date = '2025-08-02')")" "08-03 waited for 08-02's retry"

echo "== retries: transient errors retried up to retry_count, config errors never"
tr=$(add tr '{"rows": 1, "seed": 1, "bank": "TR", "fail": "transient", "auto_retry": true, "retry_count": 2}')
id=$(queue "$tr")
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 30 "retried run fails at last"
assert_eq 3 "$(q "SELECT attempt FROM sp_v2_connector_runs WHERE id = $id")" "three attempts"
assert_eq "FAILED,FAILED,FAILED" "$(q "SELECT string_agg(status, ',' ORDER BY attempt) FROM sp_v2_connector_run_attempts WHERE run_id = $id")" "each attempt's error kept"
assert_eq 3 "$(q "SELECT count(*) FROM sp_v2_connector_run_attempts WHERE run_id = $id AND error_message LIKE 'source went away%'")" "errors of every attempt"
assert_eq "1|1|FAILED" "$(q "SELECT total_runs, failure_count, status FROM sp_v2_connectors WHERE id = $tr")" "counters count runs, not attempts"
assert_eq t "$(q "SELECT bool_and(b.started_at >= a.completed_at + interval '0.5 s') FROM sp_v2_connector_run_attempts a JOIN sp_v2_connector_run_attempts b ON b.run_id = a.run_id AND b.attempt = a.attempt + 1 WHERE a.run_id = $id")" "backoff between attempts"
cf=$(add cf '{"rows": 1, "seed": 1, "bank": "CF", "fail": "config", "auto_retry": true, "retry_count": 3}')
id=$(queue "$cf")
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 20 "config error"
assert_eq "1|configuration_error" "$(q "SELECT attempt, details->>'outcome' FROM sp_v2_connector_runs WHERE id = $id")" "never retried"

echo "   a retry waiting while a newer run of its date succeeds is not run again"
sup=$(add sup '{"rows": 1, "seed": 5, "bank": "SUP", "fail": "transient", "auto_retry": true, "retry_count": 2}')
# A scheduled run whose first attempt failed 10 s ago, its retry not yet due.
rid=$(q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, attempt, max_attempts, started_at, not_before, error_message)
         VALUES ($sup, 'SCHEDULED', '2025-10-02', 'QUEUED', 2, 3, now() - interval '10 seconds', now() + interval '1 hour', 'source went away') RETURNING id")
q "INSERT INTO sp_v2_connector_run_attempts (run_id, attempt, status, error_message, started_at, completed_at)
   VALUES ($rid, 1, 'FAILED', 'source went away', now() - interval '10 seconds', now() - interval '9 seconds')" >/dev/null
# The source is back; an operator runs the date by hand and it loads.
q "UPDATE sp_v2_connectors SET connection_config = connection_config - 'fail' WHERE id = $sup" >/dev/null
mid=$(queue "$sup")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $mid" 20 "the manual run of the date"
# The source goes away again; the retry comes due.
q "UPDATE sp_v2_connectors SET connection_config = connection_config || '{\"fail\": \"transient\"}' WHERE id = $sup" >/dev/null
q "WITH u AS (UPDATE sp_v2_connector_runs SET not_before = now() WHERE id = $rid AND status = 'QUEUED' RETURNING id)
   SELECT pg_notify('connectord_queue', 'nudge') FROM u" >/dev/null
wait_for "SELECT status NOT IN ('QUEUED', 'RUNNING') FROM sp_v2_connector_runs WHERE id = $rid" 30 "the retry settled"
assert_eq "FAILED|cancelled|$mid|2" "$(q "SELECT concat_ws('|', status, details->>'outcome', details->>'superseded_by', attempt) FROM sp_v2_connector_runs WHERE id = $rid")" \
    "the retry settled as superseded, not run"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_connector_run_attempts WHERE run_id = $rid")" "no attempt after the newer success"
assert_eq "SUCCESS|ACTIVE|1|0|1" "$(q "SELECT last_run_status || '|' || status || '|' || success_count || '|' || failure_count || '|' || total_runs FROM sp_v2_connectors WHERE id = $sup")" \
    "the connector shows its newer success"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE run_id = $rid")" "no RUN_FAILED alert for it"

echo "== cancel: a queued run at once, a running one within the grace period"
slow=$(add slow '{"rows": 200, "seed": 1, "bank": "SLOW", "sleep_ms": 100}')
qid=$(q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, not_before) VALUES ($slow, 'MANUAL', '2025-10-02', 'QUEUED', now() + interval '1 hour') RETURNING id")
assert_contains "$("$CD" -c "$CFG" cancel "$qid")" "cancelled (it was queued)" "queued cancel"
assert_eq "FAILED|cancelled by CLI" "$(q "SELECT status, error_message FROM sp_v2_connector_runs WHERE id = $qid")" "queued run cancelled"
id=$(queue "$slow")
wait_for "SELECT status = 'RUNNING' FROM sp_v2_connector_runs WHERE id = $id" 10 "slow run running"
assert_contains "$("$CD" -c "$CFG" cancel "$id")" "stop requested" "running cancel"
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 10 "running run cancelled"
assert_eq "cancelled by CLI" "$(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")" "reason"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'SLOW'")" "no rows of a cancelled run"

echo "   a cancel is not a failed run of its connector: counters, last run and status unchanged"
assert_eq "0|0|0||ACTIVE" "$(q "SELECT success_count || '|' || failure_count || '|' || total_runs || '|' || COALESCE(last_run_status, '') || '|' || status FROM sp_v2_connectors WHERE id = $slow")" \
    "a queued and a running run cancelled"
bfc=$(add bfc '{"rows": 200, "seed": 1, "bank": "BFC", "sleep_ms": 100}')
q "UPDATE sp_v2_connectors SET connection_config = '{\"rows\": 1, \"seed\": 1, \"bank\": \"BFC0\"}' WHERE id = $bfc" >/dev/null
id=$(queue "$bfc")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 20 "bfc's first run"
q "UPDATE sp_v2_connectors SET connection_config = '{\"rows\": 200, \"seed\": 1, \"bank\": \"BFC\", \"sleep_ms\": 100}' WHERE id = $bfc" >/dev/null
out=$("$CD" -c "$CFG" backfill "$bfc" 2025-07-01 2025-07-05)
bid=$(printf '%s' "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["backfill_id"])')
wait_for "SELECT status = 'RUNNING' FROM sp_v2_connector_runs WHERE backfill_id = '$bid' AND run_date = '2025-07-01'" 10 "backfill's first date running"
code=$(curl -s -o "$CD_TEST_TMP/bfc.json" -w '%{http_code}' -X POST "http://127.0.0.1:${SERVE_PORT[w1]}/connectors/$bfc/backfills/$bid/cancel")
assert_eq 200 "$code" "backfill cancelled: $(cat "$CD_TEST_TMP/bfc.json")"
wait_for "SELECT count(*) = 5 FROM sp_v2_connector_runs WHERE backfill_id = '$bid' AND status = 'FAILED' AND details->>'outcome' = 'cancelled'" 10 "every date cancelled"
assert_eq "1|0|1|SUCCESS|ACTIVE" "$(q "SELECT success_count || '|' || failure_count || '|' || total_runs || '|' || last_run_status || '|' || status FROM sp_v2_connectors WHERE id = $bfc")" \
    "a cancelled backfill (one date running, four queued) is no failed run"
for action in pause resume; do
    code=$(curl -s -o "$CD_TEST_TMP/bfc.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{}' \
        "http://127.0.0.1:${SERVE_PORT[w1]}/connectors/$bfc/$action")
    assert_eq 200 "$code" "$action: $(cat "$CD_TEST_TMP/bfc.json")"
done
assert_eq ACTIVE "$(q "SELECT status FROM sp_v2_connectors WHERE id = $bfc")" \
    "a resume after a cancel reads its last real run (SUCCESS), not the cancelled ones"
echo "   connectorctl backfill --wait counts cancelled dates apart from failed ones"
set +e
"$CD_BUILD_DIR/bin/connectorctl" --url "http://127.0.0.1:${SERVE_PORT[w1]}" backfill "$bfc" 2025-06-01 2025-06-03 --wait \
    >"$CD_TEST_TMP/ctlbf.out" 2>"$CD_TEST_TMP/ctlbf.err" &
ctlpid=$!
set -e
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_runs WHERE connector_id = $bfc AND run_date = '2025-06-01' AND status = 'RUNNING'" 15 "the followed backfill running"
bid=$(q "SELECT backfill_id FROM sp_v2_connector_runs WHERE connector_id = $bfc AND run_date = '2025-06-01'")
code=$(curl -s -o "$CD_TEST_TMP/bfc.json" -w '%{http_code}' -X POST "http://127.0.0.1:${SERVE_PORT[w1]}/connectors/$bfc/backfills/$bid/cancel")
assert_eq 200 "$code" "followed backfill cancelled: $(cat "$CD_TEST_TMP/bfc.json")"
set +e
wait "$ctlpid"
rc=$?
set -e
assert_eq 1 "$rc" "a backfill with cancelled dates did not load its range: exit 1 ($(cat "$CD_TEST_TMP/ctlbf.err"))"
assert_contains "$(cat "$CD_TEST_TMP/ctlbf.out")" "3/3 done (0 ok, 0 failed, 3 cancelled, 0 running, 0 queued)" "the last progress line"
assert_contains "$(cat "$CD_TEST_TMP/ctlbf.out")" "2025-06-01 cancelled: cancelled by" "a cancelled date is listed as cancelled"
assert_not_contains "$(cat "$CD_TEST_TMP/ctlbf.out")" "FAILED" "and not as FAILED"

echo "   a driver that ignores the cancel is killed after the grace, and the run is still a cancel"
hang=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled)
          VALUES ('hang', 'BANK_API', 'hang', '{}', 'hanger', false) RETURNING id")
id=$(queue "$hang")
wait_for "SELECT status = 'RUNNING' FROM sp_v2_connector_runs WHERE id = $id" 10 "hanger running"
assert_contains "$("$CD" -c "$CFG" cancel "$id")" "stop requested" "cancel of a hanging run"
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 15 "hanging run killed"
assert_eq "cancelled by CLI|cancelled" "$(q "SELECT error_message || '|' || (details->>'outcome') FROM sp_v2_connector_runs WHERE id = $id")" \
    "a cancel, not a runner failure"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE run_id = $id")" "so no RUN_FAILED alert for it"

echo "   a cancel asked for while an attempt fails is not lost to the retry"
cx=$(add cx '{"rows": 10, "seed": 1, "bank": "CX", "sleep_ms": 100, "fail": "transient", "auto_retry": true, "retry_count": 2}')
id=$(queue "$cx")
wait_for "SELECT status = 'RUNNING' FROM sp_v2_connector_runs WHERE id = $id" 10 "cx running"
# The worker frozen cannot pass the request on to the runner: the attempt
# fails (transient) and asks for a retry, with the cancel already recorded.
kill -STOP "${SERVE_PID[w1]}"
q "UPDATE sp_v2_connector_runs SET cancel_requested_at = now(), cancel_requested_by = 'alice' WHERE id = $id" >/dev/null
sleep 2
kill -CONT "${SERVE_PID[w1]}"
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 15 "cx settled"
assert_eq "1|cancelled by alice|cancelled" \
    "$(q "SELECT attempt, error_message, details->>'outcome' FROM sp_v2_connector_runs WHERE id = $id")" \
    "cancelled, not run again"
assert_contains "$(q "SELECT details->>'attempt_error' FROM sp_v2_connector_runs WHERE id = $id")" "source went away" \
    "the attempt's own error kept"
assert_eq "1" "$(q "SELECT count(*) FROM sp_v2_connector_run_attempts WHERE run_id = $id")" "one attempt"

echo "   a driver that calls exit(0) is settled at once, not after its lease"
ex=$(add ex '{"rows": 1, "seed": 1, "bank": "EX", "fail": "exit0"}')
id=$(queue "$ex")
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 10 "exit(0) run settled"
assert_contains "$(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")" \
    "runner exited without settling the run" "the reason, not \"worker lost\""

echo "== kill -9 of a worker mid-run: another worker rescues the run"
long=$(add long '{"rows": 20, "seed": 1, "bank": "LONG", "sleep_ms": 300, "auto_retry": true, "retry_count": 1}')
id=$(queue "$long")
# The worker records a runner's pid once it has run for a second.
wait_for "SELECT status = 'RUNNING' AND runner_pid IS NOT NULL FROM sp_v2_connector_runs WHERE id = $id" 10 "long run running"
runner=$(q "SELECT runner_pid FROM sp_v2_connector_runs WHERE id = $id")
serve_stop w1 KILL || true
sleep 0.5
# Dead, or a zombie waiting for init to reap it: not running either way.
state=$(awk '{print $3}' "/proc/$runner/stat" 2>/dev/null || echo gone)
case "$state" in gone | Z | X) ;; *) cd_fail "the runner outlived its killed worker (state $state)" ;; esac
serve_start w2 "$CFG"
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 40 "rescued run finished"
assert_eq "2" "$(q "SELECT attempt FROM sp_v2_connector_runs WHERE id = $id")" "second attempt"
assert_eq "FAILED|worker lost" "$(q "SELECT status, error_message FROM sp_v2_connector_run_attempts WHERE run_id = $id AND attempt = 1")" "first attempt lost"
assert_eq 20 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'LONG'")" "rows loaded once"

echo "   a run cancelled while its worker is dead is not run again by the rescue"
long3=$(add long3 '{"rows": 20, "seed": 1, "bank": "LONG3", "sleep_ms": 300, "auto_retry": true, "retry_count": 2}')
id=$(queue "$long3")
wait_for "SELECT status = 'RUNNING' AND runner_pid IS NOT NULL FROM sp_v2_connector_runs WHERE id = $id" 10 "long3 running"
serve_stop w2 KILL || true
assert_contains "$("$CD" -c "$CFG" cancel "$id")" "stop requested" "cancel of the orphaned run"
serve_start w2 "$CFG"
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 40 "orphaned cancelled run settled"
assert_eq "1|cancelled by CLI" "$(q "SELECT attempt, error_message FROM sp_v2_connector_runs WHERE id = $id")" "settled as cancelled, not retried"
assert_eq "cancelled" "$(q "SELECT details->>'outcome' FROM sp_v2_connector_runs WHERE id = $id")" "its outcome a cancel"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE run_id = $id")" "no RUN_FAILED alert for a cancel"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'LONG3'")" "no rows of the cancelled run"

runner_gone() { # pid: within 8 s it has exited (dead, or a zombie left to init)
    local i state
    for i in $(seq 1 80); do
        state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo gone)
        case "$state" in gone | Z | X) return 0 ;; esac
        sleep 0.1
    done
    return 1
}

echo "   a worker frozen past its lease: its run goes on elsewhere, and on waking it stops its own runner"
frz=$(add frz '{"rows": 80, "seed": 1, "bank": "FRZ", "sleep_ms": 250, "auto_retry": true, "retry_count": 2}')
id=$(queue "$frz")
wait_for "SELECT status = 'RUNNING' AND runner_pid IS NOT NULL FROM sp_v2_connector_runs WHERE id = $id" 10 "frz running"
first=$(q "SELECT runner_pid FROM sp_v2_connector_runs WHERE id = $id")
kill -STOP "${SERVE_PID[w2]}"
serve_start w4 "$CFG"
wait_for "SELECT attempt = 2 AND status = 'RUNNING' FROM sp_v2_connector_runs WHERE id = $id" 20 "rescued and running again"
kill -CONT "${SERVE_PID[w2]}"
runner_gone "$first" || cd_fail "the woken worker left its runner of the taken-over run running"
wait_log w2 "run $id: no longer this worker's" 10
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 40 "the rescued run finished"
assert_eq "2|80" "$(q "SELECT attempt, (SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'FRZ') FROM sp_v2_connector_runs WHERE id = $id")" "loaded once, by the second attempt"

echo "   the same without retries: the rescuer fails the run, and the woken worker still stops its runner"
frz1=$(add frz1 '{"rows": 80, "seed": 1, "bank": "FRZ1", "sleep_ms": 250}')
id=$(queue "$frz1")
wait_for "SELECT status = 'RUNNING' AND runner_pid IS NOT NULL FROM sp_v2_connector_runs WHERE id = $id" 10 "frz1 running"
owner=$(q "SELECT worker_id FROM sp_v2_connector_runs WHERE id = $id")
case "$owner" in *"/${SERVE_PID[w2]}/"*) frozen=w2 ;; *) frozen=w4 ;; esac
first=$(q "SELECT runner_pid FROM sp_v2_connector_runs WHERE id = $id")
kill -STOP "${SERVE_PID[$frozen]}"
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 20 "failed as worker lost"
assert_eq "worker lost|$owner" "$(q "SELECT error_message || '|' || (details->>'rescued_from') FROM sp_v2_connector_runs WHERE id = $id")" \
    "the rescue names the lost worker"
kill -CONT "${SERVE_PID[$frozen]}"
runner_gone "$first" || cd_fail "the woken worker left running its runner of a run settled FAILED elsewhere"
wait_log "$frozen" "run $id: no longer this worker's" 10
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'FRZ1'")" "nothing loaded by the stopped runner"
serve_stop w4

echo "== SIGTERM hands a long run back to the queue"
long2=$(add long2 '{"rows": 40, "seed": 1, "bank": "LONG2", "sleep_ms": 300}')
id=$(queue "$long2")
wait_for "SELECT status = 'RUNNING' FROM sp_v2_connector_runs WHERE id = $id" 10 "long2 running"
t0=$SECONDS
serve_stop w2 TERM
[ $((SECONDS - t0)) -le 10 ] || cd_fail "graceful stop took $((SECONDS - t0)) s"
assert_eq "QUEUED|1" "$(q "SELECT status, attempt FROM sp_v2_connector_runs WHERE id = $id")" "handed back without using an attempt"
assert_contains "$(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")" "handed back" "reason"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'LONG2'")" "no partial rows"
serve_start w3 "$CFG"
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 40 "handed-back run finished"

echo "== /healthz: database reachable and the worker's loop turning"
health=$(curl -s "http://127.0.0.1:${SERVE_PORT[w3]}/healthz")
assert_eq "True True" "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["scheduler"]["ticking"], d["database"] in (True, "ok", "reachable") or d.get("success") is True)' <<<"$health")" "health ($health)"
echo "== an idle worker uses next to no CPU"
sleep 1
pid=${SERVE_PID[w3]}
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
a=$(ticks); sleep 5; b=$(ticks)
hz=$(getconf CLK_TCK)
echo "idle CPU over 5 s: $(( (b - a) * 1000 / hz )) ms"
[ $(( (b - a) * 1000 / hz )) -le 250 ] || cd_fail "idle worker used $(( (b - a) * 1000 / hz )) ms of CPU in 5 s"
runner_ended() { # pid: within 10 s it has exited (dead, or a zombie its parent has not reaped)
    local i state
    for i in $(seq 1 100); do
        state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo gone)
        case "$state" in gone | Z | X) return 0 ;; esac
        sleep 0.1
    done
    return 1
}
drop_worker_conn() { # terminates the loop's database connection of the (one) running worker
    q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'connectord-worker'" >/dev/null
}

echo "== the worker's database connection drops while a run ends: the run's own outcome is kept"
dr=$(add dr '{"rows": 16, "seed": 1, "bank": "DR", "sleep_ms": 250, "fail": "transient", "auto_retry": true, "retry_count": 1}')
id=$(queue "$dr")
wait_for "SELECT status = 'RUNNING' AND runner_pid IS NOT NULL FROM sp_v2_connector_runs WHERE id = $id" 10 "dr running"
runner=$(q "SELECT runner_pid FROM sp_v2_connector_runs WHERE id = $id")
kill -STOP "${SERVE_PID[w3]}"
drop_worker_conn
runner_ended "$runner" || cd_fail "dr's runner did not end"
sleep 3.5 # past the run's lease (3 s): the worker must not take its own run for lost
kill -CONT "${SERVE_PID[w3]}"
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 30 "dr settled"
assert_eq "1|source went away after 16 rows
2|source went away after 16 rows" "$(q "SELECT attempt, error_message FROM sp_v2_connector_run_attempts WHERE run_id = $id ORDER BY attempt")" \
    "each attempt's own error, not \"worker lost\""

echo "   the same while it hands a run back at shutdown: the run is queued again, not lost"
dh=$(add dh '{"rows": 40, "seed": 1, "bank": "DH", "sleep_ms": 250}')
id=$(queue "$dh")
wait_for "SELECT status = 'RUNNING' AND runner_pid IS NOT NULL FROM sp_v2_connector_runs WHERE id = $id" 10 "dh running"
runner=$(q "SELECT runner_pid FROM sp_v2_connector_runs WHERE id = $id")
pid=${SERVE_PID[w3]}
kill -TERM "$pid"
wait_log w3 "stopping: no new runs" 10
kill -STOP "$pid"
drop_worker_conn
kill -INT "$runner" # as the worker's hand-back would, while its connection is gone
runner_ended "$runner" || cd_fail "dh's runner did not end"
kill -CONT "$pid"
serve_stop w3 TERM
assert_eq "QUEUED|1" "$(q "SELECT status, attempt FROM sp_v2_connector_runs WHERE id = $id")" "handed back, not left RUNNING"
assert_contains "$(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")" "handed back" "reason"
serve_start w5 "$CFG"
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 40 "the handed-back run ran again"
assert_eq "1|40" "$(q "SELECT attempt, (SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'DH') FROM sp_v2_connector_runs WHERE id = $id")" \
    "its first attempt, its rows once"

echo "   the same while a run ends on its own during shutdown: its outcome is written before the worker exits"
dp=$(add dp '{"rows": 16, "seed": 1, "bank": "DP", "sleep_ms": 250, "fail": "permanent"}')
id=$(queue "$dp")
wait_for "SELECT status = 'RUNNING' AND runner_pid IS NOT NULL FROM sp_v2_connector_runs WHERE id = $id" 10 "dp running"
runner=$(q "SELECT runner_pid FROM sp_v2_connector_runs WHERE id = $id")
pid=${SERVE_PID[w5]}
kill -TERM "$pid"
wait_log w5 "stopping: no new runs" 10
kill -STOP "$pid"
drop_worker_conn
runner_ended "$runner" || cd_fail "dp's runner did not end"
sleep 3.5 # past the run's lease (3 s): the worker must not take its own run for lost
kill -CONT "$pid"
serve_stop w5 TERM
assert_eq "FAILED|source sent garbage" "$(q "SELECT status || '|' || error_message FROM sp_v2_connector_runs WHERE id = $id")" \
    "settled as its runner decided, not left RUNNING for a rescue"
echo "== a lost run that cannot be settled does not hold up the rescue of the others"
lx=$(add lx '{"rows": 1, "seed": 1, "bank": "LX"}')
ly=$(add ly '{"rows": 1, "seed": 1, "bank": "LY"}')
lost_run() { # connector: a RUNNING run of a worker of another host, its lease run out
    q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, attempt, max_attempts, worker_id, started_at, lease_expires_at)
       VALUES ($1, 'MANUAL', '2025-10-01', 'RUNNING', 1, 1, 'elsewhere/1/gone', now(), now() - interval '1 minute') RETURNING id"
}
rx=$(lost_run "$lx")
ry=$(lost_run "$ly")
# The first one's settling fails, whatever the reason (here a trigger).
q "CREATE FUNCTION test_refuse_settle() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION 'refused by the test'; END \$\$" >/dev/null
q "CREATE TRIGGER test_refuse_settle BEFORE UPDATE ON sp_v2_connector_runs FOR EACH ROW
   WHEN (OLD.id = $rx AND NEW.status <> 'RUNNING') EXECUTE FUNCTION test_refuse_settle()" >/dev/null
serve_start w6 "$CFG"
wait_for "SELECT status = 'FAILED' AND error_message = 'worker lost' FROM sp_v2_connector_runs WHERE id = $ry" 20 "the other lost run rescued"
assert_eq RUNNING "$(q "SELECT status FROM sp_v2_connector_runs WHERE id = $rx")" "the refused one still waits"
q "DROP TRIGGER test_refuse_settle ON sp_v2_connector_runs; DROP FUNCTION test_refuse_settle()" >/dev/null
wait_for "SELECT status = 'FAILED' AND error_message = 'worker lost' FROM sp_v2_connector_runs WHERE id = $rx" 20 "and rescued once it can be"
serve_stop w6
echo "== a worker frozen before it recorded its runner's pid does not overwrite the pid of the run's new runner"
serve_start w7 "$CFG"
rp=$(add rp '{"rows": 40, "seed": 1, "bank": "RP", "sleep_ms": 250, "auto_retry": true, "retry_count": 2}')
id=$(queue "$rp")
for i in $(seq 1 100); do
    [ "$(q "SELECT status FROM sp_v2_connector_runs WHERE id = $id")" = RUNNING ] && break
    sleep 0.02
done
kill -STOP "${SERVE_PID[w7]}" # its runner is younger than a second: no pid recorded yet
assert_eq "RUNNING|1|" "$(q "SELECT status, attempt, runner_pid FROM sp_v2_connector_runs WHERE id = $id")" "frozen before recording the pid"
serve_start w8 "$CFG"
wait_for "SELECT attempt = 2 AND status = 'RUNNING' AND runner_pid IS NOT NULL FROM sp_v2_connector_runs WHERE id = $id" 20 "rescued and running again"
second=$(q "SELECT runner_pid FROM sp_v2_connector_runs WHERE id = $id")
kill -CONT "${SERVE_PID[w7]}"
wait_log w7 "run $id: no longer this worker's" 10
sleep 1.5 # a few of the woken worker's ticks
assert_eq "$second" "$(q "SELECT runner_pid FROM sp_v2_connector_runs WHERE id = $id")" "the pid of the runner that runs it"
serve_stop w7
serve_stop w8
echo "dispatcher checks passed"
