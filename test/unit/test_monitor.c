/*
 * test_monitor.c — quantile bins, the PSI and the calibration bins against
 * values worked out by hand, and their independence of the row order.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "monitor.h"
#include "tap.h"

static bool
same_doubles(const double *a, const double *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static void
test_edges(void)
{
	const double ten[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	const double tied[] = {0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
	const double three[] = {1, 2, 3};
	const double same[] = {5, 5, 5};
	double		edges[16];
	int			k;

	k = clv_quantile_edges(ten, 10, 4, edges);
	check(k == 3 && same_doubles(edges, (double[]) {3, 5, 8}, 3),
		  "1..10 in 4 bins: edges at ranks 3, 5 and 8");
	k = clv_quantile_edges(tied, 10, 5, edges);
	check(k == 2 && same_doubles(edges, (double[]) {0, 2}, 2),
		  "candidates 0, 0, 0, 2 merge into the edges 0 and 2");
	k = clv_quantile_edges(three, 3, 10, edges);
	check(k == 2 && same_doubles(edges, (double[]) {1, 2}, 2),
		  "3 values in 10 bins: 3 bins, no edge at the largest value");
	k = clv_quantile_edges(same, 3, 4, edges);
	check(k == 0, "equal values: one bin");
	check(clv_quantile_rank(7, 10, 10) == 7 && clv_quantile_rank(1, 1000003, 1000) == 1001,
		  "ranks in exact integer arithmetic");
}

static void
test_bin_of(void)
{
	const double edges[] = {3, 5, 8};

	check(clv_bin_of(edges, 3, 3) == 0 && clv_bin_of(edges, 3, 5) == 1 &&
		  clv_bin_of(edges, 3, 8) == 2, "a value on an edge goes to the bin the edge closes");
	check(clv_bin_of(edges, 3, 3.5) == 1 && clv_bin_of(edges, 3, 8.5) == 3,
		  "a value between edges goes to the bin above the lower one");
	check(clv_bin_of(edges, 3, -1e300) == 0 && clv_bin_of(edges, 3, 1e300) == 3,
		  "values outside the edges go to the first and the last bin");
	check(clv_bin_of(edges, 0, 42) == 0, "no edges: a single bin");
}

/* Rows of a PSI: reference values ref[], current values cur[]. */
static void
psi_rows(clv_pairs *rows, const double *ref, int n_ref, const double *cur, int n_cur)
{
	clv_error	err;

	clv_pairs_init(rows, 0);
	for (int i = 0; i < n_ref; i++)
		clv_pairs_append(rows, ref[i], 1, &err);
	for (int i = 0; i < n_cur; i++)
		clv_pairs_append(rows, cur[i], 0, &err);
}

static void
test_psi(void)
{
	const double ref[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	const double shifted[] = {1, 1, 1, 6};
	const double low[] = {1, 2};
	clv_pairs	rows;
	double		psi,
				want;
	int			bins;
	bool		ok;

	psi_rows(&rows, ref, 10, ref, 10);
	check(clv_psi(&rows, 10, &psi, &bins) && psi == 0 && bins == 10,
		  "the reference against itself: PSI 0 over 10 bins");
	clv_pairs_free(&rows);

	/* bins (−∞, 5] and (5, ∞): r = (0.5, 0.5), c = (0.75, 0.25) */
	psi_rows(&rows, ref, 10, shifted, 4);
	want = 0.25 * log(1.5) - 0.25 * log(0.5);
	ok = clv_psi(&rows, 2, &psi, &bins);
	check(ok && fabs(psi - want) < 1e-15 && bins == 2,
		  "two bins by hand: PSI %.17g, want %.17g", psi, want);
	clv_pairs_free(&rows);

	/* the current rows leave the upper bin empty: its share is floored */
	psi_rows(&rows, ref, 10, low, 2);
	want = 0.5 * log(2) + (CLV_PSI_FLOOR - 0.5) * log(CLV_PSI_FLOOR / 0.5);
	ok = clv_psi(&rows, 2, &psi, NULL);
	check(ok && fabs(psi - want) < 1e-15,
		  "an empty current bin counts as the floor: PSI %.17g, want %.17g", psi, want);
	clv_pairs_free(&rows);

	psi_rows(&rows, ref, 10, NULL, 0);
	check(!clv_psi(&rows, 10, &psi, NULL), "no current rows: no PSI");
	clv_pairs_free(&rows);
	psi_rows(&rows, NULL, 0, ref, 10);
	check(!clv_psi(&rows, 10, &psi, NULL), "no reference rows: no PSI");
	clv_pairs_free(&rows);
}

/* Rows in a scrambled order give the same bits. */
static void
test_order(void)
{
	enum {N = 1000};
	clv_pairs	a,
				b;
	clv_error	err;
	double		psi_a,
				psi_b;
	clv_calibration ca,
				cb;
	bool		same;

	clv_pairs_init(&a, 0);
	clv_pairs_init(&b, 0);
	for (int i = 0; i < N; i++)
	{
		int			j = (i * 389) % N;	/* 389 is prime to N: a permutation */

		clv_pairs_append(&a, floor(sin(i) * 20) / 7, (i % 3) == 0, &err);
		clv_pairs_append(&b, floor(sin(j) * 20) / 7, (j % 3) == 0, &err);
	}
	clv_psi(&a, 10, &psi_a, NULL);
	clv_psi(&b, 10, &psi_b, NULL);
	check(psi_a == psi_b && psi_a > 0, "PSI of permuted rows: the same bits (%.17g)", psi_a);

	clv_calibration_of(&a, 7, &ca);
	clv_calibration_of(&b, 7, &cb);
	same = ca.n_bins == cb.n_bins && ca.ece == cb.ece && ca.mean_actual == cb.mean_actual;
	for (int i = 0; same && i < ca.n_bins; i++)
		same = memcmp(&ca.bins[i], &cb.bins[i], sizeof(clv_calibration_bin)) == 0;
	check(same, "calibration of permuted rows with ties: the same bits");
	clv_release(ca.bins);
	clv_release(cb.bins);
	clv_pairs_free(&a);
	clv_pairs_free(&b);
}

static void
test_calibration(void)
{
	clv_pairs	rows;
	clv_error	err;
	clv_calibration c;
	const double predicted[] = {0.4, 0.1, 0.3, 0.2},
				actual[] = {1, 0, 1, 0},
				tied[] = {1, 1, 2, 1, 1};

	clv_pairs_init(&rows, 0);
	for (int i = 0; i < 4; i++)
		clv_pairs_append(&rows, predicted[i], actual[i], &err);
	check(clv_calibration_of(&rows, 2, &c) && c.n == 4 && c.n_bins == 2, "4 rows in 2 bins");
	check(c.bins[0].n == 2 && fabs(c.bins[0].mean_predicted - 0.15) < 1e-16 &&
		  c.bins[0].mean_actual == 0 && c.bins[0].min_predicted == 0.1 &&
		  c.bins[0].max_predicted == 0.2, "bin 1: 0.1 and 0.2, none actual");
	check(c.bins[1].n == 2 && fabs(c.bins[1].mean_predicted - 0.35) < 1e-16 &&
		  c.bins[1].mean_actual == 1, "bin 2: 0.3 and 0.4, both actual");
	check(fabs(c.ece - 0.4) < 1e-16 && fabs(c.mce - 0.65) < 1e-16 &&
		  c.mean_predicted == 0.25 && c.mean_actual == 0.5,
		  "ECE 0.5 · 0.15 + 0.5 · 0.65 = 0.4, MCE 0.65, overall means");
	clv_release(c.bins);
	clv_pairs_free(&rows);

	clv_pairs_init(&rows, 0);
	for (int i = 0; i < 5; i++)
		clv_pairs_append(&rows, tied[i], i, &err);
	check(clv_calibration_of(&rows, 2, &c) && c.n_bins == 2 && c.bins[0].n == 4 &&
		  c.bins[1].n == 1 && c.bins[0].mean_actual == 2,
		  "tied predictions share a bin: 4 rows at 1, one at 2");
	clv_release(c.bins);
	clv_pairs_free(&rows);

	clv_pairs_init(&rows, 0);
	check(!clv_calibration_of(&rows, 10, &c), "no rows: no calibration");
}

int
main(void)
{
	test_edges();
	test_bin_of();
	test_psi();
	test_order();
	test_calibration();
	return tap_done();
}
