/*
 * bytes.h — the little-endian byte writer and the bounds-checked reader that
 * the model container and every payload encoder and decoder share.
 */
#ifndef CLV_BYTES_H
#define CLV_BYTES_H

#include "clv_core.h"

/* Growable output buffer for encoders. */
typedef struct clv_buf
{
	unsigned char *data;
	size_t		len;
	size_t		cap;
} clv_buf;

void		clv_buf_init(clv_buf *buf, size_t reserve);
void		clv_buf_put(clv_buf *buf, const void *src, size_t n);
void		clv_buf_put_u32(clv_buf *buf, uint32_t v);
void		clv_buf_put_f64(clv_buf *buf, double v);

/* Bounds-checked little-endian reader for decoders. */
typedef struct clv_reader
{
	const unsigned char *data;
	size_t		len;
	size_t		pos;
} clv_reader;

bool		clv_read_u32(clv_reader *r, uint32_t *v);
bool		clv_read_f64(clv_reader *r, double *v);
bool		clv_read_bytes(clv_reader *r, size_t n, const unsigned char **p);

/* Fixed-width little-endian fields at a known place (headers). */
static inline void
clv_store_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) v;
	p[1] = (unsigned char) (v >> 8);
	p[2] = (unsigned char) (v >> 16);
	p[3] = (unsigned char) (v >> 24);
}

static inline uint32_t
clv_load_u32(const unsigned char *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 |
		(uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static inline uint16_t
clv_load_u16(const unsigned char *p)
{
	return (uint16_t) (p[0] | p[1] << 8);
}

#endif							/* CLV_BYTES_H */
