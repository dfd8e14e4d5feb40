/* ctl_cmds.c — connectorctl's commands, one function each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_cmds.h"
#include "util.h"

/* The API answered: print it as JSON or let the caller draw a table. */
static int done_json(const ctl *c, json_t *r)
{
    if (c->json)
        ctl_print_json(r);
    return 0;
}

/* Appends key=value to a query string, URL-escaping the value. */
static void add_query(cd_buf *q, const char *key, const char *value)
{
    if (!value)
        return;
    cd_buf_putc(q, q->len ? '&' : '?');
    cd_buf_puts(q, key);
    cd_buf_putc(q, '=');
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.')
            cd_buf_putc(q, (char)*p);
        else
            cd_buf_printf(q, "%%%02X", *p);
    }
}

int ctl_list(const ctl *c, const char *status, const char *type, const char *search)
{
    cd_buf q;
    cd_buf_init(&q);
    add_query(&q, "status", status);
    add_query(&q, "type", type);
    add_query(&q, "q", search);
    cd_buf_putc(&q, '\0');
    char *path = cd_sprintf("/connectors%s", q.data);
    cd_buf_free(&q);
    json_t *r = ctl_call(c, "GET", path, NULL, 60);
    free(path);
    if (!r)
        return CTL_API_ERROR;
    if (!c->json) {
        static const char *const h[] = {"ID", "NAME", "TYPE", "SOURCE", "STATUS", "RATE", "LAST RUN", "LAST STATUS", "NEXT RUN"};
        ctl_table *t = ctl_table_new(h, 9);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(r, "connectors"), i, e) {
            const char *keys[] = {"id", "name", "connector_type", "source_entity", "status", "success_rate", "last_run_at", "last_run_status", "next_run_at"};
            char *cells[9];
            for (int k = 0; k < 9; k++)
                cells[k] = ctl_text(e, keys[k]);
            char *rate = cd_sprintf("%s%%", cells[5]);
            free(cells[5]);
            cells[5] = rate;
            ctl_table_add(t, (const char *const *)cells);
            for (int k = 0; k < 9; k++)
                free(cells[k]);
        }
        ctl_table_print(t, 40);
        ctl_table_free(t);
        json_t *s = json_object_get(r, "summary");
        printf("\n%lld connectors: %lld active, %lld paused, %lld failed\n",
               (long long)json_integer_value(json_object_get(s, "total")),
               (long long)json_integer_value(json_object_get(s, "active")),
               (long long)json_integer_value(json_object_get(s, "paused")),
               (long long)json_integer_value(json_object_get(s, "failed")));
    }
    done_json(c, r);
    json_decref(r);
    return CTL_OK;
}

int ctl_show(const ctl *c, const char *id)
{
    char *path = cd_sprintf("/connectors/%s", id);
    json_t *r = ctl_call(c, "GET", path, NULL, 60);
    free(path);
    if (!r)
        return CTL_API_ERROR;
    if (!c->json) {
        json_t *conn = json_object_get(r, "connector");
        const char *key;
        json_t *v;
        json_object_foreach(conn, key, v) {
            if (strcmp(key, "connection_config") == 0 || strcmp(key, "last_run_details") == 0)
                continue;
            char *t = ctl_text(conn, key);
            printf("%-18s %s\n", key, t);
            free(t);
        }
        printf("connection_config:\n");
        json_t *cc = json_object_get(conn, "connection_config");
        if (cc)
            ctl_print_json(cc); /* its keys are not blanked: escaped there */
        else
            printf("{}\n");
    }
    done_json(c, r);
    json_decref(r);
    return CTL_OK;
}

static int write_connector(const ctl *c, const char *method, const char *path, const char *file)
{
    json_t *def = ctl_read_definition(file);
    if (!def)
        return CTL_USAGE;
    json_t *r = ctl_call(c, method, path, def, 120);
    json_decref(def);
    if (!r)
        return CTL_API_ERROR;
    if (!c->json) {
        json_t *conn = json_object_get(r, "connector");
        printf("%s: connector %s (%s)\n", json_string_value(json_object_get(r, "message")),
               json_string_value(json_object_get(conn, "id")),
               json_string_value(json_object_get(conn, "name")));
    }
    done_json(c, r);
    json_decref(r);
    return CTL_OK;
}

int ctl_create(const ctl *c, const char *file) { return write_connector(c, "POST", "/connectors", file); }

int ctl_edit(const ctl *c, const char *id, const char *file)
{
    char *path = cd_sprintf("/connectors/%s", id);
    int rc = write_connector(c, "PUT", path, file);
    free(path);
    return rc;
}

static int simple_post(const ctl *c, const char *method, const char *path, const char *what)
{
    json_t *r = ctl_call(c, method, path, NULL, 120);
    if (!r)
        return CTL_API_ERROR;
    if (!c->json) {
        const char *m = json_string_value(json_object_get(r, "message"));
        printf("%s\n", m ? m : what);
    }
    done_json(c, r);
    json_decref(r);
    return CTL_OK;
}

int ctl_delete(const ctl *c, const char *id, int force)
{
    char *path = cd_sprintf("/connectors/%s%s", id, force ? "?force=true" : "");
    int rc = simple_post(c, "DELETE", path, "deleted");
    free(path);
    return rc;
}

int ctl_pause(const ctl *c, const char *id, int pause)
{
    char *path = cd_sprintf("/connectors/%s/%s", id, pause ? "pause" : "resume");
    int rc = simple_post(c, "POST", path, pause ? "paused" : "resumed");
    free(path);
    return rc;
}

int ctl_test(const ctl *c, const char *id)
{
    char *path = cd_sprintf("/connectors/%s/test", id);
    long status = 0;
    json_t *r = NULL;
    int rc = ctl_request(c, "POST", path, NULL, 0, &status, &r);
    free(path);
    if (rc != 0)
        return CTL_API_ERROR;
    /* A test that ran and failed answers 200 with success false. */
    if (!r || !json_object_get(r, "run_id")) {
        ctl_print_error(status, r);
        json_decref(r);
        return CTL_API_ERROR;
    }
    /* Any other answer with a run_id has no outcome: the server stopped
     * waiting (504) or is shutting down (503) while the test run goes on,
     * or the run was deleted with its connector (410). Not a failed test. */
    if (status < 200 || status > 299) {
        if (c->json)
            ctl_print_json(r);
        ctl_print_error(status, r);
        long long run_id = (long long)json_integer_value(json_object_get(r, "run_id"));
        if (status != 410)
            fprintf(stderr,
                    "connectorctl: test run %lld has not finished; its outcome: connectorctl logs "
                    "%s %lld\n",
                    run_id, id, run_id);
        json_decref(r);
        return CTL_API_ERROR;
    }
    int ok = json_is_true(json_object_get(r, "success"));
    if (c->json) {
        ctl_print_json(r);
    } else {
        printf("test run %lld: %s: %s\n", (long long)json_integer_value(json_object_get(r, "run_id")),
               ok ? "passed" : "FAILED",
               json_string_value(json_object_get(r, ok ? "message" : "error")));
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(r, "steps"), i, s) {
            printf("  [%s] %s: %s\n", json_is_true(json_object_get(s, "passed")) ? "ok" : "FAIL",
                   json_string_value(json_object_get(s, "step")),
                   json_string_value(json_object_get(s, "detail")));
        }
    }
    json_decref(r);
    return ok ? CTL_OK : CTL_RUN_FAILED;
}

static int final_status(const char *s)
{
    return s && strcmp(s, "QUEUED") != 0 && strcmp(s, "RUNNING") != 0;
}

static int status_ok(const char *s)
{
    return s && (strcmp(s, "SUCCESS") == 0 || strcmp(s, "PARTIAL_SUCCESS") == 0);
}

int ctl_run(const ctl *c, const char *id, const char *date, int wait)
{
    json_t *body = json_object();
    if (date)
        json_object_set_new(body, "run_date", json_string(date));
    char *path = cd_sprintf("/connectors/%s/run", id);
    json_t *r = ctl_call(c, "POST", path, body, 60);
    free(path);
    json_decref(body);
    if (!r)
        return CTL_API_ERROR;
    long long run_id = (long long)json_integer_value(json_object_get(r, "run_id"));
    if (!wait) {
        if (!c->json)
            printf("run %lld queued\n", run_id);
        done_json(c, r);
        json_decref(r);
        return CTL_OK;
    }
    json_decref(r);
    char *rpath = cd_sprintf("/connectors/%s/runs/%lld?log_limit=1&errors_limit=1", id, run_id);
    json_t *run = NULL;
    for (;;) {
        json_t *g = ctl_follow(c, rpath, 60, CTL_FOLLOW_PATIENCE_S);
        if (!g) {
            free(rpath);
            return CTL_API_ERROR;
        }
        json_decref(run);
        run = json_incref(json_object_get(g, "run"));
        json_decref(g);
        if (final_status(json_string_value(json_object_get(run, "status"))))
            break;
        usleep(500000);
    }
    free(rpath);
    const char *st = json_string_value(json_object_get(run, "status"));
    int ok = status_ok(st);
    if (c->json) {
        ctl_print_json(run);
    } else {
        char *err = ctl_text(run, "error_message");
        printf("run %lld: %s, %lld records (%lld loaded, %lld failed)%s%s\n", run_id, st,
               (long long)json_integer_value(json_object_get(run, "records_processed")),
               (long long)json_integer_value(json_object_get(run, "records_success")),
               (long long)json_integer_value(json_object_get(run, "records_failed")),
               strcmp(err, "-") ? ": " : "", strcmp(err, "-") ? err : "");
        free(err);
    }
    json_decref(run);
    return ok ? CTL_OK : CTL_RUN_FAILED;
}

int ctl_history(const ctl *c, const char *id, const char *limit, const char *offset,
                const char *status, const char *type, const char *before)
{
    cd_buf q;
    cd_buf_init(&q);
    add_query(&q, "limit", limit);
    add_query(&q, "offset", offset);
    add_query(&q, "status", status);
    add_query(&q, "run_type", type);
    add_query(&q, "before", before);
    cd_buf_putc(&q, '\0');
    char *path = cd_sprintf("/connectors/%s/history%s", id, q.data);
    cd_buf_free(&q);
    json_t *r = ctl_call(c, "GET", path, NULL, 60);
    free(path);
    if (!r)
        return CTL_API_ERROR;
    if (!c->json) {
        static const char *const h[] = {"ID", "TYPE", "DATE", "STATUS", "SECONDS", "RECORDS", "OK", "FAILED", "STARTED", "ERROR"};
        static const char *const keys[] = {"id", "run_type", "run_date", "status", "duration_seconds", "records_processed", "records_success", "records_failed", "started_at", "error_message"};
        ctl_table *t = ctl_table_new(h, 10);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(r, "runs"), i, e) {
            char *cells[10];
            for (int k = 0; k < 10; k++)
                cells[k] = ctl_text(e, keys[k]);
            ctl_table_add(t, (const char *const *)cells);
            for (int k = 0; k < 10; k++)
                free(cells[k]);
        }
        ctl_table_print(t, 60);
        ctl_table_free(t);
        printf("\n%lld runs in all (showing %lld from offset %lld)\n",
               (long long)json_integer_value(json_object_get(r, "total")),
               (long long)json_array_size(json_object_get(r, "runs")),
               (long long)json_integer_value(json_object_get(r, "offset")));
        /* The next page by cursor: unlike --offset, it neither repeats nor
         * skips a run when runs are queued meanwhile. */
        const char *next = json_string_value(json_object_get(r, "next_before"));
        if (next)
            printf("older: connectorctl history %s --before %s\n", id, next);
    }
    done_json(c, r);
    json_decref(r);
    return CTL_OK;
}

int ctl_audit(const ctl *c, const char *id, const char *limit, const char *offset,
              const char *before)
{
    cd_buf q;
    cd_buf_init(&q);
    add_query(&q, "limit", limit);
    add_query(&q, "offset", offset);
    add_query(&q, "before", before);
    cd_buf_putc(&q, '\0');
    char *path = cd_sprintf("/connectors/%s/audit%s", id, q.data);
    cd_buf_free(&q);
    json_t *r = ctl_call(c, "GET", path, NULL, 60);
    free(path);
    if (!r)
        return CTL_API_ERROR;
    if (!c->json) {
        static const char *const h[] = {"ID", "AT", "ACTION", "ACTOR", "CHANGED"};
        static const char *const keys[] = {"id", "at", "action", "actor"};
        ctl_table *t = ctl_table_new(h, 5);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(r, "audit"), i, e) {
            char *cells[5];
            for (int k = 0; k < 4; k++)
                cells[k] = ctl_text(e, keys[k]);
            cd_buf ch;
            cd_buf_init(&ch);
            size_t j;
            json_t *f;
            json_array_foreach(json_object_get(e, "changed_fields"), j, f)
                cd_buf_printf(&ch, "%s%s", j ? "," : "", json_string_value(f) ? json_string_value(f) : "?");
            cells[4] = ch.len ? cd_buf_take(&ch) : cd_xstrdup("-");
            cd_buf_free(&ch);
            ctl_table_add(t, (const char *const *)cells);
            for (int k = 0; k < 5; k++)
                free(cells[k]);
        }
        ctl_table_print(t, 60);
        ctl_table_free(t);
        printf("\n%lld entries in all (showing %lld)\n",
               (long long)json_integer_value(json_object_get(r, "total")),
               (long long)json_array_size(json_object_get(r, "audit")));
        /* By cursor: every change adds an entry at the top, which would
         * shift an offset. */
        const char *next = json_string_value(json_object_get(r, "next_before"));
        if (next)
            printf("older: connectorctl audit %s --before %s\n", id, next);
    }
    done_json(c, r);
    json_decref(r);
    return CTL_OK;
}

/* Appends the rest of run.KEY's items (the log or the record errors), a
 * page of LIMIT at a time, to the first page in r: a run keeps up to 5000
 * log lines and 1000 record errors per attempt, so a retried run has more
 * than one page holds, and its last attempt's lines (what finally went
 * wrong) are on the last page. 0, or -1 when a request failed (printed). */
static int fetch_rest(const ctl *c, const char *id, const char *run_id, json_t *r,
                      const char *key, const char *param, long long limit)
{
    json_t *pg = json_object_get(json_object_get(r, "run"), key);
    json_t *items = json_object_get(pg, "items");
    if (!json_is_array(items))
        return 0;
    long long total = (long long)json_integer_value(json_object_get(pg, "total"));
    while ((long long)json_array_size(items) < total) {
        long long have = (long long)json_array_size(items);
        char *path = cd_sprintf("/connectors/%s/runs/%s?%s_limit=%lld&%s_offset=%lld&%s_limit=1",
                                id, run_id, param, limit, param, have,
                                strcmp(param, "log") == 0 ? "errors" : "log");
        json_t *more = ctl_call(c, "GET", path, NULL, 60);
        free(path);
        if (!more)
            return -1;
        json_t *next = json_object_get(json_object_get(json_object_get(more, "run"), key), "items");
        size_t n = json_array_size(next);
        json_array_extend(items, next);
        json_decref(more);
        if (n == 0) /* the run's rows were pruned meanwhile */
            break;
    }
    json_object_set_new(pg, "limit", json_integer((json_int_t)json_array_size(items)));
    return 0;
}

int ctl_logs(const ctl *c, const char *id, const char *run_id)
{
    char *path = cd_sprintf("/connectors/%s/runs/%s?log_limit=5000&errors_limit=1000", id, run_id);
    json_t *r = ctl_call(c, "GET", path, NULL, 60);
    free(path);
    if (!r)
        return CTL_API_ERROR;
    if (fetch_rest(c, id, run_id, r, "logs", "log", 5000) != 0 ||
        fetch_rest(c, id, run_id, r, "record_errors", "errors", 1000) != 0) {
        json_decref(r);
        return CTL_API_ERROR;
    }
    if (!c->json) {
        json_t *run = json_object_get(r, "run");
        char *err = ctl_text(run, "error_message");
        printf("run %s: %s %s for %s, attempt %lld of %lld%s%s\n", run_id,
               json_string_value(json_object_get(run, "run_type")),
               json_string_value(json_object_get(run, "status")),
               json_string_value(json_object_get(run, "run_date")),
               (long long)json_integer_value(json_object_get(run, "attempt")),
               (long long)json_integer_value(json_object_get(run, "max_attempts")),
               strcmp(err, "-") ? ": " : "", strcmp(err, "-") ? err : "");
        free(err);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(run, "attempts"), i, e) {
            char *m = ctl_text(e, "error_message");
            printf("  attempt %lld: %s %s\n", (long long)json_integer_value(json_object_get(e, "attempt")),
                   json_string_value(json_object_get(e, "status")), m);
            free(m);
        }
        printf("\nlog:\n");
        json_array_foreach(json_object_get(json_object_get(run, "logs"), "items"), i, e) {
            printf("%s %-7s %s\n", json_string_value(json_object_get(e, "logged_at")),
                   json_string_value(json_object_get(e, "level")),
                   json_string_value(json_object_get(e, "message")));
        }
        json_t *re = json_object_get(run, "record_errors");
        if (json_array_size(json_object_get(re, "items"))) {
            printf("\nrecord errors (%lld):\n", (long long)json_integer_value(json_object_get(re, "total")));
            json_array_foreach(json_object_get(re, "items"), i, e) {
                char *ref = ctl_text(e, "row_ref"), *f = ctl_text(e, "field");
                printf("  %s %s: %s\n", ref, f, json_string_value(json_object_get(e, "reason")));
                free(ref);
                free(f);
            }
        }
    }
    done_json(c, r);
    json_decref(r);
    return CTL_OK;
}

int ctl_plugins(const ctl *c)
{
    json_t *r = ctl_call(c, "GET", "/plugins", NULL, 60);
    if (!r)
        return CTL_API_ERROR;
    if (!c->json) {
        static const char *const h[] = {"DRIVER", "VERSION", "CATEGORY", "DATASET", "VENDOR", "FILE"};
        static const char *const keys[] = {"name", "version", "category", "dataset", "vendor", "file"};
        ctl_table *t = ctl_table_new(h, 6);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(r, "loaded"), i, e) {
            char *cells[6];
            for (int k = 0; k < 6; k++)
                cells[k] = ctl_text(e, keys[k]);
            ctl_table_add(t, (const char *const *)cells);
            for (int k = 0; k < 6; k++)
                free(cells[k]);
        }
        ctl_table_print(t, 40);
        ctl_table_free(t);
        json_t *refused = json_object_get(r, "refused");
        if (json_array_size(refused))
            printf("\nrefused:\n");
        json_array_foreach(refused, i, e) {
            printf("  %s: %s\n", json_string_value(json_object_get(e, "file")),
                   json_string_value(json_object_get(e, "reason")));
        }
    }
    done_json(c, r);
    json_decref(r);
    return CTL_OK;
}
