/*
 * trees.h — tree ensembles: random forests and gradient boosting on
 * histogram-binned features, prediction from flat node arrays, and exact
 * TreeSHAP explanations.
 *
 * Training data arrive as rows (float4 features, NaN = missing; double
 * targets) held in a clv_tree_rows buffer that aggregate states append to and
 * merge.  Training first sorts the rows into a canonical order, so a model
 * depends only on the multiset of rows and the seed: serial and parallel
 * plans give byte-identical models.
 */
#ifndef CLV_TREES_H
#define CLV_TREES_H

#include "clv_core.h"

#define CLV_TREES_MAX_FEATURES	1000
#define CLV_TREES_MAX_BINS		256
#define CLV_TREES_MAX_DEPTH		30
#define CLV_TREES_MAX_TREES		100000

/* ---- training rows ------------------------------------------------------- */

typedef struct clv_tree_rows
{
	uint32_t	p;				/* features per row */
	size_t		n;
	size_t		cap;
	size_t		max_bytes;		/* limit on x and y together; 0 = none */
	float	   *x;				/* n × p, row-major; NaN = missing */
	double	   *y;				/* finite; 0/1 for classification */
} clv_tree_rows;

void		clv_tree_rows_init(clv_tree_rows *rows, uint32_t p, size_t max_bytes);

/*
 * Append one row.  x has p values; NaN means missing.  Values that do not
 * fit a float4 (|x| > FLT_MAX, ±Inf) are an error (CLV_ERR_INVALID), as is a
 * non-finite y.  Past max_bytes: CLV_ERR_LIMIT with the sizes in the detail.
 */
clv_status	clv_tree_rows_append(clv_tree_rows *rows, double y, const double *x,
								 clv_error *err);
clv_status	clv_tree_rows_merge(clv_tree_rows *rows, const clv_tree_rows *other,
								clv_error *err);
void		clv_tree_rows_free(clv_tree_rows *rows);

/* ---- options -------------------------------------------------------------- */

typedef enum clv_tree_criterion
{
	CLV_CRITERION_SQUARED = 1,	/* regression (and gradient boosting) */
	CLV_CRITERION_GINI,
	CLV_CRITERION_ENTROPY
} clv_tree_criterion;

typedef enum clv_gbm_loss
{
	CLV_LOSS_SQUARED = 1,
	CLV_LOSS_LOGISTIC,			/* y in {0, 1} */
	CLV_LOSS_TWEEDIE			/* y >= 0, log link, power in (1, 2) */
} clv_gbm_loss;

/*
 * Called on the calling thread only, at most about once a second, when the
 * caller asked for progress; `done` of `total` trees or rounds.  Worker
 * threads may be running and reading the training buffers meanwhile, so the
 * callback must not raise an error or otherwise leave by longjmp.  A host
 * whose report can serve a pending cancel (PostgreSQL's ereport at any
 * level) must hold that off while it reports: the training notices the
 * cancel at its next poll, stops and joins its workers, and only then lets
 * it through.
 */
typedef void (*clv_progress_fn) (void *arg, uint32_t done, uint32_t total,
								 const char *what);

/* Settings shared by both ensembles. */
typedef struct clv_tree_settings
{
	uint32_t	max_depth;		/* 1 .. CLV_TREES_MAX_DEPTH */
	uint32_t	min_samples_leaf;	/* >= 1 */
	double		min_gain;		/* >= 0: a split must reduce the loss by more */
	uint32_t	max_bins;		/* 2 .. CLV_TREES_MAX_BINS, quantile bins */
	uint64_t	seed;
	uint32_t	n_threads;		/* >= 1; 1 = no threads started */
	clv_progress_fn progress;	/* NULL = silent */
	void	   *progress_arg;
} clv_tree_settings;

typedef struct clv_forest_options
{
	clv_tree_settings tree;
	bool		classification; /* y in {0, 1}: leaves hold P(y = 1) */
	clv_tree_criterion criterion;	/* SQUARED for regression; GINI or ENTROPY */
	uint32_t	n_trees;		/* >= 1 */
	uint32_t	mtry;			/* features tried per split, 1 .. p */
	double		sample_fraction;	/* (0, 1] of n rows drawn per tree */
	bool		replace;		/* bootstrap (true) or subsample without replacement */
	bool		permutation_importance; /* on the out-of-bag rows; costs a pass per feature */
} clv_forest_options;

typedef struct clv_gbm_options
{
	clv_tree_settings tree;
	clv_gbm_loss loss;
	double		tweedie_power;	/* (1, 2), used by CLV_LOSS_TWEEDIE */
	uint32_t	n_rounds;		/* >= 1 */
	double		learning_rate;	/* (0, 1] */
	double		l2;				/* >= 0, on leaf values (XGBoost's lambda) */
	double		min_child_weight;	/* >= 0, on the hessian sum of a leaf */
	double		subsample;		/* (0, 1] of rows per round, without replacement */
	double		colsample;		/* (0, 1] of features per tree */
	double		validation_fraction;	/* [0, 1): held out for early stopping */
	uint32_t	early_stopping_rounds;	/* 0 = off; needs validation_fraction > 0 */
} clv_gbm_options;

/* Defaults for p features: the values doc/reference.md documents. */
void		clv_forest_options_default(clv_forest_options *opt, uint32_t p,
									   bool classification);
void		clv_gbm_options_default(clv_gbm_options *opt);

/* ---- the fitted ensemble: flat node arrays -------------------------------- */

/*
 * Nodes of all trees in one array; tree t's nodes are
 * [tree_start[t], tree_start[t + 1]) and its root is the first.  Internal
 * node: x[feature] < threshold goes to `left`, otherwise `right`; a missing
 * value (NaN) goes left when default_left.  Children are indexes into the
 * whole array and always greater than their parent's index (so a decoder
 * can check acyclicity in one pass).  Leaf: feature = -1, value = the leaf's
 * output.  cover = training weight (rows, or hessian sum for boosting)
 * through the node, which TreeSHAP needs.
 */
typedef struct clv_tree_node
{
	int32_t		feature;
	uint32_t	left;
	uint32_t	right;
	uint8_t		default_left;
	double		threshold;
	double		value;
	double		cover;
} clv_tree_node;

typedef enum clv_ensemble_type
{
	CLV_ENSEMBLE_FOREST = 1,	/* prediction = mean of the trees */
	CLV_ENSEMBLE_BOOSTED		/* prediction = link⁻¹(base + Σ trees) */
} clv_ensemble_type;

typedef enum clv_link
{
	CLV_LINK_IDENTITY = 1,
	CLV_LINK_LOGIT,
	CLV_LINK_LOG
} clv_link;

typedef struct clv_ensemble
{
	clv_ensemble_type type;
	clv_link	link;
	bool		classification;
	uint32_t	n_features;
	uint32_t	n_trees;
	uint32_t	n_nodes;
	uint32_t   *tree_start;		/* n_trees + 1 */
	clv_tree_node *nodes;
	double		base_score;		/* boosting: initial margin; forest: 0 */
	/*
	 * Boosting in binary32 arithmetic, as XGBoost predicts (imported models):
	 * the margin starts at the base score and rounds to float after adding
	 * each tree's leaf.  Encoded as ensemble type 3.
	 */
	bool		binary32;
	/* training diagnostics; NaN where not computed */
	double	   *importance;		/* n_features, impurity decrease, sums to 1 */
	double	   *permutation_importance;	/* n_features or NULL */
	double		oob_score;		/* forest: OOB R² (regression) or accuracy */
	double		oob_error;		/* forest: OOB MSE or Brier score */
	uint32_t	best_round;		/* boosting with early stopping, else n_trees */
	double		train_loss;		/* boosting: final training loss */
	double		valid_loss;		/* boosting: best validation loss or NaN */
	/* derived from the nodes for prediction (ensemble.c); not encoded */
	struct ensemble_walk *walk;
} clv_ensemble;

/*
 * Train.  Rows are sorted in place into canonical order first.  Errors:
 * too few rows (CLV_ERR_DATA), y out of range for the task
 * (CLV_ERR_INVALID), cancellation through clv_check_interrupts (which does
 * not return).  The result is clv_alloc'd; free with clv_ensemble_free.
 */
clv_status	clv_forest_train(clv_tree_rows *rows, const clv_forest_options *opt,
							 clv_ensemble **out, clv_error *err);
clv_status	clv_gbm_train(clv_tree_rows *rows, const clv_gbm_options *opt,
						  clv_ensemble **out, clv_error *err);
void		clv_ensemble_free(clv_ensemble *e);

/*
 * Serialised payload inside the model container (doc/model-format.md), in
 * the layout of a model format version: 1 (40-byte nodes) or 2 (compact
 * nodes).  The encoder needs a valid ensemble (trained or decoded).  The
 * decoder checks everything; version-1 nodes keep their stored order,
 * version-2 nodes come out in preorder, which predicts and explains the same.
 */
struct clv_buf;
struct clv_reader;
void		clv_ensemble_encode(const clv_ensemble *e, uint16_t version,
								struct clv_buf *buf);
clv_status	clv_ensemble_decode(struct clv_reader *r, uint32_t n_features,
								uint16_t version, clv_ensemble **out,
								clv_error *err);

/* ---- prediction and explanation ------------------------------------------ */

/* Raw margin: forest mean of leaves; boosting base + Σ leaves. NaN = missing. */
double		clv_ensemble_margin(const clv_ensemble *e, const double *x);

/* Response scale: the margin through the inverse link. */
double		clv_ensemble_predict(const clv_ensemble *e, const double *x);

/*
 * Exact TreeSHAP (Lundberg et al. 2018, algorithm 2) on the margin scale:
 * phi[j] for each feature, with Σ phi = margin(x) − *expected, where
 * *expected is the cover-weighted mean margin.  Scratch is allocated with
 * clv_alloc and released before returning.
 */
void		clv_ensemble_explain(const clv_ensemble *e, const double *x,
								 double *phi, double *expected);
/*
 * The value the explanations add up from: the model's expected margin over
 * the training data (TreeSHAP's φ0, the same for every x).
 */
double		clv_ensemble_expected(const clv_ensemble *e, uint32_t n_features);
/* The depth of the deepest leaf. */
uint32_t	clv_ensemble_depth(const clv_ensemble *e);

/* ---- models trained in XGBoost (xgboost.c) -------------------------------- */

typedef enum clv_xgboost_objective
{
	CLV_XGBOOST_SQUARED = 1,	/* reg:squarederror */
	CLV_XGBOOST_LOGISTIC,		/* binary:logistic */
	CLV_XGBOOST_TWEEDIE			/* reg:tweedie */
} clv_xgboost_objective;

/*
 * One tree as XGBoost stores it: parallel arrays of n_nodes, node 0 the
 * root, children by index (-1 at a leaf), nodes no split reaches (pruned)
 * ignored.  condition: a split's threshold (x < it goes left), a leaf's
 * value.  hessian: the cover, gain: the split's loss reduction.
 */
typedef struct clv_xgboost_tree
{
	uint32_t	n_nodes;
	const int64_t *left;
	const int64_t *right;
	const int64_t *feature;
	const float *condition;
	const uint8_t *default_left;
	const float *hessian;
	const float *gain;
} clv_xgboost_tree;

/*
 * A boosted ensemble that predicts what XGBoost's predict does: thresholds
 * moved so that a double x compares as XGBoost's float does, the margin
 * summed in binary32 from base_score on the margin scale XGBoost derives
 * from it.  Every index and value is checked (CLV_ERR_INVALID, naming the
 * tree and node): children in range, each node reached once from the root,
 * depth at most CLV_TREES_MAX_DEPTH, finite values, features below
 * n_features.
 */
clv_status	clv_xgboost_ensemble(const clv_xgboost_tree *trees, uint32_t n_trees,
								 uint32_t n_features, clv_xgboost_objective objective,
								 float base_score, clv_ensemble **out, clv_error *err);

/* The double t' with x < t' exactly when (float) x < t, for finite float t. */
double		clv_xgboost_threshold(float t);

#endif							/* CLV_TREES_H */
