#!/usr/bin/env bash
# A bank file that arrives late, under `connectord serve`: the first attempt
# finds no file (transient), the connector's run policy (auto_retry,
# retry_count in its connection_config, which bank_sftp's schema takes from
# the service) retries it, and the retry loads the file that has come
# meanwhile. A connector without auto_retry stays at one failed attempt.
# A real OpenSSH sshd on a loopback port and a real PostgreSQL.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
source "$CD_SOURCE_DIR/plugins/bank_sftp/tests/sshd.sh"
pg_tmp_start
SSH_TMP=$(mktemp -d /tmp/cd-sshd.XXXXXX)
cleanup() {
    serve_stop_all
    sshd_tmp_stop
    rm -rf "$SSH_TMP"
    pg_tmp_stop
}
trap cleanup EXIT
sshd_tmp_start "$SSH_TMP"
UP="$SSHD_ROOT/upload"
REMOTE="${SSHD_REMOTE_BASE}/upload"

SERVE_PLUGINS="$CD_TEST_TMP/plugins"
mkdir -p "$SERVE_PLUGINS"
cp "$CD_BUILD_DIR/lib/connectord/plugins/bank_sftp.so" "$SERVE_PLUGINS/"
CFG="$CD_TEST_TMP/w/connectord.yaml"
serve_config "$CFG" "workers:" "  max_concurrent_runs: 2"
# No templates.dir: the templates are found beside the configuration file,
# as packaged (/etc/connectord/conf.d/templates), by the worker and by its
# runners, which read a snapshot of the configuration from elsewhere.
cp -r "$CD_SOURCE_DIR/conf.d/templates" "$(dirname "$CFG")/conf.d/templates"
printf 'runner:\n  work_dir: "%s/work"\n' "$CD_TEST_TMP" >>"$(dirname "$CFG")/conf.d/60-work.yaml"
"$CD_BUILD_DIR/bin/connectord" -c "$CFG" migrate >/dev/null

add() { # NAME POLICY_JSON_FIELDS -> connector id
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled)
       VALUES ('$1', 'BANK_SFTP', 'AXIS BANK', '{\"host\": \"127.0.0.1\", \"port\": $SSHD_PORT,
       \"username\": \"$SSHD_KEY_USER\", \"auth_type\": \"private_key\",
       \"private_key\": {\"secret\": \"file:$SSHD_KEY\"}, \"host_key_sha256\": \"$SSHD_FINGERPRINT\",
       \"remote_path\": \"$REMOTE\", \"file_pattern\": \"$1_{YYYYMMDD}.csv\", \"min_file_age_seconds\": 0,
       \"size_stable_seconds\": 0, \"template\": \"AXIS RECON\" $2}'::jsonb, 'bank_sftp', false) RETURNING id"
}
queue() { # CONNECTOR -> run id
    q "WITH r AS (INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, max_attempts)
         SELECT id, 'MANUAL', '2025-10-02', 'QUEUED', connectord_max_attempts(connection_config, 'MANUAL')
         FROM sp_v2_connectors WHERE id = $1 RETURNING id)
       SELECT id FROM r, pg_notify('connectord_queue', r.id::text)"
}
axis_file() { # FILE PREFIX
    printf 'TXNID,CREDIT_AMT,NET_CR_AMT,VALUE_DATE,UTR,RRN,AUTH,POST_DATE,BANK,STATUS,REMARKS\n' >"$1"
    for i in 1 2 3; do
        printf '%s%03d,10%d.50,100.00,02-10-2025,U%d,R%d,A,02-10-2025,AXIS,SUCCESS,late\n' "$2" "$i" "$i" "$i" "$i" >>"$1"
    done
    touch -d '-10 minutes' "$1"
}

late=$(add LATE ', "auto_retry": true, "retry_count": 4')
once=$(add ONCE '')
assert_eq "5|1" "$(q "SELECT string_agg(connectord_max_attempts(connection_config, 'MANUAL')::text, '|' ORDER BY id) FROM sp_v2_connectors WHERE id IN ($late, $once)")" "attempts from the run policy"
serve_start w1 "$CFG"

echo "== the file is not there yet: attempt 1 fails (transient) and is retried"
run=$(queue "$late")
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_run_attempts WHERE run_id = $run AND attempt = 1 AND status = 'FAILED'" 30 "first attempt failed"
assert_contains "$(q "SELECT error_message FROM sp_v2_connector_run_attempts WHERE run_id = $run AND attempt = 1")" \
    "no file matching LATE_20251002.csv in $REMOTE" "why the first attempt failed"
echo "== the bank delivers: a later attempt loads it"
axis_file "$UP/LATE_20251002.csv" LT
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $run" 40 "the late file loaded by a retry"
assert_eq 3 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_ref LIKE 'LT%'")" "its rows"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_connector_files WHERE connector_id = $late AND status = 'LOADED'")" "ledger"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE connector_id = $late")" "one run, several attempts"
[ "$(q "SELECT attempt FROM sp_v2_connector_runs WHERE id = $run")" -ge 2 ] || cd_fail "loaded by the first attempt?"

echo "== without auto_retry: one attempt, FAILED"
run=$(queue "$once")
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $run" 30 "no retry"
assert_eq "1|1" "$(q "SELECT attempt || '|' || max_attempts FROM sp_v2_connector_runs WHERE id = $run")" "a single attempt"
echo ok
