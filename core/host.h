/*
 * host.h — the per-run context behind the cd_host_api table: what a driver
 * can do during validate, test or run, and nothing more. Everything a
 * driver hands in (log text, reasons, raw rows) is scrubbed of the run's
 * secret values and made valid UTF-8 before it is stored.
 */
#ifndef CD_HOST_H
#define CD_HOST_H

#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdint.h>

#include <connectord/plugin.h>

#include "secrets.h"
#include "sink.h"

typedef struct cd_record_error {
    char *row_ref;
    char *field;
    char *reason;
    char *raw;
} cd_record_error;

struct cd_run {
    cd_run_info info;
    PGconn *ctl;         /* autocommit: logs, record errors (kept when the run fails);
                          * opened on first use through cd_run_ctl() */
    const char *ctl_url; /* borrowed from the configuration; NULL: no lazy connect */
    int ctl_failed;      /* the lazy connect failed once: do not retry per line */
    int channel_fd;      /* to the worker (runner_channel.h), or -1: logs go to ctl */
    int db_connections;  /* opened by this run (ctl, data): reported in its details */
    PGconn *data;        /* one transaction: staging, merge, run row */
    cd_dataset dataset;  /* target of the records */

    cd_sink *sink;
    char *fatal;         /* first error that makes the run fail (sink/db) */
    int fatal_rc;        /* how it fails: CD_ERR_PERMANENT (0: the same), or TRANSIENT
                            when the database or the disk failed, CONFIG for bad columns */

    int64_t driver_errors;      /* host->record_error calls */
    int64_t errors_stored;
    int64_t errors_dropped;
    int64_t max_record_errors;
    cd_record_error *pending;   /* not yet flushed to the database */
    size_t npending;

    int64_t log_lines;
    int64_t max_log_lines;
    int64_t echoed_lines; /* log lines copied to stderr (the journal), to the same cap */

    cd_secret_set *secrets;
    json_t *details;
    json_t *steps;          /* test steps */
    json_t *config_errors;  /* validate mode */
    char *message;

    volatile sig_atomic_t *cancel_flag;
    int told_cancelled; /* is_cancelled (or record_emit) has told the driver to stop */
    int64_t deadline_ms;    /* CLOCK_MONOTONIC ms; 0 = none */

    char *cursor_old;
    char *cursor_new;
    int cursor_dirty;

    cd_http_defaults http;
    uint64_t progress_done, progress_total;

    /* The data connection and the sink open at the first record, so a run
     * with nothing to load costs one database connection, not two. */
    const char *data_url;   /* borrowed from the configuration */
    char **columns;         /* declared by records_begin, until the sink opens */
    size_t ncolumns;

    /* Set before the driver's committed callback (ABI 1.2): the run row is
     * final, records and LOADED ledger rows are refused. */
    int after_commit;

    /* host_files.c (ABI 1.1 file entries) */
    char *work_dir;         /* per-connector work directory, or NULL */
    json_t *files_loaded;   /* "path\nsha256" keys this run recorded LOADED */
};

extern const cd_host_api cd_host_table;

/* Prepares run (zeroed by the caller) with its own details/steps objects. */
void cd_run_init(cd_run *run);
/* Flushes pending record errors; frees what the run owns (not the
 * connections). */
void cd_run_release(cd_run *run);

/* The control connection, connected on first use (NULL if that fails:
 * the failure is logged once). */
PGconn *cd_run_ctl(cd_run *run);

/* Opens the data connection (connector's zone, BEGIN) if not yet open.
 * 0, or -1 with *err. */
int cd_run_open_data(cd_run *run, char **err);

/* Writes pending record errors to the ctl connection. 0 or -1. */
int cd_run_flush_errors(cd_run *run);

/* Monotonic clock in milliseconds. */
int64_t cd_now_ms(void);

/* Replaces invalid UTF-8 sequences and NUL bytes of s[0..len) by '?', and
 * truncates to at most max bytes on a character boundary. malloc'd. */
char *cd_utf8_clean(const char *s, size_t len, size_t max);

/* init_error support for the loader. */
void cd_host_clear_init_error(void);
char *cd_host_take_init_error(void);

#endif
