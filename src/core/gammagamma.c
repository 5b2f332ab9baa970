/*
 * gammagamma.c — the Gamma-Gamma spend model (Fader & Hardie 2013), for its
 * row of clv_btyd_models: the likelihood of customers' mean repeat spend with
 * its analytic gradient, starting points, and the expected mean spend.
 *
 * A pattern is (x, mean spend m of the x repeat purchases, 0): one-time
 * buyers (x = 0) carry no information about spend.
 */
#include "btyd_internal.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>

/* The patterns' times are zero: the time index is not read. */
double
clv_gammagamma_ll(const clv_patterns *pt, const clv_time_index *ix, const double *theta,
				  double *grad)
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

	(void) ix;
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


/* Three starts: gamma, the spend's scale, near the repeat buyers' mean spend. */
int
clv_gammagamma_starts(const clv_patterns *p, double mean_T,
					  double starts[][CLV_BTYD_MAX_PARAMS])
{
	double		informative = 0,
				mean_m = 0;

	(void) mean_T;
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].x > 0)
			informative += p->v[i].count;
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].x > 0)
			mean_m += p->v[i].count * p->v[i].tx;
	mean_m /= informative;
	starts[0][0] = 1, starts[0][1] = 2, starts[0][2] = mean_m;
	starts[1][0] = 5, starts[1][1] = 5, starts[1][2] = mean_m;
	starts[2][0] = 1, starts[2][1] = 1, starts[2][2] = 1;
	return 3;
}

/*
 * E[mean spend | x, m]: a weighted mean of the population mean pγ/(q−1) and
 * the customer's own, which exists only for q > 1.
 */
clv_status
clv_gammagamma_expected_spend(const double *params, double x, double m, double *out,
							  clv_error *err)
{
	double		p = params[0],
				q = params[1],
				gamma = params[2];

	if (q <= 1)
	{
		clv_fail(err, CLV_ERR_DATA, "expected spend is not defined for this model");
		clv_set_detail(err, "Its parameter q is %g; the mean spend exists only for q > 1.", q);
		return CLV_ERR_DATA;
	}
	if (x == 0)
		m = 0;					/* a one-time buyer's m is not a repeat spend */
	*out = (gamma + m * x) * p / (p * x + q - 1);
	return CLV_OK;
}
