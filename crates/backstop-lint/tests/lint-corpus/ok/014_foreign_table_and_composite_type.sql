-- Columns of a foreign table and attributes of a composite type: neither stores rows
-- here, so changing them rewrites, scans and destroys nothing.
-- lock_timeout = "2s"
-- backstop:up
ALTER FOREIGN TABLE remote.orders ADD COLUMN fetched_at timestamptz DEFAULT now();
ALTER FOREIGN TABLE remote.orders ALTER COLUMN total TYPE numeric(14,2);
ALTER FOREIGN TABLE remote.orders ALTER COLUMN customer_id SET NOT NULL;
ALTER FOREIGN TABLE remote.orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);
ALTER FOREIGN TABLE remote.orders DROP COLUMN IF EXISTS legacy_code;
ALTER TYPE billing.money_pair ADD ATTRIBUTE currency text;
ALTER TYPE billing.money_pair ALTER ATTRIBUTE amount TYPE numeric(14,2);
-- backstop:down
ALTER TYPE billing.money_pair ALTER ATTRIBUTE amount TYPE numeric(12,2);
ALTER TYPE billing.money_pair DROP ATTRIBUTE IF EXISTS currency;
ALTER FOREIGN TABLE remote.orders ADD COLUMN IF NOT EXISTS legacy_code text;
ALTER FOREIGN TABLE remote.orders DROP CONSTRAINT IF EXISTS orders_total_positive;
ALTER FOREIGN TABLE remote.orders ALTER COLUMN customer_id DROP NOT NULL;
ALTER FOREIGN TABLE remote.orders ALTER COLUMN total TYPE numeric(12,2);
ALTER FOREIGN TABLE remote.orders DROP COLUMN IF EXISTS fetched_at;
