/*
 * kmeans.h — k-means clustering: k-means++ seeding, Lloyd iterations,
 * restarts, optional standardization, and the model's payload.
 *
 * Training rows arrive in a clv_kmeans_rows buffer (double features, all
 * finite) that aggregate states append to and merge.  Training first sorts
 * the rows into a canonical order, so the model depends only on the
 * multiset of rows and the seed; every sum over rows is taken over fixed
 * chunks in chunk order, so it does not depend on the thread count either.
 */
#ifndef CLV_KMEANS_H
#define CLV_KMEANS_H

#include "clv_core.h"
#include "bytes.h"

#define CLV_KMEANS_MAX_K		10000
#define CLV_KMEANS_MAX_FEATURES 1000
#define CLV_KMEANS_MAX_INIT		1000
#define CLV_KMEANS_MAX_ITER		1000000

/* ---- training rows ------------------------------------------------------- */

/*
 * Rows in blocks that double from 1,024 rows up to about 32 MB each: growing
 * never copies rows already held (a copy of a large array would cost as
 * much as receiving the rows), a small group gets a small first block, and
 * a large block is mostly whole 2 MB huge pages, which fill much faster
 * than 4 kB pages (a 4 MB block holds only one whole huge page).
 */
typedef struct clv_kmeans_rows
{
	uint32_t	p;
	size_t		n;				/* rows in all blocks */
	size_t		max_bytes;		/* limit on the blocks together; 0 = none */
	size_t		allocated;		/* rows the blocks have room for */
	uint32_t	n_blocks;
	uint32_t	max_blocks;		/* room in the three arrays */
	double	  **block;			/* block b: filled[b] rows of p values, row-major */
	size_t	   *filled;
	size_t	   *size;			/* rows block b has room for */
	bool		borrowed;		/* a view of someone else's bytes: never freed */
} clv_kmeans_rows;

void		clv_kmeans_rows_init(clv_kmeans_rows *rows, uint32_t p, size_t max_bytes);
/* A read-only view of n contiguous rows (a received state): merge from it only. */
void		clv_kmeans_rows_view(clv_kmeans_rows *rows, uint32_t p, const double *x, size_t n);
/* CLV_ERR_INVALID for a value that is not finite, CLV_ERR_LIMIT past max_bytes. */
clv_status	clv_kmeans_rows_append(clv_kmeans_rows *rows, const double *x, clv_error *err);
clv_status	clv_kmeans_rows_merge(clv_kmeans_rows *rows, const clv_kmeans_rows *other,
								  clv_error *err);
void		clv_kmeans_rows_free(clv_kmeans_rows *rows);

/* ---- fitting ------------------------------------------------------------- */

typedef struct clv_kmeans_options
{
	uint32_t	k;				/* 1 .. CLV_KMEANS_MAX_K, at most the distinct rows */
	uint32_t	n_init;			/* restarts; the lowest inertia wins */
	uint32_t	max_iter;		/* Lloyd iterations a restart */
	double		tol;			/* >= 0, times the mean per-feature variance */
	uint64_t	seed;
	bool		standardize;	/* cluster z-scores (population standard deviation) */
	uint32_t	n_threads;		/* >= 1; changes the speed, never the model */
} clv_kmeans_options;

/* The defaults doc/reference.md documents: n_init 1, max_iter 300, tol 1e-4. */
void		clv_kmeans_options_default(clv_kmeans_options *opt, uint32_t k);

/* The fitted model, the payload of kind kmeans. */
typedef struct clv_kmeans
{
	uint32_t	k;
	uint32_t	p;
	double	   *means;			/* p, or NULL when not standardized */
	double	   *scales;			/* p, positive; NULL with means */
	double	   *centroids;		/* k × p, in the clustered (standardized) space */
	double	   *sizes;			/* k training rows a cluster, whole numbers */
} clv_kmeans;

/* What the fit found, for the model's metadata. */
typedef struct clv_kmeans_fit
{
	double		inertia;		/* squared distances in the clustered space */
	uint32_t	n_iter;			/* of the restart kept */
	bool		converged;		/* it stopped before max_iter */
	uint32_t	best_init;		/* 1-based number of that restart */
	double		silhouette;		/* simplified, over the training rows; NaN when k = 1 */
} clv_kmeans_fit;

/*
 * Fit on the rows, which are left unchanged: the fit works on its own copy
 * in the canonical order (for a moment the rows are held twice).  Errors: k
 * above the row count or the distinct rows (CLV_ERR_DATA), bad options
 * (CLV_ERR_INVALID), cancellation through clv_check_interrupts (which does
 * not return in a server).
 */
clv_status	clv_kmeans_train(const clv_kmeans_rows *rows, const clv_kmeans_options *opt,
							 clv_kmeans **out, clv_kmeans_fit *fit, clv_error *err);

/* The 0-based nearest centroid of x (original units); ties go to the lowest. */
uint32_t	clv_kmeans_nearest(const clv_kmeans *km, const double *x);

/* A centroid in the original units of the features (p values into out). */
void		clv_kmeans_centroid_original(const clv_kmeans *km, uint32_t c, double *out);

void		clv_kmeans_encode(const clv_kmeans *km, clv_buf *buf);
/* Strict: every count and value checked; p must equal n_features. */
clv_status	clv_kmeans_decode(clv_reader *r, uint32_t n_features, clv_kmeans **out,
							  clv_error *err);
void		clv_kmeans_free(clv_kmeans *km);

#endif							/* CLV_KMEANS_H */
