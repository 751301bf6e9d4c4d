-- every customer has a plausible email address
SELECT NOT EXISTS (SELECT 1 FROM customers WHERE email NOT LIKE '%_@_%');
