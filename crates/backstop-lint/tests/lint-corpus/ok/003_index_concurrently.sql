-- transaction = false
-- lock_timeout = "2s"
-- backstop:up
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON orders (customer_id);
-- backstop:down
DROP INDEX CONCURRENTLY IF EXISTS orders_customer_id_idx;
