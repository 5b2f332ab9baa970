-- The tutorial's pipeline (doc/tutorial.md): orders -> clv_summary_holdout per
-- customer -> fits -> scores -> metrics, in schema :schema, from the repository root.
-- With :distributed true, each table is distributed right after it is created (orders
-- and customers by customer_id, the models as a reference table); the statements are
-- otherwise the same, so test/citus/suite.py can compare what the two runs print.
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE SCHEMA :schema;
SET search_path = :schema, public;

CREATE TABLE cdnow_raw (line text);
\copy cdnow_raw FROM 'test/data/cdnow_sample.txt'

CREATE TABLE orders AS
SELECT f[2]::int                              AS customer_id,
       to_date(f[3], 'YYYYMMDD')::timestamptz AS ordered_at,
       f[5]::float8                           AS amount
FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f
      FROM cdnow_raw) r;
\if :distributed
SELECT create_distributed_table('orders', 'customer_id', shard_count := 4);
\endif

CREATE TABLE customers AS
SELECT customer_id, (s).*
FROM (SELECT customer_id,
             clv_summary_holdout(ordered_at, amount,
                                 '1997-09-30', '1998-06-30',
                                 '1 day', '7 days') AS s
      FROM orders
      GROUP BY customer_id) q;
\if :distributed
SELECT create_distributed_table('customers', 'customer_id', colocate_with := 'orders');
\endif

CREATE TABLE models AS
SELECT clv_linreg_fit(revenue_holdout,
                      ARRAY[frequency, recency, t, monetary],
                      '{"features": ["frequency", "recency", "t", "monetary"]}') AS spend
FROM customers;
ALTER TABLE models ADD COLUMN active bytea, ADD COLUMN bgnbd bytea, ADD COLUMN gg bytea;
UPDATE models
SET active = (SELECT clv_logreg_fit(frequency_holdout > 0,
                                    ARRAY[frequency, recency, t, monetary],
                                    '{"features": ["frequency", "recency", "t", "monetary"]}')
              FROM customers),
    bgnbd = (SELECT clv_bgnbd_fit(frequency, recency, t) FROM customers),
    gg = (SELECT clv_gammagamma_fit(frequency, monetary) FROM customers WHERE frequency > 0);
\if :distributed
SELECT create_reference_table('models');
\endif

CREATE TABLE scores AS
SELECT c.customer_id,
       c.revenue_holdout,
       c.frequency_holdout > 0 AS bought_again,
       clv_predict(m.spend,  ARRAY[c.frequency, c.recency, c.t, c.monetary]) AS predicted_spend,
       clv_predict(m.active, ARRAY[c.frequency, c.recency, c.t, c.monetary]) AS p_active,
       clv_palive(m.bgnbd, c.frequency, c.recency, c.t) AS p_alive,
       clv_expected_purchases(m.bgnbd, 39, c.frequency, c.recency, c.t) AS expected_purchases
FROM customers c CROSS JOIN models m;
\if :distributed
SELECT create_distributed_table('scores', 'customer_id', colocate_with := 'orders');
\endif

-- What the two runs must agree on: the models byte for byte, the summaries, the
-- metrics and every customer's scores.
\pset format unaligned
\pset tuples_only on
\pset fieldsep '\t'
SELECT 'models', md5(spend), md5(active), md5(bgnbd), md5(gg) FROM models;
SELECT 'customers', count(*), sum(frequency), sum(recency), sum(t), sum(monetary),
       sum(frequency_holdout), sum(revenue_holdout)
FROM customers;
SELECT 'metrics', clv_rmse(revenue_holdout, predicted_spend), clv_mae(revenue_holdout, predicted_spend),
       clv_r2(revenue_holdout, predicted_spend), clv_gini(revenue_holdout, predicted_spend),
       clv_auc(bought_again, p_active), clv_logloss(bought_again, p_active)
FROM scores;
SELECT 'customer', c.*, s.predicted_spend, s.p_active, s.p_alive, s.expected_purchases
FROM customers c JOIN scores s USING (customer_id)
ORDER BY customer_id;
