/*
 * mockhost.c — the in-memory cd_host_api behind connectord/mockhost.h.
 *
 * Everything a driver reports is copied into growable arrays owned by the
 * mock, so a test can inspect it after the callback returned. The run
 * handle a driver sees is a struct cd_run embedded in the mock, which lets
 * every host function find its mock without globals (except init_error,
 * whose signature carries no run).
 */
#include <connectord/mockhost.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cd_run {
    cd_mock_host *mock;
};

typedef struct strvec {
    char **items;
    size_t len;
    size_t cap;
} strvec;

typedef struct mock_record {
    char **values; /* ncolumns entries, NULL for "no value" */
    char *ref;
} mock_record;

typedef struct mock_step {
    char *name;
    int passed;
    char *detail;
} mock_step;

struct cd_mock_host {
    struct cd_run run;
    cd_host_api api;
    cd_run_info info;
    cd_http_defaults http;
    cd_driver_callbacks callbacks;
    const cd_driver_magic *magic;
    int loaded;

    /* owned copies behind info's pointers */
    char *config;
    char *run_date, *window_from, *window_to, *source_entity, *timezone;

    int cancelled;
    size_t cancel_after;
    int64_t remaining_ms;
    struct timespec deadline;
    int keep;
    char *cursor;

    strvec logs;
    strvec columns;
    int begin_calls;
    mock_record *records;
    size_t nrecords, caprecords;
    size_t emitted;
    strvec rec_error_refs, rec_error_reasons;
    mock_step *steps;
    size_t nsteps, capsteps;
    char *message;
    strvec cfg_fields, cfg_messages;
    strvec detail_keys, detail_values;
    char *cursor_stored;
    uint64_t progress_done;
    char *init_error;

    /* ABI 1.1: the file ledger ("path\nsha256\nsize\nmtime", status) —
     * kept across cd_mock_reset, like the real ledger across runs — and
     * the work directory */
    strvec ledger_keys, ledger_status;
    char *work_dir;
};

/* init_error() has no run argument: it reports to the mock being loaded. */
static cd_mock_host *loading_mock;

/* Aborts the test program: a mock that cannot allocate cannot report. */
static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("mockhost: out of memory\n", stderr);
        abort();
    }
    return p;
}

/* strdup that aborts on ENOMEM and maps NULL to NULL. */
static char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

/* A malloc'd copy of n bytes with a NUL appended. */
static char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* vasprintf that aborts on failure, so callers need no error path. */
static char *xvprintf(const char *fmt, va_list ap) CD_PRINTF(1, 0);
static char *xvprintf(const char *fmt, va_list ap)
{
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0) {
        fputs("mockhost: out of memory\n", stderr);
        abort();
    }
    return out;
}

/* Appends a string the vector then owns. */
static void strvec_push(strvec *v, char *s)
{
    if (v->len == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        char **n = realloc(v->items, v->cap * sizeof *n);
        if (!n)
            abort();
        v->items = n;
    }
    v->items[v->len++] = s;
}

/* Frees the strings and empties the vector (keeps nothing allocated). */
static void strvec_clear(strvec *v)
{
    for (size_t i = 0; i < v->len; i++)
        free(v->items[i]);
    free(v->items);
    v->items = NULL;
    v->len = v->cap = 0;
}

/* Index of `s` in v, or -1. */
static long strvec_find(const strvec *v, const char *s)
{
    for (size_t i = 0; i < v->len; i++)
        if (strcmp(v->items[i], s) == 0)
            return (long)i;
    return -1;
}

/* Replaces *slot with a copy of value. */
static void set_str(char **slot, const char *value)
{
    char *copy = xstrdup(value);
    free(*slot);
    *slot = copy;
}

static cd_mock_host *mock_of(cd_run *run)
{
    return run->mock;
}

/* ---- host functions ---- */

static void host_log(cd_run *run, cd_log_level level, const char *fmt, ...) CD_PRINTF(3, 4);
static void host_log(cd_run *run, cd_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = xvprintf(fmt, ap);
    va_end(ap);
    const char *tag = level == CD_LOG_ERROR     ? "error"
                      : level == CD_LOG_WARNING ? "warning"
                      : level == CD_LOG_INFO    ? "info"
                                                : "debug";
    char *full = NULL;
    if (asprintf(&full, "%s: %s", tag, line) < 0)
        abort();
    free(line);
    strvec_push(&mock_of(run)->logs, full);
}

static const cd_run_info *host_run_info(cd_run *run)
{
    return &mock_of(run)->info;
}

/* Target-table columns the real sink accepts, per dataset. */
static const char *const pg_columns[] = {
    "transaction_id", "merchant_id", "amount_paise", "amount", "transaction_date",
    "transaction_timestamp", "currency", "source_type", "source_name", "batch_id",
    "payment_method", "gateway_ref", "utr", "rrn", "status", "bank_fee_paise", "bank_fee",
    "settlement_amount_paise", "settlement_amount", "acquirer_code", "merchant_name", NULL};
static const char *const bank_columns[] = {
    "bank_ref", "bank_name", "amount_paise", "amount", "transaction_date", "value_date",
    "utr", "rrn", "remarks", "debit_credit", "net_amount_paise", "net_amount",
    "source_type", "source_file", "batch_id", NULL};

/* 1 if name is in the NULL-terminated list. */
static int in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0)
            return 1;
    return 0;
}

/* Accepts the columns of the driver's dataset; for CONFIGURED drivers
 * either table's columns, since the choice lives in the config. */
static int host_records_begin(cd_run *run, const char *const *columns, size_t ncolumns)
{
    cd_mock_host *m = mock_of(run);
    if (m->begin_calls++ > 0) {
        host_log(run, CD_LOG_ERROR, "records_begin called twice");
        return CD_ERR_CONFIG;
    }
    cd_dataset ds = m->magic ? m->magic->dataset : CD_DATASET_CONFIGURED;
    for (size_t i = 0; i < ncolumns; i++) {
        int ok = (ds != CD_DATASET_BANK_STATEMENT && in_list(pg_columns, columns[i])) ||
                 (ds != CD_DATASET_PG_TRANSACTION && in_list(bank_columns, columns[i]));
        if (!ok) {
            host_log(run, CD_LOG_ERROR, "unknown column \"%s\"", columns[i]);
            return CD_ERR_CONFIG;
        }
        if (strvec_find(&m->columns, columns[i]) >= 0) {
            host_log(run, CD_LOG_ERROR, "column \"%s\" declared twice", columns[i]);
            return CD_ERR_CONFIG;
        }
        strvec_push(&m->columns, xstrdup(columns[i]));
    }
    return CD_OK;
}

static int host_record_emit(cd_run *run, const char *const *values, const size_t *lengths,
                            const char *row_ref)
{
    cd_mock_host *m = mock_of(run);
    if (m->begin_calls == 0) {
        host_log(run, CD_LOG_ERROR, "record_emit before records_begin");
        return CD_ERR_PERMANENT;
    }
    m->emitted++;
    if (m->keep) {
        if (m->nrecords == m->caprecords) {
            m->caprecords = m->caprecords ? m->caprecords * 2 : 16;
            mock_record *n = realloc(m->records, m->caprecords * sizeof *n);
            if (!n)
                abort();
            m->records = n;
        }
        mock_record *r = &m->records[m->nrecords++];
        r->values = xmalloc(m->columns.len * sizeof *r->values);
        for (size_t i = 0; i < m->columns.len; i++)
            r->values[i] = values[i] ? xstrndup(values[i], lengths[i]) : NULL;
        r->ref = xstrdup(row_ref ? row_ref : "");
    }
    return CD_OK;
}

static void host_record_error(cd_run *run, const char *row_ref, const char *reason,
                              const char *raw, size_t raw_len)
{
    cd_mock_host *m = mock_of(run);
    strvec_push(&m->rec_error_refs, xstrdup(row_ref ? row_ref : ""));
    strvec_push(&m->rec_error_reasons, xstrdup(reason ? reason : ""));
}

static void host_progress(cd_run *run, uint64_t done, uint64_t total)
{
    mock_of(run)->progress_done = done;
}

static int host_is_cancelled(cd_run *run)
{
    cd_mock_host *m = mock_of(run);
    if (m->cancelled)
        return 1;
    return m->cancel_after > 0 && m->emitted >= m->cancel_after;
}

static int64_t host_remaining_ms(cd_run *run)
{
    cd_mock_host *m = mock_of(run);
    if (m->remaining_ms < 0)
        return -1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t left = (int64_t)(m->deadline.tv_sec - now.tv_sec) * 1000 +
                   (m->deadline.tv_nsec - now.tv_nsec) / 1000000;
    return left > 0 ? left : 0;
}

/* Resolves "env:NAME" only: that is all a unit test needs. */
static int host_secret_resolve(cd_run *run, const char *reference, char **out, size_t *out_len)
{
    if (strncmp(reference, "env:", 4) != 0)
        return CD_ERR_CONFIG;
    const char *v = getenv(reference + 4);
    if (!v)
        return CD_ERR_CONFIG;
    *out = xstrdup(v);
    if (out_len)
        *out_len = strlen(v);
    return CD_OK;
}

static void host_free(void *p)
{
    free(p);
}

static int host_cursor_get(cd_run *run, char **out)
{
    *out = xstrdup(mock_of(run)->cursor);
    return CD_OK;
}

/* Well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF), as connectord requires of a cursor. */
static int is_utf8(const unsigned char *p)
{
    while (*p) {
        unsigned c = *p, need, cp;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            need = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            need = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            need = 3, cp = c & 0x07;
        else
            return 0;
        for (unsigned k = 1; k <= need; k++) {
            if ((p[k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += need + 1;
    }
    return 1;
}

/* As connectord's host: a cursor it would refuse is refused here too, so
 * a driver's unit tests see what production does. */
static int host_cursor_set(cd_run *run, const char *value)
{
    if (value && (strlen(value) > CD_CURSOR_MAX || !is_utf8((const unsigned char *)value)))
        return CD_ERR_PERMANENT;
    set_str(&mock_of(run)->cursor_stored, value);
    return CD_OK;
}

static const cd_http_defaults *host_http_defaults(cd_run *run)
{
    return &mock_of(run)->http;
}

static void host_set_message(cd_run *run, const char *fmt, ...) CD_PRINTF(2, 3);
static void host_set_message(cd_run *run, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvprintf(fmt, ap);
    va_end(ap);
    free(mock_of(run)->message);
    mock_of(run)->message = msg;
}

/* Keeps the last value per key, as a JSON object would. */
static void host_set_detail(cd_run *run, const char *key, const char *json_value)
{
    cd_mock_host *m = mock_of(run);
    long i = strvec_find(&m->detail_keys, key);
    if (i >= 0) {
        set_str(&m->detail_values.items[i], json_value);
        return;
    }
    strvec_push(&m->detail_keys, xstrdup(key));
    strvec_push(&m->detail_values, xstrdup(json_value));
}

static void host_test_step(cd_run *run, const char *step, int passed, const char *fmt, ...) CD_PRINTF(4, 5);
static void host_test_step(cd_run *run, const char *step, int passed, const char *fmt, ...)
{
    cd_mock_host *m = mock_of(run);
    va_list ap;
    va_start(ap, fmt);
    char *detail = xvprintf(fmt, ap);
    va_end(ap);
    if (m->nsteps == m->capsteps) {
        m->capsteps = m->capsteps ? m->capsteps * 2 : 8;
        mock_step *n = realloc(m->steps, m->capsteps * sizeof *n);
        if (!n)
            abort();
        m->steps = n;
    }
    m->steps[m->nsteps].name = xstrdup(step);
    m->steps[m->nsteps].passed = passed;
    m->steps[m->nsteps].detail = detail;
    m->nsteps++;
}

static void host_config_error(cd_run *run, const char *field, const char *fmt, ...) CD_PRINTF(3, 4);
static void host_config_error(cd_run *run, const char *field, const char *fmt, ...)
{
    cd_mock_host *m = mock_of(run);
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvprintf(fmt, ap);
    va_end(ap);
    strvec_push(&m->cfg_fields, xstrdup(field ? field : ""));
    strvec_push(&m->cfg_messages, msg);
}

static void host_init_error(const char *fmt, ...) CD_PRINTF(1, 2);
static void host_init_error(const char *fmt, ...)
{
    if (!loading_mock)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvprintf(fmt, ap);
    va_end(ap);
    free(loading_mock->init_error);
    loading_mock->init_error = msg;
}

/* ---- ABI 1.1: file ledger and work directory ---- */

static char *ledger_key(const cd_file_info *f)
{
    char *k = NULL;
    if (asprintf(&k, "%s\n%s\n%lld\n%lld", f->remote_path, f->sha256_hex ? f->sha256_hex : "",
                 (long long)f->size, (long long)f->mtime) < 0)
        abort();
    return k;
}

/* Field i (0 path, 1 sha, 2 size, 3 mtime) of a ledger key. */
static int key_field_eq(const char *key, int i, const char *want)
{
    for (; i > 0; i--)
        key = strchr(key, '\n') + 1;
    const char *end = strchr(key, '\n');
    size_t n = end ? (size_t)(end - key) : strlen(key);
    return strlen(want) == n && strncmp(key, want, n) == 0;
}

static int host_file_lookup(cd_run *run, const cd_file_info *f, cd_file_state *state)
{
    cd_mock_host *m = mock_of(run);
    *state = CD_FILE_NEW;
    if (!f || !f->remote_path)
        return CD_ERR_PERMANENT;
    char size[24], mtime[24];
    snprintf(size, sizeof size, "%lld", (long long)f->size);
    snprintf(mtime, sizeof mtime, "%lld", (long long)f->mtime);
    for (size_t i = 0; i < m->ledger_keys.len; i++) {
        const char *k = m->ledger_keys.items[i], *st = m->ledger_status.items[i];
        int loaded = strcmp(st, "LOADED") == 0;
        int holds = loaded || strcmp(st, "SKIPPED_DUPLICATE") == 0;
        if (f->sha256_hex && loaded && key_field_eq(k, 1, f->sha256_hex)) {
            *state = CD_FILE_LOADED;
            return CD_OK;
        }
        if (holds && key_field_eq(k, 0, f->remote_path)) {
            if (f->sha256_hex)
                *state = CD_FILE_CHANGED;
            else
                *state = key_field_eq(k, 2, size) && key_field_eq(k, 3, mtime) ? CD_FILE_LOADED
                                                                                : CD_FILE_CHANGED;
        }
    }
    return CD_OK;
}

static int host_file_record(cd_run *run, const cd_file_info *f, const char *status, int64_t rows,
                            const char *reason)
{
    (void)rows;
    (void)reason;
    cd_mock_host *m = mock_of(run);
    static const char *const ok[] = {"SEEN", "DOWNLOADED", "LOADED", "SKIPPED_DUPLICATE", "FAILED"};
    int known = 0;
    for (size_t i = 0; i < 5; i++)
        known |= status && strcmp(status, ok[i]) == 0;
    if (!f || !f->remote_path || !known || (strcmp(status, "LOADED") == 0 && !f->sha256_hex))
        return CD_ERR_PERMANENT;
    strvec_push(&m->ledger_keys, ledger_key(f));
    strvec_push(&m->ledger_status, xstrdup(status));
    return CD_OK;
}

static const char *host_work_dir(cd_run *run) { return mock_of(run)->work_dir; }

/* ---- ABI 1.2 ---- */

static int host_file_size_loaded(cd_run *run, const cd_file_info *f, int *possible)
{
    cd_mock_host *m = mock_of(run);
    if (!f || !f->remote_path || !possible)
        return CD_ERR_PERMANENT;
    *possible = f->size < 0;
    char size[24];
    snprintf(size, sizeof size, "%lld", (long long)f->size);
    for (size_t i = 0; i < m->ledger_keys.len && !*possible; i++) {
        const char *st = m->ledger_status.items[i];
        if ((strcmp(st, "LOADED") == 0 || strcmp(st, "SKIPPED_DUPLICATE") == 0) &&
            key_field_eq(m->ledger_keys.items[i], 2, size))
            *possible = 1;
    }
    return CD_OK;
}

/* ---- ABI 1.3 ---- */

/* The mock has no calendar library of its own: glibc's, under the zone set
 * for the run (the mock is a test harness, on one thread). */
static int host_local_date(cd_run *run, int64_t unix_seconds, char out[11])
{
    cd_mock_host *m = mock_of(run);
    const char *old = getenv("TZ");
    char *saved = old ? xstrdup(old) : NULL;
    setenv("TZ", m->timezone, 1);
    tzset();
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    int ok = localtime_r(&t, &tm) != NULL && tm.tm_year + 1900 >= 1 && tm.tm_year + 1900 <= 9999;
    if (ok)
        strftime(out, 11, "%Y-%m-%d", &tm);
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    return ok ? CD_OK : CD_ERR_PERMANENT;
}

int cd_mock_committed(cd_mock_host *m)
{
    if (!m->callbacks.committed)
        return 0;
    m->callbacks.committed(&m->run);
    return 1;
}

void cd_mock_set_work_dir(cd_mock_host *m, const char *dir) { set_str(&m->work_dir, dir); }

const char *cd_mock_file_status(const cd_mock_host *m, const char *remote_path)
{
    const char *st = NULL;
    for (size_t i = 0; i < m->ledger_keys.len; i++)
        if (key_field_eq(m->ledger_keys.items[i], 0, remote_path))
            st = m->ledger_status.items[i];
    return st;
}

size_t cd_mock_file_record_count(const cd_mock_host *m) { return m->ledger_keys.len; }

/* ---- lifecycle ---- */

/* Points info's strings at the mock's current copies. */
static void sync_info(cd_mock_host *m)
{
    m->info.config_json = m->config;
    m->info.config_json_len = strlen(m->config);
    m->info.run_date = m->run_date;
    m->info.window_from = m->window_from;
    m->info.window_to = m->window_to;
    m->info.source_entity = m->source_entity;
    m->info.timezone = m->timezone;
}

cd_mock_host *cd_mock_new(void)
{
    cd_mock_host *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->run.mock = m;
    m->api.struct_size = (uint32_t)sizeof(cd_host_api);
    m->api.abi_major = CD_PLUGIN_ABI_MAJOR;
    m->api.abi_minor = CD_PLUGIN_ABI_MINOR;
    m->api.log = host_log;
    m->api.run_info = host_run_info;
    m->api.records_begin = host_records_begin;
    m->api.record_emit = host_record_emit;
    m->api.record_error = host_record_error;
    m->api.progress = host_progress;
    m->api.is_cancelled = host_is_cancelled;
    m->api.remaining_ms = host_remaining_ms;
    m->api.secret_resolve = host_secret_resolve;
    m->api.free = host_free;
    m->api.cursor_get = host_cursor_get;
    m->api.cursor_set = host_cursor_set;
    m->api.http_defaults = host_http_defaults;
    m->api.set_message = host_set_message;
    m->api.set_detail = host_set_detail;
    m->api.test_step = host_test_step;
    m->api.config_error = host_config_error;
    m->api.init_error = host_init_error;
    m->api.file_lookup = host_file_lookup;
    m->api.file_record = host_file_record;
    m->api.work_dir = host_work_dir;
    m->api.file_size_loaded = host_file_size_loaded;
    m->api.local_date = host_local_date;

    m->info.struct_size = (uint32_t)sizeof(cd_run_info);
    m->info.run_id = 1;
    m->info.connector_id = 1;
    m->info.connector_name = "mock connector";
    m->info.kind = CD_RUN_TEST;
    m->info.attempt = 1;
    m->config = xstrdup("{}");
    m->run_date = xstrdup("2025-01-02");
    m->window_from = xstrdup("2025-01-02");
    m->window_to = xstrdup("2025-01-02");
    m->source_entity = xstrdup("SABPAISA");
    m->timezone = xstrdup("Asia/Kolkata");
    sync_info(m);

    m->http.struct_size = (uint32_t)sizeof(cd_http_defaults);
    m->http.connect_timeout_s = 10;
    m->http.request_timeout_s = 60;
    m->http.verify_tls = 1;
    m->http.user_agent = "connectord/1.0 (mockhost)";
    m->remaining_ms = -1;
    m->keep = 1;
    return m;
}

void cd_mock_reset(cd_mock_host *m)
{
    strvec_clear(&m->logs);
    for (size_t i = 0; i < m->nrecords; i++) {
        for (size_t c = 0; c < m->columns.len; c++)
            free(m->records[i].values[c]);
        free(m->records[i].values);
        free(m->records[i].ref);
    }
    free(m->records);
    m->records = NULL;
    m->nrecords = m->caprecords = 0;
    m->emitted = 0;
    strvec_clear(&m->columns);
    m->begin_calls = 0;
    strvec_clear(&m->rec_error_refs);
    strvec_clear(&m->rec_error_reasons);
    for (size_t i = 0; i < m->nsteps; i++) {
        free(m->steps[i].name);
        free(m->steps[i].detail);
    }
    free(m->steps);
    m->steps = NULL;
    m->nsteps = m->capsteps = 0;
    free(m->message);
    m->message = NULL;
    strvec_clear(&m->cfg_fields);
    strvec_clear(&m->cfg_messages);
    strvec_clear(&m->detail_keys);
    strvec_clear(&m->detail_values);
    free(m->cursor_stored);
    m->cursor_stored = NULL;
    m->progress_done = 0;
}

void cd_mock_free(cd_mock_host *m)
{
    if (!m)
        return;
    if (m->loaded && m->callbacks.destroy)
        m->callbacks.destroy();
    cd_mock_reset(m);
    free(m->config);
    free(m->run_date);
    free(m->window_from);
    free(m->window_to);
    free(m->source_entity);
    free(m->timezone);
    free(m->cursor);
    free(m->init_error);
    strvec_clear(&m->ledger_keys);
    strvec_clear(&m->ledger_status);
    free(m->work_dir);
    if (loading_mock == m)
        loading_mock = NULL;
    free(m);
}

int cd_mock_load(cd_mock_host *m, cd_driver_magic_fn magic_fn, cd_driver_init_fn init)
{
    const cd_driver_magic *mg = magic_fn();
    loading_mock = m;
    if (!mg || mg->magic != CD_DRIVER_MAGIC) {
        set_str(&m->init_error, "no connectord magic block");
        return CD_ERR_PERMANENT;
    }
    if (mg->abi_major != CD_PLUGIN_ABI_MAJOR || mg->struct_size < sizeof(cd_driver_magic)) {
        set_str(&m->init_error, "descriptor built for another plugin ABI");
        return CD_ERR_PERMANENT;
    }
    m->magic = mg;
    memset(&m->callbacks, 0, sizeof m->callbacks);
    m->callbacks.struct_size = (uint32_t)sizeof m->callbacks;
    int rc = init(&m->api, &m->callbacks);
    if (rc != CD_OK)
        return rc;
    m->loaded = 1;
    if (!m->callbacks.describe_config || !m->callbacks.test || !m->callbacks.run) {
        set_str(&m->init_error, "driver lacks describe_config, test or run");
        return CD_ERR_PERMANENT;
    }
    return CD_OK;
}

const cd_driver_callbacks *cd_mock_callbacks(const cd_mock_host *m) { return &m->callbacks; }
const cd_driver_magic *cd_mock_magic(const cd_mock_host *m) { return m->magic; }
const cd_host_api *cd_mock_api(cd_mock_host *m) { return &m->api; }
cd_run *cd_mock_run(cd_mock_host *m) { return &m->run; }

int cd_mock_validate(cd_mock_host *m)
{
    return m->callbacks.validate ? m->callbacks.validate(&m->run) : CD_OK;
}

int cd_mock_test(cd_mock_host *m)
{
    return m->callbacks.test(&m->run);
}

int cd_mock_run_driver(cd_mock_host *m)
{
    return m->callbacks.run(&m->run);
}

/* ---- setters ---- */

void cd_mock_set_config(cd_mock_host *m, const char *json)
{
    set_str(&m->config, json ? json : "{}");
    sync_info(m);
}

void cd_mock_set_window(cd_mock_host *m, const char *run_date, const char *from, const char *to)
{
    set_str(&m->run_date, run_date);
    set_str(&m->window_from, from);
    set_str(&m->window_to, to);
    sync_info(m);
}

void cd_mock_set_kind(cd_mock_host *m, cd_run_kind kind) { m->info.kind = kind; }

void cd_mock_set_source_entity(cd_mock_host *m, const char *source_entity)
{
    set_str(&m->source_entity, source_entity);
    sync_info(m);
}

void cd_mock_set_timezone(cd_mock_host *m, const char *tz)
{
    set_str(&m->timezone, tz);
    sync_info(m);
}

void cd_mock_set_attempt(cd_mock_host *m, uint32_t attempt) { m->info.attempt = attempt; }
void cd_mock_set_cancelled(cd_mock_host *m, int cancelled) { m->cancelled = cancelled; }
void cd_mock_cancel_after_records(cd_mock_host *m, size_t n) { m->cancel_after = n; }

void cd_mock_set_remaining_ms(cd_mock_host *m, int64_t ms)
{
    m->remaining_ms = ms;
    if (ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &m->deadline);
        m->deadline.tv_sec += ms / 1000;
        m->deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (m->deadline.tv_nsec >= 1000000000L) {
            m->deadline.tv_sec++;
            m->deadline.tv_nsec -= 1000000000L;
        }
    }
}

void cd_mock_set_http_timeouts(cd_mock_host *m, uint32_t connect_s, uint32_t request_s)
{
    m->http.connect_timeout_s = connect_s;
    m->http.request_timeout_s = request_s;
}

void cd_mock_keep_records(cd_mock_host *m, int keep) { m->keep = keep; }
void cd_mock_set_cursor(cd_mock_host *m, const char *cursor) { set_str(&m->cursor, cursor); }

/* ---- accessors ---- */

size_t cd_mock_log_count(const cd_mock_host *m) { return m->logs.len; }

const char *cd_mock_log_line(const cd_mock_host *m, size_t i)
{
    return i < m->logs.len ? m->logs.items[i] : NULL;
}

int cd_mock_log_contains(const cd_mock_host *m, const char *needle)
{
    for (size_t i = 0; i < m->logs.len; i++)
        if (strstr(m->logs.items[i], needle))
            return 1;
    return 0;
}

size_t cd_mock_column_count(const cd_mock_host *m) { return m->columns.len; }

const char *cd_mock_column(const cd_mock_host *m, size_t i)
{
    return i < m->columns.len ? m->columns.items[i] : NULL;
}

int cd_mock_records_begin_calls(const cd_mock_host *m) { return m->begin_calls; }
size_t cd_mock_record_count(const cd_mock_host *m) { return m->emitted; }

const char *cd_mock_record_value(const cd_mock_host *m, size_t i, const char *column)
{
    long c = strvec_find(&m->columns, column);
    if (i >= m->nrecords || c < 0)
        return NULL;
    return m->records[i].values[c];
}

const char *cd_mock_record_ref(const cd_mock_host *m, size_t i)
{
    return i < m->nrecords ? m->records[i].ref : NULL;
}

size_t cd_mock_record_error_count(const cd_mock_host *m) { return m->rec_error_refs.len; }

const char *cd_mock_record_error_ref(const cd_mock_host *m, size_t i)
{
    return i < m->rec_error_refs.len ? m->rec_error_refs.items[i] : NULL;
}

const char *cd_mock_record_error_reason(const cd_mock_host *m, size_t i)
{
    return i < m->rec_error_reasons.len ? m->rec_error_reasons.items[i] : NULL;
}

size_t cd_mock_step_count(const cd_mock_host *m) { return m->nsteps; }

const char *cd_mock_step_name(const cd_mock_host *m, size_t i)
{
    return i < m->nsteps ? m->steps[i].name : NULL;
}

int cd_mock_step_passed(const cd_mock_host *m, size_t i)
{
    return i < m->nsteps ? m->steps[i].passed : 0;
}

const char *cd_mock_step_detail(const cd_mock_host *m, size_t i)
{
    return i < m->nsteps ? m->steps[i].detail : NULL;
}

long cd_mock_find_step(const cd_mock_host *m, const char *name)
{
    for (size_t i = 0; i < m->nsteps; i++)
        if (strcmp(m->steps[i].name, name) == 0)
            return (long)i;
    return -1;
}

const char *cd_mock_message(const cd_mock_host *m) { return m->message; }
size_t cd_mock_config_error_count(const cd_mock_host *m) { return m->cfg_fields.len; }

const char *cd_mock_config_error_field(const cd_mock_host *m, size_t i)
{
    return i < m->cfg_fields.len ? m->cfg_fields.items[i] : NULL;
}

const char *cd_mock_config_error_message(const cd_mock_host *m, size_t i)
{
    return i < m->cfg_messages.len ? m->cfg_messages.items[i] : NULL;
}

int cd_mock_has_config_error(const cd_mock_host *m, const char *field)
{
    return strvec_find(&m->cfg_fields, field) >= 0;
}

const char *cd_mock_detail(const cd_mock_host *m, const char *key)
{
    long i = strvec_find(&m->detail_keys, key);
    return i >= 0 ? m->detail_values.items[i] : NULL;
}

const char *cd_mock_cursor_set_value(const cd_mock_host *m) { return m->cursor_stored; }
uint64_t cd_mock_progress_done(const cd_mock_host *m) { return m->progress_done; }
const char *cd_mock_init_error(const cd_mock_host *m) { return m->init_error; }
