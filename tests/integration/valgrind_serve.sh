#!/usr/bin/env bash
# valgrind over the daemon: `connectord serve` with its API, scheduler and
# dispatcher, the runner zygote it starts and the runners the zygote forks
# (valgrind follows both), through scheduled, manual, test and failing
# runs, API reads and writes, a reload and a graceful stop: no invalid
# access and no definite leak in any of those processes. Release build only
# (valgrind and ASan do not mix).
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
source "$CD_SOURCE_DIR/tests/lib/api.sh"
pg_tmp_start
VGPID=
trap '[ -n "$VGPID" ] && kill -KILL "$VGPID" 2>/dev/null; pg_tmp_stop' EXIT
CD="$CD_BUILD_DIR/bin/connectord"
CFG="$CD_TEST_TMP/w/connectord.yaml"
serve_config "$CFG" "workers:" "  max_concurrent_runs: 2"
"$CD" -c "$CFG" migrate >/dev/null
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
PORT=$(cd_free_port)
good=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled)
          VALUES ('vg', 'BANK_API', 'VGBANK', '{\"rows\": 500, \"seed\": 5, \"bad_every\": 100}', 'test_gen', false) RETURNING id")
bad=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled)
         VALUES ('vgfail', 'BANK_API', 'VGFAIL', '{\"rows\": 1, \"seed\": 1, \"fail\": \"config\"}', 'test_gen', false) RETURNING id")
empty=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled)
           VALUES ('vgempty', 'BANK_API', 'VGEMPTY', '{\"rows\": 0}', 'test_gen', false) RETURNING id")

VG=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --trace-children=yes --child-silent-after-fork=no
    --log-file="$CD_TEST_TMP/vg.%p.log")
CONNECTORD_HTTP_PORT=$PORT "${VG[@]}" "$CD" -c "$CFG" serve >"$CD_TEST_TMP/serve.log" 2>&1 &
VGPID=$!
for i in $(seq 1 300); do
    grep -q "serving as worker" "$CD_TEST_TMP/serve.log" && break
    kill -0 "$VGPID" 2>/dev/null || { cat "$CD_TEST_TMP/serve.log" >&2; cd_fail "serve exited under valgrind"; }
    sleep 0.2
done
BASE="http://127.0.0.1:$PORT"

for c in "$good" "$bad" "$empty"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -d '{"run_date": "2025-10-02", "triggered_by": "vg"}' "$BASE/connectors/$c/run")
    case "$code" in 200 | 202) ;; *) cd_fail "queueing a run of connector $c: HTTP $code" ;; esac
done
wait_for "SELECT count(*) = 3 FROM sp_v2_connector_runs WHERE status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED')" 180 "three runs under valgrind"
assert_eq "PARTIAL_SUCCESS" "$(q "SELECT status FROM sp_v2_connector_runs WHERE connector_id = $good")" "the run with bad rows"
assert_eq "FAILED" "$(q "SELECT status FROM sp_v2_connector_runs WHERE connector_id = $bad")" "the failing run"
assert_eq "SUCCESS" "$(q "SELECT status FROM sp_v2_connector_runs WHERE connector_id = $empty")" "the empty run"
curl -s -o /dev/null -X POST "$BASE/connectors/$empty/test"
for path in /connectors "/connectors?status=ACTIVE&q=vg" "/connectors/$good" "/connectors/$good/history" /plugins /healthz; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$path")
    assert_eq 200 "$code" "GET $path"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"name": ' "$BASE/connectors")
assert_eq 400 "$code" "malformed body"
kill -HUP "$VGPID"
sleep 3
kill -TERM "$VGPID"
set +e
wait "$VGPID"
rc=$?
set -e
VGPID=
cat "$CD_TEST_TMP"/vg.*.log >&2 || true
assert_eq 0 "$rc" "serve's exit code under valgrind (99 means valgrind found errors)"
n=0
for f in "$CD_TEST_TMP"/vg.*.log; do
    n=$((n + 1))
    [ -s "$f" ] && cd_fail "valgrind reported problems in $(basename "$f")"
done
[ "$n" -ge 2 ] || cd_fail "valgrind followed only $n process(es): the zygote and its runners were not checked"
echo "valgrind serve checks passed ($n processes)"
