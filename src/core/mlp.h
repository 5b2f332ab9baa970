/*
 * mlp.h — multi-layer perceptrons: fully connected hidden layers (ReLU or
 * tanh), trained with Adam on mini-batches of standardised features, on the
 * squared error (identity output) or the log loss (logistic output).
 *
 * Training rows are the tree ensembles' clv_tree_rows (float4 features; NaN
 * is an error here, not a missing value), sorted into the canonical order
 * first, so a model depends only on the multiset of rows and the seed.
 * Within a mini-batch the workers take disjoint rows (forward and backward
 * passes) and then disjoint weights (each gradient summed over the batch's
 * rows in row order), so no sum depends on the number of threads.
 */
#ifndef CLV_MLP_H
#define CLV_MLP_H

#include "trees.h"

#define CLV_MLP_MAX_HIDDEN_LAYERS	8
#define CLV_MLP_MAX_UNITS			1024	/* per hidden layer */
#define CLV_MLP_MAX_WEIGHTS			(1u << 22)
#define CLV_MLP_MAX_BATCH			16384
#define CLV_MLP_MAX_EPOCHS			100000

typedef enum clv_mlp_activation
{
	CLV_MLP_RELU = 1,
	CLV_MLP_TANH = 2
} clv_mlp_activation;

typedef enum clv_mlp_loss
{
	CLV_MLP_SQUARED_ERROR = 1,	/* identity output; y standardised for training */
	CLV_MLP_LOG_LOSS = 2		/* logistic output; y in {0, 1} */
} clv_mlp_loss;

typedef struct clv_mlp_options
{
	uint32_t	n_hidden;		/* 0 .. CLV_MLP_MAX_HIDDEN_LAYERS */
	uint32_t	hidden[CLV_MLP_MAX_HIDDEN_LAYERS];	/* units, 1 .. CLV_MLP_MAX_UNITS */
	clv_mlp_activation activation;
	clv_mlp_loss loss;
	double		learning_rate;	/* Adam's step size, > 0 */
	uint32_t	batch_size;		/* 0 = min(200, training rows) */
	uint32_t	max_epochs;		/* >= 1 */
	double		l2;				/* >= 0: alpha/(2 · batch rows) · ‖W‖² per batch */
	bool		early_stopping; /* on a validation score of held-out rows */
	double		validation_fraction;	/* (0, 1), with early_stopping */
	uint32_t	n_iter_no_change;	/* epochs without an improvement of tol */
	double		tol;			/* >= 0 */
	uint64_t	seed;
	uint32_t	n_threads;		/* >= 1 */
	/*
	 * Multiply-adds of a mini-batch (rows × weights) below which it runs on
	 * one thread: a small network's batch is a fraction of a millisecond,
	 * less than handing half of it to a thread that a busy machine may not
	 * schedule at once.  The model is the same either way.
	 */
	uint64_t	min_parallel_work;
	clv_progress_fn progress;	/* epochs done of max_epochs; NULL = silent */
	void	   *progress_arg;
} clv_mlp_options;

/* The rows of a mini-batch: batch_size, or min(200, n_train), at most n_train. */
uint32_t	clv_mlp_batch_size(const clv_mlp_options *opt, size_t n_train);

/* The training rows of n: those left after the validation fraction. */
size_t		clv_mlp_training_rows(const clv_mlp_options *opt, size_t n);

/* scikit-learn's defaults: one hidden layer of 100 ReLU units, Adam at 0.001. */
void		clv_mlp_options_default(clv_mlp_options *opt, bool classification);

typedef struct clv_mlp
{
	uint32_t	n_features;
	uint32_t	n_layers;		/* weight layers: hidden layers + 1 */
	uint32_t   *sizes;			/* n_layers + 1: n_features, the hidden units, 1 */
	clv_mlp_activation activation;
	clv_mlp_loss loss;
	double	   *x_mean;			/* n_features: the network sees (x - mean) / scale */
	double	   *x_scale;		/* n_features, > 0 */
	double		y_mean;			/* squared error: prediction = mean + scale · output */
	double		y_scale;		/* > 0; 0 and 1 for the log loss */
	uint32_t	n_weights;
	/* layer l: sizes[l] × sizes[l + 1] weights row-major, then sizes[l + 1] biases */
	double	   *weights;
	/* training diagnostics */
	uint32_t	n_epochs;		/* epochs run, >= 1 */
	uint32_t	best_epoch;		/* whose weights these are, 1 .. n_epochs */
	double	   *loss_curve;		/* n_epochs: training loss with the L2 term */
	double	   *valid_curve;	/* n_epochs validation scores (R² or accuracy), or NULL */
	/* derived, not encoded: scratch for one prediction */
	double	   *scratch;
	uint32_t	max_width;
} clv_mlp;

/*
 * Train.  Rows are sorted in place into canonical order first.  Errors: too
 * few rows (CLV_ERR_DATA), NaN features or y outside {0, 1} for the log loss
 * (CLV_ERR_INVALID), bad options (CLV_ERR_INVALID), too many weights
 * (CLV_ERR_LIMIT), a diverging fit (CLV_ERR_NOCONVERGE), cancellation
 * through clv_check_interrupts.  The result is clv_alloc'd; free with
 * clv_mlp_free.
 */
clv_status	clv_mlp_train(clv_tree_rows *rows, const clv_mlp_options *opt,
						  clv_mlp **out, clv_error *err);
void		clv_mlp_free(clv_mlp *m);

/* The value for x (n_features finite values): y's scale, or P(y = 1). */
double		clv_mlp_predict(const clv_mlp *m, const double *x);

struct clv_buf;
struct clv_reader;
void		clv_mlp_encode(const clv_mlp *m, struct clv_buf *buf);
clv_status	clv_mlp_decode(struct clv_reader *r, uint32_t n_features, clv_mlp **out,
						   clv_error *err);

#endif							/* CLV_MLP_H */
