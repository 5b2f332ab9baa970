/*
 * test_covariates.c — BG/NBD and Pareto/NBD with static covariates
 * (btyd_cov.c): the covariate link, the analytic gradient against central
 * differences, a fit without varying covariates equal to the plain fit to the
 * bit, a fit on many rows (the coarse search), the same bits on 1 and 3
 * threads, and the model codec of kinds 12 and 13.
 */
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "btyd.h"
#include "model.h"
#include "tap.h"

static const clv_btyd_cov_settings settings = {.l2 = 0, .max_iter = 500, .n_threads = 1};

/* A deterministic uniform number in [0, 1). */
static double
uniform(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double) (*s >> 11) / 9007199254740992.0;
}

/*
 * n rows (z1: p1 values, z2: 1 value, x, t_x, T) of a simple simulation:
 * Poisson purchases with a Gamma rate shifted by the covariates, weights 1.
 * discrete: the covariates are 0 or 1.
 */
static void
make_rows(size_t n, int p1, bool discrete, uint64_t seed, double **v, double **w)
{
	int			stride = p1 + 1 + 3;

	*v = malloc(sizeof(double) * stride * n);
	*w = malloc(sizeof(double) * n);
	for (size_t i = 0; i < n; i++)
	{
		double	   *row = *v + i * stride,
					rate = 0.3,
					T = round(20 + 30 * uniform(&seed)),
					life,
					t = 0,
					x = 0,
					tx = 0;

		for (int j = 0; j < p1 + 1; j++)
			row[j] = discrete ? (uniform(&seed) < 0.5) : uniform(&seed) - 0.5;
		rate *= exp(0.5 * row[0]) * -log(1 - uniform(&seed)) * 2;
		life = -log(1 - uniform(&seed)) * 30 * exp(-0.4 * row[p1]);
		for (;;)
		{
			t += -log(1 - uniform(&seed)) / rate;
			if (t > T || t > life)
				break;
			x += 1;
			tx = t;
		}
		row[p1 + 1] = x;
		row[p1 + 2] = x > 0 ? fmax(0.01, round(tx * 100) / 100) : 0;
		row[p1 + 3] = T;
		(*w)[i] = 1;
	}
}

static void
test_link(void)
{
	double		theta[7] = {0.5, 4, 0.8, 2.5, 0.3, -0.2, 0.7},
				z1[2] = {1, 2},
				z2[1] = {-1},
				zero1[2] = {0, 0},
				zero2[1] = {0},
				c[4];

	clv_btyd_cov_customer(CLV_BTYD_BGNBD, theta, 2, 1, z1, z2, c);
	check(c[0] == 0.5 && fabs(c[1] - 4 * exp(-(0.3 - 0.4))) < 1e-15 &&
		  fabs(c[2] - 0.8 * exp(-0.7)) < 1e-15 && fabs(c[3] - 2.5 * exp(-0.7)) < 1e-15,
		  "BG/NBD link: alpha exp(-g1'z1), a and b exp(g2'z2)");
	clv_btyd_cov_customer(CLV_BTYD_PARETONBD, theta, 2, 1, z1, z2, c);
	check(c[2] == 0.8 && fabs(c[3] - 2.5 * exp(0.7)) < 1e-15,
		  "Pareto/NBD link: s shared, beta exp(-g2'z2)");
	clv_btyd_cov_customer(CLV_BTYD_BGNBD, theta, 2, 1, zero1, zero2, c);
	check(memcmp(c, theta, sizeof(c)) == 0, "zero covariates: the base parameters, bitwise");
}

/* The analytic gradient of the log-likelihood against central differences. */
static void
test_gradient(clv_btyd_model model, const char *name)
{
	double	   *v,
			   *w;
	double		theta[7] = {0.6, 5, 0.7, model == CLV_BTYD_BGNBD ? 2.2 : 9, 0.4, -0.3, 0.5},
				grad[7],
				worst = 0;
	clv_cov_rows rows = {.n = 300, .p1 = 2, .p2 = 1};

	make_rows(rows.n, 2, false, 7, &v, &w);
	rows.v = v;
	rows.w = w;
	clv_btyd_cov_log_likelihood(model, &rows, theta, grad, 1);
	for (int j = 0; j < 7; j++)
	{
		double		h = 1e-4 * fmax(1, fabs(theta[j])),
					up[7],
					down[7],
					numeric;

		memcpy(up, theta, sizeof(up));
		memcpy(down, theta, sizeof(down));
		up[j] += h;
		down[j] -= h;
		numeric = (clv_btyd_cov_log_likelihood(model, &rows, up, NULL, 1)
				   - clv_btyd_cov_log_likelihood(model, &rows, down, NULL, 1)) / (2 * h);
		worst = fmax(worst, fabs(grad[j] - numeric) / fmax(1, fabs(numeric)));
	}
	check(worst < 1e-6, "%s: gradient = central differences (worst relative %.2g)", name, worst);
	free(v);
	free(w);
}

/* The plain fit of the rows' (x, t_x, T). */
static void
plain_fit(clv_btyd_model model, const clv_cov_rows *rows, clv_btyd_fit *fit)
{
	int			stride = rows->p1 + rows->p2 + 3;
	clv_patterns p;
	clv_btyd_options opt = {.max_iter = 500};
	clv_error	err;

	clv_patterns_init(&p, 0);
	for (size_t i = 0; i < rows->n; i++)
	{
		const double *h = rows->v + i * stride + rows->p1 + rows->p2;

		clv_patterns_add(&p, h[0], h[1], h[2], rows->w[i], &err);
	}
	clv_patterns_compact(&p);
	clv_btyd_solve(model, &p, &opt, fit, &err);
	clv_patterns_free(&p);
}

static void
test_no_covariates(clv_btyd_model model, const char *name)
{
	double	   *v,
			   *w;
	clv_cov_rows rows = {.n = 400, .p1 = 2, .p2 = 1};
	clv_btyd_fit base;
	clv_btyd_cov_fit fit;
	clv_error	err;
	int			stride = 6;

	make_rows(rows.n, 2, true, 11, &v, &w);
	for (size_t i = 0; i < rows.n; i++)
		v[i * stride] = v[i * stride + 1] = v[i * stride + 2] = 0;
	rows.v = v;
	rows.w = w;
	plain_fit(model, &rows, &base);
	check_status(clv_btyd_cov_solve(model, &rows, &base, &settings, &fit, &err), CLV_OK, &err,
				 "all-zero covariates: the fit succeeds");
	check(memcmp(fit.theta, base.params, sizeof(double) * 4) == 0 &&
		  memcmp(fit.std_error, base.std_error, sizeof(double) * 4) == 0 &&
		  fit.theta[4] == 0 && fit.theta[5] == 0 && fit.theta[6] == 0 &&
		  isnan(fit.std_error[4]) && isnan(fit.std_error[6]) &&
		  fit.log_likelihood == base.log_likelihood,
		  "%s, all-zero covariates: the plain fit bitwise, coefficients 0 without standard errors",
		  name);
	clv_btyd_cov_fit_free(&fit);
	free(v);
	free(w);
}

/* Many rows: the coarse search, then the rows themselves; a maximum where the gradient is 0. */
static void
test_many_rows(void)
{
	double	   *v,
			   *w,
				grad[7],
				norm = 0;
	clv_cov_rows rows = {.n = 25000, .p1 = 2, .p2 = 1};
	clv_btyd_fit base;
	clv_btyd_cov_fit fit;
	clv_error	err;

	make_rows(rows.n, 2, false, 13, &v, &w);
	rows.v = v;
	rows.w = w;
	plain_fit(CLV_BTYD_BGNBD, &rows, &base);
	check_status(clv_btyd_cov_solve(CLV_BTYD_BGNBD, &rows, &base, &settings, &fit, &err), CLV_OK,
				 &err, "25,000 rows: the fit succeeds");
	clv_btyd_cov_log_likelihood(CLV_BTYD_BGNBD, &rows, fit.theta, grad, 1);
	for (int j = 0; j < 7; j++)
		norm += pow(grad[j] * (j < 4 ? fit.theta[j] : 1) / rows.n, 2);
	check(fit.converged && sqrt(norm) < 1e-6 && fit.log_likelihood > base.log_likelihood,
		  "25,000 rows: converged (gradient per customer %.2g), above the plain fit", sqrt(norm));
	check(fit.theta[4] > 0.3 && fit.theta[4] < 0.7 && fabs(fit.theta[5]) < 0.15,
		  "25,000 rows: the purchase coefficients near the simulation's 0.5 and 0 (%.3f, %.3f)",
		  fit.theta[4], fit.theta[5]);
	clv_btyd_cov_fit_free(&fit);
	free(v);
	free(w);
}

/*
 * The passes over the rows cut them into chunks whose sums are added in
 * order: 1 or 3 threads give the same bits, for the likelihood and the fit.
 */
static void
test_threads(clv_btyd_model model, const char *name, bool fit_too)
{
	double	   *v,
			   *w;
	double		theta[7] = {0.6, 5, 0.7, model == CLV_BTYD_BGNBD ? 2.2 : 9, 0.4, -0.3, 0.5},
				g1[7],
				g3[7],
				ll1,
				ll3;
	clv_cov_rows rows = {.n = 3 * 8192 + 1, .p1 = 2, .p2 = 1};	/* four chunks */
	clv_btyd_cov_settings three = settings;
	clv_btyd_fit base;
	clv_btyd_cov_fit fit1,
				fit3;
	clv_error	err;

	make_rows(rows.n, 2, true, 17, &v, &w);
	rows.v = v;
	rows.w = w;
	ll1 = clv_btyd_cov_log_likelihood(model, &rows, theta, g1, 1);
	ll3 = clv_btyd_cov_log_likelihood(model, &rows, theta, g3, 3);
	check(memcmp(&ll1, &ll3, sizeof(double)) == 0 && memcmp(g1, g3, sizeof(g1)) == 0,
		  "%s: the log-likelihood and its gradient on 1 and 3 threads, bitwise", name);
	if (!fit_too)
	{
		free(v);
		free(w);
		return;
	}
	three.n_threads = 3;
	plain_fit(model, &rows, &base);
	check(clv_btyd_cov_solve(model, &rows, &base, &settings, &fit1, &err) == CLV_OK &&
		  clv_btyd_cov_solve(model, &rows, &base, &three, &fit3, &err) == CLV_OK,
		  "%s: the fits on 1 and 3 threads succeed", name);
	check(memcmp(fit1.theta, fit3.theta, sizeof(double) * 7) == 0 &&
		  memcmp(fit1.std_error, fit3.std_error, sizeof(double) * 7) == 0,
		  "%s: the fits on 1 and 3 threads, bitwise", name);
	clv_btyd_cov_fit_free(&fit1);
	clv_btyd_cov_fit_free(&fit3);
	free(v);
	free(w);
}

/* Distinct rows with their counts, sorted: the same whatever the order of the rows. */
static void
test_compact(void)
{
	double	   *v,
			   *w,
			   *rev;
	size_t		n = 2000;
	int			stride = 6;
	clv_cov_rows in = {.n = n, .p1 = 2, .p2 = 1},
				a,
				b;
	double		total = 0;
	bool		sorted = true;

	make_rows(n, 2, true, 17, &v, &w);
	for (size_t i = 0; i < n; i++)
		v[i * stride + 5] = 40;	/* every T alike: repeats */
	rev = malloc(sizeof(double) * stride * n);
	for (size_t i = 0; i < n; i++)
		memcpy(rev + i * stride, v + (n - 1 - i) * stride, sizeof(double) * stride);
	in.v = v;
	clv_cov_rows_compact(&in, &a);
	in.v = rev;
	clv_cov_rows_compact(&in, &b);
	for (size_t k = 0; k < a.n; k++)
	{
		total += a.w[k];
		if (k > 0 && memcmp(a.v + (k - 1) * stride, a.v + k * stride, 8) > 0 &&
			a.v[(k - 1) * stride] > a.v[k * stride])
			sorted = false;
	}
	check(a.n < n && a.n == b.n && total == n && sorted &&
		  memcmp(a.v, b.v, sizeof(double) * stride * a.n) == 0 &&
		  memcmp(a.w, b.w, sizeof(double) * a.n) == 0,
		  "compact: %zu distinct of %zu rows, counts add up, the same in reverse order", a.n, n);
	clv_cov_rows_free(&a);
	clv_cov_rows_free(&b);
	free(v);
	free(w);
	free(rev);
}

static void
test_codec(void)
{
	double		params[7] = {0.5, 4, 0.8, 2.5, 0.3, -0.2, 0.7};
	char	   *names[6] = {"frequency", "recency", "t", "z1", "z2", "d1"};
	clv_model	m = {.kind = CLV_KIND_BGNBD_COV, .n_features = 6, .feature_names = names,
	.meta = "{}", .n_params = 7, .params = params, .n_purchase_covariates = 2};
	clv_buf		b;
	clv_model  *d;
	clv_error	err;

	clv_model_encode(&m, &b);
	check(clv_model_decode(b.data, b.len, &d, &err) == CLV_OK &&
		  d->kind == CLV_KIND_BGNBD_COV && d->n_params == 7 && d->n_purchase_covariates == 2 &&
		  memcmp(d->params, params, sizeof(params)) == 0,
		  "bgnbd_cov: encode, decode, the same parameters and covariate counts");
	clv_model_free(d);
	clv_release(b.data);

	params[5] = NAN;
	m.kind = CLV_KIND_PARETONBD_COV;
	clv_model_encode(&m, &b);
	check(clv_model_decode(b.data, b.len, &d, &err) == CLV_ERR_CORRUPT &&
		  strstr(err.detail, "coefficient") != NULL,
		  "paretonbd_cov: a coefficient that is not finite is refused (%s)", err.detail);
	clv_model_free(d);			/* the partial model a failed decode leaves */
	clv_release(b.data);
	params[5] = -0.2;

	m.n_features = 5;
	clv_model_encode(&m, &b);
	check(clv_model_decode(b.data, b.len, &d, &err) == CLV_ERR_CORRUPT &&
		  strstr(err.detail, "feature count") != NULL,
		  "a feature count that does not match the covariate counts is refused (%s)", err.detail);
	clv_model_free(d);
	clv_release(b.data);
}

int
main(void)
{
	gsl_set_error_handler_off();
	clv_btyd_init();
	test_link();
	test_gradient(CLV_BTYD_BGNBD, "BG/NBD");
	test_gradient(CLV_BTYD_PARETONBD, "Pareto/NBD");
	test_no_covariates(CLV_BTYD_BGNBD, "BG/NBD");
	test_no_covariates(CLV_BTYD_PARETONBD, "Pareto/NBD");
	test_many_rows();
	test_threads(CLV_BTYD_BGNBD, "BG/NBD", true);
	/* the fit's path is the same code; Pareto/NBD's fit on these rows takes minutes */
	test_threads(CLV_BTYD_PARETONBD, "Pareto/NBD", false);
	test_compact();
	test_codec();
	return tap_done();
}
