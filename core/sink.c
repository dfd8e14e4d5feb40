/*
 * sink.c — the record sink (see sink.h).
 *
 * Path of a row: cd_sink_row validates and encodes it (record_schema.c)
 * into a COPY text buffer that is shipped to a temporary staging table in
 * chunks, so the client's memory stays flat whatever the row count.
 * cd_sink_merge then, inside the caller's transaction:
 *   1. ends the COPY and ANALYZEs staging, so the planner sizes the joins
 *      below from real row counts and picks hash joins for big loads;
 *   2. drops every staged row whose key repeats later in the run (the last
 *      one wins), counted as duplicates;
 *   3. takes a transaction-scoped advisory lock on the target table, so
 *      two connectd loads into one table merge one after the other;
 *   4. runs one statement whose UPDATE (rows whose data differ) and
 *      INSERT (keys not there) share a snapshot: every staged row is
 *      either compared or inserted, never neither, so the counts are exact
 *      and unchanged rows are not written at all (a repeat load writes
 *      nothing). A plain anti-join INSERT avoids the per-row speculative
 *      insertion of ON CONFLICT; if a writer that ignores the lock inserts
 *      one of our keys meanwhile, the unique index stops us and the
 *      statement is retried under a savepoint with a fresh snapshot, in
 *      which that row is compared instead.
 */
#include "sink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "record_schema.h"
#include "util.h"

/* COPY data is shipped once this much is buffered: large enough that
 * per-call overhead vanishes, small enough to stay in the CPU caches. */
#define SINK_CHUNK (128u * 1024u)

/* First half of the two-key advisory lock on a target table ("CDSK");
 * the second half is the table's oid. The two-key form lives in its own
 * lock space, apart from the single-bigint keys other modules use. */
#define SINK_LOCK_CLASS 1129534283
#define SINK_STR2(x) #x
#define SINK_STR(x) SINK_STR2(x)

/* How often the merge is retried after a concurrent insert of one of our
 * keys by a writer that does not take the advisory lock. */
#define SINK_MERGE_ATTEMPTS 5

struct cd_sink {
    PGconn *conn;
    const cd_rs_dataset *ds;
    int64_t run_id;
    cd_sink_reject_fn on_reject;
    void *userdata;
    cd_rs_layout layout;
    int have_layout; /* cd_sink_columns succeeded: staging exists, COPY is open */
    int broken;      /* a database error happened: only cd_sink_free is allowed */
    int merged;
    int copy_open;   /* the connection is in COPY IN state */
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
     * as UTF-8 too, or its length checks and ours would disagree. */
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
    cd_buf_init(&sink->buf);
    snprintf(sink->stage, sizeof sink->stage, "cd_sink_stage_%u", ++serial);

    /* The hash joins of the merge hold the staging rows; with the default
     * 4MB they would spill to disk in batches. Only this transaction. */
    if (sink_command(sink, "cd_sink_open: setting work_mem", "SET LOCAL work_mem = '256MB'", 0,
                     NULL, err) != 0 ||
        try_temp_buffers(sink, err) != 0) {
        cd_sink_free(sink);
        return NULL;
    }
    return sink;
}

int cd_sink_columns(cd_sink *sink, const char *const *names, size_t n, char **err)
{
    if (sink->broken || sink->have_layout || sink->counts.received) {
        *err = cd_xstrdup("cd_sink_columns: columns can be declared once, before the first row");
        return -1;
    }
    if (cd_rs_layout_init(&sink->layout, sink->ds, names, n, err) != 0)
        return -1;

    cd_buf create, copy;
    cd_buf_init(&create), cd_buf_init(&copy);
    cd_buf_printf(&create, "CREATE TEMP TABLE %s (seq bigint NOT NULL", sink->stage);
    cd_buf_printf(&copy, "COPY %s (seq", sink->stage);
    for (size_t k = 0; k < sink->layout.nstage; k++) {
        const cd_rs_column *col = sink->layout.stage[k].col;
        cd_buf_printf(&create, ", %s %s", col->name, col->sql_type);
        cd_buf_printf(&copy, ", %s", col->name);
    }
    cd_buf_puts(&create, ") ON COMMIT DROP");
    cd_buf_puts(&copy, ") FROM STDIN");

    int rc = -1;
    if (sink_command(sink, "creating the staging table", create.data, 0, NULL, err) == 0) {
        PGresult *res = PQexec(sink->conn, copy.data);
        if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
            *err = res ? cd_db_result_error(res, "starting COPY into the staging table")
                       : cd_db_error(sink->conn, "starting COPY into the staging table");
            sink->broken = 1;
        } else {
            sink->have_layout = 1;
            sink->copy_open = 1;
            rc = 0;
        }
        PQclear(res);
    }
    cd_buf_free(&create), cd_buf_free(&copy);
    if (rc != 0)
        cd_rs_layout_free(&sink->layout);
    return rc;
}

/* Ships the buffered COPY text. 0 or -1 (sink broken). */
static int flush(cd_sink *sink, char **err)
{
    if (sink->buf.len == 0)
        return 0;
    if (sink->buf.len > (size_t)INT32_MAX || PQputCopyData(sink->conn, sink->buf.data,
                                                           (int)sink->buf.len) != 1) {
        *err = cd_db_error(sink->conn, "sending rows to the staging table");
        sink->broken = 1;
        return -1;
    }
    cd_buf_reset(&sink->buf);
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
    if (cd_rs_encode_row(&sink->layout, sink->counts.staged + 1, values, lengths, &sink->buf,
                         &field, &reason) != 0) {
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

/* Ends the COPY and checks that the server took every line. */
static int end_copy(cd_sink *sink, char **err)
{
    if (flush(sink, err) != 0)
        return -1;
    sink->copy_open = 0;
    if (PQputCopyEnd(sink->conn, NULL) != 1) {
        *err = cd_db_error(sink->conn, "ending COPY into the staging table");
        sink->broken = 1;
        return -1;
    }
    int rc = 0;
    PGresult *res;
    while ((res = PQgetResult(sink->conn)) != NULL) {
        if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK) {
            /* The server's CONTEXT names the line, which is the row's seq. */
            *err = cd_db_result_error(res, "loading rows into the staging table");
            rc = -1;
        }
        PQclear(res);
    }
    if (rc == 0) {
        cd_buf_free(&sink->buf); /* give the chunk back before the merge */
    } else {
        sink->broken = 1;
    }
    return rc;
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

/* Runs the merge statement under a savepoint, retrying after a unique
 * violation caused by a concurrent writer. */
static int run_merge(cd_sink *sink, int64_t *updated, int64_t *inserted, char **err)
{
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
        if (state && strcmp(state, "23505") == 0 && attempt < SINK_MERGE_ATTEMPTS) {
            cd_info("sink: a concurrent writer inserted a key of this run into %s; "
                    "merging again (attempt %d)", sink->ds->table, attempt + 1);
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
    if (end_copy(sink, err) != 0)
        return -1;

    /* The merge plan needs the row count and rough key distinctness, not
     * fine histograms: a 3000-row sample is a tenth of the default's cost. */
    char *sql = cd_sprintf("ANALYZE %s", sink->stage);
    int rc = sink_command(sink, "analyzing the staging table",
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
    cd_rs_layout_free(&sink->layout);
    cd_buf_free(&sink->buf);
    free(sink);
}
