-- lock_timeout = "2s"
-- backstop:up
ALTER TABLE users ADD COLUMN IF NOT EXISTS nickname text;
ALTER TABLE users ADD COLUMN IF NOT EXISTS marketing_opt_in boolean NOT NULL DEFAULT false;
-- backstop:down
ALTER TABLE users DROP COLUMN IF EXISTS marketing_opt_in;
ALTER TABLE users DROP COLUMN IF EXISTS nickname;
