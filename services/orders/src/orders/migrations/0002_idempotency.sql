-- Idempotency keys belong to a customer: (customer, key) -> the order it placed, and a SHA-256 of
-- the request it came with (the same key with another body is refused). Order ids are random,
-- never derived from the key, so nobody can compute or squat another customer's order.
CREATE TABLE idempotency_keys (
    customer_id text NOT NULL,
    key         text NOT NULL,
    fingerprint bytea NOT NULL,
    order_id    uuid NOT NULL REFERENCES orders (id) DEFERRABLE INITIALLY DEFERRED,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, key)
);
