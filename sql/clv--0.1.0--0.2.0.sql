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

-- ---- RFM scores and segments -------------------------------------------------

CREATE FUNCTION clv_rfm_score(value float8, thresholds float8[], higher_is_better boolean)
RETURNS integer
AS 'MODULE_PATHNAME', 'clv_rfm_score'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION clv_rfm_score(float8, float8[], boolean) IS
'score of value among ascending thresholds (n thresholds give scores 1 to n + 1, the higher the better; a value equal to a threshold takes the worse score)';

CREATE FUNCTION clv_rfm_segment(r integer, f integer, m integer)
RETURNS text
AS 'MODULE_PATHNAME', 'clv_rfm_segment'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION clv_rfm_segment(integer, integer, integer) IS
'named segment of RFM scores 1 to 5 (5 best) in the default map of 11 segments, over R and FM, the mean of F and M rounded half up';

CREATE FUNCTION clv_rfm_segment(r integer, f integer, m integer, map jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'clv_rfm_segment_map'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION clv_rfm_segment(integer, integer, integer, jsonb) IS
'named segment of RFM scores 1 to 5 in a user map {"rules": [{"segment", "r", "f", "m"}, ...], "default"}: the first matching rule wins';

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

-- ---- k-means segmentation ----------------------------------------------------

-- The state keeps the rows (float8), bounded by clv.max_training_memory.  The
-- final function fits on a copy sorted into a canonical order (so any plan
-- gives the same model) and leaves the state alone: FINALFUNC_MODIFY =
-- READ_ONLY, so the aggregate also runs as a window function.  The thread
-- count (clv.training_threads) changes the speed, never the model.
CREATE FUNCTION clv_kmeans_fit_trans(internal, float8[], integer, jsonb)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_kmeans_fit_trans(internal, float8[], integer)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_kmeans_fit_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_kmeans_fit_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_kmeans_fit_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_kmeans_fit_final(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_kmeans_fit(x float8[], k integer, options jsonb) (
    SFUNC = clv_kmeans_fit_trans, STYPE = internal,
    FINALFUNC = clv_kmeans_fit_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = clv_kmeans_fit_combine,
    SERIALFUNC = clv_kmeans_fit_serialize, DESERIALFUNC = clv_kmeans_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_kmeans_fit(x float8[], k integer) (
    SFUNC = clv_kmeans_fit_trans, STYPE = internal,
    FINALFUNC = clv_kmeans_fit_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = clv_kmeans_fit_combine,
    SERIALFUNC = clv_kmeans_fit_serialize, DESERIALFUNC = clv_kmeans_fit_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_kmeans_fit(float8[], integer, jsonb) IS
    'k-means clustering (k-means++ seeds, Lloyd iterations, restarts; options n_init, max_iter, tol, seed, standardize, features) → kmeans model; clv_predict gives the cluster 1..k';
COMMENT ON AGGREGATE clv_kmeans_fit(float8[], integer) IS
    'k-means clustering with the default options → kmeans model; clv_predict gives the cluster 1..k';

-- ---- marketing budget: allocation over response curves, targeting price ----

CREATE FUNCTION clv_allocate_budget_trans(internal, text, float8, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_allocate_budget_trans(internal, text, float8, float8, float8, jsonb)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_allocate_budget_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_allocate_budget_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_allocate_budget_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_allocate_budget_final(internal)
RETURNS jsonb AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_allocate_budget(segment text, spend float8, response float8, budget float8) (
    SFUNC = clv_allocate_budget_trans, STYPE = internal, FINALFUNC = clv_allocate_budget_final,
    COMBINEFUNC = clv_allocate_budget_combine,
    SERIALFUNC = clv_allocate_budget_serialize, DESERIALFUNC = clv_allocate_budget_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_allocate_budget(text, float8, float8, float8) IS
    'allocation of budget over segments maximising total response, each segment''s curve the concave envelope of its (spend, response) points; jsonb with each segment''s spend, response and marginal return, the totals and the budget''s shadow price';

CREATE AGGREGATE clv_allocate_budget(segment text, spend float8, response float8, budget float8, options jsonb) (
    SFUNC = clv_allocate_budget_trans, STYPE = internal, FINALFUNC = clv_allocate_budget_final,
    COMBINEFUNC = clv_allocate_budget_combine,
    SERIALFUNC = clv_allocate_budget_serialize, DESERIALFUNC = clv_allocate_budget_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_allocate_budget(text, float8, float8, float8, jsonb) IS
    'clv_allocate_budget with options: "min" and "max" spend per segment, "objective" ("response" or "net" = response - spend), "interpolate" (false: the given spend levels only, solved exactly as a knapsack)';

CREATE FUNCTION clv_budget_threshold_trans(internal, float8, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_budget_threshold_trans(internal, float8, float8, float8, bigint)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_budget_threshold_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_budget_threshold_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_budget_threshold_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_budget_threshold_final(internal)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_budget_threshold(gain float8, cost float8, budget float8) (
    SFUNC = clv_budget_threshold_trans, STYPE = internal, FINALFUNC = clv_budget_threshold_final,
    COMBINEFUNC = clv_budget_threshold_combine,
    SERIALFUNC = clv_budget_threshold_serialize, DESERIALFUNC = clv_budget_threshold_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_budget_threshold(float8, float8, float8) IS
    'price lambda of a targeting budget, each row a customer: taking the rows with gain - lambda * cost > 0 spends at most budget and comes within one gain of the LP optimum';

CREATE AGGREGATE clv_budget_threshold(gain float8, cost float8, budget float8, customer bigint) (
    SFUNC = clv_budget_threshold_trans, STYPE = internal, FINALFUNC = clv_budget_threshold_final,
    COMBINEFUNC = clv_budget_threshold_combine,
    SERIALFUNC = clv_budget_threshold_serialize, DESERIALFUNC = clv_budget_threshold_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_budget_threshold(float8, float8, float8, bigint) IS
    'price lambda of a targeting budget over customers'' options: taking for each customer the option with the largest positive gain - lambda * cost (ties: the cheaper) spends at most budget';
