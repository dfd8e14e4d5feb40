/*
 * runs.h — the run rows: creating a run, reading it with its connector,
 * finalizing it together with the connector's counters, and printing it.
 */
#ifndef CD_RUNS_H
#define CD_RUNS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

struct cd_config;

typedef struct cd_run_row {
    int64_t id;
    int64_t connector_id;
    char *run_type;        /* SCHEDULED | MANUAL | TEST | BACKFILL */
    char *status;
    char *run_date;        /* YYYY-MM-DD */
    int attempt;
    int max_attempts;
    int timeout_seconds;   /* 0: the configured default */
    char *connector_name;
    char *connector_type;
    char *connector_status;
    char *source_entity;
    char *driver;          /* driver column, or lower(connector_type) */
    char *timezone;
    char *config_json;     /* connection_config as stored (references unresolved) */
    char *sync_cursor;     /* NULL when none */
} cd_run_row;

int cd_runs_load(PGconn *conn, int64_t run_id, cd_run_row *row, char **err);
void cd_run_row_free(cd_run_row *row);

/* Claims up to max_runs QUEUED runs for worker_id in one round trip
 * (connectord_claim_runs): each becomes RUNNING with a lease of
 * lease_seconds. Returns how many, with *rows (each freed with
 * cd_run_row_free, then the array with free), 0 when there was nothing to
 * claim or another worker raced us for a connector, -1 with *err. */
int cd_runs_claim(PGconn *conn, const char *worker_id, int lease_seconds, int max_runs,
                  cd_run_row **rows, char **err);

/* Inserts a RUNNING run of connector_id for a foreground `connectord run`.
 * run_date NULL: T minus sync_days_back in the connector's zone. Refuses a
 * missing connector, a paused one (except for TEST), and a connector that
 * already has a RUNNING run. Its lease covers the whole timeout, so that a
 * killed foreground process is rescued by the workers. Returns the id, or -1
 * with *err. */
int64_t cd_runs_create_running(PGconn *conn, int64_t connector_id, const char *run_type,
                               const char *run_date, const char *triggered_by,
                               int timeout_seconds, const char *worker_id, char **err);

typedef struct cd_run_outcome {
    const char *status;        /* SUCCESS | PARTIAL_SUCCESS | FAILED */
    const char *error_message; /* NULL when none */
    json_t *details;           /* borrowed; NULL → {} */
    int64_t processed, success, failed;
    int cursor_dirty;
    const char *cursor;
    int attempt;               /* finalize only this attempt; 0: whichever */
} cd_run_outcome;

/* Finalizes a RUNNING run and updates its connector (last_run_*, counters,
 * FAILED/ACTIVE status for non-test runs, cursor on success), in one
 * statement on conn (inside the caller's transaction, if any). Returns 1
 * if the run was finalized, 0 if it was no longer RUNNING, -1 with *err. */
int cd_runs_finalize(PGconn *conn, int64_t run_id, const cd_run_outcome *o, char **err);

/* An outcome as an element of cd_runs_finalize_many's array (a new
 * reference; details is copied by reference). */
json_t *cd_run_outcome_json(int64_t run_id, const cd_run_outcome *o);

/* cd_runs_finalize for several runs of different connectors in one
 * statement; outcomes is an array of cd_run_outcome_json objects. Returns
 * how many runs were finalized (the others were no longer RUNNING at that
 * attempt), or -1 with *err (then none was). */
int cd_runs_finalize_many(PGconn *conn, json_t *outcomes, char **err);

/* Puts a RUNNING run back on the queue after a failed attempt: the
 * attempt's error goes to the attempts history, the run becomes QUEUED
 * again with not_before = now + delay_s. consume_attempt 0 hands the run
 * back without counting the attempt (worker shutdown). attempt as in
 * cd_run_outcome. Returns 1 if requeued, 0 if not RUNNING, -1 with *err. */
int cd_runs_requeue(PGconn *conn, int64_t run_id, int attempt, const char *error_message,
                    json_t *details, double delay_s, int consume_attempt, char **err);

/* The retry delay of attempt n (1-based) that failed: base * 2^(n-1),
 * capped, with +-25% jitter, and at least retry_after_s when the source
 * asked for it (Retry-After). */
double cd_retry_delay(int attempt, double base_s, double cap_s, double retry_after_s);

/* What a worker does with a run whose runner ended abnormally (crash,
 * timeout, lost worker): retry it (when retryable and attempts remain,
 * after cd_retry_delay with retry.base_seconds / retry.max_seconds) or
 * finalize it FAILED with reason. rescued_from: the lost worker whose run
 * this is (kept in details, so that worker, should it wake, stops its
 * runner), or NULL. Returns 1 if the run was changed, 0 if it was no longer
 * RUNNING at that attempt, -1 with *err. */
int cd_runs_fail_or_retry(PGconn *conn, const struct cd_config *cfg, int64_t run_id, int attempt,
                          int max_attempts, const char *reason, int retryable,
                          const char *rescued_from, char **err);

/* A cancel that the runner could not settle itself (it was killed after
 * the grace, or its worker was lost): FAILED with reason ("cancelled by
 * WHO") and details.outcome "cancelled", which raises no alert, as a
 * cancel the runner settled does not. rescued_from as above. Returns as
 * cd_runs_fail_or_retry. */
int cd_runs_cancelled(PGconn *conn, int64_t run_id, int attempt, const char *reason,
                      const char *rescued_from, char **err);

/* The run as a JSON object (ids as strings, ISO 8601 timestamps). */
json_t *cd_runs_json(PGconn *conn, int64_t run_id, char **err);

#endif
