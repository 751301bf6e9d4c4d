-- the indexed columns exist; the index itself is part of the recorded schema fingerprint
SELECT count(*) >= 0 FROM orders WHERE customer_id = 1 AND status = 'paid';
