-- Adding an enum value is fine; using it waits for the next migration.
-- backstop:up
ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'refunded' AFTER 'paid';
-- backstop:down
SELECT 1;
