/*
 * model.c — encoder and strict decoder of the model container.
 *
 * Header, little-endian whatever the host:
 *   0  magic "CLVM"        4  u16 format version   6  u16 model kind
 *   8  u32 flags (0)      12  u32 feature count    16  u32 body length
 *  20  u32 CRC-32C: version 1, of header bytes 0..19 and the body;
 *      version 2, of header bytes 0..19 and 24..55 (the header alone)
 *  24  version 2 only: SHA-256 of header bytes 0..19 and the body, the
 *      model's identity (56 header bytes in all)
 * Body: feature names, metadata JSON, kind-specific payload; each a length
 * followed by bytes.  See doc/model-format.md.
 *
 * The decoder trusts nothing: a bytea can come from any user, and a crash
 * restarts the whole server.
 */
#include "model.h"
#include "trees.h"

#include <math.h>
#include <string.h>

/* ---- byte order -------------------------------------------------------- */

static inline void
store_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) v;
	p[1] = (unsigned char) (v >> 8);
	p[2] = (unsigned char) (v >> 16);
	p[3] = (unsigned char) (v >> 24);
}

static inline uint32_t
load_u32(const unsigned char *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 |
		(uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static inline uint16_t
load_u16(const unsigned char *p)
{
	return (uint16_t) (p[0] | p[1] << 8);
}

/* ---- output buffer ----------------------------------------------------- */

void
clv_buf_init(clv_buf *buf, size_t reserve)
{
	buf->cap = reserve < 64 ? 64 : reserve;
	buf->data = clv_alloc(buf->cap);
	buf->len = 0;
}

static void
buf_reserve(clv_buf *buf, size_t extra)
{
	size_t		need = buf->len + extra;
	size_t		cap = buf->cap * 2;
	unsigned char *data;

	if (need <= buf->cap)
		return;
	while (cap < need)
		cap *= 2;
	data = clv_alloc(cap);

	memcpy(data, buf->data, buf->len);
	clv_release(buf->data);
	buf->data = data;
	buf->cap = cap;
}

void
clv_buf_put(clv_buf *buf, const void *src, size_t n)
{
	if (n == 0)
		return;					/* src may be NULL, and memcpy forbids that */
	buf_reserve(buf, n);
	memcpy(buf->data + buf->len, src, n);
	buf->len += n;
}

void
clv_buf_put_u32(clv_buf *buf, uint32_t v)
{
	buf_reserve(buf, 4);
	store_u32(buf->data + buf->len, v);
	buf->len += 4;
}

void
clv_buf_put_f64(clv_buf *buf, double v)
{
	uint64_t	bits;

	memcpy(&bits, &v, 8);
	clv_buf_put_u32(buf, (uint32_t) bits);
	clv_buf_put_u32(buf, (uint32_t) (bits >> 32));
}

/* ---- bounds-checked reader --------------------------------------------- */

bool
clv_read_bytes(clv_reader *r, size_t n, const unsigned char **p)
{
	if (n > r->len - r->pos)
		return false;
	*p = r->data + r->pos;
	r->pos += n;
	return true;
}

bool
clv_read_u32(clv_reader *r, uint32_t *v)
{
	const unsigned char *p;

	if (!clv_read_bytes(r, 4, &p))
		return false;
	*v = load_u32(p);
	return true;
}

bool
clv_read_f64(clv_reader *r, double *v)
{
	const unsigned char *p;
	uint64_t	bits;

	if (!clv_read_bytes(r, 8, &p))
		return false;
	bits = (uint64_t) load_u32(p) | (uint64_t) load_u32(p + 4) << 32;
	memcpy(v, &bits, 8);
	return true;
}

/* ---- kinds ------------------------------------------------------------- */

const char *
clv_model_kind_name(clv_model_kind kind)
{
	switch (kind)
	{
		case CLV_KIND_LINREG:
			return "linreg";
		case CLV_KIND_LOGREG:
			return "logreg";
		case CLV_KIND_BGNBD:
			return "bgnbd";
		case CLV_KIND_MBGNBD:
			return "mbgnbd";
		case CLV_KIND_PARETONBD:
			return "paretonbd";
		case CLV_KIND_GAMMAGAMMA:
			return "gammagamma";
		case CLV_KIND_FOREST:
			return "forest";
		case CLV_KIND_GBM:
			return "gbm";
	}
	return "unknown";
}

uint32_t
clv_model_kind_params(clv_model_kind kind)
{
	switch (kind)
	{
		case CLV_KIND_BGNBD:
		case CLV_KIND_MBGNBD:
		case CLV_KIND_PARETONBD:
			return 4;
		case CLV_KIND_GAMMAGAMMA:
			return 3;
		default:
			return 0;
	}
}

static bool
kind_is_known(uint32_t kind)
{
	return clv_kind_is_linear(kind) || clv_model_kind_params(kind) > 0 ||
		clv_kind_is_ensemble(kind);
}

/* ---- encoder ----------------------------------------------------------- */

/* CRC-32C of the header up to the checksum field, then of the body. */
static uint32_t
model_checksum(const unsigned char *header, const unsigned char *body, size_t body_len)
{
	return clv_crc32c(clv_crc32c(0, header, 20), body, body_len);
}

static void
encode_payload(const clv_model *model, uint16_t version, clv_buf *buf)
{
	if (clv_kind_is_linear(model->kind))
	{
		clv_buf_put_u32(buf, model->n_features + 1);
		for (uint32_t i = 0; i <= model->n_features; i++)
			clv_buf_put_f64(buf, model->coef[i]);
	}
	else if (clv_kind_is_ensemble(model->kind))
		clv_ensemble_encode(model->ensemble, version, buf);
	else
	{
		clv_buf_put_u32(buf, model->n_params);
		for (uint32_t i = 0; i < model->n_params; i++)
			clv_buf_put_f64(buf, model->params[i]);
	}
}

static size_t
header_size(uint16_t version)
{
	return version >= 2 ? CLV_MODEL_HEADER_SIZE_V2 : CLV_MODEL_HEADER_SIZE;
}

/* SHA-256 of header bytes 0..19, then of the body: a version-2 identity. */
static void
content_digest(const unsigned char *header, const unsigned char *body, size_t body_len,
			   unsigned char digest[CLV_MODEL_DIGEST_SIZE])
{
	clv_sha256	ctx;

	if (clv_rt.sha256)
	{
		clv_rt.sha256(header, 20, body, body_len, digest);
		return;
	}
	clv_sha256_init(&ctx);
	clv_sha256_update(&ctx, header, 20);
	clv_sha256_update(&ctx, body, body_len);
	clv_sha256_final(&ctx, digest);
}

/* A version-2 header's CRC-32C: of bytes 0..19, then of the digest. */
static uint32_t
header_checksum(const unsigned char *header)
{
	return clv_crc32c(clv_crc32c(0, header, 20), header + CLV_MODEL_HEADER_SIZE,
					  CLV_MODEL_DIGEST_SIZE);
}

void
clv_model_encode(const clv_model *model, clv_buf *out)
{
	clv_model_encode_version(model, CLV_MODEL_FORMAT_VERSION, out);
}

void
clv_model_encode_version(const clv_model *model, uint16_t version, clv_buf *out)
{
	clv_buf		body;
	clv_buf		payload;
	unsigned char header[CLV_MODEL_HEADER_SIZE_V2];
	size_t		hsize = header_size(version);
	size_t		meta_len = model->meta ? strlen(model->meta) : 0;

	clv_buf_init(&body, 256 + 8 * (size_t) model->n_features);

	clv_buf_put_u32(&body, model->feature_names ? model->n_features : 0);
	if (model->feature_names)
		for (uint32_t i = 0; i < model->n_features; i++)
		{
			size_t		n = strlen(model->feature_names[i]);

			clv_buf_put_u32(&body, (uint32_t) n);
			clv_buf_put(&body, model->feature_names[i], n);
		}

	clv_buf_put_u32(&body, (uint32_t) meta_len);
	clv_buf_put(&body, model->meta, meta_len);

	clv_buf_init(&payload, 16 + 8 * (size_t) model->n_features);
	encode_payload(model, version, &payload);
	clv_buf_put_u32(&body, (uint32_t) payload.len);
	clv_buf_put(&body, payload.data, payload.len);
	clv_release(payload.data);

	memcpy(header, CLV_MODEL_MAGIC, 4);
	header[4] = (unsigned char) (version & 0xFF);
	header[5] = (unsigned char) (version >> 8);
	header[6] = (unsigned char) (model->kind & 0xFF);
	header[7] = (unsigned char) (model->kind >> 8);
	store_u32(header + 8, 0);
	store_u32(header + 12, model->n_features);
	store_u32(header + 16, (uint32_t) body.len);
	if (version >= 2)
	{
		content_digest(header, body.data, body.len, header + CLV_MODEL_HEADER_SIZE);
		store_u32(header + 20, header_checksum(header));
	}
	else
		store_u32(header + 20, model_checksum(header, body.data, body.len));

	clv_buf_init(out, hsize + body.len);
	clv_buf_put(out, header, hsize);
	clv_buf_put(out, body.data, body.len);
	clv_release(body.data);
}

/* ---- decoder ----------------------------------------------------------- */

static clv_status
corrupt(clv_error *err, const char *what)
{
	clv_fail(err, CLV_ERR_CORRUPT, "invalid clv model");
	clv_set_detail(err, "%s", what);
	return CLV_ERR_CORRUPT;
}

/*
 * The header checks, on the first avail bytes of a value total bytes long:
 * everything but what needs the body.
 */
static clv_status
check_header(const unsigned char *data, size_t avail, size_t total, clv_error *err)
{
	uint16_t	version;
	uint32_t	kind;
	size_t		hsize;

	if (avail < CLV_MODEL_HEADER_SIZE || total < CLV_MODEL_HEADER_SIZE)
		return corrupt(err, "The value is shorter than a model header.");
	if (memcmp(data, CLV_MODEL_MAGIC, 4) != 0)
		return corrupt(err, "The value does not start with the clv model magic bytes.");
	version = load_u16(data + 4);
	if (version == 0)
		return corrupt(err, "The model format version is 0.");
	if (version > CLV_MODEL_FORMAT_VERSION)
	{
		clv_fail(err, CLV_ERR_UNSUPPORTED,
				 "clv model format version %u is not supported", version);
		clv_set_detail(err, "This version of clv reads model format versions up to %d.",
					   CLV_MODEL_FORMAT_VERSION);
		clv_set_hint(err, "Update the clv extension, or refit the model with this version.");
		return CLV_ERR_UNSUPPORTED;
	}
	kind = load_u16(data + 6);
	if (!kind_is_known(kind))
	{
		clv_fail(err, CLV_ERR_UNSUPPORTED, "unknown clv model kind %u", kind);
		return CLV_ERR_UNSUPPORTED;
	}
	if (load_u32(data + 8) != 0)
		return corrupt(err, "The model header has unknown flags set.");
	if (load_u32(data + 12) > CLV_MAX_FEATURES)
		return corrupt(err, "The model header gives too many features.");
	hsize = header_size(version);
	if (avail < hsize || total < hsize)
		return corrupt(err, "The value is shorter than a model header.");
	if ((size_t) load_u32(data + 16) != total - hsize)
		return corrupt(err, "The model body length does not match the value's length; it may be truncated.");
	if (version >= 2 && load_u32(data + 20) != header_checksum(data))
		return corrupt(err, "The model header checksum does not match; the value is corrupted.");
	return CLV_OK;
}

clv_status
clv_model_check_header(const unsigned char *data, size_t len, clv_error *err)
{
	return check_header(data, len, len, err);
}

clv_status
clv_model_read_identity(const unsigned char *header, size_t header_len, size_t total_len,
						uint16_t *version, unsigned char digest[CLV_MODEL_DIGEST_SIZE],
						clv_error *err)
{
	clv_status	st = check_header(header, header_len, total_len, err);

	if (st != CLV_OK)
		return st;
	*version = load_u16(header + 4);
	if (*version >= 2)
		memcpy(digest, header + CLV_MODEL_HEADER_SIZE, CLV_MODEL_DIGEST_SIZE);
	return CLV_OK;
}

void
clv_model_compute_digest(const unsigned char *data, size_t len,
						 unsigned char digest[CLV_MODEL_DIGEST_SIZE])
{
	clv_sha256	ctx;

	if (len >= CLV_MODEL_HEADER_SIZE_V2 && load_u16(data + 4) >= 2)
	{
		content_digest(data, data + CLV_MODEL_HEADER_SIZE_V2, len - CLV_MODEL_HEADER_SIZE_V2,
					   digest);
		return;
	}
	if (clv_rt.sha256)
	{
		clv_rt.sha256(data, len, NULL, 0, digest);
		return;
	}
	clv_sha256_init(&ctx);
	clv_sha256_update(&ctx, data, len);
	clv_sha256_final(&ctx, digest);
}

bool
clv_model_digest_matches(const unsigned char *data, size_t len, clv_error *err)
{
	unsigned char digest[CLV_MODEL_DIGEST_SIZE];

	clv_model_compute_digest(data, len, digest);
	if (memcmp(digest, data + CLV_MODEL_HEADER_SIZE, CLV_MODEL_DIGEST_SIZE) == 0)
		return true;
	corrupt(err, "The model digest does not match its contents; the value is corrupted.");
	return false;
}

static clv_status
decode_names(clv_reader *r, clv_model *m, clv_error *err)
{
	uint32_t	count;

	if (!clv_read_u32(r, &count))
		return corrupt(err, "The feature name section is truncated.");
	if (count == 0)
		return CLV_OK;
	if (count != m->n_features)
		return corrupt(err, "The number of feature names does not match the feature count.");

	m->feature_names = clv_alloc(sizeof(char *) * count);
	memset(m->feature_names, 0, sizeof(char *) * count);
	for (uint32_t i = 0; i < count; i++)
	{
		uint32_t	n;
		const unsigned char *p;

		if (!clv_read_u32(r, &n) || n > CLV_MAX_NAME_LEN || !clv_read_bytes(r, n, &p))
			return corrupt(err, "A feature name is truncated or too long.");
		if (memchr(p, '\0', n) != NULL)
			return corrupt(err, "A feature name contains a zero byte.");
		m->feature_names[i] = clv_alloc(n + 1);
		memcpy(m->feature_names[i], p, n);
		m->feature_names[i][n] = '\0';
	}
	return CLV_OK;
}

static clv_status
decode_meta(clv_reader *r, clv_model *m, clv_error *err)
{
	uint32_t	n;
	const unsigned char *p;

	if (!clv_read_u32(r, &n) || n > CLV_MAX_META_LEN || !clv_read_bytes(r, n, &p))
		return corrupt(err, "The metadata section is truncated.");
	if (memchr(p, '\0', n) != NULL)
		return corrupt(err, "The metadata contains a zero byte.");
	m->meta = clv_alloc(n + 1);
	memcpy(m->meta, p, n);
	m->meta[n] = '\0';
	return CLV_OK;
}

static clv_status
decode_coefficients(clv_reader *r, clv_model *m, clv_error *err)
{
	uint32_t	n;

	if (!clv_read_u32(r, &n))
		return corrupt(err, "The coefficient count is missing.");
	if (n != m->n_features + 1)
		return corrupt(err, "The coefficient count does not match the feature count.");
	m->coef = clv_alloc(sizeof(double) * n);
	for (uint32_t i = 0; i < n; i++)
	{
		if (!clv_read_f64(r, &m->coef[i]))
			return corrupt(err, "The coefficients are truncated.");
		if (!isfinite(m->coef[i]))
			return corrupt(err, "A coefficient is not finite.");
	}
	return CLV_OK;
}

static clv_status
decode_parameters(clv_reader *r, clv_model *m, clv_error *err)
{
	uint32_t	n;

	if (!clv_read_u32(r, &n))
		return corrupt(err, "The parameter count is missing.");
	if (n != clv_model_kind_params(m->kind))
		return corrupt(err, "The parameter count does not match the model kind.");
	m->n_params = n;
	m->params = clv_alloc(sizeof(double) * n);
	for (uint32_t i = 0; i < n; i++)
	{
		if (!clv_read_f64(r, &m->params[i]))
			return corrupt(err, "The parameters are truncated.");
		if (!(isfinite(m->params[i]) && m->params[i] > 0))
			return corrupt(err, "A parameter is not positive and finite.");
	}
	return CLV_OK;
}

static clv_status
decode_ensemble(clv_reader *r, clv_model *m, clv_error *err)
{
	clv_status	st = clv_ensemble_decode(r, m->n_features, m->format_version,
											 &m->ensemble, err);
	clv_ensemble_type want = m->kind == CLV_KIND_FOREST ? CLV_ENSEMBLE_FOREST : CLV_ENSEMBLE_BOOSTED;

	if (st != CLV_OK)
		return st;
	if (m->ensemble->type != want)
		return corrupt(err, "The ensemble type does not match the model kind.");
	return CLV_OK;
}

clv_status
clv_model_decode(const unsigned char *data, size_t len, clv_model **out,
				 clv_error *err)
{
	clv_status	st;
	clv_model  *m;
	clv_reader	body;
	clv_reader	payload;
	uint32_t	payload_len;
	const unsigned char *p;

	size_t		hsize;

	*out = NULL;
	if ((st = clv_model_check_header(data, len, err)) != CLV_OK)
		return st;
	hsize = header_size(load_u16(data + 4));
	if (hsize == CLV_MODEL_HEADER_SIZE_V2)
	{
		if (!clv_model_digest_matches(data, len, err))
			return CLV_ERR_CORRUPT;
	}
	else if (load_u32(data + 20) != model_checksum(data, data + CLV_MODEL_HEADER_SIZE,
												   len - CLV_MODEL_HEADER_SIZE))
		return corrupt(err, "The model checksum does not match; the value is corrupted.");

	m = clv_alloc(sizeof(clv_model));
	memset(m, 0, sizeof(clv_model));
	*out = m;
	m->kind = (clv_model_kind) load_u16(data + 6);
	m->format_version = load_u16(data + 4);
	m->n_features = load_u32(data + 12);
	if (m->n_features == 0)
		return corrupt(err, "The model has no features.");

	body = (clv_reader) {data + hsize, len - hsize, 0};
	if ((st = decode_names(&body, m, err)) != CLV_OK ||
		(st = decode_meta(&body, m, err)) != CLV_OK)
		return st;
	if (!clv_read_u32(&body, &payload_len) || !clv_read_bytes(&body, payload_len, &p))
		return corrupt(err, "The payload is truncated.");
	if (body.pos != body.len)
		return corrupt(err, "The model has trailing bytes after its payload.");

	payload = (clv_reader) {p, payload_len, 0};
	if (clv_kind_is_linear(m->kind))
		st = decode_coefficients(&payload, m, err);
	else if (clv_kind_is_ensemble(m->kind))
		st = decode_ensemble(&payload, m, err);
	else
		st = decode_parameters(&payload, m, err);
	if (st != CLV_OK)
		return st;
	if (payload.pos != payload.len)
		return corrupt(err, "The payload has trailing bytes.");
	return CLV_OK;
}

void
clv_model_free(clv_model *model)
{
	if (model == NULL)
		return;
	if (model->feature_names)
		for (uint32_t i = 0; i < model->n_features; i++)
			clv_release(model->feature_names[i]);
	clv_release(model->feature_names);
	clv_release(model->meta);
	clv_release(model->coef);
	clv_release(model->params);
	clv_ensemble_free(model->ensemble);
	clv_release(model);
}

/* ---- scoring ----------------------------------------------------------- */

double
clv_model_predict(const clv_model *model, const double *x)
{
	double		eta;

	if (!clv_kind_is_linear(model->kind))
		return NAN;
	eta = model->coef[0];
	for (uint32_t j = 0; j < model->n_features; j++)
		eta += model->coef[j + 1] * x[j];
	if (model->kind == CLV_KIND_LOGREG)
		return eta >= 0 ? 1.0 / (1.0 + exp(-eta)) : exp(eta) / (1.0 + exp(eta));
	return eta;
}
