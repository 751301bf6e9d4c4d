#!/usr/bin/env python3
"""gen.py N DIR: N small, deterministic PostgreSQL migrations in backstop's folder layout,
plus DIR/all_up.sql and DIR/all_down.sql (each migration in BEGIN/COMMIT, downs in reverse
order) for the psql floor. The mix repeats every 5 migrations (block b creates t_{b+1}):
CREATE TABLE + index + FK, ADD COLUMN, CREATE INDEX, data change (INSERT + UPDATE),
ADD COLUMN NOT NULL DEFAULT + backfill."""
import os, sys

n, out = int(sys.argv[1]), sys.argv[2]
types = ["text", "integer", "boolean", "jsonb", "timestamptz", "varchar(64)", "numeric(10,2)"]
mig = os.path.join(out, "migrations")
os.makedirs(mig, exist_ok=True)
ups, downs = [], []
for i in range(1, n + 1):
    b, kind = (i - 1) // 5, (i - 1) % 5
    k = b + 1
    j = 1 + (b * 37 + 11) % k
    j2 = 1 + (b * 53 + 5) % k
    ty = types[b % len(types)]
    col = f"c_{i - kind + 1}"
    if kind == 0:
        name = f"create_t_{k}"
        fk = f"\n    parent_id   bigint REFERENCES t_{k-1} (id)," if k > 1 else ""
        up = (f"CREATE TABLE t_{k} (\n    id          bigserial PRIMARY KEY,{fk}\n    name        text NOT NULL,\n"
              f"    status      text NOT NULL DEFAULT 'new',\n    amount      numeric(12,2) NOT NULL DEFAULT 0,\n"
              f"    created_at  timestamptz NOT NULL DEFAULT now()\n);\nCREATE INDEX t_{k}_created_at_idx ON t_{k} (created_at);\n")
        down = f"DROP TABLE t_{k};\n"
    elif kind == 1:
        name = f"add_{col}_to_t_{j}"
        up, down = f"ALTER TABLE t_{j} ADD COLUMN {col} {ty};\n", f"ALTER TABLE t_{j} DROP COLUMN {col};\n"
    elif kind == 2:
        name = f"index_t_{j}_{col}"
        up, down = f"CREATE INDEX t_{j}_{col}_idx ON t_{j} ({col});\n", f"DROP INDEX t_{j}_{col}_idx;\n"
    elif kind == 3:
        name = f"seed_t_{k}"
        up = (f"INSERT INTO t_{k} (name, amount)\nSELECT 'm{i}-' || g, g * 1.5 FROM generate_series(1, 50) AS g;\n"
              f"UPDATE t_{k} SET status = 'active' WHERE name LIKE 'm{i}-%' AND amount > 30;\n")
        down = f"DELETE FROM t_{k} WHERE name LIKE 'm{i}-%';\n"
    else:
        name = f"add_flag_{i}_to_t_{j2}"
        up = f"ALTER TABLE t_{j2} ADD COLUMN flag_{i} boolean NOT NULL DEFAULT false;\nUPDATE t_{j2} SET flag_{i} = true WHERE status = 'active';\n"
        down = f"ALTER TABLE t_{j2} DROP COLUMN flag_{i};\n"
    d = os.path.join(mig, f"{i:05d}_{name}")
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "up.sql"), "w").write(up)
    open(os.path.join(d, "down.sql"), "w").write(down)
    ups.append(f"BEGIN;\n{up}COMMIT;\n")
    downs.append(f"BEGIN;\n{down}COMMIT;\n")
open(os.path.join(out, "all_up.sql"), "w").write("".join(ups))
open(os.path.join(out, "all_down.sql"), "w").write("".join(reversed(downs)))
