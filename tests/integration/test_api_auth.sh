#!/usr/bin/env bash
# Bearer tokens and roles: viewer reads, operator also acts on runs,
# admin also changes connectors; missing or wrong tokens are 401, a role
# too low 403; a token may be a secret reference; the audit names the
# token; and with no tokens connectord refuses a non-loopback address.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
source "$CD_SOURCE_DIR/tests/lib/api.sh"
pg_tmp_start
trap 'serve_stop_all; pg_tmp_stop' EXIT
SERVE_PLUGINS="$CD_TEST_TMP/plugins"
api_plugins_dir "$SERVE_PLUGINS"

echo "== no tokens and a non-loopback address: refused at start"
CFG0="$CD_TEST_TMP/open/connectord.yaml"
serve_config "$CFG0" "http:" "  listen: 0.0.0.0"
"$CD_BUILD_DIR/bin/connectord" -c "$CFG0" migrate >/dev/null
set +e
timeout 20 "$CD_BUILD_DIR/bin/connectord" -c "$CFG0" serve >"$CD_TEST_TMP/open.log" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || cd_fail "serve started on 0.0.0.0 without tokens"
[ $rc -ne 124 ] || cd_fail "serve kept running on 0.0.0.0 without tokens"
assert_contains "$(cat "$CD_TEST_TMP/open.log")" "without auth.tokens" "refusal message"

echo "== a token name that cannot be recorded as who acted: refused at start"
# Every write records the token's name (VARCHAR(100) columns): a longer
# one made each write by that token a 500.
CFGN="$CD_TEST_TMP/longname/connectord.yaml"
serve_config "$CFGN" "auth:" "  tokens:" \
    "    - {token: admin-token-0123456789, role: admin, name: $(printf 'n%.0s' $(seq 101))}"
set +e
timeout 20 "$CD_BUILD_DIR/bin/connectord" -c "$CFGN" serve >"$CD_TEST_TMP/longname.log" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -ne 124 ] || cd_fail "serve ran with a 101-character token name (rc $rc)"
assert_contains "$(cat "$CD_TEST_TMP/longname.log")" "auth.tokens[0].name: must be at most 100 characters" \
    "the long name is named"
serve_config "$CFGN" "auth:" "  tokens:" "    - {token: admin-token-0123456789, role: admin, name: 7}"
set +e
timeout 20 "$CD_BUILD_DIR/bin/connectord" -c "$CFGN" serve >"$CD_TEST_TMP/longname.log" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -ne 124 ] || cd_fail "serve ran with a token name that is a number (rc $rc)"
assert_contains "$(cat "$CD_TEST_TMP/longname.log")" "auth.tokens[0].name: must be a string" \
    "a name that is no string is named"

echo "== tokens with roles"
export API_ADMIN_TOKEN="admin-token-from-env-0123456789"
CFG="$CD_TEST_TMP/w/connectord.yaml"
serve_config "$CFG" "auth:" "  tokens:" \
    "    - {token: viewer-token-0123456789, role: viewer, name: ops-viewer}" \
    "    - {token: operator-token-0123456789, role: operator, name: ops-operator}" \
    "    - {token: {secret: \"env:API_ADMIN_TOKEN\"}, role: admin, name: ops-admin}"
serve_start w1 "$CFG"
API=$(api_url w1)
api_wait_ready
assert_not_contains "$(cat "$CD_TEST_TMP/serve-w1.log")" "token-0123456789" "tokens not logged"

API_TOKEN=
req GET /connectors
expect 401 "no token"
assert_contains "$(curl -s -D - -o /dev/null "$API/connectors")" "WWW-Authenticate: Bearer" "challenge header"
API_TOKEN=wrong
req GET /connectors
expect 401 "wrong token"
API_TOKEN=viewer-token-012345678
req GET /connectors
expect 401 "a prefix of a token"
API_TOKEN=viewer-token-01234567890
req GET /connectors
expect 401 "a token with a suffix"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Basic dmlld2VyOng=" "$API/connectors")
assert_eq 401 "$code" "not a bearer scheme"
API_TOKEN=
req GET /healthz
expect 200 "healthz needs no token"

CONN='{"name": "Auth Gen", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "A", "schedule_enabled": false, "connection_config": {"rows": 1}}'
echo "== viewer: reads only"
API_TOKEN=viewer-token-0123456789
req GET /connectors; expect 200 "viewer list"
req GET /connectors/1/history; expect 200 "viewer history"
req GET /plugins; expect 200 "viewer plugins"
req POST /connectors/1/pause; expect 403 "viewer pause"
assert_contains "$(jq_ 'd["error"]')" "operator" "403 names the role needed"
req POST /connectors/1/run; expect 403 "viewer run"
req POST /connectors "$CONN"; expect 403 "viewer create"
req DELETE /connectors/1; expect 403 "viewer delete"

echo "== operator: also runs, tests, pause, resume, backfill, cancel"
API_TOKEN=operator-token-0123456789
req POST /connectors/1/pause; expect 200 "operator pause"
req POST /connectors/1/resume; expect 200 "operator resume"
req POST /connectors "$CONN"; expect 403 "operator create"
req PUT /connectors/1 '{"source_entity": "X"}'; expect 403 "operator update"
req DELETE /connectors/1; expect 403 "operator delete"

echo "== admin (token from a secret reference): everything"
API_TOKEN=$API_ADMIN_TOKEN
req POST /connectors "$CONN"; expect 201 "admin create"
id=$(jq_ 'd["connector"]["id"]')
req POST "/connectors/$id/run" '{"run_date": "2025-10-02"}'; expect 202 "admin run"
req PUT "/connectors/$id" '{"source_entity": "B"}'; expect 200 "admin update"
req GET "/connectors/$id/audit"
assert_eq "ops-admin,ops-admin" "$(jq_ '",".join(e["actor"] for e in d["audit"])')" "audit names the token"
req GET /connectors/1/audit
assert_eq "RESUME:ops-operator,PAUSE:ops-operator" "$(jq_ '",".join(e["action"] + ":" + e["actor"] for e in d["audit"])')" "operator audited"
assert_eq ops-admin "$(q "SELECT triggered_by FROM sp_v2_connector_runs WHERE connector_id = $id")" "triggered_by defaults to the token name"

serve_stop w1
echo PASS
