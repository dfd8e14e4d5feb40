/*
 * alerts.h — what `connectord serve` does for alerts, in four
 * calls from its event loop: start (read alerts.*, start the delivery
 * thread), tick (late data and the daily
 * digest, on the scheduler's clock), reconfigure (SIGHUP) and stop.
 *
 * Run events (failed, recovered) need no call: a trigger raises them with
 * the run's final status (schema/008_notifications.sql).
 */
#ifndef CD_ALERTS_H
#define CD_ALERTS_H

#include <libpq-fe.h>
#include <stdint.h>

#include "config.h"

typedef struct cd_alerts cd_alerts;

/* NULL with *err when alerts.* is invalid or the thread cannot start. */
cd_alerts *cd_alerts_start(const cd_config *cfg, const char *worker_id, char **err);

/* Applies a reloaded configuration; a bad alerts.* keeps the old one
 * (logged). cfg need not outlive the call. */
void cd_alerts_reconfigure(cd_alerts *a, const cd_config *cfg);

/* Called by the event loop on every pass while it has a database
 * connection; `now` is cd_clock_now(). Raises late-data alerts (connectors'
 * expected_by) and the daily digest (alerts.digest_time), each at most
 * once per day across all workers. Quick: a couple of indexed queries,
 * at most every 15 s of the clock. Main thread only. */
void cd_alerts_tick(cd_alerts *a, PGconn *conn, int64_t now);

/* Stops the delivery thread (a send in flight is aborted) and frees. */
void cd_alerts_stop(cd_alerts *a);

/* Seconds since the event loop last called cd_alerts_tick, or -1 when it
 * never did (for /metrics). Any thread. */
double cd_alerts_tick_age_seconds(void);

/* For tests and the digest: "YYYY-MM-DD" local date of the digest due at
 * `now` under s, i.e. the day reported (yesterday), or -1 when no digest
 * is due yet today. */
struct cd_alert_settings;
int cd_alerts_digest_due(const struct cd_alert_settings *s, int64_t now, char out[11]);

#endif
