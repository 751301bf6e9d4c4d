-- A finding suppressed with a reason is reported but doesn't fail.
-- lock_timeout = "2s"
-- backstop:up
-- backstop:allow create-index-non-concurrently feature_flags holds a few dozen rows
CREATE INDEX IF NOT EXISTS feature_flags_name_idx ON feature_flags (name);
-- backstop:down
DROP INDEX IF EXISTS feature_flags_name_idx;
