-- Denormalised order total, so listing pages stop summing items on every request.
ALTER TABLE orders ADD COLUMN total_cents INTEGER NOT NULL DEFAULT 0;

-- Backfill from the items of every existing order.
UPDATE orders
   SET total_cents = (
       SELECT COALESCE(SUM(i.quantity * i.unit_price_cents), 0)
         FROM order_items i
        WHERE i.order_id = orders.id
   );
