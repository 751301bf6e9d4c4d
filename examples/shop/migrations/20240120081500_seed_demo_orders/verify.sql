SELECT count(*) = 4 FROM orders WHERE id IN (1, 2, 3, 4);
