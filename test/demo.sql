-- clv demo: from raw CDNOW orders to scored customers, in SQL.
-- Run from the repository root: psql -X -v ON_ERROR_STOP=1 -f test/demo.sql
\pset footer off
\set QUIET on
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS clv_demo CASCADE;
CREATE SCHEMA clv_demo;
SET search_path = clv_demo, public;

\echo '== 1. Orders: the CDNOW sample (2,357 customers, 1997-01 .. 1998-06)'
CREATE TABLE raw (line text);
\copy raw FROM 'test/data/cdnow_sample.txt'
CREATE TABLE orders AS
SELECT f[2]::int AS customer_id,
       to_date(f[3], 'YYYYMMDD')::timestamptz AS ordered_at,
       f[5]::float8 AS amount
FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f FROM raw) r;
SELECT count(*) AS orders, count(DISTINCT customer_id) AS customers,
       min(ordered_at)::date AS first_day, max(ordered_at)::date AS last_day
FROM orders;

\echo '== 2. Customer summaries: calibration to 1997-09-30, holdout to 1998-06-30, in weeks'
CREATE TABLE customers AS
SELECT customer_id, (s).*
FROM (SELECT customer_id,
             clv_summary_holdout(ordered_at, amount, '1997-09-30', '1998-06-30',
                                 '1 day', '7 days') AS s
      FROM orders GROUP BY customer_id) q;
SELECT customer_id, frequency, round(recency::numeric, 2) AS recency, round(t::numeric, 2) AS t,
       round(monetary::numeric, 2) AS monetary, frequency_holdout,
       round(revenue_holdout::numeric, 2) AS revenue_holdout
FROM customers ORDER BY customer_id LIMIT 5;

\echo '== 3. A linear model of holdout spend, and a logistic model of "buys again"'
CREATE TABLE models AS
SELECT clv_linreg_fit(revenue_holdout, ARRAY[frequency, recency, t, monetary],
                      '{"features": ["frequency", "recency", "t", "monetary"]}') AS spend,
       clv_logreg_fit(frequency_holdout > 0, ARRAY[frequency, recency, t, monetary],
                      '{"features": ["frequency", "recency", "t", "monetary"]}') AS active
FROM customers;
SELECT term, round(coef::numeric, 4) AS coefficient, round(se::numeric, 4) AS std_error,
       round(p::numeric, 4) AS p_value
FROM models,
     LATERAL jsonb_array_elements_text(clv_model_info(spend) -> 'terms') WITH ORDINALITY a(term, k)
     JOIN LATERAL (SELECT (clv_model_info(spend) -> 'coefficients' ->> (k::int - 1))::float8 AS coef,
                          (clv_model_info(spend) -> 'std_errors' ->> (k::int - 1))::float8 AS se,
                          (clv_model_info(spend) -> 'p_values' ->> (k::int - 1))::float8 AS p) c ON true;
SELECT round((clv_model_info(spend) ->> 'r2')::numeric, 4) AS spend_r2,
       (clv_model_info(active) ->> 'converged')::boolean AS active_converged,
       (clv_model_info(active) ->> 'iterations')::int AS active_iterations,
       round((clv_model_info(active) ->> 'aic')::numeric, 2) AS active_aic
FROM models;

\echo '== 4. Score every customer'
CREATE TABLE scores AS
SELECT c.customer_id, c.revenue_holdout, c.frequency_holdout > 0 AS bought_again,
       clv_predict(m.spend, ARRAY[frequency, recency, t, monetary]) AS predicted_spend,
       clv_predict(m.active, ARRAY[frequency, recency, t, monetary]) AS p_active
FROM customers c, models m;

\echo '== 5. Evaluate'
SELECT round(clv_rmse(revenue_holdout, predicted_spend)::numeric, 3) AS rmse,
       round(clv_mae(revenue_holdout, predicted_spend)::numeric, 3) AS mae,
       round(clv_r2(revenue_holdout, predicted_spend)::numeric, 4) AS r2,
       round(clv_gini(revenue_holdout, predicted_spend)::numeric, 4) AS gini,
       round(clv_auc(bought_again, p_active)::numeric, 4) AS auc,
       round(clv_logloss(bought_again, p_active)::numeric, 4) AS logloss
FROM scores;

\echo '== 6. The top customers by predicted holdout spend'
SELECT customer_id, round(predicted_spend::numeric, 2) AS predicted_spend,
       round(p_active::numeric, 3) AS p_active, round(revenue_holdout::numeric, 2) AS actual_spend
FROM scores ORDER BY predicted_spend DESC, customer_id LIMIT 10;
