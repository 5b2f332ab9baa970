-- The Qini coefficient of an uplift score: clv_qini(score, treated, outcome).
-- Hand-computed small examples, ties, NULLs, errors, the memory bound,
-- and a forced parallel plan against the serial result.
SET client_min_messages = warning;   -- same output alone or after other tests
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\i test/sql/analyzed_plan.sql
SET extra_float_digits = 0;

-- Four customers, ranked by score 4, 3, 2, 1.  After each row (treated and
-- control counts nt, nc; outcome sums yt, yc) Q = yt - yc * nt / nc:
--   (4, treated, 1): Q = 1 (no control row yet: Q = yt)
--   (3, control, 0): Q = 1 - 0 * 1/1 = 1
--   (2, treated, 0): Q = 1 - 0 * 2/1 = 1
--   (1, control, 1): Q = 1 - 1 * 2/2 = 0
-- Trapezoids from (0, 0): 0.5 + 1 + 1 + 0.5 = 3; the random line ends at
-- Q(4) = 0, so it adds no area.  This is also the perfect order (treated
-- responders first, control responders last), so the coefficient is 1.
CREATE TABLE q_small (id int, score float8, treated boolean, outcome float8);
INSERT INTO q_small VALUES (1, 4, true, 1), (2, 3, false, 0), (3, 2, true, 0), (4, 1, false, 1);
SELECT clv_qini(score, treated, outcome) AS perfect FROM q_small;
-- inverted: ranked 1, 2, 3, 4, Q = 0, -1, -0.5, 0, area 0 - 0.5 - 0.75 - 0.25
-- = -1.5, over the perfect 3: -0.5
SELECT clv_qini(-score, treated, outcome) AS inverted FROM q_small;
-- one group of tied scores: the curve is the random line itself
SELECT clv_qini(0, treated, outcome) AS all_tied FROM q_small;
-- ties are grouped: scores 1, 1, 0, 0 give points (2, 1) and (4, 0), area
-- 1 + 1 = 2, whatever the order of the rows within a group
SELECT clv_qini(CASE WHEN id <= 2 THEN 1 ELSE 0 END, treated, outcome ORDER BY id) AS tied,
       clv_qini(CASE WHEN id <= 2 THEN 1 ELSE 0 END, treated, outcome ORDER BY id DESC) AS tied_reversed,
       round(2 / 3.0, 15) AS by_hand
FROM q_small;

-- NULL in any argument skips the row, as in the other metrics
SELECT clv_qini(score, treated, outcome) AS with_nulls
FROM (SELECT * FROM q_small
      UNION ALL VALUES (5, NULL, true, 5), (6, 9, NULL, 5), (7, 9, true, NULL)) t;
-- no rows, no control rows, no treated rows: NULL
SELECT clv_qini(score, treated, outcome) FROM q_small WHERE false;
SELECT clv_qini(score, treated, outcome) FROM q_small WHERE treated;
SELECT clv_qini(score, treated, outcome) FROM q_small WHERE NOT treated;
-- every outcome 0: even the perfect ranking is no better than chance
SELECT clv_qini(score, treated, 0) FROM q_small;

-- NaN or infinite score or outcome: errors
SELECT clv_qini('NaN', true, 1);
SELECT clv_qini(1, true, 'Infinity');
SELECT clv_qini(score, treated, CASE WHEN id = 3 THEN '-Infinity' ELSE outcome END) FROM q_small;

-- memory bound: 64 kB hold 2,730 rows of 24 bytes
SET clv.max_training_memory = 64;
SELECT clv_qini(i, i % 2 = 0, i % 3) IS NOT NULL AS fits FROM generate_series(1, 2730) i;
SELECT clv_qini(i, i % 2 = 0, i % 3) FROM generate_series(1, 3000) i;
RESET clv.max_training_memory;

-- as a window function: the final function leaves the state as it was
SELECT id, clv_qini(score, treated, outcome) OVER (ORDER BY id) AS running
FROM q_small ORDER BY id;

--------------------------------------------------------------------------------
-- Forced parallel plan against the serial one
--------------------------------------------------------------------------------

-- treated customers respond more the higher their score: a useful ranking
CREATE TABLE q_par AS
SELECT i, g, score, treated,
       base + CASE WHEN treated THEN coalesce(score, 0) / 4 ELSE 0 END AS outcome
FROM (SELECT i, i % 7 AS g,
             CASE WHEN i % 97 = 0 THEN NULL ELSE ((i * 7919) % 1000)::float8 / 100 END AS score,
             (i * 31) % 5 < 2 AS treated,
             (((i::bigint * 104729) % 1000) / 250 + (i * 13) % 3)::float8 AS base
      FROM generate_series(1, 100000) i) t;
ANALYZE q_par;
CREATE TEMP TABLE q_serial AS SELECT clv_qini(score, treated, outcome) AS qini FROM q_par;
CREATE TEMP TABLE q_serial_groups AS
SELECT g, clv_qini(score, treated, outcome) AS qini FROM q_par GROUP BY g;

\i test/sql/force_parallel.sql
SET enable_hashagg = off;

SELECT * FROM pg_temp.analyzed_plan($$SELECT clv_qini(score, treated, outcome) FROM q_par$$);
CREATE TEMP TABLE q_parallel AS SELECT clv_qini(score, treated, outcome) AS qini FROM q_par;
CREATE TEMP TABLE q_parallel_groups AS
SELECT g, clv_qini(score, treated, outcome) AS qini FROM q_par GROUP BY g;
RESET ALL;
SET extra_float_digits = 0;

SELECT round(s.qini::numeric, 10) AS qini, abs(p.qini - s.qini) <= 1e-12 * abs(s.qini) AS parallel_equal
FROM q_serial s, q_parallel p;
SELECT g, round(s.qini::numeric, 10) AS qini, abs(p.qini - s.qini) <= 1e-12 * abs(s.qini) AS parallel_equal
FROM q_serial_groups s JOIN q_parallel_groups p USING (g) ORDER BY g;

DROP TABLE q_small, q_par;
