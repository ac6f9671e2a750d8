-- Number orders (#11): the intent to buy numbers at a carrier account, written before the carrier
-- is called, and one item per number that the purchase saga drives to `purchased` or `failed`.
-- `idempotency_key` + `request_hash` let a retried request find its order instead of buying again.
ALTER TABLE workspaces ADD COLUMN order_seq BIGINT NOT NULL DEFAULT 0;
CREATE TABLE number_orders (
    id                TEXT NOT NULL PRIMARY KEY,
    seq               BIGINT NOT NULL,
    workspace_id      TEXT NOT NULL REFERENCES workspaces(id),
    carrier_account   TEXT NOT NULL,
    carrier_kind      TEXT NOT NULL,
    nickname          TEXT,
    price_amount      BIGINT,
    price_exponent    BIGINT,
    price_currency    TEXT,
    status            TEXT NOT NULL,
    idempotency_key   TEXT,
    request_hash      TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX number_orders_workspace_seq ON number_orders (workspace_id, seq);
-- One live order per key; a key older than 24 hours is cleared before it is reused.
CREATE UNIQUE INDEX number_orders_idempotency ON number_orders (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE TABLE number_order_items (
    id                TEXT NOT NULL PRIMARY KEY,
    order_id          TEXT NOT NULL REFERENCES number_orders(id),
    position          BIGINT NOT NULL,
    e164              TEXT NOT NULL,
    status            TEXT NOT NULL,
    -- Where the saga stands while the item is pending: new, buying (a buy may have reached the
    -- carrier: look it up before any retry), ordered (Telnyx order id known), releasing
    -- (compensation: the carrier holds it but numberd cannot keep it), settled.
    stage             TEXT NOT NULL,
    carrier_order_ref TEXT,
    carrier_ref       TEXT,
    number_id         TEXT,
    error_code        TEXT,
    error_message     TEXT,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX number_order_items_order ON number_order_items (order_id, position);
