#!/bin/bash
# bench_pg_api.sh — pg_api end to end (`connectord run` streaming N
# transactions from the mock SabPaisa API into an empty, indexed
# sp_v2_transactions) against the reference: `curl` fetching the same body
# to /dev/null plus `psql \copy` of the same rows into the empty table.
# Prints times, the ratio and the runner's peak RSS; never fails on a slow
# machine (goal: ratio <= 1.5, peak RSS < 64 MB).
#
#   bash tests/bench/bench_pg_api.sh [N]        (default 1000000)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CD_SOURCE_DIR=${CD_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
CD_BUILD_DIR=${CD_BUILD_DIR:-$CD_SOURCE_DIR/build}
N=${1:-1000000}
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
pg_tmp_start
CD="$CD_BUILD_DIR/bin/connectord"
CFG="$CD_TEST_TMP/connectord.yaml"
cd_write_config "$CFG"
"$CD" -c "$CFG" migrate >/dev/null 2>&1

"$CD_BUILD_DIR/tests/mock_sabpaisa" --count "$N" >"$CD_TEST_TMP/port" &
MOCK=$!
trap 'kill $MOCK 2>/dev/null; wait $MOCK 2>/dev/null; pg_tmp_stop' EXIT
for _ in $(seq 100); do [ -s "$CD_TEST_TMP/port" ] && break; sleep 0.05; done
PORT=$(cat "$CD_TEST_TMP/port")
URL="http://127.0.0.1:$PORT/2025-01-02/2025-01-02/BENCH"
id=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config)
        VALUES ('bench', 'PG_API', 'SABPAISA', '{\"api_base_url\": \"http://127.0.0.1:$PORT\", \"merchant_codes\": [\"BENCH\"]}') RETURNING id")
now() { date +%s.%N; }

q "CHECKPOINT" >/dev/null
t0=$(now)
"$CD" -c "$CFG" run "$id" --date 2025-01-02 --timeout 3600 >"$CD_TEST_TMP/run.json" 2>/dev/null
t1=$(now)
read -r status inserted rss <<<"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["status"], d["details"].get("inserted"), d["details"]["runner_peak_rss_kb"])' "$CD_TEST_TMP/run.json")"

# The reference: the same body over HTTP to /dev/null ...
t2=$(now)
curl -sS -o /dev/null "$URL"
t3=$(now)
# ... and the same rows (as the driver loaded them) by \copy into the empty table.
cols="transaction_id, merchant_id, amount_paise, transaction_date, transaction_timestamp, source_type, source_name, payment_method, gateway_ref, utr, rrn, status, settlement_amount_paise, merchant_name"
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy (SELECT $cols FROM sp_v2_transactions) TO '$CD_TEST_TMP/rows.csv' CSV"
q "TRUNCATE sp_v2_transactions" >/dev/null
q "CHECKPOINT" >/dev/null
t4=$(now)
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy sp_v2_transactions($cols) FROM '$CD_TEST_TMP/rows.csv' CSV"
t5=$(now)

python3 - "$N" "$status" "$inserted" "$rss" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" <<'PY'
import sys
n, status, inserted, rss = sys.argv[1:5]
t0, t1, t2, t3, t4, t5 = map(float, sys.argv[5:11])
drv, curl, copy = t1 - t0, t3 - t2, t5 - t4
ref = curl + copy
print(f"pg_api bench: {n} transactions, run {status}, inserted {inserted}")
print(f"  connectord run (HTTP + parse + map + load): {drv:8.2f} s  ({int(n)/drv:,.0f} rows/s)")
print(f"  reference: curl {curl:.2f} s + psql \\copy {copy:.2f} s = {ref:8.2f} s")
print(f"  ratio run/reference: {drv/ref:.2f}  (goal <= 1.5)")
print(f"  runner peak RSS: {int(rss)/1024:.1f} MB  (goal < 64 MB)")
PY
