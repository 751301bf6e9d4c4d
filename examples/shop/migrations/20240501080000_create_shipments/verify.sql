SELECT NOT EXISTS (
    SELECT 1 FROM orders o
     WHERE o.status = 'shipped'
       AND NOT EXISTS (SELECT 1 FROM shipments s WHERE s.order_id = o.id)
);
