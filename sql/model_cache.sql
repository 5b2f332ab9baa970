-- The backend's cache of decoded models: a model is decoded once per backend
-- and found again by its content digest in later queries, a changed model is
-- never mistaken for a cached one (updated in place in this session or in
-- another), a value whose digest does not match its bytes is an error and is
-- never scored, the cache keeps to clv.model_cache_size by dropping the least
-- recently used models, and never one a running query uses.
SET client_min_messages = warning;   -- quiet whichever test creates the extension first
CREATE EXTENSION IF NOT EXISTS clv;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SET max_parallel_workers_per_gather = 0;   -- workers would keep caches of their own
SELECT clv_model_cache_reset() >= 0 AS reset;
SELECT count(*) AS cached FROM clv_model_cache();

CREATE TABLE mc_data AS
SELECT i, ARRAY[sin(i), cos(i), (i % 7)::float8]::float8[] AS x,
       1 + 2 * sin(i) - cos(i) + 0.3 * (i % 7) AS y
FROM generate_series(1, 2000) i;
CREATE TABLE mc_probe AS SELECT i, x FROM mc_data WHERE i % 200 = 0;
-- forests far larger than a page (stored out of line, in the TOAST table),
-- and a small linear model (stored in line)
CREATE TABLE mc_fits AS
SELECT 'forest_a' AS name, clv_forest_fit(y, x, '{"n_trees": 20, "seed": 1}') AS m FROM mc_data
UNION ALL SELECT 'forest_b', clv_forest_fit(y, x, '{"n_trees": 20, "seed": 2}') FROM mc_data
UNION ALL SELECT 'forest_c', clv_forest_fit(y, x, '{"n_trees": 20, "seed": 3}') FROM mc_data
UNION ALL SELECT 'linreg', clv_linreg_fit(y, x) FROM mc_data;
SELECT name, clv_model_info(m) ->> 'format_version' AS format_version,
       length(m) > 50000 OR name = 'linreg' AS sized_as_expected
FROM mc_fits ORDER BY name;
-- reference scores, each model decoded afresh (nothing kept across queries)
SET clv.model_cache_size = 0;
CREATE TABLE mc_ref AS
SELECT f.name, p.i, clv_predict(f.m, p.x) AS score FROM mc_fits f, mc_probe p;
SELECT count(*) AS cached_at_size_0 FROM clv_model_cache();
RESET clv.model_cache_size;
SHOW clv.model_cache_size;

-- The stored model: one row, read as a dashboard would
CREATE TABLE mc_models (id int PRIMARY KEY, m bytea);
INSERT INTO mc_models SELECT 1, m FROM mc_fits WHERE name = 'forest_a';
-- whether every probe scores as the reference of the named model
CREATE FUNCTION pg_temp.scores_as(model text) RETURNS boolean
LANGUAGE sql AS
$$ SELECT bool_and(clv_predict(mm.m, p.x) = r.score)
   FROM mc_models mm, mc_probe p JOIN mc_ref r ON r.i = p.i AND r.name = model
   WHERE mm.id = 1 $$;
\i test/sql/model_bytes.sql
-- the cache, described without the bytes that vary between builds
CREATE FUNCTION pg_temp.cached() RETURNS TABLE (model text, kind text, format_version int,
                                                n_features int, has_bytes boolean, hits bigint)
LANGUAGE sql AS
$$ SELECT coalesce((SELECT string_agg(f.name, ',' ORDER BY f.name) FROM mc_fits f
                    WHERE CASE WHEN get_byte(f.m, 4) >= 2 THEN substring(f.m FROM 25 FOR 32)
                               ELSE sha256(f.m) END = c.identity), '?'),
          c.kind, c.format_version, c.n_features, c.bytes > 0, c.hits
   FROM clv_model_cache() c ORDER BY c.last_used DESC, 1 $$;

-- first use decodes; later queries find it, one hit per query
SELECT pg_temp.scores_as('forest_a') AS forest_a;
SELECT * FROM pg_temp.cached();
SELECT pg_temp.scores_as('forest_a') AS forest_a;
SELECT pg_temp.scores_as('forest_a') AS forest_a;
SELECT * FROM pg_temp.cached();

--------------------------------------------------------------------------------
-- Updated in place, in this session
--------------------------------------------------------------------------------
UPDATE mc_models SET m = (SELECT m FROM mc_fits WHERE name = 'forest_b') WHERE id = 1;
SELECT pg_temp.scores_as('forest_b') AS forest_b, pg_temp.scores_as('forest_a') AS forest_a;
UPDATE mc_models SET m = (SELECT m FROM mc_fits WHERE name = 'forest_a') WHERE id = 1;
SELECT pg_temp.scores_as('forest_a') AS forest_a;
SELECT * FROM pg_temp.cached();

--------------------------------------------------------------------------------
-- Updated in place by another session, while this one keeps its cache
--------------------------------------------------------------------------------
SELECT dblink_connect('mc_other', format('dbname=%s user=%s port=%s host=%s', current_database(),
                      current_user, current_setting('port'),
                      split_part(current_setting('unix_socket_directories'), ',', 1))) AS connected;
SELECT dblink_exec('mc_other', $$UPDATE mc_models SET m = (SELECT m FROM mc_fits WHERE name = 'forest_c') WHERE id = 1$$);
SELECT pg_temp.scores_as('forest_c') AS forest_c;
SELECT dblink_exec('mc_other', $$UPDATE mc_models SET m = (SELECT m FROM mc_fits WHERE name = 'forest_b') WHERE id = 1$$);
SELECT pg_temp.scores_as('forest_b') AS forest_b;
SELECT dblink_exec('mc_other', $$UPDATE mc_models SET m = (SELECT m FROM mc_fits WHERE name = 'linreg') WHERE id = 1$$);
SELECT pg_temp.scores_as('linreg') AS linreg;
SELECT * FROM pg_temp.cached();

--------------------------------------------------------------------------------
-- A version-2 value whose digest does not match its bytes: an error, never
-- scored, even while the model its header names is cached
--------------------------------------------------------------------------------
UPDATE mc_models SET m = (SELECT m FROM mc_fits WHERE name = 'forest_b') WHERE id = 1;
SELECT pg_temp.scores_as('forest_b') AS forest_b;
-- a payload byte flipped in the stored value, in this session
UPDATE mc_models SET m = set_byte(m, length(m) - 100, get_byte(m, length(m) - 100) # 1) WHERE id = 1;
SELECT pg_temp.scores_as('forest_b');
SELECT clv_predict(m, '{0, 0, 0}') FROM mc_models WHERE id = 1;
-- the same by the other session, on the cached forest_c
SELECT dblink_exec('mc_other', $$UPDATE mc_models SET m = (SELECT set_byte(m, 50000, get_byte(m, 50000) # 128) FROM mc_fits WHERE name = 'forest_c') WHERE id = 1$$);
SELECT clv_predict(m, '{0, 0, 0}') FROM mc_models WHERE id = 1;
-- a value computed in the query, not stored
SELECT clv_predict(set_byte(m, length(m) - 9, get_byte(m, length(m) - 9) # 2), '{0, 0, 0}')
FROM mc_fits WHERE name = 'forest_a';
-- a forgery: the header of forest_b with the digest of the cached forest_a
-- and a valid header checksum, in front of the body of forest_b
SELECT clv_predict(h || pg_temp.le32(pg_temp.crc32c(h || substring(a.m FROM 25 FOR 32)))
                   || substring(a.m FROM 25 FOR 32) || substring(b.m FROM 57), '{0, 0, 0}')
FROM mc_fits a, mc_fits b, LATERAL (SELECT substring(b.m FROM 1 FOR 20) AS h) q
WHERE a.name = 'forest_a' AND b.name = 'forest_b';
SELECT dblink_disconnect('mc_other');
-- the genuine models still score as before
UPDATE mc_models SET m = (SELECT m FROM mc_fits WHERE name = 'forest_c') WHERE id = 1;
SELECT pg_temp.scores_as('forest_c') AS forest_c;

--------------------------------------------------------------------------------
-- Version-1 models still score, and are cached under the SHA-256 of their bytes
--------------------------------------------------------------------------------
CREATE TABLE mc_v1 AS SELECT pg_temp.golden_linreg_v1() AS m;
SELECT clv_model_cache_reset() > 0 AS dropped;
SELECT clv_predict(m, '{2}') AS v1_at_2 FROM mc_v1;
SELECT clv_predict(m, '{2}') AS v1_at_2 FROM mc_v1;
SELECT kind, format_version, n_features, hits, identity = sha256(m) AS keyed_by_sha256
FROM clv_model_cache(), mc_v1;
-- a byte of it changed: its own checksum still rejects it
SELECT clv_predict(set_byte(m, 500, get_byte(m, 500) # 1), '{2}') FROM mc_v1;

--------------------------------------------------------------------------------
-- Eviction: least recently used first, within clv.model_cache_size
--------------------------------------------------------------------------------
SELECT clv_model_cache_reset() > 0 AS dropped;
SELECT count(*) FILTER (WHERE clv_predict(m, '{0, 0, 0}') IS NOT NULL) AS scored
FROM mc_fits WHERE name = 'forest_a';
-- room for about one and a half forests
SELECT set_config('clv.model_cache_size', (max(bytes) * 3 / 2 / 1024)::text, false) IS NOT NULL AS set
FROM clv_model_cache();
SELECT clv_predict(m, '{0, 0, 0}') IS NOT NULL AS scored FROM mc_fits WHERE name = 'forest_b';
SELECT model FROM pg_temp.cached();
SELECT clv_predict(m, '{0, 0, 0}') IS NOT NULL AS scored FROM mc_fits WHERE name = 'linreg';
SELECT clv_predict(m, '{0, 0, 0}') IS NOT NULL AS scored FROM mc_fits WHERE name = 'forest_c';
SELECT model FROM pg_temp.cached();
-- one query using three forests: all are kept while it runs, past the limit
SELECT f.name, bool_and(clv_predict(f.m, p.x) = r.score) AS as_reference
FROM mc_fits f, mc_probe p JOIN mc_ref r USING (i)
WHERE f.name LIKE 'forest%' AND r.name = f.name GROUP BY f.name ORDER BY f.name;
SELECT sum(bytes) <= pg_size_bytes(current_setting('clv.model_cache_size')) AS within_limit_after,
       count(*) < 3 AS some_dropped
FROM clv_model_cache();
SET clv.model_cache_size = 0;
SELECT pg_temp.scores_as('forest_c') AS forest_c;
SELECT count(*) AS cached_at_size_0 FROM clv_model_cache();
RESET clv.model_cache_size;

--------------------------------------------------------------------------------
-- Dropped while a query uses it: the query goes on with its model, freed after
--------------------------------------------------------------------------------
SELECT pg_temp.scores_as('forest_c') AS forest_c;
SELECT i, clv_predict(m, p.x) = r.score AS as_reference, clv_model_cache_reset() AS dropped
FROM mc_models, mc_probe p JOIN mc_ref r USING (i)
WHERE r.name = 'forest_c' ORDER BY i LIMIT 4;
SELECT count(*) AS cached FROM clv_model_cache();
SELECT pg_temp.scores_as('forest_c') AS forest_c;
SELECT model, hits FROM pg_temp.cached();
