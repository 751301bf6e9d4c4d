-- expect: set-not-null-without-check
-- lock_timeout = "2s"
-- backstop:up
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
-- backstop:down
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
