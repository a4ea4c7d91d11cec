-- Stock, node load, reservations and the ledger: the service's single source of truth.
-- Plain SQL that PostgreSQL also runs, but for the ledger's key.

CREATE TABLE stock (
    sku      TEXT   NOT NULL,
    node     TEXT   NOT NULL,
    on_hand  BIGINT NOT NULL CHECK (on_hand >= 0),
    reserved BIGINT NOT NULL CHECK (reserved >= 0),
    PRIMARY KEY (sku, node),
    -- No unit is ever promised twice: a hold that would pass on_hand fails here even
    -- if the conditional update in front of it were wrong.
    CHECK (reserved <= on_hand)
);

-- Orders taken per node (shipments held or committed, plus the load imported).
CREATE TABLE node_load (
    node TEXT   PRIMARY KEY,
    load BIGINT NOT NULL CHECK (load >= 0)
);

CREATE TABLE reservations (
    id         TEXT   PRIMARY KEY,
    order_id   TEXT   NOT NULL,
    state      TEXT   NOT NULL CHECK (state IN ('held', 'committed', 'released')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT,
    -- commit, release or expire
    ended_by   TEXT
);
CREATE INDEX reservations_open ON reservations (state, expires_at);

-- What a reservation holds: units per (line, sku, node), shipments per node.
CREATE TABLE reservation_lines (
    reservation TEXT   NOT NULL REFERENCES reservations (id),
    line        TEXT   NOT NULL,
    sku         TEXT   NOT NULL,
    node        TEXT   NOT NULL,
    qty         BIGINT NOT NULL CHECK (qty > 0),
    PRIMARY KEY (reservation, line, node)
);
CREATE TABLE reservation_nodes (
    reservation TEXT   NOT NULL REFERENCES reservations (id),
    node        TEXT   NOT NULL,
    shipments   BIGINT NOT NULL CHECK (shipments > 0),
    PRIMARY KEY (reservation, node)
);

-- Every change to stock and load, appended in the transaction that makes it: the sums
-- of its deltas are the current on_hand, reserved and load.
CREATE TABLE ledger (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    at             BIGINT  NOT NULL,
    -- import, hold, commit, release, expire, set_on_hand
    event          TEXT    NOT NULL,
    reservation    TEXT,
    sku            TEXT,
    node           TEXT    NOT NULL,
    on_hand_delta  BIGINT  NOT NULL,
    reserved_delta BIGINT  NOT NULL,
    load_delta     BIGINT  NOT NULL
);

-- Routed orders by id: the idempotency key. `answer` is the JSON first returned.
CREATE TABLE orders (
    id          TEXT   PRIMARY KEY,
    body        TEXT   NOT NULL,
    answer      TEXT   NOT NULL,
    reservation TEXT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
