-- 023_cancel_and_late_fixes.sql — a cancelled date is no failed date, a run that
-- never started has no duration, and a late day missed by every worker is still alerted.
--
-- 1. A backfill's progress counted its cancelled dates (FAILED with
--    details.outcome 'cancelled') as failed: a cancelled backfill of five
--    dates read "5 failed". connectord_backfill_progress() is the progress
--    the API, connectorctl and the ops page show, readable from psql too:
--    queued + running + succeeded + failed + cancelled = total.
--
-- 2. A queued run that was cancelled (or settled as superseded) before its
--    attempt started was stored with duration_seconds 0, and /metrics put it
--    into connectord_run_duration_seconds as a 0 s run, pulling every
--    percentile down. A run settled straight from QUEUED, or with no
--    started_at at all, now has no duration (NULL), whichever path settles
--    it; the runs stored so far are corrected once (the histogram's count
--    drops by the runs that never ran: they were never durations).
--
-- 3. A late-data alert was raised only by a tick between the connector's
--    expected_by and midnight: with no worker ticking then (all down, a
--    restart at 23:59), the day's missing data was never alerted. The
--    workers now also check yesterday, but only for connectors whose
--    expected_by was already set at yesterday's deadline:
--    connectord_expected_by_set records when it was last set or changed
--    (NULL before this migration: taken as long ago).

CREATE OR REPLACE FUNCTION connectord_backfill_progress(cid bigint, bid uuid)
RETURNS json LANGUAGE sql STABLE AS $$
    WITH r AS (
        SELECT id, run_date, status, attempt, error_message, records_success,
               status = 'FAILED' AND COALESCE(details->>'outcome', '') = 'cancelled' AS cancelled
          FROM sp_v2_connector_runs
         WHERE connector_id = cid AND backfill_id = bid
    )
    SELECT json_build_object('backfill_id', bid::text, 'connector_id', cid::text,
        'total', count(*),
        'queued', count(*) FILTER (WHERE status = 'QUEUED'),
        'running', count(*) FILTER (WHERE status = 'RUNNING'),
        'succeeded', count(*) FILTER (WHERE status IN ('SUCCESS', 'PARTIAL_SUCCESS')),
        'failed', count(*) FILTER (WHERE status = 'FAILED' AND NOT cancelled),
        'cancelled', count(*) FILTER (WHERE cancelled),
        'dates', COALESCE(json_agg(json_build_object('run_date', run_date, 'run_id', id::text,
            'status', status, 'cancelled', cancelled, 'attempt', attempt,
            'error_message', error_message, 'records_success', records_success)
            ORDER BY run_date, id), '[]'))
      FROM r
    HAVING count(*) > 0
$$;

CREATE OR REPLACE FUNCTION connectord_no_duration_unstarted()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.duration_seconds := NULL;
    RETURN NEW;
END
$$;

-- Only the rows in question fire it (the WHEN is checked before the
-- function is called): heartbeats and claims pass straight through.
DROP TRIGGER IF EXISTS trg_runs_no_duration_unstarted ON sp_v2_connector_runs;
CREATE TRIGGER trg_runs_no_duration_unstarted
    BEFORE UPDATE ON sp_v2_connector_runs
    FOR EACH ROW
    WHEN (NEW.duration_seconds IS NOT NULL
          AND (NEW.started_at IS NULL
               OR (OLD.status = 'QUEUED' AND NEW.status <> 'RUNNING')))
    EXECUTE FUNCTION connectord_no_duration_unstarted();

DROP TRIGGER IF EXISTS trg_runs_no_duration_unstarted_ins ON sp_v2_connector_runs;
CREATE TRIGGER trg_runs_no_duration_unstarted_ins
    BEFORE INSERT ON sp_v2_connector_runs
    FOR EACH ROW
    WHEN (NEW.duration_seconds IS NOT NULL AND NEW.started_at IS NULL)
    EXECUTE FUNCTION connectord_no_duration_unstarted();

-- The runs stored so far: cancelled from the queue (never started, or a
-- retry or a superseded run whose last attempt never started) carry 0.
UPDATE sp_v2_connector_runs SET duration_seconds = NULL
 WHERE duration_seconds = 0 AND status = 'FAILED'
   AND COALESCE(details->>'outcome', '') = 'cancelled'
   AND (started_at IS NULL OR error_message LIKE 'superseded: %'
        OR cancel_requested_at IS NOT DISTINCT FROM completed_at);
UPDATE sp_v2_connector_runs SET duration_seconds = NULL
 WHERE duration_seconds IS NOT NULL AND started_at IS NULL;

CREATE TABLE IF NOT EXISTS connectord_expected_by_set (
    connector_id BIGINT PRIMARY KEY REFERENCES sp_v2_connectors (id) ON DELETE CASCADE,
    set_at TIMESTAMPTZ NOT NULL
);

CREATE OR REPLACE FUNCTION connectord_expected_by_stamp()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO connectord_expected_by_set (connector_id, set_at) VALUES (NEW.id, now())
        ON CONFLICT (connector_id) DO UPDATE SET set_at = EXCLUDED.set_at;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS trg_connectors_expected_by_ins ON sp_v2_connectors;
CREATE TRIGGER trg_connectors_expected_by_ins
    AFTER INSERT ON sp_v2_connectors
    FOR EACH ROW WHEN (NEW.expected_by IS NOT NULL)
    EXECUTE FUNCTION connectord_expected_by_stamp();

DROP TRIGGER IF EXISTS trg_connectors_expected_by_upd ON sp_v2_connectors;
CREATE TRIGGER trg_connectors_expected_by_upd
    AFTER UPDATE OF expected_by ON sp_v2_connectors
    FOR EACH ROW WHEN (NEW.expected_by IS NOT NULL AND OLD.expected_by IS DISTINCT FROM NEW.expected_by)
    EXECUTE FUNCTION connectord_expected_by_stamp();
