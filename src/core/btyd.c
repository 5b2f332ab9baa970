/*
 * btyd.c — BG/NBD, MBG/NBD and Gamma-Gamma: likelihoods with analytic
 * gradients, maximum likelihood on log-parameters with GSL's BFGS, standard
 * errors from the Hessian, and per-customer predictions.
 */
#include "btyd.h"
#include "sort.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_hyperg.h>
#include <gsl/gsl_sf_psi.h>

/* ---- patterns ------------------------------------------------------------ */

void
clv_patterns_init(clv_patterns *p, size_t max_bytes)
{
	memset(p, 0, sizeof(*p));
	p->max_bytes = max_bytes;
	p->noun = "customer patterns";
}

static int
compare_pattern(const void *a, const void *b, void *arg CLV_UNUSED)
{
	const clv_pattern *x = a;
	const clv_pattern *y = b;

	if (x->x != y->x)
		return x->x < y->x ? -1 : 1;
	if (x->tx != y->tx)
		return x->tx < y->tx ? -1 : 1;
	if (x->T != y->T)
		return x->T < y->T ? -1 : 1;
	return 0;
}

/* The patterns as they arrive are distinct; sorting makes their order canonical. */
void
clv_patterns_compact(clv_patterns *p)
{
	if (p->n > 1)
		clv_sort(p->v, p->n, sizeof(clv_pattern), compare_pattern, NULL);
	/* the index refers to positions: rebuilt when next needed */
	clv_release(p->slots);
	p->slots = NULL;
	p->n_slots = 0;
}

static uint64_t
pattern_hash(double x, double tx, double T)
{
	double		key[3] = {x + 0.0, tx + 0.0, T + 0.0};	/* −0 hashes as 0 */
	uint64_t	h = 0,
				bits;

	for (int i = 0; i < 3; i++)
	{
		memcpy(&bits, &key[i], 8);
		h = clv_mix64(h ^ bits);
	}
	return h;
}

/* Rebuild the index over the first n patterns with n_slots slots. */
static void
patterns_reindex(clv_patterns *p, size_t n_slots)
{
	clv_release(p->slots);
	p->slots = clv_alloc(n_slots * sizeof(uint32_t));
	memset(p->slots, 0, n_slots * sizeof(uint32_t));
	p->n_slots = n_slots;
	for (size_t i = 0; i < p->n; i++)
	{
		size_t		s = pattern_hash(p->v[i].x, p->v[i].tx, p->v[i].T) & (n_slots - 1);

		while (p->slots[s] != 0)
			s = (s + 1) & (n_slots - 1);
		p->slots[s] = (uint32_t) (i + 1);
	}
}

/* Room for `need` patterns (and their index), within the memory limit. */
static clv_status
patterns_reserve(clv_patterns *p, size_t need, clv_error *err)
{
	/* a pattern and its share of the index (at least two slots) */
	const size_t per_pattern = sizeof(clv_pattern) + 4 * sizeof(uint32_t);
	size_t		cap;
	clv_pattern *v;

	if (need <= p->cap)
		return CLV_OK;
	cap = p->cap ? p->cap * 2 : 256;
	while (cap < need)
		cap *= 2;
	if (cap > UINT32_MAX - 1 ||
		(p->max_bytes && cap > p->max_bytes / per_pattern))
	{
		cap = p->max_bytes ? p->max_bytes / per_pattern : UINT32_MAX - 1;
		if (cap < need)
		{
			clv_fail(err, CLV_ERR_LIMIT,
					 "distinct %s exceed the memory limit of %zu kB",
					 p->noun, p->max_bytes / 1024);
			clv_set_detail(err, "%zu distinct %s need %zu kB.", need, p->noun,
						   (need * per_pattern + 1023) / 1024);
			return CLV_ERR_LIMIT;
		}
	}
	v = clv_alloc(cap * sizeof(clv_pattern));
	if (p->n)
		memcpy(v, p->v, p->n * sizeof(clv_pattern));
	clv_release(p->v);
	p->v = v;
	p->cap = cap;
	return CLV_OK;
}

clv_status
clv_patterns_add(clv_patterns *p, double x, double tx, double T, double count,
				 clv_error *err)
{
	clv_status	st;
	size_t		s;

	/* sorted input repeats the last pattern: count it in place */
	if (p->n > 0 && p->v[p->n - 1].x == x && p->v[p->n - 1].tx == tx &&
		p->v[p->n - 1].T == T)
	{
		p->v[p->n - 1].count += count;
		return CLV_OK;
	}
	if (p->n_slots < 2 * (p->n + 1))
	{
		size_t		n_slots = 1024;

		while (n_slots < 4 * (p->n + 1))
			n_slots *= 2;
		patterns_reindex(p, n_slots);
	}
	s = pattern_hash(x, tx, T) & (p->n_slots - 1);
	for (; p->slots[s] != 0; s = (s + 1) & (p->n_slots - 1))
	{
		clv_pattern *c = &p->v[p->slots[s] - 1];

		if (c->x == x && c->tx == tx && c->T == T)
		{
			c->count += count;
			return CLV_OK;
		}
	}
	if (p->n == p->cap && (st = patterns_reserve(p, p->n + 1, err)) != CLV_OK)
		return st;
	p->v[p->n] = (clv_pattern) {x, tx, T, count};
	p->slots[s] = (uint32_t) ++p->n;
	return CLV_OK;
}

clv_status
clv_patterns_merge(clv_patterns *p, const clv_patterns *other, clv_error *err)
{
	for (size_t i = 0; i < other->n; i++)
	{
		const clv_pattern *o = &other->v[i];
		clv_status	st = clv_patterns_add(p, o->x, o->tx, o->T, o->count, err);

		if (st != CLV_OK)
			return st;
	}
	return CLV_OK;
}

void
clv_patterns_free(clv_patterns *p)
{
	clv_release(p->v);
	clv_release(p->slots);
	p->v = NULL;
	p->slots = NULL;
	p->n = p->cap = p->n_slots = 0;
}

/* ---- models -------------------------------------------------------------- */

int
clv_btyd_n_params(clv_btyd_model model)
{
	return model == CLV_BTYD_GAMMAGAMMA ? 3 : 4;
}

const char *
clv_btyd_param_name(clv_btyd_model model, int i)
{
	static const char *const bg[] = {"r", "alpha", "a", "b"};
	static const char *const gg[] = {"p", "q", "gamma"};
	static const char *const pareto[] = {"r", "alpha", "s", "beta"};

	return model == CLV_BTYD_GAMMAGAMMA ? gg[i]
		: model == CLV_BTYD_PARETONBD ? pareto[i] : bg[i];
}

/* The rules of clv_btyd_check_customer one by one, for the message (CLV_OK when all hold). */
clv_status
clv_btyd_customer_error(clv_btyd_model model, double x, double tx, double T,
						clv_error *err)
{
	/* below 2^53 the cast is exact for whole numbers; above, every double is one */
	if (!(x >= 0) || !isfinite(x) || (x < 9007199254740992.0 && x != (double) (int64_t) x))
		return clv_fail(err, CLV_ERR_DATA,
						"frequency must be a non-negative whole number");
	if (model == CLV_BTYD_GAMMAGAMMA)
	{
		if (x > 0 && !(tx > 0 && isfinite(tx)))
			return clv_fail(err, CLV_ERR_DATA,
							"monetary must be positive and finite when frequency is positive");
		return CLV_OK;
	}
	if (!(tx >= 0 && isfinite(tx)) || !(T >= 0 && isfinite(T)))
		return clv_fail(err, CLV_ERR_DATA, "recency and t must be non-negative and finite");
	if (tx > T)
		return clv_fail(err, CLV_ERR_DATA, "recency must not exceed t");
	if (x > 0 && tx == 0)
		return clv_fail(err, CLV_ERR_DATA, "recency must be positive when frequency is positive");
	if (x == 0 && tx != 0)
		return clv_fail(err, CLV_ERR_DATA, "recency must be 0 when frequency is 0");
	return CLV_OK;
}

static uint32_t
time_position(clv_time_index *ix, uint32_t *slots, size_t n_slots, double t)
{
	uint64_t	bits;
	size_t		s;

	t += 0.0;					/* −0 as 0 */
	memcpy(&bits, &t, 8);
	s = clv_mix64(bits) & (n_slots - 1);
	for (; slots[s] != 0; s = (s + 1) & (n_slots - 1))
		if (ix->value[slots[s] - 1] == t)
			return slots[s] - 1;
	ix->value[ix->n] = t;
	slots[s] = (uint32_t) ++ix->n;
	return slots[s] - 1;
}

void
clv_time_index_build(const clv_patterns *p, clv_time_index *ix)
{
	size_t		n_slots = 16;
	uint32_t   *slots;

	while (n_slots < 4 * p->n)
		n_slots *= 2;
	slots = clv_alloc(n_slots * sizeof(uint32_t));
	memset(slots, 0, n_slots * sizeof(uint32_t));
	ix->n = 0;
	ix->value = clv_alloc(2 * p->n * sizeof(double));
	ix->T_at = clv_alloc(p->n * sizeof(uint32_t));
	ix->tx_at = clv_alloc(p->n * sizeof(uint32_t));
	for (size_t i = 0; i < p->n; i++)
	{
		ix->T_at[i] = time_position(ix, slots, n_slots, p->v[i].T);
		ix->tx_at[i] = time_position(ix, slots, n_slots, p->v[i].tx);
	}
	ix->log = clv_alloc(2 * ix->n * sizeof(double));
	clv_release(slots);
}

void
clv_time_index_free(clv_time_index *ix)
{
	clv_release(ix->value);
	clv_release(ix->T_at);
	clv_release(ix->tx_at);
	clv_release(ix->log);
}

/*
 * Log-likelihood of the patterns and, when grad is given, its gradient with
 * respect to the natural parameters.  Patterns are sorted by x, so the terms
 * that depend on x alone (the gamma and digamma functions) are computed once
 * per distinct frequency, not once per customer.
 */
static double
bgnbd_ll(bool modified, const clv_patterns *p, const clv_time_index *ix,
		 const double *theta, double *grad)
{
	double		r = theta[0],
				alpha = theta[1],
				a = theta[2],
				b = theta[3];
	/* MBG/NBD: death is possible right after the first purchase too */
	double		k = modified ? 1 : 0;
	double		ll = 0;
	double		g[4] = {0, 0, 0, 0};
	double		last_x = -1;
	double		ax = 0,
				dr_x = 0,
				da_x = 0,
				db_x = 0,
				lodds_x = 0;
	double		lgr = gsl_sf_lngamma(r),
				lgb = gsl_sf_lngamma(b),
				lgab = gsl_sf_lngamma(a + b);
	double		psr = gsl_sf_psi(r),
				psb = gsl_sf_psi(b),
				psab = gsl_sf_psi(a + b);

	for (size_t j = 0; j < ix->n; j++)
		ix->log[j] = log(alpha + ix->value[j]);
	for (size_t i = 0; i < p->n; i++)
	{
		const clv_pattern *c = &p->v[i];
		double		x = c->x;
		double		lT = ix->log[ix->T_at[i]],
					ltx = ix->log[ix->tx_at[i]];
		double		l3,
					w4,
					term;
		bool		has4 = modified || x > 0;

		if (x != last_x)
		{
			/* A1 + A2, the part that depends on x alone, and its derivatives */
			ax = gsl_sf_lngamma(r + x) - lgr + r * log(alpha)
				+ lgab + gsl_sf_lngamma(b + x + k) - lgb - gsl_sf_lngamma(a + b + x + k);
			dr_x = gsl_sf_psi(r + x) - psr + log(alpha);
			da_x = psab - gsl_sf_psi(a + b + x + k);
			db_x = psab + gsl_sf_psi(b + x + k) - psb - gsl_sf_psi(a + b + x + k);
			/* without the dropout term (BG/NBD at x = 0) b + x − 1 may be 0 */
			lodds_x = has4 ? log(a) - log(b + x - 1 + k) : 0;
			last_x = x;
		}
		/* log of (alive at T) + (died after the last purchase), and the second's share */
		l3 = -(r + x) * lT;
		if (has4)
		{
			double		d = lodds_x - (r + x) * ltx - l3,
						e = exp(-fabs(d));

			term = l3 + fmax(d, 0) + log1p(e);
			w4 = d > 0 ? 1 / (1 + e) : e / (1 + e);
		}
		else
		{
			term = l3;
			w4 = 0;
		}
		ll += c->count * (ax + term);
		if (grad)
		{
			double		w3 = 1 - w4;

			g[0] += c->count * (dr_x - w3 * lT - w4 * ltx);
			g[1] += c->count * (r / alpha - (r + x) * (w3 / (alpha + c->T) + w4 / (alpha + c->tx)));
			g[2] += c->count * (da_x + (has4 ? w4 / a : 0));
			g[3] += c->count * (db_x - (has4 ? w4 / (b + x - 1 + k) : 0));
		}
	}
	if (grad)
		memcpy(grad, g, sizeof(g));
	return ll;
}

static double
gammagamma_ll(const clv_patterns *pt, const double *theta, double *grad)
{
	double		p = theta[0],
				q = theta[1],
				gamma = theta[2];
	double		ll = 0;
	double		g[3] = {0, 0, 0};
	double		lgq = gsl_sf_lngamma(q),
				psq = gsl_sf_psi(q);
	double		last_x = -1,
				lx = 0,
				dp_x = 0,
				dq_x = 0;

	for (size_t i = 0; i < pt->n; i++)
	{
		const clv_pattern *c = &pt->v[i];
		double		x = c->x,
					m = c->tx;
		double		lgm;

		if (x == 0)
			continue;			/* no repeat spend: nothing to learn from */
		if (x != last_x)
		{
			lx = gsl_sf_lngamma(p * x + q) - gsl_sf_lngamma(p * x) - lgq + p * x * log(x);
			dp_x = x * gsl_sf_psi(p * x + q) - x * gsl_sf_psi(p * x) + x * log(x);
			dq_x = gsl_sf_psi(p * x + q) - psq;
			last_x = x;
		}
		lgm = log(gamma + m * x);
		ll += c->count * (lx + q * log(gamma) + (p * x - 1) * log(m) - (p * x + q) * lgm);
		if (grad)
		{
			g[0] += c->count * (dp_x + x * log(m) - x * lgm);
			g[1] += c->count * (dq_x + log(gamma) - lgm);
			g[2] += c->count * (q / gamma - (p * x + q) / (gamma + m * x));
		}
	}
	if (grad)
		memcpy(grad, g, sizeof(g));
	return ll;
}

static double
model_ll(clv_btyd_model model, const clv_patterns *p, const clv_time_index *ix,
		 const double *theta, double *grad)
{
	switch (model)
	{
		case CLV_BTYD_PARETONBD:
			return clv_paretonbd_ll(p, ix, theta, grad);
		case CLV_BTYD_BGNBD:
			return bgnbd_ll(false, p, ix, theta, grad);
		case CLV_BTYD_MBGNBD:
			return bgnbd_ll(true, p, ix, theta, grad);
		case CLV_BTYD_GAMMAGAMMA:
			return gammagamma_ll(p, theta, grad);
	}
	return NAN;
}

double
clv_btyd_log_likelihood(clv_btyd_model model, const clv_patterns *p, const double *params,
						double *grad)
{
	clv_time_index ix;
	double		ll;

	clv_time_index_build(p, &ix);
	ll = model_ll(model, p, &ix, params, grad);
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
	clv_btyd_model model;
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
		f = -model_ll(o->model, o->p, o->ix, theta, grad);
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
standard_errors(clv_btyd_model model, const clv_patterns *p, const clv_time_index *ix,
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
		model_ll(model, p, ix, theta, gp);
		theta[j] = fit->params[j] * exp(-step);
		model_ll(model, p, ix, theta, gm);
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
 * BFGS from several starts, keeping the best: they guard against a flat
 * region, and the scale parameter (alpha, gamma) starts near the data's own
 * time or money scale.  A second start that finds no better maximum confirms
 * the first and ends the search.
 */
static bool
search(objective *o, double mean_T, int max_iter, double *best_log, double *best_f,
	   clv_btyd_fit *fit)
{
	bool		ran = false;
	double		informative = 0;
	double		starts[3][CLV_BTYD_MAX_PARAMS];
	int			n_starts = 0;

	for (size_t i = 0; i < o->p->n; i++)
		if (o->p->v[i].x > 0)
			informative += o->p->v[i].count;

	if (o->model == CLV_BTYD_GAMMAGAMMA)
	{
		double		mean_m = 0;

		for (size_t i = 0; i < o->p->n; i++)
			if (o->p->v[i].x > 0)
				mean_m += o->p->v[i].count * o->p->v[i].tx;
		mean_m /= informative;
		starts[n_starts][0] = 1, starts[n_starts][1] = 2, starts[n_starts][2] = mean_m, n_starts++;
		starts[n_starts][0] = 5, starts[n_starts][1] = 5, starts[n_starts][2] = mean_m, n_starts++;
		starts[n_starts][0] = 1, starts[n_starts][1] = 1, starts[n_starts][2] = 1, n_starts++;
	}
	else if (o->model == CLV_BTYD_PARETONBD)
	{
		/* beta, like alpha, is on the scale of time */
		double		scale = mean_T > 0 ? mean_T : 1;

		starts[n_starts][0] = 1, starts[n_starts][1] = scale / 4, starts[n_starts][2] = 1,
			starts[n_starts][3] = scale / 4, n_starts++;
		starts[n_starts][0] = 0.5, starts[n_starts][1] = scale, starts[n_starts][2] = 0.5,
			starts[n_starts][3] = scale, n_starts++;
	}
	else
	{
		double		scale = mean_T > 0 ? mean_T : 1;

		starts[n_starts][0] = 0.5, starts[n_starts][1] = scale, starts[n_starts][2] = 0.5,
			starts[n_starts][3] = 2, n_starts++;
		starts[n_starts][0] = 1, starts[n_starts][1] = 1, starts[n_starts][2] = 1,
			starts[n_starts][3] = 1, n_starts++;
		starts[n_starts][0] = 1, starts[n_starts][1] = scale / 4, starts[n_starts][2] = 1,
			starts[n_starts][3] = 1, n_starts++;
	}
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
	objective	o = {.model = model, .p = p, .l2 = opt->l2, .k = clv_btyd_n_params(model)};
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
	if (model == CLV_BTYD_GAMMAGAMMA ? informative < 2 : o.n < o.k)
	{
		clv_fail(err, CLV_ERR_DATA, "too few customers to fit the model");
		if (model == CLV_BTYD_GAMMAGAMMA)
			clv_set_detail(err, "Gamma-Gamma needs at least two customers with repeat purchases; the data have %.0f.",
						   informative);
		else
			clv_set_detail(err, "%.0f customers were given.", o.n);
		return CLV_ERR_DATA;
	}
	if (model != CLV_BTYD_GAMMAGAMMA && informative == 0)
	{
		clv_fail(err, CLV_ERR_DATA, "no customer made a repeat purchase");
		clv_set_detail(err, "The purchase rate cannot be estimated without repeat purchases.");
		return CLV_ERR_DATA;
	}
	mean_T /= o.n;
	if (model == CLV_BTYD_GAMMAGAMMA)
		o.n = informative;

	clv_time_index_build(p, &ix);
	o.ix = &ix;
	if (opt->start)
		ran = minimise(&o, opt->start, opt->max_iter, NULL, best_log, &best_f,
					   &fit->iterations, &fit->converged);
	else if (model != CLV_BTYD_GAMMAGAMMA && p->n > COARSE_PATTERNS)
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
	fit->log_likelihood = model_ll(model, p, &ix, fit->params, NULL);
	standard_errors(model, p, &ix, fit);
	clv_time_index_free(&ix);
	return CLV_OK;
}

/* ---- predictions ----------------------------------------------------------- */

double
clv_bgnbd_palive(clv_btyd_model model, const double *params, double x, double tx, double T)
{
	double		r = params[0],
				alpha = params[1],
				a = params[2],
				b = params[3];
	double		k = model == CLV_BTYD_MBGNBD ? 1 : 0;

	if (model == CLV_BTYD_PARETONBD)
		return clv_paretonbd_palive(params, x, tx, T);
	if (model == CLV_BTYD_BGNBD && x == 0)
		return 1.0;
	/* 1 / (1 + a/(b+x−1+k) · ((α+T)/(α+t_x))^(r+x)), the power in logs */
	return 1.0 / (1.0 + exp(log(a / (b + x - 1 + k))
							+ (r + x) * log((alpha + T) / (alpha + tx))));
}

bool
clv_btyd_purchase_factor(clv_btyd_model model, const double *params, double t,
						 double x, double T, double *out)
{
	double		r = params[0],
				alpha = params[1],
				a = params[2],
				b = params[3];
	double		k = model == CLV_BTYD_MBGNBD ? 1 : 0;
	gsl_sf_result hyp;

	if (t == 0)
	{
		*out = 0;
		return true;
	}
	if (model == CLV_BTYD_PARETONBD)
	{
		/* (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)] */
		double		s = params[2],
					beta = params[3];
		double		lratio = log(beta + T) - log(beta + T + t);

		*out = (r + x) * (beta + T) / (alpha + T)
			* (fabs(s - 1) < 1e-10 ? -lratio : -expm1((s - 1) * lratio) / (s - 1));
		return isfinite(*out);
	}
	if (fabs(a - 1) < 1e-7)
	{
		/* the closed form divides by a − 1; it is continuous in a, so average its sides */
		double		lo[4] = {r, alpha, 1 - 1e-7, b},
					hi[4] = {r, alpha, 1 + 1e-7, b},
					f_lo,
					f_hi;

		if (!clv_btyd_purchase_factor(model, lo, t, x, T, &f_lo) ||
			!clv_btyd_purchase_factor(model, hi, t, x, T, &f_hi))
			return false;
		*out = (f_lo + f_hi) / 2;
		return true;
	}
	/* (a+b+x−1+k)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x+k; a+b+x−1+k; z)] */
	if (gsl_sf_hyperg_2F1_e(r + x, b + x + k, a + b + x - 1 + k, t / (alpha + T + t),
							&hyp) != GSL_SUCCESS || !isfinite(hyp.val))
		return clv_bgnbd_purchase_factor_integral(model, params, t, x, T, out);
	*out = (a + b + x - 1 + k) / (a - 1)
		* (1 - exp((r + x) * (log(alpha + T) - log(alpha + T + t))) * hyp.val);
	return isfinite(*out);
}

/* (1 − (1 + p·c)^−(r+x)) / p: smooth on [0, 1], (r+x)·c at 0 */
typedef struct factor_integrand
{
	double		c;
	double		rx;
} factor_integrand;

static double
factor_integrand_fn(double p, void *arg)
{
	const factor_integrand *f = arg;

	if (p < 1e-300)
		return f->rx * f->c;
	return -expm1(-f->rx * log1p(p * f->c)) / p;
}

/*
 * The same factor as an integral over the dropout probability p, for where
 * GSL's 2F1 gives up (heavy buyers over long horizons):
 * ∫ p^(a−1) (1−p)^(b+x+k−1) · (1 − (1 + p t/(α+T))^−(r+x)) / p dp / B(a, b+x+k).
 * QAWS handles the algebraic end-point behaviour exactly.
 */
bool
clv_bgnbd_purchase_factor_integral(clv_btyd_model model, const double *params, double t,
								   double x, double T, double *out)
{
	double		r = params[0],
				alpha = params[1],
				a = params[2],
				b = params[3];
	double		k = model == CLV_BTYD_MBGNBD ? 1 : 0;
	factor_integrand arg = {t / (alpha + T), r + x};
	gsl_function fn = {factor_integrand_fn, &arg};
	gsl_integration_qaws_table *table;
	gsl_integration_workspace *ws;
	double		value = NAN,
				abserr;
	bool		ok = false;

	if (model == CLV_BTYD_PARETONBD)
		return false;
	table = gsl_integration_qaws_table_alloc(a - 1, b + x + k - 1, 0, 0);
	ws = gsl_integration_workspace_alloc(200);
	if (table != NULL && ws != NULL &&
		gsl_integration_qaws(&fn, 0, 1, table, 0, 1e-12, 200, ws, &value, &abserr) == GSL_SUCCESS)
	{
		*out = exp(log(value) - gsl_sf_lnbeta(a, b + x + k));
		ok = isfinite(*out);
	}
	if (table != NULL)
		gsl_integration_qaws_table_free(table);
	if (ws != NULL)
		gsl_integration_workspace_free(ws);
	return ok;
}

bool
clv_bgnbd_expected_purchases(clv_btyd_model model, const double *params, double t,
							 double x, double tx, double T, double *out)
{
	double		factor,
				palive;

	if (!clv_btyd_purchase_factor(model, params, t, x, T, &factor))
		return false;
	palive = t == 0 ? 0 : clv_bgnbd_palive(model, params, x, tx, T);
	*out = factor * palive;
	return isfinite(*out);
}

bool
clv_btyd_cumulative_expected(clv_btyd_model model, const double *params,
							 const clv_patterns *acquired, int n, double period, double *out)
{
	for (int w = 0; w < n; w++)
		out[w] = 0;
	for (size_t i = 0; i < acquired->n; i++)
	{
		const clv_pattern *c = &acquired->v[i];

		clv_check_interrupts();
		for (int w = 0; w < n; w++)
		{
			double		age = (w + 1) * period - c->T,
						e;

			if (age <= 0)
				continue;
			if (!clv_bgnbd_expected_purchases(model, params, age, 0, 0, 0, &e))
				return false;
			out[w] += c->count * e;
		}
	}
	return true;
}

double
clv_bgnbd_probability_of_purchases(clv_btyd_model model, const double *params,
								   double t, int n)
{
	double		r = params[0],
				alpha = params[1],
				a = params[2],
				b = params[3];
	double		k = model == CLV_BTYD_MBGNBD ? 1 : 0;
	double		lp = log(alpha / (alpha + t)),
				lq = t > 0 ? log(t / (alpha + t)) : -INFINITY;
	double		lbab = gsl_sf_lnbeta(a, b);
	double		first,
				second = 0;

	if (model != CLV_BTYD_BGNBD && model != CLV_BTYD_MBGNBD)
		return NAN;
	/* alive throughout, with n purchases from the NBD */
	first = exp(gsl_sf_lnbeta(a, b + n + k) - lbab + gsl_sf_lngamma(r + n)
				- gsl_sf_lngamma(r) - gsl_sf_lngamma(n + 1.0) + r * lp
				+ (n > 0 ? n * lq : 0));
	/* dropped out after the n-th purchase, which came before t */
	if (n > 0 || k > 0)
	{
		double		fewer = 0;

		for (int j = 0; j < n; j++)
			fewer += exp(gsl_sf_lngamma(r + j) - gsl_sf_lngamma(r) - gsl_sf_lngamma(j + 1.0)
						 + r * lp + (j > 0 ? j * lq : 0));
		second = exp(gsl_sf_lnbeta(a + 1, b + n - 1 + k) - lbab) * (1 - fewer);
	}
	return first + second;
}

#define CURVE_MAX_TERMS 2000
#define CURVE_MAX_POINTS 64

/*
 * The factor of one (x, T) at n <= CURVE_MAX_POINTS horizons t[i].  For
 * BG/NBD and MBG/NBD the hypergeometric series has the same coefficients at
 * every horizon, so they are computed once and each horizon costs a sum;
 * horizons whose series would converge too slowly (z near 1) take
 * clv_btyd_purchase_factor instead.
 */
static bool
purchase_factor_curve(clv_btyd_model model, const double *params, double x, double T,
					  int n, const double *t, double *out)
{
	double		r = params[0],
				alpha = params[1],
				a = params[2],
				b = params[3];
	double		k = model == CLV_BTYD_MBGNBD ? 1 : 0;
	double		A = r + x,
				B = b + x + k,
				C = a + b + x - 1 + k;
	double		coef[CURVE_MAX_TERMS];
	int			n_terms = 0;
	double		zmax = 0;

	for (int i = 0; i < n; i++)
		zmax = fmax(zmax, t[i] / (alpha + T + t[i]));
	if (model != CLV_BTYD_PARETONBD && fabs(a - 1) >= 1e-7 && zmax <= 0.95)
	{
		/* c_n = (A)_n (B)_n / ((C)_n n!), until c_n zmax^n is negligible and falling */
		double		c = 1,
					pw = 1,
					sum = 1;

		coef[n_terms++] = 1;
		while (n_terms < CURVE_MAX_TERMS)
		{
			int			m = n_terms - 1;
			double		ratio = (A + m) * (B + m) / ((C + m) * (m + 1));

			c *= ratio;
			pw *= zmax;
			coef[n_terms++] = c;
			sum += c * pw;
			if (c * pw < 1e-17 * sum && ratio * zmax < 0.9)
				break;
		}
		if (n_terms == CURVE_MAX_TERMS)
			n_terms = 0;		/* too slow: every point on its own */
	}
	if (n_terms > 0)
	{
		/*
		 * Horner at every horizon at once, two horizons to a vector (GCC and
		 * Clang vector extensions; plain SSE2 on x86-64): the horizons are
		 * independent, so the loop over them runs without waiting on each
		 * multiply-add.  An odd count gets a padding horizon at z = 0.
		 */
		typedef double pair __attribute__((vector_size(16)));
		enum {PAIRS = CURVE_MAX_POINTS / 2};
		pair		z[PAIRS],
					sum[PAIRS];
		int			n_pairs = (n + 1) / 2;
		double		log_aT = log(alpha + T);

		for (int k = 0; k < n_pairs; k++)
		{
			double		t0 = t[2 * k],
						t1 = 2 * k + 1 < n ? t[2 * k + 1] : 0;

			z[k] = (pair) {t0 / (alpha + T + t0), t1 / (alpha + T + t1)};
			sum[k] = (pair) {0, 0};
		}
		for (int j = n_terms - 1; j >= 0; j--)
		{
			pair		c = {coef[j], coef[j]};

			for (int k = 0; k < n_pairs; k++)
				sum[k] = sum[k] * z[k] + c;
		}
		for (int i = 0; i < n; i++)
			out[i] = C / (a - 1) * (1 - exp(A * (log_aT - log(alpha + T + t[i])))
									* sum[i / 2][i % 2]);
	}
	for (int i = 0; i < n; i++)
	{
		if ((n_terms == 0 || t[i] == 0) &&
			!clv_btyd_purchase_factor(model, params, t[i], x, T, &out[i]))
			return false;
		if (!isfinite(out[i]))
			return false;
	}
	return true;
}

/*
 * Gauss-Legendre tables by node count, built once by clv_btyd_init before
 * any thread exists and only read afterwards.
 */
static gsl_integration_glfixed_table *gl_tables[CURVE_MAX_POINTS];

void
clv_btyd_init(void)
{
	for (int n = 1; n < CURVE_MAX_POINTS; n++)
		if (gl_tables[n] == NULL)
			gl_tables[n] = gsl_integration_glfixed_table_alloc(n);
}

bool
clv_btyd_discounted_factor(clv_btyd_model model, const double *params, double x,
						   double T, double horizon, double step, double rate, double *out)
{
	enum {BLOCK = CURVE_MAX_POINTS};
	double		t[BLOCK],
				f[BLOCK],
				w[BLOCK];
	double		total = 0;

	if (step > 0)
	{
		/*
		 * Periods end at step, 2·step, ... and at the horizon (a period
		 * ending within rounding of the horizon ends at it); each period's
		 * purchases are discounted at its end.
		 */
		double		end = 0,
					before = 0;

		while (end < horizon)
		{
			int			m = 0;

			for (; m < BLOCK && end < horizon; m++)
			{
				end = end + step < horizon * (1 - 1e-12) ? end + step : horizon;
				t[m] = end;
			}
			clv_check_interrupts();
			if (!purchase_factor_curve(model, params, x, T, m, t, f))
				return false;
			for (int i = 0; i < m; i++)
			{
				total += (f[i] - before) * exp(-rate * t[i]);
				before = f[i];
			}
		}
	}
	else
	{
		/*
		 * ∫ e^(−ρτ) dF(τ) = e^(−ρH) F(H) + ρ ∫ e^(−ρτ) F(τ) dτ, by parts.
		 * F is analytic but at τ = −(α+T) (Pareto/NBD: −(β+T)), so n
		 * Gauss-Legendre nodes on [0, H] err by about ϱ^(−2n), ϱ the sum of
		 * the semi-axes of the largest ellipse with foci 0 and H clear of
		 * that point: enough nodes for 20 digits, at least 16 and at most
		 * BLOCK − 1 (a horizon of many times the customer's age).
		 */
		gsl_integration_glfixed_table *nodes,
				   *own = NULL;
		double		u = 1 + 2 * ((model == CLV_BTYD_PARETONBD ? params[3] : params[1]) + T) / horizon,
					ellipse = u + sqrt(u * u - 1);
		int			n_nodes = (int) fmin(BLOCK - 1, fmax(16, ceil(10 / log10(ellipse)))),
					m = 0;

		nodes = gl_tables[n_nodes];
		/* without clv_btyd_init (or when it ran out of memory): a table of our own */
		if (nodes == NULL &&
			(nodes = own = gsl_integration_glfixed_table_alloc(n_nodes)) == NULL)
			return false;
		if (rate != 0)
			for (; m < (int) nodes->n; m++)
				gsl_integration_glfixed_point(0, horizon, m, &t[m], &w[m], nodes);
		if (own)
			gsl_integration_glfixed_table_free(own);
		t[m++] = horizon;
		if (!purchase_factor_curve(model, params, x, T, m, t, f))
			return false;
		total = exp(-rate * horizon) * f[m - 1];
		for (int i = 0; i < m - 1; i++)
			total += rate * w[i] * exp(-rate * t[i]) * f[i];
	}
	*out = total;
	return isfinite(total);
}

double
clv_gammagamma_expected_spend(const double *params, double x, double m)
{
	double		p = params[0],
				q = params[1],
				gamma = params[2];

	/* a weighted mean of the population mean pγ/(q−1) and the customer's own */
	return (gamma + m * x) * p / (p * x + q - 1);
}

double
clv_btyd_probability_of_purchases(clv_btyd_model model, const double *params, double t, int n)
{
	return model == CLV_BTYD_PARETONBD
		? clv_paretonbd_probability_of_purchases(params, t, n)
		: clv_bgnbd_probability_of_purchases(model, params, t, n);
}

/*
 * Given the history, the customer is dead with probability 1 − P(alive) and
 * makes no purchase; alive, the rates' posterior is again of the model's
 * form, so the count is a new customer's under updated parameters:
 * λ ~ Gamma(r+x, α+T), and p ~ Beta(a, b+x) for BG/NBD (x survived purchases;
 * b+x+1 for MBG/NBD, which also survived the first) or μ ~ Gamma(s, β+T) for
 * Pareto/NBD (alive through T).  After T an MBG/NBD customer dies only after
 * purchases, as under BG/NBD.
 */
double
clv_btyd_conditional_probability_of_purchases(clv_btyd_model model, const double *params,
											  double t, int n, double x, double tx, double T)
{
	double		pa = clv_bgnbd_palive(model, params, x, tx, T);
	double		post[4] = {params[0] + x, params[1] + T, params[2], params[3]};
	double		p_alive_n;

	if (model == CLV_BTYD_PARETONBD)
		post[3] = params[3] + T;
	else
	{
		post[3] = params[3] + x + (model == CLV_BTYD_MBGNBD ? 1 : 0);
		model = CLV_BTYD_BGNBD;
	}
	p_alive_n = clv_btyd_probability_of_purchases(model, post, t, n);
	return pa * p_alive_n + (n == 0 ? 1 - pa : 0);
}
