-- Idempotency keys are remembered for IDEMPOTENCY_TTL (default 24 h) and then forgotten by a
-- sweep (orders.keys), oldest first: the table holds about a TTL's worth of keyed orders.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
