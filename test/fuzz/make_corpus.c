/*
 * make_corpus.c — writes the fuzzer's seed models into a directory.
 *
 * A handful of small valid models of each kind, with and without feature
 * names and metadata, so that mutations start from bytes that pass every
 * check, a few small tree ensembles (under the fuzzer's 4096-byte
 * inputs), two of them imported from XGBoost's layout, k-means models
 * with and without standardization, an sBG model, two small multi-layer
 * perceptrons and BG/NBD and Pareto/NBD models with covariates.  It writes
 * the current format version; the seeds named v1_* are
 * the same models as clv 0.1.0 wrote them (format version 1), kept so that
 * the fuzzer keeps exercising the version-1 decoder.  Not part of the
 * build; regenerate with:
 *
 *   cc -std=gnu11 -pthread -Isrc/core -o make_corpus test/fuzz/make_corpus.c \
 *       src/core/[a-z]*.c $(gsl-config --libs) -lm
 *   ./make_corpus test/fuzz/corpus && rm make_corpus
 */
#include "model.h"
#include "trees.h"
#include "kmeans.h"
#include "mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Encode m and write it to dir/name; 0 on success. */
static int
write_model(const char *dir, const char *name, const clv_model *m)
{
	clv_buf		buf;
	char		path[4096];
	FILE	   *f;
	int			ok;

	clv_model_encode(m, &buf);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	ok = f != NULL && fwrite(buf.data, 1, buf.len, f) == buf.len;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	if (!ok)
		perror(path);
	else
		printf("%s: %zu bytes\n", path, buf.len);
	clv_release(buf.data);
	return ok ? 0 : 1;
}

static int
write_seed(const char *dir, const char *name, clv_model_kind kind, uint32_t p,
		   const char *const *names, const char *meta)
{
	clv_model	m;
	int			failed;

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.n_features = p;
	m.feature_names = (char **) names;
	m.meta = (char *) meta;
	m.coef = malloc(sizeof(double) * (p + 1));
	for (uint32_t i = 0; i <= p; i++)
		m.coef[i] = (i % 2 ? -1.0 : 1.0) * (0.5 + i) / 3.0;
	failed = write_model(dir, name, &m);
	free(m.coef);
	return failed;
}

/* A probabilistic model: its positive parameters, as the fit writes them. */
static int
write_params_seed(const char *dir, const char *name, clv_model_kind kind,
				  const char *const *names, uint32_t p, const double *params,
				  const char *meta)
{
	clv_model	m;
	int			failed;

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.n_features = p;
	m.feature_names = (char **) names;
	m.meta = (char *) meta;
	m.n_params = clv_model_kind_params(kind);
	m.params = (double *) params;
	failed = write_model(dir, name, &m);
	return failed;
}

/*
 * A BTYD model with covariates: 3 + p1 + p2 features (frequency, recency,
 * t, then the covariates), the 4 base parameters, then the coefficients.
 */
static int
write_cov_seed(const char *dir, const char *name, clv_model_kind kind, uint32_t p1,
			   uint32_t p2)
{
	static const char *const names[] = {"frequency", "recency", "t", "channel", "first_order",
	"segment"};
	double		params[7] = {0.24, 4.4, 0.79, 2.4, 0.45, -0.4, -1.02};
	clv_model	m;
	int			failed;

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.n_features = 3 + p1 + p2;
	m.feature_names = (char **) names;
	m.meta = "{\"n_customers\": 1000, \"converged\": true}";
	m.n_params = 4 + p1 + p2;
	m.params = params;
	m.n_purchase_covariates = p1;
	failed = write_model(dir, name, &m);
	return failed;
}

/* A small ensemble trained on a fixed design with some missing values. */
/*
 * The ensemble's trees as XGBoost stores them, imported: a gbm payload of
 * type 3 (binary32), as clv_import_xgboost writes it.
 */
static clv_status
as_imported(clv_ensemble **e, clv_xgboost_objective objective, clv_error *err)
{
	clv_ensemble *src = *e;
	clv_xgboost_tree *trees = calloc(src->n_trees, sizeof(clv_xgboost_tree));
	int64_t    *ints = calloc(3 * (size_t) src->n_nodes, sizeof(int64_t));
	float	   *floats = calloc(3 * (size_t) src->n_nodes, sizeof(float));
	uint8_t    *flags = calloc(src->n_nodes, 1);
	clv_status	st;

	for (uint32_t t = 0; t < src->n_trees; t++)
	{
		uint32_t	first = src->tree_start[t],
					n = src->tree_start[t + 1] - first;
		int64_t    *left = ints + first,
				   *right = ints + src->n_nodes + first,
				   *feature = ints + 2 * (size_t) src->n_nodes + first;
		float	   *condition = floats + first,
				   *hessian = floats + src->n_nodes + first,
				   *gain = floats + 2 * (size_t) src->n_nodes + first;

		for (uint32_t i = 0; i < n; i++)
		{
			const clv_tree_node *nd = &src->nodes[first + i];
			bool		leaf = nd->feature < 0;

			left[i] = leaf ? -1 : (int64_t) (nd->left - first);
			right[i] = leaf ? -1 : (int64_t) (nd->right - first);
			feature[i] = leaf ? 0 : nd->feature;
			condition[i] = (float) (leaf ? nd->value : nd->threshold);
			hessian[i] = (float) nd->cover;
			gain[i] = leaf ? 0 : 1;
			flags[first + i] = nd->default_left;
		}
		trees[t] = (clv_xgboost_tree) {n, left, right, feature, condition, flags + first,
			hessian, gain};
	}
	st = clv_xgboost_ensemble(trees, src->n_trees, src->n_features, objective, 0.5f, e, err);
	clv_ensemble_free(src);
	free(trees);
	free(ints);
	free(floats);
	free(flags);
	return st;
}

static int
write_tree_seed(const char *dir, const char *name, int which, uint32_t p,
				const char *const *names, bool xgboost)
{
	clv_tree_rows rows;
	clv_ensemble *e = NULL;
	clv_error	err;
	clv_model	m;
	clv_status	st;
	double		x[8];
	int			failed;

	clv_tree_rows_init(&rows, p, 0);
	for (int i = 0; i < 300; i++)
	{
		for (uint32_t j = 0; j < p; j++)
			x[j] = (i * 7 + j * 13) % 17 == 0 ? NAN : sin(i * 0.37 + j * 1.3);
		clv_tree_rows_append(&rows, which == 1 || which == 4 ? (x[0] > 0.2) : fabs(x[0]) * 3 + (i % 5),
							 x, &err);
	}
	if (which == 0 || which == 1)
	{
		clv_forest_options fo;

		clv_forest_options_default(&fo, p, which == 1);
		fo.n_trees = 2;
		fo.tree.max_depth = 3;
		fo.permutation_importance = which == 1;
		st = clv_forest_train(&rows, &fo, &e, &err);
	}
	else
	{
		clv_gbm_options go;

		clv_gbm_options_default(&go);
		go.n_rounds = 3;
		go.tree.max_depth = 2;
		go.loss = which == 2 ? CLV_LOSS_SQUARED : which == 3 ? CLV_LOSS_TWEEDIE : CLV_LOSS_LOGISTIC;
		st = clv_gbm_train(&rows, &go, &e, &err);
	}
	clv_tree_rows_free(&rows);
	if (st == CLV_OK && xgboost)
		st = as_imported(&e, which == 4 ? CLV_XGBOOST_LOGISTIC : CLV_XGBOOST_SQUARED, &err);
	if (st != CLV_OK)
	{
		fprintf(stderr, "%s: %s\n", name, err.message);
		return 1;
	}
	memset(&m, 0, sizeof(m));
	m.kind = e->type == CLV_ENSEMBLE_FOREST ? CLV_KIND_FOREST : CLV_KIND_GBM;
	m.n_features = p;
	m.feature_names = (char **) names;
	m.meta = "{}";
	m.ensemble = e;
	failed = write_model(dir, name, &m);
	clv_ensemble_free(e);
	return failed;
}

/* A k-means model of k clusters fitted on a fixed design. */
static int
write_kmeans_seed(const char *dir, const char *name, uint32_t k, uint32_t p, bool standardize,
				  const char *const *names)
{
	clv_kmeans_rows rows;
	clv_kmeans_options opt;
	clv_kmeans_fit fit;
	clv_kmeans *km = NULL;
	clv_error	err;
	clv_model	m;
	double		x[8];
	int			failed;

	clv_kmeans_rows_init(&rows, p, 0);
	for (int i = 0; i < 200; i++)
	{
		for (uint32_t j = 0; j < p; j++)
			x[j] = (i % k) * (j + 1) * 3.0 + sin(i * 0.37 + j * 1.3);
		clv_kmeans_rows_append(&rows, x, &err);
	}
	clv_kmeans_options_default(&opt, k);
	opt.standardize = standardize;
	opt.seed = 1;
	if (clv_kmeans_train(&rows, &opt, &km, &fit, &err) != CLV_OK)
	{
		fprintf(stderr, "%s: %s\n", name, err.message);
		return 1;
	}
	clv_kmeans_rows_free(&rows);
	memset(&m, 0, sizeof(m));
	m.kind = CLV_KIND_KMEANS;
	m.n_features = p;
	m.feature_names = (char **) names;
	m.meta = "{\"inertia\": 12.5, \"iterations\": 3, \"converged\": true}";
	m.kmeans = km;
	failed = write_model(dir, name, &m);
	clv_kmeans_free(km);
	return failed;
}

/*
 * A small multi-layer perceptron on a fixed design: a regression with one
 * hidden ReLU layer and early stopping (validation scores in the payload),
 * or a classifier with two tanh layers.
 */
static int
write_mlp_seed(const char *dir, const char *name, bool classify, uint32_t p,
			   const char *const *names)
{
	clv_tree_rows rows;
	clv_mlp_options opt;
	clv_mlp    *mlp = NULL;
	clv_error	err;
	clv_model	m;
	double		x[8];
	int			failed;

	clv_tree_rows_init(&rows, p, 0);
	for (int i = 0; i < 100; i++)
	{
		for (uint32_t j = 0; j < p; j++)
			x[j] = sin(i * 0.37 + j * 1.3);
		clv_tree_rows_append(&rows, classify ? (x[0] > 0.2) : fabs(x[0]) * 3 + (i % 5), x, &err);
	}
	clv_mlp_options_default(&opt, classify);
	opt.max_epochs = 4;
	if (classify)
	{
		opt.n_hidden = 2;
		opt.hidden[0] = 3;
		opt.hidden[1] = 2;
		opt.activation = CLV_MLP_TANH;
	}
	else
	{
		opt.hidden[0] = 4;
		opt.early_stopping = true;
	}
	if (clv_mlp_train(&rows, &opt, &mlp, &err) != CLV_OK)
	{
		fprintf(stderr, "%s: %s\n", name, err.message);
		clv_tree_rows_free(&rows);
		return 1;
	}
	clv_tree_rows_free(&rows);
	memset(&m, 0, sizeof(m));
	m.kind = CLV_KIND_MLP;
	m.n_features = p;
	m.feature_names = (char **) names;
	m.meta = "{}";
	m.mlp = mlp;
	failed = write_model(dir, name, &m);
	clv_mlp_free(mlp);
	return failed;
}

int
main(int argc, char **argv)
{
	const char *const rfm[] = {"recency", "frequency", "monetary"};
	const char *const two[] = {"tenure_days", "orders_90d"};
	const char *const odd[] = {"", "caf\xc3\xa9", "x y"};
	const char *const sbg_features[] = {"periods", "churned"};
	const double sbg_params[] = {0.704, 1.182};
	const char *wide[24];
	char		wide_buf[24][16];
	int			failed = 0;

	if (argc != 2)
	{
		fprintf(stderr, "usage: %s corpus-directory\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < 24; i++)
	{
		snprintf(wide_buf[i], sizeof(wide_buf[i]), "feature_%02d", i);
		wide[i] = wide_buf[i];
	}
	failed += write_seed(argv[1], "linreg_p1_bare", CLV_KIND_LINREG, 1, NULL, "");
	failed += write_seed(argv[1], "linreg_p3_names_meta", CLV_KIND_LINREG, 3, rfm,
						 "{\"n\": 2357, \"l2\": 0, \"r2\": 0.41}");
	failed += write_seed(argv[1], "linreg_p24_names", CLV_KIND_LINREG, 24, wide, "{}");
	failed += write_seed(argv[1], "logreg_p2_names", CLV_KIND_LOGREG, 2, two,
						 "{\"n\": 100, \"converged\": true}");
	failed += write_seed(argv[1], "logreg_p5_meta", CLV_KIND_LOGREG, 5, NULL,
						 "{\"options\": {\"l2\": 1.5, \"max_iter\": 50}}");
	failed += write_seed(argv[1], "logreg_p3_odd_names", CLV_KIND_LOGREG, 3, odd, "");
	failed += write_tree_seed(argv[1], "forest_regression_p3", 0, 3, rfm, false);
	failed += write_tree_seed(argv[1], "forest_classifier_p2", 1, 2, NULL, false);
	failed += write_tree_seed(argv[1], "gbm_squared_p3", 2, 3, NULL, false);
	failed += write_tree_seed(argv[1], "gbm_tweedie_p2", 3, 2, two, false);
	/* covers that are not row counts: the version-2 cover encoding 2 */
	failed += write_tree_seed(argv[1], "gbm_logistic_p3", 4, 3, NULL, false);
	/* imported from XGBoost: binary32 boosting (ensemble type 3) */
	failed += write_tree_seed(argv[1], "xgboost_squared_p3", 2, 3, rfm, true);
	failed += write_tree_seed(argv[1], "xgboost_logistic_p2", 4, 2, NULL, true);
	failed += write_kmeans_seed(argv[1], "kmeans_k3_p2", 3, 2, false, NULL);
	failed += write_kmeans_seed(argv[1], "kmeans_k4_p3_standardized", 4, 3, true, rfm);
	failed += write_params_seed(argv[1], "sbg_seed", CLV_KIND_SBG, sbg_features, 2, sbg_params,
								"{\"n\": 1000, \"unit\": \"1 year\", \"unit_days\": 365.25}");
	failed += write_mlp_seed(argv[1], "mlp_regression_p3", false, 3, rfm);
	failed += write_mlp_seed(argv[1], "mlp_classifier_p2", true, 2, NULL);
	failed += write_cov_seed(argv[1], "bgnbd_cov_p2_p1", CLV_KIND_BGNBD_COV, 2, 1);
	failed += write_cov_seed(argv[1], "paretonbd_cov_p1_p0", CLV_KIND_PARETONBD_COV, 1, 0);
	return failed ? 1 : 0;
}
