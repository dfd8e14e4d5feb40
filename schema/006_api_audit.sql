-- 006_api_audit.sql — the REST API's audit trail, and the indexes its
-- hottest reads need.
--
-- Who changed which connector, when, and how: create, update, delete,
-- pause and resume. before/after are the connector as the API shows it,
-- with every secret masked ("********"), so the trail itself is no leak.
-- No foreign key: the trail of a deleted connector must outlive it.
CREATE TABLE IF NOT EXISTS sp_v2_connector_audit (
    id BIGSERIAL PRIMARY KEY,
    connector_id BIGINT NOT NULL,
    action VARCHAR(20) NOT NULL CHECK (action IN ('CREATE', 'UPDATE', 'DELETE', 'PAUSE', 'RESUME')),
    actor VARCHAR(100) NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    changed_fields TEXT[] NOT NULL DEFAULT '{}',
    before JSONB,
    after JSONB
);

-- GET /connectors/:id/audit, newest first.
CREATE INDEX IF NOT EXISTS idx_connector_audit_connector
    ON sp_v2_connector_audit (connector_id, id DESC);

-- GET /connectors/:id/history pages newest first with id as the tie-break;
-- with id in the index a page is read straight from it, even at offset
-- 10,000 of 100,000 runs.
CREATE INDEX IF NOT EXISTS idx_connector_runs_connector_started_id
    ON sp_v2_connector_runs (connector_id, started_at DESC, id DESC);

-- The connector list shows each connector's queued or running run (the ops
-- page refreshes while one exists): a tiny partial index instead of
-- walking a busy connector's whole history.
CREATE INDEX IF NOT EXISTS idx_connector_runs_active
    ON sp_v2_connector_runs (connector_id, id) WHERE status IN ('QUEUED', 'RUNNING');
