/*
 * bytes.c — the byte writer and reader of bytes.h.
 */
#include "bytes.h"

#include <string.h>

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
	clv_store_u32(buf->data + buf->len, v);
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
	*v = clv_load_u32(p);
	return true;
}

bool
clv_read_f64(clv_reader *r, double *v)
{
	const unsigned char *p;
	uint64_t	bits;

	if (!clv_read_bytes(r, 8, &p))
		return false;
	bits = (uint64_t) clv_load_u32(p) | (uint64_t) clv_load_u32(p + 4) << 32;
	memcpy(v, &bits, 8);
	return true;
}
