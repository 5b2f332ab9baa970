/*
 * budget.h — marketing-budget allocation over segment response curves, and
 * the shadow price of a customer-level targeting budget.
 *
 * Allocation: each segment's response curve is the upper concave envelope of
 * its (spend, response) points, starting at spend 0 (the point (0, 0) unless
 * a point at spend 0 is given) and flat past its highest point.  Maximising
 * the total response under a budget is then a linear programme solved exactly
 * by equal marginal returns: after the minimums are funded, the envelope's
 * pieces are bought in decreasing order of slope.  Without interpolation the
 * given spend levels are the only choices, a multiple-choice knapsack solved
 * exactly over Pareto frontiers.
 *
 * Threshold: the LP relaxation of "each customer takes at most one option,
 * total cost within the budget" is solved by the same greedy over each
 * customer's concave envelope of options; its price λ is found by weighted
 * selection and then checked against the rule users apply in SQL.
 */
#ifndef CLV_BUDGET_H
#define CLV_BUDGET_H

#include "clv_core.h"

/* ---- allocation: the points of every segment's response curve -------------- */

typedef struct clv_budget_point
{
	uint32_t	seg;			/* its segment, an index into segs */
	double		spend;			/* finite, >= 0 */
	double		response;		/* finite */
} clv_budget_point;

/* A segment's name: bytes at names + off. */
typedef struct clv_budget_name
{
	uint64_t	off;
	uint64_t	len;
} clv_budget_name;

/*
 * The points and a dictionary of their segments' names (a hash table of
 * indexes into segs), so that a name is stored once whatever the row order.
 */
typedef struct clv_budget_points
{
	size_t		n;
	size_t		cap;
	clv_budget_point *v;
	size_t		n_segs;
	size_t		segs_cap;
	clv_budget_name *segs;
	char	   *names;			/* segment names, not terminated */
	size_t		names_len;
	size_t		names_cap;
	uint32_t   *slots;			/* segment + 1, or 0 for an empty slot */
	size_t		n_slots;		/* a power of two, or 0 */
	size_t		max_bytes;		/* limit on points, names and slots together; 0 = none */
} clv_budget_points;

void		clv_budget_points_init(clv_budget_points *pts, size_t max_bytes);
void		clv_budget_points_free(clv_budget_points *pts);
clv_status	clv_budget_points_reserve(clv_budget_points *pts, size_t n, clv_error *err);
/* The segment named name[0..len), added when new. */
clv_status	clv_budget_segment_of(clv_budget_points *pts, const char *name, size_t len,
							   uint32_t *seg, clv_error *err);
/* spend and response must be finite, spend >= 0: the glue checks. */
clv_status	clv_budget_points_add(clv_budget_points *pts, uint32_t seg, double spend,
								  double response, clv_error *err);
clv_status	clv_budget_points_append(clv_budget_points *pts, const char *name, size_t len,
									 double spend, double response, clv_error *err);
clv_status	clv_budget_points_merge(clv_budget_points *pts, const clv_budget_points *other,
									clv_error *err);

/* A spend bound of a named segment (NaN: none). */
typedef struct clv_budget_bound
{
	const char *name;
	size_t		len;
	double		min;
	double		max;
} clv_budget_bound;

typedef struct clv_budget_options
{
	bool		net;			/* maximise response − spend instead of response */
	bool		interpolate;	/* false: the given spend levels only (knapsack) */
	size_t		n_bounds;
	const clv_budget_bound *bounds;
	/* knapsack: candidate combinations one segment may create (frontier × levels) */
	size_t		max_combinations;
} clv_budget_options;

#define CLV_BUDGET_MAX_COMBINATIONS ((size_t) 10000000)

typedef struct clv_budget_segment
{
	const char *name;			/* points into the points' names */
	size_t		len;
	double		spend;
	double		response;
	double		marginal;		/* the envelope's slope right of spend; NaN for the knapsack */
} clv_budget_segment;

typedef struct clv_budget_result
{
	size_t		n;				/* segments, by name (bytewise) */
	clv_budget_segment *segments;
	double		spend;
	double		response;
	double		shadow_price;	/* NaN for the knapsack */
} clv_budget_result;

/*
 * The optimal allocation of budget (finite, >= 0) over the segments of pts
 * (n > 0), from a copy in canonical order (segment name bytewise, spend,
 * response descending), so that it depends only on the multiset.  Errors: a bound naming no
 * segment, min > max, minimums above the budget or no level within a
 * segment's bounds (CLV_ERR_INVALID), a knapsack past its limits
 * (CLV_ERR_LIMIT).
 */
clv_status	clv_budget_allocate(const clv_budget_points *pts, double budget,
								const clv_budget_options *opt, clv_budget_result *res,
								clv_error *err);

/* ---- threshold: customers' options ------------------------------------------- */

typedef struct clv_offer
{
	int64_t		customer;
	double		gain;			/* finite */
	double		cost;			/* finite, > 0 */
} clv_offer;

#define CLV_OFFER_RUNS 8

typedef struct clv_offers
{
	size_t		n;
	size_t		cap;
	clv_offer  *v;
	size_t		max_bytes;		/* limit on the offer array; 0 = none */
	/*
	 * Where the runs of nondecreasing customer start (parallel workers'
	 * partial states each bring one), while there are at most
	 * CLV_OFFER_RUNS; more and the final function sorts instead of merging.
	 */
	size_t		n_runs;
	bool		many_runs;
	size_t		run_start[CLV_OFFER_RUNS];
} clv_offers;

void		clv_offers_init(clv_offers *offers, size_t max_bytes);
clv_status	clv_offers_reserve(clv_offers *offers, size_t need, clv_error *err);
clv_status	clv_offers_append(clv_offers *offers, int64_t customer, double gain, double cost,
							  clv_error *err);
clv_status	clv_offers_merge(clv_offers *offers, const clv_offers *other, clv_error *err);

/*
 * λ for a budget (finite, >= 0): the smallest double at which taking, for
 * every customer, the option with the largest gain − λ·cost if that is
 * positive (ties: the cheaper option) spends at most the budget, starting from
 * the LP relaxation's price.  grouped: offers of one customer exclude each
 * other; otherwise every offer is its own customer.  Works on a copy.
 * *spend receives what the rule spends at λ.
 */
clv_status	clv_budget_threshold(const clv_offers *offers, bool grouped, double budget,
								 double *lambda, double *spend, clv_error *err);

/*
 * What the rule spends at lambda over offers in canonical order (grouped by
 * customer), with a compensated sum.
 */
double		clv_threshold_rule_spend(const clv_offer *v, size_t n, bool grouped, double lambda);

#endif							/* CLV_BUDGET_H */
