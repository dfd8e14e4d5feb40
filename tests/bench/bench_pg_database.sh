#!/bin/bash
# bench_pg_database.sh — pg_database end to end (`connectord run` copying N
# rows of a source database into an empty, indexed sp_v2_transactions)
# against the reference pipe
#   psql -c "COPY (SELECT ...) TO STDOUT" | psql -c "\copy ... FROM STDIN"
# Prints times, the ratio and the runner's peak RSS; never fails on a slow
# machine (goal: ratio <= 1.5, peak RSS < 64 MB).
#
#   bash tests/bench/bench_pg_database.sh [N]   (default 1000000)
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

psql -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE src"
psql -X -q -v ON_ERROR_STOP=1 -d src -c "CREATE TABLE src_txn AS
  SELECT 'PGT' || lpad(i::text, 8, '0') AS txn_ref, 'M' || (i % 97) AS merchant,
         round((i * 13 % 100000) / 100.0, 2) AS amount, date '2025-01-02' AS txn_day,
         timestamptz '2025-01-02 00:00:00+05:30' + (i % 86400) * interval '1 s' AS txn_at,
         'UTR' || i AS utr, 'SUCCESS' AS status
    FROM generate_series(1, $N) i" -c "VACUUM ANALYZE src_txn"
SELECT_SQL="SELECT txn_ref, merchant, amount, txn_day, txn_at, utr, status FROM src_txn WHERE txn_day BETWEEN \$1 AND \$2"
id=$(q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config)
        VALUES ('bench', 'PG_DATABASE', 'SRCDB', '{\"conninfo\": \"host=$PGHOST dbname=src user=$PGUSER\", \"dataset\": \"pg_transaction\",
                \"query\": \"$SELECT_SQL\",
                \"column_map\": {\"transaction_id\": \"txn_ref\", \"merchant_id\": \"merchant\", \"amount\": \"amount\", \"transaction_date\": \"txn_day\", \"transaction_timestamp\": \"txn_at\", \"utr\": \"utr\", \"status\": \"status\"}}') RETURNING id")
now() { date +%s.%N; }

q "CHECKPOINT" >/dev/null
t0=$(now)
"$CD" -c "$CFG" run "$id" --date 2025-01-02 --timeout 3600 >"$CD_TEST_TMP/run.json" 2>/dev/null
t1=$(now)
read -r status inserted rss <<<"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["status"], d["details"].get("inserted"), d["details"]["runner_peak_rss_kb"])' "$CD_TEST_TMP/run.json")"

q "TRUNCATE sp_v2_transactions" >/dev/null
q "CHECKPOINT" >/dev/null
t2=$(now)
psql -X -q -v ON_ERROR_STOP=1 -d src \
    -c "COPY (SELECT txn_ref, merchant, (amount * 100)::bigint, txn_day, txn_at, utr, status, 'CONNECTOR' FROM src_txn WHERE txn_day BETWEEN '2025-01-02' AND '2025-01-02') TO STDOUT" |
    psql -X -q -v ON_ERROR_STOP=1 \
        -c "\\copy sp_v2_transactions(transaction_id, merchant_id, amount_paise, transaction_date, transaction_timestamp, utr, status, source_type) FROM STDIN"
t3=$(now)
copied=$(q "SELECT count(*) FROM sp_v2_transactions")

python3 - "$N" "$status" "$inserted" "$rss" "$copied" "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
n, status, inserted, rss, copied = sys.argv[1:6]
t0, t1, t2, t3 = map(float, sys.argv[6:10])
drv, ref = t1 - t0, t3 - t2
print(f"pg_database bench: {n} rows, run {status}, inserted {inserted}; reference copied {copied}")
print(f"  connectord run (query + map + load): {drv:8.2f} s  ({int(n)/drv:,.0f} rows/s)")
print(f"  reference psql COPY TO STDOUT | psql \\copy FROM STDIN: {ref:8.2f} s")
print(f"  ratio run/reference: {drv/ref:.2f}  (goal <= 1.5)")
print(f"  runner peak RSS: {int(rss)/1024:.1f} MB  (goal < 64 MB)")
PY
