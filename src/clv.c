/*
 * clv.c — module initialisation and the glue shared by every entry point.
 */
#include "clv.h"

#include <limits.h>
#include <math.h>

#include <gsl/gsl_errno.h>

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/guc.h"
#include "nodes/primnodes.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

PG_MODULE_MAGIC;

int			clv_max_training_memory = 1024 * 1024;	/* kB = 1 GB */
int			clv_training_threads = 2;

static void *
pg_alloc(size_t size)
{
	return MemoryContextAllocHuge(CurrentMemoryContext, size);
}

/* repalloc: a large chunk is its own malloc'd block, which glibc grows by mremap */
static void *
pg_resize(void *ptr, size_t size)
{
	return repalloc_huge(ptr, size);
}

static void
pg_check_interrupts(void)
{
	CHECK_FOR_INTERRUPTS();
}

/*
 * Only a cancel or a termination makes CHECK_FOR_INTERRUPTS raise: other
 * interrupts (a parallel worker's message, say) are served and it returns.
 */
static bool
pg_interrupt_pending(void)
{
	return InterruptPending && (QueryCancelPending || ProcDiePending);
}

/*
 * PostgreSQL's SHA-256 (OpenSSL's when the server is built with it, which
 * uses the CPU's SHA instructions): several times faster than the core's
 * portable one on the digest of a large model.
 */
static void
pg_sha256(const void *a, size_t alen, const void *b, size_t blen, unsigned char *out)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, a, alen) < 0 ||
		(blen > 0 && pg_cryptohash_update(ctx, b, blen) < 0) ||
		pg_cryptohash_final(ctx, out, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute a SHA-256 digest: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
}

void		_PG_init(void);

void
_PG_init(void)
{
	/* GSL's default handler calls abort(): every status is checked instead */
	gsl_set_error_handler_off();
	/* tables the core only reads afterwards, built before any thread exists */
	clv_btyd_init();

	clv_rt.alloc = pg_alloc;
	clv_rt.release = pfree;
	clv_rt.resize = pg_resize;
	clv_rt.check_interrupts = pg_check_interrupts;
	clv_rt.interrupt_pending = pg_interrupt_pending;
	clv_rt.sha256 = pg_sha256;

	DefineCustomIntVariable("clv.max_training_memory",
							"Largest training state one clv fit aggregate may hold.",
							"Aggregates that must keep their rows (clv_logreg_fit, clv_forest_fit, clv_gbm_fit, "
							"clv_kmeans_fit, clv_auc, clv_gini, clv_qini, clv_allocate_budget, clv_budget_threshold) "
							"stop with an error past this size; "
							"the limit applies to each aggregate state.",
							&clv_max_training_memory,
							1024 * 1024, 64, INT_MAX,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("clv.training_threads",
							"Threads one tree ensemble, k-means, perceptron or covariate BTYD fit may use, the backend's own included.",
							"clv_forest_fit, clv_gbm_fit, clv_kmeans_fit, clv_mlp_fit and the covariate forms of "
							"clv_bgnbd_fit and clv_paretonbd_fit train on this many threads; "
							"1 starts none.  The model does not depend on it.  "
							"Superuser-only: PostgreSQL does not count these threads "
							"against max_worker_processes.",
							&clv_training_threads,
							2, 1, 64,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("clv.model_cache_size",
							"Memory for decoded models kept by each backend across queries.",
							"Scoring functions keep models they decoded, under their content "
							"digest, so later queries with the same model skip the decode; past "
							"this size the least recently used models not in use by a running "
							"query are dropped.  0 keeps a model only while a query uses it.",
							&clv_model_cache_size,
							256 * 1024, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("clv");
}

void
clv_raise(const clv_error *err)
{
	int			code;

	switch (err->status)
	{
		case CLV_ERR_INVALID:
			code = ERRCODE_INVALID_PARAMETER_VALUE;
			break;
		case CLV_ERR_DATA:
		case CLV_ERR_NOCONVERGE:
			code = ERRCODE_DATA_EXCEPTION;
			break;
		case CLV_ERR_SINGULAR:
			code = ERRCODE_DATA_EXCEPTION;
			break;
		case CLV_ERR_CORRUPT:
			code = ERRCODE_INVALID_BINARY_REPRESENTATION;
			break;
		case CLV_ERR_UNSUPPORTED:
			code = ERRCODE_FEATURE_NOT_SUPPORTED;
			break;
		case CLV_ERR_LIMIT:
			code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			break;
		default:
			code = ERRCODE_INTERNAL_ERROR;
			break;
	}
	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", err->message),
			 err->detail[0] ? errdetail_internal("%s", err->detail) : 0,
			 err->hint[0] ? errhint("%s", err->hint) : 0));
	pg_unreachable();
}

const char *
clv_agg_name(FunctionCallInfo fcinfo)
{
	Aggref	   *aggref = AggGetAggref(fcinfo);

	if (aggref != NULL)
		return get_func_name(aggref->aggfnoid);
	/* a plain function that reads a state, such as clv_linreg_fit_stats */
	if (!AggCheckCallContext(fcinfo, NULL))
		return get_func_name(fcinfo->flinfo->fn_oid);
	return "the aggregate";
}

const double *
clv_float8_array(ArrayType *array, const char *what, int *n, bool allow_nan)
{
	const double *v;

	if (ARR_NDIM(array) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must not be empty", what)));
	if (ARR_NDIM(array) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what),
				 errdetail("The array has %d dimensions.", ARR_NDIM(array))));
	if (ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain NULL elements", what)));
	Assert(ARR_ELEMTYPE(array) == FLOAT8OID);

	*n = ARR_DIMS(array)[0];
	v = (const double *) ARR_DATA_PTR(array);
	if (!allow_nan)
		for (int i = 0; i < *n; i++)
			if (unlikely(!isfinite(v[i])))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("%s must not contain NaN or infinite values", what),
						 errdetail("Element %d is %s.", i + 1,
								   isnan(v[i]) ? "NaN" : v[i] > 0 ? "Infinity" : "-Infinity")));
	return v;
}

void
clv_feature_count_error(bool between_states, int got, int expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
			 errmsg("x must have the same number of elements in every row"),
			 between_states ?
			 errdetail("Some rows have %d elements, others %d.", got, expected) :
			 errdetail_plural("This row has %d element; earlier rows had %d.",
							  "This row has %d elements; earlier rows had %d.",
							  got, got, expected)));
}

const double *
clv_row_features(FunctionCallInfo fcinfo, int argno, int expected, int max_features,
				 const char *model_name, bool allow_nan, int *n)
{
	const double *x;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("x must not be NULL")));
	x = clv_float8_array(PG_GETARG_ARRAYTYPE_P(argno), "x", n, allow_nan);
	if (expected >= 0 && *n != expected)
		clv_feature_count_error(false, *n, expected);
	if (*n > max_features)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("x has %d elements, more than the %d a %s model supports",
						*n, max_features, model_name)));
	return x;
}

void
clv_finite_arg_error(FunctionCallInfo fcinfo, int argno, const char *what)
{
	double		v;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	v = PG_GETARG_FLOAT8(argno);
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("%s must be finite", what),
			 errdetail("The value is %s.", isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity")));
}

/* ---- JSON text building -------------------------------------------------- */

void
clv_json_key(StringInfo buf, const char *key)
{
	if (buf->len > 1)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
}

static void
append_number(StringInfo buf, double v)
{
	if (isfinite(v))
		appendStringInfo(buf, "%.17g", v);
	else
		appendStringInfoString(buf, "null");
}

void
clv_json_number(StringInfo buf, const char *key, double v)
{
	clv_json_key(buf, key);
	append_number(buf, v);
}

void
clv_json_string(StringInfo buf, const char *key, const char *v)
{
	clv_json_key(buf, key);
	escape_json(buf, v);
}

void
clv_json_bool(StringInfo buf, const char *key, bool v)
{
	clv_json_key(buf, key);
	appendStringInfoString(buf, v ? "true" : "false");
}

void
clv_json_array(StringInfo buf, const double *v, int n)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		append_number(buf, v[i]);
	}
	appendStringInfoChar(buf, ']');
}

void
clv_json_numbers(StringInfo buf, const char *key, const double *v, int n)
{
	clv_json_key(buf, key);
	clv_json_array(buf, v, n);
}

void
clv_json_named_numbers(StringInfo buf, const char *key, const char *const *names,
					   const double *v, int n)
{
	clv_json_key(buf, key);
	appendStringInfoChar(buf, '{');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, names[i]);
		appendStringInfoString(buf, ": ");
		append_number(buf, v[i]);
	}
	appendStringInfoChar(buf, '}');
}
