-- expect: syntax-error
-- lock_timeout = "2s"
-- backstop:up
ALTER TABLE users ADD COLUMN IF NOT EXISTS score integer DEFALT 0;
-- backstop:down
ALTER TABLE users DROP COLUMN IF EXISTS score;
