-- expect: alter-column-type-rewrite
-- lock_timeout = "2s"
-- backstop:up
ALTER TABLE events ALTER COLUMN id TYPE bigint;
-- backstop:down
ALTER TABLE events ALTER COLUMN id TYPE integer;
