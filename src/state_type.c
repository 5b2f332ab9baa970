/*
 * state_type.c — clv_state, the transition type of clv's aggregates.
 *
 * A state of type internal cannot leave its process except through the
 * aggregate's serialize function, which only PostgreSQL's own parallel plans
 * call; Citus runs such an aggregate by pulling every row to the coordinator.
 * clv_state is a real type, so Citus runs the aggregates as partial
 * aggregates on its workers and ships the partial states as text.
 *
 * While an aggregate runs, its state is a read-write expanded object that
 * wraps the family's own C struct, so a row costs no copy: PostgreSQL (and
 * Citus's wrapper) keep a read-write expanded object the transition function
 * returns when its memory context is a child of the aggregate context.  The
 * expanded objects of one aggregate context share one such child, the arena,
 * rather than a context each: clv_summary has a state per customer, and a
 * memory context per customer would cost more than the state.  Sharing is
 * safe because PostgreSQL and Citus delete a transition value only when the
 * transition or combine function returns a different one, and clv's never do
 * once a state exists.  The arena is found again from the aggregate context
 * through a marker among its reset callbacks, which the context's reset
 * removes together with the arena (see state_arena).
 *
 * Wherever a state leaves the aggregate (a tuple to the parallel leader, the
 * text Citus ships) it is flattened:
 *
 *     0  magic "CLVS"   4  u16 format version   6  u8 family
 *     7  u8 byte order of the payload's raw arrays (0 little-, 1 big-endian)
 *     8  u32 CRC-32C of the payload              12 payload (the family's)
 *
 * the header's integers big-endian.  Payloads send rows as they are in
 * memory, so a state is only read on a machine of the same byte order.  The
 * text form is that flat form in base64.  A state of another format version,
 * of an unknown family or byte order, or with a payload its family rejects is
 * an error (22P03), never a wrong model; so is a wrong checksum, which the
 * type's input and receive functions check (a state from outside the server).
 */
#include "clv.h"

#include "common/base64.h"
#include "libpq/pqformat.h"
#include "port/pg_bswap.h"
#include "port/pg_crc32c.h"
#include "utils/expandeddatum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#define STATE_MAGIC "CLVS"
#define STATE_FORMAT_VERSION 1
#define STATE_HEADER_SIZE 12
#ifdef WORDS_BIGENDIAN
#define STATE_BYTE_ORDER 1
#else
#define STATE_BYTE_ORDER 0
#endif

extern const clv_state_family clv_summary_family;
extern const clv_state_family clv_linreg_family;
extern const clv_state_family clv_logreg_family;
extern const clv_state_family clv_btyd_family;
extern const clv_state_family clv_tracking_family;
extern const clv_state_family clv_ranking_family;
extern const clv_state_family clv_trees_family;
extern const clv_state_family clv_qini_family;
extern const clv_state_family clv_kmeans_family;
extern const clv_state_family clv_allocation_family;
extern const clv_state_family clv_threshold_family;
extern const clv_state_family clv_monitor_family;
extern const clv_state_family clv_sbg_family;
extern const clv_state_family clv_btyd_cov_family;

static const clv_state_family *
family_of_id(uint8 id)
{
	static const clv_state_family *const families[] = {
		&clv_summary_family, &clv_linreg_family, &clv_logreg_family, &clv_btyd_family,
		&clv_tracking_family, &clv_ranking_family, &clv_trees_family, &clv_qini_family,
		&clv_kmeans_family, &clv_allocation_family, &clv_threshold_family, &clv_monitor_family,
		&clv_sbg_family,
		&clv_btyd_cov_family,
	};

	for (int i = 0; i < lengthof(families); i++)
		if (families[i]->id == id)
			return families[i];
	return NULL;
}

/* ---- the expanded form ----------------------------------------------------- */

typedef struct state_object
{
	ExpandedObjectHeader hdr;
	const clv_state_family *family;
	void	   *state;
	/* the flat form, built by get_flat_size for flatten_into */
	bytea	   *flat;
} state_object;

static Size state_flat_size(ExpandedObjectHeader *eohptr);
static void state_flatten(ExpandedObjectHeader *eohptr, void *result, Size allocated_size);

static const ExpandedObjectMethods state_methods = {
	state_flat_size,
	state_flatten
};

static void
arena_marker(void *arg)
{
	/* nothing to do: the reset that calls it deletes the arena too */
}

/*
 * The arena of an aggregate context: found through its marker callback, or
 * created with one.  A reset of the aggregate context deletes its children
 * (the arena) and then runs and forgets its callbacks (the marker), so the
 * marker never outlives the arena it names.
 */
static MemoryContext
state_arena(MemoryContext aggcxt)
{
	MemoryContextCallback *marker;
	MemoryContext arena;

	for (marker = aggcxt->reset_cbs; marker != NULL; marker = marker->next)
		if (marker->func == arena_marker)
			return (MemoryContext) marker->arg;
	arena = AllocSetContextCreate(aggcxt, "clv aggregate states", ALLOCSET_DEFAULT_SIZES);
	marker = MemoryContextAlloc(aggcxt, sizeof(MemoryContextCallback));
	marker->func = arena_marker;
	marker->arg = arena;
	MemoryContextRegisterResetCallback(aggcxt, marker);
	return arena;
}

static Datum
wrap_state(const clv_state_family *family, void *state, MemoryContext arena)
{
	state_object *obj = MemoryContextAllocZero(arena, sizeof(state_object));

	EOH_init_header(&obj->hdr, &state_methods, arena);
	obj->family = family;
	obj->state = state;
	return EOHPGetRWDatum(&obj->hdr);
}

static state_object *
object_of(Datum d)
{
	return (state_object *) DatumGetEOHP(d);
}

static bool
is_expanded(Datum d)
{
	return VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d));
}

/* A change to the state makes a flat form built earlier stale. */
static void
forget_flat(state_object *obj)
{
	if (obj->flat != NULL)
	{
		pfree(obj->flat);
		obj->flat = NULL;
	}
}

/* ---- the flat form --------------------------------------------------------- */

static pg_crc32c
payload_crc(const char *payload, size_t len)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, payload, len);
	FIN_CRC32C(crc);
	return crc;
}

/* The flat form of a family's state: header, then the family's payload. */
static bytea *
flatten_state(const clv_state_family *family, const void *state)
{
	StringInfoData buf;
	uint32		crc;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, STATE_MAGIC, 4);
	pq_sendint16(&buf, STATE_FORMAT_VERSION);
	pq_sendbyte(&buf, family->id);
	pq_sendbyte(&buf, STATE_BYTE_ORDER);
	pq_sendint32(&buf, 0);		/* the checksum, filled in below */
	family->send(&buf, state);
	crc = payload_crc(buf.data + VARHDRSZ + STATE_HEADER_SIZE,
					  buf.len - VARHDRSZ - STATE_HEADER_SIZE);
	crc = pg_hton32(crc);
	memcpy(buf.data + VARHDRSZ + 8, &crc, 4);
	return pq_endtypsend(&buf);
}

static Size
state_flat_size(ExpandedObjectHeader *eohptr)
{
	state_object *obj = (state_object *) eohptr;

	if (obj->flat == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(obj->hdr.eoh_context);

		obj->flat = flatten_state(obj->family, obj->state);
		MemoryContextSwitchTo(old);
	}
	return VARSIZE(obj->flat);
}

static void
state_flatten(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	state_object *obj = (state_object *) eohptr;

	Assert(obj->flat != NULL && allocated_size == VARSIZE(obj->flat));
	memcpy(result, obj->flat, allocated_size);
	forget_flat(obj);
}

/*
 * Check a flat state's header (and, when it comes from outside the server,
 * its checksum) and return its family; buf is left at the payload.
 */
static const clv_state_family *
read_header(bytea *flat, StringInfo buf, bool from_outside)
{
	const clv_state_family *family;
	uint16		version;
	uint8		id;
	uint32		crc;

	clv_state_reader(flat, buf);
	if (buf->len < STATE_HEADER_SIZE)
		clv_invalid_state("The value is shorter than a state's header.");
	if (memcmp(buf->data, STATE_MAGIC, 4) != 0)
		clv_invalid_state("The value does not start with the clv state magic bytes.");
	buf->cursor = 4;
	version = clv_state_byte(buf) << 8;
	version |= clv_state_byte(buf);
	if (version != STATE_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid clv aggregate state"),
				 errdetail("The state has format version %u; this clv reads version %d.",
						   version, STATE_FORMAT_VERSION),
				 errhint("Every server that computes a partial aggregate must run the same clv version.")));
	id = clv_state_byte(buf);
	family = family_of_id(id);
	if (family == NULL)
		clv_invalid_state("The state's family %u is unknown.", id);
	if (clv_state_byte(buf) != STATE_BYTE_ORDER)
		clv_invalid_state("The state comes from a machine of another byte order.");
	crc = clv_state_uint32(buf);
	if (from_outside &&
		crc != payload_crc(buf->data + STATE_HEADER_SIZE, buf->len - STATE_HEADER_SIZE))
		clv_invalid_state("The state's checksum does not match its content.");
	return family;
}

/*
 * A family's state read from a flat state, allocated in the current context.
 * A flat state inside the server was flattened by this file or checked whole
 * by the type's input or receive function, so only a state from outside
 * (from_outside) has its checksum computed again; every state's content is
 * checked as it is read.
 */
static void *
receive_state(bytea *flat, const clv_state_family **family, bool from_outside)
{
	StringInfoData buf;
	void	   *state;

	*family = read_header(flat, &buf, from_outside);
	state = (*family)->receive(&buf);
	clv_state_end(&buf);
	return state;
}

/* ---- support functions' arguments ----------------------------------------- */

/*
 * The family's state in a state datum, to read: an expanded object's own, or
 * one read from a flat state, in place (it may point into the datum).
 */
static void *
state_view(Datum d, const clv_state_family **family)
{
	if (is_expanded(d))
	{
		*family = object_of(d)->family;
		return object_of(d)->state;
	}
	return receive_state(PG_DETOAST_DATUM(d), family, false);
}

void
clv_state_of_other_aggregate(FunctionCallInfo fcinfo, const char *got)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("a clv aggregate state of %s cannot be used by %s",
					got, clv_agg_name(fcinfo))));
}

pg_attribute_noreturn()
static void
wrong_family(FunctionCallInfo fcinfo, const clv_state_family *got)
{
	clv_state_of_other_aggregate(fcinfo, got->aggregates);
}

static void *merge_states(FunctionCallInfo fcinfo, const clv_combine_ops *ops, void *a,
						  const void *b, MemoryContext cxt);

/*
 * A flat state made an expanded object in the arena.  A family may read a
 * flat state in place (rows, say), so the state it reads is copied, as a
 * combine function copies a partial state.
 */
static Datum
adopt_flat(FunctionCallInfo fcinfo, Datum d, MemoryContext arena)
{
	const clv_state_family *family;
	void	   *other = receive_state(PG_DETOAST_DATUM(d), &family, false);

	return wrap_state(family, merge_states(fcinfo, &family->combine, NULL, other, arena), arena);
}

/*
 * State argument argno as an expanded object: an expanded object as it is, a
 * flat one (an initial value, say) read into a new one in the arena of the
 * aggregate context.
 */
static state_object *
state_object_arg(FunctionCallInfo fcinfo, int argno, const clv_state_family *expected,
				 MemoryContext aggcxt)
{
	Datum		d = PG_GETARG_DATUM(argno);
	state_object *obj;

	if (likely(is_expanded(d)))
		obj = object_of(d);
	else
		obj = object_of(adopt_flat(fcinfo, d, state_arena(aggcxt)));
	if (expected != NULL && obj->family != expected)
		wrong_family(fcinfo, obj->family);
	forget_flat(obj);
	return obj;
}

pg_attribute_noreturn()
static void
not_in_aggregate(FunctionCallInfo fcinfo, const char *fname)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s can only be called by an aggregate",
					fname ? fname : get_func_name(fcinfo->flinfo->fn_oid))));
}

MemoryContext
clv_agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext cxt;

	if (!AggCheckCallContext(fcinfo, &cxt))
		not_in_aggregate(fcinfo, fname);
	return cxt;
}

Datum
clv_state_trans(FunctionCallInfo fcinfo, const clv_state_family *family, clv_state_step step)
{
	MemoryContext aggcxt = clv_agg_context(fcinfo, NULL);
	state_object *obj;

	if (PG_ARGISNULL(0))
	{
		MemoryContext arena = state_arena(aggcxt);
		void	   *state = step(fcinfo, NULL, arena);

		if (state == NULL)		/* the row was skipped */
			PG_RETURN_NULL();
		return wrap_state(family, state, arena);
	}
	obj = state_object_arg(fcinfo, 0, family, aggcxt);
	obj->state = step(fcinfo, obj->state, obj->hdr.eoh_context);
	return EOHPGetRWDatum(&obj->hdr);
}

Datum
clv_internal_trans(FunctionCallInfo fcinfo, clv_state_step step)
{
	MemoryContext aggcxt = clv_agg_context(fcinfo, NULL);

	void	   *state = step(fcinfo, PG_ARGISNULL(0) ? NULL : PG_GETARG_POINTER(0), aggcxt);

	if (state == NULL)			/* the row was skipped */
		PG_RETURN_NULL();
	PG_RETURN_POINTER(state);
}

Datum
clv_state_final(FunctionCallInfo fcinfo, const clv_state_family *family, clv_state_finish finish)
{
	const clv_state_family *got;
	void	   *state;

	clv_agg_context(fcinfo, NULL);
	if (PG_ARGISNULL(0))
		return finish(fcinfo, NULL);
	state = state_view(PG_GETARG_DATUM(0), &got);
	if (got != family)
		wrong_family(fcinfo, got);
	/* a copy of a flat state: finish may change the state, which points into it */
	if (!is_expanded(PG_GETARG_DATUM(0)))
		state = merge_states(fcinfo, &family->combine, NULL, state, CurrentMemoryContext);
	return finish(fcinfo, state);
}

Datum
clv_internal_final(FunctionCallInfo fcinfo, clv_state_finish finish)
{
	clv_agg_context(fcinfo, NULL);
	return finish(fcinfo, PG_ARGISNULL(0) ? NULL : PG_GETARG_POINTER(0));
}

/*
 * Merge b into a (NULL: a new state like b) in cxt, after checking that both
 * come from the same arguments and options.
 */
static void *
merge_states(FunctionCallInfo fcinfo, const clv_combine_ops *ops, void *a, const void *b,
			 MemoryContext cxt)
{
	MemoryContext old;

	if (a != NULL)
		ops->check_same(fcinfo, a, b);
	/* b may live in a shorter-lived context: what a keeps is copied */
	old = MemoryContextSwitchTo(cxt);
	if (a == NULL)
		a = ops->new_like(b, cxt);
	ops->merge(a, b);
	MemoryContextSwitchTo(old);
	return a;
}

const void *
clv_state_arg(FunctionCallInfo fcinfo, int argno, const clv_state_family *family)
{
	const clv_state_family *got;
	const void *state = state_view(PG_GETARG_DATUM(argno), &got);

	if (got != family)
		wrong_family(fcinfo, got);
	return state;
}

/*
 * The final function of the aggregates that return a state (clv_linreg_stats,
 * clv_state_merge): the state as a flat value of its own, which outlives the
 * aggregate's memory.
 */
PG_FUNCTION_INFO_V1(clv_state_value);
Datum
clv_state_value(PG_FUNCTION_ARGS)
{
	Datum		d = PG_GETARG_DATUM(0);

	if (is_expanded(d))
		PG_RETURN_BYTEA_P(flatten_state(object_of(d)->family, object_of(d)->state));
	PG_RETURN_DATUM(d);
}

/* The combine function of every clv_state aggregate: the family is in the states. */
PG_FUNCTION_INFO_V1(clv_state_combine);
Datum
clv_state_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = clv_agg_context(fcinfo, NULL);
	MemoryContext arena;
	const clv_state_family *family;
	state_object *obj;
	void	   *other;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	arena = state_arena(aggcxt);
	other = state_view(PG_GETARG_DATUM(1), &family);

	if (PG_ARGISNULL(0))
		return wrap_state(family, merge_states(fcinfo, &family->combine, NULL, other, arena),
						  arena);
	obj = state_object_arg(fcinfo, 0, NULL, aggcxt);
	if (obj->family != family)
		wrong_family(fcinfo, family);
	obj->state = merge_states(fcinfo, &family->combine, obj->state, other, arena);
	return EOHPGetRWDatum(&obj->hdr);
}

Datum
clv_combine_states(FunctionCallInfo fcinfo, const clv_combine_ops *ops)
{
	MemoryContext cxt = clv_agg_context(fcinfo, NULL);

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	PG_RETURN_POINTER(merge_states(fcinfo, ops, PG_ARGISNULL(0) ? NULL : PG_GETARG_POINTER(0),
								   PG_GETARG_POINTER(1), cxt));
}

Datum
clv_internal_serialize(FunctionCallInfo fcinfo, const clv_state_family *family)
{
	StringInfoData buf;

	clv_agg_context(fcinfo, NULL);
	pq_begintypsend(&buf);
	family->send(&buf, PG_GETARG_POINTER(0));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* In the current context: the combine function copies what it keeps. */
Datum
clv_internal_deserialize(FunctionCallInfo fcinfo, const clv_state_family *family)
{
	StringInfoData buf;
	void	   *state;

	clv_agg_context(fcinfo, NULL);
	clv_state_reader(PG_GETARG_BYTEA_PP(0), &buf);
	state = family->receive(&buf);
	clv_state_end(&buf);
	PG_RETURN_POINTER(state);
}

/* ---- the type's input and output ------------------------------------------ */

/* The flat form of argument 0, whichever form it has. */
static bytea *
flat_arg(FunctionCallInfo fcinfo)
{
	Datum		d = PG_GETARG_DATUM(0);

	if (is_expanded(d))
		return flatten_state(object_of(d)->family, object_of(d)->state);
	return PG_DETOAST_DATUM(d);
}

/* A flat state from outside is checked whole before anything keeps it. */
static void
validate_flat(bytea *flat)
{
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext, "clv state check",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(scratch);
	const clv_state_family *family;

	receive_state(flat, &family, true);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(scratch);
}

PG_FUNCTION_INFO_V1(clv_state_in);
Datum
clv_state_in(PG_FUNCTION_ARGS)
{
	const char *text = PG_GETARG_CSTRING(0);
	size_t		len = strlen(text);
	int			max_bytes;
	bytea	   *flat;
	int			n;

	if (len > (size_t) PG_INT32_MAX)
		clv_invalid_state("The text form is too long.");
	max_bytes = pg_b64_dec_len((int) len);
	if ((size_t) max_bytes > MaxAllocSize - VARHDRSZ)
		clv_invalid_state("The text form is too long.");
	flat = palloc(VARHDRSZ + max_bytes);
	n = pg_b64_decode(text, (int) len, VARDATA(flat), max_bytes);
	if (n < 0)
		clv_invalid_state("The text form is not base64.");
	SET_VARSIZE(flat, VARHDRSZ + n);
	validate_flat(flat);
	PG_RETURN_BYTEA_P(flat);
}

PG_FUNCTION_INFO_V1(clv_state_out);
Datum
clv_state_out(PG_FUNCTION_ARGS)
{
	bytea	   *flat = flat_arg(fcinfo);
	int			len = VARSIZE_ANY_EXHDR(flat);
	size_t		text_len = (size_t) pg_b64_enc_len(len);
	char	   *text;
	int			n;

	if (text_len + 1 > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("clv aggregate state too large for its text form"),
				 errdetail("The state has %d bytes; its base64 text would exceed 1 GB.", len)));
	text = palloc(text_len + 1);
	n = pg_b64_encode(VARDATA_ANY(flat), len, text, (int) text_len);
	if (n < 0)
		elog(ERROR, "base64 encoding of a clv aggregate state failed");
	text[n] = '\0';
	PG_RETURN_CSTRING(text);
}

PG_FUNCTION_INFO_V1(clv_state_recv);
Datum
clv_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	msg = (StringInfo) PG_GETARG_POINTER(0);
	int			len = msg->len - msg->cursor;
	bytea	   *flat = palloc(VARHDRSZ + len);

	SET_VARSIZE(flat, VARHDRSZ + len);
	pq_copymsgbytes(msg, VARDATA(flat), len);
	validate_flat(flat);
	PG_RETURN_BYTEA_P(flat);
}

PG_FUNCTION_INFO_V1(clv_state_send);
Datum
clv_state_send(PG_FUNCTION_ARGS)
{
	bytea	   *flat = flat_arg(fcinfo);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(flat), VARSIZE_ANY_EXHDR(flat));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}
