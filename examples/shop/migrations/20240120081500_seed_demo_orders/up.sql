-- Demo accounts and orders for the staging shop.
INSERT INTO customers (id, email, name) VALUES
    (1, 'ada@example.com', 'Ada Lovelace'),
    (2, 'grace@example.com', 'Grace Hopper'),
    (3, 'edsger@example.com', 'Edsger Dijkstra');
INSERT INTO orders (id, customer_id, status, created_at) VALUES
    (1, 1, 'paid', '2024-01-20T08:00:00Z'),
    (2, 1, 'shipped', '2024-01-21T09:30:00Z'),
    (3, 2, 'new', '2024-01-22T10:45:00Z'),
    (4, 3, 'cancelled', '2024-01-22T11:00:00Z');
INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) VALUES
    (1, 1, 2, 1200), (1, 4, 1, 400),
    (2, 2, 1, 2500),
    (3, 3, 1, 1800), (3, 5, 2, 1500),
    (4, 1, 1, 1200);
