-- expect: non-deterministic-backfill, missing-verify-for-data-migration, update-without-where
-- lock_timeout = "2s"
-- backstop:up
ALTER TABLE users ADD COLUMN IF NOT EXISTS activated_at timestamptz;
UPDATE users SET activated_at = now();
-- backstop:down
ALTER TABLE users DROP COLUMN IF EXISTS activated_at;
