-- expect: enum-value-used-in-transaction, missing-verify-for-data-migration, data-loss-without-contract
-- lock_timeout = "2s"
-- backstop:up
ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'refunded';
UPDATE orders SET status = 'refunded' WHERE refund_id IS NOT NULL;
-- backstop:down
SELECT 1;
