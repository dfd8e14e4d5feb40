/*
 * main.c — the connectord command line: configuration, then one subcommand.
 *
 *   connectord [-c FILE] [-v] migrate | serve | plugins [--json] |
 *              exec-run RUN_ID | run CONNECTOR_ID [--type T] [--date D] [--timeout S] |
 *              backfill CONNECTOR_ID FROM TO | cancel RUN_ID | templates [--json]
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_cancel.h"
#include "config.h"
#include "datetime.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "paths.h"
#include "plugin_probe.h"
#include "queue.h"
#include "record_schema.h"
#include "runner.h"
#include "runs.h"
#include "serve.h"
#include "supervise.h"
#include "templates.h"
#include "util.h"
#include "validate_child.h"
#include "zygote.h"

enum { EXIT_RUN_FAILED = 1, EXIT_USAGE = 2, EXIT_ERROR = 3 };

static void usage(FILE *f)
{
    fputs("usage: connectord [-c FILE] [-v] COMMAND\n"
          "\n"
          "commands:\n"
          "  serve                      run the scheduler, workers and REST API (default)\n"
          "  migrate                    apply pending schema migrations\n"
          "  plugins [--json]           list the drivers in plugins.dir and refused files\n"
          "  run CONNECTOR_ID [--type TEST|MANUAL] [--date YYYY-MM-DD] [--timeout SECONDS]\n"
          "                             run a connector now, in a child process, and print\n"
          "                             the finished run as JSON (exit 0 on SUCCESS or\n"
          "                             PARTIAL_SUCCESS, 1 on FAILED)\n"
          "  backfill CONNECTOR_ID FROM TO\n"
          "                             queue one BACKFILL run per date, run in date order\n"
          "                             (at most backfill.max_days dates, none after today)\n"
          "  cancel RUN_ID              cancel a queued run, or stop a running one\n"
          "  exec-run RUN_ID            execute a RUNNING run (what the workers start)\n"
          "  templates [--json]         list the bank file templates (conf.d/templates/NAME.yaml)\n"
          "  version                    print the version\n"
          "\n"
          "options:\n"
          "  -c FILE   configuration (default: <prefix>/etc/connectord/connectord.yaml);\n"
          "            conf.d/*.yaml beside it is merged in name order\n"
          "  -v        debug logging\n",
          f);
}

/* A positive 64-bit id, or -1. */
static int64_t parse_id(const char *s)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v <= 0)
        return -1;
    return (int64_t)v;
}

static const char *plugins_dir(const cd_config *cfg, char **alloc)
{
    const char *dir = cd_config_string(cfg, "plugins.dir", NULL);
    if (dir)
        return dir;
    *alloc = cd_path_from_prefix("lib/connectord/plugins");
    return *alloc;
}

static char *schema_dir(const cd_config *cfg)
{
    const char *dir = cd_config_string(cfg, "schema.dir", NULL);
    return dir ? cd_xstrdup(dir) : cd_path_from_prefix("share/connectord/schema");
}

static PGconn *connect_or_complain(const cd_config *cfg, const char *app)
{
    char *err = NULL;
    PGconn *c = cd_db_connect(cd_config_string(cfg, "database.url", NULL), app, &err);
    if (!c) {
        cd_error("%s", err);
        free(err);
    }
    return c;
}

static int cmd_migrate(const cd_config *cfg)
{
    PGconn *conn = connect_or_complain(cfg, "connectord-migrate");
    if (!conn)
        return EXIT_ERROR;
    char *dir = schema_dir(cfg);
    cd_migrate_result r = {0};
    char *err = NULL;
    int rc = cd_migrate(conn, dir, &r, &err);
    PQfinish(conn);
    free(dir);
    if (rc != 0) {
        cd_error("migrate: %s", err);
        free(err);
        return EXIT_ERROR;
    }
    printf("applied %d migration%s, %d already applied\n", r.applied, r.applied == 1 ? "" : "s",
           r.skipped);
    return 0;
}

static int check_schema(const cd_config *cfg, PGconn *conn)
{
    char *dir = schema_dir(cfg);
    char *err = NULL;
    int pending = cd_migrate_pending(conn, dir, &err);
    free(dir);
    if (pending < 0) {
        cd_error("checking the schema: %s", err);
        free(err);
        return -1;
    }
    if (pending > 0) {
        cd_error("the database schema is behind this connectord: run `connectord migrate`");
        return -1;
    }
    return 0;
}

static void print_plugins_table(const json_t *list)
{
    printf("plugin directory: %s\n\n", json_string_value(json_object_get(list, "plugins_dir")));
    printf("%-16s %-9s %-12s %-16s %-5s %s\n", "DRIVER", "VERSION", "CATEGORY", "DATASET",
           "ABI", "VENDOR / FILE");
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(list, "loaded"), i, d) {
        printf("%-16s %-9s %-12s %-16s %-5s %s (%s)\n",
               json_string_value(json_object_get(d, "name")),
               json_string_value(json_object_get(d, "version")),
               json_string_value(json_object_get(d, "category")),
               json_string_value(json_object_get(d, "dataset")),
               json_string_value(json_object_get(d, "abi")),
               json_string_value(json_object_get(d, "vendor")),
               json_string_value(json_object_get(d, "file")));
    }
    json_t *refused = json_object_get(list, "refused");
    if (json_array_size(refused)) {
        printf("\nrefused:\n");
        json_array_foreach(refused, i, d) {
            printf("  %s: %s\n", json_string_value(json_object_get(d, "file")),
                   json_string_value(json_object_get(d, "reason")));
        }
    }
}

static int cmd_plugins(const cd_config *cfg, int argc, char **argv)
{
    int as_json = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else {
            fprintf(stderr, "connectord plugins: unknown argument %s\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    char *alloc = NULL;
    const char *dir = plugins_dir(cfg, &alloc);
    char *self = cd_self_exe();
    char *err = NULL;
    json_t *list = self ? cd_plugins_probe(self, dir, &err) : NULL;
    if (!self)
        err = cd_xstrdup("cannot find this executable (/proc not mounted?)");
    free(self);
    free(alloc);
    if (!list) {
        cd_error("%s", err);
        free(err);
        return EXIT_ERROR;
    }
    if (as_json) {
        char *text = json_dumps(list, JSON_INDENT(2));
        puts(text);
        free(text);
    } else {
        print_plugins_table(list);
    }
    json_decref(list);
    return 0;
}

static volatile int stop_requested;

static void on_parent_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The API refuses a date after the connector's today (api_runs.c,
 * api_backfill.c); the CLI must not queue what the API would refuse.
 * Returns 0, EXIT_USAGE for a future date, EXIT_ERROR when the date cannot
 * be read (no such connector, a database error). */
static int refuse_future(PGconn *conn, int64_t connector_id, const char *cmd, const char *what,
                         const char *date)
{
    char today[11];
    char *err = NULL;
    if (cd_queue_connector_today(conn, connector_id, today, &err) != 0) {
        cd_error("%s: %s", cmd, err);
        free(err);
        return EXIT_ERROR;
    }
    if (strcmp(date, today) > 0) {
        fprintf(stderr, "%s: %s %s is in the future (in the connector's time zone it is %s)\n",
                cmd, what, date, today);
        return EXIT_USAGE;
    }
    return 0;
}

static long days_of(const char *date)
{
    int y, m, d;
    return cd_date_parse(date, &y, &m, &d) == 0 ? cd_days_from_civil(y, m, d) : 0;
}

/* "cancelled by WHO" from the run's recorded request. */
static char *cancel_reason(PGconn *conn, int64_t run_id)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    const char *p[] = {id};
    char *err = NULL;
    PGresult *res = cd_db_exec(conn, "reading the cancel request", PGRES_TUPLES_OK,
                               "SELECT COALESCE(cancel_requested_by, 'USER')"
                               " FROM sp_v2_connector_runs WHERE id = $1",
                               1, p, &err);
    char *reason = cd_sprintf("cancelled by %s", res && PQntuples(res) == 1
                                                     ? PQgetvalue(res, 0, 0)
                                                     : "USER");
    if (!res) {
        cd_warn("%s", err);
        free(err);
    }
    PQclear(res);
    return reason;
}

static int cmd_run(const cd_config *cfg, const char *config_path, int argc, char **argv)
{
    if (argc < 1) {
        fputs("connectord run: CONNECTOR_ID is required\n", stderr);
        return EXIT_USAGE;
    }
    int64_t connector_id = parse_id(argv[0]);
    if (connector_id < 0) {
        fprintf(stderr, "connectord run: connector id must be a positive integer, got '%s'\n",
                argv[0]);
        return EXIT_USAGE;
    }
    const char *type = "MANUAL", *date = NULL, *triggered_by = "CLI";
    int timeout = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--type") == 0 && v) {
            if (strcmp(v, "TEST") != 0 && strcmp(v, "MANUAL") != 0) {
                fprintf(stderr, "connectord run: --type must be TEST or MANUAL, got '%s'\n", v);
                return EXIT_USAGE;
            }
            type = v, i++;
        } else if (strcmp(a, "--date") == 0 && v) {
            const char *why = NULL;
            if (cd_date_valid(v, strlen(v), &why) != 0) {
                fprintf(stderr, "connectord run: --date must be YYYY-MM-DD: %s\n",
                        why ? why : "invalid");
                return EXIT_USAGE;
            }
            date = v, i++;
        } else if (strcmp(a, "--timeout") == 0 && v) {
            int64_t t = parse_id(v);
            if (t <= 0 || t > 7 * 86400) {
                fprintf(stderr, "connectord run: --timeout must be 1..604800 seconds\n");
                return EXIT_USAGE;
            }
            timeout = (int)t, i++;
        } else if (strcmp(a, "--triggered-by") == 0 && v) {
            /* the column holds 100 characters */
            long chars = cd_rs_utf8_chars(v, strlen(v));
            if (chars < 1 || chars > 100) {
                fprintf(stderr, "connectord run: --triggered-by must be 1..100 characters of"
                                " UTF-8\n");
                return EXIT_USAGE;
            }
            triggered_by = v, i++;
        } else {
            fprintf(stderr, "connectord run: unknown or incomplete argument %s\n", a);
            return EXIT_USAGE;
        }
    }
    PGconn *conn = connect_or_complain(cfg, "connectord-run");
    if (!conn)
        return EXIT_ERROR;
    if (check_schema(cfg, conn) != 0) {
        PQfinish(conn);
        return EXIT_ERROR;
    }
    if (date) {
        int rc = refuse_future(conn, connector_id, "connectord run", "--date", date);
        if (rc != 0) {
            PQfinish(conn);
            return rc;
        }
    }
    if (!timeout)
        timeout = (int)cd_config_int(cfg, "runner.timeout_seconds", 900, NULL);
    int grace = (int)cd_config_int(cfg, "runner.kill_grace_seconds", 10, NULL);
    char *err = NULL;
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    char *worker = cd_sprintf("cli/%s/%ld", host, (long)getpid());
    int64_t run_id = cd_runs_create_running(conn, connector_id, type, date, triggered_by,
                                            timeout, worker, &err);
    free(worker);
    if (run_id < 0) {
        cd_error("%s", err);
        free(err);
        PQfinish(conn);
        return EXIT_ERROR;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_parent_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char *self = cd_self_exe();
    cd_child child;
    int rc = self ? cd_child_spawn(&child, self, config_path, run_id, 1, &err) : -1;
    free(self);
    char *reason = NULL;
    if (rc != 0) {
        reason = err ? err : cd_xstrdup("cannot find this executable");
        err = NULL;
    } else {
        cd_cli_cancel watch = {.conn = conn, .run_id = run_id, .signal = &stop_requested};
        cd_child_wait(&child, timeout, grace, cd_cli_cancel_poll, &watch);
        cd_cli_cancel_finish(&watch);
        reason = cd_child_failure_reason(&child, timeout);
        if (!reason && child.exit_code != CD_RUNNER_FINALIZED)
            reason = cd_xstrdup("runner ended without finalizing the run");
        /* Exit 0 with the run still RUNNING (changed below only then): the
         * driver ended the process before the runner could settle it. */
        if (!reason)
            reason = cd_xstrdup("runner exited without settling the run (did the driver call "
                                "exit()?)");
        if (child.cancelled && watch.requested) { /* asked for through the API: say by whom */
            free(reason);
            reason = cancel_reason(conn, run_id);
        }
    }
    /* Only a run still RUNNING is changed: the child's own verdict stands. */
    int done;
    if (rc == 0 && child.cancelled) {
        done = cd_runs_cancelled(conn, run_id, 1, reason, NULL, &err);
    } else {
        json_t *details = json_pack("{s:s, s:i}", "outcome", "runner_failure", "attempt", 1);
        cd_run_outcome o = {.status = "FAILED", .error_message = reason, .details = details};
        done = cd_runs_finalize(conn, run_id, &o, &err);
        json_decref(details);
    }
    if (done < 0) {
        cd_error("%s", err);
        free(err);
        err = NULL;
    } else if (done == 1) {
        cd_error("run %lld: %s", (long long)run_id, reason ? reason : "runner did not finish");
    }
    free(reason);
    json_t *run = cd_runs_json(conn, run_id, &err);
    PQfinish(conn);
    if (!run) {
        cd_error("%s", err);
        free(err);
        return EXIT_ERROR;
    }
    char *text = json_dumps(run, JSON_INDENT(2));
    puts(text);
    free(text);
    const char *status = json_string_value(json_object_get(run, "status"));
    int ok = status && (strcmp(status, "SUCCESS") == 0 || strcmp(status, "PARTIAL_SUCCESS") == 0);
    json_decref(run);
    return ok ? 0 : EXIT_RUN_FAILED;
}

static int backfill_usage(const char *why, const char *arg)
{
    fprintf(stderr, "connectord backfill: %s%s%s\n", why, arg ? ": " : "", arg ? arg : "");
    fputs("usage: connectord [-c FILE] backfill CONNECTOR_ID FROM TO (dates YYYY-MM-DD)\n",
          stderr);
    return EXIT_USAGE;
}

static int cmd_backfill(const cd_config *cfg, int argc, char **argv)
{
    if (argc != 3)
        return backfill_usage(argc < 3 ? "CONNECTOR_ID, FROM and TO are required"
                                       : "unexpected argument",
                              argc > 3 ? argv[3] : NULL);
    int64_t id = parse_id(argv[0]);
    if (id < 0)
        return backfill_usage("CONNECTOR_ID must be a positive integer", argv[0]);
    const char *from = argv[1], *to = argv[2], *why = NULL;
    if (cd_date_valid(from, strlen(from), &why) != 0)
        return backfill_usage("FROM must be a date YYYY-MM-DD", from);
    if (cd_date_valid(to, strlen(to), &why) != 0)
        return backfill_usage("TO must be a date YYYY-MM-DD", to);
    if (strcmp(from, to) > 0) {
        fprintf(stderr, "connectord backfill: TO %s is before FROM %s\n", to, from);
        return EXIT_USAGE;
    }
    /* The same bound as POST /connectors/:id/backfill (api_backfill.c). */
    long span = days_of(to) - days_of(from) + 1;
    long max = (long)cd_config_int(cfg, "backfill.max_days", 366, NULL);
    if (span > max) {
        fprintf(stderr,
                "connectord backfill: the range has %ld days; at most %ld (backfill.max_days)\n",
                span, max);
        return EXIT_USAGE;
    }
    PGconn *conn = connect_or_complain(cfg, "connectord-backfill");
    if (!conn)
        return EXIT_ERROR;
    if (check_schema(cfg, conn) != 0) {
        PQfinish(conn);
        return EXIT_ERROR;
    }
    int rc = refuse_future(conn, id, "connectord backfill", "TO", to);
    if (rc != 0) {
        PQfinish(conn);
        return rc;
    }
    char bid[37];
    char *err = NULL;
    int n = cd_queue_backfill(conn, id, from, to, "CLI", bid, &err);
    PQfinish(conn);
    if (n < 0) {
        cd_error("%s", err);
        free(err);
        return EXIT_ERROR;
    }
    printf("{\"backfill_id\": \"%s\", \"runs\": %d}\n", bid, n);
    return 0;
}

static int cmd_cancel(const cd_config *cfg, int argc, char **argv)
{
    int64_t id = argc == 1 ? parse_id(argv[0]) : -1;
    if (id < 0) {
        fputs("connectord cancel: RUN_ID (a positive integer) required\n"
              "usage: connectord [-c FILE] cancel RUN_ID\n",
              stderr);
        return EXIT_USAGE;
    }
    PGconn *conn = connect_or_complain(cfg, "connectord-cancel");
    if (!conn)
        return EXIT_ERROR;
    if (check_schema(cfg, conn) != 0) {
        PQfinish(conn);
        return EXIT_ERROR;
    }
    char *err = NULL;
    int rc = cd_cancel_run(conn, id, "CLI", &err);
    PQfinish(conn);
    if (rc == CD_CANCEL_NOT_FOUND) {
        /* Not "already finished": a mistyped id must not look like success. */
        free(err);
        fprintf(stderr, "connectord cancel: run %lld does not exist\n", (long long)id);
        return EXIT_ERROR;
    }
    if (rc < 0) {
        cd_error("%s", err);
        free(err);
        return EXIT_ERROR;
    }
    static const char *const what[] = {"already finished", "cancelled (it was queued)",
                                       "stop requested (it is running)"};
    printf("run %lld: %s\n", (long long)id, what[rc]);
    return 0;
}

/* The log threshold that log.level in the configuration asks for. */
static void apply_log_level(const cd_config *cfg)
{
    const char *level = cd_config_string(cfg, "log.level", NULL);
    if (level && strcmp(level, "debug") == 0)
        cd_log_set_threshold(CD_LOG_DEBUG);
    else if (level && strcmp(level, "warning") == 0)
        cd_log_set_threshold(CD_LOG_WARNING);
    else if (level && strcmp(level, "error") == 0)
        cd_log_set_threshold(CD_LOG_ERROR);
}

/* A runner forked by the zygote, which has read the configuration. */
static int zygote_run(const cd_config *cfg, int64_t run_id)
{
    apply_log_level(cfg);
    return cd_exec_run(cfg, run_id);
}

static int cmd_exec_run(const cd_config *cfg, int argc, char **argv)
{
    int64_t run_id = argc == 1 ? parse_id(argv[0]) : -1;
    if (run_id < 0) {
        fputs("connectord exec-run: exactly one RUN_ID (a positive integer) is required\n",
              stderr);
        return EXIT_USAGE;
    }
    return cd_exec_run(cfg, run_id);
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    char *config_alloc = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(argv[i], "-v") == 0) {
            cd_log_set_threshold(CD_LOG_DEBUG);
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "connectord: unknown option %s\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    const char *cmd = i < argc ? argv[i++] : "serve";
    int sub_argc = argc - i;
    char **sub_argv = argv + i;

    if (strcmp(cmd, "version") == 0) {
        printf("connectord %s (plugin ABI %d.%d)\n", CD_VERSION, CD_PLUGIN_ABI_MAJOR,
               CD_PLUGIN_ABI_MINOR);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    /* Internal: needs no configuration, loads one driver and describes it. */
    if (strcmp(cmd, "probe-plugin") == 0)
        return sub_argc == 1 ? cd_plugin_probe_main(sub_argv[0]) : EXIT_USAGE;
    /* Internal: the worker's fork server for runners (zygote.h). */
    if (strcmp(cmd, "runner-zygote") == 0)
        return cd_zygote_main(sub_argc, sub_argv, main, zygote_run);
    if (strcmp(cmd, "validate-driver") == 0) /* internal: a driver's validate(), stdin config */
        return sub_argc == 1 ? cd_validate_driver_main(sub_argv[0]) : EXIT_USAGE;

    if (!config_path)
        config_path = config_alloc = cd_default_config_path();
    char *err = NULL;
    cd_config *cfg = cd_config_load(config_path, &err);
    if (!cfg || cd_config_check(cfg, &err) != 0) {
        fprintf(stderr, "<3>connectord: configuration: %s\n", err);
        free(err);
        cd_config_free(cfg);
        free(config_alloc);
        return EXIT_ERROR;
    }
    apply_log_level(cfg);

    int rc;
    if (strcmp(cmd, "migrate") == 0)
        rc = cmd_migrate(cfg);
    else if (strcmp(cmd, "plugins") == 0)
        rc = cmd_plugins(cfg, sub_argc, sub_argv);
    else if (strcmp(cmd, "run") == 0)
        rc = cmd_run(cfg, config_path, sub_argc, sub_argv);
    else if (strcmp(cmd, "templates") == 0)
        rc = cd_cmd_templates(cfg, sub_argc, sub_argv);
    else if (strcmp(cmd, "exec-run") == 0)
        rc = cmd_exec_run(cfg, sub_argc, sub_argv);
    else if (strcmp(cmd, "backfill") == 0)
        rc = cmd_backfill(cfg, sub_argc, sub_argv);
    else if (strcmp(cmd, "cancel") == 0)
        rc = cmd_cancel(cfg, sub_argc, sub_argv);
    else if (strcmp(cmd, "serve") == 0)
        rc = cd_serve(cfg, config_path);
    else {
        fprintf(stderr, "connectord: unknown command %s\n", cmd);
        usage(stderr);
        rc = EXIT_USAGE;
    }
    cd_config_free(cfg);
    free(config_alloc);
    return rc;
}
