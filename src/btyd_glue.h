/*
 * btyd_glue.h — what the "buy till you die" glue files share: a customer's
 * arguments, the last P(alive) computed, the model's table of expected-purchase
 * factors, and the error of a prediction that cannot be computed.
 */
#ifndef CLV_BTYD_GLUE_H
#define CLV_BTYD_GLUE_H

#include "clv.h"

/*
 * A customer's frequency, recency and t (n for BG/BB; a spend model's
 * frequency and monetary) from arguments first.., checked for model (inline:
 * per row).
 */
static pg_attribute_always_inline void
clv_btyd_customer_args(FunctionCallInfo fcinfo, int first, clv_btyd_model model,
					   double *x, double *tx, double *T)
{
	const clv_btyd_ops *ops = &clv_btyd_models[model];
	clv_error	err;

	*x = clv_finite_arg(fcinfo, first, ops->feature_names[0]);
	*tx = clv_finite_arg(fcinfo, first + 1, ops->feature_names[1]);
	*T = ops->spend ? 0 : clv_finite_arg(fcinfo, first + 2, ops->feature_names[2]);
	clv_check(clv_btyd_check_customer(model, *x, *tx, *T, &err), &err);
}

/* btyd_cov_glue.c */

/*
 * The BTYD model of a per-customer prediction's model: a plain purchase
 * model's, or a covariate model's base model (any other kind is an error
 * naming fname).
 */
/* Names of covariates: the given ones, or prefix1, prefix2, ... (btyd_cov_glue.c). */
extern char **clv_btyd_cov_names(const clv_names *given, const char *prefix, int n);
/* A model of a covariate kind from its parameters, names and metadata. */
extern bytea *clv_btyd_cov_model_bytea(clv_btyd_model model, int p1, int p2, double *theta,
									   char **names1, char **names2, char *meta);
extern clv_btyd_model clv_btyd_customer_model_of(const clv_model *m, const char *fname);

/* A call site's parameters of the covariate vectors it has seen. */
typedef struct clv_btyd_cov_cache clv_btyd_cov_cache;
extern clv_btyd_cov_cache *clv_btyd_cov_cache_new(MemoryContext cxt);
typedef struct clv_btyd_memo clv_btyd_memo;

/* The set of parameters of a customer whose parameters are the model's own */
#define CLV_BTYD_OWN_PARAMS UINT64CONST(0)
/* ... and of one whose parameters no other row is known to share */
#define CLV_BTYD_UNSHARED PG_UINT64_MAX

/*
 * The customer's parameters for model m: a covariate model's at the
 * customer's covariates (arguments cov_arg and cov_arg + 1, which it needs),
 * from the call site's cache in memo or computed; a plain model's own, whose
 * call may pass empty covariate arrays.  *set numbers the parameters for the
 * memo's factors: customers with the same set have the same parameters.  The
 * result is valid until the next call (it may be buf).
 */
extern const double *clv_btyd_customer_params(FunctionCallInfo fcinfo, const clv_model *m,
											  clv_btyd_model model, int cov_arg,
											  const char *fname, clv_btyd_memo *memo,
											  double *buf, uint64 *set);

/* btyd_score_glue.c */
/* A horizon argument of model: an error unless it is whole for a discrete-time model. */
extern void clv_btyd_check_horizon(clv_btyd_model model, double horizon);
pg_attribute_noreturn()
extern void clv_btyd_hypergeometric_error(void);
extern double clv_btyd_palive_of(clv_btyd_model model, const double *params, double x,
								 double tx, double T);

/* btyd_value_glue.c */

/*
 * The cached purchase model of argument 0, its BTYD model and what the call
 * site keeps for it: its factor table and, for a covariate model, its
 * covariate cache.
 */
extern const clv_model *clv_btyd_purchase_model_arg(FunctionCallInfo fcinfo,
													const char *fname,
													clv_btyd_model *model,
													clv_btyd_memo **memo);
extern clv_btyd_cov_cache *clv_btyd_memo_covariates(clv_btyd_memo *memo);

/*
 * The customer's expected purchases over horizon at params, numbered set by
 * clv_btyd_customer_params, discounted as the setting says (step < 0: not at
 * all; else periods of step, at continuous rate per unit): P(alive) times
 * the memo's factor for (x, T); false when it cannot be computed.
 */
extern bool clv_btyd_memo_expected(clv_btyd_memo *memo, clv_btyd_model model,
								   const double *params, uint64 set, double horizon,
								   double step, double rate, double x, double tx, double T,
								   double *out);

/*
 * A purchase model's unit of time, what one unit of recency and t meant in
 * the fit: parsed from an interval's text (an error unless it is whole
 * months or days and time, and positive), and appended to metadata as the
 * key "unit" in PostgreSQL's own interval style ("7 days", "3 mons").
 */
extern clv_span clv_btyd_unit_parse(const char *text);
extern void clv_btyd_json_unit(StringInfo buf, clv_span unit);

#endif							/* CLV_BTYD_GLUE_H */
