-- clv_kmeans_fit: a fit on planted clusters, clv_predict and clv_model_info,
-- standardization, determinism (row order, threads, parallel plans), window
-- and zero-row forms, choosing k, the memory limit and every error a user
-- can cause.
SET client_min_messages = warning;   -- quiet whichever test creates the extension first
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\i test/sql/analyzed_plan.sql
SET extra_float_digits = 0;

CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
-- deterministic uniform [0, 1) from a row number and a stream number
CREATE FUNCTION pg_temp.u(i bigint, s bigint) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT ((hashint8extended(i, s) >> 11) & 9007199254740991)::float8 / 9007199254740992.0 $$;
-- a jsonb array of numbers rounded to d places
CREATE FUNCTION pg_temp.rounded(j jsonb, d int) RETURNS text
LANGUAGE sql IMMUTABLE AS
$$ SELECT string_agg(CASE jsonb_typeof(e) WHEN 'array' THEN pg_temp.rounded(e, d)
                          ELSE round(e::text::numeric, d)::text END, ', ' ORDER BY k)
          FROM jsonb_array_elements(j) WITH ORDINALITY a(e, k) $$;

-- Three planted clusters of 100 rows around (0, 0), (10, 0) and (0, 10),
-- spread ±0.5 uniformly, and a copy of the rows in another order.
CREATE TABLE km_rows AS
SELECT i, (i - 1) % 3 + 1 AS truth,
       ARRAY[CASE (i - 1) % 3 WHEN 1 THEN 10 ELSE 0 END + pg_temp.u(i, 1) - 0.5,
             CASE (i - 1) % 3 WHEN 2 THEN 10 ELSE 0 END + pg_temp.u(i, 2) - 0.5] AS x
FROM generate_series(1, 300) i;
CREATE TABLE km_shuffled AS SELECT * FROM km_rows ORDER BY pg_temp.u(i, 3);
CREATE TABLE km_models AS
SELECT 'plain' AS name, clv_kmeans_fit(x, 3) AS m FROM km_rows
UNION ALL
SELECT 'std', clv_kmeans_fit(x, 3, '{"standardize": true, "n_init": 3, "seed": 7, "features": ["a", "b"]}')
FROM km_rows;

-- the partition is the planted one up to relabelling: every planted cluster
-- maps to exactly one cluster of the model and the other way round
SELECT name, count(DISTINCT (truth, clv_predict(m, x))) AS pairs,
       count(DISTINCT truth) AS planted, count(DISTINCT clv_predict(m, x)) AS found
FROM km_rows, km_models GROUP BY name ORDER BY name;

-- model_info: centroids in the original units, sizes, inertia, iterations
SELECT name, i->>'kind' AS kind, i->'k' AS k, i->'n_features' AS p, i->'n' AS n,
       i->'sizes' AS sizes, i->'standardize' AS std, i->'n_init' AS n_init,
       i->'seed' AS seed, i->'converged' AS converged,
       (i->>'iterations')::int <= 5 AS few_iterations,
       round((i->>'inertia')::numeric, 6) AS inertia,
       round((i->>'silhouette')::numeric, 6) AS silhouette,
       pg_temp.rounded(i->'centroids', 2) AS centroids, i->'features' AS features
FROM (SELECT name, clv_model_info(m) AS i FROM km_models) s ORDER BY name;
SELECT jsonb_object_keys(clv_model_info(m)) AS key FROM km_models WHERE name = 'std' ORDER BY 1;
SELECT pg_temp.rounded(i->'standardization'->'means', 4) AS means,
       pg_temp.rounded(i->'standardization'->'scales', 4) AS scales
FROM (SELECT clv_model_info(m) AS i FROM km_models WHERE name = 'std') s;

-- inertia is the sum of squared distances to the nearest centroid
SELECT round(sum((x[1] - (c->>0)::float8) ^ 2 + (x[2] - (c->>1)::float8) ^ 2)::numeric, 6)
           = round(min(inertia)::numeric, 6) AS inertia_recomputed
FROM km_rows,
     (SELECT m, (clv_model_info(m)->>'inertia')::float8 AS inertia,
             clv_model_info(m)->'centroids' AS centroids
      FROM km_models WHERE name = 'plain') k,
     LATERAL (SELECT centroids->(clv_predict(m, x)::int - 1) AS c) c;

-- clv_predict: the nearest centroid, ties to the lowest number
CREATE TABLE km_tie AS SELECT clv_kmeans_fit(x, 2) AS m
FROM (VALUES ('{0}'::float8[]), ('{0}'), ('{2}'), ('{2}')) v(x);
SELECT clv_predict(m, '{1}') = least(clv_predict(m, '{0}'), clv_predict(m, '{2}')) AS tie_to_lowest,
       clv_predict(m, '{0}') <> clv_predict(m, '{2}') AS two_clusters,
       clv_predict(m, '{-5}') = clv_predict(m, '{0}') AS far_left
FROM km_tie;

-- determinism: the same bytes from rows in another order, and on one thread
SELECT md5(clv_kmeans_fit(x, 3)) = (SELECT md5(m) FROM km_models WHERE name = 'plain') AS shuffled_same,
       md5(clv_kmeans_fit(x, 3, '{"standardize": true, "n_init": 3, "seed": 7, "features": ["a", "b"]}'))
           = (SELECT md5(m) FROM km_models WHERE name = 'std') AS shuffled_std_same
FROM km_shuffled;
SET clv.training_threads = 1;
SELECT md5(clv_kmeans_fit(x, 3)) = (SELECT md5(m) FROM km_models WHERE name = 'plain') AS one_thread_same
FROM km_shuffled;
RESET clv.training_threads;

-- parallel plans: partial states in two workers, combined by the leader, give
-- the serial bytes
CREATE TABLE km_par AS SELECT * FROM km_rows, generate_series(1, 30) g;
CREATE TEMP TABLE km_serial AS
SELECT clv_kmeans_fit(x, 3, '{"n_init": 2}') AS m, (SELECT clv_kmeans_fit(x, 4) FROM km_par) AS m4
FROM km_par;
\i test/sql/force_parallel.sql
SELECT * FROM pg_temp.analyzed_plan($$SELECT clv_kmeans_fit(x, 3, '{"n_init": 2}') FROM km_par$$);
CREATE TEMP TABLE km_parallel AS
SELECT clv_kmeans_fit(x, 3, '{"n_init": 2}') AS m, (SELECT clv_kmeans_fit(x, 4) FROM km_par) AS m4
FROM km_par;
RESET ALL;
SET extra_float_digits = 0;
SELECT md5(p.m) = md5(s.m) AS parallel_equals_serial, md5(p.m4) = md5(s.m4) AS k4_parallel_equals_serial
FROM km_parallel p, km_serial s;

-- window forms: over the whole partition, and growing frames that refit
SELECT DISTINCT md5(clv_kmeans_fit(x, 3) OVER ()) = (SELECT md5(m) FROM km_models WHERE name = 'plain')
       AS window_equals_plain
FROM km_rows;
SELECT i, clv_model_info(m)->'sizes' AS sizes,
       md5(m) = (SELECT md5(clv_kmeans_fit(x, 2)) FROM km_rows r WHERE r.i <= least(w.i + 1, 8)) AS equals_plain_fit
FROM (SELECT i, clv_kmeans_fit(x, 2) OVER (ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 FOLLOWING) AS m
      FROM km_rows WHERE i <= 8) w
ORDER BY i;

-- choosing k: one model per k in one statement, inertia falling with k, the
-- silhouette highest at the planted k
SELECT k, round((info->>'inertia')::numeric, 1) AS inertia,
       round((info->>'silhouette')::numeric, 3) AS silhouette
FROM generate_series(1, 5) k,
     LATERAL (SELECT clv_model_info(clv_kmeans_fit(x, k, '{"n_init": 3}')) AS info FROM km_rows) f
ORDER BY k;

-- fewer distinct rows than k, and a constant feature under standardize
SELECT pg_temp.sqlstate_of($$SELECT clv_kmeans_fit(x, 3) FROM (VALUES ('{1,1}'::float8[]), ('{1,1}'), ('{2,2}'), ('{2,2}')) v(x)$$) AS error;
SELECT clv_model_info(clv_kmeans_fit(x, 2, '{"standardize": true}'))->'standardization' AS constant_second
FROM (VALUES ('{1,5}'::float8[]), ('{2,5}'), ('{8,5}'), ('{9,5}')) v(x);

-- the memory limit: 9000 rows of 2 features are 141 kB; 64 kB holds 4096 rows
SET clv.max_training_memory = '64kB';
SELECT pg_temp.sqlstate_of('SELECT clv_kmeans_fit(x, 3) FROM km_par') AS error;
SELECT length(clv_kmeans_fit(x, 3)) > 0 AS fits_under_the_limit FROM km_rows;
RESET clv.max_training_memory;

-- errors
SELECT q, pg_temp.sqlstate_of(q) AS error
FROM (VALUES ('SELECT clv_kmeans_fit(x, 0) FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, 10001) FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, NULL) FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, 301) FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, CASE WHEN i = 7 THEN 4 ELSE 3 END) FROM km_rows'),
             ('SELECT clv_kmeans_fit(NULL, 3) FROM km_rows'),
             ('SELECT clv_kmeans_fit(CASE WHEN i = 7 THEN ''{1,NULL}'' ELSE x END, 3) FROM km_rows'),
             ('SELECT clv_kmeans_fit(CASE WHEN i = 7 THEN ''{1,NaN}'' ELSE x END, 3) FROM km_rows'),
             ('SELECT clv_kmeans_fit(CASE WHEN i = 7 THEN ''{1,-Infinity}'' ELSE x END, 3) FROM km_rows'),
             ('SELECT clv_kmeans_fit(CASE WHEN i = 7 THEN ''{1,2,3}'' ELSE x END, 3) FROM km_rows'),
             ('SELECT clv_kmeans_fit(''{}''::float8[], 3) FROM km_rows'),
             ('SELECT clv_kmeans_fit(''{{1,2},{3,4}}''::float8[], 1) FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, 3) FROM km_rows WHERE false'),
             ('SELECT clv_kmeans_fit(x, 3, ''{"n_inits": 2}'') FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, 3, ''{"n_init": 0}'') FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, 3, ''{"n_init": "two"}'') FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, 3, ''{"max_iter": 0}'') FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, 3, ''{"tol": -1}'') FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, 3, ''{"seed": 1.5}'') FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, 3, ''{"seed": -1}'') FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, 3, ''{"standardize": 1}'') FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, 3, ''{"features": ["a"]}'') FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, 3, ''[1, 2]'') FROM km_rows'),
             ('SELECT clv_kmeans_fit(x, 3, CASE WHEN i < 100 THEN ''{"seed": 1}'' ELSE ''{"seed": 2}'' END::jsonb) FROM km_rows')
     ) v(q);

-- scoring errors: wrong length, NaN and infinities, NULL elements; clv_explain
SELECT q, pg_temp.sqlstate_of(q) AS error
FROM (VALUES ('SELECT clv_predict(m, ''{1,2,3}'') FROM km_models WHERE name = ''plain'''),
             ('SELECT clv_predict(m, ''{1,NaN}'') FROM km_models WHERE name = ''plain'''),
             ('SELECT clv_predict(m, ''{Infinity,1}'') FROM km_models WHERE name = ''plain'''),
             ('SELECT clv_predict(m, ''{1,NULL}'') FROM km_models WHERE name = ''plain'''),
             ('SELECT clv_explain(m, ''{1,2}'') FROM km_models WHERE name = ''plain'''),
             ('SELECT clv_expected_purchases(m, 1, 1, 1, 1) FROM km_models WHERE name = ''plain''')
     ) v(q);

-- a corrupted model: one byte of a centroid changed
SELECT pg_temp.sqlstate_of(format('SELECT clv_model_info(%L::bytea)',
           overlay(m placing '\xff'::bytea from length(m) - 40 for 1))) AS error
FROM km_models WHERE name = 'plain';
