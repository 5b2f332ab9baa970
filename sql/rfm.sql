-- RFM scores and segments: the default map covers all 125 score combinations,
-- quantile scores from thresholds computed once (serial and forced-parallel
-- plans agree), the CDNOW customers segmented, a user's map, and every error.
CREATE EXTENSION IF NOT EXISTS clv;
\i test/sql/analyzed_plan.sql

-- ---- the default map ---------------------------------------------------------

-- every combination has exactly one segment; counts per segment
SELECT clv_rfm_segment(r, f, m) AS segment, count(*)
FROM generate_series(1, 5) r, generate_series(1, 5) f, generate_series(1, 5) m
GROUP BY 1 ORDER BY 2 DESC, 1;
SELECT count(*) AS combinations, count(clv_rfm_segment(r, f, m)) AS mapped,
       count(DISTINCT clv_rfm_segment(r, f, m)) AS segments
FROM generate_series(1, 5) r, generate_series(1, 5) f, generate_series(1, 5) m;

-- the grid over R and FM (F = M = FM), and FM as the mean of F and M rounded half up
SELECT r, string_agg(clv_rfm_segment(r, fm, fm), ' | ' ORDER BY fm) AS "FM = 1 .. 5"
FROM generate_series(1, 5) r, generate_series(1, 5) fm
GROUP BY r ORDER BY r DESC;
SELECT count(*) AS cells_matching_fm
FROM generate_series(1, 5) r, generate_series(1, 5) f, generate_series(1, 5) m
WHERE clv_rfm_segment(r, f, m) = clv_rfm_segment(r, (f + m + 1) / 2, (f + m + 1) / 2);

-- a few known customers
SELECT r, f, m, clv_rfm_segment(r, f, m)
FROM (VALUES (5, 5, 5), (5, 4, 5), (4, 5, 4), (5, 1, 1), (4, 1, 2), (5, 2, 3),
             (3, 3, 3), (3, 2, 1), (2, 4, 3), (1, 5, 5), (2, 5, 4), (2, 1, 2),
             (1, 2, 2), (1, 1, 1), (1, 1, 2)) v(r, f, m);

-- NULL in, NULL out
SELECT clv_rfm_segment(NULL, 1, 1) IS NULL AS null_r,
       clv_rfm_segment(1, 1, 1, NULL) IS NULL AS null_map;

-- ---- clv_rfm_score -------------------------------------------------------------

-- higher is better; a value equal to a threshold takes the worse score
SELECT v, clv_rfm_score(v, '{10,20,30,40}', true) AS higher,
       clv_rfm_score(v, '{10,20,30,40}', false) AS lower
FROM (VALUES (-1e300::float8), (5), (10), (15), (20), (40), (41), ('infinity'), ('-infinity')) t(v);
-- ties among thresholds (a value shared by many customers) share the worse score
SELECT v, clv_rfm_score(v, '{0,0,0,1}', true) AS higher,
       clv_rfm_score(v, '{0,0,0,1}', false) AS lower
FROM (VALUES (0::float8), (0.5), (1), (2)) t(v);
SELECT clv_rfm_score(3, '{2}', true) AS one_threshold,
       clv_rfm_score(NULL, '{1,2}', true) IS NULL AS null_value,
       clv_rfm_score(1, NULL, true) IS NULL AS null_thresholds,
       clv_rfm_score(1, '{1,2}', NULL) IS NULL AS null_direction;

-- ---- CDNOW: quantile scores by the recipe ---------------------------------------

\set cbs rfm_cbs
\i test/data/cdnow_cbs.sql
ANALYZE rfm_cbs;

-- thresholds once, by an ordered-set aggregate; recency is weeks since the last purchase
CREATE TABLE rfm_thresholds AS
SELECT percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY t_cal - t_x) AS r_t,
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY x) AS f_t,
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY m_x) AS m_t
FROM rfm_cbs;
SELECT (SELECT array_agg(round(v::numeric, 3)) FROM unnest(r_t) v) AS recency_weeks,
       f_t AS frequency,
       (SELECT array_agg(round(v::numeric, 3)) FROM unnest(m_t) v) AS monetary
FROM rfm_thresholds;

CREATE TABLE rfm_scores AS
SELECT cust, clv_rfm_score(t_cal - t_x, r_t, false) AS r, clv_rfm_score(x, f_t, true) AS f,
       clv_rfm_score(m_x, m_t, true) AS m
FROM rfm_cbs, rfm_thresholds;
SELECT 'r' AS score, r AS value, count(*) FROM rfm_scores GROUP BY r
UNION ALL SELECT 'f', f, count(*) FROM rfm_scores GROUP BY f
UNION ALL SELECT 'm', m, count(*) FROM rfm_scores GROUP BY m
ORDER BY 1, 2;
SELECT clv_rfm_segment(r, f, m) AS segment, count(*)
FROM rfm_scores GROUP BY 1 ORDER BY 2 DESC, 1;
-- a few customers, checked by hand against the thresholds above
SELECT s.cust, c.x, round((c.t_cal - c.t_x)::numeric, 2) AS weeks_since, round(c.m_x::numeric, 2) AS m_x,
       s.r, s.f, s.m, clv_rfm_segment(s.r, s.f, s.m)
FROM rfm_scores s JOIN rfm_cbs c USING (cust)
WHERE s.cust IN (1, 2, 3, 4, 5, 10, 100)
ORDER BY s.cust;

-- forced parallel: the same thresholds, and the same scores
\i test/sql/force_parallel.sql
SELECT * FROM pg_temp.analyzed_plan($$
SELECT percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY t_cal - t_x),
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY x),
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY m_x)
FROM rfm_cbs$$);
SELECT * FROM pg_temp.analyzed_plan($$
SELECT clv_rfm_score(t_cal - t_x, r_t, false), clv_rfm_score(x, f_t, true),
       clv_rfm_score(m_x, m_t, true) FROM rfm_cbs, rfm_thresholds$$);
CREATE TABLE rfm_scores_parallel AS
WITH t AS (
    SELECT percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY t_cal - t_x) AS r_t,
           percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY x) AS f_t,
           percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY m_x) AS m_t
    FROM rfm_cbs)
SELECT t.*, (SELECT r_t = p.r_t AND f_t = p.f_t AND m_t = p.m_t FROM rfm_thresholds p) AS same
FROM t;
SELECT same AS same_thresholds FROM rfm_scores_parallel;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE s.r = clv_rfm_score(t_cal - t_x, p.r_t, false)
                          AND s.f = clv_rfm_score(x, p.f_t, true)
                          AND s.m = clv_rfm_score(m_x, p.m_t, true)) AS same_scores
FROM rfm_cbs c JOIN rfm_scores s USING (cust), rfm_scores_parallel p;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- ---- a user's map ------------------------------------------------------------------

CREATE TABLE rfm_map (map jsonb);
INSERT INTO rfm_map VALUES ('{"rules": [
    {"segment": "VIP", "r": [4, 5], "f": [4, 5], "m": [5]},
    {"segment": "Big spender", "m": [5]},
    {"segment": "Gone", "r": [1]},
    {"segment": "VIP", "r": [5], "f": [5]}],
  "default": "Other"}');
-- the first matching rule wins; a rule without "r", "f" or "m" matches any score there
SELECT clv_rfm_segment(r, f, m, map) AS segment, count(*)
FROM rfm_map, generate_series(1, 5) r, generate_series(1, 5) f, generate_series(1, 5) m
GROUP BY 1 ORDER BY 2 DESC, 1;
SELECT r, f, m, clv_rfm_segment(r, f, m, map)
FROM rfm_map, (VALUES (5, 5, 5), (4, 4, 4), (1, 5, 5), (1, 4, 4), (5, 5, 1), (3, 3, 3)) v(r, f, m);
-- a map that covers every combination needs no default
SELECT clv_rfm_segment(2, 3, 4, '{"rules": [{"segment": "recent", "r": [4, 5]}, {"segment": "earlier", "r": [1, 2, 3]}]}');
-- the CDNOW customers by the user's map
SELECT clv_rfm_segment(r, f, m, map) AS segment, count(*)
FROM rfm_scores, rfm_map GROUP BY 1 ORDER BY 2 DESC, 1;
-- a map that changes between rows is parsed again
SELECT v.r, clv_rfm_segment(v.r, 1, 1, v.map)
FROM (VALUES (1, '{"rules": [], "default": "A"}'::jsonb), (1, '{"rules": [], "default": "B"}'),
             (1, '{"rules": [], "default": "A"}')) v(r, map);

-- ---- errors ------------------------------------------------------------------------

SELECT clv_rfm_segment(0, 1, 1);
SELECT clv_rfm_segment(1, 6, 1);
SELECT clv_rfm_segment(1, 1, -3, '{"rules": [], "default": "x"}');
SELECT clv_rfm_segment(1, 1, 1, '[]');
SELECT clv_rfm_segment(1, 1, 1, '{"default": "x"}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": [], "default": "x", "other": 1}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": {}, "default": "x"}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": [], "default": 1}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": [], "default": ""}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": ["VIP"], "default": "x"}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": [{"r": [1]}], "default": "x"}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": [{"segment": 5}], "default": "x"}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": [{"segment": "a", "q": [1]}], "default": "x"}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": [{"segment": "a", "r": 1}], "default": "x"}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": [{"segment": "a", "r": []}], "default": "x"}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": [{"segment": "a", "f": [0]}], "default": "x"}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": [{"segment": "a", "m": [6]}], "default": "x"}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": [{"segment": "a", "m": [2.5]}], "default": "x"}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": [{"segment": "a", "m": ["5"]}], "default": "x"}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": [{"segment": "a", "r": [2, 3, 4, 5]}]}');
SELECT clv_rfm_segment(1, 1, 1, '{"rules": []}');
SELECT clv_rfm_score('NaN', '{1,2}', true);
SELECT clv_rfm_score(1, '{}', true);
SELECT clv_rfm_score(1, '{3,2,1}', true);
SELECT clv_rfm_score(1, '{1,NULL}', true);
SELECT clv_rfm_score(1, '{1,NaN}', true);
SELECT clv_rfm_score(1, '{{1,2},{3,4}}', true);
SELECT clv_rfm_score(1, array_fill(0::float8, ARRAY[101]), true);
-- the SQLSTATE of each kind of error
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $$;
SELECT q, pg_temp.sqlstate_of(q) AS sqlstate
FROM (VALUES ('SELECT clv_rfm_segment(0, 1, 1)'),
             ('SELECT clv_rfm_segment(1, 1, 1, ''{"rules": [{"segment": "a", "m": [6]}], "default": "x"}'')'),
             ('SELECT clv_rfm_segment(1, 1, 1, ''{"rules": []}'')'),
             ('SELECT clv_rfm_score(''NaN'', ''{1,2}'', true)'),
             ('SELECT clv_rfm_score(1, ''{3,2,1}'', true)'),
             ('SELECT clv_rfm_score(1, array_fill(0::float8, ARRAY[101]), true)'),
             ('SELECT clv_rfm_score(1, ''{}'', true)'),
             ('SELECT clv_rfm_score(1, ''{1,NULL}'', true)'),
             ('SELECT clv_rfm_score(1, ''{1,NaN}'', true)')) v(q);
