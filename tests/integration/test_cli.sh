#!/usr/bin/env bash
# connectord's own subcommands that write runs (cancel, backfill, run
# --date) against a real database: a missing run is "does not exist" (exit
# 3), not "already finished"; backfill and run refuse what the REST API
# refuses (backfill.max_days, dates after the connector's today) and queue
# nothing; malformed arguments exit 2 with a message.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
pg_tmp_start
trap 'pg_tmp_stop' EXIT
CD="$CD_BUILD_DIR/bin/connectord"
CFG="$CD_TEST_TMP/w/connectord.yaml"
serve_config "$CFG"
"$CD" -c "$CFG" migrate >/dev/null

# cli EXPECTED_RC args... : sets OUT and ERR
cli() {
    local want=$1
    shift
    set +e
    "$CD" -c "$CFG" "$@" >"$CD_TEST_TMP/cli.out" 2>"$CD_TEST_TMP/cli.err"
    local rc=$?
    set -e
    OUT=$(cat "$CD_TEST_TMP/cli.out")
    ERR=$(cat "$CD_TEST_TMP/cli.err")
    [ "$rc" = "$want" ] || cd_fail "connectord $*: exit $rc, expected $want; out: $OUT; err: $ERR"
}

id=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled)
        VALUES ('cli', 'BANK_API', 'CLI', '{\"rows\": 1, \"seed\": 1, \"bank\": \"CLI\"}'::jsonb, 'test_gen', false) RETURNING id")
runs() { q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id = $id"; }
# The connector's today and the days around it, in its own zone.
day() { q "SELECT to_char((now() AT TIME ZONE 'Asia/Kolkata')::date + $1, 'YYYY-MM-DD')"; }
today=$(day 0)
tomorrow=$(day 1)

echo "== templates: of two files with one template name, the first by file name"
# On tmpfs readdir lists the newest first: the winner followed the order
# the files were written in.
TD=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d -p "$CD_TEST_TMP")
mkdir -p "$TD/conf.d/templates"
printf 'database:\n  url: "postgresql:///unused"\n' >"$TD/c.yaml"
for f in a b; do
    printf 'name: HDFC\nformat:\n  from: %s\n' "$f" >"$TD/conf.d/templates/$f.yaml"
done
tj=$("$CD" -c "$TD/c.yaml" templates --json)
rm -rf "$TD"
assert_eq "a" "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["templates"][0]["format"]["from"])' <<<"$tj")" \
    "a.yaml's format is used"
assert_contains "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["refused"][0]["file"])' <<<"$tj")" \
    "/b.yaml" "b.yaml is the duplicate"

echo "== cancel: a missing run, a finished one, a queued one"
cli 3 cancel 999999
assert_contains "$ERR" "run 999999 does not exist" "missing run"
assert_not_contains "$OUT" "already finished" "missing run is not 'finished'"
done_id=$(q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, completed_at)
             VALUES ($id, 'MANUAL', '2025-10-01', 'SUCCESS', now()) RETURNING id")
cli 0 cancel "$done_id"
assert_contains "$OUT" "run $done_id: already finished" "finished run"
assert_eq SUCCESS "$(q "SELECT status FROM sp_v2_connector_runs WHERE id = $done_id")" "finished run untouched"
queued=$(q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status)
            VALUES ($id, 'MANUAL', '2025-10-02', 'QUEUED') RETURNING id")
cli 0 cancel "$queued"
assert_contains "$OUT" "cancelled (it was queued)" "queued run"
assert_eq "FAILED|cancelled by CLI" "$(q "SELECT status, error_message FROM sp_v2_connector_runs WHERE id = $queued")" "queued run cancelled"
assert_eq "t" "$(q "SELECT duration_seconds IS NULL FROM sp_v2_connector_runs WHERE id = $queued")" \
    "a run cancelled before it started has no duration (not 0 s)"
cli 2 cancel abc
assert_contains "$ERR" "usage:" "cancel usage"
cli 2 cancel "$queued" extra
# the column holds 100 characters: a longer name was a raw "value too long" from PostgreSQL
cli 2 run "$id" --triggered-by "$(printf 'x%.0s' $(seq 101))"
assert_contains "$ERR" "--triggered-by must be 1..100 characters" "a long --triggered-by"
q "DELETE FROM sp_v2_connector_runs WHERE connector_id = $id" >/dev/null

echo "== backfill: backfill.max_days, future dates, malformed arguments"
cli 2 backfill "$id" 2020-01-01 2029-12-31
assert_contains "$ERR" "the range has 3653 days; at most 366 (backfill.max_days)" "default max_days"
cli 2 backfill "$id" 2023-12-31 2024-12-31
assert_contains "$ERR" "the range has 367 days; at most 366" "one day over the bound"
assert_eq 0 "$(runs)" "nothing queued by refused backfills"
cli 0 backfill "$id" 2024-01-01 2024-12-31
assert_eq 366 "$(runs)" "a range of exactly backfill.max_days is queued"
q "DELETE FROM sp_v2_connector_runs WHERE connector_id = $id" >/dev/null
cli 2 backfill "$id" "$(day -2)" "$tomorrow"
assert_contains "$ERR" "TO $tomorrow is in the future (in the connector's time zone it is $today)" "future TO"
cli 2 backfill "$id" "$tomorrow" "$tomorrow"
assert_contains "$ERR" "in the future" "future FROM and TO"
assert_eq 0 "$(runs)" "nothing queued by refused backfills"
cli 0 backfill "$id" "$(day -2)" "$today"
assert_contains "$OUT" '"runs": 3' "a range ending today is accepted"
assert_eq 3 "$(runs)" "three runs queued"
cli 3 backfill 999999 2025-01-01 2025-01-02
assert_contains "$ERR" "Connector not found" "missing connector"
cli 2 backfill x1 2025-01-01 2025-01-02
assert_contains "$ERR" "CONNECTOR_ID must be a positive integer: x1" "bad id named"
cli 2 backfill "$id" 2025-01-01
assert_contains "$ERR" "CONNECTOR_ID, FROM and TO are required" "missing TO"
cli 2 backfill "$id" 2025-01-01 2025-01-02 --wait
assert_contains "$ERR" "unexpected argument: --wait" "extra argument named"
cli 2 backfill "$id" 2025-02-30 2025-03-01
assert_contains "$ERR" "FROM must be a date YYYY-MM-DD: 2025-02-30" "bad FROM"
cli 2 backfill "$id" 2025-01-03 2025-01-01
assert_contains "$ERR" "TO 2025-01-01 is before FROM 2025-01-03" "reversed range"
# backfill.max_days from the configuration is the bound, not a constant
printf 'backfill:\n  max_days: 3\n' >"$CD_TEST_TMP/w/conf.d/60-max.yaml"
cli 2 backfill "$id" 2025-01-01 2025-01-04
assert_contains "$ERR" "the range has 4 days; at most 3 (backfill.max_days)" "configured max_days"
cli 0 backfill "$id" 2025-01-01 2025-01-03
assert_eq 6 "$(runs)" "a range within the configured bound is queued"
rm "$CD_TEST_TMP/w/conf.d/60-max.yaml"
q "DELETE FROM sp_v2_connector_runs WHERE connector_id = $id" >/dev/null

echo "== run --date: a future date is refused, today is run"
cli 2 run "$id" --date "$tomorrow"
assert_contains "$ERR" "--date $tomorrow is in the future (in the connector's time zone it is $today)" "future --date"
assert_eq 0 "$(runs)" "no run row for a refused date"
cli 3 run 999999 --date "$today"
assert_contains "$ERR" "Connector not found" "run of a missing connector"
cli 0 run "$id" --date "$today"
assert_contains "$OUT" '"status": "SUCCESS"' "today's run"
assert_eq "$today" "$(q "SELECT run_date FROM sp_v2_connector_runs WHERE connector_id = $id")" "run for today"
echo "== a cancel recorded for a run \`connectord run\` started in the foreground stops it"
slow=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled)
          VALUES ('cli_slow', 'BANK_API', 'CLISLOW', '{\"rows\": 60, \"seed\": 1, \"bank\": \"CLISLOW\", \"sleep_ms\": 500}'::jsonb, 'test_gen', false) RETURNING id")
set +e
"$CD" -c "$CFG" run "$slow" --date "$today" >"$CD_TEST_TMP/slow.out" 2>"$CD_TEST_TMP/slow.err" &
runpid=$!
set -e
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_runs WHERE connector_id = $slow AND status = 'RUNNING'" 10 "the foreground run running"
rid=$(q "SELECT id FROM sp_v2_connector_runs WHERE connector_id = $slow")
t0=$SECONDS
q "UPDATE sp_v2_connector_runs SET cancel_requested_at = now(), cancel_requested_by = 'bob' WHERE id = $rid" >/dev/null
set +e
wait "$runpid"
rc=$?
set -e
[ $((SECONDS - t0)) -le 6 ] || cd_fail "the cancel took $((SECONDS - t0)) s to stop the run (it runs 30 s)"
assert_eq 1 "$rc" "exit code of a run that did not succeed"
assert_eq "FAILED|cancelled by bob|cancelled" "$(q "SELECT status || '|' || error_message || '|' || (details->>'outcome') FROM sp_v2_connector_runs WHERE id = $rid")" \
    "settled as bob's cancel"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'CLISLOW'")" "nothing loaded"

echo "== backfill and cancel refuse a database whose schema is behind, as run and serve do"
# They wrote runs into whatever schema they found: against an empty
# database the user saw PostgreSQL's 'relation ... does not exist'.
q "CREATE DATABASE cli_empty" >/dev/null
OLDCFG="$CD_TEST_TMP/old/connectord.yaml"
OLDURL=$(printf '%s' "$CD_DATABASE_URL" | sed 's|///connectord?|///cli_empty?|')
[ "$OLDURL" != "$CD_DATABASE_URL" ] || cd_fail "cannot name the empty database in $CD_DATABASE_URL"
serve_config "$OLDCFG" "database:" "  url: \"$OLDURL\""
queued=$(q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status)
            VALUES ($id, 'MANUAL', '2025-10-03', 'QUEUED') RETURNING id")
behind="the database schema is behind this connectord: run \`connectord migrate\`"
for args in "backfill $id 2025-01-01 2025-01-02" "cancel $queued"; do
    set +e
    # shellcheck disable=SC2086
    "$CD" -c "$OLDCFG" $args >"$CD_TEST_TMP/cli.out" 2>"$CD_TEST_TMP/cli.err"
    rc=$?
    set -e
    assert_eq 3 "$rc" "connectord $args against an empty database"
    assert_contains "$(cat "$CD_TEST_TMP/cli.err")" "$behind" "connectord $args: an empty database"
    assert_not_contains "$(cat "$CD_TEST_TMP/cli.err")" "does not exist" "connectord $args: no raw SQL error"
done
# The migrated database, with a migration this connectord has and it lacks.
mkdir -p "$CD_TEST_TMP/newer"
cp "$CD_SOURCE_DIR"/schema/*.sql "$CD_TEST_TMP/newer/"
echo "SELECT 1;" >"$CD_TEST_TMP/newer/999_newer.sql"
printf 'schema:\n  dir: "%s"\n' "$CD_TEST_TMP/newer" >"$CD_TEST_TMP/w/conf.d/60-schema.yaml"
cli 3 backfill "$id" 2025-01-01 2025-01-02
assert_contains "$ERR" "$behind" "backfill against an older schema"
cli 3 cancel "$queued"
assert_contains "$ERR" "$behind" "cancel against an older schema"
rm "$CD_TEST_TMP/w/conf.d/60-schema.yaml"
assert_eq "QUEUED|0" "$(q "SELECT status || '|' || (SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id = $id AND backfill_id IS NOT NULL) FROM sp_v2_connector_runs WHERE id = $queued")" \
    "nothing queued or cancelled by the refused commands"
cli 0 cancel "$queued"
assert_contains "$OUT" "cancelled (it was queued)" "cancel works again with the schema up to date"

echo PASS
