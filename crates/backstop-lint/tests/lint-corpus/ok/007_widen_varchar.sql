-- Binary-coercible type changes don't rewrite; the old type is known from the CREATE.
-- backstop:up
CREATE TABLE IF NOT EXISTS tags (name varchar(40) NOT NULL);
ALTER TABLE tags ALTER COLUMN name TYPE varchar(80);
ALTER TABLE tags ALTER COLUMN name TYPE text;
-- backstop:down
DROP TABLE IF EXISTS tags;
