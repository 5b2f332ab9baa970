-- clv 0.1.0: customer lifetime value in SQL.
-- Install with CREATE EXTENSION clv; this file is not meant to be run by psql.
\echo Use "CREATE EXTENSION clv" to load this file. \quit

--------------------------------------------------------------------------------
-- Customer summaries
--------------------------------------------------------------------------------
-- (section: summary)

--------------------------------------------------------------------------------
-- Linear regression
--------------------------------------------------------------------------------

CREATE FUNCTION clv_linreg_fit_trans(internal, float8, float8[], jsonb)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_linreg_fit_trans(internal, float8, float8[])
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_linreg_fit_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_linreg_fit_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_linreg_fit_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_linreg_fit_final(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_linreg_fit(y float8, x float8[], options jsonb) (
    SFUNC = clv_linreg_fit_trans, STYPE = internal,
    FINALFUNC = clv_linreg_fit_final,
    COMBINEFUNC = clv_linreg_fit_combine,
    SERIALFUNC = clv_linreg_fit_serialize, DESERIALFUNC = clv_linreg_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_linreg_fit(y float8, x float8[]) (
    SFUNC = clv_linreg_fit_trans, STYPE = internal,
    FINALFUNC = clv_linreg_fit_final,
    COMBINEFUNC = clv_linreg_fit_combine,
    SERIALFUNC = clv_linreg_fit_serialize, DESERIALFUNC = clv_linreg_fit_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_linreg_fit(float8, float8[], jsonb) IS
    'fit a linear regression (OLS, or ridge with option "l2") and return it as a clv model';
COMMENT ON AGGREGATE clv_linreg_fit(float8, float8[]) IS
    'fit a linear regression by ordinary least squares and return it as a clv model';

--------------------------------------------------------------------------------
-- Logistic regression
--------------------------------------------------------------------------------

CREATE FUNCTION clv_logreg_fit_trans(internal, boolean, float8[], jsonb)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_logreg_fit_trans(internal, boolean, float8[])
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_logreg_fit_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_logreg_fit_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_logreg_fit_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_logreg_fit_final(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_logreg_fit(y boolean, x float8[], options jsonb) (
    SFUNC = clv_logreg_fit_trans, STYPE = internal,
    FINALFUNC = clv_logreg_fit_final,
    COMBINEFUNC = clv_logreg_fit_combine,
    SERIALFUNC = clv_logreg_fit_serialize, DESERIALFUNC = clv_logreg_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_logreg_fit(y boolean, x float8[]) (
    SFUNC = clv_logreg_fit_trans, STYPE = internal,
    FINALFUNC = clv_logreg_fit_final,
    COMBINEFUNC = clv_logreg_fit_combine,
    SERIALFUNC = clv_logreg_fit_serialize, DESERIALFUNC = clv_logreg_fit_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_logreg_fit(boolean, float8[], jsonb) IS
    'fit a logistic regression by Newton''s method (optional "l2" penalty) and return it as a clv model';
COMMENT ON AGGREGATE clv_logreg_fit(boolean, float8[]) IS
    'fit a logistic regression by Newton''s method and return it as a clv model';

--------------------------------------------------------------------------------
-- Applying and inspecting models
--------------------------------------------------------------------------------

CREATE FUNCTION clv_predict(model bytea, x float8[]) RETURNS float8
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_predict(bytea, float8[]) IS
    'score one feature vector with a clv model: the value for regression, P(true) for classification';

CREATE FUNCTION clv_model_info(model bytea) RETURNS jsonb
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_model_info(bytea) IS
    'describe a clv model: kind, format version, features, training size, options and fit statistics';

--------------------------------------------------------------------------------
-- Evaluation metrics
--------------------------------------------------------------------------------
-- (section: metrics)
