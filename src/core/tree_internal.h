/*
 * tree_internal.h — what the tree files share and nobody else needs: the
 * canonical row order, binned features, the worker pool, the histogram tree
 * grower and a deterministic random number generator.
 */
#ifndef CLV_TREE_INTERNAL_H
#define CLV_TREE_INTERNAL_H

#include "trees.h"

#include <math.h>
#include <stdatomic.h>
#include <pthread.h>
#include <time.h>

/* Seconds on the monotonic clock: when progress was last reported. */
static inline double
tree_seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- random numbers: splitmix64, seeded from (seed, stream) --------------- */

typedef struct tree_rng
{
	uint64_t	state;
} tree_rng;

static inline uint64_t
tree_rng_next(tree_rng *rng)
{
	uint64_t	z = (rng->state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* An independent stream per (seed, stream): one per tree, one per purpose. */
static inline void
tree_rng_init(tree_rng *rng, uint64_t seed, uint64_t stream)
{
	rng->state = seed;
	rng->state = tree_rng_next(rng) ^ (stream * 0xD1B54A32D192ED03ull);
	(void) tree_rng_next(rng);
}

/* High 64 bits of a 64 × 64-bit product, the same on every platform. */
static inline uint64_t
mul_high64(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
	return (uint64_t) (((unsigned __int128) a * b) >> 64);
#else
	uint64_t	lo_lo = (a & 0xFFFFFFFFu) * (b & 0xFFFFFFFFu);
	uint64_t	lo_hi = (a & 0xFFFFFFFFu) * (b >> 32);
	uint64_t	hi_lo = (a >> 32) * (b & 0xFFFFFFFFu);
	uint64_t	hi_hi = (a >> 32) * (b >> 32);
	uint64_t	mid = (lo_lo >> 32) + (lo_hi & 0xFFFFFFFFu) + (hi_lo & 0xFFFFFFFFu);

	return hi_hi + (lo_hi >> 32) + (hi_lo >> 32) + (mid >> 32);
#endif
}

/* Uniform integer in [0, bound), bound >= 1 (Lemire's multiply-shift). */
static inline uint64_t
tree_rng_below(tree_rng *rng, uint64_t bound)
{
	return mul_high64(tree_rng_next(rng), bound);
}

/* ---- canonical order and binning (tree_rows.c) --------------------------- */

/* Sort rows by (y, x bit patterns): the model then ignores arrival order. */
void		tree_rows_sort(clv_tree_rows *rows);

/*
 * Features binned by quantiles.  Feature j has n_bins[j] value bins coded
 * 0 .. n_bins[j] - 1 and, when it has missing values, the code
 * missing_code[j] = n_bins[j]; bin b holds the values x with
 * threshold[j][b - 1] <= x < threshold[j][b].  Codes are column-major so a
 * histogram pass over one feature reads one contiguous column.
 */
typedef struct tree_bins
{
	size_t		n;
	uint32_t	p;
	uint8_t    *codes;			/* p × n */
	uint16_t   *n_bins;			/* value bins per feature, >= 1 */
	bool	   *has_missing;
	double	   *thresholds;		/* p × CLV_TREES_MAX_BINS; n_bins[j] - 1 used */
} tree_bins;

/* Bin rows (clv_alloc'd; free with tree_bins_free). */
void		tree_bins_build(const clv_tree_rows *rows, uint32_t max_bins, tree_bins *bins);
void		tree_bins_free(tree_bins *bins);

static inline const uint8_t *
tree_bins_column(const tree_bins *bins, uint32_t j)
{
	return bins->codes + (size_t) j * bins->n;
}

static inline double
tree_bins_threshold(const tree_bins *bins, uint32_t j, uint32_t b)
{
	return bins->thresholds[(size_t) j * CLV_TREES_MAX_BINS + b];
}

/* ---- worker pool (tree_pool.c) ------------------------------------------- */

/*
 * Runs tasks 0 .. n_tasks - 1 on the calling thread (worker 0) and
 * n_threads - 1 started threads (workers 1 .. n_threads - 1).  Task
 * functions may run on a started thread: they must not call clv_alloc,
 * clv_release, clv_check_interrupts or anything of the host, and should
 * return soon after tree_pool_stopping() becomes true.
 */
typedef void (*tree_task_fn) (void *arg, uint32_t task, uint32_t worker);

typedef struct tree_pool tree_pool;

tree_pool  *tree_pool_start(uint32_t n_threads);

/* Number of workers: how many scratch areas the tasks need. */
uint32_t	tree_pool_workers(const tree_pool *pool);

/*
 * Run the tasks and wait, polling for cancellation between tasks and about
 * every 100 ms, and calling progress (progress_base + tasks done, of
 * progress_total) about once a second.  Returns false when cancelled: the
 * caller frees what it malloc'd, calls tree_pool_finish and then
 * clv_check_interrupts.
 */
bool		tree_pool_run(tree_pool *pool, tree_task_fn fn, void *arg, uint32_t n_tasks,
						  const clv_tree_settings *settings, uint32_t progress_base,
						  uint32_t progress_total, const char *what);
/* Whether to stop; on the calling thread this also polls for an interrupt. */
bool		tree_pool_stopping(tree_pool *pool);
void		tree_pool_finish(tree_pool *pool);

/* ---- the tree grower (tree.c) --------------------------------------------- */

/* Growth settings after validation; lambda = 0 and min_child_weight = 0 for forests. */
typedef struct grow_params
{
	uint32_t	max_depth;
	uint32_t	min_samples_leaf;
	double		min_gain;
	double		lambda;
	double		min_child_weight;
	bool		entropy;		/* classification forest with the entropy criterion */
	uint32_t	mtry;			/* features drawn per node; 0 = all of `features` */
	double		leaf_scale;		/* boosting: -learning rate; forest: 1 */
	double		gain_scale;		/* loss reduction per unit of G²/(H + λ) gain */
} grow_params;

/* A node under construction; split fields valid when feature >= 0. */
typedef struct grow_node
{
	int32_t		feature;
	uint16_t	bin;			/* codes <= bin go left */
	uint8_t		default_left;
	uint32_t	parent;
	uint32_t	left;
	uint32_t	right;
	double		value;
	double		cover;
	double		gain;			/* loss reduction of the split */
	size_t		begin;			/* rows idx[begin .. end) */
	size_t		end;
	double		g;				/* sums of the rows' gradients and hessians */
	double		h;
} grow_node;

typedef struct grow_tree
{
	grow_node  *nodes;
	uint32_t	n_nodes;
	uint32_t	cap;
} grow_tree;

/*
 * Grows one tree on the rows idx[0 .. n_idx) (duplicates allowed: a
 * bootstrap sample), with gradients g and hessians h (h NULL = all 1), over
 * the features listed (n_features of them).  idx is reordered so that each
 * leaf's rows are contiguous.  rng draws the mtry features of each node.
 * pool, when given, builds each level's histograms and partitions on its
 * workers (boosting); a forest worker passes its pool only so that growth
 * stops when the pool is stopping.  All memory is malloc'd, so a worker may
 * call this; returns false when out of memory or stopped.
 */
typedef struct grow_scratch grow_scratch;

grow_scratch *grow_scratch_new(const tree_bins *bins);
void		grow_scratch_free(grow_scratch *s);

bool		grow_tree_build(grow_scratch *s, const tree_bins *bins, const grow_params *gp,
							const double *g, const double *h, uint32_t *idx, size_t n_idx,
							const uint32_t *features, uint32_t n_features, tree_rng *rng,
							tree_pool *pool, grow_tree *out);
void		grow_tree_free(grow_tree *t);

/* Copy a grown tree into flat nodes with real thresholds. */
void		grow_tree_flatten(const grow_tree *t, const tree_bins *bins, clv_tree_node *dst,
							  uint32_t first);

/* Check the shared settings (a caller may bypass the glue's checks). */
clv_status	tree_check_settings(const clv_tree_settings *s, uint32_t p, clv_error *err);

/* After a cancelled run: raise the host's interrupt, or report it if that returns. */
clv_status	tree_interrupted(clv_error *err);

/* A worker (or the caller, between workers) could not malloc. */
clv_status	tree_out_of_memory(clv_error *err);

/* ---- ensembles (ensemble.c) ------------------------------------------------ */

clv_ensemble *ensemble_new(uint32_t n_features, uint32_t n_trees, uint32_t n_nodes);

/*
 * Before a fitted ensemble is returned: one whose leaves or covers
 * overflowed cannot be stored, so that is an error; overflowed diagnostics
 * become NaN (not computed), as the decoder requires.  Builds the
 * prediction layout.
 */
clv_status	ensemble_finish(clv_ensemble *e, clv_error *err);

/* Whether a split's cover is its children's, up to rounding: the decoder's rule. */
bool		ensemble_covers_add_up(double parent, double left, double right);

/* Leaf of tree t that x reaches (x as double, NaN = missing). */
static inline const clv_tree_node *
ensemble_leaf(const clv_tree_node *nodes, uint32_t root, const double *x)
{
	const clv_tree_node *node = nodes + root;

	while (node->feature >= 0)
	{
		double		v = x[node->feature];
		/* bitwise, not short-circuit: no branch to mispredict (NaN < t is false) */
		bool		left = (v < node->threshold) | (isnan(v) & node->default_left);

		node = nodes + (left ? node->left : node->right);
	}
	return node;
}

#endif							/* CLV_TREE_INTERNAL_H */
