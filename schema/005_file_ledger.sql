-- 005_file_ledger.sql — the SFTP file ledger: every file a file-based
-- driver saw at its source, what became of it, and the content hash that
-- makes "load each file exactly once" hold even when a bank renames or
-- re-drops a file.
--
-- One row per (connector, remote path, content): a path whose content
-- changes gets a second row (a new version). Status moves
-- SEEN -> DOWNLOADED -> LOADED, or ends in SKIPPED_DUPLICATE / FAILED.
-- LOADED is written inside the run's load transaction, so a run that fails
-- leaves no LOADED row behind; the other statuses are written at once and
-- survive a failed run (ops must see why a file was not taken).

CREATE TABLE IF NOT EXISTS sp_v2_connector_files (
    id BIGSERIAL PRIMARY KEY,
    connector_id BIGINT NOT NULL REFERENCES sp_v2_connectors (id) ON DELETE CASCADE,
    remote_path TEXT NOT NULL,
    size_bytes BIGINT,
    remote_mtime TIMESTAMPTZ,
    -- NULL until the file was downloaded and hashed
    sha256 CHAR(64) CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    status VARCHAR(20) NOT NULL
        CHECK (status IN ('SEEN', 'DOWNLOADED', 'LOADED', 'SKIPPED_DUPLICATE', 'FAILED')),
    reason TEXT,
    -- the run that last touched the row; no foreign key so that pruning old
    -- runs never loses the memory of what was loaded
    run_id BIGINT,
    rows_loaded BIGINT,
    first_seen_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    loaded_at TIMESTAMPTZ
);

-- "Was this content loaded before, under any name?"
CREATE INDEX IF NOT EXISTS idx_connector_files_sha256
    ON sp_v2_connector_files (connector_id, sha256);
-- "What do we know of this path?" (newest first)
CREATE INDEX IF NOT EXISTS idx_connector_files_path
    ON sp_v2_connector_files (connector_id, remote_path, id DESC);
-- At most one row per version of a path once its content is known, so two
-- writers of the same version update one row instead of adding two.
CREATE UNIQUE INDEX IF NOT EXISTS uq_connector_files_version
    ON sp_v2_connector_files (connector_id, remote_path, sha256)
    WHERE sha256 IS NOT NULL;
