/*
 * rows.h — a growable buffer of training rows for models that revisit their
 * data (logistic regression now, trees later), bounded by a memory limit.
 */
#ifndef CLV_ROWS_H
#define CLV_ROWS_H

#include "clv_core.h"

typedef struct clv_rows
{
	uint32_t	p;
	size_t		n;
	size_t		cap;
	size_t		max_bytes;		/* limit on x and y together; 0 = none */
	double	   *x;				/* n × p, row-major */
	double	   *y;
} clv_rows;

void		clv_rows_init(clv_rows *rows, uint32_t p, size_t max_bytes);
clv_status	clv_rows_append(clv_rows *rows, double y, const double *x,
							clv_error *err);
clv_status	clv_rows_merge(clv_rows *rows, const clv_rows *other, clv_error *err);
void		clv_rows_free(clv_rows *rows);

/*
 * A copy of the rows in a canonical order (by y, then x, equal values by
 * their bits), without a memory limit: a fit that sums over the rows in that
 * order gives the same bytes whatever order the rows arrived in (a parallel
 * plan's, a Citus cluster's).  Sorting checks for interrupts.
 */
void		clv_rows_sorted_copy(const clv_rows *rows, clv_rows *out);

/*
 * The mean of each feature over the rows, with compensated sums: the row
 * order varies with the plan, the means barely do.
 */
void		clv_rows_feature_means(const clv_rows *rows, double *means);

#endif							/* CLV_ROWS_H */
