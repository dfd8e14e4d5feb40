#!/usr/bin/env bash
# How `connectord serve` starts runners: forked by its runner zygote, each
# in its own process group, each dying with the worker; a crash, a hang
# and a lost zygote each end as a run error with the right reason, and the
# worker goes on running runs (with a new zygote) afterwards.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
pg_tmp_start
trap 'serve_stop_all; pg_tmp_stop' EXIT
CD="$CD_BUILD_DIR/bin/connectord"
SERVE_PLUGINS="$CD_TEST_TMP/plugins"
mkdir -p "$SERVE_PLUGINS"
cp "$CD_TESTPLUGINS"/test_gen.so "$CD_TESTPLUGINS"/crasher.so "$CD_TESTPLUGINS"/hanger.so "$CD_TESTPLUGINS"/leaver.so \
    "$CD_TESTPLUGINS"/abi_misuse.so "$SERVE_PLUGINS/"
CFG="$CD_TEST_TMP/w/connectord.yaml"
serve_config "$CFG" "plugins:" "  dir: $SERVE_PLUGINS" "runner:" "  kill_grace_seconds: 1"
"$CD" -c "$CFG" migrate >/dev/null
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null

add() { # name driver config-json [timeout]
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled)
       VALUES ('$1', 'BANK_API', '$1', '$3'::jsonb, '$2', false) RETURNING id"
}
queue() { # connector [timeout_seconds] -> run id
    q "WITH r AS (INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, max_attempts, timeout_seconds)
         SELECT id, 'MANUAL', '2025-10-02', 'QUEUED', connectord_max_attempts(connection_config, 'MANUAL'), ${2:-NULL}
         FROM sp_v2_connectors WHERE id = $1 RETURNING id)
       SELECT id FROM r, pg_notify('connectord_queue', r.id::text)"
}
ppid_of() { awk '/^PPid:/ {print $2}' "/proc/$1/status"; }

# The worker talks to a stand-in for systemd's notify socket: how often it
# pets the watchdog is counted.
python3 - "$CD_TEST_TMP/notify.sock" "$CD_TEST_TMP/watchdog.count" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
n = 0
while True:
    if b"WATCHDOG=1" in s.recv(4096).split(b"\n"):
        n += 1
        with open(sys.argv[2] + ".new", "w") as f:
            f.write(str(n))
        os.replace(sys.argv[2] + ".new", sys.argv[2])
PY
notify_pid=$!
trap 'kill "$notify_pid" 2>/dev/null; serve_stop_all; pg_tmp_stop' EXIT
watchdogs() { cat "$CD_TEST_TMP/watchdog.count" 2>/dev/null || echo 0; }
for i in $(seq 1 50); do [ -S "$CD_TEST_TMP/notify.sock" ] && break; sleep 0.1; done
# fd 7: a descriptor the worker holds without close-on-exec, as libcurl's
# sockets are while an alert is being sent.
NOTIFY_SOCKET="$CD_TEST_TMP/notify.sock" serve_start w1 "$CFG" 7>>"$CD_TEST_TMP/held-by-the-worker"
w1=${SERVE_PID[w1]}

echo "== runners are forked by the worker's zygote, each in its own process group"
slow=$(add slow test_gen '{"rows": 30, "seed": 1, "bank": "SLOW", "sleep_ms": 100}')
id=$(queue "$slow")
wait_for "SELECT status = 'RUNNING' AND runner_pid IS NOT NULL FROM sp_v2_connector_runs WHERE id = $id" 10 "slow run running"
runner=$(q "SELECT runner_pid FROM sp_v2_connector_runs WHERE id = $id")
zygote=$(ppid_of "$runner")
assert_eq "$w1" "$(ppid_of "$zygote")" "the zygote is the worker's child"
assert_contains "$(tr '\0' ' ' <"/proc/$zygote/cmdline")" "runner-zygote" "the runner's parent is the zygote"
assert_eq "$runner" "$(awk '{print $5}' "/proc/$runner/stat")" "the runner leads its own process group"
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 20 "slow run done"
assert_eq 30 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'SLOW'")" "its rows loaded"

echo "== the zygote and its runners hold none of the worker's other descriptors"
fds_of() { local f; for f in /proc/"$1"/fd/*; do readlink "$f" || true; done; }
assert_contains "$(fds_of "$w1")" "held-by-the-worker" "the worker holds fd 7"
assert_not_contains "$(fds_of "$zygote")" "held-by-the-worker" "the zygote does not"
fd=$(add fds abi_misuse '{"mode": "fds"}')
id=$(queue "$fd")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 20 "fds run done"
fdlog=$(q "SELECT string_agg(message, E'\n' ORDER BY id) FROM sp_v2_connector_run_logs WHERE run_id = $id AND message LIKE 'fd %'")
assert_contains "$fdlog" "fd 4 -> pipe:" "the runner has its channel"
assert_not_contains "$fdlog" "held-by-the-worker" "the runner does not have the worker's descriptor"

echo "== the zygote binds every library symbol once; what its runners start does not inherit that"
assert_contains "$(tr '\0' '\n' <"/proc/$zygote/environ")" "LD_BIND_NOW=1" "the zygote starts bound"
env=$(add env abi_misuse '{"mode": "env", "name": "LD_BIND_NOW"}')
id=$(queue "$env")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 20 "env run done"
assert_eq "env LD_BIND_NOW=(unset)" "$(q "SELECT message FROM sp_v2_connector_run_logs WHERE run_id = $id AND message LIKE 'env %'")" "the runner's environment"

echo "== a driver that crashes: its run fails with the signal, the worker goes on"
crash=$(add crash crasher '{}')
id=$(queue "$crash")
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 20 "crashed run settled"
assert_eq "driver crashed: SIGSEGV" "$(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")" "reason"
kill -0 "$w1" || cd_fail "the worker died with the driver"

echo "== a driver that forks a helper and crashes mid-load: the helper goes too, the day loads again"
fc=$(add forkcrash abi_misuse '{"mode": "fork_crash"}')
id=$(queue "$fc")
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 30 "crashed run settled"
assert_eq "driver crashed: SIGSEGV" "$(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")" "reason"
wait_for "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'connectord-runner-data'" 10 \
    "no load transaction left open by the helper"
q "UPDATE sp_v2_connectors SET connection_config = '{\"rows\": [[\"FC00001\", \"2.00\"]]}' WHERE id = $fc" >/dev/null
id=$(queue "$fc" 10)
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 30 "the same day loads"

echo "== a driver that leaves its process group and hangs is stopped at its timeout"
pg=$(add pgidhang abi_misuse '{"mode": "pgid_hang"}')
id=$(queue "$pg" 2)
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 20 "run settled"
assert_eq "timed out after 2 s" "$(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")" "reason"

echo "== a driver flooding the worker's channel: stopped, the worker's memory bounded"
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$w1/status"; }
before=$(hwm)
fl=$(add flood abi_misuse '{"mode": "chan_flood"}')
id=$(queue "$fl")
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 30 "flooding run settled"
assert_contains "$(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")" "wrote a message of more than" "reason"
grew=$(( $(hwm) - before ))
[ "$grew" -lt 150000 ] || cd_fail "the worker's peak memory grew by $grew kB"
kill -0 "$w1" || cd_fail "the worker died of the flood"

echo "== a driver writing malformed lines to the worker's channel: the lines read with them are kept"
cg=$(add changarbage abi_misuse '{"mode": "chan_garbage"}')
id=$(queue "$cg")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 20 "the run settled"
logs=$(q "SELECT string_agg(level || ' ' || attempt || ' ' || message, E'\n' ORDER BY id) FROM sp_v2_connector_run_logs WHERE run_id = $id")
assert_contains "$logs" "6 1 a well-formed line" "a well-formed line beside bad ones is stored"
assert_contains "$logs" "6 1 bad fields" "a line with fields of the wrong types, as far as it can be"
assert_contains "$logs" '6 1 {"an":"object"}' "a message that is not a string, as JSON"
assert_contains "$logs" "MANUAL run of changarbage" "the runner's own lines"
kill -0 "$w1" || cd_fail "the worker died of the malformed lines"

echo "== a run deleted under its runner: the other runs' lines read in the same round are kept"
wa=$(add waita abi_misuse "{\"mode\": \"wait_file\", \"file\": \"$CD_TEST_TMP/go\"}")
wb=$(add waitb abi_misuse "{\"mode\": \"wait_file\", \"file\": \"$CD_TEST_TMP/go\"}")
ida=$(queue "$wa")
idb=$(queue "$wb")
wait_for "SELECT count(*) = 2 FROM sp_v2_connector_run_logs WHERE run_id IN ($ida, $idb) AND message = 'before'" 20 "both runs waiting"
kill -STOP "$w1"
# What a forced delete of a connector does once its runner outlived the grace.
q "DELETE FROM sp_v2_connectors WHERE id = $wa" >/dev/null
touch "$CD_TEST_TMP/go"
sleep 1.5 # both runners log "after" and end while the worker cannot read them
kill -CONT "$w1"
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $idb" 20 "the other run settled"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_connector_run_logs WHERE run_id = $idb AND message = 'after'")" \
    "its line stored, though read with one of a deleted run"

echo "== a driver writing 64 MiB to stdout and stderr: the worker keeps up with it, the journal gets 1 MiB"
wd0=$(watchdogs)
t0=$SECONDS
of=$(add outflood abi_misuse '{"mode": "out_flood", "mib": 64}')
id=$(queue "$of" 15)
wait_for "SELECT status NOT IN ('QUEUED', 'RUNNING') FROM sp_v2_connector_runs WHERE id = $id" 45 "flooding run settled"
assert_eq "SUCCESS|" "$(q "SELECT status || '|' || COALESCE(error_message, '') FROM sp_v2_connector_runs WHERE id = $id")" \
    "its run is not held up by the worker reading its output"
elapsed=$((SECONDS - t0))
wd=$(( $(watchdogs) - wd0 ))
[ "$wd" -le $((elapsed + 3)) ] || cd_fail "the worker sent systemd $wd watchdog messages in $elapsed s"
assert_contains "$(cat "$CD_TEST_TMP/serve-w1.log")" "bytes of its stderr were not echoed (more than 1048576)" "the echo is capped"
kill -0 "$w1" || cd_fail "the worker died of the flood"

echo "== a run cancelled whose runner then floods the channel still ends cancelled"
cf=$(add cancelflood abi_misuse '{"mode": "cancel_flood"}')
id=$(queue "$cf")
wait_for "SELECT status = 'RUNNING' FROM sp_v2_connector_runs WHERE id = $id" 20 "running"
"$CD" -c "$CFG" cancel "$id" >/dev/null
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 30 "settled"
assert_eq "cancelled" "$(q "SELECT details->>'outcome' FROM sp_v2_connector_runs WHERE id = $id")" "outcome"

echo "== a driver that hangs and ignores SIGTERM is killed at its timeout"
hang=$(add hang hanger '{}')
id=$(queue "$hang" 2)
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 20 "hung run settled"
assert_eq "timed out after 2 s" "$(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")" "reason"

echo "== a driver that honours cancellation and runs past its timeout: timed out, not cancelled by a user"
coop=$(add coop test_gen '{"rows": 1000, "seed": 1, "bank": "COOP", "sleep_ms": 100}')
id=$(queue "$coop" 2)
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 20 "cooperative run settled"
assert_eq "timed out after 2 s" "$(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")" "reason"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'COOP'")" "none of its rows"

echo "== a driver leaves a process holding the runner's stderr: the worker does not wait for it"
leave=$(add leave leaver "{\"pid_file\": \"$CD_TEST_TMP/leaver.pid\", \"linger_s\": 60}")
id=$(queue "$leave")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 20 "leaver's run settled"
quick=$(add quick test_gen '{"rows": 3, "seed": 1, "bank": "QUICK"}')
after=$(queue "$quick")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $after" 10 "the next run ran while the helper lives"
kill -0 "$(cat "$CD_TEST_TMP/leaver.pid")" || cd_fail "the left-behind helper should still be alive"
kill "$(cat "$CD_TEST_TMP/leaver.pid")"

echo "== kill -9 of the zygote: its running run is settled as lost, later runs still run"
lost=$(add lost test_gen '{"rows": 50, "seed": 1, "bank": "LOST", "sleep_ms": 200}')
id=$(queue "$lost")
wait_for "SELECT status = 'RUNNING' AND runner_pid IS NOT NULL FROM sp_v2_connector_runs WHERE id = $id" 10 "run running"
runner=$(q "SELECT runner_pid FROM sp_v2_connector_runs WHERE id = $id")
zygote=$(ppid_of "$runner")
kill -9 "$zygote"
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 20 "lost run settled"
assert_eq "runner lost: the worker's runner zygote died" "$(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")" "reason"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_bank_statements WHERE bank_name = 'LOST'")" "none of its rows"
sleep 0.5
state=$(awk '{print $3}' "/proc/$runner/stat" 2>/dev/null || echo gone)
case "$state" in gone | Z | X) ;; *) cd_fail "the runner outlived its zygote (state $state)" ;; esac
fast=$(add fast test_gen '{"rows": 3, "seed": 2, "bank": "FAST"}')
for i in 1 2 3; do
    id=$(queue "$fast")
    wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 30 "run after the zygote died"
done
sleep 10.5 # a dead zygote is replaced at most every 10 s
id=$(queue "$fast")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 30 "run with a new zygote"
id=$(queue "$slow")
wait_for "SELECT status = 'RUNNING' AND runner_pid IS NOT NULL FROM sp_v2_connector_runs WHERE id = $id" 10 "slow run running"
zygote2=$(ppid_of "$(q "SELECT runner_pid FROM sp_v2_connector_runs WHERE id = $id")")
[ "$zygote2" != "$zygote" ] || cd_fail "no new zygote"
assert_contains "$(tr '\0' ' ' <"/proc/$zygote2/cmdline")" "runner-zygote" "a new zygote forks runners"
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $id" 20 "slow run done"

echo "== kill -9 of the worker takes its zygote and runners along"
id=$(queue "$slow")
wait_for "SELECT status = 'RUNNING' AND runner_pid IS NOT NULL FROM sp_v2_connector_runs WHERE id = $id" 10 "slow run running"
runner=$(q "SELECT runner_pid FROM sp_v2_connector_runs WHERE id = $id")
zygote=$(ppid_of "$runner")
serve_stop w1 KILL || true
sleep 0.5
for p in "$zygote" "$runner"; do
    state=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null || echo gone)
    case "$state" in gone | Z | X) ;; *) cd_fail "process $p outlived the worker (state $state)" ;; esac
done
echo "== a driver whose own handlers exit 0 when stopped: a cancel stays a cancel, a hand-back a hand-back"
serve_start w2 "$CFG"
eos=$(add exitstop abi_misuse '{"mode": "exit_on_stop"}')
id=$(queue "$eos")
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_run_logs WHERE run_id = $id AND message LIKE 'waiting, my own%'" 20 "its handlers in place"
"$CD" -c "$CFG" cancel "$id" >/dev/null
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $id" 20 "cancelled run settled"
assert_eq "cancelled by CLI|cancelled" "$(q "SELECT error_message || '|' || (details->>'outcome') FROM sp_v2_connector_runs WHERE id = $id")" \
    "a cancel, not a runner failure"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE run_id = $id")" "so no RUN_FAILED alert for it"
id=$(queue "$eos")
wait_for "SELECT count(*) = 1 FROM sp_v2_connector_run_logs WHERE run_id = $id AND message LIKE 'waiting, my own%'" 20 "its handlers in place"
# Its exit status counts (a sanitizer's leak report is one): said, not silent.
serve_stop w2 TERM || { rc=$?; tail -40 "$CD_TEST_TMP/serve-w2.log"; cd_fail "w2 exited $rc"; }
assert_eq "QUEUED|1" "$(q "SELECT status, attempt FROM sp_v2_connector_runs WHERE id = $id")" \
    "handed back at shutdown, not failed (it has no retries)"
assert_contains "$(q "SELECT error_message FROM sp_v2_connector_runs WHERE id = $id")" "handed back" "reason"
echo "zygote checks passed"
