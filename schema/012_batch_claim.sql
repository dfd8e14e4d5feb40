-- 012_batch_claim.sql — a worker claims every run it has room for in one
-- round trip, with each run's connector, instead of one claim and one read
-- per run.
--
-- With 10,000 runs due at once, the claim, the read of the run and its
-- connector, and their parse and plan were a third of the database's work
-- per run. Each claim is connectord_claim_run (009), repeated in this
-- transaction: a later claim sees the runs the earlier ones took, so two
-- runs of one connector are never taken together. A second run of a connector claimed by another
-- worker at the same instant fails the one-RUNNING index (23505), as with
-- connectord_claim_run; the caller claims again on its next round.
CREATE OR REPLACE FUNCTION connectord_claim_runs(worker_id text, lease_seconds integer,
                                                 max_runs integer)
RETURNS TABLE (id bigint, attempt integer, max_attempts integer, timeout_seconds integer,
               connector_id bigint, run_type text, status text, run_date text,
               connector_name text, connector_type text, connector_status text,
               source_entity text, driver text, timezone text, connection_config text,
               sync_cursor text)
LANGUAGE plpgsql VOLATILE
-- Right after a big enqueue the statistics still say the table is tiny; the
-- read of the claimed runs must stay a primary-key lookup all the same.
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
    claimed bigint[] := '{}';
    one bigint;
BEGIN
    FOR i IN 1 .. max_runs LOOP
        SELECT c.id INTO one
          FROM connectord_claim_run(connectord_claim_runs.worker_id,
                                    connectord_claim_runs.lease_seconds) AS c;
        EXIT WHEN one IS NULL;
        claimed := claimed || one;
        one := NULL;
    END LOOP;
    IF cardinality(claimed) = 0 THEN
        RETURN;
    END IF;
    -- The order of the claims: manual and test runs first, then oldest.
    RETURN QUERY
    SELECT r.id, r.attempt, r.max_attempts, COALESCE(r.timeout_seconds, 0),
           r.connector_id, r.run_type::text, r.status::text, r.run_date::text,
           c.name::text, c.connector_type::text, c.status::text, c.source_entity::text,
           COALESCE(NULLIF(c.driver, ''), lower(c.connector_type))::text,
           COALESCE(NULLIF(c.schedule_timezone, ''), 'Asia/Kolkata')::text,
           c.connection_config::text, c.sync_cursor::text
      FROM unnest(claimed) WITH ORDINALITY AS u(run_id, n)
      JOIN sp_v2_connector_runs r ON r.id = u.run_id
      JOIN sp_v2_connectors c ON c.id = r.connector_id
     ORDER BY u.n;
END
$$;

-- Every version of a run row is written into every full index of the
-- table, and a run has at least three (queued, claimed, finished): two
-- indexes nothing reads any more are dropped. The history index of 006
-- (connector_id, started_at DESC, id DESC) serves everything that
-- (connector_id, started_at DESC) served, and the claims walk
-- idx_connector_runs_claim (009) instead of idx_connector_runs_queue.
DROP INDEX IF EXISTS idx_connector_runs_connector_started;
DROP INDEX IF EXISTS idx_connector_runs_queue;
