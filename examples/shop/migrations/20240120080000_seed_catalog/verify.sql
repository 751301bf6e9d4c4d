SELECT count(*) = 5 FROM products WHERE sku IN ('MUG-001', 'TEE-001', 'CAP-001', 'STK-001', 'BAG-001');
