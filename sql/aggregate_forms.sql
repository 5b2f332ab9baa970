-- Every aggregate of the extension, found from the catalog, in every form
-- PostgreSQL allows: plain, as a window function over the whole partition,
-- over a growing frame (the final function runs again after more rows), over
-- a sliding frame (the state restarts), with the default ORDER BY frame
-- (first frames of one row), with FILTER (WHERE false) and on zero rows.
-- Each form must give what the plain aggregate gives over the same rows, or
-- a clear error; never a crash and never an internal error.  A new aggregate
-- is covered without editing this file: its arguments come from their names
-- and types (pg_temp.arg_for), and its row appears in the output.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
SET timezone = 'UTC';

-- 39 CDNOW customers (every 60th) with columns for every argument; frames of
-- at least 26 of them, on which every fit converges quickly
\set cbs forms_cbs
\i test/data/cdnow_cbs.sql
CREATE TABLE forms_rows AS
SELECT row_number() OVER (ORDER BY cust)::int AS i, x::float8 AS frequency, t_x AS recency,
       t_cal AS t, CASE WHEN x > 0 THEN m_x ELSE 15 END AS monetary,
       m_x * x + t_cal AS y_float8, x_star > 0 AS y_bool,
       ARRAY[x, t_x, t_cal, (cust * 7919) % 97]::float8[] AS x_array,
       x::float8 + 0.5 AS prediction, 1 - exp(-0.4 * (x + 0.5)) AS probability,
       '1997-01-01'::timestamptz + (cust % 300) * interval '1 day' AS ordered_at,
       m_x + 1 AS amount, (cust % 13)::float8 AS acquired
FROM forms_cbs WHERE cust % 60 = 1;
CREATE TABLE forms_model AS SELECT clv_bgnbd_fit(x, t_x, t_cal) AS model FROM forms_cbs;

-- The expression for an argument, from its name and type (and, where a name
-- means different things, the aggregate's)
CREATE FUNCTION pg_temp.arg_for(name text, type regtype, agg text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
SELECT CASE
    WHEN type = 'bytea'::regtype THEN '(SELECT model FROM forms_model)'
    WHEN type = 'jsonb'::regtype THEN '''{}''::jsonb'
    -- a state of the row alone, which clv_state_merge adds up
    WHEN type = 'clv_state'::regtype THEN
        '(SELECT clv_linreg_stats(v.y, v.x) FROM (VALUES (y_float8, x_array)) v(y, x))'
    WHEN type = 'float8[]'::regtype AND name = 'purchase_covariates' THEN 'ARRAY[(i % 2)::float8]'
    WHEN type = 'float8[]'::regtype AND name = 'dropout_covariates' THEN 'ARRAY[(i / 2 % 2)::float8]'
    WHEN type = 'float8[]'::regtype THEN 'x_array'
    WHEN type = 'interval'::regtype AND name = 'unit' THEN '''7 days''::interval'
    WHEN type = 'interval'::regtype THEN '''1 day''::interval'
    -- sBG periods vary by customer; clv_cumulative_expected_purchases's are one horizon
    WHEN type = 'integer'::regtype AND name = 'periods' AND agg LIKE 'clv_sbg%' THEN '(i % 8 + 1)'
    WHEN type = 'integer'::regtype THEN '6'
    WHEN type = 'bigint'::regtype AND name = 'customer' THEN '(i / 3)::bigint'
    WHEN type = 'bigint'::regtype AND name = 'customers' THEN '(i % 4 + 1)::bigint'
    WHEN type = 'text'::regtype AND name = 'segment' THEN '(''s'' || i % 4)'
    WHEN type = 'timestamptz'::regtype THEN
        CASE name WHEN 'ordered_at' THEN 'ordered_at'
                  WHEN 'observation_end' THEN '''1997-12-31''::timestamptz'
                  ELSE '''1997-09-30''::timestamptz' END
    WHEN type = 'boolean'::regtype AND name = 'treated' THEN '(i % 2 = 0)'
    WHEN type = 'boolean'::regtype AND name = 'churned' THEN '(i % 8 < 3)'
    WHEN type = 'boolean'::regtype THEN 'y_bool'
    WHEN type = 'float8'::regtype THEN
        CASE name WHEN 'frequency' THEN 'frequency' WHEN 'recency' THEN 'recency'
                  WHEN 't' THEN 't' WHEN 'monetary' THEN 'monetary'
                  -- BG/BB: whole opportunities, at most one purchase each
                  WHEN 'n' THEN 'ceil(t)' WHEN 'customers' THEN '(1 + i % 3)::float8'
                  WHEN 'amount' THEN 'amount' WHEN 'acquired' THEN 'acquired'
                  WHEN 'period' THEN '1.0::float8'
                  WHEN 'prediction' THEN 'prediction' WHEN 'predicted' THEN 'prediction'
                  WHEN 'probability' THEN 'probability' WHEN 'score' THEN 'probability'
                  WHEN 'outcome' THEN 'frequency'
                  WHEN 'spend' THEN 'recency' WHEN 'response' THEN 'amount'
                  WHEN 'gain' THEN 'y_float8' WHEN 'cost' THEN 't'
                  WHEN 'budget' THEN '100.0::float8'
                  ELSE 'y_float8' END
END $$;

CREATE TABLE forms_calls AS
SELECT replace(replace(p.oid::regprocedure::text, 'double precision', 'float8'),
               'timestamp with time zone', 'timestamptz') AS aggregate,
       format('%I(%s)', p.proname,
              string_agg(coalesce(pg_temp.arg_for(n.name, n.type, p.proname),
                                  format('(no argument for %s %s)', n.name, n.type)),
                         ', ' ORDER BY n.k)) AS call
FROM pg_aggregate a
JOIN pg_proc p ON p.oid = a.aggfnoid
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'clv'
CROSS JOIN LATERAL unnest(p.proargnames, p.proargtypes::regtype[]) WITH ORDINALITY n(name, type, k)
GROUP BY p.oid, p.proname;
-- BG/BB counts opportunities: recency whole, frequency at most recency
UPDATE forms_calls
SET call = replace(call, 'frequency, recency', 'least(frequency, ceil(recency)), ceil(recency)')
WHERE call LIKE 'clv_bgbb_fit(%';

-- The value of a query as text, or its error's SQLSTATE
CREATE FUNCTION pg_temp.outcome(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE v text;
BEGIN
    EXECUTE q INTO v;
    RETURN coalesce(v, 'NULL');
EXCEPTION WHEN OTHERS THEN
    RETURN 'error ' || SQLSTATE;
END $$;

-- A window form: 'same' when every row's value equals the plain aggregate's
-- over that row's frame, else 'DIFFERS', or the error.  frame_rows is the
-- WHERE clause, over w2, that selects the frame of row r.
CREATE FUNCTION pg_temp.window_outcome(call text, filter text, win text, frame_rows text)
RETURNS text LANGUAGE sql AS $$
SELECT pg_temp.outcome(format(
    'SELECT CASE WHEN bool_and(r.w IS NOT DISTINCT FROM
                     (SELECT (%1$s %2$s)::text FROM forms_rows w2 WHERE %4$s))
            THEN ''same'' ELSE ''DIFFERS'' END
     FROM (SELECT i, (%1$s %2$s OVER (%3$s))::text AS w FROM forms_rows) r',
    call, filter, win, frame_rows)) $$;

CREATE TABLE forms_outcomes AS
SELECT aggregate,
       pg_temp.outcome(format('SELECT (%s)::text FROM forms_rows', call)) AS plain,
       pg_temp.window_outcome(call, '', '', 'true') AS over_all,
       pg_temp.window_outcome(call, '', 'ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND 25 FOLLOWING',
                              'w2.i <= r.i + 25') AS growing,
       pg_temp.window_outcome(call, '', 'ORDER BY i ROWS BETWEEN 25 PRECEDING AND 25 FOLLOWING',
                              'w2.i BETWEEN r.i - 25 AND r.i + 25') AS sliding,
       pg_temp.window_outcome(call, '', 'ORDER BY i', 'w2.i <= r.i') AS running,
       pg_temp.window_outcome(call, 'FILTER (WHERE false)', '', 'false') AS filter_false,
       pg_temp.outcome(format('SELECT (%s)::text FROM forms_rows WHERE false', call)) AS zero_rows,
       pg_temp.outcome(format('SELECT count(*)::text FROM (SELECT %s OVER () FROM forms_rows WHERE false) s',
                              call)) AS zero_rows_window
FROM forms_calls;

SELECT aggregate,
       CASE WHEN plain LIKE 'error%' THEN plain ELSE 'ok' END AS plain,
       over_all, growing, sliding, running, filter_false,
       CASE WHEN zero_rows LIKE 'error%' OR zero_rows = 'NULL' THEN zero_rows ELSE 'a value' END
           AS zero_rows,
       zero_rows_window
FROM forms_outcomes ORDER BY aggregate;

-- no form is an internal error, every aggregate got arguments, and the
-- aggregates that fit on these rows do fit
SELECT count(*) AS aggregates,
       count(*) FILTER (WHERE concat_ws(' ', plain, over_all, growing, sliding, running,
                                        filter_false, zero_rows, zero_rows_window) ~ 'error XX') AS internal_errors,
       count(*) FILTER (WHERE plain LIKE 'error%') AS plain_errors,
       count(*) FILTER (WHERE concat_ws(' ', over_all, growing, sliding) LIKE '%DIFFERS%') AS windows_differing
FROM forms_outcomes;
SELECT aggregate, call FROM forms_calls WHERE call LIKE '%(no argument for%';

DROP TABLE forms_cbs, forms_rows, forms_model, forms_calls, forms_outcomes;
