/* ctl_backfill.c — `connectorctl backfill ID FROM TO [--wait]`: queues the
 * runs and, with --wait, follows them (a progress bar on a terminal, one
 * line per change otherwise) until every date has finished. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_cmds.h"
#include "util.h"

static long long num(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static void draw(const json_t *p, int tty)
{
    long long total = num(p, "total"), ok = num(p, "succeeded"), failed = num(p, "failed");
    long long running = num(p, "running"), queued = num(p, "queued");
    long long cancelled = num(p, "cancelled"); /* 0 from a server that counts them as failed */
    long long done = ok + failed + cancelled;
    if (tty) {
        enum { BAR = 30 };
        char bar[BAR + 1];
        int fill = total ? (int)(done * BAR / total) : 0;
        for (int i = 0; i < BAR; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[BAR] = '\0';
        printf("\r[%s] %lld/%lld done (%lld ok, %lld failed, %lld cancelled, %lld running, %lld"
               " queued) ",
               bar, done, total, ok, failed, cancelled, running, queued);
    } else {
        printf("%lld/%lld done (%lld ok, %lld failed, %lld cancelled, %lld running, %lld queued)\n",
               done, total, ok, failed, cancelled, running, queued);
    }
    fflush(stdout);
}

int ctl_backfill(const ctl *c, const char *id, const char *from, const char *to, int wait)
{
    json_t *body = json_pack("{s:s, s:s}", "from_date", from, "to_date", to);
    char *path = cd_sprintf("/connectors/%s/backfill", id);
    json_t *r = ctl_call(c, "POST", path, body, 60);
    free(path);
    json_decref(body);
    if (!r)
        return CTL_API_ERROR;
    char *bid = cd_xstrdup(json_string_value(json_object_get(r, "backfill_id")));
    if (!wait || c->json) {
        if (c->json && !wait)
            ctl_print_json(r);
        else if (!c->json)
            printf("backfill %s queued: %lld runs\n", bid, num(r, "runs"));
    }
    json_decref(r);
    if (!wait) {
        free(bid);
        return CTL_OK;
    }
    int tty = isatty(STDOUT_FILENO) && !c->json;
    char *ppath = cd_sprintf("/connectors/%s/backfills/%s", id, bid);
    char *last = NULL;
    json_t *p = NULL;
    int rc = CTL_OK;
    for (;;) {
        json_decref(p);
        p = ctl_follow(c, ppath, 60, CTL_FOLLOW_PATIENCE_S);
        if (!p) {
            rc = CTL_API_ERROR;
            break;
        }
        char *now = cd_sprintf("%lld/%lld/%lld/%lld/%lld", num(p, "succeeded"), num(p, "failed"),
                               num(p, "cancelled"), num(p, "running"), num(p, "queued"));
        if (!c->json && (tty || !last || strcmp(now, last) != 0))
            draw(p, tty);
        free(last);
        last = now;
        if (num(p, "queued") == 0 && num(p, "running") == 0)
            break;
        sleep(1);
    }
    if (p) {
        if (tty)
            putchar('\n');
        if (c->json)
            ctl_print_json(p);
        /* A date cancelled is no failure, but neither is it loaded: the
         * backfill did not do what was asked, which a script must see. */
        if (num(p, "failed") > 0 || num(p, "cancelled") > 0) {
            rc = CTL_RUN_FAILED;
            if (!c->json) {
                size_t i;
                json_t *d;
                json_array_foreach(json_object_get(p, "dates"), i, d) {
                    const char *st = json_string_value(json_object_get(d, "status"));
                    const char *date = json_string_value(json_object_get(d, "run_date"));
                    const char *why = json_string_value(json_object_get(d, "error_message"));
                    if (!st || strcmp(st, "FAILED") != 0)
                        continue;
                    int cancelled = json_is_true(json_object_get(d, "cancelled"));
                    printf("  %s %s: %s\n", date ? date : "?", cancelled ? "cancelled" : "FAILED",
                           why ? why : "(no message)");
                }
            }
        }
    }
    json_decref(p);
    free(last);
    free(ppath);
    free(bid);
    return rc;
}
