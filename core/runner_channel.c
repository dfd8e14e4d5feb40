/* runner_channel.c — see runner_channel.h. */
#include "runner_channel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "log.h"

/* One line, all of it, or -1. A runner that writes faster than its worker
 * reads waits here: the pipe is the back-pressure. */
static int write_line(int fd, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!text)
        return -1;
    size_t len = strlen(text);
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_append(&b, text, len);
    cd_buf_putc(&b, '\n');
    free(text);
    size_t off = 0;
    int rc = 0;
    while (off < b.len) {
        ssize_t n = write(fd, b.data + off, b.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = -1;
            break;
        }
        off += (size_t)n;
    }
    cd_buf_free(&b);
    return rc;
}

int cd_channel_send_log(int fd, int level, uint32_t attempt, const char *message)
{
    json_t *msg = json_pack("{s:{s:i, s:I, s:s}}", "log", "level", level, "attempt",
                            (json_int_t)attempt, "message", message ? message : "");
    if (!msg)
        return -1;
    int rc = write_line(fd, msg);
    json_decref(msg);
    return rc;
}

int cd_channel_send_verdict(int fd, json_t *verdict)
{
    json_t *msg = json_pack("{s:O}", "verdict", verdict);
    if (!msg)
        return -1;
    int rc = write_line(fd, msg);
    json_decref(msg);
    return rc;
}

static char *opt_string(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? cd_xstrdup(v) : NULL;
}

int cd_channel_read_row(int fd, cd_run_row *row, char **err)
{
    memset(row, 0, sizeof *row);
    cd_buf b;
    cd_buf_init(&b);
    char chunk[16384];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, chunk, sizeof chunk, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *err = cd_sprintf("reading the run from the worker: %s", strerror(errno));
            cd_buf_free(&b);
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        cd_buf_append(&b, chunk, (size_t)n);
        off += n;
    }
    close(fd);
    json_error_t jerr;
    json_t *o = json_loadb(b.data ? b.data : "", b.len, 0, &jerr);
    cd_buf_free(&b);
    if (!json_is_object(o)) {
        *err = cd_sprintf("the run from the worker is not a JSON object: %s", jerr.text);
        json_decref(o);
        return -1;
    }
    row->id = (int64_t)json_integer_value(json_object_get(o, "id"));
    row->connector_id = (int64_t)json_integer_value(json_object_get(o, "connector_id"));
    row->attempt = (int)json_integer_value(json_object_get(o, "attempt"));
    row->max_attempts = (int)json_integer_value(json_object_get(o, "max_attempts"));
    row->timeout_seconds = (int)json_integer_value(json_object_get(o, "timeout_seconds"));
    row->run_type = opt_string(o, "run_type");
    row->status = opt_string(o, "status");
    row->run_date = opt_string(o, "run_date");
    row->connector_name = opt_string(o, "connector_name");
    row->connector_type = opt_string(o, "connector_type");
    row->connector_status = opt_string(o, "connector_status");
    row->source_entity = opt_string(o, "source_entity");
    row->driver = opt_string(o, "driver");
    row->timezone = opt_string(o, "timezone");
    row->config_json = opt_string(o, "config_json");
    row->sync_cursor = opt_string(o, "sync_cursor");
    json_decref(o);
    if (row->id <= 0 || !row->run_type || !row->status || !row->driver ||
        !row->connector_type || !row->timezone) {
        *err = cd_xstrdup("the run from the worker lacks required fields");
        cd_run_row_free(row);
        return -1;
    }
    return 0;
}

static void set_opt(json_t *o, const char *key, const char *v)
{
    json_object_set_new(o, key, v ? json_string(v) : json_null());
}

char *cd_channel_row_json(const cd_run_row *row)
{
    json_t *o = json_pack("{s:I, s:I, s:i, s:i, s:i}", "id", (json_int_t)row->id,
                          "connector_id", (json_int_t)row->connector_id, "attempt", row->attempt,
                          "max_attempts", row->max_attempts, "timeout_seconds",
                          row->timeout_seconds);
    set_opt(o, "run_type", row->run_type);
    set_opt(o, "status", row->status);
    set_opt(o, "run_date", row->run_date);
    set_opt(o, "connector_name", row->connector_name);
    set_opt(o, "connector_type", row->connector_type);
    set_opt(o, "connector_status", row->connector_status);
    set_opt(o, "source_entity", row->source_entity);
    set_opt(o, "driver", row->driver);
    set_opt(o, "timezone", row->timezone);
    set_opt(o, "config_json", row->config_json);
    set_opt(o, "sync_cursor", row->sync_cursor);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

int cd_channel_fill(int fd, cd_buf *in)
{
    char chunk[16384];
    for (;;) {
        if (in->len >= CD_CHANNEL_MAX_MESSAGE)
            return 2;
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n > 0) {
            cd_buf_append(in, chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        return 0;
    }
}

json_t *cd_channel_next(cd_buf *in)
{
    for (;;) {
        char *nl = in->len ? memchr(in->data, '\n', in->len) : NULL;
        if (!nl)
            return NULL;
        size_t len = (size_t)(nl - in->data);
        json_error_t jerr;
        json_t *msg = json_loadb(in->data, len, 0, &jerr);
        memmove(in->data, nl + 1, in->len - len - 1);
        in->len -= len + 1;
        if (json_is_object(msg))
            return msg;
        cd_warn("a runner sent a malformed message (%s); ignored", jerr.text);
        json_decref(msg);
    }
}

int cd_channel_store_logs(PGconn *conn, json_t *logs, char **err)
{
    if (json_array_size(logs) == 0)
        return 0;
    char *text = json_dumps(logs, JSON_COMPACT);
    if (!text) {
        *err = cd_xstrdup("storing run log lines: cannot encode them");
        return -1;
    }
    const char *p[] = {text};
    /* One statement for every line that arrived in one round of the
     * worker's loop, from all its runners: a chatty driver, or many short
     * runs, cost one round trip per round, not one per line or per run. */
    int rc = cd_db_command(conn, "storing run log lines",
                           "INSERT INTO sp_v2_connector_run_logs (run_id, attempt, level, message)"
                           " SELECT (e->>'run_id')::bigint, (e->>'attempt')::int,"
                           " (e->>'level')::int, COALESCE(e->>'message', '')"
                           " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS l(e, n)"
                           /* A run deleted under its runner (a forced
                            * delete of its connector that the runner
                            * outlived) takes its lines along; they must
                            * not fail the other runs' lines. */
                           " WHERE EXISTS (SELECT 1 FROM sp_v2_connector_runs r"
                           "               WHERE r.id = (e->>'run_id')::bigint)"
                           " ORDER BY n",
                           1, p, err);
    free(text);
    return rc;
}

json_t *cd_channel_finalize_outcome(int64_t run_id, const json_t *v, char **err)
{
    const char *op = json_string_value(json_object_get(v, "op"));
    if (!op || strcmp(op, "finalize") != 0) {
        *err = cd_sprintf("a runner sent an unknown verdict \"%s\"", op ? op : "");
        return NULL;
    }
    const char *status = json_string_value(json_object_get(v, "status"));
    if (!status || (strcmp(status, "SUCCESS") != 0 && strcmp(status, "PARTIAL_SUCCESS") != 0 &&
                    strcmp(status, "FAILED") != 0)) {
        *err = cd_xstrdup("a runner sent a verdict without a final status");
        return NULL;
    }
    json_t *details = json_object_get(v, "details");
    cd_run_outcome o = {0};
    o.status = status;
    o.error_message = json_string_value(json_object_get(v, "error_message"));
    o.details = json_is_object(details) ? details : NULL;
    o.processed = (int64_t)json_integer_value(json_object_get(v, "processed"));
    o.success = (int64_t)json_integer_value(json_object_get(v, "success"));
    o.failed = (int64_t)json_integer_value(json_object_get(v, "failed"));
    o.cursor_dirty = json_is_true(json_object_get(v, "cursor_dirty"));
    o.cursor = json_string_value(json_object_get(v, "cursor"));
    o.attempt = (int)json_integer_value(json_object_get(v, "attempt"));
    json_t *outcome = cd_run_outcome_json(run_id, &o);
    if (!outcome)
        *err = cd_xstrdup("a runner sent a verdict that cannot be encoded");
    return outcome;
}

int cd_channel_apply_verdict(PGconn *conn, int64_t run_id, const json_t *v, char **err)
{
    const char *op = json_string_value(json_object_get(v, "op"));
    if (op && strcmp(op, "requeue") == 0) {
        json_t *details = json_object_get(v, "details");
        return cd_runs_requeue(conn, run_id, (int)json_integer_value(json_object_get(v, "attempt")),
                               json_string_value(json_object_get(v, "error_message")),
                               json_is_object(details) ? details : NULL,
                               json_number_value(json_object_get(v, "delay_seconds")),
                               json_is_true(json_object_get(v, "consume_attempt")), err);
    }
    json_t *outcome = cd_channel_finalize_outcome(run_id, v, err);
    if (!outcome)
        return -1;
    json_t *one = json_array();
    json_array_append_new(one, outcome);
    int done = cd_runs_finalize_many(conn, one, err);
    json_decref(one);
    return done;
}
