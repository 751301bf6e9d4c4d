SELECT count(*) = count(full_name) FROM customers;
