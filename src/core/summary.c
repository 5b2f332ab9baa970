/*
 * summary.c — combinable per-customer summary state.
 */
#include "summary.h"

#include <stdlib.h>
#include <string.h>

void
clv_sum_add(clv_sum *s, double v)
{
	double		e;

	s->hi = clv_two_sum(s->hi, v, &e);
	s->lo += e;
}

double
clv_sum_value(clv_sum s)
{
	return s.hi + s.lo;
}

static void
sum_merge(clv_sum *s, clv_sum other)
{
	clv_sum_add(s, other.hi);
	clv_sum_add(s, other.lo);
}

static int
compare_period(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/* Sort and drop duplicates in place. */
static void
period_set_compact(clv_period_set *set)
{
	int64_t    *v = set->heap ? set->heap : set->local;
	uint32_t	k = 0;

	qsort(v, set->n, sizeof(int64_t), compare_period);
	for (uint32_t i = 0; i < set->n; i++)
		if (k == 0 || v[k - 1] != v[i])
			v[k++] = v[i];
	set->n = k;
}

void
clv_period_set_add(clv_period_set *set, int64_t period)
{
	int64_t    *v = set->heap ? set->heap : set->local;
	uint32_t	cap = set->cap ? set->cap : CLV_PERIODS_LOCAL;

	/* orders usually arrive grouped by period: skip the obvious repeat */
	if (set->n > 0 && v[set->n - 1] == period)
		return;
	if (set->n == cap)
	{
		int64_t    *grown;

		/* compact before growing, so memory follows distinct periods */
		period_set_compact(set);
		if (set->n <= cap / 2)
		{
			v[set->n++] = period;
			return;
		}
		cap *= 2;
		grown = clv_alloc(sizeof(int64_t) * cap);
		memcpy(grown, v, sizeof(int64_t) * set->n);
		clv_release(set->heap);
		set->heap = v = grown;
		set->cap = cap;
	}
	v[set->n++] = period;
}

uint32_t
clv_period_set_count(const clv_period_set *set)
{
	clv_period_set copy = {0};
	uint32_t	n;

	if (set->n <= 1)
		return set->n;
	copy.heap = clv_alloc(sizeof(int64_t) * set->n);
	memcpy(copy.heap, clv_period_set_values(set), sizeof(int64_t) * set->n);
	copy.n = copy.cap = set->n;
	period_set_compact(&copy);
	n = copy.n;
	clv_release(copy.heap);
	return n;
}

void
clv_summary_init(clv_summary_acc *acc)
{
	memset(acc, 0, sizeof(*acc));
}

void
clv_summary_add(clv_summary_acc *acc, int64_t period, int64_t time, double amount)
{
	if (acc->orders == 0 || period < acc->first_period)
	{
		acc->first_period = period;
		acc->first_period_revenue = (clv_sum) {amount, 0};
	}
	else if (period == acc->first_period)
		clv_sum_add(&acc->first_period_revenue, amount);
	if (acc->orders == 0 || time < acc->first_time)
		acc->first_time = time;
	if (acc->orders == 0 || time > acc->last_time)
		acc->last_time = time;
	acc->orders++;
	clv_sum_add(&acc->revenue, amount);
	clv_period_set_add(&acc->periods, period);
}

void
clv_summary_add_holdout(clv_summary_acc *acc, int64_t period, double amount)
{
	acc->holdout_orders++;
	clv_sum_add(&acc->holdout_revenue, amount);
	clv_period_set_add(&acc->holdout_periods, period);
}

static void
period_set_merge(clv_period_set *set, const clv_period_set *other)
{
	const int64_t *v = clv_period_set_values(other);

	for (uint32_t i = 0; i < other->n; i++)
		clv_period_set_add(set, v[i]);
}

void
clv_summary_merge(clv_summary_acc *acc, const clv_summary_acc *other)
{
	if (other->orders > 0)
	{
		if (acc->orders == 0 || other->first_period < acc->first_period)
		{
			acc->first_period = other->first_period;
			acc->first_period_revenue = other->first_period_revenue;
		}
		else if (other->first_period == acc->first_period)
			sum_merge(&acc->first_period_revenue, other->first_period_revenue);
		if (acc->orders == 0 || other->first_time < acc->first_time)
			acc->first_time = other->first_time;
		if (acc->orders == 0 || other->last_time > acc->last_time)
			acc->last_time = other->last_time;
		acc->orders += other->orders;
		sum_merge(&acc->revenue, other->revenue);
		period_set_merge(&acc->periods, &other->periods);
	}
	acc->holdout_orders += other->holdout_orders;
	sum_merge(&acc->holdout_revenue, other->holdout_revenue);
	period_set_merge(&acc->holdout_periods, &other->holdout_periods);
}

static int64_t
max_period(const clv_period_set *set)
{
	const int64_t *v = clv_period_set_values(set);
	int64_t		m = v[0];

	for (uint32_t i = 1; i < set->n; i++)
		if (v[i] > m)
			m = v[i];
	return m;
}

bool
clv_summary_result_of(const clv_summary_acc *acc, clv_summary_result *out)
{
	memset(out, 0, sizeof(*out));
	if (acc->orders == 0)
		return false;
	out->frequency = (int64_t) clv_period_set_count(&acc->periods) - 1;
	out->first_period = acc->first_period;
	out->last_period = max_period(&acc->periods);
	out->recency_periods = out->last_period - out->first_period;
	out->orders = acc->orders;
	out->revenue = clv_sum_value(acc->revenue);
	if (out->frequency > 0)
	{
		/* repeat revenue = total − first period, in double-double */
		clv_sum		repeat = acc->revenue;

		clv_sum_add(&repeat, -acc->first_period_revenue.hi);
		clv_sum_add(&repeat, -acc->first_period_revenue.lo);
		out->monetary = clv_sum_value(repeat) / out->frequency;
	}
	out->first_time = acc->first_time;
	out->last_time = acc->last_time;
	out->holdout_orders = acc->holdout_orders;
	out->holdout_revenue = clv_sum_value(acc->holdout_revenue);
	out->holdout_frequency = clv_period_set_count(&acc->holdout_periods);
	if (out->holdout_frequency > 0)
		out->holdout_monetary = out->holdout_revenue / out->holdout_frequency;
	return true;
}
