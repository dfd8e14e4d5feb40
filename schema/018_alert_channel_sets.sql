-- 018_alert_channel_sets.sql — which alert channels each worker knows.
--
-- A new alert is fanned out into deliveries by whichever worker takes it
-- first, to the channels that worker is configured with. Workers whose
-- alerts.channels differ (a configuration rolled out to some hosts only)
-- therefore send each alert to a set of channels that depends on luck.
-- Every worker with channels says here which it has (names and types only:
-- URLs may be credentials), so that a worker whose list differs from
-- another's says so in its log and /metrics counts the distinct sets.
CREATE TABLE IF NOT EXISTS sp_v2_alert_channel_sets (
    worker_id TEXT PRIMARY KEY,
    -- "name:type,name:type", sorted by name
    channels TEXT NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
