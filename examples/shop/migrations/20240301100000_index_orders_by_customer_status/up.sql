-- backstop:allow create-index-non-concurrently orders is small in the shop; building inside the migration's transaction keeps the change atomic and portable to SQLite
CREATE INDEX orders_customer_status_idx ON orders (customer_id, status);
