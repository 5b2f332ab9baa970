/*
 * test_xgboost.c — unit tests of the XGBoost importer's core, without a
 * server: the moved thresholds against float comparisons, the binary32
 * margin, the structural checks, and the payload of type 3 through the
 * model container.
 *
 * Build and run: make unit (or make unit-san)
 */
#include "clv_core.h"
#include "model.h"
#include "trees.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static uint64_t rng_state = 0x243F6A8885A308D3u;

static uint64_t
rng_next(void)
{
	uint64_t	z = (rng_state += 0x9E3779B97F4A7C15u);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

/* A float from random bits: every exponent, subnormals and zeros included. */
static float
random_float(void)
{
	uint32_t	bits = (uint32_t) rng_next();
	float		f;

	memcpy(&f, &bits, 4);
	return isfinite(f) ? f : (float) (rng_next() % 1000) - 500.0f;
}

/* x < t' must be (float) x < t for doubles around t and around the midpoint below it. */
static void
test_thresholds(void)
{
	long		wrong = 0,
				tried = 0;
	float		special[] = {0.0f, -0.0f, FLT_MIN, -FLT_MIN, FLT_MAX, -FLT_MAX, 1.0f, -1.0f,
		0x1p-149f, -0x1p-149f, 0.1f, 1.304f};

	for (int k = 0; k < 200000; k++)
	{
		float		t = k < (int) (sizeof(special) / sizeof(special[0])) ? special[k] : random_float();
		float		below = nextafterf(t, -INFINITY);
		double		mid = isinf(below) ? (double) t / 2 - ldexp(1.0, 127) : ((double) t + below) / 2;
		double		thr = clv_xgboost_threshold(t);
		double		probes[] = {t, nextafter(t, -INFINITY), nextafter(t, INFINITY), mid,
			nextafter(mid, -INFINITY), nextafter(mid, INFINITY), below,
		(double) t * (1 + 1e-9), (double) t * (1 - 1e-9)};

		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		{
			double		x = probes[i];
			bool		want = (float) x < t;

			tried++;
			if ((x < thr) != want)
			{
				if (wrong++ < 5)
					diag("t = %a, x = %a: float says %d", t, x, want);
			}
		}
	}
	check(wrong == 0, "threshold: x < t' agrees with (float) x < t on %ld probes", tried);
	check(clv_xgboost_threshold(1.0f) == 1.0 - 0x1p-25, "threshold: 1 moves to 1 - 2^-25");
}

/* Arrays of one tree, written by hand. */
typedef struct tree_arrays
{
	int64_t		left[8],
				right[8],
				feature[8];
	float		condition[8],
				hessian[8],
				gain[8];
	uint8_t		default_left[8];
} tree_arrays;

static clv_xgboost_tree
view(tree_arrays *a, uint32_t n)
{
	return (clv_xgboost_tree) {n, a->left, a->right, a->feature, a->condition,
		a->default_left, a->hessian, a->gain};
}

/*
 * Stored out of order, with a pruned node (5) no split reaches:
 * 0: x0 < 0.5 ? 2 : 1, missing left; 2: x1 < -1 ? 3 : 4; leaves 1, 3, 4.
 */
static tree_arrays
sample_tree(void)
{
	tree_arrays a = {
		.left = {2, -1, 3, -1, -1, -1},
		.right = {1, -1, 4, -1, -1, -1},
		.feature = {0, 0, 1, 0, 0, 0},
		.condition = {0.5f, 0.25f, -1.0f, -0.125f, 0.375f, 9.0f},
		.hessian = {10, 4, 6, 2, 4, 1},
		.gain = {3, 0, 1, 0, 0, 0},
		.default_left = {1, 0, 0, 0, 0, 0},
	};

	return a;
}

static clv_status
build(tree_arrays *a, uint32_t n, clv_ensemble **e, clv_error *err)
{
	clv_xgboost_tree t = view(a, n);

	return clv_xgboost_ensemble(&t, 1, 2, CLV_XGBOOST_SQUARED, 0.5f, e, err);
}

static void
test_structure(void)
{
	tree_arrays a = sample_tree();
	clv_ensemble *e = NULL;
	clv_error	err;
	clv_status	st = build(&a, 6, &e, &err);

	if (check_status(st, CLV_OK, &err, "structure: a tree stored out of order imports"))
	{
		double		x1[] = {0.4, -2}, x2[] = {NAN, 0}, x3[] = {0.6, 0};

		check(e->n_nodes == 5, "structure: the pruned node is left out (%u nodes)", e->n_nodes);
		check(clv_ensemble_margin(e, x1) == (double) (0.5f + -0.125f) &&
			  clv_ensemble_margin(e, x2) == (double) (0.5f + 0.375f) &&
			  clv_ensemble_margin(e, x3) == (double) (0.5f + 0.25f),
			  "structure: splits, the missing direction and the base score as XGBoost's");
		check(fabs(e->importance[0] - 0.75) < 1e-12 && fabs(e->importance[1] - 0.25) < 1e-12,
			  "structure: importance is the share of the loss changes");
	}
	clv_ensemble_free(e);

#define REFUSED(change, what) \
	do { \
		tree_arrays b = sample_tree(); \
		clv_ensemble *f = NULL; \
		change; \
		st = build(&b, 6, &f, &err); \
		check(st == CLV_ERR_INVALID, "structure: %s is refused (%s)", what, err.detail); \
		clv_ensemble_free(f); \
	} while (0)

	REFUSED(b.left[0] = 6, "a child past the arrays");
	REFUSED(b.left[0] = -2, "a negative child");
	REFUSED(b.left[2] = 0, "a cycle back to the root");
	REFUSED(b.left[2] = 1, "a node reached twice");
	REFUSED(b.right[0] = 2, "both children the same");
	REFUSED(b.right[3] = 4, "a node with one child");
	REFUSED(b.feature[2] = 2, "a feature out of range");
	REFUSED(b.condition[0] = NAN, "a NaN threshold");
	REFUSED(b.condition[3] = INFINITY, "an infinite leaf value");
	REFUSED(b.hessian[4] = -1, "a negative hessian sum");
	REFUSED(b.gain[2] = NAN, "a NaN loss change");
	REFUSED(b.default_left[0] = 2, "a default direction of 2");
}

/* A chain of depth d: node k splits to leaf 2k+1... written as a left spine. */
static void
test_depth(void)
{
	enum
	{
		N = 2 * 31 + 1
	};
	int64_t		left[N],
				right[N],
				feature[N];
	float		condition[N],
				hessian[N],
				gain[N];
	uint8_t		default_left[N];
	clv_ensemble *e = NULL;
	clv_error	err;

	for (int depth = 30; depth <= 31; depth++)
	{
		uint32_t	n = 2 * depth + 1;
		clv_xgboost_tree t = {n, left, right, feature, condition, default_left, hessian, gain};
		clv_status	st;

		for (uint32_t i = 0; i < n; i++)
		{
			bool		split = i % 2 == 0 && i + 2 < n;

			left[i] = split ? (int64_t) i + 2 : -1;
			right[i] = split ? (int64_t) i + 1 : -1;
			feature[i] = 0;
			condition[i] = (float) i;
			hessian[i] = 1;
			gain[i] = 0;
			default_left[i] = 0;
		}
		/* covers that do not add up are made to */
		st = clv_xgboost_ensemble(&t, 1, 1, CLV_XGBOOST_SQUARED, 0, &e, &err);
		check(depth == 30 ? st == CLV_OK : st == CLV_ERR_INVALID,
			  "depth: a tree %d deep is %s", depth, depth == 30 ? "imported" : "refused");
		clv_ensemble_free(e);
		e = NULL;
	}
}

/* The margin sums in float from the base score: 1e8 + 1 + ... stays 1e8 in float. */
static void
test_binary32_sum(void)
{
	tree_arrays a[20];
	clv_xgboost_tree t[20];
	clv_ensemble *e = NULL;
	clv_error	err;
	double		x[] = {0, 0};

	for (int k = 0; k < 20; k++)
	{
		a[k] = (tree_arrays) {.left = {-1}, .right = {-1}, .condition = {k == 0 ? 1e8f : 1.0f},
		.hessian = {1}};
		t[k] = view(&a[k], 1);
	}
	if (!check_status(clv_xgboost_ensemble(t, 20, 2, CLV_XGBOOST_SQUARED, 0.5f, &e, &err),
					  CLV_OK, &err, "binary32: twenty stumps import"))
		return;
	check(clv_ensemble_margin(e, x) == 1e8, "binary32: each addition rounds to float (%.17g)",
		  clv_ensemble_margin(e, x));

	/* through the container: type 3 survives encoding, and version 1 refuses it */
	{
		clv_model	m = {0},
				   *back = NULL;
		clv_buf		buf;

		m.kind = CLV_KIND_GBM;
		m.n_features = 2;
		m.meta = "{}";
		m.ensemble = e;
		clv_model_encode(&m, &buf);
		if (check_status(clv_model_decode(buf.data, buf.len, &back, &err), CLV_OK, &err,
						 "binary32: the model decodes"))
			check(back->ensemble->binary32 && clv_ensemble_margin(back->ensemble, x) == 1e8,
				  "binary32: the decoded model sums in float too");
		clv_model_free(back);
		back = NULL;
		clv_release(buf.data);
		clv_model_encode_version(&m, 1, &buf);
		check(clv_model_decode(buf.data, buf.len, &back, &err) == CLV_ERR_CORRUPT,
			  "binary32: a version-1 payload of type 3 is refused");
		clv_model_free(back);
		clv_release(buf.data);
	}
	clv_ensemble_free(e);
}

static void
test_base_score(void)
{
	tree_arrays a = {.left = {-1}, .right = {-1}, .condition = {0}, .hessian = {1}};
	clv_xgboost_tree t = view(&a, 1);
	clv_ensemble *e = NULL;
	clv_error	err;

	if (check_status(clv_xgboost_ensemble(&t, 1, 1, CLV_XGBOOST_LOGISTIC, 0.25f, &e, &err),
					 CLV_OK, &err, "base score: logistic imports"))
		check(e->base_score == (double) -logf(1.0f / 0.25f - 1.0f) && e->link == CLV_LINK_LOGIT,
			  "base score: logit of base_score, in float");
	clv_ensemble_free(e);
	e = NULL;
	if (check_status(clv_xgboost_ensemble(&t, 1, 1, CLV_XGBOOST_TWEEDIE, 3.0f, &e, &err),
					 CLV_OK, &err, "base score: tweedie imports"))
		check(e->base_score == (double) logf(3.0f) && e->link == CLV_LINK_LOG,
			  "base score: log of base_score, in float");
	clv_ensemble_free(e);
	e = NULL;
	check(clv_xgboost_ensemble(&t, 1, 1, CLV_XGBOOST_LOGISTIC, 1.0f, &e, &err) == CLV_ERR_INVALID,
		  "base score: 1 is refused for logistic");
	clv_ensemble_free(e);
	e = NULL;
	check(clv_xgboost_ensemble(&t, 1, 1, CLV_XGBOOST_TWEEDIE, 0.0f, &e, &err) == CLV_ERR_INVALID,
		  "base score: 0 is refused for tweedie");
	clv_ensemble_free(e);
	e = NULL;
	check(clv_xgboost_ensemble(&t, 0, 1, CLV_XGBOOST_SQUARED, 0.0f, &e, &err) == CLV_ERR_INVALID &&
		  clv_xgboost_ensemble(&t, 1, 0, CLV_XGBOOST_SQUARED, 0.0f, &e, &err) == CLV_ERR_INVALID,
		  "counts: no trees or no features are refused");
}

int
main(void)
{
	test_thresholds();
	test_structure();
	test_depth();
	test_binary32_sum();
	test_base_score();
	return tap_done();
}
