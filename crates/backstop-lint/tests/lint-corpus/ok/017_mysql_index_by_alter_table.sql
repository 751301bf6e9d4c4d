-- engine: mysql
-- An index created with CREATE INDEX and dropped with ALTER TABLE … DROP INDEX.
-- backstop:up
CREATE INDEX invoices_total_idx ON invoices (total) ALGORITHM=INPLACE LOCK=NONE;
-- backstop:down
ALTER TABLE invoices DROP INDEX invoices_total_idx, ALGORITHM=INPLACE, LOCK=NONE;
