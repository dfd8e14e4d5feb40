/*
 * queue.h — putting runs on the queue and taking them off it, for the REST
 * API, the CLI and the scheduler alike. A queued run wakes the workers of
 * every host through NOTIFY on the channel CD_QUEUE_CHANNEL, so it starts
 * within a second; polling is only the fallback.
 */
#ifndef CD_QUEUE_H
#define CD_QUEUE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#define CD_QUEUE_CHANNEL "connectord_queue"
#define CD_CANCEL_CHANNEL "connectord_cancel"
#define CD_CONNECTORS_CHANNEL "connectord_connectors"

/* Queues one run of connector_id. run_type is SCHEDULED, MANUAL, TEST or
 * BACKFILL; run_date "YYYY-MM-DD" or NULL (then T minus sync_days_back in
 * the connector's zone). max_attempts comes from the connector's
 * connection_config (auto_retry, retry_count; TEST runs get one attempt).
 * Refuses a missing connector ("Connector not found") and, except for TEST,
 * a PAUSED one ("Cannot run paused connector. Resume it first.").
 * Returns the run id, or -1 with *err. Sends the NOTIFY. */
int64_t cd_queue_run(PGconn *conn, int64_t connector_id, const char *run_type,
                     const char *run_date, const char *triggered_by, char **err);

/* Queues one BACKFILL run per date from..to (inclusive, "YYYY-MM-DD") under
 * a new backfill id (a UUID, written to backfill_id[37]), in date order, in
 * one transaction. The caller validates the range. Returns the number of
 * runs queued, or -1 with *err. */
int cd_queue_backfill(PGconn *conn, int64_t connector_id, const char *from, const char *to,
                      const char *triggered_by, char backfill_id[37], char **err);

/* Today's business date in the connector's schedule_timezone (Asia/Kolkata
 * when unset), "YYYY-MM-DD" in today[11]: no run may be asked for a later
 * date. Returns 0, or -1 with *err ("Connector not found" when it has no
 * row). */
int cd_queue_connector_today(PGconn *conn, int64_t connector_id, char today[11], char **err);

/* cd_cancel_run's outcomes. CD_CANCEL_NOT_FOUND is negative so that a
 * caller testing `< 0` treats it as a failure (with *err set). */
enum {
    CD_CANCEL_NOT_FOUND = -2,
    CD_CANCEL_FINISHED = 0,
    CD_CANCEL_QUEUED = 1,
    CD_CANCEL_STOPPING = 2,
};

/* Cancels one run: a QUEUED run becomes FAILED "cancelled by BY" at once; a
 * RUNNING one is asked to stop (its worker signals the runner, and kills it
 * after the grace period). Returns CD_CANCEL_QUEUED (1) if it was queued
 * (now cancelled), CD_CANCEL_STOPPING (2) if a stop was requested,
 * CD_CANCEL_FINISHED (0) if it had already finished, CD_CANCEL_NOT_FOUND
 * with *err "Run not found" if there is no such run, -1 with *err. */
int cd_cancel_run(PGconn *conn, int64_t run_id, const char *by, char **err);

/* Cancels every QUEUED and RUNNING run of a backfill as cd_cancel_run does.
 * Returns the number of runs affected, or -1 with *err. */
int cd_cancel_backfill(PGconn *conn, int64_t connector_id, const char *backfill_id,
                       const char *by, char **err);

#endif
