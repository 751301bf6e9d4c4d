-- expect: create-index-non-concurrently, missing-lock-timeout
-- backstop:up
CREATE INDEX orders_created_at_idx ON orders (created_at);
-- backstop:down
DROP INDEX IF EXISTS orders_created_at_idx;
