-- 021_schedule_changed_at.sql — editing a schedule does not run a slot that
-- was already past when the edit was made, for a date that already ran.
--
-- The scheduler starts a connector's schedule after its last slot, so a
-- cron moved from 02:00 to 06:00 at 10:00 (or a zone changed) made 06:00
-- today a missed slot, and catch-up ran yesterday's business date a second
-- time. Not every such slot is a duplicate: moved from 06:00 to 02:00 at
-- 03:00, today's 02:00 slot is the only chance the date gets. So a slot
-- from before the last change of schedule_cron or schedule_timezone is
-- enqueued only when its business date has no scheduled run yet (the
-- scheduler's enqueue checks this against schedule_changed_at).
ALTER TABLE sp_v2_connectors ADD COLUMN IF NOT EXISTS schedule_changed_at TIMESTAMPTZ;

CREATE OR REPLACE FUNCTION connectord_schedule_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.schedule_changed_at := now();
    RETURN NEW;
END
$$;

-- Every path that edits a connector (the API, SQL by hand) sets it; runs
-- updating a connector's other columns never fire this.
DROP TRIGGER IF EXISTS trg_connectors_schedule_changed ON sp_v2_connectors;
CREATE TRIGGER trg_connectors_schedule_changed
    BEFORE UPDATE OF schedule_cron, schedule_timezone ON sp_v2_connectors
    FOR EACH ROW
    -- As the scheduler reads them: an empty or NULL zone is Asia/Kolkata, so
    -- the API writing the default over a NULL is no change of schedule.
    WHEN (NULLIF(OLD.schedule_cron, '') IS DISTINCT FROM NULLIF(NEW.schedule_cron, '')
          OR COALESCE(NULLIF(OLD.schedule_timezone, ''), 'Asia/Kolkata')
             IS DISTINCT FROM COALESCE(NULLIF(NEW.schedule_timezone, ''), 'Asia/Kolkata'))
    EXECUTE FUNCTION connectord_schedule_changed();
