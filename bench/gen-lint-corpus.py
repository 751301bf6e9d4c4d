#!/usr/bin/env python3
"""Generate a deterministic PostgreSQL migration corpus for bench/lint.sh.

usage: gen-lint-corpus.py OUT_DIR [STATEMENTS] [PER_FILE]

Writes STATEMENTS statements (default 10000) into OUT_DIR/NNNNN_<name>.sql files of
PER_FILE statements each (default 10): a realistic mix of table creation, indexes,
column changes, constraints, backfills and drops, both safe and risky forms.
"""
import os
import random
import sys

out = sys.argv[1]
total = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
per_file = int(sys.argv[3]) if len(sys.argv) > 3 else 10
rng = random.Random(42)
os.makedirs(out, exist_ok=True)
for f in os.listdir(out):
    if f.endswith(".sql"):
        os.remove(os.path.join(out, f))

TYPES = ["bigint", "integer", "text", "varchar(255)", "boolean", "timestamptz", "timestamp", "numeric(12,2)", "jsonb", "uuid"]
tables = []


def col():
    return f"c_{rng.randrange(1000)}"


def stmt(i):
    global tables
    if not tables or rng.random() < 0.12:
        t = f"t_{i}"
        tables.append(t)
        cols = ",\n    ".join(f"{col()} {rng.choice(TYPES)}{' NOT NULL' if rng.random() < 0.4 else ''}" for _ in range(rng.randrange(2, 8)))
        return f"CREATE TABLE {t} (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    {cols},\n    created_at timestamptz NOT NULL DEFAULT now()\n);"
    t = rng.choice(tables)
    k = rng.randrange(14)
    c = col()
    return [
        f"CREATE INDEX {t}_{c}_idx ON {t} ({c});",
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {t}_{c}_idx2 ON {t} ({c}, created_at);",
        f"ALTER TABLE {t} ADD COLUMN {c} {rng.choice(TYPES)};",
        f"ALTER TABLE {t} ADD COLUMN {c} uuid NOT NULL DEFAULT gen_random_uuid();",
        f"ALTER TABLE {t} ALTER COLUMN {c} TYPE bigint;",
        f"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;",
        f"ALTER TABLE {t} ADD CONSTRAINT {t}_{c}_fk FOREIGN KEY ({c}) REFERENCES {rng.choice(tables)} (id) NOT VALID;",
        f"ALTER TABLE {t} ADD CONSTRAINT {t}_{c}_check CHECK ({c} IS NOT NULL);",
        f"UPDATE {t} SET {c} = lower({c}::text) WHERE id BETWEEN {i} AND {i + 1000};",
        f"UPDATE {t} SET {c} = now();",
        f"DELETE FROM {t} WHERE created_at < now() - interval '90 days';",
        f"ALTER TABLE {t} RENAME COLUMN {c} TO {c}_old;",
        f"ALTER TABLE {t} DROP COLUMN IF EXISTS {c};",
        f"INSERT INTO {t} ({c}) SELECT {c} FROM {rng.choice(tables)} WHERE {c} IS NOT NULL;",
    ][k]


n = 0
f = 0
while n < total:
    f += 1
    body = []
    for _ in range(min(per_file, total - n)):
        n += 1
        body.append(stmt(n))
    with open(os.path.join(out, f"{f:05d}_m{f}.sql"), "w") as fh:
        fh.write("\n\n".join(body) + "\n")
print(f"{out}: {f} files, {n} statements")
