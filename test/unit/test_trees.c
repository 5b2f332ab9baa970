/*
 * test_trees.c — unit tests of the tree ensembles, without a server.
 *
 * TAP, like test_core.c.  References are independent of the code under
 * test: Shapley values by brute force over every subset of features with
 * the cover-weighted conditional expectation of the TreeSHAP paper, planted
 * thresholds and default directions, R² on held-out Friedman #1 rows, and
 * byte comparisons of encoded models for determinism.
 *
 * CLV_TEST_QUICK=1 (used by unit-san) shrinks the data sets so the
 * sanitised build finishes in reasonable time.
 *
 * Build and run: make unit (or make unit-san)
 */
#include "clv_core.h"
#include "model.h"
#include "trees.h"
#include "tree_internal.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"

/* ---- TAP output ---------------------------------------------------------- */

static bool quick = false;

/* ---- deterministic random numbers ---------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static void
rng_seed(uint64_t seed)
{
	rng_state = seed;
}

static double
rng_uniform(void)
{
	uint64_t	z = (rng_state += 0x9E3779B97F4A7C15u);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	z ^= z >> 31;
	return ((z >> 11) + 0.5) * 0x1.0p-53;
}

static double
rng_normal(void)
{
	return sqrt(-2 * log(rng_uniform())) * cos(2 * M_PI * rng_uniform());
}

/* Gamma(shape, 1) by Marsaglia and Tsang, shape >= 1. */
static double
rng_gamma(double shape)
{
	double		d = shape - 1.0 / 3,
				c = 1 / sqrt(9 * d);

	for (;;)
	{
		double		z = rng_normal(),
					v = pow(1 + c * z, 3),
					u = rng_uniform();

		if (v > 0 && log(u) < 0.5 * z * z + d - d * v + d * log(v))
			return d * v;
	}
}

/* ---- data ------------------------------------------------------------------- */

typedef struct dataset
{
	size_t		n;
	uint32_t	p;
	double	   *x;
	double	   *y;
} dataset;

static dataset
dataset_new(size_t n, uint32_t p)
{
	dataset		d = {n, p, calloc(n * p, sizeof(double)), calloc(n, sizeof(double))};

	return d;
}

static void
dataset_free(dataset *d)
{
	free(d->x);
	free(d->y);
}

static double
friedman_row(double *x, uint32_t p)
{
	for (uint32_t j = 0; j < p; j++)
		x[j] = rng_uniform();
	return 10 * sin(M_PI * x[0] * x[1]) + 20 * pow(x[2] - 0.5, 2) + 10 * x[3] + 5 * x[4] +
		rng_normal();
}

static dataset
friedman(size_t n, uint64_t seed)
{
	dataset		d = dataset_new(n, 10);

	rng_seed(seed);
	for (size_t i = 0; i < n; i++)
		d.y[i] = friedman_row(d.x + i * 10, 10);
	return d;
}

/* Rows of d into a buffer, in the order given (NULL = natural). */
static void
load_rows(clv_tree_rows *rows, const dataset *d, const size_t *order)
{
	clv_error	err;

	clv_tree_rows_init(rows, d->p, 0);
	for (size_t k = 0; k < d->n; k++)
	{
		size_t		i = order ? order[k] : k;

		if (clv_tree_rows_append(rows, d->y[i], d->x + i * d->p, &err) != CLV_OK)
		{
			diag("append failed: %s", err.message);
			abort();
		}
	}
}

static double
r2_of(const clv_ensemble *e, const dataset *d)
{
	double		mean = 0,
				ss = 0,
				sr = 0;

	for (size_t i = 0; i < d->n; i++)
		mean += d->y[i] / d->n;
	for (size_t i = 0; i < d->n; i++)
	{
		double		f = clv_ensemble_predict(e, d->x + i * d->p);

		sr += pow(d->y[i] - f, 2);
		ss += pow(d->y[i] - mean, 2);
	}
	return 1 - sr / ss;
}

static clv_ensemble *
train_forest(const dataset *d, const size_t *order, const clv_forest_options *opt)
{
	clv_tree_rows rows;
	clv_ensemble *e = NULL;
	clv_error	err;

	load_rows(&rows, d, order);
	if (clv_forest_train(&rows, opt, &e, &err) != CLV_OK)
		diag("forest training failed: %s (%s)", err.message, err.detail);
	clv_tree_rows_free(&rows);
	return e;
}

static clv_ensemble *
train_gbm(const dataset *d, const size_t *order, const clv_gbm_options *opt)
{
	clv_tree_rows rows;
	clv_ensemble *e = NULL;
	clv_error	err;

	load_rows(&rows, d, order);
	if (clv_gbm_train(&rows, opt, &e, &err) != CLV_OK)
		diag("gbm training failed: %s (%s)", err.message, err.detail);
	clv_tree_rows_free(&rows);
	return e;
}

/* The ensemble inside a model container, as the glue would store it. */
static clv_buf
encode_model(clv_ensemble *e)
{
	clv_model	m;
	clv_buf		buf;

	memset(&m, 0, sizeof(m));
	m.kind = e->type == CLV_ENSEMBLE_FOREST ? CLV_KIND_FOREST : CLV_KIND_GBM;
	m.n_features = e->n_features;
	m.meta = "{}";
	m.ensemble = e;
	clv_model_encode(&m, &buf);
	return buf;
}

static bool
same_bytes(clv_ensemble *a, clv_ensemble *b)
{
	clv_buf		ea,
				eb;
	bool		same;

	if (a == NULL || b == NULL)
		return false;
	ea = encode_model(a);
	eb = encode_model(b);
	same = ea.len == eb.len && memcmp(ea.data, eb.data, ea.len) == 0;
	clv_release(ea.data);
	clv_release(eb.data);
	return same;
}

/* ---- rows and bins ------------------------------------------------------------ */

static long sort_polls;

static void
count_poll(void)
{
	sort_polls++;
}

/* The canonical order of 300,000 rows: sorted, and a sort that can be cancelled. */
static void
test_rows_sort(void)
{
	clv_tree_rows rows;
	clv_error	err;
	size_t		n = 300000;
	double		x[2];
	bool		ok = true;

	clv_tree_rows_init(&rows, 2, 0);
	for (size_t i = 0; i < n; i++)
	{
		x[0] = (double) (i % 7);
		x[1] = (double) i;
		clv_tree_rows_append(&rows, (double) ((n - i) % 1000), x, &err);
	}
	clv_rt.check_interrupts = count_poll;
	sort_polls = 0;
	tree_rows_sort(&rows);
	clv_rt.check_interrupts = NULL;
	for (size_t i = 1; i < n; i++)
		ok &= rows.y[i - 1] < rows.y[i] ||
			(rows.y[i - 1] == rows.y[i] &&
			 memcmp(&rows.x[(i - 1) * 2], &rows.x[i * 2], 2 * sizeof(float)) < 0);
	check(ok, "rows: the canonical sort orders 300,000 rows by y, then by x's bits");
	check(sort_polls > 0, "rows: the canonical sort checks for interrupts (%ld checks)", sort_polls);
	clv_tree_rows_free(&rows);
}

static void
test_rows(void)
{
	clv_tree_rows rows;
	clv_error	err;
	double		x[3] = {1, 2, 3};
	size_t		row_bytes = 3 * sizeof(float) + sizeof(double);
	clv_status	st = CLV_OK;

	clv_tree_rows_init(&rows, 3, 100 * row_bytes);
	for (int i = 0; i < 100 && st == CLV_OK; i++)
		st = clv_tree_rows_append(&rows, i, x, &err);
	check_status(st, CLV_OK, &err, "rows: 100 rows fit a 100-row limit");
	st = clv_tree_rows_append(&rows, 1, x, &err);
	check_status(st, CLV_ERR_LIMIT, &err, "rows: row 101 exceeds the memory limit");
	check(strstr(err.detail, "101 rows") != NULL && strstr(err.message, "memory limit") != NULL,
		  "rows: the limit error names the sizes (%s / %s)", err.message, err.detail);
	check(rows.cap <= 100, "rows: capacity stays within the limit (%zu)", rows.cap);
	clv_tree_rows_free(&rows);

	clv_tree_rows_init(&rows, 3, 0);
	check_status(clv_tree_rows_append(&rows, NAN, x, &err), CLV_ERR_INVALID, &err,
				 "rows: a NaN target is refused");
	check_status(clv_tree_rows_append(&rows, INFINITY, x, &err), CLV_ERR_INVALID, &err,
				 "rows: an infinite target is refused");
	x[1] = 1e39;
	check_status(clv_tree_rows_append(&rows, 1, x, &err), CLV_ERR_INVALID, &err,
				 "rows: a feature beyond float4 range is refused");
	x[1] = -INFINITY;
	check_status(clv_tree_rows_append(&rows, 1, x, &err), CLV_ERR_INVALID, &err,
				 "rows: an infinite feature is refused");
	x[1] = NAN;
	check_status(clv_tree_rows_append(&rows, 1, x, &err), CLV_OK, &err,
				 "rows: a NaN feature is a missing value");
	check(rows.n == 1 && isnan(rows.x[1]), "rows: only the valid row is stored");
	clv_tree_rows_free(&rows);
}

/* Every value's code must agree with the thresholds under x < threshold. */
static bool
codes_agree(const tree_bins *b, const clv_tree_rows *rows, uint32_t j)
{
	for (size_t i = 0; i < rows->n; i++)
	{
		double		v = rows->x[i * rows->p + j];
		uint8_t		c = tree_bins_column(b, j)[i];

		if (isnan(v))
		{
			if (!b->has_missing[j] || c != b->n_bins[j])
				return false;
			continue;
		}
		if (c >= b->n_bins[j])
			return false;
		if (c + 1u < b->n_bins[j] && !(v < tree_bins_threshold(b, j, c)))
			return false;
		if (c > 0 && v < tree_bins_threshold(b, j, c - 1))
			return false;
	}
	return true;
}

static void
test_bins(void)
{
	enum {N = 1000, P = 5};
	dataset		d = dataset_new(N, P);
	clv_tree_rows rows;
	tree_bins	b;
	size_t		per_bin[CLV_TREES_MAX_BINS + 1] = {0};
	size_t		largest = 0;

	rng_seed(7);
	for (size_t i = 0; i < N; i++)
	{
		double	   *x = d.x + i * P;

		x[0] = 3.5;				/* constant */
		x[1] = NAN;				/* all missing */
		x[2] = (double) (i % 7) - 2;	/* 7 distinct values */
		x[3] = i < 900 ? 1.0 : rng_uniform();	/* 90% ties */
		x[4] = i % 10 == 0 ? NAN : rng_normal();	/* continuous with missing */
	}
	load_rows(&rows, &d, NULL);
	tree_bins_build(&rows, 16, &b);

	check(b.n_bins[0] == 1 && !b.has_missing[0] && codes_agree(&b, &rows, 0),
		  "bins: a constant feature has one bin (%u)", b.n_bins[0]);
	check(b.n_bins[1] == 1 && b.has_missing[1] && codes_agree(&b, &rows, 1),
		  "bins: an all-missing feature has one empty value bin and the missing code");
	check(b.n_bins[2] == 7 && codes_agree(&b, &rows, 2),
		  "bins: 7 distinct values give 7 bins under a limit of 16 (%u)", b.n_bins[2]);
	for (size_t i = 0; i < N; i++)
		per_bin[tree_bins_column(&b, 3)[i]]++;
	for (int k = 0; k < CLV_TREES_MAX_BINS; k++)
		largest = per_bin[k] > largest ? per_bin[k] : largest;
	check(largest == 900 && b.n_bins[3] <= 16 && codes_agree(&b, &rows, 3),
		  "bins: tied values share one bin (largest bin %zu rows, %u bins)", largest, b.n_bins[3]);
	check(b.n_bins[4] == 15 && b.has_missing[4] && codes_agree(&b, &rows, 4),
		  "bins: with missing values, 15 value bins + the missing code fit 16 (%u)", b.n_bins[4]);
	memset(per_bin, 0, sizeof(per_bin));
	for (size_t i = 0; i < N; i++)
		per_bin[tree_bins_column(&b, 4)[i]]++;
	largest = 0;
	for (int k = 0; k < 15; k++)
		largest = per_bin[k] > largest ? per_bin[k] : largest;
	check(largest <= 900 / 15 + 2, "bins: quantile bins are balanced (largest %zu of 900)", largest);
	tree_bins_free(&b);

	tree_bins_build(&rows, 256, &b);
	check(b.n_bins[4] == 255 && codes_agree(&b, &rows, 4),
		  "bins: 256 bins with missing values: 255 value bins (%u)", b.n_bins[4]);
	tree_bins_free(&b);
	clv_tree_rows_free(&rows);
	dataset_free(&d);
}

/* ---- splits --------------------------------------------------------------------- */

static void
test_planted_split(void)
{
	enum {N = 4000, P = 4};
	dataset		d = dataset_new(N, P);
	clv_forest_options fo;
	clv_gbm_options go;
	clv_ensemble *e;

	rng_seed(11);
	for (size_t i = 0; i < N; i++)
	{
		for (int j = 0; j < P; j++)
			d.x[i * P + j] = rng_uniform();
		d.y[i] = (d.x[i * P + 2] < 0.37 ? 1.0 : 5.0) + 0.1 * rng_normal();
	}
	clv_forest_options_default(&fo, P, false);
	fo.n_trees = 1;
	fo.mtry = P;
	fo.tree.max_depth = 1;
	fo.replace = false;
	e = train_forest(&d, NULL, &fo);
	check(e && e->nodes[0].feature == 2 && fabs(e->nodes[0].threshold - 0.37) < 0.01,
		  "split: a stump finds the planted threshold 0.37 on feature 3 (%d, %.4f)",
		  e ? e->nodes[0].feature : -9, e ? e->nodes[0].threshold : NAN);
	check(e && fabs(e->nodes[e->nodes[0].left].value - 1) < 0.05 &&
		  fabs(e->nodes[e->nodes[0].right].value - 5) < 0.05,
		  "split: leaves hold the two means");
	clv_ensemble_free(e);

	clv_gbm_options_default(&go);
	go.n_rounds = 1;
	go.tree.max_depth = 1;
	e = train_gbm(&d, NULL, &go);
	check(e && e->nodes[0].feature == 2 && fabs(e->nodes[0].threshold - 0.37) < 0.01,
		  "split: a boosting stump finds it too (%d, %.4f)",
		  e ? e->nodes[0].feature : -9, e ? e->nodes[0].threshold : NAN);
	clv_ensemble_free(e);
	dataset_free(&d);
}

static void
test_missing_direction(void)
{
	enum {N = 3000, P = 3};
	dataset		d = dataset_new(N, P);
	clv_gbm_options go;
	clv_ensemble *e;
	double		x[P] = {NAN, 0.5, 0.5};

	/* x0 missing where y is high: the learned direction must be right */
	for (int side = 0; side < 2; side++)
	{
		rng_seed(21 + side);
		for (size_t i = 0; i < N; i++)
		{
			double		u = rng_uniform();

			for (int j = 0; j < P; j++)
				d.x[i * P + j] = rng_uniform();
			if (u < 0.3)
			{
				d.x[i * P] = NAN;
				d.y[i] = side == 0 ? 10 : 0;
			}
			else
				d.y[i] = d.x[i * P] < 0.5 ? 0 : 10;
		}
		clv_gbm_options_default(&go);
		go.n_rounds = 1;
		go.tree.max_depth = 1;
		go.learning_rate = 1;
		go.l2 = 0;
		e = train_gbm(&d, NULL, &go);
		check(e && e->nodes[0].feature == 0 && e->nodes[0].default_left == side &&
			  fabs(clv_ensemble_predict(e, x) - (side == 0 ? 10 : 0)) < 0.5,
			  "missing: NaNs that look like the %s side learn to go %s (prediction %.3f)",
			  side == 0 ? "high" : "low", side == 0 ? "right" : "left",
			  e ? clv_ensemble_predict(e, x) : NAN);
		clv_ensemble_free(e);
	}

	/* missing versus present, nothing else: the "all values left" split */
	rng_seed(23);
	for (size_t i = 0; i < N; i++)
	{
		bool		miss = rng_uniform() < 0.5;

		for (int j = 0; j < P; j++)
			d.x[i * P + j] = rng_uniform();
		d.x[i * P + 1] = miss ? NAN : 2.0;
		d.y[i] = miss ? 3 : -3;
	}
	go.n_rounds = 1;
	e = train_gbm(&d, NULL, &go);
	x[0] = 0.5;
	x[1] = NAN;
	check(e && e->nodes[0].feature == 1 && fabs(clv_ensemble_predict(e, x) - 3) < 0.01 &&
		  fabs(clv_ensemble_predict(e, (double[]) {0.5, 2.0, 0.5}) + 3) < 0.01,
		  "missing: a feature whose only signal is missingness is split on it");
	clv_ensemble_free(e);
	dataset_free(&d);
}

/* ---- determinism ---------------------------------------------------------------- */

static void
test_determinism(void)
{
	size_t		n = quick ? 1500 : 6000;
	dataset		d = friedman(n, 31);
	size_t	   *shuffled = malloc(sizeof(size_t) * n);
	clv_forest_options fo;
	clv_gbm_options go;
	clv_ensemble *a,
			   *b,
			   *c;

	/* missing values too, so default directions take part */
	for (size_t i = 0; i < n; i += 7)
		d.x[i * 10 + i % 10] = NAN;
	for (size_t i = 0; i < n; i++)
		shuffled[i] = i;
	rng_seed(5);
	for (size_t i = n - 1; i > 0; i--)
	{
		size_t		k = (size_t) (rng_uniform() * (i + 1));
		size_t		t = shuffled[i];

		shuffled[i] = shuffled[k];
		shuffled[k] = t;
	}

	clv_forest_options_default(&fo, 10, false);
	fo.n_trees = 12;
	fo.tree.seed = 99;
	fo.permutation_importance = true;
	a = train_forest(&d, NULL, &fo);
	fo.tree.n_threads = 3;
	b = train_forest(&d, NULL, &fo);
	c = train_forest(&d, shuffled, &fo);
	check(same_bytes(a, b), "determinism: forest, 1 and 3 threads give the same bytes");
	check(same_bytes(a, c), "determinism: forest, shuffled rows give the same bytes");
	clv_ensemble_free(b);
	fo.tree.seed = 100;
	b = train_forest(&d, NULL, &fo);
	check(a && b && !same_bytes(a, b), "determinism: forest, another seed gives another model");
	clv_ensemble_free(a);
	clv_ensemble_free(b);
	clv_ensemble_free(c);

	fo.replace = false;
	fo.sample_fraction = 0.5;
	fo.tree.n_threads = 1;
	a = train_forest(&d, NULL, &fo);
	fo.tree.n_threads = 2;
	b = train_forest(&d, shuffled, &fo);
	check(same_bytes(a, b), "determinism: forest subsampling, threads and order do not matter");
	clv_ensemble_free(a);
	clv_ensemble_free(b);

	clv_gbm_options_default(&go);
	go.n_rounds = 30;
	go.subsample = 0.7;
	go.colsample = 0.6;
	go.validation_fraction = 0.2;
	go.early_stopping_rounds = 5;
	go.tree.seed = 3;
	a = train_gbm(&d, NULL, &go);
	go.tree.n_threads = 4;
	b = train_gbm(&d, NULL, &go);
	c = train_gbm(&d, shuffled, &go);
	check(same_bytes(a, b), "determinism: gbm, 1 and 4 threads give the same bytes");
	check(same_bytes(a, c), "determinism: gbm, shuffled rows give the same bytes");
	clv_ensemble_free(a);
	clv_ensemble_free(b);
	clv_ensemble_free(c);
	free(shuffled);
	dataset_free(&d);
}

/* Depth of every node from its tree's root; children come after parents. */
static bool
tree_limits_hold(const clv_ensemble *e, uint32_t max_depth, double min_leaf_cover)
{
	uint32_t   *depth = calloc(e->n_nodes, sizeof(uint32_t));
	bool		ok = true;

	for (uint32_t i = 0; i < e->n_nodes; i++)
	{
		const clv_tree_node *nd = &e->nodes[i];

		if (nd->feature >= 0)
			depth[nd->left] = depth[nd->right] = depth[i] + 1;
		else if (nd->cover < min_leaf_cover)
			ok = false;
		if (depth[i] > max_depth)
			ok = false;
	}
	free(depth);
	return ok;
}

static void
test_limits_and_merge(void)
{
	dataset		d = friedman(3000, 35);
	clv_forest_options fo;
	clv_gbm_options go;
	clv_ensemble *a,
			   *b;
	clv_tree_rows r1,
				r2,
				all;
	clv_error	err;
	dataset		half = d;

	clv_forest_options_default(&fo, 10, false);
	fo.n_trees = 5;
	fo.tree.max_depth = 7;
	fo.tree.min_samples_leaf = 20;
	a = train_forest(&d, NULL, &fo);
	check(a && tree_limits_hold(a, 7, 20), "limits: forest depth <= 7 and every leaf has >= 20 rows");
	clv_ensemble_free(a);
	clv_gbm_options_default(&go);
	go.n_rounds = 5;
	go.tree.max_depth = 4;
	go.tree.min_samples_leaf = 1;
	go.min_child_weight = 50;
	a = train_gbm(&d, NULL, &go);
	check(a && tree_limits_hold(a, 4, 50), "limits: boosting depth <= 4 and every leaf has hessian >= 50");
	clv_ensemble_free(a);
	go.tree.min_gain = 1e9;
	a = train_gbm(&d, NULL, &go);
	check(a && a->n_nodes == a->n_trees, "limits: a huge min_gain leaves every tree a single leaf");
	clv_ensemble_free(a);

	/* two partial states merged either way round give the model of all rows */
	half.n = 1000;
	load_rows(&r1, &half, NULL);
	half.x = d.x + 1000 * 10;
	half.y = d.y + 1000;
	half.n = 2000;
	load_rows(&r2, &half, NULL);
	clv_tree_rows_init(&all, 10, 0);
	clv_tree_rows_merge(&all, &r2, &err);
	clv_tree_rows_merge(&all, &r1, &err);
	fo.tree.min_samples_leaf = 5;
	if (clv_forest_train(&all, &fo, &a, &err) != CLV_OK)
		a = NULL;
	b = train_forest(&d, NULL, &fo);
	check(same_bytes(a, b), "merge: rows merged in another order give the same forest");
	clv_ensemble_free(a);
	clv_ensemble_free(b);
	clv_tree_rows_free(&r1);
	clv_tree_rows_free(&all);

	clv_tree_rows_init(&r1, 10, (size_t) 1500 * (10 * sizeof(float) + sizeof(double)));
	half.n = 1000;
	load_rows(&all, &half, NULL);
	check_status(clv_tree_rows_merge(&r1, &r2, &err), CLV_ERR_LIMIT, &err,
				 "merge: 2000 rows into a 1500-row limit is refused");
	check_status(clv_tree_rows_merge(&r1, &all, &err), CLV_OK, &err,
				 "merge: 1000 rows into it are accepted");
	clv_tree_rows_free(&r1);
	clv_tree_rows_free(&r2);
	clv_tree_rows_free(&all);
	dataset_free(&d);
}

static void
test_edge_cases(void)
{
	dataset		d = dataset_new(2, 1);
	clv_forest_options fo;
	clv_gbm_options go;
	clv_ensemble *e;
	double		x = 0.5,
				expected,
				phi[3];
	bool		ok = true;

	/* two rows, one feature */
	d.x[0] = 0;
	d.x[1] = 1;
	d.y[0] = 1;
	d.y[1] = 3;
	clv_forest_options_default(&fo, 1, false);
	fo.tree.min_samples_leaf = 1;
	fo.n_trees = 3;
	fo.tree.n_threads = 8;
	e = train_forest(&d, NULL, &fo);
	ok &= e && isfinite(clv_ensemble_predict(e, &x));
	clv_ensemble_free(e);
	clv_gbm_options_default(&go);
	go.tree.max_bins = 2;
	e = train_gbm(&d, NULL, &go);
	ok &= e && isfinite(clv_ensemble_predict(e, &x));
	clv_ensemble_free(e);
	check(ok, "edge: two rows and one feature train (8 threads for 3 trees, 2 bins)");
	dataset_free(&d);

	/* a constant target, an all-missing feature, a tiny sample */
	d = dataset_new(500, 3);
	for (size_t i = 0; i < d.n; i++)
	{
		d.x[i * 3] = NAN;
		d.x[i * 3 + 1] = (double) i;
		d.x[i * 3 + 2] = i % 2;
		d.y[i] = 2.5;
	}
	clv_forest_options_default(&fo, 3, false);
	fo.n_trees = 4;
	fo.sample_fraction = 0.001;
	e = train_forest(&d, NULL, &fo);
	check(e && e->n_nodes == e->n_trees && clv_ensemble_predict(e, d.x) == 2.5 && isnan(e->oob_score),
		  "edge: a constant target gives single-leaf trees predicting it, OOB R² undefined");
	clv_ensemble_free(e);
	clv_gbm_options_default(&go);
	e = train_gbm(&d, NULL, &go);
	if (e)
		clv_ensemble_explain(e, d.x, phi, &expected);
	check(e && e->base_score == 2.5 && fabs(clv_ensemble_predict(e, d.x) - 2.5) < 1e-12 &&
		  expected == 2.5 && phi[0] == 0 && phi[1] == 0 && phi[2] == 0,
		  "edge: boosting a constant target predicts it, with no contributions");
	clv_ensemble_free(e);

	/* targets whose sums overflow: an error, not a model that cannot be read */
	for (size_t i = 0; i < d.n; i++)
		d.y[i] = 1.5e308;
	{
		clv_tree_rows rows;
		clv_error	err;
		clv_ensemble *big = NULL;

		load_rows(&rows, &d, NULL);
		fo.sample_fraction = 1;
		check_status(clv_forest_train(&rows, &fo, &big, &err), CLV_ERR_DATA, &err,
					 "edge: targets whose sum overflows are refused");
		clv_tree_rows_free(&rows);
	}
	dataset_free(&d);
}

/* ---- the prediction layout ------------------------------------------------------- */

/* The margin by the plain walk over clv_tree_node, leaves summed in tree order. */
static double
reference_margin(const clv_ensemble *e, const double *x)
{
	double		sum = 0;

	for (uint32_t t = 0; t < e->n_trees; t++)
		sum += ensemble_leaf(e->nodes, e->tree_start[t], x)->value;
	return e->type == CLV_ENSEMBLE_FOREST ? sum / e->n_trees : e->base_score + sum;
}

static bool
margins_identical(const clv_ensemble *e, const dataset *d)
{
	bool		same = e != NULL;

	for (size_t i = 0; same && i < d->n; i++)
	{
		double		a = clv_ensemble_margin(e, d->x + i * d->p);
		double		b = reference_margin(e, d->x + i * d->p);

		same = memcmp(&a, &b, 8) == 0;
	}
	return same;
}

static void
test_prediction_layout(void)
{
	dataset		d = friedman(1500, 47);
	dataset		q = friedman(600, 48);
	clv_forest_options fo;
	clv_gbm_options go;
	clv_ensemble *e;

	/* missing values both ways in training; at prediction also ±Inf and thresholds */
	for (size_t i = 0; i < d.n; i += 3)
		d.x[i * 10 + (i % 7 == 0 ? 0 : 3)] = NAN;
	for (size_t i = 0; i < q.n; i += 4)
		q.x[i * 10 + i % 10] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;

	/* groups of trees walked in step and a remainder; uneven depths */
	clv_forest_options_default(&fo, 10, false);
	fo.n_trees = 37;
	fo.tree.min_samples_leaf = 20;
	e = train_forest(&d, NULL, &fo);
	for (size_t i = 0; e && i < q.n; i += 5)
		q.x[i * 10 + 1] = e->nodes[0].feature == 1 ? e->nodes[0].threshold : 0.5;
	check(margins_identical(e, &q), "layout: forest margins are bit for bit the plain walk's");
	clv_ensemble_free(e);

	clv_gbm_options_default(&go);
	go.n_rounds = 35;
	go.tree.max_depth = 5;
	e = train_gbm(&d, NULL, &go);
	check(margins_identical(e, &q), "layout: boosted margins are bit for bit the plain walk's");
	clv_ensemble_free(e);

	/* a single-leaf tree first, in step with deeper ones: its self-loop wraps around 0 */
	{
		clv_ensemble *h = ensemble_new(2, 33, 97);
		clv_buf		buf;
		clv_reader	r;
		clv_error	err;
		dataset		x2 = dataset_new(5, 2);

		h->type = CLV_ENSEMBLE_BOOSTED;
		h->nodes[0] = (clv_tree_node) {-1, 0, 0, 0, 0, 0.25, 10};
		h->tree_start[0] = 0;
		for (uint32_t t = 1; t <= 32; t++)
		{
			uint32_t	a = 1 + 3 * (t - 1);

			h->tree_start[t] = a;
			h->nodes[a] = (clv_tree_node) {(int32_t) (t % 2), a + 1, a + 2, t % 3 == 0, 0.1 * t, 0, 10};
			h->nodes[a + 1] = (clv_tree_node) {-1, 0, 0, 0, 0, -1.0 / t, 4};
			h->nodes[a + 2] = (clv_tree_node) {-1, 0, 0, 0, 0, 3.0 / t, 6};
		}
		h->tree_start[33] = 97;
		memcpy(x2.x, (double[]) {0.05, 0.95, NAN, 0.3, 0.5, NAN, 0.2, 0.2, -1, 2}, sizeof(double) * 10);
		clv_buf_init(&buf, 64);
		clv_ensemble_encode(h, 2, &buf);
		r = (clv_reader) {buf.data, buf.len, 0};
		e = NULL;
		check_status(clv_ensemble_decode(&r, 2, 2, &e, &err), CLV_OK, &err,
					 "layout: a hand-made ensemble decodes");
		check(margins_identical(e, &x2),
			  "layout: a leaf at index 0 walked in step with splits predicts as the plain walk");
		clv_ensemble_free(e);
		clv_ensemble_free(h);
		clv_release(buf.data);
		dataset_free(&x2);
	}
	dataset_free(&d);
	dataset_free(&q);
}

/* ---- the codec ---------------------------------------------------------------------- */

static void
test_codec(void)
{
	dataset		d = friedman(800, 41);
	clv_gbm_options go;
	clv_ensemble *e;
	clv_buf		buf,
				again;
	clv_model  *m = NULL;
	clv_error	err;
	bool		all_fail = true,
				exact = true;
	int			flips_ok = 0;

	for (size_t i = 0; i < d.n; i += 5)
		d.x[i * 10 + 3] = NAN;
	clv_gbm_options_default(&go);
	go.n_rounds = 5;
	go.tree.max_depth = 3;
	e = train_gbm(&d, NULL, &go);
	buf = encode_model(e);
	check_status(clv_model_decode(buf.data, buf.len, &m, &err), CLV_OK, &err,
				 "codec: an encoded gbm decodes");
	if (m)
	{
		clv_model	copy = *m;

		check(m->kind == CLV_KIND_GBM && strcmp(clv_model_kind_name(m->kind), "gbm") == 0,
			  "codec: the kind is gbm");
		copy.meta = "{}";
		clv_model_encode(&copy, &again);
		check(again.len == buf.len && memcmp(again.data, buf.data, buf.len) == 0,
			  "codec: decode then encode gives the same bytes");
		clv_release(again.data);
		for (size_t i = 0; i < d.n; i++)
		{
			double		p1 = clv_ensemble_predict(e, d.x + i * 10);
			double		p2 = clv_ensemble_predict(m->ensemble, d.x + i * 10);

			exact &= memcmp(&p1, &p2, 8) == 0;
		}
		check(exact, "codec: the decoded model predicts bit for bit the same");
	}
	clv_model_free(m);

	for (size_t len = 0; len < buf.len; len++)
	{
		m = NULL;
		if (clv_model_decode(buf.data, len, &m, &err) == CLV_OK)
			all_fail = false;
		clv_model_free(m);
	}
	check(all_fail, "codec: each of the %zu truncations fails", buf.len);

	/* random bit flips: the CRC catches them; with the CRC fixed, checks must */
	rng_seed(43);
	for (int k = 0; k < 2000; k++)
	{
		unsigned char *copy = malloc(buf.len);
		size_t		bit = (size_t) (rng_uniform() * buf.len * 8);
		clv_status	st;

		memcpy(copy, buf.data, buf.len);
		copy[bit / 8] ^= (unsigned char) (1 << (bit % 8));
		m = NULL;
		st = clv_model_decode(copy, buf.len, &m, &err);
		clv_model_free(m);
		if (st != CLV_OK && err.message[0])
			flips_ok++;
		free(copy);
	}
	check(flips_ok == 2000, "codec: 2000 random bit flips are all refused (%d)", flips_ok);
	clv_release(buf.data);
	clv_ensemble_free(e);
	dataset_free(&d);
}

/* A hand-made ensemble: one tree, root splits feature 0 at 0.5. */
static clv_ensemble *
tiny_ensemble(void)
{
	clv_ensemble *e = ensemble_new(2, 1, 3);

	e->type = CLV_ENSEMBLE_BOOSTED;
	e->tree_start[0] = 0;
	e->tree_start[1] = 3;
	e->nodes[0] = (clv_tree_node) {0, 1, 2, 1, 0.5, 0, 10};
	e->nodes[1] = (clv_tree_node) {-1, 0, 0, 0, 0, -1, 4};
	e->nodes[2] = (clv_tree_node) {-1, 0, 0, 0, 0, 2, 6};
	return e;
}

/* Encode e's payload in a format version's layout, decode it, free e. */
static clv_status
decode_payload_version(clv_ensemble *e, uint16_t version, clv_error *err)
{
	clv_buf		buf;
	clv_reader	r;
	clv_ensemble *out = NULL;
	clv_status	st;

	clv_buf_init(&buf, 64);
	clv_ensemble_encode(e, version, &buf);
	r = (clv_reader) {buf.data, buf.len, 0};
	st = clv_ensemble_decode(&r, 2, version, &out, err);
	if (st == CLV_OK && r.pos != r.len)
		st = CLV_ERR_INTERNAL;
	clv_ensemble_free(out);
	clv_release(buf.data);
	clv_ensemble_free(e);
	return st;
}

/* The version-1 layout's own checks: child indexes and tree offsets. */
static clv_status
decode_payload(clv_ensemble *e, clv_error *err)
{
	return decode_payload_version(e, 1, err);
}

static void
test_decoder_structure(void)
{
	clv_error	err;
	clv_ensemble *e;

	check_status(decode_payload(tiny_ensemble(), &err), CLV_OK, &err, "decoder: a valid tree decodes");
	for (uint32_t p = CLV_TREES_MAX_FEATURES; p <= CLV_TREES_MAX_FEATURES + 1; p++)
	{
		/* prediction copies x to a buffer of the maximum size */
		clv_ensemble *tiny = tiny_ensemble();
		clv_ensemble *wide = ensemble_new(p, 1, 3);
		clv_ensemble *out = NULL;
		clv_buf		buf;
		clv_reader	r;

		wide->type = tiny->type;
		memcpy(wide->tree_start, tiny->tree_start, sizeof(uint32_t) * 2);
		memcpy(wide->nodes, tiny->nodes, sizeof(clv_tree_node) * 3);
		clv_buf_init(&buf, 64);
		clv_ensemble_encode(wide, 1, &buf);
		r = (clv_reader) {buf.data, buf.len, 0};
		check_status(clv_ensemble_decode(&r, p, 1, &out, &err),
					 p > CLV_TREES_MAX_FEATURES ? CLV_ERR_CORRUPT : CLV_OK, &err,
					 p > CLV_TREES_MAX_FEATURES ? "decoder: more features than a fit allows are refused"
					 : "decoder: the most features a fit allows decode");
		clv_ensemble_free(out);
		clv_ensemble_free(wide);
		clv_ensemble_free(tiny);
		clv_release(buf.data);
	}
	e = tiny_ensemble();
	e->nodes[0].left = 0;
	check_status(decode_payload(e, &err), CLV_ERR_CORRUPT, &err, "decoder: a child equal to its parent is refused");
	e = tiny_ensemble();
	e->nodes[0].right = 3;
	check_status(decode_payload(e, &err), CLV_ERR_CORRUPT, &err, "decoder: a child past the tree is refused");
	e = tiny_ensemble();
	e->nodes[0].left = 2;
	check_status(decode_payload(e, &err), CLV_ERR_CORRUPT, &err, "decoder: two edges to one child are refused");
	e = tiny_ensemble();
	e->nodes[0].feature = 2;
	check_status(decode_payload(e, &err), CLV_ERR_CORRUPT, &err, "decoder: a feature out of range is refused");
	e = tiny_ensemble();
	e->nodes[0].threshold = NAN;
	check_status(decode_payload(e, &err), CLV_ERR_CORRUPT, &err, "decoder: a NaN threshold is refused");
	e = tiny_ensemble();
	e->nodes[2].value = INFINITY;
	check_status(decode_payload(e, &err), CLV_ERR_CORRUPT, &err, "decoder: an infinite leaf is refused");
	e = tiny_ensemble();
	e->nodes[1].cover = -1;
	check_status(decode_payload(e, &err), CLV_ERR_CORRUPT, &err, "decoder: a negative cover is refused");
	e = tiny_ensemble();
	e->nodes[2].cover = 7;
	check_status(decode_payload(e, &err), CLV_ERR_CORRUPT, &err, "decoder: covers that do not add up are refused");
	e = tiny_ensemble();
	e->tree_start[1] = 2;
	check_status(decode_payload(e, &err), CLV_ERR_CORRUPT, &err, "decoder: tree offsets that miss nodes are refused");
	e = tiny_ensemble();
	e->nodes[1].left = 2;
	check_status(decode_payload(e, &err), CLV_ERR_CORRUPT, &err, "decoder: a leaf with a child is refused");
	e = tiny_ensemble();
	e->n_trees = 200000;
	e->tree_start[1] = 3;
	{
		/* a hostile count: refused before allocation, with the bytes at hand */
		clv_buf		buf;
		clv_reader	r;
		clv_ensemble *out = NULL;
		uint32_t	n_trees = 3;

		clv_buf_init(&buf, 64);
		e->n_trees = 1;
		clv_ensemble_encode(e, 1, &buf);
		memcpy(buf.data + 16, &(uint32_t) {0xFFFFFFFFu}, 4);	/* node count */
		r = (clv_reader) {buf.data, buf.len, 0};
		check_status(clv_ensemble_decode(&r, 2, 1, &out, &err), CLV_ERR_CORRUPT, &err,
					 "decoder: a node count of 2^32 - 1 is refused before allocation");
		clv_ensemble_free(out);
		out = NULL;
		memcpy(buf.data + 16, &(uint32_t) {3}, 4);
		memcpy(buf.data + 12, &n_trees, 4);
		r = (clv_reader) {buf.data, buf.len, 0};
		check_status(clv_ensemble_decode(&r, 2, 1, &out, &err), CLV_ERR_CORRUPT, &err,
					 "decoder: more trees than offsets present is refused");
		clv_ensemble_free(out);
		clv_release(buf.data);
		clv_ensemble_free(e);
	}
	{
		/* a chain deeper than CLV_TREES_MAX_DEPTH */
		uint32_t	n = 2 * (CLV_TREES_MAX_DEPTH + 1) + 1;

		e = ensemble_new(2, 1, n);
		e->type = CLV_ENSEMBLE_BOOSTED;
		e->tree_start[0] = 0;
		e->tree_start[1] = n;
		for (uint32_t i = 0; i + 1 < n; i += 2)
		{
			e->nodes[i] = (clv_tree_node) {0, i + 1, i + 2, 0, 0.5, 0, 1};
			e->nodes[i + 1] = (clv_tree_node) {-1, 0, 0, 0, 0, 1, 1};
		}
		e->nodes[n - 1] = (clv_tree_node) {-1, 0, 0, 0, 0, 1, 1};
		check_status(decode_payload(e, &err), CLV_ERR_CORRUPT, &err,
					 "decoder: a tree deeper than the maximum is refused");
	}
}

/* ---- format versions: version-1 and version-2 payloads ---------------------------- */

/* The ensemble's payload in a format version's layout. */
static clv_buf
encode_payload(const clv_ensemble *e, uint16_t version)
{
	clv_buf		buf;

	clv_buf_init(&buf, 64);
	clv_ensemble_encode(e, version, &buf);
	return buf;
}

static clv_ensemble *
decode_payload_bytes(const clv_buf *buf, uint32_t p, uint16_t version, clv_error *err)
{
	clv_reader	r = {buf->data, buf->len, 0};
	clv_ensemble *out = NULL;

	if (clv_ensemble_decode(&r, p, version, &out, err) != CLV_OK)
	{
		clv_ensemble_free(out);
		return NULL;
	}
	if (r.pos != r.len)
	{
		/* as the model decoder reports it */
		clv_fail(err, CLV_ERR_CORRUPT, "invalid clv model");
		clv_set_detail(err, "The payload has trailing bytes.");
		clv_ensemble_free(out);
		return NULL;
	}
	return out;
}

static void
put_le(unsigned char *p, uint32_t v, int n)
{
	for (int b = 0; b < n; b++)
		p[b] = (unsigned char) (v >> (8 * b));
}

/*
 * A whole version-1 model around a version-1 payload, written from the
 * specification (header, no names, metadata "{}"), as clv 0.1.0 wrote it.
 */
static clv_buf
model_v1(const clv_ensemble *e)
{
	clv_buf		payload = encode_payload(e, 1);
	clv_buf		out;
	size_t		body_len = 4 + 4 + 2 + 4 + payload.len;
	unsigned char header[24];

	clv_buf_init(&out, 24 + body_len);
	memcpy(header, "CLVM", 4);
	put_le(header + 4, 1, 2);
	put_le(header + 6, e->type == CLV_ENSEMBLE_FOREST ? CLV_KIND_FOREST : CLV_KIND_GBM, 2);
	put_le(header + 8, 0, 4);
	put_le(header + 12, e->n_features, 4);
	put_le(header + 16, (uint32_t) body_len, 4);
	clv_buf_put(&out, header, 24);
	clv_buf_put_u32(&out, 0);
	clv_buf_put_u32(&out, 2);
	clv_buf_put(&out, "{}", 2);
	clv_buf_put_u32(&out, (uint32_t) payload.len);
	clv_buf_put(&out, payload.data, payload.len);
	put_le(out.data + 20, clv_crc32c(clv_crc32c(0, out.data, 20), out.data + 24, body_len), 4);
	clv_release(payload.data);
	return out;
}

/* Margins, predictions and TreeSHAP values of a and b on d's rows, bit for bit. */
static bool
same_scores(const clv_ensemble *a, const clv_ensemble *b, const dataset *d, size_t n_explain)
{
	double	   *phi_a = malloc(sizeof(double) * d->p);
	double	   *phi_b = malloc(sizeof(double) * d->p);
	bool		same = a != NULL && b != NULL;

	for (size_t i = 0; same && i < d->n; i++)
	{
		const double *x = d->x + i * d->p;
		double		ma = clv_ensemble_margin(a, x),
					mb = clv_ensemble_margin(b, x),
					pa = clv_ensemble_predict(a, x),
					pb = clv_ensemble_predict(b, x);

		same = memcmp(&ma, &mb, 8) == 0 && memcmp(&pa, &pb, 8) == 0;
		if (same && i < n_explain)
		{
			double		ea,
						eb;

			clv_ensemble_explain(a, x, phi_a, &ea);
			clv_ensemble_explain(b, x, phi_b, &eb);
			same = memcmp(&ea, &eb, 8) == 0 && memcmp(phi_a, phi_b, sizeof(double) * d->p) == 0;
		}
	}
	free(phi_a);
	free(phi_b);
	return same;
}

/*
 * One fitted ensemble through both payload versions and the model
 * container: every decoding scores bit for bit like the fitted ensemble,
 * version 2 re-encodes to itself, and its nodes take at most 16 bytes.
 */
static void
check_versions(const char *what, clv_ensemble *e, const dataset *q, uint32_t want_mode)
{
	clv_error	err;
	clv_buf		v1 = encode_payload(e, 1),
				v2 = encode_payload(e, 2);
	clv_ensemble *d1 = decode_payload_bytes(&v1, e->n_features, 1, &err);
	clv_ensemble *d2 = decode_payload_bytes(&v2, e->n_features, 2, &err);
	size_t		head = 5 * 4 + 8 + 4 + 4 * 8 + 8 * (size_t) e->n_features + 4 +
		(e->permutation_importance ? 8 * (size_t) e->n_features : 0);
	double		per_node = (double) (v2.len - head) / e->n_nodes;
	uint32_t	mode;
	clv_buf		model,
				again;
	clv_model  *m = NULL;

	check(d1 != NULL && d2 != NULL, "versions: %s decodes from both payload versions", what);
	check(same_scores(e, d1, q, 200) && same_scores(e, d2, q, 200),
		  "versions: %s: version 1 and 2 predict and explain bit for bit as fitted (%zu rows)",
		  what, q->n);
	memcpy(&mode, v2.data + head, 4);
	check(mode == want_mode && per_node <= 16,
		  "versions: %s: %.2f bytes a node in version 2 (cover encoding %u), %.2f in version 1",
		  what, per_node, mode, (double) (v1.len - head) / e->n_nodes);
	if (d1 && d2)
	{
		clv_buf		from1 = encode_payload(d1, 2),
					from2 = encode_payload(d2, 2),
					back = encode_payload(d2, 1);
		clv_ensemble *d21 = decode_payload_bytes(&back, e->n_features, 1, &err);

		check(from1.len == v2.len && memcmp(from1.data, v2.data, v2.len) == 0 &&
			  from2.len == v2.len && memcmp(from2.data, v2.data, v2.len) == 0,
			  "versions: %s: version 2 re-encodes to the same bytes, from either version", what);
		check(same_scores(e, d21, q, 0),
			  "versions: %s: written back as version 1, it still predicts the same", what);
		clv_ensemble_free(d21);
		clv_release(from1.data);
		clv_release(from2.data);
		clv_release(back.data);
	}

	/* whole models: a version-1 value as 0.1.0 wrote it, and today's */
	model = model_v1(e);
	check_status(clv_model_decode(model.data, model.len, &m, &err), CLV_OK, &err,
				 "versions: a version-1 model decodes");
	check(m != NULL && m->format_version == 1 && same_scores(e, m->ensemble, q, 0),
		  "versions: %s: the version-1 model scores bit for bit as fitted", what);
	if (m)
	{
		clv_model_encode(m, &again);
		check(again.len < model.len && again.data[4] == CLV_MODEL_FORMAT_VERSION,
			  "versions: %s: re-encoded, it is written in version %d, %zu bytes instead of %zu",
			  what, CLV_MODEL_FORMAT_VERSION, again.len, model.len);
		clv_model_free(m);
		m = NULL;
		check_status(clv_model_decode(again.data, again.len, &m, &err), CLV_OK, &err,
					 "versions: the re-encoded model decodes");
		check(m != NULL && same_scores(e, m->ensemble, q, 0),
			  "versions: %s: the re-encoded model scores bit for bit as fitted", what);
		clv_model_free(m);
		clv_release(again.data);
	}
	clv_release(model.data);
	clv_ensemble_free(d1);
	clv_ensemble_free(d2);
	clv_release(v1.data);
	clv_release(v2.data);
}

static void
test_versions(void)
{
	dataset		d = friedman(quick ? 1500 : 5000, 61);
	dataset		q = friedman(quick ? 2000 : 20000, 62);
	dataset		c = friedman(quick ? 1500 : 5000, 63);
	clv_forest_options fo;
	clv_gbm_options go;
	clv_ensemble *e;

	/* missing values in training and scoring; scoring also at every threshold */
	for (size_t i = 0; i < d.n; i += 3)
		d.x[i * 10 + (i % 7 == 0 ? 0 : 3)] = NAN;
	for (size_t i = 0; i < c.n; i++)
		c.y[i] = c.y[i] > 14;
	for (size_t i = 0; i < q.n; i += 4)
		q.x[i * 10 + i % 10] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;

	clv_forest_options_default(&fo, 10, false);
	fo.n_trees = quick ? 10 : 30;
	fo.tree.min_samples_leaf = 2;
	fo.permutation_importance = true;
	e = train_forest(&d, NULL, &fo);
	/* rows that sit exactly on thresholds, and a hair either side */
	for (size_t i = 0; e && i < q.n; i += 7)
	{
		const clv_tree_node *nd = &e->nodes[(i * 2654435761u) % e->n_nodes];

		if (nd->feature >= 0)
			q.x[i * 10 + nd->feature] = i % 3 == 0 ? nd->threshold :
				nextafter(nd->threshold, i % 3 == 1 ? -INFINITY : INFINITY);
	}
	check_versions("regression forest", e, &q, 1);
	clv_ensemble_free(e);

	clv_forest_options_default(&fo, 10, true);
	fo.n_trees = quick ? 10 : 30;
	fo.replace = false;
	fo.sample_fraction = 0.7;
	e = train_forest(&c, NULL, &fo);
	check_versions("classification forest", e, &q, 1);
	clv_ensemble_free(e);

	clv_gbm_options_default(&go);
	go.n_rounds = quick ? 15 : 60;
	go.tree.max_depth = 6;
	go.subsample = 0.8;
	e = train_gbm(&d, NULL, &go);
	check_versions("squared-loss boosting", e, &q, 1);
	clv_ensemble_free(e);

	go.loss = CLV_LOSS_LOGISTIC;
	go.subsample = 1;
	e = train_gbm(&c, NULL, &go);
	check_versions("logistic boosting", e, &q, 2);
	clv_ensemble_free(e);

	dataset_free(&d);
	dataset_free(&q);
	dataset_free(&c);
}

/* A version-2 payload of e with bytes [at, at + del) replaced by ins; decoded. */
static clv_status
decode_spliced(clv_ensemble *e, size_t at, size_t del, const void *ins, size_t n_ins,
			   clv_error *err)
{
	clv_buf		v2 = encode_payload(e, 2),
				out;
	clv_ensemble *d;
	clv_status	st;

	clv_buf_init(&out, v2.len + n_ins);
	clv_buf_put(&out, v2.data, at);
	clv_buf_put(&out, ins, n_ins);
	clv_buf_put(&out, v2.data + at + del, v2.len - at - del);
	d = decode_payload_bytes(&out, e->n_features, 2, err);
	st = d != NULL ? CLV_OK : err->status != CLV_OK ? err->status : CLV_ERR_INTERNAL;
	clv_ensemble_free(d);
	clv_release(v2.data);
	clv_release(out.data);
	clv_ensemble_free(e);
	return st;
}

static clv_status
decode_patched(clv_ensemble *e, size_t at, const void *bytes, size_t n, clv_error *err)
{
	return decode_spliced(e, at, n, bytes, n, err);
}

/* Two splits on feature 0 (thresholds 0.25 and 0.5), three leaves. */
static clv_ensemble *
two_split_ensemble(void)
{
	clv_ensemble *e = ensemble_new(2, 1, 5);

	e->type = CLV_ENSEMBLE_BOOSTED;
	e->tree_start[0] = 0;
	e->tree_start[1] = 5;
	e->nodes[0] = (clv_tree_node) {0, 1, 4, 0, 0.5, 0, 10};
	e->nodes[1] = (clv_tree_node) {0, 2, 3, 1, 0.25, 0, 6};
	e->nodes[2] = (clv_tree_node) {-1, 0, 0, 0, 0, 1, 2};
	e->nodes[3] = (clv_tree_node) {-1, 0, 0, 0, 0, 2, 4};
	e->nodes[4] = (clv_tree_node) {-1, 0, 0, 0, 0, 3, 4};
	return e;
}

static void
test_decoder_v2(void)
{
	/*
	 * tiny_ensemble() in version 2, p = 2: the node section starts at 84:
	 * cover encoding (84), index width (88), threshold counts 1, 0 (92),
	 * threshold 0.5 (100), tags 2 0 0 (108), feature 0 (111), index 0
	 * (113), leaf values -1, 2 (114), leaf covers 4, 6 (130); 138 bytes.
	 */
	const size_t base = 84;
	clv_error	err;
	clv_ensemble *e;
	clv_buf		tiny;
	uint32_t	u;
	double		v;

	e = tiny_ensemble();
	tiny = encode_payload(e, 2);
	clv_ensemble_free(e);
	{
		/* the example of doc/model-format.md, byte for byte */
		static const unsigned char doc_example[54] = {
			1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0xe0, 0x3f,
			2, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0xf0, 0xbf,
			0, 0, 0, 0, 0, 0, 0, 0x40,
			4, 0, 0, 0, 6, 0, 0, 0
		};

		check(tiny.len == base + sizeof(doc_example) &&
			  memcmp(tiny.data + base, doc_example, sizeof(doc_example)) == 0,
			  "decoder v2: the hand-made tree is the documented example (%zu bytes)", tiny.len);
	}
	clv_release(tiny.data);
	check_status(decode_spliced(tiny_ensemble(), 0, 0, NULL, 0, &err), CLV_OK, &err,
				 "decoder v2: a valid tree decodes");
	check_status(decode_spliced(two_split_ensemble(), 0, 0, NULL, 0, &err), CLV_OK, &err,
				 "decoder v2: two splits on one feature decode");

	u = 3;
	check_status(decode_patched(tiny_ensemble(), base, &u, 4, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: an unknown cover encoding is refused");
	check_status(decode_patched(tiny_ensemble(), base + 4, &u, 4, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: an index width of 3 is refused");
	u = 2;
	check_status(decode_patched(tiny_ensemble(), base + 4, &u, 4, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: an index width wider than needed is refused");
	{
		unsigned char more[20];

		memcpy(more, &(uint32_t) {2}, 4);
		check_status(decode_spliced(tiny_ensemble(), base + 8, 4, more, 4, &err), CLV_ERR_CORRUPT, &err,
					 "decoder v2: more thresholds than splits are refused");
		/* two splits on feature 0 at 0.5; feature 1 given a threshold, 0.75, too */
		e = two_split_ensemble();
		e->nodes[1].threshold = 0.5;
		memcpy(more, &(uint32_t) {1}, 4);
		memcpy(more + 4, &(double) {0.5}, 8);
		memcpy(more + 12, &(double) {0.75}, 8);
		check_status(decode_spliced(e, base + 12, 12, more, 20, &err), CLV_ERR_CORRUPT, &err,
					 "decoder v2: a threshold no split uses is refused");
		check(strstr(err.detail, "not used") != NULL, "decoder v2: ... as unused (%s)", err.detail);
	}
	v = 0.75;
	check_status(decode_patched(two_split_ensemble(), base + 16, &v, 8, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: thresholds out of order are refused");
	v = -0.0;
	check_status(decode_patched(tiny_ensemble(), base + 16, &v, 8, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: a threshold of -0 is refused");
	v = NAN;
	check_status(decode_patched(tiny_ensemble(), base + 16, &v, 8, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: a NaN threshold is refused");
	v = INFINITY;
	check_status(decode_patched(tiny_ensemble(), base + 16, &v, 8, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: an infinite threshold is refused");
	check_status(decode_patched(tiny_ensemble(), base + 24, "\3", 1, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: an unknown node tag is refused");
	check_status(decode_patched(tiny_ensemble(), base + 24, "\0", 1, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: a tree that ends before its nodes do is refused");
	check_status(decode_patched(tiny_ensemble(), base + 25, "\1", 1, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: more splits than the node count allows are refused");
	check_status(decode_patched(tiny_ensemble(), base + 27, "\2", 1, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: a feature out of range is refused");
	check_status(decode_patched(tiny_ensemble(), base + 27, "\0\1", 2, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: a feature past 255 is refused");
	check_status(decode_patched(tiny_ensemble(), base + 29, "\1", 1, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: a threshold index out of range is refused");
	v = INFINITY;
	check_status(decode_patched(tiny_ensemble(), base + 38, &v, 8, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: an infinite leaf is refused");
	check_status(decode_spliced(tiny_ensemble(), base + 54, 0, "\0", 1, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: a trailing byte is refused");
	u = 0xFFFFFFFFu;
	check_status(decode_patched(tiny_ensemble(), 16, &u, 4, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: a node count of 2^32 - 1 is refused before allocation");
	u = 4;
	check_status(decode_patched(tiny_ensemble(), 16, &u, 4, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: a node count that binary trees cannot have is refused");

	/* covers that are not row counts: the roots' and left children's, or all */
	for (uint32_t mode = 2; mode <= 3; mode++)
	{
		clv_ensemble *out;

		e = tiny_ensemble();
		e->nodes[0].cover = 10.5;
		e->nodes[1].cover = 4.25;
		e->nodes[2].cover = mode == 2 ? 6.25 : 6.2500001;
		tiny = encode_payload(e, 2);
		out = decode_payload_bytes(&tiny, 2, 2, &err);
		check(tiny.data[base] == mode && out != NULL && out->nodes[2].cover == e->nodes[2].cover &&
			  tiny.len == 138 + (mode == 2 ? 8 : 16),
			  "decoder v2: fractional covers decode in cover encoding %u", mode);
		clv_ensemble_free(out);
		clv_release(tiny.data);
		e->nodes[1].cover = -1;
		e->nodes[2].cover = mode == 2 ? 11.5 : 11.6;
		check(decode_spliced(e, 0, 0, NULL, 0, &err) == CLV_ERR_CORRUPT,
			  "decoder v2: a negative cover is refused in cover encoding %u", mode);
		e = tiny_ensemble();
		e->nodes[0].cover = 10.5;
		e->nodes[1].cover = 11;
		e->nodes[2].cover = mode == 2 ? 0 : 0.1;
		check(decode_spliced(e, 0, 0, NULL, 0, &err) == CLV_ERR_CORRUPT,
			  "decoder v2: a left child's cover above its parent's is refused in cover encoding %u",
			  mode);
	}
	{
		/* every node's covers (at 130) that a more compact encoding holds */
		const double counts[3] = {10, 4, 6},
					differences[3] = {10.5, 4.25, 6.25};

		for (int k = 0; k < 2; k++)
		{
			e = tiny_ensemble();
			e->nodes[0].cover = 10.5;
			e->nodes[1].cover = 4.25;
			e->nodes[2].cover = 6.2500001;
			check_status(decode_patched(e, base + 46, k == 0 ? counts : differences, 24, &err),
						 CLV_ERR_CORRUPT, &err, k == 0 ?
						 "decoder v2: row counts stored as float8 for every node are refused" :
						 "decoder v2: differences stored as float8 for every node are refused");
		}
	}
	e = tiny_ensemble();
	e->nodes[2].cover = 7;
	check_status(decode_spliced(e, 0, 0, NULL, 0, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: covers that do not add up are refused");
	e = tiny_ensemble();
	e->nodes[2].cover = NAN;
	check_status(decode_spliced(e, 0, 0, NULL, 0, &err), CLV_ERR_CORRUPT, &err,
				 "decoder v2: a NaN cover is refused");
	{
		/* chains at and past CLV_TREES_MAX_DEPTH */
		for (uint32_t depth = CLV_TREES_MAX_DEPTH; depth <= CLV_TREES_MAX_DEPTH + 1; depth++)
		{
			uint32_t	n = 2 * depth + 1;

			e = ensemble_new(2, 1, n);
			e->type = CLV_ENSEMBLE_BOOSTED;
			e->tree_start[0] = 0;
			e->tree_start[1] = n;
			for (uint32_t i = 0; i + 1 < n; i += 2)
			{
				e->nodes[i] = (clv_tree_node) {0, i + 1, i + 2, 0, 0.5, 0, (n - i) / 2 + 1};
				e->nodes[i + 1] = (clv_tree_node) {-1, 0, 0, 0, 0, 1, 1};
			}
			e->nodes[n - 1] = (clv_tree_node) {-1, 0, 0, 0, 0, 1, 1};
			check_status(decode_spliced(e, 0, 0, NULL, 0, &err),
						 depth > CLV_TREES_MAX_DEPTH ? CLV_ERR_CORRUPT : CLV_OK, &err,
						 depth > CLV_TREES_MAX_DEPTH ? "decoder v2: a tree deeper than the maximum is refused"
						 : "decoder v2: a tree of the maximum depth decodes");
		}
	}

	/* every truncation and every byte value at every position of a fitted payload */
	{
		dataset		d = friedman(400, 71);
		clv_gbm_options go;
		clv_buf		buf;
		bool		all_fail = true,
					all_ok = true;
		int			decoded = 0;

		clv_gbm_options_default(&go);
		go.loss = CLV_LOSS_SQUARED;
		go.n_rounds = 3;
		go.tree.max_depth = 3;
		for (size_t i = 0; i < d.n; i += 4)
			d.x[i * 10 + 2] = NAN;
		e = train_gbm(&d, NULL, &go);
		buf = encode_payload(e, 2);
		for (size_t len = 0; len < buf.len; len++)
		{
			clv_buf		cut = {buf.data, len, len};
			clv_ensemble *out = decode_payload_bytes(&cut, 10, 2, &err);

			if (out != NULL || err.status != CLV_ERR_CORRUPT)
				all_fail = false;
			clv_ensemble_free(out);
		}
		check(all_fail, "decoder v2: each of the %zu truncations fails as corrupt", buf.len);
		for (size_t at = 0; at < buf.len; at++)
			for (int b = 0; b < 256; b += quick ? 51 : 5)
			{
				unsigned char keep = buf.data[at];
				clv_ensemble *out;

				buf.data[at] = (unsigned char) b;
				out = decode_payload_bytes(&buf, 10, 2, &err);
				if (out != NULL)
				{
					clv_buf		again = encode_payload(out, 2);

					decoded++;
					all_ok &= again.len == buf.len && memcmp(again.data, buf.data, buf.len) == 0;
					clv_release(again.data);
				}
				else
					all_ok &= err.status == CLV_ERR_CORRUPT && err.detail[0] != '\0';
				clv_ensemble_free(out);
				buf.data[at] = keep;
			}
		check(all_ok, "decoder v2: changed bytes either fail as corrupt or re-encode to themselves (%d decoded)",
			  decoded);
		clv_release(buf.data);
		clv_ensemble_free(e);
		dataset_free(&d);
	}
}

/* ---- TreeSHAP ---------------------------------------------------------------------- */

/* E[tree | x_S] with the cover-weighted path probabilities of the paper. */
static double
cond_expectation(const clv_tree_node *nodes, uint32_t i, const double *x, unsigned subset)
{
	const clv_tree_node *nd = &nodes[i];
	const clv_tree_node *l,
			   *r;

	if (nd->feature < 0)
		return nd->value;
	if (subset & (1u << nd->feature))
	{
		double		v = x[nd->feature];
		bool		left = isnan(v) ? nd->default_left : v < nd->threshold;

		return cond_expectation(nodes, left ? nd->left : nd->right, x, subset);
	}
	l = &nodes[nd->left];
	r = &nodes[nd->right];
	return (l->cover * cond_expectation(nodes, nd->left, x, subset) +
			r->cover * cond_expectation(nodes, nd->right, x, subset)) / nd->cover;
}

static double
value_of_subset(const clv_ensemble *e, const double *x, unsigned subset)
{
	double		sum = 0;

	for (uint32_t t = 0; t < e->n_trees; t++)
		sum += cond_expectation(e->nodes, e->tree_start[t], x, subset);
	return e->type == CLV_ENSEMBLE_FOREST ? sum / e->n_trees : e->base_score + sum;
}

static void
brute_force_shap(const clv_ensemble *e, const double *x, double *phi)
{
	uint32_t	p = e->n_features;
	double		fact[17] = {1};

	for (int k = 1; k <= 16; k++)
		fact[k] = fact[k - 1] * k;
	for (uint32_t i = 0; i < p; i++)
	{
		phi[i] = 0;
		for (unsigned s = 0; s < (1u << p); s++)
		{
			int			size = __builtin_popcount(s);

			if (s & (1u << i))
				continue;
			phi[i] += fact[size] * fact[p - size - 1] / fact[p] *
				(value_of_subset(e, x, s | (1u << i)) - value_of_subset(e, x, s));
		}
	}
}

static void
check_shap(const char *what, const clv_ensemble *e, const dataset *d, int rows, bool brute)
{
	uint32_t	p = e->n_features;
	double	   *phi = malloc(sizeof(double) * p);
	double	   *ref = malloc(sizeof(double) * p);
	double		worst_sum = 0,
				worst_brute = 0,
				expected;

	for (int k = 0; k < rows; k++)
	{
		const double *x = d->x + (size_t) k * p;
		double		sum = 0;

		clv_ensemble_explain(e, x, phi, &expected);
		for (uint32_t j = 0; j < p; j++)
			sum += phi[j];
		worst_sum = fmax(worst_sum, fabs(sum - (clv_ensemble_margin(e, x) - expected)));
		if (brute)
		{
			brute_force_shap(e, x, ref);
			for (uint32_t j = 0; j < p; j++)
				worst_brute = fmax(worst_brute, fabs(phi[j] - ref[j]));
		}
	}
	check(worst_sum <= 1e-9, "shap: %s, Σφ = margin − expected on %d rows (worst %.2g)",
		  what, rows, worst_sum);
	if (brute)
		check(worst_brute <= 1e-9, "shap: %s, φ equal brute-force Shapley values (worst %.2g)",
			  what, worst_brute);
	free(phi);
	free(ref);
}

static void
test_shap(void)
{
	enum {N = 2000, P = 6};
	dataset		d = dataset_new(N, P);
	clv_gbm_options go;
	clv_forest_options fo;
	clv_ensemble *e;
	double		expected,
				phi[P],
				mean = 0;

	rng_seed(51);
	for (size_t i = 0; i < N; i++)
	{
		double	   *x = d.x + i * P;

		for (int j = 0; j < P; j++)
			x[j] = rng_uniform() < 0.1 ? NAN : rng_uniform();
		d.y[i] = (isnan(x[0]) ? 1 : 3 * x[0]) + (x[1] > 0.5) * (isnan(x[2]) ? 0 : x[2]) +
			2 * (x[3] > 0.3) + 0.2 * rng_normal();
	}
	clv_gbm_options_default(&go);
	go.n_rounds = 4;
	go.tree.max_depth = 5;
	go.learning_rate = 0.5;
	e = train_gbm(&d, NULL, &go);
	check_shap("gbm depth 5, 6 features, missing values", e, &d, 60, true);
	clv_ensemble_free(e);

	clv_forest_options_default(&fo, P, false);
	fo.n_trees = 3;
	fo.mtry = 3;
	fo.tree.max_depth = 6;
	e = train_forest(&d, NULL, &fo);
	check_shap("forest depth 6, 6 features, missing values", e, &d, 60, true);
	clv_ensemble_free(e);

	/* the expected value is the cover-weighted mean: the training mean for a stump */
	clv_forest_options_default(&fo, P, false);
	fo.n_trees = 1;
	fo.replace = false;
	fo.tree.max_depth = 1;
	e = train_forest(&d, NULL, &fo);
	clv_ensemble_explain(e, d.x, phi, &expected);
	for (size_t i = 0; i < N; i++)
		mean += d.y[i] / N;
	check(e && fabs(expected - mean) < 1e-9, "shap: expected value of a stump is the mean of y (%.6f, %.6f)",
		  expected, mean);
	clv_ensemble_free(e);
	dataset_free(&d);

	/* many rows of a big model: only the sum */
	d = friedman(quick ? 2000 : 10000, 53);
	for (size_t i = 0; i < d.n; i += 3)
		d.x[i * 10 + i % 10] = NAN;
	clv_gbm_options_default(&go);
	go.n_rounds = quick ? 20 : 100;
	go.tree.max_depth = 8;
	e = train_gbm(&d, NULL, &go);
	check_shap("gbm 8 deep, 10 features", e, &d, quick ? 100 : 500, false);
	clv_ensemble_free(e);
	clv_forest_options_default(&fo, 10, false);
	fo.n_trees = quick ? 10 : 50;
	fo.tree.max_depth = 14;
	e = train_forest(&d, NULL, &fo);
	check_shap("forest 14 deep, 10 features", e, &d, quick ? 50 : 300, false);
	clv_ensemble_free(e);
	dataset_free(&d);
}

/* ---- quality -------------------------------------------------------------------------- */

static void
test_forest_quality(void)
{
	size_t		n = quick ? 4000 : 20000;
	dataset		train = friedman(n, 61);
	dataset		test = friedman(5000, 62);
	clv_forest_options fo;
	clv_ensemble *e;
	double		r2;
	double		sum = 0;

	clv_forest_options_default(&fo, 10, false);
	fo.n_trees = quick ? 30 : 100;
	fo.tree.n_threads = 2;
	e = train_forest(&train, NULL, &fo);
	r2 = e ? r2_of(e, &test) : NAN;
	check(r2 > (quick ? 0.8 : 0.85), "forest: Friedman #1 %zu×10, held-out R² %.4f", n, r2);
	check(e && fabs(e->oob_score - r2) < 0.05, "forest: OOB R² %.4f is close to held-out R²",
		  e ? e->oob_score : NAN);
	for (int j = 0; e && j < 10; j++)
		sum += e->importance[j];
	check(e && fabs(sum - 1) < 1e-12 && e->importance[3] > e->importance[7] &&
		  e->importance[0] > 5 * e->importance[9],
		  "forest: importances sum to 1 and rank signal above noise (x4 %.3f, x8 %.3f)",
		  e ? e->importance[3] : NAN, e ? e->importance[7] : NAN);
	clv_ensemble_free(e);

	/* classification: y = 1 when the Friedman signal is above its median */
	for (size_t i = 0; i < n; i++)
		train.y[i] = train.y[i] > 14.4;
	clv_forest_options_default(&fo, 10, true);
	fo.n_trees = 30;
	fo.permutation_importance = true;
	fo.criterion = CLV_CRITERION_ENTROPY;
	e = train_forest(&train, NULL, &fo);
	check(e && e->oob_score > 0.8 && e->classification,
		  "forest: entropy classifier OOB accuracy %.4f", e ? e->oob_score : NAN);
	check(e && e->permutation_importance && e->permutation_importance[3] > e->permutation_importance[8] &&
		  e->permutation_importance[3] > 0,
		  "forest: permutation importance ranks x4 (%.4f) above x9 (%.4f)",
		  e && e->permutation_importance ? e->permutation_importance[3] : NAN,
		  e && e->permutation_importance ? e->permutation_importance[8] : NAN);
	{
		double		pr = e ? clv_ensemble_predict(e, test.x) : NAN;

		check(pr >= 0 && pr <= 1, "forest: a classifier predicts a probability (%.3f)", pr);
	}
	clv_ensemble_free(e);
	dataset_free(&train);
	dataset_free(&test);
}

static void
test_gbm_losses(void)
{
	size_t		n = quick ? 3000 : 10000;
	dataset		d = friedman(n, 71);
	clv_gbm_options go;
	clv_ensemble *few,
			   *many;
	double		mean_y = 0,
				mean_pred = 0;
	clv_error	err;

	clv_gbm_options_default(&go);
	go.n_rounds = 10;
	few = train_gbm(&d, NULL, &go);
	go.n_rounds = 100;
	many = train_gbm(&d, NULL, &go);
	check(few && many && many->train_loss < few->train_loss && many->train_loss < 1.5,
		  "gbm squared: training MSE falls with rounds (%.3f -> %.3f)",
		  few ? few->train_loss : NAN, many ? many->train_loss : NAN);
	clv_ensemble_free(few);
	clv_ensemble_free(many);

	/* logistic */
	for (size_t i = 0; i < n; i++)
		d.y[i] = d.y[i] > 14.4;
	go.loss = CLV_LOSS_LOGISTIC;
	go.n_rounds = 10;
	few = train_gbm(&d, NULL, &go);
	go.n_rounds = 100;
	many = train_gbm(&d, NULL, &go);
	check(few && many && many->train_loss < few->train_loss && many->train_loss < 0.3,
		  "gbm logistic: log loss falls with rounds (%.3f -> %.3f)",
		  few ? few->train_loss : NAN, many ? many->train_loss : NAN);
	{
		double		pr = many ? clv_ensemble_predict(many, d.x) : NAN;

		check(pr > 0 && pr < 1 && many->link == CLV_LINK_LOGIT,
			  "gbm logistic: predicts a probability (%.3f)", pr);
	}
	clv_ensemble_free(few);
	clv_ensemble_free(many);

	/* Tweedie on zero-inflated gamma spend: P(buy) and the amount depend on x */
	rng_seed(73);
	for (size_t i = 0; i < n; i++)
	{
		double	   *x = d.x + i * 10;
		double		pbuy = 0.2 + 0.6 * x[0];

		d.y[i] = rng_uniform() < pbuy ? rng_gamma(2) * (10 + 40 * x[1]) : 0;
		mean_y += d.y[i] / n;
	}
	go.loss = CLV_LOSS_TWEEDIE;
	go.tweedie_power = 1.5;
	go.n_rounds = 10;
	few = train_gbm(&d, NULL, &go);
	go.n_rounds = 100;
	many = train_gbm(&d, NULL, &go);
	for (size_t i = 0; many && i < n; i++)
		mean_pred += clv_ensemble_predict(many, d.x + i * 10) / n;
	check(few && many && many->train_loss < few->train_loss,
		  "gbm tweedie: deviance falls with rounds (%.3f -> %.3f)",
		  few ? few->train_loss : NAN, many ? many->train_loss : NAN);
	/*
	 * The log link is not Tweedie's canonical link, so leaves balance
	 * μ^(1-ρ)-weighted residuals, not plain ones: the mean prediction drifts
	 * below the mean as rounds fit the zeros (XGBoost 1.7 drifts alike,
	 * 26.6 against 30.0 on this design).
	 */
	check(fabs(mean_pred / mean_y - 1) < (quick ? 0.2 : 0.15) && many->link == CLV_LINK_LOG,
		  "gbm tweedie: mean prediction %.3f ≈ mean y %.3f", mean_pred, mean_y);
	clv_ensemble_free(few);
	clv_ensemble_free(many);

	/* errors */
	{
		clv_tree_rows rows;
		clv_ensemble *e = NULL;

		go.loss = CLV_LOSS_TWEEDIE;
		d.y[5] = -1;
		load_rows(&rows, &d, NULL);
		check_status(clv_gbm_train(&rows, &go, &e, &err), CLV_ERR_INVALID, &err,
					 "gbm: Tweedie refuses a negative target");
		go.loss = CLV_LOSS_LOGISTIC;
		check_status(clv_gbm_train(&rows, &go, &e, &err), CLV_ERR_INVALID, &err,
					 "gbm: logistic refuses a target other than 0 and 1");
		clv_tree_rows_free(&rows);
		go.loss = CLV_LOSS_SQUARED;
		d.n = 1;
		load_rows(&rows, &d, NULL);
		check_status(clv_gbm_train(&rows, &go, &e, &err), CLV_ERR_DATA, &err,
					 "gbm: one row is too few");
		go.validation_fraction = 0;
		go.early_stopping_rounds = 3;
		check_status(clv_gbm_train(&rows, &go, &e, &err), CLV_ERR_INVALID, &err,
					 "gbm: early stopping without a validation fraction is refused");
		clv_tree_rows_free(&rows);
		d.n = n;
		d.y[5] = 0.5;
		{
			clv_forest_options fo;

			clv_forest_options_default(&fo, 10, true);
			load_rows(&rows, &d, NULL);
			check_status(clv_forest_train(&rows, &fo, &e, &err), CLV_ERR_INVALID, &err,
						 "forest: a classifier refuses a target of 0.5");
			clv_tree_rows_free(&rows);
		}
	}
	dataset_free(&d);
}

static void
test_early_stopping(void)
{
	dataset		d = friedman(quick ? 2000 : 5000, 81);
	clv_gbm_options go;
	clv_ensemble *e;

	/* pure noise: validation loss stops improving almost at once */
	rng_seed(83);
	for (size_t i = 0; i < d.n; i++)
		d.y[i] = rng_normal();
	clv_gbm_options_default(&go);
	go.n_rounds = 500;
	go.learning_rate = 0.3;
	go.validation_fraction = 0.25;
	go.early_stopping_rounds = 10;
	e = train_gbm(&d, NULL, &go);
	check(e && e->best_round < 60 && e->n_trees == e->best_round && isfinite(e->valid_loss),
		  "gbm: early stopping stops on noise (best round %u of 500, %u trees kept)",
		  e ? e->best_round : 0, e ? e->n_trees : 0);
	clv_ensemble_free(e);
	dataset_free(&d);
}

/* ---- cancellation ------------------------------------------------------------------------- */

static int	interrupt_after = 0;
static int	interrupt_checks = 0;
static int	interrupt_raised = 0;

static bool
fake_pending(void)
{
	return ++interrupt_checks > interrupt_after;
}

static void
fake_check(void)
{
	if (interrupt_checks > interrupt_after)
		interrupt_raised++;
}

/* An interrupt that arrives a fixed time after the clock starts. */
static double cancel_at;

static double
seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int	progress_calls;
static uint32_t progress_last_done;

static void
count_progress(void *arg, uint32_t done, uint32_t total, const char *what)
{
	(void) arg;
	(void) what;
	if (done <= total)
		progress_calls++;
	progress_last_done = done;
}

static bool
timed_pending(void)
{
	return seconds_now() >= cancel_at;
}

static void
timed_check(void)
{
	if (seconds_now() >= cancel_at)
		interrupt_raised++;
}

static void
test_cancel_latency(void)
{
	dataset		d = friedman(quick ? 20000 : 100000, 93);
	clv_forest_options fo;
	clv_gbm_options go;
	clv_tree_rows rows;
	clv_ensemble *e = NULL;
	clv_error	err;
	double		late;

	clv_rt.interrupt_pending = timed_pending;
	clv_rt.check_interrupts = timed_check;

	clv_forest_options_default(&fo, 10, false);
	fo.n_trees = 100000;
	fo.tree.max_depth = 30;
	fo.tree.n_threads = 2;
	fo.tree.progress = count_progress;
	load_rows(&rows, &d, NULL);
	interrupt_raised = progress_calls = 0;
	cancel_at = seconds_now() + 1.6;
	clv_forest_train(&rows, &fo, &e, &err);
	late = seconds_now() - cancel_at;
	check(e == NULL && interrupt_raised == 1 && late < 1.0,
		  "cancel: a long forest stops %.3f s after the interrupt", late);
	check(progress_calls >= 1 && progress_calls <= 2 && progress_last_done > 0,
		  "progress: reported about once a second (%d calls, last at tree %u)",
		  progress_calls, progress_last_done);
	clv_tree_rows_free(&rows);

	clv_gbm_options_default(&go);
	go.n_rounds = 100000;
	go.tree.max_depth = 10;
	go.tree.n_threads = 2;
	go.tree.progress = count_progress;
	load_rows(&rows, &d, NULL);
	interrupt_raised = progress_calls = 0;
	cancel_at = seconds_now() + 1.6;
	clv_gbm_train(&rows, &go, &e, &err);
	late = seconds_now() - cancel_at;
	check(e == NULL && interrupt_raised == 1 && late < 1.0,
		  "cancel: long boosting stops %.3f s after the interrupt", late);
	check(progress_calls >= 1 && progress_calls <= 2 && progress_last_done > 0,
		  "progress: boosting reports about once a second (%d calls, last at round %u)",
		  progress_calls, progress_last_done);
	clv_tree_rows_free(&rows);

	clv_rt.interrupt_pending = NULL;
	clv_rt.check_interrupts = NULL;
	dataset_free(&d);
}

static void
test_cancel(void)
{
	dataset		d = friedman(quick ? 3000 : 20000, 91);
	clv_forest_options fo;
	clv_gbm_options go;
	clv_tree_rows rows;
	clv_ensemble *e = NULL;
	clv_error	err;
	clv_status	st;

	clv_rt.interrupt_pending = fake_pending;
	clv_rt.check_interrupts = fake_check;
	for (uint32_t threads = 1; threads <= 2; threads++)
	{
		clv_forest_options_default(&fo, 10, false);
		fo.n_trees = 1000;
		fo.tree.n_threads = threads;
		interrupt_after = 3;
		interrupt_checks = interrupt_raised = 0;
		load_rows(&rows, &d, NULL);
		st = clv_forest_train(&rows, &fo, &e, &err);
		check(st != CLV_OK && e == NULL && interrupt_raised == 1,
			  "cancel: a forest on %u thread(s) stops and raises the interrupt", threads);
		clv_tree_rows_free(&rows);

		clv_gbm_options_default(&go);
		go.n_rounds = 1000;
		go.tree.n_threads = threads;
		interrupt_after = 5;
		interrupt_checks = interrupt_raised = 0;
		load_rows(&rows, &d, NULL);
		st = clv_gbm_train(&rows, &go, &e, &err);
		check(st != CLV_OK && e == NULL && interrupt_raised == 1,
			  "cancel: boosting on %u thread(s) stops and raises the interrupt", threads);
		clv_tree_rows_free(&rows);
	}
	clv_rt.interrupt_pending = NULL;
	clv_rt.check_interrupts = NULL;
	dataset_free(&d);
}

int
main(void)
{
	quick = getenv("CLV_TEST_QUICK") != NULL;

	test_rows();
	test_rows_sort();
	test_bins();
	test_planted_split();
	test_missing_direction();
	test_determinism();
	test_limits_and_merge();
	test_edge_cases();
	test_prediction_layout();
	test_codec();
	test_decoder_structure();
	test_versions();
	test_decoder_v2();
	test_shap();
	test_forest_quality();
	test_gbm_losses();
	test_early_stopping();
	test_cancel();
	test_cancel_latency();

	return tap_done();
}
