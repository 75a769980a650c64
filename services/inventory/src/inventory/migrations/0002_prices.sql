-- The catalogue's prices: what one unit of a SKU sells for, in integer minor units of `currency`.
-- `revision` counts the SKU's price changes (1 = its first price) and travels in
-- product.priced.v1, so consumers keep the newest price whatever order announcements arrive in.
CREATE TABLE prices (
    sku       text PRIMARY KEY,
    amount    bigint NOT NULL CHECK (amount BETWEEN 0 AND 1000000000000),
    currency  char(3) NOT NULL,
    revision  bigint NOT NULL CHECK (revision >= 1),
    priced_at timestamptz NOT NULL
);
