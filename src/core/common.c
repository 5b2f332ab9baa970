/*
 * common.c — error values, default runtime hooks and CRC-32C for the core.
 */
#include "clv_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void *
default_alloc(size_t size)
{
	void	   *p = malloc(size);

	if (p == NULL)
		abort();				/* only the unit tests use this allocator */
	return p;
}

clv_runtime clv_rt = {default_alloc, free, NULL, NULL};

clv_status
clv_fail(clv_error *err, clv_status status, const char *fmt,...)
{
	va_list		ap;

	err->status = status;
	err->detail[0] = '\0';
	err->hint[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return status;
}

clv_status
clv_rows_capacity(size_t *cap, size_t need, size_t row_bytes, size_t max_bytes,
				  clv_error *err)
{
	size_t		grown = *cap ? *cap * 2 : 1024;

	if (max_bytes && need > max_bytes / row_bytes)
	{
		clv_fail(err, CLV_ERR_LIMIT, "training data exceeds the memory limit of %zu kB",
				 max_bytes / 1024);
		clv_set_detail(err, "%zu rows need %zu kB, at %zu bytes a row.",
					   need, (need * row_bytes + 1023) / 1024, row_bytes);
		return CLV_ERR_LIMIT;
	}
	while (grown < need)
		grown *= 2;
	if (max_bytes && grown > max_bytes / row_bytes)
		grown = max_bytes / row_bytes;
	*cap = grown;
	return CLV_OK;
}

void
clv_set_detail(clv_error *err, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

void
clv_set_hint(clv_error *err, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

/*
 * Table-driven CRC-32C (reflected polynomial 0x82F63B78), the checksum
 * PostgreSQL itself uses for WAL.  The model container is checked once per
 * decode, not per row, so a byte-at-a-time table is fast enough.
 */
static uint32_t crc_table[256];
static bool crc_table_ready = false;

static void
crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++)
	{
		uint32_t	c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
	crc_table_ready = true;
}

uint32_t
clv_crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!crc_table_ready)
		crc_table_init();
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
	return ~crc;
}
