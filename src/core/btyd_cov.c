/*
 * btyd_cov.c — BG/NBD and Pareto/NBD with time-invariant covariates (see
 * btyd.h): each customer's own parameters, the log-likelihood of the rows
 * with its analytic gradient (the plain model's per customer, by the chain
 * rule through the covariate link), and its maximisation.
 *
 * Covariates make every customer's parameters different, so the rows cannot
 * be reduced to patterns: a likelihood evaluation visits every distinct row.
 * The search starts at the plain model's maximum with γ = 0, where only the
 * coefficients have far to go, with Newton's method, its Hessian kept by BFGS
 * updates between evaluations from differences.  On many rows it runs on a
 * coarse copy first, whose Hessian then serves the rows themselves: an
 * evaluation there costs a pass over every distinct row, and a Hessian k
 * passes.
 */
#include "btyd_internal.h"
#include "sort.h"
#include "tree_internal.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>

#define N_BASE 4

bool
clv_btyd_cov_supported(clv_btyd_model model)
{
	return model == CLV_BTYD_BGNBD || model == CLV_BTYD_PARETONBD;
}

void
clv_btyd_cov_customer(clv_btyd_model model, const double *theta, int p1, int p2,
					  const double *z1, const double *z2, double *out)
{
	double		e1 = 0,
				e2 = 0;

	for (int j = 0; j < p1; j++)
		e1 += theta[N_BASE + j] * z1[j];
	for (int j = 0; j < p2; j++)
		e2 += theta[N_BASE + p1 + j] * z2[j];
	out[0] = theta[0];
	out[1] = theta[1] * exp(-e1);
	if (model == CLV_BTYD_BGNBD)
	{
		/* both shapes of the dropout Beta: its mean stays, its spread moves */
		out[2] = theta[2] * exp(e2);
		out[3] = theta[3] * exp(e2);
	}
	else
	{
		out[2] = theta[2];
		out[3] = theta[3] * exp(-e2);
	}
}

/* What one customer's log-likelihood shares with the next. */
typedef struct memo
{
	clv_bgnbd_memo bgnbd;
	clv_paretonbd_memo *paretonbd;
} memo;

/* One customer's log-likelihood at their parameters c, and its gradient in c. */
static double
customer_ll(clv_btyd_model model, const double *c, double x, double tx, double T, double *g,
			memo *memo)
{
	if (model == CLV_BTYD_BGNBD)
		return clv_bgnbd_customer_ll(c, x, tx, T, g, &memo->bgnbd);
	return clv_paretonbd_customer_ll(c, x, tx, T, g, memo->paretonbd);
}

/*
 * A pass over the rows is cut into chunks of CHUNK_ROWS rows, whose sums are
 * added in chunk order: the chunk boundaries depend on the number of rows
 * alone, so the threads that take the chunks change no bit of the result.
 */
#define CHUNK_ROWS 8192

typedef struct pass_job
{
	clv_btyd_model model;
	const clv_cov_rows *rows;
	const double *theta;
	bool		want_grad;
	int			n_theta;
	double	   *sums;			/* per chunk: the log-likelihood, then the gradient */
	clv_paretonbd_memo **memo;	/* per worker, allocated before the pool starts */
} pass_job;

/* The log-likelihood and gradient of one chunk's rows: a task of the pool. */
static void
chunk_pass(void *arg, uint32_t chunk, uint32_t worker)
{
	const pass_job *job = arg;
	const clv_cov_rows *rows = job->rows;
	const double *theta = job->theta;
	int			p1 = rows->p1,
				p2 = rows->p2,
				stride = 3 + p1 + p2;
	size_t		lo = (size_t) chunk * CHUNK_ROWS,
				hi = lo + CHUNK_ROWS < rows->n ? lo + CHUNK_ROWS : rows->n;
	double	   *ll = job->sums + (size_t) chunk * (1 + job->n_theta),
			   *grad = job->want_grad ? ll + 1 : NULL,
				c[N_BASE];
	memo		memo = {.paretonbd = job->memo ? job->memo[worker] : NULL};

	/* each chunk from a clean memo: what it keeps must not depend on the worker */
	if (memo.paretonbd)
		clv_paretonbd_memo_reset(memo.paretonbd);
	memset(ll, 0, sizeof(double) * (1 + job->n_theta));
	for (size_t i = lo; i < hi && isfinite(*ll); i++)
	{
		const double *z1 = rows->v + i * stride,
				   *z2 = z1 + p1,
				   *h = z2 + p2;
		double		w = rows->w[i],
					g[N_BASE];

		/* sorted rows: the covariates, so the parameters, are often the last row's */
		if (i == lo || memcmp(z1, z1 - stride, sizeof(double) * (p1 + p2)) != 0)
			clv_btyd_cov_customer(job->model, theta, p1, p2, z1, z2, c);
		*ll += w * customer_ll(job->model, c, h[0], h[1], h[2], grad ? g : NULL, &memo);
		if (grad)
		{
			/* the customer's parameters are proportional to the base ones */
			double		d1 = -c[1] * g[1],
						d2 = job->model == CLV_BTYD_BGNBD ? c[2] * g[2] + c[3] * g[3] : -c[3] * g[3];

			for (int j = 0; j < N_BASE; j++)
				grad[j] += w * g[j] * c[j] / theta[j];
			for (int j = 0; j < p1; j++)
				grad[N_BASE + j] += w * z1[j] * d1;
			for (int j = 0; j < p2; j++)
				grad[N_BASE + p1 + j] += w * z2[j] * d2;
		}
	}
}

double
clv_btyd_cov_log_likelihood(clv_btyd_model model, const clv_cov_rows *rows,
							const double *theta, double *grad, uint32_t n_threads)
{
	uint32_t	n_chunks = (uint32_t) ((rows->n + CHUNK_ROWS - 1) / CHUNK_ROWS),
				n_workers = n_threads < n_chunks ? n_threads : n_chunks;
	pass_job	job = {.model = model, .rows = rows, .theta = theta, .want_grad = grad != NULL,
	.n_theta = N_BASE + rows->p1 + rows->p2};
	tree_pool  *pool;
	double		ll = 0;
	bool		done;

	if (n_chunks == 0)
	{
		if (grad)
			memset(grad, 0, sizeof(double) * job.n_theta);
		return 0;
	}
	if (n_workers < 1)
		n_workers = 1;
	job.sums = clv_alloc(sizeof(double) * n_chunks * (1 + job.n_theta));
	if (model == CLV_BTYD_PARETONBD)
	{
		job.memo = clv_alloc(sizeof(clv_paretonbd_memo *) * n_workers);
		for (uint32_t i = 0; i < n_workers; i++)
			job.memo[i] = clv_paretonbd_memo_new(rows->n < CHUNK_ROWS ? rows->n : CHUNK_ROWS);
	}
	/* no allocation from here until the pool has finished */
	pool = tree_pool_start(n_workers);
	done = pool != NULL && tree_pool_run(pool, chunk_pass, &job, n_chunks, NULL, 0, 0, NULL);
	if (pool != NULL)
		tree_pool_finish(pool);
	if (done)
	{
		if (grad)
			memset(grad, 0, sizeof(double) * job.n_theta);
		for (uint32_t k = 0; k < n_chunks; k++)
		{
			const double *sum = job.sums + (size_t) k * (1 + job.n_theta);

			ll += sum[0];
			for (int j = 0; grad && j < job.n_theta; j++)
				grad[j] += sum[1 + j];
		}
	}
	for (uint32_t i = 0; job.memo && i < n_workers; i++)
		clv_release(job.memo[i]);
	clv_release(job.memo);
	clv_release(job.sums);
	return done ? ll : NAN;
}

/* ---- maximisation ----------------------------------------------------------- */

/*
 * The search runs on v: the logs of the base parameters, then the free
 * coefficients (those of covariates that are not 0 for every customer), and
 * minimises the penalised negative log-likelihood per customer.
 */
typedef struct objective
{
	clv_btyd_model model;
	const clv_cov_rows *rows;
	double		n,
				l2;
	uint32_t	n_threads;
	int			k;				/* free variables */
	int			n_theta;
	const int  *free;			/* theta index of each variable */
	double	   *theta;			/* scratch: the full parameters */
	double	   *grad;			/* scratch: their gradient */
} objective;

static void
to_theta(const objective *o, const double *v)
{
	for (int i = 0; i < o->k; i++)
		o->theta[o->free[i]] = o->free[i] < N_BASE ? exp(v[i]) : v[i];
}

/* The objective at v and, when df is not NULL, its gradient in v. */
static double
objective_at(const objective *o, const double *v, double *df)
{
	double		f,
				pen = 0;

	to_theta(o, v);
	for (int i = 0; i < N_BASE; i++)
		if (!(isfinite(o->theta[i]) && o->theta[i] > 0))
			return GSL_POSINF;
	f = -clv_btyd_cov_log_likelihood(o->model, o->rows, o->theta, df ? o->grad : NULL,
									 o->n_threads);
	for (int j = N_BASE; j < o->n_theta; j++)
		pen += o->theta[j] * o->theta[j];
	f = (f + o->l2 * pen) / o->n;
	if (!isfinite(f))
		return GSL_POSINF;
	if (df)
		for (int i = 0; i < o->k; i++)
		{
			int			t = o->free[i];

			df[i] = (t < N_BASE ? -o->theta[t] * o->grad[t]
					 : -o->grad[t] + 2 * o->l2 * o->theta[t]) / o->n;
		}
	return f;
}

static double
gsl_f(const gsl_vector *v, void *arg)
{
	return objective_at(arg, v->data, NULL);
}

static void
gsl_df(const gsl_vector *v, void *arg, gsl_vector *df)
{
	objective_at(arg, v->data, df->data);
}

static void
gsl_fdf(const gsl_vector *v, void *arg, double *f, gsl_vector *df)
{
	*f = objective_at(arg, v->data, df->data);
}

/* BFGS from v (updated in place); false when it could not start. */
static bool
bfgs(const objective *o, double *v, double *f, int max_iter, int *iterations)
{
	gsl_multimin_function_fdf fn = {gsl_f, gsl_df, gsl_fdf, (size_t) o->k, (void *) o};
	gsl_vector_view x0 = gsl_vector_view_array(v, o->k);
	gsl_multimin_fdfminimizer *m =
		gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, o->k);
	int			status = GSL_CONTINUE;
	bool		ok = false;

	if (m != NULL && gsl_multimin_fdfminimizer_set(m, &fn, &x0.vector, 0.01, 0.1) == GSL_SUCCESS
		&& isfinite(m->f))
	{
		while (status == GSL_CONTINUE && *iterations < max_iter && !clv_interrupt_pending())
		{
			(*iterations)++;
			if (gsl_multimin_fdfminimizer_iterate(m) != GSL_SUCCESS)
				break;
			status = gsl_multimin_test_gradient(m->gradient, 1e-6);
		}
		if (isfinite(m->f) && m->f <= *f)
		{
			*f = m->f;
			memcpy(v, m->x->data, sizeof(double) * o->k);
		}
		ok = true;
	}
	if (m != NULL)
		gsl_multimin_fdfminimizer_free(m);
	return ok;
}

/*
 * The Hessian of the objective at v from differences of the analytic
 * gradient (h, k × k, symmetrised): forward differences from the gradient g
 * at v, k evaluations.  False when the objective is not finite.
 * scratch: 2 k doubles.
 */
static bool
hessian(const objective *o, const double *v, const double *g, double *h, double *scratch)
{
	int			k = o->k;
	double	   *vp = scratch,
			   *gp = scratch + k;
	const double eps = 1e-6;

	for (int j = 0; j < k; j++)
	{
		memcpy(vp, v, sizeof(double) * k);
		vp[j] = v[j] + eps;
		if (!isfinite(objective_at(o, vp, gp)))
			return false;
		for (int i = 0; i < k; i++)
			h[i * k + j] = (gp[i] - g[i]) / eps;
	}
	for (int i = 0; i < k; i++)
		for (int j = 0; j < i; j++)
			h[i * k + j] = h[j * k + i] = (h[i * k + j] + h[j * k + i]) / 2;
	return true;
}

/*
 * The Cholesky factor of h in factor.  Where h is not definite (a saddle:
 * Pareto/NBD at γ = 0, for one) it is the factor of h + τI, with the smallest
 * τ of 10⁻³, 10⁻², ... times h's largest diagonal element that gives one, so
 * that the step still goes uphill: *damped says so.  False when no τ does.
 */
static bool
factor_of(const double *h, int k, double *factor, bool *damped)
{
	gsl_matrix_view fv = gsl_matrix_view_array(factor, k, k);
	double		tau = 0,
				top = 0;

	for (int i = 0; i < k; i++)
		top = fmax(top, fabs(h[i * k + i]));
	*damped = false;
	memcpy(factor, h, sizeof(double) * k * k);
	while (gsl_linalg_cholesky_decomp1(&fv.matrix) != GSL_SUCCESS)
	{
		tau = tau == 0 ? 1e-3 * top : 10 * tau;
		if (!(tau > 0 && tau < 1e6 * top))
			return false;
		memcpy(factor, h, sizeof(double) * k * k);
		for (int i = 0; i < k; i++)
			factor[i * k + i] += tau;
		*damped = true;
	}
	return true;
}

/* The largest step a Newton step takes in a variable: a factor e² in a parameter. */
#define MAX_STEP 2.0

static double
norm_inf(const double *g, int k)
{
	double		top = 0;

	for (int i = 0; i < k; i++)
		top = fmax(top, fabs(g[i]));
	return top;
}

static double
norm_of(const double *g, int k)
{
	double		sum = 0;

	for (int i = 0; i < k; i++)
		sum += g[i] * g[i];
	return sqrt(sum);
}

/*
 * The BFGS update of the Hessian approximation h after the step s changed
 * the gradient by y: h − (h s)(h s)′/(s′h s) + y y′/(y′s), skipped where the
 * curvature y′s is not positive.  hs: k doubles.
 */
static void
bfgs_update(double *h, const double *s, const double *y, int k, double *hs)
{
	double		shs = 0,
				ys = 0;

	for (int i = 0; i < k; i++)
	{
		hs[i] = 0;
		for (int j = 0; j < k; j++)
			hs[i] += h[i * k + j] * s[j];
		shs += s[i] * hs[i];
		ys += y[i] * s[i];
	}
	if (!(ys > 0 && shs > 0))
		return;
	for (int i = 0; i < k; i++)
		for (int j = 0; j < k; j++)
			h[i * k + j] += y[i] * y[j] / ys - hs[i] * hs[j] / shs;
}

/*
 * Newton's method from v (updated in place, with its objective *f), the
 * Hessian h (k × k) kept up to date by BFGS updates between evaluations of
 * it from differences (k gradients each): a step costs one gradient, and the
 * convergence stays superlinear.  A Hessian the caller hands over (*have_h)
 * comes from other rows, the coarse copy, and saves the first evaluation.
 * Each step is halved until the objective does not rise; a step that cannot
 * be made from an updated Hessian is tried again from a new one, and from a
 * new one it ends the search.  Stops too when the gradient's norm is below
 * tol, or after max_steps (counted in *steps).  Returns the final gradient's
 * norm, or INFINITY when no Hessian could be had or the objective is not
 * finite at v.
 */
static double
newton(const objective *o, double *v, double *f, double *h, bool *have_h, double tol,
	   int max_steps, int *steps)
{
	int			k = o->k;
	double	   *g = clv_alloc(sizeof(double) * (k * k + 7 * k)),
			   *gt = g + k,
			   *trial = gt + k,
			   *step = trial + k,
			   *scratch = step + k,	/* 2 k */
			   *factor = scratch + 2 * k;
	double		norm = INFINITY;
	bool		fresh = false;

	*f = objective_at(o, v, g);
	if (isfinite(*f))
		norm = norm_of(g, k);
	for (int it = 0; isfinite(norm) && norm > tol && it < max_steps && !clv_interrupt_pending(); it++)
	{
		gsl_matrix_view fv = gsl_matrix_view_array(factor, k, k);
		gsl_vector_view gv = gsl_vector_view_array(g, k),
					sv = gsl_vector_view_array(step, k);
		double		t,
					ft = INFINITY,
					trial_norm = INFINITY;
		bool		damped,
					better = false;

		if (!*have_h)
		{
			if (!hessian(o, v, g, h, scratch))
			{
				norm = INFINITY;
				break;
			}
			*have_h = fresh = true;
		}
		if (!factor_of(h, k, factor, &damped))
		{
			norm = INFINITY;
			break;
		}
		if (gsl_linalg_cholesky_solve(&fv.matrix, &gv.vector, &sv.vector) != GSL_SUCCESS)
			break;
		/*
		 * at most MAX_STEP in any variable: a nearly flat direction (a
		 * maximum at infinity, few customers) would otherwise leap to where
		 * the likelihood's arithmetic fails and its value means nothing
		 */
		t = fmin(1, MAX_STEP / norm_inf(step, k));
		for (int halvings = 0; halvings < 30 && !better; halvings++, t /= 2)
		{
			for (int i = 0; i < k; i++)
				trial[i] = v[i] - t * step[i];
			ft = objective_at(o, trial, gt);
			/* near the maximum the objective's rounding hides the progress: the gradient shows it */
			trial_norm = isfinite(ft) ? norm_of(gt, k) : INFINITY;
			better = ft < *f || (ft <= *f + 1e-12 * fabs(*f) && trial_norm < norm);
		}
		if (!better)
		{
			if (fresh)
				break;			/* a new Hessian's step does not help: done */
			*have_h = false;
			continue;
		}
		if (damped)
			*have_h = false;	/* a saddle's: a new Hessian at the next point */
		else
		{
			/* s and y in place: step becomes s, gradient differences in scratch */
			for (int i = 0; i < k; i++)
			{
				step[i] = trial[i] - v[i];
				scratch[i] = gt[i] - g[i];
			}
			bfgs_update(h, step, scratch, k, scratch + k);
		}
		fresh = false;
		memcpy(v, trial, sizeof(double) * k);
		memcpy(g, gt, sizeof(double) * k);
		*f = ft;
		norm = trial_norm;
		(*steps)++;
	}
	clv_release(g);
	return norm;
}

/*
 * Standard errors from the observed information of the unpenalised
 * log-likelihood (the Hessian in v), with the delta method for the base
 * parameters (se θ = θ · se log θ).
 */
static void
standard_errors(objective *o, const double *v, clv_btyd_cov_fit *fit)
{
	int			k = o->k;
	double	   *h = clv_alloc(sizeof(double) * (2 * k * k + 3 * k)),
			   *factor = h + k * k,
			   *g = factor + k * k;
	double		l2 = o->l2;
	bool		damped;
	gsl_matrix_view fv = gsl_matrix_view_array(factor, k, k);

	o->l2 = 0;
	for (int i = 0; i < fit->n_theta; i++)
		fit->std_error[i] = NAN;
	if (isfinite(objective_at(o, v, g)) && hessian(o, v, g, h, g + k) &&
		factor_of(h, k, factor, &damped) && !damped &&
		gsl_linalg_cholesky_invert(&fv.matrix) == GSL_SUCCESS)
		for (int i = 0; i < k; i++)
		{
			int			t = o->free[i];
			double		se = sqrt(factor[i * k + i] / o->n);	/* the objective is per customer */

			fit->std_error[t] = t < N_BASE ? fit->theta[t] * se : se;
		}
	o->l2 = l2;
	clv_release(h);
}

/* A total order of rows: by value, equal values (0 and −0) by their bits. */
static int
compare_rows(const void *a, const void *b, void *arg)
{
	const clv_cov_rows *rows = arg;
	int			stride = 3 + rows->p1 + rows->p2;
	const double *u = rows->v + *(const size_t *) a * stride,
			   *v = rows->v + *(const size_t *) b * stride;

	for (int j = 0; j < stride; j++)
		if (u[j] != v[j])
			return u[j] < v[j] ? -1 : 1;
	return memcmp(u, v, sizeof(double) * stride);
}

void
clv_cov_rows_compact(const clv_cov_rows *in, clv_cov_rows *out)
{
	int			stride = 3 + in->p1 + in->p2;
	size_t		n_slots = 16,
				n = 0,
				size = in->n ? in->n : 1;
	uint32_t   *slots;
	size_t	   *first = clv_alloc_huge(sizeof(size_t) * size),
			   *order = clv_alloc_huge(sizeof(size_t) * size);
	double	   *sum = clv_alloc_huge(sizeof(double) * size),
			   *v,
			   *w;
	clv_cov_rows unique = *in;

	while (n_slots < 2 * in->n)
		n_slots *= 2;
	slots = clv_alloc_huge(sizeof(uint32_t) * n_slots);
	memset(slots, 0, sizeof(uint32_t) * n_slots);
	/* identical rows (bitwise) once, with their weights summed: an open-addressing index */
	for (size_t i = 0; i < in->n; i++)
	{
		const double *row = in->v + i * stride;
		uint64_t	h = 0,
					bits;
		size_t		s;

		for (int j = 0; j < stride; j++)
		{
			memcpy(&bits, &row[j], sizeof(bits));
			h = clv_mix64(h ^ bits);
		}
		for (s = h & (n_slots - 1); slots[s] != 0; s = (s + 1) & (n_slots - 1))
			if (memcmp(in->v + first[slots[s] - 1] * stride, row, sizeof(double) * stride) == 0)
				break;
		if (slots[s] == 0)
		{
			first[n] = i;
			sum[n] = 0;
			slots[s] = (uint32_t) ++n;
		}
		sum[slots[s] - 1] += in->w ? in->w[i] : 1;
	}
	clv_release(slots);
	/* then sorted: the distinct rows alone, fewer than the rows */
	for (size_t k = 0; k < n; k++)
		order[k] = first[k];
	clv_sort(order, n, sizeof(size_t), compare_rows, &unique);
	v = clv_alloc_huge(sizeof(double) * stride * (n ? n : 1));
	w = clv_alloc_huge(sizeof(double) * (n ? n : 1));
	/* the weight of each distinct row, by its first occurrence: first[] is increasing */
	for (size_t k = 0; k < n; k++)
	{
		size_t		lo = 0,
					hi = n;

		while (hi - lo > 1)
		{
			size_t		mid = (lo + hi) / 2;

			if (first[mid] <= order[k])
				lo = mid;
			else
				hi = mid;
		}
		memcpy(v + k * stride, in->v + order[k] * stride, sizeof(double) * stride);
		w[k] = sum[lo];
	}
	clv_release(first);
	clv_release(order);
	clv_release(sum);
	*out = *in;
	out->n = n;
	out->v = v;
	out->w = w;
}

void
clv_cov_rows_free(clv_cov_rows *rows)
{
	clv_release((void *) rows->v);
	clv_release((void *) rows->w);
	rows->v = rows->w = NULL;
	rows->n = 0;
}

/* Fits on more rows than this search on a coarse copy of them first. */
#define COARSE_ROWS 20000
#define COARSE_GRID 48

/*
 * The rows with t_x and T rounded to a grid of COARSE_GRID steps over the
 * largest age, identical rows merged (as the plain fits coarsen their
 * patterns): a likelihood close enough to find the maximum's neighbourhood.
 * False, and nothing in out, when that would not halve the rows (covariates
 * that differ between most customers).
 */
static bool
coarsen(const clv_cov_rows *rows, clv_cov_rows *out)
{
	int			stride = 3 + rows->p1 + rows->p2,
				h0 = rows->p1 + rows->p2;
	double		max_T = 0,
				step;
	double	   *v = clv_alloc_huge(sizeof(double) * stride * (rows->n ? rows->n : 1));
	clv_cov_rows rounded = *rows;

	for (size_t i = 0; i < rows->n; i++)
		max_T = fmax(max_T, rows->v[i * stride + h0 + 2]);
	step = max_T / COARSE_GRID;
	for (size_t i = 0; i < rows->n; i++)
	{
		double	   *h = v + i * stride + h0;

		memcpy(v + i * stride, rows->v + i * stride, sizeof(double) * stride);
		h[1] = h[0] > 0 ? fmax(1, round(h[1] / step)) * step : 0;
		h[2] = fmax(h[1], round(h[2] / step) * step);
	}
	rounded.v = v;
	clv_cov_rows_compact(&rounded, out);
	clv_release(v);
	if (out->n > rows->n / 2)
	{
		clv_cov_rows_free(out);
		return false;
	}
	return true;
}

#define NEWTON_MAX_STEPS 60

/*
 * The maximum from v: Newton's method, with BFGS first when it stalls away
 * from the maximum (a Hessian that is not definite there).  h and *have_h as
 * for newton().  Returns the final gradient's norm, INFINITY on failure.
 */
static double
search(const objective *o, double *v, double *h, bool *have_h, double tol, int max_iter,
	   int *iterations)
{
	/*
	 * Newton converges in tens of steps where a maximum exists; where none
	 * does (a few customers, parameters running off to infinity) each step
	 * still gains a little, at up to k passes a step: stop it early.
	 */
	int			newton_steps = max_iter < NEWTON_MAX_STEPS ? max_iter : NEWTON_MAX_STEPS;
	double		f,
				norm = newton(o, v, &f, h, have_h, tol, newton_steps, iterations);

	if (!(norm < 1e-6))
	{
		if (!isfinite(f = objective_at(o, v, NULL)) || !bfgs(o, v, &f, max_iter, iterations))
			return INFINITY;
		*have_h = false;
		norm = newton(o, v, &f, h, have_h, tol, newton_steps, iterations);
	}
	return norm;
}

clv_status
clv_btyd_cov_solve(clv_btyd_model model, const clv_cov_rows *rows, const clv_btyd_fit *base,
				   const clv_btyd_cov_settings *settings, clv_btyd_cov_fit *fit, clv_error *err)
{
	int			p1 = rows->p1,
				n_theta = N_BASE + p1 + rows->p2,
				stride = 3 + p1 + rows->p2,
				max_iter = settings->max_iter;
	int		   *free = clv_alloc(sizeof(int) * n_theta);
	double	   *work = clv_alloc(sizeof(double) * 3 * n_theta);
	objective	o = {.model = model, .rows = rows, .l2 = settings->l2,
		.n_threads = settings->n_threads > 0 ? settings->n_threads : 1,
	.n_theta = n_theta, .free = free, .theta = work, .grad = work + n_theta};
	double	   *v = work + 2 * n_theta,
			   *h,
				norm;
	bool		have_h = false;

	memset(fit, 0, sizeof(*fit));
	fit->n_theta = n_theta;
	fit->theta = clv_alloc(sizeof(double) * n_theta);
	fit->std_error = clv_alloc(sizeof(double) * n_theta);
	for (size_t i = 0; i < rows->n; i++)
		o.n += rows->w[i];
	fit->n_customers = o.n;

	/* the free variables: the base parameters, and γ of every covariate not always 0 */
	for (int t = 0; t < n_theta; t++)
	{
		bool		used = t < N_BASE;

		for (size_t i = 0; !used && i < rows->n; i++)
			used = rows->v[i * stride + (t - N_BASE)] != 0;
		if (used)
			free[o.k++] = t;
		o.theta[t] = t < N_BASE ? base->params[t] : 0;
	}
	memcpy(fit->theta, o.theta, sizeof(double) * n_theta);
	fit->iterations = base->iterations;
	fit->converged = false;
	if (o.k == N_BASE)
	{
		/* no covariate varies: the plain fit is the answer */
		memcpy(fit->std_error, base->std_error, sizeof(double) * N_BASE);
		for (int t = N_BASE; t < n_theta; t++)
			fit->std_error[t] = NAN;
		fit->log_likelihood = base->log_likelihood;
		fit->converged = base->converged;
		goto done;
	}
	for (int i = 0; i < o.k; i++)
		v[i] = free[i] < N_BASE ? log(o.theta[free[i]]) : 0;
	fit->iterations = 0;
	h = clv_alloc(sizeof(double) * o.k * o.k);
	if (rows->n > COARSE_ROWS)
	{
		/* many rows: the search on a coarse copy; its Hessian then steps on the rows themselves */
		clv_cov_rows coarse;

		if (coarsen(rows, &coarse))
		{
			objective	oc = o;

			oc.rows = &coarse;
			search(&oc, v, h, &have_h, 1e-6, max_iter, &fit->iterations);
			clv_cov_rows_free(&coarse);
		}
	}
	norm = search(&o, v, h, &have_h, 1e-9, max_iter, &fit->iterations);
	clv_release(h);
	clv_check_interrupts();		/* a cancel stops the search: say so, not that it failed */
	if (!isfinite(norm))
	{
		clv_fail(err, CLV_ERR_NOCONVERGE, "the likelihood could not be maximised");
		clv_set_hint(err, "Check the units of recency and t, and scale the covariates.");
		clv_btyd_cov_fit_free(fit);
		clv_release(free);
		clv_release(work);
		return CLV_ERR_NOCONVERGE;
	}
	fit->converged = norm < 1e-6;
	to_theta(&o, v);
	memcpy(fit->theta, o.theta, sizeof(double) * n_theta);
	fit->log_likelihood = clv_btyd_cov_log_likelihood(model, rows, fit->theta, NULL, o.n_threads);
	standard_errors(&o, v, fit);
done:
	clv_release(free);
	clv_release(work);
	clv_check_interrupts();
	return CLV_OK;
}

void
clv_btyd_cov_fit_free(clv_btyd_cov_fit *fit)
{
	clv_release(fit->theta);
	clv_release(fit->std_error);
	fit->theta = fit->std_error = NULL;
}
