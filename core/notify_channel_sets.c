/* notify_channel_sets.c — see notify_channel_sets.h. */
#include "notify_channel_sets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "util.h"

#define PUBLISH_EVERY_MS 60000
/* A row this long past its live_until is a dead worker's, and is removed. */
#define FORGET_SECONDS "600"

static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int by_name(const void *a, const void *b)
{
    const cd_channel *x = *(const cd_channel *const *)a, *y = *(const cd_channel *const *)b;
    return strcmp(x->name, y->name);
}

/* "name:type,..." sorted by name (so that the order in the YAML does not
 * matter), or NULL when there are no channels. */
static char *channel_list(const cd_alert_settings *s)
{
    if (s->nchannels == 0)
        return NULL;
    const cd_channel **sorted = cd_xcalloc(s->nchannels, sizeof *sorted);
    for (size_t i = 0; i < s->nchannels; i++)
        sorted[i] = &s->channels[i];
    qsort(sorted, s->nchannels, sizeof *sorted, by_name);
    cd_buf b;
    cd_buf_init(&b);
    for (size_t i = 0; i < s->nchannels; i++)
        cd_buf_printf(&b, "%s%s:%s", i ? "," : "", sorted[i]->name,
                      cd_channel_type_name(sorted[i]->type));
    free(sorted);
    return cd_buf_take(&b);
}

static void remove_own(PGconn *conn, const char *worker_id)
{
    const char *p[] = {worker_id};
    char *err = NULL;
    if (cd_db_command(conn, "notify: removing this worker's alert channels",
                      "DELETE FROM sp_v2_alert_channel_sets WHERE worker_id = $1", 1, p,
                      &err) != 0) {
        cd_error("%s", err);
        free(err);
    }
}

void cd_channel_sets_publish(cd_channel_sets *cs, PGconn *conn, const char *worker_id,
                             const cd_alert_settings *s, int hold_seconds, int64_t now_ms)
{
    char *mine = channel_list(s);
    if (same(mine, cs->published) && cs->last_publish_ms &&
        now_ms - cs->last_publish_ms < PUBLISH_EVERY_MS) {
        free(mine);
        return;
    }
    cs->last_publish_ms = now_ms;
    if (!mine) { /* a worker without channels fans nothing out: it cannot differ */
        if (cs->published)
            remove_own(conn, worker_id);
        free(cs->published);
        cs->published = NULL;
        free(cs->last_warning);
        cs->last_warning = NULL;
        return;
    }
    char hold[16];
    snprintf(hold, sizeof hold, "%d", hold_seconds);
    const char *p[] = {worker_id, mine, hold};
    char *err = NULL;
    PGresult *res = cd_db_exec(
        conn, "notify: recording this worker's alert channels", PGRES_TUPLES_OK,
        "WITH me AS ("
        "  INSERT INTO sp_v2_alert_channel_sets (worker_id, channels, seen_at, live_until)"
        "  VALUES ($1, $2, now(), now() + make_interval(secs => $3::int))"
        "  ON CONFLICT (worker_id) DO UPDATE SET channels = EXCLUDED.channels, seen_at = now(),"
        "   live_until = EXCLUDED.live_until"
        "), forgotten AS ("
        "  DELETE FROM sp_v2_alert_channel_sets"
        "   WHERE worker_id <> $1 AND COALESCE(live_until, seen_at)"
        "         < now() - interval '" FORGET_SECONDS " seconds'"
        ") SELECT string_agg(worker_id || ' [' || channels || ']', ', ' ORDER BY worker_id)"
        "  FROM sp_v2_alert_channel_sets"
        " WHERE worker_id <> $1 AND channels <> $2 AND " CD_CHANNEL_SETS_LIVE,
        3, p, &err);
    if (!res) {
        cd_error("%s", err);
        free(err);
        free(mine);
        return; /* tried again in a minute */
    }
    free(cs->published);
    cs->published = mine;
    const char *differ = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
    if (differ && !same(differ, cs->last_warning))
        cd_warn("alerts: this worker's channels [%s] differ from those of %s; an alert goes "
                "only to the channels of the worker that takes it first: give every worker "
                "the same alerts.channels",
                mine, differ);
    else if (!differ && cs->last_warning)
        cd_info("alerts: every live worker has the same alert channels again");
    if (!same(differ, cs->last_warning)) {
        free(cs->last_warning);
        cs->last_warning = differ ? cd_xstrdup(differ) : NULL;
    }
    PQclear(res);
}

void cd_channel_sets_finish(cd_channel_sets *cs, PGconn *conn, const char *worker_id)
{
    if (cs->published && conn && PQstatus(conn) == CONNECTION_OK)
        remove_own(conn, worker_id);
    free(cs->published);
    free(cs->last_warning);
    memset(cs, 0, sizeof *cs);
}
