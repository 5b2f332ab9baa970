/*
 * btyd_score_glue.c — per-customer predictions of the "buy till you die"
 * models: clv_palive, clv_expected_purchases, clv_probability_of_purchases and
 * clv_expected_spend, and the check that a model argument is of the right
 * family.  The numbers come from the core (btyd.h); this file reads and
 * checks the arguments and reports.
 */
#include "btyd_glue.h"

#include <math.h>

clv_btyd_model
clv_btyd_model_of(const clv_model *m, const char *fname, bool spend)
{
	clv_btyd_model model;

	if (clv_btyd_model_of_kind(m->kind, &model) && clv_btyd_models[model].spend == spend)
		return model;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s cannot use a %s model", fname, clv_model_kind_name(m->kind)),
			 errhint("%s takes a model fitted by %s.", fname,
					 spend ? "clv_gammagamma_fit"
					 : "clv_bgnbd_fit, clv_mbgnbd_fit, clv_paretonbd_fit or clv_bgbb_fit")));
	pg_unreachable();
}

void
clv_btyd_refuse_discrete(clv_btyd_model model, const char *fname)
{
	if (clv_btyd_models[model].discrete)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s cannot use a %s model", fname,
						clv_model_kind_name(clv_btyd_models[model].kind)),
				 errdetail("Its times are continuous; a %s model counts discrete opportunities.",
						   clv_btyd_models[model].title),
				 errhint("Use clv_expected_purchases or clv_dert.")));
}

void
clv_btyd_check_horizon(clv_btyd_model model, double horizon)
{
	if (clv_btyd_models[model].discrete && horizon != floor(horizon))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must be a whole number of opportunities for a %s model",
						clv_model_kind_name(clv_btyd_models[model].kind)),
				 errdetail("The horizon is %g.", horizon)));
}

void
clv_btyd_hypergeometric_error(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("the model's prediction cannot be computed for this customer"),
			 errdetail("The Gauss hypergeometric function did not converge.")));
}

/*
 * A query that scores customers usually asks for P(alive) and expected
 * purchases (and a lifetime value) of the same customer in a row: each is
 * P(alive) times a factor, so the last P(alive) computed is kept, with its
 * full key, for the next call.
 */
double
clv_btyd_palive_of(clv_btyd_model model, const double *params, double x, double tx, double T)
{
	static struct
	{
		bool		valid;
		clv_btyd_model model;
		double		params[4],
					x,
					tx,
					T,
					value;
	}			last;

	/* compared as values: +0 and −0 give the same P(alive), NaN never comes */
	if (!last.valid || last.model != model || last.x != x || last.tx != tx || last.T != T ||
		last.params[0] != params[0] || last.params[1] != params[1] ||
		last.params[2] != params[2] || last.params[3] != params[3])
	{
		last.value = clv_btyd_palive(model, params, x, tx, T);
		last.model = model;
		memcpy(last.params, params, sizeof(last.params));
		last.x = x;
		last.tx = tx;
		last.T = T;
		last.valid = true;
	}
	return last.value;
}

PG_FUNCTION_INFO_V1(clv_palive);
Datum
clv_palive(PG_FUNCTION_ARGS)
{
	clv_btyd_model model;
	clv_btyd_memo *memo;
	const clv_model *m = clv_btyd_purchase_model_arg(fcinfo, "clv_palive", &model, &memo);
	double		x,
				tx,
				T,
				p,
				own[4];
	const double *params;
	uint64		set;

	clv_btyd_customer_args(fcinfo, 1, model, &x, &tx, &T);
	params = clv_btyd_customer_params(fcinfo, m, model, 4, "clv_palive", memo, own, &set);
	p = clv_btyd_palive_of(model, params, x, tx, T);
	if (isnan(p))
		clv_btyd_hypergeometric_error();
	PG_RETURN_FLOAT8(p);
}

/* E[purchases in the horizon]: P(alive) times the memo's factor (btyd_value_glue.c). */
PG_FUNCTION_INFO_V1(clv_expected_purchases);
Datum
clv_expected_purchases(PG_FUNCTION_ARGS)
{
	clv_btyd_model model;
	clv_btyd_memo *memo;
	const clv_model *m = clv_btyd_purchase_model_arg(fcinfo, "clv_expected_purchases", &model,
													 &memo);
	double		horizon = clv_finite_arg(fcinfo, 1, "horizon");
	double		x,
				tx,
				T,
				e,
				own[4];
	const double *params;
	uint64		set;

	if (horizon < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must not be negative")));
	clv_btyd_check_horizon(model, horizon);
	clv_btyd_customer_args(fcinfo, 2, model, &x, &tx, &T);
	params = clv_btyd_customer_params(fcinfo, m, model, 5, "clv_expected_purchases", memo, own,
									  &set);
	if (!clv_btyd_memo_expected(memo, model, params, set, horizon, -1, 0, x, tx, T, &e))
		clv_btyd_hypergeometric_error();
	PG_RETURN_FLOAT8(e);
}

/*
 * clv_probability_of_purchases(model, horizon, purchases): a new customer's;
 * with frequency, recency and t after them, conditional on that history;
 * either with the customer's covariates last.
 */
PG_FUNCTION_INFO_V1(clv_probability_of_purchases);
Datum
clv_probability_of_purchases(PG_FUNCTION_ARGS)
{
	clv_btyd_model model;
	clv_btyd_memo *memo;
	const clv_model *m = clv_btyd_purchase_model_arg(fcinfo, "clv_probability_of_purchases",
													 &model, &memo);
	double		t = clv_finite_arg(fcinfo, 1, "horizon");
	int32		n = PG_GETARG_INT32(2);
	bool		conditional = PG_NARGS() >= 6;
	double		p,
				own[4];
	const double *params;
	uint64		set;

	if (t < 0 || n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon and purchases must not be negative")));
	clv_btyd_check_horizon(model, t);
	params = clv_btyd_customer_params(fcinfo, m, model, conditional ? 6 : 3,
									  "clv_probability_of_purchases", memo, own, &set);
	if (conditional)
	{
		double		x,
					tx,
					T;

		clv_btyd_customer_args(fcinfo, 3, model, &x, &tx, &T);
		p = clv_btyd_conditional_probability_of_purchases(model, params, t, n, x, tx, T);
	}
	else
		p = clv_btyd_probability_of_purchases(model, params, t, n);
	if (!isfinite(p))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the probability cannot be computed for this customer"),
				 errdetail("A hypergeometric term or an integral did not converge.")));
	PG_RETURN_FLOAT8(p);
}

PG_FUNCTION_INFO_V1(clv_expected_spend);
Datum
clv_expected_spend(PG_FUNCTION_ARGS)
{
	const clv_model *m = clv_cached_model(fcinfo, 0);
	clv_btyd_model model = clv_btyd_model_of(m, "clv_expected_spend", true);
	double		x,
				mon,
				T,
				spend;
	clv_error	err;

	clv_btyd_customer_args(fcinfo, 1, model, &x, &mon, &T);
	clv_check(clv_btyd_expected_spend(model, m->params, x, mon, &spend, &err), &err);
	PG_RETURN_FLOAT8(spend);
}
