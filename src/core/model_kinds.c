/*
 * model_kinds.c — the table of model kinds: for each stored kind, its name,
 * how its payload is written, read and freed, and what it can do (predict,
 * explain).  The container (model.c) and the glue look a kind up here and
 * never branch on it; adding a kind is a family's core file, its glue file,
 * one row below and its tests (see doc/adding-a-model-kind.md).
 *
 * Six payload shapes serve the kinds: a linear predictor's coefficients, a
 * probabilistic model's positive parameters, a covariate BTYD model's
 * parameters and coefficients, a tree ensemble, k-means centroids, a
 * multi-layer perceptron's layers.
 */
#include "model.h"
#include "linear.h"
#include "trees.h"
#include "kmeans.h"
#include "mlp.h"

#include <math.h>

/* ---- linear predictors: intercept, then one coefficient per feature ------ */

static void
coef_encode(const clv_model *m, uint16_t version, clv_buf *buf)
{
	(void) version;
	clv_buf_put_u32(buf, m->n_features + 1);
	for (uint32_t i = 0; i <= m->n_features; i++)
		clv_buf_put_f64(buf, m->coef[i]);
}

static clv_status
coef_decode(clv_reader *r, uint16_t version, clv_model *m, clv_error *err)
{
	uint32_t	n;

	(void) version;
	if (!clv_read_u32(r, &n))
		return clv_model_corrupt(err, "The coefficient count is missing.");
	if (n != m->n_features + 1)
		return clv_model_corrupt(err, "The coefficient count does not match the feature count.");
	m->coef = clv_alloc(sizeof(double) * n);
	for (uint32_t i = 0; i < n; i++)
	{
		if (!clv_read_f64(r, &m->coef[i]))
			return clv_model_corrupt(err, "The coefficients are truncated.");
		if (!isfinite(m->coef[i]))
			return clv_model_corrupt(err, "A coefficient is not finite.");
	}
	return CLV_OK;
}

static void
coef_free(clv_model *m)
{
	clv_release(m->coef);
}

static double
linreg_predict(const clv_model *m, const double *x)
{
	return clv_linear_margin(m->coef, x, m->n_features);
}

static double
logreg_predict(const clv_model *m, const double *x)
{
	return clv_logistic(clv_linear_margin(m->coef, x, m->n_features));
}

static void
linear_explain(const clv_model *m, const double *means, const double *x, double *phi)
{
	clv_linear_explain(m->coef, means, x, m->n_features, phi);
}

static double
linear_expected(const clv_model *m, const double *means)
{
	return clv_linear_margin(m->coef, means, m->n_features);	/* at the means */
}

/* ---- probabilistic models: their positive, finite parameters ------------ */

static void
params_encode(const clv_model *m, uint16_t version, clv_buf *buf)
{
	(void) version;
	clv_buf_put_u32(buf, m->n_params);
	for (uint32_t i = 0; i < m->n_params; i++)
		clv_buf_put_f64(buf, m->params[i]);
}

static clv_status
params_decode(clv_reader *r, uint16_t version, clv_model *m, clv_error *err)
{
	uint32_t	n;

	(void) version;
	if (!clv_read_u32(r, &n))
		return clv_model_corrupt(err, "The parameter count is missing.");
	if (n != clv_kind_ops_of(m->kind)->n_params)
		return clv_model_corrupt(err, "The parameter count does not match the model kind.");
	m->n_params = n;
	m->params = clv_alloc(sizeof(double) * n);
	for (uint32_t i = 0; i < n; i++)
	{
		if (!clv_read_f64(r, &m->params[i]))
			return clv_model_corrupt(err, "The parameters are truncated.");
		if (!(isfinite(m->params[i]) && m->params[i] > 0))
			return clv_model_corrupt(err, "A parameter is not positive and finite.");
	}
	return CLV_OK;
}

static void
params_free(clv_model *m)
{
	clv_release(m->params);
}

/*
 * ---- BTYD models with covariates: the counts of purchase and dropout
 * covariates, 4 positive base parameters, then the finite coefficients; the
 * feature names are frequency, recency, t and the covariates' names.
 */

static void
covariates_encode(const clv_model *m, uint16_t version, clv_buf *buf)
{
	(void) version;
	clv_buf_put_u32(buf, m->n_purchase_covariates);
	clv_buf_put_u32(buf, m->n_params - 4 - m->n_purchase_covariates);
	for (uint32_t i = 0; i < m->n_params; i++)
		clv_buf_put_f64(buf, m->params[i]);
}

static clv_status
covariates_decode(clv_reader *r, uint16_t version, clv_model *m, clv_error *err)
{
	uint32_t	p1,
				p2;

	(void) version;
	if (!clv_read_u32(r, &p1) || !clv_read_u32(r, &p2))
		return clv_model_corrupt(err, "The covariate counts are missing.");
	if (p1 > CLV_MAX_FEATURES || p2 > CLV_MAX_FEATURES || m->n_features != 3 + p1 + p2)
		return clv_model_corrupt(err, "The covariate counts do not match the feature count.");
	m->n_purchase_covariates = p1;
	m->n_params = 4 + p1 + p2;
	m->params = clv_alloc(sizeof(double) * m->n_params);
	for (uint32_t i = 0; i < m->n_params; i++)
	{
		if (!clv_read_f64(r, &m->params[i]))
			return clv_model_corrupt(err, "The parameters are truncated.");
		if (!isfinite(m->params[i]) || (i < 4 && !(m->params[i] > 0)))
			return clv_model_corrupt(err, i < 4 ? "A parameter is not positive and finite."
									 : "A coefficient is not finite.");
	}
	return CLV_OK;
}

/* ---- tree ensembles ------------------------------------------------------ */

static void
ensemble_encode(const clv_model *m, uint16_t version, clv_buf *buf)
{
	clv_ensemble_encode(m->ensemble, version, buf);
}

static clv_status
ensemble_decode(clv_reader *r, uint16_t version, clv_model *m, clv_error *err)
{
	clv_ensemble_type want = m->kind == CLV_KIND_FOREST ? CLV_ENSEMBLE_FOREST : CLV_ENSEMBLE_BOOSTED;
	clv_status	st = clv_ensemble_decode(r, m->n_features, version, &m->ensemble, err);

	if (st != CLV_OK)
		return st;
	if (m->ensemble->type != want)
		return clv_model_corrupt(err, "The ensemble type does not match the model kind.");
	return CLV_OK;
}

static void
ensemble_free(clv_model *m)
{
	clv_ensemble_free(m->ensemble);
}

static double
ensemble_predict(const clv_model *m, const double *x)
{
	return clv_ensemble_predict(m->ensemble, x);
}

static void
ensemble_explain(const clv_model *m, const double *means, const double *x, double *phi)
{
	double		expected;

	(void) means;
	clv_ensemble_explain(m->ensemble, x, phi, &expected);
}

static double
ensemble_expected(const clv_model *m, const double *means)
{
	(void) means;
	return clv_ensemble_expected(m->ensemble, m->n_features);
}

/* ---- k-means: centroids, standardization, cluster sizes ------------------ */

static void
kmeans_encode(const clv_model *m, uint16_t version, clv_buf *buf)
{
	(void) version;
	clv_kmeans_encode(m->kmeans, buf);
}

static clv_status
kmeans_decode(clv_reader *r, uint16_t version, clv_model *m, clv_error *err)
{
	(void) version;
	return clv_kmeans_decode(r, m->n_features, &m->kmeans, err);
}

static void
kmeans_free(clv_model *m)
{
	clv_kmeans_free(m->kmeans);
}

/* The cluster number, 1 .. k. */
static double
kmeans_predict(const clv_model *m, const double *x)
{
	return (double) clv_kmeans_nearest(m->kmeans, x) + 1;
}

/* ---- multi-layer perceptrons: layers, standardisation, weights ---------- */

static void
mlp_encode(const clv_model *m, uint16_t version, clv_buf *buf)
{
	(void) version;
	clv_mlp_encode(m->mlp, buf);
}

static clv_status
mlp_decode(clv_reader *r, uint16_t version, clv_model *m, clv_error *err)
{
	(void) version;
	return clv_mlp_decode(r, m->n_features, &m->mlp, err);
}

static void
mlp_free(clv_model *m)
{
	clv_mlp_free(m->mlp);
}

static double
mlp_predict(const clv_model *m, const double *x)
{
	return clv_mlp_predict(m->mlp, x);
}

/* ---- the table ----------------------------------------------------------- */

#define LINEAR(k, nm, pred) \
	{.kind = (k), .name = (nm), .encode = coef_encode, .decode = coef_decode, \
	 .free = coef_free, .predict = (pred), .needs_means = true, \
	 .explain = linear_explain, .expected = linear_expected}
#define PROBABILISTIC(k, nm, np) \
	{.kind = (k), .name = (nm), .n_params = (np), .encode = params_encode, \
	 .decode = params_decode, .free = params_free}
#define ENSEMBLE(k, nm) \
	{.kind = (k), .name = (nm), .missing_allowed = true, .encode = ensemble_encode, \
	 .decode = ensemble_decode, .free = ensemble_free, .predict = ensemble_predict, \
	 .explain = ensemble_explain, .expected = ensemble_expected}

/* Indexed by the stored kind number; row 0 is no kind. */
static const clv_kind_ops kinds[] = {
	[CLV_KIND_LINREG] = LINEAR(CLV_KIND_LINREG, "linreg", linreg_predict),
	[CLV_KIND_LOGREG] = LINEAR(CLV_KIND_LOGREG, "logreg", logreg_predict),
	[CLV_KIND_BGNBD] = PROBABILISTIC(CLV_KIND_BGNBD, "bgnbd", 4),
	[CLV_KIND_MBGNBD] = PROBABILISTIC(CLV_KIND_MBGNBD, "mbgnbd", 4),
	[CLV_KIND_PARETONBD] = PROBABILISTIC(CLV_KIND_PARETONBD, "paretonbd", 4),
	[CLV_KIND_GAMMAGAMMA] = PROBABILISTIC(CLV_KIND_GAMMAGAMMA, "gammagamma", 3),
	[CLV_KIND_SBG] = PROBABILISTIC(CLV_KIND_SBG, "sbg", 2),
	[CLV_KIND_FOREST] = ENSEMBLE(CLV_KIND_FOREST, "forest"),
	[CLV_KIND_GBM] = ENSEMBLE(CLV_KIND_GBM, "gbm"),
	[CLV_KIND_KMEANS] = {.kind = CLV_KIND_KMEANS, .name = "kmeans", .encode = kmeans_encode,
	.decode = kmeans_decode, .free = kmeans_free, .predict = kmeans_predict},
	[CLV_KIND_BGBB] = PROBABILISTIC(CLV_KIND_BGBB, "bgbb", 4),
	[CLV_KIND_BGNBD_COV] = {.kind = CLV_KIND_BGNBD_COV, .name = "bgnbd_cov",
	.encode = covariates_encode, .decode = covariates_decode, .free = params_free},
	[CLV_KIND_PARETONBD_COV] = {.kind = CLV_KIND_PARETONBD_COV, .name = "paretonbd_cov",
	.encode = covariates_encode, .decode = covariates_decode, .free = params_free},
	[CLV_KIND_MLP] = {.kind = CLV_KIND_MLP, .name = "mlp", .encode = mlp_encode,
	.decode = mlp_decode, .free = mlp_free, .predict = mlp_predict},
};

const clv_kind_ops *
clv_kind_ops_of(uint32_t kind)
{
	if (kind >= sizeof(kinds) / sizeof(kinds[0]) || kinds[kind].name == NULL)
		return NULL;
	return &kinds[kind];
}

const char *
clv_model_kind_name(clv_model_kind kind)
{
	const clv_kind_ops *ops = clv_kind_ops_of(kind);

	return ops ? ops->name : "unknown";
}

uint32_t
clv_model_kind_params(clv_model_kind kind)
{
	const clv_kind_ops *ops = clv_kind_ops_of(kind);

	return ops ? ops->n_params : 0;
}

double
clv_model_predict(const clv_model *model, const double *x)
{
	const clv_kind_ops *ops = clv_kind_ops_of(model->kind);

	return ops->predict ? ops->predict(model, x) : NAN;
}
