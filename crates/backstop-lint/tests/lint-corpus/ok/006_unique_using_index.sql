-- lock_timeout = "2s"
-- backstop:up
ALTER TABLE accounts ADD CONSTRAINT accounts_slug_key UNIQUE USING INDEX accounts_slug_idx;
-- backstop:down
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_slug_key;
