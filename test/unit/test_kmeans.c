/*
 * test_kmeans.c — unit tests of k-means, without a server.
 *
 * TAP, like test_core.c.  References are independent of the code under
 * test: planted, well-separated blobs whose partition is known, the
 * inertia recomputed by brute force from the returned centroids, byte
 * comparisons of encoded models for determinism (row order, thread count),
 * and hand-corrupted payloads for the decoder.
 *
 * CLV_TEST_QUICK=1 (used by unit-san) shrinks the data sets.
 */
#include "clv_core.h"
#include "model.h"
#include "kmeans.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static bool quick = false;

/* ---- data ------------------------------------------------------------------ */

static uint64_t rng_state;

static double
uniform(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((rng_state >> 11) + 0.5) * 0x1.0p-53;
}

static double
normal(void)
{
	return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

/* n rows of p features around k centres 20 apart (sd 1); truth gets the blob. */
typedef struct blobs
{
	size_t		n;
	uint32_t	p;
	double	   *x;
	uint32_t   *truth;
} blobs;

static blobs
make_blobs(size_t n, uint32_t p, uint32_t k, uint64_t seed)
{
	blobs		b = {n, p, malloc(sizeof(double) * n * p), malloc(sizeof(uint32_t) * n)};

	rng_state = seed;
	for (size_t i = 0; i < n; i++)
	{
		b.truth[i] = (uint32_t) (i % k);
		for (uint32_t j = 0; j < p; j++)
			b.x[i * p + j] = (j == b.truth[i] % p ? 20.0 * (1 + b.truth[i] / p) : 0) + normal();
	}
	return b;
}

static void
load(clv_kmeans_rows *rows, const blobs *b, const size_t *order)
{
	clv_error	err;

	clv_kmeans_rows_init(rows, b->p, 0);
	for (size_t i = 0; i < b->n; i++)
		if (clv_kmeans_rows_append(rows, b->x + (order ? order[i] : i) * b->p, &err) != CLV_OK)
			abort();
}

static void
encode(const clv_kmeans *km, clv_buf *buf)
{
	clv_model	m = {0};

	m.kind = CLV_KIND_KMEANS;
	m.n_features = km->p;
	m.meta = "{}";
	m.kmeans = (clv_kmeans *) km;
	clv_model_encode(&m, buf);
}

static clv_kmeans *
train(const blobs *b, const size_t *order, const clv_kmeans_options *opt, clv_kmeans_fit *fit,
	  clv_status *st, clv_error *err)
{
	clv_kmeans_rows rows;
	clv_kmeans *km = NULL;

	load(&rows, b, order);
	*st = clv_kmeans_train(&rows, opt, &km, fit, err);
	clv_kmeans_rows_free(&rows);
	return km;
}

/* Whether two models encode to the same bytes. */
static bool
same_bytes(const clv_kmeans *a, const clv_kmeans *c)
{
	clv_buf		ba,
				bc;
	bool		same;

	encode(a, &ba);
	encode(c, &bc);
	same = ba.len == bc.len && memcmp(ba.data, bc.data, ba.len) == 0;
	free(ba.data);
	free(bc.data);
	return same;
}

/* The squared distance from x to its nearest centroid, by trying them all. */
static double
brute_force_distance(const double *x, const clv_kmeans *km)
{
	double		best = INFINITY;

	for (uint32_t c = 0; c < km->k; c++)
	{
		double		d = 0;

		for (uint32_t j = 0; j < km->p; j++)
			d += pow(x[j] - km->centroids[c * km->p + j], 2);
		best = fmin(best, d);
	}
	return best;
}

/* ---- tests ------------------------------------------------------------------ */

static void
test_planted(void)
{
	size_t		n = quick ? 600 : 6000;
	blobs		b = make_blobs(n, 3, 4, 7);
	clv_kmeans_options opt;
	clv_kmeans_fit fit;
	clv_error	err;
	clv_status	st;
	clv_kmeans *km;
	uint32_t	map[4];
	bool		same = true;
	double		inertia = 0;

	clv_kmeans_options_default(&opt, 4);
	opt.n_init = 3;
	km = train(&b, NULL, &opt, &fit, &st, &err);
	if (!check(st == CLV_OK, "planted: four blobs fit (%s)", st ? err.message : "ok"))
		return;
	for (uint32_t c = 0; c < 4; c++)
		map[c] = UINT32_MAX;
	for (size_t i = 0; i < n; i++)
	{
		uint32_t	c = clv_kmeans_nearest(km, b.x + i * 3);

		if (map[b.truth[i]] == UINT32_MAX)
			map[b.truth[i]] = c;
		same &= map[b.truth[i]] == c;
		inertia += brute_force_distance(b.x + i * 3, km);
	}
	check(same, "planted: the partition is the planted one up to relabelling");
	check(fabs(inertia - fit.inertia) <= 1e-9 * inertia,
		  "planted: inertia %.6f is the brute-force %.6f", fit.inertia, inertia);
	check(fit.converged && fit.n_iter < 20, "planted: converged in %u iterations", fit.n_iter);
	check(fit.silhouette > 0.8 && fit.silhouette <= 1, "planted: silhouette %.3f near 1",
		  fit.silhouette);
	{
		double		total = 0;

		for (uint32_t c = 0; c < 4; c++)
			total += km->sizes[c];
		check(total == n, "planted: the cluster sizes add up to the rows");
	}
	clv_kmeans_free(km);
	free(b.x);
	free(b.truth);
}

static void
test_determinism(void)
{
	size_t		n = quick ? 3000 : 30000;
	blobs		b = make_blobs(n, 5, 6, 11);
	size_t	   *order = malloc(sizeof(size_t) * n);
	clv_kmeans_options opt;
	clv_kmeans_fit f1,
				f2;
	clv_error	err;
	clv_status	s1,
				s2;
	clv_kmeans *a,
			   *c;

	/* overlapping blobs: many iterations, where an order effect would show */
	for (size_t i = 0; i < n * 5; i++)
		b.x[i] *= 0.1;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n - 1; i > 0; i--)
	{
		size_t		j = (size_t) (uniform() * (i + 1)),
					t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	clv_kmeans_options_default(&opt, 9);
	opt.n_init = 2;
	opt.seed = 5;
	opt.standardize = true;
	opt.n_threads = 1;
	a = train(&b, NULL, &opt, &f1, &s1, &err);
	opt.n_threads = 3;
	c = train(&b, order, &opt, &f2, &s2, &err);
	check(s1 == CLV_OK && s2 == CLV_OK, "determinism: both fits succeed");
	check(same_bytes(a, c) && f1.inertia == f2.inertia && f1.n_iter == f2.n_iter,
		  "determinism: shuffled rows on 3 threads give the same bytes (%u iterations)",
		  f1.n_iter);
	{
		/* partial states: rows appended, merged with a view of the rest */
		clv_kmeans_rows first,
					rest,
					whole;
		clv_kmeans *merged = NULL;
		size_t		half = n / 2 + 7;

		clv_kmeans_rows_init(&first, 5, 0);
		for (size_t i = 0; i < half; i++)
			clv_kmeans_rows_append(&first, b.x + i * 5, &err);
		clv_kmeans_rows_view(&rest, 5, b.x + half * 5, n - half);
		clv_kmeans_rows_init(&whole, 5, 0);
		check(clv_kmeans_rows_merge(&whole, &rest, &err) == CLV_OK &&
			  clv_kmeans_rows_merge(&whole, &first, &err) == CLV_OK && whole.n == n &&
			  clv_kmeans_train(&whole, &opt, &merged, &f2, &err) == CLV_OK,
			  "determinism: merged partial states fit");
		check(same_bytes(merged, a), "determinism: merged partial states give the same bytes");
		clv_kmeans_free(merged);
		clv_kmeans_rows_free(&first);
		clv_kmeans_rows_free(&rest);
		clv_kmeans_rows_free(&whole);
	}
	clv_kmeans_free(a);
	clv_kmeans_free(c);
	free(order);
	free(b.x);
	free(b.truth);
}

static void
test_errors(void)
{
	double		rows_x[] = {1, 1, 1, 1, 2, 2, 5, 5};
	blobs		b = {4, 2, rows_x, NULL};
	clv_kmeans_options opt;
	clv_kmeans_fit fit;
	clv_error	err;
	clv_status	st;
	clv_kmeans *km;
	clv_kmeans_rows rows;
	double		bad[2] = {1, NAN};

	clv_kmeans_options_default(&opt, 5);
	km = train(&b, NULL, &opt, &fit, &st, &err);
	check(st == CLV_ERR_DATA && km == NULL, "errors: k above the row count (%s)", err.message);
	clv_kmeans_options_default(&opt, 4);
	km = train(&b, NULL, &opt, &fit, &st, &err);
	check(st == CLV_ERR_DATA && km == NULL, "errors: k above the distinct rows (%s)", err.message);
	clv_kmeans_options_default(&opt, 3);
	km = train(&b, NULL, &opt, &fit, &st, &err);
	check(st == CLV_OK && fit.converged, "errors: k = distinct rows fits");
	check(km && fit.inertia == 0, "errors: ... with inertia 0");
	clv_kmeans_free(km);
	clv_kmeans_rows_init(&rows, 2, 0);
	check(clv_kmeans_rows_append(&rows, bad, &err) == CLV_ERR_INVALID, "errors: NaN refused");
	clv_kmeans_rows_init(&rows, 2, 16);
	check(clv_kmeans_rows_append(&rows, rows_x, &err) == CLV_OK &&
		  clv_kmeans_rows_append(&rows, rows_x, &err) == CLV_ERR_LIMIT,
		  "errors: the memory limit is enforced");
	clv_kmeans_rows_free(&rows);
}

static void
test_standardize_constant(void)
{
	double		x[] = {1, 7, 2, 7, 10, 7, 11, 7};
	blobs		b = {4, 2, x, NULL};
	clv_kmeans_options opt;
	clv_kmeans_fit fit;
	clv_error	err;
	clv_status	st;
	clv_kmeans *km;
	double		c0[2],
				c1[2];

	clv_kmeans_options_default(&opt, 2);
	opt.standardize = true;
	km = train(&b, NULL, &opt, &fit, &st, &err);
	if (!check(st == CLV_OK, "standardize: a constant feature fits"))
		return;
	check(km->scales[1] == 1 && km->means[1] == 7 && km->means[0] == 6,
		  "standardize: the constant feature gets scale 1");
	clv_kmeans_centroid_original(km, 0, c0);
	clv_kmeans_centroid_original(km, 1, c1);
	check(fabs(fmin(c0[0], c1[0]) - 1.5) < 1e-12 && fabs(fmax(c0[0], c1[0]) - 10.5) < 1e-12 &&
		  c0[1] == 7,
		  "standardize: centroids in original units (%g, %g)", c0[0], c1[0]);
	clv_kmeans_free(km);
}

/* Corrupt one value of an encoded model and expect CLV_ERR_CORRUPT. */
static void
expect_corrupt(const clv_buf *good, size_t payload, size_t offset, const void *v, size_t len,
			   const char *what)
{
	unsigned char *copy = malloc(good->len);
	clv_model  *m = NULL;
	clv_error	err;
	clv_status	st;

	memcpy(copy, good->data, good->len);
	memcpy(copy + payload + offset, v, len);
	/* a version-1 model: fix its CRC-32C so the payload checks must catch it */
	{
		uint32_t	crc = clv_crc32c(clv_crc32c(0, copy, 20), copy + 24, good->len - 24);

		memcpy(copy + 20, &crc, 4);
	}
	st = clv_model_decode(copy, good->len, &m, &err);
	check(st == CLV_ERR_CORRUPT, "decoder: %s is refused (%s)", what, err.detail);
	clv_model_free(m);
	free(copy);
}

static void
test_codec(void)
{
	double		x[] = {1, 2, 2, 3, 10, 11, 12, 10};
	blobs		b = {4, 2, x, NULL};
	clv_kmeans_options opt;
	clv_kmeans_fit fit;
	clv_error	err;
	clv_status	st;
	clv_kmeans *km;
	clv_model	m = {0};
	clv_model  *back = NULL;
	clv_buf		buf;
	size_t		payload;
	uint32_t	zero = 0,
				three = 3;
	double		nan = NAN,
				zero_d = 0;

	clv_kmeans_options_default(&opt, 2);
	opt.standardize = true;
	km = train(&b, NULL, &opt, &fit, &st, &err);
	m.kind = CLV_KIND_KMEANS;
	m.n_features = 2;
	m.meta = "{}";
	m.kmeans = km;
	clv_model_encode_version(&m, 1, &buf);
	st = clv_model_decode(buf.data, buf.len, &back, &err);
	check(st == CLV_OK && back->kmeans->k == 2 && back->kmeans->means &&
		  memcmp(back->kmeans->centroids, km->centroids, sizeof(double) * 4) == 0,
		  "decoder: a k-means model round-trips");
	check(clv_model_predict(back, x) == clv_kmeans_nearest(km, x) + 1,
		  "decoder: clv_model_predict gives the 1-based cluster");
	clv_model_free(back);
	/* payload layout: k, p, flag, (mean, scale) × p, centroids, k again, sizes */
	payload = buf.len - (3 * 4 + 4 * 8 + 4 * 8 + 4 + 2 * 8);
	expect_corrupt(&buf, payload, 0, &zero, 4, "k = 0");
	expect_corrupt(&buf, payload, 8, &three, 4, "a standardization flag of 3");
	expect_corrupt(&buf, payload, 12 + 8, &zero_d, 8, "a zero scale");
	expect_corrupt(&buf, payload, 12 + 32, &nan, 8, "a NaN centroid");
	expect_corrupt(&buf, payload, 12 + 64, &three, 4, "a size count other than k");
	expect_corrupt(&buf, payload, 12 + 68, &nan, 8, "a NaN cluster size");
	expect_corrupt(&buf, payload, 4, &three, 4, "a dimension other than the feature count");
	{
		clv_model  *t = NULL;

		check(clv_model_decode(buf.data, buf.len - 8, &t, &err) == CLV_ERR_CORRUPT,
			  "decoder: a truncated payload is refused");
		clv_model_free(t);
	}
	free(buf.data);
	clv_kmeans_free(km);
}

/* Cancellation: the poll says "pending" after a few checks. */
static int	polls;
static int	raised;

static bool
pending_soon(void)
{
	return ++polls > 5;
}

static void
count_raise(void)
{
	if (polls > 5)
		raised++;
}

static void
test_cancel(void)
{
	blobs		b = make_blobs(quick ? 5000 : 40000, 4, 8, 3);
	clv_kmeans_options opt;
	clv_kmeans_fit fit;
	clv_error	err;
	clv_status	st;
	clv_kmeans *km;

	clv_rt.interrupt_pending = pending_soon;
	clv_rt.check_interrupts = count_raise;
	for (uint32_t threads = 1; threads <= 2; threads++)
	{
		clv_kmeans_options_default(&opt, 8);
		opt.n_init = 50;
		opt.n_threads = threads;
		polls = raised = 0;
		km = train(&b, NULL, &opt, &fit, &st, &err);
		check(st != CLV_OK && km == NULL && raised >= 1,
			  "cancel: k-means on %u thread(s) stops and raises the interrupt", threads);
	}
	clv_rt.interrupt_pending = NULL;
	clv_rt.check_interrupts = NULL;
	free(b.x);
	free(b.truth);
}

/*
 * Row counts that leave a few rows after the last block of four in a chunk,
 * and p below and above 4 (the sort keys then do or do not fit in the rows'
 * own buffer): the sizes are the brute-force nearest-centroid counts, the
 * inertia the brute-force sum, and two threads give the bytes of one.
 */
static void
test_odd_rows(void)
{
	for (uint32_t p = 1; p <= 6; p += 5)
	{
		size_t		n = 2 * 4096 + 3;
		blobs		b = make_blobs(n, p, 5, 13 + p);
		clv_kmeans_options opt;
		clv_kmeans_fit f1,
					f2;
		clv_error	err;
		clv_status	s1,
					s2;
		clv_kmeans *a,
				   *c;
		double		sizes[5] = {0},
					inertia = 0;
		bool		same_sizes = true;

		/* overlapping: rows near two centroids test the comparisons */
		for (size_t i = 0; i < n * p; i++)
			b.x[i] *= 0.05;
		clv_kmeans_options_default(&opt, 5);
		opt.seed = 3;
		opt.n_threads = 1;
		a = train(&b, NULL, &opt, &f1, &s1, &err);
		opt.n_threads = 2;
		c = train(&b, NULL, &opt, &f2, &s2, &err);
		if (!check(s1 == CLV_OK && s2 == CLV_OK, "odd rows, p = %u: both fits succeed", p))
			continue;
		check(same_bytes(a, c) && f1.inertia == f2.inertia,
			  "odd rows, p = %u: two threads give the bytes of one", p);
		for (size_t i = 0; i < n; i++)
		{
			sizes[clv_kmeans_nearest(a, b.x + i * p)] += 1;
			inertia += brute_force_distance(b.x + i * p, a);
		}
		for (uint32_t k = 0; k < 5; k++)
			same_sizes &= sizes[k] == a->sizes[k];
		check(same_sizes && fabs(inertia - f1.inertia) <= 1e-9 * inertia,
			  "odd rows, p = %u: sizes and inertia %.6f are the brute-force ones (%.6f)",
			  p, f1.inertia, inertia);
		clv_kmeans_free(a);
		clv_kmeans_free(c);
		free(b.x);
		free(b.truth);
	}
}

int
main(void)
{
	quick = getenv("CLV_TEST_QUICK") != NULL;
	test_planted();
	test_determinism();
	test_odd_rows();
	test_errors();
	test_standardize_constant();
	test_codec();
	test_cancel();
	return tap_done();
}
