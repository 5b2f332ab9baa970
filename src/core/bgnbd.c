/*
 * bgnbd.c — BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam et al.
 * 2007): their likelihood with its analytic gradient, P(alive), the expected
 * purchases of a customer known to be alive, purchase-count probabilities and
 * starting points, for their rows of clv_btyd_models.
 *
 * The two models differ only in whether a customer can die right after the
 * first purchase: every formula here takes k = 0 (BG/NBD) or k = 1
 * (MBG/NBD), which shifts b by one where the survived purchases count.
 */
#include "btyd_internal.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_hyperg.h>
#include <gsl/gsl_sf_psi.h>

/*
 * Log-likelihood of the patterns and, when grad is given, its gradient with
 * respect to the natural parameters.  Patterns are sorted by x, so the terms
 * that depend on x alone (the gamma and digamma functions) are computed once
 * per distinct frequency, not once per customer.
 */
static inline double
family_ll(double k, const clv_patterns *p, const clv_time_index *ix,
		  const double *theta, double *grad)
{
	double		r = theta[0],
				alpha = theta[1],
				a = theta[2],
				b = theta[3];
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
		/* MBG/NBD: death is possible right after the first purchase too */
		bool		has4 = k > 0 || x > 0;

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

static inline double
family_palive(double k, const double *params, double x, double tx, double T)
{
	double		r = params[0],
				alpha = params[1],
				a = params[2],
				b = params[3];

	/* a BG/NBD customer dies only after a purchase */
	if (k == 0 && x == 0)
		return 1.0;
	/* 1 / (1 + a/(b+x−1+k) · ((α+T)/(α+t_x))^(r+x)), the power in logs */
	return 1.0 / (1.0 + exp(log(a / (b + x - 1 + k))
							+ (r + x) * log((alpha + T) / (alpha + tx))));
}

/*
 * Within this distance of a = 1 the closed form's division by a − 1 costs
 * more digits than the integral's error (at a = 1 it is 0/0).
 */
#define NEAR_A_ONE 1e-4

/* For t > 0. */
static bool
family_purchase_factor(double k, const double *params, double t, double x, double T,
					   double *out)
{
	double		r = params[0],
				alpha = params[1],
				a = params[2],
				b = params[3];
	double		c = a + b + x - 1 + k;
	gsl_sf_result hyp;

	/*
	 * The integral over the dropout probability holds for every a and b; the
	 * closed form is faster but divides by a − 1, and GSL's 2F1 returns wrong
	 * values (the wrong sign) for a negative c, which a light buyer reaches
	 * when a + b < 1.
	 */
	if (fabs(a - 1) < NEAR_A_ONE || c <= 0)
		return clv_bgnbd_purchase_factor_integral(k > 0, params, t, x, T, out);
	/* (a+b+x−1+k)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x+k; a+b+x−1+k; z)] */
	if (gsl_sf_hyperg_2F1_e(r + x, b + x + k, c, t / (alpha + T + t), &hyp) != GSL_SUCCESS ||
		!isfinite(hyp.val))
		return clv_bgnbd_purchase_factor_integral(k > 0, params, t, x, T, out);
	*out = c / (a - 1) * (1 - exp((r + x) * (log(alpha + T) - log(alpha + T + t))) * hyp.val);
	return isfinite(*out);
}

/*
 * (1 − (1 + p·c)^−(r+x)) / p, smooth on [0, 1] and (r+x)·c at 0, times the
 * powers p^p_power (1 − p)^q_power of the weight that QAWS does not apply.
 */
typedef struct factor_integrand
{
	double		c;
	double		rx;
	double		p_power;
	double		q_power;
} factor_integrand;

static double
factor_integrand_fn(double p, void *arg)
{
	const factor_integrand *f = arg;
	double		g = p < 1e-300 ? f->rx * f->c : -expm1(-f->rx * log1p(p * f->c)) / p;

	if (f->p_power != 0)
		g *= exp(f->p_power * log(p));
	if (f->q_power != 0)
		g *= exp(f->q_power * log1p(-p));
	return g;
}

/*
 * ∫ f(p) p^alpha (hi − p)^beta dp over [0, hi] by QAWS, which handles the
 * algebraic end-point behaviour exactly; false when it fails.
 */
static bool
qaws(factor_integrand *f, double hi, double alpha, double beta, double *out)
{
	gsl_function fn = {factor_integrand_fn, f};
	gsl_integration_qaws_table *table = gsl_integration_qaws_table_alloc(alpha, beta, 0, 0);
	gsl_integration_workspace *ws = gsl_integration_workspace_alloc(200);
	double		abserr;
	bool		ok = table != NULL && ws != NULL &&
		gsl_integration_qaws(&fn, 0, hi, table, 0, 1e-12, 200, ws, out, &abserr) == GSL_SUCCESS;

	if (table != NULL)
		gsl_integration_qaws_table_free(table);
	if (ws != NULL)
		gsl_integration_workspace_free(ws);
	return ok;
}

/*
 * The same factor as an integral over the dropout probability p, for where
 * GSL's 2F1 gives up (heavy buyers over long horizons):
 * ∫ p^(a−1) (1−p)^(B−1) · (1 − (1 + p t/(α+T))^−(r+x)) / p dp / B(a, B), with
 * B = b+x+k.  For a heavy buyer (B large) the weight lives near zero, within a
 * few standard deviations of its mean a/(a+B), where one adaptive pass over
 * [0, 1] does not find it (and QAWS's moments of (1−p)^(B−1) overflow): the
 * range then splits well above that, (1−p)^(B−1) joins the integrand below
 * the split, and the tail above it, smooth and tiny, is integrated plainly.
 */
bool
clv_bgnbd_purchase_factor_integral(bool modified, const double *params, double t,
								   double x, double T, double *out)
{
	double		r = params[0],
				alpha = params[1],
				a = params[2],
				b = params[3];
	double		B = b + x + (modified ? 1 : 0);
	double		split = (a + 50 + 10 * sqrt(a)) / B;
	factor_integrand f = {t / (alpha + T), r + x, 0, 0};
	double		value;

	if (split >= 0.5)
	{
		if (!qaws(&f, 1, a - 1, B - 1, &value))
			return false;
	}
	else
	{
		gsl_function tail = {factor_integrand_fn, &f};
		gsl_integration_workspace *ws;
		double		upper,
					abserr;
		bool		ok;

		f.q_power = B - 1;
		if (!qaws(&f, split, a - 1, 0, &value))
			return false;
		f.p_power = a - 1;
		ws = gsl_integration_workspace_alloc(200);
		ok = ws != NULL &&
			gsl_integration_qag(&tail, split, 1, value * 1e-15, 1e-12, 200,
								GSL_INTEG_GAUSS21, ws, &upper, &abserr) == GSL_SUCCESS;
		if (ws != NULL)
			gsl_integration_workspace_free(ws);
		if (!ok)
			return false;
		value += upper;
	}
	*out = exp(log(value) - gsl_sf_lnbeta(a, B));
	return isfinite(*out);
}


static inline double
family_probability_of_purchases(double k, const double *params, double t, int n)
{
	double		r = params[0],
				alpha = params[1],
				a = params[2],
				b = params[3];
	double		lp = log(alpha / (alpha + t)),
				lq = t > 0 ? log(t / (alpha + t)) : -INFINITY;
	double		lbab = gsl_sf_lnbeta(a, b);
	double		first,
				second = 0;

	/* alive throughout, with n purchases from the NBD */
	first = exp(gsl_sf_lnbeta(a, b + n + k) - lbab + gsl_sf_lngamma(r + n)
				- gsl_sf_lngamma(r) - gsl_sf_lngamma(n + 1.0) + r * lp
				+ (n > 0 ? n * lq : 0));
	/*
	 * dropped out after the n-th purchase, which came before t: the NBD's
	 * P(N(t) ≥ n), the regularised incomplete beta I_(t/(α+t))(n, r), taken
	 * directly rather than as 1 − P(N(t) < n), which cancels to rounding
	 * noise where it is tiny (many purchases in a short time)
	 */
	if (n > 0 || k > 0)
	{
		gsl_sf_result tail = {1, 0};
		int			status = n > 0 ? gsl_sf_beta_inc_e(n, r, t / (alpha + t), &tail) : GSL_SUCCESS;

		/* an underflow is a tail below the doubles: 0 */
		if (status == GSL_EUNDRFLW)
			tail.val = 0;
		else if (status != GSL_SUCCESS)
			return NAN;

		second = exp(gsl_sf_lnbeta(a + 1, b + n - 1 + k) - lbab) * tail.val;
	}
	return first + second;
}

#define CURVE_MAX_TERMS 2000

/*
 * The factor of one (x, T) at n <= CLV_BTYD_CURVE_MAX_POINTS horizons t[i]:
 * the hypergeometric series has the same coefficients at every horizon, so
 * they are computed once and each horizon costs a sum.  False when the
 * series would converge too slowly (z near 1) or where family_purchase_factor
 * takes the integral (a near 1, or c ≤ 0, where the series' terms change
 * sign and its closed form loses its digits): the caller takes each horizon
 * on its own.
 */
static bool
family_purchase_factor_curve(double k, const double *params, double x, double T,
							 int n, const double *t, double *out)
{
	double		r = params[0],
				alpha = params[1],
				a = params[2],
				b = params[3];
	double		A = r + x,
				B = b + x + k,
				C = a + b + x - 1 + k;
	double		coef[CURVE_MAX_TERMS];
	int			n_terms = 0;
	double		zmax = 0;

	for (int i = 0; i < n; i++)
		zmax = fmax(zmax, t[i] / (alpha + T + t[i]));
	if (fabs(a - 1) >= NEAR_A_ONE && C > 0 && zmax <= 0.95)
	{
		/*
		 * c_n = (A)_n (B)_n / ((C)_n n!), until the tail after c_n zmax^n is
		 * negligible: each factor of the term ratio, (A+m)/(m+1) and
		 * (B+m)/(C+m), tends to 1 monotonically, so the larger of it and 1
		 * bounds it from here on, and q, their product times zmax, bounds
		 * every later ratio; the tail is at most c_n zmax^n q/(1 − q).  The
		 * terms at zmax are kept, not the c_n: for a heavy buyer c_n grows
		 * past the largest double long before c_n zmax^n turns down.
		 */
		double		term = 1,
					sum = 1;

		coef[n_terms++] = 1;
		while (n_terms < CURVE_MAX_TERMS)
		{
			int			m = n_terms - 1;
			double		ratio = (A + m) * (B + m) / ((C + m) * (m + 1)),
						q = fmax((A + m + 1) / (m + 2), 1) * fmax((B + m + 1) / (C + m + 1), 1) * zmax;

			term *= ratio * zmax;
			coef[n_terms++] = term;
			sum += term;
			if (q < 1 && term * q < 1e-17 * sum * (1 - q))
				break;
		}
		if (n_terms == CURVE_MAX_TERMS || !isfinite(sum))
			n_terms = 0;		/* too slow: every point on its own */
	}
	if (n_terms > 0)
	{
		/*
		 * Horner in z / zmax at every horizon at once, two horizons to a
		 * vector (GCC and Clang vector extensions; plain SSE2 on x86-64): the
		 * horizons are independent, so the loop over them runs without
		 * waiting on each multiply-add.  An odd count gets a padding horizon
		 * at z = 0.
		 */
		typedef double pair __attribute__((vector_size(16)));
		enum {PAIRS = CLV_BTYD_CURVE_MAX_POINTS / 2};
		pair		z[PAIRS],
					sum[PAIRS];
		int			n_pairs = (n + 1) / 2;
		double		log_aT = log(alpha + T);

		for (int h = 0; h < n_pairs; h++)
		{
			double		t0 = t[2 * h],
						t1 = 2 * h + 1 < n ? t[2 * h + 1] : 0;

			z[h] = zmax > 0 ? (pair) {t0 / (alpha + T + t0) / zmax, t1 / (alpha + T + t1) / zmax}
				: (pair) {0, 0};
			sum[h] = (pair) {0, 0};
		}
		for (int j = n_terms - 1; j >= 0; j--)
		{
			pair		c = {coef[j], coef[j]};

			for (int h = 0; h < n_pairs; h++)
				sum[h] = sum[h] * z[h] + c;
		}
		for (int i = 0; i < n; i++)
			out[i] = C / (a - 1) * (1 - exp(A * (log_aT - log(alpha + T + t[i])))
									* sum[i / 2][i % 2]);
	}
	return n_terms > 0;
}

/*
 * Alive at T after x purchases, the customer's rates have the model's form
 * again: λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x+k), the purchases survived
 * (MBG/NBD also survived the first).  After T an MBG/NBD customer dies only
 * after purchases, as under BG/NBD: the count is BG/NBD's.
 */
static inline double
family_alive_probability_of_purchases(double k, const double *params, double t, int n,
									  double x, double T)
{
	double		post[4] = {params[0] + x, params[1] + T, params[2], params[3] + x + k};

	return family_probability_of_purchases(0, post, t, n);
}

/* Three starts: alpha, the rate's scale, near the customers' mean age. */
int
clv_bgnbd_starts(const clv_patterns *p, double mean_T,
				 double starts[][CLV_BTYD_MAX_PARAMS])
{
	double		scale = mean_T > 0 ? mean_T : 1;

	(void) p;
	starts[0][0] = 0.5, starts[0][1] = scale, starts[0][2] = 0.5, starts[0][3] = 2;
	starts[1][0] = 1, starts[1][1] = 1, starts[1][2] = 1, starts[1][3] = 1;
	starts[2][0] = 1, starts[2][1] = scale / 4, starts[2][2] = 1, starts[2][3] = 1;
	return 3;
}

/* ---- the two rows' operations: the formulas above at k = 0 and k = 1 ------ */

double
clv_bgnbd_ll(const clv_patterns *p, const clv_time_index *ix, const double *params,
			 double *grad)
{
	return family_ll(0, p, ix, params, grad);
}

double
clv_mbgnbd_ll(const clv_patterns *p, const clv_time_index *ix, const double *params,
			  double *grad)
{
	return family_ll(1, p, ix, params, grad);
}

double
clv_bgnbd_palive(const double *params, double x, double tx, double T)
{
	return family_palive(0, params, x, tx, T);
}

double
clv_mbgnbd_palive(const double *params, double x, double tx, double T)
{
	return family_palive(1, params, x, tx, T);
}

bool
clv_bgnbd_purchase_factor(const double *params, double t, double x, double T, double *out)
{
	return family_purchase_factor(0, params, t, x, T, out);
}

bool
clv_mbgnbd_purchase_factor(const double *params, double t, double x, double T, double *out)
{
	return family_purchase_factor(1, params, t, x, T, out);
}

bool
clv_bgnbd_purchase_factor_curve(const double *params, double x, double T, int n,
								const double *t, double *out)
{
	return family_purchase_factor_curve(0, params, x, T, n, t, out);
}

bool
clv_mbgnbd_purchase_factor_curve(const double *params, double x, double T, int n,
								 const double *t, double *out)
{
	return family_purchase_factor_curve(1, params, x, T, n, t, out);
}

double
clv_bgnbd_probability_of_purchases(const double *params, double t, int n)
{
	return family_probability_of_purchases(0, params, t, n);
}

double
clv_mbgnbd_probability_of_purchases(const double *params, double t, int n)
{
	return family_probability_of_purchases(1, params, t, n);
}

double
clv_bgnbd_alive_probability_of_purchases(const double *params, double t, int n, double x,
										 double T)
{
	return family_alive_probability_of_purchases(0, params, t, n, x, T);
}

double
clv_mbgnbd_alive_probability_of_purchases(const double *params, double t, int n, double x,
										  double T)
{
	return family_alive_probability_of_purchases(1, params, t, n, x, T);
}

/*
 * One BG/NBD customer's log-likelihood and its gradient in (r, α, a, b) (the
 * terms of family_ll at k = 0): the covariate fits give every customer
 * parameters of their own.  The terms of x, r, a and b alone (the gamma and
 * digamma functions) are kept in *memo for the next customer, who usually
 * shares them: rows come sorted by covariates, then frequency.
 */
double
clv_bgnbd_customer_ll(const double *theta, double x, double tx, double T, double *grad,
					  clv_bgnbd_memo *memo)
{
	double		r = theta[0],
				alpha = theta[1],
				a = theta[2],
				b = theta[3];
	double		lT = log(alpha + T),
				ltx = log(alpha + tx),
				la = log(alpha);
	double		w4 = 0,
				l3 = -(r + x) * lT,
				ll;

	if (!(memo->valid && memo->r == r && memo->a == a && memo->b == b && memo->x == x))
	{
		double		psab = gsl_sf_psi(a + b),
					psabx = x > 0 ? gsl_sf_psi(a + b + x) : psab;

		memo->ax = gsl_sf_lngamma(r + x) - gsl_sf_lngamma(r)
			+ gsl_sf_lngamma(a + b) - gsl_sf_lngamma(a + b + x)
			+ (x > 0 ? gsl_sf_lngamma(b + x) - gsl_sf_lngamma(b) : 0);
		memo->lodds = x > 0 ? log(a) - log(b + x - 1) : 0;
		memo->dr = x > 0 ? gsl_sf_psi(r + x) - gsl_sf_psi(r) : 0;
		memo->da = psab - psabx;
		memo->db = psab - psabx + (x > 0 ? gsl_sf_psi(b + x) - gsl_sf_psi(b) : 0);
		memo->r = r, memo->a = a, memo->b = b, memo->x = x;
		memo->valid = true;
	}
	ll = memo->ax + r * la;
	/* log of (alive at T) + (died after the last purchase), and the second's share */
	if (x > 0)
	{
		double		d = memo->lodds - (r + x) * ltx - l3,
					e = exp(-fabs(d));

		ll += l3 + fmax(d, 0) + log1p(e);
		w4 = d > 0 ? 1 / (1 + e) : e / (1 + e);
	}
	else
		ll += l3;
	if (grad)
	{
		double		w3 = 1 - w4;

		grad[0] = memo->dr + la - w3 * lT - w4 * ltx;
		grad[1] = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + tx));
		grad[2] = memo->da + (x > 0 ? w4 / a : 0);
		grad[3] = memo->db - (x > 0 ? w4 / (b + x - 1) : 0);
	}
	return ll;
}
