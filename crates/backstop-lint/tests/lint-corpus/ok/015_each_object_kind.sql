-- One ordinary statement of each object kind, and a down.sql that drops each by the
-- name PostgreSQL gives it.
-- lock_timeout = "2s"
-- backstop:up
CREATE SCHEMA IF NOT EXISTS AUTHORIZATION reporting;
CREATE TABLE IF NOT EXISTS app.daily (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text NOT NULL);
CREATE INDEX ON app.daily (lower(label));
CREATE OR REPLACE VIEW app.daily_labels AS SELECT id, label FROM app.daily;
CREATE SEQUENCE IF NOT EXISTS app.batch_seq;
CREATE TYPE app.mood AS ENUM ('ok', 'bad');
CREATE TYPE app.span AS RANGE (subtype = int4);
CREATE DOMAIN app.label AS text;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE PROCEDURE app.refresh_daily() LANGUAGE sql AS $$SELECT 1$$;
CREATE AGGREGATE app.total(int) (sfunc = int4pl, stype = int);
CREATE TRIGGER daily_touch BEFORE UPDATE ON app.daily FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE POLICY daily_read ON app.daily FOR SELECT USING (true);
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE ROLE reporting_reader;
-- backstop:down
DROP ROLE IF EXISTS reporting_reader;
DROP EXTENSION IF EXISTS pgcrypto;
DROP POLICY IF EXISTS daily_read ON app.daily;
DROP TRIGGER IF EXISTS daily_touch ON app.daily;
DROP ROUTINE IF EXISTS app.total(int);
DROP PROCEDURE IF EXISTS app.refresh_daily();
DROP FUNCTION IF EXISTS app.touch();
DROP DOMAIN IF EXISTS app.label;
DROP TYPE IF EXISTS app.span, app.mood;
DROP SEQUENCE IF EXISTS app.batch_seq;
DROP VIEW IF EXISTS app.daily_labels;
DROP INDEX IF EXISTS app.daily_lower_idx;
DROP TABLE IF EXISTS app.daily;
DROP SCHEMA IF EXISTS reporting;
