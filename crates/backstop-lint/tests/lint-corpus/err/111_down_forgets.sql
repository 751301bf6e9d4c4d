-- expect: down-keeps-created-object, down-keeps-added-column
-- lock_timeout = "2s"
-- backstop:up
CREATE TABLE IF NOT EXISTS invites (id bigint PRIMARY KEY, email text NOT NULL);
ALTER TABLE users ADD COLUMN IF NOT EXISTS invited_by bigint;
-- backstop:down
SELECT 1;
