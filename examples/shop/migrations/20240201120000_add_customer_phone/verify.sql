-- the column exists and is readable (errors if it is missing)
SELECT count(*) >= 0 FROM (SELECT phone FROM customers) AS t;
