-- Return requests received, by id: the answer given, so that a repeat gets it again.
-- What a return brings back is added to `stock.on_hand` in the same transaction.
CREATE TABLE returns (
    id         TEXT   PRIMARY KEY,
    body       TEXT   NOT NULL,
    answer     TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
