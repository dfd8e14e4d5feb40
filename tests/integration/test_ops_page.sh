#!/usr/bin/env bash
# The ops page in headless Chromium (tests/browser/ops.test.mjs, driven by
# playwright-core) against a real `connectord serve` on a throw-away
# PostgreSQL, with the mock SabPaisa API and the test_gen driver as
# sources. Screenshots of each step go to $CD_BUILD_DIR/screenshots/ops/.
#
# OPS_PAGE_HOLD=1 keeps everything running after the browser test (or
# instead of it with OPS_PAGE_HOLD=only) and prints the page's URL: a
# development server with realistic data.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || cd_fail "no $CHROMIUM: install Debian's chromium (packaging/dev/deps.sh)"
command -v node >/dev/null || cd_fail "no node: install nodejs (packaging/dev/deps.sh)"
BROWSER_DIR="$CD_SOURCE_DIR/tests/browser"
if [ ! -d "$BROWSER_DIR/node_modules/playwright-core" ]; then
    echo "== npm ci in tests/browser (playwright-core, pinned by package-lock.json)"
    (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund --loglevel=error) || cd_fail "npm ci failed"
fi
[ -f "$CD_BUILD_DIR/share/connectord/web/index.html" ] || cd_fail "the ops page is not built into $CD_BUILD_DIR/share/connectord/web"

pg_tmp_start
MOCK_PIDS=()
cleanup() {
    serve_stop_all
    local p
    for p in "${MOCK_PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    pg_tmp_stop
}
trap cleanup EXIT

# The mock SabPaisa report API on an ephemeral loopback port.
out="$CD_TEST_TMP/mock_sabpaisa.port"
"$CD_BUILD_DIR/tests/mock_sabpaisa" --count 4 >"$out" 2>"$out.err" &
MOCK_PIDS+=($!)
for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.05; done
SABPAISA_PORT=$(head -n1 "$out")
[ -n "$SABPAISA_PORT" ] || cd_fail "mock_sabpaisa did not start: $(cat "$out.err")"

# Drivers: the four built-in ones and test_gen (BANK_API, controllable).
PLUGINS="$CD_TEST_TMP/plugins"
mkdir -p "$PLUGINS"
cp "$CD_BUILD_DIR"/lib/connectord/plugins/*.so "$CD_TESTPLUGINS/test_gen.so" "$PLUGINS/"
chmod 755 "$PLUGINS"/*.so

# A source table for the PG_DATABASE connector, in the test's own cluster.
q "CREATE TABLE ops_src (id serial, ref text, amount text, day date)" >/dev/null
q "INSERT INTO ops_src (ref, amount, day) SELECT 'OPS' || g, (g * 10)::text || '.50', current_date - 1 FROM generate_series(1, 5) g" >/dev/null

# Tokens: the page must ask for one (viewer would not be enough to create).
TOKEN="ops-admin-$RANDOM$RANDOM"
CFG="$CD_TEST_TMP/w/connectord.yaml"
# The page from a copy of the built one, with what must never be served
# beside it: a hidden file, and symbolic links out of the web root.
WEB="$CD_TEST_TMP/web"
cp -r "$CD_BUILD_DIR/share/connectord/web" "$WEB"
echo "hidden-$RANDOM" >"$WEB/js/.secret"
echo "outside-$RANDOM" >"$CD_TEST_TMP/outside.txt"
ln -s "$CD_TEST_TMP/outside.txt" "$WEB/js/out.js"
ln -s "$CD_TEST_TMP" "$WEB/tmpdir"
SERVE_PLUGINS="$PLUGINS" serve_config "$CFG" \
    "auth:" "  tokens:" "    - token: \"$TOKEN\"" "      role: admin" "    - token: \"viewer-$TOKEN\"" "      role: viewer" \
    "backfill:" "  max_days: 31" "templates:" "  dir: \"$CD_SOURCE_DIR/conf.d/templates\"" \
    "http:" "  web_dir: \"$WEB\""
"$CD_BUILD_DIR/bin/connectord" -c "$CFG" migrate >/dev/null
# The documented default connector points at the real SabPaisa: pause it,
# so nothing here ever leaves loopback.
q "UPDATE sp_v2_connectors SET status = 'PAUSED', schedule_enabled = false" >/dev/null
serve_start ops "$CFG"
OPS_URL="http://127.0.0.1:${SERVE_PORT[ops]}"
for _ in $(seq 100); do curl -s -o /dev/null "$OPS_URL/healthz" && break; sleep 0.1; done

echo "== static files: only plain files under the web root, with the security headers"
hdrs=$(curl -s -D - -o /dev/null "$OPS_URL/ops/js/main.js")
for h in "Content-Type: text/javascript" "Content-Security-Policy: default-src 'self'" "frame-ancestors 'none'" \
         "X-Frame-Options: DENY" "X-Content-Type-Options: nosniff"; do
    assert_contains "$hdrs" "$h" "header of a static file"
done
assert_contains "$(curl -s -D - -o /dev/null "$OPS_URL/ops/connectors")" "Content-Type: text/html" "the page's address serves index.html"
for p in "/ops/../../../etc/passwd" "/ops/%2e%2e/%2e%2e/%2e%2e/etc/passwd" "/ops/js/%2e%2e/%2e%2e/%2e%2e/etc/passwd" \
         "/ops/js%2f..%2f..%2f..%2fetc%2fpasswd" "/ops/..%5c..%5cetc%5cpasswd" "/ops/js/.secret" "/ops/js/%2esecret" \
         "/ops/js/out.js" "/ops/tmpdir/outside.txt" "/ops/index.html%00.png" "/ops/js/main.js%00" "/ops/%00"; do
    code=$(curl -s --path-as-is -o "$CD_TEST_TMP/static.body" -w '%{http_code}' "$OPS_URL$p")
    case "$code" in 400|404) ;; *) cd_fail "GET $p: HTTP $code, expected 400 or 404" ;; esac
    body=$(cat "$CD_TEST_TMP/static.body")
    assert_not_contains "$body" "root:" "GET $p"
    assert_not_contains "$body" "hidden-" "GET $p"
    assert_not_contains "$body" "outside-" "GET $p"
    assert_contains "$body" '"success":false' "GET $p answers the API's JSON error"
done

SHOTS="$CD_BUILD_DIR/screenshots/ops"
rm -rf "$SHOTS"
mkdir -p "$SHOTS"
export OPS_URL OPS_TOKEN="$TOKEN" OPS_SHOTS="$SHOTS" CHROMIUM
export OPS_SABPAISA_URL="http://127.0.0.1:$SABPAISA_PORT/report"
# The secret typed into the PG_DATABASE form: a password in the conninfo
# (trust authentication ignores it; the test checks it never comes back).
export OPS_PG_CONNINFO="$CD_DATABASE_URL&password=Pg-Secret-$RANDOM$RANDOM"

if [ "${OPS_PAGE_HOLD:-}" != only ]; then
    echo "== browser test: $OPS_URL/ops/connectors"
    node "$BROWSER_DIR/ops.test.mjs" || {
        echo "--- last lines of the worker's log" >&2
        tail -n 40 "$CD_TEST_TMP/serve-ops.log" >&2
        cd_fail "browser test failed (screenshots in $SHOTS)"
    }
    # The worker's log must not carry the secrets either.
    assert_not_contains "$(cat "$CD_TEST_TMP/serve-ops.log")" "${OPS_PG_CONNINFO##*password=}" "secret in the worker log"
    echo "screenshots: $SHOTS"
fi
if [ -n "${OPS_PAGE_HOLD:-}" ]; then
    echo "ops page: $OPS_URL/ops/connectors  token: $TOKEN  (Ctrl-C to stop)"
    while kill -0 "${SERVE_PID[ops]}" 2>/dev/null; do sleep 1; done
fi
echo "ok"
