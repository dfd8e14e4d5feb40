/* alerts.c — see alerts.h. */
#include "alerts.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "db.h"
#include "log.h"
#include "notify.h"
#include "util.h"

/* How often (on the scheduler's clock) connectors' expected_by times are
 * checked: an alert is at most this late, and the check costs one query. */
#define LATE_CHECK_EVERY_S 15

/* After the digest's query failed, the loop tries it again no sooner than
 * this (monotonic time): not on every pass of the loop. */
#define DIGEST_RETRY_MS 5000

/* A query of the tick that fails pass after pass (a broken migration, a
 * trigger refusing the row, permissions) is logged when it starts failing
 * and when its reason changes, and once more when it works again: not on
 * every pass, which flooded the journal. */
typedef struct failing {
    char *reason; /* NULL while it works */
    int64_t retry_ms; /* mono_ms() before which it is not tried again; 0: any time */
} failing;

struct cd_alerts {
    cd_notifier *notifier;
    int64_t last_late_check;     /* clock seconds; 0: never */
    char digest_done[11];        /* the date of the last digest raised (or found) */
    failing late_failing, digest_failing;
};

/* When the event loop last ticked, written by it and read by API threads
 * for /metrics. */
static atomic_llong last_tick_ms;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A query failed with err (taken): logged unless it is the same failure
 * as last time. */
static void query_failed(failing *f, char *err)
{
    if (!f->reason || strcmp(f->reason, err) != 0) {
        cd_error("alerts: %s (retried; logged again only when it works or fails otherwise)", err);
        free(f->reason);
        f->reason = err;
    } else {
        free(err);
    }
}

static void query_worked(failing *f, const char *what)
{
    if (!f->reason)
        return;
    cd_info("alerts: %s works again", what);
    free(f->reason);
    f->reason = NULL;
}

double cd_alerts_tick_age_seconds(void)
{
    long long last = atomic_load(&last_tick_ms);
    return last ? (double)(mono_ms() - last) / 1000.0 : -1.0;
}

cd_alerts *cd_alerts_start(const cd_config *cfg, const char *worker_id, char **err)
{
    cd_alert_settings *s = cd_alert_settings_load(cfg, err);
    if (!s)
        return NULL;
    /* Before any thread uses curl: curl_global_init is not thread-safe on
     * every libcurl this may be built against. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    size_t n = s->nchannels;
    cd_alert_settings_set(s);
    cd_alerts *a = cd_xcalloc(1, sizeof *a);
    a->notifier = cd_notifier_start(worker_id, err);
    if (!a->notifier) {
        cd_alert_settings_set(NULL);
        free(a);
        return NULL;
    }
    cd_info("alerts: %zu channel%s%s", n, n == 1 ? "" : "s",
            n ? "" : " (alerts.channels): nothing will be sent");
    return a;
}

void cd_alerts_reconfigure(cd_alerts *a, const cd_config *cfg)
{
    char *err = NULL;
    cd_alert_settings *s = cd_alert_settings_load(cfg, &err);
    if (!s) {
        cd_error("SIGHUP: alerts not reconfigured: %s", err);
        free(err);
        return;
    }
    cd_alert_settings_set(s);
    /* A new digest time or zone takes effect today. */
    a->digest_done[0] = '\0';
    a->last_late_check = 0;
    cd_notifier_wake(a->notifier);
}

void cd_alerts_stop(cd_alerts *a)
{
    if (!a)
        return;
    cd_notifier_stop(a->notifier);
    cd_alert_settings_set(NULL);
    free(a->late_failing.reason);
    free(a->digest_failing.reason);
    free(a);
}

int cd_alerts_digest_due(const cd_alert_settings *s, int64_t now, char out[11])
{
    if (!s->digest_enabled)
        return -1;
    int hour, minute;
    if (cd_tz_local_fields(s->digest_tz, now, NULL, NULL, NULL, &hour, &minute, NULL) != 0)
        return -1;
    if (hour * 60 + minute < s->digest_hour * 60 + s->digest_minute)
        return -1;
    return cd_tz_local_date(s->digest_tz, now, 1, out, NULL);
}

/* Late data: for every connector (not paused) with expected_by, once its
 * local time has passed expected_by today, the run for its business date
 * (today minus sync_days_back, in its zone) must have succeeded. If not:
 * one LATE event per connector and local date. Connectors created or
 * resumed after today's deadline are not late yet; one whose created_at is
 * NULL (a row inserted by hand with an explicit NULL) has always existed,
 * as the scheduler also treats it, and is alerted; so is one whose zone is
 * unknown (checked in Asia/Kolkata). The NOT EXISTS keeps
 * later ticks from even trying (and from spending sequence values).
 * Yesterday is checked the same way: when no worker ticked between its
 * deadline and midnight (all down, a restart at 23:59), the day whose
 * data is still missing is alerted after midnight (once: same key), unless
 * expected_by was set or changed only after yesterday's deadline (schema
 * 023): a deadline set this morning was nobody's expectation yesterday. */
static int check_late(PGconn *conn, int64_t now, char **err)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)now);
    const char *p[] = {t};
    PGresult *res = cd_db_exec(
        conn, "checking for late data", PGRES_TUPLES_OK,
        "WITH z AS ("
        "  SELECT c.id, c.name, c.connector_type, c.connection_config, c.expected_by,"
        "   c.created_at, c.resumed_at, c.schedule_timezone,"
        "   connectord_local_time(c.schedule_timezone, to_timestamp($1::float8)) AS zone_now"
        "   FROM sp_v2_connectors c"
        "  WHERE c.expected_by IS NOT NULL AND c.status IN ('ACTIVE', 'FAILED')"
        "), c AS ("
        /* A zone PostgreSQL does not know (stored by hand: the API refuses
         * it) is checked in Asia/Kolkata: such a connector is never
         * scheduled, and its missing data must still be alerted. */
        "  SELECT z.id, z.name, z.connector_type, z.connection_config, z.expected_by,"
        "   z.created_at, z.resumed_at,"
        "   CASE WHEN z.zone_now IS NULL THEN 'Asia/Kolkata'"
        "    ELSE COALESCE(NULLIF(z.schedule_timezone, ''), 'Asia/Kolkata') END AS tz,"
        "   COALESCE(z.zone_now, to_timestamp($1::float8) AT TIME ZONE 'Asia/Kolkata') AS local_now"
        "   FROM z"
        "), due AS ("
        "  SELECT c.*, k.day AS local_date, k.today,"
        "   k.day - connectord_days_back(c.connection_config) AS business_date,"
        "   (k.day + c.expected_by::time) AT TIME ZONE c.tz AS deadline"
        "   FROM c CROSS JOIN LATERAL (VALUES (c.local_now::date, true),"
        "    (c.local_now::date - 1, false)) k(day, today)"
        "   WHERE c.local_now IS NOT NULL"
        "    AND (NOT k.today OR c.local_now::time >= c.expected_by::time)"
        "), late AS ("
        "  SELECT d.*, 'late:' || d.id || ':' || d.local_date AS dedup_key,"
        "   (SELECT r.status FROM sp_v2_connector_runs r WHERE r.connector_id = d.id"
        "     AND r.run_date = d.business_date AND r.run_type <> 'TEST'"
        "     ORDER BY r.id DESC LIMIT 1) AS last_status"
        "   FROM due d"
        "  WHERE (d.created_at IS NULL OR d.created_at <= d.deadline)"
        "    AND (d.resumed_at IS NULL OR d.resumed_at <= d.deadline)"
        "    AND (d.today OR NOT EXISTS (SELECT 1 FROM connectord_expected_by_set s"
        "     WHERE s.connector_id = d.id AND s.set_at > d.deadline))"
        "    AND NOT EXISTS (SELECT 1 FROM sp_v2_connector_runs r WHERE r.connector_id = d.id"
        "     AND r.run_date = d.business_date AND r.run_type <> 'TEST'"
        "     AND r.status IN ('SUCCESS', 'PARTIAL_SUCCESS'))"
        "    AND NOT EXISTS (SELECT 1 FROM sp_v2_notifications e WHERE e.kind = 'LATE'"
        "     AND e.dedup_key = 'late:' || d.id || ':' || d.local_date)"
        ")"
        " INSERT INTO sp_v2_notifications (kind, dedup_key, connector_id, event_date, payload)"
        " SELECT 'LATE', l.dedup_key, l.id, l.local_date, jsonb_build_object("
        "   'connector_id', l.id::text, 'connector', l.name, 'connector_type', l.connector_type,"
        "   'timezone', l.tz, 'expected_by', l.expected_by, 'local_date', l.local_date,"
        "   'business_date', l.business_date, 'last_status', l.last_status,"
        "   'deadline', l.deadline)"
        " FROM late l ON CONFLICT (kind, dedup_key) DO NOTHING RETURNING id, payload->>'connector',"
        "  payload->>'business_date'",
        1, p, err);
    if (!res)
        return -1;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        cd_warn("alerts: late data: %s has no successful run for %s (notification %s)",
                PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 0));
    PQclear(res);
    return n;
}

/* The digest of `date` (yesterday in the digest's zone): per connector,
 * the runs that started that day (tests excluded), how many succeeded and
 * failed, records loaded and rejected, and the days in the week up to it
 * on which it was late. HAVING: an aggregate over no rows still gives a
 * row, so the "already raised" test must come after aggregation. */
static int raise_digest(PGconn *conn, const cd_alert_settings *s, const char *date, char **err)
{
    const char *p[] = {date, s->digest_tz};
    PGresult *res = cd_db_exec(
        conn, "raising the daily digest", PGRES_TUPLES_OK,
        "INSERT INTO sp_v2_notifications (kind, dedup_key, event_date, payload)"
        " SELECT 'DIGEST', 'digest:' || $1, $1::date, jsonb_build_object('date', $1::text,"
        "  'timezone', $2::text, 'connectors', COALESCE(jsonb_agg(x ORDER BY x->>'connector'),"
        "  '[]'::jsonb))"
        " FROM ("
        "  SELECT jsonb_build_object('connector_id', c.id::text, 'connector', c.name,"
        "   'status', c.status, 'runs', count(r.id),"
        "   'succeeded', count(r.id) FILTER (WHERE r.status IN ('SUCCESS', 'PARTIAL_SUCCESS')),"
        "   'failed', count(r.id) FILTER (WHERE r.status = 'FAILED'),"
        "   'records_loaded', COALESCE(sum(r.records_success)"
        "      FILTER (WHERE r.status IN ('SUCCESS', 'PARTIAL_SUCCESS')), 0),"
        "   'records_failed', COALESCE(sum(r.records_failed), 0),"
        "   'late_days', (SELECT count(DISTINCT e.event_date) FROM sp_v2_notifications e"
        "     WHERE e.kind = 'LATE' AND e.connector_id = c.id"
        "       AND e.event_date BETWEEN $1::date - 6 AND $1::date)) AS x"
        "  FROM sp_v2_connectors c"
        "  LEFT JOIN sp_v2_connector_runs r ON r.connector_id = c.id AND r.run_type <> 'TEST'"
        "   AND r.started_at >= ($1::date)::timestamp AT TIME ZONE $2::text"
        "   AND r.started_at < ($1::date + 1)::timestamp AT TIME ZONE $2::text"
        "  GROUP BY c.id"
        " ) per_connector"
        " HAVING NOT EXISTS (SELECT 1 FROM sp_v2_notifications e WHERE e.kind = 'DIGEST'"
        "  AND e.dedup_key = 'digest:' || $1)"
        " ON CONFLICT (kind, dedup_key) DO NOTHING RETURNING id",
        2, p, err);
    if (!res)
        return -1;
    int n = PQntuples(res);
    if (n > 0)
        cd_info("alerts: daily digest for %s raised (notification %s)", date, PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

void cd_alerts_tick(cd_alerts *a, PGconn *conn, int64_t now)
{
    atomic_store(&last_tick_ms, (long long)mono_ms());
    if (!a)
        return;
    cd_alert_settings *s = cd_alert_settings_get();
    /* With no channel nobody would hear of late data or read a digest. */
    if (!s || s->nchannels == 0) {
        cd_alert_settings_put(s);
        return;
    }
    char *err = NULL;
    int raised = 0;
    /* A clock that went back (the test clock, or a corrected host clock)
     * checks again at once. */
    if (!a->last_late_check || now - a->last_late_check >= LATE_CHECK_EVERY_S ||
        now < a->last_late_check) {
        a->last_late_check = now;
        int n = check_late(conn, now, &err);
        if (n < 0) {
            query_failed(&a->late_failing, err);
            err = NULL;
        } else {
            query_worked(&a->late_failing, "the late-data check");
        }
        raised += n > 0;
    }
    char date[11];
    if (cd_alerts_digest_due(s, now, date) == 0 && strcmp(date, a->digest_done) != 0 &&
        (!a->digest_failing.retry_ms || mono_ms() >= a->digest_failing.retry_ms)) {
        int n = raise_digest(conn, s, date, &err);
        if (n < 0) {
            query_failed(&a->digest_failing, err);
            err = NULL;
            a->digest_failing.retry_ms = mono_ms() + DIGEST_RETRY_MS;
        } else {
            query_worked(&a->digest_failing, "the daily digest");
            a->digest_failing.retry_ms = 0;
            /* Raised here or by another worker: done for the day either way. */
            memcpy(a->digest_done, date, sizeof date);
            raised += n > 0;
        }
    }
    cd_alert_settings_put(s);
    if (raised)
        cd_notifier_wake(a->notifier);
}
