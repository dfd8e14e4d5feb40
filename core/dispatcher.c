/* dispatcher.c — see dispatcher.h. */
#include "dispatcher.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "host.h"
#include "log.h"
#include "runner_channel.h"
#include "runs.h"
#include "supervise.h"
#include "zygote.h"
#include "util.h"

/* STOP_LOST: the run was taken over (rescued while this worker did not
 * answer, and queued or run again elsewhere): its runner is stopped and
 * nothing of its outcome is written. */
/* STOP_FLOOD: the runner wrote more to its channel than any message can
 * be (CD_CHANNEL_MAX_MESSAGE); it was killed before the worker's memory
 * could follow. */
typedef enum stop_reason {
    STOP_NONE,
    STOP_TIMEOUT,
    STOP_CANCEL,
    STOP_HANDBACK,
    STOP_LOST,
    STOP_FLOOD
} stop_reason;

typedef struct slot {
    int used;
    cd_child child;
    int64_t run_id;
    int64_t connector_id;
    int attempt;
    int max_attempts;
    int timeout_s;
    int pid_recorded;    /* runner_pid is in the run row */
    int channel;         /* the runner reports to us (runner_channel.h), not to the database */
    stop_reason stop;
    int ended;           /* the runner is gone; its run is still to be settled (collect_end) */
    char *cancelled_by;
    json_t *verdict;     /* what the runner decided, through its channel */
} slot;

struct cd_dispatcher {
    const cd_config *cfg;
    char *self_exe;
    char *config_path;
    char *worker_id;
    slot *slots;
    size_t nslots;   /* allocated: the most runs any configuration may allow */
    size_t max;      /* workers.max_concurrent_runs */
    size_t running;
    int lease_s;
    int grace_s;
    int default_timeout_s;
    int claiming;
    json_t *pending_logs;        /* log lines read this round, stored at its end */
    json_t *pending_outcomes;    /* runs ended this round, finalized at its end */
    cd_zygote *zygote;           /* forks our runners (zygote.h); NULL: exec each */
    int64_t zygote_started_ms;   /* last (re)start, to not restart one in a loop */
};

#define MAX_SLOTS 256

void cd_dispatcher_reconfigure(cd_dispatcher *d, const cd_config *cfg)
{
    d->cfg = cfg;
    long long max = cd_config_int(cfg, "workers.max_concurrent_runs", 4, NULL);
    d->max = (size_t)(max > 0 && max <= MAX_SLOTS ? max : 4);
    d->lease_s = (int)cd_config_int(cfg, "workers.lease_seconds", 60, NULL);
    if (d->lease_s < 3)
        d->lease_s = 3;
    d->grace_s = (int)cd_config_int(cfg, "runner.kill_grace_seconds", 10, NULL);
    d->default_timeout_s = (int)cd_config_int(cfg, "runner.timeout_seconds", 900, NULL);
}

cd_dispatcher *cd_dispatcher_new(const cd_config *cfg, const char *self_exe,
                                 const char *config_path, const char *worker_id)
{
    cd_dispatcher *d = cd_xcalloc(1, sizeof *d);
    d->self_exe = cd_xstrdup(self_exe);
    d->config_path = cd_xstrdup(config_path);
    d->worker_id = cd_xstrdup(worker_id);
    d->nslots = MAX_SLOTS;
    d->slots = cd_xcalloc(d->nslots, sizeof *d->slots);
    cd_dispatcher_reconfigure(d, cfg);
    d->claiming = 1;
    d->pending_logs = json_array();
    d->pending_outcomes = json_array();
    return d;
}

void cd_dispatcher_free(cd_dispatcher *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nslots; i++) {
        if (d->slots[i].child.stderr_fd >= 0 && d->slots[i].used)
            close(d->slots[i].child.stderr_fd);
        if (d->slots[i].used)
            cd_child_close_channel(&d->slots[i].child);
        json_decref(d->slots[i].verdict);
        free(d->slots[i].cancelled_by);
    }
    cd_zygote_stop(d->zygote);
    json_decref(d->pending_logs);
    json_decref(d->pending_outcomes);
    free(d->slots);
    free(d->self_exe);
    free(d->config_path);
    free(d->worker_id);
    free(d);
}

size_t cd_dispatcher_running(const cd_dispatcher *d) { return d->running; }
int cd_dispatcher_pending(const cd_dispatcher *d)
{
    return json_array_size(d->pending_logs) > 0 || json_array_size(d->pending_outcomes) > 0;
}
size_t cd_dispatcher_capacity(const cd_dispatcher *d) { return d->max; }
void cd_dispatcher_stop_claiming(cd_dispatcher *d) { d->claiming = 0; }

/* The zygote to fork the next runner, (re)started as needed; NULL: exec
 * this runner (no zygote could be started, or a dead one still has runners
 * to account for, or it was restarted less than 10 s ago). */
static cd_zygote *zygote_for_spawn(cd_dispatcher *d)
{
    if (d->zygote && cd_zygote_alive(d->zygote))
        return d->zygote;
    if (d->zygote) {
        for (size_t i = 0; i < d->nslots; i++)
            if (d->slots[i].used && d->slots[i].child.zygote == d->zygote)
                return NULL;
        cd_zygote_stop(d->zygote);
        d->zygote = NULL;
    }
    int64_t now = cd_now_ms();
    if (d->zygote_started_ms && now - d->zygote_started_ms < 10000)
        return NULL;
    d->zygote_started_ms = now;
    char *err = NULL;
    d->zygote = cd_zygote_start(d->self_exe, &err);
    if (!d->zygote) {
        cd_warn("runners are exec'd one by one: %s", err);
        free(err);
    }
    return d->zygote;
}

static slot *free_slot(cd_dispatcher *d)
{
    for (size_t i = 0; i < d->nslots; i++)
        if (!d->slots[i].used)
            return &d->slots[i];
    return NULL;
}

static int conn_ok(PGconn *conn) { return conn && PQstatus(conn) == CONNECTION_OK; }

/* After a write that failed: -1 when the connection went away (the run is
 * settled again once it is back), 0 when the failure was the statement's
 * (logged; the run's lease runs out and it is rescued). */
static int settle_failed(PGconn *conn, const slot *s, char *err)
{
    int lost = !conn_ok(conn);
    cd_error("run %lld: %s%s", (long long)s->run_id, err,
             lost ? " (settled again once the database connection is back)" : "");
    free(err);
    return lost ? -1 : 0;
}

/* 0 settled (or not ours to settle any more), -1 the database connection
 * is gone: try again later. */
static int settle(cd_dispatcher *d, PGconn *conn, slot *s, const char *reason, int retryable)
{
    char *err = NULL;
    if (cd_runs_fail_or_retry(conn, d->cfg, s->run_id, s->attempt, s->max_attempts, reason,
                              retryable, NULL, &err) < 0)
        return settle_failed(conn, s, err);
    return 0;
}

/* Starts the runner of a claimed run in slot s. 0, or -1 with *err (the
 * run is still RUNNING and ours to settle). */
static int start_runner(cd_dispatcher *d, slot *s, const cd_run_row *row, char **err)
{
    /* The runner gets its run from us and tells us its logs and its
     * verdict: an empty run then costs it no database connection
     * (runner_channel.h). */
    char *row_json = cd_channel_row_json(row);
    cd_zygote *z = row_json ? zygote_for_spawn(d) : NULL;
    int spawned = -1;
    if (z) {
        char *zerr = NULL;
        spawned = cd_child_spawn_zygote(&s->child, z, d->config_path, s->run_id, row_json, &zerr);
        if (spawned != 0) {
            cd_warn("run %lld: %s; exec'ing its runner instead", (long long)s->run_id, zerr);
            free(zerr);
        }
    }
    if (spawned != 0)
        spawned = row_json ? cd_child_spawn_channel(&s->child, d->self_exe, d->config_path,
                                                    s->run_id, row_json, err)
                           : cd_child_spawn(&s->child, d->self_exe, d->config_path, s->run_id, 1,
                                            err);
    s->channel = spawned == 0 && row_json;
    free(row_json);
    return spawned;
}

int cd_dispatcher_claim(cd_dispatcher *d, PGconn *conn, char **err)
{
    if (!d->claiming || d->running >= d->max)
        return 0;
    cd_run_row *rows = NULL;
    int n = cd_runs_claim(conn, d->worker_id, d->lease_s, (int)(d->max - d->running), &rows, err);
    if (n <= 0)
        return n;
    int started = 0;
    for (int i = 0; i < n; i++) {
        slot *s = free_slot(d);
        slot claimed;
        memset(&claimed, 0, sizeof claimed);
        claimed.run_id = rows[i].id;
        claimed.connector_id = rows[i].connector_id;
        claimed.attempt = rows[i].attempt;
        claimed.max_attempts = rows[i].max_attempts;
        claimed.timeout_s = rows[i].timeout_seconds > 0 ? rows[i].timeout_seconds
                                                        : d->default_timeout_s;
        char *spawn_err = NULL;
        int spawned = s ? start_runner(d, &claimed, &rows[i], &spawn_err) : -1;
        cd_run_row_free(&rows[i]);
        if (spawned != 0) {
            settle(d, conn, &claimed, spawn_err ? spawn_err : "no free runner slot", 1);
            free(spawn_err);
            continue;
        }
        claimed.used = 1;
        *s = claimed;
        d->running++;
        started++;
        cd_debug("run %lld: started runner pid %ld (attempt %d of %d)", (long long)s->run_id,
                 (long)s->child.pid, s->attempt, s->max_attempts);
    }
    free(rows);
    return started;
}

size_t cd_dispatcher_pollfds(cd_dispatcher *d, struct pollfd *fds, size_t max)
{
    size_t n = 0;
    if (cd_zygote_fd(d->zygote) >= 0 && n < max)
        fds[n++] = (struct pollfd){.fd = cd_zygote_fd(d->zygote), .events = POLLIN};
    for (size_t i = 0; i < d->nslots && n < max; i++) {
        if (!d->slots[i].used)
            continue;
        if (d->slots[i].child.stderr_fd >= 0 && n < max)
            fds[n++] = (struct pollfd){.fd = d->slots[i].child.stderr_fd, .events = POLLIN};
        if (d->slots[i].child.channel_fd >= 0 && n < max)
            fds[n++] = (struct pollfd){.fd = d->slots[i].child.channel_fd, .events = POLLIN};
    }
    return n;
}

/* A log line as the runner sent it, in the form the store takes whatever
 * the runner (or a driver writing to its descriptor) put there: a bad
 * field would make the one INSERT of the round, every runner's lines,
 * fail. */
static json_t *clean_log(const slot *s, const json_t *log)
{
    json_t *level = json_object_get(log, "level");
    json_t *attempt = json_object_get(log, "attempt");
    json_t *message = json_object_get(log, "message");
    json_int_t lv = json_is_integer(level) ? json_integer_value(level) : -1;
    json_int_t at = json_is_integer(attempt) ? json_integer_value(attempt) : 0;
    json_t *out = json_object();
    json_object_set_new(out, "run_id", json_integer((json_int_t)s->run_id));
    json_object_set_new(out, "level", json_integer(lv >= 0 && lv <= 7 ? lv : 6));
    json_object_set_new(out, "attempt",
                        json_integer(at > 0 && at <= INT32_MAX ? at : (json_int_t)s->attempt));
    if (json_is_string(message)) {
        /* (cd_channel_next refuses a NUL in a string: text takes none) */
        json_object_set(out, "message", message);
    } else {
        char *text = message ? json_dumps(message, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_object_set_new(out, "message", json_string(text ? text : ""));
        free(text);
    }
    return out;
}

/* Takes the log lines the runner sent (stored at the end of this round,
 * with every other runner's) and keeps its verdict for when it has exited. */
static void handle_channel(cd_dispatcher *d, slot *s)
{
    cd_child *c = &s->child;
    int filled = c->channel_fd >= 0 ? cd_channel_fill(c->channel_fd, &c->channel_in) : 1;
    if (filled == 0) {
        close(c->channel_fd);
        c->channel_fd = -1;
    }
    json_t *msg;
    while ((msg = cd_channel_next(&c->channel_in)) != NULL) {
        json_t *log = json_object_get(msg, "log");
        json_t *verdict = json_object_get(msg, "verdict");
        if (json_is_object(log)) {
            json_array_append_new(d->pending_logs, clean_log(s, log));
        } else if (json_is_object(verdict)) {
            json_decref(s->verdict);
            s->verdict = json_incref(verdict);
        }
        json_decref(msg);
    }
    if (filled == 2 && c->channel_in.len >= CD_CHANNEL_MAX_MESSAGE) {
        cd_warn("run %lld: its runner wrote a message of more than %zu bytes to the worker; "
                "stopped", (long long)s->run_id, (size_t)CD_CHANNEL_MAX_MESSAGE);
        close(c->channel_fd);
        c->channel_fd = -1;
        c->channel_in.len = 0;
        /* A cancel or a hand-back asked for stays what the run ends as. */
        if (s->stop == STOP_NONE || s->stop == STOP_TIMEOUT)
            s->stop = STOP_FLOOD;
        cd_child_signal(c, SIGKILL);
    }
}

/* Stores the log lines and finalizes the runs of this round: one
 * statement each, whatever the number of runners. Without a database
 * connection they wait for the next round. */
static void flush_round(cd_dispatcher *d, PGconn *conn)
{
    if (!conn)
        return;
    char *err = NULL;
    if (json_array_size(d->pending_logs)) {
        if (cd_channel_store_logs(conn, d->pending_logs, &err) != 0) {
            cd_error("%s", err);
            free(err), err = NULL;
            if (PQstatus(conn) != CONNECTION_OK)
                return; /* kept for the next round, on a new connection */
        }
        json_array_clear(d->pending_logs);
    }
    size_t n = json_array_size(d->pending_outcomes);
    if (!n)
        return;
    if (cd_runs_finalize_many(conn, d->pending_outcomes, &err) < 0) {
        cd_error("settling %zu runs as their runners decided: %s", n, err);
        free(err), err = NULL;
        if (PQstatus(conn) != CONNECTION_OK)
            return; /* kept for the next round, on a new connection */
        /* One bad outcome must not hold up the others: each on its own.
         * A run still RUNNING after this is no longer renewed by our
         * heartbeat; its lease runs out and it is rescued. */
        for (size_t i = 0; n > 1 && i < n; i++) {
            json_t *one = json_array();
            json_t *o = json_array_get(d->pending_outcomes, i);
            json_array_append(one, o);
            if (cd_runs_finalize_many(conn, one, &err) < 0) {
                cd_error("run %lld: settling it as its runner decided: %s",
                         (long long)json_integer_value(json_object_get(o, "id")), err);
                free(err), err = NULL;
            }
            json_decref(one);
        }
    }
    json_array_clear(d->pending_outcomes);
}

void cd_dispatcher_readable(cd_dispatcher *d, const struct pollfd *fds, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (fds[k].fd == cd_zygote_fd(d->zygote)) {
            if (cd_zygote_read(d->zygote) != 0)
                cd_error("the runner zygote died; its runs are settled as lost");
            continue;
        }
        for (size_t i = 0; i < d->nslots; i++) {
            slot *s = &d->slots[i];
            if (!s->used)
                continue;
            if (s->child.stderr_fd == fds[k].fd)
                cd_child_drain(&s->child);
            else if (s->child.channel_fd == fds[k].fd)
                handle_channel(d, s);
        }
    }
}

/* Once its runner is gone: reads what it left in its pipes. Its run is
 * settled next (settle_slot), at once or, while the database connection is
 * away, once it is back: the slot stays taken, and the run's lease renewed,
 * until then. */
static void collect_end(cd_dispatcher *d, slot *s)
{
    /* Everything the runner wrote is in the pipe by now; what a process it
     * left behind might still write is not waited for. */
    cd_child_drain_rest(&s->child);
    handle_channel(d, s);
    cd_child_close_channel(&s->child);
    s->ended = 1;
}

/* The run's fate once its runner is gone. Exit 0 means the runner settled
 * the run itself (finalized or requeued). 0 settled, -1 the database
 * connection is gone (the slot is kept, to settle the run again). */
static int settle_slot(cd_dispatcher *d, PGconn *conn, slot *s)
{
    if (s->stop != STOP_LOST && !conn_ok(conn))
        return -1;
    cd_child *c = &s->child;
    int clean = c->exited && c->exit_code == 0;
    const char *op = s->verdict ? json_string_value(json_object_get(s->verdict, "op")) : NULL;
    int rc = 0;
    if (s->stop == STOP_LOST) {
        cd_warn("run %lld: its runner here was stopped and its outcome dropped: the run is "
                "no longer this worker's", (long long)s->run_id);
    } else if (clean && op && strcmp(op, "finalize") == 0) {
        /* Finalized with the others that ended this round (flush_round). */
        char *err = NULL;
        json_t *outcome = cd_channel_finalize_outcome(s->run_id, s->verdict, &err);
        if (outcome) {
            json_array_append_new(d->pending_outcomes, outcome);
        } else {
            cd_error("run %lld: settling it as its runner decided: %s", (long long)s->run_id,
                     err);
            free(err);
        }
    } else if (clean && s->verdict) {
        char *err = NULL;
        if (cd_channel_apply_verdict(conn, s->run_id, s->verdict, &err) < 0) {
            /* Still RUNNING: our heartbeat no longer renews it once the slot
             * is free, so its lease runs out and it is rescued. */
            char *why = cd_sprintf("settling it as its runner decided: %s", err);
            free(err);
            rc = settle_failed(conn, s, why);
        }
    } else if (clean && s->channel && s->stop != STOP_HANDBACK && s->stop != STOP_CANCEL) {
        /* No verdict: the runner committed its records and its run row
         * itself (then this finds the run settled and does nothing), or its
         * driver called exit() before the runner could settle it. */
        rc = settle(d, conn, s,
                    "runner exited without settling the run (did the driver call exit()?)", 1);
    } else if (!clean || s->channel) {
        /* Ended unsettled, or stopped by us and then exited 0 without a
         * verdict (a driver whose own SIGTERM or SIGINT handler exits): the
         * stop that was asked for is what the run ends as. */
        if (s->stop == STOP_HANDBACK) {
            char *err = NULL;
            if (cd_runs_requeue(conn, s->run_id, s->attempt,
                                "handed back: the worker is shutting down", NULL, 0, 0, &err) < 0)
                rc = settle_failed(conn, s, err);
        } else if (s->stop == STOP_CANCEL) {
            /* killed after the grace: still the cancel that was asked for */
            char *reason = cd_sprintf("cancelled by %s", s->cancelled_by ? s->cancelled_by : "USER");
            char *err = NULL;
            if (cd_runs_cancelled(conn, s->run_id, s->attempt, reason, NULL, &err) < 0)
                rc = settle_failed(conn, s, err);
            free(reason);
        } else if (s->stop == STOP_FLOOD) {
            char *reason = cd_sprintf("runner stopped: it wrote a message of more than %zu bytes "
                                      "to the worker",
                                      (size_t)CD_CHANNEL_MAX_MESSAGE);
            rc = settle(d, conn, s, reason, 0);
            free(reason);
        } else {
            c->timed_out = s->stop == STOP_TIMEOUT;
            char *reason = cd_child_failure_reason(c, s->timeout_s);
            rc = settle(d, conn, s, reason ? reason : "runner ended without settling the run", 1);
            free(reason);
        }
    }
    return rc;
}

static void release_slot(cd_dispatcher *d, slot *s)
{
    free(s->cancelled_by);
    json_decref(s->verdict);
    memset(s, 0, sizeof *s);
    s->child.stderr_fd = -1;
    s->child.channel_fd = -1;
    d->running--;
}

/* Collects the end of the runner of s, and settles its run if it can. 1
 * when the slot is free again. */
static int finish_slot(cd_dispatcher *d, PGconn *conn, slot *s)
{
    collect_end(d, s);
    if (settle_slot(d, conn, s) != 0)
        return 0;
    release_slot(d, s);
    return 1;
}

int cd_dispatcher_reap(cd_dispatcher *d, PGconn *conn)
{
    int ended = 0;
    int64_t now = cd_now_ms();
    for (size_t i = 0; i < d->nslots; i++) {
        slot *s = &d->slots[i];
        if (!s->used)
            continue;
        if (s->ended) {
            /* Its run could not be settled while the database was away. */
            if (settle_slot(d, conn, s) == 0) {
                release_slot(d, s);
                ended++;
            }
            continue;
        }
        int status;
        if (s->child.zygote) {
            int taken = cd_zygote_take_exit(s->child.zygote, s->child.pid, &status);
            if (taken) {
                cd_child_set_status(&s->child, status);
                s->child.lost = taken == 2;
                ended += finish_slot(d, conn, s);
                continue;
            }
        }
        int r = s->child.zygote ? 0 : cd_child_try_reap(&s->child);
        if (r == 1) {
            ended += finish_slot(d, conn, s);
            continue;
        }
        if (r < 0) {
            s->child.exited = 1;
            s->child.exit_code = 255;
            ended += finish_slot(d, conn, s);
            continue;
        }
        if (!s->child.term_sent_ms) {
            if (now - s->child.started_ms >= (int64_t)s->timeout_s * 1000) {
                s->stop = STOP_TIMEOUT;
                cd_child_signal(&s->child, SIGUSR1); /* runner.c: "past the deadline" */
                s->child.term_sent_ms = now;
            }
        } else if (now - s->child.term_sent_ms >= (int64_t)d->grace_s * 1000) {
            cd_child_signal(&s->child, SIGKILL);
        }
    }
    flush_round(d, conn);
    return ended;
}

/* A runner whose pid is still to be written: it has lasted a second. */
static int pid_due(const slot *s, int64_t now)
{
    return s->used && !s->ended && !s->pid_recorded && now - s->child.started_ms >= 1000;
}

int cd_dispatcher_record_pids(cd_dispatcher *d, PGconn *conn, char **err)
{
    /* Only runs that have lasted a second: most runs end sooner, and
     * recording their pid would cost one more write per run for nothing. */
    int64_t now = cd_now_ms();
    cd_buf ids, pids, attempts;
    cd_buf_init(&ids), cd_buf_init(&pids), cd_buf_init(&attempts);
    size_t n = 0;
    for (size_t i = 0; i < d->nslots; i++) {
        slot *s = &d->slots[i];
        if (!pid_due(s, now))
            continue;
        cd_buf_printf(&ids, "%s%lld", n ? "," : "{", (long long)s->run_id);
        cd_buf_printf(&pids, "%s%ld", n ? "," : "{", (long)s->child.pid);
        cd_buf_printf(&attempts, "%s%d", n ? "," : "{", s->attempt);
        n++;
    }
    int rc = 0;
    if (n) {
        cd_buf_putc(&ids, '}'), cd_buf_putc(&pids, '}'), cd_buf_putc(&attempts, '}');
        const char *p[] = {ids.data, pids.data, attempts.data, d->worker_id};
        /* Only where the run is still ours, in this attempt: a worker that
         * froze may wake holding a run that another worker has rescued and
         * runs again, with its own runner's pid. */
        rc = cd_db_command(conn, "recording the runners' pids",
                           "UPDATE sp_v2_connector_runs r SET runner_pid = s.pid"
                           " FROM unnest($1::bigint[], $2::int[], $3::int[]) AS s(id, pid, attempt)"
                           " WHERE r.id = s.id AND r.attempt = s.attempt AND r.worker_id = $4"
                           "   AND r.status = 'RUNNING'",
                           4, p, err);
    }
    /* Marked only once written: a failed UPDATE (the database away) is
     * tried again at the next tick. */
    for (size_t i = 0; rc == 0 && i < d->nslots; i++)
        if (pid_due(&d->slots[i], now))
            d->slots[i].pid_recorded = 1;
    cd_buf_free(&ids), cd_buf_free(&pids), cd_buf_free(&attempts);
    return rc;
}

/* Asks the runner of run id's attempt (0: any attempt) to stop (SIGTERM;
 * killed after the grace period by the reaper), for the reason given. The
 * slot, or NULL when no such runner is running unstopped here. A worker
 * that froze past its lease may hold the rescued attempt and claim the
 * next one: only the old one's runner is to stop. */
static slot *stop_runner(cd_dispatcher *d, int64_t id, int attempt, stop_reason why)
{
    for (size_t k = 0; k < d->nslots; k++) {
        slot *s = &d->slots[k];
        if (!s->used || s->ended || s->run_id != id || s->stop != STOP_NONE ||
            (attempt && s->attempt != attempt))
            continue;
        s->stop = why;
        cd_child_signal(&s->child, SIGTERM);
        s->child.term_sent_ms = cd_now_ms();
        return s;
    }
    return NULL;
}

/* A worker that stopped answering (frozen, paused VM) for longer than its
 * lease finds on its next heartbeat that some of its runs were rescued:
 * queued again, running elsewhere under a new attempt, or settled FAILED
 * ("worker lost", or a cancel) by the rescuer, after which the connector's
 * next run may start anywhere. Its runners of those runs must stop, or two
 * runners of one connector run at once. (A run its own runner settled is
 * not among them: that runner may still be in its post-commit step.) */
static void stop_taken_over(cd_dispatcher *d, PGconn *conn)
{
    cd_buf ids, attempts;
    cd_buf_init(&ids), cd_buf_init(&attempts);
    size_t n = 0;
    for (size_t i = 0; i < d->nslots; i++) {
        const slot *s = &d->slots[i];
        if (!s->used || s->stop != STOP_NONE)
            continue;
        cd_buf_printf(&ids, "%s%lld", n ? "," : "{", (long long)s->run_id);
        cd_buf_printf(&attempts, "%s%d", n ? "," : "{", s->attempt);
        n++;
    }
    if (n == 0) {
        cd_buf_free(&ids), cd_buf_free(&attempts);
        return;
    }
    cd_buf_putc(&ids, '}'), cd_buf_putc(&attempts, '}');
    const char *p[] = {d->worker_id, ids.data, attempts.data};
    char *err = NULL;
    PGresult *res = cd_db_exec(conn, "finding runs taken over", PGRES_TUPLES_OK,
                               "SELECT r.id, s.attempt"
                               " FROM unnest($2::bigint[], $3::int[]) AS s(id, attempt)"
                               " JOIN sp_v2_connector_runs r ON r.id = s.id"
                               " WHERE r.status = 'QUEUED'"
                               "    OR (r.status = 'RUNNING' AND (r.worker_id IS DISTINCT FROM $1"
                               "                                 OR r.attempt <> s.attempt))"
                               "    OR (r.status = 'FAILED' AND r.attempt = s.attempt"
                               "        AND r.details ? 'rescued_from')",
                               3, p, &err);
    cd_buf_free(&ids), cd_buf_free(&attempts);
    if (!res) {
        cd_error("heartbeat: %s", err);
        free(err);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        int attempt = atoi(PQgetvalue(res, i, 1));
        if (stop_runner(d, id, attempt, STOP_LOST))
            cd_warn("run %lld: no longer this worker's (its lease ran out and it was queued, "
                    "claimed again or settled by another worker); stopping its runner here",
                    (long long)id);
    }
    PQclear(res);
}

int cd_dispatcher_heartbeat(cd_dispatcher *d, PGconn *conn, char **err)
{
    if (!d->running)
        return 0;
    char lease[16];
    snprintf(lease, sizeof lease, "%d", d->lease_s);
    /* Only the runs a runner of ours still holds: a run we failed to settle
     * (the database was away at that moment) must not be kept alive by our
     * heartbeat; its lease runs out and it is rescued. */
    /* By attempt too: a runner of an attempt that was rescued must not
     * keep the next attempt's lease alive. */
    cd_buf ids, attempts;
    cd_buf_init(&ids), cd_buf_init(&attempts);
    cd_buf_putc(&ids, '{'), cd_buf_putc(&attempts, '{');
    for (size_t i = 0; i < d->nslots; i++)
        if (d->slots[i].used) {
            const char *sep = ids.len > 1 ? "," : "";
            cd_buf_printf(&ids, "%s%lld", sep, (long long)d->slots[i].run_id);
            cd_buf_printf(&attempts, "%s%d", sep, d->slots[i].attempt);
        }
    cd_buf_putc(&ids, '}'), cd_buf_putc(&attempts, '}');
    const char *p[] = {d->worker_id, lease, ids.data, attempts.data};
    int rc = cd_db_command(conn, "renewing leases",
                           "UPDATE sp_v2_connector_runs r SET heartbeat_at = now(),"
                           " lease_expires_at = now() + make_interval(secs => $2::int)"
                           " FROM unnest($3::bigint[], $4::int[]) AS s(id, attempt)"
                           " WHERE r.id = s.id AND r.attempt = s.attempt"
                           "   AND r.worker_id = $1 AND r.status = 'RUNNING'",
                           4, p, err);
    cd_buf_free(&ids), cd_buf_free(&attempts);
    if (rc == 0)
        stop_taken_over(d, conn);
    return rc;
}

/* A run whose worker is gone: retried (attempts left) or FAILED "worker
 * lost", unless someone asked to cancel it, which then stands: FAILED
 * "cancelled by WHO", not run again elsewhere. cancelled_by is NULL when
 * nobody asked. 1 settled, 0 no longer RUNNING, -1 with *err. */
static int settle_lost(cd_dispatcher *d, PGconn *conn, int64_t id, int attempt, int max_attempts,
                       const char *worker, const char *cancelled_by, char **err)
{
    if (!cancelled_by)
        return cd_runs_fail_or_retry(conn, d->cfg, id, attempt, max_attempts, "worker lost", 1,
                                     worker, err);
    char *reason = cd_sprintf("cancelled by %s", cancelled_by);
    int rc = cd_runs_cancelled(conn, id, attempt, reason, worker, err);
    free(reason);
    return rc;
}

/* A rescue query's column: who asked to cancel the run, NULL if nobody. */
#define LOST_RUN_CANCEL "CASE WHEN cancel_requested_at IS NOT NULL" \
                        " THEN COALESCE(cancel_requested_by, 'USER') END"

/* Settles the runs listed in res (id, attempt, max_attempts, worker,
 * cancel) as lost, inside the caller's transaction: each under a
 * savepoint, so that one that cannot be settled does not abort the
 * transaction, and with it the rescue of every other. */
static int rescue_rows(cd_dispatcher *d, PGconn *conn, PGresult *res)
{
    int n = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        int attempt = atoi(PQgetvalue(res, i, 1));
        int max_attempts = atoi(PQgetvalue(res, i, 2));
        char *err = NULL;
        int rc = cd_db_command(conn, "rescuing a run", "SAVEPOINT rescue_one", 0, NULL, &err);
        if (rc == 0)
            rc = settle_lost(d, conn, id, attempt, max_attempts, PQgetvalue(res, i, 3),
                             PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4), &err);
        if (rc < 0) {
            cd_error("rescuing run %lld: %s", (long long)id, err);
            free(err);
            PQclear(PQexec(conn, "ROLLBACK TO SAVEPOINT rescue_one"));
        } else if (rc == 1) {
            cd_warn("run %lld: rescued from a lost worker (%s)", (long long)id,
                    PQgetvalue(res, i, 3));
            n++;
        }
    }
    return n;
}

int cd_dispatcher_rescue(cd_dispatcher *d, PGconn *conn, char **err)
{
    /* One transaction: the rows stay locked until each is settled, so a
     * heartbeat that arrives meanwhile waits and then finds them settled. */
    if (cd_db_command(conn, "starting a rescue", "BEGIN", 0, NULL, err) != 0)
        return -1;
    /* A RUNNING row without a lease was written by something that keeps
     * none (an older connectord, another tool): it is lost once it has been
     * running longer than any runner may (its timeout, the kill grace and
     * a lease), or for ever when it never started. */
    char dflt[24], slack[24];
    snprintf(dflt, sizeof dflt, "%d", d->default_timeout_s);
    snprintf(slack, sizeof slack, "%lld", (long long)d->grace_s + d->lease_s);
    const char *p[] = {dflt, slack};
    PGresult *res = cd_db_exec(
        conn, "finding lost runs", PGRES_TUPLES_OK,
        "SELECT id, attempt, max_attempts, COALESCE(worker_id, '?'), " LOST_RUN_CANCEL
        " FROM sp_v2_connector_runs WHERE status = 'RUNNING'"
        "  AND (lease_expires_at < now()"
        "       OR (lease_expires_at IS NULL"
        "           AND COALESCE(started_at, '-infinity') < now() - make_interval(secs =>"
        "               CASE WHEN timeout_seconds > 0 THEN timeout_seconds ELSE $1::int END"
        "               ::float8 + $2::float8)))"
        " ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED",
        2, p, err);
    if (!res) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return -1;
    }
    int n = rescue_rows(d, conn, res);
    PQclear(res);
    if (cd_db_command(conn, "committing the rescue", "COMMIT", 0, NULL, err) != 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return -1;
    }
    return n;
}

int cd_dispatcher_rescue_own(cd_dispatcher *d, PGconn *conn, char **err)
{
    /* worker ids are "HOST/PID/NONCE" (serve) and "cli/HOST/PID" (run). */
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    const char *p[] = {host};
    PGresult *res = cd_db_exec(
        conn, "finding runs left on this host", PGRES_TUPLES_OK,
        "SELECT id, attempt, max_attempts, worker_id,"
        " substring(worker_id FROM '^(?:cli/)?[^/]+/([0-9]+)'), " LOST_RUN_CANCEL
        " FROM sp_v2_connector_runs WHERE status = 'RUNNING'"
        "  AND (split_part(worker_id, '/', 1) = $1"
        "       OR (split_part(worker_id, '/', 1) = 'cli' AND split_part(worker_id, '/', 2) = $1))",
        1, p, err);
    if (!res)
        return -1;
    int n = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        long pid = PQgetisnull(res, i, 4) ? 0 : atol(PQgetvalue(res, i, 4));
        if (strcmp(PQgetvalue(res, i, 3), d->worker_id) == 0)
            continue; /* ours, this very process */
        /* Our own pid under another worker id is an earlier life of this
         * host's worker with the same pid (PID 1 in a container): lost. */
        if (pid > 0 && pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
            continue; /* a live process of this host still owns it */
        int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        char *e = NULL;
        int rc = settle_lost(d, conn, id, atoi(PQgetvalue(res, i, 1)), atoi(PQgetvalue(res, i, 2)),
                             PQgetvalue(res, i, 3),
                             PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5), &e);
        if (rc < 0) {
            cd_error("rescuing run %lld: %s", (long long)id, e);
            free(e);
        } else if (rc == 1) {
            cd_warn("run %lld: left RUNNING by %s on this host; rescued", (long long)id,
                    PQgetvalue(res, i, 3));
            n++;
        }
    }
    PQclear(res);
    return n;
}

int cd_dispatcher_check_cancels(cd_dispatcher *d, PGconn *conn, char **err)
{
    if (!d->running)
        return 0;
    const char *p[] = {d->worker_id};
    PGresult *res = cd_db_exec(conn, "reading cancel requests", PGRES_TUPLES_OK,
                               "SELECT id, COALESCE(cancel_requested_by, 'USER')"
                               " FROM sp_v2_connector_runs WHERE worker_id = $1"
                               " AND status = 'RUNNING' AND cancel_requested_at IS NOT NULL",
                               1, p, err);
    if (!res)
        return -1;
    int n = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        slot *s = stop_runner(d, id, 0, STOP_CANCEL);
        if (s) {
            s->cancelled_by = cd_xstrdup(PQgetvalue(res, i, 1));
            cd_info("run %lld: cancellation requested by %s", (long long)id, s->cancelled_by);
            n++;
        }
    }
    PQclear(res);
    return n;
}

void cd_dispatcher_hand_back_all(cd_dispatcher *d)
{
    for (size_t i = 0; i < d->nslots; i++) {
        slot *s = &d->slots[i];
        /* A run already being stopped (cancelled, past its deadline) ends
         * as such: handing it back would run it again, for a whole new
         * timeout. */
        if (!s->used || s->ended || s->stop != STOP_NONE)
            continue;
        s->stop = STOP_HANDBACK;
        cd_child_signal(&s->child, SIGINT);
        s->child.term_sent_ms = cd_now_ms();
    }
}
