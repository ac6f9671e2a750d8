-- Jobs become general: a kind, a queue, a JSON payload and an optional dedupe key (at most one
-- live job per key). Carrier-release jobs of 0001 are carried over with their state.
DROP INDEX jobs_pending;
DROP INDEX jobs_number;
ALTER TABLE jobs RENAME TO jobs_0001;
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,
    queue         TEXT NOT NULL,
    payload       TEXT NOT NULL,
    dedupe_key    TEXT,
    workspace_id  TEXT,
    number_id     TEXT,
    status        TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    run_at        BIGINT NOT NULL,
    locked_until  BIGINT,
    last_error    TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
INSERT INTO jobs (id, kind, queue, payload, dedupe_key, workspace_id, number_id, status, attempts, run_at,
                  locked_until, last_error, created_at, updated_at)
SELECT id, kind, 'carrier', json_object('workspace_id', workspace_id, 'number_id', number_id, 'e164', e164), NULL,
       workspace_id, number_id, status, attempts, run_at, locked_until, last_error, created_at, updated_at
FROM jobs_0001;
DROP TABLE jobs_0001;
CREATE INDEX jobs_ready ON jobs (queue, run_at) WHERE status = 'pending';
CREATE INDEX jobs_number ON jobs (number_id);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE status = 'pending';
