#!/usr/bin/env bash
# connectorctl against a real serve: every command, tables and --json,
# YAML and JSON definitions, URL and token from the environment, and the
# exit codes (0 ok, 1 failed run or test, 2 usage, 3 API error).
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
# The API waits 1 s (+5 s) for a test: long enough for test_gen's, short
# enough to see the wait run out.
serve_config "$CFG" "auth:" "  tokens:" "    - {token: ctl-admin-token-42, role: admin}" \
    "    - {token: ctl-viewer-token-42, role: viewer}" "http:" "  test_timeout_seconds: 1"
"$CD_BUILD_DIR/bin/connectord" -c "$CFG" migrate >/dev/null
serve_start w1 "$CFG"
API=$(api_url w1)
api_wait_ready
CTL="$CD_BUILD_DIR/bin/connectorctl"
export CONNECTORCTL_URL="$API" CONNECTORCTL_TOKEN=ctl-admin-token-42

# ctl EXPECTED_RC args... : sets OUT and ERR
ctl() {
    local want=$1
    shift
    set +e
    "$CTL" "$@" >"$CD_TEST_TMP/ctl.out" 2>"$CD_TEST_TMP/ctl.err"
    local rc=$?
    set -e
    OUT=$(cat "$CD_TEST_TMP/ctl.out")
    ERR=$(cat "$CD_TEST_TMP/ctl.err")
    [ "$rc" = "$want" ] || cd_fail "connectorctl $*: exit $rc, expected $want; out: $OUT; err: $ERR"
}

echo "== list, show, plugins: tables and --json"
# A token read from a CRLF file keeps its \r through $(cat FILE): trimmed.
CONNECTORCTL_TOKEN=$'ctl-admin-token-42\r' ctl 0 list
ctl 0 --token $'ctl-admin-token-42 \r\n' list
ctl 0 list
assert_contains "$OUT" "SabPaisa PG API" "list table"
assert_contains "$OUT" "1 connectors: 1 active" "summary line"
ctl 0 --json list
assert_eq 1 "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["total"])' <<<"$OUT")" "list --json"
ctl 0 show 1
assert_contains "$OUT" "connection_config:" "show"
ctl 0 plugins
assert_contains "$OUT" "test_gen" "plugins table"
assert_contains "$OUT" "no_magic.so" "refused listed"

echo "== a control character stored before the API refused them does not reach the terminal"
esc=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled)
         VALUES ('Esc', 'BANK_API', E'GEN\\x1b[2J\\x1b[31mRED\\u009b1m', '{\"k\\u009b2J\\u007f\": 1}', 'test_gen', false) RETURNING id")
ctl 0 list
assert_contains "$OUT" "GEN [2J [31mRED" "shown, the controls blanked"
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$CD_TEST_TMP/ctl.out" || grep -q $'\xc2\x9b' "$CD_TEST_TMP/ctl.out"; then
    cd_fail "a control character in the list output"
fi
# A key of connection_config is not blanked (it names the setting): escaped as JSON.
ctl 0 show "$esc"
assert_contains "$OUT" '"k\u009b2J\u007f": 1' "a control in a key, escaped"
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$CD_TEST_TMP/ctl.out" || LC_ALL=C grep -q $'\xc2[\x80-\x9f]' "$CD_TEST_TMP/ctl.out"; then
    cd_fail "a control character in the show output"
fi
q "DELETE FROM sp_v2_connectors WHERE id = $esc" >/dev/null

echo "== text from a remote system (a log line, a record error, an error) cannot drive the terminal"
# test_gen logs its log_tag as a driver logs a file name from a bank's SFTP server
esc=$(curl -s -H "Authorization: Bearer $CONNECTORCTL_TOKEN" -H 'Content-Type: application/json' -X POST "$API/connectors" \
    --data-binary '{"name": "Esc log", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "ESC", "schedule_enabled": false,
                    "connection_config": {"rows": 3, "driver_error_every": 2, "log_tag": "file\u001b[2J\u001b]52;c;cHduZWQ=\u0007\u009b31m.csv"}}' |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["connector"]["id"])')
ctl 0 run "$esc" --wait
erun=$(q "SELECT max(id) FROM sp_v2_connector_runs WHERE connector_id = $esc")
ctl 0 logs "$esc" "$erun"
assert_contains "$OUT" "tag file [2J ]52;c;cHduZWQ=   31m.csv" "the log line, its controls blanked"
assert_contains "$OUT" "unreadable line" "the record error shown"
for f in "$CD_TEST_TMP/ctl.out" "$CD_TEST_TMP/ctl.err"; do
    if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$f" || grep -q $'\xc2\x9b' "$f"; then
        cd_fail "a control character in the output of connectorctl logs ($f)"
    fi
done
ctl 0 --json logs "$esc" "$erun"
assert_contains "$(tr 'B' 'b' <<<"$OUT")" '\u001b[2J' "--json keeps the text, escaped"
# jansson writes DEL and the C1 controls (U+009B is CSI) as they are: escaped too.
assert_contains "$OUT" '\u009b31m.csv' "--json escapes a C1 control"
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$CD_TEST_TMP/ctl.out" || LC_ALL=C grep -q $'\xc2[\x80-\x9f]' "$CD_TEST_TMP/ctl.out"; then
    cd_fail "a control character in the output of connectorctl --json logs"
fi
python3 -c 'import json,sys; m=[l["message"] for l in json.load(sys.stdin)["run"]["logs"]["items"] if "tag" in l["message"]]; assert m and "\u009b31m" in m[0] and "\u001b" in m[0], m' <<<"$OUT" ||
    cd_fail "--json: the same text once parsed"
ctl 0 delete "$esc"

echo "== create from YAML, invalid create, edit from JSON"
cat >"$CD_TEST_TMP/gen.yaml" <<'YAML'
name: CLI Gen
connector_type: BANK_API
driver: test_gen
source_entity: CLIBANK
schedule_enabled: false
connection_config:
  rows: 3
  seed: 4
  bank: CLI
  password: yaml-secret-99
YAML
ctl 0 create "$CD_TEST_TMP/gen.yaml"
assert_contains "$OUT" "Connector created successfully" "create"
id=$(q "SELECT id FROM sp_v2_connectors WHERE name = 'CLI Gen'")
ctl 0 show "$id"
assert_contains "$OUT" '"password": "********"' "masked in show"
assert_not_contains "$OUT" yaml-secret "no secret in show"
printf 'name: Bad\nconnector_type: BANK_API\ndriver: test_gen\nsource_entity: B\nschedule_enabled: false\nconnection_config: {rows: -4}\n' >"$CD_TEST_TMP/bad.yaml"
ctl 3 create "$CD_TEST_TMP/bad.yaml"
assert_contains "$ERR" "connection_config.rows" "field error printed"
echo '{"source_entity": "CLIBANK2"}' >"$CD_TEST_TMP/edit.json"
ctl 0 edit "$id" "$CD_TEST_TMP/edit.json"
assert_eq CLIBANK2 "$(q "SELECT source_entity FROM sp_v2_connectors WHERE id = $id")" "edited"

echo "== pause, run refused, resume, run --wait, test"
ctl 0 pause "$id"
ctl 3 run "$id"
assert_contains "$ERR" "Cannot run paused connector" "paused refusal"
ctl 0 resume "$id"
ctl 0 run "$id" --date 2025-10-02 --wait
assert_contains "$OUT" "SUCCESS" "run --wait"
ctl 0 test "$id"
assert_contains "$OUT" "passed" "test passes"
echo '{"connection_config": {"rows": 3, "seed": 4, "bank": "CLI", "password": "********", "fail": "permanent"}}' >"$CD_TEST_TMP/fail.json"
ctl 0 edit "$id" "$CD_TEST_TMP/fail.json"
ctl 1 run "$id" --date 2025-10-03 --wait
assert_contains "$OUT" "FAILED" "failed run"
echo '{"connection_config": {"rows": 3, "seed": 4, "bank": "CLI", "password": "********", "fail": "config"}}' >"$CD_TEST_TMP/fail.json"
ctl 0 edit "$id" "$CD_TEST_TMP/fail.json"
ctl 1 test "$id"
assert_contains "$OUT" "FAILED" "failing test"
assert_not_contains "$OUT" yaml-secret "secret scrubbed from the test output"

echo "== a test the API stopped waiting for (504) is not reported as a failed test"
# A slow run holds the connector's one RUNNING slot; the test run queues
# behind it and the API's wait runs out first.
echo '{"connection_config": {"rows": 60, "seed": 4, "bank": "CLI", "password": "********", "sleep_ms": 250}}' >"$CD_TEST_TMP/slow.json"
ctl 0 edit "$id" "$CD_TEST_TMP/slow.json"
ctl 0 run "$id" --date 2025-10-04
slow=$(sed -n 's/^run \([0-9]*\) queued$/\1/p' <<<"$OUT")
for _ in $(seq 100); do
    [ "$(q "SELECT status FROM sp_v2_connector_runs WHERE id = $slow")" = RUNNING ] && break
    sleep 0.1
done
ctl 3 test "$id"
assert_contains "$ERR" "error 504: The test did not finish in time" "the server's message"
assert_contains "$ERR" "has not finished; its outcome: connectorctl logs $id " "where the outcome will be"
assert_not_contains "$OUT$ERR" "FAILED" "a test still running is not a failed one"
curl -s -o /dev/null -H "Authorization: Bearer $CONNECTORCTL_TOKEN" -H 'Content-Type: application/json' \
    -X POST -d '{}' "$API/connectors/$id/runs/$slow/cancel"
for _ in $(seq 300); do
    [ "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id = $id AND status IN ('QUEUED', 'RUNNING')")" = 0 ] && break
    sleep 0.1
done

echo "== run --wait follows the run through a restart of connectord"
# The run outlives the worker that started it: handed back to the queue at
# the stop, run again after the start. connectorctl exited 3 at the first
# refused connection, though the run went on and succeeded.
echo '{"connection_config": {"rows": 16, "seed": 4, "bank": "CLI", "password": "********", "sleep_ms": 250}}' >"$CD_TEST_TMP/slow.json"
ctl 0 edit "$id" "$CD_TEST_TMP/slow.json"
set +e
"$CTL" run "$id" --date 2025-10-06 --wait >"$CD_TEST_TMP/wait.out" 2>"$CD_TEST_TMP/wait.err" &
waiter=$!
set -e
for _ in $(seq 100); do
    [ "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id = $id AND run_date = '2025-10-06' AND status = 'RUNNING'")" = 1 ] && break
    sleep 0.1
done
port=${SERVE_PORT[w1]}
serve_stop w1 || true
sleep 2 # connectorctl meets a refused connection
CONNECTORD_HTTP_PORT=$port "$CD_BUILD_DIR/bin/connectord" -c "$CFG" serve >>"$CD_TEST_TMP/serve-w1.log" 2>&1 &
SERVE_PID[w1]=$!
api_wait_ready
rc=0
wait "$waiter" || rc=$?
assert_eq 0 "$rc" "run --wait exit code through the restart: $(cat "$CD_TEST_TMP/wait.err")"
assert_contains "$(cat "$CD_TEST_TMP/wait.out")" "SUCCESS" "the run's outcome"
assert_contains "$(cat "$CD_TEST_TMP/wait.err")" "asking again for up to 300 s" "says it keeps asking"
assert_contains "$(cat "$CD_TEST_TMP/wait.err")" "connectord answers again" "and when it answers"

echo "== history, logs"
ctl 0 history "$id"
assert_contains "$OUT" "MANUAL" "history table"
assert_contains "$OUT" "runs in all" "history footer"
ctl 0 --json history "$id" --limit 1
assert_eq 1 "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))' <<<"$OUT")" "history --limit"
# the next page by cursor, as the footer says: the run after the first, not the first again
ids=$(q "SELECT string_agg(id::text, ',' ORDER BY started_at DESC NULLS FIRST, id DESC) FROM sp_v2_connector_runs WHERE connector_id = $id")
ctl 0 history "$id" --limit 1
next=$(sed -n 's/^older: connectorctl history [0-9]* --before //p' <<<"$OUT")
[ -n "$next" ] || cd_fail "history prints how to read the next page: $OUT"
ctl 0 --json history "$id" --limit 1 --before "$next"
assert_eq "$(cut -d, -f2 <<<"$ids")" "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])' <<<"$OUT")" "history --before: the next page"
run=$(q "SELECT id FROM sp_v2_connector_runs WHERE connector_id = $id AND run_date = '2025-10-02'")
ctl 0 logs "$id" "$run"
assert_contains "$OUT" "attempt 1" "logs attempts"
assert_contains "$OUT" "log:" "logs lines"

echo "== logs: every page of the log, the retried attempt's lines too"
# 3000 lines an attempt; the first attempt fails (transient) and is retried:
# more lines than one page of the API (5000) holds.
lid=$(curl -s -H "Authorization: Bearer $CONNECTORCTL_TOKEN" -H 'Content-Type: application/json' -X POST "$API/connectors" \
    --data-binary '{"name": "Chatty", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "CHATTY", "schedule_enabled": false,
                    "connection_config": {"rows": 1, "log_lines": 3000, "fail_once_on": "2025-10-05", "auto_retry": true, "retry_count": 1}}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["connector"]["id"])')
ctl 0 run "$lid" --date 2025-10-05
lrun=$(sed -n 's/^run \([0-9]*\) queued$/\1/p' <<<"$OUT")
for _ in $(seq 600); do
    [ "$(q "SELECT status FROM sp_v2_connector_runs WHERE id = $lrun")" = SUCCESS ] && break
    sleep 0.1
done
assert_eq SUCCESS "$(q "SELECT status FROM sp_v2_connector_runs WHERE id = $lrun")" "the retried run succeeded"
total=$(q "SELECT count(*) FROM sp_v2_connector_run_logs WHERE run_id = $lrun")
[ "$total" -gt 6000 ] || cd_fail "expected more than 6000 log lines, got $total"
ctl 0 logs "$lid" "$lrun"
assert_eq 6000 "$(grep -c ' chatter [0-9]*$' <<<"$OUT")" "every chatter line of both attempts"
assert_eq 2 "$(grep -c ' chatter 002999$' <<<"$OUT")" "the last line of each attempt"
ctl 0 --json logs "$lid" "$lrun"
assert_eq "$total" "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["run"]["logs"]["items"]))' <<<"$OUT")" "--json holds every line"
ctl 0 delete "$lid"

echo "== audit: a table newest first, paged by cursor"
audit_ids=$(q "SELECT string_agg(id::text, ',' ORDER BY id DESC) FROM sp_v2_connector_audit WHERE connector_id = $id")
ctl 0 audit "$id"
assert_contains "$OUT" "RESUME" "audit table"
assert_contains "$OUT" "source_entity" "changed fields shown"
assert_contains "$OUT" "entries in all" "audit footer"
assert_not_contains "$OUT" yaml-secret "no secret in the audit table"
ctl 0 audit "$id" --limit 1
next=$(sed -n 's/^older: connectorctl audit [0-9]* --before //p' <<<"$OUT")
[ -n "$next" ] || cd_fail "audit prints how to read the next page: $OUT"
# a change meanwhile adds an entry at the top; the next page is still the entry after the first
ctl 0 pause "$id"
ctl 0 resume "$id"
ctl 0 --json audit "$id" --limit 1 --before "$next"
assert_eq "$(cut -d, -f2 <<<"$audit_ids")" "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["audit"][0]["id"])' <<<"$OUT")" "audit --before: the next page"
ctl 3 audit "$id" --before x
assert_contains "$ERR" "before" "a bad cursor is the API's 400, naming it"

echo "== backfill --wait"
echo '{"connection_config": {"rows": 2, "seed": 4, "bank": "CLI", "password": "********"}}' >"$CD_TEST_TMP/ok.json"
ctl 0 edit "$id" "$CD_TEST_TMP/ok.json"
ctl 0 backfill "$id" 2025-09-01 2025-09-03 --wait
assert_contains "$OUT" "3/3 done (3 ok" "progress to the end"
ctl 3 backfill "$id" 2025-09-03 2025-09-01
assert_contains "$ERR" "before from_date" "reversed range"

echo "== usage and API errors"
ctl 2
assert_contains "$ERR" "a COMMAND is required" "no command"
ctl 2 frobnicate
assert_contains "$ERR" "unknown command frobnicate" "unknown command"
ctl 2 show
assert_contains "$ERR" "connectorctl show: missing ID" "missing id"
assert_contains "$ERR" "usage: connectorctl [--url URL] [--token TOKEN] [--json] show ID" "show usage"
ctl 2 show abc
assert_contains "$ERR" "ID must be a positive integer, got 'abc'" "bad id"
# An error answer that is not the API's JSON (libmicrohttpd's own 414 here,
# a proxy's 502 page elsewhere): its text, not "(no message)".
ctl 3 list --search "$(head -c 70000 /dev/zero | tr '\0' a)"
assert_contains "$ERR" "connectorctl: error 414: " "the status"
assert_contains "$ERR" "too big" "the server's text"
assert_not_contains "$ERR" "(no message)" "a message there is"
assert_not_contains "$ERR" "<" "its markup dropped"

echo "== a definition that cannot be read, or holds nothing, is not sent"
audit_before=$(q "SELECT count(*) FROM sp_v2_connector_audit")
# A directory opens but reads nothing: it was sent as {}, and the edit said it updated the connector.
ctl 2 edit "$id" "$CD_TEST_TMP"
assert_contains "$ERR" "cannot read $CD_TEST_TMP: Is a directory" "the read error, with the reason"
assert_contains "$ERR" "usage: connectorctl [--url URL] [--token TOKEN] [--json] edit ID FILE" "edit usage"
: >"$CD_TEST_TMP/empty.yaml"
ctl 2 edit "$id" "$CD_TEST_TMP/empty.yaml"
assert_contains "$ERR" "empty.yaml holds no fields: nothing to send" "an empty file"
ctl 2 create "$CD_TEST_TMP/no-such.yaml"
assert_contains "$ERR" "cannot open $CD_TEST_TMP/no-such.yaml: No such file or directory" "open error with the reason"
assert_eq "$audit_before" "$(q "SELECT count(*) FROM sp_v2_connector_audit")" "nothing sent: no change recorded"

echo "== every argument is a known option, its value or a positional; nothing is ignored"
runs_before=$(q "SELECT count(*) FROM sp_v2_connector_runs")
# ctl_usage EXPECTED_MESSAGE args... : exit 2, the message and a usage line
ctl_usage() {
    local msg=$1
    shift
    ctl 2 "$@"
    assert_contains "$ERR" "$msg" "connectorctl $*"
    assert_contains "$ERR" "usage: connectorctl" "usage line for connectorctl $*"
}
ctl_usage "connectorctl run: unknown option --dat" run "$id" --dat 2025-01-03
ctl_usage "connectorctl run: unexpected argument 2025-01-03" run "$id" 2025-01-03
ctl_usage "--date needs a value" run "$id" --date
ctl_usage "--date needs a value" run "$id" --date --wait
ctl_usage "--date is given twice" run "$id" --date 2025-01-01 --date 2025-01-02
ctl_usage "--wait is given twice" run "$id" --wait --wait
ctl_usage "--json goes before the command" run "$id" --json
ctl_usage "unknown option --forc" delete "$id" --forc
ctl_usage "unexpected argument extra" delete "$id" --force extra
ctl_usage "unknown option --wiat" backfill "$id" 2025-09-01 2025-09-02 --wiat
ctl_usage "ID must be a positive integer, got 'x1'" backfill x1 2025-09-01 2025-09-02
ctl_usage "ID must be a positive integer, got ''" backfill "" 2025-09-01 2025-09-02
ctl_usage "connectorctl backfill: missing TO" backfill "$id" 2025-09-01
ctl_usage "--limit needs a value" history "$id" --limit
ctl_usage "unknown option --limt" history "$id" --limt 1
ctl_usage "unknown option --status" audit "$id" --status SUCCESS
ctl_usage "--before needs a value" audit "$id" --before
ctl_usage "RUN_ID must be a positive integer, got '0'" logs "$id" 0
ctl_usage "missing RUN_ID" logs "$id"
ctl_usage "unexpected argument extra" list extra
ctl_usage "unknown option --stauts" list --stauts ACTIVE
ctl_usage "unexpected argument x" plugins x
ctl_usage "unexpected argument x" pause "$id" x
ctl_usage "cannot open" create "$CD_TEST_TMP/does-not-exist.yaml"
ctl_usage "--url needs a value" --url
assert_eq "$runs_before" "$(q "SELECT count(*) FROM sp_v2_connector_runs")" "no run queued by a refused command line"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_connectors WHERE id = $id")" "not deleted by --forc"
ctl 0 --json history "$id" --status SUCCESS --type MANUAL --offset 0 --limit 2
assert_eq "SUCCESS" "$(python3 -c 'import json,sys; print(",".join(sorted({r["status"] for r in json.load(sys.stdin)["runs"]})))' <<<"$OUT")" "history filters passed on"
ctl 0 list --status ACTIVE --search "CLI Gen"
assert_contains "$OUT" "CLI Gen" "list filters passed on"
ctl 3 run "$id" --date 2999-01-01
assert_contains "$ERR" "in the future" "the API's date check"

echo "== the API's cancel of a missing run is still a 404"
API_TOKEN=ctl-admin-token-42 req POST "/connectors/$id/runs/999999/cancel"
expect 404 "cancel of a missing run"
ctl 3 show 99999
assert_contains "$ERR" "Connector not found" "404 message"
CONNECTORCTL_TOKEN=ctl-viewer-token-42 ctl 3 pause "$id"
assert_contains "$ERR" "403" "viewer refused"
CONNECTORCTL_TOKEN= ctl 3 list
assert_contains "$ERR" "401" "no token"
ctl 0 --token ctl-viewer-token-42 list
ctl 3 --url "http://127.0.0.1:$(cd_free_port)" list

echo "== delete"
ctl 0 delete "$id"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connectors WHERE id = $id")" "deleted"
serve_stop w1
echo PASS
