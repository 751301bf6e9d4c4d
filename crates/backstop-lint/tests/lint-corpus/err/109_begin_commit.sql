-- expect: transaction-control
-- lock_timeout = "2s"
-- backstop:up
BEGIN;
ALTER TABLE users ADD COLUMN IF NOT EXISTS locale text;
COMMIT;
-- backstop:down
ALTER TABLE users DROP COLUMN IF EXISTS locale;
