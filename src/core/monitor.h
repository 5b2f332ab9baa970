/*
 * monitor.h — model monitoring: the population stability index of a score
 * against its reference distribution, and the data of a calibration plot.
 *
 * Both bin values by quantiles of a sorted sample, with one rule (see
 * clv_quantile_edges), and both keep their rows as clv_pairs (metrics.h):
 * (value, 1 for a reference row or 0 for a current one) for the PSI,
 * (predicted, actual) for the calibration.  They work on sorted copies, so
 * the result does not depend on the order the rows arrived in.
 */
#ifndef CLV_MONITOR_H
#define CLV_MONITOR_H

#include "clv_core.h"
#include "metrics.h"

#define CLV_MONITOR_MIN_BINS 2
#define CLV_MONITOR_MAX_BINS 1000

/*
 * The PSI's floor on a bin's proportion: an empty bin counts as 1e-4, so
 * its term stays finite (a reference share r of an emptied bin adds about
 * r · ln(r / 1e-4), 0.69 for r = 0.1: still far above the usual 0.25 alarm).
 */
#define CLV_PSI_FLOOR 1e-4

/*
 * The rank (1-based) of the i-th candidate edge among n sorted values cut
 * into bins: ⌈i · n / bins⌉, in exact integer arithmetic (the row that
 * percentile_disc(i / bins) returns).
 */
static inline size_t
clv_quantile_rank(size_t i, size_t n, int bins)
{
	return (i * n + (size_t) bins - 1) / (size_t) bins;
}

/*
 * The inner edges of `bins` quantile bins of n ≥ 1 sorted values: the value
 * of rank clv_quantile_rank(i) for i = 1 .. bins − 1, each distinct value
 * once, and none equal to the largest value (so the last bin is never
 * empty).  Writes them to edges (room for bins − 1), strictly increasing,
 * and returns how many; the bins are one more.  Bin j (0-based) holds the
 * values in (edges[j − 1], edges[j]]: a value on an edge goes to the bin
 * the edge closes, values below the first edge to bin 0, values above the
 * last to the last bin.  Every bin holds at least one of the sorted values.
 */
int			clv_quantile_edges(const double *sorted, size_t n, int bins, double *edges);

/* The bin (0 .. n_edges) of x under edges from clv_quantile_edges. */
int			clv_bin_of(const double *edges, int n_edges, double x);

/*
 * The population stability index of the current rows (value 0) against the
 * reference rows (value 1), binned by the reference's quantiles:
 * Σ (cⱼ − rⱼ) · ln(cⱼ / rⱼ), each proportion at least CLV_PSI_FLOOR.
 * Keys are finite.  Returns false when either group has no rows; *n_bins
 * (when not NULL) gets the number of bins after ties merged edges.
 */
bool		clv_psi(const clv_pairs *rows, int bins, double *psi, int *n_bins);

typedef struct clv_calibration_bin
{
	size_t		n;
	double		mean_predicted;
	double		mean_actual;
	double		min_predicted;
	double		max_predicted;
} clv_calibration_bin;

typedef struct clv_calibration
{
	size_t		n;
	int			n_bins;
	clv_calibration_bin *bins;	/* n_bins, from clv_alloc */
	double		mean_predicted;
	double		mean_actual;
	/* expected calibration error: Σ nⱼ / n · |mean predictedⱼ − mean actualⱼ| */
	double		ece;
	/* maximum calibration error: the largest |mean predictedⱼ − mean actualⱼ| */
	double		mce;
} clv_calibration;

/*
 * The calibration of (predicted, actual) rows, all finite: the rows sorted by
 * predicted and binned by the quantiles of predicted (clv_quantile_edges),
 * so tied predictions share a bin.  Means are compensated sums over the rows
 * in (predicted, actual) order.  Returns false when there are no rows;
 * otherwise the caller frees out->bins.  The means are not finite when the
 * sums overflowed.
 */
bool		clv_calibration_of(const clv_pairs *rows, int bins, clv_calibration *out);

#endif							/* CLV_MONITOR_H */
