-- Tables of the distributed suite (test/citus/suite.py), on the coordinator, run from
-- the repository root.  agg_rows_local is an ordinary table; agg_rows holds the same
-- rows hash-distributed by customer_id over four shards, so that every shard, and both
-- workers, get rows.  Each row has a column for every argument an aggregate may take
-- (as in sql/aggregate_forms.sql), here for all 2,357 CDNOW customers, on which every
-- fit converges.  The model argument comes from agg_model, a reference table (a copy
-- on every node), and from its local twin agg_model_local.
SET client_min_messages = warning;
SET timezone = 'UTC';
DROP TABLE IF EXISTS agg_cbs, agg_rows_local, agg_rows, agg_model_local, agg_model,
    agg_spend_model_local, agg_spend_model;

\set cbs agg_cbs
\i test/data/cdnow_cbs.sql
CREATE TABLE agg_rows_local AS
SELECT cust::bigint AS customer_id, cust AS i, x::float8 AS frequency, t_x AS recency,
       t_cal AS t, CASE WHEN x > 0 THEN m_x ELSE 15 END AS monetary,
       m_x * x + t_cal AS y_float8, x_star > 0 AS y_bool,
       ARRAY[x, t_x, t_cal, (cust * 7919) % 97]::float8[] AS x_array,
       x::float8 + 0.5 AS prediction, 1 - exp(-0.4 * (x + 0.5)) AS probability,
       '1997-01-01'::timestamptz + (cust % 300) * interval '1 day' AS ordered_at,
       m_x + 1 AS amount, (cust % 13)::float8 AS acquired
FROM agg_cbs;
-- the linear-regression statistics of each row alone, which clv_state_merge adds up
ALTER TABLE agg_rows_local ADD state clv_state;
UPDATE agg_rows_local
SET state = (SELECT clv_linreg_stats(v.y, v.x) FROM (VALUES (y_float8, x_array)) v(y, x));
CREATE TABLE agg_rows (LIKE agg_rows_local);
SELECT create_distributed_table('agg_rows', 'customer_id', shard_count := 4);
INSERT INTO agg_rows SELECT * FROM agg_rows_local;

CREATE TABLE agg_model_local AS SELECT clv_bgnbd_fit(x, t_x, t_cal) AS model FROM agg_cbs;
CREATE TABLE agg_model AS SELECT * FROM agg_model_local;
SELECT create_reference_table('agg_model');
VACUUM ANALYZE agg_rows_local, agg_rows, agg_model_local, agg_model;
