-- 015_run_policy_bounds.sql — a connector's run policy, however it was
-- stored, never breaks the statements that schedule everyone.
--
-- The scheduler reads every connector's sync_days_back in one query and
-- enqueues every due slot, with its max_attempts, in one statement. 007 and
-- 014 cast to integer before clamping, so one connector saved by hand with
-- "sync_days_back": 1e10 (or a retry_count as large) failed those
-- statements with "integer out of range", and no connector was scheduled.
-- The clamps now run on numeric and the cast comes last. auto_retry is
-- compared as JSON, so a string such as "yes" is "off", never a cast error.
CREATE OR REPLACE FUNCTION connectord_max_attempts(config jsonb, run_type text)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN run_type = 'TEST' THEN 1
        WHEN config->'auto_retry' = 'true'::jsonb
        THEN 1 + CASE
                     WHEN jsonb_typeof(config->'retry_count') = 'number'
                     THEN LEAST(GREATEST(floor((config->>'retry_count')::numeric), 0), 10)::integer
                     ELSE 3
                 END
        ELSE 1
    END
$$;

CREATE OR REPLACE FUNCTION connectord_days_back(config jsonb)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(config->'sync_days_back') = 'number'
        THEN LEAST(GREATEST(floor((config->>'sync_days_back')::numeric), 0), 3650)::integer
        ELSE 1
    END
$$;
