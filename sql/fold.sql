-- clv_fold: a key's cross-validation fold from the hash that doc/reference.md
-- defines.  The expected folds below were computed from that definition by a
-- separate Python implementation (struct-packed keys, FNV-1a 64, MurmurHash3's
-- finalizer, multiply-shift), so they hold on every server and platform.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;

SELECT key, want, got, got = want AS same
FROM (VALUES ('42::integer, 5', 5, 2, clv_fold(42, 5)),
             ('42::bigint, 5', 5, 3, clv_fold(42::bigint, 5)),
             ('''abc''::text, 10', 10, 9, clv_fold('abc'::text, 10)),
             ('''abc''::text, 10, seed 7', 10, 9, clv_fold('abc'::text, 10, 7)),
             ('1.5::float8, 3', 3, 2, clv_fold(1.5::float8, 3)),
             ('''2024-01-31''::date, 7', 7, 1, clv_fold('2024-01-31'::date, 7)),
             ('(-5)::bigint, 1000, seed -3', 1000, 366, clv_fold((-5)::bigint, 1000, -3)))
     AS t(key, k, want, got)
ORDER BY key;

-- the fold depends on the key's bytes: varchar, bpchar and a domain over text
-- hash like text (their bytes in the database encoding), integer and bigint
-- differ
CREATE DOMAIN fold_code AS text;
SELECT clv_fold('C-1042'::varchar, 10) = clv_fold('C-1042'::text, 10) AS varchar_like_text,
       clv_fold('C-1042'::fold_code, 10) = clv_fold('C-1042'::text, 10) AS domain_like_text,
       clv_fold(7::bigint, 1000) <> clv_fold(7::integer, 1000) AS integer_not_bigint;
-- integers hash their big-endian send form, which a bytea of the same bytes
-- hashes through bytea's send function (the integers take a shorter path)
SELECT bool_and(clv_fold(v::smallint, 1000, 9) = clv_fold(int2send(v::smallint), 1000, 9)
                AND clv_fold(v, 1000, 9) = clv_fold(int4send(v), 1000, 9)
                AND clv_fold(v::bigint * 4099, 1000, 9) = clv_fold(int8send(v::bigint * 4099), 1000, 9))
           AS integers_as_bytes
FROM generate_series(-3000, 3000) v;

-- roughly uniform: 100,000 customer ids into 5 and 10 folds, text ids into 10;
-- the chi-square statistic stays under its 0.1 % critical value (18.47 for 4
-- degrees of freedom, 27.88 for 9)
SELECT k, min(n) > 0 AS every_fold, sum((n - e) ^ 2 / e) < crit AS uniform
FROM (SELECT k, f, count(*) AS n, 100000.0 / k AS e, crit
      FROM (VALUES (5, 18.47), (10, 27.88)) AS c(k, crit),
           LATERAL (SELECT clv_fold(i, k) AS f FROM generate_series(1::bigint, 100000) i) s
      GROUP BY k, f, crit) q
GROUP BY k, crit ORDER BY k;
SELECT sum((n - 10000.0) ^ 2 / 10000.0) < 27.88 AS text_ids_uniform
FROM (SELECT clv_fold('customer-' || i, 10) AS f, count(*) AS n
      FROM generate_series(1, 100000) i GROUP BY 1) q;

-- a seed gives another assignment: about (k - 1) / k of the keys move
SELECT round(avg((clv_fold(i, 5) <> clv_fold(i, 5, 1))::int), 2) AS moved
FROM generate_series(1::bigint, 100000) i;

-- k = 1 puts everything in fold 1; NULL in, NULL out; k below 1 is an error
SELECT count(*) FILTER (WHERE clv_fold(i, 1) = 1) AS all_in_fold_1 FROM generate_series(1, 1000) i;
SELECT clv_fold(NULL::bigint, 5) IS NULL AS null_key, clv_fold(1, NULL) IS NULL AS null_k;
SELECT clv_fold(1, 0);
SELECT clv_fold(1, -3);

DROP DOMAIN fold_code;
