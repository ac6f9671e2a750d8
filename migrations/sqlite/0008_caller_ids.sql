-- Caller-ID verifications (#11): started at a carrier account, checked there until verified (then
-- a `callerId` number joins the inventory, `number_id`) or expired. `expires_at` is real time,
-- as the carrier's verification is. Integer ids count per workspace, like every other table's.
ALTER TABLE workspaces ADD COLUMN caller_id_seq BIGINT NOT NULL DEFAULT 0;
CREATE TABLE caller_ids (
    seq              BIGINT NOT NULL,
    id               TEXT NOT NULL UNIQUE,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    e164             TEXT NOT NULL,
    nickname         TEXT,
    carrier_account  TEXT NOT NULL,
    carrier_kind     TEXT NOT NULL,
    status           TEXT NOT NULL,
    validation_code  TEXT,
    expires_at       BIGINT NOT NULL,
    number_id        TEXT,
    carrier_ref      TEXT,
    failure          TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, seq)
);
-- One verification under way per number and workspace.
CREATE UNIQUE INDEX caller_ids_pending_e164 ON caller_ids (workspace_id, e164) WHERE status = 'pending';
