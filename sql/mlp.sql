-- clv_mlp_fit: quality on held-out rows, determinism (seed, threads,
-- parallel plans), what clv_model_info reports, scoring, early stopping, the
-- memory limit, cancellation, and the errors a user can cause.
SET client_min_messages = warning;   -- quiet whichever test creates the extension first
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\i test/sql/analyzed_plan.sql

CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
-- deterministic uniform [0, 1) from a row number and a stream number
CREATE FUNCTION pg_temp.u(i bigint, s bigint) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT ((hashint8extended(i, s) >> 11) & 9007199254740991)::float8 / 9007199254740992.0 $$;

-- Friedman #1 with a sixth, irrelevant feature on another scale; rows
-- 1-2000 train, 2001-3000 test.
CREATE TABLE mlp_data AS
SELECT i, x, y, y > 14.4 AS high
FROM (SELECT i, x,
             10 * sin(pi() * x[1] * x[2]) + 20 * (x[3] - 0.5) ^ 2 + 10 * x[4] + 5 * x[5] / 1000
                 + (pg_temp.u(i, 7) - 0.5) AS y
      FROM (SELECT i, ARRAY[pg_temp.u(i, 1), pg_temp.u(i, 2), pg_temp.u(i, 3),
                            pg_temp.u(i, 4), 1000 * pg_temp.u(i, 5), pg_temp.u(i, 6)] AS x
            FROM generate_series(1, 3000) i) a) b;
CREATE VIEW mlp_train AS SELECT * FROM mlp_data WHERE i <= 2000;
CREATE VIEW mlp_test AS SELECT * FROM mlp_data WHERE i > 2000;

CREATE TABLE mlp_models AS
SELECT 'regression' AS name,
       clv_mlp_fit(y, x, '{"hidden_layers": [32], "learning_rate": 0.01, "max_epochs": 100, "seed": 1}') AS m
FROM mlp_train
UNION ALL
SELECT 'classification', clv_mlp_fit(high, x, '{"hidden_layers": [16, 8], "activation": "tanh", "learning_rate": 0.01, "max_epochs": 100, "early_stopping": true, "seed": 1}')
FROM mlp_train
UNION ALL
SELECT 'log_loss_float', clv_mlp_fit(high::int::float8, x, '{"loss": "log_loss", "hidden_layers": [8], "learning_rate": 0.01, "max_epochs": 40, "seed": 1}')
FROM mlp_train;

--------------------------------------------------------------------------------
-- What the models say about themselves
--------------------------------------------------------------------------------
SELECT name, j ->> 'kind' AS kind, j ->> 'task' AS task, j -> 'n' AS n,
       j -> 'layer_sizes' AS layers, j ->> 'activation' AS activation, j ->> 'loss' AS loss,
       j ->> 'output' AS output, j -> 'n_weights' AS n_weights,
       jsonb_array_length(j -> 'loss_curve') = (j ->> 'epochs')::int AS curve_per_epoch,
       (j ->> 'best_epoch')::int BETWEEN 1 AND (j ->> 'epochs')::int AS best_epoch_in_range,
       j ? 'validation_scores' AS has_validation
FROM mlp_models, clv_model_info(m) j ORDER BY name;
SELECT string_agg(key, ', ' ORDER BY key) AS keys
FROM mlp_models, jsonb_object_keys(clv_model_info(m)) key WHERE name = 'regression';
SELECT clv_model_info(m) -> 'settings' AS settings FROM mlp_models WHERE name = 'classification';
-- the training loss falls
SELECT name, (j -> 'loss_curve' ->> -1)::float8 < (j -> 'loss_curve' ->> 0)::float8 AS loss_falls
FROM mlp_models, clv_model_info(m) j ORDER BY name;

--------------------------------------------------------------------------------
-- Held-out quality
--------------------------------------------------------------------------------
SELECT 1 - sum((y - p) ^ 2) / sum((y - avg_y) ^ 2) > 0.95 AS r2_above_095
FROM (SELECT y, clv_predict(m, x) AS p, avg(y) OVER () AS avg_y
      FROM mlp_test, mlp_models WHERE name = 'regression') s;
SELECT name, clv_auc(high, p) > 0.95 AS auc_above_095, min(p) >= 0 AND max(p) <= 1 AS probabilities
FROM (SELECT name, high, clv_predict(m, x) AS p FROM mlp_test, mlp_models
      WHERE name <> 'regression') s GROUP BY name ORDER BY name;

--------------------------------------------------------------------------------
-- Determinism: same seed, same bytes; thread count and parallel plans too
--------------------------------------------------------------------------------
SELECT md5(clv_mlp_fit(y, x, '{"hidden_layers": [32], "learning_rate": 0.01, "max_epochs": 100, "seed": 1}'))
           = (SELECT md5(m) FROM mlp_models WHERE name = 'regression') AS same_seed,
       md5(clv_mlp_fit(y, x, '{"hidden_layers": [32], "learning_rate": 0.01, "max_epochs": 100, "seed": 2}'))
           <> (SELECT md5(m) FROM mlp_models WHERE name = 'regression') AS other_seed
FROM mlp_train;
SET clv.training_threads = 1;
CREATE TABLE mlp_one_thread AS
SELECT clv_mlp_fit(high, x, '{"hidden_layers": [16, 8], "activation": "tanh", "learning_rate": 0.01, "max_epochs": 100, "early_stopping": true, "seed": 1}') AS m
FROM mlp_train;
SET clv.training_threads = 2;
SELECT md5(o.m) = md5(c.m) AS threads_1_2 FROM mlp_one_thread o, mlp_models c WHERE c.name = 'classification';
-- a network whose batches are worth two threads (200 rows × 23851 weights)
SET clv.training_threads = 1;
CREATE TABLE mlp_wide_one_thread AS
SELECT clv_mlp_fit(y, x, '{"hidden_layers": [150, 150], "max_epochs": 2, "seed": 1}') AS m FROM mlp_train;
SET clv.training_threads = 2;
SELECT md5(o.m) = md5(clv_mlp_fit(y, x, '{"hidden_layers": [150, 150], "max_epochs": 2, "seed": 1}'))
           AS wide_threads_1_2
FROM mlp_wide_one_thread o, mlp_train GROUP BY o.m;
RESET clv.training_threads;

\i test/sql/force_parallel.sql
SELECT * FROM pg_temp.analyzed_plan($$
SELECT clv_mlp_fit(y, x, '{"hidden_layers": [8], "max_epochs": 5}') FROM mlp_data$$);
CREATE TABLE mlp_parallel AS
SELECT clv_mlp_fit(y, x, '{"hidden_layers": [8], "max_epochs": 5}') AS reg,
       clv_mlp_fit(high, x, '{"hidden_layers": [8], "max_epochs": 5}') AS cls FROM mlp_data;
RESET ALL;
CREATE TABLE mlp_serial AS
SELECT clv_mlp_fit(y, x, '{"hidden_layers": [8], "max_epochs": 5}') AS reg,
       clv_mlp_fit(high, x, '{"hidden_layers": [8], "max_epochs": 5}') AS cls FROM mlp_data;
SELECT md5(p.reg) = md5(s.reg) AS regression_parallel_equals_serial,
       md5(p.cls) = md5(s.cls) AS classification_parallel_equals_serial,
       (clv_model_info(p.reg) ->> 'n')::int AS n
FROM mlp_parallel p, mlp_serial s;

--------------------------------------------------------------------------------
-- Scoring and the other model functions
--------------------------------------------------------------------------------
-- the defaults: one hidden layer of 100 ReLU units, 200 epochs at most
SELECT j -> 'layer_sizes' AS layers, j ->> 'activation' AS activation,
       j #> '{settings,batch_size}' AS batch_size, j #> '{settings,l2}' AS l2
FROM (SELECT clv_model_info(clv_mlp_fit(y, x)) j FROM mlp_train WHERE i <= 50) s;
-- no hidden layer: a linear model on the standardised features
SELECT clv_model_info(m) -> 'layer_sizes' AS layers,
       abs(clv_predict(m, ARRAY[0.5, 0.5, 0.5, 0.5, 500, 0.5]) - 14) < 3 AS near_the_mean
FROM (SELECT clv_mlp_fit(y, x, '{"hidden_layers": [], "max_epochs": 300, "learning_rate": 0.01}') m FROM mlp_train) s;
-- feature names; zero rows
SELECT clv_model_info(clv_mlp_fit(y, x, '{"hidden_layers": [2], "max_epochs": 2, "features": ["a", "b", "c", "d", "e", "f"]}')) -> 'features' AS features
FROM mlp_train;
-- (the window forms are aggregate_forms.sql's)
SELECT pg_temp.sqlstate_of('SELECT clv_mlp_fit(y, x) FROM mlp_train WHERE false') AS zero_rows;
SELECT pg_temp.sqlstate_of($$SELECT clv_explain(m, x) FROM mlp_models, mlp_test WHERE name = 'regression' LIMIT 1$$) AS explain;
SELECT pg_temp.sqlstate_of($$SELECT clv_predict(m, ARRAY[1, 2]) FROM mlp_models WHERE name = 'regression'$$) AS short_x;
SELECT pg_temp.sqlstate_of($$SELECT clv_predict(m, ARRAY[1, 2, 3, 4, 5, 'NaN']::float8[]) FROM mlp_models WHERE name = 'regression'$$) AS nan_x;
-- a truncated model
SELECT pg_temp.sqlstate_of($$SELECT clv_predict(substring(m from 1 for length(m) - 9), ARRAY[1, 2, 3, 4, 5, 6]) FROM mlp_models WHERE name = 'regression'$$) AS truncated;

--------------------------------------------------------------------------------
-- Errors a user can cause
--------------------------------------------------------------------------------
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, ARRAY[x[1], 'NaN']) FROM mlp_train$$) AS nan_feature;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, ARRAY[x[1], 'Infinity']) FROM mlp_train$$) AS infinite_feature;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(NULL::float8, x) FROM mlp_train$$) AS null_y;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, CASE WHEN i = 5 THEN x[1:2] ELSE x END) FROM mlp_train$$) AS ragged_x;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x) FROM mlp_train WHERE i = 1$$) AS one_row;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x, '{"loss": "log_loss"}') FROM mlp_train$$) AS log_loss_needs_0_1;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(high, x, '{"loss": "squared_error"}') FROM mlp_train$$) AS boolean_squared;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x, '{"nope": 1}') FROM mlp_train$$) AS unknown_option;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x, '{"hidden_layers": [0]}') FROM mlp_train$$) AS zero_units;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x, '{"hidden_layers": [2.5]}') FROM mlp_train$$) AS fractional_units;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x, '{"hidden_layers": [1,1,1,1,1,1,1,1,1]}') FROM mlp_train$$) AS nine_layers;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x, '{"hidden_layers": [1024, 1024, 1024, 1024, 1024]}') FROM mlp_train$$) AS too_many_weights;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x, '{"activation": "sigmoid"}') FROM mlp_train$$) AS bad_activation;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x, '{"learning_rate": 0}') FROM mlp_train$$) AS zero_learning_rate;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x, '{"batch_size": 0}') FROM mlp_train$$) AS zero_batch;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x, '{"early_stopping": true, "validation_fraction": 1}') FROM mlp_train$$) AS whole_validation;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x, '{"seed": 1.5}') FROM mlp_train$$) AS fractional_seed;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x, '{"features": ["a"]}') FROM mlp_train$$) AS wrong_names;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y, x, '{"early_stopping": true, "validation_fraction": 0.9}') FROM mlp_train WHERE i <= 2$$) AS no_training_rows_left;
SELECT pg_temp.sqlstate_of($$SELECT clv_mlp_fit(y * 1e300, x, '{"max_epochs": 1}') FROM mlp_train$$) AS huge_y;

-- training memory: 2000 rows of 6 features are 2000 × (8 + 24) bytes = 63 kB
SET clv.max_training_memory = '64kB';
SELECT pg_temp.sqlstate_of('SELECT clv_mlp_fit(y, x) FROM mlp_data') AS over_the_limit;
SELECT length(clv_mlp_fit(y, x, '{"hidden_layers": [4], "max_epochs": 2}')) > 0 AS fits_a_smaller_input
FROM mlp_train WHERE i <= 1000;
RESET clv.max_training_memory;

-- progress reports are NOTICEs (none for a fit this short, so nothing shows)
SELECT length(clv_mlp_fit(y, x, '{"hidden_layers": [4], "max_epochs": 3, "progress": true}')) > 0 AS fitted
FROM mlp_train;

-- cancellation: a fit that would take minutes stops within about a second
-- of statement_timeout, on two threads
CREATE TABLE mlp_long AS
SELECT ARRAY[pg_temp.u(i, 1), pg_temp.u(i, 2), pg_temp.u(i, 3), pg_temp.u(i, 4)] AS x,
       pg_temp.u(i, 5) AS y
FROM generate_series(1, 50000) i;
SET clv.training_threads = 2;
SET statement_timeout = '1s';
DO $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    PERFORM clv_mlp_fit(y, x, '{"hidden_layers": [256, 256], "max_epochs": 100000, "tol": 0, "n_iter_no_change": 100000, "progress": true}') FROM mlp_long;
    RAISE NOTICE 'not cancelled';
EXCEPTION WHEN query_canceled THEN
    RAISE NOTICE 'cancelled within 2 s of the timeout: %', clock_timestamp() - t0 < interval '3 s';
END $$;
RESET statement_timeout;
RESET clv.training_threads;
SELECT CASE WHEN pg_stat_file('/proc/self/status', true) IS NULL THEN true
            ELSE pg_read_file('/proc/self/status') ~ '\nThreads:\s+1\n' END AS no_thread_left;
