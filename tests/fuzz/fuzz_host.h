/*
 * fuzz_host.h — a minimal cd_host_api for the driver fuzz targets (header
 * only: each target includes it once). It checks what a real host would:
 * records only after records_begin, the declared number of values, and
 * every value readable for its length; it stores nothing, so a long fuzz
 * session keeps flat memory.
 */
#ifndef FUZZ_HOST_H
#define FUZZ_HOST_H

#include <connectord/plugin.h>

#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

struct cd_run {
    cd_run_info info;
    cd_http_defaults http;
    size_t ncolumns;
    int begun;
    uint64_t records, errors;
    volatile unsigned char sink; /* every value byte is read into this */
};

static void fh_log(cd_run *run, cd_log_level level, const char *fmt, ...) {}
static const cd_run_info *fh_run_info(cd_run *run) { return &run->info; }
static int fh_records_begin(cd_run *run, const char *const *columns, size_t n)
{
    if (run->begun)
        abort(); /* drivers call it once */
    for (size_t i = 0; i < n; i++)
        if (!columns[i] || !*columns[i])
            abort();
    run->begun = 1;
    run->ncolumns = n;
    return CD_OK;
}
static int fh_record_emit(cd_run *run, const char *const *values, const size_t *lengths,
                          const char *row_ref)
{
    if (!run->begun || !row_ref)
        abort();
    for (size_t i = 0; i < run->ncolumns; i++)
        for (size_t k = 0; values[i] && k < lengths[i]; k++)
            run->sink ^= (unsigned char)values[i][k];
    run->records++;
    return CD_OK;
}
static void fh_record_error(cd_run *run, const char *row_ref, const char *reason,
                            const char *raw, size_t raw_len)
{
    if (!reason)
        abort();
    run->sink ^= (unsigned char)strlen(reason);
    run->errors++;
}
static void fh_progress(cd_run *run, uint64_t done, uint64_t total) {}
static int fh_is_cancelled(cd_run *run) { return 0; }
static int64_t fh_remaining_ms(cd_run *run) { return -1; }
static int fh_secret_resolve(cd_run *run, const char *ref, char **out, size_t *len)
{
    return CD_ERR_CONFIG;
}
static void fh_free(void *p) { free(p); }
static int fh_cursor_get(cd_run *run, char **out)
{
    *out = NULL;
    return CD_OK;
}
static int fh_cursor_set(cd_run *run, const char *v) { return CD_OK; }
static const cd_http_defaults *fh_http_defaults(cd_run *run) { return &run->http; }
static void fh_set_message(cd_run *run, const char *fmt, ...) {}
static void fh_set_detail(cd_run *run, const char *key, const char *json) {}
static void fh_test_step(cd_run *run, const char *step, int passed, const char *fmt, ...) {}
static void fh_config_error(cd_run *run, const char *field, const char *fmt, ...) {}
static void fh_init_error(const char *fmt, ...) {}
/* Asia/Kolkata has had no DST since 1945: a fixed +05:30 is its calendar. */
static int fh_local_date(cd_run *run, int64_t t, char out[11])
{
    time_t local = (time_t)(t + 19800);
    struct tm tm;
    if (!gmtime_r(&local, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
        return CD_ERR_PERMANENT;
    strftime(out, 11, "%Y-%m-%d", &tm);
    return CD_OK;
}

static const cd_host_api fuzz_host_api = {
    .struct_size = (uint32_t)sizeof(cd_host_api),
    .abi_major = CD_PLUGIN_ABI_MAJOR,
    .abi_minor = CD_PLUGIN_ABI_MINOR,
    .log = fh_log,
    .run_info = fh_run_info,
    .records_begin = fh_records_begin,
    .record_emit = fh_record_emit,
    .record_error = fh_record_error,
    .progress = fh_progress,
    .is_cancelled = fh_is_cancelled,
    .remaining_ms = fh_remaining_ms,
    .secret_resolve = fh_secret_resolve,
    .free = fh_free,
    .cursor_get = fh_cursor_get,
    .cursor_set = fh_cursor_set,
    .http_defaults = fh_http_defaults,
    .set_message = fh_set_message,
    .set_detail = fh_set_detail,
    .test_step = fh_test_step,
    .config_error = fh_config_error,
    .init_error = fh_init_error,
    .local_date = fh_local_date,
};

int connectord_driver_init(const cd_host_api *host, cd_driver_callbacks *cb);

/* A fresh run with config_json (may be NULL); the driver is initialised
 * against fuzz_host_api once per process. */
static void fuzz_run_init(cd_run *run, const char *config_json)
{
    static int ready;
    if (!ready) {
        cd_driver_callbacks cb;
        memset(&cb, 0, sizeof cb);
        cb.struct_size = (uint32_t)sizeof cb;
        if (connectord_driver_init(&fuzz_host_api, &cb) != CD_OK)
            abort();
        ready = 1;
    }
    memset(run, 0, sizeof *run);
    run->info.struct_size = (uint32_t)sizeof run->info;
    run->info.run_id = 1;
    run->info.connector_id = 1;
    run->info.connector_name = "fuzz";
    run->info.source_entity = "FUZZ";
    run->info.kind = CD_RUN_SCHEDULED;
    run->info.run_date = run->info.window_from = run->info.window_to = "2025-01-02";
    run->info.timezone = "Asia/Kolkata";
    run->info.attempt = 1;
    run->info.config_json = config_json;
    run->info.config_json_len = config_json ? strlen(config_json) : 0;
    run->http.struct_size = (uint32_t)sizeof run->http;
    run->http.verify_tls = 1;
}

#endif /* FUZZ_HOST_H */
