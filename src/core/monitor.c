/*
 * monitor.c — quantile bins, the population stability index and the data
 * of a calibration plot.
 */
#include "monitor.h"
#include "sort.h"

#include <math.h>
#include <string.h>

/* Rows between interrupt checks in the scans of the rows. */
#define INTERRUPT_EVERY 65536

int
clv_quantile_edges(const double *sorted, size_t n, int bins, double *edges)
{
	double		largest = sorted[n - 1];
	int			k = 0;

	for (int i = 1; i < bins; i++)
	{
		double		e = sorted[clv_quantile_rank((size_t) i, n, bins) - 1];

		/* ties make candidates equal: one edge; an edge at the largest value closes no bin */
		if (e < largest && (k == 0 || e > edges[k - 1]))
			edges[k++] = e;
	}
	return k;
}

int
clv_bin_of(const double *edges, int n_edges, double x)
{
	int			lo = 0,
				hi = n_edges;

	/* the number of edges below x */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (edges[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
compare_doubles(const void *a, const void *b, void *arg CLV_UNUSED)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* By key, then by value: a total order, so sums over sorted rows never depend on the input order. */
static int
compare_pairs(const void *a, const void *b, void *arg CLV_UNUSED)
{
	const clv_pair *x = a;
	const clv_pair *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->value > y->value) - (x->value < y->value);
}

/* ---- population stability index -------------------------------------------- */

bool
clv_psi(const clv_pairs *rows, int bins, double *psi, int *n_bins)
{
	size_t		n_ref = 0,
				n_cur;
	double	   *ref,
			   *edges;
	size_t	   *counts;
	int			k;
	double		sum = 0;

	for (size_t i = 0; i < rows->n; i++)
		n_ref += rows->v[i].value != 0;
	n_cur = rows->n - n_ref;
	if (n_ref == 0 || n_cur == 0)
		return false;

	ref = clv_alloc(n_ref * sizeof(double));
	for (size_t i = 0, j = 0; i < rows->n; i++)
		if (rows->v[i].value != 0)
			ref[j++] = rows->v[i].key;
	clv_sort(ref, n_ref, sizeof(double), compare_doubles, NULL);
	edges = clv_alloc((size_t) (bins - 1) * sizeof(double));
	k = clv_quantile_edges(ref, n_ref, bins, edges);
	clv_release(ref);

	/* counts[b] of the current rows, counts[k + 1 + b] of the reference rows */
	counts = clv_alloc(2 * (size_t) (k + 1) * sizeof(size_t));
	memset(counts, 0, 2 * (size_t) (k + 1) * sizeof(size_t));
	for (size_t i = 0; i < rows->n; i++)
	{
		const clv_pair *p = &rows->v[i];

		counts[(p->value != 0 ? k + 1 : 0) + clv_bin_of(edges, k, p->key)]++;
		if ((i + 1) % INTERRUPT_EVERY == 0)
			clv_check_interrupts();
	}
	for (int b = 0; b <= k; b++)
	{
		double		c = fmax((double) counts[b] / (double) n_cur, CLV_PSI_FLOOR);
		double		r = fmax((double) counts[k + 1 + b] / (double) n_ref, CLV_PSI_FLOOR);

		sum += (c - r) * log(c / r);
	}
	clv_release(counts);
	clv_release(edges);
	*psi = sum;
	if (n_bins)
		*n_bins = k + 1;
	return true;
}

/* ---- calibration ------------------------------------------------------------- */

bool
clv_calibration_of(const clv_pairs *rows, int bins, clv_calibration *out)
{
	size_t		n = rows->n,
				start = 0;
	clv_pair   *v;
	double	   *keys,
			   *edges;
	int			k;
	double		pred_hi = 0,
				pred_lo = 0,
				act_hi = 0,
				act_lo = 0,
				ece = 0,
				mce = 0;

	if (n == 0)
		return false;
	v = clv_alloc(n * sizeof(clv_pair));
	memcpy(v, rows->v, n * sizeof(clv_pair));
	clv_sort(v, n, sizeof(clv_pair), compare_pairs, NULL);
	keys = clv_alloc(n * sizeof(double));
	for (size_t i = 0; i < n; i++)
		keys[i] = v[i].key;
	edges = clv_alloc((size_t) (bins - 1) * sizeof(double));
	k = clv_quantile_edges(keys, n, bins, edges);
	clv_release(keys);

	out->n = n;
	out->n_bins = k + 1;
	out->bins = clv_alloc((size_t) (k + 1) * sizeof(clv_calibration_bin));
	for (int b = 0; b <= k; b++)
	{
		clv_calibration_bin *bin = &out->bins[b];
		double		p_hi = 0,
					p_lo = 0,
					a_hi = 0,
					a_lo = 0;
		size_t		end = start;

		/* sorted rows: bin b is the run that starts where bin b − 1 ended */
		while (end < n && clv_bin_of(edges, k, v[end].key) == b)
		{
			clv_dd_add(&p_hi, &p_lo, v[end].key);
			clv_dd_add(&a_hi, &a_lo, v[end].value);
			clv_dd_add(&pred_hi, &pred_lo, v[end].key);
			clv_dd_add(&act_hi, &act_lo, v[end].value);
			if (++end % INTERRUPT_EVERY == 0)
				clv_check_interrupts();
		}
		/* every bin holds a row (clv_quantile_edges) */
		bin->n = end - start;
		bin->mean_predicted = (p_hi + p_lo) / (double) bin->n;
		bin->mean_actual = (a_hi + a_lo) / (double) bin->n;
		bin->min_predicted = v[start].key;
		bin->max_predicted = v[end - 1].key;
		ece += (double) bin->n * fabs(bin->mean_predicted - bin->mean_actual);
		mce = fmax(mce, fabs(bin->mean_predicted - bin->mean_actual));
		start = end;
	}
	clv_release(edges);
	clv_release(v);
	out->mean_predicted = (pred_hi + pred_lo) / (double) n;
	out->mean_actual = (act_hi + act_lo) / (double) n;
	out->ece = ece / (double) n;
	out->mce = mce;
	return true;
}
