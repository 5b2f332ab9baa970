-- clv demo: from raw CDNOW orders to a scored table a BI tool can read, in SQL.
-- Run from the repository root: psql -X -v ON_ERROR_STOP=1 -f test/demo.sql
-- doc/tutorial.md walks the same path, with the reasoning behind each step.
\pset footer off
\set QUIET on
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS clv_demo CASCADE;
CREATE SCHEMA clv_demo;
SET search_path = clv_demo, public;

\echo
\echo '== 1. Orders: the CDNOW sample, customers acquired in 1997 Q1 and followed to 1998-06-30'
CREATE TABLE raw (line text);
\copy raw FROM 'test/data/cdnow_sample.txt'
CREATE TABLE orders AS
SELECT f[2]::int AS customer_id,
       to_date(f[3], 'YYYYMMDD')::timestamptz AS ordered_at,
       f[5]::float8 AS amount
FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f FROM raw) r;
SELECT count(*) AS orders, count(DISTINCT customer_id) AS customers,
       min(ordered_at)::date AS first_day, max(ordered_at)::date AS last_day,
       round(sum(amount)) AS revenue
FROM orders;

\echo '== 2. Customer summaries: calibration to 1997-09-30, then a 39-week holdout to 1998-06-30'
\echo '   frequency = repeat purchase days, recency and t in weeks, monetary = mean repeat purchase'
CREATE TABLE customers AS
SELECT customer_id, (s).*
FROM (SELECT customer_id,
             clv_summary_holdout(ordered_at, amount, '1997-09-30', '1998-06-30',
                                 '1 day', '7 days') AS s
      FROM orders GROUP BY customer_id) q;
SELECT customer_id, frequency, round(recency::numeric, 2) AS recency, round(t::numeric, 2) AS t,
       round(monetary::numeric, 2) AS monetary, frequency_holdout,
       round(revenue_holdout::numeric, 2) AS revenue_holdout
FROM customers ORDER BY customer_id LIMIT 3;

\echo '== 3. Fit BG/NBD (how often, and for how long, customers buy) and Gamma-Gamma (how much)'
CREATE TABLE models AS
SELECT clv_bgnbd_fit(frequency, recency, t) AS purchases,
       clv_gammagamma_fit(frequency, monetary) AS spend
FROM customers;
SELECT i ->> 'kind' AS model, i -> 'converged' AS converged,
       string_agg(format('%s = %s', k, round((i -> 'params' ->> k)::numeric, 3)), ', ' ORDER BY n)
           AS parameters
FROM models,
     LATERAL (VALUES (clv_model_info(purchases)), (clv_model_info(spend))) AS v(i),
     unnest(ARRAY['r', 'alpha', 'a', 'b', 'p', 'q', 'gamma']) WITH ORDINALITY AS u(k, n)
WHERE i -> 'params' ? k
GROUP BY i ORDER BY model;

\echo '== 4. Lifetime value: next year''s discounted revenue (10 % a year), and the holdout forecast'
CREATE TABLE scores AS
SELECT c.customer_id, c.frequency, c.recency, c.t, c.monetary,
       clv_palive(m.purchases, c.frequency, c.recency, c.t) AS p_alive,
       clv_expected_purchases(m.purchases, c.duration_holdout, c.frequency, c.recency, c.t)
           AS purchases_holdout,
       clv_lifetime_value(m.purchases, m.spend, c.frequency, c.recency, c.t, c.monetary,
                          c.duration_holdout * interval '7 days', '7 days', 0) AS revenue_holdout,
       clv_lifetime_value(m.purchases, m.spend, c.frequency, c.recency, c.t, c.monetary,
                          '1 year', '7 days', 0.10) AS ltv,
       c.frequency_holdout AS actual_purchases, c.revenue_holdout AS actual_revenue
FROM customers c CROSS JOIN models m;
SELECT customer_id, frequency, round(recency::numeric, 1) AS recency,
       round(monetary::numeric, 2) AS monetary, round(p_alive::numeric, 3) AS p_alive,
       round(ltv::numeric, 2) AS ltv_1y
FROM scores ORDER BY ltv DESC, customer_id LIMIT 5;

\echo '== 5. Check against the holdout: predicted vs actual purchases and revenue, 1997-10 .. 1998-06'
SELECT round(sum(purchases_holdout)) AS purchases_predicted, sum(actual_purchases) AS purchases_actual,
       round(sum(revenue_holdout)) AS revenue_predicted, round(sum(actual_revenue)) AS revenue_actual,
       round(clv_mae(actual_purchases, purchases_holdout)::numeric, 3) AS mae_purchases
FROM scores;
\echo '   ... by the number of repeat purchases in the calibration period (means per customer)'
SELECT CASE WHEN frequency >= 5 THEN '5+' ELSE frequency::text END AS repeat_purchases,
       count(*) AS customers,
       round(avg(purchases_holdout)::numeric, 2) AS purchases_predicted,
       round(avg(actual_purchases)::numeric, 2) AS purchases_actual,
       round(avg(revenue_holdout)::numeric, 2) AS revenue_predicted,
       round(avg(actual_revenue)::numeric, 2) AS revenue_actual
FROM scores GROUP BY 1 ORDER BY min(frequency);

\echo '== 6. Segments: value tiers by LTV (top 5 %, next 15 %, next 30 %, the rest) and RFM segments'
CREATE TABLE segments AS
SELECT s.customer_id, s.ltv, s.actual_revenue, s.vigintile,
       CASE WHEN vigintile <= 1 THEN 'platinum' WHEN vigintile <= 4 THEN 'gold'
            WHEN vigintile <= 10 THEN 'silver' ELSE 'bronze' END AS tier,
       s.t - s.recency AS weeks_since_last, s.frequency, s.monetary
FROM (SELECT *, ntile(20) OVER (ORDER BY ltv DESC, customer_id) AS vigintile
      FROM scores) s;
ALTER TABLE segments ADD COLUMN rfm_segment text;
UPDATE segments s
SET rfm_segment = clv_rfm_segment(clv_rfm_score(s.weeks_since_last, q.r_t, false),
                                  clv_rfm_score(s.frequency, q.f_t, true),
                                  clv_rfm_score(s.monetary, q.m_t, true))
FROM (SELECT percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY weeks_since_last) AS r_t,
             percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY frequency) AS f_t,
             percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY monetary) AS m_t
      FROM segments) q;
\echo '   The tiers hold up: the top 20 % by predicted LTV brought most of the holdout revenue'
SELECT tier, count(*) AS customers, round(min(ltv)::numeric, 2) AS min_ltv,
       round(avg(ltv)::numeric, 2) AS mean_ltv,
       round((100 * sum(ltv) / sum(sum(ltv)) OVER ())::numeric, 1) AS pct_of_ltv,
       round((100 * sum(actual_revenue) / sum(sum(actual_revenue)) OVER ())::numeric, 1)
           AS pct_of_holdout_revenue
FROM segments GROUP BY tier ORDER BY min(vigintile);
SELECT rfm_segment, count(*) AS customers, round(avg(ltv)::numeric, 2) AS mean_ltv,
       count(*) FILTER (WHERE tier IN ('platinum', 'gold')) AS platinum_or_gold
FROM segments GROUP BY rfm_segment ORDER BY mean_ltv DESC;

\echo '== 7. Marketing budget: $1,000 for a retention campaign'
\echo '   Assumed response: spending s dollars on a customer adds 15 % x (1 - exp(-s / 2)) to their LTV.'
\echo '   Across tiers (clv_allocate_budget, on each tier''s response curve at $0.50 .. $8 a customer):'
CREATE TABLE response_curves AS
SELECT tier, count(*) * s AS spend, sum(ltv) * 0.15 * (1 - exp(-s / 2)) AS response
FROM segments, unnest(ARRAY[0.5, 1, 2, 4, 8]) AS s
GROUP BY tier, s;
SELECT a.segment AS tier, round(a.spend) AS spend, round(a.response) AS added_revenue,
       round(a.marginal::numeric, 2) AS marginal_return
FROM (SELECT clv_allocate_budget(tier, spend, response, 1000) AS plan FROM response_curves) p,
     jsonb_to_recordset(p.plan -> 'segments') AS a(segment text, spend float8, response float8,
                                                   marginal float8)
ORDER BY array_position(ARRAY['platinum', 'gold', 'silver', 'bronze'], a.segment);
\echo '   Customer by customer (clv_budget_threshold): an e-mail ($0.50, +3 % of LTV) or a catalogue'
\echo '   ($3, +10 % of LTV); each customer gets the offer with the largest gain - lambda x cost > 0'
CREATE TABLE offers AS
SELECT customer_id, offer, ltv * lift AS gain, cost
FROM segments,
     (VALUES ('e-mail', 0.50, 0.03), ('catalogue', 3.00, 0.10)) AS o(offer, cost, lift);
CREATE TABLE targeted AS
WITH price AS (SELECT clv_budget_threshold(gain, cost, 1000, customer_id) AS lambda FROM offers)
SELECT DISTINCT ON (customer_id) customer_id, offer, gain, cost, lambda
FROM offers, price
WHERE gain - lambda * cost > 0
ORDER BY customer_id, gain - lambda * cost DESC, cost;
SELECT round(min(lambda)::numeric, 3) AS lambda, count(*) AS customers_targeted,
       round(sum(cost)) AS spend, round(sum(gain)) AS added_revenue
FROM targeted;
SELECT s.tier, count(*) FILTER (WHERE t.offer = 'catalogue') AS catalogues,
       count(*) FILTER (WHERE t.offer = 'e-mail') AS e_mails,
       count(*) FILTER (WHERE t.offer IS NULL) AS nothing,
       round(coalesce(sum(t.cost), 0)) AS spend
FROM segments s LEFT JOIN targeted t USING (customer_id)
GROUP BY s.tier ORDER BY min(s.vigintile);

\echo '== 8. The scored table a BI tool reads: a materialized view, refreshed e.g. nightly'
\echo '   Each refresh summarises all orders up to the as-of date, refits both models and rescores.'
CREATE MATERIALIZED VIEW customer_value AS
WITH summary AS (
    SELECT customer_id,
           (clv_summary(ordered_at, amount, '1998-06-30', '1 day', '7 days')).*  -- as of "today"
    FROM orders GROUP BY customer_id),
fit AS (
    SELECT clv_bgnbd_fit(frequency, recency, t) AS purchases,
           clv_gammagamma_fit(frequency, monetary) AS spend
    FROM summary),
scored AS (
    SELECT s.customer_id, s.frequency, s.last_purchase::date AS last_purchase, s.revenue,
           clv_palive(f.purchases, s.frequency, s.recency, s.t) AS p_alive,
           clv_expected_purchases(f.purchases, 52, s.frequency, s.recency, s.t) AS purchases_52w,
           clv_lifetime_value(f.purchases, f.spend, s.frequency, s.recency, s.t, s.monetary,
                              '1 year', '7 days', 0.10) AS ltv
    FROM summary s CROSS JOIN fit f)
SELECT *,
       CASE WHEN vigintile <= 1 THEN 'platinum' WHEN vigintile <= 4 THEN 'gold'
            WHEN vigintile <= 10 THEN 'silver' ELSE 'bronze' END AS tier
FROM (SELECT *, ntile(20) OVER (ORDER BY ltv DESC, customer_id) AS vigintile FROM scored) s;
CREATE UNIQUE INDEX ON customer_value (customer_id);
REFRESH MATERIALIZED VIEW CONCURRENTLY customer_value;
SELECT customer_id, tier, frequency, last_purchase, round(revenue::numeric, 2) AS revenue_to_date,
       round(p_alive::numeric, 3) AS p_alive, round(purchases_52w::numeric, 2) AS purchases_52w,
       round(ltv::numeric, 2) AS ltv_1y
FROM customer_value ORDER BY ltv DESC, customer_id LIMIT 5;
SELECT tier, count(*) AS customers, round(sum(ltv)) AS ltv_1y,
       round((100 * sum(ltv) / sum(sum(ltv)) OVER ())::numeric, 1) AS pct_of_ltv
FROM customer_value GROUP BY tier ORDER BY min(vigintile);
