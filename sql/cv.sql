-- Linear models from sufficient statistics: clv_linreg_stats, clv_state_merge,
-- clv_linreg_fit_stats and clv_linreg_mse, and the one-pass cross-validation
-- they make possible.  Each is checked against the direct computation: the
-- fit over the same rows by clv_linreg_fit, the error by scoring every row.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\set VERBOSITY default

CREATE FUNCTION pg_temp.error_of(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE hint text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' HINT: ' || nullif(hint, ''), '');
END $$;

-- 2,000 rows, three features with a large-mean one, noise from a fixed formula
CREATE TABLE cv_rows AS
SELECT i AS id,
       ARRAY[(i % 17) / 4.0, 1e6 + (i * 7919) % 101, sin(i)]::float8[] AS x,
       3 + 0.8 * ((i % 17) / 4.0) - 0.02 * ((i * 7919) % 101) + 2 * sin(i)
         + 0.5 * cos(i * 1.7) AS y
FROM generate_series(1, 2000) i;
CREATE TABLE cv_folds AS
SELECT clv_fold(id, 5) AS fold, clv_linreg_stats(y, x, '{"features": ["a", "b", "c"]}') AS stats
FROM cv_rows GROUP BY 1;

-- the statistics of all rows give the model clv_linreg_fit gives: same bytes
SELECT md5(clv_linreg_fit_stats((SELECT clv_state_merge(stats) FROM cv_folds)))
     = md5(clv_linreg_fit(y, x, '{"features": ["a", "b", "c"]}')) AS same_model
FROM cv_rows;
-- so do the statistics of four folds and the fit over their rows, with the
-- options given replacing the statistics' key by key (l2 set, names kept)
SELECT f.fold,
       md5(clv_linreg_fit_stats((SELECT clv_state_merge(o.stats) FROM cv_folds o WHERE o.fold <> f.fold),
                                '{"l2": 2.5}'))
     = (SELECT md5(clv_linreg_fit(y, x, '{"features": ["a", "b", "c"], "l2": 2.5}'))
        FROM cv_rows WHERE clv_fold(id, 5) <> f.fold) AS same_model
FROM cv_folds f ORDER BY 1;
SELECT clv_model_info(clv_linreg_fit_stats(stats, '{"l2": 2.5}')) -> 'terms' AS terms,
       clv_model_info(clv_linreg_fit_stats(stats, '{"l2": 2.5}')) -> 'options' AS options
FROM cv_folds WHERE fold = 1;

-- the error on a fold's statistics is the mean squared error of its rows,
-- with the model fitted elsewhere (the intercept is no longer optimal there)
WITH m AS (
    SELECT f.fold, f.stats,
           clv_linreg_fit_stats((SELECT clv_state_merge(o.stats) FROM cv_folds o WHERE o.fold <> f.fold),
                                '{"l2": 10}') AS model
    FROM cv_folds f)
SELECT m.fold, abs(clv_linreg_mse(m.model, m.stats) / d.mse - 1) < 1e-11 AS mse_matches
FROM m CROSS JOIN LATERAL (
    SELECT avg((clv_predict(m.model, x) - y) ^ 2) AS mse
    FROM cv_rows WHERE clv_fold(id, 5) = m.fold) d
ORDER BY 1;

-- The recipe: 5-fold cross-validation of ridge's l2 over a grid, reading the
-- rows once (cv_rows here, a CTE that groups them by fold in a real query)
WITH folds AS (
    SELECT clv_fold(id, 5) AS fold, clv_linreg_stats(y, x) AS stats
    FROM cv_rows GROUP BY 1),
grid(l2) AS (VALUES (0), (1), (100), (1e4), (1e6)),
scores AS (
    SELECT g.l2, f.fold,
           clv_linreg_mse(clv_linreg_fit_stats(
               (SELECT clv_state_merge(o.stats) FROM folds o WHERE o.fold <> f.fold),
               jsonb_build_object('l2', g.l2)), f.stats) AS mse
    FROM folds f CROSS JOIN grid g)
SELECT l2, round(avg(mse)::numeric, 6) AS mean_mse,
       round((stddev_samp(mse) / sqrt(count(*)))::numeric, 6) AS se,
       avg(mse) = min(avg(mse)) OVER () AS best
FROM scores GROUP BY l2 ORDER BY l2;

-- as parallel workers compute them: statistics that give the same model, bit
-- for bit (the sums' double-double parts may split differently)
CREATE TABLE cv_big AS SELECT r.* FROM cv_rows r, generate_series(1, 50);
ANALYZE cv_big;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT clv_linreg_stats(y, x) FROM cv_big;
CREATE TABLE cv_parallel AS SELECT clv_linreg_stats(y, x) AS s FROM cv_big;
RESET max_parallel_workers_per_gather;
SELECT md5(clv_linreg_fit_stats((SELECT s FROM cv_parallel))) = md5(clv_linreg_fit(y, x)) AS same_model,
       clv_linreg_mse(clv_linreg_fit(y, x), (SELECT s FROM cv_parallel))
     = clv_linreg_mse(clv_linreg_fit(y, x), clv_linreg_stats(y, x)) AS same_mse
FROM cv_big;
RESET parallel_setup_cost; RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size; RESET parallel_leader_participation;

-- as a window function: the statistics of a moving frame, the first with the
-- frame unchanged (the final function runs again on the same state)
SELECT id, fits, same FROM (
    SELECT id, clv_linreg_mse(clv_linreg_fit(y, x) OVER w, clv_linreg_stats(y, x) OVER w) < 0.2 AS fits,
           clv_linreg_stats(y, x) OVER u::text = clv_linreg_stats(y, x) OVER u::text AS same
    FROM cv_rows
    WINDOW w AS (ORDER BY id ROWS BETWEEN 100 PRECEDING AND 100 FOLLOWING),
           u AS (ORDER BY id / 500)) s
WHERE id % 400 = 0 ORDER BY id;

-- zero rows: no statistics, no model, no error
SELECT clv_linreg_stats(y, x) IS NULL AS no_stats, clv_state_merge(NULL::clv_state) IS NULL AS no_merge
FROM cv_rows WHERE false;
SELECT clv_linreg_fit_stats(NULL) IS NULL AS null_stats, clv_linreg_mse(NULL, NULL) IS NULL AS null_mse;

-- errors
SELECT pg_temp.error_of($$SELECT clv_linreg_fit_stats(stats, '{"l3": 1}') FROM cv_folds WHERE fold = 1$$);
SELECT pg_temp.error_of($$SELECT clv_linreg_fit_stats(stats, '{"l2": -1}') FROM cv_folds WHERE fold = 1$$);
SELECT pg_temp.error_of($$SELECT clv_linreg_fit_stats(stats, '[1]') FROM cv_folds WHERE fold = 1$$);
SELECT pg_temp.error_of($$SELECT clv_linreg_fit_stats(clv_linreg_stats(y, x)) FROM cv_rows WHERE id < 3$$);
SELECT pg_temp.error_of($$SELECT clv_state_merge(s) FROM (SELECT clv_linreg_stats(y, x) s FROM cv_rows
                          UNION ALL SELECT clv_linreg_stats(y, x, '{"l2": 1}') FROM cv_rows) u$$);
SELECT pg_temp.error_of($$SELECT clv_state_merge(s) FROM (SELECT clv_linreg_stats(y, x) s FROM cv_rows
                          UNION ALL SELECT clv_linreg_stats(y, x[1:2]) FROM cv_rows) u$$);
SELECT pg_temp.error_of($$SELECT clv_linreg_mse(clv_linreg_fit(y, x[1:2]), (SELECT stats FROM cv_folds WHERE fold = 1))
                          FROM cv_rows$$);
SELECT pg_temp.error_of($$SELECT clv_linreg_mse(clv_logreg_fit(y > 3, x), (SELECT stats FROM cv_folds WHERE fold = 1))
                          FROM cv_rows$$);
-- a state of another aggregate
CREATE AGGREGATE cv_summary_state(timestamptz, float8, timestamptz) (
    SFUNC = clv_summary_trans, STYPE = clv_state, FINALFUNC = clv_state_value);
SELECT pg_temp.error_of($$SELECT clv_linreg_fit_stats(cv_summary_state(t, 1, t))
                          FROM (VALUES (timestamptz '2020-01-01')) v(t)$$);
SELECT pg_temp.error_of($$SELECT clv_linreg_mse(clv_linreg_fit(y, x), (SELECT cv_summary_state(timestamptz '2020-01-01', 1, timestamptz '2020-01-01')))
                          FROM cv_rows$$);
SELECT pg_temp.error_of($$SELECT clv_state_merge(s) FROM (SELECT clv_linreg_stats(y, x) s FROM cv_rows
                          UNION ALL SELECT cv_summary_state(timestamptz '2020-01-01', 1, timestamptz '2020-01-01')) u$$);
DROP AGGREGATE cv_summary_state(timestamptz, float8, timestamptz);

DROP TABLE cv_rows, cv_folds, cv_big, cv_parallel;
