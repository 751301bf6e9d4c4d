-- A data migration with a contract (the old values were backed up) and a verify script.
-- transaction = false
-- lock_timeout = "2s"
-- [contract]
-- data_loss = "accepted"
-- backstop:up
UPDATE users SET email = lower(email) WHERE email <> lower(email) AND id BETWEEN 1 AND 50000;
-- backstop:down
SELECT 1;
-- backstop:verify
SELECT count(*) = 0 FROM users WHERE email <> lower(email) AND id BETWEEN 1 AND 50000;
