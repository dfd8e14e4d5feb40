-- 007_run_functions.sql — the two rules every place that queues a run
-- applies (the REST API, the CLI, the scheduler), kept in one place.

-- How many attempts a run of this connector gets: the first one plus
-- retry_count retries when auto_retry is on (capped at 10 retries). A TEST
-- run is never retried.
CREATE OR REPLACE FUNCTION connectord_max_attempts(config jsonb, run_type text)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN run_type = 'TEST' THEN 1
        WHEN jsonb_typeof(config->'auto_retry') = 'boolean'
             AND (config->>'auto_retry')::boolean
             AND jsonb_typeof(config->'retry_count') = 'number'
        THEN 1 + LEAST(GREATEST(floor((config->>'retry_count')::numeric)::integer, 0), 10)
        ELSE 1
    END
$$;

-- sync_days_back of a connector's config (default 1: yesterday).
CREATE OR REPLACE FUNCTION connectord_days_back(config jsonb)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(config->'sync_days_back') = 'number'
        THEN LEAST(GREATEST(floor((config->>'sync_days_back')::numeric)::integer, 0), 3650)
        ELSE 1
    END
$$;

-- The business date a run made now targets: today in the connector's own
-- zone, minus sync_days_back. T-1 in Asia/Kolkata is not T-1 in UTC.
CREATE OR REPLACE FUNCTION connectord_default_run_date(timezone text, config jsonb)
RETURNS date LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE COALESCE(NULLIF(timezone, ''), 'Asia/Kolkata'))::date
           - connectord_days_back(config)
$$;
