/* runner.c — see runner.h. */
#include "runner.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "db.h"
#include "host.h"
#include "host_files.h"
#include "loader.h"
#include "log.h"
#include "paths.h"
#include "runner_channel.h"
#include "runs.h"
#include "secret_guard.h"
#include "secrets.h"
#include "sink.h"
#include "templates.h"
#include "util.h"

/* SIGTERM: stop, cancelled. SIGUSR1: stop, the run is past its deadline
 * (the worker's clock started before ours, so it is the worker that
 * says so). SIGINT: the worker is shutting down: stop and hand the run
 * back to the queue. All are only flags the driver sees through
 * is_cancelled(). */
static volatile sig_atomic_t cancel_requested;
static volatile sig_atomic_t handback_requested;
static volatile sig_atomic_t timeout_signalled;

static void on_stop_signal(int sig)
{
    if (sig == SIGINT)
        handback_requested = 1;
    if (sig == SIGUSR1)
        timeout_signalled = 1;
    cancel_requested = 1;
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A runner must not outlive the worker that started it: its run would be
     * rescued and run twice. The worker passes its pid to check for the race
     * where it died before prctl. */
    const char *parent = getenv("CONNECTORD_PARENT_PID");
    if (parent) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != (pid_t)atol(parent))
            _exit(CD_RUNNER_NOT_FINALIZED);
    }
}

/* The run whose database connections a process forked by its driver must
 * not keep (forked_child). */
static cd_run *current_run;

/* In a process the driver forks without exec: the run's database sockets
 * are closed there (libpq marks them close-on-exec, but a plain fork keeps
 * them), so a helper outliving a crashed runner cannot hold the run's load
 * transaction open; and the stop signals are its own again, so a plain
 * kill ends it. */
static void forked_child(void)
{
    if (current_run) {
        if (current_run->data && PQsocket(current_run->data) >= 0)
            close(PQsocket(current_run->data));
        if (current_run->ctl && PQsocket(current_run->ctl) >= 0)
            close(PQsocket(current_run->ctl));
    }
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
}

static cd_run_kind kind_of(const char *run_type)
{
    if (strcmp(run_type, "TEST") == 0)
        return CD_RUN_TEST;
    if (strcmp(run_type, "MANUAL") == 0)
        return CD_RUN_MANUAL;
    if (strcmp(run_type, "BACKFILL") == 0)
        return CD_RUN_BACKFILL;
    return CD_RUN_SCHEDULED;
}

static const char *outcome_word(int rc)
{
    switch (rc) {
    case CD_OK: return "ok";
    case CD_ERR_CONFIG: return "configuration_error";
    case CD_ERR_TRANSIENT: return "transient_error";
    case CD_ERR_PERMANENT: return "permanent_error";
    case CD_CANCELLED: return "cancelled";
    }
    return "unknown";
}

/* The dataset of a CD_DATASET_CONFIGURED driver comes from
 * connection_config.dataset. */
static int resolve_dataset(const cd_driver *drv, const json_t *config, cd_dataset *out,
                           char **err)
{
    if (drv->magic->dataset != CD_DATASET_CONFIGURED) {
        *out = drv->magic->dataset;
        return 0;
    }
    const char *ds = json_string_value(json_object_get(config, "dataset"));
    if (ds && strcmp(ds, "pg_transaction") == 0)
        *out = CD_DATASET_PG_TRANSACTION;
    else if (ds && strcmp(ds, "bank_statement") == 0)
        *out = CD_DATASET_BANK_STATEMENT;
    else {
        *err = cd_xstrdup("connection_config.dataset must be \"pg_transaction\" or "
                          "\"bank_statement\"");
        return -1;
    }
    return 0;
}

static void apply_http_settings(const cd_config *cfg, cd_run *run)
{
    run->http.connect_timeout_s =
        (uint32_t)cd_config_int(cfg, "http_client.connect_timeout_seconds", 30, NULL);
    run->http.request_timeout_s =
        (uint32_t)cd_config_int(cfg, "http_client.request_timeout_seconds", 300, NULL);
    run->http.ca_file = cd_config_string(cfg, "http_client.ca_file", NULL);
    run->http.proxy = cd_config_string(cfg, "http_client.proxy", NULL);
    /* TLS verification cannot be turned off from the configuration. */
    run->http.verify_tls = 1;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

typedef struct run_state {
    const cd_config *cfg;
    cd_run_row row;
    cd_run run;
    cd_driver driver;
    int driver_loaded;
    json_t *config;        /* connection_config with references resolved */
    char *config_text;
    char *error;           /* the run's error_message */
    int rc;
    cd_sink_counts counts;
    int merged;
    int64_t started_ms;
    int timeout_s;
    int timed_out;
} run_state;

/* Loads driver, secrets and connections. On failure sets st->rc/st->error. */
static int prepare(run_state *st)
{
    cd_run *run = &st->run;
    const char *dir_default = NULL;
    char *dir_alloc = NULL;
    const char *dir = cd_config_string(st->cfg, "plugins.dir", NULL);
    if (!dir) {
        dir_alloc = cd_path_from_prefix("lib/connectord/plugins");
        dir_default = dir_alloc;
        dir = dir_default;
    }
    char *reason = NULL;
    if (cd_driver_find(dir, st->row.driver, &st->driver, &reason) != 0) {
        st->rc = CD_ERR_CONFIG;
        st->error = cd_sprintf("driver %s cannot be loaded: %s", st->row.driver, reason);
        free(reason);
        free(dir_alloc);
        return -1;
    }
    free(dir_alloc);
    st->driver_loaded = 1;
    const char *category = cd_category_name(st->driver.magic->category);
    if (strcmp(category, st->row.connector_type) != 0) {
        st->rc = CD_ERR_CONFIG;
        st->error = cd_sprintf("driver %s serves %s connectors, this connector is %s",
                               st->driver.magic->name, category, st->row.connector_type);
        return -1;
    }

    json_error_t jerr;
    st->config = json_loads(st->row.config_json ? st->row.config_json : "{}", 0, &jerr);
    if (!st->config || !json_is_object(st->config)) {
        st->rc = CD_ERR_CONFIG;
        st->error = cd_xstrdup("connection_config is not a JSON object");
        return -1;
    }
    /* Plaintext secrets typed into the API are scrubbed like resolved ones. */
    cd_secrets_collect_marked(st->config, st->driver.config_schema, run->secrets);
    char *err = NULL;
    if (cd_secrets_resolve_tree(st->config, run->secrets, &err) != 0) {
        st->rc = CD_ERR_CONFIG;
        st->error = err;
        return -1;
    }
    cd_templates_inject(st->cfg, st->driver.config_schema, st->config); /* "template": name */
    if (resolve_dataset(&st->driver, st->config, &run->dataset, &err) != 0) {
        st->rc = CD_ERR_CONFIG;
        st->error = err;
        return -1;
    }
    st->config_text = json_dumps(st->config, JSON_COMPACT);
    run->info.config_json = st->config_text;
    run->info.config_json_len = strlen(st->config_text);

    /* The data connection opens with the first record (host.c). */
    run->data_url = cd_config_string(st->cfg, "database.url", NULL);
    return 0;
}

/* "cancelled by WHO", from the request the API recorded. */
static char *cancel_reason(cd_run *run)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)run->info.run_id);
    const char *p[] = {id};
    char *err = NULL;
    PGconn *ctl = cd_run_ctl(run);
    if (!ctl)
        return cd_xstrdup("cancelled by USER");
    PGresult *res = cd_db_exec(ctl, "reading the cancel request", PGRES_TUPLES_OK,
                               "SELECT COALESCE(cancel_requested_by, 'USER')"
                               " FROM sp_v2_connector_runs WHERE id = $1",
                               1, p, &err);
    char *reason = cd_sprintf("cancelled by %s",
                              res && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "USER");
    PQclear(res);
    free(err);
    return reason;
}

static void call_driver(run_state *st)
{
    cd_run *run = &st->run;
    const cd_driver_callbacks *cb = &st->driver.callbacks;
    cd_host_table.log(run, CD_LOG_INFO, "%s run of %s (driver %s %s) for %s, attempt %u",
                      st->row.run_type, st->row.connector_name, st->driver.magic->name,
                      st->driver.magic->version, run->info.run_date, (unsigned)run->info.attempt);
    if (cb->validate) {
        int vrc = cb->validate(run);
        if (vrc != CD_OK || json_array_size(run->config_errors) > 0) {
            st->rc = CD_ERR_CONFIG;
            cd_buf b;
            cd_buf_init(&b);
            cd_buf_puts(&b, "invalid connection_config: ");
            size_t i;
            json_t *e;
            json_array_foreach(run->config_errors, i, e) {
                cd_buf_printf(&b, "%s%s: %s", i ? "; " : "",
                              json_string_value(json_object_get(e, "field")),
                              json_string_value(json_object_get(e, "message")));
            }
            if (json_array_size(run->config_errors) == 0)
                cd_buf_puts(&b, "rejected by the driver");
            st->error = cd_buf_take(&b);
            return;
        }
    }
    st->rc = run->info.kind == CD_RUN_TEST ? cb->test(run) : cb->run(run);
    if (st->rc < CD_OK || st->rc > CD_CANCELLED) {
        cd_host_table.log(run, CD_LOG_ERROR, "driver returned unknown code %d", st->rc);
        st->rc = CD_ERR_PERMANENT;
    }
    /* The host's own failure decides how the run ends: the driver only
     * heard "stop" (CD_ERR_PERMANENT) from record_emit. */
    if (run->fatal && st->rc != CD_CANCELLED)
        st->rc = run->fatal_rc ? run->fatal_rc : CD_ERR_PERMANENT;
    /* Told to stop, it may have stopped emitting and still said OK: what
     * it loaded is then part of a day, which must not commit as SUCCESS. */
    if (st->rc == CD_OK && run->told_cancelled) {
        cd_host_table.log(run, CD_LOG_WARNING,
                          "the driver returned OK after it was told the run is cancelled; "
                          "the run ends cancelled, its records not kept");
        st->rc = CD_CANCELLED;
    }
    if (st->rc == CD_CANCELLED || (st->rc != CD_OK && cancel_requested)) {
        st->rc = CD_CANCELLED;
        int64_t elapsed = cd_now_ms() - st->started_ms;
        if (timeout_signalled ||
            (!cancel_requested && st->timeout_s > 0 && elapsed >= (int64_t)st->timeout_s * 1000)) {
            st->timed_out = 1;
            st->error = cd_sprintf("timed out after %d s", st->timeout_s);
        } else if (handback_requested) {
            st->error = cd_xstrdup("handed back: the worker is shutting down");
        } else {
            st->error = cancel_reason(run);
        }
        return;
    }
    if (st->rc != CD_OK) {
        if (run->fatal)
            st->error = cd_xstrdup(run->fatal);
        else if (run->message)
            st->error = cd_xstrdup(run->message);
        else
            st->error = cd_sprintf("driver %s failed (%s)", st->driver.magic->name,
                                   outcome_word(st->rc));
    }
}

static json_t *build_details(run_state *st)
{
    cd_run *run = &st->run;
    json_t *d = json_deep_copy(run->details);
    if (st->driver_loaded) {
        json_object_set_new(d, "driver", json_string(st->driver.magic->name));
        json_object_set_new(d, "driver_version", json_string(st->driver.magic->version));
    }
    json_object_set_new(d, "attempt", json_integer(run->info.attempt));
    json_object_set_new(d, "outcome", json_string(outcome_word(st->rc)));
    if (run->info.window_from)
        json_object_set_new(d, "window", json_pack("{s:s, s:s}", "from", run->info.window_from,
                                                   "to", run->info.window_to));
    if (st->merged) {
        json_object_set_new(d, "inserted", json_integer(st->counts.inserted));
        json_object_set_new(d, "updated", json_integer(st->counts.updated));
        json_object_set_new(d, "unchanged", json_integer(st->counts.unchanged));
        json_object_set_new(d, "duplicates", json_integer(st->counts.duplicates));
        /* direct: every key was new, the rows were copied straight into the
         * target; merge: through staging (sink.h). */
        json_object_set_new(d, "load_path", json_string(st->counts.direct ? "direct" : "merge"));
        json_object_set_new(d, "target_table",
                            json_string(cd_sink_target_table(run->dataset)));
    }
    json_object_set_new(d, "rejected", json_integer(st->counts.rejected));
    json_object_set_new(d, "driver_record_errors", json_integer(run->driver_errors));
    json_object_set_new(d, "record_errors_stored", json_integer(run->errors_stored));
    json_object_set_new(d, "record_errors_dropped", json_integer(run->errors_dropped));
    if (run->log_lines > run->max_log_lines)
        json_object_set_new(d, "log_lines_dropped",
                            json_integer(run->log_lines - run->max_log_lines));
    if (json_array_size(run->steps))
        json_object_set_new(d, "test_steps", json_copy(run->steps));
    if (run->message)
        json_object_set_new(d, "message", json_string(run->message));
    if (run->progress_total)
        json_object_set_new(d, "progress", json_pack("{s:I, s:I}", "done",
                                                     (json_int_t)run->progress_done, "total",
                                                     (json_int_t)run->progress_total));
    json_object_set_new(d, "runner_peak_rss_kb", json_integer(peak_rss_kb()));
    json_object_set_new(d, "runner_db_connections", json_integer(run->db_connections));
    return d;
}

/* A run that committed nothing is settled by the worker when it started
 * this runner (runner_channel.h), else on the control connection. Both
 * return 1 settled, 0 the run was no longer RUNNING, -1 with *err. */
static int settle_requeue(cd_run *run, json_t *details, const char *error_message,
                          double delay_s, int consume_attempt, char **err)
{
    if (run->channel_fd < 0)
        return cd_runs_requeue(run->ctl, run->info.run_id, (int)run->info.attempt,
                               error_message, details, delay_s, consume_attempt, err);
    json_t *v = json_pack("{s:s, s:i, s:s?, s:O, s:f, s:b}", "op", "requeue", "attempt",
                          (int)run->info.attempt, "error_message", error_message, "details",
                          details, "delay_seconds", delay_s, "consume_attempt",
                          consume_attempt);
    int rc = v ? cd_channel_send_verdict(run->channel_fd, v) : -1;
    json_decref(v);
    if (rc != 0) {
        *err = cd_xstrdup("the worker that started this runner is gone");
        return -1;
    }
    return 1;
}

static int settle_finalize(cd_run *run, const cd_run_outcome *o, char **err)
{
    if (run->channel_fd < 0)
        return cd_runs_finalize(run->ctl, run->info.run_id, o, err);
    json_t *v = json_pack("{s:s, s:s, s:s?, s:O, s:I, s:I, s:I, s:b, s:s?, s:i}", "op",
                          "finalize", "status", o->status, "error_message", o->error_message,
                          "details", o->details, "processed", (json_int_t)o->processed,
                          "success", (json_int_t)o->success, "failed", (json_int_t)o->failed,
                          "cursor_dirty", o->cursor_dirty, "cursor", o->cursor, "attempt",
                          o->attempt);
    int rc = v ? cd_channel_send_verdict(run->channel_fd, v) : -1;
    json_decref(v);
    if (rc != 0) {
        *err = cd_xstrdup("the worker that started this runner is gone");
        return -1;
    }
    return 1;
}

/* Merges and finalizes on the data connection (one transaction), or rolls
 * back and has the run settled without records (settle_*). */
static int finish(run_state *st)
{
    cd_run *run = &st->run;
    char *err = NULL;
    if (st->rc == CD_OK && run->sink) {
        if (cd_sink_merge(run->sink, &st->counts, &err) != 0) {
            st->rc = CD_ERR_TRANSIENT;
            st->error = cd_sprintf("loading the records failed: %s", err);
            free(err);
            /* what was received and rejected, as for a driver's failure */
            cd_sink_peek(run->sink, &st->counts);
        } else {
            st->merged = 1;
            /* Last one wins (a source re-reporting a row with its newer
             * state), but an operator must be able to see that it happened:
             * a refund sharing its sale's id would replace it. */
            if (st->counts.duplicates > 0)
                cd_host_table.log(run, CD_LOG_WARNING,
                                  "%lld record%s repeated a key already read in this run; the "
                                  "last one of each key was loaded",
                                  (long long)st->counts.duplicates,
                                  st->counts.duplicates == 1 ? "" : "s");
        }
    } else if (run->sink) {
        cd_sink_peek(run->sink, &st->counts);
    }
    /* Files the ledger settles as LOADED without one row among them (a
     * header-only file) need a load transaction all the same. */
    if (st->rc == CD_OK && !run->data && run->files_loaded &&
        json_object_size(run->files_loaded) > 0 && cd_run_open_data(run, &err) != 0) {
        st->rc = CD_ERR_TRANSIENT;
        st->error = cd_sprintf("opening the load transaction for the file ledger: %s", err);
        free(err);
        err = NULL;
    }
    if (st->rc == CD_OK && run->data && cd_host_files_flush(run, &err) != 0) {
        st->rc = CD_ERR_TRANSIENT; /* file ledger LOADED rows, in the load's transaction */
        st->error = err;
    }
    cd_run_flush_errors(run);

    int64_t failed = st->counts.rejected + run->driver_errors;
    cd_run_outcome o = {0};
    o.processed = st->counts.received + run->driver_errors;
    o.success = st->rc == CD_OK ? st->counts.staged : 0;
    o.failed = failed;
    if (st->rc == CD_OK)
        o.status = failed > 0 ? "PARTIAL_SUCCESS" : "SUCCESS";
    else
        o.status = "FAILED";
    if (st->rc == CD_OK && failed > 0 && !st->error)
        st->error = cd_sprintf("%lld record%s failed validation; see the record errors",
                               (long long)failed, failed == 1 ? "" : "s");
    o.error_message = st->error;
    o.cursor_dirty = run->cursor_dirty;
    o.cursor = run->cursor_new;
    o.attempt = (int)run->info.attempt;
    json_t *details = build_details(st);
    o.details = details;

    int done = -1;
    int committed = 0; /* the records and the run row are committed on run->data */
    if (st->rc == CD_OK && run->data) {
        done = cd_runs_finalize(run->data, run->info.run_id, &o, &err);
        if (done == 1 && cd_db_command(run->data, "committing the run", "COMMIT", 0, NULL,
                                       &err) != 0)
            done = -1;
        committed = done == 1;
        if (done != 1) {
            /* The records are not committed: the run must say FAILED. */
            char *why = done == 0 ? cd_xstrdup("the run was no longer RUNNING (cancelled or "
                                               "rescued) when its records were committed")
                                  : err;
            err = NULL;
            cd_error("run %lld: %s", (long long)run->info.run_id, why);
            /* rolled back below, with every other run that did not commit */
            free(st->error);
            st->error = why;
            st->rc = CD_ERR_TRANSIENT;
            o.status = "FAILED";
            o.success = 0;
            o.error_message = st->error;
            o.cursor_dirty = 0;
            json_object_set_new(details, "outcome", json_string(outcome_word(st->rc)));
            done = -1;
        }
    }
    const char *verdict = o.status;
    if (done != 1) {
        if (run->data) {
            PGresult *r = PQexec(run->data, "ROLLBACK");
            PQclear(r);
        }
        int retryable = st->rc == CD_ERR_TRANSIENT || st->timed_out;
        if (st->rc == CD_CANCELLED && handback_requested) {
            done = settle_requeue(run, details, st->error, 0, 0, &err);
            verdict = "QUEUED (handed back)";
        } else if (retryable && (int)run->info.attempt < st->row.max_attempts) {
            double after = json_number_value(json_object_get(details, "retry_after_seconds"));
            double delay =
                cd_retry_delay((int)run->info.attempt,
                               (double)cd_config_int(st->cfg, "retry.base_seconds", 60, NULL),
                               (double)cd_config_int(st->cfg, "retry.max_seconds", 3600, NULL),
                               after);
            /* Logged first: through a channel, the worker stores log lines as
             * they come and applies the verdict after this process ended. */
            cd_host_table.log(run, CD_LOG_WARNING, "attempt %u of %d failed: %s; retrying in %.0f s",
                              (unsigned)run->info.attempt, st->row.max_attempts, st->error,
                              delay);
            done = settle_requeue(run, details, st->error, delay, 1, &err);
            verdict = "QUEUED for a retry";
        } else {
            o.attempt = (int)run->info.attempt;
            done = settle_finalize(run, &o, &err);
        }
    }
    json_decref(details);
    if (done < 0) {
        cd_error("run %lld: %s", (long long)run->info.run_id, err);
        free(err);
        return CD_RUNNER_NOT_FINALIZED;
    }
    cd_info("run %lld: %s%s%s", (long long)run->info.run_id, verdict,
            st->error ? ": " : "", st->error ? st->error : "");
    /* ABI 1.2: the records, the LOADED ledger rows and the run row are
     * committed: the driver may now act on its source (move the files it
     * loaded). Best effort: its log lines go where all of them go (the
     * worker's channel or the control connection); nothing it does changes
     * the verdict. A run that committed no records is not called back: its
     * verdict may still be on its way to the worker, and there is nothing
     * of it to act on. */
    if (committed && st->rc == CD_OK && run->info.kind != CD_RUN_TEST && st->driver_loaded &&
        st->driver.callbacks.committed) {
        run->after_commit = 1;
        st->driver.callbacks.committed(run);
    }
    return CD_RUNNER_FINALIZED;
}

/* The run row: from the worker that started us (runner_channel.h), or
 * read on our own control connection when run by hand. */
static int load_run(cd_run *run, int64_t run_id, cd_run_row *row, char **err)
{
    const char *fds = getenv(CD_CHANNEL_ENV);
    if (fds) {
        char expect[16];
        snprintf(expect, sizeof expect, "%d,%d", CD_CHANNEL_ROW_FD, CD_CHANNEL_FD);
        if (strcmp(fds, expect) != 0) {
            *err = cd_sprintf("%s=%s: expected %s", CD_CHANNEL_ENV, fds, expect);
            return -1;
        }
        /* Nothing a driver starts may hold the worker's pipe open. */
        if (fcntl(CD_CHANNEL_FD, F_SETFD, FD_CLOEXEC) != 0) {
            *err = cd_sprintf("no channel to the worker on fd %d: %s", CD_CHANNEL_FD,
                              strerror(errno));
            return -1;
        }
        if (cd_channel_read_row(CD_CHANNEL_ROW_FD, row, err) != 0)
            return -1;
        if (row->id != run_id) {
            *err = cd_sprintf("the worker sent run %lld", (long long)row->id);
            cd_run_row_free(row);
            return -1;
        }
        run->channel_fd = CD_CHANNEL_FD;
        return 0;
    }
    if (!cd_run_ctl(run)) {
        *err = cd_xstrdup("no database connection");
        return -1;
    }
    return cd_runs_load(run->ctl, run_id, row, err);
}

int cd_exec_run(const cd_config *cfg, int64_t run_id)
{
    install_signal_handlers();
    run_state st;
    memset(&st, 0, sizeof st);
    st.cfg = cfg;
    st.started_ms = cd_now_ms();
    cd_run *run = &st.run;
    cd_run_init(run);
    current_run = run;
    pthread_atfork(NULL, NULL, forked_child);
    run->secrets = cd_secret_set_new();
    run->cancel_flag = &cancel_requested;
    run->max_record_errors = cd_config_int(cfg, "runner.max_record_errors", 1000, NULL);
    apply_http_settings(cfg, run);

    char *err = NULL;
    const char *url = cd_config_string(cfg, "database.url", NULL);
    run->ctl_url = url;
    cd_secret_guard_set(url); /* before any of the connector's references */
    if (load_run(run, run_id, &st.row, &err) != 0) {
        fprintf(stderr, "<3>run %lld: %s\n", (long long)run_id, err);
        free(err);
        PQfinish(run->ctl);
        cd_run_release(run);
        cd_secret_set_free(run->secrets);
        return CD_RUNNER_NOT_FINALIZED;
    }
    int exit_code;
    if (strcmp(st.row.status, "RUNNING") != 0) {
        cd_error("run %lld is %s, not RUNNING: nothing to do", (long long)run_id, st.row.status);
        exit_code = CD_RUNNER_FINALIZED;
        goto out;
    }
    st.timeout_s = st.row.timeout_seconds > 0
                       ? st.row.timeout_seconds
                       : (int)cd_config_int(cfg, "runner.timeout_seconds", 900, NULL);
    run->deadline_ms = st.started_ms + (int64_t)st.timeout_s * 1000;

    cd_run_info *info = &run->info;
    info->run_id = st.row.id;
    info->connector_id = st.row.connector_id;
    info->connector_name = st.row.connector_name;
    info->source_entity = st.row.source_entity;
    info->kind = kind_of(st.row.run_type);
    info->run_date = st.row.run_date ? st.row.run_date : "";
    info->window_from = info->run_date;
    info->window_to = info->run_date;
    info->timezone = st.row.timezone;
    info->attempt = (uint32_t)(st.row.attempt > 0 ? st.row.attempt : 1);
    info->config_json = "{}";
    run->cursor_old = st.row.sync_cursor ? cd_xstrdup(st.row.sync_cursor) : NULL;
    cd_host_files_setup(run, cfg); /* work_dir; a failure is logged, drivers see NULL */

    if (prepare(&st) == 0)
        call_driver(&st);
    exit_code = finish(&st);

out:
    if (run->sink)
        cd_sink_free(run->sink);
    if (run->data)
        PQfinish(run->data);
    cd_run_release(run);
    cd_host_files_release(run);
    if (st.driver_loaded)
        cd_driver_unload_at_exit(&st.driver); /* the runner exits next */
    PQfinish(run->ctl);
    json_decref(st.config);
    free(st.config_text);
    free(st.error);
    cd_run_row_free(&st.row);
    cd_secret_set_free(run->secrets);
    return exit_code;
}
