-- clv_state, the transition type of clv's aggregates: partial states shipped
-- as text (as Citus ships them) give the model the aggregate gives directly,
-- and every malformed state is a clean error with its SQLSTATE.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\set VERBOSITY default
SET timezone = 'UTC';

-- a state's bytes, and a state's text from bytes
CREATE FUNCTION pg_temp.flat(s clv_state) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$ SELECT decode(s::text, 'base64') $$;
CREATE FUNCTION pg_temp.text_of(b bytea) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT translate(encode(b, 'base64'), E'\n', '') $$;
-- CRC-32C (Castagnoli) of the payload, written into the header: a changed
-- payload that reaches its family's decoder
CREATE FUNCTION pg_temp.reseal(b bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE crc bigint := 4294967295;
BEGIN
    FOR i IN 12 .. length(b) - 1 LOOP
        crc := crc # get_byte(b, i);
        FOR k IN 1 .. 8 LOOP
            crc := CASE WHEN crc & 1 = 1 THEN (crc >> 1) # 2197175160 ELSE crc >> 1 END;
        END LOOP;
    END LOOP;
    RETURN overlay(b PLACING decode(lpad(to_hex(crc # 4294967295), 8, '0'), 'hex') FROM 9 FOR 4);
END $$;
-- the SQLSTATE, message, detail and hint of a statement's error
CREATE FUNCTION pg_temp.error_of(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE detail text; hint text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' DETAIL: ' || nullif(detail, ''), '')
           || coalesce(' HINT: ' || nullif(hint, ''), '');
END $$;

CREATE TABLE st_rows AS
SELECT i, (i - 1) / 10 AS g,
       2 + 0.5 * (i % 5) - 0.3 * ((i * 7) % 11) + 0.1 * sqrt(i) AS y,
       ARRAY[(i % 5)::float8, ((i * 7) % 11) / 3.0, sqrt(i)] AS x,
       (i * 7) % 5 < 2 AS yb, ((i * 37) % 100) / 100.0::float8 AS score,
       (i % 4)::float8 AS frequency, CASE WHEN i % 4 > 0 THEN (i % 4) * 3.0 + i % 3 ELSE 0 END AS recency,
       20.0 + i % 7 AS t,
       ((i % 7) + 1)::float8 AS gain, ((i % 5) + 1)::float8 AS cost,
       timestamptz '1997-01-01' + ((i * 13) % 300) * interval '1 day' AS ordered_at,
       (5 + i)::float8 AS amount
FROM generate_series(1, 30) i;

-- user aggregates: a family's partial state, and states combined and finalized
CREATE SCHEMA st;
CREATE AGGREGATE st.linreg_state(float8, float8[], jsonb) (
    SFUNC = clv_linreg_fit_trans, STYPE = clv_state);
CREATE AGGREGATE st.linreg_from(clv_state) (
    SFUNC = clv_state_combine, STYPE = clv_state, FINALFUNC = clv_linreg_fit_final);
CREATE AGGREGATE st.logreg_state(boolean, float8[]) (
    SFUNC = clv_logreg_fit_trans, STYPE = clv_state);
CREATE AGGREGATE st.logreg_from(clv_state) (
    SFUNC = clv_state_combine, STYPE = clv_state, FINALFUNC = clv_logreg_fit_final);
CREATE AGGREGATE st.bgnbd_state(float8, float8, float8) (
    SFUNC = clv_bgnbd_fit_trans, STYPE = clv_state);
CREATE AGGREGATE st.btyd_from(clv_state) (
    SFUNC = clv_state_combine, STYPE = clv_state, FINALFUNC = clv_btyd_fit_final);
CREATE AGGREGATE st.auc_state(boolean, float8) (SFUNC = clv_auc_trans, STYPE = clv_state);
CREATE AGGREGATE st.auc_from(clv_state) (
    SFUNC = clv_state_combine, STYPE = clv_state, FINALFUNC = clv_auc_final);
CREATE AGGREGATE st.threshold_state(float8, float8, float8) (
    SFUNC = clv_budget_threshold_trans, STYPE = clv_state);
CREATE AGGREGATE st.threshold_from(clv_state) (
    SFUNC = clv_state_combine, STYPE = clv_state, FINALFUNC = clv_budget_threshold_final);
CREATE AGGREGATE st.summary_state(timestamptz, float8, timestamptz) (
    SFUNC = clv_summary_trans, STYPE = clv_state);
CREATE AGGREGATE st.summary_from(clv_state) (
    SFUNC = clv_state_combine, STYPE = clv_state, FINALFUNC = clv_summary_final);

-- ---- the text round trip ----------------------------------------------------

-- states of three groups of rows, shipped as text, combined in the rows'
-- order: the model of the direct fit, byte for byte
CREATE TABLE st_shipped AS
SELECT g, st.linreg_state(y, x, '{"l2": 0.5, "features": ["a", "b", "c"]}' ORDER BY i)::text AS linreg,
       st.logreg_state(yb, x ORDER BY i)::text AS logreg,
       st.bgnbd_state(frequency, recency, t ORDER BY i)::text AS bgnbd,
       st.auc_state(yb, score ORDER BY i)::text AS auc,
       st.threshold_state(gain, cost, 20 ORDER BY i)::text AS threshold,
       st.summary_state(ordered_at, amount, '1997-12-31' ORDER BY i)::text AS summary
FROM st_rows GROUP BY g;
SELECT count(*) AS groups, bool_and(linreg ~ '^[A-Za-z0-9+/]+=*$') AS base64 FROM st_shipped;
SELECT family, shipped = direct AS same, shipped IS NOT NULL AS fitted
FROM (SELECT md5(st.linreg_from(linreg::clv_state ORDER BY g)) AS linreg_shipped,
             md5(st.logreg_from(logreg::clv_state ORDER BY g)) AS logreg_shipped,
             md5(st.btyd_from(bgnbd::clv_state ORDER BY g)) AS bgnbd_shipped,
             md5(st.auc_from(auc::clv_state ORDER BY g)::text) AS auc_shipped,
             md5(st.threshold_from(threshold::clv_state ORDER BY g)::text) AS threshold_shipped,
             md5(st.summary_from(summary::clv_state ORDER BY g)::text) AS summary_shipped
      FROM st_shipped) s,
     (SELECT md5(clv_linreg_fit(y, x, '{"l2": 0.5, "features": ["a", "b", "c"]}' ORDER BY i)) AS linreg_direct,
             md5(clv_logreg_fit(yb, x ORDER BY i)) AS logreg_direct,
             md5(clv_bgnbd_fit(frequency, recency, t ORDER BY i)) AS bgnbd_direct,
             md5(clv_auc(yb, score ORDER BY i)::text) AS auc_direct,
             md5(clv_budget_threshold(gain, cost, 20 ORDER BY i)::text) AS threshold_direct,
             md5(clv_summary(ordered_at, amount, '1997-12-31' ORDER BY i)::text) AS summary_direct
      FROM st_rows) d,
     LATERAL (VALUES ('linreg', linreg_shipped, linreg_direct),
                     ('logreg', logreg_shipped, logreg_direct),
                     ('bgnbd', bgnbd_shipped, bgnbd_direct),
                     ('auc', auc_shipped, auc_direct),
                     ('threshold', threshold_shipped, threshold_direct),
                     ('summary', summary_shipped, summary_direct)) v(family, shipped, direct);
-- the text form reads back to the same text, and the binary form to the same bytes
SELECT bool_and(linreg::clv_state::text = linreg) AS text_same,
       bool_and(clv_state_send(bgnbd::clv_state) = decode(bgnbd, 'base64')) AS send_same
FROM st_shipped;
-- the header: magic, format version 1, family, byte order of this machine
SELECT f.family, encode(substr(pg_temp.flat(s), 1, 6), 'hex') AS magic_version,
       get_byte(pg_temp.flat(s), 6) AS family_id
FROM st_shipped, LATERAL (VALUES ('linreg', linreg::clv_state), ('logreg', logreg::clv_state),
                                 ('bgnbd', bgnbd::clv_state), ('auc', auc::clv_state),
                                 ('threshold', threshold::clv_state),
                                 ('summary', summary::clv_state)) f(family, s)
WHERE g = 0 ORDER BY family_id;

-- ---- errors of the type input -----------------------------------------------

SELECT 'not base64!'::clv_state;
SELECT 'Q0xWUw=='::clv_state;                            -- "CLVS": too short
SELECT pg_temp.text_of('\x584c56530001020000000000')::clv_state;   -- wrong magic
-- a state of another format version, of an unknown family, of the other
-- byte order, with a payload that does not match its checksum
CREATE TABLE st_bad AS
SELECT pg_temp.flat(linreg::clv_state) AS b FROM st_shipped WHERE g = 0;
SELECT pg_temp.text_of(set_byte(b, 5, 2))::clv_state FROM st_bad;
SELECT pg_temp.text_of(set_byte(b, 6, 200))::clv_state FROM st_bad;
SELECT pg_temp.text_of(set_byte(b, 7, 1 - get_byte(b, 7)))::clv_state FROM st_bad;
SELECT pg_temp.text_of(set_byte(b, 40, get_byte(b, 40) # 1))::clv_state FROM st_bad;
-- the same with their SQLSTATEs; cut or extended, a resealed payload is its
-- family decoder's error
SELECT what, pg_temp.error_of(format('SELECT %L::clv_state', t)) AS error
FROM st_bad, LATERAL (VALUES
    ('not base64', 'not base64!'),
    ('too short', 'Q0xWUw=='),
    ('wrong magic', pg_temp.text_of('\x584c56530001020000000000')),
    ('version 2', pg_temp.text_of(set_byte(b, 5, 2))),
    ('family 200', pg_temp.text_of(set_byte(b, 6, 200))),
    ('family 0', pg_temp.text_of(set_byte(b, 6, 0))),
    ('byte order', pg_temp.text_of(set_byte(b, 7, 1 - get_byte(b, 7)))),
    ('checksum', pg_temp.text_of(set_byte(b, 40, get_byte(b, 40) # 1))),
    ('header only', pg_temp.text_of(pg_temp.reseal(substr(b, 1, 12)))),
    ('cut short', pg_temp.text_of(pg_temp.reseal(substr(b, 1, length(b) - 1)))),
    ('bytes left over', pg_temp.text_of(pg_temp.reseal(b || '\x00'::bytea))),
    ('as another family', pg_temp.text_of(set_byte(b, 6, 6)))) v(what, t);

-- The options inside a state are a jsonb value its family reads: malformed
-- ones are invalid states too, never a crash or an internal error when a
-- function reads them.  The linreg payload: feature count (4 bytes),
-- options length (4), the options' jsonb, here {"l2": 0.5, "features": [...]}
-- in this (little-endian) machine's order: varlena header (bytes 20-23),
-- root header (24-27), the keys' entries (28-35), the values' (36-43).
SELECT what, pg_temp.error_of(format('SELECT st.linreg_from(%L::clv_state)', pg_temp.text_of(pg_temp.reseal(m)))) AS error
FROM st_bad, LATERAL (VALUES
    -- an options length past the end (once an allocation of 2 GB: XX000)
    ('options length', overlay(b PLACING '\x7fffffff' FROM 17 FOR 4)),
    -- the root container's flags both object and array (once XX000)
    ('container flags', set_byte(b, 27, 96)),
    -- a key's length past its container (once a read out of bounds)
    ('child length', overlay(b PLACING '\xffffff0f' FROM 29 FOR 4)),
    -- a varlena header that says compressed
    ('varlena header', set_byte(b, 20, get_byte(b, 20) | 2)),
    -- a key that is a number
    ('numeric key', set_byte(b, 31, 16)),
    -- a digit of 0.5 (bytes 56-63: varlena header, header word, 5000) past 9999
    ('number digit', set_byte(b, 63, 127))) v(what, m);
-- a valid state with options of every kind reads back unchanged; 40
-- feature names need offsets past the 32nd child
SELECT s::clv_state::text = s AS same, length(s) > 400 AS long
FROM (SELECT st.linreg_state(y, x, jsonb_build_object(
                 'l2', 1e300, 'features', (SELECT jsonb_agg('név ' || k) FROM generate_series(1, 40) k)))::text AS s
      FROM (SELECT 1.0::float8 AS y, array_fill(0.5::float8, ARRAY[40]) AS x) r) q;

-- ---- a state of another aggregate (42804) ------------------------------------

SELECT pg_temp.error_of(format('SELECT st.auc_from(%L::clv_state)', linreg)) AS final,
       pg_temp.error_of(format('SELECT st.linreg_from(s::clv_state ORDER BY k) FROM (VALUES (1, %L), (2, %L)) v(k, s)',
                               linreg, auc)) AS combine
FROM st_shipped WHERE g = 0;
-- as the initial value of another family's transition function, and of its
-- own: then the initial state and the rows make one fit
DO $$
DECLARE s text := (SELECT linreg FROM st_shipped WHERE g = 0);
BEGIN
    EXECUTE format('CREATE AGGREGATE st.auc_after(boolean, float8) (SFUNC = clv_auc_trans, '
                   'STYPE = clv_state, INITCOND = %L, FINALFUNC = clv_auc_final)', s);
    EXECUTE format('CREATE AGGREGATE st.linreg_after(float8, float8[], jsonb) (SFUNC = clv_linreg_fit_trans, '
                   'STYPE = clv_state, INITCOND = %L, FINALFUNC = clv_linreg_fit_final)', s);
END $$;
SELECT pg_temp.error_of('SELECT st.auc_after(yb, score) FROM st_rows') AS init;
SELECT st.linreg_after(y, x, '{"l2": 0.5, "features": ["a", "b", "c"]}' ORDER BY i)
       = (SELECT clv_linreg_fit(y, x, '{"l2": 0.5, "features": ["a", "b", "c"]}' ORDER BY i) FROM st_rows)
       AS same_fit
FROM st_rows WHERE g > 0;
-- a Gini state is of the AUC's family, but not of its aggregate
CREATE AGGREGATE st.gini_state(float8, float8) (SFUNC = clv_gini_trans, STYPE = clv_state);
SELECT pg_temp.error_of(format('SELECT st.auc_from(%L::clv_state)', st.gini_state(y, score)::text)) AS gini_as_auc
FROM st_rows;

-- ---- support functions outside an aggregate (0A000) -------------------------

SELECT pg_temp.error_of('SELECT clv_linreg_fit_final(NULL::clv_state)') AS final,
       pg_temp.error_of('SELECT clv_state_combine(NULL, NULL)') AS combine,
       pg_temp.error_of('SELECT clv_linreg_fit_trans(NULL, 1, ''{1}'')') AS trans;
SELECT clv_state_combine(linreg::clv_state, linreg::clv_state) FROM st_shipped WHERE g = 0;

-- A state from outside whose options name one feature where its rows have three
-- (found by the fuzzer; its final function indexed past the names): an error
SELECT pg_temp.error_of($q$SELECT st.linreg_from('Q0xWUwABAgARtECFAAAAAwAAAD/8AAAAAgAAIAIAAIAIAAAACgAAEBMAAFBsMmZlYXR1cmVzAAAgAAAA/4CIEwEAAEABAACAAQAAAAEAAABhYmNAIAAAAAAAAAAAAAAAAAAAQDEAAAAAAAAAAAAAAAAAAEAiqqqqqqqrvMIAAAAAAABAOXaASI/+7gAAAAAAAAAAQDKlczp0zLE85AAAAAAAAEBJgAAAAAAAAAAAAAAAAABAMqqqqqqqq7zSAAAAAAAAQEv2WMKT3KK8/gAAAAAAAEBIJW9GqGLdPOgAAAAAAABALxxxxxxxybzoHHHHHHHGQDavOaTE33285RIiLkTLckAwRLj24HzAvL2F+TYU5whAVwAAAAAAADz7DZU+nCj/QFDrAvZAqr082uOHKrraTkBKyD6f8OgkvPR8cH59VsY='::clv_state)$q$) AS names_of_other_width;

-- ---- NULL --------------------------------------------------------------------

SELECT NULL::clv_state IS NULL AS null_in, clv_state_send(NULL) IS NULL AS null_send;
-- NULL states are skipped; no state at all is the fit of no rows
SELECT st.linreg_from(s ORDER BY k) = (SELECT st.linreg_from(linreg::clv_state) FROM st_shipped WHERE g = 1) AS nulls_skipped
FROM (VALUES (1, NULL::clv_state), (2, (SELECT linreg::clv_state FROM st_shipped WHERE g = 1)),
             (3, NULL)) v(k, s);
SELECT st.auc_from(s) IS NULL AS no_state FROM (VALUES (NULL::clv_state)) v(s);
SELECT pg_temp.error_of('SELECT st.linreg_from(s) FROM (VALUES (NULL::clv_state)) v(s)') AS linreg_no_state;

SET client_min_messages = warning;
DROP SCHEMA st CASCADE;
RESET client_min_messages;
DROP TABLE st_rows, st_shipped, st_bad;
