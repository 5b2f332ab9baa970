/*
 * paretonbd.c — the Pareto/NBD model, for its row of clv_btyd_models: the
 * per-customer likelihood terms with analytic gradients, the log-likelihood,
 * P(alive), expected and discounted residual purchases, purchase-count
 * probabilities and starting points.
 *
 * A customer's likelihood (Fader & Hardie 2005, "A note on deriving the
 * Pareto/NBD model") is Γ(r+x)/Γ(r) α^r β^s (E1 + E2) with
 *   E1 = (α+T)^−(r+x) (β+T)^−s                          alive at T
 *   E2 = s ∫ from t_x to T of (α+τ)^−(r+x) (β+τ)^−(s+1) dτ   died in (t_x, T]
 * and the integral is s/(r+s+x) · [G(t_x) − G(T)] with
 *   G(t) = 2F1(a, b; a+1; z) / (m+t)^a,  a = r+s+x,  m = max(α, β),
 *   z = |α−β| / (m+t),  b = s+1 if α ≥ β else r+x.
 * The hypergeometric function is summed as its series, which gives its
 * derivatives in a, b and z in the same pass, so the gradient is analytic.
 * Where the series would need too many terms (z near 1 with a large b), the
 * integral is taken by adaptive quadrature, and so are its derivatives.
 */
#include "btyd_internal.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_hyperg.h>
#include <gsl/gsl_sf_psi.h>

#define SERIES_MAX_TERMS 2000
/* terms beyond which the quadrature's 60 evaluations are the cheaper way */
#define SERIES_LONG 256

/*
 * 1/n for the series, a division less per term: a constant table (any
 * thread may read it), whose entries the compiler divides, correctly
 * rounded as at run time; inv[0] is unused.
 */
#define INV1(n)		((n) > 0 ? 1.0 / (n) : 0.0)
#define INV10(n)	INV1(n), INV1((n) + 1), INV1((n) + 2), INV1((n) + 3), INV1((n) + 4), \
					INV1((n) + 5), INV1((n) + 6), INV1((n) + 7), INV1((n) + 8), INV1((n) + 9)
#define INV100(n)	INV10(n), INV10((n) + 10), INV10((n) + 20), INV10((n) + 30), INV10((n) + 40), \
					INV10((n) + 50), INV10((n) + 60), INV10((n) + 70), INV10((n) + 80), \
					INV10((n) + 90)
#define INV1000(n)	INV100(n), INV100((n) + 100), INV100((n) + 200), INV100((n) + 300), \
					INV100((n) + 400), INV100((n) + 500), INV100((n) + 600), INV100((n) + 700), \
					INV100((n) + 800), INV100((n) + 900)

static const double reciprocal[] = {INV1000(0), INV1000(1000)};

_Static_assert(sizeof(reciprocal) / sizeof(reciprocal[0]) == SERIES_MAX_TERMS,
			   "one reciprocal per series term");

/*
 * F = 2F1(a, b; a+1; z) and its partial derivatives in a, b and z, at two
 * arguments z[0], z[1] in [0, 1) at once (the two ends of a customer's
 * interval share a and b, so they share the divisions).  The terms
 * c_n = (b)_n / n! · a/(a+n) · z^n are positive, so the sums lose nothing.
 * out[i] = {F, dF/da, dF/db, dF/dz} at z[i].  False when the terms decay too
 * slowly (z near 1 with a large b).
 */
static bool
hyperg_series(double a, double b, const double *z, double out[2][4])
{
	const double *inv = reciprocal;
	double		z0 = z[0],
				z1 = z[1],
				zmax = fmax(z0, z1);
	/* the sums in locals, not in out: a store per term would chain the terms */
	double		f0 = 1,
				fa0 = 0,
				fb0 = 0,
				fz0 = 0,
				f1 = 1,
				fa1 = 0,
				fb1 = 0,
				fz1 = 0;
	double		u0 = 1,			/* (b)_n z^n / n! */
				u1 = 1,
				v0 = b,			/* (b)_(n+1) z^n / n!: dF/dz = Σ v_(n−1) a/(a+n) */
				v1 = b,
				sb = 0;			/* Σ_{j<n} 1/(b+j) = d log (b)_n / db */
	double		inv_an = 1 / (a + 1);	/* 1/(a+n): divisions are the cost of a
										 * term, so each is carried to the next */

	/* the loop below stops only once n (1 − zmax) > b zmax: if no n can, say so now */
	if (!(b * zmax < (SERIES_MAX_TERMS - 1) * (1 - zmax)))
		return false;
	for (int n = 1; n < SERIES_MAX_TERMS; n++)
	{
		double		inv_an_next = 1 / (a + n + 1),
					ratio_a = a * inv_an,
					up = (b + n - 1) * inv[n],
					vp = (b + n) * inv[n],
					c0,
					c1;

		sb += 1 / (b + n - 1);
		fz0 += v0 * ratio_a;
		fz1 += v1 * ratio_a;
		u0 *= up * z0;
		u1 *= up * z1;
		v0 *= vp * z0;
		v1 *= vp * z1;
		c0 = u0 * ratio_a;
		c1 = u1 * ratio_a;
		f0 += c0;
		f1 += c1;
		fa0 += c0 * n * inv_an;	/* divided by a after the loop */
		fa1 += c1 * n * inv_an;
		fb0 += c0 * sb;
		fb1 += c1 * sb;
		inv_an = inv_an_next;
		/* the terms decrease once n > (b z − 1)/(1 − z); stop when negligible */
		if (c0 < 1e-17 * f0 && v0 * a * inv_an <= 1e-17 * fz0 &&
			c1 < 1e-17 * f1 && v1 * a * inv_an <= 1e-17 * fz1 &&
			n * (1 - zmax) > b * zmax)
		{
			out[0][0] = f0, out[0][1] = fa0 / a, out[0][2] = fb0, out[0][3] = fz0;
			out[1][0] = f1, out[1][1] = fa1 / a, out[1][2] = fb1, out[1][3] = fz1;
			return true;
		}
	}
	return false;
}

/*
 * A customer's memo (clv_paretonbd_customer_ll): the terms of the last
 * customer's parameters and x, and per time t, for the customers that share
 * them (a run), log(α+t), log(β+t) and the series at z = |α−β|/(m+t).  The
 * times sit in a direct-mapped table: a slot belongs to the current run when
 * its run number is the memo's, and a collision only costs a recomputation.
 */
#define MEMO_MAX_SLOTS 4096

typedef struct time_slot
{
	uint64_t	run;
	double		t,
				log_at,			/* log(α + t) */
				log_bt,			/* log(β + t) */
				series[4];		/* at z(t); valid when has_series */
	bool		has_series;
} time_slot;

struct clv_paretonbd_memo
{
	double		r,
				alpha,
				s,
				beta,
				x;
	uint64_t	run;
	double		lgr,			/* log Γ(r), ψ(r) */
				psr,
				log_alpha,
				log_beta,
				ax,				/* log Γ(r+x)/Γ(r) α^r β^s */
				dr_x,			/* its derivative in r */
				lsa_x;			/* log(s/(r+s+x)) */
	uint32_t	mask;			/* slots − 1, a power of two less one */
	time_slot	slots[];
};

clv_paretonbd_memo *
clv_paretonbd_memo_new(size_t n_customers)
{
	/* about two slots per customer's two times, so that few collide, at most MEMO_MAX_SLOTS */
	uint32_t	n_slots = 16;
	size_t		size;
	clv_paretonbd_memo *m;

	while (n_slots < MEMO_MAX_SLOTS && n_slots < 4 * n_customers)
		n_slots *= 2;
	size = offsetof(clv_paretonbd_memo, slots) + sizeof(time_slot) * n_slots;
	m = clv_alloc(size);
	memset(m, 0, size);
	m->mask = n_slots - 1;
	clv_paretonbd_memo_reset(m);
	return m;
}

void
clv_paretonbd_memo_reset(clv_paretonbd_memo *m)
{
	m->r = NAN;					/* matches no parameters */
	m->run++;					/* and no slot */
}

/* The slot of time t for the current run, filled with its logs if it was not. */
static time_slot *
slot_of(clv_paretonbd_memo *m, double t)
{
	uint64_t	bits;
	time_slot  *slot;

	memcpy(&bits, &t, sizeof(bits));
	slot = &m->slots[clv_mix64(bits) & m->mask];
	if (slot->run != m->run || slot->t != t)
	{
		slot->run = m->run;
		slot->t = t;
		slot->log_at = log(m->alpha + t);
		slot->log_bt = log(m->beta + t);
		slot->has_series = false;
	}
	return slot;
}

/*
 * The series at the two times t[0], t[1] (z[i] = z(t[i])), from the memo's
 * slots where they have it: as hyperg_series.
 */
static bool
series_at(double a, double b, const double *z, time_slot *const *slot, double out[2][4])
{
	double		fresh[2][4];

	if (slot == NULL || !(slot[0]->has_series && slot[1]->has_series))
	{
		if (!hyperg_series(a, b, z, fresh))
			return false;
	}
	for (int i = 0; i < 2; i++)
		memcpy(out[i], slot != NULL && slot[i]->has_series ? slot[i]->series : fresh[i],
			   sizeof(out[i]));
	for (int i = 0; slot != NULL && i < 2; i++)
		if (!slot[i]->has_series)
		{
			memcpy(slot[i]->series, out[i], sizeof(out[i]));
			slot[i]->has_series = true;
		}
	return true;
}

/* Integrand of E2 / s, scaled by its value at t_x, or one of its derivatives. */
typedef struct death_integrand
{
	double		rx,				/* r + x */
				s1,				/* s + 1 */
				alpha,
				beta,
				tx;
	int			what;			/* 0 value; 1..4 the derivative in r, α, s, β */
} death_integrand;

/* At tau: f, the integrand, and the factors of f that make its derivatives. */
static double
death_integrand_at(const death_integrand *d, double tau, double factor[4])
{
	factor[0] = -log(d->alpha + tau);
	factor[1] = -d->rx / (d->alpha + tau);
	factor[2] = -log(d->beta + tau);
	factor[3] = -d->s1 / (d->beta + tau);
	return exp(-d->rx * log1p((tau - d->tx) / (d->alpha + d->tx))
			   - d->s1 * log1p((tau - d->tx) / (d->beta + d->tx)));
}

static double
death_integrand_fn(double tau, void *arg)
{
	const death_integrand *d = arg;
	double		factor[4],
				f = death_integrand_at(d, tau, factor);

	return d->what == 0 ? f : factor[d->what - 1] * f;
}

/*
 * The integral of death_integrand_fn and of its four derivatives over
 * [t_x, T] by the Gauss-Legendre rule of n nodes, which share the integrand's
 * evaluations; av receives the integrals of their absolute values.  False
 * without the rule (clv_btyd_init did not run).
 */
static bool
death_integrals_gl(const death_integrand *d, double T, int n, double v[5], double av[5])
{
	const gsl_integration_glfixed_table *rule = clv_btyd_gl_rule(n);

	if (rule == NULL)
		return false;
	memset(v, 0, sizeof(double) * 5);
	memset(av, 0, sizeof(double) * 5);
	for (int i = 0; i < n; i++)
	{
		double		tau,
					w,
					f,
					factor[4];

		gsl_integration_glfixed_point(d->tx, T, i, &tau, &w, rule);
		f = w * death_integrand_at(d, tau, factor);
		v[0] += f;
		av[0] += f;
		for (int k = 0; k < 4; k++)
		{
			v[k + 1] += factor[k] * f;
			av[k + 1] += fabs(factor[k]) * f;
		}
	}
	return true;
}

/*
 * The five integrals by the rules of 20 and 40 nodes, when they agree to
 * 1e-13 on each: the integrands are usually smooth on [t_x, T], but not
 * where α or β is small against T − t_x.
 */
static bool
death_integrals_by_rules(const death_integrand *d, double T, double v[5])
{
	double		av[5],
				coarse[5],
				coarse_av[5];
	bool		ok = death_integrals_gl(d, T, 20, coarse, coarse_av) &&
		death_integrals_gl(d, T, 40, v, av);

	for (int k = 0; ok && k < 5; k++)
		ok = isfinite(v[k]) && fabs(v[k] - coarse[k]) <= 1e-13 * av[k];
	return ok;
}

/*
 * log E2 and its gradient by quadrature: the fallback of the series (s and β
 * large together, where the data show no dropout, or z near 1), and its
 * substitute where the series would be long.  rules_only: false rather than
 * adaptive quadrature where the rules disagree.
 */
static bool
log_e2_by_quadrature(const double *th, double x, double tx, double T, bool rules_only,
					 double *le2, double *g2)
{
	death_integrand d = {th[0] + x, th[2] + 1, th[1], th[3], tx, 0};
	double		v[5];
	bool		ok = death_integrals_by_rules(&d, T, v);

	if (!ok && rules_only)
		return false;
	if (!ok)
	{
		gsl_function fn = {death_integrand_fn, &d};
		gsl_integration_workspace *ws = gsl_integration_workspace_alloc(200);
		double		err;

		ok = ws != NULL;
		for (int k = 0; ok && k < (g2 ? 5 : 1); k++)
		{
			d.what = k;
			ok = gsl_integration_qag(&fn, tx, T, 0, 1e-12, 200, GSL_INTEG_GAUSS41, ws,
									 &v[k], &err) == GSL_SUCCESS && isfinite(v[k]);
		}
		if (ws != NULL)
			gsl_integration_workspace_free(ws);
	}
	if (!ok || !(v[0] > 0))
		return false;
	*le2 = log(th[2]) + log(v[0]) - d.rx * log(th[1] + tx) - d.s1 * log(th[3] + tx);
	if (g2)
	{
		/* the scale factor's derivatives cancel against the integrals' own */
		g2[0] = v[1] / v[0];
		g2[1] = v[2] / v[0];
		g2[2] = 1 / th[2] + v[3] / v[0];
		g2[3] = v[4] / v[0];
	}
	return true;
}

/*
 * log E1, log E2 and, when g1 and g2 are given, their gradients in
 * (r, α, s, β), from the logs lg = {log(α+t_x), log(β+t_x), log(α+T),
 * log(β+T), log(s/(r+s+x))}, which a fit shares between customers.  E2 = 0
 * (log −∞) when t_x = T.  False when neither the series nor the quadrature
 * gives a value.
 */
static bool
terms_from_logs(const double *th, double x, double tx, double T, const double *lg,
				time_slot *const *slots, double *le1, double *le2, double *g1, double *g2)
{
	double		r = th[0],
				alpha = th[1],
				s = th[2],
				beta = th[3];
	double		a = r + s + x;
	bool		alpha_big = alpha >= beta;
	double		m = alpha_big ? alpha : beta,
				d = fabs(alpha - beta),
				b = alpha_big ? s + 1 : r + x;
	double		log_mtx = lg[alpha_big ? 0 : 1],
				log_mT = lg[alpha_big ? 2 : 3];
	double		h[2][4],
				rho;

	*le1 = -(r + x) * lg[2] - s * lg[3];
	if (g1)
	{
		g1[0] = -lg[2];
		g1[1] = -(r + x) / (alpha + T);
		g1[2] = -lg[3];
		g1[3] = -s / (beta + T);
	}
	if (!(tx < T))
	{
		*le2 = -INFINITY;
		if (g2)
			memset(g2, 0, sizeof(double) * 4);
		return true;
	}
	{
		double		z[2] = {d / (m + tx), d / (m + T)},
					zmax = fmax(z[0], z[1]);

		/*
		 * a series whose terms still grow at n = SERIES_LONG costs more than
		 * the quadrature's rules, unless the memo has it already
		 */
		if (b * zmax >= SERIES_LONG * (1 - zmax) &&
			!(slots != NULL && slots[0]->has_series && slots[1]->has_series) &&
			log_e2_by_quadrature(th, x, tx, T, true, le2, g2))
			return true;
		if (!series_at(a, b, z, slots, h))
			return log_e2_by_quadrature(th, x, tx, T, false, le2, g2);
	}
	/* G(t_x) − G(T) = G(t_x) (1 − ρ), ρ = G(T)/G(t_x), G(t) = F(t)/(m+t)^a */
	rho = h[1][0] / h[0][0] * exp(-a * (log_mT - log_mtx));
	if (!(rho < 1))
		return log_e2_by_quadrature(th, x, tx, T, false, le2, g2);
	*le2 = lg[4] + log(h[0][0]) - a * log_mtx + log1p(-rho);
	if (g2)
	{
		double		grad[2][4];

		for (int i = 0; i < 2; i++)
		{
			double		t = i == 0 ? tx : T;
			double		da = h[i][1] / h[i][0] - (i == 0 ? log_mtx : log_mT),
						db = h[i][2] / h[i][0],
						dz = h[i][3] / h[i][0];

			/* a = r+s+x; b is s+1 or r+x; z = d/(m+t) moves with α and β */
			grad[i][0] = da + (alpha_big ? 0 : db);
			grad[i][2] = da + (alpha_big ? db : 0);
			if (alpha_big)
			{
				grad[i][1] = dz * (beta + t) / ((alpha + t) * (alpha + t)) - a / (alpha + t);
				grad[i][3] = -dz / (alpha + t);
			}
			else
			{
				grad[i][1] = -dz / (beta + t);
				grad[i][3] = dz * (alpha + t) / ((beta + t) * (beta + t)) - a / (beta + t);
			}
		}
		for (int k = 0; k < 4; k++)
			g2[k] = (grad[0][k] - rho * grad[1][k]) / (1 - rho)
				+ (k == 0 ? -1 / a : k == 2 ? 1 / s - 1 / a : 0);
	}
	return true;
}

/* The first four logs of terms_from_logs for one customer, without a time index. */
static void
customer_logs(const double *th, double tx, double T, double *lg)
{
	lg[0] = log(th[1] + tx);
	lg[1] = log(th[3] + tx);
	lg[2] = log(th[1] + T);
	lg[3] = log(th[3] + T);
}

bool
clv_paretonbd_terms(const double *th, double x, double tx, double T, double *le1,
					double *le2, double *g1, double *g2)
{
	double		lg[5];

	customer_logs(th, tx, T, lg);
	lg[4] = log(th[2] / (th[0] + th[2] + x));
	return terms_from_logs(th, x, tx, T, lg, NULL, le1, le2, g1, g2);
}

/*
 * One customer's log-likelihood (*ll) and, when grad is not NULL, its
 * gradient, from the logs of terms_from_logs and the terms of x: ax, the log
 * of Γ(r+x)/Γ(r) α^r β^s, and dr_x, its derivative in r.
 */
static bool
customer_from_logs(const double *th, double x, double tx, double T, const double *lg,
				   time_slot *const *slots, double ax, double dr_x, double log_beta,
				   double *ll, double *grad)
{
	double		le1,
				le2,
				g1[4],
				g2[4],
				e;

	if (!terms_from_logs(th, x, tx, T, lg, slots, &le1, &le2, grad ? g1 : NULL, grad ? g2 : NULL))
		return false;
	/* log(E1 + E2), and each term's share of the sum */
	e = exp(-fabs(le1 - le2));
	*ll = ax + fmax(le1, le2) + log1p(e);
	if (grad)
	{
		double		w_big = 1 / (1 + e),
					w1 = le1 >= le2 ? w_big : e * w_big,
					w2 = le1 >= le2 ? e * w_big : w_big;

		grad[0] = dr_x + w1 * g1[0] + w2 * g2[0];
		grad[1] = th[0] / th[1] + w1 * g1[1] + w2 * g2[1];
		grad[2] = log_beta + w1 * g1[2] + w2 * g2[2];
		grad[3] = th[2] / th[3] + w1 * g1[3] + w2 * g2[3];
	}
	return true;
}

double
clv_paretonbd_customer_ll(const double *th, double x, double tx, double T, double *grad,
						  clv_paretonbd_memo *m)
{
	double		lg[5],
				ll;
	time_slot  *slots[2];
	bool		memo_times;

	if (!(m->r == th[0] && m->alpha == th[1] && m->s == th[2] && m->beta == th[3] && m->x == x))
	{
		if (!(m->r == th[0]))
		{
			m->lgr = gsl_sf_lngamma(th[0]);
			m->psr = gsl_sf_psi(th[0]);
		}
		if (!(m->alpha == th[1] && m->beta == th[3]))
		{
			m->log_alpha = log(th[1]);
			m->log_beta = log(th[3]);
		}
		m->ax = gsl_sf_lngamma(th[0] + x) - m->lgr + th[0] * m->log_alpha + th[2] * m->log_beta;
		m->dr_x = gsl_sf_psi(th[0] + x) - m->psr + m->log_alpha;
		m->lsa_x = log(th[2] / (th[0] + th[2] + x));
		m->r = th[0], m->alpha = th[1], m->s = th[2], m->beta = th[3], m->x = x;
		m->run++;
	}
	/* the two times' slots, unless they are one slot */
	slots[0] = slot_of(m, tx);
	slots[1] = slot_of(m, T);
	memo_times = slots[0] != slots[1];
	if (memo_times)
	{
		lg[0] = slots[0]->log_at;
		lg[1] = slots[0]->log_bt;
		lg[2] = slots[1]->log_at;
		lg[3] = slots[1]->log_bt;
	}
	else
		customer_logs(th, tx, T, lg);
	lg[4] = m->lsa_x;
	if (!customer_from_logs(th, x, tx, T, lg, memo_times ? slots : NULL, m->ax, m->dr_x,
							m->log_beta, &ll, grad))
		return NAN;
	return ll;
}

/*
 * The log-likelihood of the patterns: customers of a pattern by pattern, in
 * their order (by x), so that the memo's times serve every pattern of the same
 * x; it keeps log(α+t) and log(β+t) itself, so ix is not needed.
 */
double
clv_paretonbd_ll(const clv_patterns *p, const clv_time_index *ix, const double *theta,
				 double *grad)
{
	clv_paretonbd_memo *memo = clv_paretonbd_memo_new(p->n);
	double		ll = 0,
				g[4] = {0, 0, 0, 0};

	(void) ix;
	for (size_t i = 0; i < p->n && isfinite(ll); i++)
	{
		const clv_pattern *c = &p->v[i];
		double		gc[4];

		ll += c->count * clv_paretonbd_customer_ll(theta, c->x, c->tx, c->T, grad ? gc : NULL,
												   memo);
		if (grad)
			for (int k = 0; k < 4; k++)
				g[k] += c->count * gc[k];
	}
	clv_release(memo);
	if (grad)
		memcpy(grad, g, sizeof(g));
	return ll;
}

/* P(alive | x, t_x, T) = E1 / (E1 + E2). */
double
clv_paretonbd_palive(const double *params, double x, double tx, double T)
{
	double		le1,
				le2;

	if (!clv_paretonbd_terms(params, x, tx, T, &le1, &le2, NULL, NULL))
		return NAN;
	return 1.0 / (1.0 + exp(le2 - le1));
}

/* (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)], for t > 0 */
bool
clv_paretonbd_purchase_factor(const double *params, double t, double x, double T,
							  double *out)
{
	double		r = params[0],
				alpha = params[1],
				s = params[2],
				beta = params[3];
	double		lratio = log(beta + T) - log(beta + T + t);

	*out = (r + x) * (beta + T) / (alpha + T)
		* (fabs(s - 1) < 1e-10 ? -lratio : -expm1((s - 1) * lratio) / (s - 1));
	return isfinite(*out);
}

bool
clv_paretonbd_dert(const double *params, double x, double tx, double T, double delta,
				   double *out)
{
	double		r = params[0],
				alpha = params[1],
				s = params[2],
				beta = params[3];
	clv_pattern one = {x, tx, T, 1};
	clv_patterns single = {.v = &one, .n = 1, .cap = 1};
	double		ll = clv_paretonbd_ll(&single, NULL, params, NULL);
	gsl_sf_result_e10 u;

	if (!(delta > 0) || !isfinite(ll) ||
		gsl_sf_hyperg_U_e10_e(s, s, delta * (beta + T), &u) != GSL_SUCCESS || !(u.val > 0))
		return false;
	/* α^r β^s δ^(s−1) Γ(r+x+1) U(s, s; δ(β+T)) / (Γ(r) (α+T)^(r+x+1) L), in logs */
	*out = exp(r * log(alpha) + s * log(beta) + (s - 1) * log(delta)
			   + gsl_sf_lngamma(r + x + 1) + log(u.val) + u.e10 * M_LN10
			   - gsl_sf_lngamma(r) - (r + x + 1) * log(alpha + T) - ll);
	return isfinite(*out);
}

/*
 * P(X(t) = n) for a new customer.  Given the rates, the customer is alive at t
 * with probability e^(−μt) and otherwise died at τ < t with density μe^(−μτ);
 * the purchases until then are Poisson(λ·min(t, τ)).  Over the gamma
 * distributions of λ and μ:
 *   NB(n; t) (β/(β+t))^s + ∫ from 0 to t of NB(n; τ) (s/β) (β/(β+τ))^(s+1) dτ,
 * NB(n; τ) = Γ(r+n)/(Γ(r) n!) (α/(α+τ))^r (τ/(α+τ))^n, the NBD count.
 */
typedef struct count_integrand
{
	double		r,
				alpha,
				s,
				beta,
				lcoef;			/* log Γ(r+n)/(Γ(r) n!) */
	int			n;
} count_integrand;

static double
log_nbd(const count_integrand *c, double tau)
{
	if (tau <= 0)
		return c->n == 0 ? 0 : -INFINITY;
	return c->lcoef + c->r * log(c->alpha / (c->alpha + tau))
		+ c->n * log(tau / (c->alpha + tau));
}

static double
count_integrand_fn(double tau, void *arg)
{
	const count_integrand *c = arg;

	return exp(log_nbd(c, tau) + log(c->s / c->beta)
			   + (c->s + 1) * log(c->beta / (c->beta + tau)));
}

double
clv_paretonbd_probability_of_purchases(const double *params, double t, int n)
{
	count_integrand c = {params[0], params[1], params[2], params[3], 0, n};
	gsl_function fn = {count_integrand_fn, &c};
	gsl_integration_workspace *ws;
	double		died = 0,
				err;
	bool		ok = true;

	c.lcoef = gsl_sf_lngamma(c.r + n) - gsl_sf_lngamma(c.r) - gsl_sf_lngamma(n + 1.0);
	if (t > 0)
	{
		if ((ws = gsl_integration_workspace_alloc(200)) == NULL)
			return NAN;
		ok = gsl_integration_qag(&fn, 0, t, 1e-300, 1e-11, 200, GSL_INTEG_GAUSS41, ws,
								 &died, &err) == GSL_SUCCESS;
		gsl_integration_workspace_free(ws);
	}
	if (!ok)
		return NAN;
	return exp(log_nbd(&c, t) + c.s * log(c.beta / (c.beta + t))) + died;
}

/*
 * Alive at T after x purchases, the customer's rates have the model's form
 * again, λ ~ Gamma(r+x, α+T) and μ ~ Gamma(s, β+T): the count is a new
 * customer's under those parameters.
 */
double
clv_paretonbd_alive_probability_of_purchases(const double *params, double t, int n,
											 double x, double T)
{
	double		post[4] = {params[0] + x, params[1] + T, params[2], params[3] + T};

	return clv_paretonbd_probability_of_purchases(post, t, n);
}

/* Two starts: beta, like alpha, is on the scale of time. */
int
clv_paretonbd_starts(const clv_patterns *p, double mean_T,
					 double starts[][CLV_BTYD_MAX_PARAMS])
{
	double		scale = mean_T > 0 ? mean_T : 1;

	(void) p;
	starts[0][0] = 1, starts[0][1] = scale / 4, starts[0][2] = 1, starts[0][3] = scale / 4;
	starts[1][0] = 0.5, starts[1][1] = scale, starts[1][2] = 0.5, starts[1][3] = scale;
	return 2;
}
