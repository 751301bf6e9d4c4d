CREATE TABLE shipments (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    carrier     TEXT NOT NULL,
    tracking_no TEXT,
    shipped_at  TEXT NOT NULL
);
CREATE INDEX shipments_order_id_idx ON shipments (order_id);

-- Every order already marked shipped gets a shipment record.
INSERT INTO shipments (order_id, carrier, shipped_at)
SELECT id, 'legacy', created_at FROM orders WHERE status = 'shipped';
