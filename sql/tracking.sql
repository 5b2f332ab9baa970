-- clv_cumulative_expected_purchases: the data of a tracking plot, checked
-- against the same sum written out in SQL with clv_expected_purchases, under
-- parallel plans, and for every error a user can cause.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\i test/sql/analyzed_plan.sql

-- the SQLSTATE and message of a statement's error
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

-- CDNOW: every customer's first purchase is in weeks 0 to 12 of the 39-week
-- calibration period, so a customer aged t_cal was acquired at week 39 − t_cal
\set cbs trk_cbs
\i test/data/cdnow_cbs.sql
CREATE TABLE trk_models AS
SELECT clv_bgnbd_fit(x, t_x, t_cal) AS bg, clv_mbgnbd_fit(x, t_x, t_cal) AS mbg,
       clv_paretonbd_fit(x, t_x, t_cal) AS pn, clv_gammagamma_fit(x, m_x) AS gg
FROM trk_cbs;
CREATE TABLE trk_customers AS SELECT cust, 39 - t_cal AS acquired FROM trk_cbs;
CREATE TABLE trk_curves AS
SELECT name, m, (SELECT clv_cumulative_expected_purchases(m, acquired, 78) FROM trk_customers) AS curve
FROM trk_models, LATERAL (VALUES ('bgnbd', bg), ('mbgnbd', mbg), ('paretonbd', pn)) v(name, m);

-- each week's value is the sum over the customers of a new customer's
-- expectation at the age they have reached, zero before they are acquired
SELECT name, array_length(curve, 1) AS periods,
       max(abs(curve[w] / manual - 1)) < 1e-12 AS equals_sum_in_sql,
       bool_and(w = 1 OR curve[w] > curve[w - 1]) AS increasing
FROM trk_curves, generate_series(1, 78) w,
     LATERAL (SELECT sum(clv_expected_purchases(m, greatest(w - acquired, 0), 0, 0, 0)) AS manual
              FROM trk_customers) s
GROUP BY name, curve ORDER BY name;
-- by the end of week 39 the BG/NBD curve is close to the 2,457 repeat
-- purchases the customers made in the calibration period
SELECT round(curve[39]) AS week_39, round(curve[78]) AS week_78
FROM trk_curves WHERE name = 'bgnbd';

-- periods of half a week: every second value is the weekly curve
SELECT max(abs(h.curve[2 * w] / c.curve[w] - 1)) < 1e-12 AS half_weeks_agree
FROM trk_curves c, generate_series(1, 78) w,
     LATERAL (SELECT clv_cumulative_expected_purchases(c.m, acquired, 156, 0.5) AS curve
              FROM trk_customers) h
WHERE c.name = 'bgnbd';

-- customers acquired after the last period add nothing; a row with a NULL is
-- skipped; no rows give NULL
SELECT (SELECT clv_cumulative_expected_purchases(bg, a, 3)
        FROM (VALUES (0.0), (1.5), (10.0), (NULL)) v(a)) =
       (SELECT clv_cumulative_expected_purchases(bg, a, 3) FROM (VALUES (0.0), (1.5)) v(a))
       AS later_and_null_add_nothing,
       (SELECT clv_cumulative_expected_purchases(bg, a, 3) FROM (VALUES (1.5)) v(a))
       = ARRAY[0, clv_expected_purchases(bg, 0.5, 0, 0, 0), clv_expected_purchases(bg, 1.5, 0, 0, 0)]
       AS one_customer,
       (SELECT clv_cumulative_expected_purchases(bg, a, 3) FROM (VALUES (1.5)) v(a) WHERE false)
       IS NULL AS no_rows_null
FROM trk_models;

--------------------------------------------------------------------------------
-- Parallel plans: 50 copies of every customer give the same array, bit for bit.
--------------------------------------------------------------------------------
CREATE TABLE trk_many AS SELECT c.* FROM trk_customers c CROSS JOIN generate_series(1, 50);
ANALYZE trk_many;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE trk_serial AS
SELECT clv_cumulative_expected_purchases((SELECT bg FROM trk_models), acquired, 78) AS curve
FROM trk_many;
\i test/sql/force_parallel.sql
SELECT * FROM pg_temp.analyzed_plan($$
SELECT clv_cumulative_expected_purchases((SELECT bg FROM trk_models), acquired, 78)
FROM trk_many$$);
SELECT p.curve = s.curve AS identical_in_parallel,
       abs(p.curve[78] / (50 * b.curve[78]) - 1) < 1e-12 AS fifty_times_the_cohort
FROM (SELECT clv_cumulative_expected_purchases((SELECT bg FROM trk_models), acquired, 78) AS curve
      FROM trk_many) p, trk_serial s, trk_curves b
WHERE b.name = 'bgnbd';
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
DROP TABLE trk_many, trk_serial;

--------------------------------------------------------------------------------
-- Errors
--------------------------------------------------------------------------------
SELECT pg_temp.sqlstate_of(q) AS error FROM (VALUES
  ('SELECT clv_cumulative_expected_purchases(gg, 1, 3) FROM trk_models'),
  ('SELECT clv_cumulative_expected_purchases(m, 1, 3) FROM trk_models, LATERAL (VALUES (bg), (mbg)) v(m)'),
  ('SELECT clv_cumulative_expected_purchases(bg, 1, p) FROM trk_models, (VALUES (3), (4)) v(p)'),
  ('SELECT clv_cumulative_expected_purchases(bg, 1, 3, p) FROM trk_models, (VALUES (1.0), (0.5)) v(p)'),
  ('SELECT clv_cumulative_expected_purchases(bg, 1, 0) FROM trk_models'),
  ('SELECT clv_cumulative_expected_purchases(bg, 1, 100001) FROM trk_models'),
  ('SELECT clv_cumulative_expected_purchases(bg, 1, 3, 0) FROM trk_models'),
  ('SELECT clv_cumulative_expected_purchases(bg, 1, 3, ''NaN'') FROM trk_models'),
  ('SELECT clv_cumulative_expected_purchases(bg, -1, 3) FROM trk_models'),
  ('SELECT clv_cumulative_expected_purchases(bg, ''Infinity'', 3) FROM trk_models'),
  ('SELECT clv_cumulative_expected_purchases(substr(bg, 1, 40), 1, 3) FROM trk_models'),
  ('SELECT clv_cumulative_expected_purchases(''\x00''::bytea, 1, 3)')
) t(q);

-- the distinct acquisition times are held within clv.max_training_memory
SET clv.max_training_memory = '64kB';
SELECT pg_temp.sqlstate_of('SELECT clv_cumulative_expected_purchases(bg, i / 100.0, 3)
                            FROM trk_models, generate_series(1, 10000) i') AS error;
RESET clv.max_training_memory;

DROP TABLE trk_cbs, trk_models, trk_customers, trk_curves;
