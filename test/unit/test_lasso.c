/*
 * test_lasso.c — the elastic net of linear.h: l1 = 0 is the ordinary or ridge
 * fit bit for bit, a solution satisfies the optimality conditions computed
 * from the rows themselves, an orthogonal design has its closed form, and a
 * path gives each point's own fit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linear.h"
#include "tap.h"

/* A small deterministic generator: the tests need no particular numbers. */
static uint64_t rng_state = 88172645463325252ULL;

static double
uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double) (rng_state >> 11) / 9007199254740992.0;
}

static double
normal(void)
{
	double		u = uniform() + 1e-300,
				v = uniform();

	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* Rows with 3 informative features of p, on unequal scales and offsets. */
static void
make_rows(size_t n, uint32_t p, double *x, double *y)
{
	for (size_t i = 0; i < n; i++)
	{
		double	   *row = x + i * p;

		for (uint32_t j = 0; j < p; j++)
			row[j] = 10 * (j % 3) + (1 + j % 4) * normal();
		/* correlated features make descent work for its answer */
		if (p > 1)
			row[1] += 0.8 * row[0];
		y[i] = 5 + 2 * row[0] + (p > 2 ? -3 * row[2] : 0) + (p > 5 ? 0.5 * row[5] : 0)
			+ normal();
	}
}

static void
accumulate(clv_linreg_acc *acc, size_t n, uint32_t p, const double *x, const double *y)
{
	clv_linreg_acc_init(acc, p);
	for (size_t i = 0; i < n; i++)
		clv_linreg_acc_add(acc, y[i], x + i * p);
}

static void
acc_free(clv_linreg_acc *acc)
{
	clv_release(acc->hi);
	clv_release(acc->lo);
}

/*
 * The largest violation of the elastic net's optimality conditions, from the
 * rows: with r = y − ŷ, 2 x_jᵀr − 2 l2 β_j = l1 sign β_j where β_j ≠ 0, and
 * |2 x_jᵀr| ≤ l1 where β_j = 0; relative to the largest |2 x_jᵀ(y − ȳ)|.
 */
static double
kkt_violation(size_t n, uint32_t p, const double *x, const double *y, double l2, double l1,
			  const double *coef)
{
	double	   *grad = calloc(p, sizeof(double));
	double	   *null_grad = calloc(p, sizeof(double));
	double		ybar = 0,
				worst = 0,
				scale = 0,
				resid_sum = 0;

	for (size_t i = 0; i < n; i++)
		ybar += y[i] / n;
	for (size_t i = 0; i < n; i++)
	{
		double		r = y[i] - clv_linear_margin(coef, x + i * p, p);

		resid_sum += r;
		for (uint32_t j = 0; j < p; j++)
		{
			grad[j] += 2 * x[i * p + j] * r;
			null_grad[j] += 2 * x[i * p + j] * (y[i] - ybar);
		}
	}
	for (uint32_t j = 0; j < p; j++)
		scale = fmax(scale, fabs(null_grad[j]));
	for (uint32_t j = 0; j < p; j++)
	{
		double		g = grad[j] - 2 * l2 * coef[j + 1];
		double		v = coef[j + 1] != 0 ? fabs(g - copysign(l1, coef[j + 1]))
			: fmax(fabs(g) - l1, 0);

		worst = fmax(worst, v);
	}
	/* the intercept is free: the residuals sum to zero */
	worst = fmax(worst, fabs(2 * resid_sum) / sqrt((double) n));
	free(grad);
	free(null_grad);
	return worst / scale;
}

static void
test_l1_zero_is_unchanged(void)
{
	enum {N = 300, P = 6};
	double	   *x = malloc(sizeof(double) * N * P),
			   *y = malloc(sizeof(double) * N);
	clv_linreg_acc acc;
	const double l2s[] = {0, 3.5};

	make_rows(N, P, x, y);
	accumulate(&acc, N, P, x, y);
	for (size_t k = 0; k < 2; k++)
	{
		clv_regression_fit a,
					b;
		clv_error	err;

		if (check_status(clv_linreg_solve(&acc, l2s[k], &a, &err), CLV_OK, &err, "reference fit") &&
			check_status(clv_linreg_solve_enet(&acc, l2s[k], 0, &b, &err), CLV_OK, &err,
						 "fit with l1 = 0"))
		{
			check(memcmp(a.coef, b.coef, sizeof(double) * (P + 1)) == 0 &&
				  memcmp(&a.rss, &b.rss, sizeof(double)) == 0,
				  "l1 = 0, l2 = %g: the same coefficients and RSS, bit for bit", l2s[k]);
			clv_regression_fit_free(&a);
			clv_regression_fit_free(&b);
		}
	}
	acc_free(&acc);
	free(x);
	free(y);
}

/* The optimality conditions at several penalties, with n > p and with p > n. */
static void
test_optimality(size_t n, uint32_t p)
{
	double	   *x = malloc(sizeof(double) * n * p),
			   *y = malloc(sizeof(double) * n);
	clv_linreg_acc acc;
	clv_regression_fit fit;
	clv_error	err;
	double		lmax = 0;
	const double fractions[] = {0.5, 0.1, 0.01, 0.001};
	const double l2s[] = {0, 10};

	make_rows(n, p, x, y);
	accumulate(&acc, n, p, x, y);
	/* the smallest l1 that zeroes every slope: max_j |2 x_jᵀ(y − ȳ)| */
	{
		double		ybar = 0;

		for (size_t i = 0; i < n; i++)
			ybar += y[i] / n;
		for (uint32_t j = 0; j < p; j++)
		{
			double		s = 0,
						xbar = 0;

			for (size_t i = 0; i < n; i++)
				xbar += x[i * p + j] / n;
			for (size_t i = 0; i < n; i++)
				s += 2 * (x[i * p + j] - xbar) * (y[i] - ybar);
			lmax = fmax(lmax, fabs(s));
		}
	}
	for (size_t l = 0; l < 2; l++)
		for (size_t f = 0; f < sizeof(fractions) / sizeof(fractions[0]); f++)
		{
			double		l1 = lmax * fractions[f];
			double		v;
			uint32_t	nonzero = 0;

			if (!check_status(clv_linreg_solve_enet(&acc, l2s[l], l1, &fit, &err), CLV_OK, &err,
							  "elastic net fits"))
				continue;
			for (uint32_t j = 0; j < p; j++)
				nonzero += fit.coef[j + 1] != 0;
			v = kkt_violation(n, p, x, y, l2s[l], l1, fit.coef);
			check(v < 1e-9 && fit.df_resid == (double) n - 1 - nonzero,
				  "n = %zu, p = %u, l2 = %g, l1 = %g lmax: optimal (violation %.2g), "
				  "%u nonzero, df_resid %g", n, p, l2s[l], fractions[f], v, nonzero,
				  fit.df_resid);
			clv_regression_fit_free(&fit);
		}

	/* at lmax and above every slope is 0 and the intercept is the mean */
	if (check_status(clv_linreg_solve_enet(&acc, 0, lmax * 1.0001, &fit, &err), CLV_OK, &err,
					 "elastic net fits at lmax"))
	{
		bool		zero = true;
		double		ybar = 0;

		for (size_t i = 0; i < n; i++)
			ybar += y[i] / n;
		for (uint32_t j = 0; j < p; j++)
			zero &= fit.coef[j + 1] == 0;
		check(zero && fabs(fit.coef[0] - ybar) < 1e-12 * fabs(ybar) && fabs(fit.r2) < 1e-12,
			  "l1 above lmax: every slope 0, intercept the mean of y, R² 0");
		clv_regression_fit_free(&fit);
	}
	acc_free(&acc);
	free(x);
	free(y);
}

/*
 * Orthogonal centred features: β_j = S(x_jᵀy, l1/2) / (x_jᵀx_j + l2), the
 * soft-thresholded least-squares slope.  Columns of a Hadamard matrix.
 */
static void
test_orthogonal_closed_form(void)
{
	enum {N = 8, P = 3};
	const double h[N][P] = {
		{1, 1, 1}, {-1, 1, -1}, {1, -1, -1}, {-1, -1, 1},
		{1, 1, 1}, {-1, 1, -1}, {1, -1, -1}, {-1, -1, 1},
	};
	const double scales[P] = {1, 2, 0.5};
	double		x[N * P],
				y[N];
	clv_linreg_acc acc;
	clv_regression_fit fit;
	clv_error	err;
	const double l1 = 6,
				l2 = 1.5;

	for (size_t i = 0; i < N; i++)
	{
		for (uint32_t j = 0; j < P; j++)
			x[i * P + j] = scales[j] * h[i][j];
		y[i] = 1 + 3 * h[i][0] - 0.5 * h[i][1] + 0.25 * h[i][2] + 0.125 * (i % 2 ? 1 : -1) * (i > 3);
	}
	accumulate(&acc, N, P, x, y);
	if (check_status(clv_linreg_solve_enet(&acc, l2, l1, &fit, &err), CLV_OK, &err,
					 "elastic net on an orthogonal design"))
	{
		double		worst = 0;

		for (uint32_t j = 0; j < P; j++)
		{
			double		xy = 0,
						xx = 0,
						want;

			for (size_t i = 0; i < N; i++)
			{
				xy += x[i * P + j] * y[i];
				xx += x[i * P + j] * x[i * P + j];
			}
			want = (xy > l1 / 2 ? xy - l1 / 2 : xy < -l1 / 2 ? xy + l1 / 2 : 0) / (xx + l2);
			worst = fmax(worst, fabs(fit.coef[j + 1] - want));
		}
		check(worst < 1e-14, "orthogonal design: soft-thresholded slopes (max error %.2g)", worst);
		clv_regression_fit_free(&fit);
	}
	acc_free(&acc);
}

/* A path gives each l1 the fit of its own, in any order, and the same bits. */
static void
test_path(void)
{
	enum {N = 200, P = 12, K = 5};
	double	   *x = malloc(sizeof(double) * N * P),
			   *y = malloc(sizeof(double) * N);
	const double l1[K] = {50, 5000, 0, 500, 50000};
	clv_regression_fit fits[K];
	clv_linreg_acc acc;
	clv_error	err;

	make_rows(N, P, x, y);
	accumulate(&acc, N, P, x, y);
	if (check_status(clv_linreg_solve_path(&acc, 2, l1, K, fits, &err), CLV_OK, &err,
					 "a path of 5 values of l1"))
	{
		bool		same = true;

		for (size_t k = 0; k < K; k++)
		{
			clv_regression_fit one;

			if (clv_linreg_solve_enet(&acc, 2, l1[k], &one, &err) != CLV_OK)
			{
				same = false;
				continue;
			}
			same &= memcmp(one.coef, fits[k].coef, sizeof(double) * (P + 1)) == 0;
			clv_regression_fit_free(&one);
			clv_regression_fit_free(&fits[k]);
		}
		check(same, "each point of the path is its own fit, bit for bit");
	}
	acc_free(&acc);
	free(x);
	free(y);
}

/* Constant features are allowed and get 0; zero rows are an error. */
static void
test_edges(void)
{
	enum {N = 50, P = 3};
	double		x[N * P],
				y[N];
	clv_linreg_acc acc;
	clv_regression_fit fit;
	clv_error	err;

	for (size_t i = 0; i < N; i++)
	{
		x[i * P] = normal();
		x[i * P + 1] = 4;
		x[i * P + 2] = normal();
		y[i] = x[i * P] + normal();
	}
	accumulate(&acc, N, P, x, y);
	if (check_status(clv_linreg_solve_enet(&acc, 0, 1, &fit, &err), CLV_OK, &err,
					 "lasso with a constant feature fits"))
	{
		check(fit.coef[2] == 0 && isnan(fit.std_error[1]),
			  "the constant feature's coefficient is 0; no inference statistics");
		clv_regression_fit_free(&fit);
	}
	acc_free(&acc);

	clv_linreg_acc_init(&acc, P);
	check_status(clv_linreg_solve_enet(&acc, 0, 1, &fit, &err), CLV_ERR_DATA, &err,
				 "lasso on zero rows is an error");
	acc_free(&acc);
}

int
main(void)
{
	test_l1_zero_is_unchanged();
	test_optimality(400, 8);
	test_optimality(30, 60);
	test_orthogonal_closed_form();
	test_path();
	test_edges();
	return tap_done();
}
