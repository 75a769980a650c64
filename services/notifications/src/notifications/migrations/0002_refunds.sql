-- A third kind: the customer is told when money taken for a cancelled order was given back.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('order_confirmed', 'order_cancelled', 'payment_refunded'));
