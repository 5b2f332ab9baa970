/*
 * bgbb.c — the beta-geometric/beta-binomial model (Fader, Hardie & Shang
 * 2010) for customers who can buy only at discrete opportunities: at each
 * opportunity an alive customer buys with probability p ~ Beta(α, β), and
 * dies before each opportunity with probability θ ~ Beta(γ, δ).  A customer
 * is (x purchases, last at opportunity t_x, of n), stored as the pattern
 * (x, t_x, T = n); its likelihood, P(alive), expectations, purchase-count
 * probabilities and DERT, for its row of clv_btyd_models.
 *
 * Everything is a ratio of beta functions, taken in logs.  The likelihood's
 * sum over the opportunity of death runs by the ratio of consecutive terms
 * (and the digammas of its gradient by ψ(z+1) = ψ(z) + 1/z), so a pattern
 * costs n − t_x multiplications and no special function beyond its first term.
 */
#include "btyd_internal.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_exp.h>
#include <gsl/gsl_sf_psi.h>

/*
 * The log-likelihood of one customer and, when grad is not NULL, its
 * gradient in (α, β, γ, δ); *log_alive, when not NULL, receives the log of
 * the first term (alive through opportunity n).
 */
static double
customer_ll(const double *params, double x, double tx, double n, double *grad,
			double *log_alive)
{
	double		al = params[0],
				be = params[1],
				ga = params[2],
				de = params[3];
	double		lbab = gsl_sf_lnbeta(al, be),
				lbgd = gsl_sf_lnbeta(ga, de);
	/* alive through n: B(α+x, β+n−x)/B(α,β) · B(γ, δ+n)/B(γ,δ) */
	double		la = gsl_sf_lnbeta(al + x, be + n - x) - lbab +
		gsl_sf_lnbeta(ga, de + n) - lbgd;
	/* died before opportunity t_x+i+1, i = 0..n−t_x−1: the first of these terms */
	double		l0 = gsl_sf_lnbeta(al + x, be + tx - x) - lbab +
		gsl_sf_lnbeta(ga + 1, de + tx) - lbgd;
	double		m = n - tx;		/* the terms of the sum; n < 2^53 */
	double		w = 1,
				sum = 0,
				s_b = 0,		/* Σ w ψ(β+t_x−x+i) */
				s_ab = 0,		/* Σ w ψ(α+β+t_x+i) */
				s_d = 0,		/* Σ w ψ(δ+t_x+i) */
				s_gd = 0;		/* Σ w ψ(γ+δ+1+t_x+i) */
	double		pb = 0,
				pab = 0,
				pd = 0,
				pgd = 0;
	double		top,
				ea,
				e0,
				total;

	if (grad)
	{
		pb = gsl_sf_psi(be + tx - x);
		pab = gsl_sf_psi(al + be + tx);
		pd = gsl_sf_psi(de + tx);
		pgd = gsl_sf_psi(ga + de + 1 + tx);
	}
	/* the terms fall with i (each ratio is below 1): w is term i over term 0 */
	for (double i = 0; i < m; i++)
	{
		double		b = be + tx - x + i,
					ab = al + be + tx + i,
					d = de + tx + i,
					gd = ga + de + 1 + tx + i;

		sum += w;
		if (grad)
		{
			s_b += w * pb;
			s_ab += w * pab;
			s_d += w * pd;
			s_gd += w * pgd;
			pb += 1 / b;
			pab += 1 / ab;
			pd += 1 / d;
			pgd += 1 / gd;
		}
		w *= b / ab * d / gd;
	}
	top = m > 0 ? fmax(la, l0) : la;
	ea = exp(la - top);
	e0 = m > 0 ? exp(l0 - top) : 0;
	total = ea + e0 * sum;
	if (log_alive)
		*log_alive = la;
	if (grad)
	{
		double		pa = gsl_sf_psi(al),
					pbe = gsl_sf_psi(be),
					pg = gsl_sf_psi(ga),
					pde = gsl_sf_psi(de),
					pabe = gsl_sf_psi(al + be),
					pgde = gsl_sf_psi(ga + de),
					pax = gsl_sf_psi(al + x);
		double		wa = ea / total,
					w0 = e0 / total;

		/* d log L = Σ (share of each term) · d log term */
		grad[0] = wa * (pax - gsl_sf_psi(al + be + n)) + w0 * (sum * pax - s_ab)
			+ (wa + w0 * sum) * (pabe - pa);
		grad[1] = wa * (gsl_sf_psi(be + n - x) - gsl_sf_psi(al + be + n)) + w0 * (s_b - s_ab)
			+ (wa + w0 * sum) * (pabe - pbe);
		grad[2] = wa * (pg - gsl_sf_psi(ga + de + n)) + w0 * (sum * gsl_sf_psi(ga + 1) - s_gd)
			+ (wa + w0 * sum) * (pgde - pg);
		grad[3] = wa * (gsl_sf_psi(de + n) - gsl_sf_psi(ga + de + n)) + w0 * (s_d - s_gd)
			+ (wa + w0 * sum) * (pgde - pde);
	}
	return top + log(total);
}

double
clv_bgbb_ll(const clv_patterns *p, const clv_time_index *ix,
			const double *params, double *grad)
{
	double		ll = 0,
				g[4],
				total[4] = {0, 0, 0, 0};

	/*
	 * no interrupt check here: the optimiser holds GSL's malloc'd memory and
	 * checks between its iterations
	 */
	(void) ix;					/* the terms need no logarithms of times */
	for (size_t i = 0; i < p->n; i++)
	{
		const clv_pattern *c = &p->v[i];

		ll += c->count * customer_ll(params, c->x, c->tx, c->T, grad ? g : NULL, NULL);
		if (grad)
			for (int k = 0; k < 4; k++)
				total[k] += c->count * g[k];
	}
	if (grad)
		memcpy(grad, total, sizeof(total));
	return ll;
}

/*
 * Starts: all ones, the BTYD package's (0.5, 1, 0.5, 1), and a Beta(2p̄,
 * 2(1−p̄)) purchase probability from the share of opportunities with a
 * purchase.
 */
int
clv_bgbb_starts(const clv_patterns *p, double mean_T,
				double starts[][CLV_BTYD_MAX_PARAMS])
{
	double		bought = 0,
				opportunities = 0,
				share;

	(void) mean_T;
	for (size_t i = 0; i < p->n; i++)
	{
		bought += p->v[i].count * p->v[i].x;
		opportunities += p->v[i].count * p->v[i].T;
	}
	share = opportunities > 0 ? fmin(0.95, fmax(0.05, bought / opportunities)) : 0.5;
	memcpy(starts[0], (double[]) {1, 1, 1, 1}, 4 * sizeof(double));
	memcpy(starts[1], (double[]) {0.5, 1, 0.5, 1}, 4 * sizeof(double));
	memcpy(starts[2], (double[]) {2 * share, 2 * (1 - share), 1, 3}, 4 * sizeof(double));
	return 3;
}

/* P(alive at opportunity n+1 | x, t_x, n) (FHS 2010, eq. 11). */
double
clv_bgbb_palive(const double *params, double x, double tx, double n)
{
	double		la,
				ll = customer_ll(params, x, tx, n, NULL, &la);

	/* alive at n+1 = alive through n, then one more survival: B(γ, δ+n+1) for B(γ, δ+n) */
	return exp(la + gsl_sf_lnbeta(params[2], params[3] + n + 1) -
			   gsl_sf_lnbeta(params[2], params[3] + n) - ll);
}

/*
 * ln Γ(z+a)/Γ(z).  GSL's lnpoch, for a large z, takes the difference of two
 * large lnΓ values and keeps only about 1e-16 z of absolute precision; from
 * z = 1000 on, Stirling's series in the form whose terms do not cancel,
 * (z − ½) log1p(a/z) + a ln(z+a) − a + Σ B₂ₖ/(2k(2k−1)) ((z+a)^(1−2k) − z^(1−2k)),
 * whose first omitted term is below 1e-24.
 */
static double
lnpoch(double z, double a)
{
	double		w = z + a;

	if (z < 1000)
		return gsl_sf_lnpoch(z, a);
	return (z - 0.5) * log1p(a / z) + a * log(w) - a
		+ (1 / w - 1 / z) / 12
		- (1 / (w * w * w) - 1 / (z * z * z)) / 360
		+ (1 / pow(w, 5) - 1 / pow(z, 5)) / 1260;
}

/*
 * Σ_{k=0}^{K−1} B(γ, D+k)/B(γ, D) = Σ (D)_k/(γ+D)_k: the expected
 * opportunities alive of a customer alive at the first of K, with θ ~
 * Beta(γ, D).  In closed form (the terms telescope),
 * (γ+D−1) (1 − e^v)/(γ−1) with v = ln Γ(D+γ−1)/Γ(D) − ln Γ(D+K+γ−1)/Γ(D+K),
 * written −(γ+D−1) exprel(v) · v/(γ−1) so that nothing cancels near γ = 1
 * and at γ = 1, where v/(γ−1) is ψ(D) − ψ(D+K).
 */
static double
alive_opportunities(double ga, double D, double K)
{
	double		a = ga - 1,
				v,
				v_over_a;

	if (K <= 0)
		return 0;
	if (a == 0)
	{
		v = 0;
		v_over_a = gsl_sf_psi(D) - gsl_sf_psi(D + K);
	}
	else
	{
		/*
		 * v = −Σ_{k<K} log1p(a/(D+k)): summed while that is cheap, since the
		 * difference of the lnpochs cancels when K is small beside D
		 */
		v = 0;
		if (K <= 100000)
			for (double k = 0; k < K; k++)
				v -= log1p(a / (D + k));
		else
			v = lnpoch(D, a) - lnpoch(D + K, a);
		v_over_a = v / a;
	}
	return -(ga + D - 1) * gsl_sf_exprel(v) * v_over_a;
}

/*
 * E[purchases at opportunities n+1..n+t | alive at n+1, x, n]: the posterior
 * p ~ Beta(α+x, β+n−x) per opportunity alive, θ ~ Beta(γ, δ+n+1).  With
 * P(alive at n+1) it is FHS 2010's eq. 13.  For whole t > 0.
 */
bool
clv_bgbb_purchase_factor(const double *params, double t, double x, double n, double *out)
{
	double		mean_p = (params[0] + x) / (params[0] + params[1] + n);

	*out = mean_p * alive_opportunities(params[2], params[3] + n + 1, t);
	return isfinite(*out);
}

/*
 * The probability that a customer with purchase probability p ~ Beta(a, b)
 * and θ ~ Beta(γ, D) makes k purchases at opportunities 1..K when alive at
 * opportunity `first` (0: a new customer, who may die before opportunity 1;
 * 1: a customer alive at opportunity 1).  The customer is alive at exactly i
 * opportunities with probability B(γ+1, D+i−first)/B(γ, D) for first ≤ i < K,
 * at all K with B(γ, D+K−first)/B(γ, D); given i, k is beta-binomial.
 */
static double
count_probability(double a, double b, double ga, double D, int first, double K, int k)
{
	double		lbab = gsl_sf_lnbeta(a, b),
				lbgd = gsl_sf_lnbeta(ga, D),
				total = 0;

	if (k > K)
		return 0;
	if (K == 0 || K < first)
		return k == 0 ? 1 : 0;
	for (double i = fmax(k, first); i < K; i++)
	{
		total += exp(gsl_sf_lnchoose((unsigned int) i, (unsigned int) k)
					 + gsl_sf_lnbeta(a + k, b + i - k) - lbab
					 + gsl_sf_lnbeta(ga + 1, D + i - first) - lbgd);
		if (((long) i & 0xFFF) == 0xFFF)
			clv_check_interrupts();
	}
	total += exp(gsl_sf_lnchoose((unsigned int) K, (unsigned int) k)
				 + gsl_sf_lnbeta(a + k, b + K - k) - lbab
				 + gsl_sf_lnbeta(ga, D + K - first) - lbgd);
	return total;
}

/* P(X(n) = k) for a new customer (FHS 2010, eq. 7); t = n, whole. */
double
clv_bgbb_probability_of_purchases(const double *params, double t, int k)
{
	if (t > UINT_MAX)
		return NAN;
	return count_probability(params[0], params[1], params[2], params[3], 0, t, k);
}

/* P(k purchases at n+1..n+t | alive at n+1, x, n). */
double
clv_bgbb_alive_probability_of_purchases(const double *params, double t, int k, double x,
										double n)
{
	if (t > UINT_MAX)
		return NAN;
	return count_probability(params[0] + x, params[1] + n - x, params[2], params[3] + n + 1,
							 1, t, k);
}

/*
 * DERT(d) = P(alive at n+1) · E[p] · E[1/(d + θ)], θ ~ Beta(γ, δ+n+1) and
 * 1 + d = e^delta the discount factor per opportunity: purchases at n+1,
 * n+2, ... are worth (1+d)^−1, (1+d)^−2, ...  E[1/(d+θ)] is FHS 2010's
 * 2F1(1, D; γ+D; z)/(1+d), z = 1/(1+d), summed here as its series
 * Σ (D)_k/(γ+D)_k z^(k+1): positive terms whose ratios rise towards z, so
 * the rest after a term is at most term · z/(1−z), which ends the sum.
 */
bool
clv_bgbb_dert(const double *params, double x, double tx, double n, double delta,
			  double *out)
{
	double		ga = params[2],
				D = params[3] + n + 1,
				z = exp(-delta),
				rest_factor = z / -expm1(-delta),
				term = z,
				sum = 0;

	if (!(delta > 0))
		return false;
	for (double k = 0; term > 0; k++)
	{
		sum += term;
		if (term * rest_factor <= 1e-17 * sum)
			break;
		if (k > 2e8)
			return false;		/* a discount below about 1e-7 per opportunity */
		term *= z * (D + k) / (ga + D + k);
		if (((long) k & 0xFFFFF) == 0xFFFFF)
			clv_check_interrupts();
	}
	*out = clv_bgbb_palive(params, x, tx, n) * (params[0] + x) / (params[0] + params[1] + n)
		* sum;
	return isfinite(*out);
}
