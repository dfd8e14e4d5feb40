-- 011_api_cache.sql — the API keeps rendered responses of its hot reads (the
-- connector list, a connector, history pages) and must drop them when what
-- they show changes, whoever changed it: the API, the runner, a scheduler on
-- another host, an operator with psql. These triggers say so on the channel
-- connectord_cache, which PostgreSQL delivers only after the change
-- committed (and not at all if it rolled back):
--   c:ID   connector ID's row was inserted, updated or deleted
--   r:ID   a run of connector ID was inserted, deleted, or changed in
--          anything but its lease bookkeeping (heartbeats are not news)
--   all    many connectors at once, or a TRUNCATE
-- Statement-level where a statement may touch many rows (one notification
-- per connector, not per row); identical notifications in one transaction
-- are delivered once.

CREATE OR REPLACE FUNCTION connectord_cache_notify(kind text, ids bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    IF cardinality(ids) > 100 THEN
        PERFORM pg_notify('connectord_cache', 'all');
    ELSE
        PERFORM pg_notify('connectord_cache', kind || ':' || i) FROM unnest(ids) AS i;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION connectord_cache_connectors_new()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM connectord_cache_notify('c', ARRAY(SELECT DISTINCT id FROM new_rows));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION connectord_cache_connectors_old()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM connectord_cache_notify('c', ARRAY(SELECT DISTINCT id FROM old_rows));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION connectord_cache_connectors_upd()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM connectord_cache_notify('c', ARRAY(SELECT id FROM new_rows
                                               UNION SELECT id FROM old_rows));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION connectord_cache_runs_new()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM connectord_cache_notify('r', ARRAY(SELECT DISTINCT connector_id FROM new_rows));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION connectord_cache_runs_old()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM connectord_cache_notify('r', ARRAY(SELECT DISTINCT connector_id FROM old_rows));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION connectord_cache_run_row()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('connectord_cache', 'r:' || NEW.connector_id);
    IF OLD.connector_id IS DISTINCT FROM NEW.connector_id THEN
        PERFORM pg_notify('connectord_cache', 'r:' || OLD.connector_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION connectord_cache_truncate()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('connectord_cache', 'all');
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS trg_connectors_cache_ins ON sp_v2_connectors;
CREATE TRIGGER trg_connectors_cache_ins AFTER INSERT ON sp_v2_connectors
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION connectord_cache_connectors_new();
DROP TRIGGER IF EXISTS trg_connectors_cache_upd ON sp_v2_connectors;
CREATE TRIGGER trg_connectors_cache_upd AFTER UPDATE ON sp_v2_connectors
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION connectord_cache_connectors_upd();
DROP TRIGGER IF EXISTS trg_connectors_cache_del ON sp_v2_connectors;
CREATE TRIGGER trg_connectors_cache_del AFTER DELETE ON sp_v2_connectors
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION connectord_cache_connectors_old();
DROP TRIGGER IF EXISTS trg_connectors_cache_trunc ON sp_v2_connectors;
CREATE TRIGGER trg_connectors_cache_trunc AFTER TRUNCATE ON sp_v2_connectors
    FOR EACH STATEMENT EXECUTE FUNCTION connectord_cache_truncate();

DROP TRIGGER IF EXISTS trg_runs_cache_ins ON sp_v2_connector_runs;
CREATE TRIGGER trg_runs_cache_ins AFTER INSERT ON sp_v2_connector_runs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION connectord_cache_runs_new();
DROP TRIGGER IF EXISTS trg_runs_cache_del ON sp_v2_connector_runs;
CREATE TRIGGER trg_runs_cache_del AFTER DELETE ON sp_v2_connector_runs
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION connectord_cache_runs_old();
-- Row level with a WHEN, so that a heartbeat (heartbeat_at, lease_expires_at)
-- or the runner's pid never even calls the function.
DROP TRIGGER IF EXISTS trg_runs_cache_upd ON sp_v2_connector_runs;
CREATE TRIGGER trg_runs_cache_upd AFTER UPDATE ON sp_v2_connector_runs
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - ARRAY['heartbeat_at', 'lease_expires_at', 'runner_pid'])
          IS DISTINCT FROM
          (to_jsonb(NEW) - ARRAY['heartbeat_at', 'lease_expires_at', 'runner_pid']))
    EXECUTE FUNCTION connectord_cache_run_row();
DROP TRIGGER IF EXISTS trg_runs_cache_trunc ON sp_v2_connector_runs;
CREATE TRIGGER trg_runs_cache_trunc AFTER TRUNCATE ON sp_v2_connector_runs
    FOR EACH STATEMENT EXECUTE FUNCTION connectord_cache_truncate();
