/*
 * metrics.h — evaluation metrics: regression errors and R², log loss, ROC
 * AUC and the normalised Gini of a ranking.
 *
 * The error metrics and the log loss keep fixed-size sufficient statistics in
 * a plain array of doubles (the glue stores it as a float8[] state), merged
 * exactly enough that a parallel plan agrees with a serial one.  AUC and Gini
 * need every (key, value) pair, sorted: they keep a growable array of pairs
 * bounded by a memory limit.
 */
#ifndef CLV_METRICS_H
#define CLV_METRICS_H

#include "clv_core.h"

/* ---- regression errors and R² -------------------------------------------- */

/*
 * Layout of the residual state.  Squared and absolute errors are double-double
 * sums (hi + lo).  y keeps its mean and centred sum of squares (Welford's
 * update, and Chan et al.'s to merge), so SST never suffers the cancellation
 * of Σy² − n·ȳ²; both are double-double too, so that y with a large offset
 * (revenue in the millions, to the cent) keeps SST to full precision and a
 * parallel plan agrees with a serial one.
 */
enum
{
	CLV_RESID_N = 0,
	CLV_RESID_SSE_HI,
	CLV_RESID_SSE_LO,
	CLV_RESID_SAE_HI,
	CLV_RESID_SAE_LO,
	CLV_RESID_MEAN_HI,
	CLV_RESID_MEAN_LO,
	CLV_RESID_M2_HI,
	CLV_RESID_M2_LO,
	CLV_RESID_LEN
};

/*
 * Add one finite (y, prediction) pair, or merge state b into a.  Both return
 * false when an intermediate overflowed (the state is then unusable).
 */
bool		clv_residuals_add(double *s, double y, double prediction);
bool		clv_residuals_merge(double *a, const double *b);

/* Check a state from outside: a whole row count and finite, sane sums. */
bool		clv_residuals_valid(const double *s);

double		clv_residuals_mse(const double *s);
double		clv_residuals_mae(const double *s);

/* 1 − SSE/SST; false when SST = 0 (fewer than two distinct y values). */
bool		clv_residuals_r2(const double *s, double *r2);

/* ---- log loss ------------------------------------------------------------ */

/* Probabilities are clipped to [eps, 1 − eps] so a confident miss stays finite. */
#define CLV_LOGLOSS_EPS 1e-15

enum
{
	CLV_LOGLOSS_STATE_N = 0,
	CLV_LOGLOSS_STATE_SUM_HI,
	CLV_LOGLOSS_STATE_SUM_LO,
	CLV_LOGLOSS_STATE_LEN
};

/* The negative log-likelihood of one label; probability within [0, 1]. */
double		clv_logloss_term(bool label, double probability);
void		clv_logloss_state_add(double *s, bool label, double probability);
void		clv_logloss_state_merge(double *a, const double *b);
bool		clv_logloss_state_valid(const double *s);
double		clv_logloss_state_mean(const double *s);

/* ---- ranking metrics: pairs of doubles ------------------------------------ */

/*
 * AUC stores (score, label as 0 or 1); Gini stores (predicted, actual).
 * Keys are never NaN: ordering them is all that matters, so ±Infinity is a
 * valid key.
 */
typedef struct clv_pair
{
	double		key;
	double		value;
} clv_pair;

typedef struct clv_pairs
{
	size_t		n;
	size_t		cap;
	size_t		max_bytes;		/* limit on the pair array; 0 = none */
	clv_pair   *v;
} clv_pairs;

void		clv_pairs_init(clv_pairs *pairs, size_t max_bytes);
clv_status	clv_pairs_reserve(clv_pairs *pairs, size_t need, clv_error *err);
clv_status	clv_pairs_append(clv_pairs *pairs, double key, double value,
							 clv_error *err);
clv_status	clv_pairs_merge(clv_pairs *pairs, const clv_pairs *other,
							clv_error *err);
void		clv_pairs_free(clv_pairs *pairs);

/*
 * ROC AUC of (score, label) pairs: the Mann–Whitney U statistic over
 * n_pos · n_neg, a tie between a positive and a negative counting one half
 * (the same as averaging the ranks of tied scores).  Returns false, leaving
 * *auc untouched, when either class is empty.  Works on a copy: the pairs
 * are not reordered.
 */
bool		clv_auc(const clv_pairs *pairs, double *auc);

/*
 * Normalised Gini of (predicted, actual) pairs: the Gini of actual ordered by
 * predicted (descending) over the Gini of actual ordered by itself.  Each
 * member of a tie group in predicted counts as the mean actual of its group,
 * so the result does not depend on input order.  Both Ginis are divided by
 * n · Σ actual in Kaggle's definition; the ratio is formed without that
 * factor, so it equals Kaggle's value when Σ actual ≠ 0 and stays defined
 * when it is 0.  Returns false when the perfect Gini is 0 (all actual values
 * equal, or no rows).  The result is not finite when the sums overflowed.
 * Works on a copy.
 */
bool		clv_gini(const clv_pairs *pairs, double *gini);

/* ---- uplift: the Qini coefficient ----------------------------------------- */

/* One row of an uplift evaluation: finite score and outcome, and the group. */
typedef struct clv_uplift_row
{
	double		score;
	double		outcome;
	bool		treated;
} clv_uplift_row;

typedef struct clv_uplift_rows
{
	size_t		n;
	size_t		cap;
	size_t		max_bytes;		/* limit on the row array; 0 = none */
	clv_uplift_row *v;
} clv_uplift_rows;

void		clv_uplift_rows_init(clv_uplift_rows *rows, size_t max_bytes);
clv_status	clv_uplift_rows_reserve(clv_uplift_rows *rows, size_t need,
									clv_error *err);
clv_status	clv_uplift_rows_append(clv_uplift_rows *rows, double score,
								   bool treated, double outcome, clv_error *err);
clv_status	clv_uplift_rows_merge(clv_uplift_rows *rows,
								  const clv_uplift_rows *other, clv_error *err);

/*
 * Normalised Qini coefficient (Radcliffe 2007, in scikit-uplift's form).
 * Rows are taken by score, descending, one group of tied scores at a time;
 * after each group the Qini curve is at x = rows so far and
 * Q = Yt − Yc · Nt / Nc (Yt, Yc: summed outcome of treated and control rows
 * so far; Nt, Nc: their counts; Q = Yt while Nc = 0), starting from (0, 0).
 * Its trapezoidal area less that of the random line from (0, 0) to (n, Q(n)),
 * over the same for the perfect ranking (score = outcome for treated rows,
 * −outcome for control rows, ties grouped likewise).  Returns false when
 * there is no treated or no control row, or when the perfect curve has no
 * area above the random line.  Works on a copy.
 */
bool		clv_qini(const clv_uplift_rows *rows, double *qini);

#endif							/* CLV_METRICS_H */
