/*
 * kmeans_glue.c — the clv_kmeans_fit aggregate, and what clv_model_info
 * reports about a kmeans model (clv_predict scores it through the table of
 * kinds: the nearest centroid's number).
 *
 * Lloyd's iterations revisit the rows, so the state keeps them (float8, all
 * finite) in a clv_kmeans_rows buffer bounded by clv.max_training_memory.
 * Training sorts them into a canonical order first, so the model depends
 * only on the multiset of rows, k, the options and the seed: combining
 * partial states in any order (parallel plans) gives the same bytes.  The
 * sort works on a copy, so the final function leaves the state alone
 * (READ_ONLY) and the aggregate runs as a window function too.
 */
#include "clv.h"

#include <math.h>

#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "kmeans.h"

#define FNAME "clv_kmeans_fit"

/* Largest seed that a jsonb number (a double) holds exactly. */
#define MAX_SEED 9007199254740991.0

typedef struct kmeans_state
{
	clv_kmeans_rows rows;
	int32		k;
	Jsonb	   *options;		/* NULL when none were given */
} kmeans_state;

/* ---- options ---------------------------------------------------------------- */

static void
parse_options(Jsonb *options, int32 k, clv_kmeans_options *opt, clv_names *features)
{
	int			n_init,
				max_iter;
	double		tol,
				seed = 0;
	bool		standardize;
	const clv_option spec[] = {
		{"n_init", CLV_OPT_INTEGER, &n_init, 1, CLV_KMEANS_MAX_INIT},
		{"max_iter", CLV_OPT_INTEGER, &max_iter, 1, CLV_KMEANS_MAX_ITER},
		{"tol", CLV_OPT_NUMBER, &tol, 0, 1e300},
		{"seed", CLV_OPT_NUMBER, &seed, 0, MAX_SEED},
		{"standardize", CLV_OPT_BOOL, &standardize, 0, 0},
		{"features", CLV_OPT_NAMES, features, 0, 0},
	};

	clv_kmeans_options_default(opt, (uint32) k);
	n_init = opt->n_init;
	max_iter = opt->max_iter;
	tol = opt->tol;
	standardize = opt->standardize;
	memset(features, 0, sizeof(*features));
	clv_parse_options(options, FNAME, spec, lengthof(spec));
	if (seed != floor(seed))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"seed\" of %s must be an integer", FNAME)));
	opt->n_init = (uint32) n_init;
	opt->max_iter = (uint32) max_iter;
	opt->tol = tol;
	opt->seed = (uint64) seed;
	opt->standardize = standardize;
	opt->n_threads = (uint32) clv_training_threads;
}

/* ---- transition ----------------------------------------------------------- */

static int32
k_arg(FunctionCallInfo fcinfo)
{
	int32		k;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("k must not be NULL")));
	k = PG_GETARG_INT32(2);
	if (k < 1 || k > CLV_KMEANS_MAX_K)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and %d", CLV_KMEANS_MAX_K),
				 errdetail("k is %d.", k)));
	return k;
}

pg_attribute_noreturn()
static void
k_changed(int32 got, int32 kept)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("k must be the same in every row of a %s group", FNAME),
			 errdetail("A row has k = %d, an earlier one k = %d.", got, kept)));
}

static void
raise_rows_error(clv_error *err, clv_status st)
{
	if (st == CLV_ERR_LIMIT)
		clv_set_hint(err, "Raise clv.max_training_memory, or fit on a sample.");
	clv_raise(err);
}

static void *
kmeans_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	kmeans_state *state = prev;
	int			n;
	const double *x = clv_row_features(fcinfo, 1, state ? (int) state->rows.p : -1,
									   CLV_KMEANS_MAX_FEATURES, "k-means", false, &n);
	int32		k = k_arg(fcinfo);
	clv_error	err;
	clv_status	st;
	MemoryContext old;

	old = MemoryContextSwitchTo(cxt);
	if (state == NULL)
	{
		clv_kmeans_options opt;
		clv_names	features;

		state = palloc0(sizeof(kmeans_state));
		state->k = k;
		state->options = clv_options_arg(fcinfo, 3, cxt);
		/* parse now, so that bad options fail on the first row */
		parse_options(state->options, k, &opt, &features);
		clv_check_feature_names(&features, n);
		clv_kmeans_rows_init(&state->rows, n, clv_training_memory_bytes());
	}
	else
	{
		if (k != state->k)
			k_changed(k, state->k);
		clv_check_options_row(fcinfo, 3, state->options, FNAME);
	}
	st = clv_kmeans_rows_append(&state->rows, x, &err);
	MemoryContextSwitchTo(old);
	if (st != CLV_OK)
		raise_rows_error(&err, st);
	return state;
}

/* ---- combine, and the flat state ------------------------------------------ */

static void *
kmeans_new_like(const void *b, MemoryContext cxt)
{
	const kmeans_state *src = b;
	kmeans_state *dst = palloc0(sizeof(kmeans_state));

	clv_kmeans_rows_init(&dst->rows, src->rows.p, clv_training_memory_bytes());
	dst->k = src->k;
	dst->options = clv_copy_jsonb(cxt, src->options);
	return dst;
}

static void
kmeans_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
	const kmeans_state *sa = a,
			   *sb = b;

	if (sa->rows.p != sb->rows.p)
		clv_feature_count_error(true, sa->rows.p, sb->rows.p);
	if (sa->k != sb->k)
		k_changed(sb->k, sa->k);
	clv_check_options_agree(fcinfo, sa->options, sb->options);
}

static void
kmeans_merge(void *a, const void *b)
{
	clv_error	err;
	clv_status	st;

	st = clv_kmeans_rows_merge(&((kmeans_state *) a)->rows,
							   &((const kmeans_state *) b)->rows, &err);
	if (st != CLV_OK)
		raise_rows_error(&err, st);
}

static void
kmeans_send(StringInfo buf, const void *s)
{
	const kmeans_state *state = s;

	clv_state_send_begin(buf, state->rows.n, state->rows.p * sizeof(double),
						 4 + 4 + 8 + clv_sent_jsonb_bytes(state->options), "rows");
	pq_sendint32(buf, state->rows.p);
	pq_sendint32(buf, state->k);
	pq_sendint64(buf, state->rows.n);
	clv_send_jsonb(buf, state->options);
	/* in the machine's byte order, which the flat state's header records */
	for (uint32 b = 0; b < state->rows.n_blocks; b++)
		clv_state_send_bytes(buf, state->rows.block[b],
							 state->rows.filled[b] * state->rows.p * sizeof(double));
}

/*
 * The state is read where it lies, as the tree fits' is: its rows are a view
 * of the bytes, and whoever keeps the state copies them into its own.
 */
static void *
kmeans_receive(StringInfo buf)
{
	kmeans_state *state;
	uint32		p;
	uint32		k;
	uint64		n;

	p = clv_state_uint32(buf);
	k = clv_state_uint32(buf);
	n = (uint64) clv_state_int64(buf);
	if (p < 1 || p > CLV_KMEANS_MAX_FEATURES)
		clv_invalid_state("The feature count is %u.", p);
	if (k < 1 || k > CLV_KMEANS_MAX_K)
		clv_invalid_state("k is %u.", k);
	state = palloc0(sizeof(kmeans_state));
	state->k = (int32) k;
	state->options = clv_receive_jsonb(buf);
	if (n > (uint64) buf->len / (p * sizeof(double)))
		clv_invalid_state("The row count is " UINT64_FORMAT ".", n);
	/* the merge copies with memcpy: the view needs no alignment */
	clv_kmeans_rows_view(&state->rows, p, (const double *) clv_state_take(buf, n * p * sizeof(double)), n);
	return state;
}

const clv_state_family clv_kmeans_family = {
	CLV_STATE_KMEANS, FNAME,
	{"clv_state_combine", kmeans_new_like, kmeans_check_same, kmeans_merge},
	kmeans_send, kmeans_receive
};

PG_FUNCTION_INFO_V1(clv_kmeans_fit_trans);
Datum
clv_kmeans_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_kmeans_family, kmeans_step);
}

/* ---- final function ------------------------------------------------------- */

static void
json_bool(StringInfo buf, const char *key, bool v)
{
	clv_json_key(buf, key);
	appendStringInfoString(buf, v ? "true" : "false");
}

/*
 * The fit's metadata.  The thread count is deliberately not recorded: the
 * model does not depend on it, and its bytes must not either.
 */
static void
fit_metadata(StringInfo meta, const kmeans_state *state, const clv_kmeans_options *opt,
			 const clv_kmeans_fit *fit)
{
	initStringInfo(meta);
	appendStringInfoChar(meta, '{');
	clv_json_number(meta, "n", (double) state->rows.n);
	clv_json_number(meta, "inertia", fit->inertia);
	clv_json_number(meta, "iterations", fit->n_iter);
	json_bool(meta, "converged", fit->converged);
	clv_json_number(meta, "silhouette", fit->silhouette);	/* null when k = 1 */
	clv_json_number(meta, "best_init", fit->best_init);
	clv_json_number(meta, "n_init", opt->n_init);
	clv_json_number(meta, "max_iter", opt->max_iter);
	clv_json_number(meta, "tol", opt->tol);
	clv_json_number(meta, "seed", (double) opt->seed);
	clv_json_key(meta, "options");
	appendStringInfoString(meta, state->options ?
						   JsonbToCString(NULL, &state->options->root, VARSIZE(state->options)) : "{}");
	appendStringInfoChar(meta, '}');
}

static Datum
kmeans_finish(FunctionCallInfo fcinfo, void *s)
{
	kmeans_state *state = s;
	clv_kmeans_options opt;
	clv_names	features;
	clv_kmeans_fit fit;
	clv_kmeans *km;
	clv_error	err;
	clv_model	model = {0};
	StringInfoData meta;
	bytea	   *out;

	if (state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s cannot fit a model on zero rows", FNAME)));
	parse_options(state->options, state->k, &opt, &features);
	/* a partial state from another server was never checked by a first row */
	clv_check_feature_names(&features, state->rows.p);
	clv_check(clv_kmeans_train(&state->rows, &opt, &km, &fit, &err), &err);
	fit_metadata(&meta, state, &opt, &fit);

	model.kind = CLV_KIND_KMEANS;
	model.n_features = state->rows.p;
	model.feature_names = features.n > 0 ? features.names : NULL;
	model.meta = meta.data;
	model.kmeans = km;
	out = clv_model_to_bytea(&model);
	clv_kmeans_free(km);
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(clv_kmeans_fit_final);
Datum
clv_kmeans_fit_final(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_kmeans_family, kmeans_finish);
}

/* ---- clv_model_info ------------------------------------------------------- */

void
clv_kmeans_info(StringInfo buf, const clv_model *model)
{
	const clv_kmeans *km = model->kmeans;
	double	   *centroid = palloc(sizeof(double) * km->p);

	clv_json_number(buf, "k", km->k);
	json_bool(buf, "standardize", km->means != NULL);
	clv_json_key(buf, "centroids");
	appendStringInfoChar(buf, '[');
	for (uint32 c = 0; c < km->k; c++)
	{
		if (c > 0)
			appendStringInfoString(buf, ", ");
		clv_kmeans_centroid_original(km, c, centroid);
		clv_json_array(buf, centroid, km->p);
	}
	appendStringInfoChar(buf, ']');
	clv_json_numbers(buf, "sizes", km->sizes, km->k);
	clv_json_key(buf, "standardization");
	if (km->means)
	{
		appendStringInfoString(buf, "{\"means\": ");
		clv_json_array(buf, km->means, km->p);
		appendStringInfoString(buf, ", \"scales\": ");
		clv_json_array(buf, km->scales, km->p);
		appendStringInfoChar(buf, '}');
	}
	else
		appendStringInfoString(buf, "null");
	pfree(centroid);
}
