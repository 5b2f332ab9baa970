-- clv 0.1.0 -> 0.2.0.  Run by ALTER EXTENSION clv UPDATE; CREATE EXTENSION clv
-- installs 0.1.0 and then this script.  0.1.0 is released and its script is
-- never edited again: every change to the SQL objects after it goes here.
\echo Use "ALTER EXTENSION clv UPDATE TO '0.2.0'" to load this file. \quit

-- ---- aggregate states of type clv_state ------------------------------------

-- The transition type of every clv aggregate that 0.1.0 gave an internal
-- state.  A real type lets Citus run the aggregates as partial aggregates on
-- its workers, shipping the partial states as text (base64 of the flat form:
-- versioned, checksummed and checked whole on input).  While an aggregate
-- runs the state is an expanded object, so a row costs no copy.
CREATE TYPE clv_state;
CREATE FUNCTION clv_state_in(cstring) RETURNS clv_state
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION clv_state_out(clv_state) RETURNS cstring
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION clv_state_recv(internal) RETURNS clv_state
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION clv_state_send(clv_state) RETURNS bytea
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE clv_state (
    INPUT = clv_state_in, OUTPUT = clv_state_out,
    RECEIVE = clv_state_recv, SEND = clv_state_send,
    INTERNALLENGTH = VARIABLE, STORAGE = extended
);
COMMENT ON TYPE clv_state IS
'partial state of a clv aggregate (a fit, a metric, a summary): its text form is base64 of a versioned, checksummed binary form';

-- The combine function of every clv_state aggregate: the states name their
-- family, and states of different aggregates are an error.
CREATE FUNCTION clv_state_combine(clv_state, clv_state) RETURNS clv_state
AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_state_combine(clv_state, clv_state) IS
'combine function of the clv aggregates: merges two partial states of the same aggregate';

-- Every clv_state aggregate declares SSPACE = 8192, what the planner assumes for
-- an internal state: a clv_state is a varlena of unknown width to it, and its
-- default guess (32 bytes) made it hash clv_summary's groups by the customer in
-- memory it then overran, where the same query sorted before.  The real size
-- runs from a few hundred bytes (a customer's summary) to every row (a tree fit).

-- The 0.1.0 aggregates move to clv_state: new support functions (the same
-- names, the state argument a clv_state), the aggregates recreated, the old
-- support functions dropped.  A view that calls one of these aggregates must
-- be dropped before the update and created again after it.
CREATE FUNCTION clv_summary_trans(clv_state, timestamptz, float8, timestamptz)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_summary_trans_v2' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_trans(clv_state, timestamptz, float8, timestamptz, interval)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_summary_trans_v2' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_trans(clv_state, timestamptz, float8, timestamptz, interval, interval)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_summary_trans_v2' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_trans(clv_state, timestamptz, float8, timestamptz, interval, interval, timestamptz)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_summary_trans_v2' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_holdout_trans(clv_state, timestamptz, float8, timestamptz, timestamptz)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_summary_holdout_trans_v2' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_holdout_trans(clv_state, timestamptz, float8, timestamptz, timestamptz, interval)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_summary_holdout_trans_v2' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_holdout_trans(clv_state, timestamptz, float8, timestamptz, timestamptz, interval, interval)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_summary_holdout_trans_v2' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_holdout_trans(clv_state, timestamptz, float8, timestamptz, timestamptz, interval, interval, timestamptz)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_summary_holdout_trans_v2' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_final(clv_state)
RETURNS clv_customer_summary AS 'MODULE_PATHNAME', 'clv_summary_final_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_holdout_final(clv_state)
RETURNS clv_holdout_summary AS 'MODULE_PATHNAME', 'clv_summary_holdout_final_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_linreg_fit_trans(clv_state, float8, float8[], jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_linreg_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_linreg_fit_trans(clv_state, float8, float8[])
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_linreg_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_linreg_fit_final(clv_state)
RETURNS bytea AS 'MODULE_PATHNAME', 'clv_linreg_fit_final_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_logreg_fit_trans(clv_state, boolean, float8[], jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_logreg_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_logreg_fit_trans(clv_state, boolean, float8[])
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_logreg_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_logreg_fit_final(clv_state)
RETURNS bytea AS 'MODULE_PATHNAME', 'clv_logreg_fit_final_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_bgnbd_fit_trans(clv_state, float8, float8, float8, jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_bgnbd_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_bgnbd_fit_trans(clv_state, float8, float8, float8)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_bgnbd_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_mbgnbd_fit_trans(clv_state, float8, float8, float8, jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_mbgnbd_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_mbgnbd_fit_trans(clv_state, float8, float8, float8)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_mbgnbd_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_paretonbd_fit_trans(clv_state, float8, float8, float8, jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_paretonbd_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_paretonbd_fit_trans(clv_state, float8, float8, float8)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_paretonbd_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gammagamma_fit_trans(clv_state, float8, float8, jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_gammagamma_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gammagamma_fit_trans(clv_state, float8, float8)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_gammagamma_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_btyd_fit_final(clv_state)
RETURNS bytea AS 'MODULE_PATHNAME', 'clv_btyd_fit_final_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_tracking_trans(clv_state, bytea, float8, integer, float8)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_tracking_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_tracking_trans(clv_state, bytea, float8, integer)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_tracking_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_tracking_final(clv_state)
RETURNS float8[] AS 'MODULE_PATHNAME', 'clv_tracking_final_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_auc_trans(clv_state, boolean, float8)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_auc_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gini_trans(clv_state, float8, float8)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_gini_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_auc_final(clv_state)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_auc_final_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gini_final(clv_state)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_gini_final_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_forest_fit_trans(clv_state, float8, float8[], jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_forest_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_forest_fit_trans(clv_state, float8, float8[])
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_forest_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_forest_fit_trans(clv_state, boolean, float8[], jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_forest_fit_bool_trans_v2'
    LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_forest_fit_trans(clv_state, boolean, float8[])
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_forest_fit_bool_trans_v2'
    LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gbm_fit_trans(clv_state, float8, float8[], jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_gbm_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gbm_fit_trans(clv_state, float8, float8[])
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_gbm_fit_trans_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gbm_fit_trans(clv_state, boolean, float8[], jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_gbm_fit_bool_trans_v2'
    LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gbm_fit_trans(clv_state, boolean, float8[])
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_gbm_fit_bool_trans_v2'
    LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_forest_fit_final(clv_state)
RETURNS bytea AS 'MODULE_PATHNAME', 'clv_forest_fit_final_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gbm_fit_final(clv_state)
RETURNS bytea AS 'MODULE_PATHNAME', 'clv_gbm_fit_final_v2' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

DROP AGGREGATE clv_summary(timestamptz, float8, timestamptz);
CREATE AGGREGATE clv_summary(ordered_at timestamptz, amount float8, as_of timestamptz) (
    SFUNC = clv_summary_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_summary_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_summary(timestamptz, float8, timestamptz) IS
    'per-customer frequency, recency, T and monetary value as of a date; one-day periods';
DROP AGGREGATE clv_summary(timestamptz, float8, timestamptz, interval);
CREATE AGGREGATE clv_summary(ordered_at timestamptz, amount float8, as_of timestamptz,
                             period interval) (
    SFUNC = clv_summary_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_summary_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_summary(timestamptz, float8, timestamptz, interval) IS
    'per-customer frequency, recency, T and monetary value, merging purchases per period';
DROP AGGREGATE clv_summary(timestamptz, float8, timestamptz, interval, interval);
CREATE AGGREGATE clv_summary(ordered_at timestamptz, amount float8, as_of timestamptz,
                             period interval, unit interval) (
    SFUNC = clv_summary_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_summary_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_summary(timestamptz, float8, timestamptz, interval, interval) IS
    'per-customer frequency, recency, T and monetary value; recency and T measured in unit';
DROP AGGREGATE clv_summary(timestamptz, float8, timestamptz, interval, interval, timestamptz);
CREATE AGGREGATE clv_summary(ordered_at timestamptz, amount float8, as_of timestamptz,
                             period interval, unit interval, origin timestamptz) (
    SFUNC = clv_summary_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_summary_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_summary(timestamptz, float8, timestamptz, interval, interval, timestamptz) IS
    'per-customer frequency, recency, T and monetary value; periods counted from origin';
DROP AGGREGATE clv_summary_holdout(timestamptz, float8, timestamptz, timestamptz);
CREATE AGGREGATE clv_summary_holdout(ordered_at timestamptz, amount float8,
                                     calibration_end timestamptz, observation_end timestamptz) (
    SFUNC = clv_summary_holdout_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_summary_holdout_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_summary_holdout(timestamptz, float8, timestamptz, timestamptz) IS
    'calibration summary plus holdout frequency, monetary value and duration; one-day periods';
DROP AGGREGATE clv_summary_holdout(timestamptz, float8, timestamptz, timestamptz, interval);
CREATE AGGREGATE clv_summary_holdout(ordered_at timestamptz, amount float8,
                                     calibration_end timestamptz, observation_end timestamptz,
                                     period interval) (
    SFUNC = clv_summary_holdout_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_summary_holdout_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_summary_holdout(timestamptz, float8, timestamptz, timestamptz, interval) IS
    'calibration summary plus holdout frequency, monetary value and duration, per period';
DROP AGGREGATE clv_summary_holdout(timestamptz, float8, timestamptz, timestamptz, interval, interval);
CREATE AGGREGATE clv_summary_holdout(ordered_at timestamptz, amount float8,
                                     calibration_end timestamptz, observation_end timestamptz,
                                     period interval, unit interval) (
    SFUNC = clv_summary_holdout_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_summary_holdout_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_summary_holdout(timestamptz, float8, timestamptz, timestamptz, interval, interval) IS
    'calibration summary plus holdout frequency, monetary value and duration; times in unit';
DROP AGGREGATE clv_summary_holdout(timestamptz, float8, timestamptz, timestamptz, interval, interval, timestamptz);
CREATE AGGREGATE clv_summary_holdout(ordered_at timestamptz, amount float8,
                                     calibration_end timestamptz, observation_end timestamptz,
                                     period interval, unit interval, origin timestamptz) (
    SFUNC = clv_summary_holdout_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_summary_holdout_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_summary_holdout(timestamptz, float8, timestamptz, timestamptz, interval, interval, timestamptz) IS
    'calibration summary plus holdout frequency, monetary value and duration; periods counted from origin';
DROP AGGREGATE clv_linreg_fit(float8, float8[], jsonb);
CREATE AGGREGATE clv_linreg_fit(y float8, x float8[], options jsonb) (
    SFUNC = clv_linreg_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_linreg_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_linreg_fit(float8, float8[], jsonb) IS
    'fit a linear regression (OLS, or ridge with option "l2") and return it as a clv model';
DROP AGGREGATE clv_linreg_fit(float8, float8[]);
CREATE AGGREGATE clv_linreg_fit(y float8, x float8[]) (
    SFUNC = clv_linreg_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_linreg_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_linreg_fit(float8, float8[]) IS
    'fit a linear regression by ordinary least squares and return it as a clv model';
DROP AGGREGATE clv_logreg_fit(boolean, float8[], jsonb);
CREATE AGGREGATE clv_logreg_fit(y boolean, x float8[], options jsonb) (
    SFUNC = clv_logreg_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_logreg_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_logreg_fit(boolean, float8[], jsonb) IS
    'fit a logistic regression by Newton''s method (optional "l2" penalty) and return it as a clv model';
DROP AGGREGATE clv_logreg_fit(boolean, float8[]);
CREATE AGGREGATE clv_logreg_fit(y boolean, x float8[]) (
    SFUNC = clv_logreg_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_logreg_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_logreg_fit(boolean, float8[]) IS
    'fit a logistic regression by Newton''s method and return it as a clv model';
DROP AGGREGATE clv_bgnbd_fit(float8, float8, float8, jsonb);
CREATE AGGREGATE clv_bgnbd_fit(frequency float8, recency float8, t float8, options jsonb) (
    SFUNC = clv_bgnbd_fit_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_bgnbd_fit(float8, float8, float8, jsonb) IS
    'fit the BG/NBD purchase model by maximum likelihood (options "l2", "start", "max_iter")';
DROP AGGREGATE clv_bgnbd_fit(float8, float8, float8);
CREATE AGGREGATE clv_bgnbd_fit(frequency float8, recency float8, t float8) (
    SFUNC = clv_bgnbd_fit_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_bgnbd_fit(float8, float8, float8) IS
    'fit the BG/NBD purchase model (Fader, Hardie & Lee 2005) by maximum likelihood';
DROP AGGREGATE clv_mbgnbd_fit(float8, float8, float8, jsonb);
CREATE AGGREGATE clv_mbgnbd_fit(frequency float8, recency float8, t float8, options jsonb) (
    SFUNC = clv_mbgnbd_fit_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_mbgnbd_fit(float8, float8, float8, jsonb) IS
    'fit the MBG/NBD purchase model by maximum likelihood (options "l2", "start", "max_iter")';
DROP AGGREGATE clv_mbgnbd_fit(float8, float8, float8);
CREATE AGGREGATE clv_mbgnbd_fit(frequency float8, recency float8, t float8) (
    SFUNC = clv_mbgnbd_fit_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_mbgnbd_fit(float8, float8, float8) IS
    'fit the MBG/NBD purchase model (Batislam et al. 2007) by maximum likelihood';
DROP AGGREGATE clv_paretonbd_fit(float8, float8, float8, jsonb);
CREATE AGGREGATE clv_paretonbd_fit(frequency float8, recency float8, t float8, options jsonb) (
    SFUNC = clv_paretonbd_fit_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_paretonbd_fit(float8, float8, float8, jsonb) IS
    'fit the Pareto/NBD purchase model by maximum likelihood (options "l2", "start", "max_iter")';
DROP AGGREGATE clv_paretonbd_fit(float8, float8, float8);
CREATE AGGREGATE clv_paretonbd_fit(frequency float8, recency float8, t float8) (
    SFUNC = clv_paretonbd_fit_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_paretonbd_fit(float8, float8, float8) IS
    'fit the Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987) by maximum likelihood';
DROP AGGREGATE clv_gammagamma_fit(float8, float8, jsonb);
CREATE AGGREGATE clv_gammagamma_fit(frequency float8, monetary float8, options jsonb) (
    SFUNC = clv_gammagamma_fit_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_gammagamma_fit(float8, float8, jsonb) IS
    'fit the Gamma-Gamma spend model by maximum likelihood (options "l2", "start", "max_iter")';
DROP AGGREGATE clv_gammagamma_fit(float8, float8);
CREATE AGGREGATE clv_gammagamma_fit(frequency float8, monetary float8) (
    SFUNC = clv_gammagamma_fit_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_gammagamma_fit(float8, float8) IS
    'fit the Gamma-Gamma spend model (Fader & Hardie 2013) by maximum likelihood';
DROP AGGREGATE clv_cumulative_expected_purchases(bytea, float8, integer, float8);
CREATE AGGREGATE clv_cumulative_expected_purchases(model bytea, acquired float8, periods integer,
                                                   period float8) (
    SFUNC = clv_tracking_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_tracking_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_cumulative_expected_purchases(bytea, float8, integer, float8) IS
    'tracking plot: the cohort''s cumulative expected repeat purchases at the end of each period of the given length';
DROP AGGREGATE clv_cumulative_expected_purchases(bytea, float8, integer);
CREATE AGGREGATE clv_cumulative_expected_purchases(model bytea, acquired float8, periods integer) (
    SFUNC = clv_tracking_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_tracking_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_cumulative_expected_purchases(bytea, float8, integer) IS
    'tracking plot: the cohort''s cumulative expected repeat purchases at the end of each model time unit';
DROP AGGREGATE clv_auc(boolean, float8);
CREATE AGGREGATE clv_auc(label boolean, score float8) (
    SFUNC = clv_auc_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_auc_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_auc(boolean, float8) IS
    'area under the ROC curve of score for label (Mann-Whitney U, tied scores count one half); NULL when only one class is present';
DROP AGGREGATE clv_gini(float8, float8);
CREATE AGGREGATE clv_gini(actual float8, predicted float8) (
    SFUNC = clv_gini_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_gini_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_gini(float8, float8) IS
    'normalised Gini of the ranking of actual by predicted (1 = perfect, ties share their mean actual); NULL when all actual are equal';
DROP AGGREGATE clv_forest_fit(float8, float8[], jsonb);
CREATE AGGREGATE clv_forest_fit(y float8, x float8[], options jsonb) (
    SFUNC = clv_forest_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_forest_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_forest_fit(float8, float8[], jsonb) IS
    'fit a random forest regression (options "n_trees", "max_depth", "mtry", "seed", ...) and return it as a clv model';
DROP AGGREGATE clv_forest_fit(float8, float8[]);
CREATE AGGREGATE clv_forest_fit(y float8, x float8[]) (
    SFUNC = clv_forest_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_forest_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_forest_fit(float8, float8[]) IS
    'fit a random forest regression with the default options and return it as a clv model';
DROP AGGREGATE clv_forest_fit(boolean, float8[], jsonb);
CREATE AGGREGATE clv_forest_fit(y boolean, x float8[], options jsonb) (
    SFUNC = clv_forest_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_forest_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_forest_fit(boolean, float8[], jsonb) IS
    'fit a random forest classifier of P(y) (options "n_trees", "max_depth", "mtry", "seed", ...) and return it as a clv model';
DROP AGGREGATE clv_forest_fit(boolean, float8[]);
CREATE AGGREGATE clv_forest_fit(y boolean, x float8[]) (
    SFUNC = clv_forest_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_forest_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_forest_fit(boolean, float8[]) IS
    'fit a random forest classifier of P(y) with the default options and return it as a clv model';
DROP AGGREGATE clv_gbm_fit(float8, float8[], jsonb);
CREATE AGGREGATE clv_gbm_fit(y float8, x float8[], options jsonb) (
    SFUNC = clv_gbm_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_gbm_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_gbm_fit(float8, float8[], jsonb) IS
    'fit gradient boosted trees (loss "squared", "logistic" or "tweedie"; "n_rounds", "learning_rate", ...) and return them as a clv model';
DROP AGGREGATE clv_gbm_fit(float8, float8[]);
CREATE AGGREGATE clv_gbm_fit(y float8, x float8[]) (
    SFUNC = clv_gbm_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_gbm_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_gbm_fit(float8, float8[]) IS
    'fit gradient boosted trees on the squared loss with the default options and return them as a clv model';
DROP AGGREGATE clv_gbm_fit(boolean, float8[], jsonb);
CREATE AGGREGATE clv_gbm_fit(y boolean, x float8[], options jsonb) (
    SFUNC = clv_gbm_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_gbm_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_gbm_fit(boolean, float8[], jsonb) IS
    'fit gradient boosted trees of P(y) on the logistic loss (options "n_rounds", "learning_rate", ...) and return them as a clv model';
DROP AGGREGATE clv_gbm_fit(boolean, float8[]);
CREATE AGGREGATE clv_gbm_fit(y boolean, x float8[]) (
    SFUNC = clv_gbm_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_gbm_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_gbm_fit(boolean, float8[]) IS
    'fit gradient boosted trees of P(y) on the logistic loss with the default options and return them as a clv model';

DROP FUNCTION clv_summary_trans(internal, timestamptz, float8, timestamptz);
DROP FUNCTION clv_summary_trans(internal, timestamptz, float8, timestamptz, interval);
DROP FUNCTION clv_summary_trans(internal, timestamptz, float8, timestamptz, interval, interval);
DROP FUNCTION clv_summary_trans(internal, timestamptz, float8, timestamptz, interval, interval, timestamptz);
DROP FUNCTION clv_summary_holdout_trans(internal, timestamptz, float8, timestamptz, timestamptz);
DROP FUNCTION clv_summary_holdout_trans(internal, timestamptz, float8, timestamptz, timestamptz, interval);
DROP FUNCTION clv_summary_holdout_trans(internal, timestamptz, float8, timestamptz, timestamptz, interval, interval);
DROP FUNCTION clv_summary_holdout_trans(internal, timestamptz, float8, timestamptz, timestamptz, interval, interval, timestamptz);
DROP FUNCTION clv_summary_combine(internal, internal);
DROP FUNCTION clv_summary_serialize(internal);
DROP FUNCTION clv_summary_deserialize(bytea, internal);
DROP FUNCTION clv_summary_final(internal);
DROP FUNCTION clv_summary_holdout_final(internal);
DROP FUNCTION clv_linreg_fit_trans(internal, float8, float8[], jsonb);
DROP FUNCTION clv_linreg_fit_trans(internal, float8, float8[]);
DROP FUNCTION clv_linreg_fit_combine(internal, internal);
DROP FUNCTION clv_linreg_fit_serialize(internal);
DROP FUNCTION clv_linreg_fit_deserialize(bytea, internal);
DROP FUNCTION clv_linreg_fit_final(internal);
DROP FUNCTION clv_logreg_fit_trans(internal, boolean, float8[], jsonb);
DROP FUNCTION clv_logreg_fit_trans(internal, boolean, float8[]);
DROP FUNCTION clv_logreg_fit_combine(internal, internal);
DROP FUNCTION clv_logreg_fit_serialize(internal);
DROP FUNCTION clv_logreg_fit_deserialize(bytea, internal);
DROP FUNCTION clv_logreg_fit_final(internal);
DROP FUNCTION clv_bgnbd_fit_trans(internal, float8, float8, float8, jsonb);
DROP FUNCTION clv_bgnbd_fit_trans(internal, float8, float8, float8);
DROP FUNCTION clv_mbgnbd_fit_trans(internal, float8, float8, float8, jsonb);
DROP FUNCTION clv_mbgnbd_fit_trans(internal, float8, float8, float8);
DROP FUNCTION clv_paretonbd_fit_trans(internal, float8, float8, float8, jsonb);
DROP FUNCTION clv_paretonbd_fit_trans(internal, float8, float8, float8);
DROP FUNCTION clv_gammagamma_fit_trans(internal, float8, float8, jsonb);
DROP FUNCTION clv_gammagamma_fit_trans(internal, float8, float8);
DROP FUNCTION clv_btyd_fit_combine(internal, internal);
DROP FUNCTION clv_btyd_fit_serialize(internal);
DROP FUNCTION clv_btyd_fit_deserialize(bytea, internal);
DROP FUNCTION clv_btyd_fit_final(internal);
DROP FUNCTION clv_tracking_trans(internal, bytea, float8, integer, float8);
DROP FUNCTION clv_tracking_trans(internal, bytea, float8, integer);
DROP FUNCTION clv_tracking_combine(internal, internal);
DROP FUNCTION clv_tracking_serialize(internal);
DROP FUNCTION clv_tracking_deserialize(bytea, internal);
DROP FUNCTION clv_tracking_final(internal);
DROP FUNCTION clv_auc_trans(internal, boolean, float8);
DROP FUNCTION clv_gini_trans(internal, float8, float8);
DROP FUNCTION clv_ranking_combine(internal, internal);
DROP FUNCTION clv_ranking_serialize(internal);
DROP FUNCTION clv_ranking_deserialize(bytea, internal);
DROP FUNCTION clv_auc_final(internal);
DROP FUNCTION clv_gini_final(internal);
DROP FUNCTION clv_forest_fit_trans(internal, float8, float8[], jsonb);
DROP FUNCTION clv_forest_fit_trans(internal, float8, float8[]);
DROP FUNCTION clv_forest_fit_trans(internal, boolean, float8[], jsonb);
DROP FUNCTION clv_forest_fit_trans(internal, boolean, float8[]);
DROP FUNCTION clv_gbm_fit_trans(internal, float8, float8[], jsonb);
DROP FUNCTION clv_gbm_fit_trans(internal, float8, float8[]);
DROP FUNCTION clv_gbm_fit_trans(internal, boolean, float8[], jsonb);
DROP FUNCTION clv_gbm_fit_trans(internal, boolean, float8[]);
DROP FUNCTION clv_trees_fit_combine(internal, internal);
DROP FUNCTION clv_trees_fit_serialize(internal);
DROP FUNCTION clv_trees_fit_deserialize(bytea, internal);
DROP FUNCTION clv_forest_fit_final(internal);
DROP FUNCTION clv_gbm_fit_final(internal);

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

CREATE FUNCTION clv_qini_trans(clv_state, float8, boolean, float8)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_qini_final(clv_state)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE clv_qini(score float8, treated boolean, outcome float8) (
    SFUNC = clv_qini_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_qini_final,
    COMBINEFUNC = clv_state_combine,
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
CREATE FUNCTION clv_kmeans_fit_trans(clv_state, float8[], integer, jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_kmeans_fit_trans(clv_state, float8[], integer)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_kmeans_fit_final(clv_state)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_kmeans_fit(x float8[], k integer, options jsonb) (
    SFUNC = clv_kmeans_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_kmeans_fit_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_kmeans_fit(x float8[], k integer) (
    SFUNC = clv_kmeans_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_kmeans_fit_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_kmeans_fit(float8[], integer, jsonb) IS
    'k-means clustering (k-means++ seeds, Lloyd iterations, restarts; options n_init, max_iter, tol, seed, standardize, features) → kmeans model; clv_predict gives the cluster 1..k';
COMMENT ON AGGREGATE clv_kmeans_fit(float8[], integer) IS
    'k-means clustering with the default options → kmeans model; clv_predict gives the cluster 1..k';

-- ---- marketing budget: allocation over response curves, targeting price ----

CREATE FUNCTION clv_allocate_budget_trans(clv_state, text, float8, float8, float8)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_allocate_budget_trans(clv_state, text, float8, float8, float8, jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_allocate_budget_final(clv_state)
RETURNS jsonb AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_allocate_budget(segment text, spend float8, response float8, budget float8) (
    SFUNC = clv_allocate_budget_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_allocate_budget_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_allocate_budget(text, float8, float8, float8) IS
    'allocation of budget over segments maximising total response, each segment''s curve the concave envelope of its (spend, response) points; jsonb with each segment''s spend, response and marginal return, the totals and the budget''s shadow price';

CREATE AGGREGATE clv_allocate_budget(segment text, spend float8, response float8, budget float8, options jsonb) (
    SFUNC = clv_allocate_budget_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_allocate_budget_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_allocate_budget(text, float8, float8, float8, jsonb) IS
    'clv_allocate_budget with options: "min" and "max" spend per segment, "objective" ("response" or "net" = response - spend), "interpolate" (false: the given spend levels only, solved exactly as a knapsack)';

CREATE FUNCTION clv_budget_threshold_trans(clv_state, float8, float8, float8)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_budget_threshold_trans(clv_state, float8, float8, float8, bigint)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_budget_threshold_final(clv_state)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_budget_threshold(gain float8, cost float8, budget float8) (
    SFUNC = clv_budget_threshold_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_budget_threshold_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_budget_threshold(float8, float8, float8) IS
    'price lambda of a targeting budget, each row a customer: taking the rows with gain - lambda * cost > 0 spends at most budget and comes within one gain of the LP optimum';

CREATE AGGREGATE clv_budget_threshold(gain float8, cost float8, budget float8, customer bigint) (
    SFUNC = clv_budget_threshold_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_budget_threshold_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_budget_threshold(float8, float8, float8, bigint) IS
    'price lambda of a targeting budget over customers'' options: taking for each customer the option with the largest positive gain - lambda * cost (ties: the cheaper) spends at most budget';

-- ---- cross-validation folds ----------------------------------------------------

-- A key's fold 1..k from a hash defined in the documentation (FNV-1a 64 and
-- MurmurHash3's finalizer over the key's binary send form, text in the
-- database encoding), so the same key, k and seed give the same fold on every
-- server, version and platform.
CREATE FUNCTION clv_fold(key anyelement, k integer, seed integer DEFAULT 0)
RETURNS integer
AS 'MODULE_PATHNAME', 'clv_fold'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION clv_fold(anyelement, integer, integer) IS
'cross-validation fold 1..k of key, from a documented hash of its binary form: the same on every server, version and platform for the same key type, k and seed';

-- ---- linear models from sufficient statistics ----------------------------------

-- clv_linreg_fit keeps the sufficient statistics of its rows, and those of
-- disjoint rows add up: clv_linreg_stats returns them, clv_state_merge adds
-- them, clv_linreg_fit_stats fits from them and clv_linreg_mse scores a model
-- on them.  A k-fold cross-validation over a grid of penalties thus reads the
-- rows once.
CREATE FUNCTION clv_state_value(clv_state)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION clv_state_value(clv_state) IS
    'final function of the aggregates that return a clv_state: the state as a value of its own';

CREATE AGGREGATE clv_linreg_stats(y float8, x float8[], options jsonb) (
    SFUNC = clv_linreg_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_state_value,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_linreg_stats(float8, float8[], jsonb) IS
    'sufficient statistics of a linear regression (the state of clv_linreg_fit), which clv_state_merge adds and clv_linreg_fit_stats fits from';
CREATE AGGREGATE clv_linreg_stats(y float8, x float8[]) (
    SFUNC = clv_linreg_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_state_value,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_linreg_stats(float8, float8[]) IS
    'sufficient statistics of a linear regression (the state of clv_linreg_fit), which clv_state_merge adds and clv_linreg_fit_stats fits from';

CREATE AGGREGATE clv_state_merge(state clv_state) (
    SFUNC = clv_state_combine, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_state_value,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_state_merge(clv_state) IS
    'combine states of one clv aggregate (same options) into the state of all their rows';

CREATE FUNCTION clv_linreg_fit_stats(stats clv_state)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION clv_linreg_fit_stats(clv_state) IS
    'the linear regression clv_linreg_fit returns for the rows clv_linreg_stats summarised';
CREATE FUNCTION clv_linreg_fit_stats(stats clv_state, options jsonb)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION clv_linreg_fit_stats(clv_state, jsonb) IS
    'the linear regression clv_linreg_fit returns for the rows clv_linreg_stats summarised, with options replacing theirs key by key';

CREATE FUNCTION clv_linreg_mse(model bytea, stats clv_state)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION clv_linreg_mse(bytea, clv_state) IS
    'mean squared error of a linear model over the rows clv_linreg_stats summarised, exact without the rows';

-- ---- monitoring: population stability and calibration ------------------------

-- Both keep their rows (16 bytes each, bounded by clv.max_training_memory)
-- and bin them by quantiles in the final function, on a sorted copy: any
-- plan gives the same result, and FINALFUNC_MODIFY = READ_ONLY lets them run
-- as window functions.  Aggregates take no DEFAULT, so the form without bins
-- (10 bins) is an aggregate of its own.
CREATE FUNCTION clv_psi_trans(clv_state, float8, boolean, integer)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_psi_trans(clv_state, float8, boolean)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_psi_final(clv_state)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_psi(value float8, is_reference boolean, bins integer) (
    SFUNC = clv_psi_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_psi_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_psi(value float8, is_reference boolean) (
    SFUNC = clv_psi_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_psi_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_psi(float8, boolean, integer) IS
    'population stability index of the current values (is_reference false) against the reference values, in bins (2 to 1000) at the reference''s quantiles; proportions floored at 1e-4; NULL without reference or current rows';
COMMENT ON AGGREGATE clv_psi(float8, boolean) IS
    'population stability index of the current values against the reference values, in 10 bins at the reference''s quantiles';

CREATE FUNCTION clv_calibration_trans(clv_state, float8, float8, integer)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_calibration_trans(clv_state, float8, float8)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_calibration_final(clv_state)
RETURNS jsonb AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_calibration(predicted float8, actual float8, bins integer) (
    SFUNC = clv_calibration_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_calibration_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_calibration(predicted float8, actual float8) (
    SFUNC = clv_calibration_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_calibration_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_calibration(float8, float8, integer) IS
    'calibration plot data: rows in bins (2 to 1000) at the quantiles of predicted, tied predictions in one bin; jsonb with each bin''s n, mean predicted and actual, min and max predicted, and n, overall means, ece and mce';
COMMENT ON AGGREGATE clv_calibration(float8, float8) IS
    'calibration plot data in 10 bins at the quantiles of predicted';

-- ---- units recorded in purchase models; models from parameters ------------

-- clv_lifetime_value and clv_dert without unit: the model's, recorded by the
-- fit's option "unit" (the forms with unit check that it is the model's)
CREATE FUNCTION clv_lifetime_value(purchase_model bytea, spend_model bytea,
                                   frequency float8, recency float8, t float8, monetary float8,
                                   horizon interval, annual_discount_rate float8,
                                   discounting text DEFAULT 'discrete') RETURNS float8
    AS 'MODULE_PATHNAME', 'clv_lifetime_value' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_lifetime_value(bytea, bytea, float8, float8, float8, float8, interval, float8, text) IS
    'discounted expected revenue over horizon, in the unit the purchase model records';
CREATE FUNCTION clv_dert(model bytea, frequency float8, recency float8, t float8,
                         annual_discount_rate float8) RETURNS float8
    AS 'MODULE_PATHNAME', 'clv_dert' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_dert(bytea, float8, float8, float8, float8) IS
    'Pareto/NBD: discounted expected residual transactions, in the unit the model records';
COMMENT ON FUNCTION clv_lifetime_value(bytea, bytea, float8, float8, float8, float8, interval, interval, float8, text) IS
    'discounted expected revenue over horizon; unit is the length of one unit of recency and t in the fit, and must be the unit the model records, if any';
COMMENT ON FUNCTION clv_dert(bytea, float8, float8, float8, interval, float8) IS
    'Pareto/NBD: discounted expected residual transactions over an unlimited horizon (continuous discounting); unit must be the unit the model records, if any';

CREATE FUNCTION clv_model_from_params(kind text, params jsonb) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_model_from_params(text, jsonb) IS
    'a model of kind bgnbd, mbgnbd, paretonbd, gammagamma, bgbb, sbg, bgnbd_cov, paretonbd_cov, linreg or logreg built from its parameters, named as clv_model_info names them; marked "fitted": false';

-- BG/BB (Fader, Hardie & Shang 2010): customers who can buy only at discrete
-- opportunities; a pattern-count state of the BTYD family, also weighted.
CREATE FUNCTION clv_bgbb_fit_trans(clv_state, float8, float8, float8, jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_bgbb_fit_trans(clv_state, float8, float8, float8)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_bgbb_fit_trans(clv_state, float8, float8, float8, float8, jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_bgbb_weighted_fit_trans'
LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_bgbb_fit_trans(clv_state, float8, float8, float8, float8)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_bgbb_weighted_fit_trans'
LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_bgbb_fit(frequency float8, recency float8, n float8, options jsonb) (
    SFUNC = clv_bgbb_fit_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_bgbb_fit(float8, float8, float8, jsonb) IS
    'fit the BG/BB discrete-time purchase model by maximum likelihood (options "l2", "start", "max_iter")';
CREATE AGGREGATE clv_bgbb_fit(frequency float8, recency float8, n float8) (
    SFUNC = clv_bgbb_fit_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_bgbb_fit(float8, float8, float8) IS
    'fit the BG/BB discrete-time purchase model (Fader, Hardie & Shang 2010) by maximum likelihood: frequency purchases, the last at opportunity recency, of n';
CREATE AGGREGATE clv_bgbb_fit(frequency float8, recency float8, n float8, customers float8,
                              options jsonb) (
    SFUNC = clv_bgbb_fit_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_bgbb_fit(float8, float8, float8, float8, jsonb) IS
    'fit the BG/BB model on a count table: each row stands for customers customers (options "l2", "start", "max_iter")';
CREATE AGGREGATE clv_bgbb_fit(frequency float8, recency float8, n float8, customers float8) (
    SFUNC = clv_bgbb_fit_trans, STYPE = clv_state, SSPACE = 8192, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_bgbb_fit(float8, float8, float8, float8) IS
    'fit the BG/BB model on a count table: each row stands for customers customers with that frequency, recency and n';

-- ---- contractual customers: the shifted-beta-geometric (sBG) model ---------
-- The state counts customers per (periods, churned) pattern, so partial
-- states combine exactly; the final function fits on a sorted copy
-- (READ_ONLY), so the aggregates also run as window functions.  The counts
-- form has a name of its own: clv_sbg_fit(integer, boolean, bigint) beside
-- clv_sbg_fit(integer, boolean, jsonb) would make a call with an options
-- literal ambiguous.
CREATE FUNCTION clv_sbg_fit_trans(clv_state, integer, boolean)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_sbg_fit_trans(clv_state, integer, boolean, jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_sbg_fit_counts_trans(clv_state, integer, boolean, bigint)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_sbg_fit_counts_trans(clv_state, integer, boolean, bigint, jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_sbg_fit_final(clv_state)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_sbg_fit(periods integer, churned boolean) (
    SFUNC = clv_sbg_fit_trans, STYPE = clv_state, SSPACE = 1024,
    FINALFUNC = clv_sbg_fit_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_sbg_fit(periods integer, churned boolean, options jsonb) (
    SFUNC = clv_sbg_fit_trans, STYPE = clv_state, SSPACE = 1024,
    FINALFUNC = clv_sbg_fit_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_sbg_fit_counts(periods integer, churned boolean, customers bigint) (
    SFUNC = clv_sbg_fit_counts_trans, STYPE = clv_state, SSPACE = 1024,
    FINALFUNC = clv_sbg_fit_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_sbg_fit_counts(periods integer, churned boolean, customers bigint, options jsonb) (
    SFUNC = clv_sbg_fit_counts_trans, STYPE = clv_state, SSPACE = 1024,
    FINALFUNC = clv_sbg_fit_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_sbg_fit(integer, boolean) IS
    'shifted-beta-geometric (sBG) retention model, one row per customer: periods observed (the period of leaving when churned) → sbg model';
COMMENT ON AGGREGATE clv_sbg_fit(integer, boolean, jsonb) IS
    'sBG retention model, one row per customer; options max_iter, tol, start, unit (an interval: the length of a period) → sbg model';
COMMENT ON AGGREGATE clv_sbg_fit_counts(integer, boolean, bigint) IS
    'sBG retention model from cohort counts: customers who churned in period periods, or were still subscribed after it → sbg model';
COMMENT ON AGGREGATE clv_sbg_fit_counts(integer, boolean, bigint, jsonb) IS
    'sBG retention model from cohort counts; options max_iter, tol, start, unit → sbg model';

CREATE FUNCTION clv_sbg_survival(model bytea, t float8)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_sbg_survival(bytea, float8) IS
    'sBG survival S(t) = B(alpha, beta + t) / B(alpha, beta): the share of a new cohort still subscribed after t periods';
CREATE FUNCTION clv_sbg_retention(model bytea, t float8)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_sbg_retention(bytea, float8) IS
    'sBG retention rate r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1), t >= 1';
CREATE FUNCTION clv_sbg_palive(model bytea, renewals integer, periods_ahead integer)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_sbg_palive(bytea, integer, integer) IS
    'sBG probability that a customer who has renewed renewals times is still subscribed periods_ahead periods later: S(renewals + periods_ahead) / S(renewals)';
CREATE FUNCTION clv_sbg_derl(model bytea, renewals integer, discount_rate float8)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_sbg_derl(bytea, integer, float8) IS
    'sBG discounted expected residual lifetime, in periods, of a customer who has renewed renewals times, just before the next renewal (Fader & Hardie 2010); discount_rate per period';
CREATE FUNCTION clv_sbg_derl(model bytea, renewals integer, discount_rate float8, rate_unit interval)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_sbg_derl(bytea, integer, float8, interval) IS
    'sBG discounted expected residual lifetime with discount_rate per rate_unit, converted to the period the model records (its "unit" option)';

-- BG/NBD and Pareto/NBD with static customer covariates
CREATE FUNCTION clv_bgnbd_cov_fit_trans(clv_state, float8, float8, float8, float8[], float8[], jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_bgnbd_cov_fit_trans(clv_state, float8, float8, float8, float8[], float8[])
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_paretonbd_cov_fit_trans(clv_state, float8, float8, float8, float8[], float8[], jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_paretonbd_cov_fit_trans(clv_state, float8, float8, float8, float8[], float8[])
RETURNS clv_state AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_btyd_cov_fit_final(clv_state)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_bgnbd_fit(frequency float8, recency float8, t float8,
                               purchase_covariates float8[], dropout_covariates float8[],
                               options jsonb) (
    SFUNC = clv_bgnbd_cov_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_btyd_cov_fit_final, COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_bgnbd_fit(frequency float8, recency float8, t float8,
                               purchase_covariates float8[], dropout_covariates float8[]) (
    SFUNC = clv_bgnbd_cov_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_btyd_cov_fit_final, COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_paretonbd_fit(frequency float8, recency float8, t float8,
                                   purchase_covariates float8[], dropout_covariates float8[],
                                   options jsonb) (
    SFUNC = clv_paretonbd_cov_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_btyd_cov_fit_final, COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_paretonbd_fit(frequency float8, recency float8, t float8,
                                   purchase_covariates float8[], dropout_covariates float8[]) (
    SFUNC = clv_paretonbd_cov_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_btyd_cov_fit_final, COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_bgnbd_fit(float8, float8, float8, float8[], float8[], jsonb) IS
    'fit BG/NBD with static covariates: alpha scaled by exp(-purchase coefficients''z), a and b by exp(dropout coefficients''z) (options "l2", "max_iter", "purchase_features", "dropout_features")';
COMMENT ON AGGREGATE clv_bgnbd_fit(float8, float8, float8, float8[], float8[]) IS
    'fit BG/NBD with static purchase and dropout covariates (empty arrays: none)';
COMMENT ON AGGREGATE clv_paretonbd_fit(float8, float8, float8, float8[], float8[], jsonb) IS
    'fit Pareto/NBD with static covariates: alpha scaled by exp(-purchase coefficients''z), beta by exp(-dropout coefficients''z) (options "l2", "max_iter", "purchase_features", "dropout_features")';
COMMENT ON AGGREGATE clv_paretonbd_fit(float8, float8, float8, float8[], float8[]) IS
    'fit Pareto/NBD with static purchase and dropout covariates (empty arrays: none)';

-- the predictions of a customer with covariates: the same C functions, the covariates last
CREATE FUNCTION clv_palive(model bytea, frequency float8, recency float8, t float8,
                           purchase_covariates float8[], dropout_covariates float8[]) RETURNS float8
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_palive(bytea, float8, float8, float8, float8[], float8[]) IS
    'BG/NBD or Pareto/NBD with covariates: probability that the customer is still active';
CREATE FUNCTION clv_expected_purchases(model bytea, horizon float8, frequency float8,
                                       recency float8, t float8,
                                       purchase_covariates float8[], dropout_covariates float8[])
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_expected_purchases(bytea, float8, float8, float8, float8, float8[], float8[]) IS
    'BG/NBD or Pareto/NBD with covariates: expected purchases in the next horizon';
CREATE FUNCTION clv_probability_of_purchases(model bytea, horizon float8, purchases integer,
                                             purchase_covariates float8[], dropout_covariates float8[])
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_probability_of_purchases(bytea, float8, integer, float8[], float8[]) IS
    'Probability that a new customer with these covariates makes exactly this many repeat purchases within horizon';
CREATE FUNCTION clv_probability_of_purchases(model bytea, horizon float8, purchases integer,
                                             frequency float8, recency float8, t float8,
                                             purchase_covariates float8[], dropout_covariates float8[])
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_probability_of_purchases(bytea, float8, integer, float8, float8, float8, float8[], float8[]) IS
    'Probability that a customer with this history and these covariates makes exactly this many purchases in the next horizon';
CREATE FUNCTION clv_lifetime_value(purchase_model bytea, spend_model bytea,
                                   frequency float8, recency float8, t float8, monetary float8,
                                   horizon interval, unit interval,
                                   annual_discount_rate float8, discounting text,
                                   purchase_covariates float8[], dropout_covariates float8[])
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_lifetime_value(bytea, bytea, float8, float8, float8, float8, interval, interval, float8, text, float8[], float8[]) IS
    'discounted expected revenue over horizon of a customer with covariates';
CREATE FUNCTION clv_dert(model bytea, frequency float8, recency float8, t float8,
                         unit interval, annual_discount_rate float8,
                         purchase_covariates float8[], dropout_covariates float8[]) RETURNS float8
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_dert(bytea, float8, float8, float8, interval, float8, float8[], float8[]) IS
    'Pareto/NBD with covariates: discounted expected residual transactions over an unlimited horizon';

-- ---- lasso and elastic net: a regularisation path ---------------------------

-- clv_linreg_fit takes an option "l1" (lasso, with "l2" the elastic net),
-- solved from the same sufficient statistics.  clv_linreg_path fits many l1
-- from one set of statistics, each solution the next one's start, so a
-- cross-validation over l1 still reads the rows once.
CREATE FUNCTION clv_linreg_path(stats clv_state, l1 float8[], options jsonb DEFAULT '{}')
RETURNS TABLE (l1 float8, model bytea)
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION clv_linreg_path(clv_state, float8[], jsonb) IS
    'one linear regression per value of l1 (lasso or elastic net) from the statistics of clv_linreg_stats, each the model clv_linreg_fit_stats returns';

-- multi-layer perceptrons: the rows state of the tree ensembles, a network kind
CREATE FUNCTION clv_mlp_fit_trans(clv_state, float8, float8[], jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_mlp_fit_trans' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_mlp_fit_trans(clv_state, float8, float8[])
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_mlp_fit_trans' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_mlp_fit_trans(clv_state, boolean, float8[], jsonb)
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_mlp_fit_bool_trans' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_mlp_fit_trans(clv_state, boolean, float8[])
RETURNS clv_state AS 'MODULE_PATHNAME', 'clv_mlp_fit_bool_trans' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_mlp_fit_final(clv_state)
RETURNS bytea AS 'MODULE_PATHNAME', 'clv_mlp_fit_final' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE clv_mlp_fit(y float8, x float8[], options jsonb) (
    SFUNC = clv_mlp_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_mlp_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_mlp_fit(y float8, x float8[]) (
    SFUNC = clv_mlp_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_mlp_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_mlp_fit(y boolean, x float8[], options jsonb) (
    SFUNC = clv_mlp_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_mlp_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_mlp_fit(y boolean, x float8[]) (
    SFUNC = clv_mlp_fit_trans, STYPE = clv_state, SSPACE = 8192,
    FINALFUNC = clv_mlp_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_mlp_fit(float8, float8[], jsonb) IS
    'fit a multi-layer perceptron regression (options "hidden_layers", "activation", "max_epochs", "batch_size", "early_stopping", ...) and return it as a clv model';
COMMENT ON AGGREGATE clv_mlp_fit(float8, float8[]) IS
    'fit a multi-layer perceptron regression (one hidden layer of 100 ReLU units) and return it as a clv model';
COMMENT ON AGGREGATE clv_mlp_fit(boolean, float8[], jsonb) IS
    'fit a multi-layer perceptron classifier of P(y) on the log loss (options "hidden_layers", "activation", "max_epochs", ...) and return it as a clv model';
COMMENT ON AGGREGATE clv_mlp_fit(boolean, float8[]) IS
    'fit a multi-layer perceptron classifier of P(y) with the default options and return it as a clv model';

-- ---- models trained in XGBoost ----------------------------------------------
-- A gbm model read from the JSON that XGBoost's save_model writes; it scores
-- as XGBoost's predict does (float thresholds, float sums).
CREATE FUNCTION clv_import_xgboost(model jsonb) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_import_xgboost(jsonb) IS
    'A gbm model from an XGBoost model saved as JSON (objectives reg:squarederror, reg:tweedie, binary:logistic)';
