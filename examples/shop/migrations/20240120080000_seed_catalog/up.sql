-- The launch catalogue.
INSERT INTO products (id, sku, name, price_cents) VALUES
    (1, 'MUG-001', 'Enamel mug', 1200),
    (2, 'TEE-001', 'Logo T-shirt', 2500),
    (3, 'CAP-001', 'Cap', 1800),
    (4, 'STK-001', 'Sticker pack', 400),
    (5, 'BAG-001', 'Tote bag', 1500);
