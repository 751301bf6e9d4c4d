-- expect: sqlite-pragma-in-transaction, data-loss-without-contract
-- engine: sqlite
-- backstop:up
PRAGMA foreign_keys = OFF;
CREATE TABLE IF NOT EXISTS users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
INSERT INTO users_new (id, email) SELECT id, email FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
PRAGMA foreign_keys = ON;
-- backstop:down
SELECT 1;
