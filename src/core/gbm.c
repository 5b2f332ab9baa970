/*
 * gbm.c — gradient boosting with second-order steps (as XGBoost): squared
 * error, logistic and Tweedie (log link) losses.
 *
 * Rounds are sequential; within a round the worker pool builds histograms
 * feature by feature and computes gradients and margins on disjoint row
 * ranges, so every sum is taken in the same order whatever the thread count
 * and the model is the same byte for byte.
 */
#include "tree_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROW_CHUNK		16384
#define STREAM_VALID	UINT64_C(0xFFFFFFFF00000002)
#define STREAM_ROUND	UINT64_C(0x100000000)

void
clv_gbm_options_default(clv_gbm_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->tree.max_depth = 6;
	opt->tree.min_samples_leaf = 1;
	opt->tree.min_gain = 0;
	opt->tree.max_bins = CLV_TREES_MAX_BINS;
	opt->tree.seed = 0;
	opt->tree.n_threads = 1;
	opt->loss = CLV_LOSS_SQUARED;
	opt->tweedie_power = 1.5;
	opt->n_rounds = 100;
	opt->learning_rate = 0.1;
	opt->l2 = 1.0;
	opt->min_child_weight = 1.0;
	opt->subsample = 1.0;
	opt->colsample = 1.0;
	opt->validation_fraction = 0;
	opt->early_stopping_rounds = 0;
}

typedef struct gbm_job
{
	const clv_tree_rows *rows;
	const tree_bins *bins;
	const clv_gbm_options *opt;
	uint32_t	n_chunks;
	double	   *margin;			/* n */
	double	   *grad;
	double	   *hess;
	uint8_t    *in_tree;		/* rows whose margin the leaf ranges updated */
	const grow_tree *tree;		/* the tree being added */
	const uint32_t *idx;		/* its rows, each leaf's a contiguous range */
	bool		mark;			/* some rows are not in the tree: set in_tree */
	double	   *loss_part;		/* per chunk */
	const uint8_t *is_valid;
	bool		loss_of_valid;	/* loss_task: sum over validation or training rows */
} gbm_job;

static inline double
row_loss(const clv_gbm_options *opt, double y, double f)
{
	double		rho = opt->tweedie_power;

	switch (opt->loss)
	{
		case CLV_LOSS_LOGISTIC:
			return (f > 0 ? f + log1p(exp(-f)) : log1p(exp(f))) - y * f;
		case CLV_LOSS_TWEEDIE:
			return -y * exp((1 - rho) * f) / (1 - rho) + exp((2 - rho) * f) / (2 - rho);
		case CLV_LOSS_SQUARED:
			break;
	}
	return (y - f) * (y - f);
}

static void
gradient_task(void *arg, uint32_t chunk, uint32_t worker)
{
	gbm_job    *job = arg;
	const double *y = job->rows->y;
	size_t		begin = (size_t) chunk * ROW_CHUNK;
	size_t		end = begin + ROW_CHUNK < job->rows->n ? begin + ROW_CHUNK : job->rows->n;
	double		rho = job->opt->tweedie_power;

	(void) worker;
	for (size_t i = begin; i < end; i++)
	{
		double		f = job->margin[i];

		switch (job->opt->loss)
		{
			case CLV_LOSS_SQUARED:
				job->grad[i] = f - y[i];
				break;
			case CLV_LOSS_LOGISTIC:
				{
					double		pr = clv_logistic(f);

					job->grad[i] = pr - y[i];
					job->hess[i] = fmax(pr * (1 - pr), 1e-16);
				}
				break;
			case CLV_LOSS_TWEEDIE:
				{
					double		a = exp((1 - rho) * f);
					double		b = exp((2 - rho) * f);

					job->grad[i] = -y[i] * a + b;
					job->hess[i] = -y[i] * (1 - rho) * a + (2 - rho) * b;
				}
				break;
		}
	}
}

/* Leaf of a grown tree that row i reaches, on the bin codes. */
static double
binned_leaf(const tree_bins *bins, const grow_tree *t, size_t i)
{
	const grow_node *nd = &t->nodes[0];

	while (nd->feature >= 0)
	{
		uint32_t	j = (uint32_t) nd->feature;
		uint8_t		c = bins->codes[(size_t) j * bins->n + i];
		bool		left = bins->has_missing[j] && c == bins->n_bins[j] ? nd->default_left
			: c <= nd->bin;

		nd = &t->nodes[left ? nd->left : nd->right];
	}
	return nd->value;
}

static void
margin_task(void *arg, uint32_t chunk, uint32_t worker)
{
	gbm_job    *job = arg;
	size_t		begin = (size_t) chunk * ROW_CHUNK;
	size_t		end = begin + ROW_CHUNK < job->rows->n ? begin + ROW_CHUNK : job->rows->n;

	(void) worker;
	for (size_t i = begin; i < end; i++)
		if (!job->in_tree[i])
			job->margin[i] += binned_leaf(job->bins, job->tree, i);
}

/* The rows of one leaf of the new tree get its value: no walk needed. */
static void
leaf_margin_task(void *arg, uint32_t node, uint32_t worker)
{
	gbm_job    *job = arg;
	const grow_node *nd = &job->tree->nodes[node];

	(void) worker;
	if (nd->feature >= 0)
		return;
	for (size_t q = nd->begin; q < nd->end; q++)
		job->margin[job->idx[q]] += nd->value;
	if (job->mark)
		for (size_t q = nd->begin; q < nd->end; q++)
			job->in_tree[job->idx[q]] = 1;
}

static void
loss_task(void *arg, uint32_t chunk, uint32_t worker)
{
	gbm_job    *job = arg;
	size_t		begin = (size_t) chunk * ROW_CHUNK;
	size_t		end = begin + ROW_CHUNK < job->rows->n ? begin + ROW_CHUNK : job->rows->n;
	double		sum = 0;

	(void) worker;
	for (size_t i = begin; i < end; i++)
		if ((job->is_valid[i] != 0) == job->loss_of_valid)
			sum += row_loss(job->opt, job->rows->y[i], job->margin[i]);
	job->loss_part[chunk] = sum;
}

static bool
mean_loss(tree_pool *pool, gbm_job *job, bool valid, size_t count, double *out)
{
	double		sum = 0;

	job->loss_of_valid = valid;
	if (!tree_pool_run(pool, loss_task, job, job->n_chunks, NULL, 0, 0, NULL))
		return false;
	for (uint32_t c = 0; c < job->n_chunks; c++)
		sum += job->loss_part[c];
	*out = sum / count;
	return true;
}

/* ---- checks ------------------------------------------------------------------------ */

static clv_status
check_gbm(const clv_tree_rows *rows, const clv_gbm_options *opt, clv_error *err)
{
	clv_status	st = tree_check_settings(&opt->tree, rows->p, err);

	if (st != CLV_OK)
		return st;
	if (opt->loss < CLV_LOSS_SQUARED || opt->loss > CLV_LOSS_TWEEDIE)
		return clv_fail(err, CLV_ERR_INVALID, "unknown boosting loss");
	if (opt->loss == CLV_LOSS_TWEEDIE && !(opt->tweedie_power > 1 && opt->tweedie_power < 2))
		return clv_fail(err, CLV_ERR_INVALID, "tweedie_power must be in (1, 2)");
	if (opt->n_rounds < 1 || opt->n_rounds > CLV_TREES_MAX_TREES)
		return clv_fail(err, CLV_ERR_INVALID, "n_rounds must be between 1 and %d", CLV_TREES_MAX_TREES);
	if (!(opt->learning_rate > 0 && opt->learning_rate <= 1))
		return clv_fail(err, CLV_ERR_INVALID, "learning_rate must be in (0, 1]");
	if (!(opt->l2 >= 0) || !isfinite(opt->l2))
		return clv_fail(err, CLV_ERR_INVALID, "l2 must be a finite number >= 0");
	if (!(opt->min_child_weight >= 0) || !isfinite(opt->min_child_weight))
		return clv_fail(err, CLV_ERR_INVALID, "min_child_weight must be a finite number >= 0");
	if (!(opt->subsample > 0 && opt->subsample <= 1))
		return clv_fail(err, CLV_ERR_INVALID, "subsample must be in (0, 1]");
	if (!(opt->colsample > 0 && opt->colsample <= 1))
		return clv_fail(err, CLV_ERR_INVALID, "colsample must be in (0, 1]");
	if (!(opt->validation_fraction >= 0 && opt->validation_fraction < 1))
		return clv_fail(err, CLV_ERR_INVALID, "validation_fraction must be in [0, 1)");
	if (opt->early_stopping_rounds > 0 && opt->validation_fraction == 0)
		return clv_fail(err, CLV_ERR_INVALID, "early stopping needs a validation_fraction above 0");
	if (rows->n > UINT32_MAX / 2)
		return clv_fail(err, CLV_ERR_LIMIT, "gradient boosting takes at most %u rows", UINT32_MAX / 2);

	for (size_t i = 0; i < rows->n; i++)
	{
		double		y = rows->y[i];

		if (opt->loss == CLV_LOSS_LOGISTIC && y != 0 && y != 1)
			return clv_fail(err, CLV_ERR_INVALID, "the logistic loss needs a target of 0 or 1");
		if (opt->loss == CLV_LOSS_TWEEDIE && y < 0)
		{
			clv_fail(err, CLV_ERR_INVALID, "the Tweedie loss needs a target >= 0");
			clv_set_detail(err, "A target value is %g.", y);
			return CLV_ERR_INVALID;
		}
	}
	return CLV_OK;
}

/* Optimal constant margin on the training rows. */
static clv_status
base_margin(const clv_tree_rows *rows, const clv_gbm_options *opt, const uint8_t *is_valid,
			double *base, clv_error *err)
{
	double		sum = 0;
	size_t		n = 0;
	double		mean;

	for (size_t i = 0; i < rows->n; i++)
		if (!is_valid[i])
		{
			sum += rows->y[i];
			n++;
		}
	mean = sum / n;
	switch (opt->loss)
	{
		case CLV_LOSS_SQUARED:
			*base = mean;
			break;
		case CLV_LOSS_LOGISTIC:
			if (mean <= 0 || mean >= 1)
				return clv_fail(err, CLV_ERR_DATA, "the training rows have only one class");
			*base = log(mean / (1 - mean));
			break;
		case CLV_LOSS_TWEEDIE:
			if (mean <= 0)
				return clv_fail(err, CLV_ERR_DATA, "every training target is 0");
			*base = log(mean);
			break;
	}
	return CLV_OK;
}

/* ---- training ---------------------------------------------------------------------- */

typedef struct gbm_state
{
	tree_pool  *pool;
	grow_scratch *scratch;
	grow_tree	tree;
	clv_tree_node *nodes;		/* all trees so far, malloc'd */
	size_t		n_nodes;
	size_t		nodes_cap;
	uint32_t   *tree_start;		/* malloc'd, n_rounds + 1 */
	double	   *gain;			/* per feature, per round: importance */
} gbm_state;

/* The calling thread's buffers (clv_alloc'd), released on every exit. */
typedef struct gbm_buffers
{
	tree_bins	bins;
	uint8_t    *is_valid;
	uint8_t    *in_tree;
	uint32_t   *train_rows;
	uint32_t   *idx;
	uint32_t   *features;
	double	   *margin;
	double	   *grad;
	double	   *hess;
	double	   *loss_part;
	double	   *xrow;			/* one row as doubles */
} gbm_buffers;

static void
free_buffers(gbm_buffers *b)
{
	if (b->bins.codes)
		tree_bins_free(&b->bins);
	clv_release(b->is_valid);
	clv_release(b->in_tree);
	clv_release(b->train_rows);
	clv_release(b->idx);
	clv_release(b->features);
	clv_release(b->margin);
	clv_release(b->grad);
	clv_release(b->hess);
	clv_release(b->loss_part);
	clv_release(b->xrow);
	memset(b, 0, sizeof(*b));
}

static void
free_state(gbm_state *s)
{
	grow_tree_free(&s->tree);
	grow_scratch_free(s->scratch);
	free(s->nodes);
	free(s->tree_start);
	free(s->gain);
	tree_pool_finish(s->pool);
}

clv_status
clv_gbm_train(clv_tree_rows *rows, const clv_gbm_options *opt, clv_ensemble **out,
			  clv_error *err)
{
	clv_status	st;
	size_t		n = rows->n;
	uint32_t	p = rows->p;
	gbm_buffers b;
	gbm_job		job;
	gbm_state	s;
	grow_params gp;
	size_t		n_valid,
				n_train;
	double		base = 0;
	double		best_loss = INFINITY;
	uint32_t	best_round = 0;
	uint32_t	rounds = 0;
	double		last_report;
	clv_ensemble *e;
	double		total_gain = 0;

	*out = NULL;
	if ((st = check_gbm(rows, opt, err)) != CLV_OK)
		return st;
	n_valid = (size_t) floor(opt->validation_fraction * n);
	n_train = n - n_valid;
	if (n_train < 2 || (opt->validation_fraction > 0 && n_valid < 1))
	{
		clv_fail(err, CLV_ERR_DATA, "too few rows for gradient boosting");
		clv_set_detail(err, "There are %zu rows, %zu of them held out for validation.",
					   n, n_valid);
		return CLV_ERR_DATA;
	}
	tree_rows_sort(rows);
	memset(&b, 0, sizeof(b));

	/* held-out rows chosen by the seed: a partial shuffle */
	b.is_valid = clv_alloc(n);
	memset(b.is_valid, 0, n);
	if (n_valid > 0)
	{
		uint32_t   *perm = clv_alloc(sizeof(uint32_t) * n);
		tree_rng	rng;

		tree_rng_init(&rng, opt->tree.seed, STREAM_VALID);
		for (size_t i = 0; i < n; i++)
			perm[i] = (uint32_t) i;
		for (size_t i = 0; i < n_valid; i++)
		{
			size_t		k = i + tree_rng_below(&rng, n - i);
			uint32_t	tmp = perm[i];

			perm[i] = perm[k];
			perm[k] = tmp;
			b.is_valid[perm[i]] = 1;
		}
		clv_release(perm);
	}
	if ((st = base_margin(rows, opt, b.is_valid, &base, err)) != CLV_OK)
	{
		free_buffers(&b);
		return st;
	}
	tree_bins_build(rows, opt->tree.max_bins, &b.bins);

	/* everything the rounds need, before any worker exists */
	memset(&job, 0, sizeof(job));
	job.rows = rows;
	job.bins = &b.bins;
	job.opt = opt;
	job.n_chunks = (uint32_t) ((n + ROW_CHUNK - 1) / ROW_CHUNK);
	job.margin = b.margin = clv_alloc(sizeof(double) * n);
	job.grad = b.grad = clv_alloc(sizeof(double) * n);
	job.hess = b.hess = opt->loss == CLV_LOSS_SQUARED ? NULL : clv_alloc(sizeof(double) * n);
	job.loss_part = b.loss_part = clv_alloc(sizeof(double) * job.n_chunks);
	job.is_valid = b.is_valid;
	job.in_tree = b.in_tree = clv_alloc(n);
	b.train_rows = clv_alloc(sizeof(uint32_t) * n_train);
	job.idx = b.idx = clv_alloc(sizeof(uint32_t) * n_train);
	b.features = clv_alloc(sizeof(uint32_t) * p);
	b.xrow = clv_alloc(sizeof(double) * p);
	for (size_t i = 0, k = 0; i < n; i++)
	{
		job.margin[i] = base;
		if (!b.is_valid[i])
			b.train_rows[k++] = (uint32_t) i;
	}
	gp = (grow_params) {
		.max_depth = opt->tree.max_depth,
		.min_samples_leaf = opt->tree.min_samples_leaf,
		.min_gain = opt->tree.min_gain,
		.lambda = opt->l2,
		.min_child_weight = opt->min_child_weight,
		.mtry = 0,
		.leaf_scale = -opt->learning_rate,
		.gain_scale = 0.5,
	};

	memset(&s, 0, sizeof(s));
	s.pool = tree_pool_start(opt->tree.n_threads);
	if (s.pool == NULL)
	{
		free_buffers(&b);
		return tree_out_of_memory(err);
	}
	s.scratch = grow_scratch_new(&b.bins);
	s.tree_start = malloc(sizeof(uint32_t) * ((size_t) opt->n_rounds + 1));
	s.gain = calloc((size_t) p * opt->n_rounds, sizeof(double));
	if (s.scratch == NULL || s.tree_start == NULL || s.gain == NULL)
	{
		free_state(&s);
		free_buffers(&b);
		return tree_out_of_memory(err);
	}
	last_report = tree_seconds_now();

	for (uint32_t r = 0; r < opt->n_rounds; r++)
	{
		tree_rng	rng;
		size_t		m = 0;
		uint32_t	k = p;
		double		loss;

		tree_rng_init(&rng, opt->tree.seed, STREAM_ROUND + r);
		if (clv_interrupt_pending() ||
			!tree_pool_run(s.pool, gradient_task, &job, job.n_chunks, NULL, 0, 0, NULL))
		{
			free_state(&s);
			free_buffers(&b);
			return tree_interrupted(err);
		}

		/* rows of this round: all training rows, or a subsample in row order */
		if (opt->subsample >= 1)
		{
			memcpy(b.idx, b.train_rows, sizeof(uint32_t) * n_train);
			m = n_train;
		}
		else
		{
			size_t		want = (size_t) llround(opt->subsample * n_train);

			if (want < 1)
				want = 1;
			for (size_t i = 0; i < n_train && m < want; i++)
				if (tree_rng_below(&rng, n_train - i) < want - m)
					b.idx[m++] = b.train_rows[i];
		}
		/* features of this tree */
		for (uint32_t j = 0; j < p; j++)
			b.features[j] = j;
		if (opt->colsample < 1)
		{
			k = (uint32_t) lround(opt->colsample * p);
			if (k < 1)
				k = 1;
			for (uint32_t i = 0; i < k; i++)
			{
				uint32_t	pick = i + (uint32_t) tree_rng_below(&rng, p - i);
				uint32_t	tmp = b.features[i];

				b.features[i] = b.features[pick];
				b.features[pick] = tmp;
			}
			for (uint32_t i = 1; i < k; i++)
				for (uint32_t a = i; a > 0 && b.features[a - 1] > b.features[a]; a--)
				{
					uint32_t	tmp = b.features[a];

					b.features[a] = b.features[a - 1];
					b.features[a - 1] = tmp;
				}
		}

		grow_tree_free(&s.tree);
		if (!grow_tree_build(s.scratch, &b.bins, &gp, job.grad, job.hess, b.idx, m, b.features, k,
							 &rng, s.pool, &s.tree))
		{
			bool		stopped = tree_pool_stopping(s.pool);

			free_state(&s);
			free_buffers(&b);
			return stopped ? tree_interrupted(err) : tree_out_of_memory(err);
		}

		/* append the tree */
		if (s.n_nodes + s.tree.n_nodes > s.nodes_cap)
		{
			size_t		cap = s.nodes_cap ? s.nodes_cap : 1024;
			clv_tree_node *grown;

			while (cap < s.n_nodes + s.tree.n_nodes)
				cap *= 2;
			if (cap > UINT32_MAX || (grown = realloc(s.nodes, cap * sizeof(clv_tree_node))) == NULL)
			{
				free_state(&s);
				free_buffers(&b);
				return tree_out_of_memory(err);
			}
			s.nodes = grown;
			s.nodes_cap = cap;
		}
		s.tree_start[r] = (uint32_t) s.n_nodes;
		grow_tree_flatten(&s.tree, &b.bins, s.nodes + s.n_nodes, (uint32_t) s.n_nodes);
		s.n_nodes += s.tree.n_nodes;
		rounds = r + 1;
		for (uint32_t i = 0; i < s.tree.n_nodes; i++)
			if (s.tree.nodes[i].feature >= 0)
				s.gain[(size_t) r * p + s.tree.nodes[i].feature] += s.tree.nodes[i].gain;

		/*
		 * Margins: the tree's own rows by their leaves, a leaf per task (each
		 * row is in one leaf, so no two tasks touch a margin), the others by
		 * traversal.
		 */
		job.tree = &s.tree;
		job.mark = m < n;
		if (job.mark)
			memset(b.in_tree, 0, n);
		if (!tree_pool_run(s.pool, leaf_margin_task, &job, s.tree.n_nodes, NULL, 0, 0, NULL) ||
			(m < n && !tree_pool_run(s.pool, margin_task, &job, job.n_chunks, NULL, 0, 0, NULL)))
		{
			free_state(&s);
			free_buffers(&b);
			return tree_interrupted(err);
		}

		if (opt->early_stopping_rounds > 0)
		{
			if (!mean_loss(s.pool, &job, true, n_valid, &loss))
			{
				free_state(&s);
				free_buffers(&b);
				return tree_interrupted(err);
			}
			if (loss < best_loss)
			{
				best_loss = loss;
				best_round = r + 1;
			}
			else if (r + 1 - best_round >= opt->early_stopping_rounds)
				break;
		}
		if (opt->tree.progress && tree_seconds_now() - last_report >= 1.0)
		{
			last_report = tree_seconds_now();
			opt->tree.progress(opt->tree.progress_arg, r + 1, opt->n_rounds, "rounds");
		}
	}

	if (opt->early_stopping_rounds == 0)
		best_round = rounds;
	/* the losses reported are those of the trees kept */
	for (size_t i = 0; best_round < rounds && i < n; i++)
	{
		for (uint32_t j = 0; j < p; j++)
			b.xrow[j] = rows->x[i * p + j];
		for (uint32_t r = best_round; r < rounds; r++)
			job.margin[i] -= ensemble_leaf(s.nodes, s.tree_start[r], b.xrow)->value;
	}
	{
		double		train_loss,
					valid_loss = NAN;

		if (!mean_loss(s.pool, &job, false, n_train, &train_loss) ||
			(n_valid > 0 && opt->early_stopping_rounds == 0 &&
			 !mean_loss(s.pool, &job, true, n_valid, &valid_loss)))
		{
			free_state(&s);
			free_buffers(&b);
			return tree_interrupted(err);
		}
		if (opt->early_stopping_rounds > 0)
			valid_loss = best_loss;
		tree_pool_finish(s.pool);
		s.pool = NULL;

		s.tree_start[best_round] = best_round < rounds ? s.tree_start[best_round] : (uint32_t) s.n_nodes;
		e = ensemble_new(p, best_round, s.tree_start[best_round]);
		e->train_loss = train_loss;
		e->valid_loss = valid_loss;
	}
	e->type = CLV_ENSEMBLE_BOOSTED;
	e->classification = opt->loss == CLV_LOSS_LOGISTIC;
	e->link = opt->loss == CLV_LOSS_LOGISTIC ? CLV_LINK_LOGIT
		: opt->loss == CLV_LOSS_TWEEDIE ? CLV_LINK_LOG : CLV_LINK_IDENTITY;
	e->base_score = base;
	e->best_round = best_round;
	memcpy(e->tree_start, s.tree_start, sizeof(uint32_t) * ((size_t) best_round + 1));
	memcpy(e->nodes, s.nodes, sizeof(clv_tree_node) * e->n_nodes);
	for (uint32_t j = 0; j < p; j++)
	{
		e->importance[j] = 0;
		for (uint32_t r = 0; r < best_round; r++)
			e->importance[j] += s.gain[(size_t) r * p + j];
		total_gain += e->importance[j];
	}
	for (uint32_t j = 0; j < p; j++)
		e->importance[j] = total_gain > 0 ? e->importance[j] / total_gain : 0;

	free_state(&s);
	free_buffers(&b);
	if ((st = ensemble_finish(e, err)) != CLV_OK)
	{
		clv_ensemble_free(e);
		return st;
	}
	*out = e;
	return CLV_OK;
}
