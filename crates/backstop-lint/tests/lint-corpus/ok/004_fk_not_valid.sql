-- lock_timeout = "2s"
-- backstop:up
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
-- backstop:down
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_customer_fk;
