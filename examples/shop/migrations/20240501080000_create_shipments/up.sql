CREATE TABLE shipments (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    carrier     TEXT NOT NULL,
    tracking_no TEXT,
    shipped_at  TEXT NOT NULL
);
CREATE INDEX shipments_order_id_idx ON shipments (order_id);

-- Every order already marked shipped gets one legacy shipment record (same id as the order).
INSERT INTO shipments (id, order_id, carrier, shipped_at)
SELECT id, id, 'legacy', created_at FROM orders WHERE status = 'shipped';
