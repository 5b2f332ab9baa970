/*
 * btyd_predict.c — per-customer predictions of the BTYD models: P(alive),
 * expected purchases (plain, discounted, and summed over a cohort for a
 * tracking plot), purchase-count probabilities, discounted expected residual
 * transactions and expected spend.  What a formula is for a given model comes
 * from its row of clv_btyd_models; what is built from it is here.
 */
#include "btyd_internal.h"

#include <math.h>

#include <gsl/gsl_integration.h>

double
clv_btyd_palive(clv_btyd_model model, const double *params, double x, double tx, double T)
{
	return clv_btyd_models[model].palive(params, x, tx, T);
}

bool
clv_btyd_purchase_factor(clv_btyd_model model, const double *params, double t,
						 double x, double T, double *out)
{
	if (t == 0)
	{
		*out = 0;
		return true;
	}
	return clv_btyd_models[model].purchase_factor(params, t, x, T, out);
}

bool
clv_btyd_expected_purchases(clv_btyd_model model, const double *params, double t,
							double x, double tx, double T, double *out)
{
	double		factor,
				palive;

	if (!clv_btyd_purchase_factor(model, params, t, x, T, &factor))
		return false;
	palive = t == 0 ? 0 : clv_btyd_palive(model, params, x, tx, T);
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
			if (!clv_btyd_expected_purchases(model, params, age, 0, 0, 0, &e))
				return false;
			out[w] += c->count * e;
		}
	}
	return true;
}

/*
 * The factor of one (x, T) at n <= CLV_BTYD_CURVE_MAX_POINTS horizons t[i]:
 * by the model's curve where it has one that holds here, each horizon on its
 * own otherwise (and at t = 0, where the factor is 0 exactly, and wherever
 * the curve gave no finite value).
 */
static bool
purchase_factor_curve(clv_btyd_model model, const double *params, double x, double T,
					  int n, const double *t, double *out)
{
	const clv_btyd_ops *ops = &clv_btyd_models[model];
	bool		curve = ops->purchase_factor_curve != NULL &&
		ops->purchase_factor_curve(params, x, T, n, t, out);

	for (int i = 0; i < n; i++)
	{
		if ((!curve || t[i] == 0 || !isfinite(out[i])) &&
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
static gsl_integration_glfixed_table *gl_tables[CLV_BTYD_CURVE_MAX_POINTS];

void
clv_btyd_init(void)
{
	for (int n = 1; n < CLV_BTYD_CURVE_MAX_POINTS; n++)
		if (gl_tables[n] == NULL)
			gl_tables[n] = gsl_integration_glfixed_table_alloc(n);
}

const gsl_integration_glfixed_table *
clv_btyd_gl_rule(int n)
{
	return n > 0 && n < CLV_BTYD_CURVE_MAX_POINTS ? gl_tables[n] : NULL;
}

bool
clv_btyd_discounted_factor(clv_btyd_model model, const double *params, double x,
						   double T, double horizon, double step, double rate, double *out)
{
	enum {BLOCK = CLV_BTYD_CURVE_MAX_POINTS};
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
		 * F is analytic but at τ = −(θ+T), θ the model's time_scale
		 * parameter (α, or β for Pareto/NBD), so n
		 * Gauss-Legendre nodes on [0, H] err by about ϱ^(−2n), ϱ the sum of
		 * the semi-axes of the largest ellipse with foci 0 and H clear of
		 * that point: enough nodes for 20 digits, at least 16 and at most
		 * BLOCK − 1 (a horizon of many times the customer's age).
		 */
		gsl_integration_glfixed_table *nodes,
				   *own = NULL;
		double		u = 1 + 2 * (params[clv_btyd_models[model].time_scale] + T) / horizon,
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
clv_btyd_discount_rate(double annual, double unit_days)
{
	return log1p(annual) * unit_days / 365.25;
}

bool
clv_btyd_dert(clv_btyd_model model, const double *params, double x, double tx, double T,
			  double delta, double *out)
{
	const clv_btyd_ops *ops = &clv_btyd_models[model];

	return ops->dert != NULL && ops->dert(params, x, tx, T, delta, out);
}

double
clv_btyd_probability_of_purchases(clv_btyd_model model, const double *params, double t, int n)
{
	const clv_btyd_ops *ops = &clv_btyd_models[model];

	return ops->probability_of_purchases ? ops->probability_of_purchases(params, t, n) : NAN;
}

/*
 * Given the history, the customer is dead with probability 1 − P(alive) and
 * makes no purchase; alive, the count is the model's given survival to T.
 */
double
clv_btyd_conditional_probability_of_purchases(clv_btyd_model model, const double *params,
											  double t, int n, double x, double tx, double T)
{
	const clv_btyd_ops *ops = &clv_btyd_models[model];
	double		pa,
				p_alive_n;

	if (ops->alive_probability_of_purchases == NULL)
		return NAN;
	pa = ops->palive(params, x, tx, T);
	p_alive_n = ops->alive_probability_of_purchases(params, t, n, x, T);
	return pa * p_alive_n + (n == 0 ? 1 - pa : 0);
}

clv_status
clv_btyd_expected_spend(clv_btyd_model model, const double *params, double x, double m,
						double *out, clv_error *err)
{
	const clv_btyd_ops *ops = &clv_btyd_models[model];

	if (ops->expected_spend == NULL)
		return clv_fail(err, CLV_ERR_INTERNAL, "a %s model has no expected spend", ops->title);
	return ops->expected_spend(params, x, m, out, err);
}
