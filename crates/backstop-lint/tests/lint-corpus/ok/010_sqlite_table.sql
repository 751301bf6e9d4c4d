-- engine: sqlite
-- backstop:up
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS notes_created_at ON notes (created_at);
ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
-- backstop:down
DROP TABLE IF EXISTS notes;
