-- expect: add-foreign-key-without-not-valid, add-check-without-not-valid
-- lock_timeout = "2s"
-- backstop:up
ALTER TABLE payments ADD CONSTRAINT payments_invoice_fk FOREIGN KEY (invoice_id) REFERENCES invoices (id);
ALTER TABLE payments ADD CONSTRAINT payments_amount_positive CHECK (amount > 0);
-- backstop:down
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_amount_positive;
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_invoice_fk;
