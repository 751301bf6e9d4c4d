-- expect: data-loss-without-contract, down-misses-dropped-object
-- lock_timeout = "2s"
-- backstop:up
DROP TABLE IF EXISTS legacy_sessions;
-- backstop:down
SELECT 1;
