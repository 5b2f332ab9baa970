-- clv_logreg_fit: convergence and fit statistics, the optimality conditions
-- checked in SQL (with and without the l2 penalty), probabilities, and the
-- errors a user can cause.
SET client_min_messages = warning;   -- quiet whichever test creates the extension first
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;

CREATE FUNCTION pg_temp.f8s(j jsonb) RETURNS float8[]
LANGUAGE sql IMMUTABLE AS
$$ SELECT array_agg(v::float8 ORDER BY k) FROM jsonb_array_elements_text(j) WITH ORDINALITY e(v, k) $$;
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

-- A deterministic, non-separable data set: the outcome follows the features
-- through a noisy threshold (the noise is a sine of i², not random()).
CREATE TABLE logreg_data AS
SELECT i, ARRAY[sin(i), cos(3 * i), (i % 10) / 10.0]::float8[] AS x,
       sin(i) + 0.5 * cos(3 * i) + 0.8 * sin(7.3 * i * i) > 0 AS y
FROM generate_series(1, 400) i;
SELECT count(*) AS n, count(*) FILTER (WHERE y) AS positives FROM logreg_data;

CREATE TABLE logreg_models AS
SELECT l2, clv_logreg_fit(y, x, jsonb_build_object('l2', l2)) AS m
FROM logreg_data, (VALUES (0::float8), (1), (10), (100)) l(l2)
GROUP BY l2;

--------------------------------------------------------------------------------
-- The unpenalised fit: statistics (checked against a numpy IRLS and scipy)
--------------------------------------------------------------------------------
SELECT string_agg(key, ', ' ORDER BY key) AS keys
FROM logreg_models, jsonb_object_keys(clv_model_info(m)) key WHERE l2 = 0;
SELECT j ->> 'kind' AS kind, j -> 'n' AS n, j -> 'converged' AS converged,
       (j ->> 'iterations')::int BETWEEN 2 AND 30 AS iterations_plausible,
       j -> 'terms' AS terms, j -> 'options' AS options
FROM logreg_models, clv_model_info(m) j WHERE l2 = 0;
SELECT k - 1 AS term, round(c::numeric, 8) AS coefficient, round(se::numeric, 8) AS std_error,
       round(z::numeric, 8) AS z_value, round(p::numeric, 8) AS p_value
FROM logreg_models, clv_model_info(m) j,
     unnest(pg_temp.f8s(j -> 'coefficients'), pg_temp.f8s(j -> 'std_errors'),
            pg_temp.f8s(j -> 'z_values'), pg_temp.f8s(j -> 'p_values')) WITH ORDINALITY u(c, se, z, p, k)
WHERE l2 = 0
ORDER BY k;
SELECT round((j ->> 'log_likelihood')::numeric, 8) AS log_likelihood,
       round((j ->> 'deviance')::numeric, 8) AS deviance,
       round((j ->> 'null_deviance')::numeric, 8) AS null_deviance,
       round((j ->> 'aic')::numeric, 8) AS aic,
       round((j ->> 'condition_number')::numeric, 8) AS condition_number
FROM logreg_models, clv_model_info(m) j WHERE l2 = 0;

-- internal consistency, and the statistics recomputed in SQL from the data
-- and clv_predict: log-likelihood, null deviance, AIC, z = β / se
SELECT abs(ll - (j ->> 'log_likelihood')::float8) < 1e-9 * abs(ll) AS log_likelihood_equal,
       abs(-2 * ll - (j ->> 'deviance')::float8) < 1e-9 * abs(ll) AS deviance_equal,
       abs(null_dev - (j ->> 'null_deviance')::float8) < 1e-9 * null_dev AS null_deviance_equal,
       abs(-2 * ll + 2 * 4 - (j ->> 'aic')::float8) < 1e-9 * abs(ll) AS aic_equal,
       (SELECT bool_and(abs(z - c / se) <= 1e-12 * abs(z))
        FROM unnest(pg_temp.f8s(j -> 'coefficients'), pg_temp.f8s(j -> 'std_errors'),
                    pg_temp.f8s(j -> 'z_values')) u(c, se, z)) AS z_equal
FROM (SELECT l2, sum(CASE WHEN y THEN ln(p) ELSE ln(1 - p) END) AS ll,
             -2 * sum(CASE WHEN y THEN ln(ybar) ELSE ln(1 - ybar) END) AS null_dev
      FROM (SELECT l2, y, clv_predict(m, x) AS p, avg(y::int) OVER () AS ybar
            FROM logreg_data, logreg_models WHERE l2 = 0) s
      GROUP BY l2) q
JOIN logreg_models USING (l2), clv_model_info(m) j;

-- At the optimum the score vanishes: Σ (y − p) = 0 for the (unpenalised)
-- intercept and Σ (y − p) xj = λ βj for each feature.
SELECT l2, abs(s0) < 1e-9 AS intercept_score_zero,
       abs(s1 - l2 * c[2]) < 1e-9 AND abs(s2 - l2 * c[3]) < 1e-9 AND abs(s3 - l2 * c[4]) < 1e-9
           AS feature_scores_equal_l2_beta,
       round(c[2]::numeric, 8) AS b1, round(c[3]::numeric, 8) AS b2, round(c[4]::numeric, 8) AS b3
FROM (SELECT l2, sum(r) AS s0, sum(r * x[1]) AS s1, sum(r * x[2]) AS s2, sum(r * x[3]) AS s3,
             pg_temp.f8s(clv_model_info(m) -> 'coefficients') AS c
      FROM (SELECT l2, m, x, y::int - clv_predict(m, x) AS r FROM logreg_data, logreg_models) s
      GROUP BY l2, m) q
ORDER BY l2;

-- l2 shrinks the coefficients, more with a larger penalty; penalised fits
-- report no Wald statistics, and their log-likelihood is lower
SELECT l2, round(sqrt(c[2] ^ 2 + c[3] ^ 2 + c[4] ^ 2)::numeric, 8) AS norm,
       sqrt(c[2] ^ 2 + c[3] ^ 2 + c[4] ^ 2)
           < lag(sqrt(c[2] ^ 2 + c[3] ^ 2 + c[4] ^ 2)) OVER (ORDER BY l2) AS shrunk,
       (j ->> 'log_likelihood')::float8 < lag((j ->> 'log_likelihood')::float8) OVER (ORDER BY l2) AS ll_lower,
       j -> 'converged' AS converged, j -> 'std_errors' AS std_errors, j -> 'l2' AS l2_info
FROM logreg_models, clv_model_info(m) j, pg_temp.f8s(j -> 'coefficients') c
ORDER BY l2;

-- predictions are probabilities in (0, 1), and they separate the classes
SELECT l2, min(p) > 0 AND max(p) < 1 AS in_unit_interval,
       round(avg(p)::numeric, 8) AS mean_p,
       avg(p) FILTER (WHERE y) > avg(p) FILTER (WHERE NOT y) AS higher_for_true
FROM (SELECT l2, y, clv_predict(m, x) AS p FROM logreg_data, logreg_models) s
GROUP BY l2 ORDER BY l2;
-- the unpenalised intercept reproduces the base rate: mean p = mean y
SELECT abs(avg(clv_predict(m, x)) - avg(y::int)) < 1e-12 AS mean_p_is_base_rate
FROM logreg_data, logreg_models WHERE l2 = 0;

-- options: feature names, a looser tolerance needs no more iterations
SELECT j -> 'features' AS features, j -> 'terms' AS terms, j -> 'options' AS options
FROM (SELECT clv_model_info(clv_logreg_fit(y, x, '{"features": ["s", "c", "d"], "max_iter": 50}')) AS j
      FROM logreg_data) q;
SELECT (a ->> 'iterations')::int <= (b ->> 'iterations')::int AS fewer_iterations,
       a -> 'converged' AS converged,
       (SELECT max(abs(u - v)) FROM unnest(pg_temp.f8s(a -> 'coefficients'), pg_temp.f8s(b -> 'coefficients')) w(u, v)) < 1e-3
           AS close_to_tight_fit
FROM (SELECT clv_model_info(clv_logreg_fit(y, x, '{"tol": 1e-3}')) AS a FROM logreg_data) qa,
     (SELECT clv_model_info(m) AS b FROM logreg_models WHERE l2 = 0) qb;

-- one model per group
SELECT half, (j ->> 'n')::int AS n, j -> 'converged' AS converged, round(c[2]::numeric, 8) AS b1
FROM (SELECT i % 2 AS half, clv_model_info(clv_logreg_fit(y, x)) AS j FROM logreg_data GROUP BY i % 2) g,
     pg_temp.f8s(j -> 'coefficients') c
ORDER BY half;

--------------------------------------------------------------------------------
-- Perfect separation: an error without a penalty, a fit with one
--------------------------------------------------------------------------------
SELECT clv_logreg_fit(x[1] > 0.2, x) FROM logreg_data;
SELECT j -> 'converged' AS converged, round(c[2]::numeric, 8) AS b1,
       min(p) FILTER (WHERE sep) > max(p) FILTER (WHERE NOT sep) AS ranks_perfectly,
       abs(sum(sep::int - p)) < 1e-9 AS intercept_score_zero,
       abs(sum((sep::int - p) * x[1]) - c[2]) < 1e-9 AS score_equals_l2_beta
FROM (SELECT clv_logreg_fit(x[1] > 0.2, x, '{"l2": 1}') AS m FROM logreg_data) q,
     clv_model_info(m) j, pg_temp.f8s(j -> 'coefficients') c,
     LATERAL (SELECT x, x[1] > 0.2 AS sep, clv_predict(m, x) AS p FROM logreg_data) s
GROUP BY j, c;

--------------------------------------------------------------------------------
-- Errors
--------------------------------------------------------------------------------
SELECT clv_logreg_fit(true, x) FROM logreg_data;
SELECT clv_logreg_fit(false, x) FROM logreg_data;
SELECT clv_logreg_fit(CASE WHEN i = 7 THEN NULL ELSE y END, x) FROM logreg_data;
SELECT clv_logreg_fit(y, CASE WHEN i = 7 THEN NULL ELSE x END) FROM logreg_data;
SELECT clv_logreg_fit(y, CASE WHEN i = 7 THEN '{1,NaN,3}' ELSE x END) FROM logreg_data;
SELECT clv_logreg_fit(y, CASE WHEN i = 7 THEN x[1:2] ELSE x END) FROM logreg_data;
SELECT clv_logreg_fit(y, x, '{"max_iter": 2}') FROM logreg_data;
SELECT clv_logreg_fit(y, x) FROM logreg_data WHERE false;
SELECT clv_logreg_fit(y, x) FROM logreg_data WHERE i IN (1, 2, 4);
SELECT clv_logreg_fit(y, ARRAY[x[1], 1]) FROM logreg_data;
SELECT clv_logreg_fit(y, x, '{"maxiter": 10}') FROM logreg_data;
SELECT clv_logreg_fit(y, x, CASE WHEN i < 200 THEN '{"l2": 1}' ELSE '{"l2": 2}' END::jsonb)
FROM logreg_data;
SELECT clv_logreg_fit(y, x, '{"max_iter": 2.5}') FROM logreg_data;
SELECT clv_logreg_fit(y, x, '{"max_iter": "ten"}') FROM logreg_data;
SELECT clv_logreg_fit(y, x, '{"max_iter": 0}') FROM logreg_data;
SELECT clv_logreg_fit(y, x, '{"tol": 0}') FROM logreg_data;
SELECT clv_logreg_fit(y, x, '{"l2": -0.5}') FROM logreg_data;
SELECT clv_logreg_fit(y, x, '{"features": ["a", "b"]}') FROM logreg_data;
SELECT q, pg_temp.sqlstate_of(q) AS error
FROM (VALUES ('SELECT clv_logreg_fit(true, x) FROM logreg_data'),
             ('SELECT clv_logreg_fit(x[1] > 0.2, x) FROM logreg_data'),
             ('SELECT clv_logreg_fit(y, x, ''{"max_iter": 2}'') FROM logreg_data'),
             ('SELECT clv_logreg_fit(y, x, ''{"maxiter": 10}'') FROM logreg_data')) v(q);

-- the rows a logistic fit keeps are bounded by clv.max_training_memory:
-- 3,000 rows of 3 features need 94 kB
CREATE TABLE logreg_big AS
SELECT i, ARRAY[sin(i), cos(i), (i % 3)::float8]::float8[] AS x, sin(5.1 * i * i) > 0 AS y
FROM generate_series(1, 3000) i;
SET clv.max_training_memory = '64kB';
SELECT clv_logreg_fit(y, x) FROM logreg_big;
SELECT pg_temp.sqlstate_of('SELECT clv_logreg_fit(y, x) FROM logreg_big') AS error;
-- a smaller input still fits within the limit
SELECT clv_model_info(clv_logreg_fit(y, x)) -> 'converged' AS converged FROM logreg_big WHERE i <= 1000;
RESET clv.max_training_memory;
SELECT (clv_model_info(clv_logreg_fit(y, x)) ->> 'n')::int AS n FROM logreg_big;

-- a long fit stops at statement_timeout: the scan and Newton's iterations
-- both check for interrupts
CREATE TABLE logreg_long AS
SELECT ARRAY(SELECT sin(i::float8 * k) FROM generate_series(1, 20) k)::float8[] AS x,
       sin(3.3 * i) + 0.5 * sin(i::float8 * i) > 0 AS y
FROM generate_series(1, 400000) i;
SET statement_timeout = '100ms';
SELECT clv_logreg_fit(y, x) FROM logreg_long;
RESET statement_timeout;
