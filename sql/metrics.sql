-- Evaluation metrics: clv_mse, clv_rmse, clv_mae, clv_r2, clv_logloss,
-- clv_auc and clv_gini.  Small tables with hand-computed values, larger
-- generated tables against plain-SQL formulas (in numeric), error cases,
-- NULL handling, and a forced parallel plan against the serial result.
SET client_min_messages = warning;   -- same output alone or after other tests
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\i test/sql/analyzed_plan.sql
SET extra_float_digits = 0;

--------------------------------------------------------------------------------
-- Regression errors
--------------------------------------------------------------------------------

-- scikit-learn's documented example: MSE 0.375, MAE 0.5, R² 443/467; the
-- rows with a NULL are skipped
CREATE TABLE m_small (id int, y float8, p float8);
INSERT INTO m_small VALUES (1, 3, 2.5), (2, -0.5, 0), (3, 2, 2), (4, 7, 8),
                           (5, NULL, 1), (6, 4, NULL), (7, NULL, NULL);
SELECT clv_mse(y, p), clv_rmse(y, p), clv_mae(y, p),
       round(clv_r2(y, p)::numeric, 12) AS r2, round(443 / 467.0, 12) AS r2_by_hand,
       round(clv_rmse(y, p)::numeric, 12) = round(sqrt(0.375), 12) AS rmse_ok
FROM m_small;

-- zero rows, and rows that are all NULL: NULL, as avg() gives
SELECT clv_mse(y, p), clv_rmse(y, p), clv_mae(y, p), clv_r2(y, p) FROM m_small WHERE false;
SELECT clv_mse(y, p), clv_rmse(y, p), clv_mae(y, p), clv_r2(y, p) FROM m_small WHERE id >= 5;

-- constant y: SST = 0, so R² is NULL while the errors are defined
SELECT clv_mse(y, p), clv_mae(y, p), clv_r2(y, p)
FROM (VALUES (2.0, 1.0), (2.0, 2.0), (2.0, 4.0)) v(y, p);
SELECT clv_r2(y, p) FROM (VALUES (5.0, 4.0)) v(y, p);
-- a perfect fit, and a constant prediction at the mean (R² = 0)
SELECT clv_mse(y, y), clv_r2(y, y), clv_r2(y, 2.5) FROM generate_series(1, 4) y;

-- per group: one state per group, shared by the four metrics
SELECT id % 2 AS g, clv_mse(y, p), clv_mae(y, p), round(clv_r2(y, p)::numeric, 10) AS r2
FROM m_small GROUP BY 1 ORDER BY 1;

-- 10,000 rows of exact binary fractions (and some NULL predictions) against
-- the textbook formulas in numeric arithmetic.  y is offset by 1e9, where
-- Σy² − n·ȳ² in doubles would have no correct digit left.
CREATE TABLE m_reg AS
SELECT i,
       ((i * 7919) % 1000)::float8 / 8 + 1e9 AS y,
       CASE WHEN i % 97 = 0 THEN NULL
            ELSE ((i * 7919) % 1000)::float8 / 8 + 1e9 + (((i * 104729) % 201) - 100)::float8 / 16
       END AS p
FROM generate_series(1, 10000) i;
WITH ref AS (
    SELECT avg(((y::numeric - p::numeric) ^ 2)) AS mse,
           avg(abs(y::numeric - p::numeric)) AS mae,
           1 - sum((y::numeric - p::numeric) ^ 2)
               / sum((y::numeric - (SELECT avg(y::numeric) FROM m_reg WHERE p IS NOT NULL)) ^ 2) AS r2
    FROM m_reg WHERE p IS NOT NULL
), got AS (
    SELECT clv_mse(y, p) AS mse, clv_rmse(y, p) AS rmse, clv_mae(y, p) AS mae, clv_r2(y, p) AS r2
    FROM m_reg
)
SELECT round(got.mse::numeric, 10) AS mse, round(got.rmse::numeric, 10) AS rmse,
       round(got.mae::numeric, 10) AS mae, round(got.r2::numeric, 10) AS r2,
       abs(got.mse::numeric - ref.mse) < 1e-12 * ref.mse AS mse_ok,
       abs(got.rmse::numeric - sqrt(ref.mse)) < 1e-12 * sqrt(ref.mse) AS rmse_ok,
       abs(got.mae::numeric - ref.mae) < 1e-12 * ref.mae AS mae_ok,
       abs(got.r2::numeric - ref.r2) < 1e-13 AS r2_ok
FROM got, ref;

-- the order of the rows does not matter beyond rounding
SELECT abs(a.r2 - b.r2) < 1e-13 AS r2_order_free, abs(a.mse - b.mse) < 1e-13 AS mse_order_free
FROM (SELECT clv_r2(y, p ORDER BY i) AS r2, clv_mse(y, p ORDER BY i) AS mse FROM m_reg) a,
     (SELECT clv_r2(y, p ORDER BY i DESC) AS r2, clv_mse(y, p ORDER BY i DESC) AS mse FROM m_reg) b;

-- as a window aggregate: the final function leaves the state intact
SELECT id, clv_mse(y, p) OVER w, clv_mae(y, p) OVER w, round((clv_r2(y, p) OVER w)::numeric, 10) AS r2
FROM m_small WINDOW w AS (ORDER BY id) ORDER BY id;

-- NaN and infinities are errors; so is a sum that overflows
SELECT clv_mse(y, p) FROM (VALUES (1.0, 'NaN'::float8)) v(y, p);
SELECT clv_r2(y, p) FROM (VALUES ('Infinity'::float8, 1.0)) v(y, p);
SELECT clv_mae(y, p) FROM (VALUES (1.0, 2.0), ('-Infinity'::float8, 1.0)) v(y, p);
SELECT clv_rmse(y, p) FROM (VALUES (1e300, -1e300)) v(y, p);
-- (here the errors are 0, but the spread of y overflows)
SELECT clv_r2(y, p) FROM (VALUES (1.7e308, 1.7e308), (-1.7e308, -1.7e308)) v(y, p);

-- the support functions are callable from SQL, so they check the state
-- (n, SSE, SAE, mean of y, centred sum of squares of y; each sum as hi, lo)
SELECT clv_residuals_trans('{0,0,0,0,0,0,0,0,0}', 3, 1);
SELECT clv_residuals_combine('{1,4,0,2,0,3,0,0,0}', '{1,1,0,1,0,5,0,0,0}');
SELECT clv_mse_final('{2,8,0,4,0,4,0,2,0}'), clv_r2_final('{2,8,0,4,0,4,0,2,0}');
SELECT clv_mse_final('{1,2,3}');
SELECT clv_r2_final('{-1,0,0,0,0,0,0,0,0}');
SELECT clv_mae_final('{1.5,1,0,1,0,0,0,0,0}');
SELECT clv_rmse_final('{1,NULL,0,0,0,0,0,0,0}');
SELECT clv_r2_final('{2,1,0,1,0,0,0,-1,0}');

--------------------------------------------------------------------------------
-- Log loss
--------------------------------------------------------------------------------

-- scikit-learn's documented example: 0.21616...
SELECT round(clv_logloss(l, p)::numeric, 10) AS logloss,
       round(((-ln(0.9) - ln(0.9) - ln(0.8) - ln(0.65)) / 4)::numeric, 10) AS by_hand
FROM (VALUES (true, 0.9), (false, 0.1), (false, 0.2), (true, 0.65), (NULL, 0.5), (true, NULL)) v(l, p);

-- probabilities are clipped to [1e-15, 1 - 1e-15]: certain and right costs
-- about 1e-15, certain and wrong -ln(1e-15) (1 - 1e-15 rounds to a double a
-- little further from 1, hence the last)
SELECT round(clv_logloss(true, 1)::numeric, 6) AS true_at_1,
       round(clv_logloss(false, 0)::numeric, 6) AS false_at_0,
       round(clv_logloss(true, 0)::numeric, 6) AS true_at_0,
       round(-ln(1e-15)::numeric, 6) AS expected,
       round(clv_logloss(false, 1)::numeric, 6) AS false_at_1;

-- 2,000 rows (the table of the AUC tests below) against the formula in numeric
CREATE TABLE m_cls AS
SELECT i,
       ((i * 13) % 17) < ((i * 37) % 11) + 3 AS label,
       ((i * 37) % 11)::float8 / 10 AS score,
       (((i * 31) % 99) + 1)::float8 / 100 AS prob
FROM generate_series(1, 2000) i;
SELECT round(clv_logloss(label, prob)::numeric, 10) AS logloss,
       abs(clv_logloss(label, prob)::numeric
           - avg(CASE WHEN label THEN -ln(prob::numeric) ELSE -ln(1 - prob::numeric) END)) < 1e-12 AS logloss_ok
FROM m_cls;

-- zero rows, all NULL
SELECT clv_logloss(l, p) FROM (VALUES (NULL::boolean, 0.5::float8)) v(l, p);
SELECT clv_logloss(true, 0.5) WHERE false;

-- probabilities outside [0, 1], or NaN
SELECT clv_logloss(true, 1.5);
SELECT clv_logloss(false, -0.25);
SELECT clv_logloss(true, 'NaN');
SELECT clv_logloss(true, '-Infinity');
SELECT clv_logloss_final('{1,-1,0}');
-- every invalid aggregate state, float8[] or serialized, has one SQLSTATE:
-- 22P03 invalid_binary_representation, as a malformed model bytea
\set VERBOSITY sqlstate
SELECT clv_mse_final('{1,2,3}');
SELECT clv_logloss_final('{1,-1,0}');
\set VERBOSITY default

--------------------------------------------------------------------------------
-- ROC AUC
--------------------------------------------------------------------------------

-- positives score 0.8, 0.4, 0.4; negatives 0.8, 0.4, 0.2, 0.1.  Of the 12
-- pairs, 8 are ordered right and 1 tied at 0.8 plus 2 at 0.4 count one half:
-- 8.5 / 12
CREATE TABLE m_auc (id int, label boolean, score float8);
INSERT INTO m_auc VALUES (1, true, 0.8), (2, true, 0.4), (3, false, 0.4), (4, false, 0.2),
                         (5, true, 0.4), (6, false, 0.8), (7, false, 0.1),
                         (8, NULL, 0.5), (9, true, NULL);
SELECT round(clv_auc(label, score)::numeric, 12) AS auc, round(8.5 / 12, 12) AS by_hand FROM m_auc;
-- perfect, reversed, all tied, and infinite scores (ordered like any other)
SELECT clv_auc(label, score) AS perfect, clv_auc(label, -score) AS reversed,
       clv_auc(label, 0) AS all_tied,
       clv_auc(label, CASE WHEN label THEN 'Infinity'::float8 ELSE '-Infinity' END) AS infinite
FROM (SELECT i > 3 AS label, i::float8 AS score FROM generate_series(1, 6) i) v;
-- one class only, zero rows, all NULL
SELECT clv_auc(label, score) FROM m_auc WHERE label;
SELECT clv_auc(label, score) FROM m_auc WHERE false;
SELECT clv_auc(label, score) FROM m_auc WHERE id >= 8;
-- running AUC: the final function leaves the state intact
SELECT id, round((clv_auc(label, score) OVER (ORDER BY id))::numeric, 10) AS auc
FROM m_auc ORDER BY id;

-- 2,000 rows, 11 distinct scores: against a pairwise count and against the
-- Mann–Whitney U with averaged ranks, both in plain SQL (m_cls is above)
WITH pairwise AS (
    SELECT sum(CASE WHEN p.score > n.score THEN 1.0 WHEN p.score = n.score THEN 0.5 ELSE 0 END)
           / count(*) AS auc
    FROM m_cls p JOIN m_cls n ON p.label AND NOT n.label
), ranked AS (
    SELECT label, rank() OVER (ORDER BY score) + (count(*) OVER (PARTITION BY score) - 1) / 2.0 AS r
    FROM m_cls
), mann_whitney AS (
    SELECT (sum(r) FILTER (WHERE label) - count(*) FILTER (WHERE label) * (count(*) FILTER (WHERE label) + 1) / 2.0)
           / (count(*) FILTER (WHERE label) * count(*) FILTER (WHERE NOT label)) AS auc
    FROM ranked
)
SELECT round((SELECT clv_auc(label, score) FROM m_cls)::numeric, 12) AS auc,
       round(pairwise.auc, 12) AS pairwise, round(mann_whitney.auc, 12) AS mann_whitney
FROM pairwise, mann_whitney;
-- the result does not depend on the order of the rows
SELECT (SELECT clv_auc(label, score ORDER BY i) FROM m_cls) =
       (SELECT clv_auc(label, score ORDER BY i DESC) FROM m_cls) AS order_free;

-- NaN scores are errors
SELECT clv_auc(true, 'NaN');
SELECT clv_auc(label, CASE WHEN id = 4 THEN 'NaN' ELSE score END) FROM m_auc;

-- memory bound: 64 kB hold 4,096 pairs of doubles
SET clv.max_training_memory = 64;
SELECT clv_auc(i % 2 = 0, i) FROM generate_series(1, 4096) i;
SELECT clv_auc(i % 2 = 0, i) FROM generate_series(1, 5000) i;
RESET clv.max_training_memory;

--------------------------------------------------------------------------------
-- Normalised Gini
--------------------------------------------------------------------------------

-- Ordered by predicted: 10 | (0, 5) tied, each counted as 2.5 | 3 | 2.
-- Kaggle's Gini: cumulative sums 10, 12.5, 15, 18, 20 add to 75.5, so
-- (75.5 / 20 - 3) / 5 = 0.155; perfectly ordered, 10, 15, 18, 20, 20 add to
-- 83, so (83 / 20 - 3) / 5 = 0.23.  Normalised: 0.155 / 0.23 = 31/46.
CREATE TABLE m_gini (id int, actual float8, predicted float8);
INSERT INTO m_gini VALUES (1, 10, 0.9), (2, 0, 0.8), (3, 5, 0.8), (4, 2, 0.1), (5, 3, 0.3),
                          (6, NULL, 0.5), (7, 4, NULL);
SELECT round(clv_gini(actual, predicted)::numeric, 12) AS gini, round(31 / 46.0, 12) AS by_hand
FROM m_gini;
-- ties do not depend on input order: breaking the tie either way gives
-- 0.65 / 1.15 or 0.9 / 1.15, and the tie is their mean
SELECT round(clv_gini(actual, predicted ORDER BY id)::numeric, 12) AS forward,
       round(clv_gini(actual, predicted ORDER BY id DESC)::numeric, 12) AS backward,
       round((0.65 / 1.15 + 0.9 / 1.15) / 2, 12) AS by_hand
FROM m_gini;
-- perfect, reversed (symmetric values), uninformative, and infinite
-- predictions, ranked like any other (3 and 4 tie at Infinity: 4.5 / 5)
SELECT clv_gini(a, a) AS perfect, clv_gini(a, -a) AS reversed, clv_gini(a, 1) AS all_tied,
       clv_gini(a, CASE WHEN a > 2 THEN 'Infinity'::float8 ELSE a END) AS infinite
FROM generate_series(1, 4) a;
-- equal actual values, one row, zero rows, all NULL: NULL
SELECT clv_gini(3, predicted) FROM m_gini;
SELECT clv_gini(actual, predicted) FROM m_gini WHERE id = 1;
SELECT clv_gini(actual, predicted) FROM m_gini WHERE false;
SELECT clv_gini(actual, predicted) FROM m_gini WHERE id >= 6;
-- actual values summing to 0: Kaggle's ratio is 0/0, the ranking still has one
SELECT clv_gini(a, p) FROM (VALUES (-1.0, 1.0), (1.0, 2.0)) v(a, p);
-- running Gini
SELECT id, round((clv_gini(actual, predicted) OVER (ORDER BY id))::numeric, 10) AS gini
FROM m_gini ORDER BY id;

-- 2,000 rows with ties in both columns, against Kaggle's formula in plain SQL
-- (cumulative sums in numeric), with tied predictions given their group's mean
CREATE TABLE m_rank AS
SELECT i, ((i * 53) % 40)::float8 / 4 AS actual,
       (((i * 53) % 40) / 4 + (i * 29) % 23)::float8 AS predicted
FROM generate_series(1, 2000) i;
WITH adjusted AS (
    SELECT i, predicted, actual::numeric AS actual,
           avg(actual::numeric) OVER (PARTITION BY predicted) AS group_mean
    FROM m_rank
), model AS (
    SELECT sum(c) AS s FROM (SELECT sum(group_mean) OVER (ORDER BY predicted DESC, i ROWS UNBOUNDED PRECEDING) AS c
                             FROM adjusted) x
), perfect AS (
    SELECT sum(c) AS s FROM (SELECT sum(actual) OVER (ORDER BY actual DESC, i ROWS UNBOUNDED PRECEDING) AS c
                             FROM adjusted) x
), total AS (
    SELECT sum(actual) AS t, count(*) AS n FROM adjusted
)
SELECT round((SELECT clv_gini(actual, predicted) FROM m_rank)::numeric, 12) AS gini,
       round(((model.s / t - (n + 1) / 2.0) / n) / ((perfect.s / t - (n + 1) / 2.0) / n), 12) AS kaggle
FROM model, perfect, total;

-- NaN is an error in either column, an infinite actual too
SELECT clv_gini('NaN', 1);
SELECT clv_gini(1, 'NaN');
SELECT clv_gini('Infinity', 1);
SELECT clv_gini(a, a) FROM (VALUES (1e308), (1.5e308), (-1e308)) v(a);

--------------------------------------------------------------------------------
-- Forced parallel plans agree with the serial ones
--------------------------------------------------------------------------------

CREATE TABLE m_par AS
SELECT i, i % 3 AS g,
       ((i * 7919) % 1000)::float8 / 8 + 1e9 AS y,
       CASE WHEN i % 101 = 0 THEN NULL
            ELSE ((i * 7919) % 1000)::float8 / 8 + 1e9 + (((i::bigint * 104729) % 201) - 100)::float8 / 16 END AS p,
       ((i * 13) % 17) < ((i * 37) % 11) + 3 AS label,
       (((i * 37) % 11) * 1000 + i % 1000)::float8 / 10000 AS score,
       (((i * 31) % 99) + 1)::float8 / 100 AS prob,
       ((i * 53) % 40)::float8 / 4 AS actual,
       (((i * 53) % 40) / 4 + (i * 29) % 23)::float8 AS predicted
FROM generate_series(1, 100000) i;
ANALYZE m_par;

CREATE TEMP TABLE m_serial AS
SELECT clv_mse(y, p) AS mse, clv_rmse(y, p) AS rmse, clv_mae(y, p) AS mae, clv_r2(y, p) AS r2,
       clv_logloss(label, prob) AS logloss, clv_auc(label, score) AS auc,
       clv_gini(actual, predicted) AS gini, count(*) AS n
FROM m_par;

\i test/sql/force_parallel.sql
SET enable_hashagg = off;   -- sorted grouping gives a plain Partial GroupAggregate

SELECT * FROM pg_temp.analyzed_plan($$
SELECT clv_mse(y, p), clv_rmse(y, p), clv_mae(y, p), clv_r2(y, p),
       clv_logloss(label, prob), clv_auc(label, score), clv_gini(actual, predicted)
FROM m_par$$);
SELECT * FROM pg_temp.analyzed_plan($$
SELECT g, clv_mse(y, p), clv_logloss(label, prob), clv_auc(label, score), clv_gini(actual, predicted)
FROM m_par GROUP BY g$$);

CREATE TEMP TABLE m_parallel AS
SELECT clv_mse(y, p) AS mse, clv_rmse(y, p) AS rmse, clv_mae(y, p) AS mae, clv_r2(y, p) AS r2,
       clv_logloss(label, prob) AS logloss, clv_auc(label, score) AS auc,
       clv_gini(actual, predicted) AS gini, count(*) AS n
FROM m_par;

SELECT round(s.mse::numeric, 10) AS mse, round(s.r2::numeric, 10) AS r2,
       round(s.logloss::numeric, 10) AS logloss, round(s.auc::numeric, 10) AS auc,
       round(s.gini::numeric, 10) AS gini, p.n,
       abs(p.mse - s.mse) <= 1e-12 * s.mse AND abs(p.rmse - s.rmse) <= 1e-12 * s.rmse
           AND abs(p.mae - s.mae) <= 1e-12 * s.mae AND abs(p.r2 - s.r2) <= 1e-12 AS errors_equal,
       abs(p.logloss - s.logloss) <= 1e-12 * s.logloss AS logloss_equal,
       p.auc = s.auc AS auc_identical,
       abs(p.gini - s.gini) <= 1e-12 AS gini_equal
FROM m_parallel p, m_serial s;

-- per group, with states passed between processes for every group
CREATE TEMP TABLE m_parallel_groups AS
SELECT g, clv_mse(y, p) AS mse, clv_logloss(label, prob) AS logloss,
       clv_auc(label, score) AS auc, clv_gini(actual, predicted) AS gini
FROM m_par GROUP BY g;
RESET ALL;
SET extra_float_digits = 0;
CREATE TEMP TABLE m_serial_groups AS
SELECT g, clv_mse(y, p) AS mse, clv_logloss(label, prob) AS logloss,
       clv_auc(label, score) AS auc, clv_gini(actual, predicted) AS gini
FROM m_par GROUP BY g;
SELECT g, round(s.mse::numeric, 10) AS mse, round(s.logloss::numeric, 10) AS logloss,
       round(s.auc::numeric, 10) AS auc, round(s.gini::numeric, 10) AS gini,
       abs(p.mse - s.mse) <= 1e-12 * s.mse AND abs(p.logloss - s.logloss) <= 1e-12 * s.logloss
           AND p.auc = s.auc AND abs(p.gini - s.gini) <= 1e-12 AS parallel_equal
FROM m_serial_groups s JOIN m_parallel_groups p USING (g) ORDER BY g;

DROP TABLE m_small, m_reg, m_auc, m_cls, m_gini, m_rank, m_par;
