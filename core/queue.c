/* queue.c — see queue.h. */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "util.h"

static int connector_status(PGconn *conn, const char *id, char **status, char **err)
{
    const char *p[] = {id};
    PGresult *res = cd_db_exec(conn, "reading the connector", PGRES_TUPLES_OK,
                               "SELECT status FROM sp_v2_connectors WHERE id = $1", 1, p, err);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        *err = cd_xstrdup("Connector not found");
        return -1;
    }
    *status = cd_xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int cd_queue_connector_today(PGconn *conn, int64_t connector_id, char today[11], char **err)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)connector_id);
    const char *p[] = {id};
    /* The zone fallback is the run functions' (schema/007): the CLI and the
     * API, which both ask here, refuse the same dates. */
    PGresult *res = cd_db_exec(conn, "reading the connector's date", PGRES_TUPLES_OK,
                               "SELECT to_char((now() AT TIME ZONE"
                               "        coalesce(nullif(schedule_timezone, ''), 'Asia/Kolkata'))::date,"
                               "        'YYYY-MM-DD')"
                               "  FROM sp_v2_connectors WHERE id = $1",
                               1, p, err);
    if (!res)
        return -1;
    int ok = PQntuples(res) == 1;
    if (ok)
        snprintf(today, 11, "%s", PQgetvalue(res, 0, 0));
    else
        *err = cd_xstrdup("Connector not found");
    PQclear(res);
    return ok ? 0 : -1;
}

int64_t cd_queue_run(PGconn *conn, int64_t connector_id, const char *run_type,
                     const char *run_date, const char *triggered_by, char **err)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)connector_id);
    char *status = NULL;
    if (connector_status(conn, id, &status, err) != 0)
        return -1;
    int paused = strcmp(status, "PAUSED") == 0;
    free(status);
    if (paused && strcmp(run_type, "TEST") != 0) {
        *err = cd_xstrdup("Cannot run paused connector. Resume it first.");
        return -1;
    }
    const char *p[] = {id, run_type, run_date, triggered_by};
    /* The INSERT and the NOTIFY commit together: a worker woken by the
     * notification always finds the row. */
    PGresult *res = cd_db_exec(
        conn, "queueing the run", PGRES_TUPLES_OK,
        "WITH r AS (INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status,"
        " triggered_by, attempt, max_attempts, queued_at, started_at)"
        " SELECT c.id, $2::text, COALESCE($3::date,"
        "  connectord_default_run_date(c.schedule_timezone, c.connection_config)), 'QUEUED',"
        "  $4, 1, connectord_max_attempts(c.connection_config, $2::text), now(), NULL"
        " FROM sp_v2_connectors c WHERE c.id = $1 RETURNING id)"
        " SELECT id, pg_notify('" CD_QUEUE_CHANNEL "', id::text) FROM r",
        4, p, err);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        *err = cd_xstrdup("Connector not found");
        return -1;
    }
    int64_t run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return run_id;
}

int cd_queue_backfill(PGconn *conn, int64_t connector_id, const char *from, const char *to,
                      const char *triggered_by, char backfill_id[37], char **err)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)connector_id);
    char *status = NULL;
    if (connector_status(conn, id, &status, err) != 0)
        return -1;
    int paused = strcmp(status, "PAUSED") == 0;
    free(status);
    if (paused) {
        *err = cd_xstrdup("Cannot run paused connector. Resume it first.");
        return -1;
    }
    /* One statement: all dates or none. Ids ascend with the dates, and the
     * claim takes a connector's runs oldest id first, so they run in order. */
    const char *p[] = {id, "BACKFILL", from, to, triggered_by};
    PGresult *res = cd_db_exec(
        conn, "queueing the backfill", PGRES_TUPLES_OK,
        "WITH b AS (SELECT gen_random_uuid() AS bid),"
        " r AS (INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status,"
        "  triggered_by, attempt, max_attempts, queued_at, started_at, backfill_id)"
        "  SELECT c.id, $2::text, d::date, 'QUEUED', $5, 1,"
        "   connectord_max_attempts(c.connection_config, $2::text), now(), NULL, b.bid"
        "  FROM sp_v2_connectors c, b, generate_series($3::date, $4::date, '1 day') d"
        "  WHERE c.id = $1 ORDER BY d RETURNING id, backfill_id)"
        " SELECT (SELECT bid FROM b)::text, count(*), pg_notify('" CD_QUEUE_CHANNEL "', 'backfill')"
        " FROM r",
        5, p, err);
    if (!res)
        return -1;
    snprintf(backfill_id, 37, "%s", PQgetvalue(res, 0, 0));
    int n = atoi(PQgetvalue(res, 0, 1));
    PQclear(res);
    return n;
}

/* QUEUED runs are finalized here directly; RUNNING ones get a request that
 * their worker acts on (NOTIFY, and its periodic check as the fallback).
 * A cancelled run is not an outcome of its connector: the connector's
 * counters, last run and status are left as they were (as in
 * cd_runs_finalize_many, and as the alerts treat a cancel, schema/016). */
#define CANCEL_SQL(WHERE, BY)                                                               \
    "WITH target AS ("                                                                      \
    "  SELECT id, status FROM sp_v2_connector_runs WHERE " WHERE                            \
    "  AND status IN ('QUEUED', 'RUNNING') FOR UPDATE),"                                    \
    " q AS (UPDATE sp_v2_connector_runs r SET status = 'FAILED', completed_at = now(),"     \
    "  error_message = 'cancelled by ' || " BY ", cancel_requested_at = now(),"             \
    "  cancel_requested_by = " BY ", duration_seconds = NULL,"                              \
    "  details = COALESCE(r.details, '{}'::jsonb) || '{\"outcome\": \"cancelled\"}'"         \
    "  FROM target t WHERE r.id = t.id AND t.status = 'QUEUED' RETURNING r.id, r.connector_id),"   \
    " s AS (UPDATE sp_v2_connector_runs r SET cancel_requested_at = now(),"                 \
    "  cancel_requested_by = " BY " FROM target t WHERE r.id = t.id AND t.status = 'RUNNING'" \
    "  RETURNING r.id)"                                                                      \
    " SELECT (SELECT count(*) FROM q), (SELECT count(*) FROM s),"                            \
    "  0, pg_notify('" CD_CANCEL_CHANNEL "', 'cancel')"

int cd_cancel_run(PGconn *conn, int64_t run_id, const char *by, char **err)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    const char *p[] = {id, by && *by ? by : "USER"};
    /* The existence test shares the statement's snapshot: "not found" and
     * "already finished" cannot be told apart from the counts alone. */
    PGresult *res = cd_db_exec(conn, "cancelling the run", PGRES_TUPLES_OK,
                               CANCEL_SQL("id = $1", "$2")
                               ", EXISTS (SELECT 1 FROM sp_v2_connector_runs WHERE id = $1)",
                               2, p, err);
    if (!res)
        return -1;
    int queued = atoi(PQgetvalue(res, 0, 0)), running = atoi(PQgetvalue(res, 0, 1));
    int exists = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
    PQclear(res);
    if (!exists) {
        *err = cd_xstrdup("Run not found");
        return CD_CANCEL_NOT_FOUND;
    }
    return queued ? CD_CANCEL_QUEUED : running ? CD_CANCEL_STOPPING : CD_CANCEL_FINISHED;
}

int cd_cancel_backfill(PGconn *conn, int64_t connector_id, const char *backfill_id,
                       const char *by, char **err)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)connector_id);
    const char *p[] = {id, backfill_id, by && *by ? by : "USER"};
    PGresult *res = cd_db_exec(conn, "cancelling the backfill", PGRES_TUPLES_OK,
                               CANCEL_SQL("connector_id = $1 AND backfill_id = CASE WHEN $2 ~"
                                          " '^[0-9a-fA-F-]{36}$' THEN $2::uuid END",
                                          "$3"),
                               3, p, err);
    if (!res)
        return -1;
    int n = atoi(PQgetvalue(res, 0, 0)) + atoi(PQgetvalue(res, 0, 1));
    PQclear(res);
    return n;
}
