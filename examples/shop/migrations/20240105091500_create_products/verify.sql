SELECT NOT EXISTS (SELECT 1 FROM products WHERE price_cents < 0);
