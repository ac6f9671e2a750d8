-- Integer ids (`seq`: the Autocalls `id`, the native `autocallsId`, the keyset page token) count
-- per workspace instead of across the deployment, so one tenant's ids reveal nothing of another's
-- activity. Existing rows keep their values; each workspace's counters start after its largest.
-- The counters hold the last id handed out; inserts bump them in their own transaction.
--
-- A rowid (INTEGER PRIMARY KEY) cannot repeat across workspaces, so the four tables are rebuilt
-- with the primary key (workspace_id, seq), same columns in the same order. sqlx runs this in a
-- transaction, where foreign keys cannot be switched off, so each table is copied aside, dropped
-- and recreated under its own name: with the checks deferred, the rows dropped from a table that
-- billing_periods, campaign_numbers, ... reference count as violations until the same rows are
-- inserted back, and the commit sees none. The (workspace_id, seq) indexes of assistants,
-- campaigns and calls are now the primary key.
PRAGMA defer_foreign_keys = ON;

ALTER TABLE workspaces ADD COLUMN number_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE workspaces ADD COLUMN assistant_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE workspaces ADD COLUMN campaign_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE workspaces ADD COLUMN call_seq BIGINT NOT NULL DEFAULT 0;
UPDATE workspaces SET
    number_seq = COALESCE((SELECT MAX(seq) FROM numbers WHERE workspace_id = workspaces.id), 0),
    assistant_seq = COALESCE((SELECT MAX(seq) FROM assistants WHERE workspace_id = workspaces.id), 0),
    campaign_seq = COALESCE((SELECT MAX(seq) FROM campaigns WHERE workspace_id = workspaces.id), 0),
    call_seq = COALESCE((SELECT MAX(seq) FROM calls WHERE workspace_id = workspaces.id), 0);

CREATE TABLE numbers_0002 AS SELECT * FROM numbers;
DROP TABLE numbers;
CREATE TABLE numbers (
    seq             INTEGER NOT NULL,
    id              TEXT NOT NULL UNIQUE,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id),
    e164            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    number_type     TEXT NOT NULL,
    country         TEXT NOT NULL,
    capabilities    TEXT NOT NULL,
    caps_mask       BIGINT NOT NULL,
    price_amount    BIGINT,
    price_exponent  BIGINT,
    price_currency  TEXT,
    configurations  TEXT NOT NULL,
    nickname        TEXT,
    status          TEXT NOT NULL,
    sub_id          TEXT,
    sub_status      TEXT NOT NULL,
    sub_anchor      BIGINT,
    period_index    BIGINT,
    period_end      BIGINT,
    subscribed_at   BIGINT,
    sub_updated_at  BIGINT,
    cancelled_at    BIGINT,
    activated_at    BIGINT,
    deactivated_at  BIGINT,
    deleted_at      BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, seq)
);
INSERT INTO numbers SELECT * FROM numbers_0002;
DROP TABLE numbers_0002;
CREATE UNIQUE INDEX numbers_live_e164 ON numbers (workspace_id, e164) WHERE status = 'active';
CREATE INDEX numbers_workspace_seq ON numbers (workspace_id, seq) WHERE deleted_at IS NULL;
CREATE INDEX numbers_workspace_status_seq ON numbers (workspace_id, status, seq) WHERE deleted_at IS NULL;
CREATE INDEX numbers_workspace_prefix ON numbers (workspace_id, e164) WHERE deleted_at IS NULL;
CREATE INDEX numbers_due ON numbers (period_end) WHERE sub_status IN ('active', 'canceling');
CREATE INDEX numbers_workspace_due ON numbers (workspace_id, period_end) WHERE sub_status IN ('active', 'canceling');

CREATE TABLE assistants_0002 AS SELECT * FROM assistants;
DROP TABLE assistants;
CREATE TABLE assistants (
    seq           INTEGER NOT NULL,
    id            TEXT NOT NULL UNIQUE,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    direction     TEXT NOT NULL,
    number_id     TEXT REFERENCES numbers(id),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, seq)
);
INSERT INTO assistants SELECT * FROM assistants_0002;
DROP TABLE assistants_0002;
CREATE UNIQUE INDEX assistants_inbound_number ON assistants (number_id) WHERE direction = 'inbound' AND number_id IS NOT NULL;
CREATE INDEX assistants_number ON assistants (number_id);

CREATE TABLE campaigns_0002 AS SELECT * FROM campaigns;
DROP TABLE campaigns;
CREATE TABLE campaigns (
    seq           INTEGER NOT NULL,
    id            TEXT NOT NULL UNIQUE,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    status        TEXT NOT NULL,
    rotation_cursor BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, seq)
);
INSERT INTO campaigns SELECT * FROM campaigns_0002;
DROP TABLE campaigns_0002;

CREATE TABLE calls_0002 AS SELECT * FROM calls;
DROP TABLE calls;
CREATE TABLE calls (
    seq           INTEGER NOT NULL,
    id            TEXT NOT NULL UNIQUE,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    direction     TEXT NOT NULL,
    from_e164     TEXT NOT NULL,
    to_e164       TEXT NOT NULL,
    number_id     TEXT REFERENCES numbers(id),
    number_e164   TEXT,
    assistant_id  TEXT,
    campaign_id   TEXT,
    status        TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    duration_seconds BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, seq)
);
INSERT INTO calls SELECT * FROM calls_0002;
DROP TABLE calls_0002;
