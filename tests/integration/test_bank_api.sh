#!/usr/bin/env bash
# bank_api end to end: `connectord run` against tests/mock/mock_bank on a
# loopback port: JSON and CSV, every pagination style, every auth style
# (HMAC verified by the mock), a private CA over TLS, and the failures.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
pg_tmp_start

CD="$CD_BUILD_DIR/bin/connectord"
MOCK="$CD_BUILD_DIR/tests/mock_bank"
[ -x "$MOCK" ] || cd_fail "mock server not built: $MOCK"
CFG="$CD_TEST_TMP/connectord.yaml"
cd_write_config "$CFG"
"$CD" -c "$CFG" migrate >/dev/null

MOCK_PIDS=()
cleanup() {
    local p
    for p in "${MOCK_PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    pg_tmp_stop
}
trap cleanup EXIT

start_mock() { # options... -> $PORT
    local out="$CD_TEST_TMP/bank.$RANDOM.port"
    "$MOCK" "$@" >"$out" 2>"$out.err" &
    MOCK_PIDS+=($!)
    local i
    for i in $(seq 100); do
        [ -s "$out" ] && break
        sleep 0.05
    done
    PORT=$(head -n1 "$out")
    [ -n "$PORT" ] || cd_fail "mock_bank did not start: $(cat "$out.err")"
}
add_connector() { # NAME CONFIG_JSON -> id
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config)
       VALUES ('$1', 'BANK_API', 'TESTBANK', '$2'::jsonb) RETURNING id"
}
run_json() {
    set +e
    "$CD" -c "$CFG" run "$@" >"$CD_TEST_TMP/run.out" 2>"$CD_TEST_TMP/run.err"
    RUN_RC=$?
    set -e
    out=$(cat "$CD_TEST_TMP/run.out")
    [ -n "$out" ] || cd_fail "no run JSON; stderr: $(cat "$CD_TEST_TMP/run.err")"
}
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

JCOLS='"columns": {"bank_ref": "ref", "amount": "amount", "transaction_date": "txn_date", "value_date": "value_date", "utr": "utr", "remarks": "narration", "debit_credit": "type"}, "records_path": "data.transactions"'
CCOLS='"response_format": "csv", "columns": {"bank_ref": "Txn Ref", "amount": "Amount", "transaction_date": "Txn Date", "value_date": "Value Date", "utr": "UTR", "remarks": "Narration", "debit_credit": "Dr/Cr"}'
# What the mock serves for 2025-01-02 (count 25): ref, exact paise, utr.
EXPECTED=$(q "SELECT string_agg('BR20250102' || lpad(i::text, 6, '0') || '=' || (((i * 37) % 100000) * 100 + i % 100), ' ' ORDER BY i) FROM generate_series(0, 24) i")
loaded() { # BANK_NAME -> "ref=paise ..." of that bank
    q "SELECT coalesce(string_agg(bank_ref || '=' || amount_paise, ' ' ORDER BY bank_ref), '') FROM sp_v2_bank_statements WHERE bank_name = '$1'"
}
# check_load NAME CONFIG_JSON: one run loads the 25 lines exactly under bank NAME.
check_load() {
    local id
    id=$(add_connector "$1" "$2")
    run_json "$id" --date 2025-01-02
    assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "$1: status ($(jget '.get("error_message")' <<<"$out"))"
    assert_eq 25 "$(jget '["details"]["inserted"]' <<<"$out")" "$1: inserted"
    assert_eq "$EXPECTED" "$(loaded "$1")" "$1: rows and exact paise"
    LAST_ID=$id
}

REQLOG="$CD_TEST_TMP/requests.log"
start_mock --count 25 --request-log "$REQLOG"
B="http://127.0.0.1:$PORT"
requests() { # LOG PATH_PREFIX -> the queries of the requests to that path, in order
    grep "^$2" "$1" | sed 's/^[^?]*?//' | tr '\n' ' ' | sed 's/ $//'
}

echo "== JSON, no pagination: mapped columns, exact paise, idempotent"
check_load JSON_NONE "{\"base_url\": \"$B\", \"endpoint\": \"/json/none/{date}\", \"bank_name\": \"JSON_NONE\", $JCOLS}"
assert_eq "2025-01-02|2025-01-02|UTR20250102000007|CR|NEFT, from \"Acme\" #7|CONNECTOR" \
    "$(q "SELECT transaction_date, value_date, utr, debit_credit, remarks, source_type FROM sp_v2_bank_statements WHERE bank_ref = 'BR20250102000007'")" "one line, every column"
before=$(q "SELECT md5(string_agg(s::text, '|' ORDER BY bank_ref)) FROM (SELECT bank_ref, amount_paise, utr, remarks, updated_at FROM sp_v2_bank_statements) s")
run_json "$LAST_ID" --date 2025-01-02
assert_eq "0|0|25" "$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["details"]["updated"]' <<<"$out")|$(jget '["details"]["unchanged"]' <<<"$out")" "repeat: inserted|updated|unchanged"
assert_eq "$before" "$(q "SELECT md5(string_agg(s::text, '|' ORDER BY bank_ref)) FROM (SELECT bank_ref, amount_paise, utr, remarks, updated_at FROM sp_v2_bank_statements) s")" "table identical"

echo "== JSON pagination: page, offset, cursor (body), link"
check_load JSON_PAGE "{\"base_url\": \"$B\", \"endpoint\": \"/json/page/{date}\", \"bank_name\": \"JSON_PAGE\", \"pagination\": {\"type\": \"page\", \"page_param\": \"page\", \"size_param\": \"size\", \"page_size\": 10}, $JCOLS}"
assert_eq "page=1&size=10 page=2&size=10 page=3&size=10 page=4&size=10" "$(requests "$REQLOG" /json/page/)" "page: the short third page is not the last, the empty fourth is"
check_load JSON_OFFSET "{\"base_url\": \"$B\", \"endpoint\": \"/json/offset/{date}\", \"bank_name\": \"JSON_OFFSET\", \"pagination\": {\"type\": \"offset\", \"page_size\": 10}, $JCOLS}"
assert_eq "offset=0&limit=10 offset=10&limit=10 offset=20&limit=10 offset=25&limit=10" "$(requests "$REQLOG" /json/offset/)" "offset: on to an empty page, moved by the records received"
check_load JSON_CURSOR "{\"base_url\": \"$B\", \"endpoint\": \"/json/cursor/{date}\", \"bank_name\": \"JSON_CURSOR\", \"pagination\": {\"type\": \"cursor\", \"cursor_path\": \"meta.next_cursor\", \"size_param\": \"size\", \"page_size\": 7}, $JCOLS}"
check_load JSON_LINK "{\"base_url\": \"$B\", \"endpoint\": \"/json/link/{date}\", \"bank_name\": \"JSON_LINK\", \"pagination\": {\"type\": \"link\", \"size_param\": \"size\", \"page_size\": 4}, $JCOLS}"
assert_eq 25 "$(jget '["details"]["records_read"]' <<<"$out")" "records read over 7 linked pages"

echo "   an empty page ends a cursor listing, even one that names a next cursor"
check_load JSON_STUCK "{\"base_url\": \"$B\", \"endpoint\": \"/json/stuckcursor/{date}\", \"bank_name\": \"JSON_STUCK\", \"pagination\": {\"type\": \"cursor\", \"cursor_path\": \"meta.next_cursor\", \"size_param\": \"size\", \"page_size\": 5}, $JCOLS}"
echo "   a bank not told the page size pages by its own (10 here): a page short of page_size is not the last"
check_load JSON_OWNSIZE "{\"base_url\": \"$B\", \"endpoint\": \"/json/page/{date}\", \"bank_name\": \"JSON_OWNSIZE\", \"pagination\": {\"type\": \"page\", \"page_size\": 100}, $JCOLS}"

echo "== a bank that caps its pages (100 of the 500 asked): every page read, not the first alone"
CAPLOG="$CD_TEST_TMP/capped.log"
start_mock --count 350 --max-page 100 --request-log "$CAPLOG"
CB="http://127.0.0.1:$PORT"
EXPECTED350=$(q "SELECT string_agg('BR20250102' || lpad(i::text, 6, '0') || '=' || (((i * 37) % 100000) * 100 + i % 100), ' ' ORDER BY i) FROM generate_series(0, 349) i")
check_capped() { # NAME CONFIG_JSON
    local id
    id=$(add_connector "$1" "$2")
    run_json "$id" --date 2025-01-02
    assert_eq "SUCCESS|350" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")" "$1: status|inserted ($(jget '.get("error_message")' <<<"$out"))"
    assert_eq "$EXPECTED350" "$(loaded "$1")" "$1: rows and exact paise"
}
check_capped CAP_OFFSET "{\"base_url\": \"$CB\", \"endpoint\": \"/json/offset/{date}\", \"bank_name\": \"CAP_OFFSET\", \"pagination\": {\"type\": \"offset\", \"page_size\": 500}, $JCOLS}"
assert_eq "offset=0&limit=500 offset=100&limit=500 offset=200&limit=500 offset=300&limit=500 offset=350&limit=500" \
    "$(requests "$CAPLOG" /json/offset/)" "capped offset: five requests, the last one empty"
check_capped CAP_PAGE "{\"base_url\": \"$CB\", \"endpoint\": \"/json/page/{date}\", \"bank_name\": \"CAP_PAGE\", \"pagination\": {\"type\": \"page\", \"size_param\": \"size\", \"page_size\": 500}, $JCOLS}"
assert_eq "page=1&size=500 page=2&size=500 page=3&size=500 page=4&size=500 page=5&size=500" "$(requests "$CAPLOG" /json/page/)" "capped page: five requests, the last one empty"
check_capped CAP_CSV "{\"base_url\": \"$CB\", \"endpoint\": \"/csv/offset/{date}\", \"bank_name\": \"CAP_CSV\", \"pagination\": {\"type\": \"offset\", \"page_size\": 500}, $CCOLS}"

echo "   a day of exactly max_pages pages loads: the empty page after them is not one too many"
start_mock --count 30
exact=$(add_connector EXACT_MAXP "{\"base_url\": \"http://127.0.0.1:$PORT\", \"endpoint\": \"/json/page/{date}\", \"bank_name\": \"EXACT_MAXP\", \"pagination\": {\"type\": \"page\", \"size_param\": \"size\", \"page_size\": 10, \"max_pages\": 3}, $JCOLS}")
run_json "$exact" --date 2025-01-02
assert_eq "SUCCESS|30" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")" "three full pages and max_pages 3 ($(jget '.get("error_message")' <<<"$out"))"

echo "== CSV (quoted commas, quotes and newlines), each pagination style"
check_load CSV_NONE "{\"base_url\": \"$B\", \"endpoint\": \"/csv/none/{date}\", \"bank_name\": \"CSV_NONE\", $CCOLS}"
assert_eq "$(printf 'NEFT, from "Acme"\n#7')" "$(q "SELECT remarks FROM sp_v2_bank_statements WHERE bank_name = 'CSV_NONE' AND bank_ref = 'BR20250102000007'")" "RFC 4180 field"
check_load CSV_PAGE "{\"base_url\": \"$B\", \"endpoint\": \"/csv/page/{date}\", \"bank_name\": \"CSV_PAGE\", \"pagination\": {\"type\": \"page\", \"size_param\": \"size\", \"page_size\": 10}, $CCOLS}"
check_load CSV_OFFSET "{\"base_url\": \"$B\", \"endpoint\": \"/csv/offset/{date}\", \"bank_name\": \"CSV_OFFSET\", \"pagination\": {\"type\": \"offset\", \"offset_param\": \"offset\", \"limit_param\": \"limit\", \"page_size\": 10}, $CCOLS}"
check_load CSV_CURSOR "{\"base_url\": \"$B\", \"endpoint\": \"/csv/cursor/{date}\", \"bank_name\": \"CSV_CURSOR\", \"pagination\": {\"type\": \"cursor\", \"cursor_header\": \"X-Next-Cursor\", \"size_param\": \"size\", \"page_size\": 10}, $CCOLS}"
check_load CSV_BLANKCUR "{\"base_url\": \"$B\", \"endpoint\": \"/csv/blankcursor/{date}\", \"bank_name\": \"CSV_BLANKCUR\", \"pagination\": {\"type\": \"cursor\", \"cursor_header\": \"X-Next-Cursor\", \"size_param\": \"size\", \"page_size\": 10}, $CCOLS}"
assert_eq "size=10 cursor=cur-10&size=10 cursor=cur-20&size=10" "$(requests "$REQLOG" /csv/blankcursor/)" "an empty cursor header ends the listing, as an empty cursor in a body does"
echo "   a 204 No Content page is an empty page"
check_load JSON_204 "{\"base_url\": \"$B\", \"endpoint\": \"/json/nocontent/{date}\", \"bank_name\": \"JSON_204\", \"pagination\": {\"type\": \"page\", \"size_param\": \"size\", \"page_size\": 10}, $JCOLS}"
check_load CSV_204 "{\"base_url\": \"$B\", \"endpoint\": \"/csv/nocontent/{date}\", \"bank_name\": \"CSV_204\", \"pagination\": {\"type\": \"page\", \"size_param\": \"size\", \"page_size\": 10}, $CCOLS}"
check_load CSV_LINK "{\"base_url\": \"$B\", \"endpoint\": \"/csv/link/{date}\", \"bank_name\": \"CSV_LINK\", \"pagination\": {\"type\": \"link\", \"size_param\": \"size\", \"page_size\": 10}, $CCOLS}"

echo "== CSV: a line whose field count is not the header's is a record error, not shifted values"
rag=$(add_connector CSV_RAGGED "{\"base_url\": \"$B\", \"endpoint\": \"/csvragged/{date}\", \"bank_name\": \"CSV_RAGGED\", \"response_format\": \"csv\", \"columns\": {\"bank_ref\": \"ref\", \"amount\": \"amount\", \"transaction_date\": \"date\", \"remarks\": \"remarks\", \"utr\": \"utr\"}}")
run_json "$rag" --date 2025-10-02
assert_eq "PARTIAL_SUCCESS|1|2" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["inserted"]' <<<"$out")|$(jget '["records_failed"]' <<<"$out")" "ragged CSV: status|inserted|failed"
assert_eq "R3=750=UTR9" "$(q "SELECT string_agg(bank_ref || '=' || amount_paise || '=' || coalesce(utr, '-'), ' ') FROM sp_v2_bank_statements WHERE bank_name = 'CSV_RAGGED'")" "only the whole line loaded"
assert_eq "page 1 line 2: has 6 fields, the header has 5 [R1,100.00,2025-10-02,Paid, thanks,UTR123] | page 1 line 3: has 4 fields, the header has 5 [R2,5.00,2025-10-02,ok]" \
    "$(q "SELECT string_agg(row_ref || ': ' || reason || ' [' || raw || ']', ' | ' ORDER BY row_ref) FROM sp_v2_connector_record_errors WHERE run_id = $(jget '["id"]' <<<"$out")")" "record errors name the line and the counts"

echo "== auth styles: bearer, api_key, basic, hmac_sha256 (signature verified by the mock)"
export BANK_TOKEN=tok-123 BANK_KEY=key-456 BANK_PW=pw-789 BANK_HMAC=hmac-secret-000
start_mock --count 25 --auth bearer:tok-123
check_load AUTH_BEARER "{\"base_url\": \"http://127.0.0.1:$PORT\", \"endpoint\": \"/json/page/{date}\", \"bank_name\": \"AUTH_BEARER\", \"auth_type\": \"bearer\", \"bearer_token\": {\"secret\": \"env:BANK_TOKEN\"}, \"pagination\": {\"type\": \"page\", \"size_param\": \"size\", \"page_size\": 10}, $JCOLS}"
start_mock --count 25 --auth api_key:X-Bank-Key:key-456
check_load AUTH_KEY "{\"base_url\": \"http://127.0.0.1:$PORT\", \"endpoint\": \"/json/none/{date}\", \"bank_name\": \"AUTH_KEY\", \"auth_type\": \"api_key\", \"api_key_header\": \"X-Bank-Key\", \"api_key\": {\"secret\": \"env:BANK_KEY\"}, $JCOLS}"
start_mock --count 25 --auth basic:ops:pw-789
check_load AUTH_BASIC "{\"base_url\": \"http://127.0.0.1:$PORT\", \"endpoint\": \"/csv/none/{date}\", \"bank_name\": \"AUTH_BASIC\", \"auth_type\": \"basic\", \"username\": \"ops\", \"password\": {\"secret\": \"env:BANK_PW\"}, $CCOLS}"
start_mock --count 25 --auth hmac:key-1:hmac-secret-000
HMAC_CFG="\"base_url\": \"http://127.0.0.1:$PORT\", \"endpoint\": \"/json/cursor/{date}\", \"auth_type\": \"hmac_sha256\", \"hmac_key_id\": \"key-1\", \"hmac_secret\": {\"secret\": \"env:BANK_HMAC\"}, \"pagination\": {\"type\": \"cursor\", \"cursor_path\": \"meta.next_cursor\", \"size_param\": \"size\", \"page_size\": 10}, $JCOLS"
check_load AUTH_HMAC "{$HMAC_CFG, \"bank_name\": \"AUTH_HMAC\"}"
hm=$LAST_ID
export BANK_HMAC=wrong-secret
run_json "$hm" --date 2025-01-02
assert_eq "FAILED|configuration_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "wrong HMAC secret"
assert_eq "API responded with status 401: Unauthorized" "$(jget '["error_message"]' <<<"$out")" "wrong HMAC secret message"
assert_not_contains "$out$(q "SELECT string_agg(message, ' ') FROM sp_v2_connector_run_logs")" "hmac-secret-000" "secret anywhere"

echo "== TLS with a private CA: ca_bundle trusts it; without it the run is a configuration error"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$CD_TEST_TMP/key.pem" -out "$CD_TEST_TMP/cert.pem" 2>/dev/null
chmod 644 "$CD_TEST_TMP/cert.pem"
start_mock --count 25 --tls-cert "$CD_TEST_TMP/cert.pem" --tls-key "$CD_TEST_TMP/key.pem"
check_load TLS_CA "{\"base_url\": \"https://127.0.0.1:$PORT\", \"endpoint\": \"/json/none/{date}\", \"bank_name\": \"TLS_CA\", \"ca_bundle\": \"$CD_TEST_TMP/cert.pem\", $JCOLS}"
notrust=$(add_connector TLS_NOCA "{\"base_url\": \"https://127.0.0.1:$PORT\", \"endpoint\": \"/json/none/{date}\", \"bank_name\": \"TLS_NOCA\", $JCOLS}")
run_json "$notrust" --date 2025-01-02
assert_eq "FAILED|configuration_error" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "untrusted certificate"
assert_contains "$(jget '["error_message"]' <<<"$out")" "TLS or URL problem talking to 127.0.0.1" "message"

echo "== failures: 401, 429 with Retry-After, 500, malformed CSV, a missing CSV column, a foreign link, max_pages"
fail() { # NAME ENDPOINT EXTRA -> runs it, sets $out
    local id
    id=$(add_connector "$1" "{\"base_url\": \"$B\", \"endpoint\": \"$2\", \"bank_name\": \"$1\", $3}")
    run_json "$id" --date 2025-01-02
    assert_eq FAILED "$(jget '["status"]' <<<"$out")" "$1: status"
    assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = '$1'")" "$1: no rows left"
}
fail F401 "/fail/401/{date}" "$JCOLS"
assert_eq "API responded with status 401: Unauthorized|configuration_error" "$(jget '["error_message"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "401"
fail F429 "/fail/429/{date}" "$JCOLS"
assert_eq "transient_error|5" "$(jget '["details"]["outcome"]' <<<"$out")|$(jget '["details"]["retry_after_seconds"]' <<<"$out")" "429 and Retry-After"
fail F500 "/fail/500/{date}" "$JCOLS"
assert_eq "API responded with status 500: Internal Server Error|transient_error" "$(jget '["error_message"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "500"
fail BADCSV "/badcsv/{date}" "\"response_format\": \"csv\", \"columns\": {\"bank_ref\": \"Txn Ref\", \"amount\": \"Amount\", \"transaction_date\": \"Txn Date\"}"
assert_contains "$(jget '["error_message"]' <<<"$out")" "malformed CSV from the bank API (page 1): line 3" "unterminated quote"
assert_eq permanent_error "$(jget '["details"]["outcome"]' <<<"$out")" "malformed CSV outcome"
fail MISSCOL "/csv/none/{date}" "\"response_format\": \"csv\", \"columns\": {\"bank_ref\": \"Txn Ref\", \"amount\": \"Amount (INR)\", \"transaction_date\": \"Txn Date\"}"
assert_eq "columns.amount names \"Amount (INR)\", which the CSV header (page 1) does not have|configuration_error" "$(jget '["error_message"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "missing CSV column"
fail EVIL "/evillink/{date}" "\"pagination\": {\"type\": \"link\"}, $JCOLS"
assert_contains "$(jget '["error_message"]' <<<"$out")" "points to http://198.51.100.7:80, outside" "foreign link not followed"
fail MAXP "/json/page/{date}" "\"pagination\": {\"type\": \"page\", \"size_param\": \"size\", \"page_size\": 5, \"max_pages\": 2}, $JCOLS"
assert_eq "the bank API has more than pagination.max_pages (2) pages for 2025-01-02; raise max_pages" "$(jget '["error_message"]' <<<"$out")" "max_pages"

echo "== a pager that never ends: a bank that clamps or ignores page/offset, a cursor or link back to an earlier page"
fail CLAMP "/json/clamp/{date}" "\"pagination\": {\"type\": \"page\", \"size_param\": \"size\", \"page_size\": 10}, $JCOLS"
assert_eq "page 4 of the bank API repeats page 3 record for record: it ignores or clamps pagination.page; stopping instead of asking again until max_pages|permanent_error" \
    "$(jget '["error_message"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "clamped page"
assert_eq "page=1&size=10 page=2&size=10 page=3&size=10 page=4&size=10" "$(requests "$REQLOG" /json/clamp/)" "clamped page: four requests, not max_pages"
fail IGNORE "/json/ignore/{date}" "\"pagination\": {\"type\": \"page\", \"page_param\": \"p\"}, $JCOLS"
assert_eq "page 2 of the bank API repeats page 1 record for record: it ignores or clamps pagination.p; stopping instead of asking again until max_pages" \
    "$(jget '["error_message"]' <<<"$out")" "ignored page parameter"
fail CSVIGNORE "/csv/ignore/{date}" "\"pagination\": {\"type\": \"offset\", \"page_size\": 10}, $CCOLS"
assert_eq "page 2 of the bank API repeats page 1 record for record: it ignores or clamps pagination.offset; stopping instead of asking again until max_pages" \
    "$(jget '["error_message"]' <<<"$out")" "ignored offset, CSV"
echo "   pages a wrong mapping finds nothing in are record errors, not repeats of each other"
typo=$(add_connector TYPO "{\"base_url\": \"$B\", \"endpoint\": \"/json/page/{date}\", \"bank_name\": \"TYPO\", \"records_path\": \"data.transactions\", \"pagination\": {\"type\": \"page\", \"size_param\": \"size\", \"page_size\": 10}, \"columns\": {\"bank_ref\": \"reference\", \"amount\": \"amt\", \"transaction_date\": \"date\"}}")
run_json "$typo" --date 2025-01-02
assert_eq "PARTIAL_SUCCESS|25" "$(jget '["status"]' <<<"$out")|$(jget '["records_failed"]' <<<"$out")" "wrong mapping: every record an error, every page read"
fail CYCLECUR "/json/cyclecursor/{date}" "\"pagination\": {\"type\": \"cursor\", \"cursor_path\": \"meta.next_cursor\", \"size_param\": \"size\", \"page_size\": 10}, $JCOLS"
assert_eq "the bank API's cursor after page 3 leads back to page 2; stopping instead of looping|permanent_error" \
    "$(jget '["error_message"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "cursor cycle"
assert_eq 3 "$(grep -c '^/json/cyclecursor/' "$REQLOG")" "cursor cycle: three requests"
fail CYCLELINK "/json/cyclelink/{date}" "\"pagination\": {\"type\": \"link\", \"size_param\": \"size\", \"page_size\": 10}, $JCOLS"
assert_eq "the bank API's next link after page 3 leads back to page 2; stopping instead of looping" \
    "$(jget '["error_message"]' <<<"$out")" "link cycle"
assert_eq 3 "$(grep -c '^/json/cyclelink/' "$REQLOG")" "link cycle: three requests"

fail HTML "/html/{date}" "\"response_format\": \"csv\", \"csv\": {\"header\": false}, \"columns\": {\"bank_ref\": \"1\", \"amount\": \"2\", \"transaction_date\": \"3\"}"
assert_eq "127.0.0.1 answered text/html; charset=utf-8 where a CSV statement was expected (an error or login page?)|transient_error" \
    "$(jget '["error_message"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "an HTML page with 200 is not a statement"
echo "   a CSV of no stated length that stops inside a line is cut short, not a shorter amount"
fail CUTCSV "/cutcsv/{date}" "\"response_format\": \"csv\", \"columns\": {\"bank_ref\": \"Txn Ref\", \"amount\": \"Amount\", \"transaction_date\": \"Txn Date\"}"
assert_eq "the CSV from 127.0.0.1 (page 1) stops inside a line after 64 bytes, on a connection that gave no length: cut short?|transient_error" \
    "$(jget '["error_message"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "close-delimited CSV cut in its last line"
whole=$(add_connector CLOSECSV "{\"base_url\": \"$B\", \"endpoint\": \"/closecsv/{date}\", \"bank_name\": \"CLOSECSV\", \"response_format\": \"csv\", \"columns\": {\"bank_ref\": \"Txn Ref\", \"amount\": \"Amount\", \"transaction_date\": \"Txn Date\"}}")
run_json "$whole" --date 2025-01-02
assert_eq "SUCCESS|C1=123456 C2=1200" "$(jget '["status"]' <<<"$out")|$(loaded CLOSECSV)" "the same CSV whole loads"
echo "   an empty CSV body is no empty day (which has its header row)"
fail EMPTYCSV "/emptycsv/{date}" "\"response_format\": \"csv\", \"columns\": {\"bank_ref\": \"Txn Ref\", \"amount\": \"Amount\", \"transaction_date\": \"Txn Date\"}"
assert_eq "127.0.0.1 answered no CSV header row (0 bytes) where a statement was expected|transient_error" \
    "$(jget '["error_message"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "empty CSV body"
hdr=$(add_connector HEADERCSV "{\"base_url\": \"$B\", \"endpoint\": \"/headercsv/{date}\", \"bank_name\": \"HEADERCSV\", \"response_format\": \"csv\", \"columns\": {\"bank_ref\": \"Txn Ref\", \"amount\": \"Amount\", \"transaction_date\": \"Txn Date\"}}")
run_json "$hdr" --date 2025-01-02
assert_eq "SUCCESS|0" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["records_read"]' <<<"$out")" "a header alone is a day without lines"
echo "   202 Accepted: the statement is not ready; its empty list is no empty day"
fail ACCEPTED "/accepted/{date}" "$JCOLS"
assert_eq "API responded with status 202: Accepted (the answer is not ready yet)|transient_error|60" \
    "$(jget '["error_message"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")|$(jget '["details"]["retry_after_seconds"]' <<<"$out")" "202"
fail HTMLJSON "/html/{date}" "$JCOLS"
assert_eq "127.0.0.1 answered text/html; charset=utf-8 where a JSON statement was expected (an error or login page?), page 1|transient_error" \
    "$(jget '["error_message"]' <<<"$out")|$(jget '["details"]["outcome"]' <<<"$out")" "nor is it a JSON statement: transient, as for CSV"

echo "== JSON: a \\u0000 in a value is a record error, not a value cut short"
nul=$(add_connector NULS "{\"base_url\": \"$B\", \"endpoint\": \"/nuls/{date}\", \"bank_name\": \"NULS\", \"records_path\": \"data.transactions\", \"columns\": {\"bank_ref\": \"ref\", \"amount\": \"amt\", \"transaction_date\": \"d\"}}")
run_json "$nul" --date 2025-01-02
assert_eq "PARTIAL_SUCCESS|3" "$(jget '["status"]' <<<"$out")|$(jget '["records_failed"]' <<<"$out")" "three records with a NUL refused"
assert_eq 'OK\u0000|400' "$(q "SELECT bank_ref || '|' || amount_paise FROM sp_v2_bank_statements WHERE bank_name = 'NULS'")" \
    "only the clean record loaded, its escaped backslash kept as text"
assert_contains "$(q "SELECT string_agg(reason, ' | ') FROM sp_v2_connector_record_errors WHERE run_id = $(jget '["id"]' <<<"$out")")" \
    'amt holds a NUL character (\u0000)' "the reason names the field"

echo "== --type TEST: one request, rows on the first page, nothing loaded"
t=$(add_connector TESTONLY "{\"base_url\": \"$B\", \"endpoint\": \"/csv/page/{date}\", \"bank_name\": \"TESTONLY\", \"pagination\": {\"type\": \"page\", \"size_param\": \"size\", \"page_size\": 10}, $CCOLS}")
run_json "$t" --type TEST --date 2025-01-02
assert_eq SUCCESS "$(jget '["status"]' <<<"$out")" "test status"
assert_eq "200|10" "$(jget '["details"]["http_status"]' <<<"$out")|$(jget '["details"]["rows_seen"]' <<<"$out")" "status and rows seen"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'TESTONLY'")" "nothing loaded"

echo "== debits: stored as bank_sftp stores them (magnitude, CR/DR), JSON and CSV"
DDIR="$CD_TEST_TMP/debits"; mkdir -p "$DDIR"
cat >"$DDIR/d.json" <<'JSON'
[{"ref": "DJ1", "amt": "-100.00", "d": "2025-01-02", "t": "D"},
 {"ref": "DJ2", "amt": -5.50, "d": "2025-01-02"},
 {"ref": "DJ3", "amt": "7.00", "d": "2025-01-02", "t": "Dr."},
 {"ref": "DJ4", "amt": "-1.00", "d": "2025-01-02", "t": "c"},
 {"ref": "DJ5", "amt": "2.00", "d": "2025-01-02", "t": "CR"},
 {"ref": "DJ6", "amt": "-3.00", "d": "2025-01-02", "t": "DEBIT"},
 {"ref": "DJ7", "amt": "4.00", "d": "2025-01-02", "t": "d"}]
JSON
printf 'ref,paise,d,t\r\nDC1,-700,2025-01-02,\r\nDC2,300,2025-01-02,CR\r\nDC3,-900,2025-01-02,C\r\nDC4,-800,2025-01-02,dr\r\n' >"$DDIR/d.csv"
python3 -u -m http.server --bind 127.0.0.1 --directory "$DDIR" 0 >"$DDIR/srv.out" 2>&1 &
DSRV=$!
MOCK_PIDS+=($DSRV)
for i in $(seq 100); do grep -q 'port' "$DDIR/srv.out" 2>/dev/null && break; sleep 0.05; done
DPORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$DDIR/srv.out" | head -n1)
[ -n "$DPORT" ] || cd_fail "http.server did not start: $(cat "$DDIR/srv.out")"
dj=$(add_connector DEBITJ "{\"base_url\": \"http://127.0.0.1:$DPORT\", \"endpoint\": \"/d.json\", \"bank_name\": \"DEBITJ\", \"columns\": {\"bank_ref\": \"ref\", \"amount\": \"amt\", \"transaction_date\": \"d\", \"debit_credit\": \"t\"}}")
run_json "$dj" --date 2025-01-02
assert_eq "PARTIAL_SUCCESS|1" "$(jget '["status"]' <<<"$out")|$(jget '["records_failed"]' <<<"$out")" "JSON: the contradiction is the one record error"
assert_eq "DJ1=10000=DR DJ2=550=DR DJ3=700=DR DJ5=200=CR DJ6=300=DR DJ7=400=DR" \
    "$(q "SELECT string_agg(bank_ref || '=' || amount_paise || '=' || coalesce(debit_credit, '-'), ' ' ORDER BY bank_ref) FROM sp_v2_bank_statements WHERE bank_name = 'DEBITJ'")" "JSON debits"
assert_contains "$(q "SELECT string_agg(reason, ' | ') FROM sp_v2_connector_record_errors WHERE run_id = $(jget '["id"]' <<<"$out")")" \
    "debit_credit: 'c' in t says credit, the amount says debit" "the reason names the field"
dc=$(add_connector DEBITC "{\"base_url\": \"http://127.0.0.1:$DPORT\", \"endpoint\": \"/d.csv\", \"bank_name\": \"DEBITC\", \"response_format\": \"csv\", \"columns\": {\"bank_ref\": \"ref\", \"amount_paise\": \"paise\", \"transaction_date\": \"d\", \"debit_credit\": \"t\"}}")
run_json "$dc" --date 2025-01-02
assert_eq "PARTIAL_SUCCESS|1" "$(jget '["status"]' <<<"$out")|$(jget '["records_failed"]' <<<"$out")" "CSV: the contradiction is the one record error"
assert_eq "DC1=700=DR DC2=300=CR DC4=800=DR" \
    "$(q "SELECT string_agg(bank_ref || '=' || amount_paise || '=' || coalesce(debit_credit, '-'), ' ' ORDER BY bank_ref) FROM sp_v2_bank_statements WHERE bank_name = 'DEBITC'")" "CSV debits"
echo "== a 60 MB JSON page of tiny values: read as it streams, the runner's memory stays flat"
# 30 million zeros beside two records: parsed into a tree, some 90 bytes
# each, the page took the runner 2.6 GB; streamed, a few MB over its base.
python3 - "$DDIR/big.json" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write('{"pad": [' + '0,' * 25000000 + '0], "data": [{"ref": "BIG1", "amt": "1.00", "d": "2025-01-02", "x": [' + '0,' * 5000000 + '0]}, {"ref": "BIG2", "amt": 2.5, "d": "2025-01-02"}]}')
PY
big=$(add_connector BIGPAGE "{\"base_url\": \"http://127.0.0.1:$DPORT\", \"endpoint\": \"/big.json\", \"bank_name\": \"BIGPAGE\", \"records_path\": \"data\", \"columns\": {\"bank_ref\": \"ref\", \"amount\": \"amt\", \"transaction_date\": \"d\"}}")
run_json "$big" --date 2025-01-02
assert_eq "SUCCESS|BIG1=100 BIG2=250" "$(jget '["status"]' <<<"$out")|$(loaded BIGPAGE)" "the big page loads"
rss=$(jget '["details"]["runner_peak_rss_kb"]' <<<"$out")
echo "   runner peak RSS: $rss kB"
[ "$rss" -lt 102400 ] || cd_fail "the runner took $rss kB for a 60 MB page of tiny values (at most 100 MB)"
run_json "$big" --type TEST --date 2025-01-02
assert_eq "SUCCESS|2" "$(jget '["status"]' <<<"$out")|$(jget '["details"]["rows_seen"]' <<<"$out")" "a test run counts its records"
rss=$(jget '["details"]["runner_peak_rss_kb"]' <<<"$out")
[ "$rss" -lt 102400 ] || cd_fail "the test run took $rss kB for a 60 MB page of tiny values"
rm -f "$DDIR/big.json"
kill "$DSRV"; wait "$DSRV" 2>/dev/null || true # http.server ends 143 on SIGTERM

echo "OK"
