-- Pareto/NBD (Schmittlein, Morrison & Colombo 1987), checked against the
-- values Fader & Hardie publish for the CDNOW sample: r = 0.553,
-- alpha = 10.578, s = 0.606, beta = 11.669, log-likelihood -9595.0.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
\i test/sql/analyzed_plan.sql

\set cbs pnbd_cbs
\i test/data/cdnow_cbs.sql
CREATE TABLE pnbd_model AS SELECT clv_paretonbd_fit(x, t_x, t_cal) AS m FROM pnbd_cbs;

SELECT k AS param, round((clv_model_info(m) -> 'params' ->> k)::numeric, 3) AS estimate,
       abs((clv_model_info(m) -> 'params' ->> k)::float8 / published - 1) < 5e-3 AS matches_published
FROM pnbd_model,
     (VALUES ('r', 0.553), ('alpha', 10.578), ('s', 0.606), ('beta', 11.669)) v(k, published)
ORDER BY k;
SELECT round((clv_model_info(m) ->> 'log_likelihood')::numeric, 1) AS log_likelihood,
       abs((clv_model_info(m) ->> 'log_likelihood')::float8 + 9595.0) < 0.1 AS matches_published,
       clv_model_info(m) ->> 'kind' AS kind,
       (clv_model_info(m) ->> 'converged')::boolean AS converged,
       (clv_model_info(m) ->> 'n_customers')::int AS n_customers
FROM pnbd_model;

-- P(alive) and expected purchases: P(alive) is in (0, 1], falls with time
-- since the last purchase, and expected purchases grow with the horizon
SELECT round(clv_palive(m, 2, 30.43, 38.86)::numeric, 4) AS palive_recent,
       round(clv_palive(m, 2, 5, 38.86)::numeric, 4) AS palive_lapsed,
       round(clv_palive(m, 0, 0, 38.86)::numeric, 4) AS palive_one_time,
       round(clv_palive(m, 5, 20, 20)::numeric, 4) AS palive_just_bought
FROM pnbd_model;
SELECT h AS horizon, round(clv_expected_purchases(m, h, 2, 30.43, 38.86)::numeric, 4) AS expected
FROM pnbd_model, (VALUES (0), (1), (13), (39), (52), (520)) v(h) ORDER BY h;

-- P(alive) written out from the published formula for a customer with
-- alpha < beta (as here): A0 via the hypergeometric series summed in SQL
WITH p AS (SELECT (clv_model_info(m) -> 'params' ->> 'r')::float8 AS r,
                  (clv_model_info(m) -> 'params' ->> 'alpha')::float8 AS alpha,
                  (clv_model_info(m) -> 'params' ->> 's')::float8 AS s,
                  (clv_model_info(m) -> 'params' ->> 'beta')::float8 AS beta, m
           FROM pnbd_model),
     c AS (SELECT 2.0::float8 AS x, 30.43::float8 AS tx, 38.86::float8 AS t),
     f AS (SELECT p.*, c.*, p.r + p.s + c.x AS rsx, p.beta - p.alpha AS d FROM p, c),
     -- 2F1(rsx, r+x; rsx+1; z) = Σ rsx/(rsx+n) · (r+x)_n / n! · z^n
     terms AS (SELECT n, w * rsx / (rsx + n) AS w
               FROM f, LATERAL (WITH RECURSIVE k(n, w) AS (
                                    SELECT 0, 1.0::float8
                                    UNION ALL
                                    SELECT n + 1, w * (f.r + f.x + n) / (n + 1) FROM k WHERE n < 60)
                                SELECT * FROM k) k),
     a0 AS (SELECT sum(w * power(d / (beta + tx), n)) / power(min(beta + tx), min(rsx))
                 - sum(w * power(d / (beta + t), n)) / power(min(beta + t), min(rsx)) AS a0
            FROM f, terms)
SELECT abs(clv_palive(m, x, tx, t)
           - 1 / (1 + s / (r + s + x) * power(alpha + t, r + x) * power(beta + t, s) * a0)) < 1e-9
       AS palive_matches_formula
FROM f, a0;

-- the fit combines exactly: a forced parallel plan gives the same model bytes
CREATE TABLE pnbd_many AS SELECT c.* FROM pnbd_cbs c, generate_series(1, 20);
ANALYZE pnbd_many;
CREATE TABLE pnbd_serial AS SELECT clv_paretonbd_fit(x, t_x, t_cal) AS m FROM pnbd_many;
\i test/sql/force_parallel.sql
SELECT * FROM pg_temp.analyzed_plan($$
SELECT clv_paretonbd_fit(x, t_x, t_cal) FROM pnbd_many$$);
SELECT p.m = s.m AS identical_bytes
FROM (SELECT clv_paretonbd_fit(x, t_x, t_cal) AS m FROM pnbd_many) p, pnbd_serial s;
RESET ALL;
-- twenty copies of every customer: the same maximum, to the optimiser's
-- precision (far inside the standard errors)
SELECT bool_and(abs((clv_model_info(s.m) -> 'params' ->> k)::float8
                    / (clv_model_info(o.m) -> 'params' ->> k)::float8 - 1) < 1e-3) AS same_params
FROM pnbd_serial s, pnbd_model o, unnest(ARRAY['r', 'alpha', 's', 'beta']) k;

-- errors
SELECT clv_paretonbd_fit(x, t_x, t_cal) FROM pnbd_cbs WHERE false;
SELECT clv_paretonbd_fit(0, 0, t_cal) FROM pnbd_cbs;
SELECT clv_paretonbd_fit(x, t_cal + 1, t_cal) FROM pnbd_cbs;
SELECT clv_paretonbd_fit(x, t_x, t_cal, '{"start": [1, 2]}') FROM pnbd_cbs;
SELECT clv_expected_spend(m, 1, 10) FROM pnbd_model;
SELECT clv_predict(m, '{1, 2, 3}') FROM pnbd_model;
