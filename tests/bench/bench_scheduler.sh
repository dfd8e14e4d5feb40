#!/usr/bin/env bash
# bench_scheduler.sh — 10,000 connectors due in the same minute, a driver
# that does nothing, two workers on this machine. Prints runs per second end
# to end, the p50/p99 delay from the slot to each run's start, the spawn
# overhead per run (the CPU of the zygote and the runner processes; an empty
# run is nothing but its process) and the runner's life per run, and the
# machine time each run costs all processes together (when a cpuacct cgroup
# can be made), against a reference measured in the same run (run_floor.c:
# a bare process and two committed transactions, the least a run costs as
# its own process). A program that prints, not a test: it never fails on a
# slow machine.
#
#   bash tests/bench/bench_scheduler.sh [CONNECTORS] [RUNS_PER_WORKER]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CD_SOURCE_DIR=${CD_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
CD_BUILD_DIR=${CD_BUILD_DIR:-$CD_SOURCE_DIR/build}
CD_TESTPLUGINS=${CD_TESTPLUGINS:-$CD_BUILD_DIR/testplugins}
N=${1:-10000}
PER_WORKER=${2:-8}
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
# Machine time per run: everything this bench starts (PostgreSQL, workers,
# zygotes, runners) runs in a cpuacct cgroup of its own when the machine
# lets us make one, so other work on the machine does not count.
CG=""
if [ -w /sys/fs/cgroup/cpuacct ] && mkdir "/sys/fs/cgroup/cpuacct/cdbench.$$" 2>/dev/null; then
    CG="/sys/fs/cgroup/cpuacct/cdbench.$$"
    echo $$ >"$CG/tasks"
fi
cpu_ns() { if [ -n "$CG" ]; then cat "$CG/cpuacct.usage"; else echo 0; fi; }
# CPU seconds so far of each kind of process, from /proc: PostgreSQL (the
# postmaster, its live backends and the ones it reaped), the two workers,
# and their zygotes with the runners they forked and reaped. The runners'
# share is the spawn overhead: an empty run is nothing but its process.
cpu_split() {
    python3 - "$(head -1 "$PG_TMP_DIR/data/postmaster.pid")" "${SERVE_PID[w1]}" "${SERVE_PID[w2]}" <<'PY'
import os, sys
tck = os.sysconf("SC_CLK_TCK")
def stat(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0
    return (int(f[11]) + int(f[12])) / tck, (int(f[13]) + int(f[14])) / tck
def kids(pid):
    try:
        return [int(c) for t in os.listdir(f"/proc/{pid}/task")
                for c in open(f"/proc/{pid}/task/{t}/children").read().split()]
    except OSError:
        return []
pm = int(sys.argv[1])
own, reaped = stat(pm)
pg = own + reaped + sum(stat(k)[0] for k in kids(pm))
workers = zyg = 0.0
for w in map(int, sys.argv[2:]):
    workers += stat(w)[0]
    for k in kids(w):  # the zygote; the runners it reaped count in its children's time
        own, reaped = stat(k)
        zyg += own + reaped
print(f"{pg:.3f} {workers:.3f} {zyg:.3f}")
PY
}
pg_tmp_start
trap 'serve_stop_all; pg_tmp_stop; [ -z "$CG" ] || { echo $$ >/sys/fs/cgroup/cpuacct/tasks; rmdir "$CG"; }' EXIT
CD="$CD_BUILD_DIR/bin/connectord"
NOW="$CD_TEST_TMP/now"
export CONNECTORD_TEST_NOW_FILE="$NOW"
serve_config "$CD_TEST_TMP/b/connectord.yaml" "scheduler:" "  catchup_window: 1m" \
    "workers:" "  max_concurrent_runs: $PER_WORKER" "  lease_seconds: 60"
"$CD" -c "$CD_TEST_TMP/b/connectord.yaml" migrate >/dev/null
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver,
     schedule_cron, schedule_timezone, created_at)
   SELECT 'c' || g, 'BANK_API', 'B', '{\"rows\": 0}', 'test_gen', '0 2 * * *', 'Asia/Kolkata', '2020-01-01'
   FROM generate_series(1, $N) g" >/dev/null
date -u -d "2026-03-09T20:29:50Z" +%s >"$NOW"
serve_start w1 "$CD_TEST_TMP/b/connectord.yaml"
serve_start w2 "$CD_TEST_TMP/b/connectord.yaml"
sleep 2
c0=$(cpu_ns)
s0=$(cpu_split)
t0=$(date +%s.%N)
date -u -d "2026-03-09T20:30:00Z" +%s >"$NOW"
# The polling itself must cost the machine next to nothing: a shell
# builtin for the clock, one psql call per half second.
SECONDS=0
while [ "$(q "SELECT count(*) FROM sp_v2_connector_runs WHERE status IN ('SUCCESS', 'FAILED')")" -lt "$N" ]; do
    sleep 0.5
    [ "$SECONDS" -lt 600 ] || { echo "gave up after 600 s"; break; }
done
t1=$(date +%s.%N)
c1=$(cpu_ns)
s1=$(cpu_split)
# The reference, measured now on this machine with the workers idle: a run
# at the least is one process and two committed transactions (claim and
# finalize).
floor=$("$CD_BUILD_DIR/tests/run_floor" "$CD_DATABASE_URL" 2000)
q "SELECT 'runs: ' || count(*) || ' (' || count(*) FILTER (WHERE status = 'SUCCESS') || ' SUCCESS)' FROM sp_v2_connector_runs"
python3 - "$t0" "$t1" "$N" "$c0" "$c1" "$(nproc)" "$s0" "$s1" "$floor" <<PY
import sys
t0, t1, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
c0, c1, cores = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
print(f"end to end: {t1 - t0:.1f} s for {n} runs = {n / (t1 - t0):.0f} runs/s (goal: all done within 60 s)")
# With every run due at the same instant, the 99th percentile of starts
# cannot come before 99% of the runs have been through: at this rate that
# is the floor under the slot -> started p99 printed below.
print(f"slot -> started p99 floor at this rate: {0.99 * n / (n / (t1 - t0)):.1f} s"
      f" (p99 < 5 s for {n} runs due at once would take {0.99 * n / 5:.0f} runs/s)")
if c1 > c0:
    per_run_ms = (c1 - c0) / 1e6 / n
    print(f"machine time per run: {per_run_ms:.2f} ms of CPU (PostgreSQL, workers, zygotes,"
          f" runners and this bench's polling); {cores} cores allow at most"
          f" {cores * 1000 / per_run_ms:.0f} runs/s at that cost")
s0, s1 = [list(map(float, a.split())) for a in sys.argv[7:9]]
pg, workers, spawn = [(b - a) * 1000 / n for a, b in zip(s0, s1)]
print(f"CPU per run by process: PostgreSQL {pg:.2f} ms, workers {workers:.2f} ms,"
      f" spawn overhead (zygote fork + runner process) {spawn:.2f} ms")
proc_ms, tx_ms = map(float, sys.argv[9].split())
floor_ms = proc_ms + 2 * tx_ms
print(f"reference floor per run on this machine: a bare fork + exit + wait {proc_ms:.2f} ms"
      f" + 2 committed one-row transactions {2 * tx_ms:.2f} ms = {floor_ms:.2f} ms")
print(f"  spawn overhead = {spawn / proc_ms:.1f}x the bare process;"
      f" PostgreSQL = {pg / (2 * tx_ms):.1f}x the two transactions")
if c1 > c0:
    print(f"  machine time per run = {per_run_ms / floor_ms:.1f}x the floor")
print(f"  at the floor, {cores} cores start 99% of {n} runs due at once after"
      f" {0.99 * n * floor_ms / cores / 1000:.1f} s at best")
PY
q "SELECT 'slot -> queued  p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 3) || ' s, p99 ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 3) || ' s'
   FROM (SELECT extract(epoch FROM queued_at) - $t0 AS d FROM sp_v2_connector_runs) s"
q "SELECT 'slot -> started p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 3) || ' s, p99 ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 3) || ' s (goal p99 < 5 s)'
   FROM (SELECT extract(epoch FROM started_at) - $t0 AS d FROM sp_v2_connector_runs) s"
q "SELECT 'runner life per run (claim to completion) p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric * 1000) || ' ms, p99 ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric * 1000) || ' ms'
   FROM (SELECT extract(epoch FROM completed_at - started_at) AS d FROM sp_v2_connector_runs) s"
q "SELECT 'concurrency: ' || $PER_WORKER || ' runs per worker, 2 workers, ' || count(DISTINCT worker_id) || ' workers used' FROM sp_v2_connector_runs"
