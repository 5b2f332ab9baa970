-- clv_model_from_params(kind, params) and the unit a purchase model records.
-- Models built from published parameters give the values the publications
-- print; a fitted model's parameters, as clv_model_info reports them, rebuild
-- its predictions exactly; clv_lifetime_value and clv_dert take the recorded
-- unit and refuse another; every error with its SQLSTATE, NULLs, bad input.
SET client_min_messages = warning;   -- same output alone or after other tests
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
SET extra_float_digits = 0;

-- the SQLSTATE and message of a statement's error
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error';
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

-- ---- published values -------------------------------------------------------

-- BG/NBD on CDNOW, from the BTYD package's walkthrough vignette
-- ("Buy 'Til You Die - A Walkthrough", BTYD 2.4.3, section "BG/NBD",
-- "Individual Level Estimations"): the parameters are the last row of its
-- p.matrix, the estimate the vignette goes on with, as printed (7 digits);
-- bgnbd.Expectation(params, t = 52), then customer 1516 (x 26, t.x 216/7,
-- T.cal 31): bgnbd.ConditionalExpectedTransactions(params, T.star = 52, ...)
-- and bgnbd.PAlive, then the "increasing frequency paradox" loop
-- (T.star 52, t.x 20, T.cal 39).  Every printed digit is reproduced.
CREATE TABLE mp_models AS
SELECT clv_model_from_params('bgnbd',
           '{"r": 0.2425967, "alpha": 4.413659, "a": 0.7929869, "b": 2.426164}') AS bg,
       -- Pareto/NBD, the same vignette's section "Pareto/NBD": its p.matrix is
       -- printed rounded to 3 decimals (row 3: 0.553, 10.58, 0.606, 11.658), so
       -- its printed values are reproduced to 3 significant digits only
       clv_model_from_params('paretonbd',
           '{"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.658}') AS pn,
       -- Gamma-Gamma: the CDNOW estimates of the Gamma-Gamma literature
       -- (Fader, Hardie and Lee 2005, "RFM and CLV: Using Iso-Value Curves")
       clv_model_from_params('gammagamma', '{"p": 6.25, "q": 3.74, "gamma": 15.44}') AS gg;

SELECT what, printed, round(ours::numeric, scale(printed)) = printed AS all_digits
FROM mp_models, LATERAL (VALUES
    ('bgnbd.Expectation t=52', 1.444004, clv_expected_purchases(bg, 52, 0, 0, 0)),
    ('CET 1516', 25.75659, clv_expected_purchases(bg, 52, 26, 216.0 / 7, 31)),
    ('PAlive 1516', 0.9688523, clv_palive(bg, 26, 216.0 / 7, 31)),
    ('CET x=10', 0.3474606, clv_expected_purchases(bg, 52, 10, 20, 39)),
    ('CET x=15', 0.04283391, clv_expected_purchases(bg, 52, 15, 20, 39)),
    ('CET x=20', 0.004158973, clv_expected_purchases(bg, 52, 20, 20, 39)),
    ('CET x=25', 0.0003583685, clv_expected_purchases(bg, 52, 25, 20, 39))) v(what, printed, ours);

CREATE FUNCTION pg_temp.sig3(v float8) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$ SELECT round(v::numeric, 2 - floor(log(abs(v)))::int) $$;
SELECT what, printed, pg_temp.sig3(ours) AS ours_3_digits,
       pg_temp.sig3(ours) = pg_temp.sig3(printed) AS same_3_digits
FROM mp_models, LATERAL (VALUES
    ('pnbd.Expectation t=52', 1.473434, clv_expected_purchases(pn, 52, 0, 0, 0)),
    ('CET 1516', 25.45647, clv_expected_purchases(pn, 52, 26, 216.0 / 7, 31)),
    ('PAlive 1516', 0.997874, clv_palive(pn, 26, 216.0 / 7, 31)),
    ('CET x=10', 0.7062289, clv_expected_purchases(pn, 52, 10, 20, 39)),
    ('CET x=15', 0.1442396, clv_expected_purchases(pn, 52, 15, 20, 39)),
    ('CET x=20', 0.02250658, clv_expected_purchases(pn, 52, 20, 20, 39)),
    ('CET x=25', 0.00309267, clv_expected_purchases(pn, 52, 25, 20, 39))) v(what, printed, ours);

-- Gamma-Gamma: no printed value found; against the closed form
-- (γ + m x) p / (p x + q − 1), computed here in SQL
SELECT x, m, round(clv_expected_spend(gg, x, m)::numeric, 10) AS expected_spend,
       abs(clv_expected_spend(gg, x, m) - (15.44 + m * x) * 6.25 / (6.25 * x + 3.74 - 1))
           < 1e-12 AS closed_form
FROM mp_models, (VALUES (0, 0), (1, 20), (3, 35), (10, 100)) c(x, m) ORDER BY x;

-- what the models say about themselves: not fitted, no fit statistics
SELECT k, clv_model_info(m) AS info
FROM mp_models, LATERAL (VALUES ('bg', bg), ('pn', pn), ('gg', gg)) v(k, m) ORDER BY k;

-- ---- every function that takes the kind scores the built model ------------
SELECT round(clv_probability_of_purchases(bg, 39, 0)::numeric, 6) AS p0_39,
       round(clv_probability_of_purchases(bg, 39, 2, 2, 30.43, 38.86)::numeric, 6) AS p2_given,
       round(clv_lifetime_value(bg, gg, 2, 30.43, 38.86, 22.345, '1 year', '7 days', 0.1)::numeric, 4)
           AS value_1y,
       round(clv_dert(pn, 2, 30.43, 38.86, '7 days', 0.15)::numeric, 4) AS dert
FROM mp_models;
SELECT (SELECT clv_cumulative_expected_purchases(bg, a, 4)
        FROM generate_series(0, 2) a) AS tracking
FROM mp_models;
SELECT round(clv_predict(clv_model_from_params('linreg',
                 '{"coefficients": [1.5, 2, -0.25], "features": ["recency", "frequency"]}'),
             '{3, 4}')::numeric, 10) AS linreg,
       round(clv_predict(clv_model_from_params('logreg', '{"coefficients": [-1, 0.5]}'),
             '{2}')::numeric, 10) AS logreg_half,
       round(clv_expected_purchases(clv_model_from_params('mbgnbd',
                 '{"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}'), 39, 2, 30.43, 38.86)::numeric, 6)
           AS mbgnbd;
SELECT clv_model_info(clv_model_from_params('logreg',
           '{"coefficients": [-1, 0.5], "features": ["recency"]}')) AS info;

-- ---- round trips: a fitted model's reported parameters rebuild it ----------
\set cbs mp_cbs
\i test/data/cdnow_cbs.sql
CREATE TABLE mp_fitted AS
SELECT 'bgnbd' AS kind, clv_bgnbd_fit(x, t_x, t_cal, '{"unit": "7 days"}') AS m FROM mp_cbs
UNION ALL SELECT 'mbgnbd', clv_mbgnbd_fit(x, t_x, t_cal) FROM mp_cbs
UNION ALL SELECT 'paretonbd', clv_paretonbd_fit(x, t_x, t_cal, '{"unit": "1 week"}') FROM mp_cbs
UNION ALL SELECT 'gammagamma', clv_gammagamma_fit(x, m_x) FROM mp_cbs
UNION ALL SELECT 'linreg', clv_linreg_fit(m_x, ARRAY[x, t_x, t_cal],
                                          '{"features": ["x", "t_x", "t_cal"]}') FROM mp_cbs
UNION ALL SELECT 'logreg', clv_logreg_fit(x_star > 0, ARRAY[x, t_x, t_cal]) FROM mp_cbs;
-- the parameters: "params" (and "unit") of a BTYD model, "coefficients" and
-- "features" of a linear one
CREATE TABLE mp_rebuilt AS
SELECT kind, m,
       clv_model_from_params(kind,
           CASE WHEN kind IN ('linreg', 'logreg')
                THEN jsonb_strip_nulls(jsonb_build_object('coefficients', i->'coefficients',
                                                          'features', i->'features'))
                ELSE i->'params' || jsonb_strip_nulls(jsonb_build_object('unit', i->'unit'))
           END) AS r
FROM (SELECT kind, m, clv_model_info(m) AS i FROM mp_fitted) f;
SELECT kind, count(*) AS customers, count(*) FILTER (WHERE a = b) AS same_predictions
FROM (SELECT kind,
             CASE WHEN kind IN ('linreg', 'logreg')
                  THEN ARRAY[clv_predict(m, ARRAY[x, t_x, t_cal])]
                  WHEN kind = 'gammagamma' THEN ARRAY[clv_expected_spend(m, x, m_x)]
                  ELSE ARRAY[clv_expected_purchases(m, 52, x, t_x, t_cal), clv_palive(m, x, t_x, t_cal)]
             END AS a,
             CASE WHEN kind IN ('linreg', 'logreg')
                  THEN ARRAY[clv_predict(r, ARRAY[x, t_x, t_cal])]
                  WHEN kind = 'gammagamma' THEN ARRAY[clv_expected_spend(r, x, m_x)]
                  ELSE ARRAY[clv_expected_purchases(r, 52, x, t_x, t_cal), clv_palive(r, x, t_x, t_cal)]
             END AS b
      FROM mp_rebuilt, mp_cbs) s
GROUP BY kind ORDER BY kind;
-- the fit's own parameters, not only its predictions, and what else the
-- rebuilt model reports
SELECT kind, clv_model_info(m)->'params' = clv_model_info(r)->'params' AS same_params,
       clv_model_info(m)->'coefficients' = clv_model_info(r)->'coefficients' AS same_coefficients,
       clv_model_info(r) - 'params' - 'coefficients' - 'format_version' AS rebuilt_info
FROM mp_rebuilt ORDER BY kind;
-- a rebuilt linear model has no training means to explain with
SELECT pg_temp.sqlstate_of($$SELECT clv_explain(r, '{1, 2, 3}') FROM mp_rebuilt WHERE kind = 'linreg'$$);

-- ---- the unit a fit records ---------------------------------------------------
-- stored in PostgreSQL's interval style whatever IntervalStyle is; the unit
-- changes nothing else in the fit
SET IntervalStyle = iso_8601;
SELECT u AS given, clv_model_info(clv_bgnbd_fit(x, t_x, t_cal, jsonb_build_object('unit', u)))->>'unit' AS recorded
FROM (VALUES ('7 days'), ('1 week'), ('168 hours'), ('P7D'), ('1 day'), ('36 hours'),
             ('1 month'), ('3 months'), ('1 year')) v(u),
     mp_cbs
GROUP BY u ORDER BY u;
RESET IntervalStyle;
SELECT clv_model_info(m) - 'unit' - 'options' = clv_model_info(clv_bgnbd_fit(x, t_x, t_cal)) - 'options'
           AS same_fit,
       clv_model_info(m)->'options' AS options
FROM mp_fitted, mp_cbs WHERE kind = 'bgnbd' GROUP BY m;
-- a model fitted without the option has no unit key, as before
SELECT clv_model_info(m) ? 'unit' AS has_unit FROM mp_fitted WHERE kind = 'mbgnbd';

SELECT u, pg_temp.sqlstate_of(format($$SELECT clv_bgnbd_fit(x, t_x, t_cal, '%s') FROM mp_cbs$$, u))
FROM (VALUES ('{"unit": "0 days"}'), ('{"unit": "-7 days"}'), ('{"unit": "1 month 2 days"}'),
             ('{"unit": "bogus"}'), ('{"unit": 7}'), ('{"unit": null}'), ('{"unit": ["7 days"]}'),
             ('{"unit": "1000000 years"}'), ('{"unit": ""}')) v(u);
-- Gamma-Gamma has no time axis: no unit
SELECT clv_gammagamma_fit(x, m_x, '{"unit": "7 days"}') FROM mp_cbs;

-- ---- clv_lifetime_value and clv_dert with the recorded unit -----------------
CREATE TABLE mp_scored AS
SELECT (SELECT m FROM mp_fitted WHERE kind = 'bgnbd') AS bu,       -- records "7 days"
       (SELECT m FROM mp_fitted WHERE kind = 'paretonbd') AS pu,   -- records "7 days"
       (SELECT clv_bgnbd_fit(x, t_x, t_cal) FROM mp_cbs) AS b,     -- no unit
       (SELECT m FROM mp_fitted WHERE kind = 'gammagamma') AS g;
-- the unit omitted, given as recorded, or spelt otherwise: the same value
SELECT d, round(clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', 0.1, d)::numeric, 6) AS omitted,
       clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', 0.1, d)
         = clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', '7 days', 0.1, d) AS as_recorded,
       clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', 0.1, d)
         = clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', '168 hours', 0.1, d) AS in_hours,
       clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', 0.1, d)
         = clv_lifetime_value(b, g, 2, 30.43, 38.86, 22.345, '1 year', '7 days', 0.1, d) AS as_without_unit
FROM mp_scored, (VALUES ('discrete'), ('continuous')) v(d);
SELECT round(clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', 0.1)::numeric, 6) AS default_discrete,
       round(clv_dert(pu, 2, 30.43, 38.86, 0.15)::numeric, 6) AS dert_omitted,
       clv_dert(pu, 2, 30.43, 38.86, 0.15) = clv_dert(pu, 2, 30.43, 38.86, '7 days', 0.15) AS dert_as_recorded
FROM mp_scored;
-- the mistake of the reference's example (a model in weeks read in days) is
-- now an error, for a model that records its unit
SELECT clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', '1 day', 0.1) FROM mp_scored;
SELECT clv_dert(pu, 2, 30.43, 38.86, '1 day', 0.15) FROM mp_scored;
-- a model without a unit takes any, as before, but cannot omit it
SELECT round(clv_lifetime_value(b, g, 2, 30.43, 38.86, 22.345, '1 year', '1 day', 0.1)::numeric, 2) AS misread
FROM mp_scored;
SELECT clv_lifetime_value(b, g, 2, 30.43, 38.86, 22.345, '1 year', 0.1) FROM mp_scored;
SELECT what, pg_temp.sqlstate_of(q) AS error
FROM (VALUES
    ('months given, days recorded', $$SELECT clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', '1 month', 0.1) FROM mp_scored$$),
    ('mixed interval', $$SELECT clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', '7 days 1 month', 0.1) FROM mp_scored$$),
    ('negative', $$SELECT clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', '-7 days', 0.1) FROM mp_scored$$),
    ('dert without unit', $$SELECT clv_dert(clv_paretonbd_fit(x, t_x, t_cal), 2, 30.43, 38.86, 0.15) FROM mp_cbs$$),
    ('dert of a bgnbd model', $$SELECT clv_dert(bu, 2, 30.43, 38.86, 0.15) FROM mp_scored$$),
    ('spend model as purchase model', $$SELECT clv_lifetime_value(g, g, 2, 30.43, 38.86, 22.345, '1 year', 0.1) FROM mp_scored$$),
    ('rate -1', $$SELECT clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', -1) FROM mp_scored$$),
    ('dert rate 0', $$SELECT clv_dert(pu, 2, 30.43, 38.86, 0) FROM mp_scored$$)) v(what, q);
-- a unit in months: recorded as months, and only months match it
SELECT clv_model_info(m)->>'unit' AS unit,
       clv_lifetime_value(m, g, 2, 1, 3, 22.345, '1 year', 0.1)
         = clv_lifetime_value(m, g, 2, 1, 3, 22.345, '1 year', '1 month', 0.1) AS months_match,
       pg_temp.sqlstate_of(format($$SELECT clv_lifetime_value(%L::bytea, %L::bytea, 2, 1, 3, 22.345, '1 year', '30.4375 days', 0.1)$$, m, g))
         AS days_do_not
FROM (SELECT clv_model_from_params('bgnbd', '{"r": 0.24, "alpha": 1.02, "a": 0.79, "b": 2.43, "unit": "1 month"}') AS m) mm,
     mp_scored;
-- STRICT: a NULL argument gives NULL
SELECT clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, NULL, 0.1) IS NULL AS null_horizon,
       clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', NULL::float8) IS NULL AS null_rate,
       clv_lifetime_value(bu, g, 2, 30.43, 38.86, 22.345, '1 year', 0.1, NULL) IS NULL AS null_discounting,
       clv_dert(pu, 2, 30.43, 38.86, NULL::float8) IS NULL AS dert_null_rate
FROM mp_scored;

-- ---- clv_model_from_params: errors and odd input --------------------------------
SELECT clv_model_from_params(NULL, '{}') IS NULL AS null_kind,
       clv_model_from_params('bgnbd', NULL) IS NULL AS null_params;
SELECT clv_model_from_params('forest', '{}');
SELECT clv_model_from_params('bgnbd', '{"r": 1, "alpha": 2, "a": 3}');
SELECT clv_model_from_params('bgnbd', '{"r": 1, "alpha": 2, "a": 3, "b": 4, "s": 5}');
SELECT clv_model_from_params('gammagamma', '{"p": 1, "q": 2, "gamma": 3, "unit": "7 days"}');
SELECT clv_model_from_params('bgnbd', '{"r": 1, "alpha": 2, "a": 3, "b": 4, "unit": "1 month 2 days"}');
SELECT k, p, pg_temp.sqlstate_of(format('SELECT clv_model_from_params(%L, %L)', k, p)) AS error
FROM (VALUES
    ('', '{}'), ('BGNBD', '{}'), ('bgnbd ', '{}'),
    ('bgnbd', '[1, 2, 3, 4]'), ('bgnbd', '"r"'), ('bgnbd', 'null'), ('bgnbd', '{}'),
    ('bgnbd', '{"r": "NaN", "alpha": 2, "a": 3, "b": 4}'),
    ('bgnbd', '{"r": "Infinity", "alpha": 2, "a": 3, "b": 4}'),
    ('bgnbd', '{"r": 1e301, "alpha": 2, "a": 3, "b": 4}'),
    ('bgnbd', '{"r": 1e-301, "alpha": 2, "a": 3, "b": 4}'),
    ('bgnbd', '{"r": 0, "alpha": 2, "a": 3, "b": 4}'),
    ('bgnbd', '{"r": -1, "alpha": 2, "a": 3, "b": 4}'),
    ('bgnbd', '{"r": [1], "alpha": 2, "a": 3, "b": 4}'),
    ('bgnbd', '{"r": {"v": 1}, "alpha": 2, "a": 3, "b": 4}'),
    ('bgnbd', '{"r": null, "alpha": 2, "a": 3, "b": 4}'),
    ('bgnbd', '{"r": true, "alpha": 2, "a": 3, "b": 4}'),
    ('bgnbd', '{"r": 1, "alpha": 2, "a": 3, "b": 4, "unit": 7}'),
    ('paretonbd', '{"r": 1, "alpha": 2, "a": 3, "b": 4}'),
    ('gammagamma', '{"p": 1, "q": 2}'),
    ('linreg', '{}'),
    ('linreg', '{"coefficients": []}'),
    ('linreg', '{"coefficients": 1}'),
    ('linreg', '{"coefficients": [1, "2"]}'),
    ('linreg', '{"coefficients": [1, null]}'),
    ('linreg', '{"coefficients": [1, 1e301]}'),
    ('linreg', '{"coefficients": [1, 2], "features": ["a", "b"]}'),
    ('linreg', '{"coefficients": [1, 2], "features": [""]}'),
    ('linreg', '{"coefficients": [1, 2], "features": [1]}'),
    ('linreg', '{"coefficients": [1, 2], "features": null}'),
    ('logreg', '{"coefficients": [1], "intercept": 1}')) v(k, p);
-- numbers beyond float8 are PostgreSQL's own range error
SELECT pg_temp.sqlstate_of($$SELECT clv_model_from_params('bgnbd', '{"r": 1e400, "alpha": 2, "a": 3, "b": 4}')$$) ~ '^22003: ' AS out_of_range;
-- too many coefficients: at most 10001 (10000 features)
SELECT pg_temp.sqlstate_of(format('SELECT clv_model_from_params(%L, %L)', 'linreg',
           jsonb_build_object('coefficients', array_fill(0.5, ARRAY[10002])))) AS error;
SELECT clv_model_info(clv_model_from_params('linreg',
           jsonb_build_object('coefficients', array_fill(0.5, ARRAY[10001]))))->'n_features' AS n_features;
-- only an intercept: a model needs a feature
SELECT clv_model_from_params('linreg', '{"coefficients": [2.5]}');
-- the same parameters give the same bytes (IMMUTABLE), keys in any order
SELECT clv_model_from_params('bgnbd', '{"r": 1, "alpha": 2, "a": 3, "b": 4}')
     = clv_model_from_params('bgnbd', '{"b": 4, "a": 3, "alpha": 2.0, "r": 1}') AS same_bytes;
-- a built model in a function of another kind
SELECT pg_temp.sqlstate_of($$SELECT clv_predict(bg, '{1, 2, 3}') FROM mp_models$$) AS predict_bgnbd,
       pg_temp.sqlstate_of($$SELECT clv_expected_spend(bg, 1, 2) FROM mp_models$$) AS spend_bgnbd;

-- Parameters at the edges a fit rarely reaches, where the expectation's closed
-- form does not serve (a = 1: it divides by a − 1, which once recursed without
-- end and crashed the server; a + b < 1: GSL's 2F1 has the wrong sign for a
-- negative c), and a heavy buyer; the values are the closed form evaluated by
-- mpmath at 60 digits (the limit a → 1 for the first)
SELECT abs(clv_expected_purchases(clv_model_from_params('bgnbd', '{"r": 5, "alpha": 0.01, "a": 1, "b": 3}'),
                                  52, 1, 0.5, 1) / 0.83432370315944106 - 1) < 1e-9 AS a_is_one,
       abs(clv_expected_purchases(clv_model_from_params('bgnbd', '{"r": 0.001, "alpha": 0.001, "a": 0.001, "b": 0.001}'),
                                  52, 0, 0, 1) / 0.027879730137544501 - 1) < 1e-9 AS negative_c,
       abs(clv_expected_purchases(clv_model_from_params('bgnbd', '{"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}'),
                                  52, 10000, 1, 1) / 30452.672776884239 - 1) < 1e-9 AS heavy_buyer;

-- BG/BB from the published donation estimates (Fader, Hardie & Shang 2010):
-- the fit's predictions follow from them (sql/bgbb.sql checks the fit itself)
SELECT round(clv_palive(m, 3, 4, 6)::numeric, 6) AS palive_3_4_6,
       round(clv_expected_purchases(m, 5, 6, 6, 6)::numeric, 6) AS expected_6_6_6
FROM (SELECT clv_model_from_params('bgbb', '{"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}') AS m) f;

-- sBG from the published estimates of the "regular" cohort (Fader & Hardie 2007,
-- alpha 0.704, beta 1.182): survivors per 1,000 in years 8 to 12 as projected
-- from them (220.1, 204.4, 191.2, 179.9, 170.1; sql/sbg.sql fits the cohort)
SELECT t, round((1000 * clv_sbg_survival(m, t))::numeric, 1) AS survivors
FROM (SELECT clv_model_from_params('sbg', '{"alpha": 0.704, "beta": 1.182, "unit": "1 year"}') AS m) f,
     generate_series(8, 12) t ORDER BY t;
SELECT clv_model_info(clv_model_from_params('sbg', '{"alpha": 0.704, "beta": 1.182, "unit": "1 year"}'))
       - 'format_version' AS sbg_info;
SELECT pg_temp.sqlstate_of($$SELECT clv_model_from_params('sbg', '{"alpha": 0.704}')$$) AS missing_beta,
       pg_temp.sqlstate_of($$SELECT clv_model_from_params('sbg', '{"alpha": 0.704, "beta": 1, "unit": "0 days"}')$$) AS zero_unit,
       pg_temp.sqlstate_of($$SELECT clv_model_from_params('sbg', '{"alpha": 0, "beta": 1}')$$) AS zero_alpha;

-- BG/NBD and Pareto/NBD with covariates: a fitted model's reported parameters,
-- with its coefficients as arrays in the order of its covariates, rebuild it:
-- the same predictions, bit for bit, for every customer and covariate value
CREATE TABLE mp_cov_fitted AS
SELECT 'bgnbd_cov' AS kind,
       clv_bgnbd_fit(x, t_x, t_cal, ARRAY[(cust % 2)::float8], ARRAY[(cust % 3 = 0)::int::float8],
                     '{"purchase_features": ["odd"], "dropout_features": ["third"]}') AS m
FROM mp_cbs
UNION ALL
SELECT 'paretonbd_cov',
       clv_paretonbd_fit(x, t_x, t_cal, ARRAY[(cust % 2)::float8], ARRAY[(cust % 3 = 0)::int::float8],
                         '{"purchase_features": ["odd"], "dropout_features": ["third"]}')
FROM mp_cbs;
CREATE TABLE mp_cov_rebuilt AS
SELECT kind, m,
       clv_model_from_params(kind, i->'params' || jsonb_build_object(
           'purchase_coefficients', jsonb_build_array(i->'purchase_coefficients'->'odd'),
           'dropout_coefficients', jsonb_build_array(i->'dropout_coefficients'->'third'),
           'purchase_features', '["odd"]'::jsonb, 'dropout_features', '["third"]'::jsonb)) AS r
FROM (SELECT kind, m, clv_model_info(m) AS i FROM mp_cov_fitted) f;
SELECT kind, count(*) AS cases,
       count(*) FILTER (WHERE clv_palive(m, x, t_x, t_cal, z1, z2) = clv_palive(r, x, t_x, t_cal, z1, z2)
                          AND clv_expected_purchases(m, 52, x, t_x, t_cal, z1, z2)
                              = clv_expected_purchases(r, 52, x, t_x, t_cal, z1, z2)) AS same_predictions
FROM mp_cov_rebuilt, mp_cbs, (VALUES (ARRAY[0::float8], ARRAY[0::float8]), (ARRAY[1::float8], ARRAY[1::float8])) z(z1, z2)
GROUP BY kind ORDER BY kind;
SELECT kind, clv_model_info(r) - 'params' - 'purchase_coefficients' - 'dropout_coefficients'
                 - 'format_version' AS rebuilt_info,
       clv_model_info(m) -> 'params' = clv_model_info(r) -> 'params' AS same_params,
       clv_model_info(m) -> 'purchase_coefficients' = clv_model_info(r) -> 'purchase_coefficients'
           AND clv_model_info(m) -> 'dropout_coefficients' = clv_model_info(r) -> 'dropout_coefficients'
           AS same_coefficients
FROM mp_cov_rebuilt ORDER BY kind;
-- names are optional: purchase1, dropout1, ...; a model without dropout covariates
SELECT clv_model_info(clv_model_from_params('paretonbd_cov',
           '{"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7,
             "purchase_coefficients": [0.3, -0.1], "dropout_coefficients": []}')) -> 'features' AS features;
SELECT pg_temp.sqlstate_of($$SELECT clv_model_from_params('bgnbd_cov', '{"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4, "dropout_coefficients": []}')$$)
           AS missing_purchase,
       pg_temp.sqlstate_of($$SELECT clv_model_from_params('bgnbd_cov', '{"r": 0.24, "alpha": 4.4, "a": 0.79, "purchase_coefficients": [], "dropout_coefficients": []}')$$)
           AS missing_b,
       pg_temp.sqlstate_of($$SELECT clv_model_from_params('bgnbd_cov', '{"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4, "purchase_coefficients": [1], "dropout_coefficients": [], "purchase_features": ["x", "y"]}')$$)
           AS names_count,
       pg_temp.sqlstate_of($$SELECT clv_model_from_params('bgnbd_cov', '{"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4, "purchase_coefficients": ["NaN"], "dropout_coefficients": []}')$$)
           AS nan_coefficient,
       pg_temp.sqlstate_of($$SELECT clv_model_from_params('bgnbd_cov', '{"r": -0.24, "alpha": 4.4, "a": 0.79, "b": 2.4, "purchase_coefficients": [], "dropout_coefficients": []}')$$)
           AS negative_r,
       pg_temp.sqlstate_of($$SELECT clv_model_from_params('paretonbd_cov', '{"r": 0.5, "alpha": 10, "s": 0.6, "beta": 11, "purchase_coefficients": [1], "dropout_coefficients": [], "unit": "7 days"}')$$)
           AS unknown_key;
