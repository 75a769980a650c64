-- Compensation: money is never kept for a cancelled order. A captured payment whose order was
-- cancelled first (its deadline passed) becomes 'refunded'; an order cancelled before any payment
-- is remembered in cancelled_orders, so a later stock.reserved for it is declined, never charged.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments DROP CONSTRAINT payments_check;
ALTER TABLE payments ADD COLUMN refunded_at timestamptz;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('captured', 'declined', 'refunded'));
ALTER TABLE payments ADD CONSTRAINT payments_payment_id_check
    CHECK ((status IN ('captured', 'refunded')) = (payment_id IS NOT NULL));
ALTER TABLE payments ADD CONSTRAINT payments_refunded_at_check
    CHECK ((status = 'refunded') = (refunded_at IS NOT NULL));

CREATE TABLE cancelled_orders (
    order_id     uuid PRIMARY KEY,
    reason       text NOT NULL,
    cancelled_at timestamptz NOT NULL
);
