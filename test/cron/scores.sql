-- The scores of the `cron` stage (test/cron/stage.sh): the CDNOW sample as an orders
-- table, and the models and the scores view of test/cron/scores_view.sql.
-- Run from the repository root: psql -X -v ON_ERROR_STOP=1 -f test/cron/scores.sql
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS clv_cron CASCADE;
CREATE SCHEMA clv_cron;
SET search_path = clv_cron, public;

CREATE TABLE raw (line text);
\copy raw FROM 'test/data/cdnow_sample.txt'
CREATE TABLE orders (
    customer_id integer NOT NULL,
    ordered_at timestamptz NOT NULL,
    amount float8 NOT NULL
);
INSERT INTO orders
SELECT f[2]::int, to_date(f[3], 'YYYYMMDD')::timestamptz, f[5]::float8
FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f FROM raw) r;
DROP TABLE raw;
CREATE INDEX ON orders (customer_id);

\set as_of '1998-06-30'
\set calibration_end '1997-09-30'
\i test/cron/scores_view.sql
