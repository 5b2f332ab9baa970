/*
 * btyd.h — "buy till you die" models for non-contractual customers:
 * BG/NBD (Fader, Hardie & Lee 2005), MBG/NBD (Batislam et al. 2007),
 * Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005) and
 * the Gamma-Gamma spend model (Fader & Hardie 2013).
 *
 * Fits see each customer only through (frequency x, recency t_x, age T), or
 * (x, mean spend m) for Gamma-Gamma, so the data are held as distinct
 * patterns with counts: combining partial states is exact, and a fit over
 * millions of customers costs what its distinct patterns cost.
 */
#ifndef CLV_BTYD_H
#define CLV_BTYD_H

#include "clv_core.h"
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

/* ---- fitting ------------------------------------------------------------ */

typedef enum clv_btyd_model
{
	CLV_BTYD_BGNBD,				/* params r, alpha, a, b */
	CLV_BTYD_MBGNBD,			/* params r, alpha, a, b */
	CLV_BTYD_GAMMAGAMMA,		/* params p, q, gamma */
	CLV_BTYD_PARETONBD			/* params r, alpha, s, beta */
} clv_btyd_model;

#define CLV_BTYD_MAX_PARAMS 4

typedef struct clv_btyd_options
{
	double		l2;				/* penalty l2 · Σ θ² on the total log-likelihood */
	const double *start;		/* starting parameters, or NULL for the default starts */
	int			max_iter;
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

int			clv_btyd_n_params(clv_btyd_model model);
const char *clv_btyd_param_name(clv_btyd_model model, int i);

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
	bool		ok = model == CLV_BTYD_GAMMAGAMMA
		? whole && (x == 0 || (tx > 0 && isfinite(tx)))
		: whole && tx >= 0 && tx <= T && isfinite(T) && (x > 0) == (tx > 0);

	return ok ? CLV_OK : clv_btyd_customer_error(model, x, tx, T, err);
}

/*
 * Log-likelihood of all patterns at params (no penalty) and, when grad is
 * not NULL, its gradient with respect to the parameters.
 */
double		clv_btyd_log_likelihood(clv_btyd_model model, const clv_patterns *p,
									const double *params, double *grad);

clv_status	clv_btyd_solve(clv_btyd_model model, const clv_patterns *p,
						   const clv_btyd_options *opt, clv_btyd_fit *fit,
						   clv_error *err);

/* ---- predictions -------------------------------------------------------- */

/* P(alive | x, t_x, T) for BG/NBD, MBG/NBD and Pareto/NBD. */
double		clv_bgnbd_palive(clv_btyd_model model, const double *params,
							 double x, double tx, double T);

/*
 * E[purchases in (T, T + t] | x, t_x, T) = factor(t, x, T) · P(alive): the
 * factor, the expectation for a customer known to be alive, does not depend
 * on t_x, so scoring can reuse it across customers.  Both return false when
 * the Gauss hypergeometric function cannot be evaluated to full precision.
 */
bool		clv_btyd_purchase_factor(clv_btyd_model model, const double *params,
									 double t, double x, double T, double *out);
/* The BG/NBD and MBG/NBD factor by quadrature, the closed form's fallback. */
bool		clv_bgnbd_purchase_factor_integral(clv_btyd_model model, const double *params,
											   double t, double x, double T, double *out);
bool		clv_bgnbd_expected_purchases(clv_btyd_model model, const double *params,
										 double t, double x, double tx, double T,
										 double *out);

/*
 * Pareto/NBD discounted expected residual transactions (Fader, Hardie & Lee
 * 2005, "RFM and CLV"): the expected purchases after T, each discounted by
 * exp(−delta·τ), over an unlimited horizon; delta per model unit.
 */
bool		clv_paretonbd_dert(const double *params, double x, double tx, double T,
							   double delta, double *out);

/*
 * P(X(t) = n): the probability that a new customer makes exactly n repeat
 * purchases in a period of length t (FHL 2005 eq. 8; Batislam et al. for
 * MBG/NBD).  BG/NBD and MBG/NBD only: NaN for other models.
 */
double		clv_bgnbd_probability_of_purchases(clv_btyd_model model, const double *params,
											   double t, int n);

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

/* P(X(t) = n) for a new customer of any purchase model; NaN when it fails. */
double		clv_btyd_probability_of_purchases(clv_btyd_model model, const double *params,
											  double t, int n);

/* P(n purchases in (T, T + t] | x, t_x, T); NaN when it cannot be computed. */
double		clv_btyd_conditional_probability_of_purchases(clv_btyd_model model,
														  const double *params, double t,
														  int n, double x, double tx, double T);

/* ---- Pareto/NBD (paretonbd.c) --------------------------------------------- */

/*
 * A customer's likelihood is Γ(r+x)/Γ(r) α^r β^s (E1 + E2): E1 for being alive
 * at T, E2 for having died in (t_x, T].  Their logarithms and, when g1 and g2
 * are not NULL, their gradients in (r, α, s, β); false when E2 cannot be
 * computed.
 */
bool		clv_paretonbd_terms(const double *params, double x, double tx, double T,
								double *log_e1, double *log_e2, double *g1, double *g2);
/*
 * Log-likelihood of the patterns (and its gradient when grad is not NULL); ix,
 * the patterns' time index, or NULL to take each pattern's logs on its own.
 */
double		clv_paretonbd_ll(const clv_patterns *p, const clv_time_index *ix,
							 const double *params, double *grad);
double		clv_paretonbd_palive(const double *params, double x, double tx, double T);
/* P(X(t) = n) for a new Pareto/NBD customer; NaN when the integral fails. */
double		clv_paretonbd_probability_of_purchases(const double *params, double t, int n);

/* Gamma-Gamma: E[mean spend | x, m]; for x = 0 the population mean. */
double		clv_gammagamma_expected_spend(const double *params, double x, double m);

#endif							/* CLV_BTYD_H */
