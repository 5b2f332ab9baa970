-- clv 0.1.0: customer lifetime value in SQL.
-- Install with CREATE EXTENSION clv; this file is not meant to be run by psql.
\echo Use "CREATE EXTENSION clv" to load this file. \quit

--------------------------------------------------------------------------------
-- Customer summaries
--------------------------------------------------------------------------------
CREATE TYPE clv_customer_summary AS (
    frequency       integer,            -- purchase periods - 1 (repeat purchases)
    recency         float8,             -- first -> last purchase period, in units
    t               float8,             -- first purchase period -> as_of period, in units
    monetary        float8,             -- mean revenue of the repeat periods (0 if none)
    orders          bigint,             -- order rows counted
    revenue         float8,             -- their total amount
    first_purchase  timestamptz,
    last_purchase   timestamptz,
    days_since_last float8              -- as_of period -> last purchase period, in days
);
COMMENT ON TYPE clv_customer_summary IS 'per-customer RFM summary returned by clv_summary';

CREATE TYPE clv_holdout_summary AS (
    frequency           integer,
    recency             float8,
    t                   float8,
    monetary            float8,
    orders              bigint,
    revenue             float8,
    first_purchase      timestamptz,
    last_purchase       timestamptz,
    days_since_last     float8,
    frequency_holdout   integer,        -- distinct purchase periods in the holdout
    monetary_holdout    float8,         -- mean revenue per holdout purchase period
    orders_holdout      bigint,
    revenue_holdout     float8,
    duration_holdout    float8          -- calibration end -> observation end, in units
);
COMMENT ON TYPE clv_holdout_summary IS 'calibration and holdout summary returned by clv_summary_holdout';

CREATE FUNCTION clv_summary_trans(internal, timestamptz, float8, timestamptz)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_trans(internal, timestamptz, float8, timestamptz, interval)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_trans(internal, timestamptz, float8, timestamptz, interval, interval)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_trans(internal, timestamptz, float8, timestamptz, interval, interval, timestamptz)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_holdout_trans(internal, timestamptz, float8, timestamptz, timestamptz)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_holdout_trans(internal, timestamptz, float8, timestamptz, timestamptz, interval)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_holdout_trans(internal, timestamptz, float8, timestamptz, timestamptz, interval, interval)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_holdout_trans(internal, timestamptz, float8, timestamptz, timestamptz, interval, interval, timestamptz)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_final(internal)
RETURNS clv_customer_summary AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_summary_holdout_final(internal)
RETURNS clv_holdout_summary AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

-- Periods follow the session time zone (like date_trunc), hence STABLE.  They
-- are a fixed length (weeks from Monday 2000-01-03 unless origin says otherwise)
-- or whole calendar months (from January 2000, or from origin's month).
CREATE AGGREGATE clv_summary(ordered_at timestamptz, amount float8, as_of timestamptz) (
    SFUNC = clv_summary_trans, STYPE = internal, FINALFUNC = clv_summary_final,
    COMBINEFUNC = clv_summary_combine,
    SERIALFUNC = clv_summary_serialize, DESERIALFUNC = clv_summary_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_summary(ordered_at timestamptz, amount float8, as_of timestamptz,
                             period interval) (
    SFUNC = clv_summary_trans, STYPE = internal, FINALFUNC = clv_summary_final,
    COMBINEFUNC = clv_summary_combine,
    SERIALFUNC = clv_summary_serialize, DESERIALFUNC = clv_summary_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_summary(ordered_at timestamptz, amount float8, as_of timestamptz,
                             period interval, unit interval) (
    SFUNC = clv_summary_trans, STYPE = internal, FINALFUNC = clv_summary_final,
    COMBINEFUNC = clv_summary_combine,
    SERIALFUNC = clv_summary_serialize, DESERIALFUNC = clv_summary_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_summary(ordered_at timestamptz, amount float8, as_of timestamptz,
                             period interval, unit interval, origin timestamptz) (
    SFUNC = clv_summary_trans, STYPE = internal, FINALFUNC = clv_summary_final,
    COMBINEFUNC = clv_summary_combine,
    SERIALFUNC = clv_summary_serialize, DESERIALFUNC = clv_summary_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_summary_holdout(ordered_at timestamptz, amount float8,
                                     calibration_end timestamptz, observation_end timestamptz) (
    SFUNC = clv_summary_holdout_trans, STYPE = internal, FINALFUNC = clv_summary_holdout_final,
    COMBINEFUNC = clv_summary_combine,
    SERIALFUNC = clv_summary_serialize, DESERIALFUNC = clv_summary_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_summary_holdout(ordered_at timestamptz, amount float8,
                                     calibration_end timestamptz, observation_end timestamptz,
                                     period interval) (
    SFUNC = clv_summary_holdout_trans, STYPE = internal, FINALFUNC = clv_summary_holdout_final,
    COMBINEFUNC = clv_summary_combine,
    SERIALFUNC = clv_summary_serialize, DESERIALFUNC = clv_summary_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_summary_holdout(ordered_at timestamptz, amount float8,
                                     calibration_end timestamptz, observation_end timestamptz,
                                     period interval, unit interval) (
    SFUNC = clv_summary_holdout_trans, STYPE = internal, FINALFUNC = clv_summary_holdout_final,
    COMBINEFUNC = clv_summary_combine,
    SERIALFUNC = clv_summary_serialize, DESERIALFUNC = clv_summary_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_summary_holdout(ordered_at timestamptz, amount float8,
                                     calibration_end timestamptz, observation_end timestamptz,
                                     period interval, unit interval, origin timestamptz) (
    SFUNC = clv_summary_holdout_trans, STYPE = internal, FINALFUNC = clv_summary_holdout_final,
    COMBINEFUNC = clv_summary_combine,
    SERIALFUNC = clv_summary_serialize, DESERIALFUNC = clv_summary_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_summary(timestamptz, float8, timestamptz) IS
    'per-customer frequency, recency, T and monetary value as of a date; one-day periods';
COMMENT ON AGGREGATE clv_summary(timestamptz, float8, timestamptz, interval) IS
    'per-customer frequency, recency, T and monetary value, merging purchases per period';
COMMENT ON AGGREGATE clv_summary(timestamptz, float8, timestamptz, interval, interval) IS
    'per-customer frequency, recency, T and monetary value; recency and T measured in unit';
COMMENT ON AGGREGATE clv_summary(timestamptz, float8, timestamptz, interval, interval, timestamptz) IS
    'per-customer frequency, recency, T and monetary value; periods counted from origin';
COMMENT ON AGGREGATE clv_summary_holdout(timestamptz, float8, timestamptz, timestamptz) IS
    'calibration summary plus holdout frequency, monetary value and duration; one-day periods';
COMMENT ON AGGREGATE clv_summary_holdout(timestamptz, float8, timestamptz, timestamptz, interval) IS
    'calibration summary plus holdout frequency, monetary value and duration, per period';
COMMENT ON AGGREGATE clv_summary_holdout(timestamptz, float8, timestamptz, timestamptz, interval, interval) IS
    'calibration summary plus holdout frequency, monetary value and duration; times in unit';
COMMENT ON AGGREGATE clv_summary_holdout(timestamptz, float8, timestamptz, timestamptz, interval, interval, timestamptz) IS
    'calibration summary plus holdout frequency, monetary value and duration; periods counted from origin';

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
-- Probabilistic models: BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma
--------------------------------------------------------------------------------

CREATE FUNCTION clv_bgnbd_fit_trans(internal, float8, float8, float8, jsonb)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_bgnbd_fit_trans(internal, float8, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_mbgnbd_fit_trans(internal, float8, float8, float8, jsonb)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_mbgnbd_fit_trans(internal, float8, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_paretonbd_fit_trans(internal, float8, float8, float8, jsonb)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_paretonbd_fit_trans(internal, float8, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gammagamma_fit_trans(internal, float8, float8, jsonb)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gammagamma_fit_trans(internal, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_btyd_fit_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_btyd_fit_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_btyd_fit_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_btyd_fit_final(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_bgnbd_fit(frequency float8, recency float8, t float8, options jsonb) (
    SFUNC = clv_bgnbd_fit_trans, STYPE = internal, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_btyd_fit_combine,
    SERIALFUNC = clv_btyd_fit_serialize, DESERIALFUNC = clv_btyd_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_bgnbd_fit(frequency float8, recency float8, t float8) (
    SFUNC = clv_bgnbd_fit_trans, STYPE = internal, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_btyd_fit_combine,
    SERIALFUNC = clv_btyd_fit_serialize, DESERIALFUNC = clv_btyd_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_mbgnbd_fit(frequency float8, recency float8, t float8, options jsonb) (
    SFUNC = clv_mbgnbd_fit_trans, STYPE = internal, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_btyd_fit_combine,
    SERIALFUNC = clv_btyd_fit_serialize, DESERIALFUNC = clv_btyd_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_mbgnbd_fit(frequency float8, recency float8, t float8) (
    SFUNC = clv_mbgnbd_fit_trans, STYPE = internal, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_btyd_fit_combine,
    SERIALFUNC = clv_btyd_fit_serialize, DESERIALFUNC = clv_btyd_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_paretonbd_fit(frequency float8, recency float8, t float8, options jsonb) (
    SFUNC = clv_paretonbd_fit_trans, STYPE = internal, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_btyd_fit_combine,
    SERIALFUNC = clv_btyd_fit_serialize, DESERIALFUNC = clv_btyd_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_paretonbd_fit(frequency float8, recency float8, t float8) (
    SFUNC = clv_paretonbd_fit_trans, STYPE = internal, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_btyd_fit_combine,
    SERIALFUNC = clv_btyd_fit_serialize, DESERIALFUNC = clv_btyd_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_gammagamma_fit(frequency float8, monetary float8, options jsonb) (
    SFUNC = clv_gammagamma_fit_trans, STYPE = internal, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_btyd_fit_combine,
    SERIALFUNC = clv_btyd_fit_serialize, DESERIALFUNC = clv_btyd_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_gammagamma_fit(frequency float8, monetary float8) (
    SFUNC = clv_gammagamma_fit_trans, STYPE = internal, FINALFUNC = clv_btyd_fit_final,
    COMBINEFUNC = clv_btyd_fit_combine,
    SERIALFUNC = clv_btyd_fit_serialize, DESERIALFUNC = clv_btyd_fit_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_bgnbd_fit(float8, float8, float8, jsonb) IS
    'fit the BG/NBD purchase model by maximum likelihood (options "l2", "start", "max_iter")';
COMMENT ON AGGREGATE clv_bgnbd_fit(float8, float8, float8) IS
    'fit the BG/NBD purchase model (Fader, Hardie & Lee 2005) by maximum likelihood';
COMMENT ON AGGREGATE clv_mbgnbd_fit(float8, float8, float8, jsonb) IS
    'fit the MBG/NBD purchase model by maximum likelihood (options "l2", "start", "max_iter")';
COMMENT ON AGGREGATE clv_mbgnbd_fit(float8, float8, float8) IS
    'fit the MBG/NBD purchase model (Batislam et al. 2007) by maximum likelihood';
COMMENT ON AGGREGATE clv_paretonbd_fit(float8, float8, float8, jsonb) IS
    'fit the Pareto/NBD purchase model by maximum likelihood (options "l2", "start", "max_iter")';
COMMENT ON AGGREGATE clv_paretonbd_fit(float8, float8, float8) IS
    'fit the Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987) by maximum likelihood';
COMMENT ON AGGREGATE clv_gammagamma_fit(float8, float8, jsonb) IS
    'fit the Gamma-Gamma spend model by maximum likelihood (options "l2", "start", "max_iter")';
COMMENT ON AGGREGATE clv_gammagamma_fit(float8, float8) IS
    'fit the Gamma-Gamma spend model (Fader & Hardie 2013) by maximum likelihood';

CREATE FUNCTION clv_expected_purchases(model bytea, horizon float8, frequency float8,
                                       recency float8, t float8) RETURNS float8
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_expected_purchases(bytea, float8, float8, float8, float8) IS
    'BG/NBD, MBG/NBD or Pareto/NBD: expected purchases in the next horizon (in the units of recency and t)';
CREATE FUNCTION clv_palive(model bytea, frequency float8, recency float8, t float8) RETURNS float8
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_palive(bytea, float8, float8, float8) IS
    'BG/NBD, MBG/NBD or Pareto/NBD: probability that the customer is still active';
CREATE FUNCTION clv_lifetime_value(purchase_model bytea, spend_model bytea,
                                   frequency float8, recency float8, t float8, monetary float8,
                                   horizon interval, unit interval,
                                   annual_discount_rate float8,
                                   discounting text DEFAULT 'discrete') RETURNS float8
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_lifetime_value(bytea, bytea, float8, float8, float8, float8, interval, interval, float8, text) IS
    'discounted expected revenue over horizon; unit is the length of one unit of recency and t in the fit';
CREATE FUNCTION clv_dert(model bytea, frequency float8, recency float8, t float8,
                         unit interval, annual_discount_rate float8) RETURNS float8
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_dert(bytea, float8, float8, float8, interval, float8) IS
    'Pareto/NBD: discounted expected residual transactions over an unlimited horizon (continuous discounting)';
CREATE FUNCTION clv_probability_of_purchases(model bytea, horizon float8, purchases integer)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_probability_of_purchases(bytea, float8, integer) IS
    'Probability that a new customer makes exactly this many repeat purchases within horizon';
CREATE FUNCTION clv_probability_of_purchases(model bytea, horizon float8, purchases integer,
                                             frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_probability_of_purchases(bytea, float8, integer, float8, float8, float8) IS
    'Probability that a customer with this history makes exactly this many purchases in the next horizon';

-- the data of a tracking plot: a cohort's cumulative expected repeat purchases per period
CREATE FUNCTION clv_tracking_trans(internal, bytea, float8, integer, float8)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_tracking_trans(internal, bytea, float8, integer)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_tracking_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_tracking_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_tracking_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_tracking_final(internal)
RETURNS float8[] AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE clv_cumulative_expected_purchases(model bytea, acquired float8, periods integer,
                                                   period float8) (
    SFUNC = clv_tracking_trans, STYPE = internal, FINALFUNC = clv_tracking_final,
    COMBINEFUNC = clv_tracking_combine,
    SERIALFUNC = clv_tracking_serialize, DESERIALFUNC = clv_tracking_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_cumulative_expected_purchases(model bytea, acquired float8, periods integer) (
    SFUNC = clv_tracking_trans, STYPE = internal, FINALFUNC = clv_tracking_final,
    COMBINEFUNC = clv_tracking_combine,
    SERIALFUNC = clv_tracking_serialize, DESERIALFUNC = clv_tracking_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_cumulative_expected_purchases(bytea, float8, integer, float8) IS
    'tracking plot: the cohort''s cumulative expected repeat purchases at the end of each period of the given length';
COMMENT ON AGGREGATE clv_cumulative_expected_purchases(bytea, float8, integer) IS
    'tracking plot: the cohort''s cumulative expected repeat purchases at the end of each model time unit';
CREATE FUNCTION clv_expected_spend(model bytea, frequency float8, monetary float8) RETURNS float8
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_expected_spend(bytea, float8, float8) IS
    'Gamma-Gamma: expected mean spend per purchase, given frequency and mean repeat spend';

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

-- Every metric skips rows where either argument is NULL, as avg() does, and
-- returns NULL for no rows.  Values that are summed (y, prediction, actual)
-- must be finite; values that are only ranked (AUC's score, Gini's
-- predicted) may be infinite but not NaN.

-- Regression errors: one float8[] state of double-double sums (n, squared
-- and absolute errors, mean and centred sum of squares of y) shared by the
-- four metrics, combined exactly enough that parallel and serial plans agree.
CREATE FUNCTION clv_residuals_trans(float8[], float8, float8)
RETURNS float8[] AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_residuals_combine(float8[], float8[])
RETURNS float8[] AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_mse_final(float8[])
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_rmse_final(float8[])
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_mae_final(float8[])
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_r2_final(float8[])
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_mse(y float8, prediction float8) (
    SFUNC = clv_residuals_trans, STYPE = float8[], INITCOND = '{0,0,0,0,0,0,0,0,0}',
    FINALFUNC = clv_mse_final, COMBINEFUNC = clv_residuals_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_rmse(y float8, prediction float8) (
    SFUNC = clv_residuals_trans, STYPE = float8[], INITCOND = '{0,0,0,0,0,0,0,0,0}',
    FINALFUNC = clv_rmse_final, COMBINEFUNC = clv_residuals_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_mae(y float8, prediction float8) (
    SFUNC = clv_residuals_trans, STYPE = float8[], INITCOND = '{0,0,0,0,0,0,0,0,0}',
    FINALFUNC = clv_mae_final, COMBINEFUNC = clv_residuals_combine,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_r2(y float8, prediction float8) (
    SFUNC = clv_residuals_trans, STYPE = float8[], INITCOND = '{0,0,0,0,0,0,0,0,0}',
    FINALFUNC = clv_r2_final, COMBINEFUNC = clv_residuals_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_mse(float8, float8) IS
    'mean squared error of prediction against y; rows with a NULL are skipped';
COMMENT ON AGGREGATE clv_rmse(float8, float8) IS
    'root mean squared error of prediction against y; rows with a NULL are skipped';
COMMENT ON AGGREGATE clv_mae(float8, float8) IS
    'mean absolute error of prediction against y; rows with a NULL are skipped';
COMMENT ON AGGREGATE clv_r2(float8, float8) IS
    'coefficient of determination 1 - SSE/SST of prediction against y; NULL when all y are equal';

-- Log loss: float8[] state (n, double-double sum of the losses).
CREATE FUNCTION clv_logloss_trans(float8[], boolean, float8)
RETURNS float8[] AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_logloss_combine(float8[], float8[])
RETURNS float8[] AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_logloss_final(float8[])
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_logloss(label boolean, probability float8) (
    SFUNC = clv_logloss_trans, STYPE = float8[], INITCOND = '{0,0,0}',
    FINALFUNC = clv_logloss_final, COMBINEFUNC = clv_logloss_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_logloss(boolean, float8) IS
    'mean negative log-likelihood of the labels; probability of true in [0, 1], clipped to [1e-15, 1 - 1e-15]';

-- AUC and Gini sort all their rows: an internal state of (key, value) pairs,
-- bounded by clv.max_training_memory, shared by both metrics.
CREATE FUNCTION clv_auc_trans(internal, boolean, float8)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gini_trans(internal, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_ranking_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_ranking_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_ranking_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_auc_final(internal)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gini_final(internal)
RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_auc(label boolean, score float8) (
    SFUNC = clv_auc_trans, STYPE = internal, FINALFUNC = clv_auc_final,
    COMBINEFUNC = clv_ranking_combine,
    SERIALFUNC = clv_ranking_serialize, DESERIALFUNC = clv_ranking_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_gini(actual float8, predicted float8) (
    SFUNC = clv_gini_trans, STYPE = internal, FINALFUNC = clv_gini_final,
    COMBINEFUNC = clv_ranking_combine,
    SERIALFUNC = clv_ranking_serialize, DESERIALFUNC = clv_ranking_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_auc(boolean, float8) IS
    'area under the ROC curve of score for label (Mann-Whitney U, tied scores count one half); NULL when only one class is present';
COMMENT ON AGGREGATE clv_gini(float8, float8) IS
    'normalised Gini of the ranking of actual by predicted (1 = perfect, ties share their mean actual); NULL when all actual are equal';

--------------------------------------------------------------------------------
-- Tree ensembles: random forests and gradient boosting
--------------------------------------------------------------------------------

-- The state keeps the rows (float4 features, NaN = missing), bounded by
-- clv.max_training_memory.  The final functions sort the rows into a
-- canonical order before training (so any plan gives the same model): they
-- modify the state, hence FINALFUNC_MODIFY = READ_WRITE.
CREATE FUNCTION clv_forest_fit_trans(internal, float8, float8[], jsonb)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_forest_fit_trans(internal, float8, float8[])
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_forest_fit_trans(internal, boolean, float8[], jsonb)
RETURNS internal AS 'MODULE_PATHNAME', 'clv_forest_fit_bool_trans'
    LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_forest_fit_trans(internal, boolean, float8[])
RETURNS internal AS 'MODULE_PATHNAME', 'clv_forest_fit_bool_trans'
    LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gbm_fit_trans(internal, float8, float8[], jsonb)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gbm_fit_trans(internal, float8, float8[])
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gbm_fit_trans(internal, boolean, float8[], jsonb)
RETURNS internal AS 'MODULE_PATHNAME', 'clv_gbm_fit_bool_trans'
    LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gbm_fit_trans(internal, boolean, float8[])
RETURNS internal AS 'MODULE_PATHNAME', 'clv_gbm_fit_bool_trans'
    LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_trees_fit_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_trees_fit_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_trees_fit_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
-- The thread count (clv.training_threads) changes the speed, never the model.
CREATE FUNCTION clv_forest_fit_final(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION clv_gbm_fit_final(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE clv_forest_fit(y float8, x float8[], options jsonb) (
    SFUNC = clv_forest_fit_trans, STYPE = internal,
    FINALFUNC = clv_forest_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_trees_fit_combine,
    SERIALFUNC = clv_trees_fit_serialize, DESERIALFUNC = clv_trees_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_forest_fit(y float8, x float8[]) (
    SFUNC = clv_forest_fit_trans, STYPE = internal,
    FINALFUNC = clv_forest_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_trees_fit_combine,
    SERIALFUNC = clv_trees_fit_serialize, DESERIALFUNC = clv_trees_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_forest_fit(y boolean, x float8[], options jsonb) (
    SFUNC = clv_forest_fit_trans, STYPE = internal,
    FINALFUNC = clv_forest_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_trees_fit_combine,
    SERIALFUNC = clv_trees_fit_serialize, DESERIALFUNC = clv_trees_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_forest_fit(y boolean, x float8[]) (
    SFUNC = clv_forest_fit_trans, STYPE = internal,
    FINALFUNC = clv_forest_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_trees_fit_combine,
    SERIALFUNC = clv_trees_fit_serialize, DESERIALFUNC = clv_trees_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_gbm_fit(y float8, x float8[], options jsonb) (
    SFUNC = clv_gbm_fit_trans, STYPE = internal,
    FINALFUNC = clv_gbm_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_trees_fit_combine,
    SERIALFUNC = clv_trees_fit_serialize, DESERIALFUNC = clv_trees_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_gbm_fit(y float8, x float8[]) (
    SFUNC = clv_gbm_fit_trans, STYPE = internal,
    FINALFUNC = clv_gbm_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_trees_fit_combine,
    SERIALFUNC = clv_trees_fit_serialize, DESERIALFUNC = clv_trees_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_gbm_fit(y boolean, x float8[], options jsonb) (
    SFUNC = clv_gbm_fit_trans, STYPE = internal,
    FINALFUNC = clv_gbm_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_trees_fit_combine,
    SERIALFUNC = clv_trees_fit_serialize, DESERIALFUNC = clv_trees_fit_deserialize,
    PARALLEL = SAFE
);
CREATE AGGREGATE clv_gbm_fit(y boolean, x float8[]) (
    SFUNC = clv_gbm_fit_trans, STYPE = internal,
    FINALFUNC = clv_gbm_fit_final, FINALFUNC_MODIFY = READ_WRITE,
    COMBINEFUNC = clv_trees_fit_combine,
    SERIALFUNC = clv_trees_fit_serialize, DESERIALFUNC = clv_trees_fit_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE clv_forest_fit(float8, float8[], jsonb) IS
    'fit a random forest regression (options "n_trees", "max_depth", "mtry", "seed", ...) and return it as a clv model';
COMMENT ON AGGREGATE clv_forest_fit(float8, float8[]) IS
    'fit a random forest regression with the default options and return it as a clv model';
COMMENT ON AGGREGATE clv_forest_fit(boolean, float8[], jsonb) IS
    'fit a random forest classifier of P(y) (options "n_trees", "max_depth", "mtry", "seed", ...) and return it as a clv model';
COMMENT ON AGGREGATE clv_forest_fit(boolean, float8[]) IS
    'fit a random forest classifier of P(y) with the default options and return it as a clv model';
COMMENT ON AGGREGATE clv_gbm_fit(float8, float8[], jsonb) IS
    'fit gradient boosted trees (loss "squared", "logistic" or "tweedie"; "n_rounds", "learning_rate", ...) and return them as a clv model';
COMMENT ON AGGREGATE clv_gbm_fit(float8, float8[]) IS
    'fit gradient boosted trees on the squared loss with the default options and return them as a clv model';
COMMENT ON AGGREGATE clv_gbm_fit(boolean, float8[], jsonb) IS
    'fit gradient boosted trees of P(y) on the logistic loss (options "n_rounds", "learning_rate", ...) and return them as a clv model';
COMMENT ON AGGREGATE clv_gbm_fit(boolean, float8[]) IS
    'fit gradient boosted trees of P(y) on the logistic loss with the default options and return them as a clv model';

--------------------------------------------------------------------------------
-- Explanations
--------------------------------------------------------------------------------

CREATE FUNCTION clv_explain(model bytea, x float8[]) RETURNS float8[]
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_explain(bytea, float8[]) IS
    'per-feature contributions on the margin scale (TreeSHAP for trees, coefficient x centred value for linear models); they sum to the margin minus clv_explain_expected';
CREATE FUNCTION clv_explain_expected(model bytea) RETURNS float8
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION clv_explain_expected(bytea) IS
    'the expected margin that clv_explain contributions start from: mean training margin of a tree ensemble, margin at the training means of a linear model';
