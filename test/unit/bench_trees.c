/*
 * bench_trees.c — training time and held-out R² of the tree ensembles on
 * Friedman #1 (y = 10 sin(π x1 x2) + 20 (x3 - 0.5)² + 10 x4 + 5 x5 + N(0, 1),
 * ten uniform features), without a server.
 *
 *   make bench-trees BENCH_ARGS="200000 2"     (rows, threads)
 *   make bench-trees BENCH_ARGS="200000 2 none friedman"
 *
 * The optional third argument picks "forest", "gbm", "all" (the default)
 * or "none"; a fourth, PREFIX, writes the data to PREFIX.train and
 * PREFIX.test (rows of 11 little-endian doubles: x1 .. x10, y) so peers can
 * be run on the very same rows, e.g. in Python:
 *
 *   a = numpy.fromfile("friedman.train").reshape(-1, 11)
 *   xgboost.XGBRegressor(n_estimators=300, max_depth=6, learning_rate=0.1,
 *                        tree_method="hist", n_jobs=2).fit(a[:, :10], a[:, 10])
 *   RandomForestRegressor(n_estimators=100, max_depth=12, min_samples_leaf=5,
 *                         max_features=5, n_jobs=2).fit(a[:, :10], a[:, 10])
 *
 * Prints one line per model: seconds of training, R² on 50,000 held-out
 * rows, trees, nodes and the time per row of scoring 1,000,000 rows (the
 * held-out rows 20 times over, one thread, as the server's scoring
 * benchmark).  Options follow the documented speed targets.
 */
#include "trees.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#define P 10
#define N_TEST 50000
#define N_SCORE 1000000

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double
friedman(gsl_rng *rng, double *x)
{
	for (int j = 0; j < P; j++)
		x[j] = gsl_rng_uniform(rng);
	return 10 * sin(M_PI * x[0] * x[1]) + 20 * pow(x[2] - 0.5, 2) + 10 * x[3] + 5 * x[4] +
		gsl_ran_gaussian(rng, 1.0);
}

static double
r2(const clv_ensemble *e, const double *x, const double *y, size_t n)
{
	double		mean = 0,
				ss = 0,
				sr = 0;

	for (size_t i = 0; i < n; i++)
		mean += y[i] / n;
	for (size_t i = 0; i < n; i++)
	{
		double		f = clv_ensemble_predict(e, x + i * P);

		sr += (y[i] - f) * (y[i] - f);
		ss += (y[i] - mean) * (y[i] - mean);
	}
	return 1 - sr / ss;
}

static void
load(clv_tree_rows *rows, const double *x, const double *y, size_t n)
{
	clv_error	err;

	clv_tree_rows_init(rows, P, 0);
	for (size_t i = 0; i < n; i++)
		if (clv_tree_rows_append(rows, y[i], x + i * P, &err) != CLV_OK)
		{
			fprintf(stderr, "append: %s\n", err.message);
			exit(1);
		}
}

static void
report(const char *what, double seconds, const clv_ensemble *e, const double *xt,
	   const double *yt)
{
	double		r = r2(e, xt, yt, N_TEST);
	double		t0 = now();
	volatile double sum = 0;

	for (size_t i = 0; i < N_SCORE; i++)
		sum += clv_ensemble_predict(e, xt + (i % N_TEST) * P);
	printf("%-28s train %7.3f s   R² %.4f   trees %u   nodes %u   predict %.0f ns/row\n",
		   what, seconds, r, e->n_trees, e->n_nodes, (now() - t0) / N_SCORE * 1e9);
}

static void
dump(const char *path, const double *x, const double *y, size_t n)
{
	FILE	   *f = fopen(path, "wb");

	for (size_t i = 0; f && i < n; i++)
	{
		fwrite(x + i * P, sizeof(double), P, f);
		fwrite(y + i, sizeof(double), 1, f);
	}
	if (f == NULL || fclose(f) != 0)
		perror(path);
}

int
main(int argc, char **argv)
{
	size_t		n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
	uint32_t	threads = argc > 2 ? (uint32_t) strtoul(argv[2], NULL, 10) : 2;
	const char *which = argc > 3 ? argv[3] : "all";
	gsl_rng    *rng = gsl_rng_alloc(gsl_rng_mt19937);
	double	   *x = malloc(sizeof(double) * P * n);
	double	   *y = malloc(sizeof(double) * n);
	double	   *xt = malloc(sizeof(double) * P * N_TEST);
	double	   *yt = malloc(sizeof(double) * N_TEST);
	clv_tree_rows rows;
	clv_ensemble *e;
	clv_error	err;
	double		t0;

	gsl_rng_set(rng, 42);
	for (size_t i = 0; i < n; i++)
		y[i] = friedman(rng, x + i * P);
	for (size_t i = 0; i < N_TEST; i++)
		yt[i] = friedman(rng, xt + i * P);
	if (argc > 4)
	{
		char		path[4096];

		snprintf(path, sizeof(path), "%s.train", argv[4]);
		dump(path, x, y, n);
		snprintf(path, sizeof(path), "%s.test", argv[4]);
		dump(path, xt, yt, N_TEST);
	}
	printf("Friedman #1, %zu training rows, %d held out, %u threads\n", n, N_TEST, threads);

	if (strcmp(which, "all") == 0 || strcmp(which, "forest") == 0)
	{
		clv_forest_options fo;

		clv_forest_options_default(&fo, P, false);
		fo.n_trees = 100;
		fo.tree.max_depth = 12;
		fo.tree.min_samples_leaf = 5;
		fo.mtry = 5;
		fo.tree.n_threads = threads;
		load(&rows, x, y, n);
		t0 = now();
		if (clv_forest_train(&rows, &fo, &e, &err) != CLV_OK)
		{
			fprintf(stderr, "forest: %s\n", err.message);
			return 1;
		}
		report("forest 100 trees depth 12", now() - t0, e, xt, yt);
		printf("  OOB R² %.4f\n", e->oob_score);
		clv_ensemble_free(e);
		clv_tree_rows_free(&rows);
	}
	if (strcmp(which, "all") == 0 || strcmp(which, "gbm") == 0)
	{
		clv_gbm_options go;

		clv_gbm_options_default(&go);
		go.n_rounds = 300;
		go.tree.max_depth = 6;
		go.learning_rate = 0.1;
		go.tree.n_threads = threads;
		load(&rows, x, y, n);
		t0 = now();
		if (clv_gbm_train(&rows, &go, &e, &err) != CLV_OK)
		{
			fprintf(stderr, "gbm: %s\n", err.message);
			return 1;
		}
		report("gbm 300 rounds depth 6", now() - t0, e, xt, yt);
		clv_ensemble_free(e);
		clv_tree_rows_free(&rows);
	}
	free(x);
	free(y);
	free(xt);
	free(yt);
	gsl_rng_free(rng);
	return 0;
}
