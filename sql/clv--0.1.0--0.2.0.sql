-- clv 0.1.0 -> 0.2.0.  Run by ALTER EXTENSION clv UPDATE; CREATE EXTENSION clv
-- installs 0.1.0 and then this script.  0.1.0 is released and its script is
-- never edited again: every change to the SQL objects after it goes here.
\echo Use "ALTER EXTENSION clv UPDATE TO '0.2.0'" to load this file. \quit

-- ---- the backend's cache of decoded models ---------------------------------

-- Volatile: it reads this backend's state, which changes under it.  Parallel
-- restricted: a worker would list its own cache, not the session's.
CREATE FUNCTION clv_model_cache(
    OUT identity bytea, OUT kind text, OUT format_version integer, OUT n_features integer,
    OUT bytes bigint, OUT hits bigint, OUT last_used timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'clv_model_cache'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION clv_model_cache() IS
'decoded models this backend keeps across queries: content digest, kind, format version, features, memory, hits and last use, most recently used first';

CREATE FUNCTION clv_model_cache_reset()
RETURNS bigint
AS 'MODULE_PATHNAME', 'clv_model_cache_reset'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION clv_model_cache_reset() IS
'drop every decoded model this backend keeps (a model in use by a running query is freed when that query ends); returns how many were dropped';

-- ---- the Qini coefficient of an uplift model --------------------------------

CREATE FUNCTION clv_qini_trans(internal, float8, boolean, float8)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_qini_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_qini_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_qini_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_qini_final(internal)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE clv_qini(score float8, treated boolean, outcome float8) (
    SFUNC = clv_qini_trans, STYPE = internal, FINALFUNC = clv_qini_final,
    COMBINEFUNC = clv_qini_combine,
    SERIALFUNC = clv_qini_serialize, DESERIALFUNC = clv_qini_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_qini(float8, boolean, float8) IS
    'normalised Qini coefficient of an uplift score (1 = perfect, 0 = random, ties grouped); NULL without treated or control rows';
