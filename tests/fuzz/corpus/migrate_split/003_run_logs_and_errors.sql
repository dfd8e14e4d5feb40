-- 003_run_logs_and_errors.sql — a run's own log lines and the records it
-- rejected, kept apart from the run row so that a chatty driver cannot bloat
-- the runs table. Both hang off the run (ON DELETE CASCADE) so pruning old
-- runs prunes them too.

-- clock_timestamp(), not now(): lines written in one transaction must keep
-- their real order and spacing.
CREATE TABLE IF NOT EXISTS sp_v2_connector_run_logs (
    id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES sp_v2_connector_runs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL DEFAULT 1,
    logged_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    level SMALLINT NOT NULL,
    message TEXT NOT NULL
);

-- A run's log in order.
CREATE INDEX IF NOT EXISTS idx_connector_run_logs_run
    ON sp_v2_connector_run_logs (run_id, id);
-- Retention deletes by age.
CREATE INDEX IF NOT EXISTS idx_connector_run_logs_logged_at
    ON sp_v2_connector_run_logs (logged_at);

CREATE TABLE IF NOT EXISTS sp_v2_connector_record_errors (
    id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES sp_v2_connector_runs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL DEFAULT 1,
    row_ref TEXT,
    field TEXT,
    reason TEXT NOT NULL,
    raw TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX IF NOT EXISTS idx_connector_record_errors_run
    ON sp_v2_connector_record_errors (run_id, id);
CREATE INDEX IF NOT EXISTS idx_connector_record_errors_created_at
    ON sp_v2_connector_record_errors (created_at);
