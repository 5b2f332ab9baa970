-- The model container: clv_model_info of each kind, the byte layout read
-- back in SQL, a model built by hand, and malformed bytea fed straight to
-- clv_predict and clv_model_info: each gives a clear error, never a crash.
SET client_min_messages = warning;   -- quiet whichever test creates the extension first
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;

-- little-endian integers, read and written
CREATE FUNCTION pg_temp.u16(b bytea, off bigint) RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT get_byte(b, off::int) | (get_byte(b, off::int + 1) << 8) $$;
CREATE FUNCTION pg_temp.u32(b bytea, off bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS
$$ SELECT get_byte(b, off::int)::bigint | (get_byte(b, off::int + 1)::bigint << 8)
          | (get_byte(b, off::int + 2)::bigint << 16) | (get_byte(b, off::int + 3)::bigint << 24) $$;
\i test/sql/model_bytes.sql
CREATE FUNCTION pg_temp.le16(v int) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$ SELECT substring(pg_temp.le32(v) FROM 1 FOR 2) $$;
-- A model from its parts.  Format version 2: header bytes 0..19, the CRC-32C
-- of those bytes and the digest, the digest (SHA-256 of bytes 0..19 and the
-- body), then the body.  Version 1: header bytes 0..19, the CRC-32C of those
-- bytes and the body, then the body.
CREATE FUNCTION pg_temp.seal(kind int, n_features bigint, body bytea,
                             version int DEFAULT 2, flags bigint DEFAULT 0) RETURNS bytea
LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN version >= 2
               THEN h || pg_temp.le32(pg_temp.crc32c(h || sha256(h || body))) || sha256(h || body) || body
               ELSE h || pg_temp.le32(pg_temp.crc32c(h || body)) || body END
   FROM (SELECT 'CLVM'::bytea || pg_temp.le16(version) || pg_temp.le16(kind) || pg_temp.le32(flags)
                || pg_temp.le32(n_features) || pg_temp.le32(length(body)) AS h) q $$;
-- where the body starts: after 56 header bytes (version 2) or 24 (version 1)
CREATE FUNCTION pg_temp.body_at(m bytea) RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN pg_temp.u16(m, 4) >= 2 THEN 56 ELSE 24 END $$;
-- the same model with its length, digest and checksum made valid again
CREATE FUNCTION pg_temp.reseal(m bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE AS
$$ SELECT pg_temp.seal(pg_temp.u16(m, 6), pg_temp.u32(m, 12), substring(m FROM pg_temp.body_at(m) + 1),
                       pg_temp.u16(m, 4), pg_temp.u32(m, 8)) $$;
-- a length-prefixed section
CREATE FUNCTION pg_temp.sect(b bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$ SELECT pg_temp.le32(length(b)) || b $$;
-- Outcome of scoring or describing a value, errors caught (with the detail
-- of the model errors).  EXECUTE plans each call afresh, so clv_predict's
-- per-query cache starts empty each time.
CREATE FUNCTION pg_temp.try_predict(m bytea, x float8[]) RETURNS text
LANGUAGE plpgsql AS
$$ DECLARE r float8; d text;
   BEGIN
       EXECUTE 'SELECT clv_predict($1, $2)' INTO r USING m, x;
       RETURN 'ok';
   EXCEPTION WHEN OTHERS THEN
       GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
       RETURN SQLSTATE || ' ' || SQLERRM
              || CASE WHEN SQLSTATE IN ('22P03', '0A000') AND d <> '' THEN ': ' || d ELSE '' END;
   END $$;
CREATE FUNCTION pg_temp.try_info(m bytea) RETURNS text
LANGUAGE plpgsql AS
$$ DECLARE r jsonb; d text;
   BEGIN
       EXECUTE 'SELECT clv_model_info($1)' INTO r USING m;
       RETURN 'ok';
   EXCEPTION WHEN OTHERS THEN
       GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
       RETURN SQLSTATE || ' ' || SQLERRM
              || CASE WHEN SQLSTATE IN ('22P03', '0A000') AND d <> '' THEN ': ' || d ELSE '' END;
   END $$;

CREATE TABLE model_data AS
SELECT i, ARRAY[sin(i), cos(2 * i), (i % 5) / 5.0]::float8[] AS x,
       1 + sin(i) - cos(2 * i) + 0.4 * sin(3.3 * i * i) AS y
FROM generate_series(1, 200) i;
CREATE TABLE model_models AS
SELECT 'linreg' AS kind, clv_linreg_fit(y, x, '{"features": ["recency", "frequency", "monetary"]}') AS m
FROM model_data
UNION ALL
SELECT 'logreg', clv_logreg_fit(y > 1, x) FROM model_data;

--------------------------------------------------------------------------------
-- clv_model_info of each kind
--------------------------------------------------------------------------------
SELECT kind, j ->> 'kind' AS info_kind, j -> 'format_version' AS format_version,
       j -> 'n_features' AS n_features, j -> 'features' AS features, j -> 'n' AS n,
       j -> 'options' AS options
FROM model_models, clv_model_info(m) j ORDER BY kind;
SELECT kind, jsonb_array_length(j -> 'coefficients') AS coefficients,
       jsonb_typeof(j -> 'std_errors') AS std_errors, jsonb_typeof(j -> 'p_values') AS p_values,
       j ? 'r2' AS has_r2, j ? 'converged' AS has_converged
FROM model_models, clv_model_info(m) j ORDER BY kind;

--------------------------------------------------------------------------------
-- The byte layout (doc/model-format.md), read back in SQL
--------------------------------------------------------------------------------
SELECT kind,
       substring(m FROM 1 FOR 4) = 'CLVM'::bytea AS magic,
       pg_temp.u16(m, 4) AS version, pg_temp.u16(m, 6) AS kind_code, pg_temp.u32(m, 8) AS flags,
       pg_temp.u32(m, 12) AS n_features,
       pg_temp.u32(m, 16) = length(m) - 56 AS body_length_ok,
       pg_temp.u32(m, 20) = pg_temp.crc32c(substring(m FROM 1 FOR 20) || substring(m FROM 25 FOR 32)) AS crc_ok,
       substring(m FROM 25 FOR 32) = sha256(substring(m FROM 1 FOR 20) || substring(m FROM 57)) AS digest_ok,
       pg_temp.reseal(m) = m AS reseal_is_identity
FROM model_models ORDER BY kind;
-- body: feature names, metadata JSON, then the coefficients
WITH s AS (
    SELECT kind, m, pg_temp.u32(m, 56) AS names FROM model_models
), n AS (       -- offset of the metadata section: after the names
    SELECT kind, m, names,
           CASE names WHEN 0 THEN 60
                ELSE 60 + 4 * names + (SELECT sum(l) FROM (
                    WITH RECURSIVE r(k, off, l) AS (
                        SELECT 1, 60::bigint, pg_temp.u32(m, 60)
                        UNION ALL
                        SELECT k + 1, off + 4 + l, pg_temp.u32(m, off + 4 + l)
                        FROM r WHERE k < names)
                    SELECT l FROM r) q)::bigint END AS meta_off
    FROM s
)
SELECT kind, names,
       convert_from(substring(m FROM meta_off::int + 5 FOR pg_temp.u32(m, meta_off)::int), 'UTF8')::jsonb -> 'coefficients'
           = clv_model_info(m) -> 'coefficients' AS metadata_json,
       pg_temp.u32(m, meta_off + 4 + pg_temp.u32(m, meta_off)) AS payload_length,
       pg_temp.u32(m, meta_off + 8 + pg_temp.u32(m, meta_off)) AS coefficient_count
FROM n ORDER BY kind;

--------------------------------------------------------------------------------
-- A model built by hand: two features, no names, metadata {}, and the
-- coefficients (1, 2, 0.5) as little-endian IEEE doubles.
--------------------------------------------------------------------------------
CREATE TABLE model_parts AS
SELECT pg_temp.le32(0) AS no_names,
       pg_temp.sect('{}'::bytea) AS meta,
       pg_temp.sect(pg_temp.le32(3) || '\x000000000000f03f'::bytea || '\x0000000000000040'::bytea
                    || '\x000000000000e03f'::bytea) AS payload;
SELECT clv_predict(pg_temp.seal(1, 2, no_names || meta || payload), '{1, 1}') AS linear,
       clv_predict(pg_temp.seal(1, 2, no_names || meta || payload), '{-2, 4}') AS linear2,
       abs(clv_predict(pg_temp.seal(2, 2, no_names || meta || payload), '{1, 1}') - 1 / (1 + exp(-3.5))) < 1e-15 AS logistic,
       clv_model_info(pg_temp.seal(1, 2, no_names || meta || payload)) AS info
FROM model_parts;
-- with names; metadata keys never override the container's own
SELECT clv_model_info(pg_temp.seal(2, 2, pg_temp.le32(2) || pg_temp.sect('a'::bytea) || pg_temp.sect('b'::bytea)
                                   || pg_temp.sect('{"kind": "forged", "n_features": 7, "note": 1}'::bytea) || payload)) AS info
FROM model_parts;

-- Golden models: bytes written by clv 0.1.0 (format version 1).  Every later
-- version must read them and score them the same; never regenerate these.
-- linreg y ~ x on (0, 1), (1, 3), (2, 5.5); logreg on six points.
CREATE TABLE model_golden (kind text, version int, m bytea);
INSERT INTO model_golden VALUES
('linreg', 1, pg_temp.golden_linreg_v1()),
('logreg', 1, decode(
    '434c564d0100020000000000010000001d0200009bb7aa38010000000100000078f80100007b226e223a20362c20226c' ||
    '32223a20302c20226f7074696f6e73223a207b226665617475726573223a205b2278225d7d2c20227465726d73223a20' ||
    '5b2228696e7465726365707429222c202278225d2c2022636f656666696369656e7473223a205b302e34363531383936' ||
    '363939353334323433372c202d302e33343937333931313538303335353239395d2c20227374645f6572726f7273223a' ||
    '205b312e343030363832303035323338383732342c20302e38353331383331333537313334343435315d2c20227a5f76' ||
    '616c756573223a205b302e33333231313635343632333439383237372c202d302e343039393232363737393835333032' ||
    '35325d2c2022705f76616c756573223a205b302e37333938303132353634393437333336312c20302e36383138363236' ||
    '363930333738363436335d2c2022636f6e646974696f6e5f6e756d626572223a20312c20226c6f675f6c696b656c6968' ||
    '6f6f64223a202d342e303732333137393134383637313934342c202264657669616e6365223a20382e31343436333538' ||
    '3239373334333838382c20226e756c6c5f64657669616e6365223a20382e3331373736363136363731393334332c2022' ||
    '616963223a2031322e3134343633353832393733343338392c2022697465726174696f6e73223a20342c2022636f6e76' ||
    '6572676564223a20747275657d140000000200000078c4b8e4aac5dd3fa086202c2062d6bf', 'hex')),
-- The same models as clv 0.2.0 writes them (format version 2): the same body
-- after a 56-byte header with the SHA-256 digest.  Never regenerate these.
('linreg', 2, decode(
    '434c564d0200010000000000010000001d02000087075736aadc9650a75517403b0cf6cae3defa335856c8a73f52c733' ||
    '8623ce74429753ff010000000100000078f80100007b226e223a20332c20226c32223a20302c20226f7074696f6e7322' ||
    '3a207b226665617475726573223a205b2278225d7d2c20227465726d73223a205b2228696e7465726365707429222c20' ||
    '2278225d2c2022636f656666696369656e7473223a205b302e39313636363636363636363636363636332c20322e3235' ||
    '5d2c20227374645f6572726f7273223a205b302e31383633333839393831323439383234352c20302e31343433333735' ||
    '363732393734303634335d2c2022745f76616c756573223a205b342e393139333439353530343939353337392c203135' ||
    '2e3538383435373236383131393839365d2c2022705f76616c756573223a205b302e3132373637313737363730383132' ||
    '3739362c20302e3034303738333239343533363833343530355d2c2022636f6e646974696f6e5f6e756d626572223a20' ||
    '312c20227232223a20302e39393539303136333933343432363233352c202261646a5f7232223a20302e393931383033' ||
    '32373836383835323436392c2022727373223a20302e3034313636363636363636363636363636342c20227369676d61' ||
    '223a20302e32303431323431343532333139333135312c202264665f7265736964223a20312c2022665f737461746973' ||
    '746963223a203234332c2022665f705f76616c7565223a20302e3034303738333239343533363833343530357d140000' ||
    '0002000000555555555555ed3f0000000000000240', 'hex')),
('logreg', 2, decode(
    '434c564d0200020000000000010000001d020000887795f2cf49ee20c6e47d0e9ad41eadfeeda8cdccac422826558fd2' ||
    '717f4d81360c8710010000000100000078f80100007b226e223a20362c20226c32223a20302c20226f7074696f6e7322' ||
    '3a207b226665617475726573223a205b2278225d7d2c20227465726d73223a205b2228696e7465726365707429222c20' ||
    '2278225d2c2022636f656666696369656e7473223a205b302e34363531383936363939353334323433372c202d302e33' ||
    '343937333931313538303335353239395d2c20227374645f6572726f7273223a205b312e343030363832303035323338' ||
    '383732342c20302e38353331383331333537313334343435315d2c20227a5f76616c756573223a205b302e3333323131' ||
    '3635343632333439383237372c202d302e34303939323236373739383533303235325d2c2022705f76616c756573223a' ||
    '205b302e37333938303132353634393437333336312c20302e36383138363236363930333738363436335d2c2022636f' ||
    '6e646974696f6e5f6e756d626572223a20312c20226c6f675f6c696b656c69686f6f64223a202d342e30373233313739' ||
    '3134383637313934342c202264657669616e6365223a20382e313434363335383239373334333838382c20226e756c6c' ||
    '5f64657669616e6365223a20382e3331373736363136363731393334332c2022616963223a2031322e31343436333538' ||
    '32393733343338392c2022697465726174696f6e73223a20342c2022636f6e766572676564223a20747275657d140000' ||
    '000200000078c4b8e4aac5dd3fa086202c2062d6bf', 'hex'));

--------------------------------------------------------------------------------
-- Malformed values, each given to clv_predict and to clv_model_info
--------------------------------------------------------------------------------
-- empty, random bytes, a foreign bytea short and long
SELECT clv_predict('\x'::bytea, '{1, 2, 3}');
SELECT clv_model_info('\x'::bytea);
SELECT clv_predict(sha256('random'), '{1, 2, 3}');
SELECT clv_model_info(sha256('random') || sha256('bytes'));
SELECT clv_predict(convert_to('hello world', 'UTF8'), '{1, 2, 3}');
SELECT clv_model_info(convert_to('hello world, this is not a model at all', 'UTF8'));
-- truncated real models
SELECT clv_predict(substring(m FROM 1 FOR 3), '{1, 2, 3}') FROM model_models WHERE kind = 'linreg';
SELECT clv_predict(substring(m FROM 1 FOR 23), '{1, 2, 3}') FROM model_models WHERE kind = 'linreg';
SELECT clv_predict(substring(m FROM 1 FOR 24), '{1, 2, 3}') FROM model_models WHERE kind = 'linreg';
SELECT clv_predict(substring(m FROM 1 FOR 56), '{1, 2, 3}') FROM model_models WHERE kind = 'linreg';
SELECT clv_model_info(substring(m FROM 1 FOR 100)) FROM model_models WHERE kind = 'linreg';
SELECT clv_model_info(substring(m FROM 1 FOR length(m) - 1)) FROM model_models WHERE kind = 'logreg';
-- one byte of the digest changed: the header's checksum no longer matches
SELECT clv_predict(set_byte(m, 30, get_byte(m, 30) # 1), '{1, 2, 3}') FROM model_models WHERE kind = 'linreg';
-- one byte changed in the body: the digest no longer matches
SELECT clv_predict(set_byte(m, 70, get_byte(m, 70) # 1), '{1, 2, 3}') FROM model_models WHERE kind = 'linreg';
SELECT clv_model_info(set_byte(m, length(m) - 1, get_byte(m, length(m) - 1) # 128)) FROM model_models WHERE kind = 'logreg';
-- the same in a version-1 model: its checksum covers the body
SELECT clv_predict(set_byte(m, 30, get_byte(m, 30) # 1), '{1.5}') FROM model_golden WHERE kind = 'linreg' AND version = 1;
-- the checksum field itself changed
SELECT clv_predict(set_byte(m, 21, get_byte(m, 21) # 1), '{1, 2, 3}') FROM model_models WHERE kind = 'logreg';
-- a byte appended (the body length no longer matches)
SELECT clv_model_info(m || '\x00'::bytea) FROM model_models WHERE kind = 'linreg';
-- the magic changed
SELECT clv_predict(set_byte(m, 0, ascii('X')), '{1, 2, 3}') FROM model_models WHERE kind = 'linreg';
SELECT clv_model_info(overlay(m PLACING 'clvm'::bytea FROM 1 FOR 4)) FROM model_models WHERE kind = 'logreg';
-- a future format version, with and without a valid checksum; version 0
SELECT clv_predict(set_byte(m, 4, 3), '{1, 2, 3}') FROM model_models WHERE kind = 'linreg';
SELECT clv_model_info(pg_temp.reseal(set_byte(set_byte(m, 4, 0), 5, 1))) FROM model_models WHERE kind = 'logreg';
SELECT clv_predict(pg_temp.reseal(set_byte(m, 4, 0)), '{1, 2, 3}') FROM model_models WHERE kind = 'linreg';
-- an unknown kind, nonzero flags (checksums valid)
SELECT clv_predict(pg_temp.reseal(set_byte(m, 6, 99)), '{1, 2, 3}') FROM model_models WHERE kind = 'linreg';
SELECT clv_model_info(pg_temp.reseal(set_byte(m, 6, 0))) FROM model_models WHERE kind = 'logreg';
SELECT clv_predict(pg_temp.reseal(set_byte(m, 11, 128)), '{1, 2, 3}') FROM model_models WHERE kind = 'linreg';
SELECT clv_model_info(pg_temp.reseal(set_byte(m, 8, 1))) FROM model_models WHERE kind = 'logreg';
-- feature count in the header: changed, zero, huge (checksums valid)
SELECT clv_predict(pg_temp.reseal(set_byte(m, 12, 2)), '{1, 2}') FROM model_models WHERE kind = 'logreg';
SELECT clv_model_info(pg_temp.reseal(set_byte(m, 12, 0))) FROM model_models WHERE kind = 'logreg';
SELECT clv_model_info(pg_temp.reseal(set_byte(m, 15, 1))) FROM model_models WHERE kind = 'linreg';
-- the body length field disagreeing with the value
SELECT clv_predict(set_byte(m, 16, get_byte(m, 16) # 4), '{1, 2, 3}') FROM model_models WHERE kind = 'linreg';

-- Hand-built bodies with valid checksums: every section's checks
SELECT 'names: count differs from features' AS test, pg_temp.try_predict(b, '{1, 1}') AS predict, pg_temp.try_info(b) AS info
FROM model_parts, pg_temp.seal(1, 2, pg_temp.le32(1) || pg_temp.sect('a'::bytea) || meta || payload) b
UNION ALL
SELECT 'names: a name over 1024 bytes', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, pg_temp.le32(2) || pg_temp.sect(convert_to(repeat('n', 1025), 'UTF8'))
                                     || pg_temp.sect('b'::bytea) || meta || payload) b
UNION ALL
SELECT 'names: a length past the end', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, pg_temp.le32(2) || pg_temp.sect('a'::bytea) || pg_temp.le32(1000) || 'b'::bytea) b
UNION ALL
SELECT 'names: a zero byte in a name', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, pg_temp.le32(2) || pg_temp.sect('a'::bytea) || pg_temp.sect('\x620063'::bytea)
                                     || meta || payload) b
UNION ALL
SELECT 'names: count 4294967295', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, pg_temp.le32(4294967295) || meta || payload) b
UNION ALL
SELECT 'body: empty', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM pg_temp.seal(1, 2, '\x'::bytea) b
UNION ALL
SELECT 'meta: length 4294967295', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || pg_temp.le32(4294967295) || '{}'::bytea || payload) b
UNION ALL
SELECT 'meta: a zero byte', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || pg_temp.sect('\x7b007d'::bytea) || payload) b
UNION ALL
SELECT 'meta: a JSON array', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || pg_temp.sect('[1, 2]'::bytea) || payload) b
UNION ALL
SELECT 'payload: length past the end', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || meta || pg_temp.le32(29) || substring(payload FROM 5)) b
UNION ALL
SELECT 'payload: missing', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || meta) b
UNION ALL
SELECT 'payload: empty', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || meta || pg_temp.le32(0)) b
UNION ALL
SELECT 'body: bytes after the payload', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || meta || payload || '\x00'::bytea) b
UNION ALL
SELECT 'payload: bytes after the coefficients', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || meta || pg_temp.sect(substring(payload FROM 5) || '\x00'::bytea)) b
UNION ALL
SELECT 'payload: 2 coefficients for 2 features', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || meta || pg_temp.sect(pg_temp.le32(2) || substring(payload FROM 9 FOR 16))) b
UNION ALL
SELECT 'payload: coefficients truncated', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || meta || pg_temp.sect(substring(payload FROM 5 FOR 20))) b
UNION ALL
SELECT 'payload: count 4294967295', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || meta || pg_temp.sect(pg_temp.le32(4294967295) || substring(payload FROM 9))) b
UNION ALL
SELECT 'payload: a NaN coefficient', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || meta || pg_temp.sect(substring(payload FROM 5 FOR 12)
                                     || '\x000000000000f87f'::bytea || substring(payload FROM 25))) b
UNION ALL
SELECT 'payload: an infinite coefficient', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || meta || pg_temp.sect(substring(payload FROM 5 FOR 20)
                                     || '\x000000000000f0ff'::bytea)) b
UNION ALL
SELECT 'header: no features', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 0, no_names || meta || pg_temp.sect(pg_temp.le32(1) || '\x000000000000f03f'::bytea)) b
UNION ALL
SELECT 'header: 10001 features', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 10001, no_names || meta || payload) b
UNION ALL
SELECT 'valid: the hand-built model', pg_temp.try_predict(b, '{1, 1}'), pg_temp.try_info(b)
FROM model_parts, pg_temp.seal(1, 2, no_names || meta || payload) b;

--------------------------------------------------------------------------------
-- Exhaustive: every prefix, and every single-byte change of every real model
--------------------------------------------------------------------------------
-- every proper prefix is rejected by both functions
SELECT kind, count(*) = length(m) AS all_prefixes,
       bool_and(p <> 'ok' AND i <> 'ok' AND p = i) AS all_rejected_alike,
       string_agg(DISTINCT p, ' | ') AS errors
FROM model_models, generate_series(0, length(m) - 1) len,
     LATERAL (SELECT pg_temp.try_predict(substring(m FROM 1 FOR len), '{1, 2, 3}') AS p,
                     pg_temp.try_info(substring(m FROM 1 FOR len)) AS i) t
GROUP BY kind, m ORDER BY kind;
-- every byte, flipped: rejected (the checksum covers header and body)
SELECT kind, count(*) = length(m) AS all_positions,
       bool_and(p <> 'ok' AND i <> 'ok') AS all_rejected,
       string_agg(DISTINCT regexp_replace(p, ' [0-9]+', ' N', 'g'), ' | ') AS errors
FROM model_models, generate_series(0, length(m) - 1) pos,
     LATERAL (SELECT pg_temp.try_predict(set_byte(m, pos, get_byte(m, pos) # 255), '{1, 2, 3}') AS p,
                     pg_temp.try_info(set_byte(m, pos, get_byte(m, pos) # 255)) AS i) t
GROUP BY kind, m ORDER BY kind;
-- every byte of a small hand-built model with names, flipped and resealed so
-- that the checksum holds: the decoder's own checks catch what matters, and
-- nothing crashes
CREATE TABLE model_small AS
SELECT pg_temp.seal(2, 2, pg_temp.le32(2) || pg_temp.sect('ab'::bytea) || pg_temp.sect('c'::bytea)
                          || meta || payload) AS m
FROM model_parts;
SELECT p AS predict, count(*) AS positions, string_agg(pos::text, ',' ORDER BY pos) AS at,
       bool_and(p = 'ok' OR i = p) AS info_rejects_alike
FROM model_small, generate_series(pg_temp.body_at(m), length(m) - 1) pos,
     LATERAL (SELECT pg_temp.reseal(set_byte(m, pos, get_byte(m, pos) # 255)) AS b) c,
     LATERAL (SELECT pg_temp.try_predict(b, '{1, 1}') AS p, pg_temp.try_info(b) AS i) t
GROUP BY p ORDER BY p;

SELECT kind, version, clv_model_info(m) ->> 'kind' AS info_kind,
       clv_model_info(m) ->> 'format_version' AS format_version,
       clv_model_info(m) -> 'features' AS features,
       clv_model_info(m) ->> 'n' AS n,
       round(clv_predict(m, '{1.5}')::numeric, 12) AS at_1_5,
       clv_predict(m, '{1.5}') AS at_1_5_exact
FROM model_golden ORDER BY kind, version;
-- both versions of a model: the same description and the same scores, bit for bit
SELECT a.kind, clv_model_info(a.m) - 'format_version' = clv_model_info(b.m) - 'format_version' AS same_info,
       bool_and(clv_predict(a.m, ARRAY[x]) = clv_predict(b.m, ARRAY[x])) AS same_scores,
       substring(b.m FROM 57) = substring(a.m FROM 25) AS same_body
FROM model_golden a JOIN model_golden b ON a.kind = b.kind AND a.version = 1 AND b.version = 2,
     generate_series(-10, 10) x
GROUP BY a.kind, a.m, b.m ORDER BY a.kind;

-- still alive
SELECT clv_predict(m, '{0, 0, 0}') IS NOT NULL AS alive FROM model_models;
