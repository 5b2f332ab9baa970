/*
 * summary.h — per-customer transaction summaries (frequency, recency, T,
 * monetary value) with lifetimes' semantics: purchases within one period are
 * merged, frequency counts repeat periods.
 *
 * The core sees times already mapped to period numbers by the glue (which
 * knows the session time zone); it keeps the distinct purchase periods, the
 * spend in the first period and the totals, all combinable in any order.
 */
#ifndef CLV_SUMMARY_H
#define CLV_SUMMARY_H

#include "clv_core.h"

/*
 * A multiset of period numbers, deduplicated lazily.  Most customers buy in a
 * handful of periods: those fit in the set itself, which saves an allocation
 * and a cache miss per order; more spill to an allocated array.
 */
#define CLV_PERIODS_LOCAL 4

typedef struct clv_period_set
{
	int64_t    *heap;			/* NULL while the periods fit in local */
	uint32_t	n;
	uint32_t	cap;			/* 0 means CLV_PERIODS_LOCAL */
	int64_t		local[CLV_PERIODS_LOCAL];
} clv_period_set;

static inline const int64_t *
clv_period_set_values(const clv_period_set *set)
{
	return set->heap ? set->heap : set->local;
}

/* Double-double running sum: exact enough that merge order never shows. */
typedef struct clv_sum
{
	double		hi;
	double		lo;
} clv_sum;

typedef struct clv_summary_acc
{
	/* calibration: orders in periods up to and including the as-of period */
	int64_t		orders;
	clv_sum		revenue;
	int64_t		first_time;		/* earliest and latest order timestamps */
	int64_t		last_time;
	int64_t		first_period;
	clv_sum		first_period_revenue;
	clv_period_set periods;
	/* holdout: orders after the calibration period, up to the observation end */
	int64_t		holdout_orders;
	clv_sum		holdout_revenue;
	clv_period_set holdout_periods;
} clv_summary_acc;

typedef struct clv_summary_result
{
	int64_t		frequency;		/* distinct purchase periods − 1 */
	int64_t		recency_periods;	/* last − first purchase period */
	int64_t		first_period;
	int64_t		last_period;
	double		monetary;		/* mean revenue of the repeat periods */
	int64_t		orders;
	double		revenue;
	int64_t		first_time;
	int64_t		last_time;
	int64_t		holdout_frequency;	/* distinct holdout purchase periods */
	double		holdout_monetary;	/* mean revenue per holdout period */
	int64_t		holdout_orders;
	double		holdout_revenue;
} clv_summary_result;

void		clv_summary_init(clv_summary_acc *acc);
void		clv_summary_add(clv_summary_acc *acc, int64_t period, int64_t time, double amount);
void		clv_summary_add_holdout(clv_summary_acc *acc, int64_t period, double amount);
void		clv_summary_merge(clv_summary_acc *acc, const clv_summary_acc *other);

/* False when the customer has no calibration order (no summary exists). */
bool		clv_summary_result_of(const clv_summary_acc *acc, clv_summary_result *out);

void		clv_sum_add(clv_sum *s, double v);
double		clv_sum_value(clv_sum s);

void		clv_period_set_add(clv_period_set *set, int64_t period);
uint32_t	clv_period_set_count(const clv_period_set *set);

#endif							/* CLV_SUMMARY_H */
