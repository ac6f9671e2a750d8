-- Jobs become general: a kind, a queue, a JSON payload and an optional dedupe key (at most one
-- live job per key). Carrier-release jobs of 0001 are carried over with their state.
ALTER TABLE jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'carrier',
                 ADD COLUMN payload TEXT,
                 ADD COLUMN dedupe_key TEXT;
UPDATE jobs SET payload = json_build_object('workspace_id', workspace_id, 'number_id', number_id, 'e164', e164)::text;
ALTER TABLE jobs ALTER COLUMN queue DROP DEFAULT,
                 ALTER COLUMN payload SET NOT NULL,
                 ALTER COLUMN workspace_id DROP NOT NULL,
                 ALTER COLUMN number_id DROP NOT NULL,
                 DROP COLUMN e164;
DROP INDEX jobs_pending;
CREATE INDEX jobs_ready ON jobs (queue, run_at) WHERE status = 'pending';
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE status = 'pending';
