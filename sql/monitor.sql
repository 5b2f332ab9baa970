-- Monitoring aggregates: clv_psi(value, is_reference [, bins]) and
-- clv_calibration(predicted, actual [, bins]).  Results against a separate
-- implementation in plain SQL (ranks, explicit bins, ln) on rows with ties
-- and empty bins; window and zero-row forms; every error with its SQLSTATE;
-- forced-parallel plans against the serial result.
SET client_min_messages = warning;   -- same output alone or after other tests
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\i test/sql/analyzed_plan.sql
SET extra_float_digits = 0;

-- the SQLSTATE and message of a statement's error
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error';
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

-- 640 rows.  Reference values: integers -6..6 from a sine (many ties, and a
-- mass at the ends); current values: a narrower, shifted sine in steps of 0.5,
-- so several reference bins get no current row.  Rows 1..40 have a NULL in
-- value or flag.  predicted: 101 values in [0, 1] (ties); actual: 0/1 from a
-- hash, more often 1 the higher predicted, and a continuous variant.
CREATE TABLE m_rows AS
SELECT i, i % 4 AS g,
       CASE WHEN i <= 20 THEN NULL
            WHEN i <= 400 THEN round(6.5 * sin(i * 0.37))
            ELSE 2 + round(2 * (1.5 * sin(i * 0.61) + 0.3)) / 2 END::float8 AS value,
       CASE WHEN i BETWEEN 21 AND 40 THEN NULL ELSE i <= 400 END AS is_ref,
       CASE WHEN i % 53 = 0 THEN NULL ELSE ((i * 7919) % 101) / 100.0 END::float8 AS predicted,
       CASE WHEN i % 59 = 0 THEN NULL
            ELSE (((i * 104729) % 1000) / 1000.0 < 0.2 + 0.6 * ((i * 7919) % 101) / 100.0)::int
       END::float8 AS actual,
       (((i * 7919) % 101) / 100.0 * 250 + ((i * 31) % 17) * 3.5)::float8 AS amount_predicted,
       (((i * 7919) % 101) / 100.0 * 230 + ((i * 37) % 23) * 4.25)::float8 AS amount_actual
FROM generate_series(1, 640) i;

--------------------------------------------------------------------------------
-- The separate implementation
--------------------------------------------------------------------------------

-- Quantile edges of values for bins: the value of rank ceil(i * m / bins),
-- i = 1 .. bins - 1, in integer arithmetic, each distinct value once, none
-- equal to the largest value.
CREATE FUNCTION pg_temp.edges(v float8[], bins int) RETURNS float8[]
LANGUAGE sql IMMUTABLE AS $$
SELECT coalesce(array_agg(DISTINCT e ORDER BY e), '{}')
FROM (SELECT s[(i * m + bins - 1) / bins] AS e, s[m] AS top
      FROM (SELECT array_agg(x ORDER BY x) AS s, count(*)::int AS m FROM unnest(v) x) a,
           generate_series(1, bins - 1) i) c
WHERE e < top $$;

-- The bin (1-based) of x: one more than the edges below it.
CREATE FUNCTION pg_temp.bin_of(edges float8[], x float8) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
SELECT 1 + count(*)::int FROM unnest(edges) e WHERE e < x $$;

-- PSI of the rows of m_rows (group grp, or all when NULL)
CREATE FUNCTION pg_temp.psi_sql(bins int, grp int DEFAULT NULL) RETURNS float8
LANGUAGE sql AS $$
WITH r AS (SELECT value, is_ref FROM m_rows
           WHERE value IS NOT NULL AND is_ref IS NOT NULL AND (grp IS NULL OR g = grp)),
     e AS (SELECT pg_temp.edges(array_agg(value) FILTER (WHERE is_ref), bins) AS e FROM r),
     binned AS (SELECT is_ref, pg_temp.bin_of(e, value) AS bin FROM r, e),
     shares AS (
       SELECT greatest(count(*) FILTER (WHERE is_ref)::float8
                       / (SELECT count(*) FROM binned WHERE is_ref), 1e-4) AS ref,
              greatest(count(*) FILTER (WHERE NOT is_ref)::float8
                       / (SELECT count(*) FROM binned WHERE NOT is_ref), 1e-4) AS cur
       FROM e CROSS JOIN generate_series(1, cardinality(e) + 1) b
            LEFT JOIN binned ON binned.bin = b
       GROUP BY b)
SELECT sum((cur - ref) * ln(cur / ref)) FROM shares $$;

-- Calibration bins of (predicted, actual) columns of m_rows
CREATE FUNCTION pg_temp.calibration_sql(bins int, p text, a text)
RETURNS TABLE (bin int, n bigint, mean_predicted float8, mean_actual float8,
               min_predicted float8, max_predicted float8)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH r AS (SELECT %1$I AS p, %2$I AS a FROM m_rows
                   WHERE %1$I IS NOT NULL AND %2$I IS NOT NULL),
             e AS (SELECT pg_temp.edges(array_agg(p), %3$s) AS e FROM r)
        SELECT pg_temp.bin_of(e, p), count(*), avg(p), avg(a), min(p), max(p)
        FROM r, e GROUP BY 1 ORDER BY 1 $q$, p, a, bins);
END $$;

-- Relative difference, for comparisons to 1e-12
CREATE FUNCTION pg_temp.close(a float8, b float8) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT abs(a - b) <= 1e-12 * greatest(1, abs(b)) $$;

--------------------------------------------------------------------------------
-- clv_psi
--------------------------------------------------------------------------------

-- the data has ties and empty bins: reference bins (after merged edges) and
-- those without a current row
SELECT bins, cardinality(e) + 1 AS bins_after_ties,
       (SELECT count(*) FROM generate_series(1, cardinality(e) + 1) b
        WHERE NOT EXISTS (SELECT FROM m_rows WHERE is_ref = false AND value IS NOT NULL
                                              AND pg_temp.bin_of(e, value) = b)) AS empty_current_bins
FROM (VALUES (2), (3), (10), (37)) v(bins),
     LATERAL (SELECT pg_temp.edges(array_agg(value), bins) AS e FROM m_rows
              WHERE is_ref AND value IS NOT NULL) x
ORDER BY bins;

SELECT bins, round(clv_psi::numeric, 10) AS psi,
       pg_temp.close(clv_psi, pg_temp.psi_sql(bins)) AS matches_sql
FROM (VALUES (2), (3), (10), (37), (1000)) v(bins),
     LATERAL (SELECT clv_psi(value, is_ref, bins) FROM m_rows) p
ORDER BY bins;
-- 10 bins when none are given
SELECT clv_psi(value, is_ref) = clv_psi(value, is_ref, 10) AS default_10 FROM m_rows;
-- per group
SELECT g, round(clv_psi(value, is_ref, 5)::numeric, 10) AS psi,
       pg_temp.close(clv_psi(value, is_ref, 5), pg_temp.psi_sql(5, g)) AS matches_sql
FROM m_rows GROUP BY g ORDER BY g;
-- the same distribution: 0; the order of the rows does not matter
SELECT clv_psi(value, flag, 10) AS same_distribution
FROM m_rows, LATERAL (VALUES (true), (false)) f(flag) WHERE is_ref;
SELECT clv_psi(value, is_ref, 7 ORDER BY i) = clv_psi(value, is_ref, 7 ORDER BY -i)
       AND clv_psi(value, is_ref, 7 ORDER BY -i) = clv_psi(value, is_ref, 7 ORDER BY (i * 7919) % 641)
       AS order_independent
FROM m_rows;

-- zero rows, and no reference or no current rows: NULL
SELECT clv_psi(value, is_ref) IS NULL AS zero_rows FROM m_rows WHERE false;
SELECT clv_psi(value, is_ref) IS NULL AS only_nulls FROM m_rows WHERE i <= 40;
SELECT clv_psi(value, is_ref) IS NULL AS no_current FROM m_rows WHERE is_ref;
SELECT clv_psi(value, is_ref, 4) IS NULL AS no_reference FROM m_rows WHERE NOT is_ref;

-- as a window function: a running PSI equals the aggregate over each prefix,
-- and partitions equal the groups
SELECT bool_and(w IS NOT DISTINCT FROM (SELECT clv_psi(value, is_ref, 4) FROM m_rows m2
                                        WHERE m2.i <= m.i)) AS running_matches,
       count(w) AS rows_with_psi
FROM (SELECT i, clv_psi(value, is_ref, 4) OVER (ORDER BY i) AS w FROM m_rows) m;
SELECT bool_and(w = (SELECT clv_psi(value, is_ref, 5) FROM m_rows m2 WHERE m2.g = m.g))
       AS partitions_match
FROM (SELECT g, clv_psi(value, is_ref, 5) OVER (PARTITION BY g) AS w FROM m_rows) m;

--------------------------------------------------------------------------------
-- clv_calibration
--------------------------------------------------------------------------------

-- probabilities against 0/1 outcomes, and amounts against amounts: every
-- field of every bin against the SQL bins
CREATE TEMP TABLE m_cal AS
SELECT bins, kind, c
FROM (VALUES (2), (3), (10), (37), (1000)) v(bins),
     LATERAL (SELECT 'probability' AS kind, clv_calibration(predicted, actual, bins) AS c FROM m_rows
              UNION ALL
              SELECT 'amount', clv_calibration(amount_predicted, amount_actual, bins) FROM m_rows) x;
CREATE TEMP TABLE m_cal_sql AS
SELECT kind, bins, s.*
FROM m_cal, LATERAL pg_temp.calibration_sql(bins,
    CASE kind WHEN 'probability' THEN 'predicted' ELSE 'amount_predicted' END,
    CASE kind WHEN 'probability' THEN 'actual' ELSE 'amount_actual' END) s;
SELECT kind, bins, count(j.bin) AS n_bins, sum(j.n) AS n,
       bool_and(j.bin IS NOT NULL AND s.bin IS NOT NULL AND j.n = s.n
                AND pg_temp.close(j.mean_predicted, s.mean_predicted)
                AND pg_temp.close(j.mean_actual, s.mean_actual)
                AND j.min_predicted = s.min_predicted AND j.max_predicted = s.max_predicted)
           AS bins_match_sql
FROM (SELECT kind, bins, b.*
      FROM m_cal, jsonb_to_recordset(c -> 'bins')
          AS b(bin int, n bigint, mean_predicted float8, mean_actual float8,
               min_predicted float8, max_predicted float8)) j
FULL JOIN m_cal_sql s USING (kind, bins, bin)
GROUP BY kind, bins ORDER BY kind, bins;

-- the summary: overall means, ECE = sum of n_i / N |mean predicted_i - mean
-- actual_i|, MCE = the largest gap
SELECT kind, bins,
       pg_temp.close((c ->> 'mean_predicted')::float8, avg(p)) AS mean_predicted,
       pg_temp.close((c ->> 'mean_actual')::float8, avg(a)) AS mean_actual,
       pg_temp.close((c ->> 'ece')::float8,
                     (SELECT sum(b.n * abs(b.mean_predicted - b.mean_actual)) / sum(b.n)
                      FROM jsonb_to_recordset(c -> 'bins')
                          AS b(n bigint, mean_predicted float8, mean_actual float8))) AS ece,
       pg_temp.close((c ->> 'mce')::float8,
                     (SELECT max(abs(b.mean_predicted - b.mean_actual))
                      FROM jsonb_to_recordset(c -> 'bins')
                          AS b(mean_predicted float8, mean_actual float8))) AS mce
FROM m_cal,
     LATERAL (SELECT CASE kind WHEN 'probability' THEN predicted ELSE amount_predicted END AS p,
                     CASE kind WHEN 'probability' THEN actual ELSE amount_actual END AS a
              FROM m_rows) r
WHERE p IS NOT NULL AND a IS NOT NULL
GROUP BY kind, bins, c ORDER BY kind, bins;

-- the whole value for 4 bins, and a boolean outcome as an integer
SELECT jsonb_pretty(clv_calibration(predicted, actual, 4)) FROM m_rows;
SELECT clv_calibration(predicted, (actual = 1)::int, 4) = clv_calibration(predicted, actual, 4)
       AS boolean_as_int
FROM m_rows;
-- 10 bins when none are given; tied predictions share a bin
SELECT clv_calibration(predicted, actual) = clv_calibration(predicted, actual, 10) AS default_10
FROM m_rows;
SELECT clv_calibration(p, a, 2) -> 'bins' AS tied_bins
FROM (VALUES (1, 0), (1, 1), (1, 1), (1, 0), (2, 1)) v(p, a);

-- zero rows: NULL; as a window function over growing frames
SELECT clv_calibration(predicted, actual) IS NULL AS zero_rows FROM m_rows WHERE false;
SELECT clv_calibration(predicted, actual) IS NULL AS only_nulls FROM m_rows WHERE actual IS NULL;
SELECT bool_and(w IS NOT DISTINCT FROM (SELECT clv_calibration(predicted, actual, 3) FROM m_rows m2
                                        WHERE m2.i <= m.i)) AS running_matches
FROM (SELECT i, clv_calibration(predicted, actual, 3) OVER (ORDER BY i) AS w FROM m_rows) m;

--------------------------------------------------------------------------------
-- Errors
--------------------------------------------------------------------------------

SELECT what, pg_temp.sqlstate_of(q) AS error
FROM (VALUES
    ('NaN value', $$SELECT clv_psi(v, true) FROM (VALUES (1::float8), ('NaN')) s(v)$$),
    ('Infinity value', $$SELECT clv_psi('Infinity', false)$$),
    ('-Infinity value', $$SELECT clv_psi('-Infinity', true, 5)$$),
    ('bins 1', $$SELECT clv_psi(1, true, 1)$$),
    ('bins 1001', $$SELECT clv_psi(1, true, 1001)$$),
    ('NULL bins', $$SELECT clv_psi(1, true, NULL)$$),
    ('NULL bins, NULL value', $$SELECT clv_psi(NULL, true, NULL)$$),
    ('bins differ', $$SELECT clv_psi(v, true, b) FROM (VALUES (1, 5), (2, 6)) s(v, b)$$),
    ('NaN predicted', $$SELECT clv_calibration('NaN', 1)$$),
    ('Infinity actual', $$SELECT clv_calibration(0.5, 'Infinity', 3)$$),
    ('bins 0', $$SELECT clv_calibration(0.5, 1, 0)$$),
    ('bins differ', $$SELECT clv_calibration(p, 1, b) FROM (VALUES (0.1, 3), (0.2, 4)) s(p, b)$$),
    ('overflowing sums', $$SELECT clv_calibration(p, 0, 2) FROM (VALUES (1e308), (1e308), (1e308)) s(p)$$),
    ('called directly', $$SELECT clv_psi_final(NULL)$$)
) v(what, q);

-- the memory limit: 64 kB hold 4,096 rows
SET clv.max_training_memory = '64kB';
SELECT pg_temp.sqlstate_of($$SELECT clv_psi(i, i % 2 = 0) FROM generate_series(1, 4097) i$$) AS psi,
       pg_temp.sqlstate_of($$SELECT clv_calibration(i, i) FROM generate_series(1, 4097) i$$) AS calibration;
SELECT clv_psi(i, i % 2 = 0) IS NOT NULL AS fits FROM generate_series(1, 4096) i;
RESET clv.max_training_memory;

-- a state of one aggregate in the other's final function
CREATE AGGREGATE pg_temp.psi_state(float8, boolean) (SFUNC = clv_psi_trans, STYPE = clv_state);
CREATE AGGREGATE pg_temp.calibration_from(clv_state) (
    SFUNC = clv_state_combine, STYPE = clv_state, FINALFUNC = clv_calibration_final);
CREATE AGGREGATE pg_temp.psi_from(clv_state) (
    SFUNC = clv_state_combine, STYPE = clv_state, FINALFUNC = clv_psi_final);
SELECT pg_temp.sqlstate_of($$SELECT pg_temp.calibration_from(s) FROM
    (SELECT pg_temp.psi_state(value, is_ref) AS s FROM m_rows) x$$) AS other_aggregate;
-- partial states shipped as text combine to the direct result
SELECT pg_temp.psi_from(s::clv_state ORDER BY g) = (SELECT clv_psi(value, is_ref) FROM m_rows)
       AS shipped_same
FROM (SELECT g, pg_temp.psi_state(value, is_ref)::text AS s FROM m_rows GROUP BY g) x;

--------------------------------------------------------------------------------
-- Forced parallel plans against the serial ones
--------------------------------------------------------------------------------

CREATE TABLE m_par AS
SELECT i, i % 5 AS g,
       CASE WHEN i % 997 = 0 THEN NULL
            ELSE round(((i * 7919) % 10007) / 100.0 + CASE WHEN i % 2 = 0 THEN 3 ELSE 0 END) END::float8 AS value,
       i % 2 = 1 AS is_ref,
       ((i::bigint * 104729) % 1000) / 1000.0::float8 AS predicted,
       (((i * 7919) % 1000) / 1000.0 < ((i::bigint * 104729) % 1000) / 1000.0)::int::float8 AS actual
FROM generate_series(1, 100000) i;
ANALYZE m_par;
CREATE TEMP TABLE m_serial AS
SELECT clv_psi(value, is_ref) AS psi, clv_psi(value, is_ref, 50) AS psi50,
       clv_calibration(predicted, actual, 20) AS cal FROM m_par;
CREATE TEMP TABLE m_serial_groups AS
SELECT g, clv_psi(value, is_ref, 20) AS psi, clv_calibration(predicted, actual) AS cal
FROM m_par GROUP BY g;

\i test/sql/force_parallel.sql
SET enable_hashagg = off;
SELECT * FROM pg_temp.analyzed_plan($$
SELECT clv_psi(value, is_ref), clv_calibration(predicted, actual, 20) FROM m_par$$);
CREATE TEMP TABLE m_parallel AS
SELECT clv_psi(value, is_ref) AS psi, clv_psi(value, is_ref, 50) AS psi50,
       clv_calibration(predicted, actual, 20) AS cal FROM m_par;
CREATE TEMP TABLE m_parallel_groups AS
SELECT g, clv_psi(value, is_ref, 20) AS psi, clv_calibration(predicted, actual) AS cal
FROM m_par GROUP BY g;
-- bins that differ between rows: an error, in a worker's transition or in the
-- leader's combining
\set VERBOSITY terse
SELECT clv_psi(value, is_ref, CASE WHEN i <= 50000 THEN 5 ELSE 6 END) FROM m_par;
\set VERBOSITY default
RESET ALL;
SET extra_float_digits = 0;

SELECT round(s.psi::numeric, 10) AS psi, p.psi = s.psi AS psi_same,
       p.psi50 = s.psi50 AS psi50_same, p.cal = s.cal AS calibration_same,
       (s.cal ->> 'n')::int AS n
FROM m_serial s, m_parallel p;
SELECT g, p.psi = s.psi AS psi_same, p.cal = s.cal AS calibration_same
FROM m_serial_groups s JOIN m_parallel_groups p USING (g) ORDER BY g;

DROP TABLE m_rows, m_par;
