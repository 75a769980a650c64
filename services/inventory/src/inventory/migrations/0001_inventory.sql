-- Stock levels and the reservations held against them. `available` counts units on the shelf that
-- no order holds; the CHECK makes overselling impossible even for a buggy writer.
CREATE TABLE stock (
    sku        text PRIMARY KEY,
    available  integer NOT NULL CHECK (available >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per order inventory has answered: 'held' (units taken from stock), 'released' (given
-- back after a cancellation) or 'rejected' (nothing held), so a redelivery answers the same.
-- `lines` is [{"sku": ..., "quantity": ...}], one entry per SKU.
CREATE TABLE reservations (
    order_id   uuid PRIMARY KEY,
    status     text NOT NULL CHECK (status IN ('held', 'released', 'rejected')),
    lines      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Finds the held reservations naming a SKU (`lines @> '[{"sku": ...}]'`) for GET /stock/{sku}.
CREATE INDEX reservations_held_lines ON reservations USING gin (lines jsonb_path_ops)
    WHERE status = 'held';
