/*
 * btyd.h — "buy till you die" models for non-contractual customers:
 * BG/NBD (Fader, Hardie & Lee 2005), MBG/NBD (Batislam et al. 2007),
 * Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005) and
 * the Gamma-Gamma spend model (Fader & Hardie 2013), and for customers who
 * buy only at discrete opportunities, BG/BB (Fader, Hardie & Shang 2010).
 *
 * Fits see each customer only through (frequency x, recency t_x, age T), or
 * (x, mean spend m) for Gamma-Gamma, so the data are held as distinct
 * patterns with counts: combining partial states is exact, and a fit over
 * millions of customers costs what its distinct patterns cost.
 *
 * What differs between the models is one row each of clv_btyd_models; the
 * code that fits and predicts reads the row and never asks which model it
 * has.  The files: btyd_patterns.c (patterns, time index, customer checks),
 * btyd_fit.c (maximum likelihood), btyd_predict.c (predictions), one file per
 * model (bgnbd.c for BG/NBD and MBG/NBD, paretonbd.c, gammagamma.c, bgbb.c) and
 * btyd_models.c, the table.
 */
#ifndef CLV_BTYD_H
#define CLV_BTYD_H

#include "clv_core.h"
#include "model.h"
#include <math.h>

/*
 * Build the constant tables the models read (Gauss-Legendre nodes), once,
 * before any thread exists: the host's load time.  GSL's error handler must
 * be off.  Without it the functions still work, building what they need
 * per call.
 */
void		clv_btyd_init(void);

/* ---- distinct patterns with counts ------------------------------------- */

typedef struct clv_pattern
{
	double		x;				/* frequency (repeat purchases) */
	double		tx;				/* recency; for Gamma-Gamma the mean spend */
	double		T;				/* age; 0 for Gamma-Gamma */
	double		count;			/* customers with this pattern */
} clv_pattern;

typedef struct clv_patterns
{
	clv_pattern *v;
	size_t		n;
	size_t		cap;
	size_t		max_bytes;		/* 0 = no limit */
	const char *noun;			/* what the entries are, for the limit's error */
	/* open-addressing index of v: slot = position + 1, 0 = empty */
	uint32_t   *slots;
	size_t		n_slots;		/* a power of two, at least 2 cap; 0 = not built */
} clv_patterns;

void		clv_patterns_init(clv_patterns *p, size_t max_bytes);
clv_status	clv_patterns_add(clv_patterns *p, double x, double tx, double T,
							 double count, clv_error *err);
clv_status	clv_patterns_merge(clv_patterns *p, const clv_patterns *other, clv_error *err);
/* Sort (patterns are distinct already): a canonical form, whatever the input order. */
void		clv_patterns_compact(clv_patterns *p);
void		clv_patterns_free(clv_patterns *p);

/*
 * The distinct values of T and t_x among patterns, with each pattern's
 * positions among them: a likelihood evaluation takes log(α + t) (and
 * log(β + t)) once per distinct time (whole periods give a few hundred)
 * instead of twice per pattern.
 */
typedef struct clv_time_index
{
	size_t		n;
	double	   *value;
	uint32_t   *T_at,
			   *tx_at;
	double	   *log;			/* scratch for one evaluation: 2 n values */
} clv_time_index;

void		clv_time_index_build(const clv_patterns *p, clv_time_index *ix);
void		clv_time_index_free(clv_time_index *ix);

/* ---- the models ----------------------------------------------------------- */

/* The numbers are stored in aggregate states: append, never renumber. */
typedef enum clv_btyd_model
{
	CLV_BTYD_BGNBD,				/* params r, alpha, a, b */
	CLV_BTYD_MBGNBD,			/* params r, alpha, a, b */
	CLV_BTYD_GAMMAGAMMA,		/* params p, q, gamma */
	CLV_BTYD_PARETONBD,			/* params r, alpha, s, beta */
	CLV_BTYD_BGBB,				/* params alpha, beta, gamma, delta */
	CLV_BTYD_N_MODELS
} clv_btyd_model;

#define CLV_BTYD_MAX_PARAMS 4

/*
 * One model's row of clv_btyd_models.  Times and parameters are in the
 * model's units; every function is pure and safe to call from any thread.
 * A purchase model fills the purchase operations and leaves expected_spend
 * NULL; a spend model the other way round.
 */
typedef struct clv_btyd_ops
{
	const char *title;			/* for messages: "BG/NBD" */
	clv_model_kind kind;		/* the kind a fitted model is stored as */
	int			n_params;
	const char *const *param_names;
	/* the fit aggregate's customer arguments, stored as the feature names */
	int			n_features;
	const char *const *feature_names;

	/*
	 * A spend model: patterns are (x, mean spend m, 0), without times, and
	 * only customers with repeat purchases inform the fit.
	 */
	bool		spend;

	/*
	 * A discrete-time model (BG/BB): recency and T count opportunities, whole
	 * numbers, at most one purchase each (x <= t_x); so do prediction horizons.
	 */
	bool		discrete;

	/* ---- fitting ---- */

	/*
	 * Log-likelihood of the patterns (sorted by x) at params and, when grad
	 * is not NULL, its gradient; ix is the patterns' time index (scratch
	 * included), or NULL where the model allows it.
	 */
	double		(*log_likelihood) (const clv_patterns *p, const clv_time_index *ix,
								   const double *params, double *grad);
	/* Up to 3 starting points of the search; mean_T is the customers' mean age. */
	int			(*starts) (const clv_patterns *p, double mean_T,
						   double starts[][CLV_BTYD_MAX_PARAMS]);

	/* ---- predictions of a purchase model ---- */

	double		(*palive) (const double *params, double x, double tx, double T);
	/* The factor of clv_btyd_purchase_factor, for t > 0. */
	bool		(*purchase_factor) (const double *params, double t, double x, double T,
									double *out);

	/*
	 * The factor at n horizons t[] at once, or false to leave every horizon
	 * to purchase_factor; NULL when the model has no faster way.
	 */
	bool		(*purchase_factor_curve) (const double *params, double x, double T, int n,
										  const double *t, double *out);
	/* The factor is analytic in t but at t = −(params[time_scale] + T). */
	int			time_scale;
	/* P(X(t) = n) for a new customer; NaN when it cannot be computed. */
	double		(*probability_of_purchases) (const double *params, double t, int n);
	/* P(n purchases in (T, T + t] | alive at T, x purchases). */
	double		(*alive_probability_of_purchases) (const double *params, double t, int n,
												   double x, double T);
	/* Discounted expected residual transactions; NULL without a closed form. */
	bool		(*dert) (const double *params, double x, double tx, double T,
						 double delta, double *out);

	/* ---- predictions of a spend model ---- */

	/* E[mean spend | x, m]; an error when the model has no mean. */
	clv_status	(*expected_spend) (const double *params, double x, double m, double *out,
								   clv_error *err);
} clv_btyd_ops;

/* Indexed by clv_btyd_model (btyd_models.c). */
extern const clv_btyd_ops clv_btyd_models[CLV_BTYD_N_MODELS];

/* The BTYD model stored as kind; false when kind is not a BTYD model. */
bool		clv_btyd_model_of_kind(clv_model_kind kind, clv_btyd_model *out);

/* ---- customers (btyd_patterns.c) ------------------------------------------- */

/*
 * Check one customer's data for a model; a message in err when unfit.  The
 * common case is inline (scoring checks every row); the out-of-line function
 * finds which rule failed.
 */
clv_status	clv_btyd_customer_error(clv_btyd_model model, double x, double tx,
									double T, clv_error *err);

static inline clv_status
clv_btyd_check_customer(clv_btyd_model model, double x, double tx, double T,
						clv_error *err)
{
	bool		whole = x >= 0 && x < 9007199254740992.0 && x == (double) (int64_t) x;
	bool		ok = clv_btyd_models[model].spend
		? whole && (x == 0 || (tx > 0 && isfinite(tx)))
		: whole && tx >= 0 && tx <= T && isfinite(T) && (x > 0) == (tx > 0);

	/* opportunities: whole (T < 2^53 then, so the casts are exact), one purchase each */
	if (ok && clv_btyd_models[model].discrete)
		ok = T < 9007199254740992.0 && tx == (double) (int64_t) tx &&
			T == (double) (int64_t) T && x <= tx;

	return ok ? CLV_OK : clv_btyd_customer_error(model, x, tx, T, err);
}

/* Count one checked customer in p, as the model sees it. */
clv_status	clv_btyd_add_customer(clv_btyd_model model, clv_patterns *p, double x,
								  double tx, double T, clv_error *err);

/* ---- fitting (btyd_fit.c) ------------------------------------------------- */

typedef struct clv_btyd_options
{
	double		l2;				/* penalty l2 · Σ θ² on the total log-likelihood */
	const double *start;		/* starting parameters, or NULL for the default starts */
	int			max_iter;
	/*
	 * Only a start for another search (the covariate fits): on many patterns,
	 * the coarse search's parameters, without the finish on the patterns, the
	 * log-likelihood (NaN) or standard errors (NaN).
	 */
	bool		start_only;
} clv_btyd_options;

typedef struct clv_btyd_fit
{
	int			n_params;
	double		params[CLV_BTYD_MAX_PARAMS];
	double		std_error[CLV_BTYD_MAX_PARAMS];	/* NaN when the Hessian is not definite */
	double		log_likelihood;	/* unpenalised */
	double		n_customers;
	size_t		n_patterns;
	int			iterations;
	bool		converged;
} clv_btyd_fit;

/*
 * Log-likelihood of all patterns at params (no penalty) and, when grad is
 * not NULL, its gradient with respect to the parameters.
 */
double		clv_btyd_log_likelihood(clv_btyd_model model, const clv_patterns *p,
									const double *params, double *grad);

clv_status	clv_btyd_solve(clv_btyd_model model, const clv_patterns *p,
						   const clv_btyd_options *opt, clv_btyd_fit *fit,
						   clv_error *err);

/* ---- predictions (btyd_predict.c) ------------------------------------------ */

/* P(alive | x, t_x, T) for a purchase model; NaN when it cannot be computed. */
double		clv_btyd_palive(clv_btyd_model model, const double *params,
							double x, double tx, double T);

/*
 * E[purchases in (T, T + t] | x, t_x, T) = factor(t, x, T) · P(alive): the
 * factor, the expectation for a customer known to be alive, does not depend
 * on t_x, so scoring can reuse it across customers.  Both return false when
 * the model's expectation cannot be evaluated to full precision.
 */
bool		clv_btyd_purchase_factor(clv_btyd_model model, const double *params,
									 double t, double x, double T, double *out);
bool		clv_btyd_expected_purchases(clv_btyd_model model, const double *params,
										double t, double x, double tx, double T,
										double *out);

/*
 * Discounted expected residual transactions (Fader, Hardie & Lee 2005, "RFM
 * and CLV"): the expected purchases after T, each discounted by exp(−delta·τ),
 * over an unlimited horizon; delta per model unit.  False when the model has
 * no closed form (see clv_btyd_ops.dert) or it cannot be evaluated.
 */
bool		clv_btyd_dert(clv_btyd_model model, const double *params, double x, double tx,
						  double T, double delta, double *out);

/*
 * The continuous discount rate per model unit of an annual rate compounded
 * yearly, ln(1 + annual) × the unit in years, for a unit of unit_days days
 * (a year is 365.25 days).
 */
double		clv_btyd_discount_rate(double annual, double unit_days);

/*
 * Discounted expected purchases in (T, T + horizon] of a customer known to be
 * alive at T (multiply by P(alive) for any customer): each purchase at time τ
 * after T is worth exp(−rate·τ).  Like the factor, it does not depend on t_x.
 * With step > 0, purchases are counted per period of that length (the last
 * one ending at the horizon) and discounted at the period's end, the usual
 * discrete cash-flow convention; with step = 0, continuously.  Times are in
 * the model's units; rate is per unit.  False when the model's expectation
 * cannot be evaluated.
 */
bool		clv_btyd_discounted_factor(clv_btyd_model model, const double *params,
									   double x, double T, double horizon, double step,
									   double rate, double *out);

/*
 * The data of a tracking plot: out[w−1] = Σ count · E[X(w·period − b)], the
 * cohort's cumulative expected repeat purchases by the end of period w, for
 * w = 1..n, over customers acquired at time b (the T of each pattern in
 * acquired, with its count; times from the start of period 1, in the model's
 * units) and counted only once acquired.  E[X(t)] is a new customer's
 * expectation.  False when it cannot be evaluated.
 */
bool		clv_btyd_cumulative_expected(clv_btyd_model model, const double *params,
										 const clv_patterns *acquired, int n, double period,
										 double *out);

/*
 * P(X(t) = n): the probability that a new customer makes exactly n repeat
 * purchases in a period of length t (FHL 2005 eq. 8; Batislam et al. for
 * MBG/NBD); NaN when it cannot be computed or the model is not a purchase
 * model.
 */
double		clv_btyd_probability_of_purchases(clv_btyd_model model, const double *params,
											  double t, int n);

/* P(n purchases in (T, T + t] | x, t_x, T); NaN when it cannot be computed. */
double		clv_btyd_conditional_probability_of_purchases(clv_btyd_model model,
														  const double *params, double t,
														  int n, double x, double tx, double T);

/*
 * E[mean spend | x, m] of a spend model: for a one-time buyer (x = 0) the
 * population mean, whatever m.  CLV_ERR_DATA when the model has no mean.
 */
clv_status	clv_btyd_expected_spend(clv_btyd_model model, const double *params, double x,
									double m, double *out, clv_error *err);

/* ---- static covariates (btyd_cov.c) --------------------------------------- */

/*
 * BG/NBD and Pareto/NBD with time-invariant customer covariates (Fader &
 * Hardie 2007, "Incorporating time-invariant covariates into the Pareto/NBD
 * and BG/NBD models"; the parametrisation of CLVTools): purchase covariates
 * z1 scale the purchase rate's Gamma, α_i = α·exp(−γ1′z1); dropout covariates
 * z2 scale the dropout process, a_i = a·exp(γ2′z2) and b_i = b·exp(γ2′z2) for
 * BG/NBD, β_i = β·exp(−γ2′z2) for Pareto/NBD.  A customer's predictions are
 * the plain model's at the customer's own parameters.
 *
 * theta is the base parameters (4) followed by γ1 (p1) and γ2 (p2).
 */
#define CLV_BTYD_COV_MAX 100	/* covariates per process */

/* Whether the model takes covariates (BG/NBD, Pareto/NBD). */
bool		clv_btyd_cov_supported(clv_btyd_model model);

/* The parameters of a customer with covariates z1 (p1) and z2 (p2). */
void		clv_btyd_cov_customer(clv_btyd_model model, const double *theta, int p1, int p2,
								  const double *z1, const double *z2, double *out);

/*
 * Training rows of a covariate fit: row i is (z1..., z2..., x, t_x, T), its
 * weight (customers with that row) w[i].  Sorted, rows of the same customer
 * parameters come together, which the likelihood makes use of.
 */
typedef struct clv_cov_rows
{
	size_t		n;
	int			p1,
				p2;
	const double *v;			/* n × (p1 + p2 + 3), row-major */
	const double *w;
} clv_cov_rows;

/*
 * The distinct rows of in (bitwise), each with the sum of its weights (w
 * NULL: 1 a row), sorted by value: a canonical form, whatever the order of
 * in.  out's arrays are clv_alloc'd; clv_cov_rows_free releases them.
 */
void		clv_cov_rows_compact(const clv_cov_rows *in, clv_cov_rows *out);
void		clv_cov_rows_free(clv_cov_rows *rows);

/*
 * Log-likelihood of the rows at theta and, when grad is not NULL, its
 * gradient, on n_threads threads (1: none started); the same bits whatever
 * their number.  NaN when interrupted.
 */
double		clv_btyd_cov_log_likelihood(clv_btyd_model model, const clv_cov_rows *rows,
										const double *theta, double *grad, uint32_t n_threads);

typedef struct clv_btyd_cov_fit
{
	int			n_theta;		/* 4 + p1 + p2 */
	double	   *theta;			/* clv_alloc'd, n_theta each */
	double	   *std_error;		/* NaN where the Hessian is not definite */
	double		log_likelihood;	/* unpenalised */
	double		n_customers;
	int			iterations;
	bool		converged;
} clv_btyd_cov_fit;

/*
 * Maximise the likelihood, penalised by l2 · Σ γ², from the plain model's
 * fit to the same customers (base, fitted on the rows' patterns) with γ = 0.
 * A covariate that is 0 for every customer keeps γ = 0 (standard error NaN):
 * with no other covariate the fit is the plain one, base itself, which must
 * then be a full fit; otherwise base may be a start_only one.  fit is freed with
 * clv_btyd_cov_fit_free.
 */
typedef struct clv_btyd_cov_settings
{
	double		l2;
	int			max_iter;
	uint32_t	n_threads;		/* of the likelihood's passes over the rows */
} clv_btyd_cov_settings;

clv_status	clv_btyd_cov_solve(clv_btyd_model model, const clv_cov_rows *rows,
							   const clv_btyd_fit *base, const clv_btyd_cov_settings *settings,
							   clv_btyd_cov_fit *fit, clv_error *err);
void		clv_btyd_cov_fit_free(clv_btyd_cov_fit *fit);

#endif							/* CLV_BTYD_H */
