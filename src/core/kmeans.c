/*
 * kmeans.c — k-means: greedy k-means++ seeding and Lloyd iterations, as
 * scikit-learn's KMeans(algorithm="lloyd") does them, with restarts.
 *
 * Determinism: the rows are sorted into a canonical order first, every
 * random draw comes from a stream per (seed, restart), and every sum over
 * rows is taken chunk by chunk (chunk boundaries depend on n, k and p only)
 * and the chunks' partial sums added in chunk order.  The worker pool of
 * the tree ensembles runs the chunks; which thread takes a chunk changes
 * nothing.  All working memory is allocated before the pool starts, so no
 * allocation (which may raise in a server) happens while workers run.
 */
#include "kmeans.h"
#include "model.h"
#include "sort.h"
#include "tree_internal.h"

#include <string.h>

/*
 * The distance loops in an AVX2 version too, chosen at load time where the
 * CPU has it.  Without FMA contraction (-ffp-contract=off) every lane does
 * the operations of the scalar code in the same order: same bits.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
	!defined(__SANITIZE_ADDRESS__) && defined(__linux__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* Rows a task handles, unless the per-chunk centroid sums would grow past: */
#define CHUNK_ROWS		4096
#define MAX_CHUNK_SUMS	((size_t) 8 << 20)	/* doubles: 64 MB */

void
clv_kmeans_options_default(clv_kmeans_options *opt, uint32_t k)
{
	opt->k = k;
	opt->n_init = 1;
	opt->max_iter = 300;
	opt->tol = 1e-4;
	opt->seed = 0;
	opt->standardize = false;
	opt->n_threads = 1;
}

/* ---- training rows --------------------------------------------------------- */

#define FIRST_BLOCK_ROWS	1024
#define MAX_BLOCK_BYTES		((size_t) 32 << 20)

void
clv_kmeans_rows_init(clv_kmeans_rows *rows, uint32_t p, size_t max_bytes)
{
	memset(rows, 0, sizeof(*rows));
	rows->p = p;
	rows->max_bytes = max_bytes;
}

static void
add_block(clv_kmeans_rows *rows, double *x, size_t filled, size_t size)
{
	if (rows->n_blocks == rows->max_blocks)
	{
		rows->max_blocks = rows->max_blocks ? 2 * rows->max_blocks : 16;
		rows->block = clv_resize(rows->block, sizeof(double *) * rows->max_blocks);
		rows->filled = clv_resize(rows->filled, sizeof(size_t) * rows->max_blocks);
		rows->size = clv_resize(rows->size, sizeof(size_t) * rows->max_blocks);
	}
	rows->block[rows->n_blocks] = x;
	rows->filled[rows->n_blocks] = filled;
	rows->size[rows->n_blocks] = size;
	rows->n_blocks++;
	rows->allocated += size;
}

void
clv_kmeans_rows_view(clv_kmeans_rows *rows, uint32_t p, const double *x, size_t n)
{
	clv_kmeans_rows_init(rows, p, 0);
	rows->borrowed = true;
	if (n > 0)
		add_block(rows, (double *) x, n, n);
	rows->n = n;
}

/*
 * Room for at least one more row in the last block: a new block twice the
 * last one's size, at most MAX_BLOCK_BYTES and within the memory limit.
 */
static clv_status
make_room(clv_kmeans_rows *rows, clv_error *err)
{
	size_t		row_bytes = sizeof(double) * rows->p;
	size_t		size,
				cap = 0;
	clv_status	st;
	double	   *x;

	if (rows->n_blocks > 0 && rows->filled[rows->n_blocks - 1] < rows->size[rows->n_blocks - 1])
		return CLV_OK;
	/* the limit's error and message are the shared ones */
	if ((st = clv_rows_capacity(&cap, rows->n + 1, row_bytes, rows->max_bytes, err)) != CLV_OK)
		return st;
	size = rows->n_blocks ? 2 * rows->size[rows->n_blocks - 1] : FIRST_BLOCK_ROWS;
	if (size > MAX_BLOCK_BYTES / row_bytes)
		size = MAX_BLOCK_BYTES / row_bytes > 0 ? MAX_BLOCK_BYTES / row_bytes : 1;
	if (rows->max_bytes && size > rows->max_bytes / row_bytes - rows->allocated)
		size = rows->max_bytes / row_bytes - rows->allocated;
	x = clv_alloc_huge(size * row_bytes);
	add_block(rows, x, 0, size);
	return CLV_OK;
}

clv_status
clv_kmeans_rows_append(clv_kmeans_rows *rows, const double *x, clv_error *err)
{
	clv_status	st;
	uint32_t	b;
	double	   *dst;

	for (uint32_t j = 0; j < rows->p; j++)
		if (!isfinite(x[j]))
			return clv_fail(err, CLV_ERR_INVALID, "x must contain finite values only");
	if ((st = make_room(rows, err)) != CLV_OK)
		return st;
	b = rows->n_blocks - 1;
	dst = rows->block[b] + rows->filled[b] * rows->p;
	/* one zero, so equal rows have equal bits */
	for (uint32_t j = 0; j < rows->p; j++)
		dst[j] = x[j] == 0 ? 0.0 : x[j];
	rows->filled[b]++;
	rows->n++;
	return CLV_OK;
}

clv_status
clv_kmeans_rows_merge(clv_kmeans_rows *rows, const clv_kmeans_rows *other, clv_error *err)
{
	size_t		row_bytes = sizeof(double) * rows->p;

	for (uint32_t ob = 0; ob < other->n_blocks; ob++)
	{
		size_t		done = 0;

		while (done < other->filled[ob])
		{
			clv_status	st = make_room(rows, err);
			uint32_t	b = rows->n_blocks - 1;
			size_t		take;

			if (st != CLV_OK)
				return st;
			take = rows->size[b] - rows->filled[b];
			if (take > other->filled[ob] - done)
				take = other->filled[ob] - done;
			memcpy(rows->block[b] + rows->filled[b] * rows->p,
				   other->block[ob] + done * rows->p, take * row_bytes);
			rows->filled[b] += take;
			rows->n += take;
			done += take;
		}
	}
	return CLV_OK;
}

void
clv_kmeans_rows_free(clv_kmeans_rows *rows)
{
	if (!rows->borrowed)
		for (uint32_t b = 0; b < rows->n_blocks; b++)
			clv_release(rows->block[b]);
	clv_release(rows->block);
	clv_release(rows->filled);
	clv_release(rows->size);
	clv_kmeans_rows_init(rows, rows->p, rows->max_bytes);
}

/* ---- canonical order ------------------------------------------------------- */

typedef struct sort_key
{
	uint64_t	first;			/* bits of the row's first feature */
	const double *row;
} sort_key;

static inline uint64_t
bits_of(double v)
{
	uint64_t	u;

	memcpy(&u, &v, 8);
	return u;
}

/* By bit patterns, feature by feature: a total order on distinct rows. */
static int
compare_keys(const void *a, const void *b, void *arg)
{
	uint32_t	p = *(const uint32_t *) arg;
	const sort_key *ka = a,
			   *kb = b;

	if (ka->first != kb->first)
		return ka->first < kb->first ? -1 : 1;
	for (uint32_t j = 1; j < p; j++)
	{
		uint64_t	u = bits_of(ka->row[j]),
					v = bits_of(kb->row[j]);

		if (u != v)
			return u < v ? -1 : 1;
	}
	return 0;
}

#define RADIX_BITS		11
#define RADIX_BUCKETS	(1u << RADIX_BITS)

#define RADIX_DIGITS	((64 + RADIX_BITS - 1) / RADIX_BITS)

/*
 * LSD radix sort of keys by their first feature's bits; stable.  One read
 * counts all digits, a digit every key shares is skipped, and the passes go
 * back and forth between keys and tmp: returns the one sorted.
 */
static sort_key *
radix_sort(sort_key *keys, sort_key *tmp, size_t n, size_t *count)
{
	memset(count, 0, sizeof(size_t) * RADIX_DIGITS * RADIX_BUCKETS);
	for (size_t i = 0; i < n; i++)
		for (uint32_t d = 0; d < RADIX_DIGITS; d++)
			count[d * RADIX_BUCKETS + ((keys[i].first >> (d * RADIX_BITS)) & (RADIX_BUCKETS - 1))]++;
	for (uint32_t d = 0; d < RADIX_DIGITS; d++)
	{
		size_t	   *start = count + d * RADIX_BUCKETS;
		size_t		sum = 0;
		bool		one_bucket = false;
		sort_key   *swap;

		for (uint32_t b = 0; b < RADIX_BUCKETS; b++)
		{
			size_t		in_bucket = start[b];

			one_bucket |= in_bucket == n;
			start[b] = sum;
			sum += in_bucket;
		}
		if (one_bucket)
			continue;
		for (size_t i = 0; i < n; i++)
			tmp[start[(keys[i].first >> (d * RADIX_BITS)) & (RADIX_BUCKETS - 1)]++] = keys[i];
		swap = keys;
		keys = tmp;
		tmp = swap;
		clv_check_interrupts();
	}
	return keys;
}

/*
 * The rows in key order into x (n × p): reading ahead hides the scattered
 * reads.  The keys may lie in x's own buffer, after row n - 1's end minus
 * 16 bytes a key (see sorted_copy): row i then overwrites no key after the
 * i-th, whose row pointer is read before the copy.
 */
static void
gather_rows(const sort_key *keys, size_t n, uint32_t p, double *x)
{
	for (size_t i = 0; i < n; i++)
	{
		const double *row = keys[i].row;

		if (i + 8 < n)
			__builtin_prefetch(keys[i + 8].row);
		memcpy(x + i * p, row, sizeof(double) * p);
		if ((i & (CLV_SORT_POLL - 1)) == 0)
			clv_check_interrupts();
	}
}

/*
 * A copy of the rows sorted by their bits, feature by feature: by the first
 * feature with a radix sort, then each run of equal first features by the
 * rest.  The keys and the radix sort's second array live at the end of the
 * copy's own buffer (made large enough for them when p < 4): every fresh
 * page costs a fault and the kernel's clearing, which here cost as much as
 * the sort itself.  Huge pages make the buffer cheaper to fill.
 */
static double *
sorted_copy(const clv_kmeans_rows *rows)
{
	size_t		n = rows->n;
	uint32_t	p = rows->p;
	size_t		key_bytes = sizeof(sort_key) * n;
	size_t		bytes = sizeof(double) * n * p > 2 * key_bytes ? sizeof(double) * n * p : 2 * key_bytes;
	char	   *buf = clv_alloc_huge(bytes);
	sort_key   *keys = (sort_key *) (buf + bytes - key_bytes);	/* where gather_rows wants them */
	sort_key   *sorted;
	size_t	   *count = clv_alloc(sizeof(size_t) * RADIX_DIGITS * RADIX_BUCKETS);
	size_t		i = 0;

	for (uint32_t b = 0; b < rows->n_blocks; b++)
		for (size_t r = 0; r < rows->filled[b]; r++)
		{
			const double *row = rows->block[b] + r * p;

			keys[i++] = (sort_key) {bits_of(row[0]), row};
		}
	sorted = radix_sort(keys, (sort_key *) (buf + bytes - 2 * key_bytes), n, count);
	clv_release(count);
	if (sorted != keys)
		memcpy(keys, sorted, key_bytes);
	for (size_t lo = 0, hi; lo < n; lo = hi)
	{
		for (hi = lo + 1; hi < n && keys[hi].first == keys[lo].first; hi++)
			;
		if (hi - lo > 1 && p > 1)
			clv_sort(keys + lo, hi - lo, sizeof(sort_key), compare_keys, &p);
	}
	gather_rows(keys, n, p, (double *) buf);
	return (double *) buf;
}

/* Distinct rows of n sorted rows, counted up to `enough`. */
static size_t
distinct_rows(const double *x, size_t n, uint32_t p, size_t enough)
{
	size_t		d = n > 0;

	for (size_t i = 1; i < n && d < enough; i++)
		if (memcmp(x + (i - 1) * p, x + i * p, sizeof(double) * p) != 0)
			d++;
	return d;
}

/* ---- the parallel passes over the rows ------------------------------------- */

typedef enum pass_kind
{
	PASS_SEED_TRIALS,			/* potential of each candidate seed, per chunk */
	PASS_SEED_ADD,				/* take the seed: nearest distances and their sum */
	PASS_ASSIGN					/* labels, distances, cluster sums and counts */
} pass_kind;

typedef struct kmeans_job
{
	const double *x;
	size_t		n;
	uint32_t	p;
	uint32_t	k;
	size_t		chunk_rows;
	uint32_t	n_chunks;
	pass_kind	pass;
	/* seeding */
	double	   *closest;		/* n: squared distance to the nearest seed so far (dist2's memory) */
	bool		first_seed;
	const double *cand;			/* n_cand × p candidate seeds (one, to add) */
	double	   *cand_t;			/* p × padded(n_cand): the trials, transposed */
	uint32_t	n_cand;
	double	   *chunk_pot;		/* n_chunks × pot_stride: max(n_cand, 1) used */
	/* Lloyd */
	const double *centroids_t;	/* p × padded(k): see transpose */
	int32_t    *labels;			/* n */
	double	   *dist2;			/* n: squared distance to the own centroid */
	bool		with_sums;
	bool		with_silhouette;
	double	   *chunk_sums;		/* n_chunks × sums_stride: k × p used */
	double	   *chunk_counts;	/* n_chunks × counts_stride: k used */
	double	   *chunk_inertia;	/* n_chunks */
	double	   *chunk_silhouette;	/* n_chunks */
	size_t	   *chunk_changed;	/* n_chunks */
	size_t		pot_stride;		/* see line_stride */
	size_t		sums_stride;
	size_t		counts_stride;
	double	   *scratch;		/* scratch_per_worker a worker: distances */
	size_t		scratch_per_worker; /* BLOCK_ROWS × padded(max(k, trials)) used */
} kmeans_job;

static inline double
squared_distance(const double *a, const double *b, uint32_t p)
{
	double		s = 0;

	for (uint32_t j = 0; j < p; j++)
	{
		double		t = a[j] - b[j];

		s += t * t;
	}
	return s;
}

/* Centroids go in groups of four, one vector of doubles each. */
#define LANES 4
typedef double lanes __attribute__((vector_size(LANES * sizeof(double))));

static inline uint32_t
padded(uint32_t k)
{
	return (k + LANES - 1) / LANES * LANES;
}

/*
 * Squared distances of x to all kpad (padded) centroids into dist, from
 * their transposed layout ct (p × kpad).  Each lane sums its centroid's
 * terms over the features in order, as squared_distance does: same bits.
 */
static inline void
distances_to_all(const double *x, const double *ct, uint32_t p, uint32_t kpad, double *dist)
{
	for (uint32_t g = 0; g < kpad; g += LANES)
	{
		lanes		acc = {0};

		for (uint32_t j = 0; j < p; j++)
		{
			lanes		c,
						t;

			memcpy(&c, ct + (size_t) j * kpad + g, sizeof(c));
			t = x[j] - c;
			acc += t * t;
		}
		memcpy(dist + g, &acc, sizeof(acc));
	}
}

/*
 * Rows a distance block takes together.  One row's sum over the features is
 * a chain of dependent additions; four rows' sums are independent, so the
 * vector unit overlaps them instead of waiting on each addition.
 */
#define BLOCK_ROWS 4

/*
 * distances_to_all for BLOCK_ROWS consecutive rows x (row-major) into dist
 * (BLOCK_ROWS × kpad): each lane's sum runs in the same order, same bits.
 */
static inline void
distances_block(const double *x, const double *ct, uint32_t p, uint32_t kpad, double *dist)
{
	for (uint32_t g = 0; g < kpad; g += LANES)
	{
		lanes		a0 = {0},
					a1 = {0},
					a2 = {0},
					a3 = {0};

		for (uint32_t j = 0; j < p; j++)
		{
			lanes		c,
						t0,
						t1,
						t2,
						t3;

			memcpy(&c, ct + (size_t) j * kpad + g, sizeof(c));
			t0 = x[j] - c;
			t1 = x[p + j] - c;
			t2 = x[2 * p + j] - c;
			t3 = x[3 * p + j] - c;
			a0 += t0 * t0;
			a1 += t1 * t1;
			a2 += t2 * t2;
			a3 += t3 * t3;
		}
		memcpy(dist + g, &a0, sizeof(a0));
		memcpy(dist + kpad + g, &a1, sizeof(a1));
		memcpy(dist + 2 * kpad + g, &a2, sizeof(a2));
		memcpy(dist + 3 * kpad + g, &a3, sizeof(a3));
	}
}

/* Distances of rows i .. i + returned - 1 into dist: a block, or the last rows one at a time. */
static inline uint32_t
distances_of_rows(const double *x, size_t i, size_t hi, const double *ct, uint32_t p,
				  uint32_t kpad, double *dist)
{
	if (hi - i >= BLOCK_ROWS)
	{
		distances_block(x + i * p, ct, p, kpad, dist);
		return BLOCK_ROWS;
	}
	distances_to_all(x + i * p, ct, p, kpad, dist);
	return 1;
}

/* Each row is read once for all candidates; each candidate's sum still runs in row order. */
VECTOR_CLONES
static void
seed_trials_chunk(kmeans_job *job, uint32_t chunk, size_t lo, size_t hi, double *dist)
{
	double	   *pot = job->chunk_pot + chunk * job->pot_stride;
	uint32_t	cpad = padded(job->n_cand);

	for (uint32_t t = 0; t < job->n_cand; t++)
		pot[t] = 0;
	for (size_t i = lo, rows; i < hi; i += rows)
	{
		rows = distances_of_rows(job->x, i, hi, job->cand_t, job->p, cpad, dist);
		for (uint32_t r = 0; r < rows; r++)
		{
			double		closest = job->closest[i + r];
			const double *d = dist + (size_t) r * cpad;

			for (uint32_t t = 0; t < job->n_cand; t++)
				pot[t] += d[t] < closest ? d[t] : closest;
		}
	}
}

/* squared_distance of BLOCK_ROWS consecutive rows x to c into d: four independent sums. */
static inline void
squared_distances_block(const double *x, const double *c, uint32_t p, double *d)
{
	double		s0 = 0,
				s1 = 0,
				s2 = 0,
				s3 = 0;

	for (uint32_t j = 0; j < p; j++)
	{
		double		t0 = x[j] - c[j],
					t1 = x[p + j] - c[j],
					t2 = x[2 * p + j] - c[j],
					t3 = x[3 * p + j] - c[j];

		s0 += t0 * t0;
		s1 += t1 * t1;
		s2 += t2 * t2;
		s3 += t3 * t3;
	}
	d[0] = s0;
	d[1] = s1;
	d[2] = s2;
	d[3] = s3;
}

VECTOR_CLONES
static void
seed_add_chunk(kmeans_job *job, uint32_t chunk, size_t lo, size_t hi)
{
	uint32_t	p = job->p;
	double		pot = 0;

	for (size_t i = lo, rows; i < hi; i += rows)
	{
		double		d[BLOCK_ROWS];

		rows = hi - i >= BLOCK_ROWS ? BLOCK_ROWS : 1;
		if (rows == BLOCK_ROWS)
			squared_distances_block(job->x + i * p, job->cand, p, d);
		else
			d[0] = squared_distance(job->x + i * p, job->cand, p);
		for (uint32_t r = 0; r < rows; r++)
		{
			double	   *closest = &job->closest[i + r];

			*closest = job->first_seed || d[r] < *closest ? d[r] : *closest;
			pot += *closest;
		}
	}
	job->chunk_pot[chunk * job->pot_stride] = pot;
}

/* (b − a) / max(a, b) of one row: a its own centroid's distance, b the next one's. */
static inline double
silhouette_of(double own2, double other2)
{
	double		a = sqrt(own2),
				b = sqrt(other2),
				m = a > b ? a : b;

	return m > 0 ? (b - a) / m : 0;
}

/* A chunk's running totals in assign_chunk. */
typedef struct chunk_totals
{
	double	   *sums;			/* k × p, or NULL */
	double	   *counts;			/* k */
	double		inertia;
	double		silhouette;
	size_t		changed;
} chunk_totals;

/*
 * The nearest of k distances; ties go to the lowest number.  Selects, not
 * branches: on overlapping clusters a branch would be mispredicted often.
 */
static inline uint32_t
nearest_of(const double *dist, uint32_t k)
{
	uint32_t	best = 0;
	double		best_d = dist[0];

	for (uint32_t c = 1; c < k; c++)
	{
		bool		closer = dist[c] < best_d;	/* strict */

		best = closer ? c : best;
		best_d = closer ? dist[c] : best_d;
	}
	return best;
}

/* Row i to its nearest centroid, given its distances to all. */
static inline __attribute__((always_inline)) void
assign_row(kmeans_job *job, size_t i, const double *dist, chunk_totals *tot)
{
	uint32_t	k = job->k,
				p = job->p;
	uint32_t	best = nearest_of(dist, k);

	if (job->with_silhouette && k > 1)
	{
		double		other = INFINITY;

		for (uint32_t c = 0; c < k; c++)
			if (c != best && dist[c] < other)
				other = dist[c];
		tot->silhouette += silhouette_of(dist[best], other);
	}
	tot->changed += job->labels[i] != (int32_t) best;
	job->labels[i] = (int32_t) best;
	job->dist2[i] = dist[best];
	tot->inertia += dist[best];
	tot->counts[best] += 1;
	if (tot->sums)
		for (uint32_t j = 0; j < p; j++)
			tot->sums[(size_t) best * p + j] += job->x[i * p + j];
}

VECTOR_CLONES
static void
assign_chunk(kmeans_job *job, uint32_t chunk, size_t lo, size_t hi, double *dist)
{
	uint32_t	k = job->k,
				p = job->p,
				kpad = padded(k);
	chunk_totals tot = {
		.sums = job->with_sums ? job->chunk_sums + chunk * job->sums_stride : NULL,
		.counts = job->chunk_counts + chunk * job->counts_stride,
	};

	if (tot.sums)
		memset(tot.sums, 0, sizeof(double) * k * p);
	memset(tot.counts, 0, sizeof(double) * k);
	for (size_t i = lo, rows; i < hi; i += rows)
	{
		rows = distances_of_rows(job->x, i, hi, job->centroids_t, p, kpad, dist);
		for (uint32_t r = 0; r < rows; r++)
			assign_row(job, i + r, dist + (size_t) r * kpad, &tot);
	}
	job->chunk_inertia[chunk] = tot.inertia;
	job->chunk_silhouette[chunk] = tot.silhouette;
	job->chunk_changed[chunk] = tot.changed;
}

static void
run_chunk(void *arg, uint32_t chunk, uint32_t worker)
{
	kmeans_job *job = arg;
	size_t		lo = (size_t) chunk * job->chunk_rows;
	size_t		hi = lo + job->chunk_rows < job->n ? lo + job->chunk_rows : job->n;

	switch (job->pass)
	{
		case PASS_SEED_TRIALS:
			seed_trials_chunk(job, chunk, lo, hi, job->scratch + worker * job->scratch_per_worker);
			break;
		case PASS_SEED_ADD:
			seed_add_chunk(job, chunk, lo, hi);
			break;
		case PASS_ASSIGN:
			assign_chunk(job, chunk, lo, hi, job->scratch + worker * job->scratch_per_worker);
			break;
	}
}

static bool
run_pass(kmeans_job *job, tree_pool *pool, pass_kind pass)
{
	job->pass = pass;
	return tree_pool_run(pool, run_chunk, job, job->n_chunks, NULL, 0, 0, NULL);
}

/* ---- seeding: greedy k-means++ --------------------------------------------- */

/*
 * k × p row-major into p × padded(k): one feature's values of all centroids
 * together, the padding zero (its distances are never read).
 */
static void
transpose(const double *c, uint32_t k, uint32_t p, double *ct)
{
	uint32_t	kpad = padded(k);

	for (uint32_t j = 0; j < p; j++)
		for (uint32_t a = 0; a < kpad; a++)
			ct[(size_t) j * kpad + a] = a < k ? c[(size_t) a * p + j] : 0;
}

static inline double
uniform01(tree_rng *rng)
{
	return (double) (tree_rng_next(rng) >> 11) * 0x1.0p-53;
}

static double
sum_chunks(const double *v, uint32_t n_chunks, size_t stride, uint32_t offset)
{
	double		s = 0;

	for (uint32_t c = 0; c < n_chunks; c++)
		s += v[(size_t) c * stride + offset];
	return s;
}

/*
 * The row where the running sum of the nearest distances first exceeds r
 * (drawn in [0, total)), found chunk by chunk; a row at distance zero, a
 * seed already, is never drawn.
 */
static size_t
draw_row(const kmeans_job *job, double r)
{
	double		acc = 0;
	size_t		last_positive = 0;

	for (uint32_t c = 0; c < job->n_chunks; c++)
	{
		size_t		lo = (size_t) c * job->chunk_rows;
		size_t		hi = lo + job->chunk_rows < job->n ? lo + job->chunk_rows : job->n;
		double		pot = job->chunk_pot[c * job->pot_stride];

		if (acc + pot <= r)
		{
			acc += pot;
			for (size_t i = hi; i > lo; i--)
				if (job->closest[i - 1] > 0)
				{
					last_positive = i - 1;
					break;
				}
			continue;
		}
		for (size_t i = lo; i < hi; i++)
		{
			if (job->closest[i] > 0)
				last_positive = i;
			acc += job->closest[i];
			if (acc > r && job->closest[i] > 0)
				return i;
		}
	}
	return last_positive;		/* rounding left r unreached */
}

/*
 * k seeds into centroids (k × p); cand has room for the trials.  Returns
 * false when cancelled.
 */
static bool
seed_plus_plus(kmeans_job *job, tree_pool *pool, tree_rng *rng, double *cand,
			   double *centroids)
{
	uint32_t	p = job->p;
	uint32_t	trials = 2 + (uint32_t) log((double) job->k);
	double		pot;

	memcpy(centroids, job->x + tree_rng_below(rng, job->n) * p, sizeof(double) * p);
	job->cand = centroids;
	job->n_cand = 1;
	job->first_seed = true;
	if (!run_pass(job, pool, PASS_SEED_ADD))
		return false;
	job->first_seed = false;
	pot = sum_chunks(job->chunk_pot, job->n_chunks, job->pot_stride, 0);

	for (uint32_t c = 1; c < job->k; c++)
	{
		uint32_t	best = 0;
		double		best_pot = INFINITY;

		for (uint32_t t = 0; t < trials; t++)
		{
			size_t		row = draw_row(job, uniform01(rng) * pot);

			memcpy(cand + (size_t) t * p, job->x + row * p, sizeof(double) * p);
		}
		transpose(cand, trials, p, job->cand_t);
		job->n_cand = trials;
		if (!run_pass(job, pool, PASS_SEED_TRIALS))
			return false;
		for (uint32_t t = 0; t < trials; t++)
		{
			double		s = sum_chunks(job->chunk_pot, job->n_chunks, job->pot_stride, t);

			if (s < best_pot)
			{
				best_pot = s;
				best = t;
			}
		}
		memcpy(centroids + (size_t) c * p, cand + (size_t) best * p, sizeof(double) * p);
		job->cand = centroids + (size_t) c * p;
		job->n_cand = 1;
		if (!run_pass(job, pool, PASS_SEED_ADD))
			return false;
		pot = sum_chunks(job->chunk_pot, job->n_chunks, job->pot_stride, 0);
	}
	return true;
}

/* ---- Lloyd iterations ------------------------------------------------------- */

typedef struct lloyd_buffers
{
	double	   *centroids;		/* k × p, current */
	double	   *centroids_t;	/* p × padded(k) */
	double	   *sums;			/* k × p */
	double	   *counts;			/* k */
} lloyd_buffers;

/* Add the chunks' sums and counts in chunk order. */
static void
reduce_chunks(const kmeans_job *job, lloyd_buffers *b, bool with_sums)
{
	size_t		kp = (size_t) job->k * job->p;

	memset(b->counts, 0, sizeof(double) * job->k);
	if (with_sums)
		memset(b->sums, 0, sizeof(double) * kp);
	for (uint32_t c = 0; c < job->n_chunks; c++)
	{
		for (uint32_t a = 0; a < job->k; a++)
			b->counts[a] += job->chunk_counts[c * job->counts_stride + a];
		if (with_sums)
			for (size_t i = 0; i < kp; i++)
				b->sums[i] += job->chunk_sums[c * job->sums_stride + i];
	}
}

/*
 * An empty cluster takes the row farthest from its centroid (the next
 * farthest for the next empty one), as scikit-learn relocates them; the
 * row's own cluster gives it up.  Rows alone in their cluster stay.
 */
static void
relocate_empty(const kmeans_job *job, lloyd_buffers *b)
{
	uint32_t	p = job->p;

	for (uint32_t e = 0; e < job->k; e++)
	{
		size_t		far = SIZE_MAX;

		if (b->counts[e] > 0)
			continue;
		for (size_t i = 0; i < job->n; i++)
			if (job->dist2[i] >= 0 && b->counts[job->labels[i]] > 1 &&
				(far == SIZE_MAX || job->dist2[i] > job->dist2[far]))
				far = i;
		if (far == SIZE_MAX)
			continue;
		for (uint32_t j = 0; j < p; j++)
		{
			b->sums[(size_t) job->labels[far] * p + j] -= job->x[far * p + j];
			b->sums[(size_t) e * p + j] = job->x[far * p + j];
		}
		b->counts[job->labels[far]] -= 1;
		b->counts[e] = 1;
		job->dist2[far] = -1;	/* not taken again */
	}
}

typedef struct run_result
{
	double		inertia;
	double		silhouette;
	uint32_t	n_iter;
	bool		converged;
} run_result;

/*
 * Lloyd's iterations from the seeds in b->centroids, then a last assignment
 * to the final centroids for the labels, inertia, sizes and silhouette.
 * Returns false when cancelled.
 */
static bool
lloyd(kmeans_job *job, tree_pool *pool, lloyd_buffers *b, uint32_t max_iter, double tol,
	  run_result *res)
{
	uint32_t	k = job->k,
				p = job->p;
	uint32_t	it;

	for (size_t i = 0; i < job->n; i++)
		job->labels[i] = -1;
	job->centroids_t = b->centroids_t;
	job->with_sums = true;
	job->with_silhouette = false;
	res->converged = false;
	for (it = 0; it < max_iter; it++)
	{
		double		shift = 0;
		size_t		changed = 0;

		transpose(b->centroids, k, p, b->centroids_t);
		if (!run_pass(job, pool, PASS_ASSIGN))
			return false;
		reduce_chunks(job, b, true);
		for (uint32_t c = 0; c < job->n_chunks; c++)
			changed += job->chunk_changed[c];
		relocate_empty(job, b);
		for (uint32_t a = 0; a < k; a++)
			for (uint32_t j = 0; j < p; j++)
			{
				double	   *cj = &b->centroids[(size_t) a * p + j];
				double		v = b->counts[a] > 0 ? b->sums[(size_t) a * p + j] / b->counts[a] : *cj;

				shift += (v - *cj) * (v - *cj);
				*cj = v;
			}
		if (changed == 0 || shift <= tol)
		{
			res->converged = true;
			it++;
			break;
		}
	}
	res->n_iter = it;

	transpose(b->centroids, k, p, b->centroids_t);
	job->with_sums = false;
	job->with_silhouette = true;
	if (!run_pass(job, pool, PASS_ASSIGN))
		return false;
	reduce_chunks(job, b, false);
	res->inertia = sum_chunks(job->chunk_inertia, job->n_chunks, 1, 0);
	res->silhouette = k > 1 ? sum_chunks(job->chunk_silhouette, job->n_chunks, 1, 0) / job->n
		: NAN;
	return true;
}

/* ---- training --------------------------------------------------------------- */

/*
 * Per-feature means and population variances of n rows, row-major (each
 * feature still summed in row order).
 */
static void
feature_moments(const double *x, size_t n, uint32_t p, double *means, double *vars)
{
	for (uint32_t j = 0; j < p; j++)
		means[j] = vars[j] = 0;
	for (size_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < p; j++)
			means[j] += x[i * p + j];
	for (uint32_t j = 0; j < p; j++)
		means[j] /= n;
	for (size_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < p; j++)
		{
			double		d = x[i * p + j] - means[j];

			vars[j] += d * d;
		}
	for (uint32_t j = 0; j < p; j++)
		vars[j] /= n;
}

/* Standardization: population standard deviations, 0 becoming 1 (scikit-learn's choice). */
static void
feature_scales(const double *x, size_t n, uint32_t p, double *means, double *scales)
{
	feature_moments(x, n, p, means, scales);
	for (uint32_t j = 0; j < p; j++)
	{
		scales[j] = sqrt(scales[j]);
		if (!(scales[j] > 0))
			scales[j] = 1;
	}
}

/* scikit-learn's tolerance: tol times the mean per-feature variance of x. */
static double
absolute_tolerance(const double *x, size_t n, uint32_t p, double tol)
{
	double	   *means = clv_alloc(sizeof(double) * p);
	double	   *vars = clv_alloc(sizeof(double) * p);
	double		total = 0;

	feature_moments(x, n, p, means, vars);
	for (uint32_t j = 0; j < p; j++)
		total += vars[j];
	clv_release(means);
	clv_release(vars);
	return tol * total / p;
}

static clv_status
check_options(const clv_kmeans_options *opt, clv_error *err)
{
	if (opt->k < 1 || opt->k > CLV_KMEANS_MAX_K)
		return clv_fail(err, CLV_ERR_INVALID, "k must be between 1 and %d", CLV_KMEANS_MAX_K);
	if (opt->n_init < 1 || opt->max_iter < 1 || !(opt->tol >= 0) || opt->n_threads < 1)
		return clv_fail(err, CLV_ERR_INVALID, "invalid k-means options");
	return CLV_OK;
}

/* Enough rows, and enough distinct ones, for k clusters; x sorted. */
static clv_status
check_rows(const double *x, size_t n, uint32_t p, uint32_t k, clv_error *err)
{
	size_t		distinct = distinct_rows(x, n, p, k);

	if (distinct < k)
	{
		clv_fail(err, CLV_ERR_DATA, "k-means with k = %u needs at least %u distinct rows", k, k);
		clv_set_detail(err, "The %zu rows hold %zu distinct points.", n, distinct);
		clv_set_hint(err, "Choose a smaller k.");
		return CLV_ERR_DATA;
	}
	return CLV_OK;
}

/* Before anything is copied: the options, and at least k rows. */
static clv_status
check_fit(const clv_kmeans_rows *rows, const clv_kmeans_options *opt, clv_error *err)
{
	clv_status	st;

	if ((st = check_options(opt, err)) != CLV_OK)
		return st;
	if (rows->n < opt->k)
	{
		clv_fail(err, CLV_ERR_DATA, "k-means with k = %u needs at least %u rows", opt->k, opt->k);
		clv_set_detail(err, "There are %zu rows.", rows->n);
		return CLV_ERR_DATA;
	}
	if (rows->n > INT32_MAX)
		return clv_fail(err, CLV_ERR_LIMIT, "k-means takes at most %d rows", INT32_MAX);
	return CLV_OK;
}

static clv_kmeans *
kmeans_new(uint32_t k, uint32_t p, bool standardize)
{
	clv_kmeans *km = clv_alloc(sizeof(clv_kmeans));

	memset(km, 0, sizeof(*km));
	km->k = k;
	km->p = p;
	if (standardize)
	{
		km->means = clv_alloc(sizeof(double) * p);
		km->scales = clv_alloc(sizeof(double) * p);
	}
	km->centroids = clv_alloc(sizeof(double) * k * p);
	km->sizes = clv_alloc(sizeof(double) * k);
	return km;
}

/* Per-chunk rows: CHUNK_ROWS, or more when k × p sums a chunk would take too much. */
static size_t
chunk_rows_for(size_t n, uint32_t k, uint32_t p)
{
	size_t		max_chunks = MAX_CHUNK_SUMS / ((size_t) k * p);
	size_t		rows = CHUNK_ROWS;

	if (max_chunks < 1)
		max_chunks = 1;
	if ((n + rows - 1) / rows > max_chunks)
		rows = (n + max_chunks - 1) / max_chunks;
	return rows;
}

/*
 * Doubles from one chunk's (or worker's) area to the next: whole cache
 * lines and a spare one, so two threads never write the same line.  The
 * tasks update their sums row by row: a shared line would bounce between
 * the cores on every row and make two threads slower than one.
 */
static size_t
line_stride(size_t doubles)
{
	return (doubles + 7) / 8 * 8 + 8;
}

static void
job_alloc(kmeans_job *job, const double *x, size_t n, uint32_t p, uint32_t k,
		  uint32_t trials, uint32_t n_threads)
{
	memset(job, 0, sizeof(*job));
	job->x = x;
	job->n = n;
	job->p = p;
	job->k = k;
	job->chunk_rows = chunk_rows_for(n, k, p);
	job->n_chunks = (uint32_t) ((n + job->chunk_rows - 1) / job->chunk_rows);
	/* seeding and Lloyd's iterations never overlap: one buffer serves both */
	job->closest = clv_alloc_huge(sizeof(double) * n);
	job->dist2 = job->closest;
	job->pot_stride = line_stride(trials);
	job->sums_stride = line_stride((size_t) k * p);
	job->counts_stride = line_stride(k);
	job->chunk_pot = clv_alloc(sizeof(double) * job->n_chunks * job->pot_stride);
	job->labels = clv_alloc_huge(sizeof(int32_t) * n);
	job->chunk_sums = clv_alloc(sizeof(double) * job->n_chunks * job->sums_stride);
	job->chunk_counts = clv_alloc(sizeof(double) * job->n_chunks * job->counts_stride);
	job->chunk_inertia = clv_alloc(sizeof(double) * job->n_chunks);
	job->chunk_silhouette = clv_alloc(sizeof(double) * job->n_chunks);
	job->chunk_changed = clv_alloc(sizeof(size_t) * job->n_chunks);
	job->scratch_per_worker = line_stride(BLOCK_ROWS * padded(k > trials ? k : trials));
	job->scratch = clv_alloc(sizeof(double) * job->scratch_per_worker * n_threads);
	job->cand_t = clv_alloc(sizeof(double) * padded(trials) * p);
}

static void
job_free(kmeans_job *job)
{
	clv_release(job->closest);
	clv_release(job->chunk_pot);
	clv_release(job->labels);
	clv_release(job->chunk_sums);
	clv_release(job->chunk_counts);
	clv_release(job->chunk_inertia);
	clv_release(job->chunk_silhouette);
	clv_release(job->chunk_changed);
	clv_release(job->scratch);
	clv_release(job->cand_t);
}

clv_status
clv_kmeans_train(const clv_kmeans_rows *rows, const clv_kmeans_options *opt, clv_kmeans **out,
				 clv_kmeans_fit *fit, clv_error *err)
{
	uint32_t	k = opt->k,
				p = rows->p;
	uint32_t	trials = 2 + (uint32_t) log((double) (k > 0 ? k : 1));
	size_t		n = rows->n;
	clv_status	st;
	clv_kmeans *km;
	double	   *x;
	double	   *cand;
	kmeans_job	job;
	lloyd_buffers b;
	tree_pool  *pool;
	bool		ok = true;

	if ((st = check_fit(rows, opt, err)) != CLV_OK)
		return st;
	x = sorted_copy(rows);
	if ((st = check_rows(x, n, p, k, err)) != CLV_OK)
	{
		clv_release(x);
		return st;
	}
	km = kmeans_new(k, p, opt->standardize);
	if (opt->standardize)
	{
		/* the copy is ours: standardize it in place */
		feature_scales(x, n, p, km->means, km->scales);
		for (size_t i = 0; i < n; i++)
			for (uint32_t j = 0; j < p; j++)
				x[i * p + j] = (x[i * p + j] - km->means[j]) / km->scales[j];
	}
	clv_check_interrupts();

	job_alloc(&job, x, n, p, k, trials, opt->n_threads);
	cand = clv_alloc(sizeof(double) * trials * p);
	b.centroids = clv_alloc(sizeof(double) * k * p);
	b.centroids_t = clv_alloc(sizeof(double) * padded(k) * p);
	b.sums = clv_alloc(sizeof(double) * k * p);
	b.counts = clv_alloc(sizeof(double) * k);
	fit->inertia = INFINITY;
	{
		double		tol = absolute_tolerance(x, n, p, opt->tol);

		/* no allocation from here until the pool has finished */
		pool = tree_pool_start(opt->n_threads < job.n_chunks ? opt->n_threads : job.n_chunks);
		if (pool == NULL)
			ok = false;
		for (uint32_t run = 0; ok && run < opt->n_init; run++)
		{
			tree_rng	rng;
			run_result	res;

			tree_rng_init(&rng, opt->seed, run);
			ok = seed_plus_plus(&job, pool, &rng, cand, b.centroids) &&
				lloyd(&job, pool, &b, opt->max_iter, tol, &res);
			if (ok && res.inertia < fit->inertia)
			{
				fit->inertia = res.inertia;
				fit->silhouette = res.silhouette;
				fit->n_iter = res.n_iter;
				fit->converged = res.converged;
				fit->best_init = run + 1;
				memcpy(km->centroids, b.centroids, sizeof(double) * k * p);
				memcpy(km->sizes, b.counts, sizeof(double) * k);
			}
		}
		tree_pool_finish(pool);
	}
	job_free(&job);
	clv_release(cand);
	clv_release(b.centroids);
	clv_release(b.centroids_t);
	clv_release(b.sums);
	clv_release(b.counts);
	clv_release(x);
	if (!ok)
	{
		clv_kmeans_free(km);
		return pool == NULL ? tree_out_of_memory(err) : tree_interrupted(err);
	}
	*out = km;
	return CLV_OK;
}

/* ---- scoring ------------------------------------------------------------------ */

uint32_t
clv_kmeans_nearest(const clv_kmeans *km, const double *x)
{
	uint32_t	p = km->p;
	uint32_t	best = 0;
	double		best_d = INFINITY;

	for (uint32_t c = 0; c < km->k; c++)
	{
		const double *cc = km->centroids + (size_t) c * p;
		double		d = 0;

		for (uint32_t j = 0; j < p; j++)
		{
			double		v = km->means ? (x[j] - km->means[j]) / km->scales[j] : x[j];
			double		t = v - cc[j];

			d += t * t;
		}
		if (d < best_d)
		{
			best_d = d;
			best = c;
		}
	}
	return best;
}

void
clv_kmeans_centroid_original(const clv_kmeans *km, uint32_t c, double *out)
{
	for (uint32_t j = 0; j < km->p; j++)
	{
		double		v = km->centroids[(size_t) c * km->p + j];

		out[j] = km->means ? v * km->scales[j] + km->means[j] : v;
	}
}

/* ---- payload ------------------------------------------------------------------ */

void
clv_kmeans_encode(const clv_kmeans *km, clv_buf *buf)
{
	clv_buf_put_u32(buf, km->k);
	clv_buf_put_u32(buf, km->p);
	clv_buf_put_u32(buf, km->means ? 1 : 0);
	if (km->means)
		for (uint32_t j = 0; j < km->p; j++)
		{
			clv_buf_put_f64(buf, km->means[j]);
			clv_buf_put_f64(buf, km->scales[j]);
		}
	for (size_t i = 0; i < (size_t) km->k * km->p; i++)
		clv_buf_put_f64(buf, km->centroids[i]);
	clv_buf_put_u32(buf, km->k);
	for (uint32_t c = 0; c < km->k; c++)
		clv_buf_put_f64(buf, km->sizes[c]);
}

/* n finite doubles into v, each also positive when `positive`. */
static bool
read_finite(clv_reader *r, double *v, size_t n, bool positive)
{
	for (size_t i = 0; i < n; i++)
		if (!clv_read_f64(r, &v[i]) || !isfinite(v[i]) || (positive && !(v[i] > 0)))
			return false;
	return true;
}

static clv_status
decode_body(clv_reader *r, clv_kmeans *km, clv_error *err)
{
	uint32_t	n_sizes;

	if (km->means)
		for (uint32_t j = 0; j < km->p; j++)
			if (!read_finite(r, &km->means[j], 1, false) ||
				!read_finite(r, &km->scales[j], 1, true))
				return clv_model_corrupt(err, "A standardization mean or scale is missing, not finite or not positive.");
	if (!read_finite(r, km->centroids, (size_t) km->k * km->p, false))
		return clv_model_corrupt(err, "A centroid is missing or not finite.");
	if (!clv_read_u32(r, &n_sizes))
		return clv_model_corrupt(err, "The cluster size count is missing.");
	if (n_sizes != km->k)
		return clv_model_corrupt(err, "The cluster size count does not match k.");
	for (uint32_t c = 0; c < km->k; c++)
		if (!clv_read_f64(r, &km->sizes[c]) || !(km->sizes[c] >= 0) ||
			km->sizes[c] > 9007199254740992.0 || km->sizes[c] != floor(km->sizes[c]))
			return clv_model_corrupt(err, "A cluster size is missing or not a whole number.");
	return CLV_OK;
}

clv_status
clv_kmeans_decode(clv_reader *r, uint32_t n_features, clv_kmeans **out, clv_error *err)
{
	uint32_t	k,
				p,
				flag;
	size_t		doubles;
	clv_kmeans *km;
	clv_status	st;

	*out = NULL;
	if (!clv_read_u32(r, &k) || !clv_read_u32(r, &p) || !clv_read_u32(r, &flag))
		return clv_model_corrupt(err, "The k-means header is truncated.");
	if (k < 1 || k > CLV_KMEANS_MAX_K)
		return clv_model_corrupt(err, "The number of clusters is out of range.");
	if (p != n_features)
		return clv_model_corrupt(err, "The k-means dimension does not match the feature count.");
	if (flag > 1)
		return clv_model_corrupt(err, "The standardization flag is neither 0 nor 1.");
	/* the values must be there before anything is allocated for them */
	doubles = (size_t) k * p + k + (flag ? 2 * (size_t) p : 0);
	if ((r->len - r->pos) / 8 < doubles)
		return clv_model_corrupt(err, "The k-means payload is truncated.");
	km = kmeans_new(k, p, flag == 1);
	if ((st = decode_body(r, km, err)) != CLV_OK)
	{
		clv_kmeans_free(km);
		return st;
	}
	*out = km;
	return CLV_OK;
}

void
clv_kmeans_free(clv_kmeans *km)
{
	if (km == NULL)
		return;
	clv_release(km->means);
	clv_release(km->scales);
	clv_release(km->centroids);
	clv_release(km->sizes);
	clv_release(km);
}
