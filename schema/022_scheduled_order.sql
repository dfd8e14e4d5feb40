-- 022_scheduled_order.sql — a connector's scheduled dates run oldest first,
-- retries included.
--
-- Catch-up queues the missed dates oldest first, but a date whose attempt
-- failed goes back to the queue with a not_before, and the claim took the
-- next date meanwhile: it ran (and could move the connector's cursor or
-- file ledger) before the earlier one. 013 fixed this for backfills; a
-- scheduled run is now claimable only when no earlier date of the same
-- connector's scheduled runs is still queued. Dates of one business day
-- (an hourly schedule) do not wait for each other. The claim is otherwise
-- connectord_claim_run of 013, unchanged; idx_connector_runs_active (006)
-- finds a connector's queued runs.
CREATE OR REPLACE FUNCTION connectord_claim_run(worker_id text, lease_seconds integer)
RETURNS TABLE (id bigint, attempt integer, max_attempts integer, timeout_seconds integer)
LANGUAGE plpgsql VOLATILE
SET enable_sort = off
SET enable_bitmapscan = off
SET enable_seqscan = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH c AS (
        SELECT r.id FROM sp_v2_connector_runs r
         WHERE r.status = 'QUEUED' AND (r.not_before IS NULL OR r.not_before <= now())
           AND (r.run_type = 'TEST'
                OR (SELECT k.status FROM sp_v2_connectors k WHERE k.id = r.connector_id)
                   <> 'PAUSED')
           AND (SELECT true FROM sp_v2_connector_runs x
                 WHERE x.connector_id = r.connector_id AND x.status = 'RUNNING') IS NULL
           AND (r.backfill_id IS NULL
                OR (SELECT true FROM sp_v2_connector_runs y
                     WHERE y.backfill_id = r.backfill_id AND y.status = 'QUEUED'
                       AND y.run_date < r.run_date
                     LIMIT 1) IS NULL)
           AND (r.run_type <> 'SCHEDULED'
                OR (SELECT true FROM sp_v2_connector_runs s
                     WHERE s.connector_id = r.connector_id AND s.status = 'QUEUED'
                       AND s.run_type = 'SCHEDULED' AND s.run_date < r.run_date
                     LIMIT 1) IS NULL)
         ORDER BY (r.run_type IN ('TEST', 'MANUAL')) DESC, r.id
         LIMIT 1
           FOR UPDATE OF r SKIP LOCKED)
    UPDATE sp_v2_connector_runs r
       SET status = 'RUNNING', started_at = now(), completed_at = NULL,
           worker_id = connectord_claim_run.worker_id, heartbeat_at = now(),
           lease_expires_at = now() + make_interval(secs => connectord_claim_run.lease_seconds)
      FROM c
     WHERE r.id = c.id
    RETURNING r.id, r.attempt, r.max_attempts, COALESCE(r.timeout_seconds, 0);
END
$$;
