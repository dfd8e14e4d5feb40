#!/usr/bin/env bash
# bench_bank_sftp.sh — the bank_sftp driver end to end against its
# references, in one process tree: a throw-away PostgreSQL and a loopback
# OpenSSH sshd.
#
#   CD_SOURCE_DIR=. CD_BUILD_DIR=build bash tests/bench/bench_bank_sftp.sh
#   (BENCH_ROWS=1000000 BENCH_SMALL_ROWS=100000 BENCH_XLSX_ROWS=200000
#    BENCH_ROUNDS=5)
#
# Prints: connectord's end-to-end time for an AXIS RECON CSV of BENCH_ROWS
# rows, OpenSSH `sftp` downloading the same file, `psql \copy` of the same
# rows into a table shaped and indexed like sp_v2_bank_statements, and the
# ratios; the runner's peak RSS for BENCH_SMALL_ROWS vs BENCH_ROWS (flat
# memory means they are close); and an XLSX of BENCH_XLSX_ROWS rows
# against the same rows as CSV. A benchmark, not a test: it never fails on
# a slow machine.
#
# The reference \copy loads the very rows connectord loaded (every column
# it fills: source file, batch, run id), exported from the target after
# connectord's first round, so both write the same bytes to the same
# indexes. The load, the download and the \copy are measured BENCH_ROUNDS
# times, interleaved (a shared machine's speed drifts by tens of percent
# from one minute to the next), each load into an empty table after a
# CHECKPOINT, and each step after a sync (the cluster runs with fsync off,
# so the kernel would otherwise write one step's dirty pages back in the
# middle of the next); the best time of each counts. Autovacuum is off: a vacuum of
# the previous round's million rows would otherwise land on whichever load
# happens to run next.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/plugins/bank_sftp/tests/sshd.sh"
ROWS=${BENCH_ROWS:-1000000}
ROUNDS=${BENCH_ROUNDS:-5}
SMALL=${BENCH_SMALL_ROWS:-100000}
XROWS=${BENCH_XLSX_ROWS:-200000}
pg_tmp_start autovacuum=off
SSH_TMP=$(mktemp -d /tmp/cd-sshd.XXXXXX)
trap 'sshd_tmp_stop; rm -rf "$SSH_TMP"; pg_tmp_stop' EXIT
sshd_tmp_start "$SSH_TMP"
UP="$SSHD_ROOT/upload"
REMOTE="${SSHD_REMOTE_BASE}/upload"
CD="$CD_BUILD_DIR/bin/connectord"
CFG="$CD_TEST_TMP/connectord.yaml"
cd_write_config "$CFG"
printf 'runner:\n  work_dir: "%s/work"\n  timeout_seconds: 3600\ntemplates:\n  dir: "%s/conf.d/templates"\n' \
    "$CD_TEST_TMP" "$CD_SOURCE_DIR" >>"$CFG"
"$CD" -c "$CFG" migrate >/dev/null

now() { date +%s.%N; }
secs() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
ratio() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }
best() { python3 -c 'import sys; print("%.2f" % min(float(a) for a in sys.argv[1:]))' "$@"; }

# gen N PREFIX FILE: an AXIS RECON CSV of N rows
gen() {
    awk -v n="$1" -v p="$2" 'BEGIN {
        print "TXNID,CREDIT_AMT,NET_CR_AMT,VALUE_DATE,UTR,RRN,AUTH,POST_DATE,BANK,STATUS,REMARKS"
        for (i = 0; i < n; i++) {
            a = (i * 7919) % 10000000 + 100; r = sprintf("%s%010d", p, i)
            printf "%s,\"%d.%02d\",%d.%02d,02-10-2025,UTR%012d,RRN%012d,AUTH%d,02-10-2025,AXIS,SUCCESS,settlement batch %d\n", r, a / 100, a % 100, (a - 10) / 100, (a - 10) % 100, i, i, i % 1000, i % 97
        }
    }' >"$3"
}
add() { # NAME PATTERN [FORMAT_JSON]
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver)
       VALUES ('$1', 'BANK_SFTP', 'AXIS BANK', '{\"host\": \"127.0.0.1\", \"port\": $SSHD_PORT,
       \"username\": \"$SSHD_KEY_USER\", \"auth_type\": \"private_key\",
       \"private_key\": {\"secret\": \"file:$SSHD_KEY\"}, \"host_key_sha256\": \"$SSHD_FINGERPRINT\",
       \"remote_path\": \"$REMOTE\", \"file_pattern\": \"$2\", \"min_file_age_seconds\": 0,
       \"size_stable_seconds\": 0, \"template\": \"${4:-AXIS RECON}\" ${3:+, \"format\": $3}}'::jsonb,
       'bank_sftp') RETURNING id"
}
run() { # ID -> sets T (seconds), RSS (kB), STATUS
    local t0 t1 out
    t0=$(now)
    out=$("$CD" -c "$CFG" run "$1" --date 2025-10-02 2>/dev/null || true)
    t1=$(now)
    T=$(secs "$t0" "$t1")
    RSS=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["details"]["runner_peak_rss_kb"])' <<<"$out")
    STATUS=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], d["records_success"])' <<<"$out")
}

echo "generating $SMALL and $ROWS rows..."
gen "$SMALL" S "$UP/SMALL_20251002.csv"
gen "$ROWS" B "$UP/BIG_20251002.csv"
touch -d '-10 minutes' "$UP"/*.csv
size=$(stat -c %s "$UP/BIG_20251002.csv")

small=$(add small 'SMALL_{YYYYMMDD}.csv')
run "$small"; t_small=$T; rss_small=$RSS; st_small=$STATUS
big=$(add big 'BIG_{YYYYMMDD}.csv')

printf 'get %s/BIG_20251002.csv %s/dl.csv\n' "$REMOTE" "$CD_TEST_TMP" >"$CD_TEST_TMP/batch"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSH_TMP/host_key.pub")" >"$CD_TEST_TMP/known_hosts"
# every column connectord fills in sp_v2_bank_statements
COPY_COLS="loaded_by_run_id, bank_ref, bank_name, amount_paise, net_amount_paise, transaction_date,
    value_date, utr, rrn, remarks, debit_credit, source_type, source_file, batch_id"
COPY_COLS=$(echo $COPY_COLS)
t_bigs=() t_sftps=() t_copys=()
for round in $(seq 1 "$ROUNDS"); do
    # connectord: the same file into an empty target, as new (ledger cleared)
    q "TRUNCATE sp_v2_bank_statements, sp_v2_connector_files" >/dev/null
    q "CHECKPOINT" >/dev/null
    sync
    run "$big"; t_bigs+=("$T"); rss_big=$RSS; st_big=$STATUS
    if [ "$round" = 1 ]; then
        q "COPY (SELECT $COPY_COLS FROM sp_v2_bank_statements ORDER BY id) TO STDOUT" >"$CD_TEST_TMP/big.copy"
        [ "$(wc -l <"$CD_TEST_TMP/big.copy")" = "$ROWS" ] || { echo "bench: the export holds $(wc -l <"$CD_TEST_TMP/big.copy") rows, not $ROWS" >&2; exit 1; }
    fi
    # OpenSSH sftp downloading the same file
    rm -f "$CD_TEST_TMP/dl.csv"
    sync
    t0=$(now)
    sftp -q -b "$CD_TEST_TMP/batch" -i "$SSHD_KEY" -P "$SSHD_PORT" -o UserKnownHostsFile="$CD_TEST_TMP/known_hosts" \
        "$SSHD_KEY_USER@127.0.0.1" >/dev/null
    t_sftps+=("$(secs "$t0" "$(now)")")
    # psql \copy of the same rows into a fresh table shaped and indexed like the target
    q "SET client_min_messages = warning; DROP TABLE IF EXISTS bench_copy;
       CREATE TABLE bench_copy (LIKE sp_v2_bank_statements INCLUDING DEFAULTS INCLUDING INDEXES)" >/dev/null
    q "CHECKPOINT" >/dev/null
    sync
    t0=$(now)
    psql -X -q -v ON_ERROR_STOP=1 -c "\\copy bench_copy ($COPY_COLS) FROM '$CD_TEST_TMP/big.copy'"
    t_copys+=("$(secs "$t0" "$(now)")")
    echo "round $round: connectord ${t_bigs[-1]} s ($st_big), sftp ${t_sftps[-1]} s, \\copy ${t_copys[-1]} s"
done
t_big=$(best "${t_bigs[@]}") t_sftp=$(best "${t_sftps[@]}") t_copy=$(best "${t_copys[@]}")

echo
echo "AXIS RECON CSV, $ROWS rows, $((size / 1048576)) MiB (best of $ROUNDS)"
printf '  connectord end to end   %8s s   (%s)\n' "$t_big" "$st_big"
printf '  sftp download           %8s s\n' "$t_sftp"
printf '  psql \\copy              %8s s\n' "$t_copy"
printf '  end to end / (download + \\copy)   %s   (goal <= 1.00)\n' "$(ratio "$t_big" "$(python3 -c "print($t_sftp + $t_copy)")")"
# The same ratio within each round (its three steps ran seconds apart, so
# the machine's drift between rounds cancels), median over the rounds.
paired=$(python3 -c 'import statistics, sys
b, s, c = (list(map(float, a.split())) for a in sys.argv[1:])
print("%.2f" % statistics.median(x / (y + z) for x, y, z in zip(b, s, c)))' "${t_bigs[*]}" "${t_sftps[*]}" "${t_copys[*]}")
printf '  the same, median of the %s rounds'"'"' own ratios   %s\n' "$ROUNDS" "$paired"
printf '  runner peak RSS: %s kB for %s rows, %s kB for %s rows   (goal < 65536 kB)\n' "$rss_small" "$SMALL" "$rss_big" "$ROWS"
printf '  %s rows: %s s (%s)\n' "$SMALL" "$t_small" "$st_small"

# XLSX vs the same rows as CSV
FIX="$CD_BUILD_DIR/tests/bank_sftp_fixture"
"$FIX" "$UP/HX_20251002.xlsx" --gen "$XROWS"
awk -v n="$XROWS" 'BEGIN { print "MERCHANT_TRACKID,DOMESTIC AMT,Net Amount,TRANS DATE,SETTLE DATE";
    for (i = 0; i < n; i++) { a = (i * 7919) % 1000000 + 100;
        printf "HC%010d,%d.%02d,%d.%02d,02-10-2025,02-10-2025\n", i, a / 100, a % 100, (a - 50) / 100, (a - 50) % 100 } }' >"$UP/HC_20251002.csv"
touch -d '-10 minutes' "$UP"/HX_* "$UP"/HC_*
hx=$(add hx 'HX_{YYYYMMDD}.xlsx' '' 'HDFC BANK')
hc=$(add hc 'HC_{YYYYMMDD}.csv' '{"type": "csv", "delimiter": ","}' 'HDFC BANK')
run "$hx"; t_x=$T; st_x=$STATUS; rss_x=$RSS
run "$hc"; t_c=$T; st_c=$STATUS
echo
echo "HDFC BANK, $XROWS rows"
printf '  XLSX %8s s (%s, peak RSS %s kB)\n' "$t_x" "$st_x" "$rss_x"
printf '  CSV  %8s s (%s)\n' "$t_c" "$st_c"
printf '  XLSX / CSV   %s   (goal <= 3.00)\n' "$(ratio "$t_x" "$t_c")"
