-- 024_days_back_gaps.sql — lowering a connector's sync_days_back no longer
-- skips business dates.
--
-- The slot of day T runs T minus sync_days_back. Lowered from 2 to 1, the
-- slot after the change runs one day further ahead than the schedule had
-- reached, and the date in between was never fetched by anyone: changed
-- after today's slot (which ran T-2), tomorrow's runs T and T-1 is lost;
-- changed before today's slot (yesterday's ran T-3), today's runs T-1 and
-- T-2 is lost. Raising the value runs a date twice, which the idempotent
-- load makes harmless, so it needs nothing.
--
-- A change is recorded here by a trigger, so every path that edits a
-- connector (the API, SQL by hand) is covered: the value the schedule ran
-- with (kept across further changes until the scheduler has used the new
-- value) and the connector's latest slot at the time. The scheduler
-- consumes the row in the statement that enqueues the first slot run made
-- with the new value, and in that statement queues one SCHEDULED run
-- (slot_time NULL, triggered_by "SCHEDULER (sync_days_back A -> B)") for
-- each skipped date (core/scheduler.c says which dates those are). Only the
-- worker whose slot insert succeeded consumes the row (DELETE ... RETURNING
-- under its lock), so however many workers tick, each date is queued once.
CREATE TABLE IF NOT EXISTS sp_v2_connector_days_back_changes (
    connector_id BIGINT PRIMARY KEY REFERENCES sp_v2_connectors (id) ON DELETE CASCADE,
    -- connectord_days_back() of the config the schedule last ran with
    days_back_before INTEGER NOT NULL,
    -- the connector's latest slot_time when the value first changed (NULL:
    -- its schedule had never run, so no date can have been skipped)
    after_slot TIMESTAMPTZ,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- bumped by every further change: a scheduler that read an older
    -- version does not consume a newer one
    version BIGINT NOT NULL DEFAULT 1
);

COMMENT ON TABLE sp_v2_connector_days_back_changes IS
    'sync_days_back changes the scheduler has not yet run with (schema/024)';

CREATE OR REPLACE FUNCTION connectord_days_back_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sp_v2_connector_days_back_changes AS g (connector_id, days_back_before, after_slot)
    VALUES (NEW.id, connectord_days_back(OLD.connection_config),
            (SELECT max(r.slot_time) FROM sp_v2_connector_runs r
              WHERE r.connector_id = NEW.id AND r.slot_time IS NOT NULL))
    ON CONFLICT (connector_id) DO UPDATE
        SET changed_at = now(), version = g.version + 1;
    RETURN NULL;
END
$$;

-- As the scheduler reads the value: a config rewritten with the same
-- sync_days_back (or another spelling of it, 1 and 1.0) is no change.
DROP TRIGGER IF EXISTS trg_connectors_days_back_changed ON sp_v2_connectors;
CREATE TRIGGER trg_connectors_days_back_changed
    AFTER UPDATE OF connection_config ON sp_v2_connectors
    FOR EACH ROW
    WHEN (connectord_days_back(OLD.connection_config)
          IS DISTINCT FROM connectord_days_back(NEW.connection_config))
    EXECUTE FUNCTION connectord_days_back_changed();
