-- 017_metric_totals.sql — the counters of GET /metrics never go down.
--
-- /metrics counts run durations, lease rescues and alert delivery attempts
-- from their rows, so that every worker reports the same figures and a
-- restart resets nothing. Some rows do go away: deleting a connector takes
-- its runs and their attempts with it, and old alerts are pruned with
-- their deliveries and attempts. Prometheus reads a counter that drops as
-- a restart, and rate() over it jumps. So when such rows go, what they
-- added to a counter is kept here, and /metrics adds it back. Nothing is
-- written on the path of a run, only when rows are deleted.
CREATE TABLE IF NOT EXISTS sp_v2_metric_retired (
    -- run_duration: label1 connector type, label2 whole seconds rounded
    --   up (every histogram bound is a whole second), value runs;
    -- run_duration_sum: label1 connector type, value seconds;
    -- lease_rescues: value attempts ended "worker lost";
    -- records_loaded, records_failed, run_retries: label1 connector id,
    --   value what runs deleted by hand had counted;
    -- notification_attempts: label1 channel, label2 outcome (sent, error)
    metric TEXT NOT NULL,
    label1 TEXT NOT NULL DEFAULT '',
    label2 TEXT NOT NULL DEFAULT '',
    value NUMERIC NOT NULL,
    PRIMARY KEY (metric, label1, label2)
);

-- Adds (sign 1) or takes away (sign -1) what the finished runs of one
-- connector count in the duration histogram of connector type ctype.
CREATE OR REPLACE FUNCTION connectord_retire_run_durations(cid bigint, ctype text, sign int)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO sp_v2_metric_retired AS m (metric, label1, label2, value)
    SELECT 'run_duration', ctype, ceil(duration_seconds)::bigint::text, sign * count(*)
      FROM sp_v2_connector_runs
     WHERE connector_id = cid AND status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED')
       AND duration_seconds IS NOT NULL
     GROUP BY ceil(duration_seconds)
    UNION ALL
    SELECT 'run_duration_sum', ctype, '', sign * sum(duration_seconds)
      FROM sp_v2_connector_runs
     WHERE connector_id = cid AND status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED')
       AND duration_seconds IS NOT NULL
    HAVING count(*) > 0
    -- one order of keys for every writer, so two deletes never deadlock here
    ORDER BY 1, 2, 3
    ON CONFLICT (metric, label1, label2) DO UPDATE SET value = m.value + EXCLUDED.value;
$$;

-- A connector about to be deleted: its runs' durations, before the cascade
-- takes them (once the connector is gone, nothing tells their type). Its
-- own series end with it, and so does what was kept for them.
CREATE OR REPLACE FUNCTION connectord_retire_connector()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM connectord_retire_run_durations(OLD.id, OLD.connector_type, 1);
    DELETE FROM sp_v2_metric_retired
     WHERE metric IN ('records_loaded', 'records_failed', 'run_retries') AND label1 = OLD.id::text;
    RETURN OLD;
END;
$$;

DROP TRIGGER IF EXISTS trg_connectors_retire_metrics ON sp_v2_connectors;
CREATE TRIGGER trg_connectors_retire_metrics
    BEFORE DELETE ON sp_v2_connectors
    FOR EACH ROW EXECUTE FUNCTION connectord_retire_connector();

-- The histogram is by connector type: a connector whose type changes
-- leaves its past runs counted under the old type and starts the new
-- type's count from where it was, so neither series moves.
CREATE OR REPLACE FUNCTION connectord_retype_connector()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM connectord_retire_run_durations(OLD.id, OLD.connector_type, 1);
    PERFORM connectord_retire_run_durations(OLD.id, NEW.connector_type, -1);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS trg_connectors_retype_metrics ON sp_v2_connectors;
CREATE TRIGGER trg_connectors_retype_metrics
    AFTER UPDATE OF connector_type ON sp_v2_connectors
    FOR EACH ROW WHEN (OLD.connector_type IS DISTINCT FROM NEW.connector_type)
    EXECUTE FUNCTION connectord_retype_connector();

-- Runs deleted by hand while their connector stays: their durations, and
-- what they add to the connector's records and retries counters. Runs
-- deleted with their connector find no connector here: their durations
-- were kept by the trigger above, and the connector's own series end.
CREATE OR REPLACE FUNCTION connectord_retire_runs()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH g AS (
        SELECT c.connector_type AS type, c.id::text AS cid, o.*,
               o.status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED') AND o.duration_seconds IS NOT NULL AS timed
          FROM gone o JOIN sp_v2_connectors c ON c.id = o.connector_id)
    INSERT INTO sp_v2_metric_retired AS m (metric, label1, label2, value)
    SELECT * FROM (
        SELECT 'run_duration', type, ceil(duration_seconds)::bigint::text, count(*)::numeric
          FROM g WHERE timed GROUP BY 2, 3
        UNION ALL
        SELECT 'run_duration_sum', type, '', sum(duration_seconds) FROM g WHERE timed GROUP BY 2
        UNION ALL
        SELECT 'records_loaded', cid, '', sum(records_success) FROM g
         WHERE run_type <> 'TEST' AND status IN ('SUCCESS', 'PARTIAL_SUCCESS') GROUP BY 2
        UNION ALL
        SELECT 'records_failed', cid, '', sum(records_failed) FROM g
         WHERE run_type <> 'TEST' AND status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED') GROUP BY 2
        UNION ALL
        SELECT 'run_retries', cid, '', sum(attempt - 1) FROM g WHERE run_type <> 'TEST' GROUP BY 2
    ) s (metric, label1, label2, value)
    WHERE value IS NOT NULL AND value <> 0
    ORDER BY 1, 2, 3
    ON CONFLICT (metric, label1, label2) DO UPDATE SET value = m.value + EXCLUDED.value;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS trg_runs_retire_metrics ON sp_v2_connector_runs;
CREATE TRIGGER trg_runs_retire_metrics
    AFTER DELETE ON sp_v2_connector_runs
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION connectord_retire_runs();

-- Attempts, however they go (with their run, or their connector).
CREATE OR REPLACE FUNCTION connectord_retire_run_attempts()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sp_v2_metric_retired AS m (metric, label1, label2, value)
    SELECT 'lease_rescues', '', '', count(*) FROM gone WHERE error_message = 'worker lost'
    HAVING count(*) > 0
    ON CONFLICT (metric, label1, label2) DO UPDATE SET value = m.value + EXCLUDED.value;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS trg_run_attempts_retire_metrics ON sp_v2_connector_run_attempts;
CREATE TRIGGER trg_run_attempts_retire_metrics
    AFTER DELETE ON sp_v2_connector_run_attempts
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION connectord_retire_run_attempts();

-- A delivery about to go (pruned with its alert): its attempts by outcome,
-- while they and the delivery's channel are still there.
CREATE OR REPLACE FUNCTION connectord_retire_delivery()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sp_v2_metric_retired AS m (metric, label1, label2, value)
    SELECT 'notification_attempts', OLD.channel, lower(a.outcome), count(*)
      FROM sp_v2_notification_attempts a WHERE a.delivery_id = OLD.id
     GROUP BY 3
    ORDER BY 3
    ON CONFLICT (metric, label1, label2) DO UPDATE SET value = m.value + EXCLUDED.value;
    RETURN OLD;
END;
$$;

DROP TRIGGER IF EXISTS trg_deliveries_retire_metrics ON sp_v2_notification_deliveries;
CREATE TRIGGER trg_deliveries_retire_metrics
    BEFORE DELETE ON sp_v2_notification_deliveries
    FOR EACH ROW EXECUTE FUNCTION connectord_retire_delivery();
