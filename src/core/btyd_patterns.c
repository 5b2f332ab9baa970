/*
 * btyd_patterns.c — what the BTYD fits and scoring know of a customer: the
 * checks of (x, t_x, T), the distinct patterns with counts that the fit
 * aggregates hold, and the time index that lets a likelihood evaluation take
 * each distinct time's logarithms once.
 */
#include "btyd.h"
#include "sort.h"

#include <math.h>
#include <string.h>

/* ---- patterns ------------------------------------------------------------- */

void
clv_patterns_init(clv_patterns *p, size_t max_bytes)
{
	memset(p, 0, sizeof(*p));
	p->max_bytes = max_bytes;
	p->noun = "customer patterns";
}

static int
compare_pattern(const void *a, const void *b, void *arg CLV_UNUSED)
{
	const clv_pattern *x = a;
	const clv_pattern *y = b;

	if (x->x != y->x)
		return x->x < y->x ? -1 : 1;
	if (x->tx != y->tx)
		return x->tx < y->tx ? -1 : 1;
	if (x->T != y->T)
		return x->T < y->T ? -1 : 1;
	return 0;
}

/* The patterns as they arrive are distinct; sorting makes their order canonical. */
void
clv_patterns_compact(clv_patterns *p)
{
	if (p->n > 1)
		clv_sort(p->v, p->n, sizeof(clv_pattern), compare_pattern, NULL);
	/* the index refers to positions: rebuilt when next needed */
	clv_release(p->slots);
	p->slots = NULL;
	p->n_slots = 0;
}

static uint64_t
pattern_hash(double x, double tx, double T)
{
	double		key[3] = {x + 0.0, tx + 0.0, T + 0.0};	/* −0 hashes as 0 */
	uint64_t	h = 0,
				bits;

	for (int i = 0; i < 3; i++)
	{
		memcpy(&bits, &key[i], 8);
		h = clv_mix64(h ^ bits);
	}
	return h;
}

/* Rebuild the index over the first n patterns with n_slots slots. */
static void
patterns_reindex(clv_patterns *p, size_t n_slots)
{
	clv_release(p->slots);
	p->slots = clv_alloc(n_slots * sizeof(uint32_t));
	memset(p->slots, 0, n_slots * sizeof(uint32_t));
	p->n_slots = n_slots;
	for (size_t i = 0; i < p->n; i++)
	{
		size_t		s = pattern_hash(p->v[i].x, p->v[i].tx, p->v[i].T) & (n_slots - 1);

		while (p->slots[s] != 0)
			s = (s + 1) & (n_slots - 1);
		p->slots[s] = (uint32_t) (i + 1);
	}
}

/* Room for `need` patterns (and their index), within the memory limit. */
static clv_status
patterns_reserve(clv_patterns *p, size_t need, clv_error *err)
{
	/* a pattern and its share of the index (at least two slots) */
	const size_t per_pattern = sizeof(clv_pattern) + 4 * sizeof(uint32_t);
	size_t		cap;
	clv_pattern *v;

	if (need <= p->cap)
		return CLV_OK;
	cap = p->cap ? p->cap * 2 : 256;
	while (cap < need)
		cap *= 2;
	if (cap > UINT32_MAX - 1 ||
		(p->max_bytes && cap > p->max_bytes / per_pattern))
	{
		cap = p->max_bytes ? p->max_bytes / per_pattern : UINT32_MAX - 1;
		if (cap < need)
		{
			clv_fail(err, CLV_ERR_LIMIT,
					 "distinct %s exceed the memory limit of %zu kB",
					 p->noun, p->max_bytes / 1024);
			clv_set_detail(err, "%zu distinct %s need %zu kB.", need, p->noun,
						   (need * per_pattern + 1023) / 1024);
			return CLV_ERR_LIMIT;
		}
	}
	v = clv_alloc(cap * sizeof(clv_pattern));
	if (p->n)
		memcpy(v, p->v, p->n * sizeof(clv_pattern));
	clv_release(p->v);
	p->v = v;
	p->cap = cap;
	return CLV_OK;
}

clv_status
clv_patterns_add(clv_patterns *p, double x, double tx, double T, double count,
				 clv_error *err)
{
	clv_status	st;
	size_t		s;

	/* sorted input repeats the last pattern: count it in place */
	if (p->n > 0 && p->v[p->n - 1].x == x && p->v[p->n - 1].tx == tx &&
		p->v[p->n - 1].T == T)
	{
		p->v[p->n - 1].count += count;
		return CLV_OK;
	}
	if (p->n_slots < 2 * (p->n + 1))
	{
		size_t		n_slots = 1024;

		while (n_slots < 4 * (p->n + 1))
			n_slots *= 2;
		patterns_reindex(p, n_slots);
	}
	s = pattern_hash(x, tx, T) & (p->n_slots - 1);
	for (; p->slots[s] != 0; s = (s + 1) & (p->n_slots - 1))
	{
		clv_pattern *c = &p->v[p->slots[s] - 1];

		if (c->x == x && c->tx == tx && c->T == T)
		{
			c->count += count;
			return CLV_OK;
		}
	}
	if (p->n == p->cap && (st = patterns_reserve(p, p->n + 1, err)) != CLV_OK)
		return st;
	p->v[p->n] = (clv_pattern) {x, tx, T, count};
	p->slots[s] = (uint32_t) ++p->n;
	return CLV_OK;
}

clv_status
clv_patterns_merge(clv_patterns *p, const clv_patterns *other, clv_error *err)
{
	for (size_t i = 0; i < other->n; i++)
	{
		const clv_pattern *o = &other->v[i];
		clv_status	st = clv_patterns_add(p, o->x, o->tx, o->T, o->count, err);

		if (st != CLV_OK)
			return st;
	}
	return CLV_OK;
}

void
clv_patterns_free(clv_patterns *p)
{
	clv_release(p->v);
	clv_release(p->slots);
	p->v = NULL;
	p->slots = NULL;
	p->n = p->cap = p->n_slots = 0;
}

/* ---- customers ------------------------------------------------------------ */

/* The rules of clv_btyd_check_customer one by one, for the message (CLV_OK when all hold). */
clv_status
clv_btyd_customer_error(clv_btyd_model model, double x, double tx, double T,
						clv_error *err)
{
	const char *age;

	/* below 2^53 the cast is exact for whole numbers; above, every double is one */
	if (!(x >= 0) || !isfinite(x) || (x < 9007199254740992.0 && x != (double) (int64_t) x))
		return clv_fail(err, CLV_ERR_DATA,
						"frequency must be a non-negative whole number");
	if (clv_btyd_models[model].spend)
	{
		if (x > 0 && !(tx > 0 && isfinite(tx)))
			return clv_fail(err, CLV_ERR_DATA,
							"monetary must be positive and finite when frequency is positive");
		return CLV_OK;
	}
	/* the age argument: t, or n opportunities for a discrete-time model */
	age = clv_btyd_models[model].feature_names[2];
	if (!(tx >= 0 && isfinite(tx)) || !(T >= 0 && isfinite(T)))
		return clv_fail(err, CLV_ERR_DATA, "recency and %s must be non-negative and finite", age);
	if (clv_btyd_models[model].discrete &&
		!(T < 9007199254740992.0 && tx == floor(tx) && T == floor(T)))
		return clv_fail(err, CLV_ERR_DATA, "recency and n must be whole numbers of opportunities");
	if (tx > T)
		return clv_fail(err, CLV_ERR_DATA, "recency must not exceed %s", age);
	if (x > 0 && tx == 0)
		return clv_fail(err, CLV_ERR_DATA, "recency must be positive when frequency is positive");
	if (x == 0 && tx != 0)
		return clv_fail(err, CLV_ERR_DATA, "recency must be 0 when frequency is 0");
	if (clv_btyd_models[model].discrete && x > tx)
		return clv_fail(err, CLV_ERR_DATA, "frequency must not exceed recency");
	return CLV_OK;
}

clv_status
clv_btyd_add_customer(clv_btyd_model model, clv_patterns *p, double x, double tx,
					  double T, clv_error *err)
{
	/* a one-time buyer has no repeat spend: m carries no information */
	if (clv_btyd_models[model].spend && x == 0)
		tx = 0;
	return clv_patterns_add(p, x, tx, T, 1, err);
}

/* ---- time index ------------------------------------------------------------ */

static uint32_t
time_position(clv_time_index *ix, uint32_t *slots, size_t n_slots, double t)
{
	uint64_t	bits;
	size_t		s;

	t += 0.0;					/* −0 as 0 */
	memcpy(&bits, &t, 8);
	s = clv_mix64(bits) & (n_slots - 1);
	for (; slots[s] != 0; s = (s + 1) & (n_slots - 1))
		if (ix->value[slots[s] - 1] == t)
			return slots[s] - 1;
	ix->value[ix->n] = t;
	slots[s] = (uint32_t) ++ix->n;
	return slots[s] - 1;
}

void
clv_time_index_build(const clv_patterns *p, clv_time_index *ix)
{
	size_t		n_slots = 16;
	uint32_t   *slots;

	while (n_slots < 4 * p->n)
		n_slots *= 2;
	slots = clv_alloc(n_slots * sizeof(uint32_t));
	memset(slots, 0, n_slots * sizeof(uint32_t));
	ix->n = 0;
	ix->value = clv_alloc(2 * p->n * sizeof(double));
	ix->T_at = clv_alloc(p->n * sizeof(uint32_t));
	ix->tx_at = clv_alloc(p->n * sizeof(uint32_t));
	for (size_t i = 0; i < p->n; i++)
	{
		ix->T_at[i] = time_position(ix, slots, n_slots, p->v[i].T);
		ix->tx_at[i] = time_position(ix, slots, n_slots, p->v[i].tx);
	}
	ix->log = clv_alloc(2 * ix->n * sizeof(double));
	clv_release(slots);
}

void
clv_time_index_free(clv_time_index *ix)
{
	clv_release(ix->value);
	clv_release(ix->T_at);
	clv_release(ix->tx_at);
	clv_release(ix->log);
}
