-- 016_alert_fixes.sql — a run cancelled on purpose is not a failure to
-- recover from.
--
-- 008 chose the previous finished run with any FAILED status, so a run
-- cancelled by an operator (FAILED with details->>'outcome' = 'cancelled',
-- which raised no RUN_FAILED alert) made the next success send a RECOVERED
-- alert for a failure nobody was told about. Cancelled runs are now passed
-- over, as the alert for the cancelled run itself already is; the
-- recovery is judged against the last run that ran to an outcome.
CREATE OR REPLACE FUNCTION connectord_run_alerts()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c record;
    prev_id bigint;
    prev_status text;
    ev_kind text;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
        RETURN NULL;
    END IF;
    IF NEW.run_type = 'TEST' OR NEW.status NOT IN ('FAILED', 'SUCCESS', 'PARTIAL_SUCCESS')
       OR COALESCE(NEW.details->>'outcome', '') = 'cancelled' THEN
        RETURN NULL;
    END IF;
    BEGIN
    IF NEW.status = 'FAILED' THEN
        ev_kind := 'RUN_FAILED';
    ELSE
        -- Recovered: the connector's previous finished run (not a test,
        -- not cancelled) failed. Runs of one connector never overlap, so
        -- start order is finish order; the (connector_id, started_at)
        -- index serves this.
        SELECT r.id, r.status INTO prev_id, prev_status
          FROM sp_v2_connector_runs r
         WHERE r.connector_id = NEW.connector_id AND r.id <> NEW.id
           AND r.run_type <> 'TEST'
           AND r.status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED')
           AND COALESCE(r.details->>'outcome', '') <> 'cancelled'
           AND r.started_at <= COALESCE(NEW.started_at, now())
         ORDER BY r.started_at DESC, r.id DESC
         LIMIT 1;
        IF prev_status IS DISTINCT FROM 'FAILED' THEN
            RETURN NULL;
        END IF;
        ev_kind := 'RECOVERED';
    END IF;
    SELECT id, name, connector_type, source_entity,
           COALESCE(NULLIF(schedule_timezone, ''), 'Asia/Kolkata') AS tz
      INTO c FROM sp_v2_connectors WHERE id = NEW.connector_id;
    INSERT INTO sp_v2_notifications (kind, dedup_key, connector_id, run_id, event_date, payload)
    VALUES (ev_kind, 'run:' || NEW.id, NEW.connector_id, NEW.id, NEW.run_date,
            jsonb_build_object(
                'connector_id', NEW.connector_id::text,
                'connector', c.name,
                'connector_type', c.connector_type,
                'source_entity', c.source_entity,
                'timezone', c.tz,
                'run_id', NEW.id::text,
                'run_type', NEW.run_type,
                'run_date', NEW.run_date,
                'status', NEW.status,
                'error', NEW.error_message,
                'attempt', NEW.attempt,
                'max_attempts', NEW.max_attempts,
                'records_success', NEW.records_success,
                'records_failed', NEW.records_failed,
                'started_at', NEW.started_at,
                'completed_at', NEW.completed_at,
                'previous_failed_run_id', prev_id::text))
    ON CONFLICT (kind, dedup_key) DO NOTHING;
    -- Wakes the delivery threads at commit.
    PERFORM pg_notify('connectord_alerts', ev_kind);
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'connectord: no alert for run %: %', NEW.id, SQLERRM;
    END;
    RETURN NULL;
END
$$;
