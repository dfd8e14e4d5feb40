/*
 * connectord/mockhost.h — an in-memory host table for unit-testing drivers.
 *
 * A vendor links a driver's sources (or a static build of it) together with
 * the connectord_mockhost library into a test program, hands the driver's
 * init function to cd_mock_load(), sets the run's parameters with the
 * setters below, calls a callback (validate/test/run) and then inspects what
 * the driver reported: log lines, records, record errors, test steps, the
 * message, config errors, details and the cursor. Nothing touches a
 * database; the host behaves like the real one where a driver could tell
 * the difference (records_begin refuses unknown columns, record_emit before
 * records_begin is an error, is_cancelled and remaining_ms follow the
 * settings). Records are kept as the driver emitted them: the checks and
 * conversions of the real host's sink (dates, exact paise, a bank
 * statement's magnitude and CR/DR, see plugin.h "Record columns") are not
 * applied here.
 *
 * Not thread-safe: one mock per thread. init_error has no run argument, so
 * it is routed to the mock most recently passed to cd_mock_load().
 */
#ifndef CONNECTORD_MOCKHOST_H
#define CONNECTORD_MOCKHOST_H

#include <connectord/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cd_mock_host cd_mock_host;

/* A fresh mock with run_id 1, kind CD_RUN_TEST, run date and window
 * "2025-01-02", zone "Asia/Kolkata", attempt 1, config "{}", no deadline,
 * HTTP defaults 10 s connect / 60 s request / verify TLS. NULL on ENOMEM. */
cd_mock_host *cd_mock_new(void);
/* Releases the mock and everything it recorded; calls the driver's destroy
 * callback if one was loaded. NULL is accepted. */
void cd_mock_free(cd_mock_host *m);

/* Checks the descriptor like the real loader (magic, ABI major, struct
 * size) and calls init with a zeroed callbacks table. Returns the init's
 * result, or CD_ERR_PERMANENT for a refused descriptor or missing required
 * callbacks (the reason is in cd_mock_init_error()). */
int cd_mock_load(cd_mock_host *m, cd_driver_magic_fn magic, cd_driver_init_fn init);
const cd_driver_callbacks *cd_mock_callbacks(const cd_mock_host *m);
const cd_driver_magic *cd_mock_magic(const cd_mock_host *m);
const cd_host_api *cd_mock_api(cd_mock_host *m);
cd_run *cd_mock_run(cd_mock_host *m);

/* Convenience: call the loaded driver's callback with this mock's run.
 * validate returns CD_OK when the driver has no validate. */
int cd_mock_validate(cd_mock_host *m);
int cd_mock_test(cd_mock_host *m);
int cd_mock_run_driver(cd_mock_host *m);
/* ABI 1.2: what the host does after it committed a run's records: calls
 * the driver's committed callback. Call it after cd_mock_run_driver
 * returned CD_OK (and emitted records) to test that path. Returns 1 if the
 * driver has one, 0 if not. The mock's LOADED ledger rows count as
 * committed as soon as they are recorded. */
int cd_mock_committed(cd_mock_host *m);

/* Forgets everything recorded so far (logs, records, steps, errors,
 * message, details), keeping the settings. */
void cd_mock_reset(cd_mock_host *m);

/* --- settings (strings are copied) --- */
void cd_mock_set_config(cd_mock_host *m, const char *json);
void cd_mock_set_window(cd_mock_host *m, const char *run_date, const char *from, const char *to);
void cd_mock_set_kind(cd_mock_host *m, cd_run_kind kind);
void cd_mock_set_source_entity(cd_mock_host *m, const char *source_entity);
void cd_mock_set_timezone(cd_mock_host *m, const char *tz);
void cd_mock_set_attempt(cd_mock_host *m, uint32_t attempt);
void cd_mock_set_cancelled(cd_mock_host *m, int cancelled);
/* is_cancelled() starts saying 1 once this many records were emitted
 * (0: never). */
void cd_mock_cancel_after_records(cd_mock_host *m, size_t n);
/* remaining_ms(): -1 for unlimited, else a deadline this far from now. */
void cd_mock_set_remaining_ms(cd_mock_host *m, int64_t ms);
void cd_mock_set_http_timeouts(cd_mock_host *m, uint32_t connect_s, uint32_t request_s);
/* 0: records are counted, not kept (for large streams). Default 1. */
void cd_mock_keep_records(cd_mock_host *m, int keep);
/* The cursor cursor_get() returns (NULL: none). */
void cd_mock_set_cursor(cd_mock_host *m, const char *cursor);

/* --- what the driver reported --- */
size_t cd_mock_log_count(const cd_mock_host *m);
const char *cd_mock_log_line(const cd_mock_host *m, size_t i);
int cd_mock_log_contains(const cd_mock_host *m, const char *needle);

size_t cd_mock_column_count(const cd_mock_host *m);
const char *cd_mock_column(const cd_mock_host *m, size_t i);
int cd_mock_records_begin_calls(const cd_mock_host *m);
size_t cd_mock_record_count(const cd_mock_host *m);
/* The value of `column` in kept record i, or NULL (no value, or no such
 * column). */
const char *cd_mock_record_value(const cd_mock_host *m, size_t i, const char *column);
const char *cd_mock_record_ref(const cd_mock_host *m, size_t i);

size_t cd_mock_record_error_count(const cd_mock_host *m);
const char *cd_mock_record_error_ref(const cd_mock_host *m, size_t i);
const char *cd_mock_record_error_reason(const cd_mock_host *m, size_t i);

size_t cd_mock_step_count(const cd_mock_host *m);
const char *cd_mock_step_name(const cd_mock_host *m, size_t i);
int cd_mock_step_passed(const cd_mock_host *m, size_t i);
const char *cd_mock_step_detail(const cd_mock_host *m, size_t i);
/* Index of the first step named `name`, or -1. */
long cd_mock_find_step(const cd_mock_host *m, const char *name);

/* The last set_message text, or NULL. */
const char *cd_mock_message(const cd_mock_host *m);

size_t cd_mock_config_error_count(const cd_mock_host *m);
const char *cd_mock_config_error_field(const cd_mock_host *m, size_t i);
const char *cd_mock_config_error_message(const cd_mock_host *m, size_t i);
/* 1 if a config error was reported for exactly this field path. */
int cd_mock_has_config_error(const cd_mock_host *m, const char *field);

/* The last value set for a detail key, or NULL. */
const char *cd_mock_detail(const cd_mock_host *m, const char *key);
/* The cursor the driver stored with cursor_set, or NULL. */
const char *cd_mock_cursor_set_value(const cd_mock_host *m);
uint64_t cd_mock_progress_done(const cd_mock_host *m);
const char *cd_mock_init_error(const cd_mock_host *m);

/* --- ABI 1.1 --- */
/* The directory work_dir() returns (NULL, the default: none). */
void cd_mock_set_work_dir(cd_mock_host *m, const char *dir);
/* The file ledger lives in memory and survives cd_mock_reset, so a second
 * run sees what the first loaded. The last status recorded for a path, or
 * NULL; and the number of file_record calls so far. */
const char *cd_mock_file_status(const cd_mock_host *m, const char *remote_path);
size_t cd_mock_file_record_count(const cd_mock_host *m);

#ifdef __cplusplus
}
#endif

#endif /* CONNECTORD_MOCKHOST_H */
