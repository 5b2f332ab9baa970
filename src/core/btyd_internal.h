/*
 * btyd_internal.h — what the BTYD model files give their rows of
 * clv_btyd_models (btyd_models.c), and what the unit tests read of them.
 * Outside the core, use the clv_btyd_* functions of btyd.h.
 */
#ifndef CLV_BTYD_INTERNAL_H
#define CLV_BTYD_INTERNAL_H

#include "btyd.h"

#include <gsl/gsl_integration.h>

/* Horizons that clv_btyd_ops.purchase_factor_curve takes at once, at most. */
#define CLV_BTYD_CURVE_MAX_POINTS 64

/*
 * The Gauss-Legendre rule of n < CLV_BTYD_CURVE_MAX_POINTS nodes that
 * clv_btyd_init built (btyd_predict.c), or NULL before it ran; read-only,
 * so threads may share it.
 */
const gsl_integration_glfixed_table *clv_btyd_gl_rule(int n);

/* ---- BG/NBD and MBG/NBD (bgnbd.c) ------------------------------------------ */

double		clv_bgnbd_ll(const clv_patterns *p, const clv_time_index *ix,
						 const double *params, double *grad);
double		clv_mbgnbd_ll(const clv_patterns *p, const clv_time_index *ix,
						  const double *params, double *grad);
/* The terms of one BG/NBD customer that depend on x, r, a and b alone. */
typedef struct clv_bgnbd_memo
{
	bool		valid;
	double		r,
				a,
				b,
				x;
	double		ax,				/* the log-likelihood's part, without r log α */
				lodds,			/* log(a / (b + x − 1)) */
				dr,				/* the gradient's parts */
				da,
				db;
} clv_bgnbd_memo;

/*
 * One customer's log-likelihood and, when grad is not NULL, its gradient in
 * (r, α, a, b); memo keeps the terms of x and the shapes for the next call
 * (zeroed before the first).
 */
double		clv_bgnbd_customer_ll(const double *params, double x, double tx, double T,
								  double *grad, clv_bgnbd_memo *memo);
int			clv_bgnbd_starts(const clv_patterns *p, double mean_T,
							 double starts[][CLV_BTYD_MAX_PARAMS]);
double		clv_bgnbd_palive(const double *params, double x, double tx, double T);
double		clv_mbgnbd_palive(const double *params, double x, double tx, double T);
bool		clv_bgnbd_purchase_factor(const double *params, double t, double x, double T,
									  double *out);
bool		clv_mbgnbd_purchase_factor(const double *params, double t, double x, double T,
									   double *out);

/*
 * The BG/NBD (MBG/NBD when modified) factor by quadrature, the closed form's
 * fallback where GSL's 2F1 gives up.
 */
bool		clv_bgnbd_purchase_factor_integral(bool modified, const double *params,
											   double t, double x, double T, double *out);
bool		clv_bgnbd_purchase_factor_curve(const double *params, double x, double T, int n,
											const double *t, double *out);
bool		clv_mbgnbd_purchase_factor_curve(const double *params, double x, double T, int n,
											 const double *t, double *out);
double		clv_bgnbd_probability_of_purchases(const double *params, double t, int n);
double		clv_mbgnbd_probability_of_purchases(const double *params, double t, int n);
double		clv_bgnbd_alive_probability_of_purchases(const double *params, double t, int n,
													 double x, double T);
double		clv_mbgnbd_alive_probability_of_purchases(const double *params, double t, int n,
													  double x, double T);

/* ---- Pareto/NBD (paretonbd.c) ---------------------------------------------- */

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
/*
 * What one Pareto/NBD customer's log-likelihood shares with the next: the
 * terms of x, r and s, the logs of α and β, and the hypergeometric series at
 * each time for customers of the same parameters and x (the covariate fits
 * sort their rows so that these come together).  clv_paretonbd_memo_new
 * allocates one, sized for up to n_customers calls between resets; release
 * it with clv_release.
 */
typedef struct clv_paretonbd_memo clv_paretonbd_memo;

clv_paretonbd_memo *clv_paretonbd_memo_new(size_t n_customers);
/* Forget what the memo keeps, without allocating: any thread may call it. */
void		clv_paretonbd_memo_reset(clv_paretonbd_memo *memo);

/*
 * One customer's log-likelihood at params (r, α, s, β) and, when grad is not
 * NULL, its gradient in them; NaN when it cannot be computed.
 */
double		clv_paretonbd_customer_ll(const double *params, double x, double tx, double T,
									  double *grad, clv_paretonbd_memo *memo);
double		clv_paretonbd_ll(const clv_patterns *p, const clv_time_index *ix,
							 const double *params, double *grad);
int			clv_paretonbd_starts(const clv_patterns *p, double mean_T,
								 double starts[][CLV_BTYD_MAX_PARAMS]);
double		clv_paretonbd_palive(const double *params, double x, double tx, double T);
bool		clv_paretonbd_purchase_factor(const double *params, double t, double x, double T,
										  double *out);
/* P(X(t) = n) for a new Pareto/NBD customer; NaN when the integral fails. */
double		clv_paretonbd_probability_of_purchases(const double *params, double t, int n);
double		clv_paretonbd_alive_probability_of_purchases(const double *params, double t,
														 int n, double x, double T);
bool		clv_paretonbd_dert(const double *params, double x, double tx, double T,
							   double delta, double *out);

/* ---- Gamma-Gamma (gammagamma.c) -------------------------------------------- */

double		clv_gammagamma_ll(const clv_patterns *p, const clv_time_index *ix,
							  const double *params, double *grad);
int			clv_gammagamma_starts(const clv_patterns *p, double mean_T,
								  double starts[][CLV_BTYD_MAX_PARAMS]);
clv_status	clv_gammagamma_expected_spend(const double *params, double x, double m,
										  double *out, clv_error *err);

/* ---- BG/BB (bgbb.c): T is the opportunities n, times are whole ------------ */

double		clv_bgbb_ll(const clv_patterns *p, const clv_time_index *ix,
						const double *params, double *grad);
int			clv_bgbb_starts(const clv_patterns *p, double mean_T,
							double starts[][CLV_BTYD_MAX_PARAMS]);
/* P(alive at opportunity n+1) */
double		clv_bgbb_palive(const double *params, double x, double tx, double n);
bool		clv_bgbb_purchase_factor(const double *params, double t, double x, double n,
									 double *out);
double		clv_bgbb_probability_of_purchases(const double *params, double t, int k);
double		clv_bgbb_alive_probability_of_purchases(const double *params, double t, int k,
													double x, double n);
/* delta: ln(1 + d), d the discount rate per opportunity */
bool		clv_bgbb_dert(const double *params, double x, double tx, double n,
						  double delta, double *out);

#endif							/* CLV_BTYD_INTERNAL_H */
