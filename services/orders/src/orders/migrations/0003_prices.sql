-- The catalogue's prices as inventory announced them (product.priced.v1): a read model, written
-- only by the price handler, read when an order is placed. The highest `revision` of a SKU wins,
-- so a late or repeated announcement never rolls a price back.
CREATE TABLE prices (
    sku        text PRIMARY KEY,
    amount     bigint NOT NULL CHECK (amount BETWEEN 0 AND 1000000000000),
    currency   char(3) NOT NULL,
    revision   bigint NOT NULL CHECK (revision >= 1),
    priced_at  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
