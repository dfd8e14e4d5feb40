-- 025_gap_run_key.sql — a date a lowered sync_days_back skips is queued at
-- most once, by a unique key rather than by a snapshot.
--
-- 024 queues one SCHEDULED run (slot_time NULL, triggered_by "SCHEDULER
-- (sync_days_back A -> B)") for each skipped date, leaving out dates that
-- already have a scheduled run. That test reads the statement's snapshot:
-- a run for the same date inserted by another transaction that has not
-- committed yet (another worker's statement in the same tick) is not seen,
-- and the date was queued twice. Slot runs have their (connector, slot)
-- key; these runs now have theirs, (connector, run_date), and the
-- scheduler inserts them with ON CONFLICT DO NOTHING: a second insert of a
-- date waits for the first and then does nothing.
--
-- Should a database already hold such a date twice, the key covers the
-- runs queued from now on (ids above the highest duplicate), so the
-- migration still applies; nothing is deleted.
DO $$
DECLARE
    dup_max bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = current_schema()
                AND indexname = 'uq_connector_runs_days_back_gap') THEN
        RETURN;
    END IF;
    SELECT max(id) INTO dup_max FROM sp_v2_connector_runs r
     WHERE r.run_type = 'SCHEDULED' AND r.slot_time IS NULL
       AND r.triggered_by LIKE 'SCHEDULER (sync_days_back %'
       AND EXISTS (SELECT 1 FROM sp_v2_connector_runs x
                    WHERE x.connector_id = r.connector_id AND x.run_date = r.run_date
                      AND x.id <> r.id AND x.run_type = 'SCHEDULED' AND x.slot_time IS NULL
                      AND x.triggered_by LIKE 'SCHEDULER (sync_days_back %');
    IF dup_max IS NULL THEN
        CREATE UNIQUE INDEX uq_connector_runs_days_back_gap
            ON sp_v2_connector_runs (connector_id, run_date)
            WHERE run_type = 'SCHEDULED' AND slot_time IS NULL
              AND triggered_by LIKE 'SCHEDULER (sync_days_back %';
    ELSE
        RAISE NOTICE 'sp_v2_connector_runs holds a date a lowered sync_days_back queued twice; '
                     'the unique key covers runs with id > %', dup_max;
        EXECUTE format('CREATE UNIQUE INDEX uq_connector_runs_days_back_gap'
                       ' ON sp_v2_connector_runs (connector_id, run_date)'
                       ' WHERE run_type = %L AND slot_time IS NULL'
                       ' AND triggered_by LIKE %L AND id > %s',
                       'SCHEDULED', 'SCHEDULER (sync_days_back %', dup_max);
    END IF;
END
$$;
