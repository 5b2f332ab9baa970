/*
 * metrics.c — evaluation metrics over sufficient statistics and over sorted
 * (key, value) pairs.
 */
#include "metrics.h"
#include "sort.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows between interrupt checks in the scans of sorted pairs. */
#define INTERRUPT_EVERY 65536

/* Largest row count a double holds exactly. */
#define MAX_EXACT_COUNT 9007199254740992.0	/* 2^53 */

static inline bool
all_finite(const double *v, int n)
{
	for (int i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

/* A row count: a whole number, not negative, exact in a double. */
static inline bool
valid_count(double n)
{
	return isfinite(n) && n >= 0 && n <= MAX_EXACT_COUNT && n == floor(n);
}

/* ---- regression errors and R² -------------------------------------------- */

/* Renormalise a double-double so that lo is below half an ulp of hi. */
static inline void
dd_normalise(double *hi, double *lo)
{
	double		s = *hi + *lo;

	*lo -= s - *hi;
	*hi = s;
}

/*
 * y minus the double-double mean: y − hi is exact while y is within a factor
 * of two of the mean (Sterbenz), and otherwise rounds no worse than any
 * single subtraction.
 */
static inline double
deviation(double y, const double *s)
{
	return (y - s[CLV_RESID_MEAN_HI]) - s[CLV_RESID_MEAN_LO];
}

bool
clv_residuals_add(double *s, double y, double prediction)
{
	double		e = y - prediction;
	double		n = s[CLV_RESID_N] + 1;
	double		delta = deviation(y, s);

	s[CLV_RESID_N] = n;
	clv_dd_add(&s[CLV_RESID_SSE_HI], &s[CLV_RESID_SSE_LO], e * e);
	clv_dd_add(&s[CLV_RESID_SAE_HI], &s[CLV_RESID_SAE_LO], fabs(e));
	/* Welford: the centred sum of squares grows by delta · (y − new mean) */
	clv_dd_add(&s[CLV_RESID_MEAN_HI], &s[CLV_RESID_MEAN_LO], delta / n);
	dd_normalise(&s[CLV_RESID_MEAN_HI], &s[CLV_RESID_MEAN_LO]);
	clv_dd_add(&s[CLV_RESID_M2_HI], &s[CLV_RESID_M2_LO], delta * deviation(y, s));
	return all_finite(s, CLV_RESID_LEN);
}

/* a += b for double-double pairs stored at a[hi], a[hi + 1] */
static inline void
dd_merge(double *a, const double *b, int hi)
{
	double		err;

	a[hi] = clv_two_sum(a[hi], b[hi], &err);
	a[hi + 1] += b[hi + 1] + err;
}

bool
clv_residuals_merge(double *a, const double *b)
{
	double		na = a[CLV_RESID_N];
	double		nb = b[CLV_RESID_N];
	double		n,
				delta;

	if (nb == 0)
		return true;
	if (na == 0)
	{
		memcpy(a, b, sizeof(double) * CLV_RESID_LEN);
		return true;
	}
	n = na + nb;

	/*
	 * Chan, Golub and LeVeque's pairwise update: the two centred sums add,
	 * plus the spread between the two means.
	 */
	delta = (b[CLV_RESID_MEAN_HI] - a[CLV_RESID_MEAN_HI]) +
		(b[CLV_RESID_MEAN_LO] - a[CLV_RESID_MEAN_LO]);
	clv_dd_add(&a[CLV_RESID_MEAN_HI], &a[CLV_RESID_MEAN_LO], delta * (nb / n));
	dd_normalise(&a[CLV_RESID_MEAN_HI], &a[CLV_RESID_MEAN_LO]);
	dd_merge(a, b, CLV_RESID_M2_HI);
	clv_dd_add(&a[CLV_RESID_M2_HI], &a[CLV_RESID_M2_LO], delta * delta * (na / n) * nb);
	a[CLV_RESID_N] = n;

	dd_merge(a, b, CLV_RESID_SSE_HI);
	dd_merge(a, b, CLV_RESID_SAE_HI);
	return all_finite(a, CLV_RESID_LEN);
}

bool
clv_residuals_valid(const double *s)
{
	return valid_count(s[CLV_RESID_N]) &&
		all_finite(s, CLV_RESID_LEN) &&
		s[CLV_RESID_SSE_HI] >= 0 &&
		s[CLV_RESID_SAE_HI] >= 0 &&
		s[CLV_RESID_M2_HI] >= 0;
}

double
clv_residuals_mse(const double *s)
{
	return (s[CLV_RESID_SSE_HI] + s[CLV_RESID_SSE_LO]) / s[CLV_RESID_N];
}

double
clv_residuals_mae(const double *s)
{
	return (s[CLV_RESID_SAE_HI] + s[CLV_RESID_SAE_LO]) / s[CLV_RESID_N];
}

bool
clv_residuals_r2(const double *s, double *r2)
{
	double		sst = s[CLV_RESID_M2_HI] + s[CLV_RESID_M2_LO];

	/*
	 * Equal y values leave the centred sum exactly 0 in both Welford's and
	 * Chan's updates, so this test is exact, not a tolerance.
	 */
	if (s[CLV_RESID_N] == 0 || sst <= 0)
		return false;
	*r2 = 1 - (s[CLV_RESID_SSE_HI] + s[CLV_RESID_SSE_LO]) / sst;
	return true;
}

/* ---- log loss ------------------------------------------------------------ */

double
clv_logloss_term(bool label, double probability)
{
	double		p = fmin(fmax(probability, CLV_LOGLOSS_EPS), 1 - CLV_LOGLOSS_EPS);

	/* log1p keeps the precision of −log(1 − p) for small p */
	return label ? -log(p) : -log1p(-p);
}

void
clv_logloss_state_add(double *s, bool label, double probability)
{
	s[CLV_LOGLOSS_STATE_N] += 1;
	clv_dd_add(&s[CLV_LOGLOSS_STATE_SUM_HI], &s[CLV_LOGLOSS_STATE_SUM_LO],
			   clv_logloss_term(label, probability));
}

void
clv_logloss_state_merge(double *a, const double *b)
{
	double		err;

	a[CLV_LOGLOSS_STATE_N] += b[CLV_LOGLOSS_STATE_N];
	a[CLV_LOGLOSS_STATE_SUM_HI] = clv_two_sum(a[CLV_LOGLOSS_STATE_SUM_HI],
											  b[CLV_LOGLOSS_STATE_SUM_HI], &err);
	a[CLV_LOGLOSS_STATE_SUM_LO] += b[CLV_LOGLOSS_STATE_SUM_LO] + err;
}

bool
clv_logloss_state_valid(const double *s)
{
	return valid_count(s[CLV_LOGLOSS_STATE_N]) &&
		all_finite(s, CLV_LOGLOSS_STATE_LEN) &&
		s[CLV_LOGLOSS_STATE_SUM_HI] >= 0;
}

double
clv_logloss_state_mean(const double *s)
{
	return (s[CLV_LOGLOSS_STATE_SUM_HI] + s[CLV_LOGLOSS_STATE_SUM_LO]) /
		s[CLV_LOGLOSS_STATE_N];
}

/* ---- pairs ---------------------------------------------------------------- */

void
clv_pairs_init(clv_pairs *pairs, size_t max_bytes)
{
	memset(pairs, 0, sizeof(*pairs));
	pairs->max_bytes = max_bytes;
}

/* Make room for at least `need` pairs, doubling, within the memory limit. */
clv_status
clv_pairs_reserve(clv_pairs *pairs, size_t need, clv_error *err)
{
	size_t		limit = pairs->max_bytes ? pairs->max_bytes / sizeof(clv_pair) : 0;
	size_t		cap;

	if (need <= pairs->cap)
		return CLV_OK;
	if (limit && need > limit)
	{
		clv_fail(err, CLV_ERR_LIMIT, "rows held by the aggregate exceed the memory limit of %zu kB",
				 pairs->max_bytes / 1024);
		clv_set_detail(err, "%zu rows need %zu kB.",
					   need, (need * sizeof(clv_pair) + 1023) / 1024);
		return CLV_ERR_LIMIT;
	}
	/* small first: a GROUP BY may keep thousands of these states at once */
	cap = pairs->cap ? pairs->cap * 2 : 64;
	while (cap < need)
		cap *= 2;
	if (limit && cap > limit)
		cap = limit;

	pairs->v = clv_grow_buffer(pairs->v, pairs->n * sizeof(clv_pair), cap * sizeof(clv_pair));
	pairs->cap = cap;
	return CLV_OK;
}

clv_status
clv_pairs_append(clv_pairs *pairs, double key, double value, clv_error *err)
{
	clv_status	st;

	if (pairs->n == pairs->cap &&
		(st = clv_pairs_reserve(pairs, pairs->n + 1, err)) != CLV_OK)
		return st;
	pairs->v[pairs->n].key = key;
	pairs->v[pairs->n].value = value;
	pairs->n++;
	return CLV_OK;
}

clv_status
clv_pairs_merge(clv_pairs *pairs, const clv_pairs *other, clv_error *err)
{
	clv_status	st;

	if (other->n == 0)
		return CLV_OK;
	if ((st = clv_pairs_reserve(pairs, pairs->n + other->n, err)) != CLV_OK)
		return st;
	memcpy(pairs->v + pairs->n, other->v, other->n * sizeof(clv_pair));
	pairs->n += other->n;
	return CLV_OK;
}

void
clv_pairs_free(clv_pairs *pairs)
{
	clv_release(pairs->v);
	pairs->v = NULL;
	pairs->n = pairs->cap = 0;
}

static int
compare_keys(const void *a, const void *b, void *arg CLV_UNUSED)
{
	double		x = ((const clv_pair *) a)->key;
	double		y = ((const clv_pair *) b)->key;

	return (x > y) - (x < y);
}

static int
compare_values(const void *a, const void *b, void *arg CLV_UNUSED)
{
	double		x = ((const clv_pair *) a)->value;
	double		y = ((const clv_pair *) b)->value;

	return (x > y) - (x < y);
}

/* A copy of the pairs, sorted by key (or by value). */
static clv_pair *
sorted_copy(const clv_pairs *pairs, bool by_value)
{
	clv_pair   *v = clv_alloc(pairs->n * sizeof(clv_pair));

	memcpy(v, pairs->v, pairs->n * sizeof(clv_pair));
	clv_sort(v, pairs->n, sizeof(clv_pair), by_value ? compare_values : compare_keys, NULL);
	return v;
}

bool
clv_auc(const clv_pairs *pairs, double *auc)
{
	size_t		n = pairs->n;
	size_t		n_pos = 0;
	size_t		n_neg;
	size_t		neg_below = 0;
	double		u2_hi = 0,
				u2_lo = 0;
	clv_pair   *v;

	for (size_t i = 0; i < n; i++)
		n_pos += pairs->v[i].value != 0;
	n_neg = n - n_pos;
	if (n_pos == 0 || n_neg == 0)
		return false;

	v = sorted_copy(pairs, false);

	/*
	 * Twice the Mann–Whitney U, one group of tied scores at a time: each
	 * positive beats every negative below its group and ties half of the
	 * negatives within it.  Averaging the ranks of tied scores gives the same
	 * count.  The terms are whole numbers, exact in doubles far beyond any
	 * realistic row count, and the double-double sum keeps them exact.
	 */
	for (size_t i = 0, j; i < n; i = j)
	{
		size_t		pos = 0,
					neg = 0;

		for (j = i; j < n && v[j].key == v[i].key; j++)
		{
			if (v[j].value != 0)
				pos++;
			else
				neg++;
			if (j % INTERRUPT_EVERY == 0)
				clv_check_interrupts();
		}
		clv_dd_add(&u2_hi, &u2_lo, 2.0 * (double) pos * (double) neg_below);
		clv_dd_add(&u2_hi, &u2_lo, (double) pos * (double) neg);
		neg_below += neg;
	}
	clv_release(v);
	*auc = (u2_hi + u2_lo) / (2.0 * (double) n_pos * (double) n_neg);
	return true;
}

/*
 * Σ value · c over pairs sorted ascending by the grouping field, where c is
 * the centred position counted from the top, (n + 1)/2 − position: positive
 * for the largest keys, and summing to 0.  Each tie group shares the mean
 * position of its members, which is the same as giving each member the mean
 * value of its group.
 *
 * Kaggle's Gini is Σ cumulative share / n − (n + 1)/(2n), which expands to
 * Σ value · c / (n · Σ value): working with the centred positions avoids the
 * cancellation between the two large terms of the usual formula.
 */
static double
centred_rank_sum(const clv_pair *v, size_t n, bool by_value)
{
	double		hi = 0,
				lo = 0;

	for (size_t i = 0, j; i < n; i = j)
	{
		double		group_key = by_value ? v[i].value : v[i].key;
		double		sum_hi = 0,
					sum_lo = 0;
		double		c;

		for (j = i; j < n && (by_value ? v[j].value : v[j].key) == group_key; j++)
		{
			clv_dd_add(&sum_hi, &sum_lo, v[j].value);
			if (j % INTERRUPT_EVERY == 0)
				clv_check_interrupts();
		}

		/*
		 * Ascending positions i+1 .. j (1-based) have mean (i + 1 + j)/2;
		 * counted from the top that is n + 1 − (i + 1 + j)/2, so c is
		 * (i + j − n)/2, a half-integer computed exactly.
		 */
		c = ((double) i + (double) j - (double) n) / 2;
		clv_dd_add(&hi, &lo, (sum_hi + sum_lo) * c);
	}
	return hi + lo;
}

bool
clv_gini(const clv_pairs *pairs, double *gini)
{
	clv_pair   *v;
	double		model,
				perfect;

	if (pairs->n == 0)
		return false;
	v = sorted_copy(pairs, false);
	model = centred_rank_sum(v, pairs->n, false);
	clv_sort(v, pairs->n, sizeof(clv_pair), compare_values, NULL);
	perfect = centred_rank_sum(v, pairs->n, true);
	clv_release(v);

	/*
	 * By the rearrangement inequality the perfect sum is positive unless all
	 * actual values are equal, when every group's c is exactly 0.
	 */
	if (perfect == 0)
		return false;
	*gini = model / perfect;
	return true;
}

/* ---- uplift: the Qini coefficient ----------------------------------------- */

void
clv_uplift_rows_init(clv_uplift_rows *rows, size_t max_bytes)
{
	memset(rows, 0, sizeof(*rows));
	rows->max_bytes = max_bytes;
}

/* Make room for at least `need` rows, doubling, within the memory limit. */
clv_status
clv_uplift_rows_reserve(clv_uplift_rows *rows, size_t need, clv_error *err)
{
	size_t		limit = rows->max_bytes ? rows->max_bytes / sizeof(clv_uplift_row) : 0;
	size_t		cap;

	if (need <= rows->cap)
		return CLV_OK;
	if (limit && need > limit)
	{
		clv_fail(err, CLV_ERR_LIMIT, "rows held by the aggregate exceed the memory limit of %zu kB",
				 rows->max_bytes / 1024);
		clv_set_detail(err, "%zu rows need %zu kB.",
					   need, (need * sizeof(clv_uplift_row) + 1023) / 1024);
		return CLV_ERR_LIMIT;
	}
	cap = rows->cap ? rows->cap * 2 : 64;
	while (cap < need)
		cap *= 2;
	if (limit && cap > limit)
		cap = limit;

	rows->v = clv_grow_buffer(rows->v, rows->n * sizeof(clv_uplift_row),
							  cap * sizeof(clv_uplift_row));
	rows->cap = cap;
	return CLV_OK;
}

clv_status
clv_uplift_rows_append(clv_uplift_rows *rows, double score, bool treated,
					   double outcome, clv_error *err)
{
	clv_status	st;

	if (rows->n == rows->cap &&
		(st = clv_uplift_rows_reserve(rows, rows->n + 1, err)) != CLV_OK)
		return st;
	rows->v[rows->n].score = score;
	rows->v[rows->n].outcome = outcome;
	rows->v[rows->n].treated = treated;
	rows->n++;
	return CLV_OK;
}

clv_status
clv_uplift_rows_merge(clv_uplift_rows *rows, const clv_uplift_rows *other,
					  clv_error *err)
{
	clv_status	st;

	if (other->n == 0)
		return CLV_OK;
	if ((st = clv_uplift_rows_reserve(rows, rows->n + other->n, err)) != CLV_OK)
		return st;
	memcpy(rows->v + rows->n, other->v, other->n * sizeof(clv_uplift_row));
	rows->n += other->n;
	return CLV_OK;
}

/* The ranking key: the model's score, or the perfect ranking's. */
static inline double
uplift_key(const clv_uplift_row *r, bool perfect)
{
	if (!perfect)
		return r->score;
	return r->treated ? r->outcome : -r->outcome;
}

static int
compare_uplift_desc(const void *a, const void *b, void *arg)
{
	bool		perfect = *(const bool *) arg;
	double		x = uplift_key(a, perfect);
	double		y = uplift_key(b, perfect);

	return (x < y) - (x > y);
}

/*
 * The Qini curve's trapezoidal area less the random line's, over rows sorted
 * descending by the key, one tie group at a time.
 */
static double
qini_excess_area(const clv_uplift_row *v, size_t n, bool perfect)
{
	double		area_hi = 0,
				area_lo = 0;
	double		yt_hi = 0,
				yt_lo = 0,
				yc_hi = 0,
				yc_lo = 0;
	double		nt = 0,
				nc = 0;
	double		x_prev = 0,
				q_prev = 0;

	for (size_t i = 0, j; i < n; i = j)
	{
		double		key = uplift_key(&v[i], perfect);
		double		x,
					q;

		for (j = i; j < n && uplift_key(&v[j], perfect) == key; j++)
		{
			if (v[j].treated)
			{
				nt += 1;
				clv_dd_add(&yt_hi, &yt_lo, v[j].outcome);
			}
			else
			{
				nc += 1;
				clv_dd_add(&yc_hi, &yc_lo, v[j].outcome);
			}
			if (j % INTERRUPT_EVERY == 0)
				clv_check_interrupts();
		}
		x = (double) j;
		q = (yt_hi + yt_lo) - (nc > 0 ? (yc_hi + yc_lo) * (nt / nc) : 0);
		clv_dd_add(&area_hi, &area_lo, (x - x_prev) * (q + q_prev) / 2);
		x_prev = x;
		q_prev = q;
	}
	/* the random line ends where the curve does, at (n, Q(n)) */
	return (area_hi + area_lo) - x_prev * q_prev / 2;
}

bool
clv_qini(const clv_uplift_rows *rows, double *qini)
{
	size_t		n = rows->n;
	size_t		n_treated = 0;
	clv_uplift_row *v;
	bool		perfect;
	double		model,
				best;

	for (size_t i = 0; i < n; i++)
		n_treated += rows->v[i].treated;
	if (n_treated == 0 || n_treated == n)
		return false;

	v = clv_alloc(n * sizeof(clv_uplift_row));
	memcpy(v, rows->v, n * sizeof(clv_uplift_row));
	perfect = false;
	clv_sort(v, n, sizeof(clv_uplift_row), compare_uplift_desc, &perfect);
	model = qini_excess_area(v, n, false);
	perfect = true;
	clv_sort(v, n, sizeof(clv_uplift_row), compare_uplift_desc, &perfect);
	best = qini_excess_area(v, n, true);
	clv_release(v);

	if (best == 0)
		return false;
	*qini = model / best;
	return true;
}
