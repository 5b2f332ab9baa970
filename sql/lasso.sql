-- Lasso and elastic net: option "l1" of clv_linreg_fit, clv_linreg_stats and
-- clv_linreg_fit_stats, and the path clv_linreg_path.  l1 = 0 is the fit of
-- before; a positive l1 zeroes weak slopes; every form of the aggregate and
-- every plan gives the same model.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\set VERBOSITY default

CREATE FUNCTION pg_temp.error_of(q text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- the coefficients of a model, rounded
CREATE FUNCTION pg_temp.coefs(m bytea) RETURNS numeric[]
LANGUAGE sql AS $$
SELECT array_agg(round(v::numeric, 6) ORDER BY k)
FROM jsonb_array_elements_text(clv_model_info(m) -> 'coefficients') WITH ORDINALITY c(v, k) $$;

-- 1,000 rows: two strong features, a weak one, two of noise, on unequal scales
CREATE TABLE lasso_rows AS
SELECT i AS id,
       ARRAY[sin(i), 100 * cos(i * 0.7), (i % 11)::float8, sin(i * 1.3) / 10, cos(i * 2.9)]::float8[] AS x,
       1 + 2 * sin(i) - 0.01 * (100 * cos(i * 0.7)) + 0.02 * (i % 11) + 0.3 * sin(i * 5.1) AS y
FROM generate_series(1, 1000) i;
ANALYZE lasso_rows;

-- l1 = 0 is the ordinary and the ridge fit: the same coefficients and statistics,
-- only the options recorded differ
SELECT l2,
       clv_model_info(a) - 'options' = clv_model_info(b) - 'options' AS same_fit,
       clv_model_info(b) ? 'l1' AS records_l1
FROM (SELECT l2, clv_linreg_fit(y, x, jsonb_build_object('l2', l2)) AS a,
             clv_linreg_fit(y, x, jsonb_build_object('l2', l2, 'l1', 0)) AS b
      FROM lasso_rows, (VALUES (0::float8), (10)) g(l2) GROUP BY l2) q
ORDER BY l2;

-- the lasso zeroes the weak and noise features as l1 grows
SELECT l1, pg_temp.coefs(m) AS coefficients,
       clv_model_info(m) -> 'nonzero' AS nonzero, clv_model_info(m) -> 'l1' AS l1_recorded,
       clv_model_info(m) -> 'df_resid' AS df_resid,
       round((clv_model_info(m) ->> 'r2')::numeric, 6) AS r2,
       clv_model_info(m) -> 'std_errors' -> 0 AS std_error
FROM (SELECT l1, clv_linreg_fit(y, x, jsonb_build_object('l1', l1)) AS m
      FROM lasso_rows, (VALUES (1::float8), (100), (1000), (1e6)) g(l1) GROUP BY l1) q
ORDER BY l1;

-- elastic net: both penalties, names kept
SELECT pg_temp.coefs(m) AS coefficients, clv_model_info(m) -> 'l2' AS l2,
       clv_model_info(m) -> 'terms' AS terms
FROM (SELECT clv_linreg_fit(y, x, '{"l1": 100, "l2": 50, "features": ["a", "b", "c", "d", "e"]}') AS m
      FROM lasso_rows) q;

-- a lasso model scores, explains and is scored on statistics like any linear model
SELECT round(clv_predict(m, ARRAY[0.5, 10, 3, 0, 0]::float8[])::numeric, 6) AS prediction,
       round(abs(clv_linreg_mse(m, s) - (SELECT avg((y - clv_predict(m, x)) ^ 2) FROM lasso_rows))::numeric, 9)
           AS mse_difference,
       round(((SELECT sum(v) FROM unnest(clv_explain(m, ARRAY[0.5, 10, 3, 0, 0]::float8[])) v)
              + clv_explain_expected(m))::numeric, 6) AS explained
FROM (SELECT clv_linreg_fit(y, x, '{"l1": 100}') AS m, clv_linreg_stats(y, x) AS s FROM lasso_rows) q;

-- more features than rows: the lasso fits where least squares cannot
CREATE TABLE lasso_wide AS
SELECT i AS id, ARRAY(SELECT sin(i * k + k) FROM generate_series(1, 30) k) AS x,
       2 * sin(i * 1 + 1) - sin(i * 4 + 4) + 0.1 * cos(i) AS y
FROM generate_series(1, 12) i;
SELECT clv_model_info(m) -> 'nonzero' AS nonzero, clv_model_info(m) -> 'n' AS n,
       clv_model_info(m) -> 'n_features' AS n_features,
       (SELECT max(abs(y - clv_predict(m, x))) < 1 FROM lasso_wide) AS fits_the_rows
FROM (SELECT clv_linreg_fit(y, x, '{"l1": 0.5}') AS m FROM lasso_wide) q;
SELECT pg_temp.error_of($$SELECT clv_linreg_fit(y, x) FROM lasso_wide$$);

-- statistics: fit_stats with l1 is the fit over the same rows, same bytes
SELECT md5(clv_linreg_fit_stats(s, '{"l1": 100}')) = md5(f) AS same_model
FROM (SELECT clv_linreg_stats(y, x) AS s, clv_linreg_fit(y, x, '{"l1": 100}') AS f FROM lasso_rows) q;
SELECT md5(clv_linreg_fit_stats(s)) = md5(f) AS same_model_from_options_of_stats
FROM (SELECT clv_linreg_stats(y, x, '{"l1": 5}') AS s, clv_linreg_fit(y, x, '{"l1": 5}') AS f
      FROM lasso_rows) q;

-- the path: one model per l1, in the order given, each the model fit_stats returns
SELECT p.l1, p.model = clv_linreg_fit_stats(q.s, jsonb_build_object('l1', p.l1, 'l2', 2)) AS same_model,
       clv_model_info(p.model) -> 'nonzero' AS nonzero, clv_model_info(p.model) -> 'options' AS options
FROM (SELECT clv_linreg_stats(y, x) AS s FROM lasso_rows) q,
     clv_linreg_path(q.s, '{100, 0, 1e6, 0.5, 1000, 100}', '{"l2": 2}') p;
SELECT count(*) AS models FROM clv_linreg_path((SELECT clv_linreg_stats(y, x) FROM lasso_rows), '{1, 2, 3}');

-- errors: SQLSTATE and message (and a state of another aggregate)
CREATE AGGREGATE lasso_summary_state(timestamptz, float8, timestamptz) (
    SFUNC = clv_summary_trans, STYPE = clv_state, FINALFUNC = clv_state_value);
SELECT pg_temp.error_of(q) FROM (VALUES
    ($$SELECT clv_linreg_fit(y, x, '{"l1": -1}') FROM lasso_rows$$),
    ($$SELECT clv_linreg_fit(y, x, '{"l1": "1"}') FROM lasso_rows$$),
    ($$SELECT clv_linreg_fit(y, x, '{"l1": null}') FROM lasso_rows$$),
    ($$SELECT clv_linreg_fit(y, x, jsonb_build_object('l1', 'NaN'::float8)) FROM lasso_rows$$),
    ($$SELECT clv_linreg_fit(y, x, '{"l1": 1e301}') FROM lasso_rows$$),
    ($$SELECT clv_linreg_fit(y, x, '{"l1": 1}') FROM lasso_rows WHERE false$$),
    ($$SELECT clv_linreg_fit_stats(clv_linreg_stats(y, x), '{"l1": -0.5}') FROM lasso_rows$$),
    ($$SELECT clv_linreg_fit(y, x, CASE WHEN id < 500 THEN '{"l1": 1}' ELSE '{"l1": 2}' END::jsonb) FROM lasso_rows$$),
    ($$SELECT * FROM clv_linreg_path((SELECT clv_linreg_stats(y, x) FROM lasso_rows), '{1, -1}')$$),
    ($$SELECT * FROM clv_linreg_path((SELECT clv_linreg_stats(y, x) FROM lasso_rows), '{1, NaN}')$$),
    ($$SELECT * FROM clv_linreg_path((SELECT clv_linreg_stats(y, x) FROM lasso_rows), '{1, NULL}')$$),
    ($$SELECT * FROM clv_linreg_path((SELECT clv_linreg_stats(y, x) FROM lasso_rows), '{}')$$),
    ($$SELECT * FROM clv_linreg_path((SELECT clv_linreg_stats(y, x) FROM lasso_rows), '{{1}}')$$),
    ($$SELECT * FROM clv_linreg_path((SELECT clv_linreg_stats(y, x) FROM lasso_rows), '{1}', '{"l2": -1}')$$),
    ($$SELECT * FROM clv_linreg_path((SELECT clv_linreg_stats(y, x) FROM lasso_rows), '{1}', '{"max_iter": 1}')$$),
    ($$SELECT * FROM clv_linreg_path((SELECT lasso_summary_state(t, 1, t) FROM (VALUES (now())) v(t)), '{1}')$$),
    ($$SELECT * FROM clv_linreg_path((SELECT clv_linreg_stats(y, x) FROM lasso_rows), '{0}')$$)
) t(q);
-- STRICT: NULL arguments give no rows
SELECT count(*) AS rows_for_null FROM clv_linreg_path(NULL, '{1}');

-- window function: a fit per growing frame
SELECT id, clv_model_info(m) -> 'nonzero' AS nonzero, pg_temp.coefs(m) AS coefficients
FROM (SELECT id, clv_linreg_fit(y, x, '{"l1": 5}') OVER (ORDER BY id) AS m FROM lasso_rows) w
WHERE id IN (10, 100, 1000) ORDER BY id;
SELECT (SELECT clv_linreg_fit(y, x, '{"l1": 5}') FROM lasso_rows WHERE id <= 100)
     = (SELECT m FROM (SELECT id, clv_linreg_fit(y, x, '{"l1": 5}') OVER (ORDER BY id) AS m
                       FROM lasso_rows) w WHERE id = 100) AS window_is_the_aggregate;

-- forced parallel plans give the same bytes as the serial plan
CREATE TABLE lasso_big AS
SELECT i, ARRAY[sin(i), cos(i * 0.5), (i % 13)::float8, sin(i * 3.1)] AS x,
       2 + 3 * sin(i) - cos(i * 0.5) + 0.1 * (i % 13) + 0.5 * sin(i * 1.7) AS y
FROM generate_series(1, 100000) i;
ANALYZE lasso_big;
CREATE TABLE lasso_serial AS SELECT clv_linreg_fit(y, x, '{"l1": 1000, "l2": 10}') AS m FROM lasso_big;
\i test/sql/analyzed_plan.sql
\i test/sql/force_parallel.sql
SELECT * FROM pg_temp.analyzed_plan($$SELECT clv_linreg_fit(y, x, '{"l1": 1000, "l2": 10}') FROM lasso_big$$);
SELECT (SELECT clv_linreg_fit(y, x, '{"l1": 1000, "l2": 10}') FROM lasso_big) = m AS parallel_identical,
       clv_model_info(m) -> 'nonzero' AS nonzero
FROM lasso_serial;
RESET ALL;
