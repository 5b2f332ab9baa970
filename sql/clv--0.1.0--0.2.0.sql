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
