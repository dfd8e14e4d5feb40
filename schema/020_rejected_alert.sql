-- 020_rejected_alert.sql — a run that loaded nothing because every record
-- it read was rejected raises an alert of its own.
--
-- Such a run ends PARTIAL_SUCCESS, as DESIGN's statuses say (it ran to the
-- end, and each record error is recorded), but for reconciliation it is a
-- day without data, and nobody was told: it raised no RUN_FAILED, the
-- late-data check counts it as delivered, and a run that failed before it
-- was reported RECOVERED. It now raises REJECTED (webhook event
-- "records_rejected"), with the first record error as a sample; recovery is
-- judged against the last run that delivered nothing (FAILED or REJECTED),
-- and a REJECTED run is not a recovery.
ALTER TABLE sp_v2_notifications DROP CONSTRAINT IF EXISTS sp_v2_notifications_kind_check;
ALTER TABLE sp_v2_notifications ADD CONSTRAINT sp_v2_notifications_kind_check
    CHECK (kind IN ('RUN_FAILED', 'RECOVERED', 'LATE', 'DIGEST', 'TEST', 'REJECTED'));

CREATE OR REPLACE FUNCTION connectord_run_alerts()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c record;
    prev_id bigint;
    prev_status text;
    prev_success bigint;
    prev_failed bigint;
    ev_kind text;
    sample jsonb;
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
    ELSIF NEW.status = 'PARTIAL_SUCCESS' AND COALESCE(NEW.records_success, 0) = 0
          AND COALESCE(NEW.records_failed, 0) > 0 THEN
        ev_kind := 'REJECTED';
        -- A sample for the alert: where and why, never the raw record.
        SELECT jsonb_build_object('row', e.row_ref, 'field', e.field, 'reason', e.reason)
          INTO sample
          FROM sp_v2_connector_record_errors e
         WHERE e.run_id = NEW.id AND e.attempt = NEW.attempt
         ORDER BY e.id
         LIMIT 1;
    ELSE
        -- Recovered: the connector's previous finished run (not a test,
        -- not cancelled) failed or had every record rejected. Runs of one connector never overlap, so
        -- start order is finish order; the (connector_id, started_at)
        -- index serves this.
        SELECT r.id, r.status, r.records_success, r.records_failed
          INTO prev_id, prev_status, prev_success, prev_failed
          FROM sp_v2_connector_runs r
         WHERE r.connector_id = NEW.connector_id AND r.id <> NEW.id
           AND r.run_type <> 'TEST'
           AND r.status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED')
           AND COALESCE(r.details->>'outcome', '') <> 'cancelled'
           AND r.started_at <= COALESCE(NEW.started_at, now())
         ORDER BY r.started_at DESC, r.id DESC
         LIMIT 1;
        IF prev_status IS DISTINCT FROM 'FAILED'
           AND NOT (prev_status = 'PARTIAL_SUCCESS' AND COALESCE(prev_success, 0) = 0
                    AND COALESCE(prev_failed, 0) > 0) THEN
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
                'previous_failed_run_id', prev_id::text,
                'first_record_error', sample))
    ON CONFLICT (kind, dedup_key) DO NOTHING;
    -- Wakes the delivery threads at commit.
    PERFORM pg_notify('connectord_alerts', ev_kind);
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'connectord: no alert for run %: %', NEW.id, SQLERRM;
    END;
    RETURN NULL;
END
$$;
