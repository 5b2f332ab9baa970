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

#include <math.h>
#include <string.h>

/* ---- encoder ----------------------------------------------------------- */

/* CRC-32C of the header up to the checksum field, then of the body. */
static uint32_t
model_checksum(const unsigned char *header, const unsigned char *body, size_t body_len)
{
	return clv_crc32c(clv_crc32c(0, header, 20), body, body_len);
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
	clv_kind_ops_of(model->kind)->encode(model, version, &payload);
	clv_buf_put_u32(&body, (uint32_t) payload.len);
	clv_buf_put(&body, payload.data, payload.len);
	clv_release(payload.data);

	memcpy(header, CLV_MODEL_MAGIC, 4);
	header[4] = (unsigned char) (version & 0xFF);
	header[5] = (unsigned char) (version >> 8);
	header[6] = (unsigned char) (model->kind & 0xFF);
	header[7] = (unsigned char) (model->kind >> 8);
	clv_store_u32(header + 8, 0);
	clv_store_u32(header + 12, model->n_features);
	clv_store_u32(header + 16, (uint32_t) body.len);
	if (version >= 2)
	{
		content_digest(header, body.data, body.len, header + CLV_MODEL_HEADER_SIZE);
		clv_store_u32(header + 20, header_checksum(header));
	}
	else
		clv_store_u32(header + 20, model_checksum(header, body.data, body.len));

	clv_buf_init(out, hsize + body.len);
	clv_buf_put(out, header, hsize);
	clv_buf_put(out, body.data, body.len);
	clv_release(body.data);
}

/* ---- decoder ----------------------------------------------------------- */

clv_status
clv_model_corrupt(clv_error *err, const char *what)
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
		return clv_model_corrupt(err, "The value is shorter than a model header.");
	if (memcmp(data, CLV_MODEL_MAGIC, 4) != 0)
		return clv_model_corrupt(err, "The value does not start with the clv model magic bytes.");
	version = clv_load_u16(data + 4);
	if (version == 0)
		return clv_model_corrupt(err, "The model format version is 0.");
	if (version > CLV_MODEL_FORMAT_VERSION)
	{
		clv_fail(err, CLV_ERR_UNSUPPORTED,
				 "clv model format version %u is not supported", version);
		clv_set_detail(err, "This version of clv reads model format versions up to %d.",
					   CLV_MODEL_FORMAT_VERSION);
		clv_set_hint(err, "Update the clv extension, or refit the model with this version.");
		return CLV_ERR_UNSUPPORTED;
	}
	kind = clv_load_u16(data + 6);
	if (clv_kind_ops_of(kind) == NULL)
	{
		clv_fail(err, CLV_ERR_UNSUPPORTED, "unknown clv model kind %u", kind);
		return CLV_ERR_UNSUPPORTED;
	}
	if (clv_load_u32(data + 8) != 0)
		return clv_model_corrupt(err, "The model header has unknown flags set.");
	if (clv_load_u32(data + 12) > CLV_MAX_FEATURES)
		return clv_model_corrupt(err, "The model header gives too many features.");
	hsize = header_size(version);
	if (avail < hsize || total < hsize)
		return clv_model_corrupt(err, "The value is shorter than a model header.");
	if ((size_t) clv_load_u32(data + 16) != total - hsize)
		return clv_model_corrupt(err, "The model body length does not match the value's length; it may be truncated.");
	if (version >= 2 && clv_load_u32(data + 20) != header_checksum(data))
		return clv_model_corrupt(err, "The model header checksum does not match; the value is corrupted.");
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
	*version = clv_load_u16(header + 4);
	if (*version >= 2)
		memcpy(digest, header + CLV_MODEL_HEADER_SIZE, CLV_MODEL_DIGEST_SIZE);
	return CLV_OK;
}

void
clv_model_compute_digest(const unsigned char *data, size_t len,
						 unsigned char digest[CLV_MODEL_DIGEST_SIZE])
{
	clv_sha256	ctx;

	if (len >= CLV_MODEL_HEADER_SIZE_V2 && clv_load_u16(data + 4) >= 2)
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
	clv_model_corrupt(err, "The model digest does not match its contents; the value is corrupted.");
	return false;
}

static clv_status
decode_names(clv_reader *r, clv_model *m, clv_error *err)
{
	uint32_t	count;

	if (!clv_read_u32(r, &count))
		return clv_model_corrupt(err, "The feature name section is truncated.");
	if (count == 0)
		return CLV_OK;
	if (count != m->n_features)
		return clv_model_corrupt(err, "The number of feature names does not match the feature count.");

	m->feature_names = clv_alloc(sizeof(char *) * count);
	memset(m->feature_names, 0, sizeof(char *) * count);
	for (uint32_t i = 0; i < count; i++)
	{
		uint32_t	n;
		const unsigned char *p;

		if (!clv_read_u32(r, &n) || n > CLV_MAX_NAME_LEN || !clv_read_bytes(r, n, &p))
			return clv_model_corrupt(err, "A feature name is truncated or too long.");
		if (memchr(p, '\0', n) != NULL)
			return clv_model_corrupt(err, "A feature name contains a zero byte.");
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
		return clv_model_corrupt(err, "The metadata section is truncated.");
	if (memchr(p, '\0', n) != NULL)
		return clv_model_corrupt(err, "The metadata contains a zero byte.");
	m->meta = clv_alloc(n + 1);
	memcpy(m->meta, p, n);
	m->meta[n] = '\0';
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
	hsize = header_size(clv_load_u16(data + 4));
	if (hsize == CLV_MODEL_HEADER_SIZE_V2)
	{
		if (!clv_model_digest_matches(data, len, err))
			return CLV_ERR_CORRUPT;
	}
	else if (clv_load_u32(data + 20) != model_checksum(data, data + CLV_MODEL_HEADER_SIZE,
												   len - CLV_MODEL_HEADER_SIZE))
		return clv_model_corrupt(err, "The model checksum does not match; the value is corrupted.");

	m = clv_alloc(sizeof(clv_model));
	memset(m, 0, sizeof(clv_model));
	*out = m;
	m->kind = (clv_model_kind) clv_load_u16(data + 6);
	m->format_version = clv_load_u16(data + 4);
	m->n_features = clv_load_u32(data + 12);
	if (m->n_features == 0)
		return clv_model_corrupt(err, "The model has no features.");

	body = (clv_reader) {data + hsize, len - hsize, 0};
	if ((st = decode_names(&body, m, err)) != CLV_OK ||
		(st = decode_meta(&body, m, err)) != CLV_OK)
		return st;
	if (!clv_read_u32(&body, &payload_len) || !clv_read_bytes(&body, payload_len, &p))
		return clv_model_corrupt(err, "The payload is truncated.");
	if (body.pos != body.len)
		return clv_model_corrupt(err, "The model has trailing bytes after its payload.");

	payload = (clv_reader) {p, payload_len, 0};
	st = clv_kind_ops_of(m->kind)->decode(&payload, m->format_version, m, err);
	if (st != CLV_OK)
		return st;
	if (payload.pos != payload.len)
		return clv_model_corrupt(err, "The payload has trailing bytes.");
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
	/* a model whose kind failed the header check has no payload */
	if (clv_kind_ops_of(model->kind) != NULL)
		clv_kind_ops_of(model->kind)->free(model);
	clv_release(model);
}
