/*
 * tree_rows.c — training rows of the tree ensembles: a memory-bounded float4
 * buffer, its canonical order, and quantile binning of the features.
 */
#include "tree_internal.h"
#include "sort.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void
clv_tree_rows_init(clv_tree_rows *rows, uint32_t p, size_t max_bytes)
{
	memset(rows, 0, sizeof(*rows));
	rows->p = p;
	rows->max_bytes = max_bytes;
}

static size_t
row_bytes(const clv_tree_rows *rows)
{
	return sizeof(float) * (size_t) rows->p + sizeof(double);
}

/* Make room for at least `need` rows, doubling, within the memory limit. */
static clv_status
rows_reserve(clv_tree_rows *rows, size_t need, clv_error *err)
{
	size_t		cap = rows->cap;
	clv_status	st;

	if (need <= rows->cap)
		return CLV_OK;
	if ((st = clv_rows_capacity(&cap, need, row_bytes(rows), rows->max_bytes, err)) != CLV_OK)
		return st;
	rows->x = clv_grow_buffer(rows->x, rows->n * sizeof(float) * rows->p,
							  cap * sizeof(float) * rows->p);
	rows->y = clv_grow_buffer(rows->y, rows->n * sizeof(double), cap * sizeof(double));
	rows->cap = cap;
	return CLV_OK;
}

clv_status
clv_tree_rows_append(clv_tree_rows *rows, double y, const double *x, clv_error *err)
{
	clv_status	st;
	float	   *dst;

	if (!isfinite(y))
		return clv_fail(err, CLV_ERR_INVALID, "the target value must be finite");
	for (uint32_t j = 0; j < rows->p; j++)
		if (!isnan(x[j]) && !(fabs(x[j]) <= FLT_MAX))
		{
			clv_fail(err, CLV_ERR_INVALID, "feature %u is out of range for a tree model", j + 1);
			clv_set_detail(err, "Tree models store features as real (float4); the value is %g.", x[j]);
			return CLV_ERR_INVALID;
		}
	if (rows->n == rows->cap && (st = rows_reserve(rows, rows->n + 1, err)) != CLV_OK)
		return st;
	dst = rows->x + rows->n * rows->p;
	for (uint32_t j = 0; j < rows->p; j++)
	{
		/* one NaN and one zero, so equal rows have equal bits */
		float		v = isnan(x[j]) ? NAN : (float) x[j];

		dst[j] = v == 0 ? 0.0f : v;
	}
	rows->y[rows->n] = y == 0 ? 0.0 : y;
	rows->n++;
	return CLV_OK;
}

clv_status
clv_tree_rows_merge(clv_tree_rows *rows, const clv_tree_rows *other, clv_error *err)
{
	clv_status	st;

	if (other->n == 0)
		return CLV_OK;
	if ((st = rows_reserve(rows, rows->n + other->n, err)) != CLV_OK)
		return st;
	memcpy(rows->x + rows->n * rows->p, other->x, other->n * sizeof(float) * rows->p);
	memcpy(rows->y + rows->n, other->y, other->n * sizeof(double));
	rows->n += other->n;
	return CLV_OK;
}

void
clv_tree_rows_free(clv_tree_rows *rows)
{
	clv_release(rows->x);
	clv_release(rows->y);
	rows->x = NULL;
	rows->y = NULL;
	rows->n = rows->cap = 0;
}

/* ---- canonical order ------------------------------------------------------ */

/* Rows by y, then by the bit patterns of x: a total order on distinct rows. */
static int
compare_rows(const void *a, const void *b, void *arg)
{
	const clv_tree_rows *rows = arg;
	uint32_t	i = *(const uint32_t *) a,
				k = *(const uint32_t *) b;

	if (rows->y[i] != rows->y[k])
		return rows->y[i] < rows->y[k] ? -1 : 1;
	/* bit patterns: a total order, and NaN and zero have one pattern each */
	return memcmp(rows->x + (size_t) i * rows->p, rows->x + (size_t) k * rows->p,
				  sizeof(float) * rows->p);
}

void
tree_rows_sort(clv_tree_rows *rows)
{
	size_t		n = rows->n;
	uint32_t   *order;
	float	   *x;
	double	   *y;

	if (n < 2)
		return;
	order = clv_alloc(sizeof(uint32_t) * n);
	for (size_t i = 0; i < n; i++)
		order[i] = (uint32_t) i;
	clv_sort(order, n, sizeof(uint32_t), compare_rows, rows);

	x = clv_alloc(sizeof(float) * rows->p * rows->cap);
	y = clv_alloc(sizeof(double) * rows->cap);
	for (size_t i = 0; i < n; i++)
	{
		memcpy(x + i * rows->p, rows->x + (size_t) order[i] * rows->p, sizeof(float) * rows->p);
		y[i] = rows->y[order[i]];
		if ((i & (CLV_SORT_POLL - 1)) == 0)
			clv_check_interrupts();
	}
	clv_release(rows->x);
	clv_release(rows->y);
	clv_release(order);
	rows->x = x;
	rows->y = y;
}

/* ---- quantile bins ---------------------------------------------------------- */

/* Map a float to an unsigned key with the same order (NaN excluded). */
static inline uint32_t
float_key(float v)
{
	uint32_t	u;

	memcpy(&u, &v, 4);
	return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

static inline float
key_float(uint32_t k)
{
	uint32_t	u = (k & 0x80000000u) ? k & 0x7FFFFFFFu : ~k;
	float		v;

	memcpy(&v, &u, 4);
	return v;
}

/* A threshold between two neighbouring distinct values: above lo, at most hi. */
static double
midpoint(uint32_t lo_key, uint32_t hi_key)
{
	double		lo = key_float(lo_key);
	double		hi = key_float(hi_key);
	double		mid = lo + (hi - lo) / 2;

	return mid > lo ? mid : hi;
}

/* LSD radix sort of keys, 8 bits a pass; tmp has room for n keys. */
static void
radix_sort(uint32_t *keys, uint32_t *tmp, size_t n)
{
	for (int shift = 0; shift < 32; shift += 8)
	{
		size_t		count[257] = {0};

		for (size_t i = 0; i < n; i++)
			count[((keys[i] >> shift) & 0xFF) + 1]++;
		for (int b = 0; b < 256; b++)
			count[b + 1] += count[b];
		for (size_t i = 0; i < n; i++)
			tmp[count[(keys[i] >> shift) & 0xFF]++] = keys[i];
		memcpy(keys, tmp, n * sizeof(uint32_t));
	}
}

/*
 * Choose at most max_bins bins over sorted values: greedily close a bin once
 * it holds its share of the remaining rows, never splitting equal values,
 * and give a value that alone fills a share a bin of its own.  Thresholds
 * are midpoints between neighbouring distinct values, so a value and its
 * bin agree under `x < threshold` whatever the rounding.
 */
static uint32_t
choose_thresholds(const uint32_t *keys, size_t m, uint32_t max_bins, double *thr)
{
	uint32_t	n_bins = 1;
	size_t		bin_start = 0;
	size_t		i = 0;

	while (i < m)
	{
		size_t		k = i;
		double		share;

		while (k < m && keys[k] == keys[i])
			k++;
		share = (double) (m - bin_start) / (max_bins - n_bins + 1);
		/* close the open bin before a heavy value */
		if (i > bin_start && n_bins < max_bins && (double) (k - i) >= share)
		{
			thr[n_bins - 1] = midpoint(keys[i - 1], keys[i]);
			n_bins++;
			bin_start = i;
			share = (double) (m - bin_start) / (max_bins - n_bins + 1);
		}
		if (k < m && n_bins < max_bins && (double) (k - bin_start) >= share)
		{
			thr[n_bins - 1] = midpoint(keys[i], keys[k]);
			n_bins++;
			bin_start = k;
		}
		i = k;
	}
	return n_bins;
}

/* Bin code of v: the number of thresholds <= v. */
static inline uint8_t
bin_code(const double *thr, uint32_t n_thr, double v)
{
	uint32_t	lo = 0,
				hi = n_thr;

	while (lo < hi)
	{
		uint32_t	mid = (lo + hi) / 2;

		if (thr[mid] <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint8_t) lo;
}

void
tree_bins_build(const clv_tree_rows *rows, uint32_t max_bins, tree_bins *bins)
{
	size_t		n = rows->n;
	uint32_t	p = rows->p;
	uint32_t   *keys = clv_alloc(sizeof(uint32_t) * n);
	uint32_t   *tmp = clv_alloc(sizeof(uint32_t) * n);

	bins->n = n;
	bins->p = p;
	bins->codes = clv_alloc(n * p);
	bins->n_bins = clv_alloc(sizeof(uint16_t) * p);
	bins->has_missing = clv_alloc(sizeof(bool) * p);
	bins->thresholds = clv_alloc(sizeof(double) * CLV_TREES_MAX_BINS * p);
	memset(bins->thresholds, 0, sizeof(double) * CLV_TREES_MAX_BINS * p);

	for (uint32_t j = 0; j < p; j++)
	{
		double	   *thr = bins->thresholds + (size_t) j * CLV_TREES_MAX_BINS;
		uint8_t    *col = bins->codes + (size_t) j * n;
		size_t		m = 0;
		uint32_t	nb;

		for (size_t i = 0; i < n; i++)
		{
			float		v = rows->x[i * p + j];

			if (!isnan(v))
				keys[m++] = float_key(v);
		}
		bins->has_missing[j] = m < n;
		/* a feature of millions of rows is a fraction of a second */
		clv_check_interrupts();
		radix_sort(keys, tmp, m);
		/* the missing code must fit in a byte too */
		nb = choose_thresholds(keys, m, max_bins - (m < n ? 1 : 0), thr);
		bins->n_bins[j] = (uint16_t) nb;
		/* above every float: the split "all values left, missing right" */
		thr[nb - 1] = 2.0 * FLT_MAX;
		for (size_t i = 0; i < n; i++)
		{
			float		v = rows->x[i * p + j];

			col[i] = isnan(v) ? (uint8_t) nb : bin_code(thr, nb - 1, v);
		}
	}
	clv_release(keys);
	clv_release(tmp);
}

void
tree_bins_free(tree_bins *bins)
{
	clv_release(bins->codes);
	clv_release(bins->n_bins);
	clv_release(bins->has_missing);
	clv_release(bins->thresholds);
	memset(bins, 0, sizeof(*bins));
}
