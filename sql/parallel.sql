-- Forced parallel plans: partial aggregates combine to the serial result.
CREATE EXTENSION IF NOT EXISTS clv;
\i test/sql/analyzed_plan.sql
SET timezone = 'UTC';

CREATE TABLE par_orders AS
SELECT (i % 5000) AS customer_id,
       timestamptz '2023-01-01' + (((i * 7919) % 400) * interval '1 day')
           + ((i % 24) * interval '1 hour') AS ordered_at,
       round((10 + (i % 97) * 1.37)::numeric, 2)::float8 AS amount
FROM generate_series(1, 200000) i;
CREATE TABLE par_rows AS
SELECT i, ARRAY[sin(i), cos(i * 0.5), (i % 13)::float8] AS x,
       2 + 3 * sin(i) - cos(i * 0.5) + 0.1 * (i % 13) + 0.5 * sin(i * 1.7) AS y
FROM generate_series(1, 200000) i;
ANALYZE par_orders;
ANALYZE par_rows;

CREATE TABLE serial_summary AS
SELECT customer_id, clv_summary_holdout(ordered_at, amount, '2023-10-01', '2024-02-01') AS s
FROM par_orders GROUP BY customer_id;
CREATE TABLE serial_models AS
SELECT clv_linreg_fit(y, x) AS lin, clv_logreg_fit(y > 2, x) AS log FROM par_rows;

\i test/sql/force_parallel.sql
SET enable_hashagg = off;   -- sorted grouping gives a plain Partial GroupAggregate

SELECT * FROM pg_temp.analyzed_plan($$
SELECT customer_id, clv_summary_holdout(ordered_at, amount, '2023-10-01', '2024-02-01')
FROM par_orders GROUP BY customer_id$$);
SELECT * FROM pg_temp.analyzed_plan($$
SELECT clv_linreg_fit(y, x), clv_logreg_fit(y > 2, x) FROM par_rows$$);

-- identical rows, customer by customer
SELECT count(*) AS customers, count(*) FILTER (WHERE p.s = s.s) AS identical
FROM (SELECT customer_id, clv_summary_holdout(ordered_at, amount, '2023-10-01', '2024-02-01') AS s
      FROM par_orders GROUP BY customer_id) p
JOIN serial_summary s USING (customer_id);

-- models: the linear state combines exactly; logistic refits the same rows
CREATE TABLE parallel_models AS
SELECT clv_linreg_fit(y, x) AS lin, clv_logreg_fit(y > 2, x) AS log FROM par_rows;
-- options that differ between rows: an error, whether one worker's transition
-- or the leader's combining of two workers' states meets the difference (terse:
-- only an error raised in a worker carries a worker's context line)
\set VERBOSITY terse
SELECT clv_linreg_fit(y, x, CASE WHEN i <= 100000 THEN '{"l2": 1}' ELSE '{"l2": 2}' END::jsonb)
FROM par_rows;
\set VERBOSITY default
RESET ALL;
SELECT (SELECT max(abs(a.v::float8 - b.v::float8))
        FROM jsonb_array_elements_text(clv_model_info(p.lin) -> 'coefficients') WITH ORDINALITY a(v, k)
        JOIN jsonb_array_elements_text(clv_model_info(s.lin) -> 'coefficients') WITH ORDINALITY b(v, k)
          USING (k)) < 1e-12 AS linreg_equal,
       (SELECT max(abs(a.v::float8 - b.v::float8))
        FROM jsonb_array_elements_text(clv_model_info(p.log) -> 'coefficients') WITH ORDINALITY a(v, k)
        JOIN jsonb_array_elements_text(clv_model_info(s.log) -> 'coefficients') WITH ORDINALITY b(v, k)
          USING (k)) < 1e-9 AS logreg_equal,
       p.lin = s.lin AS linreg_identical_bytes,
       (clv_model_info(p.lin) ->> 'n')::int AS n_lin,
       (clv_model_info(p.log) ->> 'n')::int AS n_log
FROM parallel_models p, serial_models s;
