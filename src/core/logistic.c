/*
 * logistic.c — logistic regression by Newton's method (IRLS) with an
 * optional L2 penalty, step halving, separation detection and Wald
 * inference.  Works on standardised features for conditioning and reports
 * coefficients on the original scale.
 */
#include "linear.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

/* A standardised coefficient beyond this means the classes are separated. */
#define SEPARATION_LIMIT 50.0
#define MAX_CONDITION 1e7
#define INTERRUPT_EVERY 65536

typedef struct problem
{
	const clv_rows *rows;
	uint32_t	k;				/* p + 1 parameters, intercept first */
	double	   *mean;
	double	   *scale;
	double	   *penalty;		/* per parameter, on the standardised scale */
} problem;

static inline double
softplus(double eta)
{
	return eta > 0 ? eta + log1p(exp(-eta)) : log1p(exp(eta));
}

static inline void
standardise_row(const problem *pb, size_t i, double *z)
{
	const double *x = pb->rows->x + i * pb->rows->p;

	z[0] = 1.0;
	for (uint32_t j = 1; j < pb->k; j++)
		z[j] = (x[j - 1] - pb->mean[j - 1]) / pb->scale[j - 1];
}

/*
 * Penalised log-likelihood at theta; when grad and hess are given, also its
 * gradient and the (positive definite) negative Hessian, lower triangle.
 */
static double
evaluate(const problem *pb, const double *theta, double *grad, double *hess,
		 double *z)
{
	uint32_t	k = pb->k;
	long double ll = 0;

	if (grad)
	{
		memset(grad, 0, sizeof(double) * k);
		memset(hess, 0, sizeof(double) * k * k);
	}
	for (size_t i = 0; i < pb->rows->n; i++)
	{
		double		eta = 0,
					y = pb->rows->y[i];

		if (i % INTERRUPT_EVERY == INTERRUPT_EVERY - 1)
			clv_check_interrupts();
		standardise_row(pb, i, z);
		for (uint32_t j = 0; j < k; j++)
			eta += theta[j] * z[j];
		ll += y * eta - softplus(eta);
		if (grad)
		{
			double		mu = clv_logistic(eta);
			double		w = mu * (1 - mu);
			double		r = y - mu;

			for (uint32_t a = 0; a < k; a++)
			{
				grad[a] += r * z[a];
				for (uint32_t b = 0; b <= a; b++)
					hess[a * k + b] += w * z[a] * z[b];
			}
		}
	}
	for (uint32_t j = 0; j < k; j++)
	{
		ll -= 0.5 * pb->penalty[j] * theta[j] * theta[j];
		if (grad)
		{
			grad[j] -= pb->penalty[j] * theta[j];
			hess[j * k + j] += pb->penalty[j];
		}
	}
	if (hess)
		for (uint32_t a = 0; a < k; a++)
			for (uint32_t b = 0; b < a; b++)
				hess[b * k + a] = hess[a * k + b];
	return (double) ll;
}

static clv_status
check_data(const clv_rows *rows, clv_error *err)
{
	size_t		positives = 0;

	if (rows->n < (size_t) rows->p + 1)
	{
		clv_fail(err, CLV_ERR_DATA, "too few rows to fit a logistic regression");
		clv_set_detail(err, "%zu rows were given; %u features need at least %u.",
					   rows->n, rows->p, rows->p + 1);
		return CLV_ERR_DATA;
	}
	for (size_t i = 0; i < rows->n; i++)
		positives += rows->y[i] != 0;
	if (positives == 0 || positives == rows->n)
	{
		clv_fail(err, CLV_ERR_DATA, "all outcomes are %s", positives ? "true" : "false");
		clv_set_detail(err, "A logistic regression needs both outcomes among its rows.");
		return CLV_ERR_DATA;
	}
	return CLV_OK;
}

/* Column means and standard deviations; also the design's condition number. */
static clv_status
standardise(problem *pb, double l2, clv_regression_fit *fit, double *z,
			clv_error *err)
{
	const clv_rows *rows = pb->rows;
	uint32_t	p = rows->p;
	double	   *corr = clv_alloc(sizeof(double) * p * p);
	clv_status	st = CLV_OK;

	memset(pb->mean, 0, sizeof(double) * p);
	for (size_t i = 0; i < rows->n; i++)
		for (uint32_t j = 0; j < p; j++)
			pb->mean[j] += rows->x[i * p + j];
	for (uint32_t j = 0; j < p; j++)
	{
		pb->mean[j] /= rows->n;
		pb->scale[j] = 1.0;
	}
	/* cross-products of the centred columns */
	memset(corr, 0, sizeof(double) * p * p);
	for (size_t i = 0; i < rows->n; i++)
	{
		standardise_row(pb, i, z);
		for (uint32_t a = 0; a < p; a++)
			for (uint32_t b = 0; b <= a; b++)
				corr[a * p + b] += z[a + 1] * z[b + 1];
	}
	for (uint32_t j = 0; j < p; j++)
	{
		double		sd = sqrt(corr[j * p + j] / rows->n);

		if (!isfinite(sd) || !isfinite(pb->mean[j]))
		{
			st = clv_fail(err, CLV_ERR_DATA, "values are too large to fit a logistic regression");
			clv_set_detail(err, "The mean or spread of feature %u overflows.", j + 1);
			clv_set_hint(err, "Rescale the feature.");
			goto done;
		}
		/* below rounding of the mean, a spread is no variation */
		if (sd > 1e-12 * fabs(pb->mean[j]))
			pb->scale[j] = sd;
		else if (l2 == 0)
		{
			st = clv_fail(err, CLV_ERR_SINGULAR,
						  "design matrix is singular: feature %u is constant", j + 1);
			clv_set_hint(err, "Remove the feature, or set a positive \"l2\" option.");
			goto done;
		}
	}
	for (uint32_t a = 0; a < p; a++)
		for (uint32_t b = 0; b <= a; b++)
		{
			double		v = corr[a * p + b] / (rows->n * pb->scale[a] * pb->scale[b]);

			corr[a * p + b] = corr[b * p + a] = v;
		}
	if (!clv_condition_number(corr, p, &fit->condition_number))
		st = clv_fail(err, CLV_ERR_INTERNAL, "could not compute the eigenvalues of the design");
	else if (l2 == 0 && !(fit->condition_number < MAX_CONDITION))
	{
		st = clv_fail(err, CLV_ERR_SINGULAR, "design matrix is singular or nearly singular");
		clv_set_detail(err, "The condition number of the standardised design is %g.",
					   fit->condition_number);
		clv_set_hint(err, "Remove collinear features, or set a positive \"l2\" option.");
	}
done:
	clv_release(corr);
	return st;
}

static clv_status
separation_error(clv_error *err)
{
	clv_fail(err, CLV_ERR_DATA, "the outcome is perfectly separated by the features");
	clv_set_detail(err, "Maximum likelihood estimates do not exist: the coefficients grow without bound.");
	clv_set_hint(err, "Set a positive \"l2\" option, or remove the separating features.");
	return CLV_ERR_DATA;
}

/* Coefficients this large mean the likelihood has no maximum. */
static bool
separating(const double *theta, uint32_t k)
{
	for (uint32_t j = 1; j < k; j++)
		if (fabs(theta[j]) > SEPARATION_LIMIT)
			return true;
	return false;
}

/* Wald statistics on the original scale from the inverse Hessian. */
static void
wald_inference(const problem *pb, const double *hinv, clv_regression_fit *fit)
{
	uint32_t	k = pb->k;
	double		var0 = 0;

	/* intercept = θ0 − Σ θj mj / sj: a linear map of θ */
	for (uint32_t a = 0; a < k; a++)
	{
		double		ta = a == 0 ? 1 : -pb->mean[a - 1] / pb->scale[a - 1];

		for (uint32_t b = 0; b < k; b++)
		{
			double		tb = b == 0 ? 1 : -pb->mean[b - 1] / pb->scale[b - 1];

			var0 += ta * hinv[a * k + b] * tb;
		}
	}
	fit->std_error[0] = sqrt(var0);
	for (uint32_t j = 1; j < k; j++)
		fit->std_error[j] = sqrt(hinv[j * k + j]) / pb->scale[j - 1];
	for (uint32_t j = 0; j < k; j++)
	{
		fit->statistic[j] = fit->coef[j] / fit->std_error[j];
		fit->p_value[j] = 2 * gsl_cdf_ugaussian_Q(fabs(fit->statistic[j]));
	}
}

clv_status
clv_logreg_solve(const clv_rows *rows, const clv_logreg_options *opt,
				 clv_regression_fit *fit, clv_error *err)
{
	uint32_t	p = rows->p;
	uint32_t	k = p + 1;
	problem		pb = {rows, k, NULL, NULL, NULL};
	double	   *theta,
			   *trial,
			   *grad,
			   *hess,
			   *step,
			   *z;
	double		ll;
	clv_status	st;

	if ((st = check_data(rows, err)) != CLV_OK)
		return st;

	clv_regression_fit_alloc(fit, p);
	fit->n = (double) rows->n;
	pb.mean = clv_alloc(sizeof(double) * p);
	pb.scale = clv_alloc(sizeof(double) * p);
	pb.penalty = clv_alloc(sizeof(double) * k);
	theta = clv_alloc(sizeof(double) * k);
	trial = clv_alloc(sizeof(double) * k);
	grad = clv_alloc(sizeof(double) * k);
	step = clv_alloc(sizeof(double) * k);
	hess = clv_alloc(sizeof(double) * k * k);
	z = clv_alloc(sizeof(double) * k);

	if ((st = standardise(&pb, opt->l2, fit, z, err)) != CLV_OK)
		goto done;

	/* penalty λ/2 Σ βj² with βj = θj / sj; the intercept is not penalised */
	pb.penalty[0] = 0;
	for (uint32_t j = 1; j < k; j++)
		pb.penalty[j] = opt->l2 / (pb.scale[j - 1] * pb.scale[j - 1]);

	/* start from the intercept-only model */
	{
		double		ybar = 0;

		for (size_t i = 0; i < rows->n; i++)
			ybar += rows->y[i];
		ybar /= rows->n;
		memset(theta, 0, sizeof(double) * k);
		theta[0] = log(ybar / (1 - ybar));
		fit->null_deviance = -2.0 * (double) rows->n * (ybar * log(ybar) + (1 - ybar) * log(1 - ybar));
	}

	ll = evaluate(&pb, theta, grad, hess, z);
	for (fit->iterations = 1; fit->iterations <= opt->max_iter; fit->iterations++)
	{
		gsl_matrix_view hv = gsl_matrix_view_array(hess, k, k);
		gsl_vector_view gv = gsl_vector_view_array(grad, k);
		gsl_vector_view sv = gsl_vector_view_array(step, k);
		double		t = 1.0,
					size = 0,
					norm = 0,
					ll_new = ll;

		clv_check_interrupts();
		if (gsl_linalg_cholesky_decomp1(&hv.matrix) != GSL_SUCCESS ||
			gsl_linalg_cholesky_solve(&hv.matrix, &gv.vector, &sv.vector) != GSL_SUCCESS)
		{
			/* weights vanish when fitted probabilities reach 0 or 1 */
			st = opt->l2 == 0 && separating(theta, k) ? separation_error(err)
				: clv_fail(err, CLV_ERR_SINGULAR, "logistic regression Hessian is singular");
			goto done;
		}
		/* step halving keeps every iterate an improvement */
		for (int halvings = 0; halvings < 40; halvings++, t /= 2)
		{
			for (uint32_t j = 0; j < k; j++)
				trial[j] = theta[j] + t * step[j];
			ll_new = evaluate(&pb, trial, NULL, NULL, z);
			if (ll_new >= ll - 1e-12 * fabs(ll))
				break;
		}
		for (uint32_t j = 0; j < k; j++)
		{
			size = fmax(size, fabs(trial[j] - theta[j]));
			norm = fmax(norm, fabs(trial[j]));
		}
		memcpy(theta, trial, sizeof(double) * k);
		ll = evaluate(&pb, theta, grad, hess, z);

		if (opt->l2 == 0 && separating(theta, k))
		{
			st = separation_error(err);
			goto done;
		}
		if (size <= opt->tol * (1 + norm))
		{
			fit->converged = true;
			break;
		}
	}
	if (!fit->converged)
	{
		fit->iterations = opt->max_iter;
		st = clv_fail(err, CLV_ERR_NOCONVERGE,
					  "logistic regression did not converge in %d iterations", opt->max_iter);
		clv_set_hint(err, "Raise the \"max_iter\" option, or set a positive \"l2\" option.");
		goto done;
	}

	/* back to the original scale */
	fit->coef[0] = theta[0];
	for (uint32_t j = 1; j < k; j++)
	{
		fit->coef[j] = theta[j] / pb.scale[j - 1];
		fit->coef[0] -= fit->coef[j] * pb.mean[j - 1];
	}
	/* report the likelihood itself: take the penalty back out */
	fit->log_likelihood = ll;
	for (uint32_t j = 0; j < k; j++)
		fit->log_likelihood += 0.5 * pb.penalty[j] * theta[j] * theta[j];
	fit->deviance = -2 * fit->log_likelihood;
	fit->aic = fit->deviance + 2.0 * k;

	if (opt->l2 == 0)
	{
		gsl_matrix_view hv = gsl_matrix_view_array(hess, k, k);

		if (gsl_linalg_cholesky_decomp1(&hv.matrix) == GSL_SUCCESS &&
			gsl_linalg_cholesky_invert(&hv.matrix) == GSL_SUCCESS)
			wald_inference(&pb, hess, fit);
	}

done:
	clv_release(pb.mean);
	clv_release(pb.scale);
	clv_release(pb.penalty);
	clv_release(theta);
	clv_release(trial);
	clv_release(grad);
	clv_release(step);
	clv_release(hess);
	clv_release(z);
	if (st != CLV_OK)
		clv_regression_fit_free(fit);
	return st;
}
