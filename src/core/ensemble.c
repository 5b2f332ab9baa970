/*
 * ensemble.c — the fitted tree ensemble: prediction from a compact copy of
 * the flat node arrays, the payload codec with its strict decoder, and exact
 * TreeSHAP.
 */
#include "tree_internal.h"
#include "bytes.h"
#include "sort.h"

#include <math.h>
#include <string.h>

/* Bytes of one encoded node: feature, left, right, flags, threshold, value, cover. */
#define NODE_BYTES	40
#define HEAD_U32	5
/* The payload's ensemble type of a boosted ensemble with binary32 set. */
#define ENSEMBLE_BOOSTED_BINARY32	3

clv_ensemble *
ensemble_new(uint32_t n_features, uint32_t n_trees, uint32_t n_nodes)
{
	clv_ensemble *e = clv_alloc(sizeof(clv_ensemble));

	memset(e, 0, sizeof(*e));
	e->n_features = n_features;
	e->n_trees = n_trees;
	e->n_nodes = n_nodes;
	e->tree_start = clv_alloc(sizeof(uint32_t) * ((size_t) n_trees + 1));
	e->nodes = clv_alloc(sizeof(clv_tree_node) * (size_t) n_nodes);
	memset(e->nodes, 0, sizeof(clv_tree_node) * (size_t) n_nodes);
	e->importance = clv_alloc(sizeof(double) * n_features);
	for (uint32_t j = 0; j < n_features; j++)
		e->importance[j] = NAN;
	e->oob_score = e->oob_error = NAN;
	e->train_loss = e->valid_loss = NAN;
	e->best_round = n_trees;
	e->link = CLV_LINK_IDENTITY;
	return e;
}

/* ---- the prediction layout ---------------------------------------------------- */

/*
 * The prediction layout: 16-byte nodes, a quarter of the cache lines of
 * clv_tree_node, with siblings side by side (one child index) and the
 * pairs laid out depth first, so each subtree is contiguous and the last
 * levels of a path share cache lines.  A leaf holds its value where a split
 * holds its threshold and loops to itself: it reads the NaN slot past the
 * features, which goes right, and its right child is itself.  A walk then
 * needs no leaf test and takes as many steps as the deepest tree of a group.
 */
typedef struct walk_node
{
	double		split;			/* threshold; a leaf's value */
	uint32_t	feature;		/* bit 31: missing goes left; a leaf: n_features */
	uint32_t	left;			/* the right child is left + 1; a leaf: itself - 1 */
} walk_node;

#define WALK_MISSING_LEFT	0x80000000u

struct ensemble_walk
{
	walk_node  *nodes;
	uint32_t   *root;			/* per tree */
	uint8_t    *depth;			/* per tree: steps from the root to its deepest leaf */
};

/* Trees walked in step: their cache misses overlap instead of queueing. */
#define WALK_GROUP	16

/* Lay out node i of the source at position at; returns its subtree's depth. */
static uint32_t
walk_place(const clv_ensemble *e, walk_node *dst, uint32_t i, uint32_t at, uint32_t *next)
{
	const clv_tree_node *nd = &e->nodes[i];
	uint32_t	c,
				dl,
				dr;

	if (nd->feature < 0)
	{
		/* unsigned: a leaf at 0 wraps to UINT32_MAX and back */
		dst[at] = (walk_node) {nd->value, e->n_features, at - 1};
		return 0;
	}
	c = *next;
	*next += 2;
	dst[at] = (walk_node) {nd->threshold,
		(uint32_t) nd->feature | (nd->default_left ? WALK_MISSING_LEFT : 0), c};
	dl = walk_place(e, dst, nd->left, c, next);
	dr = walk_place(e, dst, nd->right, c + 1, next);
	return 1 + (dl > dr ? dl : dr);
}

static void
walk_build(clv_ensemble *e)
{
	struct ensemble_walk *w = clv_alloc(sizeof(*w));

	w->nodes = clv_alloc(sizeof(walk_node) * (size_t) e->n_nodes);
	w->root = clv_alloc(sizeof(uint32_t) * (size_t) e->n_trees);
	w->depth = clv_alloc(e->n_trees);
	for (uint32_t t = 0; t < e->n_trees; t++)
	{
		uint32_t	next = e->tree_start[t] + 1;

		w->root[t] = e->tree_start[t];
		w->depth[t] = (uint8_t) walk_place(e, w->nodes, e->tree_start[t], e->tree_start[t], &next);
	}
	e->walk = w;
}

static void
walk_free(struct ensemble_walk *w)
{
	if (w == NULL)
		return;
	clv_release(w->nodes);
	clv_release(w->root);
	clv_release(w->depth);
	clv_release(w);
}

/* One step down; xs[feature] < threshold goes left, NaN (v != v) by its bit. */
static inline uint32_t
walk_step(const walk_node *nodes, uint32_t at, const double *xs)
{
	const walk_node *nd = &nodes[at];
	double		v = xs[nd->feature & ~WALK_MISSING_LEFT];
	/* bitwise, not short-circuit: no branch to mispredict (NaN < t is false) */
	uint32_t	left = (uint32_t) (v < nd->split) | ((uint32_t) (v != v) & (nd->feature >> 31));

	return nd->left + 1 - left;
}

static void
infinite_to_nan(double *v)
{
	if (isinf(*v))
		*v = NAN;
}

clv_status
ensemble_finish(clv_ensemble *e, clv_error *err)
{
	bool		ok = isfinite(e->base_score);

	/* diagnostics only: an overflowed one is reported as not computed */
	infinite_to_nan(&e->oob_score);
	infinite_to_nan(&e->oob_error);
	infinite_to_nan(&e->train_loss);
	infinite_to_nan(&e->valid_loss);
	for (uint32_t j = 0; j < e->n_features; j++)
	{
		if (!(e->importance[j] >= 0) || isinf(e->importance[j]))
			e->importance[j] = NAN;
		if (e->permutation_importance)
			infinite_to_nan(&e->permutation_importance[j]);
	}

	for (uint32_t i = 0; ok && i < e->n_nodes; i++)
		ok = isfinite(e->nodes[i].value) && isfinite(e->nodes[i].cover);
	if (ok)
	{
		walk_build(e);
		return CLV_OK;
	}
	clv_fail(err, CLV_ERR_DATA, "tree model values overflowed");
	clv_set_detail(err, "The target values are too large for a tree model to sum.");
	return CLV_ERR_DATA;
}

void
clv_ensemble_free(clv_ensemble *e)
{
	if (e == NULL)
		return;
	clv_release(e->tree_start);
	clv_release(e->nodes);
	clv_release(e->importance);
	clv_release(e->permutation_importance);
	walk_free(e->walk);
	clv_release(e);
}

/* ---- prediction -------------------------------------------------------------- */

/*
 * Σ leaves in tree order, walking WALK_GROUP trees in step.  binary32: from
 * the base score in float, rounded after every addition (a constant at each
 * call, so each caller gets its own loop).
 */
static inline __attribute__((always_inline)) double
walk_sum(const clv_ensemble *e, const double *xs, bool binary32)
{
	const struct ensemble_walk *w = e->walk;
	const walk_node *nodes = w->nodes;
	double		sum = 0;
	float		sum32 = (float) e->base_score;
	uint32_t	t = 0;

	for (; t + WALK_GROUP <= e->n_trees; t += WALK_GROUP)
	{
		uint32_t	at[WALK_GROUP];
		uint32_t	depth = 0;

		for (int k = 0; k < WALK_GROUP; k++)
		{
			at[k] = w->root[t + k];
			depth = w->depth[t + k] > depth ? w->depth[t + k] : depth;
		}
		for (uint32_t d = 0; d < depth; d++)
			for (int k = 0; k < WALK_GROUP; k++)
				at[k] = walk_step(nodes, at[k], xs);
		/* leaves added in tree order, as the trees' sum was always taken */
		for (int k = 0; k < WALK_GROUP; k++)
		{
			if (binary32)
				sum32 += (float) nodes[at[k]].split;
			else
				sum += nodes[at[k]].split;
		}
	}
	for (; t < e->n_trees; t++)
	{
		uint32_t	at = w->root[t];

		for (uint32_t d = 0; d < w->depth[t]; d++)
			at = walk_step(nodes, at, xs);
		if (binary32)
			sum32 += (float) nodes[at].split;
		else
			sum += nodes[at].split;
	}
	return binary32 ? sum32 : sum;
}

double
clv_ensemble_margin(const clv_ensemble *e, const double *x)
{
	double		xs[CLV_TREES_MAX_FEATURES + 1];

	memcpy(xs, x, sizeof(double) * e->n_features);
	xs[e->n_features] = NAN;
	if (e->binary32)
		return walk_sum(e, xs, true);
	if (e->type == CLV_ENSEMBLE_FOREST)
		return walk_sum(e, xs, false) / e->n_trees;
	return e->base_score + walk_sum(e, xs, false);
}

double
clv_ensemble_predict(const clv_ensemble *e, const double *x)
{
	double		m = clv_ensemble_margin(e, x);

	switch (e->link)
	{
		case CLV_LINK_LOGIT:
			return clv_logistic(m);
		case CLV_LINK_LOG:
			return exp(m);
		case CLV_LINK_IDENTITY:
			break;
	}
	return m;
}

/* ---- payload codec ------------------------------------------------------------ */

/* What precedes the nodes; the same in both payload versions. */
static void
encode_head(const clv_ensemble *e, clv_buf *buf)
{
	clv_buf_put_u32(buf, e->binary32 ? ENSEMBLE_BOOSTED_BINARY32 : (uint32_t) e->type);
	clv_buf_put_u32(buf, (uint32_t) e->link);
	clv_buf_put_u32(buf, e->classification ? 1 : 0);
	clv_buf_put_u32(buf, e->n_trees);
	clv_buf_put_u32(buf, e->n_nodes);
	clv_buf_put_f64(buf, e->base_score);
	clv_buf_put_u32(buf, e->best_round);
	clv_buf_put_f64(buf, e->oob_score);
	clv_buf_put_f64(buf, e->oob_error);
	clv_buf_put_f64(buf, e->train_loss);
	clv_buf_put_f64(buf, e->valid_loss);
	for (uint32_t j = 0; j < e->n_features; j++)
		clv_buf_put_f64(buf, e->importance[j]);
	clv_buf_put_u32(buf, e->permutation_importance ? 1 : 0);
	if (e->permutation_importance)
		for (uint32_t j = 0; j < e->n_features; j++)
			clv_buf_put_f64(buf, e->permutation_importance[j]);
}

/* Version 1: tree offsets, then 40 bytes a node. */
static void
encode_nodes_v1(const clv_ensemble *e, clv_buf *buf)
{
	for (uint32_t t = 0; t <= e->n_trees; t++)
		clv_buf_put_u32(buf, e->tree_start[t]);
	for (uint32_t i = 0; i < e->n_nodes; i++)
	{
		const clv_tree_node *nd = &e->nodes[i];

		clv_buf_put_u32(buf, (uint32_t) nd->feature);
		clv_buf_put_u32(buf, nd->left);
		clv_buf_put_u32(buf, nd->right);
		clv_buf_put_u32(buf, nd->default_left);
		clv_buf_put_f64(buf, nd->threshold);
		clv_buf_put_f64(buf, nd->value);
		clv_buf_put_f64(buf, nd->cover);
	}
}

/*
 * Version 2: compact nodes (doc/model-format.md).  Each tree in preorder
 * (a node, then its left subtree, then its right subtree), so children are
 * implicit: a tag per node says leaf or split.  Thresholds, which a fit
 * takes from at most 255 bin boundaries per feature, are stored once per
 * feature as float8 and referenced by index, so every split compares x with
 * the very double it was trained with; leaf values stay float8.  Covers of
 * forests (row counts) are whole numbers that add up exactly: only the
 * leaves' are stored, as u32.  Boosting's hessian sums are not, but a right
 * child's is what training made it, its parent's minus its sibling's: only
 * the roots' and left children's are stored.  Whatever the encoder cannot
 * rebuild exactly so, it stores for every node.
 */
#define COVER_LEAF_COUNTS	1	/* u32 per leaf; a split's cover = sum of its children's */
#define COVER_LEFT_F64		2	/* float8 per root and per split's left child */
#define COVER_ALL_F64		3	/* float8 per node */

#define TAG_LEAF			0
#define TAG_SPLIT			1	/* a missing value goes right */
#define TAG_SPLIT_MISSING_LEFT 2

/* Nodes in preorder, tree after tree: order[k] is the source index. */
static uint32_t *
preorder(const clv_ensemble *e)
{
	uint32_t   *order = clv_alloc(sizeof(uint32_t) * (size_t) e->n_nodes);
	uint32_t   *stack = clv_alloc(sizeof(uint32_t) * ((size_t) e->n_nodes + 1));
	uint32_t	n = 0;

	for (uint32_t t = 0; t < e->n_trees; t++)
	{
		uint32_t	top = 0;

		stack[top++] = e->tree_start[t];
		/* a valid tree pushes each node once, so neither array overflows */
		while (top > 0 && n < e->n_nodes)
		{
			const clv_tree_node *nd = &e->nodes[stack[--top]];

			order[n++] = (uint32_t) (nd - e->nodes);
			if (nd->feature >= 0 && top + 2 <= e->n_nodes)
			{
				stack[top++] = nd->right;
				stack[top++] = nd->left;
			}
		}
	}
	clv_release(stack);
	return order;
}

/* Whether leaf covers fit a u32 and every split's is exactly their sum. */
static bool
covers_are_counts(const clv_ensemble *e)
{
	for (uint32_t i = 0; i < e->n_nodes; i++)
	{
		const clv_tree_node *nd = &e->nodes[i];

		if (nd->feature < 0)
		{
			if (!(nd->cover >= 0 && nd->cover <= UINT32_MAX) || signbit(nd->cover) ||
				nd->cover != (double) (uint32_t) nd->cover)
				return false;
		}
		else
		{
			double		sum = e->nodes[nd->left].cover + e->nodes[nd->right].cover;

			if (memcmp(&sum, &nd->cover, 8) != 0)
				return false;
		}
	}
	return true;
}

/* A right child's cover from its parent's and its sibling's, as training computes it. */
static inline double
right_cover(double parent, double left)
{
	return fmax(parent - left, 0);
}

/* Whether every right child's cover is right_cover() bit for bit. */
static bool
covers_are_differences(const clv_ensemble *e)
{
	for (uint32_t i = 0; i < e->n_nodes; i++)
	{
		const clv_tree_node *nd = &e->nodes[i];
		double		r;

		if (nd->feature < 0)
			continue;
		r = right_cover(nd->cover, e->nodes[nd->left].cover);
		if (memcmp(&r, &e->nodes[nd->right].cover, 8) != 0)
			return false;
	}
	return true;
}

/* x < -0.0 and x < 0.0 agree for every x: one encoding for both */
static inline double
threshold_canonical(double v)
{
	return v == 0 ? 0.0 : v;
}

/*
 * The distinct thresholds of each feature: a hash set of (feature, value)
 * that grows with the distinct values (a fit has at most 255 a feature),
 * then each feature's values sorted and every entry given its rank.
 */
typedef struct threshold_entry
{
	double		value;
	uint32_t	feature;		/* UINT32_MAX: empty slot */
	uint32_t	rank;
} threshold_entry;

typedef struct threshold_set
{
	threshold_entry *slot;
	size_t		mask;
	size_t		used;
	uint32_t   *count;			/* per feature */
} threshold_set;

static inline size_t
threshold_hash(uint32_t feature, double value)
{
	uint64_t	z;

	memcpy(&z, &value, 8);
	z ^= (uint64_t) feature * 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (size_t) (z ^ (z >> 31));
}

static threshold_entry *
threshold_find(const threshold_set *s, uint32_t feature, double value)
{
	size_t		k = threshold_hash(feature, value) & s->mask;

	while (s->slot[k].feature != UINT32_MAX &&
		   (s->slot[k].feature != feature || s->slot[k].value != value))
		k = (k + 1) & s->mask;
	return &s->slot[k];
}

static void
threshold_slots(threshold_set *s, size_t n)
{
	s->slot = clv_alloc(sizeof(threshold_entry) * n);
	s->mask = n - 1;
	for (size_t k = 0; k < n; k++)
		s->slot[k].feature = UINT32_MAX;
}

static void
threshold_add(threshold_set *s, uint32_t feature, double value)
{
	threshold_entry *at = threshold_find(s, feature, value);

	if (at->feature != UINT32_MAX)
		return;
	*at = (threshold_entry) {value, feature, 0};
	s->count[feature]++;
	if (++s->used * 2 > s->mask + 1)
	{
		threshold_entry *old = s->slot;
		size_t		n = s->mask + 1;

		threshold_slots(s, 2 * n);
		for (size_t k = 0; k < n; k++)
			if (old[k].feature != UINT32_MAX)
				*threshold_find(s, old[k].feature, old[k].value) = old[k];
		clv_release(old);
	}
}

static int
compare_doubles(const void *a, const void *b, void *arg CLV_UNUSED)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static void
encode_nodes_v2(const clv_ensemble *e, clv_buf *buf)
{
	uint32_t	p = e->n_features;
	uint32_t   *order = preorder(e);
	uint32_t   *first = clv_alloc(sizeof(uint32_t) * ((size_t) p + 1));
	double	   *sorted;
	threshold_set set;
	uint32_t	most = 0,
				width;
	uint32_t	cover_mode = covers_are_counts(e) ? COVER_LEAF_COUNTS :
		covers_are_differences(e) ? COVER_LEFT_F64 : COVER_ALL_F64;

	set.used = 0;
	set.count = clv_alloc(sizeof(uint32_t) * p);
	memset(set.count, 0, sizeof(uint32_t) * p);
	threshold_slots(&set, 1024);
	for (uint32_t i = 0; i < e->n_nodes; i++)
		if (e->nodes[i].feature >= 0)
			threshold_add(&set, (uint32_t) e->nodes[i].feature,
						  threshold_canonical(e->nodes[i].threshold));

	/* each feature's values sorted, and every entry's rank among them */
	first[0] = 0;
	for (uint32_t j = 0; j < p; j++)
	{
		first[j + 1] = first[j] + set.count[j];
		most = set.count[j] > most ? set.count[j] : most;
	}
	sorted = clv_alloc(sizeof(double) * ((size_t) first[p] + 1));
	memset(set.count, 0, sizeof(uint32_t) * p);
	for (size_t k = 0; k <= set.mask; k++)
		if (set.slot[k].feature != UINT32_MAX)
			sorted[first[set.slot[k].feature] + set.count[set.slot[k].feature]++] = set.slot[k].value;
	for (uint32_t j = 0; j < p; j++)
		clv_sort(sorted + first[j], set.count[j], sizeof(double), compare_doubles, NULL);
	for (size_t k = 0; k <= set.mask; k++)
	{
		threshold_entry *en = &set.slot[k];
		uint32_t	lo,
					hi;

		if (en->feature == UINT32_MAX)
			continue;
		lo = first[en->feature];
		hi = first[en->feature + 1];
		while (hi - lo > 1)
		{
			uint32_t	mid = lo + (hi - lo) / 2;

			if (sorted[mid] <= en->value)
				lo = mid;
			else
				hi = mid;
		}
		en->rank = lo - first[en->feature];
	}
	width = most <= 0x100 ? 1 : most <= 0x10000 ? 2 : 4;

	clv_buf_put_u32(buf, cover_mode);
	clv_buf_put_u32(buf, width);
	for (uint32_t j = 0; j < p; j++)
		clv_buf_put_u32(buf, set.count[j]);
	for (uint32_t k = 0; k < first[p]; k++)
		clv_buf_put_f64(buf, sorted[k]);
	for (uint32_t k = 0; k < e->n_nodes; k++)
	{
		const clv_tree_node *nd = &e->nodes[order[k]];
		unsigned char tag = nd->feature < 0 ? TAG_LEAF :
			nd->default_left ? TAG_SPLIT_MISSING_LEFT : TAG_SPLIT;

		clv_buf_put(buf, &tag, 1);
	}
	for (uint32_t k = 0; k < e->n_nodes; k++)
	{
		const clv_tree_node *nd = &e->nodes[order[k]];

		if (nd->feature >= 0)
			clv_buf_put(buf, (unsigned char[2]) {(unsigned char) nd->feature,
						(unsigned char) (nd->feature >> 8)}, 2);
	}
	for (uint32_t k = 0; k < e->n_nodes; k++)
	{
		const clv_tree_node *nd = &e->nodes[order[k]];
		uint32_t	rank;

		if (nd->feature < 0)
			continue;
		rank = threshold_find(&set, (uint32_t) nd->feature,
							  threshold_canonical(nd->threshold))->rank;
		clv_buf_put(buf, (unsigned char[4]) {(unsigned char) rank, (unsigned char) (rank >> 8),
					(unsigned char) (rank >> 16), (unsigned char) (rank >> 24)}, width);
	}
	for (uint32_t k = 0; k < e->n_nodes; k++)
		if (e->nodes[order[k]].feature < 0)
			clv_buf_put_f64(buf, e->nodes[order[k]].value);
	for (uint32_t k = 0, t = 0; k < e->n_nodes; k++)
	{
		const clv_tree_node *nd = &e->nodes[order[k]];
		/* in preorder a left child comes right after its parent */
		bool		root_or_left = order[k] == e->tree_start[t] ||
			(k > 0 && e->nodes[order[k - 1]].feature >= 0);

		if (order[k] == e->tree_start[t] && t + 1 < e->n_trees)
			t++;
		if (cover_mode == COVER_ALL_F64 || (cover_mode == COVER_LEFT_F64 && root_or_left))
			clv_buf_put_f64(buf, nd->cover);
		else if (cover_mode == COVER_LEAF_COUNTS && nd->feature < 0)
			clv_buf_put_u32(buf, (uint32_t) nd->cover);
	}
	clv_release(set.slot);
	clv_release(set.count);
	clv_release(sorted);
	clv_release(first);
	clv_release(order);
}

void
clv_ensemble_encode(const clv_ensemble *e, uint16_t version, clv_buf *buf)
{
	encode_head(e, buf);
	if (version == 1)
		encode_nodes_v1(e, buf);
	else
		encode_nodes_v2(e, buf);
}

static clv_status
corrupt(clv_error *err, const char *what)
{
	clv_fail(err, CLV_ERR_CORRUPT, "invalid clv model");
	clv_set_detail(err, "%s", what);
	return CLV_ERR_CORRUPT;
}

static bool
nan_or_finite(double v)
{
	return isnan(v) || isfinite(v);
}

/*
 * Children share their parent's cover (up to the rounding of sums taken in
 * another order): TreeSHAP's path fractions then lie in [0, 1], which keeps
 * its arithmetic stable.
 */
bool
ensemble_covers_add_up(double parent, double left, double right)
{
	double		sum = left + right;

	return fabs(sum - parent) <= 1e-6 * fmax(parent, sum);
}

static clv_status
decode_nodes_v1(clv_reader *r, clv_ensemble *e, clv_error *err)
{
	uint8_t    *depth;
	uint8_t    *parents;
	clv_status	st = CLV_OK;

	for (uint32_t t = 0; t <= e->n_trees; t++)
		if (!clv_read_u32(r, &e->tree_start[t]))
			return corrupt(err, "The tree offsets are truncated.");
	if (e->tree_start[0] != 0 || e->tree_start[e->n_trees] != e->n_nodes)
		return corrupt(err, "The tree offsets do not cover the nodes.");
	for (uint32_t t = 0; t < e->n_trees; t++)
		if (e->tree_start[t + 1] <= e->tree_start[t])
			return corrupt(err, "The tree offsets are not increasing.");

	for (uint32_t i = 0; i < e->n_nodes; i++)
	{
		clv_tree_node *nd = &e->nodes[i];
		uint32_t	feature,
					flags;

		if (!clv_read_u32(r, &feature) || !clv_read_u32(r, &nd->left) ||
			!clv_read_u32(r, &nd->right) || !clv_read_u32(r, &flags) ||
			!clv_read_f64(r, &nd->threshold) || !clv_read_f64(r, &nd->value) ||
			!clv_read_f64(r, &nd->cover))
			return corrupt(err, "The nodes are truncated.");
		nd->feature = (int32_t) feature;
		nd->default_left = (uint8_t) flags;
		if (flags > 1)
			return corrupt(err, "A node has unknown flags set.");
		if (!isfinite(nd->cover) || !(nd->cover >= 0))
			return corrupt(err, "A node cover is negative or not finite.");
		if (nd->feature == -1)
		{
			if (!isfinite(nd->value))
				return corrupt(err, "A leaf value is not finite.");
			/* one encoding per model: unused fields are zero */
			if (nd->left || nd->right || flags || memcmp(&nd->threshold, &(double) {0}, 8))
				return corrupt(err, "A leaf has split fields set.");
		}
		else
		{
			if (nd->feature < 0 || (uint32_t) nd->feature >= e->n_features)
				return corrupt(err, "A node splits on a feature out of range.");
			if (!isfinite(nd->threshold))
				return corrupt(err, "A split threshold is not finite.");
			if (memcmp(&nd->value, &(double) {0}, 8))
				return corrupt(err, "An internal node has a value set.");
		}
	}

	/*
	 * Each tree must be a tree: children after their parent and inside the
	 * tree, every node but the root with exactly one parent, depth bounded
	 * (prediction and TreeSHAP rely on all three).
	 */
	depth = clv_alloc(e->n_nodes);
	parents = clv_alloc(e->n_nodes);
	memset(depth, 0, e->n_nodes);
	memset(parents, 0, e->n_nodes);
	for (uint32_t t = 0; t < e->n_trees && st == CLV_OK; t++)
	{
		uint32_t	end = e->tree_start[t + 1];

		for (uint32_t i = e->tree_start[t]; i < end && st == CLV_OK; i++)
		{
			const clv_tree_node *nd = &e->nodes[i];

			if (i != e->tree_start[t] && parents[i] != 1)
				st = corrupt(err, "A node is not reached exactly once from its tree's root.");
			else if (nd->feature < 0)
				continue;
			else if (nd->left <= i || nd->right <= i || nd->left >= end || nd->right >= end ||
					 nd->left == nd->right)
				st = corrupt(err, "A node has a child outside its tree or before itself.");
			else if (depth[i] >= CLV_TREES_MAX_DEPTH)
				st = corrupt(err, "A tree is deeper than the maximum depth.");
			else if (!ensemble_covers_add_up(nd->cover, e->nodes[nd->left].cover, e->nodes[nd->right].cover))
				st = corrupt(err, "A node's cover is not the sum of its children's.");
			else
			{
				/* saturate: a count past 1 is already an error */
				parents[nd->left] = parents[nd->left] ? 2 : 1;
				parents[nd->right] = parents[nd->right] ? 2 : 1;
				depth[nd->left] = depth[nd->right] = depth[i] + 1;
			}
		}
	}
	clv_release(depth);
	clv_release(parents);
	return st;
}

static inline uint32_t
load_le(const unsigned char *p, uint32_t width)
{
	uint32_t	v = 0;

	for (uint32_t b = 0; b < width; b++)
		v |= (uint32_t) p[b] << (8 * b);
	return v;
}

static inline double
load_f64(const unsigned char *p)
{
	uint64_t	bits = (uint64_t) load_le(p, 4) | (uint64_t) load_le(p + 4, 4) << 32;
	double		v;

	memcpy(&v, &bits, 8);
	return v;
}

/* n items of size bytes, without overflow however large n. */
static bool
read_array(clv_reader *r, size_t n, size_t size, const unsigned char **p)
{
	if ((r->len - r->pos) / size < n)
		return false;
	return clv_read_bytes(r, n * size, p);
}

/* The columns of a version-2 node section, as read. */
typedef struct nodes_v2
{
	uint32_t	cover_mode;
	uint32_t	width;
	uint32_t   *first;			/* per feature + 1: its thresholds are [first[j], first[j + 1]) */
	double	   *threshold;
	uint8_t    *used;
	const unsigned char *tag;	/* N */
	const unsigned char *feature;	/* 2 × S */
	const unsigned char *index;	/* width × S */
	const unsigned char *value; /* 8 × L */
	const unsigned char *cover; /* 4 × L or 8 × N */
} nodes_v2;

/* The per-feature thresholds: counts, then values, each feature's increasing. */
static clv_status
decode_thresholds(clv_reader *r, clv_ensemble *e, size_t n_split, nodes_v2 *c, clv_error *err)
{
	uint32_t	p = e->n_features;
	uint32_t	most = 0;
	uint64_t	total = 0;

	c->first = clv_alloc(sizeof(uint32_t) * ((size_t) p + 1));
	c->first[0] = 0;
	for (uint32_t j = 0; j < p; j++)
	{
		uint32_t	n;

		if (!clv_read_u32(r, &n))
			return corrupt(err, "The threshold counts are truncated.");
		total += n;
		/* every threshold is used by a split: no more of them than splits */
		if (total > n_split)
			return corrupt(err, "There are more thresholds than splits.");
		c->first[j + 1] = (uint32_t) total;
		most = n > most ? n : most;
	}
	if (c->width != (most <= 0x100 ? 1u : most <= 0x10000 ? 2u : 4u))
		return corrupt(err, "The threshold index width is not the smallest that fits.");
	if ((r->len - r->pos) / 8 < total)
		return corrupt(err, "The thresholds are truncated.");
	c->threshold = clv_alloc(sizeof(double) * (size_t) (total + 1));
	c->used = clv_alloc((size_t) total + 1);
	memset(c->used, 0, (size_t) total + 1);
	for (uint32_t j = 0; j < p; j++)
		for (uint32_t k = c->first[j]; k < c->first[j + 1]; k++)
		{
			double	   *v = &c->threshold[k];

			(void) clv_read_f64(r, v);
			if (!isfinite(*v))
				return corrupt(err, "A split threshold is not finite.");
			if ((k > c->first[j] && !(*v > v[-1])) || (*v == 0 && signbit(*v)))
				return corrupt(err, "A feature's thresholds are not strictly increasing.");
		}
	return CLV_OK;
}

/*
 * The trees from their preorder tags: a split's left child is the next node
 * and its right child the node after its left subtree.  The stack holds the
 * splits whose right child is still to come; the depth bound keeps it small.
 */
static clv_status
decode_structure(clv_ensemble *e, nodes_v2 *c, size_t n_split, size_t n_leaf, clv_error *err)
{
	uint32_t	stack[CLV_TREES_MAX_DEPTH];
	uint8_t		stack_depth[CLV_TREES_MAX_DEPTH];
	uint32_t	i = 0;
	size_t		ks = 0,
				kl = 0;

	for (uint32_t t = 0; t < e->n_trees; t++)
	{
		uint32_t	top = 0;
		uint32_t	depth = 0;

		e->tree_start[t] = i;
		for (;;)
		{
			clv_tree_node *nd;
			unsigned char tag;

			if (i == e->n_nodes)
				return corrupt(err, "The node tags do not make complete trees.");
			nd = &e->nodes[i];
			tag = c->tag[i];
			if (tag == TAG_LEAF)
			{
				if (kl == n_leaf)
					return corrupt(err, "The node tags do not make complete trees.");
				nd->feature = -1;
				nd->value = load_f64(c->value + 8 * kl);
				if (!isfinite(nd->value))
					return corrupt(err, "A leaf value is not finite.");
				if (c->cover_mode == COVER_LEAF_COUNTS)
					nd->cover = load_le(c->cover + 4 * kl, 4);
				kl++;
				i++;
				if (top == 0)
					break;
				top--;
				e->nodes[stack[top]].right = i;
				depth = stack_depth[top] + 1u;
			}
			else if (tag == TAG_SPLIT || tag == TAG_SPLIT_MISSING_LEFT)
			{
				uint32_t	f,
							index;

				if (ks == n_split)
					return corrupt(err, "The node tags do not make complete trees.");
				if (depth >= CLV_TREES_MAX_DEPTH)
					return corrupt(err, "A tree is deeper than the maximum depth.");
				f = load_le(c->feature + 2 * ks, 2);
				if (f >= e->n_features)
					return corrupt(err, "A node splits on a feature out of range.");
				index = load_le(c->index + (size_t) c->width * ks, c->width);
				if (index >= c->first[f + 1] - c->first[f])
					return corrupt(err, "A threshold index is out of range.");
				nd->feature = (int32_t) f;
				nd->threshold = c->threshold[c->first[f] + index];
				c->used[c->first[f] + index] = 1;
				nd->default_left = tag == TAG_SPLIT_MISSING_LEFT;
				nd->left = i + 1;
				stack[top] = i;
				stack_depth[top] = (uint8_t) depth;
				top++;
				depth++;
				ks++;
				i++;
			}
			else
				return corrupt(err, "A node has an unknown tag.");
		}
	}
	e->tree_start[e->n_trees] = i;
	if (i != e->n_nodes)
		return corrupt(err, "The node tags do not make complete trees.");
	for (uint32_t k = 0; k < c->first[e->n_features]; k++)
		if (!c->used[k])
			return corrupt(err, "A split threshold is not used by any node.");
	return CLV_OK;
}

/* Covers: read (every node's) or summed up from the leaves; then checked. */
static clv_status
decode_covers(clv_ensemble *e, const nodes_v2 *c, clv_error *err)
{
	if (c->cover_mode == COVER_ALL_F64)
	{
		for (uint32_t i = 0; i < e->n_nodes; i++)
		{
			e->nodes[i].cover = load_f64(c->cover + 8 * (size_t) i);
			if (!isfinite(e->nodes[i].cover) || !(e->nodes[i].cover >= 0))
				return corrupt(err, "A node cover is negative or not finite.");
		}
	}
	else if (c->cover_mode == COVER_LEFT_F64)
	{
		/* a root's, then at each split its left child's (the next node's) */
		size_t		k = 0;

		for (uint32_t t = 0, i = 0; i < e->n_nodes; i++)
		{
			clv_tree_node *nd = &e->nodes[i];

			if (t < e->n_trees && i == e->tree_start[t])
			{
				nd->cover = load_f64(c->cover + 8 * k++);
				t++;
				if (!isfinite(nd->cover) || !(nd->cover >= 0))
					return corrupt(err, "A node cover is negative or not finite.");
			}
			if (nd->feature < 0)
				continue;
			e->nodes[i + 1].cover = load_f64(c->cover + 8 * k++);
			if (!isfinite(e->nodes[i + 1].cover) || !(e->nodes[i + 1].cover >= 0))
				return corrupt(err, "A node cover is negative or not finite.");
			e->nodes[nd->right].cover = right_cover(nd->cover, e->nodes[i + 1].cover);
		}
	}
	else
	{
		/* children follow their parent: one backward pass sums them */
		for (uint32_t i = e->n_nodes; i-- > 0;)
			if (e->nodes[i].feature >= 0)
				e->nodes[i].cover = e->nodes[e->nodes[i].left].cover +
					e->nodes[e->nodes[i].right].cover;
	}
	for (uint32_t i = 0; i < e->n_nodes; i++)
	{
		const clv_tree_node *nd = &e->nodes[i];

		if (nd->feature >= 0 &&
			!ensemble_covers_add_up(nd->cover, e->nodes[nd->left].cover, e->nodes[nd->right].cover))
			return corrupt(err, "A node's cover is not the sum of its children's.");
	}
	/* one encoding per model: the most compact that holds the covers exactly */
	if ((c->cover_mode != COVER_LEAF_COUNTS && covers_are_counts(e)) ||
		(c->cover_mode == COVER_ALL_F64 && covers_are_differences(e)))
		return corrupt(err, "The covers are not in their most compact encoding.");
	return CLV_OK;
}

static clv_status
decode_nodes_v2(clv_reader *r, clv_ensemble *e, clv_error *err)
{
	nodes_v2	c;
	size_t		n_split = (e->n_nodes - e->n_trees) / 2,
				n_leaf = n_split + e->n_trees;
	clv_status	st;

	memset(&c, 0, sizeof(c));
	if (!clv_read_u32(r, &c.cover_mode) || !clv_read_u32(r, &c.width))
		st = corrupt(err, "The node section header is truncated.");
	else if (c.cover_mode < COVER_LEAF_COUNTS || c.cover_mode > COVER_ALL_F64)
		st = corrupt(err, "The cover encoding is unknown.");
	else if (c.width != 1 && c.width != 2 && c.width != 4)
		st = corrupt(err, "The threshold index width is not 1, 2 or 4.");
	else if ((st = decode_thresholds(r, e, n_split, &c, err)) != CLV_OK)
		;
	else if (!read_array(r, e->n_nodes, 1, &c.tag))
		st = corrupt(err, "The node tags are truncated.");
	else if (!read_array(r, n_split, 2, &c.feature))
		st = corrupt(err, "The split features are truncated.");
	else if (!read_array(r, n_split, c.width, &c.index))
		st = corrupt(err, "The threshold indexes are truncated.");
	else if (!read_array(r, n_leaf, 8, &c.value))
		st = corrupt(err, "The leaf values are truncated.");
	else if (!read_array(r, c.cover_mode == COVER_LEAF_COUNTS ? n_leaf :
						 c.cover_mode == COVER_LEFT_F64 ? n_split + e->n_trees : e->n_nodes,
						 c.cover_mode == COVER_LEAF_COUNTS ? 4 : 8, &c.cover))
		st = corrupt(err, "The covers are truncated.");
	else if ((st = decode_structure(e, &c, n_split, n_leaf, err)) == CLV_OK)
		st = decode_covers(e, &c, err);
	clv_release(c.first);
	clv_release(c.threshold);
	clv_release(c.used);
	return st;
}

clv_status
clv_ensemble_decode(clv_reader *r, uint32_t n_features, uint16_t version,
					clv_ensemble **out, clv_error *err)
{
	uint32_t	head[HEAD_U32];
	uint32_t	has_perm;
	double		base;
	clv_ensemble *e;
	size_t		left;
	size_t		fixed;
	clv_status	st;

	*out = NULL;
	/* no fit makes more, and prediction copies x to a buffer of this size */
	if (n_features < 1 || n_features > CLV_TREES_MAX_FEATURES)
		return corrupt(err, "A tree model has too many features.");
	for (int i = 0; i < HEAD_U32; i++)
		if (!clv_read_u32(r, &head[i]))
			return corrupt(err, "The ensemble header is truncated.");
	if (head[0] < CLV_ENSEMBLE_FOREST || head[0] > ENSEMBLE_BOOSTED_BINARY32 ||
		(head[0] == ENSEMBLE_BOOSTED_BINARY32 && version == 1))
		return corrupt(err, "The ensemble type is unknown.");
	if (head[1] < CLV_LINK_IDENTITY || head[1] > CLV_LINK_LOG)
		return corrupt(err, "The ensemble link function is unknown.");
	if (head[2] > 1)
		return corrupt(err, "The classification flag is neither 0 nor 1.");
	if (head[3] < 1 || head[3] > CLV_TREES_MAX_TREES)
		return corrupt(err, "The tree count is out of range.");

	/* sizes against the bytes present, before anything is allocated */
	fixed = 8 + 4 + 4 * 8 + 8 * (size_t) n_features + 4;
	left = r->len - r->pos;
	if (version == 1)
	{
		if (left < fixed || (left - fixed) / 4 < (size_t) head[3] + 1 ||
			head[4] < head[3] || (left - fixed - 4 * ((size_t) head[3] + 1)) / NODE_BYTES < head[4])
			return corrupt(err, "The tree or node count exceeds the payload.");
	}
	else
	{
		/* the least a version-2 node section takes: 1-byte indexes, u32 covers */
		uint64_t	n_split = ((uint64_t) head[4] - head[3]) / 2;
		uint64_t	least = (uint64_t) fixed + 8 + 4 * (uint64_t) n_features + head[4] +
			3 * n_split + 12 * (n_split + head[3]);

		if (head[4] < head[3] || least > left)
			return corrupt(err, "The tree or node count exceeds the payload.");
		/* a binary tree has one leaf more than splits */
		if ((head[4] - head[3]) % 2 != 0)
			return corrupt(err, "The node count is not that of binary trees.");
	}

	if (!clv_read_f64(r, &base) || !isfinite(base))
		return corrupt(err, "The base score is not finite.");
	e = ensemble_new(n_features, head[3], head[4]);
	*out = e;
	e->binary32 = head[0] == ENSEMBLE_BOOSTED_BINARY32;
	e->type = e->binary32 ? CLV_ENSEMBLE_BOOSTED : (clv_ensemble_type) head[0];
	e->link = (clv_link) head[1];
	e->classification = head[2] == 1;
	e->base_score = base;
	if (!clv_read_u32(r, &e->best_round) || !clv_read_f64(r, &e->oob_score) ||
		!clv_read_f64(r, &e->oob_error) || !clv_read_f64(r, &e->train_loss) ||
		!clv_read_f64(r, &e->valid_loss))
		return corrupt(err, "The ensemble statistics are truncated.");
	if (e->best_round < 1 || e->best_round > e->n_trees)
		return corrupt(err, "The best round is out of range.");
	if (!nan_or_finite(e->oob_score) || !nan_or_finite(e->oob_error) ||
		!nan_or_finite(e->train_loss) || !nan_or_finite(e->valid_loss))
		return corrupt(err, "An ensemble statistic is infinite.");
	for (uint32_t j = 0; j < n_features; j++)
		if (!clv_read_f64(r, &e->importance[j]) ||
			!(isnan(e->importance[j]) || (isfinite(e->importance[j]) && e->importance[j] >= 0)))
			return corrupt(err, "A feature importance is negative or infinite.");
	if (!clv_read_u32(r, &has_perm) || has_perm > 1)
		return corrupt(err, "The permutation importance flag is neither 0 nor 1.");
	if (has_perm)
	{
		if ((r->len - r->pos) / 8 < n_features)
			return corrupt(err, "The permutation importances are truncated.");
		e->permutation_importance = clv_alloc(sizeof(double) * n_features);
		for (uint32_t j = 0; j < n_features; j++)
			if (!clv_read_f64(r, &e->permutation_importance[j]) ||
				!nan_or_finite(e->permutation_importance[j]))
				return corrupt(err, "A permutation importance is infinite.");
	}
	st = version == 1 ? decode_nodes_v1(r, e, err) : decode_nodes_v2(r, e, err);
	if (st != CLV_OK)
		return st;
	walk_build(e);
	return CLV_OK;
}

/* ---- TreeSHAP ---------------------------------------------------------------- */

/*
 * Exact path-dependent TreeSHAP (Lundberg, Erion and Lee 2018, algorithm 2).
 * The path holds the unique features met from the root; for each, the
 * fraction of cover that flows along the path when the feature is unknown
 * (zero) and whether x itself follows the path (one).  Its weights are the
 * Shapley-weighted sums over subsets of the path, kept up to date as the
 * path grows (extend) and when a repeated feature is removed (unwind).
 */
typedef struct path_elem
{
	int32_t		feature;
	double		zero;
	double		one;
	double		weight;
} path_elem;

typedef struct shap_ctx
{
	const clv_tree_node *nodes;
	const double *x;
	double	   *phi;
	double		scale;			/* 1 / n_trees for forests, 1 for boosting */
} shap_ctx;

static void
path_extend(path_elem *path, int depth, double zero, double one, int32_t feature)
{
	path[depth] = (path_elem) {feature, zero, one, depth == 0 ? 1.0 : 0.0};
	for (int i = depth - 1; i >= 0; i--)
	{
		path[i + 1].weight += one * path[i].weight * (i + 1) / (double) (depth + 1);
		path[i].weight = zero * path[i].weight * (depth - i) / (double) (depth + 1);
	}
}

static void
path_unwind(path_elem *path, int depth, int index)
{
	double		one = path[index].one;
	double		zero = path[index].zero;
	double		next = path[depth].weight;

	for (int i = depth - 1; i >= 0; i--)
	{
		if (one != 0)
		{
			double		tmp = path[i].weight;

			path[i].weight = next * (depth + 1) / ((i + 1) * one);
			next = tmp - path[i].weight * zero * (depth - i) / (double) (depth + 1);
		}
		else
			path[i].weight = path[i].weight * (depth + 1) / (zero * (depth - i));
	}
	for (int i = index; i < depth; i++)
	{
		path[i].feature = path[i + 1].feature;
		path[i].zero = path[i + 1].zero;
		path[i].one = path[i + 1].one;
	}
}

/* Sum of the weights the path would have with element `index` unwound. */
static double
path_unwound_sum(const path_elem *path, int depth, int index)
{
	double		one = path[index].one;
	double		zero = path[index].zero;
	double		next = path[depth].weight;
	double		total = 0;

	for (int i = depth - 1; i >= 0; i--)
	{
		if (one != 0)
		{
			double		tmp = next * (depth + 1) / ((i + 1) * one);

			total += tmp;
			next = path[i].weight - tmp * zero * (depth - i) / (double) (depth + 1);
		}
		else
			total += path[i].weight * (depth + 1) / (zero * (depth - i));
	}
	return total;
}

/* Share of a parent's cover that goes to a child when the feature is unknown. */
static inline double
cover_fraction(const clv_tree_node *parent, const clv_tree_node *child)
{
	return parent->cover > 0 ? child->cover / parent->cover : 0.5;
}

static void
shap_recurse(const shap_ctx *c, uint32_t node_index, path_elem *parent_path, int depth,
			 double zero, double one, int32_t feature)
{
	const clv_tree_node *node = &c->nodes[node_index];
	path_elem  *path = parent_path + depth;
	double		in_zero = 1,
				in_one = 1;
	uint32_t	hot,
				cold;
	int			k;

	memcpy(path, parent_path, sizeof(path_elem) * depth);
	path_extend(path, depth, zero, one, feature);

	if (node->feature < 0)
	{
		for (int i = 1; i <= depth; i++)
		{
			double		w = path_unwound_sum(path, depth, i);

			c->phi[path[i].feature] += w * (path[i].one - path[i].zero) * node->value * c->scale;
		}
		return;
	}

	{
		double		v = c->x[node->feature];
		bool		left = isnan(v) ? node->default_left : v < node->threshold;

		hot = left ? node->left : node->right;
		cold = left ? node->right : node->left;
	}
	for (k = 1; k <= depth; k++)
		if (path[k].feature == node->feature)
			break;
	if (k <= depth)
	{
		in_zero = path[k].zero;
		in_one = path[k].one;
		path_unwind(path, depth, k);
		depth--;
	}

	/* a branch no subset of features can reach contributes nothing */
	zero = cover_fraction(node, &c->nodes[hot]) * in_zero;
	if (zero != 0 || in_one != 0)
		shap_recurse(c, hot, path, depth + 1, zero, in_one, node->feature);
	zero = cover_fraction(node, &c->nodes[cold]) * in_zero;
	if (zero != 0)
		shap_recurse(c, cold, path, depth + 1, zero, 0, node->feature);
}

/* Cover-weighted mean of a subtree's leaves: the margin with nothing known. */
static double
expected_value(const clv_tree_node *nodes, uint32_t i)
{
	const clv_tree_node *nd = &nodes[i];

	if (nd->feature < 0)
		return nd->value;
	return cover_fraction(nd, &nodes[nd->left]) * expected_value(nodes, nd->left) +
		cover_fraction(nd, &nodes[nd->right]) * expected_value(nodes, nd->right);
}

void
clv_ensemble_explain(const clv_ensemble *e, const double *x, double *phi,
					 double *expected)
{
	/* depth + 2 path slots at each of depth + 2 levels */
	size_t		slots = (size_t) (CLV_TREES_MAX_DEPTH + 2) * (CLV_TREES_MAX_DEPTH + 3) / 2;
	path_elem  *path = clv_alloc(sizeof(path_elem) * slots);
	shap_ctx	c = {e->nodes, x, phi, e->type == CLV_ENSEMBLE_FOREST ? 1.0 / e->n_trees : 1.0};
	double		base = 0;

	memset(phi, 0, sizeof(double) * e->n_features);
	for (uint32_t t = 0; t < e->n_trees; t++)
	{
		shap_recurse(&c, e->tree_start[t], path, 0, 1, 1, -1);
		base += expected_value(e->nodes, e->tree_start[t]);
	}
	*expected = e->type == CLV_ENSEMBLE_FOREST ? base / e->n_trees : e->base_score + base;
	clv_release(path);
}

double
clv_ensemble_expected(const clv_ensemble *e, uint32_t n_features)
{
	double	   *x = clv_alloc(sizeof(double) * n_features);
	double	   *phi = clv_alloc(sizeof(double) * n_features);
	double		expected;

	/* explain reports φ0 whatever x is: all missing is as good as any */
	for (uint32_t j = 0; j < n_features; j++)
		x[j] = NAN;
	clv_ensemble_explain(e, x, phi, &expected);
	clv_release(x);
	clv_release(phi);
	return expected;
}

/* Children follow their parents, so one forward pass finds every depth. */
uint32_t
clv_ensemble_depth(const clv_ensemble *e)
{
	uint32_t   *depth = clv_alloc(sizeof(uint32_t) * (e->n_nodes > 0 ? e->n_nodes : 1));
	uint32_t	deepest = 0;

	memset(depth, 0, sizeof(uint32_t) * e->n_nodes);
	for (uint32_t i = 0; i < e->n_nodes; i++)
	{
		const clv_tree_node *node = &e->nodes[i];

		if (node->feature < 0)
			deepest = depth[i] > deepest ? depth[i] : deepest;
		else
			depth[node->left] = depth[node->right] = depth[i] + 1;
	}
	clv_release(depth);
	return deepest;
}
