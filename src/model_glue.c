/*
 * model_glue.c — the model bytea: encoding, decoding, the per-query scoring
 * cache, clv_predict and clv_model_info.
 */
#include "clv.h"

#include "access/detoast.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

bytea *
clv_model_to_bytea(const clv_model *model)
{
	clv_buf		buf;
	bytea	   *out;

	clv_model_encode(model, &buf);
	out = palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(out, VARHDRSZ + buf.len);
	memcpy(VARDATA(out), buf.data, buf.len);
	pfree(buf.data);
	return out;
}

clv_model *
clv_model_from_bytea(bytea *bytes)
{
	clv_model  *model;
	clv_error	err;

	clv_check(clv_model_decode((const unsigned char *) VARDATA_ANY(bytes),
							   VARSIZE_ANY_EXHDR(bytes), &model, &err), &err);
	return model;
}

/* ---- scoring cache ---------------------------------------------------------- */

/*
 * A query that scores rows calls clv_predict once per row, usually with the
 * same model.  Decoding (and checking the CRC of) a large model per row would
 * dominate, so decoded models are kept in fn_extra, keyed by something cheap:
 * the TOAST pointer of a model stored out of line, else the 24-byte header,
 * which carries the body's length and CRC-32C.  A few entries serve queries
 * that score with several models (one per segment, say).
 */
#define CACHE_ENTRIES 4
#define KEY_SIZE Max(CLV_MODEL_HEADER_SIZE, sizeof(varatt_external))

typedef struct cache_entry
{
	bool		valid;
	bool		toasted;		/* key is a TOAST pointer, not a header */
	unsigned char key[KEY_SIZE];
	MemoryContext cxt;
	clv_model  *model;
} cache_entry;

typedef struct model_cache
{
	int			next;			/* round-robin victim */
	cache_entry entries[CACHE_ENTRIES];
} model_cache;

/* Fill key with the cache key of a model datum; returns whether it is TOASTed. */
static bool
model_key(Datum datum, unsigned char *key)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(datum);
	clv_error	err;

	memset(key, 0, KEY_SIZE);
	if (VARATT_IS_EXTERNAL_ONDISK(raw))
	{
		VARATT_EXTERNAL_GET_POINTER(*(varatt_external *) key, raw);
		return true;
	}
	if (!VARATT_IS_EXTENDED(raw) || VARATT_IS_SHORT(raw))
	{
		/* plain in-line value: read the header where it lies */
		clv_check(clv_model_check_header((unsigned char *) VARDATA_ANY(raw),
										 VARSIZE_ANY_EXHDR(raw), &err), &err);
		memcpy(key, VARDATA_ANY(raw), CLV_MODEL_HEADER_SIZE);
	}
	else
	{
		/* compressed or expanded: decompress just the header */
		struct varlena *head = detoast_attr_slice(raw, 0, CLV_MODEL_HEADER_SIZE);

		if (VARSIZE_ANY_EXHDR(head) < CLV_MODEL_HEADER_SIZE)
		{
			clv_fail(&err, CLV_ERR_CORRUPT, "invalid clv model");
			clv_set_detail(&err, "The value is shorter than a model header.");
			clv_raise(&err);
		}
		memcpy(key, VARDATA_ANY(head), CLV_MODEL_HEADER_SIZE);
		pfree(head);
	}
	return false;
}

const clv_model *
clv_cached_model(FunctionCallInfo fcinfo, int argno)
{
	model_cache *cache = fcinfo->flinfo->fn_extra;
	Datum		datum = PG_GETARG_DATUM(argno);
	unsigned char key[KEY_SIZE];
	bool		toasted = model_key(datum, key);
	cache_entry *e;
	MemoryContext old;

	if (cache == NULL)
		cache = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(model_cache));

	for (int i = 0; i < CACHE_ENTRIES; i++)
	{
		e = &cache->entries[i];
		if (e->valid && e->toasted == toasted && memcmp(e->key, key, KEY_SIZE) == 0)
			return e->model;
	}

	e = &cache->entries[cache->next];
	cache->next = (cache->next + 1) % CACHE_ENTRIES;
	if (e->cxt == NULL)
		e->cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "clv model cache",
									   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(e->cxt);
	e->valid = false;

	old = MemoryContextSwitchTo(e->cxt);
	e->model = clv_model_from_bytea(DatumGetByteaPP(datum));
	MemoryContextSwitchTo(old);
	memcpy(e->key, key, KEY_SIZE);
	e->toasted = toasted;
	e->valid = true;
	return e->model;
}

/* ---- SQL functions ---------------------------------------------------------- */

PG_FUNCTION_INFO_V1(clv_predict);
Datum
clv_predict(PG_FUNCTION_ARGS)
{
	const clv_model *model = clv_cached_model(fcinfo, 0);
	ArrayType  *xa = PG_GETARG_ARRAYTYPE_P(1);
	int			n;
	const double *x = clv_float8_array(xa, "x", &n, false);

	if ((uint32) n != model->n_features)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("x has %d elements, but the model has %u features", n,
						model->n_features)));
	PG_RETURN_FLOAT8(clv_model_predict(model, x));
}

PG_FUNCTION_INFO_V1(clv_model_info);
Datum
clv_model_info(PG_FUNCTION_ARGS)
{
	clv_model  *model = clv_model_from_bytea(PG_GETARG_BYTEA_PP(0));
	StringInfoData buf;
	Jsonb	   *meta;

	/* the metadata must itself be a JSON object */
	meta = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(model->meta)));
	if (!JB_ROOT_IS_OBJECT(meta))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid clv model"),
				 errdetail("The model metadata is not a JSON object.")));

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	clv_json_key(&buf, "kind");
	escape_json(&buf, clv_model_kind_name(model->kind));
	clv_json_number(&buf, "format_version", CLV_MODEL_FORMAT_VERSION);
	clv_json_number(&buf, "n_features", model->n_features);
	clv_json_key(&buf, "features");
	if (model->feature_names)
	{
		appendStringInfoChar(&buf, '[');
		for (uint32 i = 0; i < model->n_features; i++)
		{
			if (i > 0)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, model->feature_names[i]);
		}
		appendStringInfoChar(&buf, ']');
	}
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoChar(&buf, '}');

	/* the container's own keys win over metadata keys of the same name */
	PG_RETURN_DATUM(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(meta),
										DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data))));
}
