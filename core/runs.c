/* runs.c — see runs.h. */
#include "runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "util.h"

static char *field_or_null(const PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? NULL : cd_xstrdup(PQgetvalue(res, 0, col));
}

int cd_runs_load(PGconn *conn, int64_t run_id, cd_run_row *row, char **err)
{
    memset(row, 0, sizeof *row);
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    const char *p[] = {id};
    PGresult *res = cd_db_exec(
        conn, "reading the run", PGRES_TUPLES_OK,
        "SELECT r.id, r.connector_id, r.run_type, r.status, r.run_date::text, r.attempt,"
        " r.max_attempts, COALESCE(r.timeout_seconds, 0), c.name, c.connector_type, c.status,"
        " c.source_entity, COALESCE(NULLIF(c.driver, ''), lower(c.connector_type)),"
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
    row->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    row->connector_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    row->run_type = field_or_null(res, 2);
    row->status = field_or_null(res, 3);
    row->run_date = field_or_null(res, 4);
    row->attempt = atoi(PQgetvalue(res, 0, 5));
    row->max_attempts = atoi(PQgetvalue(res, 0, 6));
    row->timeout_seconds = atoi(PQgetvalue(res, 0, 7));
    row->connector_name = field_or_null(res, 8);
    row->connector_type = field_or_null(res, 9);
    row->connector_status = field_or_null(res, 10);
    row->source_entity = field_or_null(res, 11);
    row->driver = field_or_null(res, 12);
    row->timezone = field_or_null(res, 13);
    row->config_json = field_or_null(res, 14);
    row->sync_cursor = field_or_null(res, 15);
    PQclear(res);
    return 0;
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

int cd_runs_finalize(PGconn *conn, int64_t run_id, const cd_run_outcome *o, char **err)
{
    char id[32], processed[32], success[32], failed[32];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    snprintf(processed, sizeof processed, "%lld", (long long)o->processed);
    snprintf(success, sizeof success, "%lld", (long long)o->success);
    snprintf(failed, sizeof failed, "%lld", (long long)o->failed);
    char *details = json_dumps(o->details ? o->details : json_object(), JSON_COMPACT);
    char attempt[16];
    snprintf(attempt, sizeof attempt, "%d", o->attempt);
    const char *p[] = {id,     o->status, o->error_message, details, processed, success,
                       failed, o->cursor_dirty ? "t" : "f", o->cursor, attempt};
    PGresult *res = cd_db_exec(
        conn, "finalizing the run", PGRES_TUPLES_OK,
        "WITH r AS ("
        "  UPDATE sp_v2_connector_runs SET status = $2, error_message = $3, details = $4::jsonb,"
        "   records_processed = $5, records_success = $6, records_failed = $7,"
        "   completed_at = now(),"
        "   duration_seconds = round(extract(epoch FROM clock_timestamp()"
        "                      - COALESCE(started_at, now()))::numeric, 2),"
        "   lease_expires_at = NULL"
        "  WHERE id = $1 AND status = 'RUNNING' AND ($10::int = 0 OR attempt = $10::int)"
        "  RETURNING id, connector_id, run_type, status, details, completed_at, attempt,"
        "   worker_id, started_at, error_message"
        "), a AS ("
        "  INSERT INTO sp_v2_connector_run_attempts (run_id, attempt, status, error_message,"
        "   worker_id, started_at, completed_at)"
        "  SELECT id, attempt, status, error_message, worker_id, started_at, completed_at FROM r"
        "  ON CONFLICT (run_id, attempt) DO UPDATE SET status = EXCLUDED.status,"
        "   error_message = EXCLUDED.error_message, completed_at = EXCLUDED.completed_at"
        ")"
        " UPDATE sp_v2_connectors c SET last_run_at = r.completed_at, last_run_status = r.status,"
        "  last_run_details = r.details,"
        "  success_count = COALESCE(c.success_count, 0)"
        "                  + (r.status IN ('SUCCESS', 'PARTIAL_SUCCESS'))::int,"
        "  failure_count = COALESCE(c.failure_count, 0) + (r.status = 'FAILED')::int,"
        "  total_runs = COALESCE(c.total_runs, 0) + 1,"
        "  status = CASE WHEN r.run_type = 'TEST' THEN c.status"
        "                WHEN r.status = 'FAILED' AND c.status = 'ACTIVE' THEN 'FAILED'"
        "                WHEN r.status <> 'FAILED' AND c.status = 'FAILED' THEN 'ACTIVE'"
        "                ELSE c.status END,"
        "  sync_cursor = CASE WHEN $8::bool AND r.status <> 'FAILED' THEN $9 ELSE c.sync_cursor END"
        " FROM r WHERE c.id = r.connector_id RETURNING r.id",
        10, p, err);
    free(details);
    if (!res)
        return -1;
    int done = PQntuples(res) == 1;
    PQclear(res);
    return done;
}

int cd_runs_requeue(PGconn *conn, int64_t run_id, int attempt, const char *error_message,
                    json_t *details, double delay_s, int consume_attempt, char **err)
{
    char id[32], att[16], delay[32];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    snprintf(att, sizeof att, "%d", attempt);
    snprintf(delay, sizeof delay, "%.3f", delay_s > 0 ? delay_s : 0.0);
    char *d = json_dumps(details ? details : json_object(), JSON_COMPACT);
    const char *p[] = {id, att, error_message, d, delay, consume_attempt ? "t" : "f"};
    PGresult *res = cd_db_exec(
        conn, "requeueing the run", PGRES_TUPLES_OK,
        "WITH old AS (SELECT id, attempt, worker_id, started_at FROM sp_v2_connector_runs"
        "  WHERE id = $1 AND status = 'RUNNING' AND ($2::int = 0 OR attempt = $2::int)"
        "  FOR UPDATE),"
        " a AS (INSERT INTO sp_v2_connector_run_attempts (run_id, attempt, status, error_message,"
        "  worker_id, started_at, completed_at)"
        "  SELECT id, attempt, 'FAILED', $3, worker_id, started_at, now() FROM old"
        "  ON CONFLICT (run_id, attempt) DO UPDATE SET status = EXCLUDED.status,"
        "   error_message = EXCLUDED.error_message, completed_at = EXCLUDED.completed_at),"
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
    return n;
}

double cd_retry_delay(int attempt, double base_s, double cap_s, double retry_after_s)
{
    double d = base_s;
    for (int i = 1; i < attempt && d < cap_s; i++)
        d *= 2;
    if (d > cap_s)
        d = cap_s;
    /* Jitter spreads retries of many connectors that failed together. */
    d *= 0.75 + 0.5 * ((double)random() / (double)RAND_MAX);
    if (retry_after_s > d)
        d = retry_after_s;
    return d;
}

int cd_runs_fail_or_retry(PGconn *conn, const cd_config *cfg, int64_t run_id, int attempt,
                          int max_attempts, const char *reason, int retryable, char **err)
{
    json_t *details = json_pack("{s:s, s:i}", "outcome", retryable ? "transient_error"
                                                                    : "runner_failure",
                                "attempt", attempt);
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
