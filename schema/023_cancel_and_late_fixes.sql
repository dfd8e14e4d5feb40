-- 023_cancel_and_late_fixes.sql — a cancelled date is no failed date, a run that
-- never started has no duration, and a late day missed by every worker is still alerted.
--
-- 1. A backfill's progress counted its cancelled dates (FAILED with
--    details.outcome 'cancelled') as failed: a cancelled backfill of five
--    dates read "5 failed". connectord_backfill_progress() is the progress
--    the API, connectorctl and the ops page show, readable from psql too:
--    queued + running + succeeded + failed + cancelled = total.

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
