-- clv_lifetime_value: discounted expected revenue, checked against its
-- definition written out in SQL with the per-customer functions.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;

\set cbs ltv_cbs
\i test/data/cdnow_cbs.sql
CREATE TABLE ltv_models AS
SELECT clv_bgnbd_fit(x, t_x, t_cal) AS bg, clv_paretonbd_fit(x, t_x, t_cal) AS pn,
       clv_gammagamma_fit(x, m_x) AS gg
FROM ltv_cbs;
-- customers: a regular, a lapsed one, a one-time buyer, a heavy buyer
CREATE TABLE ltv_customers (x float8, tx float8, t float8, m float8);
INSERT INTO ltv_customers VALUES (2, 30.43, 38.86, 22.345), (2, 5, 38.86, 40),
                                 (0, 0, 38.86, 0), (25, 38, 38.86, 15.5);

-- without discounting, value = expected purchases × expected spend, whether
-- counted per week or continuously
SELECT bool_and(abs(clv_lifetime_value(pm, gg, x, tx, t, m, '52 weeks', '7 days', 0)
                    / (clv_expected_purchases(pm, 52, x, tx, t) * clv_expected_spend(gg, x, m)) - 1) < 1e-12
                AND abs(clv_lifetime_value(pm, gg, x, tx, t, m, '52 weeks', '7 days', 0, 'continuous')
                    / (clv_expected_purchases(pm, 52, x, tx, t) * clv_expected_spend(gg, x, m)) - 1) < 1e-12)
       AS undiscounted_is_expected_revenue
FROM ltv_customers, ltv_models, LATERAL (VALUES (bg), (pn)) p(pm);

-- discrete: purchases of week i discounted at the end of week i, for an
-- annual rate of 10% (one week = 7/365.25 years); the last period of
-- '1 year' is the remaining 1.25 days
SELECT bool_and(abs(clv_lifetime_value(pm, gg, x, tx, t, m, '1 year', '7 days', 0.1) / manual - 1) < 1e-12)
       AS discrete_matches_definition
FROM ltv_customers, ltv_models, LATERAL (VALUES (bg), (pn)) p(pm),
     LATERAL (SELECT clv_expected_spend(gg, x, m) *
                     sum((clv_expected_purchases(pm, least(i, 365.25 / 7), x, tx, t)
                          - clv_expected_purchases(pm, i - 1, x, tx, t))
                         * power(1.1, -least(i * 7, 365.25) / 365.25)) AS manual
              FROM generate_series(1, 53) i) d;

-- continuous: against a fine Riemann-Stieltjes sum (4,000 steps over a year)
SELECT bool_and(abs(clv_lifetime_value(pm, gg, x, tx, t, m, '1 year', '7 days', 0.1, 'continuous')
                    / fine - 1) < 1e-6) AS continuous_matches_fine_sum
FROM ltv_customers, ltv_models, LATERAL (VALUES (bg), (pn)) p(pm),
     LATERAL (SELECT clv_expected_spend(gg, x, m) *
                     sum((clv_expected_purchases(pm, h * i / 4000, x, tx, t)
                          - clv_expected_purchases(pm, h * (i - 1) / 4000, x, tx, t))
                         * exp(-ln(1.1) * (h * (i - 0.5) / 4000) * 7 / 365.25)) AS fine
              FROM (SELECT 365.25 / 7 AS h) hh, generate_series(1, 4000) i) d;

-- the value of a customer: discounting lowers it, and a lapsed customer is
-- worth less than a regular one with the same history length
SELECT x, tx, round(clv_lifetime_value(bg, gg, x, tx, t, m, '1 year', '7 days', 0.1)::numeric, 4) AS bgnbd_discrete,
       round(clv_lifetime_value(bg, gg, x, tx, t, m, '1 year', '7 days', 0.1, 'continuous')::numeric, 4) AS bgnbd_continuous,
       round(clv_lifetime_value(pn, gg, x, tx, t, m, '1 year', '7 days', 0.1)::numeric, 4) AS paretonbd_discrete
FROM ltv_customers, ltv_models ORDER BY x, tx;

-- the unit is explicit: a model fitted in weeks but read as if its unit were
-- a day counts a year as 365 model units and overstates the value, the
-- mistake lifetimes' quickstart makes
SELECT round(clv_lifetime_value(bg, gg, 2, 30.43, 38.86, 22.345, '1 year', '7 days', 0.1)::numeric, 2) AS in_weeks,
       round(clv_lifetime_value(bg, gg, 2, 30.43, 38.86, 22.345, '1 year', '1 day', 0.1)::numeric, 2) AS misread_as_days
FROM ltv_models;

-- NULL in, NULL out; errors
SELECT clv_lifetime_value(bg, gg, 2, 30.43, 38.86, NULL, '1 year', '7 days', 0.1) IS NULL AS strict
FROM ltv_models;
SELECT clv_lifetime_value(bg, gg, 2, 30.43, 38.86, 22.3, '1 year', '0 days', 0.1) FROM ltv_models;
SELECT clv_lifetime_value(bg, gg, 2, 30.43, 38.86, 22.3, '-1 year', '7 days', 0.1) FROM ltv_models;
SELECT clv_lifetime_value(bg, gg, 2, 30.43, 38.86, 22.3, '1 year', '7 days', -1) FROM ltv_models;
SELECT clv_lifetime_value(bg, gg, 2, 30.43, 38.86, 22.3, '1 year', '7 days', 0.1, 'yearly') FROM ltv_models;
SELECT clv_lifetime_value(gg, gg, 2, 30.43, 38.86, 22.3, '1 year', '7 days', 0.1) FROM ltv_models;
SELECT clv_lifetime_value(bg, bg, 2, 30.43, 38.86, 22.3, '1 year', '7 days', 0.1) FROM ltv_models;
SELECT clv_lifetime_value(bg, gg, 2, 30.43, 38.86, 0, '1 year', '7 days', 0.1) FROM ltv_models;
SELECT clv_lifetime_value(bg, gg, 2, 40, 38.86, 22.3, '1 year', '7 days', 0.1) FROM ltv_models;
SELECT clv_lifetime_value(bg, gg, 2, 30.43, 38.86, 22.3, '10000 years', '1 hour', 0.1) FROM ltv_models;

-- P(X(t) = n) for a new customer: a distribution over n whose mean is the
-- expected purchases of a new customer (a separate closed form, with 2F1)
CREATE TABLE ltv_mbg AS SELECT clv_mbgnbd_fit(x, t_x, t_cal) AS mbg FROM ltv_cbs;
SELECT kind, h AS horizon,
       abs(sum(clv_probability_of_purchases(pm, h, n)) - 1) < 1e-10 AS sums_to_one,
       abs(sum(n * clv_probability_of_purchases(pm, h, n)) / min(clv_expected_purchases(pm, h, 0, 0, 0)) - 1) < 1e-10
           AS mean_is_expected_purchases
FROM ltv_models, ltv_mbg,
     LATERAL (VALUES ('bgnbd', bg), ('mbgnbd', mbg), ('paretonbd', pn)) p(kind, pm),
     generate_series(0, 600) n, (VALUES (1.0), (39.0), (52.0)) v(h)
GROUP BY kind, h ORDER BY kind, h;
SELECT n, round(clv_probability_of_purchases(bg, 39, n)::numeric, 4) AS p_bgnbd,
       round(clv_probability_of_purchases(pn, 39, n)::numeric, 4) AS p_paretonbd
FROM ltv_models, generate_series(0, 4) n ORDER BY n;
SELECT clv_probability_of_purchases(bg, 39, -1) FROM ltv_models;

-- the same given a customer's history: a distribution whose mean is the
-- conditional expected purchases, with the dead customers' mass at n = 0
SELECT kind, x, tx,
       abs(sum(clv_probability_of_purchases(pm, 52, n, x, tx, 38.86)) - 1) < 1e-9 AS sums_to_one,
       abs(sum(n * clv_probability_of_purchases(pm, 52, n, x, tx, 38.86))
           / min(clv_expected_purchases(pm, 52, x, tx, 38.86)) - 1) < 1e-9
           AS mean_is_expected_purchases,
       min(clv_probability_of_purchases(pm, 52, 0, x, tx, 38.86))
           >= 1 - min(clv_palive(pm, x, tx, 38.86)) AS dead_at_zero
FROM ltv_models, ltv_mbg,
     LATERAL (VALUES ('bgnbd', bg), ('mbgnbd', mbg), ('paretonbd', pn)) p(kind, pm),
     (VALUES (0, 0), (2, 30.43), (7, 10.0), (25, 38.0)) c(x, tx), generate_series(0, 400) n
GROUP BY kind, x, tx ORDER BY kind, x, tx;
-- a new customer (0, 0, 0) is the unconditional distribution
SELECT abs(clv_probability_of_purchases(pn, 39, 2, 0, 0, 0)
           - clv_probability_of_purchases(pn, 39, 2)) < 1e-12 AS pareto_new,
       abs(clv_probability_of_purchases(bg, 39, 2, 0, 0, 0)
           - clv_probability_of_purchases(bg, 39, 2)) < 1e-12 AS bgnbd_new
FROM ltv_models;
SELECT clv_probability_of_purchases(bg, 39, 1, 2, 40, 38.86) FROM ltv_models;
SELECT clv_probability_of_purchases(gg, 39, 1, 2, 30, 38.86) FROM ltv_models;

-- Pareto/NBD's closed-form discounted expected residual transactions (with
-- Tricomi's confluent hypergeometric function) against the continuous
-- numerical value over 300 years, which is unlimited at 15% a year
SELECT x, tx,
       round(clv_dert(pn, x, tx, t, '7 days', 0.15)::numeric, 4) AS dert,
       abs(clv_dert(pn, x, tx, t, '7 days', 0.15)
           / (clv_lifetime_value(pn, gg, x, tx, t, m, '300 years', '7 days', 0.15, 'continuous')
              / clv_expected_spend(gg, x, m)) - 1) < 1e-5 AS matches_long_horizon
FROM ltv_customers, ltv_models ORDER BY x, tx;
SELECT clv_dert(bg, 2, 30.43, 38.86, '7 days', 0.15) FROM ltv_models;
SELECT clv_dert(pn, 2, 30.43, 38.86, '7 days', 0) FROM ltv_models;

-- a negative rate (growth) is continuous too: against the fine sum at -50% a year
SELECT abs(clv_lifetime_value(bg, gg, 2, 30.43, 38.86, 22.345, '1 year', '7 days', -0.5, 'continuous')
           / (clv_expected_spend(gg, 2, 22.345) *
              (SELECT sum((clv_expected_purchases(bg, h * i / 4000, 2, 30.43, 38.86)
                           - clv_expected_purchases(bg, h * (i - 1) / 4000, 2, 30.43, 38.86))
                          * exp(-ln(0.5) * (h * (i - 0.5) / 4000) * 7 / 365.25))
               FROM (SELECT 365.25 / 7 AS h) hh, generate_series(1, 4000) i)) - 1) < 1e-6
       AS growth_matches_fine_sum
FROM ltv_models;

-- heavy buyers over long horizons: where GSL's 2F1 gives up the factor is
-- integrated instead, and the expectation stays smooth across the switch
SELECT bool_and(e > 0 AND e < 5000) AS finite,
       bool_and(e > prev) AS increasing,
       max(abs(e - prev)) < 1 AS smooth_per_week
FROM (SELECT h, clv_expected_purchases(bg, h, 300, 50, 50) AS e,
             lag(clv_expected_purchases(bg, h, 300, 50, 50)) OVER (ORDER BY h) AS prev
      FROM ltv_models, generate_series(990, 1010) h) q
WHERE prev IS NOT NULL;

-- the per-query memo of factors: 70,000 distinct (frequency, t), each with
-- one of five horizons, a quarter of them with frequencies from 230 to 299,
-- beyond the points' arrays (frequencies below 256), scored twice in a row,
-- so the second pass reads a memo that has grown and, past 262,144 factors,
-- started over; every value must equal the first pass's, and a sample must
-- equal what a query scoring that customer alone gives
CREATE TABLE ltv_keys AS
SELECT i, (i % 70 + CASE WHEN i % 4 = 0 THEN 230 ELSE 0 END)::float8 AS x,
       1 + (i / 70) * 0.037 AS t, 50 + i % 5 AS h
FROM generate_series(0, 69999) i;
CREATE TABLE ltv_twice AS
SELECT i, pass, x, t, h,
       clv_expected_purchases(bg, h, x, CASE WHEN x = 0 THEN 0 ELSE t / 2 END, t) AS e,
       clv_lifetime_value(bg, gg, x, CASE WHEN x = 0 THEN 0 ELSE t / 2 END, t, 10,
                          make_interval(weeks => h), '7 days', 0.1, 'continuous') AS v
FROM (SELECT k.*, pass FROM ltv_keys k, generate_series(1, 2) pass ORDER BY pass, i OFFSET 0) s,
     ltv_models;
SELECT count(*) AS rows, bool_and(a.e = b.e AND a.v = b.v) AS passes_agree
FROM ltv_twice a JOIN ltv_twice b USING (i) WHERE a.pass = 1 AND b.pass = 2;
CREATE FUNCTION ltv_alone(x float8, t float8, h int) RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE r float8[];
BEGIN
  -- a dynamic statement: a new call site, so nothing is remembered from before
  EXECUTE 'SELECT ARRAY[clv_expected_purchases(bg, $3, $1, CASE WHEN $1 = 0 THEN 0 ELSE $2 / 2 END, $2),
                        clv_lifetime_value(bg, gg, $1, CASE WHEN $1 = 0 THEN 0 ELSE $2 / 2 END, $2, 10,
                                           make_interval(weeks => $3), ''7 days'', 0.1, ''continuous'')]
           FROM ltv_models' INTO r USING x, t, h;
  RETURN r;
END $$;
SELECT bool_and(ARRAY[e, v] = ltv_alone(x, t, h)) AS equal_alone,
       count(*) FILTER (WHERE x >= 256) AS beyond_the_arrays
FROM ltv_twice WHERE pass = 2 AND (i % 7001 = 0 OR i % 1000 = 128);
DROP FUNCTION ltv_alone;
DROP TABLE ltv_keys, ltv_twice;

-- one call site, four purchase models taking turns row by row (a join with one
-- model per segment): with the spend model that is one more than the four
-- cache entries, so models are evicted and decoded again while the query runs;
-- each cached model keeps its own factors, so every value must equal what the
-- model gives at a call site of its own
CREATE TABLE ltv_segments AS
SELECT 0 AS seg, bg AS pm FROM ltv_models
UNION ALL SELECT 1, pn FROM ltv_models
UNION ALL SELECT 2, mbg FROM ltv_mbg
UNION ALL SELECT 3, clv_bgnbd_fit(x, t_x, t_cal) FROM ltv_cbs WHERE cust % 2 = 0;
CREATE TABLE ltv_mixed AS
SELECT c.cust, s.seg, clv_expected_purchases(s.pm, 39, c.x, c.t_x, c.t_cal) AS e
FROM (SELECT * FROM ltv_cbs ORDER BY cust OFFSET 0) c
     JOIN ltv_segments s ON s.seg = c.cust % 4;
-- the same for the value, in a query of its own
ALTER TABLE ltv_mixed ADD COLUMN v float8;
UPDATE ltv_mixed x
SET v = q.v
FROM (SELECT c.cust,
             clv_lifetime_value(s.pm, m.gg, c.x, c.t_x, c.t_cal, c.m_x, '1 year', '7 days', 0.1,
                                'continuous') AS v
      FROM (SELECT * FROM ltv_cbs ORDER BY cust OFFSET 0) c
           JOIN ltv_segments s ON s.seg = c.cust % 4, ltv_models m) q
WHERE q.cust = x.cust;
CREATE TABLE ltv_alone AS
SELECT c.cust, clv_expected_purchases(s.pm, 39, c.x, c.t_x, c.t_cal) AS e,
       clv_lifetime_value(s.pm, m.gg, c.x, c.t_x, c.t_cal, c.m_x, '1 year', '7 days', 0.1,
                          'continuous') AS v
FROM ltv_cbs c JOIN ltv_segments s ON s.seg = 0 AND c.cust % 4 = 0, ltv_models m
UNION ALL
SELECT c.cust, clv_expected_purchases(s.pm, 39, c.x, c.t_x, c.t_cal),
       clv_lifetime_value(s.pm, m.gg, c.x, c.t_x, c.t_cal, c.m_x, '1 year', '7 days', 0.1,
                          'continuous')
FROM ltv_cbs c JOIN ltv_segments s ON s.seg = 1 AND c.cust % 4 = 1, ltv_models m
UNION ALL
SELECT c.cust, clv_expected_purchases(s.pm, 39, c.x, c.t_x, c.t_cal),
       clv_lifetime_value(s.pm, m.gg, c.x, c.t_x, c.t_cal, c.m_x, '1 year', '7 days', 0.1,
                          'continuous')
FROM ltv_cbs c JOIN ltv_segments s ON s.seg = 2 AND c.cust % 4 = 2, ltv_models m
UNION ALL
SELECT c.cust, clv_expected_purchases(s.pm, 39, c.x, c.t_x, c.t_cal),
       clv_lifetime_value(s.pm, m.gg, c.x, c.t_x, c.t_cal, c.m_x, '1 year', '7 days', 0.1,
                          'continuous')
FROM ltv_cbs c JOIN ltv_segments s ON s.seg = 3 AND c.cust % 4 = 3, ltv_models m;
SELECT count(*) AS customers, count(DISTINCT seg) AS models,
       bool_and(x.e = a.e AND x.v = a.v) AS equal_alone
FROM ltv_mixed x JOIN ltv_alone a USING (cust);
-- and the models differ enough that a factor of one taken for another would show
SELECT count(DISTINCT round(clv_expected_purchases(s.pm, 39, c.x, c.t_x, c.t_cal)::numeric, 6))
         AS distinct_values_of_one_customer
FROM ltv_cbs c, ltv_segments s WHERE c.cust = 1;
DROP TABLE ltv_segments, ltv_mixed, ltv_alone;
