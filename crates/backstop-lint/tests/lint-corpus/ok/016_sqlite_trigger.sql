-- engine: sqlite
-- A SQLite trigger is dropped by its name alone, without its table.
-- backstop:up
CREATE TRIGGER IF NOT EXISTS notes_touch AFTER UPDATE OF body ON notes
    FOR EACH ROW WHEN NEW.body <> OLD.body
BEGIN
    UPDATE notes SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;
-- backstop:down
DROP TRIGGER IF EXISTS notes_touch;
