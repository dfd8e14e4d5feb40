# pgtmp.sh — a throw-away PostgreSQL cluster for one test (sourced by bash).
#
#   source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
#   pg_tmp_start            # initdb + pg_ctl start, exports PG* and CD_DATABASE_URL
#   ...                     # the cluster is stopped and removed on exit
#
# PostgreSQL refuses to run as root, so when the tests run as root the
# cluster belongs to the "postgres" system user (created by the Debian
# package). It listens on a Unix socket in its own directory only.

pg_tmp_bindir() {
    local d
    for d in "${PG_BINDIR:-}" /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
    echo "pgtmp: no initdb found (install postgresql-15)" >&2
    return 1
}

pg_tmp_as() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_tmp_stop() {
    [ -n "${PG_TMP_DIR:-}" ] || return 0
    if [ -f "$PG_TMP_DIR/data/postmaster.pid" ]; then
        pg_tmp_as "$PG_TMP_BIN/pg_ctl" -D "$PG_TMP_DIR/data" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$PG_TMP_DIR"
    PG_TMP_DIR=
}

# pg_tmp_start [extra postgres -c settings...]
pg_tmp_start() {
    PG_TMP_BIN=$(pg_tmp_bindir) || return 1
    PG_TMP_DIR=$(mktemp -d /tmp/cd-pg.XXXXXX)
    chmod 755 "$PG_TMP_DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$PG_TMP_DIR"
    trap pg_tmp_stop EXIT
    local user
    user=$([ "$(id -u)" = 0 ] && echo postgres || id -un)
    pg_tmp_as "$PG_TMP_BIN/initdb" -D "$PG_TMP_DIR/data" -U "$user" -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$PG_TMP_DIR/initdb.log" 2>&1 ||
        { cat "$PG_TMP_DIR/initdb.log" >&2; return 1; }
    local opts="-c listen_addresses='' -c unix_socket_directories=$PG_TMP_DIR -c fsync=off"
    opts="$opts -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    opts="$opts -c shared_buffers=256MB -c max_wal_size=4GB -c checkpoint_timeout=30min"
    local s
    for s in "$@"; do opts="$opts -c $s"; done
    pg_tmp_as "$PG_TMP_BIN/pg_ctl" -D "$PG_TMP_DIR/data" -l "$PG_TMP_DIR/server.log" \
        -o "$opts" -w -t 60 start >/dev/null ||
        { cat "$PG_TMP_DIR/server.log" >&2; return 1; }
    export PGHOST="$PG_TMP_DIR" PGPORT=5432 PGUSER="$user" PGDATABASE=postgres
    pg_tmp_as "$PG_TMP_BIN/createdb" -h "$PGHOST" -U "$user" connectord
    export PGDATABASE=connectord
    export CD_DATABASE_URL="postgresql:///connectord?host=$PG_TMP_DIR&user=$user"
    # A world-writable scratch folder of the test's own beside the cluster.
    CD_TEST_TMP="$PG_TMP_DIR/work"
    mkdir -p "$CD_TEST_TMP"
    chmod 777 "$CD_TEST_TMP"
    export CD_TEST_TMP
}
