/*
 * btyd_fit.c — maximum likelihood for every BTYD model: BFGS (GSL) on the
 * log-parameters from the model's starting points, a coarse first search on
 * many patterns, Newton steps to finish, and standard errors from the
 * Hessian.  The model enters only through its row of clv_btyd_models.
 */
#include "btyd.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>

double
clv_btyd_log_likelihood(clv_btyd_model model, const clv_patterns *p, const double *params,
						double *grad)
{
	clv_time_index ix;
	double		ll;

	clv_time_index_build(p, &ix);
	ll = clv_btyd_models[model].log_likelihood(p, &ix, params, grad);
	clv_time_index_free(&ix);
	return ll;
}

/* ---- optimisation --------------------------------------------------------- */

/*
 * The optimiser works on log-parameters (all parameters are positive) and
 * minimises the penalised negative log-likelihood per customer, so its
 * tolerances do not depend on the number of customers.
 */
typedef struct objective
{
	const clv_btyd_ops *ops;
	const clv_patterns *p;
	double		n;				/* customers */
	double		l2;
	int			k;
	const clv_time_index *ix;
	/* the last point evaluated, with its value and gradient */
	bool		have_last;
	double		last_x[CLV_BTYD_MAX_PARAMS],
				last_f,
				last_df[CLV_BTYD_MAX_PARAMS];
} objective;

/*
 * The penalised mean negative log-likelihood at log-parameters v and, when
 * df is given, its gradient.  GSL's line search often asks for the value at a
 * point and then for the gradient at the same point: every evaluation takes
 * the gradient too (the series that give the terms give their derivatives in
 * the same pass), and a repeated point is answered from the last one.
 */
static double
objective_fdf(const gsl_vector *v, objective *o, gsl_vector *df)
{
	double		theta[CLV_BTYD_MAX_PARAMS],
				grad[CLV_BTYD_MAX_PARAMS];
	bool		same = o->have_last;
	double		f;

	for (int i = 0; i < o->k; i++)
		same &= gsl_vector_get(v, i) == o->last_x[i];
	if (!same)
	{
		for (int i = 0; i < o->k; i++)
		{
			theta[i] = exp(gsl_vector_get(v, i));
			if (!isfinite(theta[i]) || theta[i] <= 0)
				return GSL_POSINF;
		}
		f = -o->ops->log_likelihood(o->p, o->ix, theta, grad);
		for (int i = 0; i < o->k; i++)
			f += o->l2 * theta[i] * theta[i];
		f /= o->n;
		o->last_f = isfinite(f) ? f : GSL_POSINF;
		for (int i = 0; i < o->k; i++)
		{
			o->last_x[i] = gsl_vector_get(v, i);
			o->last_df[i] = theta[i] * (-grad[i] + 2 * o->l2 * theta[i]) / o->n;
		}
		o->have_last = true;
	}
	if (df)
		for (int i = 0; i < o->k; i++)
			gsl_vector_set(df, i, o->last_df[i]);
	return o->last_f;
}

static double
gsl_f(const gsl_vector *v, void *arg)
{
	return objective_fdf(v, arg, NULL);
}

static void
gsl_df(const gsl_vector *v, void *arg, gsl_vector *df)
{
	objective_fdf(v, arg, df);
}

static void
gsl_fdf(const gsl_vector *v, void *arg, double *f, gsl_vector *df)
{
	*f = objective_fdf(v, arg, df);
}

/* Whether minimiser m is at the maximum known (log-parameters) of value best. */
static bool
reached(int k, const gsl_multimin_fdfminimizer *m, const double *known, double best)
{
	double		d2 = 0;

	for (int i = 0; i < k; i++)
		d2 += (gsl_vector_get(m->x, i) - known[i]) * (gsl_vector_get(m->x, i) - known[i]);
	return m->f <= best + 1e-6 * fabs(best) && d2 < 0.1 * 0.1;
}

/*
 * One BFGS run from start (natural parameters); false when it failed.  With
 * known (the log-parameters of the best maximum so far, of value *best_f),
 * the run is a confirmation: it ends once it reaches that maximum, since
 * these likelihoods have flat ridges along which BFGS crawls for many
 * iterations before its gradient test passes (Newton steps finish later).
 */
static bool
minimise(objective *o, const double *start, int max_iter, const double *known,
		 double *best_log, double *best_f, int *iterations, bool *converged)
{
	gsl_multimin_function_fdf fn = {gsl_f, gsl_df, gsl_fdf, (size_t) o->k, o};
	gsl_multimin_fdfminimizer *m;
	gsl_vector *x0 = gsl_vector_alloc(o->k);
	int			it = 0,
				status = GSL_CONTINUE;
	bool		ok = false;

	if (x0 == NULL)
		return false;
	for (int i = 0; i < o->k; i++)
		gsl_vector_set(x0, i, log(start[i]));
	m = gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, o->k);
	if (m != NULL && gsl_multimin_fdfminimizer_set(m, &fn, x0, 0.1, 0.1) == GSL_SUCCESS &&
		isfinite(m->f))
	{
		/* GSL's memory is malloc'd: stop, free it, and let the caller raise */
		while (status == GSL_CONTINUE && it < max_iter && !clv_interrupt_pending())
		{
			it++;
			if (gsl_multimin_fdfminimizer_iterate(m) != GSL_SUCCESS)
				break;			/* no further progress along the line */
			status = gsl_multimin_test_gradient(m->gradient, 1e-5);
			if (known && status == GSL_CONTINUE && reached(o->k, m, known, *best_f))
				status = GSL_SUCCESS;
		}
		if (isfinite(m->f) && m->f < *best_f)
		{
			*best_f = m->f;
			for (int i = 0; i < o->k; i++)
				best_log[i] = gsl_vector_get(m->x, i);
			*iterations = it;
			*converged = status == GSL_SUCCESS;
		}
		ok = true;
	}
	if (m != NULL)
		gsl_multimin_fdfminimizer_free(m);
	gsl_vector_free(x0);
	clv_check_interrupts();
	return ok;
}

/*
 * BFGS is stopped with the gradient small but not negligible along the flat
 * directions of these likelihoods.  A few Newton steps (Hessian by forward
 * differences of the analytic gradient) finish the job; a step is kept only
 * if it shrinks the gradient.  At most max_steps steps, counted in *steps.
 * Returns the final gradient's norm.
 */
static double
polish(objective *o, double *best_log, double *best_f, int max_steps, int *steps)
{
	int			k = o->k;
	double		g[CLV_BTYD_MAX_PARAMS],
				gt[CLV_BTYD_MAX_PARAMS],
				h[CLV_BTYD_MAX_PARAMS * CLV_BTYD_MAX_PARAMS],
				step[CLV_BTYD_MAX_PARAMS],
				trial[CLV_BTYD_MAX_PARAMS];
	gsl_vector_view gv = gsl_vector_view_array(g, k),
				tv = gsl_vector_view_array(gt, k),
				xv = gsl_vector_view_array(trial, k);
	double		norm = 0;
	const double eps = 1e-5;

	memcpy(trial, best_log, sizeof(double) * k);
	objective_fdf(&xv.vector, o, &gv.vector);
	for (int i = 0; i < k; i++)
		norm += g[i] * g[i];
	for (int iter = 0; iter < 5 && iter < max_steps && norm > 1e-28; iter++)
	{
		double		trial_norm = 0,
					f;
		gsl_matrix_view hv = gsl_matrix_view_array(h, k, k);
		gsl_vector_view sv = gsl_vector_view_array(step, k);

		for (int j = 0; j < k; j++)
		{
			memcpy(trial, best_log, sizeof(double) * k);
			trial[j] += eps;
			objective_fdf(&xv.vector, o, &tv.vector);
			for (int i = 0; i < k; i++)
				h[i * k + j] = (gt[i] - g[i]) / eps;
		}
		for (int i = 0; i < k; i++)
			for (int j = 0; j < i; j++)
				h[i * k + j] = h[j * k + i] = (h[i * k + j] + h[j * k + i]) / 2;
		if (gsl_linalg_cholesky_decomp1(&hv.matrix) != GSL_SUCCESS ||
			gsl_linalg_cholesky_solve(&hv.matrix, &gv.vector, &sv.vector) != GSL_SUCCESS)
			break;
		for (int i = 0; i < k; i++)
			trial[i] = best_log[i] - step[i];
		f = objective_fdf(&xv.vector, o, &tv.vector);
		for (int i = 0; i < k; i++)
			trial_norm += gt[i] * gt[i];
		if (!(trial_norm < norm) || !(f <= *best_f + 1e-12 * fabs(*best_f)))
			break;
		memcpy(best_log, trial, sizeof(double) * k);
		memcpy(g, gt, sizeof(double) * k);
		*best_f = f;
		norm = trial_norm;
		(*steps)++;
	}
	return sqrt(norm);
}

/*
 * Standard errors from the observed information: the Hessian of the
 * log-likelihood in log-parameters, by central differences of the analytic
 * gradient, then the delta method (se θ = θ · se log θ).
 */
static void
standard_errors(const clv_btyd_ops *ops, const clv_patterns *p, const clv_time_index *ix,
				clv_btyd_fit *fit)
{
	int			k = fit->n_params;
	double		h[CLV_BTYD_MAX_PARAMS * CLV_BTYD_MAX_PARAMS];
	double		theta[CLV_BTYD_MAX_PARAMS],
				gp[CLV_BTYD_MAX_PARAMS],
				gm[CLV_BTYD_MAX_PARAMS];
	const double step = 1e-5;
	gsl_matrix_view hv = gsl_matrix_view_array(h, k, k);

	for (int j = 0; j < k; j++)
	{
		for (int i = 0; i < k; i++)
			theta[i] = fit->params[i];
		theta[j] = fit->params[j] * exp(step);
		ops->log_likelihood(p, ix, theta, gp);
		theta[j] = fit->params[j] * exp(-step);
		ops->log_likelihood(p, ix, theta, gm);
		/* d/dlog θj of (θi · ∂ll/∂θi) */
		for (int i = 0; i < k; i++)
		{
			double		up = (i == j ? fit->params[i] * exp(step) : fit->params[i]) * gp[i];
			double		down = (i == j ? fit->params[i] * exp(-step) : fit->params[i]) * gm[i];

			h[i * k + j] = -(up - down) / (2 * step);
		}
	}
	for (int i = 0; i < k; i++)
		for (int j = 0; j < i; j++)
			h[i * k + j] = h[j * k + i] = (h[i * k + j] + h[j * k + i]) / 2;

	for (int i = 0; i < k; i++)
		fit->std_error[i] = NAN;
	if (gsl_linalg_cholesky_decomp1(&hv.matrix) == GSL_SUCCESS &&
		gsl_linalg_cholesky_invert(&hv.matrix) == GSL_SUCCESS)
		for (int i = 0; i < k; i++)
			fit->std_error[i] = fit->params[i] * sqrt(h[i * k + i]);
}

/* Fits on more distinct patterns than this start on a coarse copy of them. */
#define COARSE_PATTERNS 20000
#define COARSE_GRID 48

/*
 * The patterns with t_x and T rounded to a grid of COARSE_GRID steps over the
 * largest age: a likelihood close enough to the real one to find the
 * maximum's neighbourhood, on a few thousand patterns.  Customers keep a
 * positive recency when they have repeat purchases.
 */
static void
coarsen(const clv_patterns *p, clv_patterns *out)
{
	double		max_T = 0,
				h;
	clv_error	err;

	for (size_t i = 0; i < p->n; i++)
		max_T = fmax(max_T, p->v[i].T);
	h = max_T / COARSE_GRID;
	clv_patterns_init(out, 0);
	for (size_t i = 0; i < p->n; i++)
	{
		const clv_pattern *c = &p->v[i];
		double		tx = c->x > 0 ? fmax(1, round(c->tx / h)) * h : 0,
					T = fmax(tx, round(c->T / h) * h);

		/* without a memory limit, adding cannot fail */
		(void) clv_patterns_add(out, c->x, tx, T, c->count, &err);
	}
	clv_patterns_compact(out);
}

/*
 * BFGS from the model's starts, keeping the best: they guard against a flat
 * region, and the scale parameter (alpha, gamma) starts near the data's own
 * time or money scale.  A second start that finds no better maximum confirms
 * the first and ends the search.
 */
static bool
search(objective *o, double mean_T, int max_iter, double *best_log, double *best_f,
	   clv_btyd_fit *fit)
{
	bool		ran = false;
	double		starts[3][CLV_BTYD_MAX_PARAMS];
	int			n_starts = o->ops->starts(o->p, mean_T, starts);

	for (int s = 0; s < n_starts; s++)
	{
		double		before = *best_f,
					known[CLV_BTYD_MAX_PARAMS];

		if (s > 0)
			memcpy(known, best_log, sizeof(known));
		ran |= minimise(o, starts[s], max_iter, s > 0 && fit->converged ? known : NULL,
						best_log, best_f, &fit->iterations, &fit->converged);
		/* a second start that finds no better maximum confirms the first */
		if (s > 0 && fit->converged && !(*best_f < before - 1e-8 * fabs(before)))
			break;
	}
	return ran;
}

clv_status
clv_btyd_solve(clv_btyd_model model, const clv_patterns *p,
			   const clv_btyd_options *opt, clv_btyd_fit *fit, clv_error *err)
{
	const clv_btyd_ops *ops = &clv_btyd_models[model];
	objective	o = {.ops = ops, .p = p, .l2 = opt->l2, .k = ops->n_params};
	clv_time_index ix;
	double		best_log[CLV_BTYD_MAX_PARAMS];
	double		best_f = INFINITY;
	double		mean_T = 0,
				informative = 0;
	bool		ran = false,
				polished = false;

	memset(fit, 0, sizeof(*fit));
	fit->n_params = o.k;
	for (size_t i = 0; i < p->n; i++)
	{
		o.n += p->v[i].count;
		mean_T += p->v[i].count * p->v[i].T;
		if (p->v[i].x > 0)
			informative += p->v[i].count;
	}
	fit->n_customers = o.n;
	fit->n_patterns = p->n;
	if (ops->spend ? informative < 2 : o.n < o.k)
	{
		clv_fail(err, CLV_ERR_DATA, "too few customers to fit the model");
		if (ops->spend)
			clv_set_detail(err, "%s needs at least two customers with repeat purchases; the data have %.0f.",
						   ops->title, informative);
		else
			clv_set_detail(err, "%.0f customers were given.", o.n);
		return CLV_ERR_DATA;
	}
	if (!ops->spend && informative == 0)
	{
		clv_fail(err, CLV_ERR_DATA, "no customer made a repeat purchase");
		clv_set_detail(err, "The purchase rate cannot be estimated without repeat purchases.");
		return CLV_ERR_DATA;
	}
	mean_T /= o.n;
	/* a spend model learns from repeat buyers alone: its mean is over them */
	if (ops->spend)
		o.n = informative;

	clv_time_index_build(p, &ix);
	o.ix = &ix;
	if (opt->start)
		ran = minimise(&o, opt->start, opt->max_iter, NULL, best_log, &best_f,
					   &fit->iterations, &fit->converged);
	else if (!ops->spend && p->n > COARSE_PATTERNS)
	{
		/*
		 * Many patterns: search on a coarse copy of the data (ages and
		 * recencies rounded to a grid), then finish on the data themselves,
		 * with Newton steps from there or, if they do not converge, BFGS.
		 */
		clv_patterns coarse;
		objective	oc = o;

		clv_time_index coarse_ix;

		coarsen(p, &coarse);
		clv_time_index_build(&coarse, &coarse_ix);
		oc.p = &coarse;
		oc.have_last = false;
		oc.ix = &coarse_ix;
		ran = search(&oc, mean_T, opt->max_iter, best_log, &best_f, fit);
		clv_time_index_free(&coarse_ix);
		clv_patterns_free(&coarse);
		if (ran && opt->start_only)
		{
			for (int i = 0; i < o.k; i++)
			{
				fit->params[i] = exp(best_log[i]);
				fit->std_error[i] = NAN;
			}
			fit->log_likelihood = NAN;
			fit->converged = false;
			clv_time_index_free(&ix);
			return CLV_OK;
		}
		if (ran)
		{
			gsl_vector_view bv = gsl_vector_view_array(best_log, o.k);
			double		start[CLV_BTYD_MAX_PARAMS];

			for (int i = 0; i < o.k; i++)
				start[i] = exp(best_log[i]);
			best_f = objective_fdf(&bv.vector, &o, NULL);
			polished = polish(&o, best_log, &best_f, opt->max_iter - fit->iterations,
							  &fit->iterations) < 1e-6;
			if (!polished)
				minimise(&o, start, opt->max_iter, NULL, best_log, &best_f, &fit->iterations,
						 &fit->converged);
		}
	}
	else
		ran = search(&o, mean_T, opt->max_iter, best_log, &best_f, fit);
	if (!ran || !isfinite(best_f))
	{
		clv_fail(err, CLV_ERR_NOCONVERGE, "the likelihood could not be maximised");
		clv_set_hint(err, "Check the units of recency and t, or give starting values with the \"start\" option.");
		clv_time_index_free(&ix);
		return CLV_ERR_NOCONVERGE;
	}
	/* converged: the gradient of the mean log-likelihood is negligible */
	fit->converged = polished ||
		polish(&o, best_log, &best_f, opt->max_iter - fit->iterations, &fit->iterations) < 1e-6;
	for (int i = 0; i < o.k; i++)
		fit->params[i] = exp(best_log[i]);
	fit->log_likelihood = ops->log_likelihood(p, &ix, fit->params, NULL);
	standard_errors(ops, p, &ix, fit);
	clv_time_index_free(&ix);
	return CLV_OK;
}

