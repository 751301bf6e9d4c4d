-- expect: add-column-volatile-default, non-deterministic-backfill
-- lock_timeout = "2s"
-- backstop:up
ALTER TABLE orders ADD COLUMN IF NOT EXISTS public_id uuid NOT NULL DEFAULT gen_random_uuid();
-- backstop:down
ALTER TABLE orders DROP COLUMN IF EXISTS public_id;
