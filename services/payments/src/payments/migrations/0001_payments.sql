-- One payment per order, captured or declined. The primary key is the last guard of
-- "money is captured at most once per order".
CREATE TABLE payments (
    order_id    uuid PRIMARY KEY,
    payment_id  uuid,
    customer_id text NOT NULL,
    amount      bigint NOT NULL CHECK (amount >= 0),
    currency    char(3) NOT NULL,
    status      text NOT NULL CHECK (status IN ('captured', 'declined')),
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'captured') = (payment_id IS NOT NULL))
);
CREATE INDEX payments_customer ON payments (customer_id, created_at DESC);
