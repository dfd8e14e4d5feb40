/* runs.c — see runs.h. */
#include "runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "util.h"

static char *field_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : cd_xstrdup(PQgetvalue(res, row, col));
}

/* Fills *row from row i of res, whose columns are: id, attempt,
 * max_attempts, timeout_seconds, connector_id, run_type, status, run_date,
 * then the connector's name, type, status, source_entity, driver, zone,
 * connection_config and sync_cursor. */
static void row_from_result(const PGresult *res, int i, cd_run_row *row)
{
    memset(row, 0, sizeof *row);
    row->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    row->attempt = atoi(PQgetvalue(res, i, 1));
    row->max_attempts = atoi(PQgetvalue(res, i, 2));
    row->timeout_seconds = atoi(PQgetvalue(res, i, 3));
    row->connector_id = strtoll(PQgetvalue(res, i, 4), NULL, 10);
    row->run_type = field_or_null(res, i, 5);
    row->status = field_or_null(res, i, 6);
    row->run_date = field_or_null(res, i, 7);
    row->connector_name = field_or_null(res, i, 8);
    row->connector_type = field_or_null(res, i, 9);
    row->connector_status = field_or_null(res, i, 10);
    row->source_entity = field_or_null(res, i, 11);
    row->driver = field_or_null(res, i, 12);
    row->timezone = field_or_null(res, i, 13);
    row->config_json = field_or_null(res, i, 14);
    row->sync_cursor = field_or_null(res, i, 15);
}

int cd_runs_load(PGconn *conn, int64_t run_id, cd_run_row *row, char **err)
{
    memset(row, 0, sizeof *row);
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    const char *p[] = {id};
    PGresult *res = cd_db_exec(
        conn, "reading the run", PGRES_TUPLES_OK,
        "SELECT r.id, r.attempt, r.max_attempts, COALESCE(r.timeout_seconds, 0),"
        " r.connector_id, r.run_type, r.status, r.run_date::text, c.name, c.connector_type,"
        " c.status, c.source_entity, COALESCE(NULLIF(c.driver, ''), lower(c.connector_type)),"
        " COALESCE(NULLIF(c.schedule_timezone, ''), 'Asia/Kolkata'), c.connection_config::text,"
        " c.sync_cursor"
        " FROM sp_v2_connector_runs r JOIN sp_v2_connectors c ON c.id = r.connector_id"
        " WHERE r.id = $1",
        1, p, err);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        *err = cd_sprintf("run %lld does not exist", (long long)run_id);
        PQclear(res);
        return -1;
    }
    row_from_result(res, 0, row);
    PQclear(res);
    return 0;
}

int cd_runs_claim(PGconn *conn, const char *worker_id, int lease_seconds, int max_runs,
                  cd_run_row **rows, char **err)
{
    *rows = NULL;
    char lease[16], max[16];
    snprintf(lease, sizeof lease, "%d", lease_seconds);
    snprintf(max, sizeof max, "%d", max_runs);
    const char *p[] = {worker_id, lease, max};
    /* Manual and test runs go before a backlog of scheduled ones; within a
     * connector, the oldest first (a backfill in date order). How the claim
     * stays cheap with a long queue: schema/009 and 012. */
    PGresult *res = PQexecParams(conn, "SELECT * FROM connectord_claim_runs($1, $2::int, $3::int)",
                                 3, NULL, p, NULL, NULL, 0);
    if (!res) {
        *err = cd_db_error(conn, "claiming runs");
        return -1;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* Another host claimed another run of one of these connectors at the
         * same moment: the one-RUNNING-per-connector index said no, and the
         * whole claim was undone. Not an error: the next round claims again. */
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        int rc = 0;
        if (!state || strcmp(state, "23505") != 0) {
            *err = cd_db_result_error(res, "claiming runs");
            rc = -1;
        }
        PQclear(res);
        return rc;
    }
    int n = PQntuples(res);
    if (n > 0) {
        *rows = cd_xcalloc((size_t)n, sizeof **rows);
        for (int i = 0; i < n; i++)
            row_from_result(res, i, &(*rows)[i]);
    }
    PQclear(res);
    return n;
}

void cd_run_row_free(cd_run_row *row)
{
    free(row->run_type), free(row->status), free(row->run_date), free(row->connector_name);
    free(row->connector_type), free(row->connector_status), free(row->source_entity);
    free(row->driver), free(row->timezone), free(row->config_json), free(row->sync_cursor);
    memset(row, 0, sizeof *row);
}

int64_t cd_runs_create_running(PGconn *conn, int64_t connector_id, const char *run_type,
                               const char *run_date, const char *triggered_by,
                               int timeout_seconds, const char *worker_id, char **err)
{
    char id[32], timeout[16];
    snprintf(id, sizeof id, "%lld", (long long)connector_id);
    snprintf(timeout, sizeof timeout, "%d", timeout_seconds);
    const char *p1[] = {id};
    PGresult *res = cd_db_exec(conn, "reading the connector", PGRES_TUPLES_OK,
                               "SELECT status FROM sp_v2_connectors WHERE id = $1", 1, p1, err);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        *err = cd_sprintf("Connector not found: %lld", (long long)connector_id);
        PQclear(res);
        return -1;
    }
    int paused = strcmp(PQgetvalue(res, 0, 0), "PAUSED") == 0;
    PQclear(res);
    if (paused && strcmp(run_type, "TEST") != 0) {
        *err = cd_xstrdup("Cannot run paused connector. Resume it first.");
        return -1;
    }
    /* The business date is computed by PostgreSQL in the connector's own
     * zone: T-1 in Asia/Kolkata is not T-1 in UTC. */
    const char *p2[] = {id, run_type, run_date, triggered_by, timeout, worker_id};
    res = cd_db_exec(
        conn, "creating the run", PGRES_TUPLES_OK,
        "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status,"
        " triggered_by, attempt, max_attempts, started_at, timeout_seconds, worker_id,"
        " lease_expires_at)"
        " SELECT c.id, $2, COALESCE($3::date,"
        "   connectord_default_run_date(c.schedule_timezone, c.connection_config)),"
        " 'RUNNING', $4, 1, 1, now(), NULLIF($5::int, 0), $6,"
        " now() + make_interval(secs => $5::int + 120)"
        " FROM sp_v2_connectors c WHERE c.id = $1 RETURNING id",
        6, p2, err);
    if (!res) {
        if (strstr(*err, "uq_connector_runs_one_running")) {
            free(*err);
            *err = cd_sprintf("connector %lld already has a RUNNING run; runs of one "
                              "connector never overlap",
                              (long long)connector_id);
        }
        return -1;
    }
    int64_t run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return run_id;
}

json_t *cd_run_outcome_json(int64_t run_id, const cd_run_outcome *o)
{
    json_t *details = o->details ? json_incref(o->details) : json_object();
    return json_pack("{s:I, s:s, s:s?, s:o, s:I, s:I, s:I, s:b, s:s?, s:i}", "id",
                     (json_int_t)run_id, "status", o->status, "error_message", o->error_message,
                     "details", details, "processed", (json_int_t)o->processed, "success",
                     (json_int_t)o->success, "failed", (json_int_t)o->failed, "cursor_dirty",
                     o->cursor_dirty, "cursor", o->cursor, "attempt", o->attempt);
}

int cd_runs_finalize_many(PGconn *conn, json_t *outcomes, char **err)
{
    if (json_array_size(outcomes) == 0)
        return 0;
    char *text = json_dumps(outcomes, JSON_COMPACT);
    if (!text) {
        *err = cd_xstrdup("finalizing runs: cannot encode their outcomes");
        return -1;
    }
    const char *p[] = {text};
    /* One statement however many runs: a worker settles what ended in one
     * round of its loop together. Each run's connector is in the set at
     * most once: a connector has at most one RUNNING run. A run cancelled
     * by someone is not an outcome of the connector: it counts in none of
     * its counters and leaves its last run and status as they were. */
    PGresult *res = cd_db_exec(
        conn, "finalizing the run", PGRES_TUPLES_OK,
        "WITH v AS ("
        "  SELECT * FROM jsonb_to_recordset($1::jsonb) AS v(id bigint, status text,"
        "   error_message text, details jsonb, processed bigint, success bigint, failed bigint,"
        "   cursor_dirty boolean, cursor text, attempt integer)"
        "), r AS ("
        "  UPDATE sp_v2_connector_runs x SET status = v.status, error_message = v.error_message,"
        "   details = COALESCE(v.details, '{}'::jsonb), records_processed = v.processed,"
        "   records_success = v.success, records_failed = v.failed, completed_at = now(),"
        "   duration_seconds = round(extract(epoch FROM clock_timestamp()"
        "                      - COALESCE(x.started_at, now()))::numeric, 2),"
        "   lease_expires_at = NULL"
        "  FROM v WHERE x.id = v.id AND x.status = 'RUNNING'"
        "   AND (COALESCE(v.attempt, 0) = 0 OR x.attempt = v.attempt)"
        "  RETURNING x.id, x.connector_id, x.run_type, x.status, x.details, x.completed_at,"
        "   x.attempt, x.worker_id, x.started_at, x.error_message, x.run_date,"
        "   COALESCE(v.cursor_dirty, false) AS cursor_dirty, v.cursor,"
        "   (x.status = 'FAILED'"
        "    AND COALESCE(x.details->>'outcome', '') = 'cancelled') AS cancelled"
        "), a AS ("
        "  INSERT INTO sp_v2_connector_run_attempts (run_id, attempt, status, error_message,"
        "   worker_id, started_at, completed_at)"
        "  SELECT id, attempt, status, error_message, worker_id, started_at, completed_at FROM r"
        "  ON CONFLICT (run_id, attempt) DO UPDATE SET status = EXCLUDED.status,"
        "   error_message = EXCLUDED.error_message, completed_at = EXCLUDED.completed_at,"
        "   worker_id = EXCLUDED.worker_id, started_at = EXCLUDED.started_at"
        "), sq AS ("
        /* A run of the date waiting to be retried (or handed back) whose
         * attempt started before this success is not run again: it would
         * fetch a day already loaded, and its failing would show the
         * connector FAILED after a newer success. Settled as a cancel. One
         * locked by someone else (a cancel, a delete locking the
         * connector's runs in id order) is theirs: waiting for it could
         * deadlock with them. Its last attempt never started: it has no
         * duration (schema/023). */
        "  SELECT q.id, r.id AS by_id, r.run_date AS by_date FROM sp_v2_connector_runs q"
        "   JOIN r ON q.connector_id = r.connector_id AND q.run_date = r.run_date"
        "  WHERE r.status IN ('SUCCESS', 'PARTIAL_SUCCESS') AND r.run_type <> 'TEST'"
        "   AND q.id <> r.id AND q.status = 'QUEUED' AND q.started_at IS NOT NULL"
        "   AND q.started_at < r.started_at"
        "  FOR UPDATE OF q SKIP LOCKED"
        "), sup AS ("
        "  UPDATE sp_v2_connector_runs q SET status = 'FAILED', completed_at = now(),"
        "   not_before = NULL, duration_seconds = NULL,"
        "   error_message = 'superseded: run ' || sq.by_id || ' loaded ' || sq.by_date"
        "    || ' after this run''s last attempt failed',"
        "   details = COALESCE(q.details, '{}'::jsonb)"
        "    || jsonb_build_object('outcome', 'cancelled', 'superseded_by', sq.by_id,"
        "                          'attempt_error', q.error_message)"
        "  FROM sq WHERE q.id = sq.id AND q.status = 'QUEUED'"
        "  RETURNING q.id"
        ")"
        " UPDATE sp_v2_connectors c SET"
        "  last_run_at = CASE WHEN r.cancelled THEN c.last_run_at ELSE r.completed_at END,"
        "  last_run_status = CASE WHEN r.cancelled THEN c.last_run_status ELSE r.status END,"
        "  last_run_details = CASE WHEN r.cancelled THEN c.last_run_details ELSE r.details END,"
        "  success_count = COALESCE(c.success_count, 0)"
        "                  + (r.status IN ('SUCCESS', 'PARTIAL_SUCCESS'))::int,"
        "  failure_count = COALESCE(c.failure_count, 0)"
        "                  + (r.status = 'FAILED' AND NOT r.cancelled)::int,"
        "  total_runs = COALESCE(c.total_runs, 0) + (NOT r.cancelled)::int,"
        "  status = CASE WHEN r.run_type = 'TEST' OR r.cancelled THEN c.status"
        "                WHEN r.status = 'FAILED' AND c.status = 'ACTIVE' THEN 'FAILED'"
        "                WHEN r.status <> 'FAILED' AND c.status = 'FAILED' THEN 'ACTIVE'"
        "                ELSE c.status END,"
        "  sync_cursor = CASE WHEN r.cursor_dirty AND r.status <> 'FAILED' THEN r.cursor"
        "                ELSE c.sync_cursor END"
        " FROM r WHERE c.id = r.connector_id RETURNING r.id",
        1, p, err);
    free(text);
    if (!res)
        return -1;
    int done = PQntuples(res);
    PQclear(res);
    return done;
}

int cd_runs_finalize(PGconn *conn, int64_t run_id, const cd_run_outcome *o, char **err)
{
    json_t *outcome = cd_run_outcome_json(run_id, o);
    if (!outcome) { /* not "no longer RUNNING": the run would be left to its lease */
        *err = cd_sprintf("finalizing run %lld: its outcome cannot be encoded", (long long)run_id);
        return -1;
    }
    json_t *one = json_array();
    json_array_append_new(one, outcome);
    int done = cd_runs_finalize_many(conn, one, err);
    json_decref(one);
    return done;
}

/* A run whose cancel was asked for while its attempt ended (or while it was
 * handed back) is not queued again: it ends as cancelled, the attempt's own
 * error kept in its details. 1 when it was, 0 when the run is no longer
 * RUNNING at that attempt, -1 with *err. */
static int cancel_instead_of_requeue(PGconn *conn, const char *id, const char *att,
                                     int attempt, const char *attempt_error, json_t *details,
                                     char **err)
{
    const char *p[] = {id, att};
    PGresult *res = cd_db_exec(conn, "reading the run's cancel request", PGRES_TUPLES_OK,
                               "SELECT 'cancelled by ' || COALESCE(cancel_requested_by, 'USER')"
                               " FROM sp_v2_connector_runs WHERE id = $1 AND status = 'RUNNING'"
                               "  AND ($2::int = 0 OR attempt = $2::int)"
                               "  AND cancel_requested_at IS NOT NULL",
                               2, p, err);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return 0;
    }
    json_t *d = details ? json_deep_copy(details) : json_object();
    if (attempt_error)
        json_object_set_new(d, "attempt_error", json_string(attempt_error));
    json_object_set_new(d, "outcome", json_string("cancelled"));
    cd_run_outcome o = {.status = "FAILED", .error_message = PQgetvalue(res, 0, 0),
                        .details = d, .attempt = attempt};
    int rc = cd_runs_finalize(conn, strtoll(id, NULL, 10), &o, err);
    json_decref(d);
    PQclear(res);
    return rc;
}

int cd_runs_requeue(PGconn *conn, int64_t run_id, int attempt, const char *error_message,
                    json_t *details, double delay_s, int consume_attempt, char **err)
{
    char id[32], att[16], delay[32];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    snprintf(att, sizeof att, "%d", attempt);
    snprintf(delay, sizeof delay, "%.3f", delay_s > 0 ? delay_s : 0.0);
    char *d = details ? json_dumps(details, JSON_COMPACT) : NULL;
    const char *p[] = {id, att, error_message, d ? d : "{}", delay, consume_attempt ? "t" : "f"};
    PGresult *res = cd_db_exec(
        conn, "requeueing the run", PGRES_TUPLES_OK,
        "WITH old AS (SELECT id, attempt, worker_id, started_at FROM sp_v2_connector_runs"
        "  WHERE id = $1 AND status = 'RUNNING' AND ($2::int = 0 OR attempt = $2::int)"
        "   AND cancel_requested_at IS NULL"
        "  FOR UPDATE),"
        " a AS (INSERT INTO sp_v2_connector_run_attempts (run_id, attempt, status, error_message,"
        "  worker_id, started_at, completed_at)"
        "  SELECT id, attempt, 'FAILED', $3, worker_id, started_at, now() FROM old"
        "  ON CONFLICT (run_id, attempt) DO UPDATE SET status = EXCLUDED.status,"
        "   error_message = EXCLUDED.error_message, completed_at = EXCLUDED.completed_at,"
        "   worker_id = EXCLUDED.worker_id, started_at = EXCLUDED.started_at),"
        " u AS (UPDATE sp_v2_connector_runs r SET status = 'QUEUED',"
        "  attempt = r.attempt + CASE WHEN $6::bool THEN 1 ELSE 0 END,"
        "  not_before = now() + make_interval(secs => $5::float8), worker_id = NULL,"
        "  runner_pid = NULL, lease_expires_at = NULL, heartbeat_at = NULL,"
        "  error_message = $3, details = $4::jsonb, completed_at = NULL"
        "  FROM old WHERE r.id = old.id RETURNING r.id)"
        " SELECT count(*), pg_notify('connectord_queue', 'retry') FROM u",
        6, p, err);
    free(d);
    if (!res)
        return -1;
    int n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (n == 0)
        return cancel_instead_of_requeue(conn, id, att, attempt, error_message, details, err);
    return n;
}

double cd_retry_delay(int attempt, double base_s, double cap_s, double retry_after_s)
{
    double d = base_s;
    for (int i = 1; i < attempt && d < cap_s; i++)
        d *= 2;
    if (d > cap_s)
        d = cap_s;
    /* Jitter spreads retries of many connectors that failed together:
     * from the kernel's generator, since random() unseeded gives every
     * runner the same "random" factor. */
    d *= 0.75 + 0.5 * ((double)arc4random_uniform(1u << 30) / (double)(1u << 30));
    /* A server's Retry-After is honoured up to the same cap: a year-long
     * one must not park the day's run. */
    if (retry_after_s > d)
        d = retry_after_s < cap_s ? retry_after_s : cap_s;
    return d;
}

int cd_runs_fail_or_retry(PGconn *conn, const cd_config *cfg, int64_t run_id, int attempt,
                          int max_attempts, const char *reason, int retryable,
                          const char *rescued_from, char **err)
{
    json_t *details = json_pack("{s:s, s:i}", "outcome", retryable ? "transient_error"
                                                                    : "runner_failure",
                                "attempt", attempt);
    if (rescued_from)
        json_object_set_new(details, "rescued_from", json_string(rescued_from));
    int rc;
    if (retryable && attempt < max_attempts) {
        double delay = cd_retry_delay(attempt,
                                      (double)cd_config_int(cfg, "retry.base_seconds", 60, NULL),
                                      (double)cd_config_int(cfg, "retry.max_seconds", 3600, NULL),
                                      0);
        rc = cd_runs_requeue(conn, run_id, attempt, reason, details, delay, 1, err);
        if (rc == 1)
            cd_warn("run %lld: attempt %d of %d failed: %s; retrying in %.0f s",
                    (long long)run_id, attempt, max_attempts, reason, delay);
    } else {
        cd_run_outcome o = {.status = "FAILED", .error_message = reason, .details = details,
                            .attempt = attempt};
        rc = cd_runs_finalize(conn, run_id, &o, err);
        if (rc == 1)
            cd_warn("run %lld: FAILED: %s", (long long)run_id, reason);
    }
    json_decref(details);
    return rc;
}

int cd_runs_cancelled(PGconn *conn, int64_t run_id, int attempt, const char *reason,
                      const char *rescued_from, char **err)
{
    json_t *details = json_pack("{s:s, s:i}", "outcome", "cancelled", "attempt", attempt);
    if (rescued_from)
        json_object_set_new(details, "rescued_from", json_string(rescued_from));
    cd_run_outcome o = {.status = "FAILED", .error_message = reason, .details = details,
                        .attempt = attempt};
    int rc = cd_runs_finalize(conn, run_id, &o, err);
    if (rc == 1)
        cd_info("run %lld: FAILED: %s", (long long)run_id, reason);
    json_decref(details);
    return rc;
}

json_t *cd_runs_json(PGconn *conn, int64_t run_id, char **err)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    const char *p[] = {id};
    /* Ids as strings and timestamps in ISO 8601 with zone, as the
     * documented API examples show them. */
    PGresult *res = cd_db_exec(
        conn, "reading the run", PGRES_TUPLES_OK,
        "SELECT json_build_object('id', r.id::text, 'connector_id', r.connector_id::text,"
        " 'run_type', r.run_type, 'run_date', r.run_date, 'status', r.status,"
        " 'records_processed', r.records_processed, 'records_success', r.records_success,"
        " 'records_failed', r.records_failed, 'duration_seconds', r.duration_seconds::text,"
        " 'error_message', r.error_message, 'details', r.details,"
        " 'started_at', to_char(r.started_at AT TIME ZONE 'UTC',"
        "                       'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " 'completed_at', to_char(r.completed_at AT TIME ZONE 'UTC',"
        "                         'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " 'triggered_by', r.triggered_by, 'attempt', r.attempt)::text"
        " FROM sp_v2_connector_runs r WHERE r.id = $1",
        1, p, err);
    if (!res)
        return NULL;
    if (PQntuples(res) != 1) {
        *err = cd_sprintf("run %lld does not exist", (long long)run_id);
        PQclear(res);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    PQclear(res);
    if (!j)
        *err = cd_sprintf("reading the run: bad JSON from the database: %s", jerr.text);
    return j;
}
