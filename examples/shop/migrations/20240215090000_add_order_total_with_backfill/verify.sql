-- every total equals the sum of its items
SELECT NOT EXISTS (
    SELECT 1
      FROM orders o
     WHERE o.total_cents <> (
           SELECT COALESCE(SUM(i.quantity * i.unit_price_cents), 0)
             FROM order_items i
            WHERE i.order_id = o.id)
);
