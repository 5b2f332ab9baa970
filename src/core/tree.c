/*
 * tree.c — growing one CART tree on binned features.
 *
 * The tree grows level by level.  A node's rows are a contiguous range of
 * the index array; a histogram of (gradient, hessian, count) per bin and
 * feature gives every candidate split of the node in one scan.  Random
 * forests draw mtry features per node and build a histogram per node;
 * boosting uses the same features at every node of a tree, so it keeps the
 * level's histograms and gets the larger of two siblings by subtracting the
 * smaller one from their parent, and builds each level's histograms feature
 * by feature on the worker pool.
 *
 * Missing values have their own bin; each split tries them on both sides
 * and keeps the better (XGBoost's learned default direction).
 *
 * Everything here is malloc'd, so forest workers can grow trees.
 */
#include "tree_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Histograms kept for one level of a boosted tree, at most. */
#define LEVEL_HIST_BUDGET	((size_t) 256 << 20)

typedef struct hist_bin
{
	double		g;
	double		h;				/* unused (0) when hessians are all 1 */
	uint32_t	n;
	uint32_t	pad;
} hist_bin;

typedef struct split
{
	double		gain;
	int32_t		feature;
	uint16_t	bin;
	uint8_t		default_left;
	double		gl;				/* sums of the left child, from the histogram */
	double		hl;
	size_t		nl;
} split;

/* A slice of a node's rows partitioned by one task (level mode). */
typedef struct part_task
{
	uint32_t	open_index;
	size_t		begin;
	size_t		end;
	size_t		n_left;
} part_task;

/* Rows per partition task: enough to amortise a task, small enough to balance. */
#define PART_CHUNK	16384

struct grow_scratch
{
	uint32_t   *tmp;			/* partition buffers, n rows each */
	uint32_t   *tmp_right;
	part_task  *parts;
	size_t		parts_cap;
	size_t	   *feat_off;		/* first bin of feature j in a histogram block */
	size_t		block_bins;		/* bins in a block: all features */
	hist_bin   *cur;			/* histogram blocks of this level */
	size_t		cur_cap;		/* in blocks */
	hist_bin   *prev;			/* of the previous level, when kept */
	size_t		prev_cap;
	bool		prev_valid;
	uint32_t   *slot;			/* node -> its block in the level it was open in */
	uint8_t    *by_subtraction; /* node's histogram = parent's - sibling's */
	size_t		slot_cap;
	size_t		sub_cap;
	uint32_t   *open;			/* nodes of this level to split */
	size_t		open_cap;
	uint32_t   *next_open;
	size_t		next_cap;
	uint32_t   *perm;			/* feature sampling */
	uint32_t   *node_features;
	split	   *splits;
	size_t		splits_cap;
};

/*
 * Grow a buffer to hold need elements: the new buffer, or the old one with
 * *cap unchanged when realloc fails.
 */
static void *
grow_buffer(void *ptr, size_t *cap, size_t need, size_t elem)
{
	size_t		c = *cap ? *cap : 16;
	void	   *p;

	if (need <= *cap)
		return ptr;
	while (c < need)
		c *= 2;
	p = realloc(ptr, c * elem);
	if (p == NULL)
		return ptr;
	*cap = c;
	return p;
}

/* True when field now holds need elements. */
#define RESERVE(field, cap, need, elem) \
	(((field) = grow_buffer((field), &(cap), (need), (elem))), (cap) >= (need))

grow_scratch *
grow_scratch_new(const tree_bins *bins)
{
	grow_scratch *s = calloc(1, sizeof(grow_scratch));
	size_t		off = 0;

	if (s == NULL)
		return NULL;
	s->feat_off = malloc(sizeof(size_t) * ((size_t) bins->p + 1));
	s->perm = malloc(sizeof(uint32_t) * bins->p);
	s->node_features = malloc(sizeof(uint32_t) * bins->p);
	s->tmp = malloc(sizeof(uint32_t) * (bins->n ? bins->n : 1));
	s->tmp_right = malloc(sizeof(uint32_t) * (bins->n ? bins->n : 1));
	if (!s->feat_off || !s->perm || !s->node_features || !s->tmp || !s->tmp_right)
	{
		grow_scratch_free(s);
		return NULL;
	}
	for (uint32_t j = 0; j < bins->p; j++)
	{
		s->feat_off[j] = off;
		off += bins->n_bins[j] + 1;
	}
	s->feat_off[bins->p] = off;
	s->block_bins = off;
	return s;
}

void
grow_scratch_free(grow_scratch *s)
{
	if (s == NULL)
		return;
	free(s->tmp);
	free(s->tmp_right);
	free(s->parts);
	free(s->feat_off);
	free(s->cur);
	free(s->prev);
	free(s->slot);
	free(s->by_subtraction);
	free(s->open);
	free(s->next_open);
	free(s->perm);
	free(s->node_features);
	free(s->splits);
	free(s);
}

void
grow_tree_free(grow_tree *t)
{
	free(t->nodes);
	t->nodes = NULL;
	t->n_nodes = t->cap = 0;
}

static bool
add_node(grow_tree *t, uint32_t parent, size_t begin, size_t end, double g, double h)
{
	grow_node  *nd;

	if (t->n_nodes == t->cap)
	{
		size_t		cap = t->cap;

		if (!RESERVE(t->nodes, cap, (size_t) t->n_nodes + 1, sizeof(grow_node)))
			return false;
		t->cap = (uint32_t) cap;
	}
	nd = &t->nodes[t->n_nodes++];
	memset(nd, 0, sizeof(*nd));
	nd->feature = -1;
	nd->parent = parent;
	nd->begin = begin;
	nd->end = end;
	nd->g = g;
	nd->h = h;
	return true;
}

/* ---- split search ------------------------------------------------------------ */

typedef struct grow_ctx
{
	grow_scratch *s;
	const tree_bins *bins;
	const grow_params *gp;
	const double *g;
	const double *h;
	uint32_t   *idx;
	grow_tree  *tree;
	const uint32_t *features;
	uint32_t	n_features;
	/* level mode: the open nodes whose histograms are being built */
	uint32_t	n_chunk;
	const uint32_t *chunk;
	uint32_t	chunk_start;	/* index of chunk[0] in the level's open nodes */
} grow_ctx;

/* Loss reduction measure of a node with sums (g, h): larger is purer. */
static inline double
node_score(const grow_params *gp, double g, double h)
{
	if (gp->entropy)
	{
		double		s = 0;

		if (g > 0)
			s += g * log(g / h);
		if (h - g > 0)
			s += (h - g) * log((h - g) / h);
		return s;
	}
	return g * g / (h + gp->lambda);
}

static inline void
consider(const grow_params *gp, split *best, double parent_score, double gl, double hl,
		 uint32_t nl, double gr, double hr, uint32_t nr, uint32_t feature, uint32_t bin,
		 bool default_left)
{
	double		gain;

	if (nl < gp->min_samples_leaf || nr < gp->min_samples_leaf ||
		hl < gp->min_child_weight || hr < gp->min_child_weight)
		return;
	gain = node_score(gp, gl, hl) + node_score(gp, gr, hr) - parent_score;
	if (gain > best->gain)
	{
		best->gain = gain;
		best->feature = (int32_t) feature;
		best->bin = (uint16_t) bin;
		best->default_left = default_left;
		best->gl = gl;
		best->hl = hl;
		best->nl = nl;
	}
}

/* Best split of one feature's histogram; node totals (G, H, N). */
static void
scan_feature(const grow_ctx *c, const hist_bin *hist, uint32_t j, double G, double H,
			 uint32_t N, double parent_score, split *best)
{
	const grow_params *gp = c->gp;
	uint32_t	nb = c->bins->n_bins[j];
	bool		unit = c->h == NULL;
	double		gm = 0,
				hm = 0;
	uint32_t	nm = 0;
	double		gl = 0,
				hl = 0;
	uint32_t	nl = 0;

	if (c->bins->has_missing[j])
	{
		gm = hist[nb].g;
		nm = hist[nb].n;
		hm = unit ? nm : hist[nb].h;
	}
	for (uint32_t b = 0; b < nb; b++)
	{
		double		gr,
					hr;
		uint32_t	nr;

		if (hist[b].n == 0)
			continue;			/* same partition as the previous candidate */
		gl += hist[b].g;
		hl += unit ? hist[b].n : hist[b].h;
		nl += hist[b].n;
		gr = G - gl;
		hr = H - hl;
		nr = N - nl;
		if (nr > nm)
			consider(gp, best, parent_score, gl, hl, nl, gr, hr, nr, j, b,
					 nm == 0 && hl >= hr);
		if (nm > 0 && nr > nm)
			consider(gp, best, parent_score, gl + gm, hl + hm, nl + nm, gr - gm, hr - hm,
					 nr - nm, j, b, true);
		else if (nm > 0 && nr == nm)
			/* every value left, the missing ones right */
			consider(gp, best, parent_score, gl, hl, nl, gr, hr, nr, j, nb - 1, false);
	}
}

static split
find_split(const grow_ctx *c, const grow_node *nd, const hist_bin *block,
		   const uint32_t *features, uint32_t n_features)
{
	const grow_params *gp = c->gp;
	uint32_t	N = (uint32_t) (nd->end - nd->begin);
	double		parent = node_score(gp, nd->g, nd->h);
	split		best = {.feature = -1};

	/* a gain must beat rounding noise as well as min_gain */
	best.gain = fmax(gp->min_gain / gp->gain_scale, 1e-12 * (fabs(parent) + nd->h));
	for (uint32_t f = 0; f < n_features; f++)
	{
		uint32_t	j = features[f];

		scan_feature(c, block + c->s->feat_off[j], j, nd->g, nd->h, N, parent, &best);
	}
	best.gain *= gp->gain_scale;
	return best;
}

/* ---- histograms ---------------------------------------------------------------- */

static void
build_hist(const grow_ctx *c, const grow_node *nd, uint32_t j, hist_bin *hist)
{
	const uint8_t *col = tree_bins_column(c->bins, j);
	const uint32_t *idx = c->idx;
	const double *g = c->g;
	const double *h = c->h;

	memset(hist, 0, sizeof(hist_bin) * (c->bins->n_bins[j] + 1));
	if (h == NULL)
		for (size_t k = nd->begin; k < nd->end; k++)
		{
			uint32_t	r = idx[k];
			hist_bin   *b = &hist[col[r]];

			b->g += g[r];
			b->n++;
		}
	else
		for (size_t k = nd->begin; k < nd->end; k++)
		{
			uint32_t	r = idx[k];
			hist_bin   *b = &hist[col[r]];

			b->g += g[r];
			b->h += h[r];
			b->n++;
		}
}

/* ---- partition -------------------------------------------------------------------- */

/*
 * Stable partition of rows idx[begin .. end): left rows to left_out, right
 * rows to right_out.  left_out may be idx + begin itself: it is written
 * behind the reading position.  Returns the left count.
 */
static size_t
partition_rows(const grow_ctx *c, const split *sp, size_t begin, size_t end,
			   uint32_t *left_out, uint32_t *right_out)
{
	const uint8_t *col = tree_bins_column(c->bins, (uint32_t) sp->feature);
	/* a code that cannot occur when the feature has no missing values */
	uint32_t	missing = c->bins->has_missing[sp->feature] ? c->bins->n_bins[sp->feature] : 256;
	uint32_t	bin = sp->bin;
	uint32_t	dl = sp->default_left;
	const uint32_t *idx = c->idx;
	size_t		nl = 0,
				nr = 0;

	/* branch-free: the direction is a coin flip the predictor cannot learn */
	for (size_t k = begin; k < end; k++)
	{
		uint32_t	r = idx[k];
		uint32_t	code = col[r];
		uint32_t	is_missing = code == missing;
		uint32_t	left = (is_missing & dl) | (!is_missing & (code <= bin));

		left_out[nl] = r;
		right_out[nr] = r;
		nl += left;
		nr += 1 - left;
	}
	return nl;
}

static inline double
leaf_value(const grow_params *gp, double g, double h)
{
	return h + gp->lambda > 0 ? gp->leaf_scale * g / (h + gp->lambda) : 0;
}

/* Can a node with these rows be split at all? */
static inline bool
splittable(const grow_params *gp, const grow_node *nd, uint32_t depth)
{
	return depth < gp->max_depth && nd->end - nd->begin >= 2 * (size_t) gp->min_samples_leaf &&
		nd->h >= 2 * gp->min_child_weight;
}

/*
 * Record a split whose rows are already partitioned at begin + sp->nl: two
 * children with the histogram's sums.  False when out of memory.
 */
static bool
add_children(grow_ctx *c, uint32_t node, const split *sp)
{
	grow_tree  *t = c->tree;
	grow_node  *nd = &t->nodes[node];
	size_t		begin = nd->begin,
				end = nd->end,
				mid = begin + sp->nl;
	double		gl = sp->gl,
				gr = nd->g - sp->gl;
	/* sums in another order may overshoot by an ulp: a cover is never negative */
	double		hl = fmax(sp->hl, 0),
				hr = fmax(nd->h - sp->hl, 0);

	nd->feature = sp->feature;
	nd->bin = sp->bin;
	nd->default_left = sp->default_left;
	nd->gain = sp->gain;
	nd->left = t->n_nodes;
	nd->right = t->n_nodes + 1;
	if (!add_node(t, node, begin, mid, gl, hl) || !add_node(t, node, mid, end, gr, hr))
		return false;
	return true;
}

/* mtry features of the tree's list, in list order. */
static uint32_t
sample_features(grow_ctx *c, tree_rng *rng)
{
	uint32_t	k = c->gp->mtry;
	uint32_t   *perm = c->s->perm;

	if (k == 0 || k >= c->n_features)
	{
		memcpy(c->s->node_features, c->features, sizeof(uint32_t) * c->n_features);
		return c->n_features;
	}
	for (uint32_t i = 0; i < c->n_features; i++)
		perm[i] = i;
	for (uint32_t i = 0; i < k; i++)
	{
		uint32_t	r = i + (uint32_t) tree_rng_below(rng, c->n_features - i);
		uint32_t	tmp = perm[i];

		perm[i] = perm[r];
		perm[r] = tmp;
	}
	/* ascending, so ties between features break the same way in every tree */
	for (uint32_t i = 1; i < k; i++)
		for (uint32_t m = i; m > 0 && perm[m - 1] > perm[m]; m--)
		{
			uint32_t	tmp = perm[m];

			perm[m] = perm[m - 1];
			perm[m - 1] = tmp;
		}
	for (uint32_t i = 0; i < k; i++)
		c->s->node_features[i] = c->features[perm[i]];
	return k;
}

/* ---- per-node mode: forests ---------------------------------------------------------- */

static bool
grow_level_per_node(grow_ctx *c, uint32_t n_open, tree_rng *rng, tree_pool *pool)
{
	grow_scratch *s = c->s;
	hist_bin   *block;

	if (!RESERVE(s->cur, s->cur_cap, 1, sizeof(hist_bin) * s->block_bins))
		return false;
	block = s->cur;
	for (uint32_t i = 0; i < n_open; i++)
	{
		uint32_t	node = s->open[i];
		uint32_t	nf = sample_features(c, rng);

		if (pool && tree_pool_stopping(pool))
			return false;
		for (uint32_t f = 0; f < nf; f++)
		{
			uint32_t	j = s->node_features[f];

			build_hist(c, &c->tree->nodes[node], j, block + s->feat_off[j]);
		}
		s->splits[i] = find_split(c, &c->tree->nodes[node], block, s->node_features, nf);
		if (s->splits[i].feature >= 0)
		{
			const grow_node *nd = &c->tree->nodes[node];
			size_t		nl = partition_rows(c, &s->splits[i], nd->begin, nd->end,
											c->idx + nd->begin, s->tmp);

			memcpy(c->idx + nd->begin + nl, s->tmp, (nd->end - nd->begin - nl) * sizeof(uint32_t));
			if (!add_children(c, node, &s->splits[i]))
				return false;
		}
	}
	return true;
}

/* ---- level mode: boosting ---------------------------------------------------------- */

static void
level_hist_task(void *arg, uint32_t f, uint32_t worker)
{
	grow_ctx   *c = arg;
	grow_scratch *s = c->s;
	uint32_t	j = c->features[f];
	size_t		off = s->feat_off[j];
	size_t		nbins = c->bins->n_bins[j] + 1;

	(void) worker;
	/* direct builds first: a subtraction needs its sibling's histogram */
	for (uint32_t i = 0; i < c->n_chunk; i++)
	{
		uint32_t	node = c->chunk[i];

		if (!s->by_subtraction[node])
			build_hist(c, &c->tree->nodes[node], j,
					   s->cur + (size_t) s->slot[node] * s->block_bins + off);
	}
	for (uint32_t i = 0; i < c->n_chunk; i++)
	{
		uint32_t	node = c->chunk[i];
		const grow_node *nd = &c->tree->nodes[node];
		const grow_node *par = &c->tree->nodes[nd->parent];
		uint32_t	sib = par->left == node ? par->right : par->left;
		hist_bin   *dst,
				   *ph,
				   *sh;

		if (!s->by_subtraction[node])
			continue;
		dst = s->cur + (size_t) s->slot[node] * s->block_bins + off;
		ph = s->prev + (size_t) s->slot[nd->parent] * s->block_bins + off;
		sh = s->cur + (size_t) s->slot[sib] * s->block_bins + off;
		for (size_t b = 0; b < nbins; b++)
		{
			dst[b].g = ph[b].g - sh[b].g;
			dst[b].h = ph[b].h - sh[b].h;
			dst[b].n = ph[b].n - sh[b].n;
		}
	}
}

/* Best split of the chunk's node i: nodes are independent, so any worker may take any. */
static void
split_task(void *arg, uint32_t i, uint32_t worker)
{
	grow_ctx   *c = arg;
	grow_scratch *s = c->s;

	(void) worker;
	s->splits[c->chunk_start + i] = find_split(c, &c->tree->nodes[c->chunk[i]],
											   s->cur + (size_t) i * s->block_bins,
											   c->features, c->n_features);
}

static void
partition_task(void *arg, uint32_t task, uint32_t worker)
{
	grow_ctx   *c = arg;
	part_task  *pt = &c->s->parts[task];

	(void) worker;
	pt->n_left = partition_rows(c, &c->s->splits[pt->open_index], pt->begin, pt->end,
								c->s->tmp + pt->begin, c->s->tmp_right + pt->begin);
}

/*
 * Partition every split node of the level in slices of PART_CHUNK rows on
 * the pool, then gather each node's slices in order: the same row order
 * whatever the number of threads.
 */
static bool
partition_level(grow_ctx *c, uint32_t n_open, tree_pool *pool)
{
	grow_scratch *s = c->s;
	size_t		n_parts = 0;

	for (uint32_t i = 0; i < n_open; i++)
	{
		const grow_node *nd = &c->tree->nodes[s->open[i]];

		if (s->splits[i].feature < 0)
			continue;
		for (size_t b = nd->begin; b < nd->end; b += PART_CHUNK)
		{
			if (!RESERVE(s->parts, s->parts_cap, n_parts + 1, sizeof(part_task)))
				return false;
			s->parts[n_parts++] = (part_task) {i, b, nd->end - b > PART_CHUNK ? b + PART_CHUNK : nd->end, 0};
		}
	}
	if (pool)
	{
		if (!tree_pool_run(pool, partition_task, c, (uint32_t) n_parts, NULL, 0, 0, NULL))
			return false;
	}
	else
		for (size_t t = 0; t < n_parts; t++)
			partition_task(c, (uint32_t) t, 0);

	for (size_t t = 0; t < n_parts;)
	{
		uint32_t	i = s->parts[t].open_index;
		const grow_node *nd = &c->tree->nodes[s->open[i]];
		size_t		left = nd->begin,
					right = nd->begin + s->splits[i].nl;
		size_t		last = t;

		while (last < n_parts && s->parts[last].open_index == i)
		{
			const part_task *pt = &s->parts[last];
			size_t		nr = pt->end - pt->begin - pt->n_left;

			memcpy(c->idx + left, s->tmp + pt->begin, pt->n_left * sizeof(uint32_t));
			memcpy(c->idx + right, s->tmp_right + pt->begin, nr * sizeof(uint32_t));
			left += pt->n_left;
			right += nr;
			last++;
		}
		t = last;
	}
	for (uint32_t i = 0; i < n_open; i++)
		if (s->splits[i].feature >= 0 && !add_children(c, s->open[i], &s->splits[i]))
			return false;
	return true;
}

static bool
grow_level_all_features(grow_ctx *c, uint32_t n_open, tree_pool *pool)
{
	grow_scratch *s = c->s;
	size_t		block_bytes = sizeof(hist_bin) * s->block_bins;
	uint32_t	chunk_max = (uint32_t) (LEVEL_HIST_BUDGET / block_bytes);
	bool		keep;

	if (chunk_max == 0)
		chunk_max = 1;
	keep = n_open <= chunk_max;
	for (uint32_t start = 0; start < n_open; start += chunk_max)
	{
		uint32_t	cn = n_open - start < chunk_max ? n_open - start : chunk_max;

		if (!RESERVE(s->cur, s->cur_cap, cn, block_bytes))
			return false;
		c->chunk = s->open + start;
		c->n_chunk = cn;
		for (uint32_t i = 0; i < cn; i++)
		{
			uint32_t	node = c->chunk[i];

			s->slot[node] = i;
			s->by_subtraction[node] = 0;
		}
		/* the larger of two open siblings is its parent minus the smaller */
		if (keep && s->prev_valid)
			for (uint32_t i = 0; i + 1 < cn; i++)
			{
				const grow_node *a = &c->tree->nodes[c->chunk[i]];
				const grow_node *b = &c->tree->nodes[c->chunk[i + 1]];

				if (a->parent != b->parent)
					continue;
				if (a->end - a->begin >= b->end - b->begin)
					s->by_subtraction[c->chunk[i]] = 1;
				else
					s->by_subtraction[c->chunk[i + 1]] = 1;
				i++;
			}
		if (pool)
		{
			if (!tree_pool_run(pool, level_hist_task, c, c->n_features, NULL, 0, 0, NULL))
				return false;
		}
		else
			for (uint32_t f = 0; f < c->n_features; f++)
				level_hist_task(c, f, 0);

		c->chunk_start = start;
		if (pool)
		{
			if (!tree_pool_run(pool, split_task, c, cn, NULL, 0, 0, NULL))
				return false;
		}
		else
			for (uint32_t i = 0; i < cn; i++)
				split_task(c, i, 0);
		if (keep)
		{
			hist_bin   *tmp = s->prev;
			size_t		cap = s->prev_cap;

			s->prev = s->cur;
			s->prev_cap = s->cur_cap;
			s->cur = tmp;
			s->cur_cap = cap;
		}
	}
	s->prev_valid = keep;
	return partition_level(c, n_open, pool);
}

/* ---- the tree ---------------------------------------------------------------------- */

bool
grow_tree_build(grow_scratch *s, const tree_bins *bins, const grow_params *gp,
				const double *g, const double *h, uint32_t *idx, size_t n_idx,
				const uint32_t *features, uint32_t n_features, tree_rng *rng,
				tree_pool *pool, grow_tree *out)
{
	grow_ctx	c = {s, bins, gp, g, h, idx, out, features, n_features, 0, NULL, 0};
	double		G = 0,
				H = 0;
	uint32_t	n_open = 0;

	memset(out, 0, sizeof(*out));
	for (size_t k = 0; k < n_idx; k++)
	{
		G += g[idx[k]];
		H += h ? h[idx[k]] : 1.0;
	}
	if (!add_node(out, 0, 0, n_idx, G, H))
		return false;
	s->prev_valid = false;
	if (!RESERVE(s->open, s->open_cap, 1, sizeof(uint32_t)))
		return false;
	if (splittable(gp, &out->nodes[0], 0))
		s->open[n_open++] = 0;

	for (uint32_t depth = 0; n_open > 0; depth++)
	{
		size_t		need = (size_t) out->n_nodes + 2 * (size_t) n_open;
		uint32_t	n_next = 0;
		uint32_t	first_child = out->n_nodes;
		bool		ok;

		if (!RESERVE(s->open, s->open_cap, 2 * (size_t) n_open, sizeof(uint32_t)) ||
			!RESERVE(s->next_open, s->next_cap, 2 * (size_t) n_open, sizeof(uint32_t)) ||
			!RESERVE(s->slot, s->slot_cap, need, sizeof(uint32_t)) ||
			!RESERVE(s->by_subtraction, s->sub_cap, need, 1) ||
			!RESERVE(s->splits, s->splits_cap, n_open, sizeof(split)))
			return false;
		if (pool && tree_pool_stopping(pool))
			return false;

		ok = gp->mtry > 0 ? grow_level_per_node(&c, n_open, rng, pool)
			: grow_level_all_features(&c, n_open, pool);
		if (!ok)
			return false;

		/* children were appended in order: the next level is [first_child, n_nodes) */
		for (uint32_t node = first_child; node < out->n_nodes; node++)
			if (splittable(gp, &out->nodes[node], depth + 1))
				s->next_open[n_next++] = node;
		{
			uint32_t   *tmp = s->open;
			size_t		cap = s->open_cap;

			s->open = s->next_open;
			s->open_cap = s->next_cap;
			s->next_open = tmp;
			s->next_cap = cap;
		}
		n_open = n_next;
	}

	for (uint32_t i = 0; i < out->n_nodes; i++)
	{
		grow_node  *nd = &out->nodes[i];

		nd->cover = nd->h;
		if (nd->feature < 0)
			nd->value = leaf_value(gp, nd->g, nd->h);
	}
	return true;
}

void
grow_tree_flatten(const grow_tree *t, const tree_bins *bins, clv_tree_node *dst,
				  uint32_t first)
{
	for (uint32_t i = 0; i < t->n_nodes; i++)
	{
		const grow_node *nd = &t->nodes[i];
		clv_tree_node *out = &dst[i];

		memset(out, 0, sizeof(*out));
		out->feature = nd->feature;
		out->cover = nd->cover;
		if (nd->feature < 0)
			out->value = nd->value;
		else
		{
			out->left = first + nd->left;
			out->right = first + nd->right;
			out->default_left = nd->default_left;
			out->threshold = tree_bins_threshold(bins, (uint32_t) nd->feature, nd->bin);
		}
	}
}

/* ---- shared checks ------------------------------------------------------------- */

clv_status
tree_check_settings(const clv_tree_settings *s, uint32_t p, clv_error *err)
{
	if (p < 1 || p > CLV_TREES_MAX_FEATURES)
		return clv_fail(err, CLV_ERR_INVALID, "a tree model needs 1 to %d features, not %u",
						CLV_TREES_MAX_FEATURES, p);
	if (s->max_depth < 1 || s->max_depth > CLV_TREES_MAX_DEPTH)
		return clv_fail(err, CLV_ERR_INVALID, "max_depth must be between 1 and %d",
						CLV_TREES_MAX_DEPTH);
	if (s->min_samples_leaf < 1)
		return clv_fail(err, CLV_ERR_INVALID, "min_samples_leaf must be at least 1");
	if (!(s->min_gain >= 0) || !isfinite(s->min_gain))
		return clv_fail(err, CLV_ERR_INVALID, "min_gain must be a finite number >= 0");
	if (s->max_bins < 2 || s->max_bins > CLV_TREES_MAX_BINS)
		return clv_fail(err, CLV_ERR_INVALID, "max_bins must be between 2 and %d",
						CLV_TREES_MAX_BINS);
	if (s->n_threads < 1 || s->n_threads > 1024)
		return clv_fail(err, CLV_ERR_INVALID, "the thread count must be between 1 and 1024");
	return CLV_OK;
}

clv_status
tree_interrupted(clv_error *err)
{
	clv_check_interrupts();
	return clv_fail(err, CLV_ERR_INTERNAL, "tree training was interrupted");
}

clv_status
tree_out_of_memory(clv_error *err)
{
	clv_fail(err, CLV_ERR_LIMIT, "out of memory while training a tree model");
	clv_set_detail(err, "A training thread could not allocate its working memory.");
	return CLV_ERR_LIMIT;
}
