/*
 * rows.c — growable, memory-bounded storage of training rows.
 */
#include "rows.h"

#include <string.h>

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
