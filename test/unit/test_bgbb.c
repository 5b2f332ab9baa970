/*
 * test_bgbb.c — unit tests of the BG/BB model (bgbb.c) without a server:
 * the donation data's fit against the published estimates (Fader, Hardie &
 * Shang 2010), the analytic gradient against central differences, the
 * purchase-count distributions against their means, the closed form of the
 * expected purchases against its sum (near and at γ = 1 too), DERT against a
 * long discounted sum, long histories, and the customer checks.
 */
#include "btyd_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tap.h"

/* (x, t_x, donors) over n = 6: Fader, Hardie & Shang (2010), the 1995 cohort */
static const double donations[22][3] = {
	{6, 6, 1203}, {5, 6, 728}, {4, 6, 512}, {3, 6, 357}, {2, 6, 234}, {1, 6, 129},
	{5, 5, 335}, {4, 5, 284}, {3, 5, 225}, {2, 5, 173}, {1, 5, 119}, {4, 4, 240},
	{3, 4, 181}, {2, 4, 155}, {1, 4, 78}, {3, 3, 322}, {2, 3, 255}, {1, 3, 129},
	{2, 2, 613}, {1, 2, 277}, {1, 1, 1091}, {0, 0, 3464}};
static const double published[4] = {1.204, 0.750, 0.657, 2.783};

static void
load_donations(clv_patterns *p)
{
	clv_error	err;

	clv_patterns_init(p, 0);
	for (int i = 0; i < 22; i++)
		if (clv_patterns_add(p, donations[i][0], donations[i][1], 6, donations[i][2], &err) != CLV_OK)
			abort();
	clv_patterns_compact(p);
}

static void
test_fit(void)
{
	clv_patterns p;
	clv_btyd_options opt = {.max_iter = 500};
	clv_btyd_fit fit;
	clv_error	err;
	bool		same = true;

	load_donations(&p);
	check(clv_btyd_solve(CLV_BTYD_BGBB, &p, &opt, &fit, &err) == CLV_OK && fit.converged,
		  "the donation fit converges");
	for (int i = 0; i < 4; i++)
		same &= round(fit.params[i] * 1000) / 1000 == published[i];
	check(same, "the published estimates to three digits: %.4f %.4f %.4f %.4f",
		  fit.params[0], fit.params[1], fit.params[2], fit.params[3]);
	check(round(fit.log_likelihood * 10) / 10 == -33225.6 && fit.n_customers == 11104,
		  "log-likelihood -33225.6 over 11104 donors (%.4f)", fit.log_likelihood);
	clv_patterns_free(&p);
}

static void
test_gradient(void)
{
	const double theta[4] = {1.204, 0.750, 0.657, 2.783},
				theta2[4] = {0.3, 4.0, 2.5, 0.8};
	const double customers[][3] = {{0, 0, 6}, {3, 5, 6}, {6, 6, 6}, {0, 0, 1000}, {1, 1, 1000},
	{500, 700, 1000}, {1000, 1000, 1000}};
	double		worst = 0;

	for (int s = 0; s < 2; s++)
		for (size_t c = 0; c < sizeof(customers) / sizeof(customers[0]); c++)
		{
			clv_patterns p;
			clv_error	err;
			const double *th = s ? theta2 : theta;
			double		g[4];

			clv_patterns_init(&p, 0);
			(void) clv_patterns_add(&p, customers[c][0], customers[c][1], customers[c][2], 3, &err);
			clv_btyd_log_likelihood(CLV_BTYD_BGBB, &p, th, g);
			for (int k = 0; k < 4; k++)
			{
				double		up[4],
							down[4],
							h = 1e-6 * th[k],
							numeric;

				memcpy(up, th, sizeof(up));
				memcpy(down, th, sizeof(down));
				up[k] += h;
				down[k] -= h;
				numeric = (clv_btyd_log_likelihood(CLV_BTYD_BGBB, &p, up, NULL) -
						   clv_btyd_log_likelihood(CLV_BTYD_BGBB, &p, down, NULL)) / (2 * h);
				worst = fmax(worst, fabs(g[k] - numeric) / fmax(1, fabs(numeric)));
			}
			clv_patterns_free(&p);
		}
	check(worst < 1e-6, "the gradient agrees with central differences (worst %.2g)", worst);
}

/* Σ P(k) = 1 and Σ k P(k) = E, for a new customer and given histories. */
static void
test_distributions(void)
{
	const double th[4] = {1.204, 0.750, 0.657, 2.783};
	const double cases[][4] = {{6, 0, 0, 0}, {30, 0, 0, 0}, {5, 3, 5, 6}, {5, 0, 0, 6},
	{12, 6, 6, 6}, {40, 500, 1000, 1000}, {40, 1000, 1000, 1000}};
	double		worst_total = 0,
				worst_mean = 0;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		double		h = cases[c][0],
					total = 0,
					mean = 0,
					e;

		for (int k = 0; k <= h; k++)
		{
			double		pk = clv_btyd_conditional_probability_of_purchases(CLV_BTYD_BGBB, th, h, k,
																			 cases[c][1], cases[c][2],
																			 cases[c][3]);

			total += pk;
			mean += k * pk;
		}
		if (!clv_btyd_expected_purchases(CLV_BTYD_BGBB, th, h, cases[c][1], cases[c][2], cases[c][3], &e))
			e = NAN;
		worst_total = fmax(worst_total, fabs(total - 1));
		worst_mean = fmax(worst_mean, fabs(mean / e - 1));
	}
	check(worst_total < 1e-12, "the probabilities sum to 1 (worst %.2g)", worst_total);
	check(worst_mean < 1e-11, "their mean is the expected purchases (worst %.2g)", worst_mean);
	check(clv_btyd_probability_of_purchases(CLV_BTYD_BGBB, th, 6, 7) == 0 &&
		  clv_btyd_probability_of_purchases(CLV_BTYD_BGBB, th, 0, 0) == 1,
		  "more purchases than opportunities: 0; no opportunity: none for sure");
}

/* E[purchases | alive at n+1] against its defining sum, γ near and at 1 included. */
static void
test_expected_sum(void)
{
	const double gammas[] = {0.657, 1 - 1e-9, 1, 1 + 1e-9, 3.5};
	double		worst = 0;

	for (size_t g = 0; g < sizeof(gammas) / sizeof(gammas[0]); g++)
		for (double K = 1; K <= 300000; K *= 7)
		{
			double		th[4] = {1.2, 0.75, gammas[g], 2.78},
						D = th[3] + 6 + 1,
						r = 1,
						sum = 0,
						f;

			for (double k = 0; k < K; k++)
			{
				sum += r;
				r *= (D + k) / (th[2] + D + k);
			}
			sum *= (th[0] + 3) / (th[0] + th[1] + 6);
			clv_btyd_purchase_factor(CLV_BTYD_BGBB, th, K, 3, 6, &f);
			worst = fmax(worst, fabs(f / sum - 1));
		}
	check(worst < 1e-10, "the expected purchases' closed form is their sum, gamma 1 included (worst %.2g)",
		  worst);
}

static void
test_dert(void)
{
	const double th[4] = {1.204, 0.750, 0.657, 2.783};
	const double customers[][3] = {{0, 0, 6}, {3, 5, 6}, {6, 6, 6}, {500, 1000, 1000}};
	double		worst = 0;
	bool		finite = true;

	for (size_t c = 0; c < 4; c++)
	{
		double		dert,
					before = 0,
					summed = 0,
					e;

		for (int t = 1; t <= 2000; t++)
		{
			clv_btyd_expected_purchases(CLV_BTYD_BGBB, th, t, customers[c][0], customers[c][1],
										customers[c][2], &e);
			summed += (e - before) / pow(1.1, t);
			before = e;
		}
		clv_btyd_dert(CLV_BTYD_BGBB, th, customers[c][0], customers[c][1], customers[c][2],
					  log(1.1), &dert);
		worst = fmax(worst, fabs(dert / summed - 1));
		finite &= clv_btyd_dert(CLV_BTYD_BGBB, th, customers[c][0], customers[c][1],
								customers[c][2], 1e-5, &dert) && isfinite(dert) && dert > 0;
	}
	check(worst < 1e-12, "DERT is the discounted sum of the yearly expectations (worst %.2g)", worst);
	check(finite, "DERT at 1e-5 per opportunity is finite");
}

static void
test_customers(void)
{
	const double th[4] = {1.204, 0.750, 0.657, 2.783};
	clv_error	err;
	double		pa = clv_btyd_palive(CLV_BTYD_BGBB, th, 1000, 1000, 1000),
				p0 = clv_btyd_palive(CLV_BTYD_BGBB, th, 1, 1, 1000);

	check(pa > 0.99 && pa < 1 && p0 >= 0 && p0 < 1e-6 && isfinite(p0),
		  "1,000 opportunities: P(alive) %.6f for a purchase at each, %.3g for one at the first", pa, p0);
	check(clv_btyd_check_customer(CLV_BTYD_BGBB, 2, 3, 6, &err) == CLV_OK &&
		  clv_btyd_check_customer(CLV_BTYD_BGBB, 0, 0, 0, &err) == CLV_OK &&
		  clv_btyd_check_customer(CLV_BTYD_BGBB, 4, 3, 6, &err) == CLV_ERR_DATA &&
		  clv_btyd_check_customer(CLV_BTYD_BGBB, 1, 2.5, 6, &err) == CLV_ERR_DATA &&
		  clv_btyd_check_customer(CLV_BTYD_BGBB, 1, 2, 6.5, &err) == CLV_ERR_DATA &&
		  clv_btyd_check_customer(CLV_BTYD_BGBB, 1, 2, 1e300, &err) == CLV_ERR_DATA &&
		  clv_btyd_check_customer(CLV_BTYD_BGNBD, 4, 3, 6.5, &err) == CLV_OK,
		  "customers: whole opportunities and at most one purchase each, for BG/BB only");
}

int
main(void)
{
	gsl_set_error_handler_off();
	clv_btyd_init();
	test_fit();
	test_gradient();
	test_distributions();
	test_expected_sum();
	test_dert();
	test_customers();
	return tap_done();
}
