/*
 * budget.c — budget allocation over concave response envelopes (exact
 * greedy, or an exact knapsack over the given levels) and the shadow price of
 * customer-level targeting.  See budget.h.
 */
#include "budget.h"

#include <float.h>
#include <stdio.h>
#include <string.h>

#include "sort.h"

/* ---- growable buffers within a memory limit -------------------------------- */

static clv_status
memory_limit_error(clv_error *err, const char *what, size_t max_bytes, size_t need_bytes)
{
	clv_fail(err, CLV_ERR_LIMIT, "%s held by the aggregate exceed the memory limit of %zu kB",
			 what, max_bytes / 1024);
	clv_set_detail(err, "They need %zu kB.", (need_bytes + 1023) / 1024);
	return CLV_ERR_LIMIT;
}

/* A capacity of at least need, doubled from cap (or start), at most limit (0: none). */
static size_t
grown_capacity(size_t cap, size_t need, size_t start, size_t limit)
{
	size_t		c = cap ? cap : start;

	while (c < need)
		c *= 2;
	if (limit && c > limit)
		c = limit;
	return c < need ? need : c;
}

/*
 * Sort n elements of size bytes: small arrays, which usually come in order
 * (a curve by spend, a customer's few offers), by insertion, one pass when
 * they do; larger ones by clv_sort.
 */
static inline void
sort_small(void *base, size_t n, size_t size, clv_sort_cmp cmp)
{
	char	   *v = base;
	char		x[32];

	if (n > 32 || size > sizeof(x))
	{
		clv_sort(base, n, size, cmp, NULL);
		return;
	}
	for (size_t i = 1; i < n; i++)
	{
		size_t		j = i;

		memcpy(x, v + i * size, size);
		for (; j > 0 && cmp(v + (j - 1) * size, x, NULL) > 0; j--)
			memcpy(v + j * size, v + (j - 1) * size, size);
		memcpy(v + j * size, x, size);
	}
}

/* ---- allocation: points and their segments ----------------------------------- */

void
clv_budget_points_init(clv_budget_points *pts, size_t max_bytes)
{
	memset(pts, 0, sizeof(*pts));
	pts->max_bytes = max_bytes;
}

/* Bytes held for n points, n_segs segments, names_len name bytes and n_slots slots. */
static bool
points_fit(const clv_budget_points *pts, size_t n, size_t n_segs, size_t names_len,
		   size_t n_slots, size_t *bytes)
{
	size_t		fixed = 0;

	*bytes = SIZE_MAX;
	if (n_segs > SIZE_MAX / 64 || n_slots > SIZE_MAX / 64 || names_len > SIZE_MAX / 4)
		return false;
	fixed = n_segs * sizeof(clv_budget_name) + n_slots * sizeof(uint32_t) + names_len;
	if (n > (SIZE_MAX - fixed) / sizeof(clv_budget_point))
		return false;
	*bytes = fixed + n * sizeof(clv_budget_point);
	return pts->max_bytes == 0 || *bytes <= pts->max_bytes;
}

static clv_status
points_limit_error(const clv_budget_points *pts, size_t bytes, clv_error *err)
{
	return memory_limit_error(err, "response curve points", pts->max_bytes, bytes);
}

void
clv_budget_points_free(clv_budget_points *pts)
{
	clv_release(pts->v);
	clv_release(pts->segs);
	clv_release(pts->names);
	clv_release(pts->slots);
	clv_budget_points_init(pts, pts->max_bytes);
}

clv_status
clv_budget_points_reserve(clv_budget_points *pts, size_t n, clv_error *err)
{
	size_t		bytes;

	if (n <= pts->cap)
		return CLV_OK;
	if (!points_fit(pts, n, pts->n_segs, pts->names_len, pts->n_slots, &bytes))
		return points_limit_error(pts, bytes, err);
	n = grown_capacity(pts->cap, n, 256,
					   pts->max_bytes ? pts->cap + (pts->max_bytes - bytes) / sizeof(clv_budget_point) + 1 : 0);
	pts->v = clv_grow_buffer(pts->v, pts->n * sizeof(clv_budget_point), n * sizeof(clv_budget_point));
	pts->cap = n;
	return CLV_OK;
}

static inline uint64_t
hash_name(const char *name, size_t len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;	/* FNV-1a, then mixed */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char) name[i]) * 0x100000001b3ULL;
	return clv_mix64(h ^ len);
}

static inline bool
segment_is(const clv_budget_points *pts, uint32_t seg, const char *name, size_t len)
{
	return pts->segs[seg].len == len && memcmp(pts->names + pts->segs[seg].off, name, len) == 0;
}

/* Rebuild the hash slots at n_slots (a power of two). */
static void
rehash(clv_budget_points *pts, size_t n_slots)
{
	clv_release(pts->slots);
	pts->slots = clv_alloc(n_slots * sizeof(uint32_t));
	memset(pts->slots, 0, n_slots * sizeof(uint32_t));
	pts->n_slots = n_slots;
	for (uint32_t s = 0; s < pts->n_segs; s++)
	{
		size_t		i = hash_name(pts->names + pts->segs[s].off, pts->segs[s].len) & (n_slots - 1);

		while (pts->slots[i] != 0)
			i = (i + 1) & (n_slots - 1);
		pts->slots[i] = s + 1;
	}
}

/* A new segment name[0..len), to be placed in slot i (empty) when the table did not grow. */
static clv_status
add_segment(clv_budget_points *pts, const char *name, size_t len, size_t i, uint32_t *seg,
			clv_error *err)
{
	size_t		n_slots = pts->n_slots,
				bytes;

	/* at most half full, so that probes stay short */
	if ((pts->n_segs + 1) * 2 > n_slots)
		n_slots = n_slots ? n_slots * 2 : 64;
	if (pts->n_segs >= UINT32_MAX - 1 ||
		!points_fit(pts, pts->n, pts->n_segs + 1, pts->names_len + len, n_slots, &bytes))
		return points_limit_error(pts, bytes, err);
	if (pts->n_segs == pts->segs_cap)
	{
		size_t		cap = pts->segs_cap ? pts->segs_cap * 2 : 64;

		pts->segs = clv_resize(pts->segs, cap * sizeof(clv_budget_name));
		pts->segs_cap = cap;
	}
	if (pts->names_len + len > pts->names_cap)
	{
		size_t		cap = grown_capacity(pts->names_cap, pts->names_len + len, 1024, 0);

		pts->names = clv_resize(pts->names, cap);
		pts->names_cap = cap;
	}
	memcpy(pts->names + pts->names_len, name, len);
	pts->segs[pts->n_segs].off = pts->names_len;
	pts->segs[pts->n_segs].len = len;
	pts->names_len += len;
	*seg = (uint32_t) pts->n_segs++;
	if (n_slots != pts->n_slots)
		rehash(pts, n_slots);
	else
		pts->slots[i] = *seg + 1;
	return CLV_OK;
}

clv_status
clv_budget_segment_of(clv_budget_points *pts, const char *name, size_t len, uint32_t *seg,
				   clv_error *err)
{
	size_t		i;

	/* rows of a segment usually come together */
	if (pts->n > 0 && segment_is(pts, pts->v[pts->n - 1].seg, name, len))
	{
		*seg = pts->v[pts->n - 1].seg;
		return CLV_OK;
	}
	if (pts->n_slots == 0)
		return add_segment(pts, name, len, 0, seg, err);
	for (i = hash_name(name, len) & (pts->n_slots - 1); pts->slots[i] != 0;
		 i = (i + 1) & (pts->n_slots - 1))
		if (segment_is(pts, pts->slots[i] - 1, name, len))
		{
			*seg = pts->slots[i] - 1;
			return CLV_OK;
		}
	return add_segment(pts, name, len, i, seg, err);
}

clv_status
clv_budget_points_add(clv_budget_points *pts, uint32_t seg, double spend, double response,
					  clv_error *err)
{
	clv_status	st;

	if (pts->n == pts->cap && (st = clv_budget_points_reserve(pts, pts->n + 1, err)) != CLV_OK)
		return st;
	pts->v[pts->n].seg = seg;
	pts->v[pts->n].spend = spend;
	pts->v[pts->n].response = response;
	pts->n++;
	return CLV_OK;
}

clv_status
clv_budget_points_append(clv_budget_points *pts, const char *name, size_t len, double spend,
						 double response, clv_error *err)
{
	uint32_t	seg;
	clv_status	st;

	if ((st = clv_budget_segment_of(pts, name, len, &seg, err)) != CLV_OK)
		return st;
	return clv_budget_points_add(pts, seg, spend, response, err);
}

clv_status
clv_budget_points_merge(clv_budget_points *pts, const clv_budget_points *other, clv_error *err)
{
	uint32_t   *map;
	clv_status	st = CLV_OK;

	if (other->n == 0)
		return CLV_OK;
	if ((st = clv_budget_points_reserve(pts, pts->n + other->n, err)) != CLV_OK)
		return st;
	map = clv_alloc(other->n_segs * sizeof(uint32_t));
	for (size_t s = 0; s < other->n_segs && st == CLV_OK; s++)
	{
		/* no fast path through the last point: look every name up */
		size_t		n = pts->n;

		pts->n = 0;
		st = clv_budget_segment_of(pts, other->names + other->segs[s].off, other->segs[s].len,
								&map[s], err);
		pts->n = n;
	}
	if (st == CLV_OK)
	{
		for (size_t i = 0; i < other->n; i++)
		{
			pts->v[pts->n + i] = other->v[i];
			pts->v[pts->n + i].seg = map[other->v[i].seg];
		}
		pts->n += other->n;
	}
	clv_release(map);
	return st;
}

/* ---- allocation: envelopes ---------------------------------------------------- */

static int
compare_names(const char *a, size_t alen, const char *b, size_t blen)
{
	int			c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

/* Within a segment: spend ascending, then response descending. */
static int
compare_points(const void *a, const void *b, void *arg CLV_UNUSED)
{
	const clv_budget_point *p = a,
			   *q = b;

	if (p->spend != q->spend)
		return p->spend < q->spend ? -1 : 1;
	return (p->response < q->response) - (p->response > q->response);
}

static int
compare_segments(const void *a, const void *b, void *arg)
{
	const clv_budget_points *pts = arg;
	const clv_budget_name *p = &pts->segs[*(const uint32_t *) a],
			   *q = &pts->segs[*(const uint32_t *) b];

	return compare_names(pts->names + p->off, p->len, pts->names + q->off, q->len);
}

/*
 * pts in canonical order, into canon (new arrays; the names stay shared):
 * segments numbered by name bytewise, points by segment (a counting sort),
 * then spend ascending, response descending.
 */
static void
canonical_points(const clv_budget_points *pts, clv_budget_points *canon)
{
	uint32_t   *order = clv_alloc(pts->n_segs * sizeof(uint32_t)),
			   *rank = clv_alloc(pts->n_segs * sizeof(uint32_t));
	size_t	   *start = clv_alloc((pts->n_segs + 1) * sizeof(size_t));

	*canon = *pts;
	canon->v = clv_alloc_huge(pts->n * sizeof(clv_budget_point));
	canon->segs = clv_alloc(pts->n_segs * sizeof(clv_budget_name));
	canon->slots = NULL;
	canon->n_slots = 0;
	for (uint32_t s = 0; s < pts->n_segs; s++)
		order[s] = s;
	clv_sort(order, pts->n_segs, sizeof(uint32_t), compare_segments, (void *) pts);
	for (uint32_t r = 0; r < pts->n_segs; r++)
	{
		rank[order[r]] = r;
		canon->segs[r] = pts->segs[order[r]];
	}
	memset(start, 0, (pts->n_segs + 1) * sizeof(size_t));
	for (size_t i = 0; i < pts->n; i++)
		start[rank[pts->v[i].seg] + 1]++;
	for (size_t r = 0; r < pts->n_segs; r++)
		start[r + 1] += start[r];
	for (size_t i = 0; i < pts->n; i++)
	{
		uint32_t	r = rank[pts->v[i].seg];
		clv_budget_point *p = &canon->v[start[r]++];

		*p = pts->v[i];
		p->seg = r;
	}
	/* start[r] is now the end of segment r's points */
	for (size_t r = 0, first = 0; r < pts->n_segs; first = start[r++])
		sort_small(canon->v + first, start[r] - first, sizeof(clv_budget_point), compare_points);
	clv_release(order);
	clv_release(rank);
	clv_release(start);
}

/* One segment: its points, its envelope's vertices and its bounds. */
typedef struct curve
{
	const char *name;
	size_t		len;
	size_t		first;			/* its points: pts->v[first .. first + count) */
	size_t		count;
	size_t		v0;				/* its vertices: vx, vy [v0 .. v0 + nv) */
	size_t		nv;
	double		lo;				/* minimum spend (0 when none) */
	double		hi;				/* maximum spend (+inf when none) */
	double		pos;			/* spend so far */
} curve;

typedef struct envelopes
{
	size_t		n;
	curve	   *c;
	double	   *vx;
	double	   *vy;
} envelopes;

/* Whether (x1, y1) lies strictly above the chord from (x0, y0) to (x2, y2). */
static inline bool
strictly_above(double x0, double y0, double x1, double y1, double x2, double y2)
{
	return (y1 - y0) * (x2 - x0) > (y2 - y0) * (x1 - x0);
}

/*
 * The vertices of a segment's envelope into vx, vy: from (0, y0), the upper
 * concave hull of the points that respond more than every cheaper one (the
 * rest lie under the flat tail of a cheaper point).  Points come in canonical
 * order, so the first of a spend is its largest response.  Returns the count.
 */
static size_t
build_envelope(const clv_budget_point *p, size_t count, double *vx, double *vy)
{
	size_t		i = 0,
				h = 1;

	vx[0] = 0;
	vy[0] = 0;
	if (p[0].spend == 0)
		vy[0] = p[0].response;
	for (; i < count; i++)
	{
		double		x = p[i].spend,
					y = p[i].response;

		if (y <= vy[h - 1] || x == vx[h - 1])
			continue;
		while (h >= 2 && !strictly_above(vx[h - 2], vy[h - 2], vx[h - 1], vy[h - 1], x, y))
			h--;
		vx[h] = x;
		vy[h] = y;
		h++;
	}
	return h;
}

/* The envelope at spend s, and its slope just right of s (0 past the top). */
static double
envelope_at(const curve *c, const envelopes *e, double s, double *slope)
{
	const double *x = e->vx + c->v0,
			   *y = e->vy + c->v0;
	size_t		lo = 0,
				hi = c->nv - 1;

	if (s >= x[hi])
	{
		*slope = 0;
		return y[hi];
	}
	/* the piece [x[lo], x[lo + 1]) holding s */
	while (hi - lo > 1)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (x[mid] <= s)
			lo = mid;
		else
			hi = mid;
	}
	*slope = (y[lo + 1] - y[lo]) / (x[lo + 1] - x[lo]);
	return y[lo] + (y[lo + 1] - y[lo]) * ((s - x[lo]) / (x[lo + 1] - x[lo]));
}

/* Group the sorted points into segments and build every envelope. */
static void
build_envelopes(const clv_budget_points *pts, envelopes *e)
{
	size_t		n = 0,
				nv = 0;

	for (size_t i = 0; i < pts->n; i++)
		if (i == 0 || pts->v[i].seg != pts->v[i - 1].seg)
			n++;
	e->n = n;
	e->c = clv_alloc(n * sizeof(curve));
	/* at most one vertex per point, plus (0, 0) per segment */
	e->vx = clv_alloc((pts->n + n) * sizeof(double));
	e->vy = clv_alloc((pts->n + n) * sizeof(double));
	n = 0;
	for (size_t i = 0; i < pts->n;)
	{
		curve	   *c = &e->c[n++];
		size_t		j = i + 1;

		while (j < pts->n && pts->v[j].seg == pts->v[i].seg)
			j++;
		c->name = pts->names + pts->segs[pts->v[i].seg].off;
		c->len = pts->segs[pts->v[i].seg].len;
		c->first = i;
		c->count = j - i;
		c->v0 = nv;
		c->nv = build_envelope(pts->v + i, j - i, e->vx + nv, e->vy + nv);
		c->lo = 0;
		c->hi = INFINITY;
		nv += c->nv;
		i = j;
		if ((n & 1023) == 0)
			clv_check_interrupts();
	}
}

static void
free_envelopes(envelopes *e)
{
	clv_release(e->c);
	clv_release(e->vx);
	clv_release(e->vy);
}

/* ---- allocation: bounds -------------------------------------------------------- */

static curve *
find_curve(envelopes *e, const char *name, size_t len)
{
	size_t		lo = 0,
				hi = e->n;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		int			c = compare_names(e->c[mid].name, e->c[mid].len, name, len);

		if (c == 0)
			return &e->c[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static clv_status
apply_bounds(envelopes *e, const clv_budget_options *opt, clv_error *err)
{
	for (size_t i = 0; i < opt->n_bounds; i++)
	{
		const clv_budget_bound *b = &opt->bounds[i];
		curve	   *c = find_curve(e, b->name, b->len);

		if (c == NULL)
		{
			clv_fail(err, CLV_ERR_INVALID, "spend bound for unknown segment \"%.*s\"",
					 (int) (b->len > 64 ? 64 : b->len), b->name);
			clv_set_detail(err, "No row has this segment.");
			return CLV_ERR_INVALID;
		}
		if (!isnan(b->min))
			c->lo = b->min;
		if (!isnan(b->max))
			c->hi = b->max;
	}
	for (size_t i = 0; i < e->n; i++)
		if (e->c[i].lo > e->c[i].hi)
		{
			clv_fail(err, CLV_ERR_INVALID,
					 "minimum spend of segment \"%.*s\" is above its maximum",
					 (int) (e->c[i].len > 64 ? 64 : e->c[i].len), e->c[i].name);
			clv_set_detail(err, "The minimum is %.17g and the maximum %.17g.",
						   e->c[i].lo, e->c[i].hi);
			return CLV_ERR_INVALID;
		}
	return CLV_OK;
}

static clv_status
below_minimums_error(clv_error *err, double budget, double minimums)
{
	clv_fail(err, CLV_ERR_INVALID, "budget is below the minimum spends");
	clv_set_detail(err, "The budget is %.17g and the minimum spends add up to %.17g.",
				   budget, minimums);
	return CLV_ERR_INVALID;
}

/* ---- allocation: the greedy over envelope pieces ------------------------------- */

typedef struct piece
{
	double		slope;
	size_t		curve;
	double		end;			/* the spend at which the segment has bought it */
} piece;

/* By slope, steepest first; ties by segment (then the pieces are in order). */
static int
compare_pieces(const void *a, const void *b, void *arg CLV_UNUSED)
{
	const piece *p = a,
			   *q = b;

	if (p->slope != q->slope)
		return p->slope > q->slope ? -1 : 1;
	if (p->curve != q->curve)
		return p->curve < q->curve ? -1 : 1;
	return (p->end > q->end) - (p->end < q->end);
}

/*
 * The pieces of every envelope between a segment's minimum and maximum whose
 * slope beats the objective's threshold (0, or 1 for the net response).
 */
static size_t
collect_pieces(const envelopes *e, double threshold, piece *out)
{
	size_t		m = 0;

	for (size_t i = 0; i < e->n; i++)
	{
		const curve *c = &e->c[i];
		const double *x = e->vx + c->v0,
				   *y = e->vy + c->v0;

		for (size_t k = 0; k + 1 < c->nv; k++)
		{
			double		slope = (y[k + 1] - y[k]) / (x[k + 1] - x[k]);
			double		end = x[k + 1] < c->hi ? x[k + 1] : c->hi;

			if (x[k + 1] <= c->lo || x[k] >= c->hi || !(slope > threshold))
				continue;
			out[m].slope = slope;
			out[m].curve = i;
			out[m].end = end;
			m++;
		}
	}
	return m;
}

static clv_status
allocate_greedy(envelopes *e, double budget, const clv_budget_options *opt,
				clv_budget_result *res, clv_error *err)
{
	double		threshold = opt->net ? 1.0 : 0.0;
	double		minimums = 0,
				left;
	size_t		total_vertices = 0,
				m;
	piece	   *pieces;

	for (size_t i = 0; i < e->n; i++)
	{
		minimums += e->c[i].lo;
		e->c[i].pos = e->c[i].lo;
		total_vertices += e->c[i].nv;
	}
	if (minimums > budget)
		return below_minimums_error(err, budget, minimums);
	left = budget - minimums;

	pieces = clv_alloc(total_vertices * sizeof(piece));
	m = collect_pieces(e, threshold, pieces);
	clv_sort(pieces, m, sizeof(piece), compare_pieces, NULL);

	res->shadow_price = 0;
	for (size_t j = 0; j < m; j++)
	{
		curve	   *c = &e->c[pieces[j].curve];
		double		len = pieces[j].end - c->pos;

		if (left <= 0 || len > left)
		{
			/* the budget runs out on this piece: its slope is what more would buy */
			c->pos += left > 0 ? left : 0;
			res->shadow_price = pieces[j].slope - threshold;
			break;
		}
		c->pos = pieces[j].end;
		left -= len;
	}
	clv_release(pieces);
	return CLV_OK;
}

/* ---- allocation: the knapsack over the given levels ---------------------------- */

/* A combination of levels of the segments so far. */
typedef struct combo
{
	double		spend;
	double		value;
	uint32_t	parent;			/* in the previous frontier */
	uint32_t	level;			/* the segment's level: its point, or 0 for the implicit (0, 0) */
} combo;

/* Cheapest first; among equal spends the most valuable first, then a fixed order. */
static int
compare_combos(const void *a, const void *b, void *arg CLV_UNUSED)
{
	const combo *p = a,
			   *q = b;

	if (p->spend != q->spend)
		return p->spend < q->spend ? -1 : 1;
	if (p->value != q->value)
		return p->value > q->value ? -1 : 1;
	if (p->parent != q->parent)
		return p->parent < q->parent ? -1 : 1;
	return (p->level > q->level) - (p->level < q->level);
}

typedef struct level
{
	double		spend;
	double		response;
} level;

/*
 * The choices of a segment within its bounds: spend 0 (the implicit (0, 0)
 * when no point has spend 0) and each distinct spend with its largest
 * response.  Returns the count, 0 when no level lies within the bounds.
 */
static size_t
segment_levels(const clv_budget_point *p, const curve *c, level *out)
{
	size_t		n = 0;

	if (p[0].spend != 0 && c->lo <= 0)
	{
		out[n].spend = 0;
		out[n++].response = 0;
	}
	for (size_t i = 0; i < c->count; i++)
	{
		if (i > 0 && p[i].spend == p[i - 1].spend)
			continue;
		if (p[i].spend < c->lo || p[i].spend > c->hi)
			continue;
		out[n].spend = p[i].spend;
		out[n++].response = p[i].response;
	}
	return n;
}

/* Keep the combinations that no cheaper-or-equal one beats; returns their count. */
static size_t
prune_dominated(combo *cand, size_t n)
{
	size_t		kept = 0;

	clv_sort(cand, n, sizeof(combo), compare_combos, NULL);
	for (size_t i = 0; i < n; i++)
		if (kept == 0 || cand[i].value > cand[kept - 1].value)
			cand[kept++] = cand[i];
	return kept;
}

typedef struct knapsack
{
	combo	  **frontier;		/* per segment */
	size_t	   *size;
	level	  **levels;			/* per segment */
	size_t	   *n_levels;
} knapsack;

static clv_status
knapsack_limit_error(clv_error *err, const curve *c, size_t combos, size_t limit)
{
	clv_fail(err, CLV_ERR_LIMIT, "too many spend combinations for an exact allocation without interpolation");
	clv_set_detail(err, "Segment \"%.*s\" would combine %zu levels, over the limit of %zu.",
				   (int) (c->len > 64 ? 64 : c->len), c->name, combos, limit);
	clv_set_hint(err, "Use fewer spend levels per segment, fewer segments, or interpolation.");
	return CLV_ERR_LIMIT;
}

static clv_status
no_level_error(clv_error *err, const curve *c)
{
	clv_fail(err, CLV_ERR_INVALID, "no spend level of segment \"%.*s\" lies within its bounds",
			 (int) (c->len > 64 ? 64 : c->len), c->name);
	clv_set_detail(err, "The bounds are %.17g and %.17g.", c->lo, c->hi);
	return CLV_ERR_INVALID;
}

/* Frontier of segment i from that of segment i − 1 (or the empty combination). */
static clv_status
extend_frontier(knapsack *ks, const curve *c, size_t i, double budget, bool net,
				size_t max_combinations, size_t max_bytes, size_t *bytes, clv_error *err)
{
	const combo root = {0, 0, 0, 0};
	const combo *prev = i ? ks->frontier[i - 1] : &root;
	size_t		np = i ? ks->size[i - 1] : 1,
				nl = ks->n_levels[i],
				n = 0;
	combo	   *cand;

	if (np > max_combinations / nl)
		return knapsack_limit_error(err, c, np * nl < np ? SIZE_MAX : np * nl, max_combinations);
	*bytes += np * nl * sizeof(combo);
	if (max_bytes && *bytes > max_bytes)
		return memory_limit_error(err, "spend combinations", max_bytes, *bytes);
	cand = clv_alloc(np * nl * sizeof(combo));
	for (size_t a = 0; a < np; a++)
		for (size_t l = 0; l < nl; l++)
		{
			double		spend = prev[a].spend + ks->levels[i][l].spend;
			const level *lv = &ks->levels[i][l];

			if (spend > budget)
				continue;
			cand[n].spend = spend;
			cand[n].value = prev[a].value + (net ? lv->response - lv->spend : lv->response);
			cand[n].parent = (uint32_t) a;
			cand[n].level = (uint32_t) l;
			n++;
		}
	ks->size[i] = prune_dominated(cand, n);
	ks->frontier[i] = cand;
	clv_check_interrupts();
	return CLV_OK;
}

static clv_status
allocate_knapsack(const clv_budget_points *pts, envelopes *e, double budget,
				  const clv_budget_options *opt, clv_budget_result *res, clv_error *err)
{
	knapsack	ks;
	double		minimums = 0;
	size_t		bytes = 0,
				best;
	clv_status	st = CLV_OK;

	ks.frontier = clv_alloc(e->n * sizeof(combo *));
	ks.size = clv_alloc(e->n * sizeof(size_t));
	ks.levels = clv_alloc(e->n * sizeof(level *));
	ks.n_levels = clv_alloc(e->n * sizeof(size_t));
	memset(ks.frontier, 0, e->n * sizeof(combo *));
	memset(ks.levels, 0, e->n * sizeof(level *));
	for (size_t i = 0; i < e->n && st == CLV_OK; i++)
	{
		ks.levels[i] = clv_alloc((e->c[i].count + 1) * sizeof(level));
		ks.n_levels[i] = segment_levels(pts->v + e->c[i].first, &e->c[i], ks.levels[i]);
		if (ks.n_levels[i] == 0)
			st = no_level_error(err, &e->c[i]);
		else
			minimums += ks.levels[i][0].spend;
	}
	if (st == CLV_OK && minimums > budget)
		st = below_minimums_error(err, budget, minimums);
	for (size_t i = 0; i < e->n && st == CLV_OK; i++)
	{
		st = extend_frontier(&ks, &e->c[i], i, budget, opt->net,
							 opt->max_combinations, pts->max_bytes, &bytes, err);
		/* the sum of the cheapest levels fits, but maybe not as rounded in this order */
		if (st == CLV_OK && ks.size[i] == 0)
			st = below_minimums_error(err, budget, minimums);
	}
	if (st == CLV_OK)
	{
		/* value rises along a frontier: the last is the best */
		best = ks.size[e->n - 1] - 1;
		for (size_t i = e->n; i-- > 0;)
		{
			const combo *cb = &ks.frontier[i][best];
			const level *lv = &ks.levels[i][cb->level];

			e->c[i].pos = lv->spend;
			best = cb->parent;
		}
		res->shadow_price = NAN;
	}
	for (size_t i = 0; i < e->n; i++)
	{
		clv_release(ks.frontier[i]);
		clv_release(ks.levels[i]);
	}
	clv_release(ks.frontier);
	clv_release(ks.size);
	clv_release(ks.levels);
	clv_release(ks.n_levels);
	return st;
}

/* The response at a knapsack's chosen level: the largest at that spend. */
static double
level_response(const clv_budget_points *pts, const curve *c)
{
	const clv_budget_point *p = pts->v + c->first;

	for (size_t i = 0; i < c->count; i++)
		if (p[i].spend == c->pos)
			return p[i].response;
	return 0;					/* the implicit (0, 0) */
}

/* ---- allocation: entry point ---------------------------------------------------- */

static void
fill_result(const clv_budget_points *pts, const envelopes *e, bool interpolate,
			clv_budget_result *res)
{
	double		spend = 0,
				spend_err = 0,
				response = 0,
				response_err = 0;

	res->n = e->n;
	res->segments = clv_alloc(e->n * sizeof(clv_budget_segment));
	for (size_t i = 0; i < e->n; i++)
	{
		const curve *c = &e->c[i];
		clv_budget_segment *s = &res->segments[i];
		double		e1,
					e2;

		s->name = c->name;
		s->len = c->len;
		s->spend = c->pos;
		if (interpolate)
			s->response = envelope_at(c, e, c->pos, &s->marginal);
		else
		{
			s->response = level_response(pts, c);
			s->marginal = NAN;
		}
		spend = clv_two_sum(spend, s->spend, &e1);
		spend_err += e1;
		response = clv_two_sum(response, s->response, &e2);
		response_err += e2;
	}
	res->spend = spend + spend_err;
	res->response = response + response_err;
}

clv_status
clv_budget_allocate(const clv_budget_points *pts, double budget, const clv_budget_options *opt,
					clv_budget_result *res, clv_error *err)
{
	clv_budget_points canon;
	envelopes	e;
	clv_status	st;

	memset(res, 0, sizeof(*res));
	canonical_points(pts, &canon);
	build_envelopes(&canon, &e);
	st = apply_bounds(&e, opt, err);
	if (st == CLV_OK)
		st = opt->interpolate ? allocate_greedy(&e, budget, opt, res, err)
			: allocate_knapsack(&canon, &e, budget, opt, res, err);
	if (st == CLV_OK)
		fill_result(&canon, &e, opt->interpolate, res);
	free_envelopes(&e);
	clv_release(canon.v);
	clv_release(canon.segs);
	return st;
}

/* ---- threshold: offers ------------------------------------------------------------ */

void
clv_offers_init(clv_offers *offers, size_t max_bytes)
{
	memset(offers, 0, sizeof(*offers));
	offers->max_bytes = max_bytes;
}

clv_status
clv_offers_reserve(clv_offers *offers, size_t need, clv_error *err)
{
	size_t		cap = offers->cap;

	if (need <= offers->cap)
		return CLV_OK;
	if (clv_rows_capacity(&cap, need, sizeof(clv_offer), offers->max_bytes, err) != CLV_OK)
	{
		/* the shared limit, in this aggregate's words */
		snprintf(err->message, sizeof(err->message),
				 "options held by the aggregate exceed the memory limit of %zu kB",
				 offers->max_bytes / 1024);
		return CLV_ERR_LIMIT;
	}
	offers->v = clv_grow_buffer(offers->v, offers->n * sizeof(clv_offer), cap * sizeof(clv_offer));
	offers->cap = cap;
	return CLV_OK;
}

static void
start_run(clv_offers *offers, size_t at)
{
	if (offers->n_runs < CLV_OFFER_RUNS)
		offers->run_start[offers->n_runs++] = at;
	else
		offers->many_runs = true;
}

clv_status
clv_offers_append(clv_offers *offers, int64_t customer, double gain, double cost, clv_error *err)
{
	clv_status	st;
	clv_offer  *o;

	if (offers->n == offers->cap &&
		(st = clv_offers_reserve(offers, offers->n + 1, err)) != CLV_OK)
		return st;
	if (offers->n == 0 || customer < offers->v[offers->n - 1].customer)
		start_run(offers, offers->n);
	o = &offers->v[offers->n++];
	o->customer = customer;
	o->gain = gain;
	o->cost = cost;
	return CLV_OK;
}

clv_status
clv_offers_merge(clv_offers *offers, const clv_offers *other, clv_error *err)
{
	clv_status	st;

	if (other->n == 0)
		return CLV_OK;
	if ((st = clv_offers_reserve(offers, offers->n + other->n, err)) != CLV_OK)
		return st;
	if (other->many_runs)
		offers->many_runs = true;
	for (size_t r = 0; r < other->n_runs; r++)
		if (r > 0 || offers->n == 0 || other->v[0].customer < offers->v[offers->n - 1].customer)
			start_run(offers, offers->n + other->run_start[r]);
	memcpy(offers->v + offers->n, other->v, other->n * sizeof(clv_offer));
	offers->n += other->n;
	return CLV_OK;
}

/* ---- threshold: canonical order ------------------------------------------------------ */

static inline uint64_t
customer_key(int64_t customer)
{
	return (uint64_t) customer ^ ((uint64_t) 1 << 63);
}

/*
 * The offers sorted by customer into a new array (LSD radix sort, skipping
 * the bytes every key shares: a million customer numbers need three passes).
 */
static clv_offer *
radix_sort_by_customer(const clv_offer *v, size_t n)
{
	size_t		(*count)[256] = clv_alloc(8 * sizeof(*count));
	clv_offer  *a = clv_alloc_huge(n * sizeof(clv_offer)),
			   *b = NULL;
	const clv_offer *src = v;

	memset(count, 0, 8 * sizeof(*count));
	for (size_t i = 0; i < n; i++)
	{
		uint64_t	k = customer_key(v[i].customer);

		for (int byte = 0; byte < 8; byte++)
			count[byte][(k >> (8 * byte)) & 0xFF]++;
	}
	for (int byte = 0; byte < 8; byte++)
	{
		size_t		pos = 0;
		clv_offer  *dst;

		if (count[byte][(customer_key(v[0].customer) >> (8 * byte)) & 0xFF] == n)
			continue;			/* every key has this byte */
		for (int d = 0; d < 256; d++)
		{
			size_t		c = count[byte][d];

			count[byte][d] = pos;
			pos += c;
		}
		dst = src == a ? (b ? b : (b = clv_alloc_huge(n * sizeof(clv_offer)))) : a;
		for (size_t i = 0; i < n; i++)
			dst[count[byte][(customer_key(src[i].customer) >> (8 * byte)) & 0xFF]++] = src[i];
		src = dst;
		clv_check_interrupts();
	}
	if (src == v)
		memcpy(a, v, n * sizeof(clv_offer));
	else if (src == b)
	{
		clv_release(a);
		a = b;
		b = NULL;
	}
	clv_release(b);
	clv_release(count);
	return a;
}

/*
 * Offers made of a few runs sorted by customer merged into a new array,
 * the earlier run first among equal customers (their order is then the
 * same whatever the plan's split: only the set of each customer's offers
 * matters, and it is sorted by cost when used).
 */
static clv_offer *
merge_runs(const clv_offers *offers)
{
	clv_offer  *out = clv_alloc_huge(offers->n * sizeof(clv_offer));
	size_t		next[CLV_OFFER_RUNS],
				end[CLV_OFFER_RUNS],
				k = offers->n_runs;

	for (size_t r = 0; r < k; r++)
	{
		next[r] = offers->run_start[r];
		end[r] = r + 1 < k ? offers->run_start[r + 1] : offers->n;
	}
	for (size_t i = 0; i < offers->n; i++)
	{
		size_t		best = k;

		for (size_t r = 0; r < k; r++)
			if (next[r] < end[r] &&
				(best == k || offers->v[next[r]].customer < offers->v[next[best]].customer))
				best = r;
		out[i] = offers->v[next[best]++];
		if ((i & 0xFFFFF) == 0)
			clv_check_interrupts();
	}
	return out;
}

/* Ungrouped offers in canonical order: by gain, then cost. */
static int
compare_offers(const void *a, const void *b, void *arg CLV_UNUSED)
{
	const clv_offer *p = a,
			   *q = b;

	if (p->gain != q->gain)
		return p->gain < q->gain ? -1 : 1;
	return (p->cost > q->cost) - (p->cost < q->cost);
}

/* Within a customer: cheapest first, then the largest gain. */
static int
compare_options(const void *a, const void *b, void *arg CLV_UNUSED)
{
	const clv_offer *p = a,
			   *q = b;

	if (p->cost != q->cost)
		return p->cost < q->cost ? -1 : 1;
	return (p->gain < q->gain) - (p->gain > q->gain);
}


/* The number of offers from v[0] that belong to its customer. */
static inline size_t
group_length(const clv_offer *v, size_t n, bool grouped)
{
	size_t		k = 1;

	if (!grouped)
		return 1;
	while (k < n && v[k].customer == v[0].customer)
		k++;
	return k;
}

/* ---- threshold: envelope steps and the weighted selection ------------------------------ */

typedef struct step
{
	double		slope;
	double		cost;
} step;

/*
 * The steps of one customer's envelope: from (0, 0), the upper concave hull
 * of the options sorted by cost that gain more than every cheaper one.
 * hull is scratch for count + 1 vertices.  Returns the number of steps.
 */
static size_t
customer_steps(const clv_offer *o, size_t count, clv_offer *hull, step *out)
{
	size_t		h = 1;

	hull[0].cost = 0;
	hull[0].gain = 0;
	for (size_t i = 0; i < count; i++)
	{
		if (o[i].gain <= hull[h - 1].gain || o[i].cost == hull[h - 1].cost)
			continue;
		while (h >= 2 && !strictly_above(hull[h - 2].cost, hull[h - 2].gain,
										 hull[h - 1].cost, hull[h - 1].gain,
										 o[i].cost, o[i].gain))
			h--;
		hull[h++] = o[i];
	}
	for (size_t k = 0; k + 1 < h; k++)
	{
		out[k].cost = hull[k + 1].cost - hull[k].cost;
		out[k].slope = (hull[k + 1].gain - hull[k].gain) / out[k].cost;
	}
	return h - 1;
}

/*
 * Walks the customers of offers in canonical order, one envelope at a time:
 * the steps of each customer in turn, from scratch that grows with the
 * largest customer.
 */
typedef struct step_walk
{
	const clv_offer *v;
	size_t		n;
	size_t		i;				/* the next customer's first offer */
	bool		grouped;
	size_t		cap;
	clv_offer  *options;		/* cap */
	clv_offer  *hull;			/* cap + 1 */
	step	   *steps;			/* cap */
} step_walk;

static void
walk_start(step_walk *w, const clv_offer *v, size_t n, bool grouped)
{
	memset(w, 0, sizeof(*w));
	w->v = v;
	w->n = n;
	w->grouped = grouped;
}

static void
walk_end(step_walk *w)
{
	clv_release(w->options);
	clv_release(w->hull);
	clv_release(w->steps);
}

/* The next customer's steps into w->steps; false after the last customer. */
static bool
walk_next(step_walk *w, size_t *m)
{
	size_t		k;

	if (w->i >= w->n)
		return false;
	k = group_length(w->v + w->i, w->n - w->i, w->grouped);
	if (k > w->cap)
	{
		walk_end(w);
		w->cap = k < 64 ? 64 : k;
		w->options = clv_alloc(w->cap * sizeof(clv_offer));
		w->hull = clv_alloc((w->cap + 1) * sizeof(clv_offer));
		w->steps = clv_alloc(w->cap * sizeof(step));
	}
	memcpy(w->options, w->v + w->i, k * sizeof(clv_offer));
	sort_small(w->options, k, sizeof(clv_offer), compare_options);
	*m = customer_steps(w->options, k, w->hull, w->steps);
	w->i += k;
	if ((w->i & 0xFFFFF) < k)
		clv_check_interrupts();
	return true;
}

/* A compensated running sum. */
typedef struct ksum
{
	double		hi;
	double		lo;
} ksum;

static inline void
ksum_add(ksum *s, double x)
{
	double		e;

	s->hi = clv_two_sum(s->hi, x, &e);
	s->lo += e;
}

static inline double
ksum_value(const ksum *s)
{
	return s->hi + s->lo;
}

static inline double
median3(double a, double b, double c)
{
	if (a > b)
	{
		double		t = a;

		a = b;
		b = t;
	}
	return c <= a ? a : (c >= b ? b : c);
}

/*
 * Among the steps s (m of them), with `taken` already spent on steeper ones:
 * the slope at which the cumulative cost, steepest first, first exceeds the
 * budget, max{p : taken + cost of steps with slope >= p > budget}; NaN when
 * every step fits.  Quickselect with three-way partitions, so ties cost
 * nothing.  Reorders s.
 */
static double
price_by_selection(step *s, size_t m, ksum taken, double budget)
{
	size_t		lo = 0,
				hi = m;

	while (lo < hi)
	{
		double		p = median3(s[lo].slope, s[lo + (hi - lo) / 2].slope, s[hi - 1].slope);
		size_t		a = lo,
					i = lo,
					b = hi;
		ksum		with_gt = taken,
					with_eq;

		/* [lo, a) steeper than p, [a, b) equal, [b, hi) flatter */
		while (i < b)
		{
			step		t = s[i];

			if (t.slope > p)
			{
				s[i++] = s[a];
				s[a++] = t;
			}
			else if (t.slope < p)
			{
				s[i] = s[--b];
				s[b] = t;
			}
			else
				i++;
		}
		for (size_t j = lo; j < a; j++)
			ksum_add(&with_gt, s[j].cost);
		with_eq = with_gt;
		for (size_t j = a; j < b; j++)
			ksum_add(&with_eq, s[j].cost);
		if (ksum_value(&with_gt) > budget)
			hi = a;
		else if (ksum_value(&with_eq) > budget)
			return p;
		else
		{
			taken = with_eq;
			lo = b;
		}
		clv_check_interrupts();
	}
	return NAN;
}

/*
 * Slopes are positive: the bits of a double order them as the values do, and
 * their top 16 bits (sign, exponent, 4 bits of mantissa) make buckets of a
 * sixteenth of an octave.
 */
#define SLOPE_BUCKETS 32768

static inline uint32_t
slope_bucket(double slope)
{
	uint64_t	bits;

	memcpy(&bits, &slope, sizeof(bits));
	return (uint32_t) (bits >> 48) & (SLOPE_BUCKETS - 1);
}

/*
 * The LP relaxation's price: max{p : cost of the steps with slope >= p >
 * budget}, 0 when every step fits.  Two walks over the customers instead of
 * an array of every step: the first sums the steps' costs by slope bucket,
 * which finds the bucket where the budget runs out; the second keeps only
 * that bucket's steps, for an exact selection among them.
 */
static double
price_of(const clv_offer *v, size_t n, bool grouped, double budget)
{
	ksum	   *sums = clv_alloc(SLOPE_BUCKETS * sizeof(ksum));
	size_t	   *counts = clv_alloc(SLOPE_BUCKETS * sizeof(size_t));
	ksum		taken = {0, 0};
	step_walk	w;
	step	   *critical;
	size_t		m,
				kept = 0;
	int64_t		b;
	double		price;

	memset(sums, 0, SLOPE_BUCKETS * sizeof(ksum));
	memset(counts, 0, SLOPE_BUCKETS * sizeof(size_t));
	walk_start(&w, v, n, grouped);
	while (walk_next(&w, &m))
		for (size_t j = 0; j < m; j++)
		{
			uint32_t	k = slope_bucket(w.steps[j].slope);

			ksum_add(&sums[k], w.steps[j].cost);
			counts[k]++;
		}
	walk_end(&w);

	for (b = SLOPE_BUCKETS - 1; b >= 0; b--)
	{
		ksum		with = taken;

		ksum_add(&with, sums[b].hi);
		ksum_add(&with, sums[b].lo);
		if (counts[b] > 0 && ksum_value(&with) > budget)
			break;
		taken = with;
	}
	if (b < 0)
	{
		clv_release(sums);
		clv_release(counts);
		return 0;				/* every step fits */
	}

	critical = clv_alloc(counts[b] * sizeof(step));
	walk_start(&w, v, n, grouped);
	while (walk_next(&w, &m))
		for (size_t j = 0; j < m; j++)
			if (slope_bucket(w.steps[j].slope) == (uint32_t) b)
				critical[kept++] = w.steps[j];
	walk_end(&w);
	price = price_by_selection(critical, kept, taken, budget);
	/* the bucket's sum in another order may round the other way: its flattest step */
	if (isnan(price))
	{
		price = INFINITY;
		for (size_t j = 0; j < kept; j++)
			price = fmin(price, critical[j].slope);
	}
	clv_release(critical);
	clv_release(sums);
	clv_release(counts);
	return price;
}

double
clv_threshold_rule_spend(const clv_offer *v, size_t n, bool grouped, double lambda)
{
	ksum		spend = {0, 0};

	for (size_t i = 0; i < n;)
	{
		size_t		k = group_length(v + i, n - i, grouped);
		double		best = 0,
					best_cost = 0;
		bool		taken = false;

		for (size_t j = i; j < i + k; j++)
		{
			double		net = v[j].gain - lambda * v[j].cost;

			if (net > best || (taken && net == best && v[j].cost < best_cost))
			{
				best = net;
				best_cost = v[j].cost;
				taken = true;
			}
		}
		if (taken)
			ksum_add(&spend, best_cost);
		i += k;
	}
	return ksum_value(&spend);
}

/* The smallest step slope above lambda, or +inf. */
static double
next_slope(const clv_offer *v, size_t n, bool grouped, double lambda)
{
	double		next = INFINITY;
	step_walk	w;
	size_t		m;

	walk_start(&w, v, n, grouped);
	while (walk_next(&w, &m))
		for (size_t j = 0; j < m; j++)
			if (w.steps[j].slope > lambda && w.steps[j].slope < next)
				next = w.steps[j].slope;
	walk_end(&w);
	return next;
}

/*
 * Raise lambda until the rule, in double arithmetic, spends within the
 * budget: a few ulps at a time (rounding of gain − λ·cost), then to the
 * next step's slope, and on by doubling strides.  Above every slope no
 * option is taken, so this ends.
 */
static double
verified_price(const clv_offer *v, size_t n, bool grouped, double budget, double lambda,
			   double *spend)
{
	int			tries = 0;
	double		stride = 0;

	while ((*spend = clv_threshold_rule_spend(v, n, grouped, lambda)) > budget)
	{
		clv_check_interrupts();
		tries++;
		if (tries <= 4)
			lambda = nextafter(lambda, INFINITY);
		else if (tries == 5)
		{
			double		next = next_slope(v, n, grouped, lambda);

			lambda = isinf(next) ? nextafter(lambda, INFINITY) : next;
		}
		else
		{
			if (stride == 0)
				stride = nextafter(lambda, INFINITY) - lambda;
			stride *= 2;
			lambda += stride;
		}
	}
	return lambda;
}

clv_status
clv_budget_threshold(const clv_offers *offers, bool grouped, double budget, double *lambda,
					 double *spend, clv_error *err)
{
	const clv_offer *v = offers->v;
	clv_offer  *copy = NULL;

	(void) err;
	if (grouped && offers->many_runs)
		v = copy = radix_sort_by_customer(offers->v, offers->n);
	else if (grouped && offers->n_runs > 1)
		v = copy = merge_runs(offers);
	else if (!grouped)
	{
		copy = clv_alloc_huge(offers->n * sizeof(clv_offer));
		memcpy(copy, offers->v, offers->n * sizeof(clv_offer));
		clv_sort(copy, offers->n, sizeof(clv_offer), compare_offers, NULL);
		v = copy;
	}
	*lambda = verified_price(v, offers->n, grouped, budget,
							 price_of(v, offers->n, grouped, budget), spend);
	clv_release(copy);
	return CLV_OK;
}
