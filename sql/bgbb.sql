-- BG/BB (Fader, Hardie & Shang 2010, "Customer-Base Analysis in a
-- Discrete-Time Noncontractual Setting", Marketing Science 29(6)): the
-- donation data's fit against the published estimates and predictions, the
-- weighted and row forms, exact parallel combining, window use, the generic
-- predictions on opportunities, and every error a user can cause.
-- test/reference/bgbb_reference.py checks the same fit and predictions
-- against the paper's formulas in mpmath.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\i test/sql/analyzed_plan.sql

-- the SQLSTATE and message of a statement's error
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

--------------------------------------------------------------------------------
-- The 1995 cohort of a non-profit's donors, 11,104 people, over the six
-- yearly opportunities 1996-2001: x donations, the last in year t_x of 6.
-- The (x, t_x) count table of Fader, Hardie & Shang (2010), as the BTYD R
-- package ships it (donationsSummary$rf.matrix); x_star is the donors'
-- total donations in the five holdout years 2002-2006 ($x.star).
--------------------------------------------------------------------------------
CREATE TABLE donations (x float8, t_x float8, n float8, donors float8, x_star float8);
INSERT INTO donations VALUES
    (6, 6, 6, 1203, 4252), (5, 6, 6, 728, 2227), (4, 6, 6, 512, 1393), (3, 6, 6, 357, 817),
    (2, 6, 6, 234, 442), (1, 6, 6, 129, 190), (5, 5, 6, 335, 582), (4, 5, 6, 284, 542),
    (3, 5, 6, 225, 373), (2, 5, 6, 173, 244), (1, 5, 6, 119, 136), (4, 4, 6, 240, 201),
    (3, 4, 6, 181, 170), (2, 4, 6, 155, 114), (1, 4, 6, 78, 44), (3, 3, 6, 322, 148),
    (2, 3, 6, 255, 118), (1, 3, 6, 129, 78), (2, 2, 6, 613, 244), (1, 2, 6, 277, 103),
    (1, 1, 6, 1091, 238), (0, 0, 6, 3464, 604);
SELECT count(*) AS patterns, sum(donors) AS donors, sum(x_star) AS holdout_donations FROM donations;

-- the weighted form on the count table, and the row form on one row per donor
CREATE TABLE donation_models AS
SELECT (SELECT clv_bgbb_fit(x, t_x, n, donors) FROM donations) AS weighted,
       (SELECT clv_bgbb_fit(x, t_x, n) FROM donations, generate_series(1, donors::int)) AS per_row;
SELECT weighted = per_row AS identical FROM donation_models;

-- Published: alpha = 1.204, beta = 0.750, gamma = 0.657, delta = 2.783,
-- LL = -33,225.6 (Fader, Hardie & Shang 2010, Table 2)
SELECT i ->> 'kind' AS kind, i -> 'features' AS features, i -> 'n_customers' AS n_customers,
       i -> 'n_patterns' AS n_patterns, i -> 'converged' AS converged,
       round((i -> 'params' ->> 'alpha')::numeric, 3) AS alpha,
       round((i -> 'params' ->> 'beta')::numeric, 3) AS beta,
       round((i -> 'params' ->> 'gamma')::numeric, 3) AS gamma,
       round((i -> 'params' ->> 'delta')::numeric, 3) AS delta,
       round((i ->> 'log_likelihood')::numeric, 1) AS log_likelihood
FROM (SELECT clv_model_info(weighted) AS i FROM donation_models) s;
SELECT round((i -> 'std_errors' ->> 'alpha')::numeric, 3) AS se_alpha,
       round((i -> 'std_errors' ->> 'beta')::numeric, 3) AS se_beta,
       round((i -> 'std_errors' ->> 'gamma')::numeric, 3) AS se_gamma,
       round((i -> 'std_errors' ->> 'delta')::numeric, 3) AS se_delta
FROM (SELECT clv_model_info(weighted) AS i FROM donation_models) s;

-- P(alive in 2002), the paper's Table 6: 0.11 for a donor who never came back,
-- 0.59 for two donations the last in 1999, 0.93 for a donation every year
SELECT x, t_x, round(clv_palive(weighted, x, t_x, n)::numeric, 2) AS p_alive
FROM donation_models, donations WHERE (x, t_x) IN ((0, 0), (2, 4), (6, 6)) ORDER BY x;

-- Expected donations in the five holdout years, by calibration frequency,
-- beside the actual ones; their total is 12,884.2 in Hardie's spreadsheet
-- of the model (the "Conditional Expectations" sheet, as lifetimes' tests quote it)
SELECT x, sum(donors) AS donors,
       round(sum(donors * clv_expected_purchases(weighted, 5, x, t_x, n))::numeric, 1) AS expected,
       sum(x_star) AS actual
FROM donation_models, donations GROUP BY ROLLUP (x) ORDER BY x;

-- Donors with 0 and with 6 repeat donations in 1996-2001 by the model:
-- 3,454.9 and 1,253.1 (Hardie's spreadsheet, "In-Sample Fit"); the observed
-- 3,464 and 1,203; and P(X(6) = x) sums to 1 with mean E[X(6)]
SELECT k, round((11104 * clv_probability_of_purchases(weighted, 6, k))::numeric, 1) AS expected_donors,
       (SELECT sum(donors) FROM donations WHERE x = k) AS observed
FROM donation_models, generate_series(0, 6) AS k ORDER BY k;
SELECT round(sum(clv_probability_of_purchases(weighted, 6, k))::numeric, 12) AS total,
       round((sum(k * clv_probability_of_purchases(weighted, 6, k))
              - clv_expected_purchases(weighted, 6, 0, 0, 0))::numeric, 12) AS mean_minus_expected
FROM donation_models, generate_series(0, 6) AS k GROUP BY weighted;

-- Given a history: P(x* donations in 2002-2006) sums to 1 and its mean is E[X(6, 11)]
SELECT x, t_x,
       round(sum(clv_probability_of_purchases(weighted, 5, k, x, t_x, n))::numeric, 12) AS total,
       round((sum(k * clv_probability_of_purchases(weighted, 5, k, x, t_x, n))
              - clv_expected_purchases(weighted, 5, x, t_x, n))::numeric, 12) AS mean_minus_expected
FROM donation_models, donations, generate_series(0, 5) AS k
WHERE (x, t_x) IN ((0, 0), (1, 1), (3, 5), (6, 6)) GROUP BY weighted, x, t_x, n ORDER BY x, t_x;

-- DERT at 10 % per yearly opportunity (eq. 14), and its series against a
-- long sum of the expected donations of each future year, discounted
SELECT x, t_x, round(clv_dert(weighted, x, t_x, n, '1 year', 0.10)::numeric, 4) AS dert
FROM donation_models, donations WHERE (x, t_x) IN ((0, 0), (1, 1), (3, 5), (6, 6)) ORDER BY x, t_x;
SELECT bool_and(abs(d.dert / d.summed - 1) < 1e-9) AS dert_is_the_discounted_sum
FROM (SELECT clv_dert(weighted, x, t_x, n, '1 year', 0.10) AS dert,
             (SELECT sum((clv_expected_purchases(weighted, h, x, t_x, n)
                          - clv_expected_purchases(weighted, h - 1, x, t_x, n)) / 1.1 ^ h)
              FROM generate_series(1, 400) AS h) AS summed
      FROM donation_models, donations) d;

-- a new customer: history (0, 0, 0); alive at the first opportunity with
-- probability delta/(gamma + delta)
SELECT round(clv_palive(weighted, 0, 0, 0)::numeric, 6) AS p_alive_new,
       round((2.783442 / (0.656718 + 2.783442))::numeric, 6) AS delta_share,
       round(clv_expected_purchases(weighted, 6, 0, 0, 0)::numeric, 6) AS expected_6
FROM donation_models;

-- long histories stay finite: 1,000 opportunities, up to a purchase at each
SELECT x, t_x, round(clv_palive(weighted, x, t_x, 1000)::numeric, 6) AS p_alive,
       round(clv_expected_purchases(weighted, 1000, x, t_x, 1000)::numeric, 4) AS expected_1000,
       round(clv_dert(weighted, x, t_x, 1000, '1 year', 0.001)::numeric, 4) AS dert_small_rate
FROM donation_models, (VALUES (0, 0), (1, 1), (500, 1000), (999, 1000), (1000, 1000)) AS c(x, t_x)
ORDER BY x, t_x;

--------------------------------------------------------------------------------
-- Parallel plans: 20 copies of every donor's row.  Partial states are
-- patterns with counts, so they combine exactly: the same model bytes.
--------------------------------------------------------------------------------
CREATE TABLE donation_rows AS
SELECT d.x, d.t_x, d.n, d.donors FROM donations d CROSS JOIN generate_series(1, 20);
ANALYZE donation_rows;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE donation_serial AS
SELECT clv_bgbb_fit(x, t_x, n, donors) AS weighted, clv_bgbb_fit(x, t_x, n, donors, '{"l2": 0.1}') AS l2
FROM donation_rows;
\i test/sql/force_parallel.sql
SELECT * FROM pg_temp.analyzed_plan($$SELECT clv_bgbb_fit(x, t_x, n, donors) FROM donation_rows$$);
SELECT p.weighted = s.weighted AS identical, p.l2 = s.l2 AS identical_with_options
FROM (SELECT clv_bgbb_fit(x, t_x, n, donors) AS weighted, clv_bgbb_fit(x, t_x, n, donors, '{"l2": 0.1}') AS l2
      FROM donation_rows) p, donation_serial s;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
-- 20 copies: the same maximum
SELECT abs((clv_model_info(s.weighted) -> 'params' ->> 'alpha')::float8
           / (clv_model_info(m.weighted) -> 'params' ->> 'alpha')::float8 - 1) < 1e-6 AS same_alpha
FROM donation_serial s, donation_models m;

-- as a window function: one fit per partition, on every row of it (the
-- second partition counts every donor twice: the same maximum)
SELECT copies, count(*) AS rows,
       min(round((clv_model_info(m) -> 'params' ->> 'gamma')::numeric, 3)) AS gamma,
       count(DISTINCT m) AS distinct_models
FROM (SELECT copies, clv_bgbb_fit(x, t_x, n, donors * copies) OVER (PARTITION BY copies) AS m
      FROM donations, (VALUES (1), (2)) AS c(copies)) w
GROUP BY copies ORDER BY copies;

-- options: start and max_iter
SELECT round((clv_model_info(clv_bgbb_fit(x, t_x, n, donors, '{"start": [1.2, 0.75, 0.66, 2.8]}'))
              -> 'params' ->> 'delta')::numeric, 3) AS delta_from_start,
       clv_model_info(clv_bgbb_fit(x, t_x, n, donors, '{"max_iter": 1}')) -> 'converged' AS converged_in_1
FROM donations;

--------------------------------------------------------------------------------
-- Errors, with their SQLSTATE
--------------------------------------------------------------------------------
SELECT q, pg_temp.sqlstate_of(q) AS error FROM (VALUES
    -- zero rows; a count table of zeros
    ('SELECT clv_bgbb_fit(x, t_x, n) FROM donations WHERE false'),
    ('SELECT clv_bgbb_fit(x, t_x, n, 0) FROM donations'),
    -- the customers' data
    ('SELECT clv_bgbb_fit(NULL, 1, 6)'),
    ('SELECT clv_bgbb_fit(1, ''NaN'', 6)'),
    ('SELECT clv_bgbb_fit(1, 1, ''Infinity'')'),
    ('SELECT clv_bgbb_fit(1.5, 2, 6)'),
    ('SELECT clv_bgbb_fit(1, 2.5, 6)'),
    ('SELECT clv_bgbb_fit(1, 2, 6.5)'),
    ('SELECT clv_bgbb_fit(1, 7, 6)'),
    ('SELECT clv_bgbb_fit(3, 2, 6)'),
    ('SELECT clv_bgbb_fit(1, 0, 6)'),
    ('SELECT clv_bgbb_fit(0, 2, 6)'),
    ('SELECT clv_bgbb_fit(-1, 0, 6)'),
    ('SELECT clv_bgbb_fit(1, -1, 6)'),
    ('SELECT clv_bgbb_fit(1, 1, 6, -2)'),
    ('SELECT clv_bgbb_fit(1, 1, 6, 2.5)'),
    ('SELECT clv_bgbb_fit(1, 1, 6, NULL)'),
    -- too few customers; nobody bought
    ('SELECT clv_bgbb_fit(x, t_x, n, 1) FROM donations WHERE x = 6'),
    ('SELECT clv_bgbb_fit(0, 0, 6, 100)'),
    -- options
    ('SELECT clv_bgbb_fit(1, 1, 6, 100, ''{"l3": 1}'')'),
    ('SELECT clv_bgbb_fit(1, 1, 6, ''{"start": [1, 2]}''::jsonb)'),
    ('SELECT clv_bgbb_fit(1, 1, 6, ''{"max_iter": 0}''::jsonb)'),
    ('SELECT clv_bgbb_fit(1, 1, 6, 5, ''{"l2": -1}''::jsonb)'),
    -- predictions: opportunities are whole, horizons too
    ('SELECT clv_palive(weighted, 1, 1.5, 6) FROM donation_models'),
    ('SELECT clv_palive(weighted, 2, 1, 6) FROM donation_models'),
    ('SELECT clv_expected_purchases(weighted, 2.5, 1, 1, 6) FROM donation_models'),
    ('SELECT clv_expected_purchases(weighted, -1, 1, 1, 6) FROM donation_models'),
    ('SELECT clv_probability_of_purchases(weighted, 2.5, 1) FROM donation_models'),
    ('SELECT clv_probability_of_purchases(weighted, 5, 1, 1, 1, 6.5) FROM donation_models'),
    ('SELECT clv_dert(weighted, 1, 1, 6, ''1 year'', 0) FROM donation_models'),
    ('SELECT clv_dert(weighted, 1, 1, 6, ''1 year'', ''NaN'') FROM donation_models'),
    -- functions whose times are continuous
    ('SELECT clv_lifetime_value(weighted, (SELECT clv_gammagamma_fit(2, 10) FROM generate_series(1, 3)), 1, 1, 6, 10, ''1 year'', ''1 year'', 0.1) FROM donation_models'),
    ('SELECT clv_cumulative_expected_purchases(weighted, 0, 3) FROM donation_models'),
    -- a BG/BB model where a spend model is wanted
    ('SELECT clv_expected_spend(weighted, 1, 10) FROM donation_models')
) AS t(q);

DROP TABLE donations, donation_models, donation_rows, donation_serial;
