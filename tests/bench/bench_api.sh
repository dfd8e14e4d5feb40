#!/usr/bin/env bash
# bench_api.sh — the REST API under wrk: GET /connectors with 1,000
# connectors and GET /connectors/:id/history on a connector with 100,000
# runs, 32 connections. Prints requests per second and p50/p99 latency of a
# worker with the response cache (the default) and, as the reference in the
# same run, of a second worker on the same database with the cache off
# (http.cache_entries: 0). The goal on a 2-core machine is p99 under 50 ms
# for both; this prints, it does not fail (see DESIGN.md, Testing).
#
#   CD_SOURCE_DIR=. CD_BUILD_DIR=build CD_TESTPLUGINS=build/testplugins \
#       bash tests/bench/bench_api.sh [SECONDS] [cache|nocache|both]
# BENCH_API_HTTP="threads: 2" (YAML lines under http:, separated by ";")
# tries other server settings for both workers.
set -euo pipefail
: "${CD_SOURCE_DIR:?}" "${CD_BUILD_DIR:?}"
: "${CD_TESTPLUGINS:=$CD_BUILD_DIR/testplugins}"
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
source "$CD_SOURCE_DIR/tests/lib/api.sh"
command -v wrk >/dev/null || { echo "bench_api: wrk is not installed (Debian package wrk)" >&2; exit 2; }
SECS=${1:-10}
WHICH=${2:-both}
pg_tmp_start
trap 'serve_stop_all; pg_tmp_stop' EXIT
SERVE_PLUGINS="$CD_TEST_TMP/plugins"
api_plugins_dir "$SERVE_PLUGINS"
CFG="$CD_TEST_TMP/w/connectord.yaml"
extra=()
IFS=';' read -r -a lines <<<"${BENCH_API_HTTP:-}"
for l in "${lines[@]}"; do [ -n "$l" ] && extra+=("  $l"); done
serve_config "$CFG" "http:" "${extra[@]}"
CFG_NOCACHE="$CD_TEST_TMP/nocache/connectord.yaml"
serve_config "$CFG_NOCACHE" "http:" "  cache_entries: 0" "${extra[@]}"
"$CD_BUILD_DIR/bin/connectord" -c "$CFG" migrate >/dev/null

echo "loading 1,000 connectors and 100,000 runs..."
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
-- Synthetic history, not finished runs: no alert trigger per row.
SET session_replication_role = replica;
UPDATE sp_v2_connectors SET schedule_enabled = false;
INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver,
                              schedule_enabled, schedule_cron, total_runs, success_count,
                              last_run_at, last_run_status)
SELECT 'Bench ' || g, 'BANK_API', 'BANK' || (g % 50), 
       jsonb_build_object('rows', 1, 'seed', g, 'password', 'plain-' || g),
       'test_gen', false, '0 2 * * *', 10, g % 11, now() - g * interval '1 minute', 'SUCCESS'
  FROM generate_series(1, 999) g;
INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, records_processed,
                                  records_success, duration_seconds, started_at, completed_at,
                                  triggered_by, details)
SELECT 1, 'SCHEDULED', current_date - (g % 3000), CASE WHEN g % 10 = 0 THEN 'FAILED' ELSE 'SUCCESS' END,
       g % 1000, g % 1000, 1.5, now() - g * interval '1 hour', now() - g * interval '1 hour' + interval '2 seconds',
       'SCHEDULER', jsonb_build_object('inserted', g % 1000, 'outcome', 'ok')
  FROM generate_series(1, 100000) g;
VACUUM ANALYZE;
SQL

bench() { # name path
    local out
    # Steady state: the first request (a render when cached) is not timed.
    curl -s -o /dev/null "$API$2"
    out=$(wrk -t2 -c32 -d"${SECS}s" --latency "$API$2")
    local rps p50 p99 errs
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    printf '%-9s %-40s %10s req/s   p50 %-9s p99 %-9s%s\n' "$MODE" "$1" "$rps" "$p50" "$p99" \
        "${errs:+  non-2xx: $errs}"
    RESULT["$MODE|$1"]="$rps $p99"
}
declare -A RESULT
run_all() {
    bench "GET /connectors (1,000)" /connectors
    bench "GET /connectors/1/history (100,000)" /connectors/1/history
    bench "GET /connectors/1/history?offset=50000" "/connectors/1/history?offset=50000"
    bench "GET /connectors?q=bank7" "/connectors?q=bank7"
    bench "GET /connectors/500" /connectors/500
}

# One worker at a time, so that the other's threads take no CPU.
if [ "$WHICH" != cache ]; then
    serve_start w2 "$CFG_NOCACHE"
    API=$(api_url w2)
    api_wait_ready
    MODE=no-cache
    run_all
    serve_stop w2
fi
if [ "$WHICH" != nocache ]; then
    serve_start w1 "$CFG"
    API=$(api_url w1)
    api_wait_ready
    for i in $(seq 1 100); do
        [ "$(curl -s "$API/metrics" | awk '$1 == "connectord_api_cache_live" {print $2}')" = 1 ] && break
        sleep 0.1
    done
    curl -s "$API/connectors" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("list: %d connectors, %d bytes" % (len(d["connectors"]), len(json.dumps(d))))'
    MODE=cache
    run_all
    # Under changes: a connector row updated N times a second (as runs
    # finishing do); every change ends the cached list, so some requests wait
    # for a render. The connector's history is not affected by it.
    for rate in 2 10; do
        psql -X -q -o /dev/null >/dev/null 2>&1 \
            <<<"UPDATE sp_v2_connectors SET last_run_at = now() WHERE id = 2 \\watch $(python3 -c "print(1/$rate)")" &
        churn=$!
        MODE="cache+${rate}/s"
        bench "GET /connectors (1,000)" /connectors
        bench "GET /connectors/1/history (100,000)" /connectors/1/history
        kill "$churn"
        wait "$churn" 2>/dev/null || true
    done
    # The counters show the cache was used (renders: one per key, plus any
    # render a change made necessary).
    curl -s "$API/metrics" | grep '^connectord_api_cache_requests_total'
fi
# Ratios against the reference (the cache-off worker) of the same run.
if [ "$WHICH" = both ]; then
    for name in "GET /connectors (1,000)" "GET /connectors/1/history (100,000)"; do
        python3 - "$name" "${RESULT[no-cache|$name]}" "${RESULT[cache|$name]}" <<'PY'
import re, sys
def ms(s):
    v, u = re.match(r"([0-9.]+)(us|ms|s)", s).groups()
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
name, ref, new = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
print("%-40s cache/no-cache: %.1fx req/s, p99 %.1f ms -> %.1f ms (goal < 50 ms)"
      % (name, float(new[0]) / float(ref[0]), ms(ref[1]), ms(new[1])))
PY
    done
fi
