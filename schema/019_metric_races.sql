-- 019_metric_races.sql — what 017 and 018 missed.
--
-- 1. A connector deleted or retyped while a transaction of its own deletes
--    some of its runs by hand: both triggers saw those runs and kept their
--    durations twice. The connector's triggers now first wait for any such
--    delete (a row lock on its runs) and then count only what is left.
-- 2. TRUNCATE fires no DELETE trigger: a TRUNCATE of runs, attempts or
--    deliveries (an operator's clean-up, or CASCADE from connectors)
--    lowered the counters. BEFORE TRUNCATE triggers keep what the whole
--    table counted. (A TRUNCATE of sp_v2_notification_attempts alone is
--    not covered: delete from sp_v2_notification_deliveries instead.)
-- 3. A worker busy with a long round of alert sends refreshed its channel
--    list too rarely for the fixed 180 s liveness of 018 and was counted
--    as gone. Each worker now says how long its list holds (live_until).

CREATE OR REPLACE FUNCTION connectord_retire_connector()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM sp_v2_connector_runs WHERE connector_id = OLD.id FOR KEY SHARE;
    PERFORM connectord_retire_run_durations(OLD.id, OLD.connector_type, 1);
    DELETE FROM sp_v2_metric_retired
     WHERE metric IN ('records_loaded', 'records_failed', 'run_retries') AND label1 = OLD.id::text;
    RETURN OLD;
END;
$$;

CREATE OR REPLACE FUNCTION connectord_retype_connector()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM sp_v2_connector_runs WHERE connector_id = OLD.id FOR KEY SHARE;
    PERFORM connectord_retire_run_durations(OLD.id, OLD.connector_type, 1);
    PERFORM connectord_retire_run_durations(OLD.id, NEW.connector_type, -1);
    RETURN NULL;
END;
$$;

-- Everything sp_v2_connector_runs counts, as connectord_retire_runs (017)
-- keeps it for deleted rows.
CREATE OR REPLACE FUNCTION connectord_retire_truncated_runs()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH g AS (
        SELECT c.connector_type AS type, c.id::text AS cid, o.*,
               o.status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED') AND o.duration_seconds IS NOT NULL AS timed
          FROM sp_v2_connector_runs o JOIN sp_v2_connectors c ON c.id = o.connector_id)
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

DROP TRIGGER IF EXISTS trg_runs_retire_truncate ON sp_v2_connector_runs;
CREATE TRIGGER trg_runs_retire_truncate
    BEFORE TRUNCATE ON sp_v2_connector_runs
    FOR EACH STATEMENT EXECUTE FUNCTION connectord_retire_truncated_runs();

CREATE OR REPLACE FUNCTION connectord_retire_truncated_attempts()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sp_v2_metric_retired AS m (metric, label1, label2, value)
    SELECT 'lease_rescues', '', '', count(*) FROM sp_v2_connector_run_attempts
     WHERE error_message = 'worker lost'
    HAVING count(*) > 0
    ON CONFLICT (metric, label1, label2) DO UPDATE SET value = m.value + EXCLUDED.value;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS trg_run_attempts_retire_truncate ON sp_v2_connector_run_attempts;
CREATE TRIGGER trg_run_attempts_retire_truncate
    BEFORE TRUNCATE ON sp_v2_connector_run_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION connectord_retire_truncated_attempts();

CREATE OR REPLACE FUNCTION connectord_retire_truncated_deliveries()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sp_v2_metric_retired AS m (metric, label1, label2, value)
    SELECT 'notification_attempts', d.channel, lower(a.outcome), count(*)
      FROM sp_v2_notification_attempts a JOIN sp_v2_notification_deliveries d ON d.id = a.delivery_id
     GROUP BY 2, 3
     ORDER BY 2, 3
    ON CONFLICT (metric, label1, label2) DO UPDATE SET value = m.value + EXCLUDED.value;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS trg_deliveries_retire_truncate ON sp_v2_notification_deliveries;
CREATE TRIGGER trg_deliveries_retire_truncate
    BEFORE TRUNCATE ON sp_v2_notification_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION connectord_retire_truncated_deliveries();

ALTER TABLE sp_v2_alert_channel_sets ADD COLUMN IF NOT EXISTS live_until TIMESTAMPTZ;
