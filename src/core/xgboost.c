/*
 * xgboost.c — a boosted ensemble from the trees of a model trained in
 * XGBoost, predicting what XGBoost's predict does.
 *
 * XGBoost rounds a feature value to float and compares it with a float
 * threshold; the ensemble compares the double x with a double threshold
 * chosen so that both comparisons agree for every x.  It sums the leaves in
 * float from the base margin, tree by tree; the ensemble's binary32 flag
 * does the same.  The trees are copied in preorder, which makes children
 * follow their parents as the ensemble requires; nodes no split reaches
 * (XGBoost keeps pruned nodes in its arrays) are left out.
 */
#include "tree_internal.h"

#include <math.h>
#include <string.h>

double
clv_xgboost_threshold(float t)
{
	float		below_f = nextafterf(t, -INFINITY);
	/* below -FLT_MAX, x rounds to -Inf from 2^128 - 2^103 down */
	double		below = isinf(below_f) ? -ldexp(1.0, 128) : below_f;
	/* exact: a float has 24 significant bits, a double 53 */
	double		mid = ((double) t + below) / 2;
	uint32_t	bits;

	/*
	 * x strictly between the two floats rounds to the nearer; x at the
	 * midpoint to the one whose last bit is even.  When that is `below`,
	 * the midpoint itself goes left.
	 */
	memcpy(&bits, &t, 4);
	return (bits & 1) ? nextafter(mid, INFINITY) : mid;
}

static clv_status
invalid(clv_error *err, uint32_t tree, int64_t node, const char *what)
{
	clv_fail(err, CLV_ERR_INVALID, "invalid XGBoost model");
	if (node >= 0)
		clv_set_detail(err, "Tree %u, node %lld: %s", tree, (long long) node, what);
	else
		clv_set_detail(err, "Tree %u: %s", tree, what);
	return CLV_ERR_INVALID;
}

/* The base score on the margin scale, in float as XGBoost derives it. */
static clv_status
base_margin(clv_xgboost_objective objective, float base_score, float *margin,
			clv_error *err)
{
	const char *refused = NULL;

	if (!isfinite(base_score))
		refused = "The base score is not finite.";
	else if (objective == CLV_XGBOOST_LOGISTIC && !(base_score > 0 && base_score < 1))
		refused = "The base score of binary:logistic is not between 0 and 1.";
	else if (objective == CLV_XGBOOST_TWEEDIE && !(base_score > 0))
		refused = "The base score of reg:tweedie is not positive.";
	if (refused)
	{
		clv_fail(err, CLV_ERR_INVALID, "invalid XGBoost model");
		clv_set_detail(err, "%s", refused);
		return CLV_ERR_INVALID;
	}
	*margin = objective == CLV_XGBOOST_LOGISTIC ? -logf(1.0f / base_score - 1.0f) :
		objective == CLV_XGBOOST_TWEEDIE ? logf(base_score) : base_score;
	return CLV_OK;
}

typedef struct pending
{
	int64_t		source;			/* index in the XGBoost arrays */
	uint32_t	parent;			/* UINT32_MAX at the root */
	uint8_t		depth;
	bool		right;
} pending;

/* Copy tree t in preorder to e->nodes from *next on; check as it goes. */
static clv_status
copy_tree(const clv_xgboost_tree *x, uint32_t t, clv_ensemble *e, uint8_t *seen,
		  double *gain, uint32_t *next, clv_error *err)
{
	/* each step pops one entry and pushes at most two, one level deeper */
	pending		stack[2 * CLV_TREES_MAX_DEPTH + 2];
	int			top = 0;

	if (x->n_nodes == 0)
		return invalid(err, t, -1, "The tree has no nodes.");
	memset(seen, 0, x->n_nodes);
	stack[top++] = (pending) {0, UINT32_MAX, 0, false};
	while (top > 0)
	{
		pending		p = stack[--top];
		int64_t		i = p.source;
		clv_tree_node *nd = &e->nodes[*next];
		int64_t		l,
					r;

		if (i < 0 || i >= x->n_nodes)
			return invalid(err, t, i, "A child index is out of range.");
		if (seen[i])
			return invalid(err, t, i, "The node is reached more than once from the root.");
		seen[i] = 1;
		if (p.parent != UINT32_MAX)
		{
			if (p.right)
				e->nodes[p.parent].right = *next;
			else
				e->nodes[p.parent].left = *next;
		}
		if (!isfinite(x->hessian[i]) || !(x->hessian[i] >= 0))
			return invalid(err, t, i, "The hessian sum is negative or not finite.");
		if (!isfinite(x->condition[i]))
			return invalid(err, t, i, "The split condition is not finite.");
		nd->cover = x->hessian[i];
		l = x->left[i];
		r = x->right[i];
		if (l == -1 && r == -1)
		{
			nd->feature = -1;
			nd->value = x->condition[i];
			(*next)++;
			continue;
		}
		if (l == -1 || r == -1)
			return invalid(err, t, i, "The node has one child.");
		if (l < 0 || r < 0 || l >= x->n_nodes || r >= x->n_nodes)
			return invalid(err, t, i, "A child index is out of range.");
		if (l == r)
			return invalid(err, t, i, "Both children are the same node.");
		if (p.depth >= CLV_TREES_MAX_DEPTH)
			return invalid(err, t, i, "The tree is deeper than 30 levels.");
		if (x->feature[i] < 0 || x->feature[i] >= e->n_features)
			return invalid(err, t, i, "The split feature is out of range.");
		if (x->default_left[i] > 1)
			return invalid(err, t, i, "The default direction is neither 0 nor 1.");
		if (!isfinite(x->gain[i]))
			return invalid(err, t, i, "The loss change is not finite.");
		nd->feature = (int32_t) x->feature[i];
		nd->threshold = clv_xgboost_threshold(x->condition[i]);
		nd->default_left = x->default_left[i];
		gain[nd->feature] += fmax(x->gain[i], 0);
		stack[top++] = (pending) {r, *next, (uint8_t) (p.depth + 1), true};
		stack[top++] = (pending) {l, *next, (uint8_t) (p.depth + 1), false};
		(*next)++;
	}
	return CLV_OK;
}

clv_status
clv_xgboost_ensemble(const clv_xgboost_tree *trees, uint32_t n_trees, uint32_t n_features,
					 clv_xgboost_objective objective, float base_score,
					 clv_ensemble **out, clv_error *err)
{
	size_t		total = 0;
	uint32_t	longest = 0,
				next = 0;
	float		margin = 0;
	double		gain_sum = 0;
	uint8_t    *seen;
	clv_ensemble *e;
	clv_status	st;

	*out = NULL;
	if (n_features < 1 || n_features > CLV_TREES_MAX_FEATURES)
	{
		clv_fail(err, CLV_ERR_INVALID, "an XGBoost model must have 1 to %d features",
				 CLV_TREES_MAX_FEATURES);
		clv_set_detail(err, "It has %u.", n_features);
		return CLV_ERR_INVALID;
	}
	if (n_trees < 1 || n_trees > CLV_TREES_MAX_TREES)
	{
		clv_fail(err, CLV_ERR_INVALID, "an XGBoost model must have 1 to %d trees",
				 CLV_TREES_MAX_TREES);
		clv_set_detail(err, "It has %u.", n_trees);
		return CLV_ERR_INVALID;
	}
	for (uint32_t t = 0; t < n_trees; t++)
	{
		total += trees[t].n_nodes;
		longest = trees[t].n_nodes > longest ? trees[t].n_nodes : longest;
	}
	if (total > UINT32_MAX / 2)
	{
		clv_fail(err, CLV_ERR_LIMIT, "an XGBoost model has too many nodes");
		clv_set_detail(err, "It has %zu.", total);
		return CLV_ERR_LIMIT;
	}
	if ((st = base_margin(objective, base_score, &margin, err)) != CLV_OK)
		return st;

	e = ensemble_new(n_features, n_trees, (uint32_t) total);
	*out = e;
	e->type = CLV_ENSEMBLE_BOOSTED;
	e->binary32 = true;
	e->link = objective == CLV_XGBOOST_LOGISTIC ? CLV_LINK_LOGIT :
		objective == CLV_XGBOOST_TWEEDIE ? CLV_LINK_LOG : CLV_LINK_IDENTITY;
	e->classification = objective == CLV_XGBOOST_LOGISTIC;
	e->base_score = margin;
	for (uint32_t j = 0; j < n_features; j++)
		e->importance[j] = 0;
	seen = clv_alloc(longest > 0 ? longest : 1);
	for (uint32_t t = 0; t < n_trees; t++)
	{
		e->tree_start[t] = next;
		if ((st = copy_tree(&trees[t], t, e, seen, e->importance, &next, err)) != CLV_OK)
			break;
	}
	clv_release(seen);
	if (st != CLV_OK)
		return st;
	e->tree_start[n_trees] = next;
	e->n_nodes = next;

	/*
	 * XGBoost's covers are float sums; where rounding pulls a split's cover
	 * too far from its children's for the decoder, it becomes their sum
	 * (children follow their parent, so a backward pass sees them first).
	 */
	for (uint32_t i = next; i-- > 0;)
	{
		clv_tree_node *nd = &e->nodes[i];

		if (nd->feature >= 0 &&
			!ensemble_covers_add_up(nd->cover, e->nodes[nd->left].cover, e->nodes[nd->right].cover))
			nd->cover = e->nodes[nd->left].cover + e->nodes[nd->right].cover;
	}
	for (uint32_t j = 0; j < n_features; j++)
		gain_sum += e->importance[j];
	if (gain_sum > 0 && isfinite(gain_sum))
		for (uint32_t j = 0; j < n_features; j++)
			e->importance[j] /= gain_sum;
	return ensemble_finish(e, err);
}
