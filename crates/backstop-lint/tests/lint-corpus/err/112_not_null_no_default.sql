-- expect: not-null-without-default
-- lock_timeout = "2s"
-- backstop:up
ALTER TABLE users ADD COLUMN IF NOT EXISTS tenant_id bigint NOT NULL;
-- backstop:down
ALTER TABLE users DROP COLUMN IF EXISTS tenant_id;
