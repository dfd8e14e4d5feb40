-- 002_worker.sql — what the worker needs on top of the documented schema:
-- a queue (QUEUED runs, attempts, backoff), leases for rescuing runs of dead
-- hosts, exactly-once scheduling (slot key), cancellation, per-attempt
-- history, and the driver a connector names. Columns are only added, and
-- checks only widened, so platform code reading these tables keeps working.

-- NULL driver means the built-in driver of the category; existing rows are
-- filled so that every row states its driver explicitly.
ALTER TABLE sp_v2_connectors ADD COLUMN IF NOT EXISTS driver VARCHAR(100);
UPDATE sp_v2_connectors SET driver = lower(connector_type) WHERE driver IS NULL;

-- sync_cursor: incremental-pull position, committed with a run's records.
-- resumed_at/paused_at: catch-up never enqueues slots from before a resume.
ALTER TABLE sp_v2_connectors ADD COLUMN IF NOT EXISTS sync_cursor TEXT;
ALTER TABLE sp_v2_connectors ADD COLUMN IF NOT EXISTS resumed_at TIMESTAMPTZ;
ALTER TABLE sp_v2_connectors ADD COLUMN IF NOT EXISTS paused_at TIMESTAMPTZ;

-- A run now waits in QUEUED before a worker claims it. The connector's
-- last_run_status check stays as documented: it describes the last run that
-- started, which is never QUEUED.
ALTER TABLE sp_v2_connector_runs DROP CONSTRAINT IF EXISTS sp_v2_connector_runs_status_check;
ALTER TABLE sp_v2_connector_runs ADD CONSTRAINT sp_v2_connector_runs_status_check
    CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCESS', 'PARTIAL_SUCCESS', 'FAILED'));

ALTER TABLE sp_v2_connector_runs
    ADD COLUMN IF NOT EXISTS attempt INTEGER NOT NULL DEFAULT 1,
    ADD COLUMN IF NOT EXISTS max_attempts INTEGER NOT NULL DEFAULT 1,
    ADD COLUMN IF NOT EXISTS queued_at TIMESTAMPTZ DEFAULT now(),
    -- earliest start: retry backoff
    ADD COLUMN IF NOT EXISTS not_before TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS worker_id TEXT,
    ADD COLUMN IF NOT EXISTS runner_pid INTEGER,
    ADD COLUMN IF NOT EXISTS lease_expires_at TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS heartbeat_at TIMESTAMPTZ,
    -- the schedule slot in UTC; NULL for manual, test and backfill runs
    ADD COLUMN IF NOT EXISTS slot_time TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS backfill_id UUID,
    ADD COLUMN IF NOT EXISTS cancel_requested_at TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS cancel_requested_by VARCHAR(100),
    ADD COLUMN IF NOT EXISTS timeout_seconds INTEGER;

-- The old service could leave several RUNNING runs of one connector behind
-- (a crash mid-run); only the newest may stay RUNNING, or the "no overlap"
-- index below could not be built.
UPDATE sp_v2_connector_runs r
   SET status = 'FAILED',
       error_message = 'left RUNNING by a previous service; superseded at migration',
       completed_at = now()
  FROM (SELECT id,
               row_number() OVER (PARTITION BY connector_id
                                  ORDER BY started_at DESC NULLS LAST, id DESC) AS newest_first
          FROM sp_v2_connector_runs
         WHERE status = 'RUNNING') ranked
 WHERE r.id = ranked.id
   AND ranked.newest_first > 1;

-- No overlap: at most one RUNNING run per connector.
CREATE UNIQUE INDEX IF NOT EXISTS uq_connector_runs_one_running
    ON sp_v2_connector_runs (connector_id) WHERE status = 'RUNNING';

-- Exactly-once scheduling across hosts: a second host's enqueue of the same
-- slot is a no-op.
CREATE UNIQUE INDEX IF NOT EXISTS uq_connector_runs_slot
    ON sp_v2_connector_runs (connector_id, slot_time) WHERE slot_time IS NOT NULL;

-- The dispatcher's claim query: oldest eligible QUEUED run first.
CREATE INDEX IF NOT EXISTS idx_connector_runs_queue
    ON sp_v2_connector_runs (status, not_before, id) WHERE status = 'QUEUED';

-- Run history of one connector, newest first (API and ops page).
CREATE INDEX IF NOT EXISTS idx_connector_runs_connector_started
    ON sp_v2_connector_runs (connector_id, started_at DESC);

-- One row per attempt, so every retry's error stays visible.
CREATE TABLE IF NOT EXISTS sp_v2_connector_run_attempts (
    id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES sp_v2_connector_runs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    status VARCHAR(20) NOT NULL,
    error_message TEXT,
    worker_id TEXT,
    started_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    UNIQUE (run_id, attempt)
);
