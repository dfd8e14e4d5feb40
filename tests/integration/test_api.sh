#!/usr/bin/env bash
# The REST API of a real `connectord serve` on a free loopback port: every
# endpoint with the documented bodies, validation from driver schemas and
# driver validate(), masking of secrets (responses, audit, logs), audit,
# runs, tests, history, run detail, cancel, delete with force, backfills,
# plugins, the ops page hook.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
source "$CD_SOURCE_DIR/tests/lib/api.sh"
pg_tmp_start
MOCK_PID=
CATCH_PID=
trap '[ -n "${KEEP_LOG:-}" ] && grep -a "api:" "$LOG" | tail -5; serve_stop_all; [ -n "$MOCK_PID" ] && kill $MOCK_PID 2>/dev/null; [ -n "$CATCH_PID" ] && kill $CATCH_PID 2>/dev/null; pg_tmp_stop' EXIT

SERVE_PLUGINS="$CD_TEST_TMP/plugins"
api_plugins_dir "$SERVE_PLUGINS"
cp "$CD_BUILD_DIR/lib/connectord/plugins/pg_database.so" "$SERVE_PLUGINS/"
WEB="$CD_TEST_TMP/web"
mkdir -p "$WEB/js"
echo '<!doctype html><title>ops</title>' >"$WEB/index.html"
echo 'export const x = 1;' >"$WEB/js/app.js"
echo 'outside' >"$CD_TEST_TMP/secret.txt"
ln -s "$CD_TEST_TMP/secret.txt" "$WEB/link.txt"
CFG="$CD_TEST_TMP/w/connectord.yaml"
serve_config "$CFG" "backfill:" "  max_days: 10" "http:" "  web_dir: \"$WEB\"" \
    "alerts:" "  channels:" "    - name: ops-webhook" "      type: webhook" "      url: http://127.0.0.1:9/hook"
"$CD_BUILD_DIR/bin/connectord" -c "$CFG" migrate >/dev/null
serve_start w1 "$CFG"
API=$(api_url w1)
api_wait_ready
LOG="$CD_TEST_TMP/serve-w1.log"

alive() { req GET /healthz; expect 200 "server alive after: $1"; }

echo "== healthz"
req GET /healthz
expect 200 healthz
assert_eq ok "$(jq_ 'd["database"]')" "database ok"

echo "== GET /connectors: the documented shape"
req GET /connectors
expect 200 list
assert_eq True "$(jq_ 'd["success"]')" "success"
assert_eq 1 "$(jq_ 'd["connectors"][0]["id"]')" "id"
assert_eq '"1"' "$(jq_ 'd["connectors"][0]["id"]' | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))')" "id is a string"
assert_eq str "$(jq_ 'type(d["connectors"][0]["id"]).__name__')" "id type"
assert_eq "SabPaisa PG API|PG_API|SABPAISA|ACTIVE|0|0" \
    "$(jq_ '"|".join(str(d["connectors"][0][k]) for k in ["name","connector_type","source_entity","status","success_rate","total_runs"])')" "fields"
assert_eq '{"total": 1, "active": 1, "paused": 0, "failed": 0}' "$(jq_ 'd["summary"]')" "summary"
for col in connection_config schedule_cron schedule_timezone created_at updated_at created_by driver last_run_details; do
    assert_eq True "$(jq_ "'$col' in d['connectors'][0]")" "column $col present"
done
assert_contains "$(jq_ 'd["connectors"][0]["created_at"]')" "Z" "timestamps in UTC with zone"
python3 -c 'import re,sys; sys.exit(0 if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", sys.argv[1]) else 1)' \
    "$(jq_ 'd["connectors"][0]["created_at"]')" || cd_fail "ISO 8601 timestamp"

echo "== create: 201, plaintext secret masked, stored as sent, audited"
NEW='{"name": "Gen Bank", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "GENBANK",
      "connection_config": {"rows": 5, "seed": 1, "bank": "GEN", "password": "hunter2-plain"},
      "schedule_cron": "30 3 * * *", "schedule_timezone": "Europe/London"}'
req POST /connectors "$NEW"
expect 201 create
gen=$(jq_ 'd["connector"]["id"]')
assert_eq "********" "$(jq_ 'd["connector"]["connection_config"]["password"]')" "masked in create response"
assert_eq "Connector created successfully" "$(jq_ 'd["message"]')" "create message"
assert_eq hunter2-plain "$(q "SELECT connection_config->>'password' FROM sp_v2_connectors WHERE id = $gen")" "stored value"
req GET "/connectors/$gen"
expect 200 get
assert_eq "********" "$(jq_ 'd["connector"]["connection_config"]["password"]')" "masked in GET"
assert_not_contains "$BODY" hunter2 "GET body"
req GET /connectors
assert_not_contains "$BODY" hunter2 "list body"
assert_eq True "$(jq_ 'd["connector"]["next_run_at"] is not None' 2>/dev/null || echo True)" "next_run_at"

echo "== secrets marked through a \$ref or in a oneOf branch are masked too"
req POST /connectors '{"name": "Ref", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "R", "schedule_enabled": false, "connection_config": {"rows": 1, "shared": "S3cr3t-shared-value", "pin": "4321-pin-value"}}'
expect 201 "created"
ref=$(jq_ 'd["connector"]["id"]')
assert_eq "********|********" "$(jq_ '"%s|%s" % (d["connector"]["connection_config"]["shared"], d["connector"]["connection_config"]["pin"])')" "masked in the answer"
for path in "/connectors/$ref" "/connectors?q=Ref" "/connectors/$ref/audit"; do
    req GET "$path"
    assert_not_contains "$BODY" "S3cr3t-shared" "no \$ref secret in $path"
    assert_not_contains "$BODY" "4321-pin" "no oneOf secret in $path"
done
assert_eq "S3cr3t-shared-value" "$(q "SELECT connection_config->>'shared' FROM sp_v2_connectors WHERE id = $ref")" "stored as sent"
req DELETE "/connectors/$ref"

echo "== create with a reference: shown as the reference"
REF='{"name": "Ref Bank", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "REF",
      "connection_config": {"rows": 1, "password": {"secret": "env:GEN_PW"}}, "schedule_enabled": false}'
req POST /connectors "$REF"
expect 201 "create with reference"
ref=$(jq_ 'd["connector"]["id"]')
assert_eq '{"secret": "env:GEN_PW"}' "$(jq_ 'd["connector"]["connection_config"]["password"]')" "reference shown"

echo "== duplicate name: 409"
req POST /connectors "$NEW"
expect 409 duplicate
assert_eq name "$(jq_ 'd["errors"][0]["field"]')" "field of the conflict"

# a dry run says what the write would: the name is taken
req POST /connectors/validate "$NEW"
assert_eq "False|name" "$(jq_ '"%s|%s" % (d["valid"], ",".join(e["field"] for e in d["errors"]))')" "validate: the name is taken"

echo "== validation: each rule by itself"
bad() { # body expected-field [expected-message-part]
    req POST /connectors "$1"
    expect 400 "invalid body $2"
    assert_eq False "$(jq_ 'd["success"]')" "success false"
    assert_contains "$(jq_ '[e["field"] for e in d["errors"]]')" "\"$2\"" "error field $2"
    [ -z "${3:-}" ] || assert_contains "$BODY" "$3" "message for $2"
    assert_not_contains "$BODY" "hunter2" "no secret in errors"
}
base='"name": "V", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "V", "schedule_enabled": false'
bad "{$base, \"connection_config\": {}, \"colour\": \"red\"}" colour "not an allowed field"
bad "{$base, \"connection_config\": {}, \"total_runs\": 5}" total_runs "read-only"
bad "{$base, \"connection_config\": {\"rows\": -1}}" connection_config.rows "at least 0"
# a connector's secret may not be the service's own
bad "{$base, \"connection_config\": {\"password\": {\"secret\": \"env:CONNECTORD_DATABASE_URL\"}}}" connection_config.password "names one of the service's own settings"
bad "{$base, \"connection_config\": {\"password\": {\"secret\": \"file:/proc/self/environ\"}}}" connection_config.password "is under /proc"
assert_eq 1 "$(jq_ 'len(d["errors"])')" "one error for the reference"
# a reference no run could resolve is refused when saved, not at 02:00
bad "{$base, \"connection_config\": {\"password\": {\"secret\": \"file:secrets/x.token\"}}}" connection_config.password "must be absolute"
bad "{$base, \"connection_config\": {\"password\": {\"secret\": \"cred:../../etc/passwd\"}}}" connection_config.password "invalid credential name"
bad "{$base, \"connection_config\": {\"password\": {\"secret\": \"env:A=B\"}}}" connection_config.password "invalid variable name"
bad "{$base, \"connection_config\": {\"extra\": {\"secret\": \"bogus\"}}}" connection_config.extra "unknown scheme"
# ... wherever it stands, not only in writeOnly fields: the runner resolves them all
bad "{$base, \"connection_config\": {\"extra\": {\"secret\": \"env:PGPASSWORD\"}}}" connection_config.extra "names one of the service's own settings"
bad "{$base, \"connection_config\": {\"hosts\": [{\"pw\": {\"secret\": \"file:/proc/self/environ\"}}]}}" "connection_config.hosts[0].pw" "is under /proc"
bad "{$base, \"connection_config\": {\"fail\": {\"secret\": \"env:CONNECTORD_DATABASE_URL\"}}}" connection_config.fail "names one of the service's own settings"
# a name is one line of text; a schedule must be able to fire
bad '{"name": "a\u0001b\nc", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "V", "schedule_enabled": false, "connection_config": {}}' name "control characters"
bad "{\"name\": \"V\", \"connector_type\": \"BANK_API\", \"driver\": \"test_gen\", \"source_entity\": \"V\", \"connection_config\": {}, \"schedule_cron\": \"0 0 30 2 *\"}" schedule_cron "never fires"
req POST /connectors/validate '{"name": "V", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "V", "connection_config": {}, "schedule_cron": "0 0 30 2 *", "schedule_enabled": false}'
assert_eq "True|0" "$(jq_ '"%s|%d" % (d["valid"], d["error_count"])')" "a schedule switched off may be one that never fires"
bad "{$base, \"connection_config\": {\"rows\": \"many\"}}" connection_config.rows "must be an integer"
# a field declared through a local $ref is held to what it points at (test_gen's
# "shared" is {"$ref": "#/$defs/secret"}, a string): a number or an object that
# is no reference was stored, and the driver then read no string at all
bad "{$base, \"connection_config\": {\"shared\": 12345}}" connection_config.shared "must be a string, not integer"
bad "{$base, \"connection_config\": {\"shared\": {\"a\": 1}}}" connection_config.shared "must be a string, not object"
req POST /connectors/validate "{$base, \"connection_config\": {\"shared\": {\"secret\": \"env:GEN_SHARED\"}}}"
assert_eq "True|0" "$(jq_ '"%s|%d" % (d["valid"], d["error_count"])')" "a reference where the \$ref target is writeOnly"
# one-line text fields: an escape would drive the terminal of whoever lists them
bad "{\"name\": \"V\", \"connector_type\": \"BANK_API\", \"driver\": \"test_gen\", \"source_entity\": \"G\\u001b[2JX\", \"schedule_enabled\": false, \"connection_config\": {}}" source_entity "control characters"
bad "{$base, \"connection_config\": {}, \"created_by\": \"a\\nb\"}" created_by "control characters"
# 2.0 would reach the driver as a real (json_integer_value: 0); a number
# beyond int64 comes back from jsonb as digits nothing can read, and the
# stored connection_config (with its secrets) could no longer be masked
bad "{$base, \"connection_config\": {\"rows\": 2.0}}" connection_config.rows "must be an integer"
bad "{$base, \"connection_config\": {\"rows\": 1, \"seed\": 1e20, \"password\": \"hunter2\"}}" connection_config.seed "too large to store"
bad "{$base, \"connection_config\": {\"rows\": 1, \"deep\": [{\"x\": -1.5e300}]}}" "connection_config.deep[0].x" "too large to store"
big=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled)
         VALUES ('Big', 'BANK_API', 'B', '{\"rows\": 1, \"seed\": 100000000000000000000, \"password\": \"hunter2\"}', 'test_gen', false)
         RETURNING id")
req GET "/connectors/$big"
expect 200 "a stored document no reader can parse"
assert_eq null "$(jq_ 'd["connector"]["connection_config"]')" "shown as null"
assert_not_contains "$BODY" "hunter2" "never as raw text with its secret"
req GET "/connectors?q=Big"
assert_not_contains "$BODY" "hunter2" "nor in the list"
q "DELETE FROM sp_v2_connectors WHERE id = $big" >/dev/null
bad "{$base, \"connection_config\": []}" connection_config "must be an object"
bad "{\"name\": \"V\", \"connector_type\": \"PG_API\", \"driver\": \"test_gen\", \"source_entity\": \"V\", \"schedule_enabled\": false, \"connection_config\": {}}" connector_type "must be BANK_API"
bad "{\"name\": \"V\", \"connector_type\": \"BANK_SFTP\", \"source_entity\": \"V\", \"schedule_enabled\": false, \"connection_config\": {}}" connector_type "not loaded"
bad "{\"name\": \"V\", \"connector_type\": \"NOPE\", \"source_entity\": \"V\", \"connection_config\": {}}" connector_type
bad "{\"name\": \"V\", \"connector_type\": \"BANK_API\", \"driver\": \"nope\", \"source_entity\": \"V\", \"schedule_enabled\": false, \"connection_config\": {}}" driver "not loaded"
bad "{\"name\": \"V\", \"connector_type\": \"BANK_API\", \"driver\": \"\", \"source_entity\": \"V\", \"schedule_enabled\": false, \"connection_config\": {}}" driver "must be a driver name"
bad "{\"name\": \"V\", \"connector_type\": \"BANK_API\", \"driver\": \"test_gen\", \"source_entity\": \"V\", \"connection_config\": {}, \"schedule_cron\": \"61 * * * *\"}" schedule_cron "minute"
bad "{\"name\": \"V\", \"connector_type\": \"BANK_API\", \"driver\": \"test_gen\", \"source_entity\": \"V\", \"connection_config\": {}, \"schedule_cron\": \"0 2 * * *\", \"schedule_timezone\": \"Mars/Olympus\"}" schedule_timezone "IANA"
bad "{\"name\": \"V\", \"connector_type\": \"BANK_API\", \"driver\": \"test_gen\", \"source_entity\": \"V\", \"connection_config\": {}, \"schedule_cron\": \"0 2 * * *\", \"schedule_timezone\": \"EST5EDT,M3.2.0\"}" schedule_timezone
# a zone the scheduler (the zone files) and PostgreSQL (the run dates) both know and read
# alike: abbreviations AET and IST (no zone files; PostgreSQL reads IST as Israel), and
# CET/EET, which PostgreSQL reads as abbreviations without DST, are refused
TZB='"name": "V", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "V", "connection_config": {}, "schedule_cron": "0 2 * * *"'
for tz in AET IST CET EET; do
    bad "{$TZB, \"schedule_timezone\": \"$tz\"}" schedule_timezone
done
assert_contains "$BODY" "Region/City" "the zone message says what to use"
# Mexico_City and Ciudad_Juarez: rules newer than ICU 72's bundled 2022e
for tz in UTC Etc/GMT-5 Asia/Calcutta Australia/Sydney EST5EDT America/Mexico_City America/Ciudad_Juarez; do
    req POST /connectors/validate "{$TZB, \"schedule_timezone\": \"$tz\"}"
    assert_eq "True|0" "$(jq_ '"%s|%d" % (d["valid"], d["error_count"])')" "zone $tz"
done
bad "{\"connector_type\": \"BANK_API\", \"driver\": \"test_gen\", \"source_entity\": \"V\", \"connection_config\": {}, \"schedule_enabled\": false}" name "is required"
bad "{$base, \"connection_config\": {\"password\": \"********\"}}" connection_config.password "no value is stored"
# pg_api's schema and its validate(): BEARER needs a token (a rule only validate() knows)
PG='"name": "PG", "connector_type": "PG_API", "source_entity": "X", "schedule_enabled": false'
bad "{$PG, \"connection_config\": {\"api_base_url\": \"ftp://x\", \"merchant_codes\": [\"A\"]}}" connection_config.api_base_url "pattern"
bad "{$PG, \"connection_config\": {\"api_base_url\": \"http://127.0.0.1:9/x\", \"merchant_codes\": [\"A\"], \"authentication_type\": \"BEARER\"}}" connection_config.bearer_token "required for authentication_type BEARER"
bad "{$PG, \"connection_config\": {\"api_base_url\": \"http://127.0.0.1:9/x\", \"merchant_codes\": [\"A\"], \"authentication_type\": \"BASIC\", \"username\": \"u\", \"password\": 12}}" connection_config.password "must be string or object"
# the run policy (sync_days_back, auto_retry, retry_count) is the service's:
# every driver takes it, also one whose schema allows no other keys
PGD='"name": "PGD", "connector_type": "PG_DATABASE", "source_entity": "X", "schedule_enabled": false'
PGDC='"conninfo": "host=/nonexistent dbname=x", "dataset": "pg_transaction", "query": "SELECT 1"'
bad "{$PGD, \"connection_config\": {$PGDC, \"retry_count\": 11}}" connection_config.retry_count "at most 10"
bad "{$PGD, \"connection_config\": {$PGDC, \"auto_retry\": \"yes\"}}" connection_config.auto_retry "boolean"
bad "{$PGD, \"connection_config\": {$PGDC, \"sync_days_back\": -1}}" connection_config.sync_days_back "at least 0"
req POST /connectors "{$PGD, \"connection_config\": {$PGDC, \"auto_retry\": true, \"retry_count\": 2, \"sync_days_back\": 2}}"
expect 201 "run policy on a pg_database connector"
pgd=$(jq_ 'd["connector"]["id"]')
assert_eq 3 "$(q "SELECT connectord_max_attempts(connection_config, 'SCHEDULED') FROM sp_v2_connectors WHERE id = $pgd")" "attempts from its policy"
assert_eq 4 "$(q "SELECT connectord_max_attempts('{\"auto_retry\": true}', 'SCHEDULED')")" "auto_retry alone: the default 3 retries"
assert_eq 1 "$(q "SELECT connectord_max_attempts('{\"retry_count\": 5}', 'SCHEDULED')")" "retry_count without auto_retry: one attempt"
req DELETE "/connectors/$pgd"
alive validation

echo "== other sites' pages cannot drive the API (no tokens here: every caller is admin)"
req POST "/connectors/1/pause" "" -H "Origin: http://evil.example" -H "Content-Type: application/x-www-form-urlencoded"
expect 403 "cross-origin form post"; assert_contains "$BODY" "Cross-origin request refused" "origin message"
req POST "/connectors/1/pause" "" -H "Sec-Fetch-Site: cross-site"
expect 403 "Sec-Fetch-Site cross-site"
req GET "/connectors" "" -H "Host: evil.example:${SERVE_PORT[w1]}"
expect 403 "rebound Host"; assert_contains "$BODY" "only to loopback names" "host message"
for host in "localhost:${SERVE_PORT[w1]}" "127.0.0.1:${SERVE_PORT[w1]}" "[::1]:${SERVE_PORT[w1]}" "LOCALHOST.:${SERVE_PORT[w1]}"; do
    req GET "/connectors?status=PAUSED" "" -H "Host: $host"
    expect 200 "Host $host"
done
assert_eq ACTIVE "$(q "SELECT status FROM sp_v2_connectors WHERE id = 1")" "nothing paused by the refused posts"
req POST "/connectors/validate" '{"connector_type": "PG_API"}' -H "Origin: http://127.0.0.1:${SERVE_PORT[w1]}" -H "Sec-Fetch-Site: same-origin"
assert_eq 1 "$([ "$CODE" != 403 ] && echo 1)" "same-origin write passes ($CODE)"

echo "== bad requests: each a clear 4xx, the server lives on"
req POST /connectors '{"name": '
expect 400 "malformed JSON"; assert_contains "$(jq_ 'd["error"]')" "Malformed JSON" "malformed message"; alive malformed
req POST /connectors/validate '{"connection_config": {"password": "hunter2-secret'
expect 400 "malformed JSON with a secret"; assert_contains "$BODY" "line 1, column" "position given"
assert_not_contains "$BODY" "hunter2" "the bytes near the fault are not echoed"
# a number no reader can hold: the body is well formed up to it, so its field is named
req POST /connectors '{"name": "N", "connection_config": {"rows": 1, "seed": 1e309}}'
expect 400 "1e309"; assert_eq "connection_config.seed" "$(jq_ 'd["errors"][0]["field"]')" "1e309: the field named"
assert_contains "$(jq_ 'd["errors"][0]["message"]')" "too large to read" "1e309: the message"
req POST /connectors '{"name": "N", "connection_config": {"codes": [1, {"x": [5, 99999999999999999999]}]}}'
expect 400 "integer past int64"; assert_eq "connection_config.codes[1].x[1]" "$(jq_ 'd["errors"][0]["field"]')" "the big integer's field"
req POST "/connectors/1/run" '{"run_date": -1e999}'
expect 400 "-1e999"; assert_eq "run_date" "$(jq_ 'd["errors"][0]["field"]')" "-1e999 named"
req POST /connectors '{"password": "hunter2-secret", "x": 1e400}'
assert_eq "x" "$(jq_ 'd["errors"][0]["field"]')" "only the member name is given back"; assert_not_contains "$BODY" "hunter2" "never a value"
req POST /connectors '[1, 2]'
expect 400 "array body"; assert_eq "Request body must be a JSON object" "$(jq_ 'd["error"]')" "non-object"; alive array
req POST /connectors '"text"'
expect 400 "string body"; alive string
req POST /connectors '{"a": 1, "a": 2}'
expect 400 "duplicate keys"; alive dupkeys
req POST /connectors "" -H 'Content-Type: text/plain' --data-binary '{"name": "x"}'
expect 415 "wrong content type"; alive 415
req POST /connectors "" --data-urlencode 'name=x'
expect 415 "form body"; alive form
req POST /connectors
expect 400 "empty body"; alive empty
head -c 1100000 /dev/zero | tr '\0' 'a' >"$CD_TEST_TMP/big.json"
req POST /connectors "" -H 'Content-Type: application/json' --data-binary @"$CD_TEST_TMP/big.json"
expect 413 "body over 1 MiB (Content-Length)"; alive 413
req POST /connectors "" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @"$CD_TEST_TMP/big.json"
expect 413 "body over 1 MiB (chunked)"; alive 413-chunked
for id in abc 0 -1 1.5 99999999999999999999 0x10 "%20"; do
    req GET "/connectors/$id"
    expect 400 "id $id"; assert_eq "Invalid connector id" "$(jq_ 'd["error"]')" "id $id message"
done
req GET "/connectors/1/runs/x"
expect 400 "run id"
req GET /connectors/424242
expect 404 "missing connector"; assert_eq '{"success": false, "error": "Connector not found"}' "$(jq_ 'd')" "documented 404"
req GET /nope
expect 404 "unknown path"
req PATCH /connectors/1
expect 405 "method"
# a 405 says which methods the resource has
allow_of() { curl -s -o /dev/null -D - -X "$1" "$API$2" | tr -d '\r' | sed -n 's/^[Aa]llow: //p'; }
assert_eq "GET, HEAD, PUT, DELETE" "$(allow_of PATCH /connectors/1)" "Allow of a connector"
assert_eq "GET, HEAD, POST" "$(allow_of DELETE /connectors)" "Allow of the list"
assert_eq "POST" "$(allow_of GET /connectors/1/run)" "Allow of run"
assert_eq "GET, HEAD" "$(allow_of POST /healthz)" "Allow of healthz"
assert_eq "GET, HEAD" "$(allow_of POST /ops/connectors)" "Allow of the page"
# %00 cuts C text short: never read as the text before it
for p in "/connectors/1%00junk/whatever" "/connectors/1%00junk" "/ops/connectors%00.png"; do
    req GET "$p"
    expect 400 "NUL in path $p"; assert_contains "$BODY" '"field":"path"' "path named ($p)"
done
for pq in "/connectors?status=active%00junk|status" "/connectors/1/history?run_type=TEST%00x|run_type" \
          "/connectors/1/history?limit=5%00|limit" "/connectors?ty%00pe=x|ty"; do
    req GET "${pq%|*}"
    expect 400 "NUL in ${pq%|*}"
    assert_contains "$BODY" "\"field\":\"${pq#*|}\",\"message\":\"must not contain NUL characters (%00)\"" "parameter named (${pq%|*})"
done
req DELETE "/connectors/1?force=true%00"
expect 400 "NUL in force"; assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_connectors WHERE id = 1")" "connector 1 not deleted"
# a Content-Length with leading zeros is its number, not its digit count
cl_status=$(python3 -c 'import socket,sys
s=socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /connectors/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 0000000002\r\nConnection: close\r\n\r\n{}")
s.settimeout(5); print(s.recv(100).split(b" ")[1].decode())' "${API##*:}")
assert_eq 200 "$cl_status" "Content-Length 0000000002"
req GET /connectors?status=WEIRD
expect 400 "bad status filter"
req GET "/connectors/1/history?limit=0"
expect 400 "limit 0"
req GET "/connectors/1/history?limit=abc"
expect 400 "limit abc"
req GET "/connectors/1/history?run_type=X"
expect 400 "run_type X"
# A misspelt parameter was answered as if absent: page 1, every status.
req GET "/connectors/1/history?offest=30"
expect 400 "misspelt offset"
assert_eq "offest" "$(jq_ 'd["errors"][0]["field"]')" "the unknown parameter is named"
assert_contains "$(jq_ 'd["errors"][0]["message"]')" "limit, offset, status, run_type, before" "the ones it takes"
req GET "/connectors?stauts=FAILED"
expect 400 "misspelt status filter"
# a name that is not UTF-8 could not be named in the error, and the refusal was dropped with it
req GET "/connectors?%FF=1"
expect 400 "a parameter name that is not UTF-8"; assert_eq query "$(jq_ 'd["errors"][0]["field"]')" "named as the query"
req GET "/connectors/1?verbose=1"
expect 400 "a parameter on a request that takes none"
req GET "/connectors?status=ACTIVE&q=gen"
expect 200 "known parameters"
# a parameter given twice was read as its first value, one without "=value" as absent
req GET "/connectors/1/history?limit=5&limit=abc"
expect 400 "limit given twice"
assert_eq "limit|is given more than once: give it once" "$(jq_ 'd["errors"][0]["field"] + "|" + d["errors"][0]["message"]')" "the repeated parameter named"
req GET "/connectors?status=ACTIVE&status=PAUSED"
expect 400 "status given twice"; assert_eq status "$(jq_ 'd["errors"][0]["field"]')" "status named"
req GET "/connectors/1/history?limit"
expect 400 "limit without a value"; assert_contains "$BODY" '"field":"limit","message":"has no value' "limit named"
req DELETE "/connectors/1?force"
expect 400 "force without a value"; assert_eq force "$(jq_ 'd["errors"][0]["field"]')" "force named"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_connectors WHERE id = 1")" "connector 1 kept"
printf 'GET /connectors HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n' | timeout 5 python3 -c 'import socket,sys,os
s=socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read()); s.settimeout(3)
try: s.recv(1000)
except Exception: pass' "${API##*:}" || true
alive "raw bad Content-Length"

echo "== filters: status, type, q"
req GET "/connectors?type=BANK_API"
assert_eq 2 "$(jq_ 'len(d["connectors"])')" "type filter"
assert_eq 3 "$(jq_ 'd["summary"]["total"]')" "summary counts everything"
req GET "/connectors?q=genbank"
assert_eq "Gen Bank" "$(jq_ 'd["connectors"][0]["name"]')" "q on source entity, any case"
req GET "/connectors?q=SABPAISA%20pg"
assert_eq 1 "$(jq_ 'len(d["connectors"])')" "q on name"
req GET "/connectors?q=%25"
assert_eq 0 "$(jq_ 'len(d["connectors"])')" "q percent is literal"
# a term that is not UTF-8, or holds a NUL, is the client's error, not a 500 or "match all"
for bad in "%FF" "caf%C3"; do
    req GET "/connectors?q=$bad"
    expect 400 "q=$bad"; assert_contains "$BODY" '"field":"q","message":"must be UTF-8 text without NUL characters"' "q=$bad names q"
done
req GET "/connectors?q=%00abc"
expect 400 "q=%00abc"; assert_contains "$BODY" '"field":"q","message":"must not contain NUL characters (%00)"' "q=%00abc names q"
req GET "/connectors?q=$(printf 'x%.0s' $(seq 201))"
expect 400 "q over 200 characters"; assert_contains "$BODY" "at most 200 characters" "q length"
req GET "/connectors?q=caf%C3%A9"
expect 200 "q in UTF-8"

echo "== update: partial, mask keeps the stored secret, audited without secrets"
req PUT "/connectors/$gen" '{"source_entity": "GENBANK2", "connection_config": {"rows": 5, "seed": 1, "bank": "GEN", "password": "********"}}'
expect 200 "update with mask"
assert_eq GENBANK2 "$(jq_ 'd["connector"]["source_entity"]')" "updated field"
assert_eq hunter2-plain "$(q "SELECT connection_config->>'password' FROM sp_v2_connectors WHERE id = $gen")" "mask kept the old value"
req PUT "/connectors/$gen" '{"connection_config": {"rows": 5, "seed": 1, "bank": "GEN", "password": "new-secret-77"}}'
expect 200 "update with a new secret"
assert_eq new-secret-77 "$(q "SELECT connection_config->>'password' FROM sp_v2_connectors WHERE id = $gen")" "new value stored"
req GET "/connectors/$gen/audit?limit=1"
assert_eq '["connection_config"]' "$(jq_ 'd["audit"][0]["changed_fields"]')" "a rotated secret is a change"
assert_eq "********" "$(jq_ 'd["audit"][0]["after"]["connection_config"]["password"]')" "and stays masked"
req PUT "/connectors/$gen" '{"status": "PAUSED"}'
expect 400 "status via PUT"
req PUT "/connectors/$gen" '{"name": "SabPaisa PG API"}'
expect 409 "rename onto an existing name"
req PUT /connectors/424242 '{"source_entity": "X"}'
expect 404 "update missing"
req GET "/connectors/$gen/audit"
expect 200 audit
assert_eq "UPDATE,UPDATE,CREATE" "$(jq_ '",".join(e["action"] for e in d["audit"])')" "audit actions newest first"
assert_contains "$(jq_ 'd["audit"][1]["changed_fields"]')" source_entity "changed fields"
assert_eq anonymous "$(jq_ 'd["audit"][0]["actor"]')" "actor"
assert_not_contains "$BODY" hunter2 "audit response"
assert_not_contains "$BODY" new-secret "audit response"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_audit WHERE before::text LIKE '%hunter2%' OR after::text LIKE '%hunter2%' OR after::text LIKE '%new-secret%'")" "audit rows masked"

echo "== If-Match: a save over a change made since the client read the connector is a 412"
req GET "/connectors/$gen"
seen=$(jq_ 'd["connector"]["updated_at"]')
req PUT "/connectors/$gen" '{"schedule_cron": "45 3 * * *"}' -H "If-Match: \"$seen\""
expect 200 "If-Match of the version read"
now=$(jq_ 'd["connector"]["updated_at"]')
[ "$now" != "$seen" ] || cd_fail "updated_at did not change with the update"
# the second editor read the connector before that save: its full form would undo it
req PUT "/connectors/$gen" '{"schedule_cron": "30 3 * * *", "source_entity": "STALE"}' -H "If-Match: \"$seen\""
expect 412 "save over a newer version"
assert_eq updated_at "$(jq_ 'd["errors"][0]["field"]')" "the field of the conflict"
assert_contains "$(jq_ 'd["errors"][0]["message"]')" "$now" "names the version now stored"
assert_eq "45 3 * * *|GENBANK2" "$(q "SELECT schedule_cron || '|' || source_entity FROM sp_v2_connectors WHERE id = $gen")" "the newer change kept"
req PUT "/connectors/$gen" '{"source_entity": "GENBANK2"}' -H 'If-Match: "2020-01-01T00:00:00.000Z", W/"'"$now"'"'
expect 200 "one of a list of tags matches"
req PUT "/connectors/$gen" '{"source_entity": "GENBANK2"}' -H 'If-Match: *'
expect 200 "If-Match: *"
req PUT "/connectors/$gen" '{"source_entity": "GENBANK2"}' -H 'If-Match: "unterminated'
expect 400 "malformed If-Match"
assert_eq If-Match "$(jq_ 'd["errors"][0]["field"]')" "names the header"
# two saves within one millisecond still differ
q "UPDATE sp_v2_connectors SET updated_at = date_trunc('milliseconds', clock_timestamp()) + interval '1 hour' WHERE id = $gen" >/dev/null
req GET "/connectors/$gen"
seen=$(jq_ 'd["connector"]["updated_at"]')
req PUT "/connectors/$gen" '{"source_entity": "GENBANK2"}' -H "If-Match: \"$seen\""
expect 200 "save of the version read"
req PUT "/connectors/$gen" '{"source_entity": "GENBANK3"}' -H "If-Match: \"$seen\""
expect 412 "a save in the same millisecond as the version read is still a newer version"
req POST "/connectors/$gen/pause"
req POST "/connectors/$gen/resume"
req GET "/connectors/$gen"
[ "$(jq_ 'd["connector"]["updated_at"]')" != "$seen" ] || cd_fail "pause and resume change updated_at"

echo "== a save whose driver check is slow does not hold off the connector's runs meanwhile"
req POST /connectors '{"name": "Slow check", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "SLOWCHK", "schedule_enabled": false, "connection_config": {"rows": 1}}'
expect 201 "create Slow check"
slowchk=$(jq_ 'd["connector"]["id"]')
curl -s -o "$CD_TEST_TMP/slowput.out" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    --data-binary '{"connection_config": {"rows": 1, "validate_sleep_ms": 4000}}' "$API/connectors/$slowchk" >"$CD_TEST_TMP/slowput.code" &
slowput=$!
sleep 1
t0=$(date +%s%N)
req POST "/connectors/$slowchk/run" '{}'
t1=$(date +%s%N)
expect 202 "a run queued while the save is checked"
[ $(( (t1 - t0) / 1000000 )) -lt 2000 ] || cd_fail "queueing a run waited $(( (t1 - t0) / 1000000 )) ms for the save's driver check"
wait "$slowput"
assert_eq 200 "$(cat "$CD_TEST_TMP/slowput.code")" "the slow save: $(cat "$CD_TEST_TMP/slowput.out")"
wait_for "SELECT count(*) = 0 FROM sp_v2_connector_runs WHERE connector_id = $slowchk AND status IN ('QUEUED', 'RUNNING')" 30 "the run done"
req DELETE "/connectors/$slowchk"
expect 200 "delete Slow check"

echo "== pause, resume and delete take no body fields; triggered_by is one line"
req POST "/connectors/$gen/pause" '{"reason": "x"}'
expect 400 "pause with a field"
assert_eq reason "$(jq_ 'd["errors"][0]["field"]')" "the field at fault"
req DELETE "/connectors/$gen" '{"force": true}'
expect 400 "delete with a body field (force is a query parameter)"
req POST "/connectors/$gen/run" '{"triggered_by": "a\u001b[31mb"}'
expect 400 "triggered_by with an escape"
assert_eq triggered_by "$(jq_ 'd["errors"][0]["field"]')" "triggered_by at fault"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id = $gen AND run_type = 'MANUAL' AND triggered_by LIKE 'a%'")" "nothing queued"

echo "== pause / resume: documented bodies; a paused connector refuses runs"
req POST "/connectors/$gen/pause"
expect 200 pause
assert_eq "{\"success\": true, \"connector\": {\"id\": \"$gen\", \"name\": \"Gen Bank\", \"status\": \"PAUSED\"}, \"message\": \"Connector paused successfully\"}" "$(jq_ 'd')" "pause body"
req POST "/connectors/$gen/run" '{"triggered_by": "USER_123"}'
expect 400 "run paused"
assert_eq "Cannot run paused connector. Resume it first." "$(jq_ 'd["error"]')" "paused message"
req POST "/connectors/$gen/backfill" '{"from_date": "2025-09-01", "to_date": "2025-09-02"}'
expect 400 "backfill paused"
req POST "/connectors/$gen/resume"
expect 200 resume
assert_eq "Connector resumed successfully|ACTIVE" "$(jq_ 'd["message"] + "|" + d["connector"]["status"]')" "resume body"
req GET "/connectors/$gen/audit?limit=2"
assert_eq "RESUME,PAUSE" "$(jq_ '",".join(e["action"] for e in d["audit"])')" "pause/resume audited"
# A connector whose last run failed stays FAILED through a pause and a resume.
q "UPDATE sp_v2_connectors SET status = 'FAILED' WHERE id = $gen" >/dev/null
lastf=$(q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, completed_at)
           VALUES ($gen, 'SCHEDULED', '2025-09-03', 'FAILED', now()) RETURNING id")
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, completed_at)
   VALUES ($gen, 'TEST', '2025-09-03', 'SUCCESS', now() + interval '1 second')" >/dev/null
req POST "/connectors/$gen/pause"
req POST "/connectors/$gen/resume"
assert_eq FAILED "$(jq_ 'd["connector"]["status"]')" "resumed FAILED: no run has succeeded since (a test does not count)"
q "UPDATE sp_v2_connector_runs SET status = 'SUCCESS' WHERE id = $lastf" >/dev/null
req POST "/connectors/$gen/pause"
req POST "/connectors/$gen/resume"
assert_eq ACTIVE "$(jq_ 'd["connector"]["status"]')" "resumed ACTIVE after a success"
q "DELETE FROM sp_v2_connector_runs WHERE connector_id = $gen AND run_date = '2025-09-03'" >/dev/null
entries=$(q "SELECT count(*) FROM sp_v2_connector_audit WHERE connector_id = $gen")
req GET "/connectors/$gen/audit?offset=1000"
assert_eq "0|$entries" "$(jq_ '"%d|%d" % (len(d["audit"]), d["total"])')" "past the end: no entries, the true total"

echo "== audit paged by cursor: entries recorded meanwhile neither repeat nor skip one"
req GET "/connectors/$gen/audit?limit=500"
expect 200 "the whole trail"
all=$(jq_ '",".join(e["id"] for e in d["audit"])')
assert_eq "$entries" "$(jq_ 'len(d["audit"])')" "one page holds them all"
assert_eq null "$(jq_ 'd["next_before"]')" "one page holds them all: no next"
walk=""; before=""
for _ in $(seq 1 "$entries"); do
    req GET "/connectors/$gen/audit?limit=2${before:+&before=$before}"
    expect 200 "an audit page by cursor"
    walk="$walk${walk:+,}$(jq_ '",".join(e["id"] for e in d["audit"])')"
    before=$(jq_ 'd["next_before"]')
    [ "$before" != null ] || break
done
assert_eq "$all" "$walk" "every entry once, newest first, across pages"
req GET "/connectors/$gen/audit?limit=2"
assert_eq "$(echo "$all" | cut -d, -f1-2)" "$(jq_ '",".join(e["id"] for e in d["audit"])')" "page 1"
before=$(jq_ 'd["next_before"]')
# meanwhile two changes are audited (a pause and a resume)
req POST "/connectors/$gen/pause"
expect 200 "pause between two page reads"
req POST "/connectors/$gen/resume"
expect 200 "resume between two page reads"
req GET "/connectors/$gen/audit?limit=2&before=$before"
expect 200 "page 2 by cursor"
assert_eq "$(echo "$all" | cut -d, -f3-4)" "$(jq_ '",".join(e["id"] for e in d["audit"])')" "page 2 starts where page 1 ended: nothing repeated, nothing skipped"
assert_eq "$((entries + 2))" "$(jq_ 'd["total"]')" "total counts the new entries"
entries=$((entries + 2))
req GET "/connectors/$gen/audit?limit=1&offset=1&before=$before"
expect 200 "offset after a cursor"
assert_eq "$(echo "$all" | cut -d, -f4)" "$(jq_ '",".join(e["id"] for e in d["audit"])')" "offset counts from the cursor"
last=$(echo "$all" | tr , '\n' | tail -n1)
req GET "/connectors/$gen/audit?before=$last"
expect 200 "before the oldest entry"
assert_eq "0|null|$entries" "$(jq_ '"%d|%s|%d" % (len(d["audit"]), json.dumps(d["next_before"]), d["total"])')" "past the oldest: no entries, no next, the true total"
for bad in x 0 -1 1.5 1x 99999999999999999999 ""; do
    req GET "/connectors/$gen/audit?before=$bad"
    if [ -z "$bad" ]; then expect 200 "an empty before is no cursor"; continue; fi
    expect 400 "a cursor that is none: $bad"
    assert_eq before "$(jq_ 'd["errors"][0]["field"]')" "names the parameter ($bad)"
done
req GET "/connectors/424242/audit?before=5"
expect 404 "a cursor of a connector that never was"

echo "== audit: a page of large entries stops at a few MiB and says where to go on"
# a 1 MiB connection_config is accepted, and each update of it keeps it twice (before and after):
# 500 of them in one page would be a gigabyte held by the worker
big=$(q "INSERT INTO sp_v2_connector_audit (connector_id, action, actor, before, after)
         SELECT 999999, 'UPDATE', 'big', jsonb_build_object('blob', repeat('b', 1500000)),
                jsonb_build_object('blob', repeat('a', 1500000))
           FROM generate_series(1, 6)
         RETURNING id" | sort -rn | paste -sd,)
big_page() { # before -> prints "ids|next_before|bytes"
    curl -s -S -o "$CD_TEST_TMP/audit-page.json" "$API/connectors/999999/audit?limit=50${1:+&before=$1}"
    python3 -c 'import json, os, sys
d = json.load(open(sys.argv[1]))
print("%s|%s|%d" % (",".join(e["id"] for e in d["audit"]), d["next_before"], os.path.getsize(sys.argv[1])))' "$CD_TEST_TMP/audit-page.json"
}
page=$(big_page "")
[ "$(cut -d'|' -f3 <<<"$page")" -lt $((12 * 1024 * 1024)) ] || cd_fail "a page of large entries is bounded: $(cut -d'|' -f3 <<<"$page") bytes"
walk=$(cut -d'|' -f1 <<<"$page"); next=$(cut -d'|' -f2 <<<"$page")
[ "$next" != None ] || cd_fail "a page cut short gives next_before"
for _ in 1 2 3 4 5 6; do
    page=$(big_page "$next")
    walk="$walk,$(cut -d'|' -f1 <<<"$page")"; next=$(cut -d'|' -f2 <<<"$page")
    [ "$next" != None ] || break
done
assert_eq "$big" "$walk" "every large entry once, by cursor"
q "DELETE FROM sp_v2_connector_audit WHERE connector_id = 999999" >/dev/null

echo "== audit: an entry's time is when the change was made, not when its request began"
req POST /connectors '{"name": "Audit At", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "AT", "schedule_enabled": false, "connection_config": {"rows": 1}}'
expect 201 "create Audit At"
at_id=$(jq_ 'd["connector"]["id"]')
# validate() runs inside the update's transaction, after it began
req PUT "/connectors/$at_id" '{"connection_config": {"rows": 1, "validate_sleep_ms": 1500}}'
expect 200 "a slow validate"
assert_eq t "$(q "SELECT abs(extract(epoch FROM at - (after->>'updated_at')::timestamptz)) < 0.5
                  FROM sp_v2_connector_audit WHERE connector_id = $at_id AND action = 'UPDATE'")" \
    "the entry's at is the connector's new updated_at, not 1.5 s before it"
req DELETE "/connectors/$at_id"
expect 200 "delete Audit At"

echo "== audit: a connector whose driver this worker has not loaded leaves no secret in the trail"
# without the driver's schema the API masks by field names only: "pin" and "shared" would be kept as typed
gone=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled)
          VALUES ('Gone Driver', 'BANK_API', 'GONE', '{\"rows\": 1, \"pin\": \"4321-gone-pin\", \"ok\": true,
                  \"nested\": {\"shared\": \"S3cr3t-gone\", \"codes\": [98765, \"x\"]}}',
                  'gone_driver', false) RETURNING id" | head -n1)
# and GET, for every viewer, shows none of it either
req GET "/connectors/$gone"
expect 200 "read a connector of a driver not loaded"
assert_eq '{"nested": {"codes": ["********", "********"], "shared": "********"}, "ok": true, "pin": "********", "rows": "********"}' \
    "$(jq_ 'json.dumps(d["connector"]["connection_config"], sort_keys=True)')" "GET masks every value but booleans"
# the list as well (it masked by field names: "pin" and "shared" were shown as typed)
req GET "/connectors?q=Gone%20Driver"
expect 200 "list a connector of a driver not loaded"
assert_eq '{"nested": {"codes": ["********", "********"], "shared": "********"}, "ok": true, "pin": "********", "rows": "********"}' \
    "$(jq_ 'json.dumps([c for c in d["connectors"] if c["name"] == "Gone Driver"][0]["connection_config"], sort_keys=True)')" \
    "the list masks every value but booleans"
req DELETE "/connectors/$gone"
expect 200 "delete a connector of a driver not loaded"
assert_eq '{"ok": true, "pin": "********", "rows": "********", "nested": {"codes": ["********", "********"], "shared": "********"}}' \
    "$(q "SELECT before->'connection_config' FROM sp_v2_connector_audit WHERE connector_id = $gone AND action = 'DELETE'")" \
    "every value masked but booleans"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_audit WHERE before::text ~ '4321-gone-pin|S3cr3t-gone|98765'")" "no secret kept"

echo "== manual run: queued at once, executed by serve, history"
req POST "/connectors/$gen/run" '{"run_date": "2025-10-02", "triggered_by": "USER_123"}'
expect 202 "manual run"
run1=$(jq_ 'd["run_id"]')
assert_eq QUEUED "$(jq_ 'd["status"]')" "queued"
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $run1" 20 "manual run done"
req POST "/connectors/$gen/run" '{"run_date": "2999-01-01"}'
expect 400 "future run date"
req POST "/connectors/$gen/run" '{"run_date": "2025-02-30"}'
expect 400 "impossible run date"
req POST "/connectors/$gen/run" '{"when": "now"}'
expect 400 "unknown run field"
req GET "/connectors/$gen/history"
expect 200 history
assert_eq "1|30|0" "$(jq_ '"%d|%d|%d" % (d["total"], d["limit"], d["offset"])')" "history paging"
assert_eq "$run1|MANUAL|SUCCESS|USER_123|2025-10-02" "$(jq_ '"|".join(str(d["runs"][0][k]) for k in ["id","run_type","status","triggered_by","run_date"])')" "history row"
assert_eq str "$(jq_ 'type(d["runs"][0]["duration_seconds"]).__name__')" "duration as a string"
req GET "/connectors/$gen/history?run_type=TEST"
assert_eq 0 "$(jq_ 'd["total"]')" "run_type filter"
req GET "/connectors/$gen"
assert_eq "100|SUCCESS" "$(jq_ '"%s|%s" % (d["connector"]["success_rate"], d["connector"]["last_run_status"])')" "success rate"

echo "== history paged by cursor: runs queued or started meanwhile neither repeat nor skip one"
req POST /connectors '{"name": "Paged", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "PAGED", "schedule_enabled": false, "connection_config": {"rows": 1}}'
expect 201 "create Paged"
paged=$(jq_ 'd["connector"]["id"]')
req POST "/connectors/$paged/pause"
# paused: no worker claims these; two queued (no started_at), five started, two at one instant
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, started_at)
   SELECT $paged, 'MANUAL', current_date, CASE WHEN g <= 2 THEN 'QUEUED' ELSE 'SUCCESS' END,
          CASE WHEN g <= 2 THEN NULL ELSE timestamptz '2025-01-01 10:00:00.123456+00' - least(g, 5) * interval '1 min' END
     FROM generate_series(1, 7) g" >/dev/null
req GET "/connectors/$paged/history?limit=100"
all=$(jq_ '",".join(r["id"] for r in d["runs"])')
assert_eq null "$(jq_ 'd["next_before"]')" "one page holds them all: no next"
walk=""; before=""
for _ in 1 2 3 4; do
    req GET "/connectors/$paged/history?limit=2${before:+&before=$before}"
    expect 200 "a page by cursor"
    walk="$walk${walk:+,}$(jq_ '",".join(r["id"] for r in d["runs"])')"
    before=$(jq_ 'd["next_before"]')
    [ "$before" != null ] || break
done
assert_eq "$all" "$walk" "every run once, in order, across pages (ties on started_at included)"
req GET "/connectors/$paged/history?limit=3"
page1=$(jq_ '",".join(r["id"] for r in d["runs"])')
before=$(jq_ 'd["next_before"]')
# meanwhile: one more run queued, one started, one of page 1 finished
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, started_at)
   VALUES ($paged, 'MANUAL', current_date, 'QUEUED', NULL), ($paged, 'MANUAL', current_date, 'SUCCESS', now())" >/dev/null
req GET "/connectors/$paged/history?limit=3&before=$before"
expect 200 "the next page"
assert_eq "$(echo "$all" | cut -d, -f4-6)" "$(jq_ '",".join(r["id"] for r in d["runs"])')" "the next page starts where page 1 ended"
assert_eq 9 "$(jq_ 'd["total"]')" "total counts the new runs"
req GET "/connectors/$paged/history?before=1.x"
expect 400 "a cursor that is none"
assert_eq before "$(jq_ 'd["errors"][0]["field"]')" "names the parameter"
# the card's run is the one running, not the oldest queued (a manual run is claimed ahead of a backfill's dates)
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, started_at)
   VALUES ($paged, 'BACKFILL', '2025-01-01', 'QUEUED', NULL)" >/dev/null
arun=$(q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, started_at, worker_id, heartbeat_at, lease_expires_at)
   VALUES ($paged, 'MANUAL', '2025-01-02', 'RUNNING', now(), 'elsewhere', now(), now() + interval '1 hour') RETURNING id" | head -n1)
req GET "/connectors/$paged"
assert_eq "$arun|RUNNING|MANUAL" "$(jq_ '"%s|%s|%s" % (d["connector"]["active_run"]["id"], d["connector"]["active_run"]["status"], d["connector"]["active_run"]["run_type"])')" "active_run is the running run"
req GET "/connectors?q=Paged"
assert_eq "$arun" "$(jq_ 'd["connectors"][0]["active_run"]["id"]')" "in the list too"
q "UPDATE sp_v2_connector_runs SET status = 'FAILED', completed_at = now(), error_message = 'test' WHERE connector_id = $paged AND status IN ('QUEUED', 'RUNNING')" >/dev/null
for bad in 99999999999999999999.1 9223372036854775807.1 -9223372036854775808.1 q.0 q. .5; do
    req GET "/connectors/$paged/history?before=$bad"
    expect 400 "a cursor out of range: $bad"
done

echo "== test: waits for the TEST run and answers with its outcome"
req POST "/connectors/$gen/test" '{"triggered_by": "USER_123"}'
expect 200 "test passes"
assert_eq "True|generator reachable" "$(jq_ '"%s|%s" % (d["success"], d["message"])')" "test success"
assert_eq int "$(jq_ 'type(d["run_id"]).__name__')" "run_id as documented"
assert_eq connect "$(jq_ 'd["steps"][0]["step"]')" "steps"
req PUT "/connectors/$gen" '{"connection_config": {"rows": 5, "seed": 1, "bank": "GEN", "password": "********", "fail": "config"}}'
expect 200 "make the test fail"
req POST "/connectors/$gen/test"
expect 200 "failing test"
assert_eq False "$(jq_ 'd["success"]')" "test failure"
assert_contains "$(jq_ 'd["error"]')" "test failed as configured" "driver message"
assert_not_contains "$BODY" new-secret-77 "secret scrubbed from the test answer"
tid=$(jq_ 'd["run_id"]')
assert_eq "TEST|FAILED" "$(q "SELECT run_type, status FROM sp_v2_connector_runs WHERE id = $tid")" "test run row"

echo "== the documented 401 example, against the mock SabPaisa API"
"$CD_BUILD_DIR/tests/mock_sabpaisa" --bearer right-token >"$CD_TEST_TMP/mock.port" &
MOCK_PID=$!
for i in $(seq 50); do [ -s "$CD_TEST_TMP/mock.port" ] && break; sleep 0.1; done
mport=$(head -1 "$CD_TEST_TMP/mock.port")
req PUT /connectors/1 "{\"connection_config\": {\"api_base_url\": \"http://127.0.0.1:$mport\", \"merchant_codes\": [\"ALL\"], \"authentication_type\": \"BEARER\", \"bearer_token\": \"wrong-token-xyz\"}}"
expect 200 "point connector 1 at the mock"
assert_eq "********" "$(jq_ 'd["connector"]["connection_config"]["bearer_token"]')" "bearer masked"
req POST /connectors/1/test '{"triggered_by": "USER_123"}'
expect 200 "documented test"
assert_eq "False|API responded with status 401: Unauthorized" "$(jq_ '"%s|%s" % (d["success"], d["error"])')" "documented 401 body"
req GET /connectors/1/history
assert_eq "TEST|FAILED|USER_123" "$(jq_ '"|".join(d["runs"][0][k] for k in ["run_type","status","triggered_by"])')" "documented history row"
req GET /connectors
assert_eq "FAILED|1" "$(jq_ '"%s|%s" % (d["connectors"][0]["last_run_status"], d["connectors"][0]["total_runs"])')" "documented list after the test"

echo "== run detail: attempts, log, record errors paginated"
req PUT "/connectors/$gen" '{"connection_config": {"rows": 100, "seed": 2, "bank": "GEN", "bad_every": 10, "password": "********"}}'
expect 200 "bad rows config"
req POST "/connectors/$gen/run" '{"run_date": "2025-10-03"}'
run2=$(jq_ 'd["run_id"]')
wait_for "SELECT status = 'PARTIAL_SUCCESS' FROM sp_v2_connector_runs WHERE id = $run2" 20 "partial run"
req GET "/connectors/$gen/runs/$run2?errors_limit=3&errors_offset=2"
expect 200 "run detail"
assert_eq "PARTIAL_SUCCESS|1" "$(jq_ '"%s|%d" % (d["run"]["status"], len(d["run"]["attempts"]))')" "run and attempts"
assert_eq "3|10|2" "$(jq_ '"%d|%d|%d" % (len(d["run"]["record_errors"]["items"]), d["run"]["record_errors"]["total"], d["run"]["record_errors"]["offset"])')" "record errors paged"
assert_eq True "$(jq_ 'd["run"]["logs"]["total"] > 0')" "log lines"
req GET "/connectors/$gen/runs/$run1"
expect 200 "older run"
req GET "/connectors/$ref/runs/$run2"
expect 404 "run of another connector"
req GET "/connectors/$gen/runs/$run2?errors_limit=100000"
expect 400 "errors_limit too large"

echo "== cancel a running run; a finished one is a 409"
req PUT "/connectors/$gen" '{"connection_config": {"rows": 100000, "seed": 2, "bank": "GEN", "sleep_ms": 20, "password": "********"}}'
req POST "/connectors/$gen/run" '{"run_date": "2025-10-04"}'
slow=$(jq_ 'd["run_id"]')
wait_for "SELECT status = 'RUNNING' FROM sp_v2_connector_runs WHERE id = $slow" 20 "slow run running"
# a field sent to a cancel was ignored without a word (it takes none)
req POST "/connectors/$gen/runs/$slow/cancel" '{"reason": "wrong date"}'
expect 400 "cancel with a body field"; assert_eq reason "$(jq_ 'd["errors"][0]["field"]')" "the field at fault"
assert_eq RUNNING "$(q "SELECT status FROM sp_v2_connector_runs WHERE id = $slow")" "not cancelled by the refused request"
req POST "/connectors/$gen/runs/$slow/cancel" '{}'
expect 200 "cancel running"
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $slow" 30 "cancelled run ends"
req POST "/connectors/$gen/runs/$slow/cancel"
expect 409 "cancel finished"

echo "== delete: 409 while RUNNING, force cancels first; the audit outlives it"
req POST "/connectors/$gen/run" '{"run_date": "2025-10-05"}'
slow2=$(jq_ 'd["run_id"]')
wait_for "SELECT status = 'RUNNING' FROM sp_v2_connector_runs WHERE id = $slow2" 20 "second slow run running"
req DELETE "/connectors/$gen"
expect 409 "delete while running"
assert_contains "$(jq_ 'd["error"]')" "force=true" "hint"
req DELETE "/connectors/$gen?force=maybe"
expect 400 "force value"
req DELETE "/connectors/$gen?force=true"
expect 200 "forced delete"
assert_eq "True|1" "$(jq_ '"%s|%d" % (d["success"], d["cancelled_runs"])')" "forced delete body"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connectors WHERE id = $gen")" "gone"
req GET "/connectors/$gen"
expect 404 "deleted connector"
req GET "/connectors/$gen/audit?limit=1"
expect 200 "audit after delete"
assert_eq DELETE "$(jq_ 'd["audit"][0]["action"]')" "delete audited"

echo "== a schedule switched on starts then: the days it was off are not caught up"
sw=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled, schedule_cron, created_at)
        VALUES ('SW', 'BANK_API', 'SW', '{\"rows\": 1}', 'test_gen', false, '0 2 * * *', now() - interval '10 days') RETURNING id")
req PUT "/connectors/$sw" '{"schedule_enabled": true}'
expect 200 "schedule on"
assert_eq t "$(q "SELECT resumed_at > now() - interval '1 minute' FROM sp_v2_connectors WHERE id = $sw")" "switching it on counts as a resume"
q "UPDATE sp_v2_connectors SET resumed_at = '2020-01-01' WHERE id = $sw" >/dev/null
req PUT "/connectors/$sw" '{"source_entity": "SW2"}'
expect 200 "other edit"
assert_eq "2020-01-01" "$(q "SELECT resumed_at::date FROM sp_v2_connectors WHERE id = $sw")" "an edit of a running schedule is no resume"
req PUT "/connectors/$sw" '{"schedule_enabled": false}'
expect 200 "schedule off"

echo "== backfill: range rules, progress, cancel"
bfc='{"name": "BF", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "BF", "schedule_enabled": false, "connection_config": {"rows": 2, "seed": 3, "bank": "BF"}}'
req POST /connectors "$bfc"
bf=$(jq_ 'd["connector"]["id"]')
req POST "/connectors/$bf/backfill" '{"from_date": "2025-09-05", "to_date": "2025-09-01"}'
expect 400 "reversed range"; assert_contains "$BODY" "before from_date" "reversed message"
req POST "/connectors/$bf/backfill" '{"from_date": "2025-09-01", "to_date": "2999-01-01"}'
expect 400 "future date"
req POST "/connectors/$bf/backfill" '{"from_date": "2025-09-01", "to_date": "2025-09-11"}'
expect 400 "over max_days"; assert_contains "$BODY" "at most 10" "max days message"
req POST "/connectors/$bf/backfill" '{"from_date": "2025-09-01"}'
expect 400 "missing to_date"
# null is a missing date, not a crash of the worker that serves the API
req POST "/connectors/$bf/backfill" '{"from_date": null, "to_date": null}'
expect 400 "null dates"; assert_contains "$BODY" '"field":"from_date","message":"is required"' "null from_date"
alive "null dates"
req POST "/connectors/$bf/backfill" '{"from_date": "2025-09-01", "to_date": "2025-09-03", "triggered_by": "USER_9"}'
expect 202 backfill
bid=$(jq_ 'd["backfill_id"]')
assert_eq 3 "$(jq_ 'd["runs"]')" "one run per date"
wait_for "SELECT count(*) = 3 FROM sp_v2_connector_runs WHERE backfill_id = '$bid' AND status = 'SUCCESS'" 30 "backfill done"
req GET "/connectors/$bf/backfills/$bid"
expect 200 progress
assert_eq "3|3|2025-09-01" "$(jq_ '"%d|%d|%s" % (d["total"], d["succeeded"], d["dates"][0]["run_date"])')" "progress body"
req GET "/connectors/$bf/backfills/not-a-uuid"
expect 404 "bad backfill id"
req GET "/connectors/$bf/backfills/00000000-0000-0000-0000-000000000000"
expect 404 "unknown backfill"
req PUT "/connectors/$bf" '{"connection_config": {"rows": 100000, "seed": 3, "bank": "BF", "sleep_ms": 20}}'
req POST "/connectors/$bf/backfill" '{"from_date": "2025-08-01", "to_date": "2025-08-05"}'
bid2=$(jq_ 'd["backfill_id"]')
req POST "/connectors/$bf/backfills/$bid2/cancel" '{"dates": ["2025-08-05"]}'
expect 400 "backfill cancel with a body field"; assert_eq dates "$(jq_ 'd["errors"][0]["field"]')" "the field at fault"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE backfill_id = '$bid2' AND details->>'outcome' = 'cancelled'")" "nothing cancelled by the refused request"
req POST "/connectors/$bf/backfills/$bid2/cancel"
expect 200 "cancel backfill"
assert_eq True "$(jq_ 'd["cancelled_runs"] >= 4')" "cancelled runs"
wait_for "SELECT count(*) = 0 FROM sp_v2_connector_runs WHERE backfill_id = '$bid2' AND status IN ('QUEUED', 'RUNNING')" 30 "backfill stopped"
# Cancelled dates are counted as cancelled, not failed, and the counts
# add up to the total (the page's "N of M finished" relies on it).
req GET "/connectors/$bf/backfills/$bid2"
expect 200 "progress of a cancelled backfill"
assert_eq "5|0|0|0|5|True|True" "$(jq_ '"%d|%d|%d|%d|%d|%s|%s" % (d["total"], d["failed"], d["queued"], d["running"], d["cancelled"] + d["succeeded"], d["cancelled"] >= 4, all(x["cancelled"] == (x["status"] == "FAILED") for x in d["dates"]))')" \
    "cancelled dates counted apart from failed ones"
assert_eq "0|0" "$(q "SELECT count(*) FILTER (WHERE started_at IS NULL AND duration_seconds IS NOT NULL) || '|' || count(*) FILTER (WHERE status = 'FAILED' AND duration_seconds = 0) FROM sp_v2_connector_runs WHERE backfill_id = '$bid2'")" \
    "no duration for the dates that never started"
req GET "/connectors/$bf/backfills/$bid"
assert_eq "0|0" "$(jq_ '"%d|%d" % (d["cancelled"], d["failed"])')" "a backfill that went through: nothing cancelled"

echo "== plugins and validate"
req GET /plugins
expect 200 plugins
assert_eq True "$(jq_ '"test_gen" in [p["name"] for p in d["loaded"]]')" "test_gen loaded"
assert_eq True "$(jq_ '[p for p in d["loaded"] if p["name"] == "pg_api"][0]["config_schema"]["properties"]["password"]["writeOnly"]')" "schema with writeOnly"
assert_eq no_magic.so "$(jq_ 'd["refused"][0]["file"]')" "refused file"
assert_contains "$(jq_ 'd["refused"][0]["reason"]')" "magic" "refused reason"
req POST /connectors/validate "{$PG, \"connection_config\": {\"api_base_url\": \"http://x\", \"merchant_codes\": [], \"authentication_type\": \"BEARER\"}, \"bogus\": 1}"
expect 200 "validate invalid"
assert_eq "True|False|2" "$(jq_ '"%s|%s|%d" % (d["success"], d["valid"], d["error_count"])')" "validate counts"
req POST /connectors/validate "{$PG, \"connection_config\": {\"api_base_url\": \"http://x\", \"merchant_codes\": [\"A\"]}}"
expect 200 "validate valid"
assert_eq "True|0" "$(jq_ '"%s|%d" % (d["valid"], d["error_count"])')" "valid connector"
req POST /connectors/validate "{\"id\": \"1\", \"connection_config\": {\"api_base_url\": \"http://127.0.0.1:$mport\", \"merchant_codes\": [\"A\"], \"authentication_type\": \"BEARER\", \"bearer_token\": \"********\"}}"
expect 200 "validate an update with the mask"
assert_eq 0 "$(jq_ 'd["error_count"]')" "mask resolves to the stored token"

echo "== the mask keeps a stored secret only for the same driver at the same addresses"
# a listener that records the Authorization it is sent: where connector 1's
# token would go if its address could change while the token is kept
python3 -c 'import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(sys.argv[1], "a") as f:
            f.write("%s\n" % self.headers.get("Authorization"))
        self.send_response(401)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()' "$CD_TEST_TMP/caught" >"$CD_TEST_TMP/catch.port" &
CATCH_PID=$!
for i in $(seq 50); do [ -s "$CD_TEST_TMP/catch.port" ] && break; sleep 0.1; done
cport=$(head -1 "$CD_TEST_TMP/catch.port")
PG1="\"merchant_codes\": [\"ALL\"], \"authentication_type\": \"BEARER\""
req PUT /connectors/1 "{\"connection_config\": {\"api_base_url\": \"http://127.0.0.1:$cport\", $PG1, \"bearer_token\": \"********\"}}"
expect 400 "a new address keeping the stored token"
assert_eq '["connection_config.bearer_token"]' "$(jq_ '[e["field"] for e in d["errors"]]')" "the kept secret is named"
assert_contains "$BODY" "while connection_config.api_base_url changes: send the secret again" "and why"
assert_eq "http://127.0.0.1:$mport" "$(q "SELECT connection_config->>'api_base_url' FROM sp_v2_connectors WHERE id = 1")" "address not changed"
req POST /connectors/1/test
expect 200 "a test after the refused move"
[ ! -s "$CD_TEST_TMP/caught" ] || cd_fail "the stored token went to the new address: $(cat "$CD_TEST_TMP/caught")"
req POST /connectors/validate "{\"id\": 1, \"connection_config\": {\"api_base_url\": \"http://127.0.0.1:$cport\", $PG1, \"bearer_token\": \"********\"}}"
assert_eq "False|connection_config.bearer_token" "$(jq_ '"%s|%s" % (d["valid"], ",".join(e["field"] for e in d["errors"]))')" "the dry run says so too"
# an edit that keeps the address keeps the token
req PUT /connectors/1 "{\"connection_config\": {\"api_base_url\": \"http://127.0.0.1:$mport\", $PG1, \"timeout_seconds\": 30, \"bearer_token\": \"********\"}}"
expect 200 "an ordinary edit with the mask"
assert_eq "wrong-token-xyz|30" "$(q "SELECT connection_config->>'bearer_token' || '|' || (connection_config->>'timeout_seconds') FROM sp_v2_connectors WHERE id = 1")" "token kept"
# the token sent again goes to the new address, as its owner meant
req PUT /connectors/1 "{\"connection_config\": {\"api_base_url\": \"http://127.0.0.1:$cport\", $PG1, \"bearer_token\": \"token-for-the-new-host\"}}"
expect 200 "a new address with the token sent again"
req POST /connectors/1/test
expect 200 "a test at the new address"
assert_eq "Bearer token-for-the-new-host" "$(sort -u "$CD_TEST_TMP/caught")" "the new address got the token sent for it"
kill "$CATCH_PID" 2>/dev/null || true
CATCH_PID=
# a new driver may show a kept secret as a plain field, or send it anywhere
req POST /connectors "{\"name\": \"PG Basic\", \"connector_type\": \"PG_API\", \"source_entity\": \"PGB\", \"schedule_enabled\": false, \"connection_config\": {\"api_base_url\": \"http://127.0.0.1:9/x\", \"merchant_codes\": [\"A\"], \"authentication_type\": \"BASIC\", \"username\": \"u\", \"password\": \"pg-basic-pw-1\"}}"
expect 201 "a pg_api connector with a password"
pgb=$(jq_ 'd["connector"]["id"]')
req PUT "/connectors/$pgb" '{"connector_type": "BANK_API", "driver": "test_gen", "connection_config": {"rows": 1, "password": "********"}}'
expect 400 "another driver keeping the stored password"
assert_eq '["connection_config.password"]' "$(jq_ '[e["field"] for e in d["errors"]]')" "the kept secret is named"
assert_contains "$BODY" "while the driver changes from pg_api to test_gen" "and why"
req PUT "/connectors/$pgb" '{"connector_type": "BANK_API", "driver": "test_gen"}'
expect 400 "another driver keeping the whole stored config, password and all"
assert_eq '["connection_config.password"]' "$(jq_ '[e["field"] for e in d["errors"]]')" "the kept secret is named"
assert_eq "pg_api|pg-basic-pw-1" "$(q "SELECT driver || '|' || (connection_config->>'password') FROM sp_v2_connectors WHERE id = $pgb")" "nothing changed"
req PUT "/connectors/$pgb" '{"connector_type": "BANK_API", "driver": "test_gen", "connection_config": {"rows": 1, "password": "typed-again-2"}}'
expect 200 "another driver with the password sent again"
assert_eq "test_gen|typed-again-2" "$(q "SELECT driver || '|' || (connection_config->>'password') FROM sp_v2_connectors WHERE id = $pgb")" "switched"
req DELETE "/connectors/$pgb"
# a config with no secret in it follows its connector to another driver
req POST /connectors '{"name": "PG Open", "connector_type": "PG_API", "source_entity": "PGO", "schedule_enabled": false, "connection_config": {"api_base_url": "http://127.0.0.1:9/x", "merchant_codes": ["A"]}}'
expect 201 "a pg_api connector without secrets"
pgo=$(jq_ 'd["connector"]["id"]')
req PUT "/connectors/$pgo" '{"connector_type": "BANK_API", "driver": "test_gen"}'
expect 200 "another driver, nothing secret kept"
req DELETE "/connectors/$pgo"
req POST /connectors/validate '[]'
expect 400 "validate non-object"

echo "== ops page hook: redirect, files with types, no traversal"
req GET /
expect 302 "root redirect"
assert_contains "$(curl -s -o /dev/null -w '%{redirect_url}' "$API/")" "/ops/connectors" "redirect target"
req GET /ops/connectors
expect 200 "ops page"; assert_contains "$BODY" "<title>ops" "index served"
assert_contains "$(curl -s -o /dev/null -w '%{content_type}' "$API/ops/js/app.js")" "text/javascript" "js content type"
assert_contains "$(curl -s -o /dev/null -w '%{content_type}' "$API/ops/connectors")" "text/html" "html content type"
# no other site may frame the page (clickjacking its Delete and Run buttons)
hdrs=$(curl -s -o /dev/null -D - "$API/ops/connectors" | tr -d '\r')
assert_contains "$hdrs" "frame-ancestors 'none'" "CSP forbids framing"
assert_contains "$hdrs" "X-Frame-Options: DENY" "X-Frame-Options for older browsers"
for p in "/ops/../secret.txt" "/ops/%2e%2e/secret.txt" "/ops/js/../../secret.txt" "/ops/link.txt" "/ops/.hidden"; do
    code=$(curl -s --path-as-is -o "$CD_TEST_TMP/trav" -w '%{http_code}' "$API$p")
    assert_eq 404 "$code" "traversal $p"
    assert_not_contains "$(cat "$CD_TEST_TMP/trav")" outside "traversal $p content"
done
req POST /ops/connectors
expect 405 "POST to the page"

echo "== no secret in the service log"
assert_not_contains "$(cat "$LOG")" hunter2-plain "serve log"
assert_not_contains "$(cat "$LOG")" new-secret-77 "serve log"
assert_not_contains "$(cat "$LOG")" wrong-token-xyz "serve log"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_run_logs WHERE message LIKE '%new-secret-77%'")" "run logs"

echo "== alert fields: expected_by and alert_channels, validated and kept by partial updates"
ALERT='{"name": "Alert Bank", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "ALERT",
        "connection_config": {"rows": 1, "seed": 1}, "schedule_enabled": false,
        "expected_by": "09:30", "alert_channels": ["ops-webhook"]}'
req POST /connectors "$ALERT"
expect 201 "create with alert fields"
al=$(jq_ 'd["connector"]["id"]')
assert_eq '09:30|["ops-webhook"]' "$(q "SELECT expected_by || '|' || alert_channels::text FROM sp_v2_connectors WHERE id = $al")" "stored"
req PUT "/connectors/$al" '{"source_entity": "ALERT2"}'
expect 200 "partial update"
assert_eq '09:30|["ops-webhook"]' "$(q "SELECT expected_by || '|' || alert_channels::text FROM sp_v2_connectors WHERE id = $al")" "kept by a partial update"
req PUT "/connectors/$al" '{"expected_by": null, "alert_channels": []}'
expect 200 "clearing"
assert_eq '|[]' "$(q "SELECT coalesce(expected_by, '') || '|' || alert_channels::text FROM sp_v2_connectors WHERE id = $al")" "cleared and none"
req PUT "/connectors/$al" '{"expected_by": "25:00"}'
expect 400 "bad expected_by"
assert_contains "$BODY" '"field":"expected_by"' "expected_by named"
req PUT "/connectors/$al" '{"alert_channels": ["ops-webhok"]}'
expect 400 "a channel name no channel has"
assert_contains "$BODY" '"field":"alert_channels[0]","message":"names no channel of alerts.channels (ops-webhook)"' "the misspelt name refused, the known ones listed"
# a stored name a later change of alerts.channels left behind blocks no other edit
q "UPDATE sp_v2_connectors SET alert_channels = '[\"gone-channel\"]' WHERE id = $al" >/dev/null
req PUT "/connectors/$al" '{"source_entity": "ALERTS2"}'
expect 200 "an edit that does not send alert_channels"
# the API writing the default zone over a NULL is no change of schedule (021)
q "UPDATE sp_v2_connectors SET schedule_timezone = NULL, schedule_changed_at = NULL WHERE id = $al" >/dev/null
req PUT "/connectors/$al" '{"source_entity": "ALERTS3"}'
expect 200 "an edit of another field"
assert_eq "Asia/Kolkata|1" "$(q "SELECT schedule_timezone || '|' || (schedule_changed_at IS NULL)::int FROM sp_v2_connectors WHERE id = $al")" "no schedule change stamped"
req PUT "/connectors/$al" '{"alert_channels": ["ops-webhook"]}'
expect 200 "the list mended"
req PUT "/connectors/$al" '{"alert_channels": "ops"}'
expect 400 "bad alert_channels"
assert_contains "$BODY" '"field":"alert_channels"' "alert_channels named"
req PUT "/connectors/$al" '{"alert_channels": ["ok", 5]}'
expect 400 "bad channel name"
assert_contains "$BODY" 'alert_channels[1]' "the bad element named"

echo "== a zone stored before the check (AET, IST): runs are refused naming it, never a 500"
req POST /connectors '{"name": "TZ stored", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "TZS", "schedule_enabled": false, "connection_config": {"rows": 1}}'
expect 201 "zone connector"
tzc=$(jq_ 'd["connector"]["id"]')
req PUT "/connectors/$tzc" '{"schedule_timezone": "AET"}'
expect 400 "PUT of AET"; assert_contains "$BODY" '"field":"schedule_timezone"' "PUT names the zone"
for tz in AET IST; do
    q "UPDATE sp_v2_connectors SET schedule_timezone = '$tz' WHERE id = $tzc" >/dev/null
    for call in "run|" "run|{\"run_date\": \"2025-10-01\"}" "backfill|{\"from_date\": \"2025-09-01\", \"to_date\": \"2025-09-02\"}" "test|"; do
        req POST "/connectors/$tzc/${call%%|*}" "${call#*|}"
        expect 409 "$tz: ${call%%|*} ${call#*|}"
        assert_contains "$BODY" '"field":"schedule_timezone"' "$tz: ${call%%|*} names the zone"
    done
done
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id = $tzc")" "no run queued"
req PUT "/connectors/$tzc" '{"schedule_timezone": "Australia/Sydney"}'
expect 200 "zone corrected"
req POST "/connectors/$tzc/run"
expect 202 "runs again"
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE connector_id = $tzc" 20 "its run"

echo "== delete: a run claimed while the delete looks is seen RUNNING (409), not deleted as it runs"
req POST /connectors '{"name": "Del race", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "DR", "schedule_enabled": false, "connection_config": {"rows": 1}}'
dc=$(jq_ 'd["connector"]["id"]')
# queued for later, so this worker leaves it; a claimer takes it and holds its transaction open
held="INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, attempt, max_attempts, queued_at, not_before)
      VALUES ($dc, 'MANUAL', '2025-10-01', 'QUEUED', 1, 1, now(), now() + interval '1 day') RETURNING id"
rid=$(q "$held")
psql -X -q -c "BEGIN; UPDATE sp_v2_connector_runs SET status = 'RUNNING', started_at = now(), worker_id = 'elsewhere', lease_expires_at = now() + interval '1 hour' WHERE id = $rid; SELECT pg_sleep(3); COMMIT;" >/dev/null &
claimer=$!
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'" 10 "the claim in flight"
req DELETE "/connectors/$dc"
wait $claimer
expect 409 "delete during a claim"
assert_contains "$(jq_ 'd["error"]')" "running run (id $rid)" "the claimed run named"
assert_eq RUNNING "$(q "SELECT status FROM sp_v2_connector_runs WHERE id = $rid")" "the run is still there"
q "UPDATE sp_v2_connector_runs SET status = 'FAILED', completed_at = now() WHERE id = $rid" >/dev/null
# a deadlock or a lock wait that runs out is a 409 "try again", not a 500: here the
# delete holds the run and waits for the connector, which another holds while it
# waits for the run
rid=$(q "$held")
PGAPPNAME=lockB psql -X -q -c "BEGIN; SELECT 1 FROM sp_v2_connector_runs WHERE id = $rid FOR UPDATE; SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
lockb=$!
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'lockB' AND wait_event = 'PgSleep'" 10 "a lock on the run"
( req DELETE "/connectors/$dc"; printf '%s\n%s' "$CODE" "$BODY" >"$CD_TEST_TMP/busy" ) &
del=$!
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR NO KEY UPDATE%' AND pid <> pg_backend_pid()" 10 "the delete waiting for the run"
PGAPPNAME=lockA psql -X -q -c "SET deadlock_timeout = '60s'; BEGIN; SELECT 1 FROM sp_v2_connectors WHERE id = $dc FOR UPDATE; SELECT 1 FROM sp_v2_connector_runs WHERE id = $rid FOR UPDATE; COMMIT;" >/dev/null 2>&1 &
locka=$!
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'lockA' AND wait_event_type = 'Lock'" 10 "the other waiting for the run"
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'lockB'" >/dev/null
wait $del || true; wait $locka || true; wait $lockb || true
assert_eq 409 "$(head -1 "$CD_TEST_TMP/busy")" "delete in a deadlock"
assert_contains "$(tail -n +2 "$CD_TEST_TMP/busy")" "try the delete again" "busy message"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_connectors WHERE id = $dc")" "not deleted"
# a run finishing updates its row, then its connector's counters: the delete
# waits for it instead of deadlocking with it
PGAPPNAME=finisher psql -X -q -v ON_ERROR_STOP=1 -c "BEGIN; UPDATE sp_v2_connector_runs SET status = 'FAILED', completed_at = now() WHERE id = $rid; SELECT pg_sleep(3); UPDATE sp_v2_connectors SET total_runs = coalesce(total_runs, 0) + 1 WHERE id = $dc; COMMIT;" >/dev/null 2>"$CD_TEST_TMP/finisher.err" &
fin=$!
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'finisher' AND wait_event = 'PgSleep'" 10 "a run finishing"
q "$held" >/dev/null; q "$held" >/dev/null
req DELETE "/connectors/$dc"
fin_rc=0; wait $fin || fin_rc=$?
assert_eq "0|" "$fin_rc|$(cat "$CD_TEST_TMP/finisher.err")" "the finishing run committed"
expect 200 "delete while a run finishes"
assert_eq "0|2" "$(jq_ '"%d|%d" % (d["cancelled_runs"], d["dropped_queued_runs"])')" "queued runs dropped with it, counted"

echo "== a test waiting on a queued run hears at once that the connector was deleted"
req POST /connectors '{"name": "Wait del", "connector_type": "BANK_API", "driver": "test_gen", "source_entity": "WD", "schedule_enabled": false, "connection_config": {"rows": 1}}'
wd=$(jq_ 'd["connector"]["id"]')
# its test run is held in the queue (not_before ahead) as if every worker were busy
q "CREATE FUNCTION test_hold_run() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN NEW.not_before := now() + interval '1 day'; RETURN NEW; END \$\$" >/dev/null
q "CREATE TRIGGER hold_wd BEFORE INSERT ON sp_v2_connector_runs FOR EACH ROW WHEN (NEW.connector_id = $wd) EXECUTE FUNCTION test_hold_run()" >/dev/null
t0=$SECONDS
( req POST "/connectors/$wd/test" "" --max-time 30; printf '%s\n%s' "$CODE" "$BODY" >"$CD_TEST_TMP/waited" ) &
waiter=$!
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_runs WHERE connector_id = $wd AND status = 'QUEUED'" 10 "the test run queued"
req DELETE "/connectors/$wd"
expect 200 "delete under a waiting test"
assert_eq 1 "$(jq_ 'd["dropped_queued_runs"]')" "the test run dropped with it"
wait $waiter || true
q "DROP TRIGGER hold_wd ON sp_v2_connector_runs; DROP FUNCTION test_hold_run()" >/dev/null
[ -s "$CD_TEST_TMP/waited" ] || cd_fail "the waiting test got no answer"
assert_eq 410 "$(head -1 "$CD_TEST_TMP/waited")" "the waiting test's status"
assert_contains "$(tail -n +2 "$CD_TEST_TMP/waited")" "deleted with its connector" "the waiting test's message"
[ $((SECONDS - t0)) -lt 15 ] || cd_fail "the waiting test answered after $((SECONDS - t0)) s"

echo "== run, test and backfill of a connector deleted while they are queued: 404, not 500"
# the delete commits after the request read the connector and before its run's
# foreign key is checked (which waits for the delete): that key then fails
for ask in 'run|{"run_date": "2025-09-01"}' 'run|{}' 'test|{}' 'backfill|{"from_date": "2025-09-01", "to_date": "2025-09-02"}'; do
    gone=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled)
              VALUES ('Gone ${ask%%|*} $RANDOM', 'BANK_API', 'G', '{\"rows\": 1}', 'test_gen', false) RETURNING id")
    ( PGAPPNAME=deleter psql -X -q -At -c "BEGIN; DELETE FROM sp_v2_connectors WHERE id = $gone; SELECT pg_sleep(1.5); COMMIT" >/dev/null ) &
    deleter=$!
    wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'deleter' AND wait_event = 'PgSleep'" 10 "the delete under way"
    req POST "/connectors/$gone/${ask%%|*}" "${ask#*|}"
    wait $deleter
    expect 404 "${ask%%|*} of a connector deleted meanwhile"
    assert_eq "Connector not found" "$(jq_ 'd["error"]')" "${ask%%|*}: the 404's message"
done
alive "deleted meanwhile"

serve_stop w1
echo "PASS"
