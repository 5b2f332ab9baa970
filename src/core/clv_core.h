/*
 * clv_core.h — shared definitions of the numerical core.
 *
 * The core is plain C and GSL: it knows nothing of PostgreSQL, so it can be
 * unit-tested, sanitised and fuzzed without a server.  The glue layer plugs
 * in an allocator (palloc, so an ERROR frees everything) and an interrupt
 * check through clv_runtime; errors travel back as a clv_error value.
 */
#ifndef CLV_CORE_H
#define CLV_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <math.h>

/* What went wrong, in terms the glue maps to a SQLSTATE. */
typedef enum clv_status
{
	CLV_OK = 0,
	CLV_ERR_INVALID,			/* bad argument or option value (22023) */
	CLV_ERR_DATA,				/* data unfit for the computation (22000) */
	CLV_ERR_SINGULAR,			/* singular or rank-deficient design (22000) */
	CLV_ERR_CORRUPT,			/* malformed model bytes (22P03) */
	CLV_ERR_UNSUPPORTED,		/* newer format or unknown kind (0A000) */
	CLV_ERR_LIMIT,				/* size limit exceeded (54000) */
	CLV_ERR_NOCONVERGE,			/* optimiser did not converge (22000) */
	CLV_ERR_INTERNAL			/* broken invariant (XX000) */
} clv_status;

typedef struct clv_error
{
	clv_status	status;
	char		message[256];	/* primary message, PostgreSQL style */
	char		detail[256];	/* full sentence or empty */
	char		hint[256];		/* full sentence or empty */
} clv_error;

/* Record an error; returns the status so callers can `return clv_fail(...)`. */
clv_status	clv_fail(clv_error *err, clv_status status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
void		clv_set_detail(clv_error *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
void		clv_set_hint(clv_error *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/*
 * The capacity for `need` training rows of row_bytes each, growing from
 * *cap: doubled (from 1,024) until it holds them, at most max_bytes (0: no
 * limit) in all.  CLV_ERR_LIMIT when the rows themselves exceed the limit.
 */
clv_status	clv_rows_capacity(size_t *cap, size_t need, size_t row_bytes, size_t max_bytes,
							  clv_error *err);

/*
 * Whether fixed_bytes plus n_items of item_bytes each come to at most limit,
 * without overflowing on the way.
 */
static inline bool
clv_bytes_fit(size_t n_items, size_t item_bytes, size_t fixed_bytes, size_t limit)
{
	return fixed_bytes <= limit &&
		(item_bytes == 0 || n_items <= (limit - fixed_bytes) / item_bytes);
}

/*
 * Hooks set by the host.  alloc never returns NULL (it raises instead);
 * check_interrupts may not return (a cancelled query).  Defaults use
 * malloc/free and do nothing, for the unit tests.
 */
typedef struct clv_runtime
{
	void	   *(*alloc) (size_t size);
	void		(*release) (void *ptr);
	void		(*check_interrupts) (void);
	/* whether check_interrupts would not return: for loops holding malloc'd memory */
	bool		(*interrupt_pending) (void);
	/*
	 * SHA-256 of a (alen bytes) then b (blen bytes) into out (32 bytes), when
	 * the host has a faster one than the core's (model digests); may raise.
	 */
	void		(*sha256) (const void *a, size_t alen, const void *b, size_t blen,
						   unsigned char *out);
	/*
	 * Resize a block from alloc, keeping its first min(old, new) bytes, like
	 * realloc (never NULL, like alloc).  A host whose large blocks are their
	 * own mappings can grow them without copying: growing training rows.
	 */
	void	   *(*resize) (void *ptr, size_t size);
} clv_runtime;

extern clv_runtime clv_rt;

static inline void *
clv_alloc(size_t size)
{
	return clv_rt.alloc(size ? size : 1);
}

static inline void *
clv_resize(void *ptr, size_t size)
{
	return ptr ? clv_rt.resize(ptr, size ? size : 1) : clv_alloc(size);
}

/*
 * Advise the kernel to back [ptr, ptr + len) with huge pages where it can
 * (Linux transparent huge pages in "madvise" mode): first touches of a
 * buffer of training rows then fault once per 2 MB instead of per 4 kB,
 * which on some virtual machines is most of the cost of filling it.
 * Advice only: nothing changes where it is not supported.
 */
void		clv_advise_huge_pages(void *ptr, size_t len);

/* clv_alloc of a large array that is filled at once, advised to huge pages. */
void	   *clv_alloc_huge(size_t size);

/*
 * A buffer (from clv_alloc, or NULL) grown to size bytes with its first
 * used bytes kept: a new block advised to huge pages, a copy, the old block
 * released.  For buffers that grow to many megabytes by doubling: where a
 * page fault is dear (virtual machines), faulting the new block in 2 MB
 * pages and copying costs a fraction of growing in place, whose remapped
 * and new pages fault 4 kB at a time.
 */
void	   *clv_grow_buffer(void *ptr, size_t used, size_t size);

static inline void
clv_release(void *ptr)
{
	if (ptr)
		clv_rt.release(ptr);
}

static inline bool
clv_interrupt_pending(void)
{
	return clv_rt.interrupt_pending && clv_rt.interrupt_pending();
}

static inline void
clv_check_interrupts(void)
{
	if (clv_rt.check_interrupts)
		clv_rt.check_interrupts();
}

/*
 * Knuth's two-sum: returns a + b rounded and stores the rounding error, so
 * running sums can be kept as unevaluated hi + lo pairs (double-double).
 */
static inline double
clv_two_sum(double a, double b, double *err)
{
	double		s = a + b;
	double		bb = s - a;

	*err = (a - (s - bb)) + (b - bb);
	return s;
}

/* Add x to the double-double sum (*hi, *lo). */
static inline void
clv_dd_add(double *hi, double *lo, double x)
{
	double		err;

	*hi = clv_two_sum(*hi, x, &err);
	*lo += err;
}

/* The logistic function 1 / (1 + e^−eta), without overflow for either sign. */
static inline double
clv_logistic(double eta)
{
	return eta >= 0 ? 1.0 / (1.0 + exp(-eta)) : exp(eta) / (1.0 + exp(eta));
}

/*
 * A 64-bit mixer (splitmix64's finaliser): every input bit reaches every
 * output bit, so hash tables keyed by doubles whose low mantissa bits are
 * zero (whole numbers) still spread.
 */
static inline uint64_t
clv_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* CRC-32C (Castagnoli), as used by the model container. */
uint32_t	clv_crc32c(uint32_t crc, const void *data, size_t len);

/* SHA-256 (FIPS 180-4): the content digest of format-version-2 models. */
#define CLV_SHA256_SIZE 32

typedef struct clv_sha256
{
	uint32_t	state[8];
	uint64_t	total;			/* bytes hashed so far */
	size_t		used;			/* bytes waiting in block */
	unsigned char block[64];
} clv_sha256;

void		clv_sha256_init(clv_sha256 *ctx);
void		clv_sha256_update(clv_sha256 *ctx, const void *data, size_t len);
void		clv_sha256_final(clv_sha256 *ctx, unsigned char digest[CLV_SHA256_SIZE]);

#endif							/* CLV_CORE_H */
