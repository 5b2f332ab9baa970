/*
 * linear.h — linear and logistic regression.
 *
 * Linear regression keeps sufficient statistics (the packed upper triangle of
 * Σ z zᵀ for z = (1, x, y)) in double-double precision, so combining partial
 * states is exact to far below double rounding and centring loses nothing.
 * Logistic regression needs every row (Newton/IRLS revisits them), held in a
 * clv_rows buffer.
 */
#ifndef CLV_LINEAR_H
#define CLV_LINEAR_H

#include "clv_core.h"
#include "rows.h"

/* Features a linear model may have: keeps the per-row scratch on the stack. */
#define CLV_LINREG_MAX_FEATURES 1000
#define CLV_LINREG_MAX_DIM (CLV_LINREG_MAX_FEATURES + 2)

/* ---- linear regression ------------------------------------------------- */

typedef struct clv_linreg_acc
{
	uint32_t	p;				/* number of features */
	size_t		n_terms;		/* (p + 2)(p + 3) / 2 */
	double	   *hi;				/* high parts of the sums */
	double	   *lo;				/* low parts of the sums */
} clv_linreg_acc;

size_t		clv_linreg_terms(uint32_t p);
void		clv_linreg_acc_init(clv_linreg_acc *acc, uint32_t p);
void		clv_linreg_acc_add(clv_linreg_acc *acc, double y, const double *x);

/* Tests set this to check that the FMA and portable builds agree bitwise. */
extern bool clv_linreg_portable_only;
void		clv_linreg_acc_merge(clv_linreg_acc *acc, const clv_linreg_acc *other);
double		clv_linreg_acc_count(const clv_linreg_acc *acc);
/* The mean of each feature: Σ x sits beside n in the first row of the sums. */
void		clv_linreg_acc_feature_means(const clv_linreg_acc *acc, double *means);

/* The linear predictor b0 + Σ b_j x_j (coef: p + 1 entries, intercept first). */
double		clv_linear_margin(const double *coef, const double *x, uint32_t p);

/*
 * Explanations of a linear predictor centred at the training means: the
 * contributions b_j (x_j − mean_j), which add up from the expected value, the
 * margin at the means.
 */
void		clv_linear_explain(const double *coef, const double *means, const double *x,
							   uint32_t p, double *phi);

/* Fit result: arrays have p + 1 entries, intercept first; NaN = not defined. */
typedef struct clv_regression_fit
{
	uint32_t	p;
	double		n;
	double	   *coef;
	double	   *std_error;
	double	   *statistic;		/* t (linear) or z (logistic) */
	double	   *p_value;
	double		condition_number;	/* of the standardised design */
	/* linear only */
	double		r2, adj_r2, rss, sigma, df_resid, f_statistic, f_p_value;
	/* logistic only */
	double		log_likelihood, deviance, null_deviance, aic;
	int			iterations;
	bool		converged;
} clv_regression_fit;

clv_status	clv_linreg_solve(const clv_linreg_acc *acc, double l2,
							 clv_regression_fit *fit, clv_error *err);

/*
 * The elastic net: minimises Σ (y − b0 − bᵀx)² + l2 Σ b_j² + l1 Σ |b_j| by
 * coordinate descent on the standardised sufficient statistics, with an
 * exact solve on the nonzero set to finish.  l1 = 0 is clv_linreg_solve's
 * fit, bit for bit.  With l1 > 0 constant features get the coefficient 0,
 * fewer rows than features are fine, df_resid = n − 1 − (nonzero slopes)
 * and the inference statistics are NaN.
 */
clv_status	clv_linreg_solve_enet(const clv_linreg_acc *acc, double l2, double l1,
								  clv_regression_fit *fit, clv_error *err);

/*
 * A regularisation path: fits[i] for l1[i] (any order; solved from the
 * largest l1 down, each solution starting the next).  On error no fit is
 * left allocated.
 */
clv_status	clv_linreg_solve_path(const clv_linreg_acc *acc, double l2, const double *l1,
								  size_t n_l1, clv_regression_fit *fits, clv_error *err);

/*
 * The residual sum of squares Σ (y − b0 − bᵀx)² of coefficients coef (p + 1,
 * intercept first) over the rows acc summarises: a fitted model's error on
 * rows it was not fitted on, without the rows.
 */
clv_status	clv_linreg_rss(const clv_linreg_acc *acc, const double *coef, double *rss,
						   clv_error *err);

/* ---- logistic regression ----------------------------------------------- */

typedef struct clv_logreg_options
{
	double		l2;				/* penalty λ/2 ‖β‖², intercept free */
	int			max_iter;
	double		tol;			/* on the relative change of the coefficients */
} clv_logreg_options;

clv_status	clv_logreg_solve(const clv_rows *rows, const clv_logreg_options *opt,
							 clv_regression_fit *fit, clv_error *err);

/* Allocate a fit for p features with every statistic NaN (not defined). */
void		clv_regression_fit_alloc(clv_regression_fit *fit, uint32_t p);
void		clv_regression_fit_free(clv_regression_fit *fit);

/*
 * Condition number (ratio of extreme singular values) of a standardised
 * design, from the eigenvalues of its cross-product matrix a (p × p).
 * Returns false when the eigenvalues cannot be computed.
 */
bool		clv_condition_number(const double *a, uint32_t p, double *cond);

#endif							/* CLV_LINEAR_H */
