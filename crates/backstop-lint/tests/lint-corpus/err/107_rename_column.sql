-- expect: rename-column
-- lock_timeout = "2s"
-- backstop:up
ALTER TABLE customers RENAME COLUMN name TO full_name;
-- backstop:down
ALTER TABLE customers RENAME COLUMN full_name TO name;
