/*
 * notify_channel_sets.h — workers compare their alert channel lists.
 *
 * Each worker with alert channels records their names and types in
 * sp_v2_alert_channel_sets (schema/018) once a minute; a worker that finds
 * another live worker with a different list warns in its log, since an
 * alert goes only to the channels of the worker that fans it out. Run by
 * the delivery thread on its own connection.
 */
#ifndef CD_NOTIFY_CHANNEL_SETS_H
#define CD_NOTIFY_CHANNEL_SETS_H

#include <libpq-fe.h>
#include <stdint.h>

#include "notify.h"

/* SQL: the row is a live worker's. Each worker says how long its row holds
 * (live_until, schema/019): a round of sends may keep it from refreshing
 * for up to ROUND_MAX times its timeout. Rows from before 019: 180 s. */
#define CD_CHANNEL_SETS_LIVE "COALESCE(live_until, seen_at + interval '180 seconds') >= now()"

typedef struct cd_channel_sets {
    int64_t last_publish_ms; /* monotonic; 0: never */
    char *published;         /* the list last recorded, NULL when none */
    char *last_warning;      /* the differences last warned about */
} cd_channel_sets;

/* Records this worker's list (or removes it when it has no channels) and
 * compares it with the other live workers'; at most once a minute unless
 * the list changed (a SIGHUP). hold_seconds: how long the row must count
 * as live, the longest this thread may go without calling again. Errors
 * are logged and tried again later. */
void cd_channel_sets_publish(cd_channel_sets *cs, PGconn *conn, const char *worker_id,
                             const cd_alert_settings *s, int hold_seconds, int64_t now_ms);

/* Removes this worker's row (a clean stop) and frees cs's memory. */
void cd_channel_sets_finish(cd_channel_sets *cs, PGconn *conn, const char *worker_id);

#endif
