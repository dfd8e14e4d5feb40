/* host.c — the cd_host_api table the runner hands to drivers. See host.h. */
#include "host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "db.h"
#include "record_schema.h"
#include "runner_channel.h"
#include "host_files.h"
#include "log.h"
#include "secret_guard.h"
#include "util.h"

/* Record errors are written in batches: one round trip per batch, not per
 * bad row. */
#define ERROR_BATCH 100
/* What a record error keeps of the raw input. */
#define RAW_KEEP 512
#define TEXT_KEEP 2000

int64_t cd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return c ? 1 : 0;
    size_t len;
    unsigned min;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

char *cd_utf8_clean(const char *s, size_t len, size_t max)
{
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_reserve(&b, len < max ? len : max);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t k = utf8_seq(p + i, len - i);
        size_t take = k ? k : 1;
        if (b.len + (k ? k : 1) > max)
            break;
        if (k)
            cd_buf_append(&b, p + i, k);
        else
            cd_buf_putc(&b, '?');
        i += take;
    }
    return cd_buf_take(&b);
}

/* Scrubbed, valid UTF-8, bounded copy of driver-supplied text. Scrubbed
 * before it is cut: a secret crossing the bound would otherwise survive as
 * its first characters. */
static char *clean_text(cd_run *run, const char *s, size_t len, size_t max)
{
    char *u = cd_utf8_clean(s, len, max + cd_secret_longest(run->secrets));
    char *scrubbed = cd_secret_scrub(run->secrets, u);
    free(u);
    char *cut = cd_utf8_clean(scrubbed, strlen(scrubbed), max);
    free(scrubbed);
    return cut;
}

static void free_columns(cd_run *run);

static __thread char *init_error;

void cd_host_clear_init_error(void)
{
    free(init_error);
    init_error = NULL;
}

char *cd_host_take_init_error(void)
{
    char *e = init_error;
    init_error = NULL;
    return e;
}

static void host_init_error(const char *fmt, ...) CD_PRINTF(1, 2);
static void host_init_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = cd_vsprintf(fmt, ap);
    va_end(ap);
    free(init_error);
    init_error = cd_utf8_clean(m, strlen(m), TEXT_KEEP);
    free(m);
}

void cd_run_init(cd_run *run)
{
    run->details = json_object();
    run->steps = json_array();
    run->config_errors = json_array();
    run->max_record_errors = 1000;
    run->max_log_lines = 5000;
    run->channel_fd = -1;
    run->info.struct_size = (uint32_t)sizeof run->info;
    run->http.struct_size = (uint32_t)sizeof run->http;
    run->http.connect_timeout_s = 30;
    run->http.request_timeout_s = 300;
    run->http.verify_tls = 1;
    run->http.user_agent = "connectord/" CD_VERSION;
}

static void free_pending(cd_run *run)
{
    for (size_t i = 0; i < run->npending; i++) {
        free(run->pending[i].row_ref);
        free(run->pending[i].field);
        free(run->pending[i].reason);
        free(run->pending[i].raw);
    }
    run->npending = 0;
}

int cd_run_flush_errors(cd_run *run)
{
    if (!run->npending)
        return 0;
    if (run->info.run_id <= 0 || !cd_run_ctl(run)) {
        free_pending(run);
        return 0;
    }
    /* One multi-row INSERT with parameters: no text escaping to get wrong. */
    cd_buf sql;
    cd_buf_init(&sql);
    cd_buf_puts(&sql, "INSERT INTO sp_v2_connector_record_errors"
                      " (run_id, attempt, row_ref, field, reason, raw) VALUES ");
    size_t nparams = 2 + run->npending * 4;
    const char **params = cd_xcalloc(nparams, sizeof *params);
    char run_id[32], attempt[16];
    snprintf(run_id, sizeof run_id, "%lld", (long long)run->info.run_id);
    snprintf(attempt, sizeof attempt, "%u", (unsigned)run->info.attempt);
    params[0] = run_id;
    params[1] = attempt;
    for (size_t i = 0; i < run->npending; i++) {
        size_t b = 3 + i * 4;
        cd_buf_printf(&sql, "%s($1, $2::int, $%zu, $%zu, $%zu, $%zu)", i ? ", " : "", b, b + 1,
                      b + 2, b + 3);
        params[b - 1] = run->pending[i].row_ref;
        params[b] = run->pending[i].field;
        params[b + 1] = run->pending[i].reason;
        params[b + 2] = run->pending[i].raw;
    }
    char *err = NULL;
    int rc = cd_db_command(run->ctl, "storing record errors", sql.data, (int)nparams, params,
                           &err);
    if (rc != 0) {
        cd_error("run %lld: %s", (long long)run->info.run_id, err);
        free(err);
    } else {
        run->errors_stored += (int64_t)run->npending;
    }
    free(params);
    cd_buf_free(&sql);
    free_pending(run);
    return rc;
}

void cd_run_release(cd_run *run)
{
    cd_run_flush_errors(run);
    free_columns(run);
    free(run->pending);
    run->pending = NULL;
    json_decref(run->details);
    json_decref(run->steps);
    json_decref(run->config_errors);
    free(run->message);
    free(run->fatal);
    free(run->cursor_old);
    free(run->cursor_new);
    run->details = run->steps = run->config_errors = NULL;
    run->message = run->fatal = run->cursor_old = run->cursor_new = NULL;
}

/* Queues one record error (already cleaned). Takes ownership. */
static void add_record_error(cd_run *run, char *row_ref, char *field, char *reason, char *raw)
{
    if (run->errors_stored + (int64_t)run->npending >= run->max_record_errors) {
        run->errors_dropped++;
        free(row_ref), free(field), free(reason), free(raw);
        return;
    }
    if (!run->pending)
        run->pending = cd_xcalloc(ERROR_BATCH, sizeof *run->pending);
    run->pending[run->npending++] = (cd_record_error){row_ref, field, reason, raw};
    if (run->npending == ERROR_BATCH)
        cd_run_flush_errors(run);
}

/* --- the table entries --- */

static void host_log(cd_run *run, cd_log_level level, const char *fmt, ...) CD_PRINTF(3, 4);
static void host_log(cd_run *run, cd_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *raw = cd_vsprintf(fmt, ap);
    va_end(ap);
    char *msg = clean_text(run, raw, strlen(raw), TEXT_KEEP);
    free(raw);
    if (level < CD_LOG_ERROR)
        level = CD_LOG_ERROR;
    if (level > CD_LOG_DEBUG)
        level = CD_LOG_DEBUG;
    /* The journal gets no more of a run than its log does: a driver
     * logging in a loop must not flood the service's journal. */
    if (run->max_log_lines <= 0 || run->echoed_lines < run->max_log_lines)
        cd_log(level, "run %lld: %s", (long long)run->info.run_id, msg);
    else if (run->echoed_lines == run->max_log_lines)
        cd_log(CD_LOG_WARNING, "run %lld: more log lines than a run keeps (%lld): "
                               "the rest are counted, not written",
               (long long)run->info.run_id, (long long)run->max_log_lines);
    run->echoed_lines++;
    if (run->channel_fd >= 0 && run->info.run_id > 0) {
        /* The worker stores it on its connection (runner_channel.h). */
        if (run->log_lines < run->max_log_lines)
            cd_channel_send_log(run->channel_fd, (int)level, run->info.attempt, msg);
        run->log_lines++;
    } else if (run->ctl && run->info.run_id > 0) {
        if (run->log_lines < run->max_log_lines) {
            char id[32], att[16], lvl[8];
            snprintf(id, sizeof id, "%lld", (long long)run->info.run_id);
            snprintf(att, sizeof att, "%u", (unsigned)run->info.attempt);
            snprintf(lvl, sizeof lvl, "%d", (int)level);
            const char *p[] = {id, att, lvl, msg};
            char *err = NULL;
            if (cd_db_command(run->ctl, "storing a run log line",
                              "INSERT INTO sp_v2_connector_run_logs (run_id, attempt, level, message)"
                              " VALUES ($1, $2, $3, $4)",
                              4, p, &err) != 0) {
                cd_error("run %lld: %s", (long long)run->info.run_id, err);
                free(err);
            }
        }
        run->log_lines++;
    }
    free(msg);
}

static const cd_run_info *host_run_info(cd_run *run) { return &run->info; }

static void on_reject(void *userdata, const char *row_ref, const char *field, const char *reason)
{
    cd_run *run = userdata;
    add_record_error(run, row_ref ? clean_text(run, row_ref, strlen(row_ref), 500) : NULL,
                     field ? cd_xstrdup(field) : NULL,
                     clean_text(run, reason, strlen(reason), TEXT_KEEP), NULL);
}

/* The message becomes the run's error_message: made valid UTF-8 and
 * scrubbed of secrets like every other text of the driver's, since it may
 * quote what the driver passed (column names, a database error). */
static void set_fatal_rc(cd_run *run, char *msg, int rc)
{
    if (!run->fatal) {
        run->fatal = clean_text(run, msg, strlen(msg), TEXT_KEEP);
        run->fatal_rc = rc;
    }
    free(msg);
}

static void set_fatal(cd_run *run, char *msg) { set_fatal_rc(run, msg, CD_ERR_PERMANENT); }

PGconn *cd_run_ctl(cd_run *run)
{
    if (run->ctl || !run->ctl_url || run->ctl_failed)
        return run->ctl;
    char *err = NULL;
    run->ctl = cd_db_connect(run->ctl_url, "connectord-runner", &err);
    run->db_connections++;
    if (!run->ctl) {
        run->ctl_failed = 1;
        cd_error("run %lld: %s", (long long)run->info.run_id, err);
        free(err);
    }
    return run->ctl;
}

int cd_run_open_data(cd_run *run, char **err)
{
    if (run->data)
        return 0;
    run->data = cd_db_connect(run->data_url, "connectord-runner-data", err);
    run->db_connections++;
    if (!run->data)
        return -1;
    /* Timestamps without a zone are the connector's local time. */
    const char *p[] = {run->info.timezone};
    if (cd_db_command(run->data, "setting the connector's time zone",
                      "SELECT set_config('TimeZone', $1, false)", 1, p, err) != 0 ||
        cd_db_command(run->data, "starting the load transaction", "BEGIN", 0, NULL, err) != 0) {
        PQfinish(run->data);
        run->data = NULL;
        return -1;
    }
    return 0;
}

static void free_columns(cd_run *run)
{
    for (size_t i = 0; i < run->ncolumns; i++)
        free(run->columns[i]);
    free(run->columns);
    run->columns = NULL;
    run->ncolumns = 0;
}

/* Checks the declared columns now (a driver learns of a bad column at once)
 * and keeps them for the sink, which opens with the first record. */
static int host_records_begin(cd_run *run, const char *const *columns, size_t ncolumns)
{
    if (run->after_commit) {
        host_log(run, CD_LOG_ERROR, "records_begin called after the commit: refused");
        return CD_ERR_PERMANENT;
    }
    if (run->info.kind == CD_RUN_TEST || run->info.kind == CD_RUN_VALIDATE) {
        host_log(run, CD_LOG_ERROR, "records_begin called during %s: records are not loaded",
                 run->info.kind == CD_RUN_TEST ? "a test" : "validation");
        return CD_ERR_PERMANENT;
    }
    if (run->sink || run->columns) {
        /* Fatal, not only refused: a driver that went on regardless would
         * have its rows read with the first call's columns. */
        set_fatal(run, cd_xstrdup("driver called records_begin twice"));
        return CD_ERR_PERMANENT;
    }
    const cd_rs_dataset *ds = cd_rs_dataset_get(run->dataset);
    if (!ds) {
        set_fatal(run, cd_sprintf("no target table for dataset %d", (int)run->dataset));
        return CD_ERR_PERMANENT;
    }
    cd_rs_layout layout;
    char *err = NULL;
    if (cd_rs_layout_init(&layout, ds, columns, ncolumns, &err) != 0) {
        host_log(run, CD_LOG_ERROR, "records_begin: %s", err);
        set_fatal_rc(run, cd_sprintf("driver declared unusable columns: %s", err), CD_ERR_CONFIG);
        free(err);
        return CD_ERR_CONFIG;
    }
    cd_rs_layout_free(&layout);
    run->columns = cd_xcalloc(ncolumns ? ncolumns : 1, sizeof *run->columns);
    for (size_t i = 0; i < ncolumns; i++)
        run->columns[i] = cd_xstrdup(columns[i]);
    run->ncolumns = ncolumns;
    return CD_OK;
}

/* The first record: data connection, staging table, COPY. The driver is
 * told CD_ERR_PERMANENT (stop: record_emit answers nothing else); the run
 * ends as fatal_rc says. */
static int open_sink(cd_run *run)
{
    char *err = NULL;
    if (cd_run_open_data(run, &err) != 0) {
        set_fatal_rc(run, err, CD_ERR_TRANSIENT);
        return CD_ERR_PERMANENT;
    }
    run->sink = cd_sink_open(run->data, run->dataset, run->info.run_id, on_reject, run, &err);
    if (!run->sink) {
        set_fatal_rc(run, err, CD_ERR_TRANSIENT);
        return CD_ERR_PERMANENT;
    }
    /* The columns passed records_begin's check: what fails here is the
     * load starting (the spool file, the savepoint, the COPY behind a
     * lock), which a later attempt can get past. */
    if (cd_sink_columns(run->sink, (const char *const *)run->columns, run->ncolumns, &err) != 0) {
        set_fatal_rc(run, cd_sprintf("starting the load: %s", err), CD_ERR_TRANSIENT);
        free(err);
        return CD_ERR_PERMANENT;
    }
    free_columns(run);
    return CD_OK;
}

static int host_is_cancelled(cd_run *run);

static int host_record_emit(cd_run *run, const char *const *values, const size_t *lengths,
                            const char *row_ref)
{
    if (run->after_commit) {
        host_log(run, CD_LOG_ERROR, "record_emit called after the commit: refused");
        return CD_ERR_PERMANENT;
    }
    if (run->fatal)
        return CD_ERR_PERMANENT;
    if (!run->sink) {
        if (!run->columns) {
            set_fatal(run, cd_xstrdup("driver emitted a record before records_begin"));
            return CD_ERR_PERMANENT;
        }
        int rc = open_sink(run);
        if (rc != CD_OK)
            return rc;
    }
    char *err = NULL;
    int rc = cd_sink_row(run->sink, values, lengths, row_ref ? row_ref : "", &err);
    if (rc < 0) {
        /* Bad rows are rejections, not this: the load itself broke (the
         * database went away, the spool's disk filled up), which a later
         * attempt can get past, as a failed merge or commit is (runner.c). */
        set_fatal_rc(run, err, CD_ERR_TRANSIENT);
        return CD_ERR_PERMANENT;
    }
    /* Checked every few thousand rows: a clock read per row is measurable. */
    cd_sink_counts c;
    cd_sink_peek(run->sink, &c);
    if ((c.received & 1023) == 0 && host_is_cancelled(run))
        return CD_CANCELLED;
    return CD_OK;
}

static void host_record_error(cd_run *run, const char *row_ref, const char *reason,
                              const char *raw, size_t raw_len)
{
    if (run->after_commit) {
        host_log(run, CD_LOG_ERROR, "record_error called after the commit: refused");
        return;
    }
    run->driver_errors++;
    add_record_error(run, row_ref ? clean_text(run, row_ref, strlen(row_ref), 500) : NULL, NULL,
                     clean_text(run, reason ? reason : "unreadable record",
                                reason ? strlen(reason) : 17, TEXT_KEEP),
                     raw ? clean_text(run, raw, raw_len, RAW_KEEP) : NULL);
}

static void host_progress(cd_run *run, uint64_t done, uint64_t total)
{
    run->progress_done = done;
    run->progress_total = total;
}

static int host_is_cancelled(cd_run *run)
{
    if ((run->cancel_flag && *run->cancel_flag) ||
        (run->deadline_ms > 0 && cd_now_ms() >= run->deadline_ms)) {
        run->told_cancelled = 1;
        return 1;
    }
    return 0;
}

static int64_t host_remaining_ms(cd_run *run)
{
    if (run->deadline_ms <= 0)
        return -1;
    int64_t left = run->deadline_ms - cd_now_ms();
    return left > 0 ? left : 0;
}

static int host_secret_resolve(cd_run *run, const char *reference, char **out, size_t *out_len)
{
    char *err = NULL;
    if (!reference || cd_secret_resolve_guarded(reference, out, out_len, &err) != 0) {
        host_log(run, CD_LOG_ERROR, "%s", err ? err : "secret reference is NULL");
        free(err);
        return CD_ERR_CONFIG;
    }
    cd_secret_set_add(run->secrets, *out, *out_len);
    return CD_OK;
}

static void host_free(void *p) { free(p); }

static int host_cursor_get(cd_run *run, char **out)
{
    const char *v = run->cursor_dirty ? run->cursor_new : run->cursor_old;
    *out = v ? cd_xstrdup(v) : NULL;
    return CD_OK;
}

static int host_cursor_set(cd_run *run, const char *value)
{
    char *copy = NULL;
    if (value) {
        size_t n = strlen(value);
        copy = n <= CD_CURSOR_MAX ? cd_utf8_clean(value, n, n) : NULL;
        if (!copy || strcmp(copy, value) != 0) {
            cd_host_table.log(run, CD_LOG_ERROR,
                              "cursor refused: %zu bytes%s (at most %d bytes of UTF-8); the "
                              "stored cursor is kept",
                              n, copy ? ", not valid UTF-8" : "", CD_CURSOR_MAX);
            free(copy);
            return CD_ERR_PERMANENT;
        }
    }
    free(run->cursor_new);
    run->cursor_new = copy;
    run->cursor_dirty = 1;
    return CD_OK;
}

static const cd_http_defaults *host_http_defaults(cd_run *run) { return &run->http; }

static void host_set_message(cd_run *run, const char *fmt, ...) CD_PRINTF(2, 3);
static void host_set_message(cd_run *run, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *raw = cd_vsprintf(fmt, ap);
    va_end(ap);
    free(run->message);
    run->message = clean_text(run, raw, strlen(raw), TEXT_KEEP);
    free(raw);
}

/* A scrubbed copy of a driver's JSON: every string and key goes through
 * clean_text, as log lines and messages do (a URL with a token in it is
 * no less a secret inside a detail). Nesting past 32 levels is cut. */
static json_t *clean_json(cd_run *run, const json_t *v, int depth)
{
    if (depth > 32)
        return json_string("(nested too deep)");
    if (json_is_string(v)) {
        char *s = clean_text(run, json_string_value(v), json_string_length(v), TEXT_KEEP);
        json_t *out = json_string(s);
        free(s);
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) json_array_append_new(out, clean_json(run, e, depth + 1));
        return out;
    }
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) {
            char *ck = clean_text(run, k, strlen(k), 200);
            json_object_set_new(out, ck, clean_json(run, e, depth + 1));
            free(ck);
        }
        return out;
    }
    return json_deep_copy(v); /* numbers, booleans, null */
}

/* Details are for people reading a run, not for bulk data. */
#define DETAIL_MAX_BYTES (256 * 1024)

static void host_set_detail(cd_run *run, const char *key, const char *json_value)
{
    if (!key || !json_value)
        return;
    char *k = clean_text(run, key, strlen(key), 100);
    size_t len = strlen(json_value);
    json_t *v = NULL;
    if (len > DETAIL_MAX_BYTES) {
        host_log(run, CD_LOG_WARNING, "detail %s of %zu bytes dropped: at most %d", k, len,
                 DETAIL_MAX_BYTES);
        v = json_string("(dropped: too large)");
    } else {
        json_t *parsed = json_loads(json_value, JSON_DECODE_ANY, NULL);
        if (parsed) {
            v = clean_json(run, parsed, 0);
            json_decref(parsed);
        } else {
            char *s = clean_text(run, json_value, len, TEXT_KEEP);
            v = json_string(s);
            free(s);
        }
    }
    json_object_set_new(run->details, k, v);
    free(k);
}

static void host_test_step(cd_run *run, const char *step, int passed, const char *fmt, ...) CD_PRINTF(4, 5);
static void host_test_step(cd_run *run, const char *step, int passed, const char *fmt, ...)
{
    char *raw;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        raw = cd_vsprintf(fmt, ap);
        va_end(ap);
    } else {
        raw = cd_xstrdup("");
    }
    char *detail = clean_text(run, raw, strlen(raw), TEXT_KEEP);
    free(raw);
    char *name = clean_text(run, step ? step : "step", step ? strlen(step) : 4, 100);
    json_array_append_new(run->steps, json_pack("{s:s, s:b, s:s}", "step", name, "passed",
                                                passed ? 1 : 0, "detail", detail));
    host_log(run, passed ? CD_LOG_INFO : CD_LOG_WARNING, "test step %s: %s%s%s", name,
             passed ? "passed" : "failed", *detail ? ": " : "", detail);
    free(detail);
    free(name);
}

static void host_config_error(cd_run *run, const char *field, const char *fmt, ...) CD_PRINTF(3, 4);
static void host_config_error(cd_run *run, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *raw = cd_vsprintf(fmt, ap);
    va_end(ap);
    char *msg = clean_text(run, raw, strlen(raw), TEXT_KEEP);
    free(raw);
    char *f = clean_text(run, field ? field : "", field ? strlen(field) : 0, 200);
    json_array_append_new(run->config_errors,
                          json_pack("{s:s, s:s}", "field", f, "message", msg));
    free(msg);
    free(f);
}

static int host_local_date(cd_run *run, int64_t unix_seconds, char out[11])
{
    char *err = NULL;
    if (!out || cd_tz_local_date(run->info.timezone, unix_seconds, 0, out, &err) != 0) {
        host_log(run, CD_LOG_ERROR, "local_date: %s", err ? err : "no output buffer");
        free(err);
        return CD_ERR_PERMANENT;
    }
    return CD_OK;
}

const cd_host_api cd_host_table = {
    .struct_size = (uint32_t)sizeof(cd_host_api),
    .abi_major = CD_PLUGIN_ABI_MAJOR,
    .abi_minor = CD_PLUGIN_ABI_MINOR,
    .log = host_log,
    .run_info = host_run_info,
    .records_begin = host_records_begin,
    .record_emit = host_record_emit,
    .record_error = host_record_error,
    .progress = host_progress,
    .is_cancelled = host_is_cancelled,
    .remaining_ms = host_remaining_ms,
    .secret_resolve = host_secret_resolve,
    .free = host_free,
    .cursor_get = host_cursor_get,
    .cursor_set = host_cursor_set,
    .http_defaults = host_http_defaults,
    .set_message = host_set_message,
    .set_detail = host_set_detail,
    .test_step = host_test_step,
    .config_error = host_config_error,
    .init_error = host_init_error,
    .file_lookup = cd_host_file_lookup,
    .file_record = cd_host_file_record,
    .work_dir = cd_host_work_dir,
    .file_size_loaded = cd_host_file_size_loaded,
    .local_date = host_local_date,
};
