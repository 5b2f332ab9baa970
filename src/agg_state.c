/*
 * agg_state.c — the payload of an aggregate state's flat form (state_type.c):
 * the writer, which checks the size before it grows, and the reader, which
 * checks every read.
 */
#include "clv.h"

#include <stdarg.h>

#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/memutils.h"

/* ---- serialized aggregate states ------------------------------------------ */

void
clv_invalid_state(const char *fmt,...)
{
	char		detail[256];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid clv aggregate state"),
			 errdetail_internal("%s", detail)));
	pg_unreachable();
}

/* Bytes copied between interrupt checks: well under a second. */
#define SEND_CHUNK (64 * 1024 * 1024)

void
clv_state_send_begin(StringInfo buf, size_t n_items, size_t item_bytes, size_t fixed_bytes,
					 const char *items)
{
	/* what is written already and the StringInfo's terminating byte count too */
	size_t		room = MaxAllocSize - 1 - (size_t) buf->len;

	if (!clv_bytes_fit(n_items, item_bytes, fixed_bytes, room))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("aggregate state too large to pass between parallel workers"),
				 errdetail("A partial state of %zu %s needs more than the 1 GB a bytea holds.",
						   n_items, items),
				 errhint("Disable parallel query for this statement with SET max_parallel_workers_per_gather = 0.")));
	enlargeStringInfo(buf, (int) (fixed_bytes + n_items * item_bytes));
}

void
clv_state_send_bytes(StringInfo buf, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0)
	{
		size_t		chunk = Min(len, SEND_CHUNK);

		pq_sendbytes(buf, p, (int) chunk);
		p += chunk;
		len -= chunk;
		CHECK_FOR_INTERRUPTS();
	}
}

void
clv_state_reader(bytea *bytes, StringInfo buf)
{
	buf->data = VARDATA_ANY(bytes);
	buf->len = VARSIZE_ANY_EXHDR(bytes);
	buf->maxlen = buf->len;
	buf->cursor = 0;
}

const char *
clv_state_take(StringInfo buf, size_t len)
{
	const char *p = buf->data + buf->cursor;

	if (len > (size_t) (buf->len - buf->cursor))
		clv_invalid_state("The state ends %zu bytes early.",
						  len - (size_t) (buf->len - buf->cursor));
	buf->cursor += (int) len;
	return p;
}

uint32
clv_state_uint32(StringInfo buf)
{
	uint32		v;

	memcpy(&v, clv_state_take(buf, sizeof(v)), sizeof(v));
	return pg_ntoh32(v);
}

int64
clv_state_int64(StringInfo buf)
{
	uint64		v;

	memcpy(&v, clv_state_take(buf, sizeof(v)), sizeof(v));
	return (int64) pg_ntoh64(v);
}

uint8
clv_state_byte(StringInfo buf)
{
	return (uint8) *clv_state_take(buf, 1);
}

double
clv_state_float8(StringInfo buf)
{
	union
	{
		int64		i;
		double		d;
	}			v;

	v.i = clv_state_int64(buf);
	return v.d;
}

void
clv_state_end(StringInfo buf)
{
	if (buf->cursor != buf->len)
		clv_invalid_state("The state has %d bytes left over.", buf->len - buf->cursor);
}


/* ---- rows as (key, value) pairs ----------------------------------------------- */

void
clv_raise_evaluation_limit(clv_error *err)
{
	clv_set_hint(err, "Raise clv.max_training_memory, or evaluate on a sample.");
	clv_raise(err);
}

void
clv_state_merge_pairs(clv_pairs *a, const clv_pairs *b)
{
	clv_error	err;

	if (clv_pairs_merge(a, b, &err) != CLV_OK)
		clv_raise_evaluation_limit(&err);
}

void
clv_state_send_pairs(StringInfo buf, const clv_pairs *pairs)
{
	pq_sendint64(buf, (int64) pairs->n);
	for (size_t i = 0; i < pairs->n; i++)
	{
		pq_sendfloat8(buf, pairs->v[i].key);
		pq_sendfloat8(buf, pairs->v[i].value);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

void
clv_state_receive_pairs(StringInfo buf, clv_pairs *pairs,
						bool (*valid) (double key, double value, const void *arg),
						const void *arg)
{
	int64		n = clv_state_int64(buf);
	clv_error	err;

	if (n < 0 || (uint64) n != (uint64) (buf->len - buf->cursor) / CLV_PAIR_BYTES ||
		(buf->len - buf->cursor) % CLV_PAIR_BYTES != 0)
		clv_invalid_state("The row count does not match the length of the state.");
	if (clv_pairs_reserve(pairs, (size_t) n, &err) != CLV_OK)
		clv_raise_evaluation_limit(&err);
	for (int64 i = 0; i < n; i++)
	{
		double		key = clv_state_float8(buf);
		double		value = clv_state_float8(buf);

		if (!valid(key, value, arg))
			clv_invalid_state("Row " INT64_FORMAT " is not one that rows can produce.", i + 1);
		pairs->v[i].key = key;
		pairs->v[i].value = value;
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pairs->n = (size_t) n;
}
