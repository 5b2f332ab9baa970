/*
 * model_cache.c — decoded models kept per backend across queries.
 *
 * Scoring one customer with a large model must not cost a decode of the
 * whole model per query.  A decoded model is kept under its identity: for
 * format version 2, the SHA-256 content digest the header records, read from
 * a header slice without fetching the body; for version 1, the SHA-256 of
 * the whole value, computed once per query.  A digest in a header is only a
 * claim until the value's bytes are seen to have it: the decoder verifies
 * it, and a value that finds its digest cached is verified once too (hashed,
 * not decoded), unless it is a stored value (TOAST pointer) already verified
 * for this entry.  So a value is only ever scored with the model decoded
 * from bytes identical to its own.
 *
 * Entries live in their own memory contexts under one context below
 * TopMemoryContext, in a hash table by digest and a list in order of use.
 * Past clv.model_cache_size, the least recently used entries go, but never
 * one pinned by a running query: each per-query cache entry (fn_extra) pins
 * the entry it points to and unpins it when replaced or when its query's
 * memory goes.  An entry dropped while pinned (clv_model_cache_reset) leaves
 * the table at once and is freed at its last unpin.
 */
#include "clv.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "funcapi.h"
#include "lib/ilist.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* clv.model_cache_size, in kB */
int			clv_model_cache_size = 256 * 1024;

/* stored values (TOAST pointers) known to hold an entry's bytes */
#define VERIFIED_POINTERS 8

struct clv_cached_entry
{
	unsigned char digest[CLV_MODEL_DIGEST_SIZE];
	MemoryContext cxt;			/* holds this struct and the model */
	clv_model  *model;
	uint16		format_version;
	Size		bytes;
	int64		hits;
	TimestampTz last_used;
	int			pins;
	bool		doomed;			/* out of the table; freed at the last unpin */
	dlist_node	lru;			/* head: most recently used */
	int			n_verified;
	int			next_verified;
	struct varatt_external verified[VERIFIED_POINTERS];
};

typedef struct model_digest
{
	unsigned char bytes[CLV_MODEL_DIGEST_SIZE];
} model_digest;

typedef struct cache_slot
{
	model_digest digest;		/* hash key */
	clv_cached_entry *entry;
	char		status;			/* simplehash's */
} cache_slot;

/* a digest is uniformly random already: its first bytes are its hash */
static inline uint32
digest_hash(const model_digest *d)
{
	uint32		h;

	memcpy(&h, d->bytes, sizeof(h));
	return h;
}

#define SH_PREFIX models
#define SH_ELEMENT_TYPE cache_slot
#define SH_KEY_TYPE model_digest
#define SH_KEY digest
#define SH_HASH_KEY(tb, k) digest_hash(&(k))
#define SH_EQUAL(tb, a, b) (memcmp((a).bytes, (b).bytes, CLV_MODEL_DIGEST_SIZE) == 0)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

static MemoryContext cache_cxt = NULL;
static models_hash *cache_table = NULL;
static dlist_head cache_lru = DLIST_STATIC_INIT(cache_lru);
static Size cache_bytes = 0;

static void
cache_init(void)
{
	if (cache_table != NULL)
		return;
	cache_cxt = AllocSetContextCreate(TopMemoryContext, "clv model cache",
									  ALLOCSET_SMALL_SIZES);
	cache_table = models_create(cache_cxt, 16, NULL);
}

static Size
cache_limit(void)
{
	return (Size) clv_model_cache_size * 1024;
}

/* Take an entry out of the table and the list; free it unless pinned. */
static void
cache_drop(clv_cached_entry *e)
{
	model_digest key;
	bool		found PG_USED_FOR_ASSERTS_ONLY;

	memcpy(key.bytes, e->digest, CLV_MODEL_DIGEST_SIZE);
	found = models_delete(cache_table, key);
	Assert(found);
	dlist_delete(&e->lru);
	cache_bytes -= e->bytes;
	if (e->pins > 0)
		e->doomed = true;
	else
		MemoryContextDelete(e->cxt);
}

/* Drop unpinned entries, least recently used first, until within the limit. */
static void
cache_evict(void)
{
	dlist_node *cur;

	if (cache_table == NULL || dlist_is_empty(&cache_lru))
		return;
	cur = dlist_tail_node(&cache_lru);
	while (cache_bytes > cache_limit())
	{
		dlist_node *prev = dlist_has_prev(&cache_lru, cur) ? dlist_prev_node(&cache_lru, cur) : NULL;
		clv_cached_entry *e = dlist_container(clv_cached_entry, lru, cur);

		if (e->pins == 0)
			cache_drop(e);
		if (prev == NULL)
			break;
		cur = prev;
	}
}

static bool
pointer_verified(const clv_cached_entry *e, const struct varatt_external *ptr)
{
	for (int i = 0; i < e->n_verified; i++)
		if (memcmp(&e->verified[i], ptr, sizeof(*ptr)) == 0)
			return true;
	return false;
}

static void
remember_pointer(clv_cached_entry *e, const struct varatt_external *ptr)
{
	if (pointer_verified(e, ptr))
		return;
	e->verified[e->next_verified] = *ptr;
	e->next_verified = (e->next_verified + 1) % VERIFIED_POINTERS;
	if (e->n_verified < VERIFIED_POINTERS)
		e->n_verified++;
}

/*
 * Decode a model into a new entry.  The entry's context starts below the
 * current one, so that an error while decoding frees it with the query; only
 * a model that passed every check moves under the cache.
 */
static clv_cached_entry *
cache_insert(bytea *whole, const unsigned char *digest, uint16 version)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "clv cached model",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	clv_cached_entry *e = palloc0(sizeof(clv_cached_entry));
	cache_slot *slot;
	model_digest key;
	bool		found;

	e->model = clv_model_from_bytea(whole);
	MemoryContextSwitchTo(old);
	memcpy(e->digest, digest, CLV_MODEL_DIGEST_SIZE);
	e->cxt = cxt;
	e->format_version = version;
	e->bytes = MemoryContextMemAllocated(cxt, true);

	memcpy(key.bytes, digest, CLV_MODEL_DIGEST_SIZE);
	slot = models_insert(cache_table, key, &found);
	Assert(!found);
	MemoryContextSetParent(cxt, cache_cxt);
	slot->entry = e;
	dlist_push_head(&cache_lru, &e->lru);
	cache_bytes += e->bytes;
	return e;
}

clv_cached_entry *
clv_model_cache_acquire(Datum datum)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(datum);
	bool		ondisk = VARATT_IS_EXTERNAL_ONDISK(raw);
	struct varatt_external ptr;
	Size		total = toast_raw_datum_size(datum) - VARHDRSZ;
	struct varlena *head = raw;
	bytea	   *whole = NULL;
	unsigned char digest[CLV_MODEL_DIGEST_SIZE];
	uint16		version;
	clv_error	err;
	cache_slot *slot;
	model_digest key;
	clv_cached_entry *e;

	cache_init();
	/* entries unpinned since, or a lowered limit */
	cache_evict();

	/* the identity, from the header alone: a few bytes of a TOASTed value */
	if (ondisk)
		VARATT_EXTERNAL_GET_POINTER(ptr, raw);
	if (VARATT_IS_EXTENDED(raw))
		head = detoast_attr_slice(raw, 0, CLV_MODEL_HEADER_SIZE_V2);
	clv_check(clv_model_read_identity((const unsigned char *) VARDATA_ANY(head),
									  VARSIZE_ANY_EXHDR(head), total, &version, digest, &err),
			  &err);
	if (version < 2)
	{
		whole = DatumGetByteaPP(datum);
		clv_model_compute_digest((const unsigned char *) VARDATA_ANY(whole),
								 VARSIZE_ANY_EXHDR(whole), digest);
	}

	memcpy(key.bytes, digest, CLV_MODEL_DIGEST_SIZE);
	slot = models_lookup(cache_table, key);
	if (slot != NULL)
	{
		e = slot->entry;
		/* a version-2 header's digest is a claim: check this value has it */
		if (version >= 2 && !(ondisk && pointer_verified(e, &ptr)))
		{
			whole = DatumGetByteaPP(datum);
			if (!clv_model_digest_matches((const unsigned char *) VARDATA_ANY(whole),
										  VARSIZE_ANY_EXHDR(whole), &err))
				clv_raise(&err);
		}
		e->hits++;
	}
	else
	{
		if (whole == NULL)
			whole = DatumGetByteaPP(datum);
		e = cache_insert(whole, digest, version);
	}
	if (ondisk && version >= 2)
		remember_pointer(e, &ptr);
	e->pins++;
	e->last_used = GetCurrentTimestamp();
	dlist_move_head(&cache_lru, &e->lru);
	cache_evict();
	return e;
}

const clv_model *
clv_model_cache_model(const clv_cached_entry *e)
{
	return e->model;
}

void
clv_model_cache_release(clv_cached_entry *e)
{
	Assert(e->pins > 0);
	if (--e->pins > 0)
		return;
	if (e->doomed)
		MemoryContextDelete(e->cxt);
	else if (cache_bytes > cache_limit())
		cache_evict();			/* kept past the limit only while in use */
}

/* ---- SQL functions ---------------------------------------------------------- */

PG_FUNCTION_INFO_V1(clv_model_cache);
Datum
clv_model_cache(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	dlist_iter	it;

	InitMaterializedSRF(fcinfo, 0);
	if (cache_table == NULL)
		return (Datum) 0;
	dlist_foreach(it, &cache_lru)
	{
		clv_cached_entry *e = dlist_container(clv_cached_entry, lru, it.cur);
		Datum		values[7];
		bool		nulls[7] = {false};
		bytea	   *identity = palloc(VARHDRSZ + CLV_MODEL_DIGEST_SIZE);

		SET_VARSIZE(identity, VARHDRSZ + CLV_MODEL_DIGEST_SIZE);
		memcpy(VARDATA(identity), e->digest, CLV_MODEL_DIGEST_SIZE);
		values[0] = PointerGetDatum(identity);
		values[1] = CStringGetTextDatum(clv_model_kind_name(e->model->kind));
		values[2] = Int32GetDatum(e->format_version);
		values[3] = Int32GetDatum((int32) e->model->n_features);
		values[4] = Int64GetDatum((int64) e->bytes);
		values[5] = Int64GetDatum(e->hits);
		values[6] = TimestampTzGetDatum(e->last_used);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(clv_model_cache_reset);
Datum
clv_model_cache_reset(PG_FUNCTION_ARGS)
{
	int64		dropped = 0;
	dlist_mutable_iter it;

	if (cache_table != NULL)
		dlist_foreach_modify(it, &cache_lru)
		{
			cache_drop(dlist_container(clv_cached_entry, lru, it.cur));
			dropped++;
		}
	PG_RETURN_INT64(dropped);
}
