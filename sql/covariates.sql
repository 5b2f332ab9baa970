-- BG/NBD and Pareto/NBD with static covariates: fits on the CDNOW sample
-- with the first order's value and the acquisition week as covariates, the
-- plain models' fits and predictions exactly when no covariate varies,
-- predictions with covariates, exact parallel combining, window use, zero
-- rows and every error a user can cause.  test/reference/covariates_reference.py
-- checks the fits and predictions against an independent scipy implementation
-- and the recovery of known coefficients.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\i test/sql/analyzed_plan.sql

-- v rounded to 3 significant digits
CREATE FUNCTION pg_temp.sig3(v float8) RETURNS numeric
LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN v = 0 THEN 0 ELSE round(v::numeric, 2 - floor(log(abs(v::numeric)))::int) END $$;
-- the SQLSTATE and message of a statement's error
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
-- a model's numbers in clv_model_info, 3 significant digits
CREATE FUNCTION pg_temp.numbers(m bytea, what text) RETURNS text
LANGUAGE sql IMMUTABLE AS
$$ SELECT string_agg(key || ' ' || coalesce(pg_temp.sig3(value::float8)::text, 'null'), ', ' ORDER BY key)
   FROM jsonb_each_text(clv_model_info(m) -> what) $$;

--------------------------------------------------------------------------------
-- CDNOW: 2,357 customers (weeks), each with the log of the first order's value
-- (centred at 3.5) and the acquisition week (0 to 11, in units of 10 weeks).
--------------------------------------------------------------------------------
\set cbs cov_cbs
\i test/data/cdnow_cbs.sql
CREATE TEMP TABLE cov_lines (line text);
\copy cov_lines FROM 'test/data/cdnow_sample.txt'
CREATE TABLE cov_cdnow AS
SELECT c.cust, c.x, c.t_x, c.t_cal, c.m_x,
       ARRAY[ln(f.first_value + 1) - 3.5] AS spend,
       ARRAY[(f.first_day - date '1997-01-01') / 70.0] AS week
FROM cov_cbs c
JOIN (SELECT customer_id, min(day) AS first_day,
             sum(value) FILTER (WHERE rank = 1) AS first_value
      FROM (SELECT f[2]::int AS customer_id, to_date(f[3], 'YYYYMMDD') AS day, f[5]::float8 AS value,
                   rank() OVER (PARTITION BY f[2]::int ORDER BY to_date(f[3], 'YYYYMMDD')) AS rank
            FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f FROM cov_lines) r) o
      GROUP BY 1) f ON f.customer_id = c.cust;
SELECT count(*) AS customers, pg_temp.sig3(avg(spend[1])) AS mean_spend,
       pg_temp.sig3(max(week[1])) AS last_week
FROM cov_cdnow;

CREATE TABLE cov_models AS
SELECT clv_bgnbd_fit(x, t_x, t_cal) AS bg,
       clv_bgnbd_fit(x, t_x, t_cal, spend, week,
                     '{"purchase_features": ["first_spend"], "dropout_features": ["week"]}') AS bg_cov,
       clv_paretonbd_fit(x, t_x, t_cal) AS pnbd,
       clv_paretonbd_fit(x, t_x, t_cal, spend, week,
                         '{"purchase_features": ["first_spend"], "dropout_features": ["week"]}') AS pnbd_cov,
       clv_gammagamma_fit(x, m_x) AS gg
FROM cov_cdnow;

-- the base parameters, the coefficients with their standard errors, the fit
SELECT k AS model, clv_model_info(m) ->> 'kind' AS kind, clv_model_info(m) -> 'features' AS features,
       pg_temp.numbers(m, 'params') AS params, pg_temp.numbers(m, 'std_errors') AS std_errors
FROM cov_models, LATERAL (VALUES ('bgnbd', bg_cov), ('paretonbd', pnbd_cov)) v(k, m);
SELECT k AS model,
       pg_temp.numbers(m, 'purchase_coefficients') AS purchase, pg_temp.numbers(m, 'purchase_std_errors') AS se,
       pg_temp.numbers(m, 'dropout_coefficients') AS dropout, pg_temp.numbers(m, 'dropout_std_errors') AS se,
       pg_temp.sig3((clv_model_info(m) ->> 'log_likelihood')::float8) AS ll,
       (clv_model_info(m) ->> 'log_likelihood')::float8 > (clv_model_info(plain) ->> 'log_likelihood')::float8
           AS ll_above_plain,
       clv_model_info(m) ->> 'converged' AS converged, clv_model_info(m) ->> 'n_rows' AS n_rows
FROM cov_models, LATERAL (VALUES ('bgnbd', bg_cov, bg), ('paretonbd', pnbd_cov, pnbd)) v(k, m, plain);

--------------------------------------------------------------------------------
-- No covariate that varies: the plain model's fit and predictions, exactly.
--------------------------------------------------------------------------------
CREATE TABLE cov_none AS
SELECT clv_bgnbd_fit(x, t_x, t_cal, '{}', '{}') AS bg_empty,
       clv_bgnbd_fit(x, t_x, t_cal, ARRAY[0, 0], ARRAY[0]) AS bg_zero,
       clv_paretonbd_fit(x, t_x, t_cal, '{}', '{}') AS pnbd_empty,
       clv_paretonbd_fit(x, t_x, t_cal, ARRAY[0, 0], ARRAY[0]) AS pnbd_zero
FROM cov_cdnow;
SELECT clv_model_info(n.bg_empty) -> 'params' = clv_model_info(m.bg) -> 'params' AS bgnbd_empty_same,
       clv_model_info(n.bg_zero) -> 'params' = clv_model_info(m.bg) -> 'params' AS bgnbd_zero_same,
       clv_model_info(n.bg_zero) -> 'std_errors' = clv_model_info(m.bg) -> 'std_errors' AS bgnbd_se_same,
       clv_model_info(n.pnbd_empty) -> 'params' = clv_model_info(m.pnbd) -> 'params' AS paretonbd_empty_same,
       clv_model_info(n.pnbd_zero) -> 'params' = clv_model_info(m.pnbd) -> 'params' AS paretonbd_zero_same,
       clv_model_info(n.bg_zero) -> 'purchase_coefficients' AS zero_coefficients,
       clv_model_info(n.bg_zero) -> 'purchase_std_errors' AS their_std_errors
FROM cov_none n, cov_models m;
SELECT count(*) AS customers,
       max(abs(clv_palive(n.bg_zero, x, t_x, t_cal, ARRAY[0, 0], ARRAY[0]) - clv_palive(m.bg, x, t_x, t_cal))) AS bg_palive,
       max(abs(clv_expected_purchases(n.bg_zero, 39, x, t_x, t_cal, ARRAY[0, 0], ARRAY[0])
               - clv_expected_purchases(m.bg, 39, x, t_x, t_cal))) AS bg_expected,
       max(abs(clv_palive(n.pnbd_zero, x, t_x, t_cal, ARRAY[0, 0], ARRAY[0]) - clv_palive(m.pnbd, x, t_x, t_cal))) AS pnbd_palive,
       max(abs(clv_expected_purchases(n.pnbd_empty, 39, x, t_x, t_cal, '{}', '{}')
               - clv_expected_purchases(m.pnbd, 39, x, t_x, t_cal))) AS pnbd_expected,
       max(abs(clv_dert(n.pnbd_zero, x, t_x, t_cal, '7 days', 0.15, ARRAY[0, 0], ARRAY[0])
               - clv_dert(m.pnbd, x, t_x, t_cal, '7 days', 0.15))) AS pnbd_dert,
       max(abs(clv_lifetime_value(n.bg_zero, m.gg, x, t_x, t_cal, m_x, '1 year', '7 days', 0.1, 'discrete',
                                  ARRAY[0, 0], ARRAY[0])
               - clv_lifetime_value(m.bg, m.gg, x, t_x, t_cal, m_x, '1 year', '7 days', 0.1))) AS bg_value
FROM cov_cdnow, cov_none n, cov_models m;
-- a plain model takes empty covariate arrays
SELECT clv_palive(bg, 2, 30.43, 38.86, '{}', '{}') = clv_palive(bg, 2, 30.43, 38.86) AS plain_with_empty
FROM cov_models;

--------------------------------------------------------------------------------
-- Predictions with covariates: a customer's own parameters in the plain
-- formulas.  A big first order (spend 1.5) against a small one (-1.5).
--------------------------------------------------------------------------------
SELECT k AS model, s AS spend,
       pg_temp.sig3(clv_palive(m, 2, 30.43, 38.86, ARRAY[s], ARRAY[0.5])) AS palive,
       pg_temp.sig3(clv_expected_purchases(m, 39, 2, 30.43, 38.86, ARRAY[s], ARRAY[0.5])) AS expected_39w,
       pg_temp.sig3(clv_probability_of_purchases(m, 39, 1, ARRAY[s], ARRAY[0.5])) AS p1_new,
       pg_temp.sig3(clv_probability_of_purchases(m, 39, 1, 2, 30.43, 38.86, ARRAY[s], ARRAY[0.5])) AS p1_given,
       pg_temp.sig3(clv_lifetime_value(m, gg, 2, 30.43, 38.86, 40, '1 year', '7 days', 0.1, 'discrete',
                                       ARRAY[s], ARRAY[0.5])) AS value_1y
FROM cov_models, LATERAL (VALUES ('bgnbd', bg_cov), ('paretonbd', pnbd_cov)) v(k, m),
     unnest(ARRAY[-1.5, 1.5]) s
ORDER BY 1, 2;
SELECT pg_temp.sig3(clv_dert(pnbd_cov, 2, 30.43, 38.86, '7 days', 0.15, ARRAY[1.5], ARRAY[0.5])) AS dert
FROM cov_models;
-- the expected purchases of the customer base with and without covariates
SELECT pg_temp.sig3(sum(clv_expected_purchases(bg_cov, 39, c.x, c.t_x, c.t_cal, spend, week))) AS bgnbd_cov,
       pg_temp.sig3(sum(clv_expected_purchases(bg, 39, c.x, c.t_x, c.t_cal))) AS bgnbd,
       sum(b.x_star) AS actual
FROM cov_cdnow c JOIN cov_cbs b USING (cust), cov_models;

--------------------------------------------------------------------------------
-- Parallel plans: 10 copies of every customer.  Partial states keep the rows;
-- the fit sorts them first: the same model bytes.
--------------------------------------------------------------------------------
CREATE TABLE cov_many AS SELECT c.* FROM cov_cdnow c CROSS JOIN generate_series(1, 10);
ANALYZE cov_many;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE cov_many_serial AS
SELECT clv_bgnbd_fit(x, t_x, t_cal, spend, week) AS bg,
       clv_bgnbd_fit(x, t_x, t_cal, spend, week, '{"l2": 1}') AS bg_l2
FROM cov_many;
\i test/sql/force_parallel.sql
SELECT * FROM pg_temp.analyzed_plan($$SELECT clv_bgnbd_fit(x, t_x, t_cal, spend, week) FROM cov_many$$);
SELECT p.bg = s.bg AS identical, p.bg_l2 = s.bg_l2 AS identical_with_options
FROM (SELECT clv_bgnbd_fit(x, t_x, t_cal, spend, week) AS bg,
             clv_bgnbd_fit(x, t_x, t_cal, spend, week, '{"l2": 1}') AS bg_l2
      FROM cov_many) p, cov_many_serial s;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
-- row order does not matter either
SELECT (SELECT clv_bgnbd_fit(x, t_x, t_cal, spend, week) FROM (SELECT * FROM cov_cdnow ORDER BY random()) r)
       = (SELECT clv_bgnbd_fit(x, t_x, t_cal, spend, week) FROM (SELECT * FROM cov_cdnow ORDER BY cust DESC) r)
       AS same_in_any_order;
-- the l2 penalty shrinks the coefficients
SELECT abs((clv_model_info(bg_l2) #>> '{purchase_coefficients,purchase1}')::float8)
       < abs((clv_model_info(bg) #>> '{purchase_coefficients,purchase1}')::float8) AS l2_shrinks,
       clv_model_info(bg_l2) ->> 'l2' AS l2
FROM cov_many_serial;

--------------------------------------------------------------------------------
-- As a window function, one model per partition; zero rows.
--------------------------------------------------------------------------------
WITH w AS (SELECT DISTINCT cust % 2 AS half,
                           clv_bgnbd_fit(x, t_x, t_cal, spend, week) OVER (PARTITION BY cust % 2) AS m
           FROM cov_cdnow),
     g AS (SELECT cust % 2 AS half, clv_bgnbd_fit(x, t_x, t_cal, spend, week) AS m
           FROM cov_cdnow GROUP BY 1)
SELECT half, w.m = g.m AS same_as_aggregate FROM w JOIN g USING (half) ORDER BY 1;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(x, t_x, t_cal, spend, week) FROM cov_cdnow WHERE false$$)
    AS zero_rows;
SELECT pg_temp.sqlstate_of($$SELECT clv_paretonbd_fit(x, t_x, t_cal, spend, week, '{}') FROM cov_cdnow WHERE false$$)
    AS zero_rows_paretonbd;

--------------------------------------------------------------------------------
-- Errors of the fits.
--------------------------------------------------------------------------------
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(2, 10, 20, NULL, ARRAY[1])$$) AS null_array;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(2, 10, 20, ARRAY[1], ARRAY[NULL]::float8[])$$) AS null_element;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(2, 10, 20, ARRAY['NaN'::float8], ARRAY[1])$$) AS nan_element;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(2, 10, 20, ARRAY[[1, 2]]::float8[], ARRAY[1])$$) AS two_dimensions;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(2, 10, 20, array_fill(0.5, ARRAY[101])::float8[], ARRAY[1])$$)
    AS too_many;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(x, 10, 20, ARRAY[x], CASE WHEN x = 1 THEN ARRAY[1] ELSE ARRAY[1, 2] END)
                             FROM generate_series(1, 2) x$$) AS length_changes;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(NULL, 10, 20, ARRAY[1], ARRAY[1])$$) AS null_frequency;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(2, 30, 20, ARRAY[1], ARRAY[1])$$) AS recency_after_t;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(2, 10, 20, ARRAY[1], ARRAY[1], '{"l3": 1}')$$) AS unknown_option;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(2, 10, 20, ARRAY[1], ARRAY[1], '{"l2": -1}')$$) AS negative_l2;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(2, 10, 20, ARRAY[1], ARRAY[1], '{"purchase_features": ["a", "b"]}')$$)
    AS names_count;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(x, 10, 20, ARRAY[1], ARRAY[1], jsonb_build_object('l2', x))
                             FROM generate_series(1, 2) x$$) AS options_change;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(0, 0, 20, ARRAY[1], ARRAY[1]) FROM generate_series(1, 5)$$)
    AS no_repeat_purchases;
SET clv.max_training_memory = 64;
SELECT pg_temp.sqlstate_of($$SELECT clv_bgnbd_fit(x % 3, x % 3, 20, ARRAY[x], ARRAY[1])
                             FROM generate_series(1, 5000) x$$) AS memory_limit;
RESET clv.max_training_memory;

-- cancellation: the passes over the rows run on worker threads; a cancel
-- stops the search at the next pass and the statement ends cleanly
CREATE TABLE cov_long AS
SELECT x, CASE WHEN x = 0 THEN 0 ELSE 1 + i % 37 END AS recency, 40 + i % 11 AS t,
       ARRAY[(i * 7919 % 1000) / 1000.0 - 0.5]::float8[] AS z1,
       ARRAY[(i * 104729 % 997) / 997.0 - 0.5]::float8[] AS z2
FROM generate_series(1::bigint, 200000) i, LATERAL (SELECT i % 7 AS x) c;
SET statement_timeout = '500ms';
DO $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    PERFORM clv_paretonbd_fit(x, recency, t, z1, z2) FROM cov_long;
    RAISE NOTICE 'not cancelled';
EXCEPTION WHEN query_canceled THEN
    RAISE NOTICE 'cancelled within 2 s of the timeout: %', clock_timestamp() - t0 < interval '2.5 s';
END $$;
RESET statement_timeout;
DROP TABLE cov_long;

--------------------------------------------------------------------------------
-- Each call site keeps the parameters of the covariate vectors it has met,
-- keyed by their bytes.  700 pairs of vectors (50 purchase × 14 dropout), more
-- than its 256 slots, each met twice
-- in a scrambled order, some with lower bound 0, for two models at once, and a
-- model whose vectors are too long to keep: the same values, bit for bit, as
-- each customer's calls in a statement of their own.
--------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.scores_alone(m bytea, gg bytea, x float8, tx float8, z1 float8[], z2 float8[])
RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE
    r float8[];
BEGIN
    EXECUTE $q$SELECT ARRAY[clv_palive($1, $3, $4, 38.86, $5, $6),
                            clv_expected_purchases($1, 39, $3, $4, 38.86, $5, $6),
                            clv_lifetime_value($1, $2, $3, $4, 38.86, 40, '1 year', '7 days', 0.1,
                                               'discrete', $5, $6)]$q$
        INTO r USING m, gg, x, tx, z1, z2;
    RETURN r;
END $$;
CREATE TABLE cov_wide AS
SELECT clv_model_from_params('bgnbd_cov', jsonb_build_object(
           'r', 0.243, 'alpha', 4.414, 'a', 0.793, 'b', 2.426,
           'purchase_coefficients', array_fill(0.02, ARRAY[25]), 'dropout_coefficients', ARRAY[0.3])) AS wide;
CREATE TABLE cov_scrambled AS
SELECT k, m, gg, x, x * 3.1 AS tx,
       CASE WHEN k = 'wide' THEN array_fill(v % 50 / 25.0 - 1, ARRAY[25])
            WHEN i % 3 = 0 THEN ('[0:0]=' || ARRAY[v % 50 / 25.0 - 1]::text)::float8[]
            ELSE ARRAY[v % 50 / 25.0 - 1] END AS z1,
       ARRAY[v / 50 / 7.0] AS z2
FROM (SELECT i, (i * 7919) % 700 AS v, (i % 5)::float8 AS x FROM generate_series(1, 1400) i) r,
     cov_models, cov_wide,
     LATERAL (VALUES ('bgnbd', bg_cov), ('paretonbd', pnbd_cov), ('wide', wide)) v(k, m)
WHERE k <> 'wide' OR i <= 100;
SELECT k AS model, count(*) AS rows,
       count(*) FILTER (WHERE ARRAY[clv_palive(m, x, tx, 38.86, z1, z2),
                                    clv_expected_purchases(m, 39, x, tx, 38.86, z1, z2),
                                    clv_lifetime_value(m, gg, x, tx, 38.86, 40, '1 year', '7 days', 0.1,
                                                       'discrete', z1, z2)]
                               IS DISTINCT FROM pg_temp.scores_alone(m, gg, x, tx, z1, z2)) AS differ
FROM cov_scrambled
GROUP BY 1 ORDER BY 1;
DROP TABLE cov_scrambled, cov_wide;

--------------------------------------------------------------------------------
-- Errors of the predictions.
--------------------------------------------------------------------------------
SELECT pg_temp.sqlstate_of($$SELECT clv_palive(bg_cov, 2, 30, 38) FROM cov_models$$) AS covariates_missing;
SELECT pg_temp.sqlstate_of($$SELECT clv_expected_purchases(bg_cov, 39, 2, 30, 38) FROM cov_models$$)
    AS covariates_missing_expected;
SELECT pg_temp.sqlstate_of($$SELECT clv_palive(bg_cov, 2, 30, 38, ARRAY[1, 2], ARRAY[1]) FROM cov_models$$)
    AS purchase_length;
SELECT pg_temp.sqlstate_of($$SELECT clv_palive(bg_cov, 2, 30, 38, ARRAY[1], '{}') FROM cov_models$$)
    AS dropout_length;
SELECT pg_temp.sqlstate_of($$SELECT clv_palive(bg_cov, 2, 30, 38, ARRAY['NaN'::float8], ARRAY[1]) FROM cov_models$$)
    AS nan_covariate;
SELECT pg_temp.sqlstate_of($$SELECT clv_palive(bg_cov, 2, 30, 38, ARRAY[NULL::float8], ARRAY[1]) FROM cov_models$$)
    AS null_covariate;
SELECT clv_palive(bg_cov, 2, 30, 38, NULL, ARRAY[1]) IS NULL AS strict_null FROM cov_models;
SELECT pg_temp.sqlstate_of($$SELECT clv_palive(bg, 2, 30, 38, ARRAY[1], ARRAY[1]) FROM cov_models$$)
    AS plain_model_covariates;
SELECT pg_temp.sqlstate_of($$SELECT clv_dert(bg_cov, 2, 30, 38, '7 days', 0.1, ARRAY[1], ARRAY[1]) FROM cov_models$$)
    AS dert_of_bgnbd;
SELECT pg_temp.sqlstate_of($$SELECT clv_cumulative_expected_purchases(bg_cov, 0, 10) FROM cov_models$$)
    AS tracking;
SELECT pg_temp.sqlstate_of($$SELECT clv_expected_spend(bg_cov, 2, 30) FROM cov_models$$) AS spend_model;
SELECT pg_temp.sqlstate_of($$SELECT clv_predict(bg_cov, ARRAY[2, 30, 38, 1, 1]) FROM cov_models$$) AS predict;
SELECT pg_temp.sqlstate_of($$SELECT clv_lifetime_value(bg_cov, bg_cov, 2, 30, 38, 40, '1 year', '7 days', 0.1,
                                                       'discrete', ARRAY[1], ARRAY[1]) FROM cov_models$$)
    AS value_spend_model;
