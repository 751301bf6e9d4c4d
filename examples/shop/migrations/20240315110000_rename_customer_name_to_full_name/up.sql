-- backstop:allow rename-column the storefront release that reads full_name ships together with this migration
ALTER TABLE customers RENAME COLUMN name TO full_name;
