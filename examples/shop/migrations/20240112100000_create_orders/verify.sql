-- no order points at a missing customer
SELECT NOT EXISTS (
    SELECT 1 FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL
);
