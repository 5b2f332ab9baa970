-- The data of the figures of doc/figures.md: the CDNOW sample, summarised and
-- fitted as in doc/btyd.md (steps 1 to 3).  Run from the repository root, in a
-- database of its own; each NAME.sql then reads these tables.
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE EXTENSION IF NOT EXISTS clv;

CREATE TABLE cdnow_raw (line text);
\copy cdnow_raw FROM 'test/data/cdnow_sample.txt'
CREATE TABLE cdnow_orders AS
SELECT f[2]::int AS customer_id,
       to_date(f[3], 'YYYYMMDD')::timestamptz AS ordered_at,
       f[5]::float8 AS amount
FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f FROM cdnow_raw) r;

-- calibration to 1997-09-30, holdout to 1998-06-30, purchases of a day merged,
-- time in weeks
CREATE TABLE cdnow AS
SELECT customer_id, (s).*
FROM (SELECT customer_id,
             clv_summary_holdout(ordered_at, amount, '1997-09-30', '1998-06-30',
                                 '1 day', '7 days') AS s
      FROM cdnow_orders GROUP BY customer_id) q;

CREATE TABLE cdnow_models AS
SELECT clv_bgnbd_fit(frequency, recency, t) AS purchases,
       clv_gammagamma_fit(frequency, monetary) AS spend
FROM cdnow;
