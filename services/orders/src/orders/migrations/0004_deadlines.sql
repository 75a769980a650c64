-- The saga deadline: an order not terminal by deadline_at is cancelled (deadline_exceeded) by
-- the sweeper. Fixed when the order is placed, so a restart or a changed setting never moves the
-- deadline of an order already placed. Orders placed before this migration get the default 15 min.
ALTER TABLE orders ADD COLUMN deadline_at timestamptz;
UPDATE orders SET deadline_at = created_at + interval '15 minutes';
ALTER TABLE orders ALTER COLUMN deadline_at SET NOT NULL;
-- Only open orders are ever swept: the index stays as small as the orders in flight.
CREATE INDEX orders_open_deadline ON orders (deadline_at) WHERE status IN ('pending', 'reserved');
