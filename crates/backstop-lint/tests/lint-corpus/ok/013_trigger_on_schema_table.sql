-- A trigger on a schema-qualified table, limited to one column and a condition; down.sql
-- drops it by its table, which is how PostgreSQL names it.
-- lock_timeout = "2s"
-- backstop:up
CREATE OR REPLACE FUNCTION billing.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER invoices_touch BEFORE UPDATE OF amount ON billing.invoices
    FOR EACH ROW WHEN (NEW.amount IS DISTINCT FROM OLD.amount)
    EXECUTE FUNCTION billing.touch_updated_at();
-- backstop:down
DROP TRIGGER IF EXISTS invoices_touch ON billing.invoices;
DROP FUNCTION IF EXISTS billing.touch_updated_at();
