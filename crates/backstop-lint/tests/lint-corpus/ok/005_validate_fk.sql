-- VALIDATE takes SHARE UPDATE EXCLUSIVE: reads and writes continue.
-- lock_timeout = "2s"
-- backstop:up
ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
-- backstop:down
SELECT 1;
