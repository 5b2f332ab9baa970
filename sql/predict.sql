-- clv_predict: the formula of each kind written out in SQL, argument errors,
-- STRICT, the per-query model cache with several models in one query, and
-- models stored in tables in line, compressed and out of line (TOAST).
SET client_min_messages = warning;   -- quiet whichever test creates the extension first
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;

CREATE FUNCTION pg_temp.f8s(j jsonb) RETURNS float8[]
LANGUAGE sql IMMUTABLE AS
$$ SELECT array_agg(v::float8 ORDER BY k) FROM jsonb_array_elements_text(j) WITH ORDINALITY e(v, k) $$;
-- b0 + Σ bj xj with the coefficients clv_model_info reports
CREATE FUNCTION pg_temp.eta(m bytea, x float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE AS
$$ SELECT c[1] + (SELECT sum(b * v) FROM unnest(c[2:], x) u(b, v))
   FROM pg_temp.f8s(clv_model_info(m) -> 'coefficients') c $$;
-- rows in a table's TOAST relation: > 0 when values are stored out of line
CREATE FUNCTION pg_temp.toast_rows(rel regclass) RETURNS bigint
LANGUAGE plpgsql AS
$$ DECLARE n bigint;
   BEGIN EXECUTE format('SELECT count(*) FROM %s', (SELECT reltoastrelid::regclass FROM pg_class WHERE oid = rel)) INTO n;
         RETURN n; END $$;

CREATE TABLE predict_data AS
SELECT i, i % 6 AS segment,
       ARRAY[sin(i), cos(2 * i), (i % 7) / 7.0]::float8[] AS x,
       1 + sin(i) - 0.5 * cos(2 * i) + 0.2 * (i % 7) / 7.0 + 0.3 * sin(3.7 * i * i) AS y,
       sin(i) - 0.5 * cos(2 * i) + 1.2 * sin(3.7 * i * i) > 0 AS c
FROM generate_series(1, 600) i;

CREATE TABLE predict_models AS
SELECT 'linreg' AS kind, clv_linreg_fit(y, x) AS m FROM predict_data
UNION ALL
SELECT 'logreg', clv_logreg_fit(c, x) FROM predict_data;

--------------------------------------------------------------------------------
-- The formulas: linear b0 + Σ bj xj, logistic 1 / (1 + exp(-η))
--------------------------------------------------------------------------------
SELECT kind, count(*) AS rows,
       max(abs(p - CASE kind WHEN 'linreg' THEN eta ELSE 1 / (1 + exp(-eta)) END)
           / greatest(abs(p), 1)) < 1e-12 AS matches_formula,
       round(avg(p)::numeric, 8) AS mean_prediction
FROM (SELECT kind, clv_predict(m, x) AS p, pg_temp.eta(m, x) AS eta
      FROM predict_models, predict_data) s
GROUP BY kind ORDER BY kind;
-- away from the data too (the logistic form that cannot overflow)
SELECT kind, v, round(p::numeric, 8) AS prediction,
       abs(p - CASE WHEN kind = 'linreg' THEN eta
                    WHEN eta >= 0 THEN 1 / (1 + exp(-eta)) ELSE exp(eta) / (1 + exp(eta)) END)
         <= 1e-12 * greatest(abs(p), 1) AS matches_formula
FROM predict_models, (VALUES (-100::float8), (-1), (0), (1), (100)) t(v),
     LATERAL (SELECT clv_predict(m, ARRAY[v, -v, v]) AS p, pg_temp.eta(m, ARRAY[v, -v, v]) AS eta) s
ORDER BY kind, v;
SELECT clv_predict(m, '{1e6, 1e6, 1e6}') AS p_high, clv_predict(m, '{-1e6, -1e6, -1e6}') AS p_low
FROM predict_models WHERE kind = 'logreg';

--------------------------------------------------------------------------------
-- Arguments: STRICT, wrong length, non-finite and malformed x
--------------------------------------------------------------------------------
SELECT clv_predict(NULL, '{1, 2, 3}') IS NULL AS null_model,
       clv_predict(m, NULL) IS NULL AS null_x
FROM predict_models WHERE kind = 'linreg';
SELECT clv_predict(m, '{1, 2}') FROM predict_models WHERE kind = 'linreg';
SELECT clv_predict(m, '{1, 2, 3, 4}') FROM predict_models WHERE kind = 'logreg';
SELECT clv_predict(m, '{1, NaN, 3}') FROM predict_models WHERE kind = 'linreg';
SELECT clv_predict(m, '{1, 2, Infinity}') FROM predict_models WHERE kind = 'logreg';
SELECT clv_predict(m, '{-Infinity, 2, 3}') FROM predict_models WHERE kind = 'linreg';
SELECT clv_predict(m, '{1, NULL, 3}') FROM predict_models WHERE kind = 'linreg';
SELECT clv_predict(m, '{}') FROM predict_models WHERE kind = 'linreg';
SELECT clv_predict(m, '{{1, 2, 3}}') FROM predict_models WHERE kind = 'linreg';
-- an error on one row does not poison the cache for the next statement
SELECT count(*) AS scored FROM predict_models, predict_data
WHERE kind = 'linreg' AND clv_predict(m, x) IS NOT NULL;

--------------------------------------------------------------------------------
-- The cache: six models (more than the cache holds) scored in one query,
-- row by row alternating, equal each row's score by a query per model.
--------------------------------------------------------------------------------
CREATE TABLE predict_segment_models AS
SELECT segment, clv_linreg_fit(y, x) AS lin, clv_logreg_fit(c, x) AS log
FROM predict_data GROUP BY segment;
SELECT count(DISTINCT lin) AS distinct_linreg, count(DISTINCT log) AS distinct_logreg
FROM predict_segment_models;

CREATE TABLE predict_joint AS
SELECT d.i, clv_predict(m.lin, d.x) AS lin, clv_predict(m.log, d.x) AS log
FROM predict_data d JOIN predict_segment_models m USING (segment);

CREATE TABLE predict_separate (i int, lin float8, log float8);
DO $$
DECLARE s int;
BEGIN
    FOR s IN 0..5 LOOP
        EXECUTE 'INSERT INTO predict_separate
                 SELECT d.i, clv_predict(m.lin, d.x), clv_predict(m.log, d.x)
                 FROM predict_data d, predict_segment_models m
                 WHERE d.segment = $1 AND m.segment = $1' USING s;
    END LOOP;
END $$;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE j.lin = s.lin AND j.log = s.log) AS identical,
       count(*) FILTER (WHERE abs(j.lin - pg_temp.eta(m.lin, d.x)) <= 1e-12 * greatest(abs(j.lin), 1)) AS linreg_formula,
       count(*) FILTER (WHERE abs(j.log - 1 / (1 + exp(-pg_temp.eta(m.log, d.x)))) <= 1e-12) AS logreg_formula
FROM predict_joint j JOIN predict_separate s USING (i)
JOIN predict_data d USING (i) JOIN predict_segment_models m USING (segment);

-- two call sites in one expression, each with its own cache and model
SELECT count(*) AS rows,
       count(*) FILTER (WHERE abs((clv_predict(a.lin, d.x) - clv_predict(b.lin, d.x))
                                  - (pg_temp.eta(a.lin, d.x) - pg_temp.eta(b.lin, d.x))) <= 1e-12) AS difference_equal
FROM predict_data d, predict_segment_models a, predict_segment_models b
WHERE a.segment = 0 AND b.segment = 1;

--------------------------------------------------------------------------------
-- Models stored in tables: in line, compressed in line, out of line
--------------------------------------------------------------------------------
-- Long, repetitive feature names make a model of about 20 kB that compresses well.
CREATE TABLE predict_wide AS
SELECT i, ARRAY(SELECT sin(i * j * 0.37 + j) FROM generate_series(1, 20) j) AS x
FROM generate_series(1, 300) i;
ALTER TABLE predict_wide ADD COLUMN y float8;
UPDATE predict_wide SET y = (SELECT sum(v * k) FROM unnest(x) WITH ORDINALITY u(v, k)) + sin(i * i);
CREATE TABLE predict_wide_model AS
SELECT clv_linreg_fit(y, x, jsonb_build_object('features',
           (SELECT jsonb_agg(repeat('customer_feature_', 20) || j) FROM generate_series(1, 20) j))) AS m
FROM predict_wide;
SELECT octet_length(m) > 15000 AS large FROM predict_wide_model;

-- STORAGE MAIN: compressed, kept in line
CREATE TABLE predict_store_main (id int, m bytea);
ALTER TABLE predict_store_main ALTER COLUMN m SET STORAGE MAIN;
INSERT INTO predict_store_main SELECT 1, m FROM predict_wide_model;
-- STORAGE EXTERNAL: out of line, uncompressed (a fresh copy: the value in
-- predict_wide_model is compressed already, and would stay so)
CREATE TABLE predict_store_ext (id int, m bytea);
ALTER TABLE predict_store_ext ALTER COLUMN m SET STORAGE EXTERNAL;
INSERT INTO predict_store_ext SELECT 1, m || ''::bytea FROM predict_wide_model;
-- STORAGE EXTERNAL with a low toast_tuple_target: the small models of the
-- six segments, each out of line.  Only rows over 2 kB are toasted at all,
-- hence the padding (kept in line).
CREATE TABLE predict_store_small (segment int, lin bytea, log bytea, pad text)
    WITH (toast_tuple_target = 128);
ALTER TABLE predict_store_small ALTER COLUMN lin SET STORAGE EXTERNAL;
ALTER TABLE predict_store_small ALTER COLUMN log SET STORAGE EXTERNAL;
ALTER TABLE predict_store_small ALTER COLUMN pad SET STORAGE PLAIN;
INSERT INTO predict_store_small SELECT segment, lin, log, repeat('x', 2000) FROM predict_segment_models;

SELECT 'extended' AS storage, pg_column_compression(m) AS compression,
       pg_column_size(m) < octet_length(m) AS smaller_on_disk,
       pg_temp.toast_rows('predict_wide_model') > 0 AS out_of_line
FROM predict_wide_model
UNION ALL
SELECT 'main', pg_column_compression(m),
       pg_column_size(m) < octet_length(m) AS smaller_on_disk,
       pg_temp.toast_rows('predict_store_main') > 0 AS out_of_line
FROM predict_store_main
UNION ALL
SELECT 'external', pg_column_compression(m), pg_column_size(m) < octet_length(m),
       pg_temp.toast_rows('predict_store_ext') > 0
FROM predict_store_ext
UNION ALL
SELECT 'small external', max(pg_column_compression(lin)), bool_or(pg_column_size(lin) < octet_length(lin)),
       pg_temp.toast_rows('predict_store_small') >= 12
FROM predict_store_small;

-- each stored form scores every row alike, and as the formula says
SELECT count(*) AS rows,
       count(*) FILTER (WHERE clv_predict(a.m, w.x) = clv_predict(w0.m, w.x)) AS main_equal,
       count(*) FILTER (WHERE clv_predict(b.m, w.x) = clv_predict(w0.m, w.x)) AS external_equal,
       count(*) FILTER (WHERE abs(clv_predict(w0.m, w.x) - pg_temp.eta(b.m, w.x))
                              <= 1e-12 * greatest(abs(clv_predict(w0.m, w.x)), 1)) AS formula_equal
FROM predict_wide w, predict_store_main a, predict_store_ext b, predict_wide_model w0;
SELECT clv_model_info(a.m) = clv_model_info(w0.m) AS main_info_equal,
       clv_model_info(b.m) = clv_model_info(w0.m) AS external_info_equal,
       jsonb_array_length(clv_model_info(b.m) -> 'features') AS features,
       left(clv_model_info(b.m) -> 'features' ->> 19, 20) AS last_feature_prefix
FROM predict_store_main a, predict_store_ext b, predict_wide_model w0;
-- six out-of-line models alternating row by row in one query
SELECT count(*) AS rows,
       count(*) FILTER (WHERE clv_predict(t.lin, d.x) = s.lin AND clv_predict(t.log, d.x) = s.log) AS identical
FROM predict_data d JOIN predict_store_small t USING (segment) JOIN predict_separate s USING (i);
-- the same, reading models from both tables in one query
SELECT count(*) FILTER (WHERE clv_predict(CASE WHEN d.i % 2 = 0 THEN t.lin ELSE m.lin END, d.x) = s.lin) AS identical
FROM predict_data d JOIN predict_store_small t USING (segment)
JOIN predict_segment_models m USING (segment) JOIN predict_separate s USING (i);

-- One SQLSTATE per condition: x of another length than the earlier rows', or
-- than the model's features, is 2202E whichever function reads it
CREATE FUNCTION pg_temp.error_of(q text) RETURNS text
LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
CREATE TABLE predict_ragged AS
SELECT i, i::float8 AS y, i > 2 AS label,
       CASE WHEN i = 4 THEN ARRAY[i, 1.0] ELSE ARRAY[i, 1.0, i * i] END::float8[] AS x
FROM generate_series(1, 6) i;
SELECT f, pg_temp.error_of(format('SELECT %s FROM predict_ragged', f)) AS error
FROM (VALUES ('clv_linreg_fit(y, x)'), ('clv_logreg_fit(label, x)'), ('clv_forest_fit(y, x)'),
             ('clv_gbm_fit(label, x)'),
             ('clv_predict((SELECT clv_linreg_fit(i, ARRAY[i, i * i]) FROM generate_series(1, 5) i), x)'))
     v(f);
DROP TABLE predict_ragged;
