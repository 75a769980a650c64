-- Orders and their history. Lines are stored with the order (they never change after placement).
CREATE TABLE orders (
    id          uuid PRIMARY KEY,
    customer_id text NOT NULL,
    currency    char(3) NOT NULL,
    lines       jsonb NOT NULL,
    total       bigint NOT NULL CHECK (total >= 0),
    status      text NOT NULL CHECK (status IN ('pending', 'reserved', 'confirmed', 'cancelled')),
    trace_id    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer ON orders (customer_id, created_at DESC);
CREATE INDEX orders_status ON orders (status, created_at DESC);

CREATE TABLE order_history (
    order_id uuid NOT NULL REFERENCES orders (id),
    seq      integer NOT NULL,
    at       timestamptz NOT NULL,
    status   text NOT NULL,
    note     text NOT NULL,
    PRIMARY KEY (order_id, seq)
);
