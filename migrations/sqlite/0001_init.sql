-- numberd schema (SQLite). Timestamps are microseconds since the Unix epoch (UTC);
-- flags are 0/1 BIGINTs so SQLite and PostgreSQL share every query.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    test_mode   BIGINT NOT NULL DEFAULT 0,
    clock_at    BIGINT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE access_keys (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    key_hash      TEXT NOT NULL UNIQUE,
    key_prefix    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX access_keys_workspace ON access_keys (workspace_id);

CREATE TABLE numbers (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
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
    updated_at      BIGINT NOT NULL
);
-- One live holding of an E.164 number per workspace; released and deleted ones are history.
CREATE UNIQUE INDEX numbers_live_e164 ON numbers (workspace_id, e164) WHERE status = 'active';
CREATE INDEX numbers_workspace_seq ON numbers (workspace_id, seq) WHERE deleted_at IS NULL;
CREATE INDEX numbers_workspace_status_seq ON numbers (workspace_id, status, seq) WHERE deleted_at IS NULL;
CREATE INDEX numbers_workspace_prefix ON numbers (workspace_id, e164) WHERE deleted_at IS NULL;
-- The period-end worker: live workspaces by time, one workspace (test clock, list) by time within it.
CREATE INDEX numbers_due ON numbers (period_end) WHERE sub_status IN ('active', 'canceling');
CREATE INDEX numbers_workspace_due ON numbers (workspace_id, period_end) WHERE sub_status IN ('active', 'canceling');

CREATE TABLE billing_periods (
    number_id       TEXT NOT NULL REFERENCES numbers(id),
    period_index    BIGINT NOT NULL,
    start_at        BIGINT NOT NULL,
    end_at          BIGINT NOT NULL,
    price_amount    BIGINT,
    price_exponent  BIGINT,
    price_currency  TEXT,
    recorded_at     BIGINT NOT NULL,
    PRIMARY KEY (number_id, period_index)
);

-- The outbox: work for the outside world, written in the transaction that needs it.
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,
    workspace_id  TEXT NOT NULL,
    number_id     TEXT NOT NULL,
    e164          TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    run_at        BIGINT NOT NULL,
    locked_until  BIGINT,
    last_error    TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX jobs_pending ON jobs (run_at) WHERE status = 'pending';
CREATE INDEX jobs_number ON jobs (number_id);

CREATE TABLE assistants (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    direction     TEXT NOT NULL,
    number_id     TEXT REFERENCES numbers(id),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX assistants_workspace ON assistants (workspace_id, seq);
-- A number answers for at most one inbound assistant.
CREATE UNIQUE INDEX assistants_inbound_number ON assistants (number_id) WHERE direction = 'inbound' AND number_id IS NOT NULL;
CREATE INDEX assistants_number ON assistants (number_id);

CREATE TABLE campaigns (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    status        TEXT NOT NULL,
    rotation_cursor BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX campaigns_workspace ON campaigns (workspace_id, seq);

CREATE TABLE campaign_numbers (
    campaign_id  TEXT NOT NULL REFERENCES campaigns(id),
    position     BIGINT NOT NULL,
    number_id    TEXT NOT NULL REFERENCES numbers(id),
    PRIMARY KEY (campaign_id, number_id)
);
CREATE INDEX campaign_numbers_number ON campaign_numbers (number_id);

CREATE TABLE calls (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
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
    created_at    BIGINT NOT NULL
);
CREATE INDEX calls_workspace ON calls (workspace_id, seq);
