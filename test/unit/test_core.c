/*
 * test_core.c — unit tests of the numerical core, without a server.
 *
 * A self-contained TAP producer: one "ok N - ..." or "not ok N - ..." line
 * per check, then "1..N"; the exit status is 1 when any check failed.
 *
 * References are computed independently of the core: GSL's SVD-based
 * gsl_multifit_wlinear for least squares, LU solves of closed forms for
 * ridge, a plain Newton iteration in raw coordinates for logistic
 * regression, published values, and a byte-level encoder written here from
 * the documented container layout.
 *
 * Build and run: make unit (or make unit-san) PG_CONFIG=...
 */
#include "clv_core.h"
#include "linear.h"
#include "model.h"
#include "rows.h"
#include "summary.h"
#include "btyd_internal.h"
#include "sort.h"

#include <float.h>
#include <math.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tap.h"

/* ---- TAP output ---------------------------------------------------------- */

/* Largest |got - want| over the vector, relative to the largest |want|. */
static double
vec_rel_err(const double *got, const double *want, size_t k)
{
	double		err = 0,
				norm = 0;

	for (size_t i = 0; i < k; i++)
	{
		err = fmax(err, fabs(got[i] - want[i]));
		norm = fmax(norm, fabs(want[i]));
		if (isnan(got[i]) || isnan(want[i]))
			return INFINITY;
	}
	return norm > 0 ? err / norm : err;
}

/* Relative error of each entry on its own (for standard errors). */
static double
max_entry_rel_err(const double *got, const double *want, size_t k)
{
	double		err = 0;

	for (size_t i = 0; i < k; i++)
	{
		double		e = fabs(got[i] - want[i]) / fabs(want[i]);

		if (isnan(e))
			return INFINITY;
		err = fmax(err, e);
	}
	return err;
}

static bool
check_vec(const double *got, const double *want, size_t k, double tol,
		  const char *what)
{
	double		e = vec_rel_err(got, want, k);

	if (!check(e <= tol, "%s (relative error %.2g <= %g)", what, e, tol))
		for (size_t i = 0; i < k; i++)
			diag("  [%zu] got %.17g want %.17g", i, got[i], want[i]);
	return e <= tol;
}

/* ---- deterministic random numbers ---------------------------------------- */

/* splitmix64: the same stream on every platform and libc. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static void
rng_seed(uint64_t seed)
{
	rng_state = seed;
}

static double
rng_uniform(void)
{
	uint64_t	z = (rng_state += 0x9E3779B97F4A7C15u);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	z ^= z >> 31;
	return ((z >> 11) + 0.5) * 0x1.0p-53;	/* in (0, 1) */
}

static double
rng_normal(void)
{
	return sqrt(-2 * log(rng_uniform())) * cos(2 * M_PI * rng_uniform());
}

static double
sigmoid(double eta)
{
	return eta >= 0 ? 1 / (1 + exp(-eta)) : exp(eta) / (1 + exp(eta));
}

/* ---- CRC-32C --------------------------------------------------------------- */

static void
test_crc32c(void)
{
	unsigned char zeros[32],
				ones[32],
				ascending[32];

	memset(zeros, 0, sizeof(zeros));
	memset(ones, 0xFF, sizeof(ones));
	for (int i = 0; i < 32; i++)
		ascending[i] = (unsigned char) i;

	/* check value of the CRC catalogue, and RFC 3720 (iSCSI) B.4 vectors */
	check(clv_crc32c(0, "123456789", 9) == 0xE3069283u,
		  "crc32c(\"123456789\") = 0xE3069283");
	check(clv_crc32c(0, "", 0) == 0, "crc32c of no bytes is 0");
	check(clv_crc32c(0, zeros, 32) == 0x8A9136AAu, "crc32c of 32 zero bytes = 0x8A9136AA");
	check(clv_crc32c(0, ones, 32) == 0x62A8AB43u, "crc32c of 32 0xFF bytes = 0x62A8AB43");
	check(clv_crc32c(0, ascending, 32) == 0x46DD794Eu,
		  "crc32c of bytes 0..31 = 0x46DD794E");
	check(clv_crc32c(clv_crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u,
		  "crc32c can be computed incrementally");
}

/* ---- SHA-256 ---------------------------------------------------------------- */

static bool
sha256_is(const void *data, size_t len, size_t step, const char *hex)
{
	clv_sha256	ctx;
	unsigned char d[CLV_SHA256_SIZE];
	char		got[2 * CLV_SHA256_SIZE + 1];

	clv_sha256_init(&ctx);
	for (size_t off = 0; off < len; off += step)
		clv_sha256_update(&ctx, (const unsigned char *) data + off, len - off < step ? len - off : step);
	clv_sha256_final(&ctx, d);
	for (int i = 0; i < CLV_SHA256_SIZE; i++)
		snprintf(got + 2 * i, 3, "%02x", d[i]);
	return strcmp(got, hex) == 0;
}

static void
test_sha256(void)
{
	static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	unsigned char *million = clv_alloc(1000000);

	/* FIPS 180-4 examples, and the one-million-'a' vector */
	check(sha256_is("", 0, 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
		  "sha256 of no bytes");
	check(sha256_is("abc", 3, 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
		  "sha256(\"abc\")");
	check(sha256_is(two_blocks, 56, 56, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
		  "sha256 of the 56-byte two-block message");
	check(sha256_is(two_blocks, 56, 5, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
		  "sha256 computed in pieces of 5 bytes");
	memset(million, 'a', 1000000);
	check(sha256_is(million, 1000000, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
		  "sha256 of one million 'a'");
	check(sha256_is(million, 1000000, 777, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
		  "sha256 of one million 'a' in pieces of 777 bytes");
	clv_release(million);
}

/* ---- the size check of serialized aggregate states -------------------------- */

static void
test_bytes_fit(void)
{
	/* what a bytea holds: MaxAllocSize less its header and a terminating byte */
	const size_t limit = 0x3fffffff - 4 - 1;

	check(clv_bytes_fit(0, 16, 12, limit), "no rows fit");
	check(clv_bytes_fit((limit - 12) / 16, 16, 12, limit), "the largest state that fits, fits");
	check(!clv_bytes_fit((limit - 12) / 16 + 1, 16, 12, limit), "one row more does not");
	check(!clv_bytes_fit(1, 0, limit + 1, limit), "a header past the limit does not");
	check(clv_bytes_fit(SIZE_MAX, 0, 8, limit), "rows of no bytes fit");
	check(!clv_bytes_fit(SIZE_MAX / 8 + 2, 16, 0, limit),
		  "a product that overflows size_t does not fit (no wrap-around)");
	check(!clv_bytes_fit((size_t) 1 << 40, 4 * 1000 + 8, 0, limit),
		  "2^40 rows of 1000 features do not fit");
}

/* ---- sorts that can be cancelled -------------------------------------------- */

static long sort_polls;

static void
count_poll(void)
{
	sort_polls++;
}

typedef struct keyed
{
	double		key;
	int			seq;
} keyed;

static int
compare_keyed(const void *a, const void *b, void *arg)
{
	double		x = ((const keyed *) a)->key,
				y = ((const keyed *) b)->key;

	(void) arg;
	return (x > y) - (x < y);
}

static void
test_sort(void)
{
	size_t		n = 300000;
	keyed	   *v = malloc(n * sizeof(keyed));
	bool		ok = true;
	clv_patterns p;
	clv_error	err;

	/* few distinct keys, so stability shows: equal keys keep their order */
	for (size_t i = 0; i < n; i++)
		v[i] = (keyed) {(double) ((i * 7919) % 101), (int) i};
	clv_rt.check_interrupts = count_poll;
	sort_polls = 0;
	clv_sort(v, n, sizeof(keyed), compare_keyed, NULL);
	for (size_t i = 1; i < n; i++)
		ok &= v[i - 1].key < v[i].key || (v[i - 1].key == v[i].key && v[i - 1].seq < v[i].seq);
	check(ok, "clv_sort sorts 300,000 elements by key, stably");
	check(sort_polls > 0, "clv_sort checks for interrupts while it sorts (%ld checks)", sort_polls);
	free(v);

	/* the canonical order of BTYD patterns: a sort that can be cancelled too */
	clv_patterns_init(&p, 0);
	for (int i = (int) n; i > 0; i--)
		clv_patterns_add(&p, i % 50, 0, i, 1, &err);
	sort_polls = 0;
	clv_patterns_compact(&p);
	ok = true;
	for (size_t i = 1; i < p.n; i++)
		ok &= p.v[i - 1].x < p.v[i].x || (p.v[i - 1].x == p.v[i].x && p.v[i - 1].T < p.v[i].T);
	check(ok && p.n == n, "clv_patterns_compact sorts 300,000 patterns");
	check(sort_polls > 0, "clv_patterns_compact checks for interrupts while it sorts (%ld checks)",
		  sort_polls);
	clv_patterns_free(&p);
	clv_rt.check_interrupts = NULL;
}

/* ---- model container ------------------------------------------------------- */

static char *
dup_string(const char *s)
{
	size_t		n = strlen(s);
	char	   *d = clv_alloc(n + 1);

	memcpy(d, s, n + 1);
	return d;
}

/* A model owned the way the decoder owns one, so clv_model_free works. */
static clv_model *
make_model(clv_model_kind kind, uint32_t p, const char *const *names,
		   const char *meta, const double *coef)
{
	clv_model  *m = clv_alloc(sizeof(clv_model));

	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->n_features = p;
	if (names)
	{
		m->feature_names = clv_alloc(sizeof(char *) * p);
		for (uint32_t i = 0; i < p; i++)
			m->feature_names[i] = dup_string(names[i]);
	}
	m->meta = meta ? dup_string(meta) : NULL;
	m->coef = clv_alloc(sizeof(double) * (p + 1));
	memcpy(m->coef, coef, sizeof(double) * (p + 1));
	return m;
}

static bool
same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof(double)) == 0;
}

/* Field-by-field equality; a missing meta equals an empty one. */
static bool
models_equal(const clv_model *a, const clv_model *b)
{
	const char *ma = a->meta ? a->meta : "";
	const char *mb = b->meta ? b->meta : "";

	if (a->kind != b->kind || a->n_features != b->n_features || strcmp(ma, mb) != 0)
		return false;
	if ((a->feature_names == NULL) != (b->feature_names == NULL))
		return false;
	for (uint32_t i = 0; i < a->n_features && a->feature_names; i++)
		if (strcmp(a->feature_names[i], b->feature_names[i]) != 0)
			return false;
	for (uint32_t i = 0; i <= a->n_features; i++)
		if (!same_bits(a->coef[i], b->coef[i]))
			return false;
	return true;
}

/* Decode, expecting success: the caller frees the model. */
static clv_model *
decode_ok(const unsigned char *data, size_t len, const char *what)
{
	clv_model  *m;
	clv_error	err;
	clv_status	st = clv_model_decode(data, len, &m, &err);

	if (!check_status(st, CLV_OK, &err, what))
	{
		clv_model_free(m);
		return NULL;
	}
	return m;
}

/*
 * Decode, expecting a given failure.  keyword, when given, must appear in
 * the detail (or message): it shows which check fired, e.g. that a hand-made
 * body with a valid checksum reached the structural checks.
 */
static bool
decode_fails(const unsigned char *data, size_t len, clv_status want,
			 const char *keyword, const char *what)
{
	clv_model  *m = NULL;
	clv_error	err;
	clv_status	st;
	bool		ok;

	memset(&err, 0, sizeof(err));
	st = clv_model_decode(data, len, &m, &err);
	ok = st == want && err.status == want && err.message[0] != '\0';
	if (ok && keyword)
		ok = strstr(err.detail, keyword) != NULL || strstr(err.message, keyword) != NULL;
	if (!check(ok, "%s", what))
		diag("  status %d, want %d; message \"%s\"; detail \"%s\"; keyword \"%s\"",
			 (int) st, (int) want, err.message, err.detail, keyword ? keyword : "");
	clv_model_free(m);			/* a failed decode may leave a partial model */
	return ok;
}

/*
 * An encoder written from the layout documented in model.c, independent of
 * clv_model_encode, and able to break any rule on purpose.
 */
typedef struct model_spec
{
	uint16_t	version;
	uint16_t	kind;
	uint32_t	flags;
	uint32_t	n_features;		/* in the header */
	int64_t		body_len_delta; /* added to the true body length */
	uint32_t	crc_xor;		/* applied to the true checksum */
	uint32_t	n_names;		/* names "f1", "f2", ... written */
	const char *name_override;	/* if set, the first name */
	uint32_t	name_len_override;	/* if nonzero, the first name's stated length,
									 * and the bytes written if name_override is set */
	const char *meta;
	uint32_t	meta_len_extra; /* meta length claims more than given */
	uint32_t	coef_count;		/* the count written */
	uint32_t	coef_written;	/* coefficients actually written */
	int			bad_at;			/* index of a replaced coefficient, or -1 */
	double		bad_value;
	uint32_t	payload_len_delta;	/* payload length claims more */
	uint32_t	payload_pad;	/* junk inside the payload, after the coefficients */
	uint32_t	body_pad;		/* junk after the payload */
} model_spec;

/* A valid linear model with p features, names and metadata. */
static model_spec
valid_spec(uint32_t p)
{
	model_spec	s;

	memset(&s, 0, sizeof(s));
	s.version = 1;
	s.kind = CLV_KIND_LINREG;
	s.n_features = p;
	s.n_names = p;
	s.meta = "{\"n\": 10}";
	s.coef_count = p + 1;
	s.coef_written = p + 1;
	s.bad_at = -1;
	return s;
}

static void
put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char) (v >> (8 * i));
}

/* Coefficient i of a spec'd model: distinct, exactly representable values. */
static double
spec_coef(uint32_t i)
{
	return 0.25 * i - 1.5;
}

static void
build_model(const model_spec *s, clv_buf *out)
{
	clv_buf		body;
	clv_buf		payload;
	unsigned char header[CLV_MODEL_HEADER_SIZE];
	size_t		meta_len = s->meta ? strlen(s->meta) : 0;

	clv_buf_init(&body, 64);
	clv_buf_put_u32(&body, s->n_names);
	for (uint32_t i = 0; i < s->n_names; i++)
	{
		char		name[32];
		const char *nm = name;
		uint32_t	len;

		snprintf(name, sizeof(name), "f%u", i + 1);
		if (i == 0 && s->name_override)
			nm = s->name_override;
		len = (uint32_t) strlen(nm);
		if (i == 0 && s->name_len_override)
			len = s->name_len_override;
		clv_buf_put_u32(&body, len);
		clv_buf_put(&body, nm, (i == 0 && s->name_override && len) ? len : strlen(nm));
	}
	clv_buf_put_u32(&body, (uint32_t) meta_len + s->meta_len_extra);
	clv_buf_put(&body, s->meta, meta_len);

	clv_buf_init(&payload, 64);
	clv_buf_put_u32(&payload, s->coef_count);
	for (uint32_t i = 0; i < s->coef_written; i++)
		clv_buf_put_f64(&payload, (int) i == s->bad_at ? s->bad_value : spec_coef(i));
	for (uint32_t i = 0; i < s->payload_pad; i++)
		clv_buf_put(&payload, "\0", 1);
	clv_buf_put_u32(&body, (uint32_t) payload.len + s->payload_len_delta);
	clv_buf_put(&body, payload.data, payload.len);
	for (uint32_t i = 0; i < s->body_pad; i++)
		clv_buf_put(&body, "\x7f", 1);
	clv_release(payload.data);

	memcpy(header, "CLVM", 4);
	put_le(header + 4, s->version, 2);
	put_le(header + 6, s->kind, 2);
	put_le(header + 8, s->flags, 4);
	put_le(header + 12, s->n_features, 4);
	put_le(header + 16, (uint64_t) ((int64_t) body.len + s->body_len_delta), 4);
	put_le(header + 20, clv_crc32c(clv_crc32c(0, header, 20), body.data, body.len) ^ s->crc_xor, 4);

	clv_buf_init(out, CLV_MODEL_HEADER_SIZE + body.len);
	clv_buf_put(out, header, CLV_MODEL_HEADER_SIZE);
	clv_buf_put(out, body.data, body.len);
	clv_release(body.data);
}

/* The documented checksum: CRC-32C of header bytes 0..19, then the body. */
static uint32_t
container_crc(const unsigned char *model, size_t len)
{
	return clv_crc32c(clv_crc32c(0, model, 20), model + 24, len - 24);
}

/* Version 2: CRC-32C of header bytes 0..19 and the digest at 24..55. */
static uint32_t
header_crc_v2(const unsigned char *model)
{
	return clv_crc32c(clv_crc32c(0, model, 20), model + 24, 32);
}

/* Version 2: the digest is SHA-256 of header bytes 0..19, then the body. */
static bool
digest_v2_ok(const unsigned char *model, size_t len)
{
	clv_sha256	ctx;
	unsigned char d[32];

	clv_sha256_init(&ctx);
	clv_sha256_update(&ctx, model, 20);
	clv_sha256_update(&ctx, model + 56, len - 56);
	clv_sha256_final(&ctx, d);
	return memcmp(d, model + 24, 32) == 0;
}

/* Build, decode expecting failure, free. */
static void
spec_fails(const model_spec *s, clv_status want, const char *keyword,
		   const char *what)
{
	clv_buf		b;

	build_model(s, &b);
	decode_fails(b.data, b.len, want, keyword, what);
	clv_release(b.data);
}

/* Encode → decode → compare → re-encode byte-exact, for one model. */
static void
round_trip(const clv_model *m, const char *what)
{
	clv_buf		a;
	clv_buf		b;
	clv_model  *d;
	clv_error	err;

	clv_model_encode(m, &a);
	check(a.len >= CLV_MODEL_HEADER_SIZE_V2 && memcmp(a.data, "CLVM", 4) == 0 &&
		  a.data[4] == 2 && a.data[5] == 0 &&
		  a.data[6] == (unsigned char) m->kind && a.data[7] == 0 &&
		  a.data[8] == 0 && a.data[9] == 0 && a.data[10] == 0 && a.data[11] == 0 &&
		  a.data[12] == (unsigned char) m->n_features &&
		  a.data[16] == (unsigned char) (a.len - CLV_MODEL_HEADER_SIZE_V2) &&
		  a.data[20] == (unsigned char) header_crc_v2(a.data) &&
		  digest_v2_ok(a.data, a.len),
		  "%s: header fields (magic, version 2, kind, flags 0, count, length, crc, digest)", what);
	check(clv_model_check_header(a.data, a.len, &err) == CLV_OK,
		  "%s: clv_model_check_header accepts the encoding", what);
	d = decode_ok(a.data, a.len, what);
	if (d == NULL)
	{
		clv_release(a.data);
		return;
	}
	check(models_equal(m, d), "%s: decoded model equals the original (coefficients bitwise)", what);
	clv_model_encode(d, &b);
	check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
		  "%s: re-encoding is byte-identical (%zu bytes)", what, a.len);
	clv_release(a.data);
	clv_release(b.data);
	clv_model_free(d);

	/* written as format version 1, read back and written again the same */
	clv_model_encode_version(m, 1, &a);
	check(a.data[4] == 1 && a.data[20] == (unsigned char) container_crc(a.data, a.len),
		  "%s: version-1 header (version 1, crc over header and body)", what);
	d = decode_ok(a.data, a.len, what);
	if (d != NULL)
	{
		check(models_equal(m, d) && d->format_version == 1,
			  "%s: version-1 encoding decodes to the same model", what);
		clv_model_encode_version(d, 1, &b);
		check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
			  "%s: version-1 re-encoding is byte-identical", what);
		clv_release(b.data);
		clv_model_free(d);
	}
	clv_release(a.data);
}

static void
test_model_round_trip(void)
{
	const char *const names3[] = {"recency", "frequency", "monetary"};
	const char *const odd_names[] = {"", "caf\xc3\xa9 \xe2\x82\xac", "a \"quoted\" name"};
	const double coef3[] = {0.5, -2.25, 1e-300, 3.0e12};
	const double extreme[] = {-0.0, DBL_MAX, -DBL_MAX, 4.9e-324};
	clv_model  *m;

	m = make_model(CLV_KIND_LINREG, 3, names3, "{\"n\": 100, \"l2\": 0}", coef3);
	round_trip(m, "linreg with names and metadata");
	clv_model_free(m);

	m = make_model(CLV_KIND_LINREG, 3, NULL, NULL, coef3);
	round_trip(m, "linreg without names or metadata");
	clv_model_free(m);

	m = make_model(CLV_KIND_LOGREG, 3, names3, "{\"kind\": \"churn\"}", coef3);
	round_trip(m, "logreg with names and metadata");
	clv_model_free(m);

	m = make_model(CLV_KIND_LOGREG, 3, NULL, "{}", extreme);
	round_trip(m, "logreg without names, extreme finite and signed-zero coefficients");
	clv_model_free(m);

	m = make_model(CLV_KIND_LINREG, 3, odd_names, "", coef3);
	round_trip(m, "linreg with empty, UTF-8 and quoted feature names");
	clv_model_free(m);

	/* the hand-written encoder must agree with clv_model_encode */
	{
		model_spec	s = valid_spec(3);
		const char *const fn[] = {"f1", "f2", "f3"};
		double		c[4];
		clv_buf		a;
		clv_buf		b;

		for (uint32_t i = 0; i < 4; i++)
			c[i] = spec_coef(i);
		m = make_model(CLV_KIND_LINREG, 3, fn, s.meta, c);
		clv_model_encode_version(m, 1, &a);
		build_model(&s, &b);
		check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
			  "clv_model_encode_version(1) matches the documented layout written independently");
		clv_release(a.data);
		/* version 2: the same body after a 56-byte header */
		clv_model_encode(m, &a);
		check(a.len == b.len + 32 && memcmp(a.data, b.data, 20) != 0 &&
			  memcmp(a.data + 56, b.data + 24, b.len - 24) == 0 &&
			  memcmp(a.data + 6, b.data + 6, 10) == 0,
			  "clv_model_encode writes the version-1 body after a version-2 header");
		clv_release(a.data);
		clv_release(b.data);
		clv_model_free(m);
	}

	/*
	 * Golden bytes of format version 1: a model written today must stay
	 * readable.  linreg, feature "x", metadata "{}", coefficients 1.5, -2.
	 */
	{
		static const unsigned char golden[] = {
			'C', 'L', 'V', 'M', 1, 0, 1, 0,
			0, 0, 0, 0, 1, 0, 0, 0,
			39, 0, 0, 0, 0x58, 0x0e, 0x75, 0x5d,
			1, 0, 0, 0, 1, 0, 0, 0, 'x',
			2, 0, 0, 0, '{', '}',
			20, 0, 0, 0, 2, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0xf8, 0x3f,
			0, 0, 0, 0, 0, 0, 0x00, 0xc0
		};
		const double want_coef[] = {1.5, -2.0};
		const char *const want_names[] = {"x"};
		clv_model  *want = make_model(CLV_KIND_LINREG, 1, want_names, "{}", want_coef);
		clv_buf		enc;

		m = decode_ok(golden, sizeof(golden), "golden version-1 model decodes");
		check(m != NULL && models_equal(m, want), "golden version-1 model has the expected fields");
		clv_model_encode_version(want, 1, &enc);
		check(enc.len == sizeof(golden) && memcmp(enc.data, golden, enc.len) == 0,
			  "encoder still writes the golden version-1 bytes");
		clv_release(enc.data);
		clv_model_free(want);
		clv_model_free(m);
	}

	/*
	 * Golden bytes of format version 2 (clv 0.2.0): the same model after a
	 * 56-byte header whose digest is SHA-256 of bytes 0..19 and the body.
	 */
	{
		static const unsigned char golden[] = {
			0x43, 0x4c, 0x56, 0x4d, 0x02, 0x00, 0x01, 0x00,
			0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
			0x27, 0x00, 0x00, 0x00, 0xaa, 0xfa, 0x8f, 0x18,
			0x0a, 0xf5, 0x11, 0x0b, 0xbf, 0x7d, 0x61, 0x59,
			0x56, 0xb9, 0xf8, 0xc0, 0x06, 0x39, 0x48, 0x00,
			0xd7, 0xe4, 0xeb, 0x89, 0xfd, 0xe6, 0xf1, 0x5e,
			0xcb, 0x66, 0x99, 0x04, 0x35, 0xf3, 0x50, 0x41,
			0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
			0x78, 0x02, 0x00, 0x00, 0x00, 0x7b, 0x7d, 0x14,
			0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
			0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x00,
			0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0
		};
		const double want_coef[] = {1.5, -2.0};
		const char *const want_names[] = {"x"};
		clv_model  *want = make_model(CLV_KIND_LINREG, 1, want_names, "{}", want_coef);
		clv_buf		enc;

		m = decode_ok(golden, sizeof(golden), "golden version-2 model decodes");
		check(m != NULL && models_equal(m, want) && m->format_version == 2,
			  "golden version-2 model has the expected fields");
		clv_model_encode(want, &enc);
		check(enc.len == sizeof(golden) && memcmp(enc.data, golden, enc.len) == 0,
			  "encoder writes the golden version-2 bytes");
		clv_release(enc.data);
		clv_model_free(want);
		clv_model_free(m);
	}
}

/* Every truncation and every single-bit flip of one valid encoding. */
static void
exhaustive_corruption(const clv_buf *enc, const char *label)
{
	bool		all_ok = true;
	size_t		bad_at = 0;

	/* every proper prefix: a copy of exactly that length, so ASan sees overreads */
	for (size_t len = 0; len < enc->len && all_ok; len++)
	{
		unsigned char *copy = clv_alloc(len);
		clv_model  *d = NULL;
		clv_error	err;

		memcpy(copy, enc->data, len);
		if (clv_model_decode(copy, len, &d, &err) != CLV_ERR_CORRUPT)
		{
			all_ok = false;
			bad_at = len;
		}
		clv_model_free(d);
		clv_release(copy);
	}
	if (!check(all_ok, "%s: every truncation (0..%zu bytes) is rejected as corrupt",
			   label, enc->len - 1))
		diag("  first accepted or misclassified length: %zu", bad_at);

	/* every single-bit flip: the checksum or a header check must catch it */
	all_ok = true;
	for (size_t bit = 0; bit < enc->len * 8; bit++)
	{
		unsigned char *copy = clv_alloc(enc->len);
		clv_model  *d = NULL;
		clv_error	err;
		clv_status	st;

		memcpy(copy, enc->data, enc->len);
		copy[bit / 8] ^= (unsigned char) (1u << (bit % 8));
		st = clv_model_decode(copy, enc->len, &d, &err);
		if (st != CLV_ERR_CORRUPT && st != CLV_ERR_UNSUPPORTED)
		{
			if (all_ok)
				diag("  flip of bit %zu gave status %d", bit, (int) st);
			all_ok = false;
		}
		clv_model_free(d);
		clv_release(copy);
	}
	check(all_ok, "%s: every single-bit flip (%zu bits) is rejected", label, enc->len * 8);
}

static void
test_model_corruption(void)
{
	const char *const names[] = {"a", "b"};
	const double coef[] = {0.5, -1.25, 3.0};
	clv_model  *m;
	clv_buf		enc;

	m = make_model(CLV_KIND_LINREG, 2, NULL, "", coef);
	clv_model_encode(m, &enc);
	clv_model_free(m);
	exhaustive_corruption(&enc, "bare linreg");
	clv_release(enc.data);

	m = make_model(CLV_KIND_LOGREG, 2, names, "{\"rows\": 7}", coef);
	clv_model_encode(m, &enc);
	clv_model_free(m);
	exhaustive_corruption(&enc, "logreg with names and metadata");
	{
		/* the same as format version 1: its CRC covers everything */
		clv_model  *d = NULL;
		clv_error	err;
		clv_buf		v1;

		clv_model_decode(enc.data, enc.len, &d, &err);
		clv_model_encode_version(d, 1, &v1);
		exhaustive_corruption(&v1, "logreg with names and metadata, version 1");
		clv_release(v1.data);
		clv_model_free(d);
	}
	{
		/* version 2: what each part of the header guards */
		unsigned char *copy = clv_alloc(enc.len);
		unsigned char digest[CLV_MODEL_DIGEST_SIZE];
		uint16_t	version = 0;
		clv_error	err;

		check(clv_model_read_identity(enc.data, CLV_MODEL_HEADER_SIZE_V2, enc.len, &version,
									  digest, &err) == CLV_OK &&
			  version == 2 && memcmp(digest, enc.data + 24, 32) == 0,
			  "read_identity returns the digest from a 56-byte header slice");
		check(clv_model_read_identity(enc.data, CLV_MODEL_HEADER_SIZE_V2 - 1, enc.len, &version,
									  digest, &err) == CLV_ERR_CORRUPT,
			  "read_identity rejects a slice shorter than the version-2 header");
		memcpy(copy, enc.data, enc.len);
		copy[enc.len - 1] ^= 1;
		check(clv_model_read_identity(copy, CLV_MODEL_HEADER_SIZE_V2, enc.len, &version,
									  digest, &err) == CLV_OK,
			  "read_identity accepts a header whose body was changed (it reads no body)");
		check(!clv_model_digest_matches(copy, enc.len, &err) && strstr(err.detail, "digest") != NULL,
			  "digest_matches rejects a changed body");
		decode_fails(copy, enc.len, CLV_ERR_CORRUPT, "digest",
					 "version 2: a changed body byte fails the digest");
		memcpy(copy, enc.data, enc.len);
		copy[40] ^= 1;
		decode_fails(copy, enc.len, CLV_ERR_CORRUPT, "header checksum",
					 "version 2: a changed digest byte fails the header checksum");
		check(clv_model_read_identity(copy, CLV_MODEL_HEADER_SIZE_V2, enc.len, &version,
									  digest, &err) == CLV_ERR_CORRUPT,
			  "read_identity rejects a changed digest byte");
		memcpy(copy, enc.data, enc.len);
		copy[12] ^= 1;
		decode_fails(copy, enc.len, CLV_ERR_CORRUPT, "header checksum",
					 "version 2: a changed feature count fails the header checksum");
		clv_release(copy);
	}

	/* header fields, each with everything else valid */
	{
		unsigned char *copy = clv_alloc(enc.len);

		memcpy(copy, enc.data, enc.len);
		copy[0] = 'X';
		decode_fails(copy, enc.len, CLV_ERR_CORRUPT, "magic", "wrong magic is rejected");
		memcpy(copy, "PGCOPY\n", 7 < enc.len ? 7 : enc.len);
		decode_fails(copy, enc.len, CLV_ERR_CORRUPT, "magic", "foreign bytes are rejected");
		clv_release(copy);
	}
	{
		model_spec	s = valid_spec(2);

		s.version = 0;
		spec_fails(&s, CLV_ERR_CORRUPT, "version", "format version 0 is rejected as corrupt");
		s.version = 3;
		spec_fails(&s, CLV_ERR_UNSUPPORTED, "version", "future format version 3 is unsupported");
		s.version = 0xFFFF;
		spec_fails(&s, CLV_ERR_UNSUPPORTED, "version", "format version 65535 is unsupported");
	}
	{
		model_spec	s = valid_spec(2);

		s.kind = 0;
		spec_fails(&s, CLV_ERR_UNSUPPORTED, "kind", "model kind 0 is unknown");
		s.kind = 999;
		spec_fails(&s, CLV_ERR_UNSUPPORTED, "kind", "model kind 999 is unknown");
		s.kind = 0xFFFF;
		spec_fails(&s, CLV_ERR_UNSUPPORTED, "kind", "model kind 65535 is unknown");
	}
	{
		model_spec	s = valid_spec(2);

		s.flags = 1;
		spec_fails(&s, CLV_ERR_CORRUPT, "flags", "flag bit 0 is rejected");
		s.flags = 0x80000000u;
		spec_fails(&s, CLV_ERR_CORRUPT, "flags", "flag bit 31 is rejected");
	}
	{
		model_spec	s = valid_spec(2);

		s.body_len_delta = 1;
		spec_fails(&s, CLV_ERR_CORRUPT, "length", "body length one more than present is rejected");
		s.body_len_delta = -1;
		spec_fails(&s, CLV_ERR_CORRUPT, "length", "body length one less than present is rejected");
		s.body_len_delta = 0x7FFFFFFF;
		spec_fails(&s, CLV_ERR_CORRUPT, "length", "huge body length is rejected");
	}
	{
		model_spec	s = valid_spec(2);

		s.crc_xor = 0x00000100u;
		spec_fails(&s, CLV_ERR_CORRUPT, "checksum", "wrong checksum is rejected");
	}
	{
		model_spec	s = valid_spec(2);

		s.body_pad = 1;
		spec_fails(&s, CLV_ERR_CORRUPT, "trailing", "one trailing byte after the payload is rejected (valid crc)");
		s.body_pad = 9;
		spec_fails(&s, CLV_ERR_CORRUPT, "trailing", "nine trailing bytes after the payload are rejected (valid crc)");
		s.body_pad = 0;
		s.payload_pad = 8;
		spec_fails(&s, CLV_ERR_CORRUPT, "trailing", "trailing bytes inside the payload are rejected (valid crc)");
	}
	{
		model_spec	s = valid_spec(3);

		s.n_names = 2;
		spec_fails(&s, CLV_ERR_CORRUPT, "feature names", "fewer feature names than features are rejected");
		s.n_names = 4;
		spec_fails(&s, CLV_ERR_CORRUPT, "feature names", "more feature names than features are rejected");
		s.n_names = 3;
		s.name_override = "bad\0name";
		s.name_len_override = 8;
		spec_fails(&s, CLV_ERR_CORRUPT, "zero byte", "a feature name with a zero byte is rejected");
		s.name_override = NULL;
		s.name_len_override = CLV_MAX_NAME_LEN + 1;
		spec_fails(&s, CLV_ERR_CORRUPT, "name", "a feature name over the length limit is rejected");
		s.name_len_override = 0xFFFFFFFFu;
		spec_fails(&s, CLV_ERR_CORRUPT, "name", "a feature name length of 2^32-1 is rejected");
	}
	{
		model_spec	s = valid_spec(2);

		s.meta_len_extra = 1;
		spec_fails(&s, CLV_ERR_CORRUPT, "truncated", "a metadata length one too long (payload shifted) is rejected");
		s.meta_len_extra = 0xFFFFFFFFu - (uint32_t) strlen(s.meta);
		spec_fails(&s, CLV_ERR_CORRUPT, "metadata", "metadata length of 2^32-1 is rejected");
	}
	{
		/* metadata with an embedded zero byte, written by hand */
		model_spec	s = valid_spec(1);
		clv_buf		b;
		size_t		meta_at;

		s.meta = "{\"a\": 1}";
		build_model(&s, &b);
		/* header, name count, name length, "f1", meta length */
		meta_at = CLV_MODEL_HEADER_SIZE + 4 + 4 + 2 + 4;
		b.data[meta_at + 3] = '\0';
		put_le(b.data + 20, container_crc(b.data, b.len), 4);
		decode_fails(b.data, b.len, CLV_ERR_CORRUPT, "zero byte",
					 "metadata with a zero byte is rejected (valid crc)");
		clv_release(b.data);
	}
	{
		model_spec	s = valid_spec(2);

		s.payload_len_delta = 1;
		spec_fails(&s, CLV_ERR_CORRUPT, "payload", "payload length past the body is rejected");
	}
	{
		model_spec	s = valid_spec(2);
		const double bad[] = {NAN, INFINITY, -INFINITY};
		const char *label[] = {"NaN", "+Inf", "-Inf"};

		for (int b = 0; b < 3; b++)
			for (int at = 0; at < 3; at += 2)
			{
				char		what[96];

				s.bad_at = at;
				s.bad_value = bad[b];
				snprintf(what, sizeof(what), "%s coefficient %d is rejected (valid crc)", label[b], at);
				spec_fails(&s, CLV_ERR_CORRUPT, "not finite", what);
			}
	}
	{
		model_spec	s = valid_spec(2);

		s.coef_count = s.coef_written = 2;
		spec_fails(&s, CLV_ERR_CORRUPT, "coefficient count", "one coefficient too few is rejected");
		s.coef_count = s.coef_written = 4;
		spec_fails(&s, CLV_ERR_CORRUPT, "coefficient count", "one coefficient too many is rejected");
		s.coef_count = 3;
		s.coef_written = 2;
		spec_fails(&s, CLV_ERR_CORRUPT, "truncated", "a count larger than the coefficients present is rejected");
		s.coef_count = 0xFFFFFFFFu;
		s.coef_written = 3;
		spec_fails(&s, CLV_ERR_CORRUPT, "coefficient count", "a coefficient count of 2^32-1 is rejected");
	}
	{
		model_spec	s = valid_spec(0);

		spec_fails(&s, CLV_ERR_CORRUPT, "no features", "a model with no features is rejected");
		s = valid_spec(CLV_MAX_FEATURES + 1);
		s.n_names = 0;
		s.coef_count = s.coef_written = 1;
		spec_fails(&s, CLV_ERR_CORRUPT, "too many", "a header over the feature limit is rejected");
	}
	{
		/* the count in the header is not under the checksum: a mismatch must still fail */
		model_spec	s = valid_spec(2);

		s.n_features = 3;
		spec_fails(&s, CLV_ERR_CORRUPT, "feature names", "header feature count disagreeing with the names is rejected");
		s.n_names = 0;
		spec_fails(&s, CLV_ERR_CORRUPT, "coefficient count", "header feature count disagreeing with the coefficients is rejected");
	}
	{
		/* check_header alone: used to key the scoring cache */
		clv_error	err;

		check(clv_model_check_header(enc.data, CLV_MODEL_HEADER_SIZE - 1, &err) == CLV_ERR_CORRUPT,
			  "clv_model_check_header rejects a short header");
	}
	clv_release(enc.data);
}

static void
test_model_predict(void)
{
	const double c[] = {0.5, 2.0, -1.0};
	const double x[] = {3.0, 4.0};
	clv_model  *lin = make_model(CLV_KIND_LINREG, 2, NULL, NULL, c);
	clv_model  *log = make_model(CLV_KIND_LOGREG, 2, NULL, NULL, c);
	const double big[] = {0.0, 1000.0};
	clv_model  *sat = make_model(CLV_KIND_LOGREG, 1, NULL, NULL, big);
	double		xp = 1.0,
				xn = -1.0;

	check(clv_model_predict(lin, x) == 0.5 + 6.0 - 4.0, "linreg predicts the linear predictor exactly");
	check(fabs(clv_model_predict(log, x) - 1 / (1 + exp(-2.5))) < 1e-15,
		  "logreg predicts the logistic of the linear predictor (1e-15)");
	check(clv_model_predict(sat, &xp) == 1.0 && clv_model_predict(sat, &xn) == 0.0,
		  "logreg saturates to 1 and 0 without NaN at |eta| = 1000");
	clv_model_free(lin);
	clv_model_free(log);
	clv_model_free(sat);
}

/* ---- linear regression ------------------------------------------------------ */

/* Accumulate rows [from, to) of a row-major design. */
static void
acc_rows(clv_linreg_acc *acc, const double *x, const double *y, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		clv_linreg_acc_add(acc, y[i], x + i * acc->p);
}

static void
acc_free(clv_linreg_acc *acc)
{
	clv_release(acc->hi);
	clv_release(acc->lo);
}

static clv_status
fit_linear(uint32_t p, const double *x, const double *y, size_t n, double l2,
		   clv_regression_fit *fit, clv_error *err)
{
	clv_linreg_acc acc;
	clv_status	st;

	clv_linreg_acc_init(&acc, p);
	acc_rows(&acc, x, y, 0, n);
	st = clv_linreg_solve(&acc, l2, fit, err);
	acc_free(&acc);
	return st;
}

/*
 * Reference least squares with GSL's SVD solver on [1, x].  wlinear with unit
 * weights returns the unscaled (XᵀX)⁻¹; gsl_multifit_linear would return it
 * already multiplied by χ²/(n − k) in GSL 2.x.
 */
static void
reference_ols(uint32_t p, const double *x, const double *y, size_t n,
			  double *coef, double *se, double *rss)
{
	size_t		k = p + 1;
	gsl_matrix *X = gsl_matrix_alloc(n, k);
	gsl_vector *w = gsl_vector_alloc(n);
	gsl_vector *yv = gsl_vector_alloc(n);
	gsl_vector *c = gsl_vector_alloc(k);
	gsl_matrix *cov = gsl_matrix_alloc(k, k);
	gsl_multifit_linear_workspace *ws = gsl_multifit_linear_alloc(n, k);
	double		chisq;

	for (size_t i = 0; i < n; i++)
	{
		gsl_matrix_set(X, i, 0, 1.0);
		for (uint32_t j = 0; j < p; j++)
			gsl_matrix_set(X, i, j + 1, x[i * p + j]);
		gsl_vector_set(yv, i, y[i]);
		gsl_vector_set(w, i, 1.0);
	}
	gsl_multifit_wlinear(X, w, yv, c, cov, &chisq, ws);
	for (size_t j = 0; j < k; j++)
	{
		coef[j] = gsl_vector_get(c, j);
		se[j] = sqrt(chisq / (double) (n - k) * gsl_matrix_get(cov, j, j));
	}
	*rss = chisq;
	gsl_multifit_linear_free(ws);
	gsl_matrix_free(X);
	gsl_matrix_free(cov);
	gsl_vector_free(w);
	gsl_vector_free(yv);
	gsl_vector_free(c);
}

/* Solve a (k × k, row-major, overwritten) x = b by LU with pivoting. */
static void
lu_solve(double *a, double *b, double *x, size_t k)
{
	gsl_matrix_view av = gsl_matrix_view_array(a, k, k);
	gsl_vector_view bv = gsl_vector_view_array(b, k);
	gsl_vector_view xv = gsl_vector_view_array(x, k);
	gsl_permutation *perm = gsl_permutation_alloc(k);
	int			sign;

	gsl_linalg_LU_decomp(&av.matrix, perm, &sign);
	gsl_linalg_LU_solve(&av.matrix, perm, &bv.vector, &xv.vector);
	gsl_permutation_free(perm);
}

/*
 * Ridge with a free intercept, in closed form: centre x and y (two passes),
 * solve (XcᵀXc + λI) β = Xcᵀyc, then β0 = ȳ − x̄ᵀβ.
 */
static void
reference_ridge(uint32_t p, const double *x, const double *y, size_t n,
				double l2, double *coef)
{
	double	   *mean = calloc(p, sizeof(double));
	double	   *a = calloc((size_t) p * p, sizeof(double));
	double	   *b = calloc(p, sizeof(double));
	double		ybar = 0;

	for (size_t i = 0; i < n; i++)
	{
		ybar += y[i];
		for (uint32_t j = 0; j < p; j++)
			mean[j] += x[i * p + j];
	}
	ybar /= n;
	for (uint32_t j = 0; j < p; j++)
		mean[j] /= n;
	for (size_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < p; j++)
		{
			double		dj = x[i * p + j] - mean[j];

			b[j] += dj * (y[i] - ybar);
			for (uint32_t k = 0; k < p; k++)
				a[j * p + k] += dj * (x[i * p + k] - mean[k]);
		}
	for (uint32_t j = 0; j < p; j++)
		a[j * p + j] += l2;
	lu_solve(a, b, coef + 1, p);
	coef[0] = ybar;
	for (uint32_t j = 0; j < p; j++)
		coef[0] -= coef[j + 1] * mean[j];
	free(mean);
	free(a);
	free(b);
}

static void
test_linreg_exact(void)
{
	enum {N = 50, P = 2};
	double		x[N * P],
				y[N];
	const double want[] = {1.0, 2.0, -3.0};
	clv_regression_fit fit;
	clv_error	err;

	rng_seed(1);
	for (int i = 0; i < N; i++)
	{
		x[i * P] = 10 * rng_uniform() - 5;
		x[i * P + 1] = 10 * rng_uniform() - 5;
		y[i] = 1 + 2 * x[i * P] - 3 * x[i * P + 1];
	}
	if (!check_status(fit_linear(P, x, y, N, 0, &fit, &err), CLV_OK, &err,
					  "linreg fits noiseless y = 1 + 2 x1 - 3 x2"))
		return;
	{
		double		e = 0;

		for (int j = 0; j <= P; j++)
			e = fmax(e, fabs(fit.coef[j] - want[j]));
		if (!check(e <= 1e-12, "noiseless coefficients recovered exactly (abs error %.2g <= 1e-12)", e))
			diag("  got %.17g %.17g %.17g", fit.coef[0], fit.coef[1], fit.coef[2]);
	}
	check(fit.r2 >= 1 - 1e-12 && fit.rss <= 1e-15 * fit.n, "noiseless fit has r2 = 1 and rss = 0 (1e-12; r2 %.17g, rss %.3g)",
		  fit.r2, fit.rss);
	check(fit.n == N && fit.df_resid == N - P - 1, "n = %d and df_resid = %d", N, N - P - 1);
	clv_regression_fit_free(&fit);
}

static void
test_linreg_reference(void)
{
	enum {N = 200, P = 3, K = P + 1};
	double		x[N * P],
				y[N];
	double		ref[K],
				se[K],
				rss,
				syy = 0,
				ybar = 0;
	clv_regression_fit fit;
	clv_error	err;

	rng_seed(2);
	for (int i = 0; i < N; i++)
	{
		x[i * P] = rng_normal();
		x[i * P + 1] = 3 + 2 * rng_normal();
		x[i * P + 2] = 0.5 * x[i * P] + rng_normal();	/* correlated, not collinear */
		y[i] = 0.5 + 1.5 * x[i * P] - 0.7 * x[i * P + 1] + 0.01 * x[i * P + 2] + 0.5 * rng_normal();
		ybar += y[i];
	}
	ybar /= N;
	for (int i = 0; i < N; i++)
		syy += (y[i] - ybar) * (y[i] - ybar);
	reference_ols(P, x, y, N, ref, se, &rss);

	if (!check_status(fit_linear(P, x, y, N, 0, &fit, &err), CLV_OK, &err,
					  "linreg fits noisy data with 3 correlated features"))
		return;
	check_vec(fit.coef, ref, K, 1e-10, "OLS coefficients match gsl_multifit_wlinear (SVD)");
	{
		double		e = max_entry_rel_err(fit.std_error, se, K);

		if (!check(e <= 1e-9, "standard errors match sqrt(sigma^2 (X'X)^-1) from GSL (relative %.2g <= 1e-9)", e))
			for (int j = 0; j < K; j++)
				diag("  [%d] got %.17g want %.17g", j, fit.std_error[j], se[j]);
	}
	check(fabs(fit.rss - rss) <= 1e-10 * rss, "rss matches GSL chi^2 (1e-10 relative)");
	check(fabs(fit.sigma - sqrt(rss / (N - K))) <= 1e-10 * fit.sigma, "sigma = sqrt(rss / (n - p - 1)) (1e-10)");
	check(fabs(fit.r2 - (1 - rss / syy)) <= 1e-12, "r2 = 1 - rss / tss (1e-12)");
	check(fabs(fit.adj_r2 - (1 - (rss / (N - K)) / (syy / (N - 1)))) <= 1e-12,
		  "adjusted r2 (1e-12)");
	{
		double		f = ((syy - rss) / P) / (rss / (N - K));
		double		t_err = 0,
					p_err = 0;

		check(fabs(fit.f_statistic - f) <= 1e-9 * f, "F statistic (1e-9 relative)");
		check(fabs(fit.f_p_value - gsl_cdf_fdist_Q(f, P, N - K)) <= 1e-12, "F p-value (1e-12)");
		for (int j = 0; j < K; j++)
		{
			double		t = ref[j] / se[j];

			t_err = fmax(t_err, fabs(fit.statistic[j] - t) / fabs(t));
			p_err = fmax(p_err, fabs(fit.p_value[j] - 2 * gsl_cdf_tdist_Q(fabs(t), N - K)));
		}
		check(t_err <= 1e-9, "t statistics (relative %.2g <= 1e-9)", t_err);
		check(p_err <= 1e-9, "t-test p-values (abs %.2g <= 1e-9)", p_err);
	}
	clv_regression_fit_free(&fit);

	/* n = p + 1: an exact fit with no residual degrees of freedom */
	if (check_status(fit_linear(P, x, y, K, 0, &fit, &err), CLV_OK, &err,
					 "linreg with n = p + 1 rows fits"))
	{
		check(fit.df_resid == 0 && isnan(fit.sigma) && isnan(fit.std_error[1]),
			  "n = p + 1: df_resid 0, sigma and standard errors undefined (NaN)");
		clv_regression_fit_free(&fit);
	}
}

static void
test_linreg_ridge(void)
{
	enum {N = 80, P = 3, K = P + 1};
	double		x[N * P],
				y[N];
	const double lambdas[] = {0.5, 10.0, 1000.0};
	double		prev_norm = INFINITY;
	clv_regression_fit fit;
	clv_error	err;

	rng_seed(3);
	for (int i = 0; i < N; i++)
	{
		x[i * P] = rng_normal();
		x[i * P + 1] = 100 + 20 * rng_normal();
		x[i * P + 2] = x[i * P] + 0.1 * rng_normal();	/* nearly collinear */
		y[i] = 2 + x[i * P] + 0.05 * x[i * P + 1] + x[i * P + 2] + rng_normal();
	}
	for (int l = 0; l < 3; l++)
	{
		double		ref[K],
					norm = 0;
		char		what[80];

		reference_ridge(P, x, y, N, lambdas[l], ref);
		snprintf(what, sizeof(what), "ridge l2 = %g fits", lambdas[l]);
		if (!check_status(fit_linear(P, x, y, N, lambdas[l], &fit, &err), CLV_OK, &err, what))
			continue;
		snprintf(what, sizeof(what), "ridge l2 = %g matches the closed form", lambdas[l]);
		check_vec(fit.coef, ref, K, 1e-10, what);
		for (int j = 1; j < K; j++)
			norm += fit.coef[j] * fit.coef[j];
		check(norm < prev_norm, "ridge l2 = %g shrinks the slopes (|beta|^2 %.6g)", lambdas[l], norm);
		check(isnan(fit.std_error[1]) && isnan(fit.p_value[1]),
			  "ridge l2 = %g reports no classical standard errors (NaN)", lambdas[l]);
		prev_norm = norm;
		clv_regression_fit_free(&fit);
	}

	/* with a penalty, a constant feature is harmless: its slope is 0 */
	for (int i = 0; i < N; i++)
		x[i * P + 1] = 7.0;
	if (check_status(fit_linear(P, x, y, N, 1.0, &fit, &err), CLV_OK, &err,
					 "ridge accepts a constant feature"))
	{
		double		ref[K];

		reference_ridge(P, x, y, N, 1.0, ref);
		check(fabs(fit.coef[2]) <= 1e-12, "ridge gives a constant feature slope 0 (%.3g)", fit.coef[2]);
		check_vec(fit.coef, ref, K, 1e-10, "ridge with a constant feature matches the closed form");
		clv_regression_fit_free(&fit);
	}
}

/*
 * clv_linreg_rss: the residual sum of squares of any coefficients over rows
 * it has only the sums of, against the residuals summed row by row in long
 * double, on rows with a large-mean feature (where centring matters); for
 * the fitted coefficients it is the fit's own RSS.
 */
static void
test_linreg_rss(void)
{
	enum {N = 500, P = 3};
	double		x[N * P],
				y[N];
	const double coef[P + 1] = {-3.5, 0.25, 1.1, -2.0};	/* not a fit of these rows */
	clv_linreg_acc acc;
	clv_regression_fit fit;
	clv_error	err;
	long double direct = 0;
	double		rss;

	rng_seed(11);
	for (int i = 0; i < N; i++)
	{
		x[i * P] = rng_normal();
		x[i * P + 1] = 1e6 + rng_normal();
		x[i * P + 2] = rng_uniform();
		y[i] = 2 + x[i * P] + x[i * P + 1] - 1e6 + rng_normal();
	}
	clv_linreg_acc_init(&acc, P);
	acc_rows(&acc, x, y, 0, N);
	for (int i = 0; i < N; i++)
	{
		long double r = y[i] - (long double) coef[0];

		for (int j = 0; j < P; j++)
			r -= (long double) coef[j + 1] * x[i * P + j];
		direct += r * r;
	}
	if (check_status(clv_linreg_rss(&acc, coef, &rss, &err), CLV_OK, &err,
					 "clv_linreg_rss scores given coefficients"))
		check(fabs(rss / (double) direct - 1) < 1e-9,
			  "rss of given coefficients equals the row-by-row sum (%.17g vs %.17Lg)", rss, direct);
	if (check_status(clv_linreg_solve(&acc, 0, &fit, &err), CLV_OK, &err,
					 "the same rows fit"))
	{
		if (check_status(clv_linreg_rss(&acc, fit.coef, &rss, &err), CLV_OK, &err,
						 "clv_linreg_rss scores the fit"))
			check(fabs(rss / fit.rss - 1) < 1e-9,
				  "rss of the fitted coefficients is the fit's rss (%.17g vs %.17g)", rss, fit.rss);
		clv_regression_fit_free(&fit);
	}
	/* overflowed sums are an error, not an infinite error */
	acc.hi[0] = INFINITY;
	check_status(clv_linreg_rss(&acc, coef, &rss, &err), CLV_ERR_DATA, &err,
				 "clv_linreg_rss rejects overflowed sums");
	acc_free(&acc);
}

/* Rounded value of every sum: what the solver uses, to double precision. */
static bool
acc_equal(const clv_linreg_acc *a, const clv_linreg_acc *b)
{
	for (size_t k = 0; k < a->n_terms; k++)
		if (!same_bits(a->hi[k] + a->lo[k], b->hi[k] + b->lo[k]))
			return false;
	return true;
}

static void
test_linreg_merge(void)
{
	enum {N = 64, P = 3, K = P + 1};
	double		x[N * P],
				y[N];
	clv_linreg_acc whole;
	clv_regression_fit fit_whole;
	clv_error	err;
	bool		sums_ok = true,
				coef_ok = true;
	int			bad_split = -1;

	/* random doubles with many significant bits and mixed magnitudes */
	rng_seed(4);
	for (int i = 0; i < N; i++)
	{
		x[i * P] = rng_normal() * 1e3;
		x[i * P + 1] = 1e6 + rng_normal();
		x[i * P + 2] = rng_uniform() / 3;
		y[i] = x[i * P] * 0.1 + x[i * P + 1] - 1e6 + rng_normal();
	}
	clv_linreg_acc_init(&whole, P);
	acc_rows(&whole, x, y, 0, N);
	check(clv_linreg_acc_count(&whole) == N, "accumulator counts %d rows", N);

	/* the FMA build (where the CPU has it) and the portable build agree */
	{
		clv_linreg_acc portable;

		clv_linreg_portable_only = true;
		clv_linreg_acc_init(&portable, P);
		acc_rows(&portable, x, y, 0, N);
		clv_linreg_portable_only = false;
		check(memcmp(portable.hi, whole.hi, sizeof(double) * whole.n_terms) == 0 &&
			  memcmp(portable.lo, whole.lo, sizeof(double) * whole.n_terms) == 0,
			  "portable and FMA accumulation give bitwise identical sums");
		acc_free(&portable);
	}
	if (!check_status(clv_linreg_solve(&whole, 0, &fit_whole, &err), CLV_OK, &err,
					  "single-pass accumulator solves"))
	{
		acc_free(&whole);
		return;
	}

	/* every two-way split, merged both ways round */
	for (int s = 0; s <= N; s++)
		for (int order = 0; order < 2; order++)
		{
			clv_linreg_acc a,
						b;
			clv_regression_fit fit;

			clv_linreg_acc_init(&a, P);
			clv_linreg_acc_init(&b, P);
			acc_rows(&a, x, y, 0, s);
			acc_rows(&b, x, y, s, N);
			if (order == 0)
				clv_linreg_acc_merge(&a, &b);
			else
			{
				clv_linreg_acc_merge(&b, &a);
				memcpy(a.hi, b.hi, sizeof(double) * a.n_terms);
				memcpy(a.lo, b.lo, sizeof(double) * a.n_terms);
			}
			if (!acc_equal(&a, &whole) && sums_ok)
			{
				sums_ok = false;
				bad_split = s;
			}
			if (clv_linreg_solve(&a, 0, &fit, &err) == CLV_OK)
			{
				for (int j = 0; j < K; j++)
					coef_ok = coef_ok && same_bits(fit.coef[j], fit_whole.coef[j]);
				clv_regression_fit_free(&fit);
			}
			else
				coef_ok = false;
			acc_free(&a);
			acc_free(&b);
		}
	if (!check(sums_ok, "every two-way split, merged either way, gives bitwise the single-pass sums (hi + lo)"))
		diag("  first differing split at row %d", bad_split);
	check(coef_ok, "every two-way split gives bitwise the single-pass coefficients");

	/* a parallel-plan shape: four partial states combined as a tree */
	{
		clv_linreg_acc part[4];

		for (int w = 0; w < 4; w++)
		{
			clv_linreg_acc_init(&part[w], P);
			for (int i = w; i < N; i += 4)	/* interleaved, like a parallel scan */
				clv_linreg_acc_add(&part[w], y[i], x + i * P);
		}
		clv_linreg_acc_merge(&part[3], &part[2]);
		clv_linreg_acc_merge(&part[1], &part[0]);
		clv_linreg_acc_merge(&part[1], &part[3]);
		check(acc_equal(&part[1], &whole),
			  "four interleaved partial states merged as a tree give bitwise the single-pass sums");
		for (int w = 0; w < 4; w++)
			acc_free(&part[w]);
	}
	{
		clv_linreg_acc empty;

		clv_linreg_acc_init(&empty, P);
		clv_linreg_acc_merge(&empty, &whole);
		check(acc_equal(&empty, &whole), "merging into an empty state copies the sums");
		acc_free(&empty);
	}
	clv_regression_fit_free(&fit_whole);
	acc_free(&whole);
}

/*
 * x = mean + u, y = 1 + 2u + noise: the slope must not depend on the mean.
 * The reference fits on u itself (x − mean is exact in double).
 */
static double
large_mean_slope_error(double mean, double spread, clv_status *st, clv_error *err)
{
	enum {N = 500};
	double		x[N],
				u[N],
				y[N],
				ref[2],
				se[2],
				rss,
				e = INFINITY;
	clv_regression_fit fit;

	rng_seed(5);
	for (int i = 0; i < N; i++)
	{
		x[i] = mean + spread * (2 * rng_uniform() - 1);
		u[i] = x[i] - mean;
		y[i] = 1 + 2 * u[i] + 0.1 * spread * rng_normal();
	}
	reference_ols(1, u, y, N, ref, se, &rss);
	*st = fit_linear(1, x, y, N, 0, &fit, err);
	if (*st == CLV_OK)
	{
		e = fabs(fit.coef[1] - ref[1]) / fabs(ref[1]);
		clv_regression_fit_free(&fit);
	}
	return e;
}

static void
test_linreg_large_mean(void)
{
	const struct
	{
		double		mean;
		double		spread;
	}			cases[] = {
		{1e4, 1.0},
		{1e6, 10.0},
		{1e9, 1.0},
		{1e9, 1e-3},
		{1e12, 100.0},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		clv_status	st;
		clv_error	err;
		double		e = large_mean_slope_error(cases[c].mean, cases[c].spread, &st, &err);

		if (!check(e <= 1e-6, "slope with x = %g + U(-%g, %g) recovered to 1e-6 relative (%.3g)",
				   cases[c].mean, cases[c].spread, cases[c].spread, e) && st != CLV_OK)
			diag("  solve failed: %s", err.message);
	}
}

static void
test_linreg_errors(void)
{
	enum {N = 30, P = 3};
	double		x[N * P],
				y[N];
	clv_regression_fit fit;
	clv_error	err;
	clv_status	st;

	rng_seed(6);
	for (int i = 0; i < N; i++)
	{
		x[i * P] = rng_normal();
		x[i * P + 1] = 5.0;
		x[i * P + 2] = rng_normal();
		y[i] = rng_normal();
	}
	st = fit_linear(P, x, y, N, 0, &fit, &err);
	check_status(st, CLV_ERR_SINGULAR, &err, "constant feature (5.0) is singular");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);

	/*
	 * Constants that are not exactly representable leave a rounding residue
	 * in the centred sum of squares, which the solver takes for variance.
	 */
	{
		const double consts[] = {0.1, 1.0 / 3, 1e-5, 1e9 + 0.3};
		const int	ns[] = {3, 30, 300, 3000};
		int			missed = 0;

		for (int c = 0; c < 4; c++)
			for (int k = 0; k < 4; k++)
			{
				int			n = ns[k];
				double	   *xc = malloc(sizeof(double) * n * 2);
				double	   *yc = malloc(sizeof(double) * n);

				for (int i = 0; i < n; i++)
				{
					xc[i * 2] = consts[c];
					xc[i * 2 + 1] = rng_uniform();
					yc[i] = 1 + xc[i * 2 + 1] + rng_uniform();
				}
				st = fit_linear(2, xc, yc, n, 0, &fit, &err);
				if (st != CLV_ERR_SINGULAR)
				{
					diag("  constant %.17g over %d rows: status %d", consts[c], n, (int) st);
					missed++;
				}
				if (st == CLV_OK)
					clv_regression_fit_free(&fit);
				free(xc);
				free(yc);
			}
		check(missed == 0, "constant features 0.1, 1/3, 1e-5, 1e9+0.3 over 3..3000 rows are all singular (%d missed)", missed);
	}

	/* exact and rounded collinearity */
	for (int i = 0; i < N; i++)
		x[i * P + 1] = 2 * x[i * P];
	st = fit_linear(P, x, y, N, 0, &fit, &err);
	check_status(st, CLV_ERR_SINGULAR, &err, "collinear features (x2 = 2 x1) are singular");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);
	for (int i = 0; i < N; i++)
		x[i * P + 1] = 0.3 * x[i * P] - 0.7 * x[i * P + 2];
	st = fit_linear(P, x, y, N, 0, &fit, &err);
	check_status(st, CLV_ERR_SINGULAR, &err, "collinear features (x2 = 0.3 x1 - 0.7 x3, rounded) are singular");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);
	st = fit_linear(P, x, y, N, 0.1, &fit, &err);
	check_status(st, CLV_OK, &err, "ridge fits the same collinear features");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);

	for (int i = 0; i < N; i++)
		x[i * P + 1] = rng_normal();
	st = fit_linear(P, x, y, P, 0, &fit, &err);
	check_status(st, CLV_ERR_DATA, &err, "3 rows for 3 features are too few");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);
	st = fit_linear(P, x, y, 0, 0, &fit, &err);
	check_status(st, CLV_ERR_DATA, &err, "no rows are too few");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);
	st = fit_linear(P, x, y, 0, 1.0, &fit, &err);
	check_status(st, CLV_ERR_DATA, &err, "no rows are too few for ridge too");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);

	/* finite inputs whose squares overflow must not yield NaN coefficients */
	for (int i = 0; i < N; i++)
		x[i * P] = 1e200 * (i + 1);
	st = fit_linear(P, x, y, N, 1.0, &fit, &err);
	check(st != CLV_OK || (isfinite(fit.coef[0]) && isfinite(fit.coef[1])),
		  "ridge with features near 1e200 fails or gives finite coefficients");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);
}

/* ---- logistic regression ---------------------------------------------------- */

/*
 * Independent reference: Newton's method in raw coordinates on the
 * penalised log-likelihood ℓ(β) − λ/2 Σ_{j≥1} βj², with a Gaussian
 * elimination solve.  Returns the iterations used (0 = did not converge);
 * hinv gets the inverse of the negative Hessian at the optimum.
 */
static int
reference_logistic(uint32_t p, const double *x, const double *y, size_t n,
				   double l2, double *beta, double *hinv, double *loglik)
{
	size_t		k = p + 1;
	double	   *g = malloc(sizeof(double) * k);
	double	   *h = malloc(sizeof(double) * k * k);
	double	   *step = malloc(sizeof(double) * k);
	int			it;

	memset(beta, 0, sizeof(double) * k);
	for (it = 1; it <= 200; it++)
	{
		double		change = 0;

		memset(g, 0, sizeof(double) * k);
		memset(h, 0, sizeof(double) * k * k);
		*loglik = 0;
		for (size_t i = 0; i < n; i++)
		{
			double		z[16],
						eta = 0,
						mu;

			z[0] = 1;
			for (uint32_t j = 0; j < p; j++)
				z[j + 1] = x[i * p + j];
			for (size_t j = 0; j < k; j++)
				eta += beta[j] * z[j];
			mu = sigmoid(eta);
			*loglik += y[i] * eta - (eta > 0 ? eta + log1p(exp(-eta)) : log1p(exp(eta)));
			for (size_t a = 0; a < k; a++)
			{
				g[a] += (y[i] - mu) * z[a];
				for (size_t b = 0; b < k; b++)
					h[a * k + b] += mu * (1 - mu) * z[a] * z[b];
			}
		}
		for (size_t j = 1; j < k; j++)
		{
			g[j] -= l2 * beta[j];
			h[j * k + j] += l2;
		}
		{
			double	   *hc = malloc(sizeof(double) * k * k);

			memcpy(hc, h, sizeof(double) * k * k);
			lu_solve(hc, g, step, k);
			free(hc);
		}
		for (size_t j = 0; j < k; j++)
		{
			beta[j] += step[j];
			change = fmax(change, fabs(step[j]) / (1 + fabs(beta[j])));
		}
		if (change < 1e-14)
			break;
	}
	/* inverse of the negative Hessian, column by column */
	for (size_t c = 0; c < k; c++)
	{
		double	   *hc = malloc(sizeof(double) * k * k);
		double	   *e = calloc(k, sizeof(double));
		double	   *col = malloc(sizeof(double) * k);

		memcpy(hc, h, sizeof(double) * k * k);
		e[c] = 1;
		lu_solve(hc, e, col, k);
		for (size_t r = 0; r < k; r++)
			hinv[r * k + c] = col[r];
		free(hc);
		free(e);
		free(col);
	}
	free(g);
	free(h);
	free(step);
	return it <= 200 ? it : 0;
}

static clv_status
fit_logistic(uint32_t p, const double *x, const double *y, size_t n, double l2,
			 clv_regression_fit *fit, clv_error *err)
{
	clv_rows	rows;
	clv_logreg_options opt = {l2, 100, 1e-10};
	clv_status	st = CLV_OK;

	clv_rows_init(&rows, p, 0);
	for (size_t i = 0; i < n && st == CLV_OK; i++)
		st = clv_rows_append(&rows, y[i], x + i * p, err);
	if (st == CLV_OK)
		st = clv_logreg_solve(&rows, &opt, fit, err);
	clv_rows_free(&rows);
	return st;
}

/* Fit the rows in a canonical order, as the aggregate's final function does. */
static clv_status
fit_logistic_canonical(const clv_rows *rows, clv_regression_fit *fit, clv_error *err)
{
	clv_logreg_options opt = {0, 100, 1e-10};
	clv_rows	sorted;
	clv_status	st;

	clv_rows_sorted_copy(rows, &sorted);
	st = clv_logreg_solve(&sorted, &opt, fit, err);
	clv_rows_free(&sorted);
	return st;
}

static void
test_logreg_row_order(void)
{
	enum {N = 500, P = 3};
	clv_rows	forward,
				backward;
	clv_regression_fit a,
				b;
	clv_error	err;
	double		x[N * P],
				y[N];
	uint64_t	seed = 7;

	for (size_t i = 0; i < N; i++)
	{
		for (int j = 0; j < P; j++)
		{
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			x[i * P + j] = (double) (seed >> 11) / 9007199254740992.0 * 4 - 2;
		}
		y[i] = (x[i * P] + 0.5 * x[i * P + 1] + (double) (i % 7) / 7 - 0.5 > 0) ? 1 : 0;
	}
	clv_rows_init(&forward, P, 0);
	clv_rows_init(&backward, P, 0);
	for (size_t i = 0; i < N; i++)
	{
		clv_rows_append(&forward, y[i], x + i * P, &err);
		clv_rows_append(&backward, y[N - 1 - i], x + (N - 1 - i) * P, &err);
	}
	if (check_status(fit_logistic_canonical(&forward, &a, &err), CLV_OK, &err,
					 "logreg on rows in arrival order"))
	{
		if (check_status(fit_logistic_canonical(&backward, &b, &err), CLV_OK, &err,
						 "logreg on the same rows reversed"))
		{
			check(memcmp(a.coef, b.coef, sizeof(double) * (P + 1)) == 0 &&
				  memcmp(a.std_error, b.std_error, sizeof(double) * (P + 1)) == 0,
				  "logreg over a canonical row order: the same coefficients and standard errors, "
				  "bit for bit, whatever the arrival order (%.17g vs %.17g)", a.coef[1], b.coef[1]);
			clv_regression_fit_free(&b);
		}
		clv_regression_fit_free(&a);
	}
	clv_rows_free(&forward);
	clv_rows_free(&backward);
}

static void
test_logreg_known(void)
{
	/* Wikipedia, "Logistic regression": hours studied → passed the exam */
	const double hours[] = {0.50, 0.75, 1.00, 1.25, 1.50, 1.75, 1.75, 2.00, 2.25, 2.50,
	2.75, 3.00, 3.25, 3.50, 4.00, 4.25, 4.50, 4.75, 5.00, 5.50};
	const double pass[] = {0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1};
	const double want[] = {-4.0777, 1.5046};
	const double want_se[] = {1.7610, 0.6287};
	double		ref[2],
				hinv[4],
				ll;
	clv_regression_fit fit;
	clv_error	err;

	if (!check_status(fit_logistic(1, hours, pass, 20, 0, &fit, &err), CLV_OK, &err,
					  "logreg fits the hours-studied example"))
		return;
	check(fabs(fit.coef[0] - want[0]) <= 1e-4 && fabs(fit.coef[1] - want[1]) <= 1e-4,
		  "published coefficients -4.0777, 1.5046 (1e-4): got %.6f, %.6f", fit.coef[0], fit.coef[1]);
	check(fabs(fit.std_error[0] - want_se[0]) <= 1e-4 && fabs(fit.std_error[1] - want_se[1]) <= 1e-4,
		  "published standard errors 1.7610, 0.6287 (1e-4): got %.6f, %.6f",
		  fit.std_error[0], fit.std_error[1]);
	check(reference_logistic(1, hours, pass, 20, 0, ref, hinv, &ll) > 0,
		  "reference Newton converges on the hours example");
	check_vec(fit.coef, ref, 2, 1e-8, "hours example matches the reference Newton solver");
	check(fit.converged && fit.iterations >= 1 && fit.iterations <= 100,
		  "converged flag and iteration count (%d)", fit.iterations);
	clv_regression_fit_free(&fit);
}

static void
test_logreg_reference(void)
{
	enum {N = 400, P = 3, K = P + 1};
	double		x[N * P],
				y[N];
	double		ref[K],
				hinv[K * K],
				se[K],
				ll,
				ybar = 0;
	clv_regression_fit fit;
	clv_error	err;

	rng_seed(7);
	for (int i = 0; i < N; i++)
	{
		double		eta;

		x[i * P] = rng_normal();
		x[i * P + 1] = 50 + 10 * rng_normal();	/* a large-ish mean and scale */
		x[i * P + 2] = rng_uniform() < 0.3;		/* a binary feature */
		eta = -0.5 + 1.2 * x[i * P] - 0.04 * (x[i * P + 1] - 50) + 0.8 * x[i * P + 2];
		y[i] = rng_uniform() < sigmoid(eta);
		ybar += y[i];
	}
	ybar /= N;
	check(reference_logistic(P, x, y, N, 0, ref, hinv, &ll) > 0,
		  "reference Newton converges on simulated churn data");
	if (!check_status(fit_logistic(P, x, y, N, 0, &fit, &err), CLV_OK, &err,
					  "logreg fits simulated churn data with 3 features"))
		return;
	check_vec(fit.coef, ref, K, 1e-8, "logistic coefficients match the reference Newton solver");
	for (int j = 0; j < K; j++)
		se[j] = sqrt(hinv[j * K + j]);
	{
		double		e = max_entry_rel_err(fit.std_error, se, K);

		check(e <= 1e-6, "Wald standard errors match the reference inverse Hessian (relative %.2g <= 1e-6)", e);
	}
	check(fabs(fit.log_likelihood - ll) <= 1e-9 * fabs(ll), "log-likelihood (1e-9 relative)");
	check(fabs(fit.deviance + 2 * ll) <= 1e-9 * fabs(ll) && fabs(fit.aic - (fit.deviance + 2 * K)) <= 1e-9,
		  "deviance = -2 loglik and aic = deviance + 2k");
	{
		double		null_dev = -2.0 * N * (ybar * log(ybar) + (1 - ybar) * log(1 - ybar));

		if (!check(fabs(fit.null_deviance - null_dev) <= 1e-9 * null_dev,
				   "null deviance of the intercept-only model (1e-9 relative)"))
			diag("  got %.17g want %.17g", fit.null_deviance, null_dev);
	}
	{
		double		z_err = 0;

		for (int j = 0; j < K; j++)
			z_err = fmax(z_err, fabs(fit.p_value[j] - 2 * gsl_cdf_ugaussian_Q(fabs(ref[j] / se[j]))));
		check(z_err <= 1e-6, "Wald p-values (abs %.2g <= 1e-6)", z_err);
	}

	/* the fitted model scores like the reference */
	{
		clv_model  *m = make_model(CLV_KIND_LOGREG, P, NULL, NULL, fit.coef);
		double		e = 0;

		for (int i = 0; i < N; i++)
		{
			double		eta = ref[0];

			for (int j = 0; j < P; j++)
				eta += ref[j + 1] * x[i * P + j];
			e = fmax(e, fabs(clv_model_predict(m, x + i * P) - sigmoid(eta)));
		}
		check(e <= 1e-9, "predicted probabilities match the reference (abs %.2g <= 1e-9)", e);
		clv_model_free(m);
	}
	clv_regression_fit_free(&fit);

	/* with a penalty, on the same data */
	check(reference_logistic(P, x, y, N, 5.0, ref, hinv, &ll) > 0,
		  "reference penalised Newton converges");
	if (check_status(fit_logistic(P, x, y, N, 5.0, &fit, &err), CLV_OK, &err,
					 "logreg with l2 = 5 fits"))
	{
		check_vec(fit.coef, ref, K, 1e-8, "penalised coefficients match the reference (intercept unpenalised)");
		clv_regression_fit_free(&fit);
	}
}

static void
test_logreg_errors(void)
{
	enum {N = 40};
	double		x[N],
				y[N],
				x2[N * 2];
	clv_regression_fit fit;
	clv_error	err;
	clv_status	st;

	/* y = (x > 20): perfectly separated */
	for (int i = 0; i < N; i++)
	{
		x[i] = i + 1;
		y[i] = x[i] > 20;
	}
	st = fit_logistic(1, x, y, N, 0, &fit, &err);
	check_status(st, CLV_ERR_DATA, &err, "perfect separation is an error");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);

	/* quasi-complete separation: both outcomes at x = 20, none mixed elsewhere */
	x[20] = x[19];
	st = fit_logistic(1, x, y, N, 0, &fit, &err);
	check(st != CLV_OK, "quasi-complete separation is an error (status %d)", (int) st);
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);

	for (int i = 0; i < N; i++)
	{
		x[i] = i + 1;
		y[i] = x[i] > 20;
	}
	st = fit_logistic(1, x, y, N, 1.0, &fit, &err);
	if (check_status(st, CLV_OK, &err, "l2 = 1 fits separable data"))
	{
		double		ref[2],
					hinv[4],
					ll;

		check(isfinite(fit.coef[0]) && isfinite(fit.coef[1]) && fit.coef[1] > 0,
			  "l2 = 1 on separable data gives finite coefficients (%.6g, %.6g)", fit.coef[0], fit.coef[1]);
		reference_logistic(1, x, y, N, 1.0, ref, hinv, &ll);
		check_vec(fit.coef, ref, 2, 1e-8, "l2 = 1 on separable data matches the reference");
		clv_regression_fit_free(&fit);
	}

	for (int i = 0; i < N; i++)
		y[i] = 1;
	st = fit_logistic(1, x, y, N, 0, &fit, &err);
	check_status(st, CLV_ERR_DATA, &err, "all outcomes true is an error");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);
	for (int i = 0; i < N; i++)
		y[i] = 0;
	st = fit_logistic(1, x, y, N, 1.0, &fit, &err);
	check_status(st, CLV_ERR_DATA, &err, "all outcomes false is an error, even with l2");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);

	rng_seed(8);
	for (int i = 0; i < N; i++)
	{
		x2[i * 2] = rng_normal();
		x2[i * 2 + 1] = 4.0;
		y[i] = rng_uniform() < 0.5;
	}
	st = fit_logistic(2, x2, y, N, 0, &fit, &err);
	check_status(st, CLV_ERR_SINGULAR, &err, "logistic with a constant feature is singular");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);
	for (int i = 0; i < N; i++)
		x2[i * 2 + 1] = -3 * x2[i * 2];
	st = fit_logistic(2, x2, y, N, 0, &fit, &err);
	check_status(st, CLV_ERR_SINGULAR, &err, "logistic with collinear features is singular");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);
	st = fit_logistic(2, x2, y, 2, 0, &fit, &err);
	check_status(st, CLV_ERR_DATA, &err, "logistic with 2 rows for 2 features is too few");
	if (st == CLV_OK)
		clv_regression_fit_free(&fit);

	/* one Newton step cannot meet the tolerance */
	{
		clv_rows	rows;
		clv_logreg_options opt = {0, 1, 1e-12};

		for (int i = 0; i < N; i++)
		{
			x[i] = rng_normal();
			y[i] = rng_uniform() < sigmoid(2 * x[i]);
		}
		clv_rows_init(&rows, 1, 0);
		for (int i = 0; i < N; i++)
			clv_rows_append(&rows, y[i], &x[i], &err);
		st = clv_logreg_solve(&rows, &opt, &fit, &err);
		check_status(st, CLV_ERR_NOCONVERGE, &err, "max_iter = 1 does not converge");
		if (st == CLV_OK)
			clv_regression_fit_free(&fit);
		clv_rows_free(&rows);
	}
}

static void
test_rows(void)
{
	enum {P = 2, LIMIT_ROWS = 100};
	size_t		row_bytes = sizeof(double) * (P + 1);
	clv_rows	rows,
				a,
				b;
	clv_error	err;
	clv_status	st = CLV_OK;
	double		x[P];
	bool		order_ok = true;

	clv_rows_init(&rows, P, LIMIT_ROWS * row_bytes);
	for (int i = 0; i < LIMIT_ROWS && st == CLV_OK; i++)
	{
		x[0] = i;
		x[1] = -i;
		st = clv_rows_append(&rows, i % 2, x, &err);
	}
	check_status(st, CLV_OK, &err, "100 rows fit in a 100-row memory limit");
	st = clv_rows_append(&rows, 1, x, &err);
	check_status(st, CLV_ERR_LIMIT, &err, "row 101 exceeds the memory limit");
	check(rows.n == LIMIT_ROWS, "a refused row is not stored (n = %zu)", rows.n);
	check(rows.cap * row_bytes <= LIMIT_ROWS * row_bytes, "capacity never exceeds the limit (%zu rows)", rows.cap);
	clv_rows_free(&rows);

	clv_rows_init(&rows, P, row_bytes / 2);
	st = clv_rows_append(&rows, 1, x, &err);
	check_status(st, CLV_ERR_LIMIT, &err, "a limit smaller than one row refuses the first row");
	clv_rows_free(&rows);

	/* merge: within the limit, order preserved; beyond it, refused */
	clv_rows_init(&a, P, LIMIT_ROWS * row_bytes);
	clv_rows_init(&b, P, LIMIT_ROWS * row_bytes);
	for (int i = 0; i < 60; i++)
	{
		x[0] = i;
		x[1] = 0.5 * i;
		clv_rows_append(i < 40 ? &b : &a, i, x, &err);
	}
	st = clv_rows_merge(&a, &b, &err);
	check_status(st, CLV_OK, &err, "merging 20 + 40 rows under the limit");
	check(a.n == 60, "merged state holds 60 rows");
	for (size_t i = 0; i < a.n && a.n == 60; i++)
	{
		double		want = i < 20 ? 40 + i : i - 20;

		order_ok = order_ok && a.y[i] == want && a.x[i * P] == want && a.x[i * P + 1] == 0.5 * want;
	}
	check(order_ok, "merged rows keep both parts in order");
	st = clv_rows_merge(&a, &b, &err);
	check_status(st, CLV_OK, &err, "merging 60 + 40 rows reaches the limit exactly");
	st = clv_rows_merge(&a, &b, &err);
	check_status(st, CLV_ERR_LIMIT, &err, "merging past the limit is refused");
	check(a.n == 100, "a refused merge leaves the state unchanged (n = %zu)", a.n);
	clv_rows_free(&a);
	clv_rows_init(&a, P, 0);
	st = clv_rows_merge(&a, &b, &err);
	check_status(st, CLV_OK, &err, "merging into an empty unlimited state");
	check(a.n == 40 && a.y[39] == 39, "empty state receives all rows");
	clv_rows_free(&a);
	clv_rows_free(&b);

	/* the limit applies to a logistic fit's training rows */
	{
		clv_rows	r;

		clv_rows_init(&r, 1, 10 * sizeof(double) * 2);
		st = CLV_OK;
		for (int i = 0; i < 11 && st == CLV_OK; i++)
		{
			double		v = i;

			st = clv_rows_append(&r, i % 2, &v, &err);
		}
		check_status(st, CLV_ERR_LIMIT, &err, "an 11th logistic training row exceeds a 10-row limit");
		clv_rows_free(&r);
	}
}

/* ---- customer summaries --------------------------------------------------- */

static void
summary_free(clv_summary_acc *acc)
{
	clv_release(acc->periods.heap);
	clv_release(acc->holdout_periods.heap);
}

/*
 * One customer: 40 orders over 25 distinct periods (more than fit in the
 * state itself), in a scrambled order, with a first period that is only
 * reached late and holds two orders.  Every split merged gives the result of
 * the single pass, which is checked against values worked out by hand.
 */
static void
test_summary(void)
{
	enum {N = 40};
	int64_t		period[N];
	double		amount[N];
	double		first_period_total = 0,
				total = 0;
	clv_summary_acc whole;
	clv_summary_result r;
	bool		splits_ok = true;

	for (int i = 0; i < N; i++)
	{
		period[i] = 100 + (i * 7) % 25;		/* periods 100..124, revisited */
		amount[i] = 1.25 + i;
		total += amount[i];
		if (period[i] == 100)
			first_period_total += amount[i];
	}

	clv_summary_init(&whole);
	check(!clv_summary_result_of(&whole, &r), "summary: no orders, no result");
	for (int i = 0; i < N; i++)
		clv_summary_add(&whole, period[i], 1000 + i, amount[i]);
	clv_summary_add_holdout(&whole, 130, 5.0);
	clv_summary_add_holdout(&whole, 130, 7.0);
	clv_summary_add_holdout(&whole, 131, 3.0);

	check(clv_summary_result_of(&whole, &r), "summary: a customer with orders has a result");
	check(r.frequency == 24, "summary: 25 distinct periods give frequency 24 (got %lld)",
		  (long long) r.frequency);
	check(r.first_period == 100 && r.last_period == 124 && r.recency_periods == 24,
		  "summary: first, last period and recency");
	check(r.orders == N && fabs(r.revenue - total) < 1e-12,
		  "summary: orders and revenue");
	check(fabs(r.monetary - (total - first_period_total) / 24) < 1e-12,
		  "summary: monetary = (revenue - first period) / frequency (%.15g)", r.monetary);
	check(r.first_time == 1000 && r.last_time == 1000 + N - 1,
		  "summary: first and last order times");
	check(r.holdout_frequency == 2 && r.holdout_orders == 3 &&
		  fabs(r.holdout_monetary - 7.5) < 1e-15 && fabs(r.holdout_revenue - 15) < 1e-15,
		  "summary: holdout periods merge (2 periods, 3 orders, mean 7.5)");

	for (int s = 0; s <= N; s++)
	{
		clv_summary_acc a,
					b;
		clv_summary_result ra;

		clv_summary_init(&a);
		clv_summary_init(&b);
		for (int i = 0; i < N; i++)
			clv_summary_add(i < s ? &a : &b, period[i], 1000 + i, amount[i]);
		clv_summary_add_holdout(&b, 130, 5.0);
		clv_summary_add_holdout(&a, 130, 7.0);
		clv_summary_add_holdout(&b, 131, 3.0);
		clv_summary_merge(s % 2 ? &a : &b, s % 2 ? &b : &a);
		clv_summary_result_of(s % 2 ? &a : &b, &ra);
		if (memcmp(&ra, &r, sizeof(r)) != 0)
			splits_ok = false;
		summary_free(&a);
		summary_free(&b);
	}
	check(splits_ok, "summary: every split, merged either way, equals the single pass");

	{
		clv_summary_acc one;

		clv_summary_init(&one);
		clv_summary_add(&one, 7, 70, 9.5);
		clv_summary_add(&one, 7, 71, 0.5);
		clv_summary_result_of(&one, &r);
		check(r.frequency == 0 && r.monetary == 0 && r.recency_periods == 0 &&
			  r.revenue == 10 && r.holdout_frequency == 0 && r.holdout_monetary == 0,
			  "summary: one purchase period has frequency 0 and monetary 0");
		summary_free(&one);
	}
	summary_free(&whole);
}

/* ---- buy-till-you-die models --------------------------------------------- */

/*
 * Draw BG/NBD customers with known parameters: each buys as a Poisson process
 * with rate λ ~ Gamma(r, 1/α) and, after each repeat purchase, drops out with
 * probability p ~ Beta(a, b).  Observed for T ∈ [20, 40] after the first
 * purchase.
 */
static void
simulate_bgnbd(gsl_rng *rng, const double *truth, int n, clv_patterns *out)
{
	clv_error	err;

	for (int i = 0; i < n; i++)
	{
		double		lambda = gsl_ran_gamma(rng, truth[0], 1 / truth[1]);
		double		p = gsl_ran_beta(rng, truth[2], truth[3]);
		double		T = 20 + 20 * gsl_rng_uniform(rng);
		double		t = 0,
					tx = 0;
		int			x = 0;

		for (;;)
		{
			t += gsl_ran_exponential(rng, 1 / lambda);
			if (t > T)
				break;
			x++;
			tx = t;
			if (gsl_rng_uniform(rng) < p)
				break;
		}
		/* recency and age rounded to days, as a summary gives them */
		clv_patterns_add(out, x, round(tx * 7) / 7, round(T * 7) / 7, 1, &err);
	}
}

/* MBG/NBD: as BG/NBD, but a customer may also drop out right after the first purchase. */
static void
simulate_mbgnbd(gsl_rng *rng, const double *truth, int n, clv_patterns *out)
{
	clv_error	err;

	for (int i = 0; i < n; i++)
	{
		double		lambda = gsl_ran_gamma(rng, truth[0], 1 / truth[1]);
		double		p = gsl_ran_beta(rng, truth[2], truth[3]);
		double		T = round((20 + 20 * gsl_rng_uniform(rng)) * 7) / 7;
		double		t = 0,
					tx = 0;
		int			x = 0;

		if (gsl_rng_uniform(rng) >= p)
			for (;;)
			{
				t += gsl_ran_exponential(rng, 1 / lambda);
				if (t > T)
					break;
				x++;
				tx = t;
				if (gsl_rng_uniform(rng) < p)
					break;
			}
		clv_patterns_add(out, x, round(tx * 7) / 7, T, 1, &err);
	}
}

/* Pareto/NBD: Poisson purchases at rate λ ~ Gamma(r, 1/α) until an exponential lifetime with rate μ ~ Gamma(s, 1/β). */
static void
simulate_paretonbd(gsl_rng *rng, const double *truth, int n, clv_patterns *out)
{
	clv_error	err;

	for (int i = 0; i < n; i++)
	{
		double		lambda = gsl_ran_gamma(rng, truth[0], 1 / truth[1]);
		double		mu = gsl_ran_gamma(rng, truth[2], 1 / truth[3]);
		double		T = round(20 + 20 * gsl_rng_uniform(rng));
		double		end = fmin(T, gsl_ran_exponential(rng, 1 / mu));
		double		t = 0,
					tx = 0;
		int			x = 0;

		for (;;)
		{
			t += gsl_ran_exponential(rng, 1 / lambda);
			if (t > end)
				break;
			x++;
			tx = t;
		}
		/* whole days, as a daily summary in weeks would give */
		clv_patterns_add(out, x, x > 0 ? fmax(1, round(tx * 7)) / 7 : 0, T, 1, &err);
	}
}

/* Gamma-Gamma: values z ~ Gamma(p, 1/ν) with ν ~ Gamma(q, 1/γ); the pattern keeps the mean. */
static void
simulate_gammagamma(gsl_rng *rng, const double *truth, int n, clv_patterns *out)
{
	clv_error	err;

	for (int i = 0; i < n; i++)
	{
		double		nu = gsl_ran_gamma(rng, truth[1], 1 / truth[2]);
		int			x = 1 + (int) gsl_ran_poisson(rng, 2.0);
		double		sum = 0;

		for (int k = 0; k < x; k++)
			sum += gsl_ran_gamma(rng, truth[0], 1 / nu);
		clv_patterns_add(out, x, sum / x, 0, 1, &err);
	}
}

/* Fit simulated data and check every true parameter lies within z_max standard errors. */
static void
check_recovery(clv_btyd_model model, const char *name, clv_patterns *pats,
			   const double *truth)
{
	clv_btyd_fit fit;
	clv_btyd_options opt = {.max_iter = 500};
	clv_error	err;
	double		worst = 0;

	clv_patterns_compact(pats);
	if (!check(clv_btyd_solve(model, pats, &opt, &fit, &err) == CLV_OK && fit.converged,
			   "btyd: %s fits simulated customers", name))
		return;
	for (int i = 0; i < fit.n_params; i++)
		worst = fmax(worst, fabs(fit.params[i] - truth[i]) / fit.std_error[i]);
	check(worst < 3.5, "btyd: true %s parameters within 3.5 standard errors (worst %.2f)",
		  name, worst);
}

static void
test_btyd_recovery(void)
{
	const double bg[4] = {0.25, 4.0, 0.8, 2.5};
	const double pareto[4] = {0.55, 10.0, 0.6, 12.0};
	const double gg[3] = {6.0, 4.0, 15.0};
	gsl_rng    *rng = gsl_rng_alloc(gsl_rng_mt19937);
	clv_patterns p;

	gsl_rng_set(rng, 7);
	clv_patterns_init(&p, 0);
	simulate_mbgnbd(rng, bg, 100000, &p);
	check_recovery(CLV_BTYD_MBGNBD, "MBG/NBD", &p, bg);
	clv_patterns_free(&p);

	clv_patterns_init(&p, 0);
	simulate_paretonbd(rng, pareto, 100000, &p);
	check_recovery(CLV_BTYD_PARETONBD, "Pareto/NBD", &p, pareto);
	clv_patterns_free(&p);

	clv_patterns_init(&p, 0);
	simulate_gammagamma(rng, gg, 100000, &p);
	check_recovery(CLV_BTYD_GAMMAGAMMA, "Gamma-Gamma", &p, gg);
	clv_patterns_free(&p);
	gsl_rng_free(rng);
}

/* Largest relative difference between a Pareto/NBD gradient and central differences. */
static double
paretonbd_gradient_error(const clv_patterns *pats, const double *theta)
{
	double		grad[4],
				rel = 0;

	clv_paretonbd_ll(pats, NULL, theta, grad);
	for (int i = 0; i < 4; i++)
	{
		double		up[4],
					down[4],
					h = 1e-6 * theta[i];

		memcpy(up, theta, sizeof(up));
		memcpy(down, theta, sizeof(down));
		up[i] += h;
		down[i] -= h;
		rel = fmax(rel, fabs((clv_paretonbd_ll(pats, NULL, up, NULL) - clv_paretonbd_ll(pats, NULL, down, NULL))
							 / (2 * h) - grad[i]) / fmax(1, fabs(grad[i])));
	}
	return rel;
}

static void
test_paretonbd(void)
{
	clv_patterns pats;
	clv_error	err;
	/* α > β, α < β, and α < β with heavy buyers at small t (the series gives up) */
	const double thetas[3][4] = {{0.55, 10.6, 0.61, 3.0}, {0.55, 4.0, 0.61, 40.0},
								 {0.55, 0.05, 2.0, 900.0}};
	const char *what[3] = {"alpha > beta", "alpha < beta", "the quadrature fallback"};
	double		total = 0,
				mean = 0,
				factor,
				le1,
				le2,
				g1[4],
				g2[4];
	const double t_star = 39;

	clv_patterns_init(&pats, 0);
	for (int i = 0; i < 300; i++)
	{
		double		x = i % 3 == 0 ? 0 : (i * 7) % 40 + (i % 50 == 1 ? 300 : 0),
					T = 5 + (i * 13) % 35,
					tx = x > 0 ? fmin(T, 0.5 + (i * 11) % 37) : 0;

		clv_patterns_add(&pats, x, tx, T, 1 + i % 4, &err);
	}
	clv_patterns_compact(&pats);
	for (int k = 0; k < 3; k++)
	{
		double		rel = paretonbd_gradient_error(&pats, thetas[k]);

		check(rel < 1e-6, "paretonbd: gradient matches central differences, %s (%.2g)",
			  what[k], rel);
	}
	/* a fit takes the logs once per distinct time: the same numbers as per pattern */
	{
		clv_time_index ix;
		bool		same = true;

		clv_time_index_build(&pats, &ix);
		for (int k = 0; k < 3; k++)
		{
			double		g_ix[4],
						g_each[4],
						ll_ix = clv_paretonbd_ll(&pats, &ix, thetas[k], g_ix),
						ll_each = clv_paretonbd_ll(&pats, NULL, thetas[k], g_each);

			same &= ll_ix == ll_each && memcmp(g_ix, g_each, sizeof(g_ix)) == 0;
		}
		clv_time_index_free(&ix);
		check(same, "paretonbd: log-likelihood and gradient with the time index equal those without");
	}
	/* a customer whose series would need thousands of terms (z near 1, b = 300) */
	{
		bool		ok = clv_paretonbd_terms(thetas[2], 300, 0.5, 5, &le1, &le2, g1, g2);

		check(ok && isfinite(le2) && isfinite(g2[1]),
			  "paretonbd: log E2 of a customer with 300 purchases is finite (%g)", le2);
	}
	{
		double		series_e2,
					quad_e2,
					rel = 0;
		double		th_near[4] = {0.55, 10.6, 0.61, 10.0};

		/* x = 3: a series; the quadrature of the same integral, written out */
		clv_paretonbd_terms(th_near, 3, 2, 30, &le1, &series_e2, NULL, NULL);
		{
			/* Simpson on a fine grid: E2 = s ∫ (α+τ)^−(r+x) (β+τ)^−(s+1) dτ */
			int			n = 20000;
			double		h = 28.0 / n,
						sum = 0;

			for (int i = 0; i <= n; i++)
			{
				double		tau = 2 + i * h,
							f = pow(10.6 + tau, -3.55) * pow(10.0 + tau, -1.61);

				sum += f * (i == 0 || i == n ? 1 : i % 2 ? 4 : 2);
			}
			quad_e2 = log(0.61 * sum * h / 3);
		}
		rel = fabs(series_e2 - quad_e2);
		check(rel < 1e-10, "paretonbd: series E2 equals Simpson's rule (%.2g)", rel);
	}
	clv_patterns_free(&pats);

	/* P(X(t) = n) sums to 1 and its mean is the closed-form expectation */
	for (int n = 0; n < 400; n++)
	{
		double		p = clv_paretonbd_probability_of_purchases(thetas[0], t_star, n);

		total += p;
		mean += n * p;
	}
	clv_btyd_purchase_factor(CLV_BTYD_PARETONBD, thetas[0], t_star, 0, 0, &factor);
	check(fabs(total - 1) < 1e-9, "paretonbd: P(X(t)=n) sums to 1 (%.3g)", total - 1);
	check(fabs(mean - factor) < 1e-8 * factor,
		  "paretonbd: the mean of P(X(t)=n) is E[X(t)] (%.10g vs %.10g)", mean, factor);
}

static void
test_btyd(void)
{
	const double truth[4] = {0.25, 4.0, 0.8, 2.5};
	clv_patterns pats,
				shuffled;
	clv_btyd_fit fit;
	clv_btyd_options opt = {.max_iter = 500};
	clv_error	err;
	gsl_rng    *rng = gsl_rng_alloc(gsl_rng_mt19937);
	double		theta[4] = {0.3, 5.0, 0.7, 2.0},
				grad[4],
				worst = 0;
	bool		recovered = true;

	gsl_rng_set(rng, 42);
	clv_patterns_init(&pats, 0);
	simulate_bgnbd(rng, truth, 20000, &pats);
	clv_patterns_compact(&pats);

	/* the analytic gradient agrees with central differences */
	for (int model = CLV_BTYD_BGNBD; model <= CLV_BTYD_MBGNBD; model++)
	{
		double		rel = 0;

		clv_btyd_log_likelihood(model, &pats, theta, grad);
		for (int i = 0; i < 4; i++)
		{
			double		up[4],
						down[4],
						h = 1e-6 * theta[i],
						numeric;

			memcpy(up, theta, sizeof(up));
			memcpy(down, theta, sizeof(down));
			up[i] += h;
			down[i] -= h;
			numeric = (clv_btyd_log_likelihood(model, &pats, up, NULL) -
					   clv_btyd_log_likelihood(model, &pats, down, NULL)) / (2 * h);
			rel = fmax(rel, fabs(numeric - grad[i]) / fmax(1, fabs(grad[i])));
		}
		check(rel < 1e-5, "btyd: %s gradient matches central differences (%.2g)",
			  model == CLV_BTYD_BGNBD ? "BG/NBD" : "MBG/NBD", rel);
	}
	{
		/* Gamma-Gamma on (x, mean spend) patterns */
		clv_patterns gg;
		double		gt[3] = {6.0, 4.0, 15.0},
					gg_grad[3],
					rel = 0;

		clv_patterns_init(&gg, 0);
		for (int i = 1; i <= 200; i++)
			clv_patterns_add(&gg, 1 + i % 7, 5 + (i * 37) % 50, 0, 1, &err);
		clv_patterns_compact(&gg);
		clv_btyd_log_likelihood(CLV_BTYD_GAMMAGAMMA, &gg, gt, gg_grad);
		for (int i = 0; i < 3; i++)
		{
			double		up[3],
						down[3],
						h = 1e-6 * gt[i];

			memcpy(up, gt, sizeof(up));
			memcpy(down, gt, sizeof(down));
			up[i] += h;
			down[i] -= h;
			rel = fmax(rel, fabs((clv_btyd_log_likelihood(CLV_BTYD_GAMMAGAMMA, &gg, up, NULL) -
								  clv_btyd_log_likelihood(CLV_BTYD_GAMMAGAMMA, &gg, down, NULL)) / (2 * h)
								 - gg_grad[i]) / fmax(1, fabs(gg_grad[i])));
		}
		check(rel < 1e-5, "btyd: Gamma-Gamma gradient matches central differences (%.2g)", rel);
		clv_patterns_free(&gg);
	}

	{
		/* whole-number times (every distinct one a pattern) hash and fit quickly */
		clv_patterns whole;
		clock_t		start = clock();
		double		secs;

		clv_patterns_init(&whole, 0);
		for (int i = 0; i < 200000; i++)
			clv_patterns_add(&whole, i % 3 == 0 ? 0 : 1 + i % 5,
							 i % 3 == 0 ? 0 : 1 + i % 40000, 40000 + i % 50000, 1, &err);
		clv_patterns_compact(&whole);
		/* the likelihood indexes the distinct times the same way */
		check(isfinite(clv_btyd_log_likelihood(CLV_BTYD_BGNBD, &whole, truth, NULL)),
			  "btyd: the likelihood of whole-number times is finite");
		secs = (double) (clock() - start) / CLOCKS_PER_SEC;
		check(whole.n > 100000 && secs < 2,
			  "btyd: %zu patterns of whole-number times are indexed in %.2f s", whole.n, secs);
		clv_patterns_free(&whole);
	}

	/* merging in another order gives the same canonical patterns */
	clv_patterns_init(&shuffled, 0);
	for (size_t i = pats.n; i-- > 0;)
		clv_patterns_add(&shuffled, pats.v[i].x, pats.v[i].tx, pats.v[i].T, pats.v[i].count, &err);
	clv_patterns_compact(&shuffled);
	check(shuffled.n == pats.n && memcmp(shuffled.v, pats.v, pats.n * sizeof(clv_pattern)) == 0,
		  "btyd: patterns compact to the same canonical form in any order");
	clv_patterns_free(&shuffled);

	/* recovery on 100,000 customers */
	simulate_bgnbd(rng, truth, 80000, &pats);
	clv_patterns_compact(&pats);
	check(clv_btyd_solve(CLV_BTYD_BGNBD, &pats, &opt, &fit, &err) == CLV_OK && fit.converged &&
		  fit.n_customers == 100000,
		  "btyd: BG/NBD fits 100,000 simulated customers");
	for (int i = 0; i < 4; i++)
	{
		double		z = fabs(fit.params[i] - truth[i]) / fit.std_error[i];

		worst = fmax(worst, z);
		if (!(z < 3.5))
			recovered = false;
	}
	check(recovered, "btyd: true BG/NBD parameters within 3.5 standard errors (worst %.2f)", worst);
	diag("  fitted r %.4f alpha %.4f a %.4f b %.4f", fit.params[0], fit.params[1],
		 fit.params[2], fit.params[3]);

	/* P(alive) is 1 for BG/NBD without repeat purchases, below 1 for MBG/NBD */
	check(clv_btyd_palive(CLV_BTYD_BGNBD, truth, 0, 0, 30) == 1.0 &&
		  clv_btyd_palive(CLV_BTYD_MBGNBD, truth, 0, 0, 30) < 1.0,
		  "btyd: P(alive) at frequency 0");
	{
		double		e0,
					e1;

		check(clv_btyd_expected_purchases(CLV_BTYD_BGNBD, truth, 0, 2, 10, 30, &e0) && e0 == 0 &&
			  clv_btyd_expected_purchases(CLV_BTYD_BGNBD, truth, 39, 300, 50, 50, &e1) &&
			  isfinite(e1) && e1 > 0,
			  "btyd: expected purchases at horizon 0, and finite for 300 purchases");
	}
	{
		/* the quadrature fallback agrees with the closed form where both work */
		const double cdnow[4] = {0.2426, 4.4136, 0.7929, 2.4259};
		double		worst = 0,
					closed,
					quad,
					heavy;
		bool		ok;

		for (int model = CLV_BTYD_BGNBD; model <= CLV_BTYD_MBGNBD; model++)
			for (int x = 0; x <= 40; x += 8)
				for (double h = 1; h <= 200; h *= 3)
				{
					clv_btyd_purchase_factor(model, cdnow, h, x, 38.86, &closed);
					clv_bgnbd_purchase_factor_integral(model == CLV_BTYD_MBGNBD, cdnow, h, x, 38.86, &quad);
					worst = fmax(worst, fabs(quad / closed - 1));
				}
		check(worst < 1e-9, "btyd: expected-purchase factor by quadrature matches the closed form (%.2g)",
			  worst);
		/*
		 * undiscounted, the periods' purchases add up to the factor at the
		 * horizon: also where a + b < 1 (a light buyer's c = a + b + x − 1
		 * is negative; the curve once cut its series short there)
		 */
		worst = 0;
		for (int light = 0; light <= 1; light++)
		{
			const double low[4] = {0.243, 4.414, 0.0719, 0.22};
			const double *params = light ? low : cdnow;

			for (int model = CLV_BTYD_BGNBD; model <= CLV_BTYD_MBGNBD; model++)
				for (int x = 0; x <= 2; x++)
					for (double T = 1; T <= 1000; T *= 10)
					{
						double		sum = NAN,
									plain = NAN;

						clv_btyd_discounted_factor(model, params, x, T, 52, 1, 0, &sum);
						clv_btyd_purchase_factor(model, params, 52, x, T, &plain);
						worst = fmax(worst, isfinite(sum) ? fabs(sum / plain - 1) : INFINITY);
					}
		}
		check(worst < 1e-11, "btyd: 52 undiscounted weeks add up to the 52-week factor, a + b < 1 too (%.2g)",
			  worst);

		/*
		 * a heavy buyer, 236 purchases in 8 weeks: the curve's series
		 * coefficients once overflowed over the weeks 33 to 51 and the value
		 * was an error; discounted, it is finite and below the undiscounted
		 */
		{
			double		sum = NAN,
						plain = NAN,
						discounted = NAN;

			clv_btyd_discounted_factor(CLV_BTYD_BGNBD, cdnow, 236, 8.067, 51, 1, 0, &sum);
			clv_btyd_purchase_factor(CLV_BTYD_BGNBD, cdnow, 51, 236, 8.067, &plain);
			ok = clv_btyd_discounted_factor(CLV_BTYD_BGNBD, cdnow, 236, 8.067, 51, 0, 0.0018,
											&discounted);
			check(fabs(sum / plain - 1) < 1e-11 && ok && discounted > 0.9 * plain && discounted < plain,
				  "btyd: a heavy buyer's 51 weeks add up to the 51-week factor (%.2g), discounted too",
				  fabs(sum / plain - 1));
		}
		heavy = NAN;
		ok = clv_btyd_purchase_factor(CLV_BTYD_BGNBD, cdnow, 5000, 300, 50, &heavy);
		check(ok && isfinite(heavy) && heavy > 0,
			  "btyd: 300 purchases over a 5000-week horizon has a finite expectation (%.4g)", heavy);
	}
	check(clv_btyd_check_customer(CLV_BTYD_BGNBD, 2, 10, 5, &err) == CLV_ERR_DATA &&
		  clv_btyd_check_customer(CLV_BTYD_BGNBD, 1.5, 1, 5, &err) == CLV_ERR_DATA &&
		  clv_btyd_check_customer(CLV_BTYD_GAMMAGAMMA, 2, 0, 0, &err) == CLV_ERR_DATA &&
		  clv_btyd_check_customer(CLV_BTYD_BGNBD, 0, 0, 0, &err) == CLV_OK,
		  "btyd: customer checks (recency > t, fractional frequency, zero spend)");

	clv_patterns_free(&pats);
	gsl_rng_free(rng);
}

/*
 * The table of BTYD models: every row is complete for its family, every
 * stored kind maps back to its row, and anything else is no BTYD model (never
 * a default one).  The arithmetic moved out of the glue keeps its values.
 */
static void
test_btyd_table(void)
{
	const double gg[3] = {6, 4, 15},
				gg_no_mean[3] = {6, 0.5, 15};
	clv_error	err;
	clv_btyd_model found;
	bool		complete = true,
				kinds = true;
	double		spend = 0,
				one_time = 0;
	clv_patterns p;

	for (int m = 0; m < CLV_BTYD_N_MODELS; m++)
	{
		const clv_btyd_ops *ops = &clv_btyd_models[m];
		bool		purchase = !ops->spend;

		complete &= ops->title != NULL && ops->n_params > 0 &&
			ops->n_params <= CLV_BTYD_MAX_PARAMS && ops->param_names != NULL &&
			ops->n_features == (purchase ? 3 : 2) && ops->feature_names != NULL &&
			ops->log_likelihood != NULL && ops->starts != NULL &&
			(ops->palive != NULL) == purchase && (ops->purchase_factor != NULL) == purchase &&
			(ops->probability_of_purchases != NULL) == purchase &&
			(ops->alive_probability_of_purchases != NULL) == purchase &&
			(ops->expected_spend != NULL) == !purchase &&
			(!purchase || (ops->time_scale > 0 && ops->time_scale < ops->n_params));
		for (int i = 0; i < ops->n_params; i++)
			complete &= ops->param_names[i] != NULL;
		kinds &= clv_btyd_model_of_kind(ops->kind, &found) && found == (clv_btyd_model) m &&
			clv_model_kind_params(ops->kind) == (uint32_t) ops->n_params;
	}
	check(complete, "btyd: every row of the model table is complete for its family");
	check(kinds, "btyd: every stored kind maps back to its own row");
	check(!clv_btyd_model_of_kind(CLV_KIND_LINREG, &found) &&
		  !clv_btyd_model_of_kind(CLV_KIND_GBM, &found) &&
		  !clv_btyd_model_of_kind((clv_model_kind) 0, &found) &&
		  !clv_btyd_model_of_kind((clv_model_kind) 99, &found),
		  "btyd: a kind that is no BTYD model maps to none");
	check(clv_btyd_discount_rate(0.1, 7) == log1p(0.1) * 7 / 365.25 &&
		  clv_btyd_discount_rate(0, 7) == 0,
		  "btyd: discount rate per unit is ln(1 + annual) times the unit in years");
	check(clv_btyd_expected_spend(CLV_BTYD_GAMMAGAMMA, gg, 3, 20, &spend, &err) == CLV_OK &&
		  spend == (15 + 20 * 3.0) * 6 / (6 * 3.0 + 4 - 1) &&
		  clv_btyd_expected_spend(CLV_BTYD_GAMMAGAMMA, gg, 0, 20, &one_time, &err) == CLV_OK &&
		  one_time == 15 * 6 / (4 - 1.0),
		  "btyd: Gamma-Gamma expected spend, the population mean for one-time buyers");
	check(clv_btyd_expected_spend(CLV_BTYD_GAMMAGAMMA, gg_no_mean, 3, 20, &spend, &err)
		  == CLV_ERR_DATA && strstr(err.detail, "q is 0.5") != NULL,
		  "btyd: Gamma-Gamma expected spend needs q > 1");
	check(clv_btyd_expected_spend(CLV_BTYD_BGNBD, gg, 3, 20, &spend, &err) == CLV_ERR_INTERNAL,
		  "btyd: a purchase model has no expected spend");
	clv_patterns_init(&p, 0);
	clv_btyd_add_customer(CLV_BTYD_GAMMAGAMMA, &p, 0, 12, 0, &err);
	clv_btyd_add_customer(CLV_BTYD_GAMMAGAMMA, &p, 0, 30, 0, &err);
	clv_btyd_add_customer(CLV_BTYD_BGNBD, &p, 0, 0, 5, &err);
	check(p.n == 2 && p.v[0].tx == 0 && p.v[0].count == 2,
		  "btyd: a one-time buyer's spend is not part of a Gamma-Gamma pattern");
	clv_patterns_free(&p);
}

int
main(void)
{
	/* as in _PG_init: GSL reports failures by status, never by abort() */
	gsl_set_error_handler_off();
	clv_btyd_init();

	test_crc32c();
	test_bytes_fit();
	test_sort();
	test_sha256();
	test_model_round_trip();
	test_model_corruption();
	test_model_predict();
	test_linreg_exact();
	test_linreg_reference();
	test_linreg_ridge();
	test_linreg_merge();
	test_linreg_rss();
	test_linreg_large_mean();
	test_linreg_errors();
	test_logreg_known();
	test_logreg_reference();
	test_logreg_errors();
	test_logreg_row_order();
	test_rows();
	test_summary();
	test_btyd();
	test_btyd_table();
	test_paretonbd();
	test_btyd_recovery();

	return tap_done();
}
