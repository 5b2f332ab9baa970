/*
 * test_sbg.c — unit tests of the shifted-beta-geometric model, without a
 * server: its distribution against sums written here, the counts' merging,
 * the fit on Fader & Hardie's (2007) two cohorts, the likelihood's
 * derivatives against differences, DERL against the defining sum, and the
 * data the fit refuses.
 */
#include "clv_core.h"
#include "sbg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tap.h"

static const double regular[] = {1000, 631, 468, 382, 326, 289, 262, 241};
static const double high_end[] = {1000, 869, 743, 653, 593, 551, 517, 491};

static void
add(clv_sbg_counts *c, int32_t periods, bool churned, double count)
{
	clv_error	err;

	if (clv_sbg_counts_add(c, periods, churned, count, &err) != CLV_OK)
		abort();
}

/* A cohort's cells from its survivors at the start of periods 0..n − 1. */
static void
cohort(clv_sbg_counts *c, const double *alive, int n)
{
	clv_sbg_counts_init(c, 0);
	for (int t = 1; t < n; t++)
		add(c, t, true, alive[t - 1] - alive[t]);
	add(c, n - 1, false, alive[n - 1]);
	clv_sbg_counts_compact(c);
}

static double
rel(double got, double want)
{
	return fabs(got - want) / fmax(fabs(want), 1e-300);
}

static void
test_distribution(void)
{
	const double p[2] = {0.7, 1.2};
	double		s = 1,
				sum_p = 0,
				worst = 0;

	/* S(t) = Π r(j), and P(T = t) = S(t − 1) − S(t) */
	for (int t = 1; t <= 200; t++)
	{
		double		next = s * clv_sbg_retention_rate(p, t);

		worst = fmax(worst, rel(exp(clv_sbg_log_survival(p, t)), next));
		worst = fmax(worst, rel(exp(clv_sbg_log_churn(p, t)), s - next));
		sum_p += exp(clv_sbg_log_churn(p, t));
		s = next;
	}
	check(worst < 1e-12, "S(t) is the product of retention rates, P(T = t) its decrements (max rel %.2g)",
		  worst);
	check(fabs(sum_p + s - 1) < 1e-12, "P(T <= 200) + S(200) = 1");
	check(clv_sbg_log_survival(p, 0) == 0, "S(0) = 1");
	check(fabs(clv_sbg_retention_rate(p, 1) - 1.2 / 1.9) < 1e-15, "r(1) = beta / (alpha + beta)");

	/* extremes stay finite and ordered */
	{
		const double tiny[2] = {1e-8, 1e-8},
					huge[2] = {1e12, 3e12};
		double		a = clv_sbg_log_survival(tiny, 10000),
					b = clv_sbg_log_survival(huge, 10000),
					c = clv_sbg_log_survival(p, 1e9);

		check(isfinite(a) && a <= 0 && isfinite(b) && b < 0 && isfinite(c) && c < 0,
			  "log S(t) finite for extreme parameters and t (%g, %g, %g)", a, b, c);
		check(rel(b, 10000 * log(0.75)) < 1e-6, "huge alpha, beta: a geometric lifetime");
	}
}

static void
test_counts(void)
{
	clv_sbg_counts a,
				b;
	clv_error	err;
	double		total = 0;

	clv_sbg_counts_init(&a, 0);
	clv_sbg_counts_init(&b, 0);
	/* more than one block of cells, most of them repeats */
	for (int i = 0; i < 5000; i++)
		add(i % 2 ? &a : &b, 1 + i % 37, i % 3 == 0, 1);
	check(clv_sbg_counts_merge(&a, &b, &err) == CLV_OK, "merge");
	clv_sbg_counts_compact(&a);
	for (size_t i = 0; i < a.n; i++)
		total += a.v[i].count;
	check(a.n == 37 * 2 && total == 5000, "5000 rows in %zu patterns", a.n);
	for (size_t i = 1; i < a.n; i++)
		if (!(a.v[i - 1].periods < a.v[i].periods ||
			  (a.v[i - 1].periods == a.v[i].periods && a.v[i - 1].churned < a.v[i].churned)))
		{
			check(false, "compacted cells are sorted");
			break;
		}
	clv_sbg_counts_free(&a);
	clv_sbg_counts_free(&b);

	/* a memory limit */
	clv_sbg_counts_init(&a, 64 * 1024);
	{
		clv_status	st = CLV_OK;

		for (int i = 1; i <= 100000 && st == CLV_OK; i++)
			st = clv_sbg_counts_add(&a, i, false, 1, &err);
		check(st == CLV_ERR_LIMIT, "distinct patterns past the memory limit: CLV_ERR_LIMIT");
	}
	clv_sbg_counts_free(&a);
}

static void
test_derivatives(void)
{
	clv_sbg_counts c;
	const double p[2] = {0.8, 2.5};
	double		g[2],
				h[4],
				worst = 0;

	cohort(&c, regular, 8);
	clv_sbg_log_likelihood(&c, p, g, h);
	for (int j = 0; j < 2; j++)
	{
		double		up[2] = {p[0], p[1]},
					down[2] = {p[0], p[1]},
					gu[2],
					gd[2],
					eps = 1e-6 * p[j];

		up[j] += eps;
		down[j] -= eps;
		worst = fmax(worst, rel(g[j], (clv_sbg_log_likelihood(&c, up, gu, NULL) -
									   clv_sbg_log_likelihood(&c, down, gd, NULL)) / (2 * eps)));
		for (int i = 0; i < 2; i++)
			worst = fmax(worst, rel(h[i * 2 + j], (gu[i] - gd[i]) / (2 * eps)));
	}
	check(worst < 1e-6, "gradient and Hessian match central differences (max rel %.2g)", worst);
	clv_sbg_counts_free(&c);
}

static void
test_paper(void)
{
	const clv_sbg_options opt = {500, 1e-8, NULL};
	const struct
	{
		const char *name;
		const double *alive;
		double		alpha,
					beta;
	}			cases[] = {
		{"regular", regular, 0.704, 1.182},
		{"high end", high_end, 0.668, 3.806},
	};

	for (int k = 0; k < 2; k++)
	{
		clv_sbg_counts c;
		clv_sbg_fit fit;
		clv_error	err;
		double		g[2];

		cohort(&c, cases[k].alive, 8);
		if (!check_status(clv_sbg_solve(&c, &opt, &fit, &err), CLV_OK, &err, cases[k].name))
			continue;
		check(fit.converged && fabs(fit.params[0] - cases[k].alpha) < 5e-4 &&
			  fabs(fit.params[1] - cases[k].beta) < 5e-4,
			  "%s: alpha %.4f, beta %.4f as published (%.3f, %.3f)", cases[k].name,
			  fit.params[0], fit.params[1], cases[k].alpha, cases[k].beta);
		clv_sbg_log_likelihood(&c, fit.params, g, NULL);
		check(fabs(g[0]) < 1e-6 && fabs(g[1]) < 1e-6, "%s: the gradient vanishes at the fit",
			  cases[k].name);
		check(fit.std_error[0] > 0 && fit.std_error[1] > 0, "%s: standard errors %.4f, %.4f",
			  cases[k].name, fit.std_error[0], fit.std_error[1]);
		check(fit.n_customers == 1000, "%s: 1000 customers", cases[k].name);
		clv_sbg_counts_free(&c);
	}
}

/* DERL against Σ S(n + 1 + k) / S(n) / (1 + d)^k, summed to far beyond its tail. */
static void
test_derl(void)
{
	const double p[2] = {0.704, 1.182};
	const double rates[] = {0.001, 0.1, 2};
	const int	renewals[] = {0, 10, 1000};
	double		worst = 0;

	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
		{
			double		d = rates[i],
						n = renewals[j],
						sum = 0,
						base = clv_sbg_log_survival(p, n);

			for (int k = 0; k < 200000; k++)
				sum += exp(clv_sbg_log_survival(p, n + 1 + k) - base - k * log1p(d));
			worst = fmax(worst, rel(clv_sbg_residual_lifetime(p, n, d), sum));
		}
	check(worst < 1e-9, "DERL is the discounted sum of survival (max rel %.2g)", worst);
	{
		double		v = clv_sbg_residual_lifetime(p, 0, CLV_SBG_MIN_DISCOUNT);

		check(isfinite(v) && v > 0, "DERL at the smallest discount rate: %g", v);
	}
}

static void
test_refused(void)
{
	const clv_sbg_options opt = {500, 1e-8, NULL};
	clv_sbg_counts c;
	clv_sbg_fit fit;
	clv_error	err;

	clv_sbg_counts_init(&c, 0);
	add(&c, 3, false, 10);
	add(&c, 5, false, 4);
	check_status(clv_sbg_solve(&c, &opt, &fit, &err), CLV_ERR_DATA, &err, "no one churned: CLV_ERR_DATA");
	clv_sbg_counts_free(&c);

	clv_sbg_counts_init(&c, 0);
	add(&c, 1, true, 10);
	add(&c, 1, false, 40);
	check_status(clv_sbg_solve(&c, &opt, &fit, &err), CLV_ERR_DATA, &err,
				 "one period only: CLV_ERR_DATA");
	clv_sbg_counts_free(&c);

	/* exactly geometric data: the maximum is at infinite alpha and beta */
	{
		double		alive[12];

		alive[0] = 1e6;
		for (int t = 1; t < 12; t++)
			alive[t] = alive[t - 1] * 0.8;
		cohort(&c, alive, 12);
		check_status(clv_sbg_solve(&c, &opt, &fit, &err), CLV_ERR_DATA, &err,
					 "homogeneous churn: CLV_ERR_DATA");
		clv_sbg_counts_free(&c);
	}
}

int
main(void)
{
	gsl_set_error_handler_off();
	test_distribution();
	test_counts();
	test_derivatives();
	test_paper();
	test_derl();
	test_refused();
	return tap_done();
}
