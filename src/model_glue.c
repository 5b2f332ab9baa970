/*
 * model_glue.c — the model bytea: encoding, decoding, the per-query scoring
 * cache (in front of the backend-wide one, model_cache.c), clv_predict and
 * clv_model_info.
 */
#include "clv.h"

#include <math.h>

#include "access/detoast.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "trees.h"

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

pg_attribute_noreturn()
static void
invalid_text(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid clv model"),
			 errdetail("%s", detail)));
}

/*
 * The core checks structure; text is the glue's to check: feature names and
 * metadata are text in the database encoding, and the metadata is JSON.
 */
static void
check_model_text(const clv_model *model)
{
	JsonLexContext *lex;

	if (model->feature_names)
		for (uint32 i = 0; i < model->n_features; i++)
			if (!pg_verifymbstr(model->feature_names[i], strlen(model->feature_names[i]), true))
				invalid_text("A feature name is not valid in the database encoding.");
	if (!pg_verifymbstr(model->meta, strlen(model->meta), true))
		invalid_text("The model metadata is not valid in the database encoding.");
	lex = makeJsonLexContextCstringLen(model->meta, strlen(model->meta),
									   GetDatabaseEncoding(), false);
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS ||
		model->meta[strspn(model->meta, " \t\n\r")] != '{')
		invalid_text("The model metadata is not a JSON object.");
}

clv_model *
clv_model_from_bytea(bytea *bytes)
{
	clv_model  *model;
	clv_error	err;

	clv_check(clv_model_decode((const unsigned char *) VARDATA_ANY(bytes),
							   VARSIZE_ANY_EXHDR(bytes), &model, &err), &err);
	check_model_text(model);
	return model;
}

/* ---- scoring cache ---------------------------------------------------------- */

/*
 * A query that scores rows calls clv_predict once per row, usually with the
 * same model.  Two layers keep that cheap.  Per call site (fn_extra), a few
 * entries recognise the model of the previous rows by a key that is cheap to
 * compare: a model stored out of line is known by its TOAST pointer; any
 * other by its bytes as they are (compressed or not), compared in full as
 * PostGIS does, so a changed byte is never mistaken for the cached model.
 * Each entry points to a decoded model of the backend-wide cache
 * (model_cache.c), which keeps models across queries under their content
 * digest, and pins it while it does.  A few entries serve queries that score
 * with several models (one per segment).
 */
#define CACHE_ENTRIES 4

typedef struct cache_entry
{
	bool		valid;
	bool		toasted;		/* key is a TOAST pointer, not the value */
	Size		key_len;
	char	   *key;			/* in cxt */
	MemoryContext cxt;
	clv_cached_entry *cached;	/* pinned while this entry points to it */
	void	   *derived;		/* a caller's data about this model, in cxt */
} cache_entry;

#define HINTED_ARGS 2				/* model arguments come first */

typedef struct model_cache
{
	int			next;			/* round-robin victim */
	int			last;			/* entry returned last: never the next victim, so a
								 * function taking two models keeps the first */
	int			hint[HINTED_ARGS];	/* entry each model argument found last:
									 * tried first, as rows repeat it */
	cache_entry entries[CACHE_ENTRIES];
	MemoryContextCallback unpin;	/* when fn_mcxt goes, so do the pins */
} model_cache;

static void
unpin_all(void *arg)
{
	model_cache *cache = arg;

	for (int i = 0; i < CACHE_ENTRIES; i++)
		if (cache->entries[i].cached != NULL)
		{
			clv_model_cache_release(cache->entries[i].cached);
			cache->entries[i].cached = NULL;
		}
}

static model_cache *
call_site_cache(FunctionCallInfo fcinfo)
{
	model_cache *cache = fcinfo->flinfo->fn_extra;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(model_cache));
		cache->unpin.func = unpin_all;
		cache->unpin.arg = cache;
		MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, &cache->unpin);
		fcinfo->flinfo->fn_extra = cache;
	}
	return cache;
}

/*
 * Point *key at the cache key of a model datum and set *len; returns whether
 * it is a TOAST pointer.  Values that are neither on disk nor in line (rare
 * expanded or indirect ones) are detoasted and keyed by their bytes.
 */
static bool
model_key(Datum datum, const char **key, Size *len)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(datum);

	if (VARATT_IS_EXTERNAL_ONDISK(raw))
	{
		*key = VARDATA_EXTERNAL(raw);
		*len = VARSIZE_EXTERNAL(raw) - VARHDRSZ_EXTERNAL;
		return true;
	}
	if (VARATT_IS_EXTERNAL(raw))
		raw = detoast_attr(raw);
	*key = (const char *) raw;
	*len = VARSIZE_ANY(raw);
	return false;
}

/* The entry of the model of argument argno: found, or filled from the backend cache. */
static cache_entry *
cache_lookup(FunctionCallInfo fcinfo, int argno)
{
	model_cache *cache = call_site_cache(fcinfo);
	Datum		datum = PG_GETARG_DATUM(argno);
	const char *key;
	Size		key_len;
	bool		toasted = model_key(datum, &key, &key_len);
	/* rows usually repeat the model: start at the entry this argument found last */
	int			first = argno < HINTED_ARGS ? cache->hint[argno] : 0;
	cache_entry *e;

	for (int k = 0; k < CACHE_ENTRIES; k++)
	{
		int			i = (first + k) % CACHE_ENTRIES;

		e = &cache->entries[i];
		if (e->valid && e->key_len == key_len && e->toasted == toasted &&
			memcmp(e->key, key, key_len) == 0)
		{
			cache->last = i;
			if (argno < HINTED_ARGS)
				cache->hint[argno] = i;
			return e;
		}
	}

	if (cache->next == cache->last)
		cache->next = (cache->next + 1) % CACHE_ENTRIES;
	cache->last = cache->next;
	if (argno < HINTED_ARGS)
		cache->hint[argno] = cache->next;
	e = &cache->entries[cache->next];
	cache->next = (cache->next + 1) % CACHE_ENTRIES;
	e->valid = false;
	e->derived = NULL;
	if (e->cached != NULL)
	{
		clv_model_cache_release(e->cached);
		e->cached = NULL;
	}
	if (e->cxt == NULL)
		e->cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "clv model cache entry",
									   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(e->cxt);

	e->key = MemoryContextAlloc(e->cxt, key_len);
	memcpy(e->key, key, key_len);
	/* nothing that can fail between the pin and its owner */
	e->cached = clv_model_cache_acquire(datum);
	e->key_len = key_len;
	e->toasted = toasted;
	e->valid = true;
	return e;
}

const clv_model *
clv_cached_model(FunctionCallInfo fcinfo, int argno)
{
	return clv_model_cache_model(cache_lookup(fcinfo, argno)->cached);
}

const clv_model *
clv_cached_model_derived(FunctionCallInfo fcinfo, int argno, void ***derived,
						 MemoryContext *cxt)
{
	cache_entry *e = cache_lookup(fcinfo, argno);

	*derived = &e->derived;
	*cxt = e->cxt;
	return clv_model_cache_model(e->cached);
}

/* ---- SQL functions ---------------------------------------------------------- */

const double *
clv_model_features(ArrayType *xa, const clv_model *model, const char *fname)
{
	const clv_kind_ops *ops = clv_kind_ops_of(model->kind);
	bool		missing_allowed = ops->missing_allowed;
	int			n;
	const double *x;

	if (ops->predict == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s cannot use a %s model", fname, clv_model_kind_name(model->kind)),
				 errhint("Use clv_expected_purchases, clv_palive or clv_expected_spend.")));
	/* a tree sends a missing value (NaN) its learned way; a linear model cannot */
	x = clv_float8_array(xa, "x", &n, missing_allowed);
	if ((uint32) n != model->n_features)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg_plural("x has %d element, but the model has %u features",
							   "x has %d elements, but the model has %u features",
							   n, n, model->n_features)));
	if (missing_allowed)
		for (int j = 0; j < n; j++)
			if (unlikely(isinf(x[j])))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("x must not contain infinite values"),
						 errdetail("Element %d is %s.", j + 1, x[j] > 0 ? "Infinity" : "-Infinity"),
						 errhint("Tree models take NaN as a missing value.")));
	return x;
}

PG_FUNCTION_INFO_V1(clv_predict);
Datum
clv_predict(PG_FUNCTION_ARGS)
{
	const clv_model *model = clv_cached_model(fcinfo, 0);
	const double *x = clv_model_features(PG_GETARG_ARRAYTYPE_P(1), model, "clv_predict");

	PG_RETURN_FLOAT8(clv_kind_ops_of(model->kind)->predict(model, x));
}

/*
 * The glue's side of the kind table: what clv_model_info reports for a kind
 * beyond the container's keys and the fit's metadata (NULL: nothing more).
 */
static void (*const kind_info[]) (StringInfo buf, const clv_model *model) = {
	[CLV_KIND_FOREST] = clv_ensemble_info,
	[CLV_KIND_GBM] = clv_ensemble_info,
	[CLV_KIND_KMEANS] = clv_kmeans_info,
	[CLV_KIND_MLP] = clv_mlp_info,
};

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
	clv_json_number(&buf, "format_version", model->format_version);
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
	if (model->kind < lengthof(kind_info) && kind_info[model->kind] != NULL)
		kind_info[model->kind] (&buf, model);
	appendStringInfoChar(&buf, '}');

	/* the container's own keys win over metadata keys of the same name */
	PG_RETURN_DATUM(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(meta),
										DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data))));
}
