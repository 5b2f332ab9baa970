-- ALTER EXTENSION clv UPDATE from the released 0.1.0, the path users take:
-- install 0.1.0 from its script, store a model of every kind and its scores,
-- update to the current version, and score the stored models again.  The
-- library is already the new one while the 0.1.0 objects call it, as on a
-- server whose package was upgraded before ALTER EXTENSION.
\set regress_db :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS clv_upgrade;
CREATE DATABASE clv_upgrade;
\c clv_upgrade
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE EXTENSION clv VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'clv';

\set cbs up_cbs
\i test/data/cdnow_cbs.sql
CREATE TABLE up_models AS
SELECT 'linreg' AS kind, clv_linreg_fit(m_x, ARRAY[x, t_x, t_cal]) AS m FROM up_cbs
UNION ALL SELECT 'logreg', clv_logreg_fit(x_star > 0, ARRAY[x, t_x, t_cal]) FROM up_cbs
UNION ALL SELECT 'forest', clv_forest_fit(m_x, ARRAY[x, t_x, t_cal], '{"n_trees": 20, "seed": 1}') FROM up_cbs
UNION ALL SELECT 'gbm', clv_gbm_fit(x_star > 0, ARRAY[x, t_x, t_cal], '{"n_rounds": 20, "seed": 1}') FROM up_cbs
UNION ALL SELECT 'bgnbd', clv_bgnbd_fit(x, t_x, t_cal) FROM up_cbs
UNION ALL SELECT 'mbgnbd', clv_mbgnbd_fit(x, t_x, t_cal) FROM up_cbs
UNION ALL SELECT 'paretonbd', clv_paretonbd_fit(x, t_x, t_cal) FROM up_cbs
UNION ALL SELECT 'gammagamma', clv_gammagamma_fit(x, m_x) FROM up_cbs;
-- every model's scores for every customer, and its description
CREATE VIEW up_scores AS
SELECT kind, cust,
       CASE WHEN kind IN ('linreg', 'logreg', 'forest', 'gbm')
            THEN ARRAY[clv_predict(m, ARRAY[x, t_x, t_cal])]
            WHEN kind = 'gammagamma' THEN ARRAY[clv_expected_spend(m, x, m_x)]
            ELSE ARRAY[clv_expected_purchases(m, 52, x, t_x, t_cal), clv_palive(m, x, t_x, t_cal)]
       END AS scores,
       clv_model_info(m) - 'format_version' AS info
FROM up_models, up_cbs;
CREATE TABLE up_before AS SELECT * FROM up_scores;

-- the update recreates the 0.1.0 aggregates (their state becomes a clv_state):
-- a view that calls one stops it, with an error naming the view, and nothing
-- changes; without the view the update goes through
CREATE VIEW up_fit AS SELECT clv_linreg_fit(m_x, ARRAY[x, t_x, t_cal]) AS m FROM up_cbs;
ALTER EXTENSION clv UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'clv';
DROP VIEW up_fit;
ALTER EXTENSION clv UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'clv';
SELECT kind, count(*) AS customers,
       count(*) FILTER (WHERE a.scores = b.scores) AS same_scores,
       count(*) FILTER (WHERE a.info = b.info) AS same_info
FROM up_scores a JOIN up_before b USING (kind, cust)
GROUP BY kind ORDER BY kind;

-- a kind that 0.1.0 lacks: after the update a k-means model fits and scores
SELECT clv_model_info(m)->>'kind' AS kind, clv_model_info(m)->'sizes' AS sizes,
       clv_predict(m, ARRAY[0, 0]) = clv_predict(m, ARRAY[0, 1]) AS near_points_together
FROM (SELECT clv_kmeans_fit(ARRAY[x, t_x]::float8[], 2, '{"seed": 1}') AS m FROM up_cbs) s;

-- the 0.1.0 forms of clv_lifetime_value and clv_dert still resolve beside the
-- forms without unit that 0.2.0 adds, and a stored 0.1.0 model (no unit) needs
-- its unit as before; a model built from parameters with a unit may omit it
SELECT round(clv_lifetime_value(p.m, s.m, 2, 30.43, 38.86, 22.345, '1 year', '7 days', 0.1)::numeric, 4)
           AS value_010_form,
       round(clv_dert(d.m, 2, 30.43, 38.86, '7 days', 0.15)::numeric, 4) AS dert_010_form,
       clv_lifetime_value(clv_model_from_params('bgnbd', i.params || '{"unit": "7 days"}'), s.m,
                          2, 30.43, 38.86, 22.345, '1 year', 0.1)
         = clv_lifetime_value(p.m, s.m, 2, 30.43, 38.86, 22.345, '1 year', '7 days', 0.1)
           AS unit_omitted_same
FROM up_models p, up_models s, up_models d,
     LATERAL (SELECT clv_model_info(p.m) -> 'params' AS params) i
WHERE p.kind = 'bgnbd' AND s.kind = 'gammagamma' AND d.kind = 'paretonbd';
SELECT clv_lifetime_value(p.m, s.m, 2, 30.43, 38.86, 22.345, '1 year', 0.1)
FROM up_models p, up_models s WHERE p.kind = 'bgnbd' AND s.kind = 'gammagamma';

\c :regress_db
SET client_min_messages = warning;
DROP DATABASE clv_upgrade;
