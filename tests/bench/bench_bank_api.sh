#!/usr/bin/env bash
# bench_bank_api.sh — bank_api's JSON pages: `connectord run` of one page of
# tiny values ({"pad": [0,0,...], "data": [two records]}) at growing page
# sizes, served by python's http.server, against the reference `curl`
# fetching the same page to /dev/null. Prints, per page size, the run's
# time, the ratio to curl and the runner's peak RSS: the page is parsed as
# it streams in, so the RSS stays flat however many values a page holds
# (read into a tree, it took some 90 bytes per value: 2.6 GB at 60 MB).
# A benchmark, not a test: it never fails on a slow machine.
#
#   CD_SOURCE_DIR=. CD_BUILD_DIR=build bash tests/bench/bench_bank_api.sh [MB...]
#   (default: 4 16 60)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CD_SOURCE_DIR=${CD_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
CD_BUILD_DIR=${CD_BUILD_DIR:-$CD_SOURCE_DIR/build}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(4 16 60)
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
pg_tmp_start
CD="$CD_BUILD_DIR/bin/connectord"
CFG="$CD_TEST_TMP/connectord.yaml"
cd_write_config "$CFG"
"$CD" -c "$CFG" migrate >/dev/null 2>&1

DIR="$CD_TEST_TMP/pages"; mkdir -p "$DIR"
python3 -u -m http.server --bind 127.0.0.1 --directory "$DIR" 0 >"$DIR/srv.out" 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null; pg_tmp_stop' EXIT
for _ in $(seq 100); do grep -q 'port' "$DIR/srv.out" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$DIR/srv.out" | head -n1)
[ -n "$PORT" ] || cd_fail "http.server did not start"
now() { date +%s.%N; }

echo "bank_api bench: one JSON page of tiny values, parsed as it streams"
printf '  %8s %12s %9s %9s %7s %14s\n' "page MB" "values" "run s" "curl s" "ratio" "peak RSS MB"
for mb in "${SIZES[@]}"; do
    python3 - "$DIR/p$mb.json" "$mb" <<'PY'
import sys
n = int(sys.argv[2]) * 1000 * 1000 // 2
with open(sys.argv[1], "w") as f:
    f.write('{"pad": [' + '0,' * n + '0], "data": [{"ref": "B1", "amt": "1.00", "d": "2025-01-02"}, {"ref": "B2", "amt": 2.5, "d": "2025-01-02"}]}')
PY
    id=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config)
            VALUES ('bench$mb', 'BANK_API', 'BENCH', '{\"base_url\": \"http://127.0.0.1:$PORT\", \"endpoint\": \"/p$mb.json\", \"bank_name\": \"BENCH$mb\", \"records_path\": \"data\", \"columns\": {\"bank_ref\": \"ref\", \"amount\": \"amt\", \"transaction_date\": \"d\"}}') RETURNING id")
    t0=$(now)
    "$CD" -c "$CFG" run "$id" --date 2025-01-02 --timeout 3600 >"$CD_TEST_TMP/run.json" 2>/dev/null || true
    t1=$(now)
    curl -sS -o /dev/null "http://127.0.0.1:$PORT/p$mb.json"
    t2=$(now)
    python3 - "$CD_TEST_TMP/run.json" "$mb" "$t0" "$t1" "$t2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
mb = int(sys.argv[2]); t0, t1, t2 = map(float, sys.argv[3:6])
run, curl = t1 - t0, t2 - t1
rss = d["details"].get("runner_peak_rss_kb", 0) / 1024
print(f"  {mb:8d} {mb * 500000:12,d} {run:9.2f} {curl:9.2f} {run / curl:7.1f} {rss:14.1f}"
      + ("" if d["status"] == "SUCCESS" else f"  ({d['status']}: {d.get('error_message')})"))
PY
    rm -f "$DIR/p$mb.json"
done
