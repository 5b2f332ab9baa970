/*
 * rows.c — growable, memory-bounded storage of training rows.
 */
#include "rows.h"

#include <string.h>

#include "sort.h"

void
clv_rows_init(clv_rows *rows, uint32_t p, size_t max_bytes)
{
	memset(rows, 0, sizeof(*rows));
	rows->p = p;
	rows->max_bytes = max_bytes;
}

/* Make room for at least `need` rows, doubling, within the memory limit. */
static clv_status
rows_reserve(clv_rows *rows, size_t need, clv_error *err)
{
	size_t		cap = rows->cap;
	clv_status	st;

	if (need <= rows->cap)
		return CLV_OK;
	if ((st = clv_rows_capacity(&cap, need, sizeof(double) * ((size_t) rows->p + 1),
								rows->max_bytes, err)) != CLV_OK)
		return st;
	rows->x = clv_grow_buffer(rows->x, rows->n * sizeof(double) * rows->p,
							  cap * sizeof(double) * rows->p);
	rows->y = clv_grow_buffer(rows->y, rows->n * sizeof(double), cap * sizeof(double));
	rows->cap = cap;
	return CLV_OK;
}

clv_status
clv_rows_append(clv_rows *rows, double y, const double *x, clv_error *err)
{
	clv_status	st;

	if (rows->n == rows->cap && (st = rows_reserve(rows, rows->n + 1, err)) != CLV_OK)
		return st;
	memcpy(rows->x + rows->n * rows->p, x, sizeof(double) * rows->p);
	rows->y[rows->n] = y;
	rows->n++;
	return CLV_OK;
}

clv_status
clv_rows_merge(clv_rows *rows, const clv_rows *other, clv_error *err)
{
	clv_status	st;

	if (other->n == 0)
		return CLV_OK;
	if ((st = rows_reserve(rows, rows->n + other->n, err)) != CLV_OK)
		return st;
	memcpy(rows->x + rows->n * rows->p, other->x, other->n * sizeof(double) * rows->p);
	memcpy(rows->y + rows->n, other->y, other->n * sizeof(double));
	rows->n += other->n;
	return CLV_OK;
}

/* A total order of doubles: by value, equal values (0 and -0) by their bits. */
static int
compare_values(double a, double b)
{
	uint64_t	ua,
				ub;

	if (a < b)
		return -1;
	if (a > b)
		return 1;
	memcpy(&ua, &a, sizeof(ua));
	memcpy(&ub, &b, sizeof(ub));
	return (ua > ub) - (ua < ub);
}

static int
compare_rows(const void *a, const void *b, void *arg)
{
	const clv_rows *rows = arg;
	size_t		i = *(const size_t *) a,
				j = *(const size_t *) b;
	int			c = compare_values(rows->y[i], rows->y[j]);

	for (uint32_t k = 0; c == 0 && k < rows->p; k++)
		c = compare_values(rows->x[i * rows->p + k], rows->x[j * rows->p + k]);
	return c;
}

void
clv_rows_sorted_copy(const clv_rows *rows, clv_rows *out)
{
	size_t	   *order = clv_alloc_huge(sizeof(size_t) * (rows->n ? rows->n : 1));

	for (size_t i = 0; i < rows->n; i++)
		order[i] = i;
	clv_sort(order, rows->n, sizeof(size_t), compare_rows, (void *) rows);
	clv_rows_init(out, rows->p, 0);
	out->n = out->cap = rows->n;
	out->x = clv_alloc_huge(sizeof(double) * rows->p * (rows->n ? rows->n : 1));
	out->y = clv_alloc_huge(sizeof(double) * (rows->n ? rows->n : 1));
	for (size_t i = 0; i < rows->n; i++)
	{
		memcpy(out->x + i * rows->p, rows->x + order[i] * rows->p, sizeof(double) * rows->p);
		out->y[i] = rows->y[order[i]];
	}
	clv_release(order);
}

void
clv_rows_free(clv_rows *rows)
{
	clv_release(rows->x);
	clv_release(rows->y);
	rows->x = rows->y = NULL;
	rows->n = rows->cap = 0;
}

void
clv_rows_feature_means(const clv_rows *rows, double *means)
{
	for (uint32_t j = 0; j < rows->p; j++)
	{
		double		hi = 0,
					lo = 0;

		for (size_t i = 0; i < rows->n; i++)
		{
			double		e;

			hi = clv_two_sum(hi, rows->x[i * rows->p + j], &e);
			lo += e;
		}
		means[j] = (hi + lo) / (double) rows->n;
	}
}
