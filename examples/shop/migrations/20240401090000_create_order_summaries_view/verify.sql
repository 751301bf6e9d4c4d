SELECT count(*) = (SELECT count(*) FROM orders) FROM order_summaries;
