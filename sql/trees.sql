-- clv_forest_fit and clv_gbm_fit: quality on held-out rows, determinism
-- (seed, threads, parallel plans), explanations that add up, missing values,
-- the memory limit, cancellation, and the errors a user can cause.
SET client_min_messages = warning;   -- quiet whichever test creates the extension first
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\i test/sql/analyzed_plan.sql
\i test/sql/model_bytes.sql

CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
-- deterministic uniform [0, 1) from a row number and a stream number
CREATE FUNCTION pg_temp.u(i bigint, s bigint) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT ((hashint8extended(i, s) >> 11) & 9007199254740991)::float8 / 9007199254740992.0 $$;
-- Σ of an explanation
CREATE FUNCTION pg_temp.total(v float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT sum(e) FROM unnest(v) e $$;

-- Friedman #1 (10 sin(π x1 x2) + 20 (x3 − ½)² + 10 x4 + 5 x5 + noise) with a
-- sixth, irrelevant feature; rows 1-3000 train, 3001-4000 test.
CREATE TABLE trees_data AS
SELECT i, x, y, y > 14 AS high, exp(y / 10) AS amount
FROM (SELECT i, x,
             10 * sin(pi() * x[1] * x[2]) + 20 * (x[3] - 0.5) ^ 2 + 10 * x[4] + 5 * x[5]
                 + (pg_temp.u(i, 7) - 0.5) AS y
      FROM (SELECT i, ARRAY[pg_temp.u(i, 1), pg_temp.u(i, 2), pg_temp.u(i, 3),
                            pg_temp.u(i, 4), pg_temp.u(i, 5), pg_temp.u(i, 6)] AS x
            FROM generate_series(1, 4000) i) a) b;
CREATE VIEW trees_train AS SELECT * FROM trees_data WHERE i <= 3000;
CREATE VIEW trees_test AS SELECT * FROM trees_data WHERE i > 3000;

CREATE TABLE trees_models AS
SELECT 'forest' AS name, clv_forest_fit(y, x, '{"seed": 1, "n_trees": 30, "max_depth": 8, "min_samples_leaf": 10}') AS m FROM trees_train
UNION ALL
SELECT 'forest_class', clv_forest_fit(high, x, '{"seed": 1, "n_trees": 30, "max_depth": 8, "min_samples_leaf": 10, "criterion": "entropy"}') FROM trees_train
UNION ALL
SELECT 'gbm', clv_gbm_fit(y, x, '{"seed": 1, "n_rounds": 200, "max_depth": 3}') FROM trees_train
UNION ALL
SELECT 'gbm_logistic', clv_gbm_fit(high, x, '{"seed": 1, "n_rounds": 100, "max_depth": 3}') FROM trees_train
UNION ALL
SELECT 'gbm_logistic_float', clv_gbm_fit(high::int::float8, x, '{"loss": "logistic", "seed": 1, "n_rounds": 100, "max_depth": 3}') FROM trees_train
UNION ALL
SELECT 'gbm_tweedie', clv_gbm_fit(amount, x, '{"loss": "tweedie", "tweedie_power": 1.3, "seed": 1, "n_rounds": 200, "max_depth": 3}') FROM trees_train;

--------------------------------------------------------------------------------
-- What the models say about themselves
--------------------------------------------------------------------------------
SELECT name, j ->> 'kind' AS kind, coalesce(j ->> 'task', j ->> 'loss') AS task,
       j -> 'n' AS n, j -> 'n_features' AS p, j -> 'n_trees' AS n_trees,
       (j ->> 'max_depth')::int <= (j #>> '{settings,max_depth}')::int AS depth_within_limit,
       abs((SELECT sum(v::float8) FROM jsonb_array_elements_text(j -> 'importance') v) - 1) < 1e-9
           AS importance_sums_to_1,
       (j -> 'importance' ->> 5)::float8 < 0.05 AS irrelevant_feature_unimportant
FROM trees_models, clv_model_info(m) j ORDER BY name;
SELECT string_agg(key, ', ' ORDER BY key) AS keys
FROM trees_models, jsonb_object_keys(clv_model_info(m)) key WHERE name = 'forest';
SELECT string_agg(key, ', ' ORDER BY key) AS keys
FROM trees_models, jsonb_object_keys(clv_model_info(m)) key WHERE name = 'gbm';
SELECT name, j -> 'settings' AS settings FROM trees_models, clv_model_info(m) j
WHERE name IN ('forest', 'forest_class', 'gbm_tweedie') ORDER BY name;
-- out-of-bag statistics of the forests; boosting's losses and rounds
SELECT name, (j ->> 'oob_score')::float8 > 0.8 AS oob_score_plausible,
       (j ->> 'oob_error')::float8 > 0 AS oob_error_positive
FROM trees_models, clv_model_info(m) j WHERE name LIKE 'forest%' ORDER BY name;
SELECT name, j -> 'best_round' AS best_round, (j ->> 'train_loss')::float8 > 0 AS train_loss_positive,
       j -> 'valid_loss' AS valid_loss
FROM trees_models, clv_model_info(m) j WHERE name LIKE 'gbm%' ORDER BY name;

--------------------------------------------------------------------------------
-- Predictions on the held-out rows
--------------------------------------------------------------------------------
SELECT name, clv_r2(y, clv_predict(m, x)) > 0.75 AS r2_above_075
FROM trees_test, trees_models WHERE name IN ('forest', 'gbm') GROUP BY name ORDER BY name;
SELECT name, clv_auc(high, clv_predict(m, x)) > 0.95 AS auc_above_095,
       min(clv_predict(m, x)) >= 0 AND max(clv_predict(m, x)) <= 1 AS probabilities
FROM trees_test, trees_models WHERE name IN ('forest_class', 'gbm_logistic', 'gbm_logistic_float')
GROUP BY name ORDER BY name;
-- a boolean y and a 0/1 float8 y with the logistic loss give the same trees
-- (the bytes differ only by the options recorded)
SELECT max(abs(clv_predict(b.m, x) - clv_predict(f.m, x))) = 0 AS same_predictions
FROM trees_test, trees_models b, trees_models f
WHERE b.name = 'gbm_logistic' AND f.name = 'gbm_logistic_float';
-- Tweedie predicts a positive mean, and its log-link margin ranks like amount
SELECT min(p) > 0 AS positive, corr(p, amount) > 0.9 AS tracks_amount,
       abs(avg(p) / avg(amount) - 1) < 0.05 AS mean_close
FROM (SELECT amount, clv_predict(m, x) AS p FROM trees_test, trees_models WHERE name = 'gbm_tweedie') s;

--------------------------------------------------------------------------------
-- Determinism: same seed, same bytes; thread count and parallel plans too
--------------------------------------------------------------------------------
SELECT md5(clv_forest_fit(y, x, '{"seed": 1, "n_trees": 30, "max_depth": 8, "min_samples_leaf": 10}'))
           = (SELECT md5(m) FROM trees_models WHERE name = 'forest') AS forest_same_seed,
       md5(clv_forest_fit(y, x, '{"seed": 2, "n_trees": 30, "max_depth": 8, "min_samples_leaf": 10}'))
           <> (SELECT md5(m) FROM trees_models WHERE name = 'forest') AS forest_other_seed
FROM trees_train;
SET clv.training_threads = 1;
CREATE TABLE trees_one_thread AS
SELECT clv_forest_fit(y, x, '{"seed": 1, "n_trees": 30, "max_depth": 8, "min_samples_leaf": 10}') AS forest,
       clv_gbm_fit(y, x, '{"seed": 1, "n_rounds": 200, "max_depth": 3, "subsample": 0.7, "colsample": 0.8}') AS gbm
FROM trees_train;
SET clv.training_threads = 4;
SELECT (SELECT md5(forest) FROM trees_one_thread)
           = (SELECT md5(m) FROM trees_models WHERE name = 'forest') AS forest_threads_1_4,
       (SELECT md5(gbm) FROM trees_one_thread)
           = md5(clv_gbm_fit(y, x, '{"seed": 1, "n_rounds": 200, "max_depth": 3, "subsample": 0.7, "colsample": 0.8}'))
           AS gbm_threads_1_4
FROM trees_train;
RESET clv.training_threads;

-- clv.training_threads takes CPUs that PostgreSQL does not count: only a
-- superuser sets it, or a role granted SET on it, and never above 64
SET clv.training_threads = 64;
SET clv.training_threads = 65;
RESET clv.training_threads;
CREATE ROLE regress_clv_threads;
SET ROLE regress_clv_threads;
SET clv.training_threads = 1;
SHOW clv.training_threads;
RESET ROLE;
GRANT SET ON PARAMETER clv.training_threads TO regress_clv_threads;
SET ROLE regress_clv_threads;
SET clv.training_threads = 1;
SHOW clv.training_threads;
RESET clv.training_threads;
RESET ROLE;
REVOKE SET ON PARAMETER clv.training_threads FROM regress_clv_threads;
DROP ROLE regress_clv_threads;

\i test/sql/force_parallel.sql
SELECT * FROM pg_temp.analyzed_plan($$
SELECT clv_forest_fit(y, x, '{"seed": 1, "n_trees": 30}'), clv_gbm_fit(high, x, '{"seed": 1, "n_rounds": 50}')
FROM trees_data$$);
CREATE TABLE trees_parallel AS
SELECT clv_forest_fit(y, x, '{"seed": 1, "n_trees": 30}') AS forest,
       clv_gbm_fit(high, x, '{"seed": 1, "n_rounds": 50}') AS gbm FROM trees_data;
RESET ALL;
CREATE TABLE trees_serial AS
SELECT clv_forest_fit(y, x, '{"seed": 1, "n_trees": 30}') AS forest,
       clv_gbm_fit(high, x, '{"seed": 1, "n_rounds": 50}') AS gbm FROM trees_data;
SELECT md5(p.forest) = md5(s.forest) AS forest_parallel_equals_serial,
       md5(p.gbm) = md5(s.gbm) AS gbm_parallel_equals_serial,
       (clv_model_info(p.forest) ->> 'n')::int AS n
FROM trees_parallel p, trees_serial s;

--------------------------------------------------------------------------------
-- Explanations: Σ contributions = margin − expected value, row by row
--------------------------------------------------------------------------------
-- margins: the prediction itself, log-odds for logistic boosting, log for Tweedie
SELECT name, max(abs(total - (margin - e))) < 1e-9 AS sums_to_margin_minus_expected,
       count(*) AS rows, max(n) AS n_contributions
FROM (SELECT name, e, pg_temp.total(c) AS total, array_length(c, 1) AS n,
             CASE loss WHEN 'logistic' THEN ln(p / (1 - p)) WHEN 'tweedie' THEN ln(p) ELSE p END AS margin
      FROM (SELECT name, m, clv_explain_expected(m) AS e, clv_model_info(m) ->> 'loss' AS loss
            FROM trees_models OFFSET 0) q,
           LATERAL (SELECT clv_explain(m, x) AS c, clv_predict(m, x) AS p FROM trees_test OFFSET 0) r) s
           -- OFFSET 0: each function once per model or row, model after model
GROUP BY name ORDER BY name;
-- the expected value is the one clv_model_info reports; the irrelevant
-- feature contributes little
SELECT name, clv_explain_expected(m) = (clv_model_info(m) ->> 'expected_value')::float8 AS same_expected
FROM trees_models ORDER BY name;
SELECT avg(abs(c[6])) < 0.1 * avg(abs(c[1])) AS irrelevant_contributes_little
FROM (SELECT clv_explain(m, x) AS c FROM trees_test, trees_models WHERE name = 'gbm') s;

-- linear models: coefficient × (x − training mean), on the link scale
CREATE TABLE trees_linear AS
SELECT clv_linreg_fit(y, x) AS lin, clv_logreg_fit(high, x) AS log FROM trees_train;
SELECT max(abs(pg_temp.total(clv_explain(lin, x)) - (clv_predict(lin, x) - clv_explain_expected(lin)))) < 1e-9
           AS linreg_sums,
       max(abs(pg_temp.total(clv_explain(log, x))
               - (ln(clv_predict(log, x) / (1 - clv_predict(log, x))) - clv_explain_expected(log)))) < 1e-9
           AS logreg_sums
FROM trees_test, trees_linear;
-- the expected value is the mean training prediction of the linear model,
-- and each contribution is its coefficient times the centred feature
SELECT abs(avg(clv_predict(lin, x)) - clv_explain_expected(lin)) < 1e-9 AS linreg_expected_is_mean,
       max(abs((clv_explain(lin, x))[1] - c1 * (x[1] - m1))) < 1e-12 AS first_contribution
FROM trees_train, trees_linear,
     LATERAL (SELECT (clv_model_info(lin) -> 'coefficients' ->> 1)::float8 AS c1,
                     (clv_model_info(lin) -> 'feature_means' ->> 0)::float8 AS m1) k
GROUP BY lin;
SELECT abs((clv_model_info(lin) -> 'feature_means' ->> 2)::float8 - avg(x[3])) < 1e-12 AS mean_stored
FROM trees_train, trees_linear GROUP BY lin;
-- a model written before the means were stored (the golden linreg model of
-- sql/model.sql) scores but cannot explain
CREATE TABLE trees_old_linreg AS SELECT pg_temp.golden_linreg_v1() AS m;
SELECT clv_predict(m, '{1.5}') FROM trees_old_linreg;
SELECT clv_explain(m, '{1.5}') FROM trees_old_linreg;

--------------------------------------------------------------------------------
-- Missing values: NaN takes the direction learned in training
--------------------------------------------------------------------------------
-- the first feature is missing exactly when y is large
CREATE TABLE trees_missing AS
SELECT i, CASE WHEN i % 4 = 0 THEN ARRAY['NaN', pg_temp.u(i, 2)]::float8[]
               ELSE ARRAY[pg_temp.u(i, 1), pg_temp.u(i, 2)] END AS x,
       CASE WHEN i % 4 = 0 THEN 100 ELSE pg_temp.u(i, 3) END AS y
FROM generate_series(1, 2000) i;
SELECT round(clv_predict(f, '{NaN,0.5}')::numeric, 3) AS forest_missing,
       clv_predict(f, '{0.5,0.5}') < 2 AS forest_present_small,
       round(clv_predict(g, '{NaN,0.5}')::numeric, 0) AS gbm_missing,
       clv_predict(g, '{0.5,0.5}') < 5 AS gbm_present_small,
       round(clv_predict(f, '{NaN,NaN}')::numeric, 3) AS forest_all_missing
FROM (SELECT clv_forest_fit(y, x, '{"seed": 3, "n_trees": 20}') AS f,
             clv_gbm_fit(y, x, '{"n_rounds": 100, "learning_rate": 0.3}') AS g FROM trees_missing) q;

--------------------------------------------------------------------------------
-- Options
--------------------------------------------------------------------------------
-- feature names label the importances; permutation importance on request
SELECT j -> 'features' AS features, j -> 'permutation_importance' ?& ARRAY['a', 'b', 'c', 'd', 'e', 'f'] AS named,
       (j -> 'importance' ->> 'f')::float8 < 0.05 AS f_unimportant,
       (j -> 'permutation_importance' ->> 'a')::float8 > (j -> 'permutation_importance' ->> 'f')::float8
           AS a_beats_f
FROM (SELECT clv_model_info(clv_forest_fit(y, x, '{"n_trees": 20, "permutation_importance": true,
                                                   "features": ["a", "b", "c", "d", "e", "f"]}')) AS j
      FROM trees_train) q;
-- subsampling without replacement, mtry, depth, leaf size, bins
SELECT (j ->> 'max_depth')::int <= 4 AS depth_limited, j #> '{settings,mtry}' AS mtry,
       j #> '{settings,replace}' AS replace
FROM (SELECT clv_model_info(clv_forest_fit(y, x, '{"n_trees": 10, "max_depth": 4, "mtry": 6, "replace": false,
                                                   "sample_fraction": 0.5, "min_samples_leaf": 20,
                                                   "max_bins": 16, "min_gain": 0.01}')) AS j
      FROM trees_train) q;
-- early stopping on a held-out fraction keeps the best round
SELECT (j ->> 'best_round')::int < 2000 AS stopped_early, (j ->> 'n_trees')::int = (j ->> 'best_round')::int AS trees_kept,
       (j ->> 'valid_loss')::float8 > 0 AS valid_loss_reported
FROM (SELECT clv_model_info(clv_gbm_fit(y, x, '{"n_rounds": 2000, "learning_rate": 0.5, "validation_fraction": 0.2,
                                                "early_stopping_rounds": 5, "l2": 0, "min_child_weight": 0,
                                                "min_samples_leaf": 1}')) AS j
      FROM trees_train) q;
-- progress reports are NOTICEs (none for a fit this short, so nothing shows)
SELECT length(clv_gbm_fit(y, x, '{"n_rounds": 5, "progress": true}')) > 0 AS fitted FROM trees_train;
-- defaults of the two-argument forms
SELECT j #> '{settings,n_trees}' AS n_trees, j #> '{settings,mtry}' AS mtry,
       j #> '{settings,max_depth}' AS max_depth, j #> '{settings,min_samples_leaf}' AS min_leaf
FROM (SELECT clv_model_info(clv_forest_fit(y, x)) AS j FROM trees_train WHERE i <= 300) q;
SELECT j #> '{settings,n_rounds}' AS n_rounds, j #> '{settings,learning_rate}' AS learning_rate,
       j #> '{settings,max_depth}' AS max_depth, j -> 'loss' AS loss
FROM (SELECT clv_model_info(clv_gbm_fit(high, x)) AS j FROM trees_train WHERE i <= 300) q;
-- one model per group
SELECT i % 2 AS half, (clv_model_info(clv_gbm_fit(y, x, '{"n_rounds": 10}')) ->> 'n')::int AS n
FROM trees_train GROUP BY i % 2 ORDER BY half;

--------------------------------------------------------------------------------
-- Errors
--------------------------------------------------------------------------------
SELECT clv_forest_fit(CASE WHEN i = 7 THEN NULL ELSE y END, x) FROM trees_train;
SELECT clv_forest_fit(CASE WHEN i = 7 THEN 'NaN' ELSE y END, x) FROM trees_train;
SELECT clv_gbm_fit(CASE WHEN i = 7 THEN '-Infinity' ELSE y END, x) FROM trees_train;
SELECT clv_forest_fit(CASE WHEN i = 7 THEN NULL ELSE high END, x) FROM trees_train;
SELECT clv_forest_fit(y, CASE WHEN i = 7 THEN NULL ELSE x END) FROM trees_train;
SELECT clv_forest_fit(y, CASE WHEN i = 7 THEN '{1,NULL,3,4,5,6}' ELSE x END) FROM trees_train;
SELECT clv_forest_fit(y, CASE WHEN i = 7 THEN x[1:5] ELSE x END) FROM trees_train;
SELECT clv_gbm_fit(y, CASE WHEN i = 7 THEN '{1,2,Infinity,4,5,6}' ELSE x END) FROM trees_train;
SELECT clv_forest_fit(y, CASE WHEN i = 7 THEN '{{1,2,3},{4,5,6}}' ELSE x END) FROM trees_train;
SELECT clv_forest_fit(y, x) FROM trees_train WHERE false;
SELECT clv_gbm_fit(high, x) FROM trees_train WHERE false;
SELECT clv_gbm_fit(y, x, '{"loss": "logistic"}') FROM trees_train;
SELECT clv_gbm_fit(y - 20, x, '{"loss": "tweedie"}') FROM trees_train;
SELECT clv_gbm_fit(high, x, '{"loss": "squared"}') FROM trees_train;
SELECT clv_gbm_fit(y, x, '{"loss": "huber"}') FROM trees_train;
SELECT clv_gbm_fit(y, x, '{"tweedie_power": 1.5}') FROM trees_train;
SELECT clv_gbm_fit(y, x, '{"loss": "tweedie", "tweedie_power": 2}') FROM trees_train;
SELECT clv_gbm_fit(y, x, '{"early_stopping_rounds": 5}') FROM trees_train;
SELECT clv_gbm_fit(y, x, '{"learning_rate": 0}') FROM trees_train;
SELECT clv_gbm_fit(y, x, '{"validation_fraction": 1}') FROM trees_train;
SELECT clv_forest_fit(y, x, '{"n_tree": 10}') FROM trees_train;
SELECT clv_forest_fit(y, x, '{"n_trees": "ten"}') FROM trees_train;
SELECT clv_forest_fit(y, x, '{"n_trees": 0}') FROM trees_train;
SELECT clv_forest_fit(y, x, '{"max_depth": 31}') FROM trees_train;
SELECT clv_forest_fit(y, x, '{"mtry": 7}') FROM trees_train;
SELECT clv_forest_fit(y, x, '{"sample_fraction": 0}') FROM trees_train;
SELECT clv_forest_fit(y, x, '{"replace": "yes"}') FROM trees_train;
SELECT clv_forest_fit(y, x, '{"criterion": "gini"}') FROM trees_train;
SELECT clv_forest_fit(high, x, '{"criterion": "squared"}') FROM trees_train;
SELECT clv_forest_fit(y, x, '{"max_bins": 257}') FROM trees_train;
SELECT clv_forest_fit(y, x, '{"seed": 1.5}') FROM trees_train;
SELECT clv_forest_fit(y, x, '{"seed": -1}') FROM trees_train;
SELECT clv_forest_fit(y, x, '{"features": ["a", "b"]}') FROM trees_train;
SELECT clv_forest_fit(y, x, '[1, 2]') FROM trees_train;
SELECT clv_forest_fit(y, x, CASE WHEN i < 100 THEN '{"seed": 1}' ELSE '{"seed": 2}' END::jsonb)
FROM trees_train;
SELECT clv_gbm_fit(high, x, CASE WHEN i < 100 THEN '{"n_rounds": 3}'::jsonb END) FROM trees_train;
SELECT q, pg_temp.sqlstate_of(q) AS error
FROM (VALUES ('SELECT clv_forest_fit(NULL::float8, x) FROM trees_train'),
             ('SELECT clv_forest_fit(''NaN''::float8, x) FROM trees_train'),
             ('SELECT clv_forest_fit(y, NULL) FROM trees_train'),
             ('SELECT clv_forest_fit(y, CASE WHEN i = 7 THEN x[1:5] ELSE x END) FROM trees_train'),
             ('SELECT clv_forest_fit(y, CASE WHEN i = 7 THEN ''{1,2,Infinity,4,5,6}'' ELSE x END) FROM trees_train'),
             ('SELECT clv_forest_fit(y, x) FROM trees_train WHERE false'),
             ('SELECT clv_forest_fit(y, x, ''{"n_tree": 10}'') FROM trees_train'),
             ('SELECT clv_forest_fit(y, x, ''{"n_trees": "ten"}'') FROM trees_train')) v(q);

-- scoring: wrong length, infinities, NaN in a linear model, BTYD kinds
SELECT clv_predict(m, '{1,2,3}') FROM trees_models WHERE name = 'forest';
SELECT clv_predict(m, '{0.1,0.2,0.3,0.4,0.5,Infinity}') FROM trees_models WHERE name = 'gbm';
SELECT clv_explain(m, '{0.1,0.2,0.3,0.4,0.5}') FROM trees_models WHERE name = 'gbm';
SELECT clv_explain(lin, '{0.1,0.2,0.3,0.4,0.5,NaN}') FROM trees_linear;
CREATE TABLE trees_btyd AS
SELECT clv_bgnbd_fit(f, least(r, t), t) AS m
FROM (SELECT (i % 5)::float8 AS f, CASE WHEN i % 5 = 0 THEN 0 ELSE (i % 13) + 1 END::float8 AS r,
             14 + (i % 17)::float8 AS t FROM generate_series(1, 500) i) s;
SELECT clv_explain(m, '{1,2,3}') FROM trees_btyd;
SELECT clv_explain_expected(m) FROM trees_btyd;

-- corrupted and truncated model bytes are errors, never a crash
SELECT clv_predict(overlay(m PLACING '\xff'::bytea FROM length(m) / 2), x) FROM trees_models, trees_test
WHERE name = 'forest' AND i = 3001;
SELECT clv_predict(substring(m FROM 1 FOR length(m) - 9), x) FROM trees_models, trees_test
WHERE name = 'gbm' AND i = 3001;
SELECT clv_explain(substring(m FROM 1 FOR 30), x) FROM trees_models, trees_test
WHERE name = 'gbm' AND i = 3001;
SELECT clv_model_info(overlay(m PLACING '\x00000000'::bytea FROM 40)) FROM trees_models WHERE name = 'gbm_tweedie';
-- every single-byte change of a small model is rejected or decodes to a valid model
SELECT count(*) AS variants,
       count(*) FILTER (WHERE r LIKE '22P03%' OR r LIKE '0A000%') AS rejected,
       count(*) FILTER (WHERE r = 'no error') AS accepted,
       count(*) FILTER (WHERE r NOT LIKE '22P03%' AND r NOT LIKE '0A000%' AND r <> 'no error') AS other
FROM (SELECT pg_temp.sqlstate_of(format('SELECT clv_explain(%L::bytea, ''{0.5,NaN}'')',
                                        set_byte(m, k, (get_byte(m, k) + 1 + k % 7) % 256))) AS r
      FROM (SELECT clv_gbm_fit(y, x, '{"n_rounds": 2, "max_depth": 2}') AS m FROM trees_missing) q,
           generate_series(0, length(m) - 1) k) s;

-- Golden tree models: bytes written by clv 0.1.0 (format version 1, 40-byte
-- nodes), read by the version-1 payload decoder; every later version must score
-- them the same.  Never regenerate these.  Fitted on
--   SELECT i, CASE WHEN i % 11 = 0 THEN 'NaN' ELSE sin(i * 0.37) END AS a,
--          cos(i * 0.11) AS b, (i % 5) AS c FROM generate_series(1, 200) i
-- forest: y = 3a + c (a NaN as 0), {"n_trees": 2, "max_depth": 3, "seed": 7};
-- gbm: b > 0.2, {"n_rounds": 3, "max_depth": 2, "seed": 7}.
CREATE TABLE trees_golden (kind text, m bytea);
INSERT INTO trees_golden VALUES
('forest', decode(
    '434c564d010007000000000003000000b305000002792296000000002f0100007b226e223a203230302c20227461736b' ||
    '223a202272656772657373696f6e222c20226f7074696f6e73223a207b2273656564223a20372c20226e5f7472656573' ||
    '223a20322c20226d61785f6465707468223a20337d2c202273657474696e6773223a207b226e5f7472656573223a2032' ||
    '2c20226d61785f6465707468223a20332c20226d696e5f73616d706c65735f6c656166223a20352c20226d696e5f6761' ||
    '696e223a20302c20226d61785f62696e73223a203235362c202273656564223a20372c20226d747279223a20312c2022' ||
    '73616d706c655f6672616374696f6e223a20312c20227265706c616365223a20747275652c2022637269746572696f6e' ||
    '223a202273717561726564222c20227065726d75746174696f6e5f696d706f7274616e6365223a2066616c73657d7d78' ||
    '040000010000000100000000000000020000001a0000000000000000000000020000005ae16078a678d53fbb2ce71094' ||
    '170d40000000000000f87f000000000000f87f70d504a099eed63f854fc159c870b83f566bc5249a7ae13f0000000000' ||
    '0000000d0000001a00000002000000010000000200000001000000000000000000044000000000000000000000000000' ||
    '00694001000000030000000400000000000000000000a05853e6bf00000000000000000000000000805c400100000005' ||
    '00000006000000000000000000009069c7efbf0000000000000000000000000080554001000000070000000800000001' ||
    '000000000000e0a28eeabf00000000000000000000000000003b4002000000090000000a000000010000000000000000' ||
    '00f83f00000000000000000000000000c05540ffffffff000000000000000000000000000000000000000083334c86fb' ||
    '70ef3f0000000000001440020000000b0000000c000000000000000000000000000c4000000000000000000000000000' ||
    '405440ffffffff00000000000000000000000000000000000000008f2fac3a2158d53f0000000000003340ffffffff00' ||
    '00000000000000000000000000000000000000dea8901fb1e3ecbf0000000000002040ffffffff000000000000000000' ||
    '0000000000000000000000b16263b07d0be93f0000000000804740ffffffff0000000000000000000000000000000000' ||
    '0000006cc74f1c5e1600400000000000004440ffffffff000000000000000000000000000000000000000031cc8a761d' ||
    '4308400000000000804340ffffffff0000000000000000000000000000000000000000c6de17bd371b11400000000000' ||
    '004540010000000e0000000f00000000000000000000406333eebf000000000000000000000000000069400000000010' ||
    '000000110000000100000000000090812fa33f0000000000000000000000000000354002000000120000001300000000' ||
    '000000000000000000f83f00000000000000000000000000606640010000001400000015000000000000000000009069' ||
    'c7efbf00000000000000000000000000002e40ffffffff0000000000000000000000000000000000000000cf176620ba' ||
    'fd0940000000000000184002000000160000001700000001000000000000000000e03f00000000000000000000000000' ||
    '80534000000000180000001900000000000000000000a0ef41c9bf00000000000000000000000000405940ffffffff00' ||
    '000000000000000000000000000000000000002f164bf3bf85c33f0000000000001c40ffffffff000000000000000000' ||
    '0000000000000000000000dae06b79b694f1bf0000000000002040ffffffff0000000000000000000000000000000000' ||
    '00000093ba355ffb55c9bf0000000000804440ffffffff000000000000000000000000000000000000000023649cf015' ||
    'f0f23f0000000000804240ffffffff000000000000000000000000000000000000000034d62ec2cb99e83f0000000000' ||
    '004640ffffffff000000000000000000000000000000000000000077110e56941113400000000000804c40', 'hex')),
('gbm', decode(
    '434c564d01000800000000000300000054030000b029a60a00000000740100007b226e223a203230302c20226c6f7373' ||
    '223a20226c6f676973746963222c20226f7074696f6e73223a207b2273656564223a20372c20226e5f726f756e647322' ||
    '3a20332c20226d61785f6465707468223a20327d2c202273657474696e6773223a207b226c6f7373223a20226c6f6769' ||
    '73746963222c20226e5f726f756e6473223a20332c20226c6561726e696e675f72617465223a20302e31303030303030' ||
    '303030303030303030312c20226d61785f6465707468223a20322c20226d696e5f73616d706c65735f6c656166223a20' ||
    '312c20226d696e5f6761696e223a20302c20226d61785f62696e73223a203235362c202273656564223a20372c20226d' ||
    '696e5f6368696c645f776569676874223a20312c20226c32223a20312c202273756273616d706c65223a20312c202263' ||
    '6f6c73616d706c65223a20312c202276616c69646174696f6e5f6672616374696f6e223a20302c20226561726c795f73' ||
    '746f7070696e675f726f756e6473223a20307d7dd401000002000000020000000100000003000000090000009938145a' ||
    '15bcd0bf03000000000000000000f87f000000000000f87fe4be1226132add3f000000000000f87f0000000000000000' ||
    '000000000000f03f00000000000000000000000000000000030000000600000009000000010000000100000002000000' ||
    '01000000000000e02de6c83f0000000000000000a7703d0ad7934840ffffffff00000000000000000000000000000000' ||
    '00000000f3bf63d513dec5bff5b4a679c7c53b40ffffffff0000000000000000000000000000000000000000d242ad0c' ||
    '521ccc3f592cd49ae661354001000000040000000500000001000000000000e02de6c83f000000000000000087104a23' ||
    'f35a4840ffffffff000000000000000000000000000000000000000076cf9850435ac4bf639b29ad56f83a40ffffffff' ||
    '0000000000000000000000000000000000000000eaec9a5658ffc83fab856a998fbd3540010000000700000008000000' ||
    '01000000000000e02de6c83f000000000000000055877deb21c54740ffffffff00000000000000000000000000000000' ||
    '000000005917f9b0b025c3bf4aacc384e7ea3940ffffffff00000000000000000000000000000000000000004594d26f' ||
    '6dbac63f606237525c9f3540', 'hex'));
CREATE TABLE trees_golden_rows AS
SELECT i, ARRAY[CASE WHEN i % 11 = 0 THEN 'NaN' ELSE sin(i * 0.37) END, cos(i * 0.11), i % 5]::float8[] AS x
FROM generate_series(1, 200) i;
SELECT kind, length(m) AS bytes, clv_model_info(m) ->> 'format_version' AS format_version,
       clv_model_info(m) ->> 'n_nodes' AS n_nodes
FROM trees_golden ORDER BY kind;
-- scores of clv 0.1.0, to the last bit
SELECT kind, i, clv_predict(m, x) AS score
FROM trees_golden, trees_golden_rows WHERE i % 40 = 3 ORDER BY kind, i;
SELECT bool_and(clv_predict(m, x) = CASE kind WHEN 'forest' THEN 3.899969230041229 ELSE 0.5820005805953791 END)
       AS same_as_0_1_0
FROM trees_golden, trees_golden_rows WHERE i IN (3, 123);
SELECT kind, max(abs((clv_explain(m, x))[1] + (clv_explain(m, x))[2] + (clv_explain(m, x))[3]
                 + clv_explain_expected(m) - CASE kind WHEN 'gbm' THEN ln(clv_predict(m, x) / (1 - clv_predict(m, x)))
                                                   ELSE clv_predict(m, x) END)) < 1e-9 AS explained
FROM trees_golden, trees_golden_rows GROUP BY kind ORDER BY kind;

-- training memory: 3000 rows of 6 features are 3000 × (8 + 24) bytes = 94 kB
SET clv.max_training_memory = '64kB';
SELECT clv_forest_fit(y, x) FROM trees_train;
SELECT pg_temp.sqlstate_of('SELECT clv_gbm_fit(y, x) FROM trees_train') AS error;
SELECT length(clv_gbm_fit(y, x, '{"n_rounds": 5}')) > 0 AS fits_a_smaller_input FROM trees_train WHERE i <= 1000;
RESET clv.max_training_memory;

-- cancellation: a fit that would take minutes stops within about a second
-- of statement_timeout
CREATE TABLE trees_long AS
SELECT ARRAY[pg_temp.u(i, 1), pg_temp.u(i, 2), pg_temp.u(i, 3), pg_temp.u(i, 4)] AS x,
       pg_temp.u(i, 5) AS y
FROM generate_series(1, 100000) i;
SET statement_timeout = '1s';
DO $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    PERFORM clv_forest_fit(y, x, '{"n_trees": 100000, "max_depth": 30, "min_samples_leaf": 1}') FROM trees_long;
    RAISE NOTICE 'not cancelled';
EXCEPTION WHEN query_canceled THEN
    RAISE NOTICE 'cancelled within 2 s of the timeout: %', clock_timestamp() - t0 < interval '3 s';
END $$;
RESET statement_timeout;

-- progress reports while threads run: a cancel that lands during a report
-- must stop and join the workers before the error unwinds (the workers read
-- memory that the abort frees).  Each fit is cancelled during its first or
-- second tree, when a report falls due; the reports go to the server log
-- only, so that this output does not depend on timing.  No thread may be
-- left behind, and the server must survive.
CREATE TABLE trees_wide AS
SELECT ARRAY(SELECT x[1 + k % 4] * (1 + k) FROM generate_series(0, 79) k) AS x, y
FROM trees_long;
SET log_min_messages = notice;
SET client_min_messages = warning;
SET clv.training_threads = 2;
SET statement_timeout = '2500ms';
SELECT clv_forest_fit(y, x, '{"n_trees": 100000, "max_depth": 30, "min_samples_leaf": 1, "mtry": 80, "progress": true}') FROM trees_wide;
SET statement_timeout = '3000ms';
SELECT clv_forest_fit(y, x, '{"n_trees": 100000, "max_depth": 30, "min_samples_leaf": 1, "mtry": 80, "progress": true}') FROM trees_wide;
SET statement_timeout = '3500ms';
SELECT clv_forest_fit(y, x, '{"n_trees": 100000, "max_depth": 30, "min_samples_leaf": 1, "mtry": 80, "progress": true}') FROM trees_wide;
RESET statement_timeout;
RESET clv.training_threads;
RESET client_min_messages;
RESET log_min_messages;
SELECT CASE WHEN pg_stat_file('/proc/self/status', true) IS NULL THEN true
            ELSE pg_read_file('/proc/self/status') ~ '\nThreads:\s+1\n' END AS no_thread_left;
