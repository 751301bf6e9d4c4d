-- A new table with its indexes: everything here is new, so nothing is locked.
-- backstop:up
CREATE TABLE public.users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    display_name text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON public.users (email);
CREATE INDEX users_created_at_idx ON public.users (created_at);
-- backstop:down
DROP TABLE public.users;
