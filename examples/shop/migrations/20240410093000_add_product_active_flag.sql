-- description = "Soft-retire products instead of deleting them"
-- owner = "catalog-team"
-- backstop:up
ALTER TABLE products ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
-- backstop:allow create-index-non-concurrently the catalogue has a few hundred rows; the SHARE lock lasts milliseconds
CREATE INDEX products_active_idx ON products (active);

-- backstop:down
DROP INDEX products_active_idx;
ALTER TABLE products DROP COLUMN active;

-- backstop:verify
SELECT count(*) = count(active) FROM products;
