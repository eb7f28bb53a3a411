-- The demo application's table (tests/tools/order_service.c). Every order
-- row records the unit that wrote it; loadgen check uses unit and created to
-- prove that no buyer was written in two units at once.
CREATE TABLE orders (
    id       BIGINT      PRIMARY KEY,           -- chosen by the client, unique
    buyer_id BIGINT      NOT NULL,              -- the sharding column
    unit     VARCHAR(16) NOT NULL,              -- the unit that wrote the row
    amount   INT         NOT NULL DEFAULT 0,
    created  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY (buyer_id)
);
