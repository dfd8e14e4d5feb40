-- 008_notifications.sql — alerts: what happened (sp_v2_notifications, one
-- row per event, deduplicated by a unique key), who must hear about it
-- (sp_v2_notification_deliveries, one row per event and channel: the
-- delivery queue) and every try to tell them (sp_v2_notification_attempts).
--
-- Run events (FAILED after the last attempt, recovered) are inserted by a
-- trigger in the transaction that gives the run its final status, so every
-- code path that finalizes a run (runner, dispatcher, rescue, API) raises
-- them, and a rolled-back finalization raises nothing. Late data and the
-- daily digest are inserted by the workers' tick; their unique keys make a
-- second worker's insert a no-op.

-- Per connector: the local time ("HH:MM", in schedule_timezone) by which
-- the run for its business date must have succeeded, and the alert channels
-- it goes to (a JSON array of channel names; NULL: every channel). Columns
-- rather than connection_config keys, because the drivers' config schemas
-- refuse unknown keys.
ALTER TABLE sp_v2_connectors ADD COLUMN IF NOT EXISTS expected_by VARCHAR(5);
ALTER TABLE sp_v2_connectors ADD COLUMN IF NOT EXISTS alert_channels JSONB;
ALTER TABLE sp_v2_connectors DROP CONSTRAINT IF EXISTS sp_v2_connectors_expected_by_check;
ALTER TABLE sp_v2_connectors ADD CONSTRAINT sp_v2_connectors_expected_by_check
    CHECK (expected_by ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$');
ALTER TABLE sp_v2_connectors DROP CONSTRAINT IF EXISTS sp_v2_connectors_alert_channels_check;
ALTER TABLE sp_v2_connectors ADD CONSTRAINT sp_v2_connectors_alert_channels_check
    CHECK (alert_channels IS NULL OR jsonb_typeof(alert_channels) = 'array');

-- The late-data check looks up a connector's runs by business date.
CREATE INDEX IF NOT EXISTS idx_connector_runs_connector_date
    ON sp_v2_connector_runs (connector_id, run_date);

-- No foreign keys to connectors or runs: an alert outlives the run it
-- reports (its payload carries the names), and deleting runs must not pay
-- for an index on this table.
CREATE TABLE IF NOT EXISTS sp_v2_notifications (
    id BIGSERIAL PRIMARY KEY,
    kind VARCHAR(20) NOT NULL
        CHECK (kind IN ('RUN_FAILED', 'RECOVERED', 'LATE', 'DIGEST', 'TEST')),
    -- run:<id>, late:<connector>:<local date>, digest:<local date>, test:<uuid>
    dedup_key TEXT NOT NULL,
    connector_id BIGINT,
    run_id BIGINT,
    event_date DATE,
    -- TEST messages go to one named channel only
    only_channel TEXT,
    payload JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- set when the deliveries (one per channel) were created
    fanned_out_at TIMESTAMPTZ,
    CONSTRAINT uq_notifications_dedup UNIQUE (kind, dedup_key)
);

CREATE INDEX IF NOT EXISTS idx_notifications_unfanned
    ON sp_v2_notifications (id) WHERE fanned_out_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_notifications_created_at ON sp_v2_notifications (created_at);
-- The digest counts late days per connector.
CREATE INDEX IF NOT EXISTS idx_notifications_late
    ON sp_v2_notifications (connector_id, event_date) WHERE kind = 'LATE';

CREATE TABLE IF NOT EXISTS sp_v2_notification_deliveries (
    id BIGSERIAL PRIMARY KEY,
    notification_id BIGINT NOT NULL REFERENCES sp_v2_notifications (id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    channel_type VARCHAR(20) NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'SENDING', 'SENT', 'FAILED')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 5,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- a SENDING row whose claim expired (its worker died mid-send) is
    -- claimed again
    claimed_by TEXT,
    claim_expires_at TIMESTAMPTZ,
    last_error TEXT,
    last_http_status INTEGER,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at TIMESTAMPTZ,
    CONSTRAINT uq_notification_deliveries UNIQUE (notification_id, channel)
);

CREATE INDEX IF NOT EXISTS idx_notification_deliveries_queue
    ON sp_v2_notification_deliveries (next_attempt_at, id)
    WHERE status IN ('PENDING', 'SENDING');

CREATE TABLE IF NOT EXISTS sp_v2_notification_attempts (
    id BIGSERIAL PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES sp_v2_notification_deliveries (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    worker_id TEXT,
    started_at TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    outcome VARCHAR(20) NOT NULL CHECK (outcome IN ('SENT', 'ERROR')),
    -- HTTP status, or the SMTP reply code for email
    http_status INTEGER,
    error TEXT,
    CONSTRAINT uq_notification_attempts UNIQUE (delivery_id, attempt)
);

-- Local wall-clock time of t in zone tz, or NULL for a zone PostgreSQL does
-- not know (one bad row must not stop the late-data check of the others).
CREATE OR REPLACE FUNCTION connectord_local_time(tz text, t timestamptz)
RETURNS timestamp LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN t AT TIME ZONE COALESCE(NULLIF(tz, ''), 'Asia/Kolkata');
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN NULL;
END
$$;

-- Run events. Fires on the status change only, so a finalization that
-- finds the run already final (status unchanged) raises nothing twice; the
-- unique key covers the rest. TEST runs are interactive and cancelled runs
-- were stopped on purpose: neither alerts. A failure in here must never
-- fail the run's finalization: it is caught and logged as a warning (one
-- subtransaction per finalized run).
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
        -- Recovered: the connector's previous finished run (not a test)
        -- failed. Runs of one connector never overlap, so start order is
        -- finish order; the (connector_id, started_at) index serves this.
        SELECT r.id, r.status INTO prev_id, prev_status
          FROM sp_v2_connector_runs r
         WHERE r.connector_id = NEW.connector_id AND r.id <> NEW.id
           AND r.run_type <> 'TEST'
           AND r.status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED')
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

DROP TRIGGER IF EXISTS trg_connector_runs_alerts ON sp_v2_connector_runs;
CREATE TRIGGER trg_connector_runs_alerts
    AFTER INSERT OR UPDATE OF status ON sp_v2_connector_runs
    FOR EACH ROW EXECUTE FUNCTION connectord_run_alerts();
