SELECT NOT EXISTS (SELECT 1 FROM order_items WHERE quantity <= 0);
