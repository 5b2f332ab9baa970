/*
 * test_budget.c — unit tests of budget allocation and the targeting price,
 * without a server: hand-worked examples, the knapsack against enumeration
 * of every combination of levels, and the price's guarantees against a
 * fractional greedy written here (every step sorted by slope).
 *
 * CLV_TEST_QUICK=1 (the sanitizer run) shrinks the random instances.
 */
#include "clv_core.h"
#include "budget.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static bool quick = false;

static uint64_t rng_state = 12345;

static double
uniform(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double) (rng_state >> 11) / 9007199254740992.0;
}

static void
add(clv_budget_points *pts, const char *name, double spend, double response)
{
	clv_error	err;

	if (clv_budget_points_append(pts, name, strlen(name), spend, response, &err) != CLV_OK)
		abort();
}

/* clv_budget_allocate, freeing the segments of the previous result in r */
static clv_status
allocate(clv_budget_points *pts, double budget, const clv_budget_options *opt,
		 clv_budget_result *r, clv_error *err)
{
	free(r->segments);
	return clv_budget_allocate(pts, budget, opt, r, err);
}

static const clv_budget_options defaults = {false, true, 0, NULL, CLV_BUDGET_MAX_COMBINATIONS};

/*
 * a: (100, 300), (200, 400): pieces of slope 3 then 1.
 * b: (50, 100), (150, 250): pieces of slope 2 then 1.5.
 */
static void
two_segments(clv_budget_points *pts)
{
	clv_budget_points_init(pts, 0);
	add(pts, "b", 150, 250);
	add(pts, "a", 200, 400);
	add(pts, "b", 50, 100);
	add(pts, "a", 100, 300);
}

static void
test_hand_examples(void)
{
	clv_budget_points pts;
	clv_budget_result r = {0};
	clv_budget_options opt = defaults;
	clv_budget_bound bounds[2] = {{"a", 1, 150, NAN}, {"b", 1, NAN, 40}};
	clv_error	err;

	/* 200: a's slope 3 (100), b's slope 2 (50), then 50 of b's slope 1.5 */
	two_segments(&pts);
	check(allocate(&pts, 200, &opt, &r, &err) == CLV_OK && r.n == 2 &&
		  r.segments[0].spend == 100 && r.segments[0].response == 300 &&
		  r.segments[0].marginal == 1 && r.segments[1].spend == 100 &&
		  r.segments[1].response == 175 && r.segments[1].marginal == 1.5 &&
		  r.response == 475 && r.spend == 200 && r.shadow_price == 1.5,
		  "budget 200: a 100 → 300, b 100 → 175, shadow price 1.5");

	/* net: only slopes above 1, so a's second piece (slope 1) is left */
	opt.net = true;
	check(allocate(&pts, 1000, &opt, &r, &err) == CLV_OK &&
		  r.segments[0].spend == 100 && r.segments[1].spend == 150 &&
		  r.response == 550 && r.shadow_price == 0,
		  "net objective leaves the budget unspent: a 100, b 150, price 0");
	opt.net = false;

	/* a ≥ 150 (a at 150 gives 350), b ≤ 40 (80): 300 buys a's piece to 200 too */
	opt.bounds = bounds;
	opt.n_bounds = 2;
	check(allocate(&pts, 300, &opt, &r, &err) == CLV_OK &&
		  r.segments[0].spend == 200 && r.segments[1].spend == 40 &&
		  r.response == 480 && r.shadow_price == 0,
		  "bounds: a from 150, b up to 40");
	check(allocate(&pts, 100, &opt, &r, &err) == CLV_ERR_INVALID &&
		  strstr(err.message, "below the minimum") != NULL,
		  "budget below the minimums: error");
	bounds[1].name = "c";
	check(allocate(&pts, 300, &opt, &r, &err) == CLV_ERR_INVALID &&
		  strstr(err.message, "unknown segment") != NULL,
		  "bound of an unknown segment: error");
	bounds[1] = (clv_budget_bound) {"a", 1, NAN, 100};
	check(allocate(&pts, 300, &opt, &r, &err) == CLV_ERR_INVALID &&
		  strstr(err.message, "above its maximum") != NULL,
		  "min above max: error");
	opt.n_bounds = 0;

	/* knapsack: a 100 + b 50 = 400 for 150 beats a 200 = 400 for 200 */
	opt.interpolate = false;
	check(allocate(&pts, 200, &opt, &r, &err) == CLV_OK &&
		  r.segments[0].spend == 100 && r.segments[1].spend == 50 && r.response == 400 &&
		  isnan(r.shadow_price) && isnan(r.segments[0].marginal),
		  "no interpolation: a 100, b 50, the cheaper of two ties");
	clv_budget_points_free(&pts);

	/* duplicates take the largest response; a point at 0 replaces (0, 0) */
	clv_budget_points_init(&pts, 0);
	add(&pts, "x", 10, 5);
	add(&pts, "x", 10, 20);
	add(&pts, "x", 0, -3);
	add(&pts, "x", 30, 10);
	opt.interpolate = true;
	check(allocate(&pts, 5, &opt, &r, &err) == CLV_OK &&
		  r.segments[0].response == -3 + 23 * 0.5 && r.shadow_price == 2.3,
		  "duplicate spends: the largest response; point at spend 0 kept");
	check(allocate(&pts, 50, &opt, &r, &err) == CLV_OK &&
		  r.segments[0].spend == 10 && r.segments[0].response == 20 &&
		  r.segments[0].marginal == 0,
		  "a falling point lies under the flat tail: spend stops at the top");
	clv_budget_points_free(&pts);
	free(r.segments);

	/* 1000 bytes: the name (3), its entry (16) and 64 hash slots (256), 30 points of 24 */
	clv_budget_points_init(&pts, 1000);
	for (int i = 0; i < 40; i++)
		if (clv_budget_points_append(&pts, "seg", 3, i, i, &err) != CLV_OK)
			break;
	check(err.status == CLV_ERR_LIMIT && pts.n == 30, "memory limit: 30 points in 1000 bytes");
	clv_budget_points_free(&pts);
}

/*
 * The same points in two orders, and split into two states merged: the
 * same allocation, bit for bit.
 */
static void
test_order_independence(void)
{
	clv_budget_points grouped,
				interleaved,
				half;
	clv_budget_result a = {0},
				b = {0},
				c = {0};
	clv_budget_options opt = defaults;
	clv_error	err;
	bool		same = true;
	char		name[16];

	clv_budget_points_init(&grouped, 0);
	clv_budget_points_init(&interleaved, 0);
	clv_budget_points_init(&half, 0);
	for (int s = 0; s < 40; s++)
		for (int p = 1; p <= 12; p++)
		{
			snprintf(name, sizeof(name), "seg %d", s);
			add(&grouped, name, p * (1 + s % 5), sqrt(p) * (1 + s % 7) + 0.1 * ((s * p) % 3));
		}
	for (int p = 12; p >= 1; p--)
		for (int s = 39; s >= 0; s--)
		{
			snprintf(name, sizeof(name), "seg %d", s);
			add(p % 2 ? &interleaved : &half, name, p * (1 + s % 5),
				sqrt(p) * (1 + s % 7) + 0.1 * ((s * p) % 3));
		}
	allocate(&grouped, 150, &opt, &a, &err);
	allocate(&interleaved, 150, &opt, &b, &err);
	clv_budget_points_merge(&interleaved, &half, &err);
	allocate(&interleaved, 150, &opt, &c, &err);
	for (size_t i = 0; i < a.n && same; i++)
		same = a.segments[i].spend == c.segments[i].spend &&
			a.segments[i].response == c.segments[i].response &&
			a.segments[i].len == c.segments[i].len &&
			memcmp(a.segments[i].name, c.segments[i].name, a.segments[i].len) == 0;
	check(same && a.n == 40 && c.n == 40 && a.response == c.response &&
		  a.shadow_price == c.shadow_price,
		  "rows in another order, merged from two states: the same allocation");
	free(a.segments);
	free(b.segments);
	free(c.segments);
	clv_budget_points_free(&grouped);
	clv_budget_points_free(&interleaved);
	clv_budget_points_free(&half);
}

/* ---- the knapsack against enumeration ------------------------------------ */

#define KS_SEGS 4
#define KS_LEVELS 4

static void
test_knapsack_brute_force(void)
{
	int			instances = quick ? 40 : 300,
				agree = 0;

	for (int t = 0; t < instances; t++)
	{
		double		xs[KS_SEGS][KS_LEVELS + 1],
					ys[KS_SEGS][KS_LEVELS + 1];
		int			nl[KS_SEGS];
		int			nseg = 2 + (int) (uniform() * 3);
		bool		net = uniform() < 0.3;
		clv_budget_points pts;
		clv_budget_options opt = defaults;
		clv_budget_result r;
		clv_error	err;
		double		budget = uniform() * 60,
					best = -INFINITY;
		int			combos = 1;
		char		name[2] = "a";

		opt.interpolate = false;
		opt.net = net;
		clv_budget_points_init(&pts, 0);
		for (int s = 0; s < nseg; s++)
		{
			nl[s] = 1;
			xs[s][0] = 0;
			ys[s][0] = 0;
			name[0] = (char) ('a' + s);
			for (int l = 1; l <= 1 + (int) (uniform() * KS_LEVELS) && l <= KS_LEVELS; l++)
			{
				/* whole spends, so that duplicates occur and sums are exact */
				double		x = 1 + floor(uniform() * 30);
				double		y = floor(uniform() * 50);

				add(&pts, name, x, y);
				xs[s][nl[s]] = x;
				ys[s][nl[s]++] = y;
			}
			combos *= nl[s];
		}
		for (int c = 0; c < combos; c++)
		{
			int			k = c;
			double		spend = 0,
						value = 0;

			for (int s = 0; s < nseg; s++)
			{
				spend += xs[s][k % nl[s]];
				value += ys[s][k % nl[s]] - (net ? xs[s][k % nl[s]] : 0);
				k /= nl[s];
			}
			if (spend <= budget && value > best)
				best = value;
		}
		if (clv_budget_allocate(&pts, budget, &opt, &r, &err) == CLV_OK &&
			r.response - (net ? r.spend : 0) == best && r.spend <= budget)
			agree++;
		free(r.segments);
		clv_budget_points_free(&pts);
	}
	check(agree == instances, "knapsack equals enumeration on %d of %d instances", agree, instances);
}

/* ---- the targeting price ----------------------------------------------------- */

typedef struct frac
{
	double		slope;
	double		cost;
	double		gain;
} frac;

static int
by_slope_desc(const void *a, const void *b)
{
	const frac *p = a,
			   *q = b;

	return (p->slope < q->slope) - (p->slope > q->slope);
}

/* LP optimum of single-option customers: fractional greedy by gain / cost. */
static double
lp_optimum(const clv_offer *v, size_t n, double budget)
{
	frac	   *f = malloc(n * sizeof(frac));
	size_t		m = 0;
	double		value = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i].gain > 0)
			f[m++] = (frac) {v[i].gain / v[i].cost, v[i].cost, v[i].gain};
	qsort(f, m, sizeof(frac), by_slope_desc);
	for (size_t i = 0; i < m && budget > 0; i++)
	{
		double		take = fmin(1, budget / f[i].cost);

		value += take * f[i].gain;
		budget -= take * f[i].cost;
	}
	free(f);
	return value;
}

static double
rule_value(const clv_offer *v, size_t n, double lambda)
{
	double		value = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i].gain - lambda * v[i].cost > 0)
			value += v[i].gain;
	return value;
}

static void
test_threshold(void)
{
	size_t		n = quick ? 2000 : 100000;
	clv_offers	offers,
				shuffled,
				grouped;
	clv_error	err;
	double		lambda,
				lambda2,
				lambda3,
				spend,
				max_gain = 0,
				budget;

	clv_offers_init(&offers, 0);
	clv_offers_init(&shuffled, 0);
	clv_offers_init(&grouped, 0);
	for (size_t i = 0; i < n; i++)
	{
		double		cost = 0.5 + uniform() * 10,
					gain = uniform() * 20 - 4;

		clv_offers_append(&offers, 0, gain, cost, &err);
		clv_offers_append(&grouped, (int64_t) (n - i) * 7, gain, cost, &err);
		max_gain = fmax(max_gain, gain);
	}
	for (size_t i = 0; i < n; i++)
		clv_offers_append(&shuffled, 0, offers.v[(i * 7919) % n].gain,
						  offers.v[(i * 7919) % n].cost, &err);
	budget = 0.1 * n;
	clv_budget_threshold(&offers, false, budget, &lambda, &spend, &err);
	check(spend <= budget && clv_threshold_rule_spend(offers.v, n, false, lambda) <= budget,
		  "single options: the rule spends %.6g within the budget %.6g", spend, budget);
	check(rule_value(offers.v, n, lambda) >= lp_optimum(offers.v, n, budget) - max_gain,
		  "single options: value within one gain of the LP optimum");
	clv_budget_threshold(&shuffled, false, budget, &lambda2, &spend, &err);
	clv_budget_threshold(&grouped, true, budget, &lambda3, &spend, &err);
	check(lambda2 == lambda && lambda3 == lambda,
		  "the same price shuffled (%.17g) and grouped by distinct customers (%.17g)",
		  lambda2, lambda3);
	/* grouped by customer in three sorted partial states, merged: the same price */
	{
		clv_offers	part[3];
		clv_offers	merged;

		clv_offers_init(&merged, 0);
		for (int p = 0; p < 3; p++)
			clv_offers_init(&part[p], 0);
		for (size_t i = 0; i < n; i++)
			clv_offers_append(&part[i % 3], (int64_t) i * 7, offers.v[i].gain,
							  offers.v[i].cost, &err);
		for (int p = 0; p < 3; p++)
		{
			clv_offers_merge(&merged, &part[p], &err);
			free(part[p].v);
		}
		clv_budget_threshold(&merged, true, budget, &lambda2, &spend, &err);
		check(merged.n_runs == 3 && !merged.many_runs && lambda2 == lambda,
			  "three sorted partial states merged: %zu runs, the same price", merged.n_runs);
		free(merged.v);
	}
	clv_budget_threshold(&offers, false, 1e12, &lambda, &spend, &err);
	check(lambda == 0, "everything fits: price 0");
	clv_budget_threshold(&offers, false, 0, &lambda, &spend, &err);
	check(spend == 0 && rule_value(offers.v, n, lambda) == 0, "budget 0: nothing taken");
	free(offers.v);
	free(shuffled.v);
	free(grouped.v);

	/* one customer, options (1, 10), (2, 16), (4, 20): steps of slope 10, 6, 2 */
	clv_offers_init(&grouped, 0);
	clv_offers_append(&grouped, 5, 16, 2, &err);
	clv_offers_append(&grouped, 5, 20, 4, &err);
	clv_offers_append(&grouped, 5, 10, 1, &err);
	clv_offers_append(&grouped, 5, 5, 3, &err);
	clv_budget_threshold(&grouped, true, 3, &lambda, &spend, &err);
	check(lambda == 2 && spend == 2, "one customer, budget 3: price 2, takes the option of cost 2");
	clv_budget_threshold(&grouped, true, 1.5, &lambda, &spend, &err);
	check(lambda == 6 && spend == 1, "budget 1.5: price 6, takes the option of cost 1");
	free(grouped.v);

	clv_offers_init(&grouped, 24 * 1024);
	for (int i = 0; i < 2000; i++)
		if (clv_offers_append(&grouped, i, 1, 1, &err) != CLV_OK)
			break;
	check(err.status == CLV_ERR_LIMIT && grouped.n == 1024, "memory limit: 1024 options in 24 kB");
	free(grouped.v);
}

int
main(void)
{
	quick = getenv("CLV_TEST_QUICK") != NULL;
	test_hand_examples();
	test_order_independence();
	test_knapsack_brute_force();
	test_threshold();
	return tap_done();
}
