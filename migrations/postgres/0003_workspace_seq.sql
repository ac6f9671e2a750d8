-- Integer ids (`seq`: the Autocalls `id`, the native `autocallsId`, the keyset page token) count
-- per workspace instead of across the deployment, so one tenant's ids reveal nothing of another's
-- activity. Existing rows keep their values; each workspace's counters start after its largest.
-- The counters hold the last id handed out; an insert bumps its workspace's counter in its own
-- transaction, which also serialises concurrent inserts of one workspace on that row.
ALTER TABLE workspaces
    ADD COLUMN number_seq BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN assistant_seq BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN campaign_seq BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN call_seq BIGINT NOT NULL DEFAULT 0;
UPDATE workspaces SET
    number_seq = COALESCE((SELECT MAX(seq) FROM numbers WHERE workspace_id = workspaces.id), 0),
    assistant_seq = COALESCE((SELECT MAX(seq) FROM assistants WHERE workspace_id = workspaces.id), 0),
    campaign_seq = COALESCE((SELECT MAX(seq) FROM campaigns WHERE workspace_id = workspaces.id), 0),
    call_seq = COALESCE((SELECT MAX(seq) FROM calls WHERE workspace_id = workspaces.id), 0);

-- seq is no longer generated, and unique only within a workspace: the primary key becomes
-- (workspace_id, seq), which also serves the (workspace_id, seq) indexes of assistants,
-- campaigns and calls.
ALTER TABLE numbers ALTER COLUMN seq DROP IDENTITY;
ALTER TABLE numbers DROP CONSTRAINT numbers_pkey, ADD PRIMARY KEY (workspace_id, seq);

ALTER TABLE assistants ALTER COLUMN seq DROP IDENTITY;
ALTER TABLE assistants DROP CONSTRAINT assistants_pkey, ADD PRIMARY KEY (workspace_id, seq);
DROP INDEX assistants_workspace;

ALTER TABLE campaigns ALTER COLUMN seq DROP IDENTITY;
ALTER TABLE campaigns DROP CONSTRAINT campaigns_pkey, ADD PRIMARY KEY (workspace_id, seq);
DROP INDEX campaigns_workspace;

ALTER TABLE calls ALTER COLUMN seq DROP IDENTITY;
ALTER TABLE calls DROP CONSTRAINT calls_pkey, ADD PRIMARY KEY (workspace_id, seq);
DROP INDEX calls_workspace;
