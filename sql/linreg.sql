-- clv_linreg_fit: exact recovery, ridge against closed forms, inference
-- statistics against PostgreSQL's own regr_* aggregates, one model per
-- group, and every error a user can cause.
SET client_min_messages = warning;   -- quiet whichever test creates the extension first
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;

-- a jsonb array of numbers (clv_model_info's statistics) as float8[]
CREATE FUNCTION pg_temp.f8s(j jsonb) RETURNS float8[]
LANGUAGE sql IMMUTABLE AS
$$ SELECT array_agg(v::float8 ORDER BY k) FROM jsonb_array_elements_text(j) WITH ORDINALITY e(v, k) $$;
-- the largest |a - b| / max(|b|, 1): relative error, absolute near zero
CREATE FUNCTION pg_temp.max_err(a float8[], b float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN cardinality(a) = cardinality(b)
               THEN (SELECT max(abs(x - y) / greatest(abs(y), 1)) FROM unnest(a, b) u(x, y)) END $$;
-- the largest relative error |a - b| / |b|
CREATE FUNCTION pg_temp.max_rel(a float8[], b float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN cardinality(a) = cardinality(b)
               THEN (SELECT max(abs(x - y) / abs(y)) FROM unnest(a, b) u(x, y)) END $$;
-- the SQLSTATE and message of a statement's error, for the few places where
-- the code matters more than psql's usual error text
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

--------------------------------------------------------------------------------
-- Noiseless data: OLS recovers the generating coefficients.
--------------------------------------------------------------------------------
CREATE TABLE linreg_exact AS
SELECT i, ARRAY[sin(i), 3 * cos(0.7 * i), (i % 7) - 3, ln(i)]::float8[] AS x
FROM generate_series(1, 200) i;
ALTER TABLE linreg_exact ADD COLUMN y float8;
UPDATE linreg_exact SET y = 1.5 - 2 * x[1] + 0.25 * x[2] + 3 * x[3] - 0.5 * x[4];

CREATE TABLE linreg_exact_model AS
SELECT clv_linreg_fit(y, x) AS m FROM linreg_exact;
SELECT k - 1 AS term, round(c::numeric, 8) AS coefficient
FROM linreg_exact_model, unnest(pg_temp.f8s(clv_model_info(m) -> 'coefficients')) WITH ORDINALITY u(c, k)
ORDER BY k;
SELECT pg_temp.max_err(pg_temp.f8s(clv_model_info(m) -> 'coefficients'),
                       '{1.5, -2, 0.25, 3, -0.5}') < 1e-10 AS recovered,
       round((clv_model_info(m) ->> 'r2')::numeric, 10) AS r2,
       (clv_model_info(m) ->> 'rss')::float8 < 1e-15 * (SELECT regr_syy(y, i) FROM linreg_exact) AS rss_zero,
       clv_model_info(m) ->> 'n' AS n,
       clv_model_info(m) ->> 'df_resid' AS df_resid
FROM linreg_exact_model;
-- the model predicts the data it was fitted on
SELECT max(abs(clv_predict(m, x) - y)) < 1e-10 AS predicts_exactly
FROM linreg_exact, linreg_exact_model;

--------------------------------------------------------------------------------
-- One feature with noise: coefficients, R², standard errors and t-values
-- agree with PostgreSQL's regr_* aggregates and the textbook formulas.
--------------------------------------------------------------------------------
CREATE TABLE linreg_one AS
SELECT i, i / 10.0 AS x, 1 + 0.03 * (i / 10.0) + sin(1.3 * i * i) AS y
FROM generate_series(1, 60) i;
CREATE TABLE linreg_one_model AS
SELECT clv_linreg_fit(y, ARRAY[x]) AS m FROM linreg_one;

CREATE TABLE linreg_one_sql AS
SELECT regr_count(y, x)::float8 AS n, regr_slope(y, x) AS slope, regr_intercept(y, x) AS intercept,
       regr_r2(y, x) AS r2, regr_sxx(y, x) AS sxx, regr_sxy(y, x) AS sxy, regr_syy(y, x) AS syy,
       regr_avgx(y, x) AS xbar
FROM linreg_one;
SELECT abs((i.c[2] - s.slope) / s.slope) < 1e-10 AS slope_equal,
       abs((i.c[1] - s.intercept) / s.intercept) < 1e-10 AS intercept_equal,
       abs((i.r2 - s.r2) / s.r2) < 1e-10 AS r2_equal,
       abs(i.adj_r2 - (1 - (1 - s.r2) * (s.n - 1) / (s.n - 2))) < 1e-10 AS adj_r2_equal,
       abs(i.rss - (s.syy - s.sxy ^ 2 / s.sxx)) < 1e-10 * s.syy AS rss_equal,
       -- se(slope) = σ / √Sxx,  se(intercept) = σ √(1/n + x̄² / Sxx)
       pg_temp.max_rel(i.se, ARRAY[sqrt((s.syy - s.sxy ^ 2 / s.sxx) / (s.n - 2) * (1 / s.n + s.xbar ^ 2 / s.sxx)),
                                   sqrt((s.syy - s.sxy ^ 2 / s.sxx) / (s.n - 2) / s.sxx)]) < 1e-10 AS std_errors_equal,
       pg_temp.max_rel(i.t, ARRAY[i.c[1] / i.se[1], i.c[2] / i.se[2]]) < 1e-12 AS t_values_consistent
FROM linreg_one_sql s,
     (SELECT pg_temp.f8s(j -> 'coefficients') AS c, pg_temp.f8s(j -> 'std_errors') AS se,
             pg_temp.f8s(j -> 't_values') AS t, (j ->> 'r2')::float8 AS r2,
             (j ->> 'adj_r2')::float8 AS adj_r2, (j ->> 'rss')::float8 AS rss
      FROM (SELECT clv_model_info(m) AS j FROM linreg_one_model) q) i;
-- the values themselves (p-values checked against scipy.stats.t)
SELECT k - 1 AS term, round(c::numeric, 8) AS coefficient, round(se::numeric, 8) AS std_error,
       round(t::numeric, 8) AS t_value, round(p::numeric, 8) AS p_value
FROM linreg_one_model,
     unnest(pg_temp.f8s(clv_model_info(m) -> 'coefficients'), pg_temp.f8s(clv_model_info(m) -> 'std_errors'),
            pg_temp.f8s(clv_model_info(m) -> 't_values'), pg_temp.f8s(clv_model_info(m) -> 'p_values'))
         WITH ORDINALITY u(c, se, t, p, k)
ORDER BY k;
SELECT round((j ->> 'r2')::numeric, 8) AS r2, round((j ->> 'adj_r2')::numeric, 8) AS adj_r2,
       round((j ->> 'sigma')::numeric, 8) AS sigma, round((j ->> 'f_statistic')::numeric, 8) AS f,
       round((j ->> 'f_p_value')::numeric, 8) AS f_p_value,
       round((j ->> 'condition_number')::numeric, 8) AS condition_number
FROM (SELECT clv_model_info(m) AS j FROM linreg_one_model) q;

-- three features with noise: statistics checked against numpy/scipy
CREATE TABLE linreg_three AS
SELECT i, ARRAY[sin(i), cos(0.3 * i), (i % 5)::float8]::float8[] AS x,
       2 + 0.8 * sin(i) - 0.3 * cos(0.3 * i) + 0.05 * (i % 5) + 0.7 * sin(2.1 * i * i) AS y
FROM generate_series(1, 40) i;
SELECT k - 1 AS term, round(c::numeric, 8) AS coefficient, round(se::numeric, 8) AS std_error,
       round(t::numeric, 8) AS t_value, round(p::numeric, 8) AS p_value
FROM (SELECT clv_model_info(clv_linreg_fit(y, x)) AS j FROM linreg_three) q,
     unnest(pg_temp.f8s(j -> 'coefficients'), pg_temp.f8s(j -> 'std_errors'),
            pg_temp.f8s(j -> 't_values'), pg_temp.f8s(j -> 'p_values'))
         WITH ORDINALITY u(c, se, t, p, k)
ORDER BY k;
SELECT round((j ->> 'r2')::numeric, 8) AS r2, round((j ->> 'adj_r2')::numeric, 8) AS adj_r2,
       round((j ->> 'rss')::numeric, 8) AS rss, j ->> 'df_resid' AS df_resid,
       round((j ->> 'f_statistic')::numeric, 8) AS f, round((j ->> 'f_p_value')::numeric, 8) AS f_p_value
FROM (SELECT clv_model_info(clv_linreg_fit(y, x)) AS j FROM linreg_three) q;

-- a large mean: the centring keeps the digits the slope depends on.  The
-- data are exact in binary, so numeric arithmetic gives the exact answer.
CREATE TABLE linreg_offset AS
SELECT i, 1e8 + i / 8.0 AS xn, (i % 17) / 16.0 + 0.25 * i / 8.0 AS yn
FROM generate_series(1, 1000) i;
WITH exact AS (
    SELECT (count(*) * sum(xn * yn) - sum(xn) * sum(yn)) / (count(*) * sum(xn * xn) - sum(xn) ^ 2) AS slope,
           avg(yn) AS ybar, avg(xn) AS xbar
    FROM linreg_offset
)
SELECT round(slope, 12) AS exact_slope,
       abs(c[2]::numeric - slope) / slope < 1e-12 AS slope_exact,
       abs(c[1]::numeric - (ybar - slope * xbar)) / abs(ybar - slope * xbar) < 1e-12 AS intercept_exact
FROM exact,
     (SELECT pg_temp.f8s(clv_model_info(clv_linreg_fit(yn::float8, ARRAY[xn::float8])) -> 'coefficients') AS c
      FROM linreg_offset) f;

-- exactly determined (n = p + 1): a fit, but no residual degrees of freedom
SELECT round(c[1]::numeric, 8) AS intercept, round(c[2]::numeric, 8) AS slope,
       j ->> 'df_resid' AS df_resid, j -> 'std_errors' AS std_errors, j -> 'sigma' AS sigma
FROM (SELECT clv_model_info(clv_linreg_fit(y, ARRAY[x])) AS j
      FROM (VALUES (1.0::float8, 1.0::float8), (3.0, 2.0)) v(y, x)) q,
     LATERAL (SELECT pg_temp.f8s(j -> 'coefficients') AS c) cc;

--------------------------------------------------------------------------------
-- clv_model_info: keys, options and feature names
--------------------------------------------------------------------------------
SELECT string_agg(key, ', ' ORDER BY key) AS keys
FROM linreg_one_model, jsonb_object_keys(clv_model_info(m)) key;
SELECT j ->> 'kind' AS kind, j -> 'format_version' AS format_version, j -> 'n' AS n,
       j -> 'n_features' AS n_features, j -> 'features' AS features, j -> 'terms' AS terms,
       j -> 'options' AS options, j -> 'l2' AS l2
FROM linreg_one_model, clv_model_info(m) j;
SELECT j -> 'features' AS features, j -> 'terms' AS terms, j -> 'options' AS options
FROM (SELECT clv_model_info(clv_linreg_fit(y, x, '{"features": ["sine", "cosine", "weekday", "log"]}')) AS j
      FROM linreg_exact) q;
SELECT j -> 'features' AS features, j -> 'l2' AS l2, j -> 'options' AS options
FROM (SELECT clv_model_info(clv_linreg_fit(y, x, '{"l2": 0.5, "features": ["s", "c", "w", "l"]}')) AS j
      FROM linreg_exact) q;
-- options NULL or empty are the two-argument form
SELECT (SELECT clv_linreg_fit(y, x, NULL) FROM linreg_exact) = m AS null_options_same,
       (SELECT clv_linreg_fit(y, x, '{}') FROM linreg_exact) = m AS empty_options_same
FROM linreg_exact_model;

--------------------------------------------------------------------------------
-- Ridge ("l2"): β = Sxy / (Sxx + λ) for one feature, intercept unpenalised.
--------------------------------------------------------------------------------
SELECT l2, round(c[2]::numeric, 8) AS slope,
       abs(c[2] - s.sxy / (s.sxx + l2)) <= 1e-12 * abs(s.sxy / s.sxx) AS slope_closed_form,
       abs(c[1] - (s.intercept + s.slope * s.xbar - c[2] * s.xbar)) <= 1e-12 AS intercept_closed_form,
       abs(c[2]) <= abs(s.slope) AS shrunk
FROM linreg_one_sql s,
     (VALUES (0::float8), (0.5), (5), (50), (1e6)) l(l2),
     LATERAL (SELECT pg_temp.f8s(clv_model_info(clv_linreg_fit(y, ARRAY[x], jsonb_build_object('l2', l2))) -> 'coefficients') AS c
              FROM linreg_one) f
ORDER BY l2;

-- two features: (C + λI) β = c solved in SQL by Cramer's rule, C the
-- centred cross-products (covar_pop · n)
WITH cp AS (
    SELECT count(*) AS n, avg(y) AS ybar, avg(x[1]) AS m1, avg(x[2]) AS m2,
           covar_pop(x[1], x[1]) * count(*) AS c11, covar_pop(x[1], x[2]) * count(*) AS c12,
           covar_pop(x[2], x[2]) * count(*) AS c22,
           covar_pop(x[1], y) * count(*) AS c1y, covar_pop(x[2], y) * count(*) AS c2y
    FROM linreg_three
), closed AS (
    SELECT l2, ((c22 + l2) * c1y - c12 * c2y) / ((c11 + l2) * (c22 + l2) - c12 ^ 2) AS b1,
           ((c11 + l2) * c2y - c12 * c1y) / ((c11 + l2) * (c22 + l2) - c12 ^ 2) AS b2, cp.*
    FROM cp, (VALUES (0::float8), (2), (20)) l(l2)
)
SELECT l2, pg_temp.max_err(c, ARRAY[ybar - b1 * m1 - b2 * m2, b1, b2]) < 1e-10 AS matches_closed_form,
       round(c[2]::numeric, 8) AS b1, round(c[3]::numeric, 8) AS b2
FROM closed,
     LATERAL (SELECT pg_temp.f8s(clv_model_info(clv_linreg_fit(y, x[1:2], jsonb_build_object('l2', l2))) -> 'coefficients') AS c
              FROM linreg_three) f
ORDER BY l2;

-- ridge reports no classical inference; l2 = 0 is OLS
SELECT j -> 'std_errors' AS std_errors, j -> 't_values' AS t_values, j -> 'p_values' AS p_values,
       (j ->> 'r2')::float8 < (SELECT (clv_model_info(m) ->> 'r2')::float8 FROM linreg_one_model) AS r2_lower
FROM (SELECT clv_model_info(clv_linreg_fit(y, ARRAY[x], '{"l2": 5}')) AS j FROM linreg_one) q;
SELECT (SELECT clv_model_info(clv_linreg_fit(y, ARRAY[x], '{"l2": 0}')) -> 'coefficients' FROM linreg_one)
     = (SELECT clv_model_info(m) -> 'coefficients' FROM linreg_one_model) AS l2_zero_is_ols;

-- a constant feature is singular for OLS but fine for ridge: its coefficient is 0
SELECT round(c[1]::numeric, 8) AS intercept, round(c[2]::numeric, 8) AS slope, c[3] AS constant_coef,
       abs(c[2] - s.sxy / (s.sxx + 1)) <= 1e-12 AS slope_closed_form
FROM linreg_one_sql s,
     (SELECT pg_temp.f8s(clv_model_info(clv_linreg_fit(y, ARRAY[x, 7], '{"l2": 1}')) -> 'coefficients') AS c
      FROM linreg_one) f;

--------------------------------------------------------------------------------
-- GROUP BY fits one model per group.
--------------------------------------------------------------------------------
CREATE TABLE linreg_segments AS
SELECT s AS segment, ARRAY[sin(i), cos(2 * i)]::float8[] AS x,
       s * 10 + (s - 2) * sin(i) + (1.0 / s) * cos(2 * i) AS y
FROM generate_series(1, 3) s, generate_series(1, 50) i;
SELECT segment, n,
       round(c[1]::numeric, 8) AS b0, round(c[2]::numeric, 8) AS b1, round(c[3]::numeric, 8) AS b2,
       pg_temp.max_err(c, ARRAY[segment * 10, segment - 2, 1.0 / segment]) < 1e-10 AS recovered
FROM (SELECT segment, count(*) AS n, pg_temp.f8s(clv_model_info(clv_linreg_fit(y, x)) -> 'coefficients') AS c
      FROM linreg_segments GROUP BY segment) g
ORDER BY segment;

--------------------------------------------------------------------------------
-- Errors
--------------------------------------------------------------------------------
-- NULL y, NULL x, NULL element
SELECT clv_linreg_fit(y, x) FROM (VALUES (1.0::float8, '{1}'::float8[]), (NULL, '{2}')) v(y, x);
SELECT clv_linreg_fit(y, x) FROM (VALUES (1.0::float8, '{1}'::float8[]), (2, NULL)) v(y, x);
SELECT clv_linreg_fit(y, x) FROM (VALUES (1.0::float8, '{1,2}'::float8[]), (2, '{3,NULL}')) v(y, x);
-- NaN and infinities in y and in x
SELECT clv_linreg_fit(y, '{1}') FROM (VALUES ('NaN'::float8)) v(y);
SELECT clv_linreg_fit(y, '{1}') FROM (VALUES ('Infinity'::float8)) v(y);
SELECT clv_linreg_fit(y, '{1}') FROM (VALUES ('-Infinity'::float8)) v(y);
SELECT clv_linreg_fit(1, x) FROM (VALUES ('{1,NaN}'::float8[])) v(x);
SELECT clv_linreg_fit(1, x) FROM (VALUES ('{Infinity}'::float8[])) v(x);
SELECT clv_linreg_fit(1, x) FROM (VALUES ('{1,2,-Infinity}'::float8[])) v(x);
-- empty, two-dimensional, ragged, too long
SELECT clv_linreg_fit(1, '{}');
SELECT clv_linreg_fit(1, '{{1,2},{3,4}}');
SELECT clv_linreg_fit(y, x) FROM (VALUES (1.0::float8, '{1,2}'::float8[]), (2, '{1,2,3}')) v(y, x);
SELECT clv_linreg_fit(y, x) FROM (VALUES (1.0::float8, '{1,2}'::float8[]), (2, '{1}')) v(y, x);
SELECT clv_linreg_fit(1, array_fill(1.0::float8, ARRAY[1001]));
-- zero rows, too few rows
SELECT clv_linreg_fit(y, x) FROM linreg_exact WHERE false;
SELECT clv_linreg_fit(y, x) FROM linreg_exact WHERE i <= 4;
SELECT clv_linreg_fit(y, '{1}') FROM (VALUES (1.0::float8)) v(y);
-- sums of squares that overflow
SELECT clv_linreg_fit(1, ARRAY[x]) FROM (VALUES (1e200::float8), (2e200), (4e200)) v(x);
SELECT clv_linreg_fit(1, ARRAY[x], '{"l2": 1}') FROM (VALUES (1e200::float8), (2e200), (4e200)) v(x);
SELECT clv_linreg_fit(y, ARRAY[x]) FROM (VALUES (1e200::float8, 1::float8), (2e200, 2), (4e200, 3)) v(y, x);
-- singular designs: a constant feature, collinear features (the detail
-- gives a condition number that rounding may change, so it is left out)
SELECT clv_linreg_fit(y, ARRAY[x[1], 2, x[2]]) FROM linreg_exact;
\set VERBOSITY terse
SELECT clv_linreg_fit(y, ARRAY[x[1], x[2], 2 * x[1] - x[2]]) FROM linreg_exact;
SELECT clv_linreg_fit(y, ARRAY[x[1], x[1]]) FROM linreg_exact;
\set VERBOSITY default
SELECT pg_temp.sqlstate_of('SELECT clv_linreg_fit(y, ARRAY[x[1], x[1]]) FROM linreg_exact') AS error;
-- options: unknown key, wrong types, wrong feature count, out of range
SELECT clv_linreg_fit(y, x, '{"lambda": 1}') FROM linreg_exact;
SELECT clv_linreg_fit(y, x, '{"l2": "a"}') FROM linreg_exact;
SELECT clv_linreg_fit(y, x, '{"l2": null}') FROM linreg_exact;
SELECT clv_linreg_fit(y, x, '{"l2": [1]}') FROM linreg_exact;
SELECT clv_linreg_fit(y, x, '{"features": 3}') FROM linreg_exact;
SELECT clv_linreg_fit(y, x, '{"features": ["a", 3, "c", "d"]}') FROM linreg_exact;
SELECT clv_linreg_fit(y, x, '{"features": ["a", "b"]}') FROM linreg_exact;
SELECT clv_linreg_fit(y, x, '{"features": ["a", "b", "c", "d", "e"]}') FROM linreg_exact;
SELECT clv_linreg_fit(y, x, '{"features": ["a", "", "c", "d"]}') FROM linreg_exact;
SELECT clv_linreg_fit(y, x, '{"l2": -1}') FROM linreg_exact;
SELECT clv_linreg_fit(y, x, '[1, 2]') FROM linreg_exact;
SELECT clv_linreg_fit(y, x, '"l2"') FROM linreg_exact;
-- options describe the whole fit: the same in every row (as jsonb: 0.5 and 0.50 are
-- equal), a NULL on some rows too is a difference
SELECT clv_linreg_fit(y, x, CASE WHEN i < 100 THEN '{"l2": 0.5}' ELSE '{"l2": 1}' END::jsonb)
FROM linreg_exact;
SELECT clv_linreg_fit(y, x, CASE WHEN i < 100 THEN '{"l2": 0.5}'::jsonb END) FROM linreg_exact;
SELECT clv_linreg_fit(y, x, CASE WHEN i < 100 THEN NULL ELSE '{"l2": 0.5}'::jsonb END)
FROM linreg_exact;
SELECT clv_linreg_fit(y, x, CASE WHEN i < 100 THEN '{"l2": 0.5}' ELSE '{"l2": 0.50}' END::jsonb)
       = clv_linreg_fit(y, x, '{"l2": 0.5}') AS equal_options_agree
FROM linreg_exact;
-- SQLSTATEs of a few of them
SELECT q, pg_temp.sqlstate_of(q) AS error
FROM (VALUES ('SELECT clv_linreg_fit(''NaN'', ''{1}'')'),
             ('SELECT clv_linreg_fit(1, ''{}'')'),
             ('SELECT clv_linreg_fit(y, x) FROM linreg_exact WHERE false'),
             ('SELECT clv_linreg_fit(y, x, ''{"lambda": 1}'') FROM linreg_exact'),
             ('SELECT clv_linreg_fit(y, ARRAY[x[1], 2]) FROM linreg_exact')) v(q);
