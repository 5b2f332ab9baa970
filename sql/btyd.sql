-- BG/NBD, MBG/NBD and Gamma-Gamma: the CDNOW fits against the published
-- values (Fader, Hardie & Lee 2005: r = 0.243, alpha = 4.414, a = 0.793,
-- b = 2.426, LL = -9582.4; Fader & Hardie 2013: p = 6.25, q = 3.74,
-- gamma = 15.44), the FHL worked example, fits from raw orders, exact
-- parallel combining, one model per group, options, edge customers and every
-- error a user can cause.  test/reference/btyd_reference.py checks the same
-- fits and predictions against an independent scipy implementation.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\i test/sql/analyzed_plan.sql
SET timezone = 'UTC';

-- a parameter (or another member of the "params" object) of a model
CREATE FUNCTION pg_temp.param(m bytea, k text, what text DEFAULT 'params') RETURNS float8
LANGUAGE sql IMMUTABLE AS $$ SELECT (clv_model_info(m) -> what ->> k)::float8 $$;
-- v rounded to 3 significant digits
CREATE FUNCTION pg_temp.sig3(v float8) RETURNS numeric
LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN v = 0 THEN 0 ELSE round(v::numeric, 2 - floor(log(abs(v::numeric)))::int) END $$;
-- the largest relative difference of two models' parameters
CREATE FUNCTION pg_temp.params_rel(m1 bytea, m2 bytea) RETURNS float8
LANGUAGE sql IMMUTABLE AS
$$ SELECT max(abs(a.value::float8 / (clv_model_info(m2) -> 'params' ->> a.key)::float8 - 1))
   FROM jsonb_each_text(clv_model_info(m1) -> 'params') a $$;
-- the SQLSTATE and message of a statement's error
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

--------------------------------------------------------------------------------
-- The CDNOW sample summarised from the bundled orders (BTYD's cdnowSummary$cbs,
-- checked in sql/summary.sql): 2,357 customers, weeks.
--------------------------------------------------------------------------------
\set cbs btyd_cbs
\i test/data/cdnow_cbs.sql
SELECT count(*) AS customers, sum(x) AS repeat_purchases, count(*) FILTER (WHERE x > 0) AS repeat_buyers
FROM btyd_cbs;

CREATE TABLE btyd_models AS
SELECT clv_bgnbd_fit(x, t_x, t_cal) AS bg, clv_mbgnbd_fit(x, t_x, t_cal) AS mbg,
       clv_gammagamma_fit(x, m_x) AS gg
FROM btyd_cbs;

-- BG/NBD against Fader, Hardie & Lee (2005)
SELECT k AS param, pg_temp.sig3(pg_temp.param(bg, k)) AS estimate, published,
       pg_temp.sig3(pg_temp.param(bg, k)) = pg_temp.sig3(published) AS same_3_digits,
       round(pg_temp.param(bg, k)::numeric, scale(published)) = published AS matches_published_digits
FROM btyd_models,
     (VALUES (1, 'r', 0.243), (2, 'alpha', 4.414), (3, 'a', 0.793), (4, 'b', 2.426)) v(i, k, published)
ORDER BY i;
SELECT round((clv_model_info(bg) ->> 'log_likelihood')::numeric, 1) AS log_likelihood,
       abs((clv_model_info(bg) ->> 'log_likelihood')::float8 - (-9582.4)) < 0.1 AS matches_published,
       clv_model_info(bg) ->> 'kind' AS kind,
       (clv_model_info(bg) ->> 'converged')::boolean AS converged,
       clv_model_info(bg) ->> 'n_customers' AS n_customers,
       clv_model_info(bg) ->> 'n_patterns' AS n_patterns
FROM btyd_models;
-- standard errors (Hessian), two significant digits, and against
-- sqrt(diag(inv(H))) of a finite-difference Hessian computed with scipy
-- (test/reference/btyd_reference.py)
SELECT k AS param, round(pg_temp.param(bg, k, 'std_errors')::numeric, 1 - floor(log(ref::numeric))::int) AS std_error,
       abs(pg_temp.param(bg, k, 'std_errors') / ref - 1) < 1e-3 AS matches_reference
FROM btyd_models,
     (VALUES (1, 'r', 0.0125574), (2, 'alpha', 0.378224), (3, 'a', 0.185733), (4, 'b', 0.705412)) v(i, k, ref)
ORDER BY i;

-- MBG/NBD (lifetimes' ModifiedBetaGeoFitter likelihood): no published
-- CDNOW values; btyd_reference.py checks it against scipy
SELECT k AS param, pg_temp.sig3(pg_temp.param(mbg, k)) AS estimate,
       round(pg_temp.param(mbg, k, 'std_errors')::numeric, 1 - floor(log(ref::numeric))::int) AS std_error,
       abs(pg_temp.param(mbg, k, 'std_errors') / ref - 1) < 1e-3 AS std_error_matches_reference
FROM btyd_models,
     (VALUES (1, 'r', 0.083267), (2, 'alpha', 0.695614), (3, 'a', 0.154788), (4, 'b', 0.537486)) v(i, k, ref)
ORDER BY i;
SELECT round((clv_model_info(mbg) ->> 'log_likelihood')::numeric, 1) AS log_likelihood,
       clv_model_info(mbg) ->> 'kind' AS kind,
       (clv_model_info(mbg) ->> 'converged')::boolean AS converged
FROM btyd_models;

-- Gamma-Gamma against Fader & Hardie (2013), fitted on the 946 repeat buyers
SELECT k AS param, pg_temp.sig3(pg_temp.param(gg, k)) AS estimate, published,
       pg_temp.sig3(pg_temp.param(gg, k)) = pg_temp.sig3(published) AS same_3_digits,
       round(pg_temp.param(gg, k)::numeric, scale(published)) = published AS matches_published_digits,
       round(pg_temp.param(gg, k, 'std_errors')::numeric, 1 - floor(log(ref::numeric))::int) AS std_error,
       abs(pg_temp.param(gg, k, 'std_errors') / ref - 1) < 1e-3 AS std_error_matches_reference
FROM btyd_models,
     (VALUES (1, 'p', 6.25, 1.18998), (2, 'q', 3.74, 0.290122), (3, 'gamma', 15.44, 4.15914)) v(i, k, published, ref)
ORDER BY i;
SELECT round((clv_model_info(gg) ->> 'log_likelihood')::numeric, 1) AS log_likelihood,
       clv_model_info(gg) ->> 'kind' AS kind,
       (clv_model_info(gg) ->> 'converged')::boolean AS converged,
       clv_model_info(gg) ->> 'n_customers' AS n_customers
FROM btyd_models;

--------------------------------------------------------------------------------
-- Predictions
--------------------------------------------------------------------------------
-- FHL 2005's worked example: x = 2, t_x = 30.43, T = 38.86 expects 1.226
-- purchases in the next 39 weeks
SELECT round(clv_expected_purchases(bg, 39, 2, 30.43, 38.86)::numeric, 3) AS expected_39_weeks,
       round(clv_expected_purchases(bg, 39, 2, 30.43, 38.86)::numeric, 3) = 1.226 AS matches_published
FROM btyd_models;
-- expected purchases start at 0 and grow with the horizon
SELECT h AS horizon, pg_temp.sig3(clv_expected_purchases(bg, h, 2, 30.43, 38.86)) AS bgnbd,
       pg_temp.sig3(clv_expected_purchases(mbg, h, 2, 30.43, 38.86)) AS mbgnbd
FROM btyd_models, (VALUES (0), (1), (10), (39), (52), (100)) v(h) ORDER BY h;
-- P(alive): in (0, 1), lower for a lapsed customer; 1 for a BG/NBD customer
-- without repeat purchases (the BG/NBD has no death before the first
-- repeat), below 1 for MBG/NBD (which allows it)
SELECT round(clv_palive(bg, 2, 30.43, 38.86)::numeric, 3) AS bg_recent,
       round(clv_palive(bg, 2, 5, 38.86)::numeric, 3) AS bg_lapsed,
       clv_palive(bg, 0, 0, 38.86) AS bg_no_repeat,
       round(clv_palive(mbg, 2, 30.43, 38.86)::numeric, 3) AS mbg_recent,
       round(clv_palive(mbg, 0, 0, 38.86)::numeric, 3) AS mbg_no_repeat
FROM btyd_models;
SELECT bool_and(p > 0 AND p < 1) FILTER (WHERE x > 0) AS bg_repeat_buyers_in_0_1,
       bool_and(p = 1) FILTER (WHERE x = 0) AS bg_no_repeat_is_1,
       bool_and(q > 0 AND q < 1) AS mbg_all_in_0_1
FROM (SELECT x, clv_palive(bg, x, t_x, t_cal) AS p, clv_palive(mbg, x, t_x, t_cal) AS q
      FROM btyd_cbs, btyd_models) s;
-- P(alive) against FHL 2005 eq. 11 for every CDNOW customer
SELECT max(abs(clv_palive(bg, x, t_x, t_cal)
               / CASE WHEN x = 0 THEN 1
                      ELSE 1 / (1 + pg_temp.param(bg, 'a') / (pg_temp.param(bg, 'b') + x - 1)
                                    * power((pg_temp.param(bg, 'alpha') + t_cal)
                                            / (pg_temp.param(bg, 'alpha') + t_x),
                                            pg_temp.param(bg, 'r') + x)) END - 1)) < 1e-12
       AS palive_matches_formula
FROM btyd_cbs, btyd_models;

-- expected spend: customer 1 (x = 2, m = 22.345), and for x = 0 the
-- population mean p gamma / (q - 1); both against the weighted-mean form
-- of Fader & Hardie (2013)
SELECT round(clv_expected_spend(gg, 2, 22.345)::numeric, 2) AS customer_1,
       abs(clv_expected_spend(gg, 2, 22.345)
           / ((q - 1) / (2 * p + q - 1) * p * g / (q - 1) + 2 * p / (2 * p + q - 1) * 22.345) - 1) < 1e-12
       AS customer_matches_formula,
       round(clv_expected_spend(gg, 0, 0)::numeric, 2) AS population_mean,
       abs(clv_expected_spend(gg, 0, 0) / (p * g / (q - 1)) - 1) < 1e-12 AS population_matches_formula,
       clv_expected_spend(gg, 0, 0) = clv_expected_spend(gg, 0, 99) AS x0_ignores_monetary
FROM btyd_models, LATERAL (SELECT pg_temp.param(gg, 'p') AS p, pg_temp.param(gg, 'q') AS q,
                                  pg_temp.param(gg, 'gamma') AS g) t;

--------------------------------------------------------------------------------
-- Parallel plans: 50 copies of every customer.  Partial states are
-- patterns with counts, so they combine exactly: the same model bytes.
--------------------------------------------------------------------------------
CREATE TABLE btyd_many AS SELECT c.* FROM btyd_cbs c CROSS JOIN generate_series(1, 50);
ANALYZE btyd_many;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE btyd_many_serial AS
SELECT clv_bgnbd_fit(x, t_x, t_cal) AS bg, clv_mbgnbd_fit(x, t_x, t_cal) AS mbg,
       clv_gammagamma_fit(x, m_x) AS gg, clv_gammagamma_fit(x, m_x, '{"l2": 5}') AS gg_l2
FROM btyd_many;
\i test/sql/force_parallel.sql
SELECT * FROM pg_temp.analyzed_plan($$
SELECT clv_bgnbd_fit(x, t_x, t_cal), clv_mbgnbd_fit(x, t_x, t_cal), clv_gammagamma_fit(x, m_x)
FROM btyd_many$$);
SELECT p.bg = s.bg AS bgnbd_identical, p.mbg = s.mbg AS mbgnbd_identical, p.gg = s.gg AS gammagamma_identical
FROM (SELECT clv_bgnbd_fit(x, t_x, t_cal) AS bg, clv_mbgnbd_fit(x, t_x, t_cal) AS mbg,
             clv_gammagamma_fit(x, m_x) AS gg
      FROM btyd_many) p, btyd_many_serial s;
-- options travel with the partial states
SELECT p.m = s.gg_l2 AS identical_with_options
FROM (SELECT clv_gammagamma_fit(x, m_x, '{"l2": 5}') AS m FROM btyd_many) p, btyd_many_serial s;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
-- 50 copies: the log-likelihood scales by 50 and the maximum stays put (the
-- fit ends with Newton steps, so the optimiser's own precision is ~1e-12)
SELECT pg_temp.params_rel(m.bg, o.bg) < 1e-6 AS bgnbd_same_params,
       pg_temp.params_rel(m.mbg, o.mbg) < 1e-6 AS mbgnbd_same_params,
       pg_temp.params_rel(m.gg, o.gg) < 1e-6 AS gammagamma_same_params,
       abs((clv_model_info(m.bg) ->> 'log_likelihood')::float8
           / (clv_model_info(o.bg) ->> 'log_likelihood')::float8 / 50 - 1) < 1e-9 AS log_likelihood_scales,
       clv_model_info(m.bg) ->> 'n_customers' AS n_customers,
       clv_model_info(m.bg) -> 'n_patterns' = clv_model_info(o.bg) -> 'n_patterns' AS same_patterns
FROM btyd_many_serial m, btyd_models o;
DROP TABLE btyd_many;

--------------------------------------------------------------------------------
-- One model per group, the same as fitting each group alone
--------------------------------------------------------------------------------
CREATE TABLE btyd_groups AS
SELECT cust % 3 AS g, clv_bgnbd_fit(x, t_x, t_cal) AS bg, clv_gammagamma_fit(x, m_x) AS gg
FROM btyd_cbs GROUP BY cust % 3;
SELECT g, clv_model_info(bg) ->> 'n_customers' AS n_customers,
       pg_temp.sig3(pg_temp.param(bg, 'r')) AS r, pg_temp.sig3(pg_temp.param(bg, 'alpha')) AS alpha,
       pg_temp.sig3(pg_temp.param(bg, 'a')) AS a, pg_temp.sig3(pg_temp.param(bg, 'b')) AS b,
       bg = (SELECT clv_bgnbd_fit(x, t_x, t_cal) FROM btyd_cbs WHERE cust % 3 = g) AS bg_same_as_alone,
       gg = (SELECT clv_gammagamma_fit(x, m_x) FROM btyd_cbs WHERE cust % 3 = g) AS gg_same_as_alone
FROM btyd_groups ORDER BY g;
-- no rows, no groups: no error
SELECT count(*) AS groups
FROM (SELECT x, clv_bgnbd_fit(x, t_x, t_cal) FROM btyd_cbs WHERE false GROUP BY x) q;

--------------------------------------------------------------------------------
-- Options and model information
--------------------------------------------------------------------------------
SELECT array_agg(k ORDER BY k) AS info_keys
FROM btyd_models, jsonb_object_keys(clv_model_info(bg)) k;
SELECT clv_model_info(bg) -> 'features' AS purchase_features, clv_model_info(gg) -> 'features' AS spend_features,
       clv_model_info(bg) -> 'options' AS options, clv_model_info(bg) -> 'l2' AS l2
FROM btyd_models;
-- l2 shrinks the parameters and lowers the (unpenalised) log-likelihood
CREATE TABLE btyd_l2 AS
SELECT l2, clv_bgnbd_fit(x, t_x, t_cal, jsonb_build_object('l2', l2)) AS bg,
       clv_gammagamma_fit(x, m_x, jsonb_build_object('l2', l2)) AS gg
FROM btyd_cbs, (VALUES (0), (1), (10), (100)) v(l2) GROUP BY l2;
SELECT l2, (SELECT pg_temp.sig3(sum(v::float8 ^ 2)) FROM jsonb_each_text(clv_model_info(bg) -> 'params') e(k, v))
           AS bg_sum_of_squares,
       round((clv_model_info(bg) ->> 'log_likelihood')::numeric) AS bg_log_likelihood,
       (SELECT pg_temp.sig3(sum(v::float8 ^ 2)) FROM jsonb_each_text(clv_model_info(gg) -> 'params') e(k, v))
           AS gg_sum_of_squares,
       clv_model_info(bg) -> 'l2' AS l2_recorded, clv_model_info(bg) -> 'options' AS options
FROM btyd_l2 ORDER BY l2;
SELECT bool_and(a.ss > b.ss) AS sum_of_squares_falls, bool_and(a.ll > b.ll) AS log_likelihood_falls
FROM (SELECT l2, (SELECT sum(v::float8 ^ 2) FROM jsonb_each_text(clv_model_info(bg) -> 'params') e(k, v)) AS ss,
             (clv_model_info(bg) ->> 'log_likelihood')::float8 AS ll,
             lead(l2) OVER (ORDER BY l2) AS next FROM btyd_l2) a
JOIN (SELECT l2, (SELECT sum(v::float8 ^ 2) FROM jsonb_each_text(clv_model_info(bg) -> 'params') e(k, v)) AS ss,
             (clv_model_info(bg) ->> 'log_likelihood')::float8 AS ll FROM btyd_l2) b ON b.l2 = a.next;
-- start: from near the maximum or far from it, the same maximum (to 1e-8)
SELECT pg_temp.params_rel(clv_bgnbd_fit(x, t_x, t_cal, '{"start": [0.25, 4, 0.8, 2.5]}'), o.bg) < 1e-8
           AS bg_near_start,
       pg_temp.params_rel(clv_bgnbd_fit(x, t_x, t_cal, '{"start": [3, 50, 5, 0.2]}'), o.bg) < 1e-8
           AS bg_far_start,
       pg_temp.params_rel(clv_mbgnbd_fit(x, t_x, t_cal, '{"start": [1, 1, 1, 1]}'), o.mbg) < 1e-8
           AS mbg_start,
       pg_temp.params_rel(clv_gammagamma_fit(x, m_x, '{"start": [1, 1, 100]}'), o.gg) < 1e-8
           AS gg_start
FROM btyd_cbs, btyd_models o GROUP BY o.bg, o.mbg, o.gg;
-- max_iter: one iteration does not converge, and says so
SELECT (clv_model_info(m) ->> 'converged')::boolean AS converged,
       clv_model_info(m) ->> 'iterations' AS iterations, clv_model_info(m) -> 'options' AS options
FROM (SELECT clv_bgnbd_fit(x, t_x, t_cal, '{"max_iter": 1, "start": [1, 1, 1, 2]}') AS m FROM btyd_cbs) q;
-- options NULL or {} are no options
SELECT clv_bgnbd_fit(x, t_x, t_cal, NULL) = o.bg AS null_options,
       clv_bgnbd_fit(x, t_x, t_cal, '{}') = o.bg AS empty_options
FROM btyd_cbs, btyd_models o GROUP BY o.bg;

--------------------------------------------------------------------------------
-- Edge customers: finite values
--------------------------------------------------------------------------------
-- hundreds of purchases, recency = t, no repeat purchase, t = 0
-- (the references: expected purchases in 39 weeks by numerical integration
-- over the models' definitions at scipy's maxima, btyd_reference.py; those
-- parameters differ from clv's by about 1e-6, which x = 300 amplifies)
CREATE TABLE btyd_edge (i int, label text, x float8, tx float8, t float8, bg_ref float8, mbg_ref float8);
INSERT INTO btyd_edge VALUES
    (1, 'x = 300, t_x = T = 50', 300, 50, 50, 171.4402292, 162.7901601),
    (2, 'x = 300, t_x = 1, T = 50', 300, 1, 50, 8.048648518e-297, 1.927975243e-264),
    (3, 'recency = t', 5, 38.86, 38.86, 3.389050335, 3.32948235),
    (4, 'x = 0', 0, 0, 38.86, 0.1947820414, 0.1539542992),
    (5, 't = 0', 0, 0, 0, 1.1950101, 1.18227982);
SELECT label, round(clv_expected_purchases(bg, 39, x, tx, t)::numeric, 1) AS bg_expected,
       round(clv_palive(bg, x, tx, t)::numeric, 3) AS bg_palive,
       round(clv_expected_purchases(mbg, 39, x, tx, t)::numeric, 1) AS mbg_expected,
       round(clv_palive(mbg, x, tx, t)::numeric, 3) AS mbg_palive,
       abs(clv_expected_purchases(bg, 39, x, tx, t) / bg_ref - 1) < 1e-3
           AND abs(clv_expected_purchases(mbg, 39, x, tx, t) / mbg_ref - 1) < 1e-3 AS matches_reference
FROM btyd_edge, btyd_models ORDER BY i;
SELECT bool_and(isfinite_all) AS all_finite
FROM (SELECT clv_expected_purchases(bg, h, x, tx, t) NOT IN ('NaN', 'Infinity', '-Infinity')
             AND clv_expected_purchases(mbg, h, x, tx, t) NOT IN ('NaN', 'Infinity', '-Infinity')
             AND clv_palive(bg, x, tx, t) BETWEEN 0 AND 1
             AND clv_palive(mbg, x, tx, t) BETWEEN 0 AND 1 AS isfinite_all
      FROM btyd_edge, btyd_models, (VALUES (0), (1), (39), (100)) v(h)) q;
-- a heavy buyer spends his own mean; expected spend for x = 300
SELECT round(clv_expected_spend(gg, 300, 50)::numeric, 2) AS heavy_buyer_spend FROM btyd_models;

--------------------------------------------------------------------------------
-- Errors
--------------------------------------------------------------------------------
-- NULL, NaN and infinity in each argument of the fits
SELECT clv_bgnbd_fit(NULL, 1, 2);
SELECT clv_bgnbd_fit(1, NULL, 2);
SELECT clv_bgnbd_fit(1, 1, NULL);
SELECT clv_bgnbd_fit('NaN', 1, 2);
SELECT clv_bgnbd_fit(1, 'NaN', 2);
SELECT clv_bgnbd_fit(1, 1, 'NaN');
SELECT clv_bgnbd_fit('Infinity', 1, 2);
SELECT clv_bgnbd_fit(1, '-Infinity', 2);
SELECT clv_bgnbd_fit(1, 1, 'Infinity');
SELECT clv_mbgnbd_fit(NULL, 1, 2);
SELECT clv_mbgnbd_fit(1, 'NaN', 2);
SELECT clv_mbgnbd_fit(1, 1, 'Infinity');
SELECT clv_gammagamma_fit(NULL, 1);
SELECT clv_gammagamma_fit(1, NULL);
SELECT clv_gammagamma_fit('NaN', 1);
SELECT clv_gammagamma_fit(1, 'NaN');
SELECT clv_gammagamma_fit('Infinity', 1);
SELECT clv_gammagamma_fit(1, 'Infinity');
-- ... the same in the middle of a table
SELECT clv_bgnbd_fit(CASE WHEN cust = 100 THEN NULL ELSE x END, t_x, t_cal) FROM btyd_cbs;
-- bad customers
SELECT clv_bgnbd_fit(-1, 0, 2);
SELECT clv_bgnbd_fit(1.5, 1, 2);
SELECT clv_mbgnbd_fit(2.5, 1, 2);
SELECT clv_bgnbd_fit(1, 3, 2);
SELECT clv_mbgnbd_fit(1, 3, 2);
SELECT clv_bgnbd_fit(1, 0, 2);
SELECT clv_mbgnbd_fit(1, 0, 2);
SELECT clv_bgnbd_fit(0, 1, 2);
SELECT clv_bgnbd_fit(1, -1, 2);
SELECT clv_bgnbd_fit(0, 0, -2);
SELECT clv_gammagamma_fit(-1, 10);
SELECT clv_gammagamma_fit(1.5, 10);
SELECT clv_gammagamma_fit(1, 0);
SELECT clv_gammagamma_fit(2, -10);
-- one-time buyers' monetary is ignored, not checked, except for NULL / NaN
SELECT clv_gammagamma_fit(x, CASE WHEN x = 0 THEN -1 ELSE m_x END) = gg AS negative_ignored
FROM btyd_cbs, btyd_models GROUP BY gg;
-- no repeat buyers, too few customers, no rows
SELECT clv_bgnbd_fit(0, 0, t_cal) FROM btyd_cbs;
SELECT clv_mbgnbd_fit(0, 0, t_cal) FROM btyd_cbs;
SELECT clv_gammagamma_fit(0, m_x) FROM btyd_cbs;
SELECT clv_gammagamma_fit(x, m_x) FROM btyd_cbs WHERE x > 0 AND cust = 1;
SELECT clv_bgnbd_fit(x, t_x, t_cal) FROM btyd_cbs WHERE cust <= 3;
SELECT clv_bgnbd_fit(x, t_x, t_cal) FROM btyd_cbs WHERE false;
SELECT clv_mbgnbd_fit(x, t_x, t_cal) FROM btyd_cbs WHERE false;
SELECT clv_gammagamma_fit(x, m_x) FROM btyd_cbs WHERE false;
-- options
SELECT clv_bgnbd_fit(x, t_x, t_cal, '{"l1": 1}') FROM btyd_cbs;
-- the same options in every row (as jsonb: 1 and 1.0 are equal)
SELECT clv_bgnbd_fit(x, t_x, t_cal, CASE WHEN cust < 1000 THEN '{"l2": 1}' ELSE '{"l2": 2}' END::jsonb)
FROM btyd_cbs;
SELECT clv_gammagamma_fit(x, m_x, CASE WHEN cust < 1000 THEN '{"l2": 1}'::jsonb END) FROM btyd_cbs;
SELECT clv_paretonbd_fit(x, t_x, t_cal, CASE WHEN cust < 1000 THEN '{"l2": 1}' ELSE '{"l2": 1.0}' END::jsonb)
       = clv_paretonbd_fit(x, t_x, t_cal, '{"l2": 1}') AS equal_options_agree
FROM btyd_cbs;
SELECT clv_gammagamma_fit(x, m_x, '{"maxiter": 10}') FROM btyd_cbs;
SELECT clv_bgnbd_fit(x, t_x, t_cal, '[1, 2]') FROM btyd_cbs;
SELECT clv_bgnbd_fit(x, t_x, t_cal, '{"l2": "1"}') FROM btyd_cbs;
SELECT clv_bgnbd_fit(x, t_x, t_cal, '{"l2": -1}') FROM btyd_cbs;
SELECT clv_bgnbd_fit(x, t_x, t_cal, '{"max_iter": 2.5}') FROM btyd_cbs;
SELECT clv_bgnbd_fit(x, t_x, t_cal, '{"max_iter": 0}') FROM btyd_cbs;
SELECT clv_bgnbd_fit(x, t_x, t_cal, '{"max_iter": true}') FROM btyd_cbs;
SELECT clv_bgnbd_fit(x, t_x, t_cal, '{"start": 1}') FROM btyd_cbs;
SELECT clv_bgnbd_fit(x, t_x, t_cal, '{"start": ["1", 1, 1, 1]}') FROM btyd_cbs;
SELECT clv_bgnbd_fit(x, t_x, t_cal, '{"start": [1, 1, 1]}') FROM btyd_cbs;
SELECT clv_mbgnbd_fit(x, t_x, t_cal, '{"start": [1, 1, 1, 1, 1]}') FROM btyd_cbs;
SELECT clv_gammagamma_fit(x, m_x, '{"start": [1, 1, 1, 1]}') FROM btyd_cbs;
SELECT clv_bgnbd_fit(x, t_x, t_cal, '{"start": [1, 1, 0, 1]}') FROM btyd_cbs;
SELECT clv_gammagamma_fit(x, m_x, '{"start": [1, -2, 1]}') FROM btyd_cbs;
-- a model of the wrong kind
CREATE TABLE btyd_linreg AS
SELECT clv_linreg_fit(2 * i + sin(i), ARRAY[i::float8]) AS m FROM generate_series(1, 20) i;
SELECT clv_palive(m, 2, 30.43, 38.86) FROM btyd_linreg;
SELECT clv_expected_purchases(m, 39, 2, 30.43, 38.86) FROM btyd_linreg;
SELECT clv_expected_spend(m, 2, 22.345) FROM btyd_linreg;
SELECT clv_palive(gg, 2, 30.43, 38.86) FROM btyd_models;
SELECT clv_expected_purchases(gg, 39, 2, 30.43, 38.86) FROM btyd_models;
SELECT clv_expected_spend(bg, 2, 22.345) FROM btyd_models;
SELECT clv_expected_spend(mbg, 2, 22.345) FROM btyd_models;
SELECT clv_predict(bg, '{2, 30.43, 38.86}') FROM btyd_models;
SELECT clv_predict(gg, '{2, 22.345}') FROM btyd_models;
SELECT pg_temp.sqlstate_of('SELECT clv_predict(mbg, ''{2, 30.43, 38.86}'') FROM btyd_models') AS predict_mbgnbd;
-- predictions: bad arguments; NULL gives NULL (the functions are strict)
SELECT clv_expected_purchases(bg, -1, 2, 30.43, 38.86) FROM btyd_models;
SELECT clv_expected_purchases(bg, 'NaN', 2, 30.43, 38.86) FROM btyd_models;
SELECT clv_expected_purchases(bg, 'Infinity', 2, 30.43, 38.86) FROM btyd_models;
SELECT clv_expected_purchases(bg, 39, 'NaN', 30.43, 38.86) FROM btyd_models;
SELECT clv_expected_purchases(bg, 39, 2, 'NaN', 38.86) FROM btyd_models;
SELECT clv_expected_purchases(bg, 39, 2, 30.43, 'Infinity') FROM btyd_models;
SELECT clv_expected_purchases(bg, 39, 2, 40, 38.86) FROM btyd_models;
SELECT clv_expected_purchases(mbg, 39, -2, 30, 38.86) FROM btyd_models;
SELECT clv_palive(bg, 2.5, 30.43, 38.86) FROM btyd_models;
SELECT clv_palive(bg, 2, 0, 38.86) FROM btyd_models;
SELECT clv_palive(mbg, 0, 3, 38.86) FROM btyd_models;
SELECT clv_palive(bg, 2, -1, 38.86) FROM btyd_models;
SELECT clv_palive(bg, 2, 30.43, '-Infinity') FROM btyd_models;
SELECT clv_expected_spend(gg, 'NaN', 10) FROM btyd_models;
SELECT clv_expected_spend(gg, 2, 'Infinity') FROM btyd_models;
SELECT clv_expected_spend(gg, 2, 0) FROM btyd_models;
SELECT clv_expected_spend(gg, -1, 10) FROM btyd_models;
SELECT clv_expected_spend(gg, 1.5, 10) FROM btyd_models;
SELECT clv_expected_purchases(bg, NULL, 2, 30.43, 38.86) IS NULL AS horizon_null,
       clv_palive(bg, 2, NULL, 38.86) IS NULL AS recency_null,
       clv_expected_spend(gg, 2, NULL) IS NULL AS monetary_null,
       clv_palive(NULL, 2, 30.43, 38.86) IS NULL AS model_null
FROM btyd_models;
-- a spend model whose mean spend does not exist (q <= 1, here by a strong l2)
SELECT pg_temp.param(gg, 'q') < 1 AS q_below_1 FROM btyd_l2 WHERE l2 = 100;
SELECT pg_temp.sqlstate_of('SELECT clv_expected_spend(gg, 2, 22.345) FROM btyd_l2 WHERE l2 = 100') AS no_mean_spend;
-- corrupted model bytes
SELECT clv_palive('\x00'::bytea, 2, 30.43, 38.86);
SELECT clv_palive('this is not a clv model, only text'::bytea, 2, 30.43, 38.86);
SELECT clv_palive(substr(bg, 1, length(bg) - 1), 2, 30.43, 38.86) FROM btyd_models;
SELECT clv_palive(set_byte(bg, length(bg) - 1, get_byte(bg, length(bg) - 1) # 1), 2, 30.43, 38.86) FROM btyd_models;
SELECT clv_expected_spend(set_byte(gg, 30, get_byte(gg, 30) # 4), 2, 22.345) FROM btyd_models;
SELECT clv_model_info(set_byte(mbg, 6, 99)) FROM btyd_models;
