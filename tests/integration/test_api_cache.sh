#!/usr/bin/env bash
# The API's response cache never serves what a committed change made stale:
# a write through the API shows in the next GET; a change made in SQL (psql)
# or by the runner shows within a second; one filter's body is never another
# filter's; a history page follows new runs; a lost LISTEN connection makes
# the cache step aside until it is back. And a cached body never skips auth
# or masking. Each check first proves the body it replaces was cached.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
source "$CD_SOURCE_DIR/tests/lib/api.sh"
pg_tmp_start
trap 'serve_stop_all; pg_tmp_stop' EXIT
SERVE_PLUGINS="$CD_TEST_TMP/plugins"
api_plugins_dir "$SERVE_PLUGINS"
CFG="$CD_TEST_TMP/w/connectord.yaml"
# A long max-age, so that only notifications and next_run_at end an entry.
serve_config "$CFG" "auth:" "  tokens:" \
    "    - {token: viewer-token-0123456789, role: viewer, name: v}" \
    "    - {token: admin-token-0123456789, role: admin, name: a}" \
    "http:" "  cache_max_age_seconds: 3600"
"$CD_BUILD_DIR/bin/connectord" -c "$CFG" migrate >/dev/null
q "UPDATE sp_v2_connectors SET schedule_enabled = false"
serve_start w1 "$CFG"
API=$(api_url w1)
api_wait_ready
ADMIN=admin-token-0123456789
VIEWER=viewer-token-0123456789
API_TOKEN=$ADMIN

# metric NAME_AND_LABELS: its value in /metrics.
metric() {
    curl -s -H "Authorization: Bearer $ADMIN" "$API/metrics" |
        awk -v k="$1" '$1 == k {print $2}'
}
hits() { metric 'connectord_api_cache_requests_total{outcome="hit"}'; }
renders() { metric 'connectord_api_cache_requests_total{outcome="render"}'; }
wait_live() {
    local i
    for i in $(seq 1 100); do
        [ "$(metric connectord_api_cache_live)" = 1 ] && return 0
        sleep 0.1
    done
    cd_fail "the API cache did not become live"
}
# cached METHOD PATH: GETs PATH twice and asserts the second answer came
# from the cache (one more hit, no render).
cached() {
    req GET "$1"
    expect 200 "GET $1"
    local h r
    h=$(hits)
    r=$(renders)
    req GET "$1"
    expect 200 "GET $1 again"
    [ "$(hits)" -gt "$h" ] || cd_fail "GET $1 was not served from the cache"
    assert_eq "$r" "$(renders)" "GET $1: no render the second time"
}
# within_1s PATH PY-EXPR: polls PATH for at most one second until the
# expression over its body is true.
within_1s() {
    local deadline=$(($(date +%s%N) + 1000000000))
    while :; do
        req GET "$1"
        [ "$CODE" = 200 ] && [ "$(jq_ "$2")" = True ] && return 0
        [ "$(date +%s%N)" -lt "$deadline" ] || cd_fail "GET $1: not ($2) within a second: $BODY"
        sleep 0.05
    done
}

wait_live
assert_eq 1 "$(metric connectord_api_cache_live)" "cache live once LISTEN is up"

echo "== the triggers: what notifies, what does not (heartbeats)"
out=$(psql -X -q -At -v ON_ERROR_STOP=1 2>&1 <<'SQL'
LISTEN connectord_cache;
UPDATE sp_v2_connectors SET source_entity = source_entity WHERE id = 1;
SELECT 'after-connector-update';
INSERT INTO sp_v2_connector_runs (connector_id, run_type, status, worker_id)
VALUES (1, 'MANUAL', 'RUNNING', 'probe');
SELECT 'after-run-insert';
UPDATE sp_v2_connector_runs SET heartbeat_at = now(), lease_expires_at = now() + interval '1 minute'
 WHERE worker_id = 'probe';
SELECT 'after-heartbeat';
UPDATE sp_v2_connector_runs SET status = 'SUCCESS', completed_at = now() WHERE worker_id = 'probe';
SELECT 'after-finish';
DELETE FROM sp_v2_connector_runs WHERE worker_id = 'probe';
SELECT 'after-delete';
SQL
)
# psql prints a notification after the command whose transaction sent it.
python3 - "$out" <<'PY'
import re, sys
seen, cur = {}, "start"
for line in sys.argv[1].splitlines():
    m = re.search(r'payload "([^"]*)"', line)
    if m:
        seen.setdefault(cur, []).append(m.group(1))
    elif line.startswith("after-"):
        cur = line
want = {"after-connector-update": ["c:1"], "after-run-insert": ["r:1"],
        "after-finish": ["r:1"], "after-delete": ["r:1"]}
# Each notification shows after the next command, so key by the marker before it.
got = {}
order = ["start", "after-connector-update", "after-run-insert", "after-heartbeat", "after-finish", "after-delete"]
for i, k in enumerate(order[:-1]):
    got[order[i + 1]] = seen.get(k, [])
if got != want | {"after-heartbeat": []}:
    sys.exit("notifications %r, wanted %r\n%s" % (got, want | {"after-heartbeat": []}, sys.argv[1]))
PY

echo "== writes through the API show in the next GET"
NEW='{"name": "Cache Gen", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "CACHEA",
      "connection_config": {"rows": 20, "seed": 1, "sleep_ms": 100, "password": "hunter2-plain"},
      "schedule_enabled": false}'
cached /connectors
total0=$(jq_ 'd["summary"]["total"]')
req POST /connectors "$NEW"
expect 201 "create"
gen=$(jq_ 'd["connector"]["id"]')
req GET /connectors
assert_eq $((total0 + 1)) "$(jq_ 'd["summary"]["total"]')" "created connector counted at once"
assert_eq True "$(jq_ "any(c['id'] == '$gen' for c in d['connectors'])")" "created connector listed at once"
cached "/connectors/$gen"
cached /connectors
req PUT "/connectors/$gen" '{"source_entity": "CACHEB"}'
expect 200 "update"
req GET /connectors
assert_eq CACHEB "$(jq_ "[c for c in d['connectors'] if c['id'] == '$gen'][0]['source_entity']")" "update in the list at once"
req GET "/connectors/$gen"
assert_eq CACHEB "$(jq_ 'd["connector"]["source_entity"]')" "update in GET /connectors/:id at once"
cached /connectors
req POST "/connectors/$gen/pause"
expect 200 "pause"
req GET /connectors
assert_eq PAUSED "$(jq_ "[c for c in d['connectors'] if c['id'] == '$gen'][0]['status']")" "pause in the list at once"
assert_eq 1 "$(jq_ 'd["summary"]["paused"]')" "pause in the summary at once"
req POST "/connectors/$gen/resume"
expect 200 "resume"

echo "== secrets stay masked in cached bodies; auth is checked before the cache"
for path in /connectors "/connectors/$gen"; do
    cached "$path"
    assert_not_contains "$BODY" "hunter2" "no plaintext secret in cached $path"
    assert_contains "$BODY" '"password":"********"' "masked in cached $path"
    API_TOKEN=
    req GET "$path"; expect 401 "cached $path without a token"
    assert_not_contains "$BODY" "CACHEB" "no data in the 401 of $path"
    API_TOKEN=wrong-token
    req GET "$path"; expect 401 "cached $path with a wrong token"
    assert_not_contains "$BODY" "CACHEB" "no data in the 401 of $path"
    API_TOKEN=$VIEWER
    req GET "$path"; expect 200 "viewer reads cached $path"
    assert_not_contains "$BODY" "hunter2" "no plaintext secret for the viewer"
    API_TOKEN=$ADMIN
done

echo "== a filter's body is never another filter's"
q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled, status)
   VALUES ('Filter P', 'BANK_API', 'FILTERBANK', '{}', 'test_gen', false, 'PAUSED'),
          ('Filter A', 'PG_API', 'FILTERPG', '{}', 'pg_api', false, 'ACTIVE')"
sleep 0.3
for variant in "" "?status=PAUSED" "?status=paused" "?type=PG_API" "?q=filter" "?q=FILTERPG" "?q=nothing-matches" "?status=ACTIVE&q=filter"; do
    cached "/connectors$variant"
done
check_variant() { # query python-predicate-over-connector expected-count
    req GET "/connectors$1"
    local n
    n=$(jq_ "len(d['connectors'])")
    assert_eq "$3" "$n" "GET /connectors$1 count"
    assert_eq True "$(jq_ "all($2 for c in d['connectors'])")" "GET /connectors$1 rows match the filter"
}
all=$(q "SELECT count(*) FROM sp_v2_connectors")
check_variant "" "True" "$all"
check_variant "?status=PAUSED" "c['status'] == 'PAUSED'" "$(q "SELECT count(*) FROM sp_v2_connectors WHERE status = 'PAUSED'")"
check_variant "?status=paused" "c['status'] == 'PAUSED'" "$(q "SELECT count(*) FROM sp_v2_connectors WHERE status = 'PAUSED'")"
check_variant "?type=PG_API" "c['connector_type'] == 'PG_API'" "$(q "SELECT count(*) FROM sp_v2_connectors WHERE connector_type = 'PG_API'")"
check_variant "?q=filter" "'filter' in c['name'].lower()" 2
check_variant "?q=FILTERPG" "c['source_entity'] == 'FILTERPG'" 1
check_variant "?q=nothing-matches" "False" 0
check_variant "?status=ACTIVE&q=filter" "c['name'] == 'Filter A'" 1

echo "== a change made in SQL shows within a second"
cached /connectors
cached "/connectors/$gen"
q "UPDATE sp_v2_connectors SET source_entity = 'SQLEDIT' WHERE id = $gen"
within_1s /connectors "[c for c in d['connectors'] if c['id'] == '$gen'][0]['source_entity'] == 'SQLEDIT'"
within_1s "/connectors/$gen" "d['connector']['source_entity'] == 'SQLEDIT'"
cached "/connectors?q=sqledit"
q "DELETE FROM sp_v2_connectors WHERE name = 'Filter P'"
within_1s /connectors "not any(c['name'] == 'Filter P' for c in d['connectors'])"
within_1s "/connectors?status=PAUSED" "not any(c['name'] == 'Filter P' for c in d['connectors'])"

echo "== history pages follow new runs, direct and through the runner"
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, started_at, completed_at, triggered_by)
   SELECT $gen, 'SCHEDULED', current_date - g, CASE WHEN g % 2 = 0 THEN 'SUCCESS' ELSE 'FAILED' END,
          now() - g * interval '1 hour', now() - g * interval '1 hour' + interval '1 second', 'seed'
     FROM generate_series(1, 50) g"
sleep 0.3
cached "/connectors/$gen/history"
assert_eq 50 "$(jq_ 'd["total"]')" "history total"
cached "/connectors/$gen/history?limit=5&offset=10"
cached "/connectors/$gen/history?status=FAILED"
assert_eq 25 "$(jq_ 'd["total"]')" "filtered total"
req GET "/connectors/$gen/history?limit=5&offset=10"
assert_eq 5 "$(jq_ 'len(d["runs"])')" "the paged variant's own body"
assert_eq 10 "$(jq_ 'd["offset"]')" "the paged variant's own offset"
req GET "/connectors/$gen/history"
assert_eq 30 "$(jq_ 'len(d["runs"])')" "the default page's own body"
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, started_at, triggered_by)
   VALUES ($gen, 'MANUAL', current_date, 'FAILED', now(), 'psql')"
within_1s "/connectors/$gen/history" "d['total'] == 51 and d['runs'][0]['triggered_by'] == 'psql'"
within_1s "/connectors/$gen/history?status=FAILED" "d['total'] == 26"
# A run of another connector leaves this history's entry alone.
cached "/connectors/$gen/history"
r=$(renders)
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, status, triggered_by) VALUES (1, 'MANUAL', 'FAILED', 'other')"
sleep 0.3
req GET "/connectors/$gen/history"
assert_eq "$r" "$(renders)" "another connector's run does not flush this history"

# Through the runner: a 2-second run, the history cached while it runs.
req POST "/connectors/$gen/run" '{"triggered_by": "cache-test"}'
expect 202 "run"
run=$(jq_ 'd["run_id"]')
wait_for "SELECT status = 'RUNNING' FROM sp_v2_connector_runs WHERE id = $run" 20 "run started"
cached "/connectors/$gen/history"
assert_eq RUNNING "$(jq_ "[x for x in d['runs'] if x['id'] == '$run'][0]['status']")" "running in history"
cached /connectors
assert_eq RUNNING "$(jq_ "[c for c in d['connectors'] if c['id'] == '$gen'][0]['active_run']['status']")" "active run listed"
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $run" 30 "run finished"
within_1s "/connectors/$gen/history" "[x for x in d['runs'] if x['id'] == '$run'][0]['status'] == 'SUCCESS'"
within_1s /connectors "[c for c in d['connectors'] if c['id'] == '$gen'][0]['active_run'] is None and [c for c in d['connectors'] if c['id'] == '$gen'][0]['last_run_status'] == 'SUCCESS'"
within_1s "/connectors/$gen" "d['connector']['active_run'] is None"

echo "== a lost LISTEN connection: the cache steps aside, then flushes and comes back"
cached /connectors
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'connectord-api-cache'" >/dev/null
q "UPDATE sp_v2_connectors SET source_entity = 'WHILEDOWN' WHERE id = $gen"
deadline=$((SECONDS + 5))
until req GET /connectors && [ "$(jq_ "[c for c in d['connectors'] if c['id'] == '$gen'][0]['source_entity']")" = WHILEDOWN ]; do
    [ $SECONDS -lt $deadline ] || cd_fail "a change made while LISTEN was down never showed: $BODY"
    sleep 0.1
done
wait_live
cached /connectors
assert_eq WHILEDOWN "$(jq_ "[c for c in d['connectors'] if c['id'] == '$gen'][0]['source_entity']")" "after reconnecting"
wait_log w1 "api cache: notification channel lost"

echo "== next_run_at: a cached body ends when its soonest next run comes"
# ACTIVE and due every minute, but every scheduled insert fails: no run,
# no NOTIFY to end the entry instead of its next_run_at.
q "ALTER TABLE sp_v2_connector_runs ADD CONSTRAINT test_no_scheduled CHECK (run_type <> 'SCHEDULED') NOT VALID"
q "UPDATE sp_v2_connectors SET status = 'ACTIVE', schedule_enabled = true, schedule_cron = '* * * * *', schedule_timezone = 'UTC' WHERE id = $gen"
epoch_of() { python3 -c "import datetime,sys; t=datetime.datetime.strptime(sys.argv[1], '%Y-%m-%dT%H:%M:%S.000Z').replace(tzinfo=datetime.timezone.utc); print(int(t.timestamp()))" "$1"; }
while :; do
    within_1s "/connectors/$gen" "d['connector']['next_run_at'] is not None"
    first=$(jq_ 'd["connector"]["next_run_at"]')
    wait_until=$(epoch_of "$first")
    # Far enough from the minute for the two cached checks below.
    [ $((wait_until - $(date +%s))) -lt 6 ] || break
    sleep 6
done
cached "/connectors/$gen"
cached /connectors
# Just past that minute, both answers move on (within a second).
while [ "$(date +%s)" -lt "$wait_until" ]; do sleep 0.2; done
within_1s "/connectors/$gen" "d['connector']['next_run_at'] > '$first'"
within_1s /connectors "[c for c in d['connectors'] if c['id'] == '$gen'][0]['next_run_at'] > '$first'"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id = $gen AND run_type = 'SCHEDULED' AND triggered_by IS DISTINCT FROM 'seed'")" "no scheduled run ended the entry"
q "UPDATE sp_v2_connectors SET schedule_enabled = false WHERE id = $gen"
q "ALTER TABLE sp_v2_connector_runs DROP CONSTRAINT test_no_scheduled"
echo "   a TESTING connector is never scheduled: no next run shown"
q "UPDATE sp_v2_connectors SET status = 'TESTING', schedule_enabled = true WHERE id = $gen"
within_1s "/connectors/$gen" "d['connector']['next_run_at'] is None"
within_1s /connectors "[c for c in d['connectors'] if c['id'] == '$gen'][0]['next_run_at'] is None"
q "UPDATE sp_v2_connectors SET schedule_enabled = false WHERE id = $gen"

echo "== no sanitizer report in the worker's log"
serve_stop w1
assert_not_contains "$(cat "$CD_TEST_TMP/serve-w1.log")" "ERROR: AddressSanitizer" "ASan"
assert_not_contains "$(cat "$CD_TEST_TMP/serve-w1.log")" "runtime error:" "UBSan"
echo "test_api_cache: OK"
