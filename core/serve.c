/* serve.c — see serve.h. */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "alerts.h"
#include "api.h"
#include "api_health.h"
#include "clock.h"
#include "db.h"
#include "dispatcher.h"
#include "host.h"
#include "log.h"
#include "migrate.h"
#include "paths.h"
#include "plugin_generation.h"
#include "queue.h"
#include "registry.h"
#include "retention.h"
#include "scheduler.h"
#include "templates.h"
#include "util.h"

/* signalfd, LISTEN, and two pipes (stderr, channel) per runner slot. */
#define MAX_POLL 520

typedef struct serve_state {
    cd_config *cfg;
    const char *config_path;
    char *self_exe;
    char *worker_id;
    PGconn *conn;    /* the loop's own queries */
    PGconn *listen;  /* LISTEN only */
    cd_dispatcher *dispatcher;
    cd_scheduler *scheduler;
    cd_api *api;
    cd_alerts *alerts;      /* late data, digest, the alert delivery thread */
    int sigfd;
    int stopping;
    int64_t stop_started_ms;
    int shutdown_grace_s;
    int handed_back;
    cd_config **reloaded;   /* configurations loaded on SIGHUP, freed at exit */
    size_t nreloaded;
    char *snap_dir;         /* private directory of the runners' configuration */
    char *snap_path;
    char *gen_dir;          /* accepted driver copies the runners load */
    char *prev_gen_dir;     /* the generation before (a runner may be starting on it) */
    unsigned gen;
} serve_state;

/* The private directory of this worker (runtime directory under systemd). */
static int ensure_snap_dir(serve_state *st, char **err)
{
    if (st->snap_dir)
        return 0;
    const char *base = getenv("RUNTIME_DIRECTORY");
    char *tmpl = cd_sprintf("%s/connectord.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl)) {
        *err = cd_sprintf("cannot create a private directory in %s: %s",
                          base && *base ? base : "/tmp", strerror(errno));
        free(tmpl);
        return -1;
    }
    st->snap_dir = tmpl;
    st->snap_path = cd_sprintf("%s/connectord.yaml", tmpl);
    return 0;
}

/* Runners read the configuration this worker is running with, not the
 * files on disk: an edit being made (or a typo) under /etc must not change
 * or break runs before a SIGHUP has accepted it. The merged document is
 * written as JSON (which YAML reads) into a private directory, mode 0600,
 * replaced atomically on every accepted reload. */
static int write_config_snapshot(serve_state *st, char **err)
{
    if (ensure_snap_dir(st, err) != 0)
        return -1;
    char *tmp = cd_sprintf("%s/.connectord.yaml.new", st->snap_dir);
    json_t *orig = cd_config_get(st->cfg, "");
    json_t *doc = json_is_object(orig) ? json_deep_copy(orig) : json_object();
    if (st->gen_dir) {
        /* Runners load the accepted copies, never the live directory. */
        json_t *plugins = json_object_get(doc, "plugins");
        if (!json_is_object(plugins)) {
            plugins = json_object();
            json_object_set_new(doc, "plugins", plugins);
        }
        json_object_set_new(plugins, "dir", json_string(st->gen_dir));
    }
    /* The templates' default folder is beside the first configuration file
     * read, which for a runner is this snapshot: it gets the worker's. */
    char *templates = cd_templates_dir(st->cfg);
    char *templates_abs = realpath(templates, NULL);
    json_t *tsec = json_object_get(doc, "templates");
    if (!json_is_object(tsec)) {
        tsec = json_object();
        json_object_set_new(doc, "templates", tsec);
    }
    json_object_set_new(tsec, "dir", json_string(templates_abs ? templates_abs : templates));
    free(templates_abs);
    free(templates);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        FILE *f = fdopen(fd, "w");
        if (f && json_dumpf(doc, f, JSON_INDENT(1)) == 0 && fflush(f) == 0 &&
            fsync(fileno(f)) == 0)
            rc = 0;
        if (f)
            fclose(f);
        else
            close(fd);
    }
    if (rc == 0 && rename(tmp, st->snap_path) != 0)
        rc = -1;
    if (rc != 0) {
        *err = cd_sprintf("cannot write the runners' configuration %s: %s", st->snap_path,
                          strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    json_decref(doc);
    return rc;
}

/* The loop's last turn, read by API threads for /healthz. */
static int64_t last_loop_ms;
static int64_t last_tick_s;

static int scheduler_health(json_t *out, void *arg)
{
    const serve_state *st = arg;
    int64_t loop = __atomic_load_n(&last_loop_ms, __ATOMIC_RELAXED);
    int64_t age = cd_now_ms() - loop;
    /* The loop turns at least once a second; five missed turns is a hang. */
    int ok = loop > 0 && age < 5000;
    json_object_set_new(out, "ticking", json_boolean(ok));
    json_object_set_new(out, "last_loop_ms_ago", json_integer(age));
    json_object_set_new(out, "last_tick", json_integer(__atomic_load_n(&last_tick_s,
                                                                       __ATOMIC_RELAXED)));
    json_object_set_new(out, "worker_id", json_string(st->worker_id));
    return ok;
}

static char *make_worker_id(void)
{
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    unsigned char r[4] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        memset(r, 0, sizeof r);
    return cd_sprintf("%s/%ld/%02x%02x%02x%02x", host, (long)getpid(), r[0], r[1], r[2], r[3]);
}

/* Accepts the plugin directory as it is now (plugin_generation.h says
 * why copies), keeping this and the previous generation. */
static void probe_plugins(serve_state *st)
{
    const char *dir = cd_config_string(st->cfg, "plugins.dir", NULL);
    char *alloc = dir ? NULL : cd_path_from_prefix("lib/connectord/plugins");
    char *err = NULL;
    char *gen_dir = NULL;
    json_t *list = NULL;
    if (ensure_snap_dir(st, &err) == 0)
        list = cd_plugins_accept(st->self_exe, dir ? dir : alloc, st->snap_dir, ++st->gen,
                                 &gen_dir, &err);
    if (!list) {
        /* Keep running with what was accepted before, if anything. */
        cd_error("plugins: %s", err);
        free(err);
        free(alloc);
        return;
    }
    if (st->prev_gen_dir) {
        cd_plugins_generation_remove(st->prev_gen_dir);
        free(st->prev_gen_dir);
    }
    st->prev_gen_dir = st->gen_dir;
    st->gen_dir = gen_dir;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(list, "refused"), i, r) {
        cd_warn("plugin %s refused: %s", json_string_value(json_object_get(r, "file")),
                json_string_value(json_object_get(r, "reason")));
    }
    cd_info("plugins: %zu driver%s loaded from %s", json_array_size(json_object_get(list, "loaded")),
            json_array_size(json_object_get(list, "loaded")) == 1 ? "" : "s",
            json_string_value(json_object_get(list, "plugins_dir")));
    cd_registry_set(list);
    free(alloc);
}

static PGconn *connect_listen(serve_state *st, char **err)
{
    PGconn *c = cd_db_connect(cd_config_string(st->cfg, "database.url", NULL),
                              "connectord-listen", err);
    if (!c)
        return NULL;
    if (cd_db_command(c, "LISTEN", "LISTEN " CD_QUEUE_CHANNEL, 0, NULL, err) != 0 ||
        cd_db_command(c, "LISTEN", "LISTEN " CD_CANCEL_CHANNEL, 0, NULL, err) != 0 ||
        cd_db_command(c, "LISTEN", "LISTEN " CD_CONNECTORS_CHANNEL, 0, NULL, err) != 0) {
        PQfinish(c);
        return NULL;
    }
    PQsetnonblocking(c, 1);
    return c;
}

/* Brings a broken connection back; the loop goes on without it meanwhile.
 * 0 working, 1 just restored, -1 still none. */
static int ensure_conn(serve_state *st, PGconn **conn, int is_listen)
{
    if (*conn && PQstatus(*conn) == CONNECTION_OK)
        return 0;
    static int64_t last_try;
    int64_t now = cd_now_ms();
    if (now - last_try < 2000)
        return -1;
    last_try = now;
    if (*conn)
        PQfinish(*conn);
    char *err = NULL;
    *conn = is_listen ? connect_listen(st, &err)
                      : cd_db_connect(cd_config_string(st->cfg, "database.url", NULL),
                                      "connectord-worker", &err);
    if (!*conn) {
        cd_error("database unavailable, retrying: %s", err);
        free(err);
        return -1;
    }
    cd_info("database connection %s", is_listen ? "(LISTEN) restored" : "restored");
    return 1;
}

/* Reads the notifications; sets what they ask for. */
static void drain_notifications(serve_state *st, int *claim_now, int *check_cancels)
{
    if (!st->listen)
        return;
    if (!PQconsumeInput(st->listen)) {
        cd_error("LISTEN connection: %s", PQerrorMessage(st->listen));
        PQfinish(st->listen);
        st->listen = NULL;
        *claim_now = 1;
        return;
    }
    PGnotify *n;
    while ((n = PQnotifies(st->listen)) != NULL) {
        if (strcmp(n->relname, CD_QUEUE_CHANNEL) == 0)
            *claim_now = 1;
        else if (strcmp(n->relname, CD_CANCEL_CHANNEL) == 0)
            *check_cancels = 1;
        else if (strcmp(n->relname, CD_CONNECTORS_CHANNEL) == 0)
            cd_scheduler_invalidate(st->scheduler);
        PQfreemem(n);
    }
}

/* A new configuration applies to the dispatcher (limits, timeouts, retries),
 * the scheduler and the plugin directory. The API keeps the settings it
 * started with (address, port, tokens): those need a restart. A file that
 * does not load leaves everything as it was. */
static void reload_config(serve_state *st)
{
    char *err = NULL;
    cd_config *cfg = cd_config_load(st->config_path, &err);
    if (!cfg || cd_config_check(cfg, &err) != 0) {
        cd_error("SIGHUP: configuration not reloaded: %s", err);
        free(err);
        cd_config_free(cfg);
        return;
    }
    st->reloaded = cd_xrealloc(st->reloaded, (st->nreloaded + 1) * sizeof *st->reloaded);
    st->reloaded[st->nreloaded++] = cfg;
    st->cfg = cfg;
    if (write_config_snapshot(st, &err) != 0) {
        cd_error("SIGHUP: %s", err);
        free(err);
    }
    cd_dispatcher_reconfigure(st->dispatcher, cfg);
    cd_scheduler_free(st->scheduler);
    st->scheduler = cd_scheduler_new(cfg);
    cd_alerts_reconfigure(st->alerts, cfg);
    st->shutdown_grace_s = (int)cd_config_int(cfg, "workers.shutdown_grace_seconds", 30, NULL);
    cd_info("configuration reloaded from %s", st->config_path);
}

static void handle_signals(serve_state *st)
{
    struct signalfd_siginfo si;
    while (read(st->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        switch (si.ssi_signo) {
        case SIGTERM:
        case SIGINT:
            if (!st->stopping) {
                cd_info("stopping: no new runs; waiting up to %d s for %zu running",
                        st->shutdown_grace_s, cd_dispatcher_running(st->dispatcher));
                /* systemd's TimeoutStopSec (60 s in our unit) would kill
                 * runs a longer grace is waiting for, before they are handed
                 * back: the stop announces how long it may take. */
                long long stop_s =
                    (long long)st->shutdown_grace_s +
                    cd_config_int(st->cfg, "runner.kill_grace_seconds", 10, NULL) + 15;
                sd_notifyf(0, "STOPPING=1\nEXTEND_TIMEOUT_USEC=%lld", stop_s * 1000000LL);
                st->stopping = 1;
                st->stop_started_ms = cd_now_ms();
                cd_dispatcher_stop_claiming(st->dispatcher);
            }
            break;
        case SIGHUP:
            cd_info("SIGHUP: reloading the configuration, plugins and schedules");
            sd_notify(0, "RELOADING=1");
            reload_config(st);
            probe_plugins(st);
            {
                char *err = NULL;
                if (write_config_snapshot(st, &err) != 0) {
                    cd_error("SIGHUP: %s", err);
                    free(err);
                }
            }
            cd_scheduler_invalidate(st->scheduler);
            sd_notify(0, "READY=1");
            break;
        default:
            break; /* SIGCHLD: the loop reaps after every wake-up */
        }
    }
}

static void report_status(serve_state *st)
{
    sd_notifyf(0, "STATUS=%s%zu running of %zu", st->stopping ? "stopping: " : "",
               cd_dispatcher_running(st->dispatcher), cd_dispatcher_capacity(st->dispatcher));
}

/* Rows a retention batch deletes from each table, and the pause between
 * batches while older rows are left: up to 20,000 rows a second of each
 * table while catching up, with the loop's other work between batches. */
#define PRUNE_BATCH 5000
#define PRUNE_BEHIND_MS 250

static int loop(serve_state *st)
{
    int64_t last_tick = 0, last_beat = 0, last_rescue = 0, last_cancel = 0, last_status = 0;
    int64_t last_watchdog = 0;
    /* Retention prunes once at start, then hourly; while it is behind (a
     * batch came back full) it comes back every PRUNE_BEHIND_MS, one batch
     * per table a time, so that a backlog bigger than an hour's batches is
     * worked off without holding up claims and heartbeats. */
    int64_t last_prune = 0, prune_every_ms = 0;
    long pruned = 0;
    int claim_now = 1, check_cancels = 0;
    for (;;) {
        int64_t now_ms = cd_now_ms();
        __atomic_store_n(&last_loop_ms, now_ms, __ATOMIC_RELAXED);
        /* Read each time round: SIGHUP may have brought new values. */
        int lease_s = (int)cd_config_int(st->cfg, "workers.lease_seconds", 60, NULL);
        if (lease_s < 3)
            lease_s = 3;
        int retention_days = (int)cd_config_int(st->cfg, "retention.days", 90, NULL);
        if (st->stopping) {
            /* Not before what ended runs decided is written: a run whose
             * outcome is dropped here stays RUNNING until its lease runs
             * out, and is then rescued as "worker lost". */
            if (cd_dispatcher_running(st->dispatcher) == 0 && !cd_dispatcher_pending(st->dispatcher))
                return 0;
            if (!st->handed_back &&
                now_ms - st->stop_started_ms >= (int64_t)st->shutdown_grace_s * 1000) {
                cd_warn("stopping: handing %zu run(s) back to the queue",
                        cd_dispatcher_running(st->dispatcher));
                cd_dispatcher_hand_back_all(st->dispatcher);
                st->handed_back = 1;
            }
        }
        if (ensure_conn(st, &st->conn, 0) == 1) {
            /* First what waited for the connection (runs that ended while it
             * was away), then our leases: a rescue must not find our own
             * runs' leases run out meanwhile and take them as lost. */
            if (cd_dispatcher_reap(st->dispatcher, st->conn) > 0)
                claim_now = 1;
            last_beat = 0;
        }
        if (ensure_conn(st, &st->listen, 1) == 1) {
            /* What was notified while LISTEN was away is lost: act as if
             * each kind had come (a connector edited or created, a run
             * queued, a cancel asked for) rather than wait for the
             * scheduler's minute reload and the polls. */
            cd_scheduler_invalidate(st->scheduler);
            claim_now = 1;
            check_cancels = 1;
        }

        char *err = NULL;
        if (st->conn) {
            if (!st->stopping) {
                int64_t now = cd_clock_now();
                if (now != last_tick) {
                    last_tick = now;
                    __atomic_store_n(&last_tick_s, now, __ATOMIC_RELAXED);
                    if (cd_scheduler_tick(st->scheduler, st->conn, now, &err) < 0) {
                        cd_error("scheduler: %s", err);
                        free(err), err = NULL;
                    }
                    claim_now = 1; /* the poll fallback, and not_before coming due */
                    if (cd_dispatcher_record_pids(st->dispatcher, st->conn, &err) < 0) {
                        cd_error("%s", err);
                        free(err), err = NULL;
                    }
                }
                cd_alerts_tick(st->alerts, st->conn, now);
                if (claim_now) {
                    claim_now = 0;
                    if (cd_dispatcher_claim(st->dispatcher, st->conn, &err) < 0) {
                        cd_error("dispatcher: %s", err);
                        free(err), err = NULL;
                    }
                }
            }
            if (now_ms - last_beat >= lease_s * 1000 / 3) {
                last_beat = now_ms;
                if (cd_dispatcher_heartbeat(st->dispatcher, st->conn, &err) < 0) {
                    cd_error("heartbeat: %s", err);
                    free(err), err = NULL;
                }
            }
            if (now_ms - last_rescue >= lease_s * 1000 / 2) {
                last_rescue = now_ms;
                if (cd_dispatcher_rescue(st->dispatcher, st->conn, &err) < 0) {
                    cd_error("rescue: %s", err);
                    free(err), err = NULL;
                }
            }
            if (check_cancels || now_ms - last_cancel >= 2000) {
                check_cancels = 0;
                last_cancel = now_ms;
                if (cd_dispatcher_check_cancels(st->dispatcher, st->conn, &err) < 0) {
                    cd_error("cancel: %s", err);
                    free(err), err = NULL;
                }
            }
            if (!st->stopping && now_ms - last_prune >= prune_every_ms) {
                last_prune = now_ms;
                int more = 0;
                long n = cd_retention_prune(st->conn, retention_days, PRUNE_BATCH, 1, &more, &err);
                prune_every_ms = more ? PRUNE_BEHIND_MS : 3600 * 1000;
                if (n < 0) {
                    cd_error("retention: %s", err);
                    free(err), err = NULL;
                } else {
                    pruned += n;
                    if (!more && pruned > 0) {
                        cd_info("retention: pruned %ld log lines and record errors older than %d "
                                "days", pruned, retention_days);
                        pruned = 0;
                    }
                }
            }
        }
        if (now_ms - last_status >= 5000) {
            last_status = now_ms;
            report_status(st);
        }
        /* Once a second is plenty (WatchdogSec is a minute); the loop turns
         * for every read of a runner's pipes, and a driver writing a lot
         * would otherwise send systemd a message per read. */
        if (now_ms - last_watchdog >= 1000) {
            last_watchdog = now_ms;
            sd_notify(0, "WATCHDOG=1");
        }

        struct pollfd fds[MAX_POLL];
        size_t n = 0;
        fds[n++] = (struct pollfd){.fd = st->sigfd, .events = POLLIN};
        if (st->listen)
            fds[n++] = (struct pollfd){.fd = PQsocket(st->listen), .events = POLLIN};
        size_t first_child = n;
        n += cd_dispatcher_pollfds(st->dispatcher, fds + n, MAX_POLL - n);
        /* Wake at the next whole second (the scheduler's tick) at the latest. */
        int timeout = (int)(1000 - now_ms % 1000);
        int rc = poll(fds, (nfds_t)n, timeout);
        if (rc < 0 && errno != EINTR) {
            cd_error("poll: %s", strerror(errno));
            continue;
        }
        if (fds[0].revents & POLLIN)
            handle_signals(st);
        if (st->listen && first_child > 1 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)))
            drain_notifications(st, &claim_now, &check_cancels);
        cd_dispatcher_readable(st->dispatcher, fds + first_child, n - first_child);
        /* Without a database connection too: deadlines and kills go on,
         * and runs that end then are settled once it is back. */
        if (cd_dispatcher_reap(st->dispatcher, st->conn) > 0)
            claim_now = 1;
    }
}

int cd_serve(cd_config *cfg, const char *config_path)
{
    serve_state st;
    memset(&st, 0, sizeof st);
    st.cfg = cfg;
    st.config_path = config_path;
    st.shutdown_grace_s = (int)cd_config_int(cfg, "workers.shutdown_grace_seconds", 30, NULL);

    /* Signals arrive through a signalfd in the loop. Blocked before any
     * thread starts, so the API's threads never take them. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    st.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (st.sigfd < 0) {
        cd_error("signalfd: %s", strerror(errno));
        return 3;
    }

    int rc = 3;
    char *err = NULL;
    st.self_exe = cd_self_exe();
    st.worker_id = make_worker_id();
    st.conn = cd_db_connect(cd_config_string(cfg, "database.url", NULL), "connectord-worker", &err);
    if (!st.conn)
        goto out;
    {
        const char *dir = cd_config_string(cfg, "schema.dir", NULL);
        char *alloc = dir ? NULL : cd_path_from_prefix("share/connectord/schema");
        int pending = cd_migrate_pending(st.conn, dir ? dir : alloc, &err);
        free(alloc);
        if (pending < 0)
            goto out;
        if (pending > 0) {
            err = cd_xstrdup("the database schema is behind this connectord: run "
                             "`connectord migrate` first");
            goto out;
        }
    }
    st.listen = connect_listen(&st, &err);
    if (!st.listen)
        goto out;
    probe_plugins(&st);
    if (write_config_snapshot(&st, &err) != 0)
        goto out;
    st.dispatcher = cd_dispatcher_new(cfg, st.self_exe, st.snap_path, st.worker_id);
    st.scheduler = cd_scheduler_new(cfg);
    if (cd_dispatcher_rescue_own(st.dispatcher, st.conn, &err) < 0)
        goto out;

    st.alerts = cd_alerts_start(cfg, st.worker_id, &err);
    if (!st.alerts)
        goto out;
    cd_api_context actx = {.cfg = cfg, .self_exe = st.self_exe, .config_path = config_path,
                           .worker_id = st.worker_id};
    st.api = cd_api_start(&actx, &err);
    if (!st.api)
        goto out;
    cd_api_set_health_hook(scheduler_health, &st);
    cd_info("connectord %s serving as worker %s (up to %zu runs at once)", CD_VERSION,
            st.worker_id, cd_dispatcher_capacity(st.dispatcher));
    sd_notify(0, "READY=1");
    rc = loop(&st);
    cd_info("stopped");

out:
    if (err) {
        cd_error("serve: %s", err);
        free(err);
    }
    if (st.api) {
        cd_api_set_health_hook(NULL, NULL);
        cd_api_stop(st.api);
    }
    cd_alerts_stop(st.alerts);
    cd_scheduler_free(st.scheduler);
    cd_dispatcher_free(st.dispatcher);
    if (st.listen)
        PQfinish(st.listen);
    if (st.conn)
        PQfinish(st.conn);
    cd_registry_clear();
    close(st.sigfd);
    for (size_t i = 0; i < st.nreloaded; i++)
        cd_config_free(st.reloaded[i]);
    if (st.gen_dir)
        cd_plugins_generation_remove(st.gen_dir);
    if (st.prev_gen_dir)
        cd_plugins_generation_remove(st.prev_gen_dir);
    free(st.gen_dir);
    free(st.prev_gen_dir);
    if (st.snap_path) {
        unlink(st.snap_path);
        rmdir(st.snap_dir);
    }
    free(st.snap_path);
    free(st.snap_dir);
    free(st.reloaded);
    free(st.self_exe);
    free(st.worker_id);
    return rc;
}
