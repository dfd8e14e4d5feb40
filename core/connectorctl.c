/*
 * connectorctl.c — the command-line client of connectord's REST API.
 *
 *   connectorctl [--url URL] [--token T] [--json] COMMAND [ARGS]
 *
 * URL and token also come from CONNECTORCTL_URL / CONNECTORCTL_TOKEN (the
 * environment keeps the token out of `ps`). Exit codes: 0 done, 1 a run
 * or test failed, 2 usage, 3 the API refused or could not be reached.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_cmds.h"
#include "util.h"

static void usage(FILE *f)
{
    fputs("usage: connectorctl [--url URL] [--token TOKEN] [--json] COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  list [--status S] [--type T] [--search TEXT]   connectors with success rate\n"
          "  show ID                                        one connector (secrets masked)\n"
          "  create FILE                                    create from YAML or JSON (- for stdin)\n"
          "  edit ID FILE                                   update the fields FILE sets\n"
          "  delete ID [--force]                            delete (--force cancels a running run)\n"
          "  test ID                                        test the connection and wait for it\n"
          "  run ID [--date YYYY-MM-DD] [--wait]            queue a manual run\n"
          "  pause ID | resume ID\n"
          "  history ID [--limit N] [--offset N] [--status S] [--type T] [--before CURSOR]\n"
          "  audit ID [--limit N] [--offset N] [--before CURSOR]   changes made through the API\n"
          "  backfill ID FROM TO [--wait]                   one run per date, FROM..TO\n"
          "  logs ID RUN_ID                                 a run's attempts, log and record errors\n"
          "  plugins                                        loaded and refused drivers\n"
          "\n"
          "URL defaults to $CONNECTORCTL_URL or http://localhost:5103; TOKEN to\n"
          "$CONNECTORCTL_TOKEN. Exit: 0 ok, 1 run/test failed, 2 usage, 3 API error.\n",
          f);
}

/* What each command takes. Every argument must be one of these: a typo in
 * an option name must not quietly change what is done (`run 2 --dat D`
 * would otherwise queue a run for the default date). */
enum { MAX_POS = 3, MAX_OPTS = 5, MAX_FLAGS = 2 };

typedef struct cmd_spec {
    const char *name;
    const char *pos[MAX_POS];     /* positional arguments, all required; "ID"/"RUN_ID" are ids */
    const char *opts[MAX_OPTS];   /* options that take a value */
    const char *flags[MAX_FLAGS]; /* options that do not */
    const char *usage;
} cmd_spec;

static const cmd_spec specs[] = {
    {"list", {0}, {"--status", "--type", "--search"}, {0},
     "list [--status S] [--type T] [--search TEXT]"},
    {"show", {"ID"}, {0}, {0}, "show ID"},
    {"create", {"FILE"}, {0}, {0}, "create FILE"},
    {"edit", {"ID", "FILE"}, {0}, {0}, "edit ID FILE"},
    {"delete", {"ID"}, {0}, {"--force"}, "delete ID [--force]"},
    {"test", {"ID"}, {0}, {0}, "test ID"},
    {"run", {"ID"}, {"--date"}, {"--wait"}, "run ID [--date YYYY-MM-DD] [--wait]"},
    {"pause", {"ID"}, {0}, {0}, "pause ID"},
    {"resume", {"ID"}, {0}, {0}, "resume ID"},
    {"history", {"ID"}, {"--limit", "--offset", "--status", "--type", "--before"}, {0},
     "history ID [--limit N] [--offset N] [--status S] [--type T] [--before CURSOR]"},
    {"audit", {"ID"}, {"--limit", "--offset", "--before"}, {0},
     "audit ID [--limit N] [--offset N] [--before CURSOR]"},
    {"backfill", {"ID", "FROM", "TO"}, {0}, {"--wait"}, "backfill ID FROM TO [--wait]"},
    {"logs", {"ID", "RUN_ID"}, {0}, {0}, "logs ID RUN_ID"},
    {"plugins", {0}, {0}, {0}, "plugins"},
};

typedef struct parsed {
    const char *pos[MAX_POS];
    const char *opt[MAX_OPTS];
    int flag[MAX_FLAGS];
} parsed;

static int index_of(const char *const *names, int n, const char *a)
{
    for (int k = 0; k < n && names[k]; k++)
        if (strcmp(names[k], a) == 0)
            return k;
    return -1;
}

/* Digits only, and not all zeros: what the API's routes take as an id. */
static int id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19 || strspn(s, "0123456789") != n || strspn(s, "0") == n)
        return 0;
    return 1;
}

static int cmd_usage(const cmd_spec *sp)
{
    fprintf(stderr, "usage: connectorctl [--url URL] [--token TOKEN] [--json] %s\n", sp->usage);
    return CTL_USAGE;
}

/* Prints what is wrong (before, the argument, after), then the command's
 * usage line. */
static int bad_args(const cmd_spec *sp, const char *before, const char *arg, const char *after)
{
    fprintf(stderr, "connectorctl %s: %s%s%s\n", sp->name, before, arg, after);
    return cmd_usage(sp);
}

static int parse_args(const cmd_spec *sp, int argc, char **argv, parsed *p)
{
    memset(p, 0, sizeof *p);
    int npos = 0, want = 0;
    while (want < MAX_POS && sp->pos[want])
        want++;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        /* "-" alone is a positional (create - reads stdin). */
        if (a[0] == '-' && a[1]) {
            int o = index_of(sp->opts, MAX_OPTS, a), f = index_of(sp->flags, MAX_FLAGS, a);
            if (f >= 0) {
                if (p->flag[f])
                    return bad_args(sp, "", a, " is given twice");
                p->flag[f] = 1;
                continue;
            }
            if (o < 0) {
                if (strcmp(a, "--json") == 0 || strcmp(a, "--url") == 0 ||
                    strcmp(a, "--token") == 0)
                    return bad_args(sp, "", a, " goes before the command");
                return bad_args(sp, "unknown option ", a, "");
            }
            /* A following option is not this one's value: `--date --wait`. */
            const char *v = i + 1 < argc ? argv[i + 1] : NULL;
            if (!v || index_of(sp->opts, MAX_OPTS, v) >= 0 ||
                index_of(sp->flags, MAX_FLAGS, v) >= 0)
                return bad_args(sp, "", a, " needs a value");
            if (p->opt[o])
                return bad_args(sp, "", a, " is given twice");
            p->opt[o] = v;
            i++;
            continue;
        }
        if (npos == want)
            return bad_args(sp, "unexpected argument ", a, "");
        const char *name = sp->pos[npos];
        if ((strcmp(name, "ID") == 0 || strcmp(name, "RUN_ID") == 0) && !id_ok(a)) {
            fprintf(stderr, "connectorctl %s: %s must be a positive integer, got '%s'\n", sp->name,
                    name, a);
            return cmd_usage(sp);
        }
        p->pos[npos++] = a;
    }
    if (npos < want) {
        fprintf(stderr, "connectorctl %s: missing", sp->name);
        for (int k = npos; k < want; k++)
            fprintf(stderr, " %s", sp->pos[k]);
        fputc('\n', stderr);
        return cmd_usage(sp);
    }
    return CTL_OK;
}

static int run_cmd(const ctl *c, const cmd_spec *sp, const parsed *p)
{
    const char *n = sp->name, *const *a = p->pos, *const *o = p->opt;
    if (strcmp(n, "list") == 0)
        return ctl_list(c, o[0], o[1], o[2]);
    if (strcmp(n, "show") == 0)
        return ctl_show(c, a[0]);
    if (strcmp(n, "create") == 0)
        return ctl_create(c, a[0]);
    if (strcmp(n, "edit") == 0)
        return ctl_edit(c, a[0], a[1]);
    if (strcmp(n, "delete") == 0)
        return ctl_delete(c, a[0], p->flag[0]);
    if (strcmp(n, "test") == 0)
        return ctl_test(c, a[0]);
    if (strcmp(n, "run") == 0)
        return ctl_run(c, a[0], o[0], p->flag[0]);
    if (strcmp(n, "pause") == 0 || strcmp(n, "resume") == 0)
        return ctl_pause(c, a[0], n[0] == 'p');
    if (strcmp(n, "history") == 0)
        return ctl_history(c, a[0], o[0], o[1], o[2], o[3], o[4]);
    if (strcmp(n, "audit") == 0)
        return ctl_audit(c, a[0], o[0], o[1], o[2]);
    if (strcmp(n, "backfill") == 0)
        return ctl_backfill(c, a[0], a[1], a[2], p->flag[0]);
    if (strcmp(n, "logs") == 0)
        return ctl_logs(c, a[0], a[1]);
    return ctl_plugins(c);
}

static int dispatch(const ctl *c, const char *cmd, int argc, char **argv)
{
    const cmd_spec *sp = NULL;
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++)
        if (strcmp(specs[k].name, cmd) == 0)
            sp = &specs[k];
    if (!sp) {
        fprintf(stderr, "connectorctl: unknown command %s\n\n", cmd);
        usage(stderr);
        return CTL_USAGE;
    }
    parsed p;
    int rc = parse_args(sp, argc, argv, &p);
    if (rc != CTL_OK)
        return rc;
    rc = run_cmd(c, sp, &p);
    /* The commands' own usage errors (an unreadable FILE) have said why. */
    if (rc == CTL_USAGE)
        cmd_usage(sp);
    return rc;
}

int main(int argc, char **argv)
{
    ctl c = {.url = getenv("CONNECTORCTL_URL"), .token = getenv("CONNECTORCTL_TOKEN")};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
            c.url = argv[++i];
        } else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc) {
            c.token = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            c.json = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CTL_OK;
        } else {
            int needs_value = strcmp(argv[i], "--url") == 0 || strcmp(argv[i], "--token") == 0;
            fprintf(stderr, needs_value ? "connectorctl: %s needs a value\n\n"
                                        : "connectorctl: unknown option %s\n\n",
                    argv[i]);
            usage(stderr);
            return CTL_USAGE;
        }
    }
    if (i >= argc) {
        fputs("connectorctl: a COMMAND is required\n\n", stderr);
        usage(stderr);
        return CTL_USAGE;
    }
    if (!c.url || !*c.url)
        c.url = "http://localhost:5103";
    /* A token read from a file keeps its line end: `$(cat token)` drops
     * the \n of a CRLF line but not the \r, and "Invalid token" for what
     * looks like the right one is a puzzle. A token never ends in blanks. */
    char *token = c.token ? cd_xstrdup(c.token) : NULL;
    if (token) {
        size_t tn = strlen(token);
        while (tn && strchr(" \t\r\n", token[tn - 1]))
            token[--tn] = '\0';
    }
    c.token = token && *token ? token : NULL;
    /* "http://host:5103/" and "http://host:5103" are the same base. */
    char *url = cd_xstrdup(c.url);
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        url[--n] = '\0';
    c.url = url;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = dispatch(&c, argv[i], argc - i - 1, argv + i + 1);
    curl_global_cleanup();
    free(url);
    if (token) {
        explicit_bzero(token, strlen(token));
        free(token);
    }
    return rc;
}
