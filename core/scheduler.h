/*
 * scheduler.h — turns each connector's cron, in its own time zone, into
 * QUEUED SCHEDULED runs. Every worker ticks; a slot is inserted with a
 * unique key (connector, slot time), so however many workers tick, each
 * slot yields one run. Slots missed while every worker was down are caught
 * up within scheduler.catchup_window (default 48 h): one run per missed
 * business date, oldest first, never for slots before the connector was
 * created or last resumed. A lowered sync_days_back (recorded by a trigger,
 * schema/024) queues the dates it would skip along with the first slot run
 * that uses the new value.
 */
#ifndef CD_SCHEDULER_H
#define CD_SCHEDULER_H

#include <libpq-fe.h>
#include <stdint.h>

#include "config.h"

typedef struct cd_scheduler cd_scheduler;

cd_scheduler *cd_scheduler_new(const cd_config *cfg);
void cd_scheduler_free(cd_scheduler *s);

/* Re-reads the connectors at the next tick (after a NOTIFY). */
void cd_scheduler_invalidate(cd_scheduler *s);

/* Enqueues every slot due at `now` (seconds since the epoch). Returns the
 * number of runs inserted by this call, or -1 with *err. */
int cd_scheduler_tick(cd_scheduler *s, PGconn *conn, int64_t now, char **err);

/* The earliest next slot of any connector (0 when none). */
int64_t cd_scheduler_next_due(const cd_scheduler *s);

#endif
