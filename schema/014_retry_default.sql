-- 014_retry_default.sql — auto_retry without retry_count retries 3 times.
--
-- 007 gave a connector with auto_retry on but no retry_count one attempt:
-- the ops page leaves out a value equal to the schema's default (3), so a
-- connector saved with "retry on, 3 times" was never retried. The policy's
-- schema (core/run_policy.c) and this function now agree on the defaults:
-- auto_retry off, retry_count 3, at most 10.
CREATE OR REPLACE FUNCTION connectord_max_attempts(config jsonb, run_type text)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN run_type = 'TEST' THEN 1
        WHEN jsonb_typeof(config->'auto_retry') = 'boolean'
             AND (config->>'auto_retry')::boolean
        THEN 1 + CASE
                     WHEN jsonb_typeof(config->'retry_count') = 'number'
                     THEN LEAST(GREATEST(floor((config->>'retry_count')::numeric)::integer, 0), 10)
                     ELSE 3
                 END
        ELSE 1
    END
$$;
