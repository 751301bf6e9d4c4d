CREATE VIEW order_summaries AS
SELECT o.id          AS order_id,
       c.email       AS customer_email,
       c.full_name   AS customer_name,
       o.status,
       o.total_cents
  FROM orders o
  JOIN customers c ON c.id = o.customer_id;
