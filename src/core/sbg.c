/*
 * sbg.c — the shifted-beta-geometric model: its survival and retention,
 * the discounted expected residual lifetime, the counts the fit aggregates,
 * and maximum likelihood (GSL's BFGS on the log-parameters, Newton steps on
 * the analytic Hessian to finish, standard errors from that Hessian).
 *
 * Ratios of beta functions are differences of GSL's log-beta functions or
 * products of retention rates, never of large log-gammas (log_beta_ratio).
 */
#include "sbg.h"

#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>

/* ---- counts per pattern -------------------------------------------------- */

void
clv_sbg_counts_init(clv_sbg_counts *c, size_t max_bytes)
{
	memset(c, 0, sizeof(*c));
	c->max_bytes = max_bytes;
}

void
clv_sbg_counts_free(clv_sbg_counts *c)
{
	clv_release(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}

static int
cell_cmp(const void *a, const void *b)
{
	const clv_sbg_cell *x = a,
			   *y = b;

	if (x->periods != y->periods)
		return x->periods < y->periods ? -1 : 1;
	return (x->churned > y->churned) - (x->churned < y->churned);
}

void
clv_sbg_counts_compact(clv_sbg_counts *c)
{
	size_t		out = 0;

	if (c->n < 2)
		return;
	qsort(c->v, c->n, sizeof(clv_sbg_cell), cell_cmp);
	for (size_t i = 1; i < c->n; i++)
	{
		if (cell_cmp(&c->v[out], &c->v[i]) == 0)
			c->v[out].count += c->v[i].count;
		else
			c->v[++out] = c->v[i];
	}
	c->n = out + 1;
}

clv_status
clv_sbg_counts_add(clv_sbg_counts *c, int32_t periods, bool churned, double count,
				   clv_error *err)
{
	if (c->n == c->cap)
	{
		size_t		cap = c->cap;

		/* merge repeated patterns first: most data have few distinct ones */
		clv_sbg_counts_compact(c);
		if (c->n == c->cap || c->n * 2 > c->cap)
		{
			if (clv_rows_capacity(&cap, c->n + 1, sizeof(clv_sbg_cell), c->max_bytes,
								  err) != CLV_OK)
				return CLV_ERR_LIMIT;
			c->v = clv_resize(c->v, cap * sizeof(clv_sbg_cell));
			c->cap = cap;
		}
	}
	c->v[c->n].periods = periods;
	c->v[c->n].churned = churned ? 1 : 0;
	c->v[c->n].count = count;
	c->n++;
	return CLV_OK;
}

clv_status
clv_sbg_counts_merge(clv_sbg_counts *a, const clv_sbg_counts *b, clv_error *err)
{
	for (size_t i = 0; i < b->n; i++)
		if (clv_sbg_counts_add(a, b->v[i].periods, b->v[i].churned, b->v[i].count,
							   err) != CLV_OK)
			return CLV_ERR_LIMIT;
	return CLV_OK;
}

/* ---- the model's functions ------------------------------------------------ */

/* Beyond this many periods the product of retention rates costs too much. */
#define MAX_PRODUCT_TERMS 10000

/*
 * log B(a, b + t) / B(a, b) = log Π_{j<t} (b + j) / (a + b + j).  As a
 * difference of log-beta functions its rounding error is that of
 * log B(a, b), small unless a and b are both large; then, for whole t up to
 * MAX_PRODUCT_TERMS, the product itself, a term at a time.  Either way it is
 * finite for any positive arguments.
 */
static double
log_beta_ratio(double a, double b, double t)
{
	double		lb = gsl_sf_lnbeta(a, b);

	if (t <= MAX_PRODUCT_TERMS && t == floor(t) && t * log(a + b + t) < fabs(lb))
	{
		double		hi = 0,
					lo = 0;

		for (double j = 0; j < t; j++)
			clv_dd_add(&hi, &lo, log1p(-a / (a + b + j)));
		return hi + lo;
	}
	return gsl_sf_lnbeta(a, b + t) - lb;
}

double
clv_sbg_log_survival(const double *params, double t)
{
	if (t <= 0)
		return 0;
	return log_beta_ratio(params[0], params[1], t);
}

double
clv_sbg_retention_rate(const double *params, double t)
{
	double		b = params[1] + t - 1;

	return b / (params[0] + b);
}

double
clv_sbg_log_churn(const double *params, double t)
{
	double		a = params[0],
				b = params[1];

	/* B(α + 1, β + t − 1) / B(α, β) = α / (α + β) · B(α + 1, β + t − 1) / B(α + 1, β) */
	return log(a / (a + b)) + log_beta_ratio(a + 1, b, t - 1);
}

/*
 * Terms t_k of 2F1(1, b; c; x) = Σ (b)_k / (c)_k x^k with c − b = α > 0:
 * their ratio x (b + k) / (c + k) grows towards x, so the terms after t_k
 * add up to less than t_k x / (1 − x), the bound that stops the sum.
 */
double
clv_sbg_residual_lifetime(const double *params, double renewals, double d)
{
	double		b = params[1] + renewals + 1,
				c = params[0] + b,
				x = 1 / (1 + d),
				one_minus_x = d / (1 + d),
				term = 1,
				hi = 1,
				lo = 0;

	for (double k = 0;; k++)
	{
		/* small discount rates take up to 40 / d terms */
		if (fmod(k, 1048576) == 1048575)
			clv_check_interrupts();
		term *= x * (b + k) / (c + k);
		clv_dd_add(&hi, &lo, term);
		if (term * x <= 1e-16 * one_minus_x * hi || term == 0)
			break;
	}
	return clv_sbg_retention_rate(params, renewals + 1) * (hi + lo);
}

/* ---- likelihood -------------------------------------------------------------- */

double
clv_sbg_log_likelihood(const clv_sbg_counts *c, const double *params, double *grad,
					   double *hess)
{
	double		a = params[0],
				b = params[1],
				n = 0,
				ll = 0;
	double		g[2] = {0, 0},
				h[3] = {0, 0, 0};	/* αα, αβ, ββ */

	for (size_t i = 0; i < c->n; i++)
	{
		const clv_sbg_cell *cell = &c->v[i];
		double		t = cell->periods,
					w = cell->count,
					s = a + b + t;
		/* churned in t: B(α + 1, β + t − 1); still subscribed: B(α, β + t) */
		double		aa = cell->churned ? a + 1 : a,
					bb = cell->churned ? b + t - 1 : b + t;

		n += w;
		ll += w * gsl_sf_lnbeta(aa, bb);
		if (grad)
		{
			double		ps = gsl_sf_psi(s);

			g[0] += w * (gsl_sf_psi(aa) - ps);
			g[1] += w * (gsl_sf_psi(bb) - ps);
		}
		if (hess)
		{
			double		ps1 = gsl_sf_psi_1(s);

			h[0] += w * (gsl_sf_psi_1(aa) - ps1);
			h[1] -= w * ps1;
			h[2] += w * (gsl_sf_psi_1(bb) - ps1);
		}
	}
	ll -= n * gsl_sf_lnbeta(a, b);
	if (grad)
	{
		double		ps = gsl_sf_psi(a + b);

		grad[0] = g[0] - n * (gsl_sf_psi(a) - ps);
		grad[1] = g[1] - n * (gsl_sf_psi(b) - ps);
	}
	if (hess)
	{
		double		ps1 = gsl_sf_psi_1(a + b);

		hess[0] = h[0] - n * (gsl_sf_psi_1(a) - ps1);
		hess[1] = hess[2] = h[1] + n * ps1;
		hess[3] = h[2] - n * (gsl_sf_psi_1(b) - ps1);
	}
	return ll;
}

/* ---- maximum likelihood ------------------------------------------------------ */

/*
 * The optimiser minimises the mean negative log-likelihood per customer in
 * the log-parameters u (both parameters are positive), so its tolerance
 * does not depend on the number of customers.
 */
typedef struct objective
{
	const clv_sbg_counts *c;
	double		n;
} objective;

/* f(u), its gradient and, when h is given, its Hessian in u. */
static double
objective_eval(const objective *o, const double *u, double *df, double *h)
{
	double		theta[2] = {exp(u[0]), exp(u[1])},
				g[2],
				hh[4];
	double		f;

	if (!(isfinite(theta[0]) && isfinite(theta[1]) && theta[0] > 0 && theta[1] > 0))
		return GSL_POSINF;
	f = -clv_sbg_log_likelihood(o->c, theta, g, h ? hh : NULL) / o->n;
	for (int i = 0; i < 2; i++)
		df[i] = -theta[i] * g[i] / o->n;
	if (h)
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 2; j++)
				h[i * 2 + j] = (-theta[i] * theta[j] * hh[i * 2 + j] +
								(i == j ? df[i] * o->n : 0)) / o->n;
	return isfinite(f) ? f : GSL_POSINF;
}

static double
gsl_f(const gsl_vector *v, void *arg)
{
	double		df[2];

	return objective_eval(arg, v->data, df, NULL);
}

static void
gsl_df(const gsl_vector *v, void *arg, gsl_vector *df)
{
	double		g[2];

	objective_eval(arg, v->data, g, NULL);
	gsl_vector_set(df, 0, g[0]);
	gsl_vector_set(df, 1, g[1]);
}

static void
gsl_fdf(const gsl_vector *v, void *arg, double *f, gsl_vector *df)
{
	double		g[2];

	*f = objective_eval(arg, v->data, g, NULL);
	gsl_vector_set(df, 0, g[0]);
	gsl_vector_set(df, 1, g[1]);
}

/* BFGS from u; false when GSL could not start.  u holds the best point. */
static bool
bfgs(const objective *o, double *u, int max_iter, double tol, int *iterations)
{
	gsl_multimin_function_fdf fn = {gsl_f, gsl_df, gsl_fdf, 2, (void *) o};
	gsl_vector_view x0 = gsl_vector_view_array(u, 2);
	gsl_multimin_fdfminimizer *m;
	bool		ok = false;

	m = gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, 2);
	if (m == NULL)
		return false;
	if (gsl_multimin_fdfminimizer_set(m, &fn, &x0.vector, 0.1, 0.1) == GSL_SUCCESS &&
		isfinite(m->f))
	{
		int			status = GSL_CONTINUE;

		while (status == GSL_CONTINUE && *iterations < max_iter && !clv_interrupt_pending())
		{
			(*iterations)++;
			if (gsl_multimin_fdfminimizer_iterate(m) != GSL_SUCCESS)
				break;			/* no further progress along the line */
			status = gsl_multimin_test_gradient(m->gradient, tol);
		}
		if (isfinite(m->f))
		{
			u[0] = gsl_vector_get(m->x, 0);
			u[1] = gsl_vector_get(m->x, 1);
		}
		ok = true;
	}
	gsl_multimin_fdfminimizer_free(m);
	clv_check_interrupts();
	return ok;
}

/*
 * Newton steps on the analytic Hessian, each kept only if it lowers the
 * objective or shrinks the gradient: BFGS stops with the gradient small but
 * not negligible.  Returns the final gradient's norm.
 */
static double
polish(const objective *o, double *u, int max_steps, int *iterations)
{
	double		g[2],
				h[4],
				f = objective_eval(o, u, g, h);

	for (int step = 0; step < max_steps && step < 20; step++)
	{
		double		det = h[0] * h[3] - h[1] * h[2],
					trial[2],
					gt[2],
					ht[4],
					ft;

		if (!(h[0] > 0 && det > 0) || hypot(g[0], g[1]) < 1e-14)
			break;
		trial[0] = u[0] - (h[3] * g[0] - h[1] * g[1]) / det;
		trial[1] = u[1] - (h[0] * g[1] - h[2] * g[0]) / det;
		ft = objective_eval(o, trial, gt, ht);
		if (!(ft <= f + 1e-12 * fabs(f) && hypot(gt[0], gt[1]) < hypot(g[0], g[1])))
			break;
		memcpy(u, trial, sizeof(trial));
		memcpy(g, gt, sizeof(gt));
		memcpy(h, ht, sizeof(ht));
		f = ft;
		(*iterations)++;
	}
	return hypot(g[0], g[1]);
}

/* Standard errors: the inverse of the observed information −H at the maximum. */
static void
standard_errors(const clv_sbg_counts *c, clv_sbg_fit *fit)
{
	double		g[2],
				h[4],
				det;

	clv_sbg_log_likelihood(c, fit->params, g, h);
	det = h[0] * h[3] - h[1] * h[2];
	fit->std_error[0] = fit->std_error[1] = NAN;
	if (h[0] < 0 && det > 0)
	{
		fit->std_error[0] = sqrt(-h[3] / det);
		fit->std_error[1] = sqrt(-h[0] / det);
	}
}

clv_status
clv_sbg_solve(const clv_sbg_counts *c, const clv_sbg_options *opt, clv_sbg_fit *fit,
			  clv_error *err)
{
	objective	o = {.c = c};
	double		u[2],
				first = 0;
	int32_t		max_periods = 0;

	memset(fit, 0, sizeof(*fit));
	for (size_t i = 0; i < c->n; i++)
	{
		o.n += c->v[i].count;
		if (c->v[i].churned)
			fit->n_churned += c->v[i].count;
		if (c->v[i].churned && c->v[i].periods == 1)
			first += c->v[i].count;
		if (c->v[i].periods > max_periods)
			max_periods = c->v[i].periods;
	}
	fit->n_customers = o.n;
	if (fit->n_churned == 0)
	{
		clv_fail(err, CLV_ERR_DATA, "no customer churned");
		clv_set_detail(err, "The churn probabilities cannot be estimated without customers who left.");
		return CLV_ERR_DATA;
	}
	if (max_periods < 2)
	{
		clv_fail(err, CLV_ERR_DATA, "every customer was observed for one period only");
		clv_set_detail(err, "One period tells the mean churn probability, not how it varies across customers.");
		return CLV_ERR_DATA;
	}

	if (opt->start)
	{
		u[0] = log(opt->start[0]);
		u[1] = log(opt->start[1]);
	}
	else
	{
		/* the mean churn probability α / (α + β) at the first period's */
		double		p = fmin(fmax(first / o.n, 0.01), 0.99);

		u[0] = 0;
		u[1] = log((1 - p) / p);
	}
	if (!bfgs(&o, u, opt->max_iter, opt->tol, &fit->iterations))
	{
		clv_fail(err, CLV_ERR_NOCONVERGE, "the likelihood could not be maximised");
		clv_set_hint(err, "Give starting values with the \"start\" option.");
		return CLV_ERR_NOCONVERGE;
	}
	/* Newton steps count as iterations: max_iter bounds both */
	fit->converged = polish(&o, u, opt->max_iter - fit->iterations, &fit->iterations) < opt->tol;
	fit->params[0] = exp(u[0]);
	fit->params[1] = exp(u[1]);
	fit->log_likelihood = clv_sbg_log_likelihood(c, fit->params, NULL, NULL);

	/*
	 * Without heterogeneity in the data the likelihood keeps growing as α
	 * and β grow with their ratio fixed (the geometric limit), and the
	 * search stops somewhere on that ray: the likelihood ten times further
	 * out is then not lower.
	 */
	{
		double		further[2] = {10 * fit->params[0], 10 * fit->params[1]};

		if (!(clv_sbg_log_likelihood(c, further, NULL, NULL) < fit->log_likelihood))
		{
			clv_fail(err, CLV_ERR_DATA, "the sBG model is not identifiable from these data");
			clv_set_detail(err, "The likelihood grows without bound as alpha and beta grow: churn looks the same for every customer.");
			clv_set_hint(err, "A constant churn probability (a geometric lifetime) describes these data.");
			return CLV_ERR_DATA;
		}
	}
	standard_errors(c, fit);
	return CLV_OK;
}
