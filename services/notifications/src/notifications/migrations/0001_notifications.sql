-- Sent notifications. UNIQUE (order_id, kind): a redelivered or re-published event never
-- notifies the customer twice.
CREATE TABLE notifications (
    id          uuid PRIMARY KEY,
    order_id    uuid NOT NULL,
    customer_id text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('order_confirmed', 'order_cancelled')),
    channel     text NOT NULL,
    subject     text NOT NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, kind)
);
CREATE INDEX notifications_customer ON notifications (customer_id, created_at DESC);
CREATE INDEX notifications_recent ON notifications (created_at DESC);
