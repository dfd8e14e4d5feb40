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
          "  history ID [--limit N] [--offset N] [--status S] [--type T]\n"
          "  backfill ID FROM TO [--wait]                   one run per date, FROM..TO\n"
          "  logs ID RUN_ID                                 a run's attempts, log and record errors\n"
          "  plugins                                        loaded and refused drivers\n"
          "\n"
          "URL defaults to $CONNECTORCTL_URL or http://localhost:5103; TOKEN to\n"
          "$CONNECTORCTL_TOKEN. Exit: 0 ok, 1 run/test failed, 2 usage, 3 API error.\n",
          f);
}

static int dispatch(const ctl *c, const char *cmd, int argc, char **argv)
{
#define ARGS(n)                                                                 \
    do {                                                                        \
        if (argc < (n)) {                                                       \
            fprintf(stderr, "connectorctl %s: missing arguments\n\n", cmd);     \
            usage(stderr);                                                      \
            return CTL_USAGE;                                                   \
        }                                                                       \
    } while (0)
    if (strcmp(cmd, "list") == 0)
        return ctl_list(c, argc, argv);
    if (strcmp(cmd, "plugins") == 0)
        return ctl_plugins(c);
    if (strcmp(cmd, "show") == 0) {
        ARGS(1);
        return ctl_show(c, argv[0]);
    }
    if (strcmp(cmd, "create") == 0) {
        ARGS(1);
        return ctl_create(c, argv[0]);
    }
    if (strcmp(cmd, "edit") == 0) {
        ARGS(2);
        return ctl_edit(c, argv[0], argv[1]);
    }
    if (strcmp(cmd, "delete") == 0) {
        ARGS(1);
        return ctl_delete(c, argv[0], argc > 1 && strcmp(argv[1], "--force") == 0);
    }
    if (strcmp(cmd, "test") == 0) {
        ARGS(1);
        return ctl_test(c, argv[0]);
    }
    if (strcmp(cmd, "run") == 0) {
        ARGS(1);
        return ctl_run(c, argv[0], argc - 1, argv + 1);
    }
    if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0) {
        ARGS(1);
        return ctl_pause(c, argv[0], cmd[0] == 'p');
    }
    if (strcmp(cmd, "history") == 0) {
        ARGS(1);
        return ctl_history(c, argv[0], argc - 1, argv + 1);
    }
    if (strcmp(cmd, "logs") == 0) {
        ARGS(2);
        return ctl_logs(c, argv[0], argv[1]);
    }
    if (strcmp(cmd, "backfill") == 0) {
        ARGS(3);
        return ctl_backfill(c, argv[0], argv[1], argv[2], argc > 3 && strcmp(argv[3], "--wait") == 0);
    }
    fprintf(stderr, "connectorctl: unknown command %s\n\n", cmd);
    usage(stderr);
    return CTL_USAGE;
#undef ARGS
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
            fprintf(stderr, "connectorctl: unknown option %s\n\n", argv[i]);
            usage(stderr);
            return CTL_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return CTL_USAGE;
    }
    if (!c.url || !*c.url)
        c.url = "http://localhost:5103";
    if (c.token && !*c.token)
        c.token = NULL;
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
    return rc;
}
