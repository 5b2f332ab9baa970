-- clv_sbg_fit, clv_sbg_fit_counts and the sBG predictions: Fader & Hardie's (2007) two cohorts
-- and their holdout years, the per-customer and cohort forms, parallel plans,
-- window forms, the period unit and discounting, and every error a user can
-- cause.
SET client_min_messages = warning;   -- quiet whichever test creates the extension first
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\i test/sql/analyzed_plan.sql
SET extra_float_digits = 0;

CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

-- Survivors at the start of years 0..12 (Fader & Hardie 2007, "How to project
-- customer retention", table 1): years 0..7 are fitted, 8..12 held out.
CREATE TABLE sbg_survivors AS
SELECT c AS cohort, (y - 1)::int AS year, a::bigint AS alive FROM (VALUES
  ('regular', ARRAY[1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]),
  ('high end', ARRAY[1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394])) v(c, s),
  unnest(s) WITH ORDINALITY u(a, y);
-- the calibration years as cells: customers who left in year t (churned), and
-- those still subscribed after year 7
CREATE TABLE sbg_cells AS
SELECT cohort, year AS periods, true AS churned, lag_alive - alive AS customers
FROM (SELECT *, lag(alive) OVER (PARTITION BY cohort ORDER BY year) AS lag_alive
      FROM sbg_survivors WHERE year <= 7) s
WHERE year >= 1
UNION ALL
SELECT cohort, 7, false, alive FROM sbg_survivors WHERE year = 7;
-- the same customers one row each
CREATE TABLE sbg_customers AS
SELECT cohort, periods, churned FROM sbg_cells, generate_series(1, customers);

CREATE TABLE sbg_models AS
SELECT cohort, clv_sbg_fit_counts(periods, churned, customers, '{"unit": "1 year"}') AS m
FROM sbg_cells GROUP BY cohort;

-- the published estimates: regular 0.704, 1.182; high end 0.668, 3.806
SELECT cohort, round((i->'params'->>'alpha')::numeric, 3) AS alpha,
       round((i->'params'->>'beta')::numeric, 3) AS beta,
       round((i->'std_errors'->>'alpha')::numeric, 4) AS se_alpha,
       round((i->'std_errors'->>'beta')::numeric, 4) AS se_beta,
       round((i->>'log_likelihood')::numeric, 3) AS log_likelihood,
       i->>'n' AS n, i->>'n_churned' AS n_churned, i->>'converged' AS converged,
       i->>'kind' AS kind, i->'features' AS features, i->>'unit' AS unit, i->>'unit_days' AS unit_days
FROM (SELECT cohort, clv_model_info(m) AS i FROM sbg_models) s ORDER BY cohort DESC;

-- holdout years 8..12: the fit's projection, the projection from the published
-- alpha and beta (S(t) as the product of retention rates, written here), and
-- the actual survivors
SELECT s.cohort, s.year, round(1000 * clv_sbg_survival(m.m, s.year)::numeric, 1) AS projected,
       round(1000 * (SELECT exp(sum(ln((b + j - 1) / (a + b + j - 1))))
                     FROM generate_series(1, s.year) j)::numeric, 1) AS from_published,
       s.alive AS actual
FROM sbg_survivors s JOIN sbg_models m USING (cohort)
CROSS JOIN LATERAL (SELECT CASE s.cohort WHEN 'regular' THEN 0.704 ELSE 0.668 END::float8 AS a,
                           CASE s.cohort WHEN 'regular' THEN 1.182 ELSE 3.806 END::float8 AS b) p
WHERE s.year >= 8 ORDER BY s.cohort DESC, s.year;

-- the fit's projection differs from the published one by less than rounding
-- the parameters to three digits moves it
SELECT bool_and(abs(clv_sbg_survival(m.m, t) - exp(lnS)) < 2e-4) AS within_rounding
FROM sbg_models m
CROSS JOIN generate_series(1, 12) t
CROSS JOIN LATERAL (SELECT sum(ln((b + j - 1) / (a + b + j - 1))) AS lnS
                    FROM (SELECT CASE m.cohort WHEN 'regular' THEN 0.704 ELSE 0.668 END::float8 AS a,
                                 CASE m.cohort WHEN 'regular' THEN 1.182 ELSE 3.806 END::float8 AS b) p,
                         generate_series(1, t) j) q;

-- retention, P(alive) and DERL of the regular cohort
SELECT t, round(clv_sbg_retention(m, t)::numeric, 6) AS retention,
       round(clv_sbg_palive(m, t - 1, 1)::numeric, 6) AS palive_next,
       round(clv_sbg_palive(m, t - 1, 5)::numeric, 6) AS palive_5,
       round(clv_sbg_derl(m, t - 1, 0.1)::numeric, 6) AS derl_10pct
FROM sbg_models, generate_series(1, 5) t WHERE cohort = 'regular' ORDER BY t;
-- DERL is the discounted sum of survival: Σ_k S(n + 1 + k) / S(n) / 1.1^k
SELECT n, round(clv_sbg_derl(m, n, 0.1)::numeric, 9) AS derl,
       round((SELECT sum(clv_sbg_survival(m, n + 1 + k) / clv_sbg_survival(m, n) / 1.1 ^ k)
              FROM generate_series(0, 400) k)::numeric, 9) AS summed
FROM sbg_models, (VALUES (0), (3), (50)) v(n) WHERE cohort = 'regular' ORDER BY n;
-- the rate per rate_unit, converted to the model's year: 1% a month is
-- 1.01^12 - 1 a year; '1 year' is the model's own period
SELECT round(clv_sbg_derl(m, 2, 0.01, '1 month')::numeric, 12)
           = round(clv_sbg_derl(m, 2, 1.01 ^ 12 - 1)::numeric, 12) AS monthly_rate_converted,
       clv_sbg_derl(m, 2, 0.1, '1 year') = clv_sbg_derl(m, 2, 0.1) AS yearly_rate_unchanged,
       clv_sbg_derl(m, 2, 0.1, '12 months') = clv_sbg_derl(m, 2, 0.1) AS twelve_months_a_year
FROM sbg_models WHERE cohort = 'high end';
-- large arguments stay finite
SELECT clv_sbg_survival(m, 1e6) > 0 AS survival_far, clv_sbg_palive(m, 100000, 100000) > 0 AS palive_far,
       round(clv_sbg_derl(m, 1000, 0.001)::numeric, 3) AS derl_small_rate,
       clv_sbg_survival(m, 0) AS s0, round(clv_sbg_survival(m, 2.5)::numeric, 6) AS s_between
FROM sbg_models WHERE cohort = 'regular';

-- the per-customer form gives the cohort form's model, whatever the row order
SELECT cohort, md5(clv_sbg_fit(periods, churned, '{"unit": "1 year"}')) = md5(m) AS customers_equal_cells
FROM sbg_customers JOIN sbg_models USING (cohort) GROUP BY cohort, m ORDER BY cohort DESC;
SELECT md5(clv_sbg_fit(periods, churned ORDER BY random())) = md5(clv_sbg_fit(periods, churned ORDER BY periods DESC))
       AS order_free
FROM sbg_customers WHERE cohort = 'regular';
-- cells with zero customers count for nothing
SELECT md5(clv_sbg_fit_counts(periods, churned, customers)) = (SELECT md5(clv_sbg_fit_counts(periods, churned, customers))
                                                        FROM sbg_cells WHERE cohort = 'regular') AS zero_cells_ignored
FROM (SELECT periods, churned, customers FROM sbg_cells WHERE cohort = 'regular'
      UNION ALL VALUES (9, true, 0::bigint), (3, false, 0)) c;
-- default options: no unit recorded
SELECT i->'unit' AS unit, i->'unit_days' AS unit_days, i->'options' AS options
FROM (SELECT clv_model_info(clv_sbg_fit_counts(periods, churned, customers)) AS i
      FROM sbg_cells WHERE cohort = 'regular') s;
-- options: a start, max_iter, tol
SELECT round((i->'params'->>'alpha')::numeric, 3) AS alpha, round((i->'params'->>'beta')::numeric, 3) AS beta,
       i->>'converged' AS converged
FROM (SELECT clv_model_info(clv_sbg_fit_counts(periods, churned, customers,
                                        '{"start": [5, 5], "max_iter": 200, "tol": 1e-10}')) AS i
      FROM sbg_cells WHERE cohort = 'regular') s;
SELECT i->>'iterations' AS iterations, i->>'converged' AS converged
FROM (SELECT clv_model_info(clv_sbg_fit_counts(periods, churned, customers, '{"max_iter": 1}')) AS i
      FROM sbg_cells WHERE cohort = 'regular') s;

-- parallel plans: partial states in two workers, combined by the leader, give
-- the serial bytes
CREATE TABLE sbg_par AS SELECT c.*, g FROM sbg_customers c, generate_series(1, 20) g;
ANALYZE sbg_par;
CREATE TEMP TABLE sbg_serial AS
SELECT clv_sbg_fit(periods, churned) AS m, clv_sbg_fit_counts(periods, churned, g::bigint) AS mc FROM sbg_par;
\i test/sql/force_parallel.sql
SELECT * FROM pg_temp.analyzed_plan($$SELECT clv_sbg_fit(periods, churned) FROM sbg_par$$);
CREATE TEMP TABLE sbg_parallel AS
SELECT clv_sbg_fit(periods, churned) AS m, clv_sbg_fit_counts(periods, churned, g::bigint) AS mc FROM sbg_par;
-- options that differ between rows: an error wherever the difference is met
\set VERBOSITY terse
SELECT clv_sbg_fit(periods, churned, CASE WHEN g <= 10 THEN '{"tol": 1e-8}' ELSE '{"tol": 1e-9}' END::jsonb)
FROM sbg_par;
\set VERBOSITY default
RESET ALL;
SET extra_float_digits = 0;
SELECT md5(p.m) = md5(s.m) AS parallel_equals_serial, md5(p.mc) = md5(s.mc) AS cohort_form_too
FROM sbg_parallel p, sbg_serial s;

-- window forms: over a partition, and growing frames that refit
SELECT DISTINCT cohort, md5(clv_sbg_fit_counts(periods, churned, customers, '{"unit": "1 year"}') OVER (PARTITION BY cohort))
       = (SELECT md5(m) FROM sbg_models s WHERE s.cohort = c.cohort) AS window_equals_group
FROM sbg_cells c ORDER BY cohort DESC;
-- growing frames, each k copies of the regular cohort: the same estimates
SELECT k, round((clv_model_info(m)->'params'->>'alpha')::numeric, 6) AS alpha,
       round((clv_model_info(m)->'params'->>'beta')::numeric, 6) AS beta,
       md5(m) = (SELECT md5(clv_sbg_fit_counts(periods, churned, customers))
                 FROM sbg_cells, generate_series(1, w.k) c WHERE cohort = 'regular') AS equals_plain_fit
FROM (SELECT DISTINCT k, clv_sbg_fit_counts(periods, churned, customers) OVER (ORDER BY k) AS m
      FROM sbg_cells, generate_series(1, 4) k WHERE cohort = 'regular') w
ORDER BY k;

-- zero rows
SELECT clv_sbg_fit(periods, churned) FROM sbg_customers WHERE false;
SELECT pg_temp.sqlstate_of($$SELECT clv_sbg_fit_counts(periods, churned, customers) FROM sbg_cells WHERE false$$) AS zero_rows,
       pg_temp.sqlstate_of($$SELECT clv_sbg_fit(periods, churned) FILTER (WHERE false) FROM sbg_customers$$) AS filtered,
       pg_temp.sqlstate_of($$SELECT clv_sbg_fit_counts(periods, churned, 0) FROM sbg_cells$$) AS empty_cells;

-- data the model cannot be fitted on
SELECT clv_sbg_fit(periods, false) FROM sbg_customers;
SELECT clv_sbg_fit(1, churned) FROM sbg_customers;
-- exactly geometric lifetimes: churn the same for everyone
SELECT clv_sbg_fit_counts(t, c, n)
FROM (SELECT t, true AS c, round(1e6 * 0.8 ^ (t - 1) * 0.2)::bigint AS n FROM generate_series(1, 10) t
      UNION ALL SELECT 10, false, round(1e6 * 0.8 ^ 10)::bigint) g;

-- rows and options a user can get wrong
SELECT pg_temp.sqlstate_of(q) AS error FROM (VALUES
  ($$SELECT clv_sbg_fit(p, c) FROM (VALUES (NULL::int, true)) v(p, c)$$),
  ($$SELECT clv_sbg_fit(p, c) FROM (VALUES (0, true)) v(p, c)$$),
  ($$SELECT clv_sbg_fit(p, c) FROM (VALUES (-3, false)) v(p, c)$$),
  ($$SELECT clv_sbg_fit(p, c) FROM (VALUES (2, NULL::boolean)) v(p, c)$$),
  ($$SELECT clv_sbg_fit_counts(p, c, n) FROM (VALUES (2, true, NULL::bigint)) v(p, c, n)$$),
  ($$SELECT clv_sbg_fit_counts(p, c, n) FROM (VALUES (2, true, -1::bigint)) v(p, c, n)$$),
  ($$SELECT clv_sbg_fit(periods, churned, '{"alpha": 1}') FROM sbg_customers$$),
  ($$SELECT clv_sbg_fit(periods, churned, '{"max_iter": 0}') FROM sbg_customers$$),
  ($$SELECT clv_sbg_fit(periods, churned, '{"tol": "small"}') FROM sbg_customers$$),
  ($$SELECT clv_sbg_fit(periods, churned, '{"start": [1, 2, 3]}') FROM sbg_customers$$),
  ($$SELECT clv_sbg_fit(periods, churned, '{"start": [0, 2]}') FROM sbg_customers$$),
  ($$SELECT clv_sbg_fit(periods, churned, '{"unit": "a fortnight"}') FROM sbg_customers$$),
  ($$SELECT clv_sbg_fit(periods, churned, '{"unit": "0 days"}') FROM sbg_customers$$),
  ($$SELECT clv_sbg_fit(periods, churned, '{"unit": "-1 month"}') FROM sbg_customers$$),
  ($$SELECT clv_sbg_fit(periods, churned, '{"unit": 7}') FROM sbg_customers$$),
  ($$SELECT clv_sbg_fit(periods, churned, '[1]') FROM sbg_customers$$),
  ($$SELECT clv_sbg_fit_counts(periods, churned, customers, '{"tol": 0}') FROM sbg_cells$$)
) v(q);

-- scoring errors
CREATE TEMP TABLE sbg_other AS
SELECT clv_linreg_fit(y, ARRAY[x]) AS m FROM (VALUES (1.0::float8, 1.0::float8), (2, 3), (4, 4)) v(y, x);
SELECT pg_temp.sqlstate_of(q) AS error FROM (VALUES
  ($$SELECT clv_sbg_survival(m, 1) FROM sbg_other$$),
  ($$SELECT clv_sbg_derl(m, 1, 0.1) FROM sbg_other$$),
  ($$SELECT clv_sbg_survival(m, -1) FROM sbg_models$$),
  ($$SELECT clv_sbg_survival(m, 'NaN') FROM sbg_models$$),
  ($$SELECT clv_sbg_survival(m, 'Infinity') FROM sbg_models$$),
  ($$SELECT clv_sbg_retention(m, 0.5) FROM sbg_models$$),
  ($$SELECT clv_sbg_palive(m, -1, 2) FROM sbg_models$$),
  ($$SELECT clv_sbg_palive(m, 1, -2) FROM sbg_models$$),
  ($$SELECT clv_sbg_derl(m, -1, 0.1) FROM sbg_models$$),
  ($$SELECT clv_sbg_derl(m, 1, 0) FROM sbg_models$$),
  ($$SELECT clv_sbg_derl(m, 1, -0.5) FROM sbg_models$$),
  ($$SELECT clv_sbg_derl(m, 1, 'NaN') FROM sbg_models$$),
  ($$SELECT clv_sbg_derl(m, 1, 1e-9) FROM sbg_models$$),
  ($$SELECT clv_sbg_derl(m, 1, 0.1, '0 days') FROM sbg_models$$),
  ($$SELECT clv_sbg_derl(m, 1, 0.1, '-1 year') FROM sbg_models$$),
  ($$SELECT clv_sbg_derl(m, 1, 'Infinity', '1 day') FROM sbg_models$$),
  ($$SELECT clv_sbg_derl(m, 1, 1e300, '1 day') FROM sbg_models$$),
  ($$SELECT clv_sbg_derl(m, 1, 1e-7, '1 year') FROM sbg_models WHERE cohort = 'regular'$$),
  ($$SELECT clv_sbg_derl(clv_sbg_fit(periods, churned), 1, 0.1, '1 month') FROM sbg_customers$$),
  ($$SELECT clv_sbg_survival('\x00'::bytea, 1)$$)
) v(q);
-- NULL arguments give NULL
SELECT clv_sbg_survival(NULL, 1) IS NULL AS null_model, clv_sbg_derl(m, NULL, 0.1) IS NULL AS null_renewals
FROM sbg_models WHERE cohort = 'regular';
-- one error in full, with its detail and hint
SELECT clv_sbg_derl(clv_sbg_fit(periods, churned), 1, 0.1, '1 month') FROM sbg_customers;

-- the memory limit: 64 kB holds 4096 distinct patterns
SET clv.max_training_memory = '64kB';
SELECT pg_temp.sqlstate_of($$SELECT clv_sbg_fit(t, t % 2 = 0) FROM generate_series(1, 10000) t$$) AS error;
SELECT length(clv_sbg_fit(periods, churned)) > 0 AS fits_under_the_limit FROM sbg_par;
RESET clv.max_training_memory;
