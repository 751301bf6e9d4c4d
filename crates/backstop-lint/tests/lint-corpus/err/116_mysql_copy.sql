-- expect: mysql-copy-algorithm, alter-column-type-rewrite
-- engine: mysql
-- backstop:up
ALTER TABLE orders MODIFY COLUMN notes MEDIUMTEXT, ALGORITHM=COPY, LOCK=SHARED;
-- backstop:down
ALTER TABLE orders MODIFY COLUMN notes TEXT;
