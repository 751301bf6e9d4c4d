-- expect: statement-not-in-transaction
-- lock_timeout = "2s"
-- backstop:up
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_last_seen_idx ON users (last_seen_at);
-- backstop:down
DROP INDEX IF EXISTS users_last_seen_idx;
