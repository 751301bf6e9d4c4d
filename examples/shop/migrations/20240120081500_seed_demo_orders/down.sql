DELETE FROM order_items WHERE order_id IN (1, 2, 3, 4);
DELETE FROM orders WHERE id IN (1, 2, 3, 4);
DELETE FROM customers WHERE id IN (1, 2, 3);
