-- expect: invalid-suppression, create-index-non-concurrently
-- lock_timeout = "2s"
-- backstop:up
-- backstop:allow create-index-non-concurrently
CREATE INDEX IF NOT EXISTS orders_status_idx ON orders (status);
-- backstop:down
DROP INDEX IF EXISTS orders_status_idx;
