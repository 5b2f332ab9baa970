/*
 * sbg.h — the shifted-beta-geometric (sBG) model of contractual customers
 * (Fader & Hardie 2007, "How to project customer retention"): each customer
 * renews at the end of every period with probability 1 − θ, and θ follows
 * Beta(α, β) across customers.  T, the period in which a customer leaves:
 *
 *   P(T = t) = B(α + 1, β + t − 1) / B(α, β)		t = 1, 2, ...
 *   S(t) = P(T > t) = B(α, β + t) / B(α, β)
 *   r(t) = S(t) / S(t − 1) = (β + t − 1) / (α + β + t − 1)
 *
 * The fit's data are counts of customers per (periods, churned) pattern:
 * churned at t contributes P(T = t), still subscribed after t periods S(t).
 */
#ifndef CLV_SBG_H
#define CLV_SBG_H

#include "clv_core.h"

/* The largest period number a row may have (about 2.7 million years of months). */
#define CLV_SBG_MAX_PERIODS 2147483647

typedef struct clv_sbg_cell
{
	double		count;			/* customers, a whole number >= 1 */
	int32_t		periods;		/* >= 1 */
	int32_t		churned;		/* 0 or 1 */
} clv_sbg_cell;

/*
 * The counts per (periods, churned) pattern.  Cells are appended and merged
 * by clv_sbg_counts_compact (sorted by periods, then churned), so a state
 * holds at most twice its distinct patterns, within max_bytes (0: no limit).
 */
typedef struct clv_sbg_counts
{
	clv_sbg_cell *v;
	size_t		n;
	size_t		cap;
	size_t		max_bytes;
} clv_sbg_counts;

void		clv_sbg_counts_init(clv_sbg_counts *c, size_t max_bytes);
void		clv_sbg_counts_free(clv_sbg_counts *c);
/* CLV_ERR_LIMIT when the distinct patterns outgrow max_bytes. */
clv_status	clv_sbg_counts_add(clv_sbg_counts *c, int32_t periods, bool churned,
							   double count, clv_error *err);
clv_status	clv_sbg_counts_merge(clv_sbg_counts *a, const clv_sbg_counts *b, clv_error *err);
/* Sort the cells and merge equal patterns: the canonical form. */
void		clv_sbg_counts_compact(clv_sbg_counts *c);

/* ---- the model's functions (params: α, β, both positive) --------------- */

/* log S(t) for real t >= 0; finite for any t and parameters. */
double		clv_sbg_log_survival(const double *params, double t);
/* r(t) for real t >= 1. */
double		clv_sbg_retention_rate(const double *params, double t);
/* log P(T = t) for t >= 1. */
double		clv_sbg_log_churn(const double *params, double t);

/*
 * Discounted expected residual lifetime of a customer who has renewed
 * `renewals` times, evaluated just before the next renewal decision (Fader &
 * Hardie 2010): Σ_{k>=0} S(renewals + 1 + k) / S(renewals) / (1 + d)^k, the
 * next period counted undiscounted and the current one (already paid) not at
 * all; equal to r(renewals + 1) · 2F1(1, β + renewals + 1; α + β + renewals
 * + 1; 1 / (1 + d)).  d is the discount rate per period, at least
 * CLV_SBG_MIN_DISCOUNT.  Sums the series until a bound on its tail is below
 * 1e-16 of the sum.
 */
#define CLV_SBG_MIN_DISCOUNT 1e-6
double		clv_sbg_residual_lifetime(const double *params, double renewals, double d);

/*
 * The log-likelihood of the counts and, when given, its gradient (2) and
 * Hessian (2 × 2, row-major) with respect to (α, β).
 */
double		clv_sbg_log_likelihood(const clv_sbg_counts *c, const double *params,
								   double *grad, double *hess);

typedef struct clv_sbg_options
{
	int			max_iter;
	double		tol;			/* on the gradient of the mean log-likelihood */
	const double *start;		/* (α, β), or NULL */
} clv_sbg_options;

typedef struct clv_sbg_fit
{
	double		params[2];
	double		std_error[2];	/* NaN when the Hessian is not negative definite */
	double		log_likelihood;
	double		n_customers;
	double		n_churned;
	int			iterations;
	bool		converged;
} clv_sbg_fit;

/*
 * Maximum likelihood on compacted counts.  CLV_ERR_DATA when the data cannot
 * identify α and β: no churn, every customer seen for one period only, or a
 * maximum at infinite α and β (churn alike for everyone).
 */
clv_status	clv_sbg_solve(const clv_sbg_counts *c, const clv_sbg_options *opt,
						  clv_sbg_fit *fit, clv_error *err);

#endif							/* CLV_SBG_H */
