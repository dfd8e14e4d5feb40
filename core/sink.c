/*
 * sink.c — the record sink (see sink.h).
 *
 * cd_sink_row validates and encodes each row (record_schema.c) into a COPY
 * text buffer that is shipped in chunks, so the client's memory stays flat
 * whatever the row count. Every line is "run id, then the staging
 * columns": the same text fits the target table (loaded_by_run_id first)
 * and the staging table. There are two paths; which one a load takes is
 * decided by what the server says, not guessed up front.
 *
 * Direct path (a day loaded for the first time: every key new, none
 * repeated). Under a savepoint the rows are COPYed straight into the
 * target table, as `psql \copy` would load them: no staging, no ANALYZE,
 * no merge. The target's unique index is the test that every key is new
 * and none repeats; when the COPY completes, every staged row was
 * inserted, which is what the merge would have done, at the cost of the
 * COPY alone. Each chunk is also appended to a spool, an unlinked
 * temporary file (page cache, not the process's memory), so that the rows
 * can be sent again if the server refuses them. libpq reports a COPY's
 * error only when the COPY ends (the server discards what follows in
 * silence), so the direct COPY is cut into statements of SINK_SEGMENT
 * bytes and is also ended early as soon as the server has sent anything:
 * a refusal is noticed mid-stream, not after the whole download.
 *
 * Fallback (the server refuses with a unique violation, 23505: a key
 * already in the table or repeated within the run; or a deadlock, 40P01:
 * two direct loads whose keys cross; at any point of the stream). ROLLBACK
 * TO the savepoint undoes every direct row, the spool is replayed into a
 * temporary staging table, the remaining rows stream there, and
 * cd_sink_merge then, inside the caller's transaction:
 *   1. ends the COPY and ANALYZEs staging, so the planner sizes the joins
 *      below from real row counts and picks hash joins for big loads;
 *   2. drops every staged row whose key repeats later in the run (the last
 *      one wins: seq is an identity column the server assigns in COPY
 *      order), counted as duplicates;
 *   3. takes a transaction-scoped advisory lock on the target table, so
 *      two fallback merges into one table run one after the other;
 *   4. runs one statement whose UPDATE (rows whose data differ) and
 *      INSERT (keys not there) share a snapshot: every staged row is
 *      either compared or inserted, never neither, so the counts are exact
 *      and unchanged rows are not written at all (a repeat load writes
 *      nothing but the few rows its direct attempt put in before the
 *      refusal, which the savepoint rollback left dead). A plain anti-join
 *      INSERT avoids the per-row speculative insertion of ON CONFLICT; if
 *      another writer inserts one of our keys meanwhile (a direct load, or
 *      a writer that ignores the lock), the unique index stops us (23505)
 *      or the two wait on each other (40P01), and the statement is retried
 *      under a savepoint with a fresh snapshot, in which that row is
 *      compared instead.
 *
 * Locks. The direct path takes no advisory lock: held from the first row
 * to the commit, it would serialize every load into a table for whole
 * downloads. It needs none: it only inserts, and the unique index orders
 * concurrent inserts of one key (the second inserter waits for the first
 * transaction, then gets 23505 and falls back; crossing keys give 40P01
 * to one of them, which falls back and lets the other go on). A direct
 * load does hold the target's ROW EXCLUSIVE lock from its first row, so
 * DDL on the target (ALTER TABLE, TRUNCATE) waits for the load to end.
 *
 * Plan of the merge. The merge inserts into the table its anti-join reads.
 * When the planner takes the target for empty (analyzed while empty, e.g.
 * after a TRUNCATE), it may put a Seq Scan of the target on the inner side
 * of a nested loop without a Materialize: rescanned once per staged row,
 * and each rescan reads every page the statement itself has inserted so
 * far, so the merge is quadratic (40,000 rows took 30 s, a million would
 * take hours). So when the planner's estimate of the target is no larger
 * than the rows to merge, nested loops are off for the merge statement: a
 * hash join then reads about as many target rows as there are staged
 * rows, where a nested loop could save little and lose everything.
 */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "record_schema.h"
#include "util.h"

/* COPY data is shipped once this much is buffered. Small next to the
 * socket buffer (about 200 KB for a Unix socket): a blocked sender is woken
 * when the server has read most of what was queued, and must then queue
 * more before the server runs dry. With 128 KB chunks the server sat idle
 * about a tenth of a million-row load; with 32 KB, about 3%. */
#define SINK_CHUNK (32u * 1024u)

/* A direct COPY statement is ended (and the next one begun) after this
 * many bytes, so that a refusal the server has not announced on the
 * socket yet is still noticed within this much of the stream. Each end
 * costs one round trip and the drain of the socket buffer. */
#define SINK_SEGMENT (4u * 1024u * 1024u)

/* First half of the two-key advisory lock on a target table ("CDSK");
 * the second half is the table's oid. The two-key form lives in its own
 * lock space, apart from the single-bigint keys other modules use. */
#define SINK_LOCK_CLASS 1129534283
#define SINK_STR2(x) #x
#define SINK_STR(x) SINK_STR2(x)

/* How often the merge is retried after a concurrent insert of one of our
 * keys (23505) or a deadlock with a concurrent load (40P01). */
#define SINK_MERGE_ATTEMPTS 8

typedef enum sink_mode {
    SINK_NONE = 0, /* no columns declared yet */
    SINK_DIRECT,   /* COPY into the target under the savepoint, spooled */
    SINK_STAGE     /* COPY into the staging table, merged at the end */
} sink_mode;

struct cd_sink {
    PGconn *conn;
    const cd_rs_dataset *ds;
    int64_t run_id;
    cd_sink_reject_fn on_reject;
    void *userdata;
    cd_rs_layout layout;
    int have_layout; /* cd_sink_columns succeeded: a COPY is open */
    int broken;      /* a database error happened: only cd_sink_free is allowed */
    int merged;
    int copy_open;   /* the connection is in COPY IN state */
    sink_mode mode;
    char *copy_direct; /* "COPY <target> (loaded_by_run_id, ...) FROM STDIN" */
    char *copy_cols;   /* "loaded_by_run_id, c1, ..." */
    int spool_fd;      /* direct mode: every byte sent so far; else -1 */
    uint64_t spooled;  /* bytes in the spool */
    size_t segment;    /* bytes sent in the current direct COPY statement */
    iconv_t to_server; /* UTF-8 to a database encoding that is not UTF8 or SQL_ASCII, or
                          (iconv_t)-1: checks that text converts (record_schema.h) */
    char *server_encoding;
    cd_buf buf;
    char stage[48];
    cd_sink_counts counts;
};

const char *cd_sink_target_table(cd_dataset dataset)
{
    const cd_rs_dataset *ds = cd_rs_dataset_get(dataset);
    return ds ? ds->table : NULL;
}

/* Runs a command, marking the sink broken on failure. 0 or -1. */
static int sink_command(cd_sink *sink, const char *what, const char *sql, int nparams,
                        const char *const *params, char **err)
{
    if (cd_db_command(sink->conn, what, sql, nparams, params, err) != 0) {
        sink->broken = 1;
        return -1;
    }
    return 0;
}

/* Tries a bigger temp_buffers so that staging stays in the backend's
 * memory instead of going through temp files. PostgreSQL accepts the
 * change only before the session's first temporary table, so a refusal
 * is expected on a reused connection and only costs speed; the savepoint
 * keeps the refusal from aborting the caller's transaction. */
static int try_temp_buffers(cd_sink *sink, char **err)
{
    if (sink_command(sink, "cd_sink_open: savepoint", "SAVEPOINT cd_sink_tb", 0, NULL, err))
        return -1;
    PGresult *res = PQexec(sink->conn, "SET LOCAL temp_buffers = '1GB'");
    int ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    const char *sql = ok ? "RELEASE SAVEPOINT cd_sink_tb" : "ROLLBACK TO SAVEPOINT cd_sink_tb";
    if (sink_command(sink, "cd_sink_open: savepoint", sql, 0, NULL, err))
        return -1;
    if (!ok)
        cd_debug("sink: temp_buffers left as is (temporary tables already used in this session)");
    return 0;
}

cd_sink *cd_sink_open(PGconn *conn, cd_dataset dataset, int64_t run_id,
                      cd_sink_reject_fn on_reject, void *userdata, char **err)
{
    const cd_rs_dataset *ds = cd_rs_dataset_get(dataset);
    if (!ds) {
        *err = cd_sprintf("cd_sink_open: dataset %d has no target table", (int)dataset);
        return NULL;
    }
    if (!conn || PQtransactionStatus(conn) != PQTRANS_INTRANS) {
        *err = cd_xstrdup("cd_sink_open: the connection must be idle inside a transaction "
                          "(BEGIN first)");
        return NULL;
    }
    /* Validation counts UTF-8 characters; the server must read the bytes
     * as UTF-8 too, or its length checks and ours would disagree (a
     * SQL_ASCII database counts bytes whatever the client says: see
     * cd_sink_columns). */
    if (PQclientEncoding(conn) != pg_char_to_encoding("UTF8") &&
        PQsetClientEncoding(conn, "UTF8") != 0) {
        *err = cd_db_error(conn, "cd_sink_open: setting client_encoding to UTF8");
        return NULL;
    }
    cd_sink *sink = cd_xcalloc(1, sizeof *sink);
    static unsigned serial;
    sink->conn = conn;
    sink->ds = ds;
    sink->run_id = run_id;
    sink->on_reject = on_reject;
    sink->userdata = userdata;
    sink->spool_fd = -1;
    sink->to_server = (iconv_t)-1;
    cd_buf_init(&sink->buf);
    snprintf(sink->stage, sizeof sink->stage, "cd_sink_stage_%u", ++serial);

    /* A COPY statement lasts as long as the driver takes to download what
     * it carries, and a merge of a big day takes a while: a
     * statement_timeout set on the database or the role (common for an
     * application's role) would cancel the load of every day that takes
     * longer, on every retry. The run's own timeout bounds the load: when
     * the runner is killed, the server sees the connection go and rolls
     * back. Likewise a lock_timeout: two loads of one key wait for each
     * other by design (the unique index orders their inserts, the merges
     * take turns on the advisory lock, see "Locks" above); cut short, the
     * one that waits would fail instead. The hash joins of a merge hold
     * the staging rows; with the default 4MB work_mem they would spill to
     * disk in batches. All only for this transaction. */
    if (sink_command(sink, "cd_sink_open: setting statement_timeout",
                     "SET LOCAL statement_timeout = 0", 0, NULL, err) != 0 ||
        sink_command(sink, "cd_sink_open: setting lock_timeout", "SET LOCAL lock_timeout = 0",
                     0, NULL, err) != 0 ||
        sink_command(sink, "cd_sink_open: setting work_mem", "SET LOCAL work_mem = '256MB'", 0,
                     NULL, err) != 0 ||
        try_temp_buffers(sink, err) != 0) {
        cd_sink_free(sink);
        return NULL;
    }
    return sink;
}

/* ---- the spool ---------------------------------------------------------- */

/* Opens the spool: an unlinked file in $TMPDIR (or /tmp), gone with the
 * process whatever happens to it. */
static int spool_open(cd_sink *sink, char **err)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        /* O_TMPFILE needs file system support; a named file unlinked at
         * once is the portable form. */
        int tmpfile_errno = errno;
        char *path = cd_sprintf("%s/connectord-sink-XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0) {
            *err = cd_sprintf("creating the load's spool file in %s: %s (O_TMPFILE: %s)", dir,
                              strerror(errno), strerror(tmpfile_errno));
            free(path);
            return -1;
        }
        if (unlink(path) != 0) {
            *err = cd_sprintf("removing the name of the load's spool file %s: %s", path,
                              strerror(errno));
            close(fd);
            free(path);
            return -1;
        }
        free(path);
    }
    sink->spool_fd = fd;
    sink->spooled = 0;
    return 0;
}

static void spool_close(cd_sink *sink)
{
    if (sink->spool_fd >= 0)
        close(sink->spool_fd);
    sink->spool_fd = -1;
}

/* Appends len bytes to the spool. 0 or -1 (sink broken). */
static int spool_write(cd_sink *sink, const char *data, size_t len, char **err)
{
    while (len) {
        ssize_t n = write(sink->spool_fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *err = cd_sprintf("writing the load's spool file (%" PRIu64 " bytes written, "
                              "%zu more to write; $TMPDIR or /tmp): %s",
                              sink->spooled, len, n < 0 ? strerror(errno) : "no progress");
            sink->broken = 1;
            return -1;
        }
        data += n, len -= (size_t)n;
        sink->spooled += (uint64_t)n;
    }
    return 0;
}

/* ---- COPY plumbing ------------------------------------------------------ */

/* Starts `sql` (a COPY ... FROM STDIN). 0 or -1 (sink broken). */
static int copy_start(cd_sink *sink, const char *sql, const char *what, char **err)
{
    PGresult *res = PQexec(sink->conn, sql);
    if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
        *err = res ? cd_db_result_error(res, what) : cd_db_error(sink->conn, what);
        PQclear(res);
        sink->broken = 1;
        return -1;
    }
    PQclear(res);
    sink->copy_open = 1;
    return 0;
}

/* Sends len bytes of COPY data (a row may be longer than an int can
 * count: sent in pieces). 0, or -1 when libpq refused them: the
 * connection failed, or (with a libpq that reads errors during COPY) the
 * server ended the COPY; copy_outcome then tells which. */
static int copy_send(cd_sink *sink, const char *data, size_t len)
{
    while (len) {
        size_t n = len < ((size_t)1 << 30) ? len : (size_t)1 << 30;
        if (PQputCopyData(sink->conn, data, (int)n) != 1)
            return -1;
        data += n, len -= n;
    }
    return 0;
}

/* Whether SQLSTATE `state` is a refusal the staging path resolves. */
static int conflict_state(const char *state)
{
    return state && (strcmp(state, "23505") == 0 || strcmp(state, "40P01") == 0);
}

/* Collects the results of a COPY that the client ended (or that libpq
 * left): 0 when the server took every line, 1 when it refused them with
 * a conflict (conflict_state; *err says which key), -1 on any other
 * failure (*err). The connection is idle afterwards unless it broke. */
static int copy_outcome(cd_sink *sink, const char *what, char **err)
{
    int rc = 0;
    PGresult *res;
    sink->copy_open = 0;
    while ((res = PQgetResult(sink->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COPY_IN) {
            /* libpq is still in COPY IN (a send failed before the end):
             * end it, or PQgetResult would return this forever. */
            PQclear(res);
            if (PQputCopyEnd(sink->conn, "connectord: the load failed") != 1) {
                if (rc == 0) {
                    *err = cd_db_error(sink->conn, what);
                    rc = -1;
                }
                break;
            }
            continue;
        }
        if (rc == 0 && st != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            if (conflict_state(state)) {
                /* For the log: the message and the key, not the CONTEXT
                 * (which quotes the whole COPY line). */
                const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
                const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
                *err = cd_sprintf("%s: %s%s%s", state, msg ? msg : "?", detail ? "; " : "",
                                  detail ? detail : "");
                for (char *p = *err; *p; p++) /* one log line (a deadlock's detail has two) */
                    if (*p == '\n')
                        *p = ' ';
                rc = 1;
            } else {
                /* The server's CONTEXT names the COPY line at fault. */
                *err = cd_db_result_error(res, what);
                rc = -1;
            }
        }
        PQclear(res);
    }
    if (rc == 0 && PQstatus(sink->conn) == CONNECTION_BAD) {
        *err = cd_db_error(sink->conn, what);
        rc = -1;
    }
    return rc;
}

/* Ends the open COPY and collects its outcome (copy_outcome). */
static int copy_end(cd_sink *sink, const char *what, char **err)
{
    if (PQputCopyEnd(sink->conn, NULL) != 1) {
        *err = cd_db_error(sink->conn, what);
        sink->copy_open = 0;
        return -1;
    }
    return copy_outcome(sink, what, err);
}

/* Whether the server has sent anything during a COPY IN: it sends nothing
 * then unless the COPY failed (or a notice, which only costs an early end
 * of the segment). */
static int server_spoke(const cd_sink *sink)
{
    struct pollfd p = {.fd = PQsocket(sink->conn), .events = POLLIN};
    if (p.fd < 0)
        return 1;
    int n;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    return n != 0; /* an error of poll itself: let the COPY's end tell */
}

/* ---- the two paths ------------------------------------------------------ */

/* Creates staging and starts the COPY into it. 0 or -1 (sink broken). */
static int stage_begin(cd_sink *sink, char **err)
{
    cd_buf create, copy;
    cd_buf_init(&create), cd_buf_init(&copy);
    /* seq numbers the lines in COPY order: the server evaluates the
     * identity default line by line as it reads them. */
    cd_buf_printf(&create,
                  "CREATE TEMP TABLE %s (seq bigint GENERATED ALWAYS AS IDENTITY, "
                  "loaded_by_run_id bigint",
                  sink->stage);
    for (size_t k = 0; k < sink->layout.nstage; k++) {
        const cd_rs_column *col = sink->layout.stage[k].col;
        cd_buf_printf(&create, ", %s %s", col->name, col->sql_type);
    }
    cd_buf_puts(&create, ") ON COMMIT DROP");
    cd_buf_printf(&copy, "COPY %s (%s) FROM STDIN", sink->stage, sink->copy_cols);
    int rc = sink_command(sink, "creating the staging table", create.data, 0, NULL, err);
    if (rc == 0)
        rc = copy_start(sink, copy.data, "starting COPY into the staging table", err);
    cd_buf_free(&create), cd_buf_free(&copy);
    if (rc == 0)
        sink->mode = SINK_STAGE;
    return rc;
}

/* The direct COPY was refused with a conflict (reason): undoes it, sends
 * the spool to staging and leaves the COPY into staging open for the
 * rest. 0 or -1 (sink broken). */
static int fall_back(cd_sink *sink, char *reason, char **err)
{
    cd_info("sink: %s refused the direct COPY after %" PRIu64 " bytes (%s); "
            "loading through a staging table and a merge instead",
            sink->ds->table, sink->spooled, reason);
    free(reason);
    if (sink_command(sink, "undoing the direct COPY", "ROLLBACK TO SAVEPOINT cd_sink_direct", 0,
                     NULL, err) != 0 ||
        sink_command(sink, "undoing the direct COPY", "RELEASE SAVEPOINT cd_sink_direct", 0,
                     NULL, err) != 0 ||
        stage_begin(sink, err) != 0)
        return -1;
    if (lseek(sink->spool_fd, 0, SEEK_SET) != 0) {
        *err = cd_sprintf("rewinding the load's spool file: %s", strerror(errno));
        sink->broken = 1;
        return -1;
    }
    char *chunk = cd_xmalloc(SINK_CHUNK);
    uint64_t left = sink->spooled;
    int rc = 0;
    while (left) {
        size_t want = left < SINK_CHUNK ? (size_t)left : SINK_CHUNK;
        ssize_t n = read(sink->spool_fd, chunk, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *err = cd_sprintf("reading back the load's spool file (%" PRIu64 " of %" PRIu64
                              " bytes left): %s",
                              left, sink->spooled, n < 0 ? strerror(errno) : "file too short");
            rc = -1;
            break;
        }
        if (copy_send(sink, chunk, (size_t)n) != 0) {
            *err = cd_db_error(sink->conn, "sending the spooled rows to the staging table");
            rc = -1;
            break;
        }
        left -= (uint64_t)n;
    }
    free(chunk);
    spool_close(sink);
    if (rc != 0)
        sink->broken = 1;
    return rc;
}

/* Handles the outcome of a direct COPY statement: on success with more to
 * come (restart) begins the next one, on a conflict falls back to staging.
 * 0 or -1 (sink broken). */
static int direct_settle(cd_sink *sink, int outcome, int restart, char *reason, char **err)
{
    if (outcome == 1)
        return fall_back(sink, reason, err);
    if (outcome < 0) {
        *err = reason;
        sink->broken = 1;
        return -1;
    }
    sink->segment = 0;
    if (restart)
        return copy_start(sink, sink->copy_direct, "starting COPY into the target table", err);
    return 0;
}

/* Ships the buffered COPY text (to the target and the spool, or to
 * staging). 0 or -1 (sink broken). */
static int flush(cd_sink *sink, char **err)
{
    if (sink->buf.len == 0)
        return 0;
    if (sink->mode == SINK_STAGE) {
        if (copy_send(sink, sink->buf.data, sink->buf.len) != 0) {
            *err = cd_db_error(sink->conn, "sending rows to the staging table");
            sink->broken = 1;
            return -1;
        }
        cd_buf_reset(&sink->buf);
        return 0;
    }
    /* Spooled first: whatever the server does with these bytes, the
     * fallback replays them. */
    if (spool_write(sink, sink->buf.data, sink->buf.len, err) != 0)
        return -1;
    const char *what = "loading rows into the target table";
    char *reason = NULL;
    int outcome;
    if (copy_send(sink, sink->buf.data, sink->buf.len) != 0) {
        outcome = copy_outcome(sink, what, &reason);
        if (outcome == 0) { /* refused, yet no error from the server */
            outcome = -1;
            reason = cd_db_error(sink->conn, what);
        }
    } else {
        sink->segment += sink->buf.len;
        if (sink->segment < SINK_SEGMENT && !server_spoke(sink)) {
            cd_buf_reset(&sink->buf);
            return 0;
        }
        outcome = copy_end(sink, what, &reason);
    }
    cd_buf_reset(&sink->buf);
    return direct_settle(sink, outcome, 1, reason, err);
}

/* The iconv name of a PostgreSQL server encoding, or NULL. */
static const char *iconv_name(const char *pg, char *buf, size_t size)
{
    static const char *const names[][2] = {
        {"LATIN1", "ISO-8859-1"},   {"LATIN2", "ISO-8859-2"},   {"LATIN3", "ISO-8859-3"},
        {"LATIN4", "ISO-8859-4"},   {"LATIN5", "ISO-8859-9"},   {"LATIN6", "ISO-8859-10"},
        {"LATIN7", "ISO-8859-13"},  {"LATIN8", "ISO-8859-14"},  {"LATIN9", "ISO-8859-15"},
        {"LATIN10", "ISO-8859-16"}, {"ISO_8859_5", "ISO-8859-5"}, {"ISO_8859_6", "ISO-8859-6"},
        {"ISO_8859_7", "ISO-8859-7"}, {"ISO_8859_8", "ISO-8859-8"}, {"KOI8R", "KOI8-R"},
        {"KOI8U", "KOI8-U"},        {"EUC_JP", "EUC-JP"},       {"EUC_CN", "EUC-CN"},
        {"EUC_KR", "EUC-KR"},       {"EUC_TW", "EUC-TW"},       {"EUC_JIS_2004", "EUC-JISX0213"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(pg, names[i][0]) == 0)
            return names[i][1];
    /* WIN866, WIN874, WIN1250 .. WIN1258: code pages */
    size_t digits = strlen(pg) > 3 ? strlen(pg + 3) : 0;
    if (strncmp(pg, "WIN", 3) == 0 && digits >= 3 && digits <= 4 &&
        strspn(pg + 3, "0123456789") == digits) {
        snprintf(buf, size, "CP%s", pg + 3);
        return buf;
    }
    return NULL;
}

/* record_schema.h's storable: whether the UTF-8 text converts to the
 * database's encoding. The output is thrown away, a piece at a time. */
static int sink_storable(void *ctx, const char *s, size_t len)
{
    cd_sink *sink = ctx;
    char out[256];
    char *in = (char *)s;
    size_t inleft = len;
    iconv(sink->to_server, NULL, NULL, NULL, NULL); /* the initial shift state */
    while (inleft) {
        char *o = out;
        size_t oleft = sizeof out;
        size_t before = inleft;
        if (iconv(sink->to_server, &in, &inleft, &o, &oleft) == (size_t)-1 &&
            (errno != E2BIG || inleft == before))
            return 0; /* EILSEQ: no such character there */
    }
    return 1;
}

/* Sets the layout up to refuse, as record errors, characters a database
 * in encoding `enc` (neither UTF8 nor SQL_ASCII) cannot hold: the server
 * would refuse the COPY, and with it the run, for one such character. */
static void check_encoding(cd_sink *sink, const char *enc)
{
    char buf[16];
    const char *name = iconv_name(enc, buf, sizeof buf);
    if (name)
        sink->to_server = iconv_open(name, "UTF-8");
    if (sink->to_server == (iconv_t)-1) {
        cd_warn("sink: the database's encoding is %s, which this system cannot convert to: "
                "a character it lacks fails the load instead of one record",
                enc);
        return;
    }
    sink->server_encoding = cd_xstrdup(enc);
    sink->layout.storable = sink_storable;
    sink->layout.storable_ctx = sink;
    sink->layout.encoding = sink->server_encoding;
}

int cd_sink_columns(cd_sink *sink, const char *const *names, size_t n, char **err)
{
    if (sink->broken || sink->have_layout || sink->counts.received) {
        *err = cd_xstrdup("cd_sink_columns: columns can be declared once, before the first row");
        return -1;
    }
    if (cd_rs_layout_init(&sink->layout, sink->ds, names, n, err) != 0)
        return -1;
    /* A SQL_ASCII database stores the UTF-8 bytes as they are and counts
     * each byte as a character: its VARCHAR(50) holds 50 bytes, so lengths
     * are checked in bytes there (any other encoding counts characters). */
    const char *enc = PQparameterStatus(sink->conn, "server_encoding");
    sink->layout.count_bytes = enc && strcmp(enc, "SQL_ASCII") == 0;
    if (enc && strcmp(enc, "SQL_ASCII") != 0 && strcmp(enc, "UTF8") != 0)
        check_encoding(sink, enc);

    cd_buf cols;
    cd_buf_init(&cols);
    cd_buf_puts(&cols, "loaded_by_run_id");
    for (size_t k = 0; k < sink->layout.nstage; k++)
        cd_buf_printf(&cols, ", %s", sink->layout.stage[k].col->name);
    sink->copy_cols = cd_buf_take(&cols);
    sink->copy_direct = cd_sprintf("COPY %s (%s) FROM STDIN", sink->ds->table, sink->copy_cols);

    if (spool_open(sink, err) != 0 ||
        sink_command(sink, "starting the direct COPY", "SAVEPOINT cd_sink_direct", 0, NULL,
                     err) != 0 ||
        copy_start(sink, sink->copy_direct, "starting COPY into the target table", err) != 0) {
        sink->broken = 1;
        spool_close(sink);
        cd_rs_layout_free(&sink->layout);
        return -1;
    }
    sink->mode = SINK_DIRECT;
    sink->have_layout = 1;
    return 0;
}

int cd_sink_row(cd_sink *sink, const char *const *values, const size_t *lengths,
                const char *row_ref, char **err)
{
    if (sink->broken || sink->merged) {
        *err = cd_xstrdup("cd_sink_row: the sink is no longer usable");
        return -1;
    }
    if (!sink->have_layout) {
        *err = cd_xstrdup("cd_sink_row: no columns declared (records_begin first)");
        return -1;
    }
    sink->counts.received++;
    const char *field = NULL;
    char *reason = NULL;
    if (cd_rs_encode_row(&sink->layout, sink->run_id, values, lengths, &sink->buf, &field,
                         &reason) != 0) {
        sink->counts.rejected++;
        if (sink->on_reject)
            sink->on_reject(sink->userdata, row_ref ? row_ref : "", field, reason);
        free(reason);
        return 1;
    }
    sink->counts.staged++;
    if (sink->buf.len >= SINK_CHUNK && flush(sink, err) != 0)
        return -1;
    return 0;
}

/* Ends the load's COPY. On the direct path a success settles the load
 * (returns 1: nothing to merge); a conflict falls back, and the COPY into
 * staging is ended too (returns 0: merge). -1 on failure (sink broken). */
static int end_load(cd_sink *sink, char **err)
{
    if (flush(sink, err) != 0)
        return -1;
    if (sink->mode == SINK_DIRECT) {
        char *reason = NULL;
        int outcome = copy_end(sink, "loading rows into the target table", &reason);
        if (direct_settle(sink, outcome, 0, reason, err) != 0)
            return -1;
        if (sink->mode == SINK_DIRECT) {
            spool_close(sink);
            cd_buf_free(&sink->buf);
            return sink_command(sink, "ending the direct COPY", "RELEASE SAVEPOINT cd_sink_direct",
                                0, NULL, err) == 0
                       ? 1
                       : -1;
        }
    }
    char *reason = NULL;
    if (copy_end(sink, "loading rows into the staging table", &reason) != 0) {
        *err = reason;
        sink->broken = 1;
        return -1;
    }
    cd_buf_free(&sink->buf); /* give the chunk back before the merge */
    return 0;
}

/* Appends "t.k1 = s.k1 AND t.k2 = s.k2" for the dataset's key. */
static void key_condition(const cd_sink *sink, cd_buf *b)
{
    const char *sep = "";
    for (size_t k = 0; k < sink->layout.nstage; k++) {
        const cd_rs_column *col = sink->layout.stage[k].col;
        if (col->flags & CD_RS_KEY) {
            cd_buf_printf(b, "%st.%s = s.%s", sep, col->name, col->name);
            sep = " AND ";
        }
    }
}

/* Deletes staged rows whose key comes again later; returns how many. */
static int drop_duplicates(cd_sink *sink, int64_t *dropped, char **err)
{
    cd_buf keys, sql;
    cd_buf_init(&keys), cd_buf_init(&sql);
    const char *sep = "";
    for (size_t k = 0; k < sink->layout.nstage; k++) {
        const cd_rs_column *col = sink->layout.stage[k].col;
        if (col->flags & CD_RS_KEY) {
            cd_buf_printf(&keys, "%s%s", sep, col->name);
            sep = ", ";
        }
    }
    /* The grouping is one hash aggregate over staging; when no key
     * repeats, d is empty and nothing else is read. */
    cd_buf_printf(&sql,
                  "DELETE FROM %s AS s USING (SELECT %s, max(seq) AS last_seq FROM %s "
                  "GROUP BY %s HAVING count(*) > 1) AS t WHERE ",
                  sink->stage, keys.data, sink->stage, keys.data);
    key_condition(sink, &sql);
    cd_buf_puts(&sql, " AND s.seq < t.last_seq");
    PGresult *res = cd_db_exec(sink->conn, "dropping rows repeated within the run",
                               PGRES_COMMAND_OK, sql.data, 0, NULL, err);
    cd_buf_free(&keys), cd_buf_free(&sql);
    if (!res) {
        sink->broken = 1;
        return -1;
    }
    *dropped = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return 0;
}

/* Builds the one-statement merge; $1 is the run id. */
static char *merge_sql(const cd_sink *sink)
{
    const char *table = sink->ds->table;
    cd_buf b, set_cols, set_vals, t_cmp, s_cmp, ins_cols, ins_vals;
    cd_buf_init(&b), cd_buf_init(&set_cols), cd_buf_init(&set_vals), cd_buf_init(&t_cmp);
    cd_buf_init(&s_cmp), cd_buf_init(&ins_cols), cd_buf_init(&ins_vals);
    for (size_t k = 0; k < sink->layout.nstage; k++) {
        const cd_rs_stage_col *sc = &sink->layout.stage[k];
        const char *name = sc->col->name;
        cd_buf_printf(&ins_cols, "%s, ", name);
        cd_buf_printf(&ins_vals, "s.%s, ", name);
        /* Keys are equal by the join; columns the driver did not declare
         * were defaults for new rows only and never overwrite a value. */
        if (!sc->declared || (sc->col->flags & CD_RS_KEY))
            continue;
        cd_buf_printf(&set_cols, "%s, ", name);
        cd_buf_printf(&set_vals, "s.%s, ", name);
        cd_buf_printf(&t_cmp, "%st.%s", t_cmp.len ? ", " : "", name);
        cd_buf_printf(&s_cmp, "%ss.%s", s_cmp.len ? ", " : "", name);
    }
    cd_buf_puts(&b, "WITH u AS (");
    if (t_cmp.len) {
        cd_buf_printf(&b,
                      "UPDATE %s AS t SET (%supdated_at, loaded_by_run_id) = "
                      "(%snow(), $1::bigint) FROM %s AS s WHERE ",
                      table, set_cols.data, set_vals.data, sink->stage);
        key_condition(sink, &b);
        cd_buf_printf(&b, " AND ROW(%s) IS DISTINCT FROM ROW(%s) RETURNING 1",
                      t_cmp.data, s_cmp.data);
    } else {
        cd_buf_puts(&b, "SELECT 1 WHERE false");
    }
    cd_buf_printf(&b,
                  "), i AS (INSERT INTO %s (%sloaded_by_run_id) SELECT %s$1::bigint FROM %s AS s "
                  "WHERE NOT EXISTS (SELECT 1 FROM %s AS t WHERE ",
                  table, ins_cols.data, ins_vals.data, sink->stage, table);
    key_condition(sink, &b);
    cd_buf_puts(&b, ") RETURNING 1) SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM i)");
    cd_buf_free(&set_cols), cd_buf_free(&set_vals), cd_buf_free(&t_cmp);
    cd_buf_free(&s_cmp), cd_buf_free(&ins_cols), cd_buf_free(&ins_vals);
    return cd_buf_take(&b);
}

/* The planner's estimate of the target's row count (what it would plan a
 * scan of it with), or -1 when EXPLAIN does not say. */
static int64_t target_estimate(cd_sink *sink, char **err)
{
    char *sql = cd_sprintf("EXPLAIN SELECT FROM %s", sink->ds->table);
    char *what = cd_sprintf("estimating the size of %s", sink->ds->table);
    PGresult *res = cd_db_exec(sink->conn, what, PGRES_TUPLES_OK, sql, 0, NULL, err);
    free(sql);
    free(what);
    if (!res) {
        sink->broken = 1;
        return -2;
    }
    /* "Seq Scan on t  (cost=0.00..11.80 rows=180 width=0)" */
    const char *rows = PQntuples(res) > 0 ? strstr(PQgetvalue(res, 0, 0), " rows=") : NULL;
    int64_t est = rows ? strtoll(rows + 6, NULL, 10) : -1;
    PQclear(res);
    return est;
}

/* Runs the merge statement under a savepoint, retrying after a unique
 * violation or a deadlock caused by a concurrent writer. */
static int run_merge(cd_sink *sink, int64_t *updated, int64_t *inserted, char **err)
{
    /* See "Plan of the merge" at the top. */
    int64_t est = target_estimate(sink, err);
    if (est < -1)
        return -1;
    int64_t merging = sink->counts.staged - sink->counts.duplicates;
    char *nestloop = NULL; /* the setting to restore after the merge */
    if (est >= 0 && est <= merging) {
        cd_debug("sink: the planner expects %" PRId64 " rows in %s, %" PRId64
                 " to merge: no nested loops for the merge",
                 est, sink->ds->table, merging);
        PGresult *res = cd_db_exec(sink->conn, "planning the merge", PGRES_TUPLES_OK,
                                   "SELECT current_setting('enable_nestloop')", 0, NULL, err);
        if (!res) {
            sink->broken = 1;
            return -1;
        }
        nestloop = cd_xstrdup(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (sink_command(sink, "planning the merge",
                         "SELECT set_config('enable_nestloop', 'off', true)", 0, NULL, err) != 0) {
            free(nestloop);
            return -1;
        }
    }

    char *sql = merge_sql(sink);
    char run_id[32];
    snprintf(run_id, sizeof run_id, "%" PRId64, sink->run_id);
    const char *params[1] = {run_id};
    char *what = cd_sprintf("merging staged rows into %s", sink->ds->table);
    int rc = -1;
    for (int attempt = 1; attempt <= SINK_MERGE_ATTEMPTS; attempt++) {
        if (sink_command(sink, what, "SAVEPOINT cd_sink_merge", 0, NULL, err) != 0)
            break;
        PGresult *res = PQexecParams(sink->conn, sql, 1, NULL, params, NULL, NULL, 0);
        if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            *updated = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            *inserted = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
            PQclear(res);
            rc = sink_command(sink, what, "RELEASE SAVEPOINT cd_sink_merge", 0, NULL, err);
            break;
        }
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (conflict_state(state) && attempt < SINK_MERGE_ATTEMPTS) {
            cd_info("sink: %s while merging into %s (a concurrent load wrote a key of this "
                    "run); merging again (attempt %d)",
                    strcmp(state, "40P01") == 0 ? "deadlock" : "unique violation",
                    sink->ds->table, attempt + 1);
            PQclear(res);
            if (sink_command(sink, what, "ROLLBACK TO SAVEPOINT cd_sink_merge", 0, NULL, err))
                break;
            continue;
        }
        *err = res ? cd_db_result_error(res, what) : cd_db_error(sink->conn, what);
        PQclear(res);
        sink->broken = 1;
        break;
    }
    free(what);
    free(sql);
    /* The caller's next statements in this transaction plan as usual. */
    if (rc == 0 && nestloop) {
        const char *setting[1] = {nestloop};
        rc = sink_command(sink, "planning the merge",
                          "SELECT set_config('enable_nestloop', $1, true)", 1, setting, err);
    }
    free(nestloop);
    return rc;
}

int cd_sink_merge(cd_sink *sink, cd_sink_counts *counts, char **err)
{
    if (sink->broken || sink->merged) {
        *err = cd_xstrdup("cd_sink_merge: the sink is no longer usable");
        return -1;
    }
    sink->merged = 1;
    if (!sink->have_layout) {
        /* The driver emitted nothing: no staging table, nothing to merge. */
        *counts = sink->counts;
        return 0;
    }
    int rc = end_load(sink, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        /* The direct COPY took every row: all new, none repeated. */
        sink->counts.direct = 1;
        sink->counts.inserted = sink->counts.staged;
        cd_debug("sink: %" PRId64 " rows copied straight into %s", sink->counts.inserted,
                 sink->ds->table);
        *counts = sink->counts;
        return 0;
    }

    /* The merge plan needs the row count and rough key distinctness, not
     * fine histograms: a 3000-row sample is a tenth of the default's cost. */
    char *sql = cd_sprintf("ANALYZE %s", sink->stage);
    rc = sink_command(sink, "analyzing the staging table",
                      "SET LOCAL default_statistics_target = 10", 0, NULL, err);
    if (rc == 0)
        rc = sink_command(sink, "analyzing the staging table", sql, 0, NULL, err);
    free(sql);
    if (rc != 0)
        return -1;

    if (drop_duplicates(sink, &sink->counts.duplicates, err) != 0)
        return -1;

    /* regclass resolves the table through search_path like the merge
     * itself, so the lock guards the very table that is merged into. */
    const char *params[1] = {sink->ds->table};
    char *what = cd_sprintf("locking %s for the merge", sink->ds->table);
    rc = sink_command(sink, what,
                      "SELECT pg_advisory_xact_lock(" SINK_STR(SINK_LOCK_CLASS)
                      ", $1::regclass::oid::int4)",
                      1, params, err);
    free(what);
    if (rc != 0)
        return -1;

    if (run_merge(sink, &sink->counts.updated, &sink->counts.inserted, err) != 0)
        return -1;
    sink->counts.unchanged = sink->counts.staged - sink->counts.duplicates -
                             sink->counts.inserted - sink->counts.updated;
    *counts = sink->counts;
    return 0;
}

void cd_sink_peek(const cd_sink *sink, cd_sink_counts *counts) { *counts = sink->counts; }

void cd_sink_free(cd_sink *sink)
{
    if (!sink)
        return;
    if (sink->copy_open) {
        /* Freed mid-load (driver failed, run cancelled): abort the COPY so
         * the connection accepts the caller's ROLLBACK. */
        if (PQputCopyEnd(sink->conn, "load abandoned") == 1) {
            PGresult *res;
            while ((res = PQgetResult(sink->conn)) != NULL)
                PQclear(res);
        }
    }
    spool_close(sink);
    cd_rs_layout_free(&sink->layout);
    if (sink->to_server != (iconv_t)-1)
        iconv_close(sink->to_server);
    free(sink->server_encoding);
    cd_buf_free(&sink->buf);
    free(sink->copy_direct);
    free(sink->copy_cols);
    free(sink);
}
