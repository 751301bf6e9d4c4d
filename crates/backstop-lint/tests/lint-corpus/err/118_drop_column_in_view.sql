-- expect: drop-column-used-by-view
-- lock_timeout = "2s"
-- backstop:up
CREATE TABLE IF NOT EXISTS members (id bigint, nickname text);
CREATE OR REPLACE VIEW member_names AS SELECT id, nickname FROM members;
ALTER TABLE members DROP COLUMN IF EXISTS nickname;
-- backstop:down
DROP VIEW IF EXISTS member_names;
DROP TABLE IF EXISTS members;
