/*
 * api_runs.c — runs: queueing a manual run and a test (the test waits for
 * its outcome, see api_wait.c), the run history, one run with its
 * attempts, log and record errors, and cancelling a run. The runs
 * themselves are executed by serve's dispatcher, one child per run.
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "datetime.h"
#include "db.h"
#include "log.h"
#include "queue.h"
#include "util.h"

static const char PAUSED_MSG[] = "Cannot run paused connector. Resume it first.";

/* Maps cd_queue_* refusals to their statuses; anything else is a 500. */
static void queue_failed(cd_api_resp *r, char *err)
{
    /* Or deleted while the run was being queued: the run's foreign key
     * then fails (the delete committed after the INSERT read the
     * connector), which is the same 404, not a 500. */
    if (err && (strstr(err, "Connector not found") || strstr(err, CD_API_RUN_CONNECTOR_FKEY))) {
        free(err);
        cd_api_error(r, MHD_HTTP_NOT_FOUND, "Connector not found");
    } else if (err && strstr(err, "paused")) {
        free(err);
        cd_api_error(r, MHD_HTTP_BAD_REQUEST, PAUSED_MSG);
    } else if (err && strstr(err, "time zone") && strstr(err, "not recognized")) {
        /* The zone changed under cd_api_connector_runnable's check. */
        free(err);
        json_t *errs = json_array();
        json_array_append_new(errs, cd_api_field_error("schedule_timezone",
                                                       "is not a zone PostgreSQL knows"));
        cd_api_error_fields(r, MHD_HTTP_CONFLICT,
                            "The connector's schedule_timezone cannot be used to date its runs: "
                            "set a valid one with PUT /connectors/:id",
                            errs);
    } else {
        cd_api_internal_error(r, "queueing the run", err);
    }
}

static const char *triggered_by(cd_api_req *q, json_t *errors, const char *dflt)
{
    const char *t = cd_api_opt_string(q->body, "triggered_by", 100, errors);
    return t && *t ? t : dflt;
}

void cd_api_run_manual(cd_api_req *q, cd_api_resp *r, int64_t id)
{
    static const char *const allowed[] = {"run_date", "triggered_by", NULL};
    json_t *errors = json_array();
    if (q->body)
        cd_api_check_fields(q->body, allowed, errors);
    const char *date = cd_api_opt_string(q->body, "run_date", 10, errors);
    const char *why = NULL;
    if (date && cd_date_valid(date, strlen(date), &why) != 0)
        json_array_append_new(errors, cd_api_field_error("run_date", "must be a date YYYY-MM-DD"));
    const char *by = triggered_by(q, errors, q->actor);
    if (json_array_size(errors)) {
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Validation failed", errors);
        return;
    }
    json_decref(errors);
    char *status = NULL;
    if (cd_api_connector_runnable(q, r, id, &status) != 1)
        return;
    int paused = strcmp(status, "PAUSED") == 0;
    free(status);
    if (paused) {
        cd_api_error(r, MHD_HTTP_BAD_REQUEST, PAUSED_MSG);
        return;
    }
    char *err = NULL;
    if (date) {
        char today[11];
        if (cd_queue_connector_today(q->db, id, today, &err) != 0) {
            queue_failed(r, err); /* "Connector not found" when deleted meanwhile */
            return;
        }
        if (strcmp(date, today) > 0) {
            json_t *e = json_array();
            json_array_append_new(e, cd_api_field_error("run_date", "is in the future (in the connector's time zone)"));
            cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Validation failed", e);
            return;
        }
    }
    int64_t run_id = cd_queue_run(q->db, id, "MANUAL", date, by, &err);
    if (run_id < 0) {
        queue_failed(r, err);
        return;
    }
    cd_info("api: %s queued MANUAL run %lld of connector %lld", q->actor, (long long)run_id,
            (long long)id);
    cd_api_ok(r, MHD_HTTP_ACCEPTED,
              json_pack("{s:b, s:s, s:I, s:s}", "success", 1, "message", "Run queued", "run_id",
                        (json_int_t)run_id, "status", "QUEUED"));
}

void cd_api_run_test(cd_api_req *q, cd_api_resp *r, int64_t id)
{
    static const char *const allowed[] = {"triggered_by", NULL};
    json_t *errors = json_array();
    if (q->body)
        cd_api_check_fields(q->body, allowed, errors);
    const char *by = triggered_by(q, errors, q->actor);
    if (json_array_size(errors)) {
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Validation failed", errors);
        return;
    }
    json_decref(errors);
    if (cd_api_connector_runnable(q, r, id, NULL) != 1)
        return;
    char *err = NULL;
    int64_t run_id = cd_queue_run(q->db, id, "TEST", NULL, by, &err);
    if (run_id < 0) {
        queue_failed(r, err);
        return;
    }
    cd_api_wait_for_run(q, r, run_id);
}

/* "SUCCESS" style filters, or "" for an invalid value. */
static const char *filter(const cd_api_req *q, const char *key, const char *const *allowed,
                          json_t *errors, const char *message)
{
    const char *v = cd_api_query(q, key);
    if (!v || !*v)
        return NULL;
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(v, allowed[i]) == 0)
            return v;
    json_array_append_new(errors, cd_api_field_error(key, message));
    return NULL;
}

#define RUN_COLUMNS                                                                            \
    "id, connector_id, run_type, run_date, status, records_processed, records_success,"       \
    " records_failed, duration_seconds, error_message, details, started_at, completed_at,"    \
    " triggered_by, attempt, max_attempts, queued_at, backfill_id, cancel_requested_at"

/* A history cursor: where a page ended, in the listing's order (started_at
 * newest first, queued runs, which have none, before all; then id).
 * Written "S.ID": S the run's started_at in microseconds since the epoch,
 * or "q" for none. */
typedef struct history_cursor {
    char started[24];   /* microseconds as text, or "" for none */
    char id[24];
} history_cursor;

/* 1 when s is a cursor (filled into c), 0 when not. */
static int parse_cursor(const char *s, history_cursor *c)
{
    const char *dot = strchr(s, '.');
    if (!dot || dot == s)
        return 0;
    size_t n = (size_t)(dot - s);
    if (n == 1 && s[0] == 'q') {
        c->started[0] = '\0';
    } else {
        /* At most 16 digits: within 300 years of 1970, so that the
         * database's timestamp arithmetic cannot overflow (a 500). */
        size_t i = s[0] == '-' ? 1 : 0;
        if (n <= i || n - i > 16)
            return 0;
        for (size_t k = i; k < n; k++)
            if (s[k] < '0' || s[k] > '9')
                return 0;
        memcpy(c->started, s, n);
        c->started[n] = '\0';
    }
    int64_t id = cd_api_parse_id(dot + 1);
    if (id < 0)
        return 0;
    snprintf(c->id, sizeof c->id, "%lld", (long long)id);
    return 1;
}

static void render_history(cd_api_req *q, cd_api_resp *r, int64_t id, long long limit,
                           long long offset, const char *status, const char *type,
                           const history_cursor *before);

void cd_api_history(cd_api_req *q, cd_api_resp *r, int64_t id)
{
    static const char *const statuses[] = {"QUEUED", "RUNNING", "SUCCESS", "PARTIAL_SUCCESS",
                                           "FAILED", NULL};
    static const char *const types[] = {"SCHEDULED", "MANUAL", "TEST", "BACKFILL", NULL};
    json_t *errors = json_array();
    long long limit = cd_api_query_int(q, "limit", 30, 1, 1000, errors);
    long long offset = cd_api_query_int(q, "offset", 0, 0, 1000000000, errors);
    const char *status = filter(q, "status", statuses, errors,
                                "must be QUEUED, RUNNING, SUCCESS, PARTIAL_SUCCESS or FAILED");
    const char *type = filter(q, "run_type", types, errors,
                              "must be SCHEDULED, MANUAL, TEST or BACKFILL");
    /* before: the next_before of the page read last. Offsets shift as runs
     * are queued and start, so paging by offset while runs move shows a
     * run twice or skips one; a cursor does not. */
    const char *bs = cd_api_query(q, "before");
    history_cursor before;
    int has_before = bs && *bs;
    if (has_before && !parse_cursor(bs, &before)) {
        json_array_append_new(errors, cd_api_field_error("before", "must be the next_before of a page read before"));
        has_before = 0;
    }
    if (json_array_size(errors)) {
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Invalid query parameters", errors);
        return;
    }
    json_decref(errors);
    char *key = cd_sprintf("history\n%lld\n%lld\n%lld\n%s\n%s\n%s", (long long)id, limit, offset,
                           status ? status : "", type ? type : "",
                           has_before ? bs : "");
    cd_api_cache_ticket t;
    int hit = cd_api_cached_begin(q, r, key, id, &t);
    free(key);
    if (hit)
        return;
    render_history(q, r, id, limit, offset, status, type, has_before ? &before : NULL);
    cd_api_cached_end(q, r, &t, 0);
}

static void render_history(cd_api_req *q, cd_api_resp *r, int64_t id, long long limit,
                           long long offset, const char *status, const char *type,
                           const history_cursor *before)
{
    if (cd_api_connector_exists(q, r, id, NULL) != 1)
        return;
    char ids[24], lim[24], off[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    snprintf(lim, sizeof lim, "%lld", limit + 1); /* one more: is there a next page? */
    snprintf(off, sizeof off, "%lld", offset);
    /* $6, $7: the cursor, as (started_at, id) in this order: rows after it.
     * $6 NULL with $7 set: the cursor is a queued run (no started_at). */
    const char *p[] = {ids, status, type, lim, off,
                       before && before->started[0] ? before->started : NULL,
                       before ? before->id : NULL};
    char *err = NULL;
    PGresult *res = cd_db_exec(q->db, "reading the run history", PGRES_TUPLES_OK,
                               "SELECT " RUN_COLUMNS ","
                               "  CASE WHEN started_at IS NULL THEN 'q'"
                               /* exact on servers where extract() gives a double too */
                               "       ELSE (extract(epoch FROM date_trunc('second', started_at))::bigint * 1000000"
                               "             + extract(microseconds FROM started_at)::bigint % 1000000)::text"
                               "  END || '.' || id AS cursor"
                               " FROM sp_v2_connector_runs"
                               " WHERE connector_id = $1"
                               "   AND ($2::text IS NULL OR status = $2)"
                               "   AND ($3::text IS NULL OR run_type = $3)"
                               "   AND ($7::bigint IS NULL"
                               "        OR ($6::bigint IS NULL AND (started_at IS NOT NULL OR id < $7::bigint))"
                               "        OR ($6::bigint IS NOT NULL AND started_at IS NOT NULL"
                               "            AND (started_at, id) < ('epoch'::timestamptz"
                               "                 + $6::bigint * interval '1 microsecond', $7::bigint)))"
                               " ORDER BY started_at DESC, id DESC LIMIT $4 OFFSET $5",
                               7, p, &err);
    if (!res) {
        cd_api_internal_error(r, "reading the run history", err);
        return;
    }
    PGresult *cnt = cd_db_exec(q->db, "counting runs", PGRES_TUPLES_OK,
                               "SELECT count(*) FROM sp_v2_connector_runs"
                               " WHERE connector_id = $1"
                               "   AND ($2::text IS NULL OR status = $2)"
                               "   AND ($3::text IS NULL OR run_type = $3)",
                               3, p, &err);
    if (!cnt) {
        PQclear(res);
        cd_api_internal_error(r, "counting runs", err);
        return;
    }
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_reserve(&b, 256 + (size_t)PQntuples(res) * 700);
    cd_buf_puts(&b, "{\"success\":true,\"runs\":[");
    int more = PQntuples(res) > limit;
    int n = more ? (int)limit : PQntuples(res);
    int cursor_col = PQfnumber(res, "cursor");
    for (int i = 0; i < n; i++) {
        if (i)
            cd_buf_putc(&b, ',');
        cd_api_row_emit(&b, res, i, NULL, NULL);
        cd_buf_putc(&b, '}');
    }
    cd_buf_printf(&b, "],\"total\":%lld,\"limit\":%lld,\"offset\":%lld,\"next_before\":",
                  strtoll(PQgetvalue(cnt, 0, 0), NULL, 10), limit, offset);
    /* Each run's "cursor" is where a page ending with it ends;
     * next_before, where the next page starts (null: this is the last). */
    if (more && n > 0)
        cd_buf_printf(&b, "\"%s\"}", PQgetvalue(res, n - 1, cursor_col));
    else
        cd_buf_puts(&b, "null}");
    PQclear(res);
    PQclear(cnt);
    cd_api_ok(r, MHD_HTTP_OK, NULL);
    r->text = cd_buf_take(&b);
}

/* The run row if it belongs to the connector; answers 404 otherwise. */
static json_t *load_run(cd_api_req *q, cd_api_resp *r, int64_t id, int64_t run_id)
{
    if (cd_api_connector_exists(q, r, id, NULL) != 1)
        return NULL;
    char ids[24], rids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    snprintf(rids, sizeof rids, "%lld", (long long)run_id);
    const char *p[] = {rids, ids};
    char *err = NULL;
    PGresult *res = cd_db_exec(q->db, "reading the run", PGRES_TUPLES_OK,
                               "SELECT " RUN_COLUMNS ", slot_time, not_before, worker_id,"
                               " heartbeat_at, lease_expires_at, cancel_requested_by, timeout_seconds"
                               " FROM sp_v2_connector_runs WHERE id = $1 AND connector_id = $2",
                               2, p, &err);
    if (!res) {
        cd_api_internal_error(r, "reading the run", err);
        return NULL;
    }
    json_t *run = PQntuples(res) ? cd_api_row_json(res, 0) : NULL;
    PQclear(res);
    if (!run)
        cd_api_error(r, MHD_HTTP_NOT_FOUND, "Run not found");
    return run;
}

/* Rows of a paged child table of the run, with their total. */
static int page(cd_api_req *q, cd_api_resp *r, const char *what, const char *sql,
                const char *count_sql, const char *rid, long long limit, long long offset,
                json_t *into, const char *key)
{
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%lld", limit);
    snprintf(off, sizeof off, "%lld", offset);
    const char *p[] = {rid, lim, off};
    char *err = NULL;
    PGresult *res = cd_db_exec(q->db, what, PGRES_TUPLES_OK, sql, 3, p, &err);
    PGresult *cnt = res ? cd_db_exec(q->db, what, PGRES_TUPLES_OK, count_sql, 1, p, &err) : NULL;
    if (!res || !cnt) {
        PQclear(res);
        cd_api_internal_error(r, what, err);
        return -1;
    }
    json_object_set_new(into, key,
                        json_pack("{s:o, s:I, s:I, s:I}", "items", cd_api_rows_json(res), "total",
                                  (json_int_t)strtoll(PQgetvalue(cnt, 0, 0), NULL, 10), "limit",
                                  (json_int_t)limit, "offset", (json_int_t)offset));
    PQclear(res);
    PQclear(cnt);
    return 0;
}

void cd_api_run_get(cd_api_req *q, cd_api_resp *r, int64_t id, int64_t run_id)
{
    json_t *errors = json_array();
    long long log_limit = cd_api_query_int(q, "log_limit", 500, 1, 5000, errors);
    long long log_offset = cd_api_query_int(q, "log_offset", 0, 0, 1000000000, errors);
    long long err_limit = cd_api_query_int(q, "errors_limit", 50, 1, 1000, errors);
    long long err_offset = cd_api_query_int(q, "errors_offset", 0, 0, 1000000000, errors);
    if (json_array_size(errors)) {
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Invalid query parameters", errors);
        return;
    }
    json_decref(errors);
    json_t *run = load_run(q, r, id, run_id);
    if (!run)
        return;
    char rid[24];
    snprintf(rid, sizeof rid, "%lld", (long long)run_id);
    const char *p[] = {rid};
    char *err = NULL;
    PGresult *att = cd_db_exec(q->db, "reading the attempts", PGRES_TUPLES_OK,
                               "SELECT id, run_id, attempt, status, error_message, worker_id,"
                               "       started_at, completed_at"
                               "  FROM sp_v2_connector_run_attempts WHERE run_id = $1 ORDER BY attempt",
                               1, p, &err);
    if (!att) {
        json_decref(run);
        cd_api_internal_error(r, "reading the attempts", err);
        return;
    }
    json_object_set_new(run, "attempts", cd_api_rows_json(att));
    PQclear(att);
    if (page(q, r, "reading the run log",
             "SELECT id, attempt, logged_at, CASE level WHEN 3 THEN 'error' WHEN 4 THEN 'warning'"
             "       WHEN 6 THEN 'info' ELSE 'debug' END AS level, message"
             "  FROM sp_v2_connector_run_logs WHERE run_id = $1 ORDER BY id LIMIT $2 OFFSET $3",
             "SELECT count(*) FROM sp_v2_connector_run_logs WHERE run_id = $1", rid, log_limit,
             log_offset, run, "logs") != 0 ||
        page(q, r, "reading the record errors",
             "SELECT id, attempt, row_ref, field, reason, raw, created_at"
             "  FROM sp_v2_connector_record_errors WHERE run_id = $1 ORDER BY id LIMIT $2 OFFSET $3",
             "SELECT count(*) FROM sp_v2_connector_record_errors WHERE run_id = $1", rid, err_limit,
             err_offset, run, "record_errors") != 0) {
        json_decref(run);
        return;
    }
    cd_api_ok(r, MHD_HTTP_OK, json_pack("{s:b, s:o}", "success", 1, "run", run));
}

void cd_api_run_cancel(cd_api_req *q, cd_api_resp *r, int64_t id, int64_t run_id)
{
    if (cd_api_refuse_body_fields(q, r) != 0)
        return;
    json_t *run = load_run(q, r, id, run_id);
    if (!run)
        return;
    json_decref(run);
    char *err = NULL;
    int rc = cd_cancel_run(q->db, run_id, q->actor, &err);
    if (rc == CD_CANCEL_NOT_FOUND) {
        free(err); /* deleted with its connector since load_run read it */
        cd_api_error(r, MHD_HTTP_NOT_FOUND, "Run not found");
    } else if (rc < 0) {
        cd_api_internal_error(r, "cancelling the run", err);
    } else if (rc == 0) {
        cd_api_error(r, MHD_HTTP_CONFLICT, "Run already finished");
    } else {
        cd_info("api: %s cancelled run %lld", q->actor, (long long)run_id);
        cd_api_ok(r, MHD_HTTP_OK,
                  json_pack("{s:b, s:s, s:I, s:s}", "success", 1, "message",
                            rc == 1 ? "Run cancelled" : "Cancellation requested; the run is stopping",
                            "run_id", (json_int_t)run_id, "status",
                            rc == 1 ? "FAILED" : "RUNNING"));
    }
}
