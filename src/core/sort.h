/*
 * sort.h — a stable merge sort that can be cancelled.
 *
 * qsort cannot be interrupted, and the states it would sort (metric pairs,
 * BTYD patterns, training rows) reach a gigabyte: many seconds.  This sort
 * calls clv_check_interrupts about every million element moves, so a cancel
 * stops it well within a second.  Call it on the host's thread only, never
 * from a worker thread.  It is inline so that each caller gets a copy
 * specialised for its element size and comparison.
 */
#ifndef CLV_SORT_H
#define CLV_SORT_H

#include <string.h>

#include "clv_core.h"

/* Element moves between interrupt checks. */
#define CLV_SORT_POLL ((size_t) 1 << 20)

typedef int (*clv_sort_cmp) (const void *a, const void *b, void *arg);

/* For comparisons that need no context argument. */
#define CLV_UNUSED __attribute__((unused))

/*
 * Sort n elements of `size` bytes at base by cmp, stable: equal elements
 * keep their order.  Scratch of n elements comes from clv_alloc.
 */
static inline __attribute__((always_inline)) void
clv_sort(void *base, size_t n, size_t size, clv_sort_cmp cmp, void *arg)
{
	char	   *src = base,
			   *dst,
			   *scratch;
	size_t		moved = 0;

	if (n < 2)
		return;
	dst = scratch = clv_alloc(n * size);
	/* bottom-up: runs of width merged pairwise, back and forth between buffers */
	for (size_t width = 1; width < n; width *= 2)
	{
		char	   *swap;

		for (size_t lo = 0; lo < n; lo += 2 * width)
		{
			size_t		mid = lo + width < n ? lo + width : n,
						hi = lo + 2 * width < n ? lo + 2 * width : n,
						i = lo,
						j = mid,
						k = lo;

			while (i < mid && j < hi)
			{
				/* the left run first among equals: stable */
				if (cmp(src + j * size, src + i * size, arg) < 0)
					memcpy(dst + k++ * size, src + j++ * size, size);
				else
					memcpy(dst + k++ * size, src + i++ * size, size);
			}
			memcpy(dst + k * size, src + i * size, (mid - i) * size);
			k += mid - i;
			memcpy(dst + k * size, src + j * size, (hi - j) * size);
			moved += hi - lo;
			if (moved >= CLV_SORT_POLL)
			{
				moved = 0;
				clv_check_interrupts();
			}
		}
		swap = src;
		src = dst;
		dst = swap;
	}
	if (src != base)
		memcpy(base, src, n * size);
	clv_release(scratch);
}

#endif							/* CLV_SORT_H */
