# serve.sh — starting and stopping `connectord serve` workers in tests
# (sourced by bash after pgtmp.sh and assert.sh).
#
#   serve_config FILE [yaml...]   writes a worker configuration (test drivers,
#                                 a free port, short leases) to FILE, and the
#                                 extra YAML lines to conf.d/50-test.yaml beside
#                                 it (so they override): give each configuration
#                                 its own directory
#   serve_start NAME FILE         starts a worker; its pid in SERVE_PID[NAME],
#                                 its API port in SERVE_PORT[NAME]
#   serve_stop NAME [SIGNAL]      stops it and waits (default SIGTERM)
#   wait_for "SQL" SECONDS [msg]  waits until the query returns t

declare -gA SERVE_PID SERVE_PORT

cd_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

serve_config() {
    local file=$1
    shift
    mkdir -p "$(dirname "$file")/conf.d"
    cat >"$file" <<YAML
database:
  url: "$CD_DATABASE_URL"
plugins:
  dir: "${SERVE_PLUGINS:-$CD_TESTPLUGINS}"
http:
  listen: 127.0.0.1
  port: $(cd_free_port)
runner:
  kill_grace_seconds: 2
workers:
  lease_seconds: 3
  shutdown_grace_seconds: 2
retry:
  base_seconds: 1
  max_seconds: 2
YAML
    local extra
    : >"$(dirname "$file")/conf.d/50-test.yaml"
    for extra in "$@"; do printf '%s\n' "$extra" >>"$(dirname "$file")/conf.d/50-test.yaml"; done
}

serve_start() {
    local name=$1 cfg=$2
    # Each worker its own API port, so several can run on one host.
    SERVE_PORT[$name]=$(cd_free_port)
    CONNECTORD_HTTP_PORT=${SERVE_PORT[$name]} "$CD_BUILD_DIR/bin/connectord" -c "$cfg" serve \
        >>"$CD_TEST_TMP/serve-$name.log" 2>&1 &
    SERVE_PID[$name]=$!
    # Ready when its API answers, or at least when the process is up and has
    # logged that it serves.
    local i
    for i in $(seq 1 100); do
        grep -q "serving as worker" "$CD_TEST_TMP/serve-$name.log" 2>/dev/null && return 0
        kill -0 "${SERVE_PID[$name]}" 2>/dev/null || {
            cat "$CD_TEST_TMP/serve-$name.log" >&2
            cd_fail "worker $name exited at start"
        }
        sleep 0.1
    done
    cat "$CD_TEST_TMP/serve-$name.log" >&2
    cd_fail "worker $name did not start"
}

serve_stop() {
    local name=$1 sig=${2:-TERM}
    local pid=${SERVE_PID[$name]:-}
    [ -n "$pid" ] || return 0
    kill -"$sig" "$pid" 2>/dev/null || true
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    unset "SERVE_PID[$name]"
    return $rc
}

serve_stop_all() {
    local n
    for n in "${!SERVE_PID[@]}"; do serve_stop "$n" KILL || true; done
}

# wait_log NAME TEXT [SECONDS]: waits until the worker's log contains TEXT.
wait_log() {
    local log="$CD_TEST_TMP/serve-$1.log" deadline=$((SECONDS + ${3:-30}))
    while [ $SECONDS -lt $deadline ]; do
        grep -qF -- "$2" "$log" 2>/dev/null && return 0
        sleep 0.1
    done
    tail -n 25 "$log" >&2
    cd_fail "worker $1 did not log: $2"
}

wait_for() {
    local sql=$1 secs=$2 msg=${3:-condition}
    local deadline=$((SECONDS + secs))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(q "$sql")" = t ] && return 0
        sleep 0.2
    done
    local f
    for f in "$CD_TEST_TMP"/serve-*.log; do
        [ -f "$f" ] && { echo "--- last lines of $f" >&2; tail -n 25 "$f" >&2; }
    done
    cd_fail "timed out after ${secs}s waiting for: $msg ($sql)"
}
