-- Events (the audit log), webhook endpoints and their deliveries (#12).
CREATE TABLE events (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    workspace_id  TEXT NOT NULL,
    type          TEXT NOT NULL,
    number_id     TEXT,
    occurred_at   BIGINT NOT NULL,
    actor_type    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    request_id    TEXT,
    data          TEXT NOT NULL,
    -- Real time of recording: retention counts from it, whatever a test clock says.
    created_at    BIGINT NOT NULL
);
CREATE INDEX events_workspace ON events (workspace_id, seq);
CREATE INDEX events_number ON events (number_id, seq);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE webhooks (
    seq                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                    TEXT NOT NULL UNIQUE,
    workspace_id          TEXT NOT NULL,
    url                   TEXT NOT NULL,
    description           TEXT,
    -- JSON array of event types, or ["*"].
    events                TEXT NOT NULL,
    secret                TEXT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until BIGINT,
    enabled               BIGINT NOT NULL,
    -- First failed attempt since the last success; 5 days of that disables the endpoint.
    failing_since         BIGINT,
    disabled_at           BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX webhooks_workspace ON webhooks (workspace_id, seq);

CREATE TABLE webhook_deliveries (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    webhook_id       TEXT NOT NULL,
    workspace_id     TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    number_id        TEXT,
    -- waiting (behind an older delivery for the same number), pending, delivered, failed.
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    response_status  BIGINT,
    last_error       TEXT,
    last_attempt_at  BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, seq);
CREATE INDEX webhook_deliveries_open ON webhook_deliveries (webhook_id, number_id, seq) WHERE status IN ('waiting', 'pending');
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
