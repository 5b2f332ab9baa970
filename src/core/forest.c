/*
 * forest.c — random forests: regression (squared error) and binary
 * classification (Gini or entropy, leaves hold P(y = 1)).
 *
 * Tree t draws its rows and its per-node features from its own random
 * stream, seeded from (seed, t), and trees are stored in index order, so
 * the model is the same byte for byte whatever the number of threads.
 * Out-of-bag predictions are summed per row over the trees in index order
 * after training, for the same reason; that needs a bitmap of n bits per
 * tree, so past OOB_BITMAP_BUDGET (n × trees > 2^31) the out-of-bag
 * statistics and permutation importance are not computed (NaN).
 */
#include "tree_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OOB_CHUNK_ROWS	4096
/* Out-of-bag statistics need every tree's in-bag bitmap at once: at most this. */
#define OOB_BITMAP_BUDGET	((size_t) 256 << 20)
#define STREAM_PERMUTE	UINT64_C(0xFFFFFFFF00000001)

void
clv_forest_options_default(clv_forest_options *opt, uint32_t p, bool classification)
{
	memset(opt, 0, sizeof(*opt));
	opt->tree.max_depth = 20;
	opt->tree.min_samples_leaf = classification ? 1 : 5;
	opt->tree.min_gain = 0;
	opt->tree.max_bins = CLV_TREES_MAX_BINS;
	opt->tree.seed = 0;
	opt->tree.n_threads = 1;
	opt->classification = classification;
	opt->criterion = classification ? CLV_CRITERION_GINI : CLV_CRITERION_SQUARED;
	opt->n_trees = 100;
	/* ranger's and scikit-learn's usual choices: sqrt(p) to classify, p/3 otherwise */
	opt->mtry = classification ? (uint32_t) floor(sqrt((double) p)) : p / 3;
	if (opt->mtry < 1)
		opt->mtry = 1;
	opt->sample_fraction = 1.0;
	opt->replace = true;
	opt->permutation_importance = false;
}

typedef struct forest_job
{
	const clv_tree_rows *rows;
	const tree_bins *bins;
	const clv_forest_options *opt;
	grow_params gp;
	size_t		m;				/* rows drawn per tree */
	tree_pool  *pool;
	uint32_t   *features;		/* 0 .. p - 1 */
	/* per worker */
	grow_scratch **scratch;
	uint32_t  **idx;
	uint32_t  **counts;
	/* per tree, malloc'd by the workers */
	grow_tree  *trees;
	uint64_t  **in_bag;			/* bitmap of the rows each tree saw, or NULL */
	atomic_bool failed;
} forest_job;

static void
draw_rows(forest_job *job, tree_rng *rng, uint32_t *counts, uint32_t *idx, uint64_t *bag)
{
	size_t		n = job->rows->n;
	size_t		m = job->m;
	size_t		k = 0;

	memset(counts, 0, sizeof(uint32_t) * n);
	if (job->opt->replace)
		for (size_t i = 0; i < m; i++)
			counts[tree_rng_below(rng, n)]++;
	else
	{
		/* selection sampling (Knuth's algorithm S): m of n, each once */
		size_t		need = m;

		for (size_t i = 0; i < n && need > 0; i++)
			if (tree_rng_below(rng, n - i) < need)
			{
				counts[i] = 1;
				need--;
			}
	}
	/* ascending row order keeps the histogram passes cache-friendly */
	for (size_t i = 0; i < n; i++)
	{
		if (counts[i] && bag)
			bag[i / 64] |= UINT64_C(1) << (i % 64);
		for (uint32_t c = 0; c < counts[i]; c++)
			idx[k++] = (uint32_t) i;
	}
}

static void
forest_tree_task(void *arg, uint32_t t, uint32_t worker)
{
	forest_job *job = arg;
	tree_rng	rng;
	size_t		words = (job->rows->n + 63) / 64;

	if (job->in_bag)
	{
		job->in_bag[t] = calloc(words, sizeof(uint64_t));
		if (job->in_bag[t] == NULL)
		{
			atomic_store(&job->failed, true);
			return;
		}
	}
	tree_rng_init(&rng, job->opt->tree.seed, t);
	draw_rows(job, &rng, job->counts[worker], job->idx[worker],
			  job->in_bag ? job->in_bag[t] : NULL);
	if (!grow_tree_build(job->scratch[worker], job->bins, &job->gp, job->rows->y, NULL,
						 job->idx[worker], job->m, job->features, job->bins->p, &rng,
						 job->pool, &job->trees[t]))
	{
		if (!tree_pool_stopping(job->pool))
			atomic_store(&job->failed, true);
	}
}

/* ---- out-of-bag error and permutation importance ----------------------------- */

typedef struct oob_job
{
	const clv_tree_rows *rows;
	const clv_ensemble *e;
	uint64_t  **in_bag;
	const uint32_t *perm;		/* row permutation for permutation importance */
	uint32_t	n_chunks;
	/* results, allocated by the calling thread */
	double	   *pred;			/* n: OOB mean prediction, NaN without OOB trees */
	double	   *perm_sq;		/* p × n_chunks: squared error with feature j permuted */
	double	  **sums;			/* per worker: OOB_CHUNK_ROWS running sums */
	uint32_t  **counts;			/* per worker: OOB_CHUNK_ROWS tree counts */
} oob_job;

static inline bool
in_bag(uint64_t *const *bags, uint32_t t, size_t i)
{
	return (bags[t][i / 64] >> (i % 64)) & 1;
}

/*
 * Leaf value for a stored row, with feature `swapped` (or none, p) read
 * from another row: permutation importance without copying rows.
 */
static inline double
row_leaf(const clv_tree_node *nodes, uint32_t root, const float *row, uint32_t swapped,
		 const float *other)
{
	const clv_tree_node *node = nodes + root;

	while (node->feature >= 0)
	{
		uint32_t	j = (uint32_t) node->feature;
		double		v = j == swapped ? other[j] : row[j];
		/* bitwise, not short-circuit: no branch to mispredict (NaN < t is false) */
		bool		left = (v < node->threshold) | (isnan(v) & node->default_left);

		node = nodes + (left ? node->left : node->right);
	}
	return node->value;
}

/*
 * OOB mean prediction of the chunk's rows into out (NaN without OOB trees).
 * Tree by tree over the chunk, so a tree's nodes stay in cache; each row's
 * sum still runs in tree order.
 */
static void
oob_chunk(const oob_job *job, size_t begin, size_t end, uint32_t swapped, uint32_t worker,
		  double *out)
{
	const clv_tree_rows *rows = job->rows;
	const clv_ensemble *e = job->e;
	uint32_t	p = rows->p;
	double	   *sum = job->sums[worker];
	uint32_t   *count = job->counts[worker];

	memset(sum, 0, sizeof(double) * (end - begin));
	memset(count, 0, sizeof(uint32_t) * (end - begin));
	for (uint32_t t = 0; t < e->n_trees; t++)
		for (size_t i = begin; i < end; i++)
			if (!in_bag(job->in_bag, t, i))
			{
				const float *other = swapped < p ? rows->x + (size_t) job->perm[i] * p : NULL;

				sum[i - begin] += row_leaf(e->nodes, e->tree_start[t], rows->x + i * p, swapped, other);
				count[i - begin]++;
			}
	for (size_t i = begin; i < end; i++)
		out[i - begin] = count[i - begin] ? sum[i - begin] / count[i - begin] : NAN;
}

static void
oob_task(void *arg, uint32_t chunk, uint32_t worker)
{
	oob_job    *job = arg;
	const clv_tree_rows *rows = job->rows;
	uint32_t	p = rows->p;
	size_t		begin = (size_t) chunk * OOB_CHUNK_ROWS;
	size_t		end = begin + OOB_CHUNK_ROWS < rows->n ? begin + OOB_CHUNK_ROWS : rows->n;

	oob_chunk(job, begin, end, p, worker, job->pred + begin);
	if (job->perm == NULL)
		return;
	for (uint32_t j = 0; j < p; j++)
	{
		/* permuted predictions go to the second half of the sums buffer */
		double	   *permuted = job->sums[worker] + OOB_CHUNK_ROWS;
		double		sq = 0;

		oob_chunk(job, begin, end, j, worker, permuted);
		for (size_t i = begin; i < end; i++)
			if (!isnan(job->pred[i]))
				sq += pow(permuted[i - begin] - rows->y[i], 2);
		job->perm_sq[(size_t) j * job->n_chunks + chunk] = sq;
	}
}

static bool
out_of_bag(const clv_tree_rows *rows, const clv_forest_options *opt, clv_ensemble *e,
		   uint64_t **bags)
{
	uint32_t	p = rows->p;
	size_t		n = rows->n;
	oob_job		job = {.rows = rows, .e = e, .in_bag = bags,
	.n_chunks = (uint32_t) ((n + OOB_CHUNK_ROWS - 1) / OOB_CHUNK_ROWS)};
	tree_pool  *pool;
	double		sq = 0,
				hits = 0,
				sum_y = 0,
				sum_y2 = 0;
	size_t		n_oob = 0;
	bool		ok;

	job.pred = clv_alloc(sizeof(double) * n);
	if (opt->permutation_importance)
	{
		uint32_t   *perm = clv_alloc(sizeof(uint32_t) * n);
		tree_rng	rng;

		tree_rng_init(&rng, opt->tree.seed, STREAM_PERMUTE);
		for (size_t i = 0; i < n; i++)
			perm[i] = (uint32_t) i;
		for (size_t i = n - 1; i > 0; i--)
		{
			size_t		k = tree_rng_below(&rng, i + 1);
			uint32_t	tmp = perm[i];

			perm[i] = perm[k];
			perm[k] = tmp;
		}
		job.perm = perm;
		job.perm_sq = clv_alloc(sizeof(double) * p * job.n_chunks);
	}
	job.sums = clv_alloc(sizeof(double *) * opt->tree.n_threads);
	job.counts = clv_alloc(sizeof(uint32_t *) * opt->tree.n_threads);
	for (uint32_t w = 0; w < opt->tree.n_threads; w++)
	{
		/* the second half holds permuted predictions */
		job.sums[w] = clv_alloc(sizeof(double) * 2 * OOB_CHUNK_ROWS);
		job.counts[w] = clv_alloc(sizeof(uint32_t) * OOB_CHUNK_ROWS);
	}

	pool = tree_pool_start(opt->tree.n_threads);
	ok = pool != NULL && tree_pool_run(pool, oob_task, &job, job.n_chunks, &opt->tree, 0, 0, NULL);
	tree_pool_finish(pool);

	for (size_t i = 0; ok && i < n; i++)
	{
		double		d;

		if (isnan(job.pred[i]))
			continue;
		d = job.pred[i] - rows->y[i];
		sq += d * d;
		hits += (job.pred[i] >= 0.5) == (rows->y[i] == 1);
		sum_y += rows->y[i];
		sum_y2 += rows->y[i] * rows->y[i];
		n_oob++;
	}
	if (ok && n_oob > 0)
	{
		double		var = sum_y2 / n_oob - pow(sum_y / n_oob, 2);

		e->oob_error = sq / n_oob;
		if (opt->classification)
			e->oob_score = hits / n_oob;
		else
			e->oob_score = var > 0 ? 1 - e->oob_error / var : NAN;
	}
	if (ok && job.perm)
	{
		e->permutation_importance = clv_alloc(sizeof(double) * p);
		for (uint32_t j = 0; j < p; j++)
		{
			double		s = 0;

			for (uint32_t c = 0; c < job.n_chunks; c++)
				s += job.perm_sq[(size_t) j * job.n_chunks + c];
			e->permutation_importance[j] = n_oob ? (s - sq) / n_oob : NAN;
		}
	}
	clv_release((void *) job.perm);
	clv_release(job.perm_sq);
	for (uint32_t w = 0; w < opt->tree.n_threads; w++)
	{
		clv_release(job.sums[w]);
		clv_release(job.counts[w]);
	}
	clv_release(job.sums);
	clv_release(job.counts);
	clv_release(job.pred);
	return ok;
}

/* ---- training ---------------------------------------------------------------------- */

static clv_status
check_forest(const clv_tree_rows *rows, const clv_forest_options *opt, clv_error *err)
{
	clv_status	st = tree_check_settings(&opt->tree, rows->p, err);

	if (st != CLV_OK)
		return st;
	if (opt->n_trees < 1 || opt->n_trees > CLV_TREES_MAX_TREES)
		return clv_fail(err, CLV_ERR_INVALID, "n_trees must be between 1 and %d", CLV_TREES_MAX_TREES);
	if (opt->mtry < 1 || opt->mtry > rows->p)
		return clv_fail(err, CLV_ERR_INVALID, "mtry must be between 1 and the feature count %u", rows->p);
	if (!(opt->sample_fraction > 0 && opt->sample_fraction <= 1))
		return clv_fail(err, CLV_ERR_INVALID, "sample_fraction must be in (0, 1]");
	if (opt->classification ? opt->criterion == CLV_CRITERION_SQUARED
		: opt->criterion != CLV_CRITERION_SQUARED)
		return clv_fail(err, CLV_ERR_INVALID, "the criterion does not suit the task");
	if (rows->n < 2)
	{
		clv_fail(err, CLV_ERR_DATA, "a random forest needs at least 2 rows");
		clv_set_detail(err, "There are %zu rows.", rows->n);
		return CLV_ERR_DATA;
	}
	if (rows->n > UINT32_MAX / 2)
		return clv_fail(err, CLV_ERR_LIMIT, "a random forest takes at most %u rows", UINT32_MAX / 2);
	if (opt->classification)
		for (size_t i = 0; i < rows->n; i++)
			if (rows->y[i] != 0 && rows->y[i] != 1)
				return clv_fail(err, CLV_ERR_INVALID, "a classification target must be 0 or 1");
	return CLV_OK;
}

static void
free_job(forest_job *job, uint32_t workers)
{
	for (uint32_t w = 0; w < workers; w++)
	{
		if (job->scratch)
			grow_scratch_free(job->scratch[w]);
		if (job->idx)
			free(job->idx[w]);
		if (job->counts)
			free(job->counts[w]);
	}
	for (uint32_t t = 0; t < job->opt->n_trees; t++)
	{
		if (job->trees)
			grow_tree_free(&job->trees[t]);
		if (job->in_bag)
			free(job->in_bag[t]);
	}
	free(job->scratch);
	free(job->idx);
	free(job->counts);
	free(job->trees);
	free(job->in_bag);
	free(job->features);
}

clv_status
clv_forest_train(clv_tree_rows *rows, const clv_forest_options *opt,
				 clv_ensemble **out, clv_error *err)
{
	clv_status	st;
	tree_bins	bins;
	forest_job	job;
	uint32_t	workers;
	uint32_t	n_nodes = 0;
	clv_ensemble *e;
	double		total_gain = 0;
	bool		with_oob;
	bool		ok;

	*out = NULL;
	if ((st = check_forest(rows, opt, err)) != CLV_OK)
		return st;
	tree_rows_sort(rows);
	tree_bins_build(rows, opt->tree.max_bins, &bins);

	memset(&job, 0, sizeof(job));
	job.rows = rows;
	job.bins = &bins;
	job.opt = opt;
	job.gp = (grow_params) {
		.max_depth = opt->tree.max_depth,
		.min_samples_leaf = opt->tree.min_samples_leaf,
		.min_gain = opt->tree.min_gain,
		.entropy = opt->criterion == CLV_CRITERION_ENTROPY,
		.mtry = opt->mtry,
		.leaf_scale = 1.0,
		.gain_scale = 1.0,
	};
	job.m = (size_t) llround(opt->sample_fraction * rows->n);
	if (job.m < 1)
		job.m = 1;
	atomic_init(&job.failed, false);

	/* all memory for the workers, before any worker exists */
	job.pool = tree_pool_start(opt->tree.n_threads);
	if (job.pool == NULL)
	{
		tree_bins_free(&bins);
		return tree_out_of_memory(err);
	}
	workers = tree_pool_workers(job.pool);
	job.features = malloc(sizeof(uint32_t) * rows->p);
	job.scratch = calloc(workers, sizeof(grow_scratch *));
	job.idx = calloc(workers, sizeof(uint32_t *));
	job.counts = calloc(workers, sizeof(uint32_t *));
	job.trees = calloc(opt->n_trees, sizeof(grow_tree));
	with_oob = (double) rows->n * opt->n_trees / 8 <= OOB_BITMAP_BUDGET;
	job.in_bag = with_oob ? calloc(opt->n_trees, sizeof(uint64_t *)) : NULL;
	ok = job.features && job.scratch && job.idx && job.counts && job.trees &&
		(job.in_bag || !with_oob);
	for (uint32_t w = 0; ok && w < workers; w++)
	{
		job.scratch[w] = grow_scratch_new(&bins);
		job.idx[w] = malloc(sizeof(uint32_t) * job.m);
		job.counts[w] = malloc(sizeof(uint32_t) * rows->n);
		ok = job.scratch[w] && job.idx[w] && job.counts[w];
	}
	if (!ok)
	{
		tree_pool_finish(job.pool);
		free_job(&job, workers);
		tree_bins_free(&bins);
		return tree_out_of_memory(err);
	}
	for (uint32_t j = 0; j < rows->p; j++)
		job.features[j] = j;

	ok = tree_pool_run(job.pool, forest_tree_task, &job, opt->n_trees, &opt->tree, 0,
					   opt->n_trees, "trees");
	tree_pool_finish(job.pool);
	if (!ok || atomic_load(&job.failed))
	{
		free_job(&job, workers);
		tree_bins_free(&bins);
		return ok ? tree_out_of_memory(err) : tree_interrupted(err);
	}

	for (uint32_t t = 0; t < opt->n_trees; t++)
		n_nodes += job.trees[t].n_nodes;
	e = ensemble_new(rows->p, opt->n_trees, n_nodes);
	e->type = CLV_ENSEMBLE_FOREST;
	e->classification = opt->classification;
	e->link = CLV_LINK_IDENTITY;
	n_nodes = 0;
	for (uint32_t j = 0; j < rows->p; j++)
		e->importance[j] = 0;
	for (uint32_t t = 0; t < opt->n_trees; t++)
	{
		const grow_tree *tr = &job.trees[t];

		e->tree_start[t] = n_nodes;
		grow_tree_flatten(tr, &bins, e->nodes + n_nodes, n_nodes);
		for (uint32_t i = 0; i < tr->n_nodes; i++)
			if (tr->nodes[i].feature >= 0)
			{
				e->importance[tr->nodes[i].feature] += tr->nodes[i].gain;
				total_gain += tr->nodes[i].gain;
			}
		n_nodes += tr->n_nodes;
	}
	e->tree_start[opt->n_trees] = n_nodes;
	for (uint32_t j = 0; j < rows->p; j++)
		e->importance[j] = total_gain > 0 ? e->importance[j] / total_gain : 0;

	/* the bitmaps outlive the pool: free the rest first */
	for (uint32_t t = 0; t < opt->n_trees; t++)
		grow_tree_free(&job.trees[t]);
	ok = !with_oob || out_of_bag(rows, opt, e, job.in_bag);
	free_job(&job, workers);
	tree_bins_free(&bins);
	if (!ok)
	{
		clv_ensemble_free(e);
		return tree_interrupted(err);
	}
	if ((st = ensemble_finish(e, err)) != CLV_OK)
	{
		clv_ensemble_free(e);
		return st;
	}
	*out = e;
	return CLV_OK;
}
