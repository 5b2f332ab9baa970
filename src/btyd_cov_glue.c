/*
 * btyd_cov_glue.c — BG/NBD and Pareto/NBD with static covariates: the
 * clv_bgnbd_fit and clv_paretonbd_fit overloads that take each customer's
 * purchase and dropout covariates, and the customer's own parameters that
 * the prediction functions use for a covariate model.
 *
 * Covariates give every customer parameters of their own, so the state keeps
 * the rows (frequency, recency, t, covariates), bounded by
 * clv.max_training_memory; the fit sorts them into a canonical order first,
 * so the model does not depend on the plan.
 */
#include "btyd_glue.h"

#include <math.h>

#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "rows.h"

typedef struct cov_state
{
	clv_btyd_model model;
	int			p1,
				p2;
	clv_rows	rows;			/* (z1, z2, x, t_x, T), y = 1 */
	Jsonb	   *options;		/* NULL when none were given */
} cov_state;

typedef struct cov_options
{
	double		l2;
	int			max_iter;
	clv_names	purchase,
				dropout;
} cov_options;

static const char *
fit_name(clv_btyd_model model)
{
	return model == CLV_BTYD_BGNBD ? "clv_bgnbd_fit" : "clv_paretonbd_fit";
}

static void
parse_cov_options(clv_btyd_model model, Jsonb *options, cov_options *out)
{
	const clv_option spec[] = {
		{"l2", CLV_OPT_NUMBER, &out->l2, 0, 1e300},
		{"max_iter", CLV_OPT_INTEGER, &out->max_iter, 1, 100000},
		{"purchase_features", CLV_OPT_NAMES, &out->purchase, 0, 0},
		{"dropout_features", CLV_OPT_NAMES, &out->dropout, 0, 0},
	};

	memset(out, 0, sizeof(*out));
	out->max_iter = 500;
	clv_parse_options(options, fit_name(model), spec, lengthof(spec));
}

/*
 * A covariate array argument: present, one-dimensional or empty, without
 * NULL, NaN or infinite elements, at most CLV_BTYD_COV_MAX long.
 */
static const double *
covariates_arg(FunctionCallInfo fcinfo, int argno, const char *what, int *n)
{
	ArrayType  *a;
	const double *v;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what),
				 errhint("Pass an empty array for no covariates.")));
	a = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(a) == 0)
	{
		*n = 0;
		return NULL;
	}
	v = clv_float8_array(a, what, n, false);
	if (*n > CLV_BTYD_COV_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s has %d elements, more than the %d a model supports",
						what, *n, CLV_BTYD_COV_MAX)));
	return v;
}

static void
covariate_count_error(const char *what, int got, int expected, const char *of)
{
	ereport(ERROR,
			(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
			 errmsg("%s must have %d elements, as %s", what, expected, of),
			 errdetail("It has %d.", got)));
}

/* The options' covariate names, if any, as many as the covariates. */
static void
check_names(const cov_options *opt, int p1, int p2)
{
	if (opt->purchase.n > 0 && opt->purchase.n != p1)
		covariate_count_error("option \"purchase_features\"", opt->purchase.n, p1,
							  "purchase_covariates has");
	if (opt->dropout.n > 0 && opt->dropout.n != p2)
		covariate_count_error("option \"dropout_features\"", opt->dropout.n, p2,
							  "dropout_covariates has");
}

/* ---- the fit aggregates ------------------------------------------------------ */

static void
raise_row_limit(clv_error *err)
{
	clv_set_hint(err, "Raise clv.max_training_memory, or fit on a sample.");
	clv_raise(err);
}

static void *
cov_trans(FunctionCallInfo fcinfo, cov_state *state, MemoryContext cxt, clv_btyd_model model)
{
	double		row[3 + 2 * CLV_BTYD_COV_MAX],
				x,
				tx,
				T;
	const double *z1,
			   *z2;
	int			p1,
				p2;
	clv_error	err;
	clv_status	st;
	MemoryContext old;

	clv_btyd_customer_args(fcinfo, 1, model, &x, &tx, &T);
	z1 = covariates_arg(fcinfo, 4, "purchase_covariates", &p1);
	z2 = covariates_arg(fcinfo, 5, "dropout_covariates", &p2);

	old = MemoryContextSwitchTo(cxt);
	if (state == NULL)
	{
		cov_options opt;
		Jsonb	   *options = clv_options_arg(fcinfo, 6, cxt);

		parse_cov_options(model, options, &opt);	/* fail early */
		check_names(&opt, p1, p2);
		state = palloc0(sizeof(cov_state));
		state->model = model;
		state->p1 = p1;
		state->p2 = p2;
		state->options = options;
		clv_rows_init(&state->rows, 3 + p1 + p2, clv_training_memory_bytes());
	}
	else if (state->model != model)
		clv_state_of_other_aggregate(fcinfo, fit_name(state->model));
	else
		clv_check_options_row(fcinfo, 6, state->options, fit_name(model));
	if (p1 != state->p1)
		covariate_count_error("purchase_covariates", p1, state->p1, "in the earlier rows");
	if (p2 != state->p2)
		covariate_count_error("dropout_covariates", p2, state->p2, "in the earlier rows");
	/* covariates first: sorted, customers of the same parameters come together */
	if (p1 > 0)
		memcpy(row, z1, sizeof(double) * p1);
	if (p2 > 0)
		memcpy(row + p1, z2, sizeof(double) * p2);
	row[p1 + p2] = x;
	row[p1 + p2 + 1] = tx;
	row[p1 + p2 + 2] = T;
	st = clv_rows_append(&state->rows, 1, row, &err);
	MemoryContextSwitchTo(old);
	if (st != CLV_OK)
		raise_row_limit(&err);
	return state;
}

static void *
bgnbd_cov_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return cov_trans(fcinfo, prev, cxt, CLV_BTYD_BGNBD);
}

static void *
paretonbd_cov_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return cov_trans(fcinfo, prev, cxt, CLV_BTYD_PARETONBD);
}

static void *
cov_new_like(const void *b, MemoryContext cxt)
{
	const cov_state *src = b;
	cov_state  *dst = palloc0(sizeof(cov_state));

	dst->model = src->model;
	dst->p1 = src->p1;
	dst->p2 = src->p2;
	dst->options = clv_copy_jsonb(cxt, src->options);
	clv_rows_init(&dst->rows, src->rows.p, clv_training_memory_bytes());
	return dst;
}

static void
cov_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
	const cov_state *sa = a,
			   *sb = b;

	if (sa->model != sb->model)
		clv_state_of_other_aggregate(fcinfo, fit_name(sb->model));
	if (sa->p1 != sb->p1)
		covariate_count_error("purchase_covariates", sb->p1, sa->p1, "in other rows");
	if (sa->p2 != sb->p2)
		covariate_count_error("dropout_covariates", sb->p2, sa->p2, "in other rows");
	clv_check_options_agree(fcinfo, sa->options, sb->options);
}

static void
cov_merge(void *a, const void *b)
{
	clv_error	err;

	if (clv_rows_merge(&((cov_state *) a)->rows, &((const cov_state *) b)->rows, &err) != CLV_OK)
		raise_row_limit(&err);
}

static void
cov_send(StringInfo buf, const void *s)
{
	const cov_state *state = s;

	clv_state_send_begin(buf, state->rows.n, state->rows.p * sizeof(double),
						 4 * 3 + 8 + clv_sent_jsonb_bytes(state->options), "rows");
	pq_sendint32(buf, state->model);
	pq_sendint32(buf, state->p1);
	pq_sendint32(buf, state->p2);
	pq_sendint64(buf, state->rows.n);
	clv_send_jsonb(buf, state->options);
	/* in the machine's byte order, which the flat state's header records */
	clv_state_send_bytes(buf, state->rows.x, state->rows.n * state->rows.p * sizeof(double));
}

/* The rows are checked as the transition function checks them. */
static void *
cov_receive(StringInfo buf)
{
	cov_state  *state;
	uint32		model = clv_state_uint32(buf),
				p1 = clv_state_uint32(buf),
				p2 = clv_state_uint32(buf);
	uint64		n = (uint64) clv_state_int64(buf);
	clv_error	err;

	if (model >= CLV_BTYD_N_MODELS || !clv_btyd_cov_supported((clv_btyd_model) model))
		clv_invalid_state("The model number is %u.", model);
	if (p1 > CLV_BTYD_COV_MAX || p2 > CLV_BTYD_COV_MAX)
		clv_invalid_state("The covariate counts are %u and %u.", p1, p2);
	if (n > (uint64) buf->len / ((3 + p1 + p2) * sizeof(double)))
		clv_invalid_state("The row count is " UINT64_FORMAT ".", n);
	state = palloc0(sizeof(cov_state));
	state->model = (clv_btyd_model) model;
	state->p1 = p1;
	state->p2 = p2;
	state->options = clv_receive_jsonb(buf);
	clv_rows_init(&state->rows, 3 + p1 + p2, 0);
	state->rows.n = state->rows.cap = n;
	state->rows.x = (double *) clv_state_take(buf, n * state->rows.p * sizeof(double));
	state->rows.y = palloc(sizeof(double) * (n ? n : 1));
	for (uint64 i = 0; i < n; i++)
	{
		double		v[3 + 2 * CLV_BTYD_COV_MAX];

		memcpy(v, state->rows.x + i * state->rows.p, sizeof(double) * state->rows.p);
		for (uint32 j = 0; j < p1 + p2; j++)
			if (!isfinite(v[j]))
				clv_invalid_state("Row " UINT64_FORMAT " has a covariate that is not finite.",
								  i + 1);
		if (clv_btyd_check_customer(state->model, v[p1 + p2], v[p1 + p2 + 1], v[p1 + p2 + 2],
									&err) != CLV_OK)
			clv_invalid_state("Row " UINT64_FORMAT " is not one that rows can produce.", i + 1);
		state->rows.y[i] = 1;
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return state;
}

const clv_state_family clv_btyd_cov_family = {
	CLV_STATE_BTYD_COV, "clv_bgnbd_fit or clv_paretonbd_fit with covariates",
	{"clv_btyd_cov_fit_combine", cov_new_like, cov_check_same, cov_merge},
	cov_send, cov_receive
};

PG_FUNCTION_INFO_V1(clv_bgnbd_cov_fit_trans);
Datum
clv_bgnbd_cov_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_btyd_cov_family, bgnbd_cov_step);
}

PG_FUNCTION_INFO_V1(clv_paretonbd_cov_fit_trans);
Datum
clv_paretonbd_cov_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_btyd_cov_family, paretonbd_cov_step);
}

/* The given names, or "purchase1", "purchase2", ... when none are given */
char	  **
clv_btyd_cov_names(const clv_names *given, const char *prefix, int n)
{
	char	  **names = palloc(sizeof(char *) * (n ? n : 1));

	for (int i = 0; i < n; i++)
		names[i] = given->n > 0 ? given->names[i] : psprintf("%s%d", prefix, i + 1);
	return names;
}

/*
 * The model of a covariate kind: theta (the 4 base parameters, then p1
 * purchase and p2 dropout coefficients), its covariates' names and its
 * metadata; for the fit and for clv_model_from_params.
 */
bytea *
clv_btyd_cov_model_bytea(clv_btyd_model model, int p1, int p2, double *theta,
						 char **names1, char **names2, char *meta)
{
	const clv_btyd_ops *ops = &clv_btyd_models[model];
	char	  **features = palloc(sizeof(char *) * (3 + p1 + p2));
	clv_model	m = {0};

	for (int i = 0; i < 3; i++)
		features[i] = (char *) ops->feature_names[i];
	memcpy(features + 3, names1, sizeof(char *) * p1);
	memcpy(features + 3 + p1, names2, sizeof(char *) * p2);
	m.kind = model == CLV_BTYD_BGNBD ? CLV_KIND_BGNBD_COV : CLV_KIND_PARETONBD_COV;
	m.n_features = 3 + p1 + p2;
	m.feature_names = features;
	m.meta = meta;
	m.n_params = 4 + p1 + p2;
	m.params = theta;
	m.n_purchase_covariates = p1;
	return clv_model_to_bytea(&m);
}

/* Whether a covariate is not 0 for some row. */
static bool
covariates_vary(const clv_cov_rows *rows)
{
	int			p = 3 + rows->p1 + rows->p2;

	for (size_t i = 0; i < rows->n; i++)
		for (int j = 0; j < rows->p1 + rows->p2; j++)
			if (rows->v[i * p + j] != 0)
				return true;
	return false;
}

static Datum
cov_finish(FunctionCallInfo fcinfo, void *s)
{
	cov_state  *state = s;
	const clv_btyd_ops *ops;
	cov_options opt;
	clv_btyd_options base_opt = {0};
	clv_btyd_fit base;
	clv_btyd_cov_settings settings;
	clv_btyd_cov_fit fit;
	clv_patterns patterns;
	clv_cov_rows all,
				rows;
	clv_error	err;
	StringInfoData meta;
	char	  **names1,
			  **names2;
	int			p,
				p1,
				p2;
	size_t		n;

	if (state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s cannot fit a model on zero rows", clv_agg_name(fcinfo))));
	ops = &clv_btyd_models[state->model];
	p1 = state->p1;
	p2 = state->p2;
	p = state->rows.p;
	parse_cov_options(state->model, state->options, &opt);
	check_names(&opt, p1, p2);	/* a state from elsewhere was not checked */

	/* identical rows once with their count, in a canonical order */
	all.n = state->rows.n;
	all.p1 = p1;
	all.p2 = p2;
	all.v = state->rows.x;
	all.w = NULL;
	clv_cov_rows_compact(&all, &rows);
	n = rows.n;

	/* the plain model on the same customers: the start, and the answer without covariates */
	clv_patterns_init(&patterns, 0);
	for (size_t i = 0; i < n; i++)
	{
		const double *h = rows.v + i * p + p1 + p2;

		clv_check(clv_patterns_add(&patterns, h[0], h[1], h[2], rows.w[i], &err), &err);
	}
	clv_patterns_compact(&patterns);
	base_opt.max_iter = opt.max_iter;
	/* with covariates that vary the plain fit is only the search's start */
	base_opt.start_only = covariates_vary(&rows);
	clv_check(clv_btyd_solve(state->model, &patterns, &base_opt, &base, &err), &err);
	clv_patterns_free(&patterns);
	settings.l2 = opt.l2;
	settings.max_iter = opt.max_iter;
	settings.n_threads = (uint32) clv_training_threads;
	clv_check(clv_btyd_cov_solve(state->model, &rows, &base, &settings, &fit, &err), &err);
	clv_cov_rows_free(&rows);

	names1 = clv_btyd_cov_names(&opt.purchase, "purchase", p1);
	names2 = clv_btyd_cov_names(&opt.dropout, "dropout", p2);
	initStringInfo(&meta);
	appendStringInfoChar(&meta, '{');
	clv_json_number(&meta, "n_customers", fit.n_customers);
	clv_json_number(&meta, "n_rows", (double) n);
	clv_json_named_numbers(&meta, "params", ops->param_names, fit.theta, 4);
	clv_json_named_numbers(&meta, "std_errors", ops->param_names, fit.std_error, 4);
	clv_json_named_numbers(&meta, "purchase_coefficients", (const char *const *) names1,
						   fit.theta + 4, p1);
	clv_json_named_numbers(&meta, "purchase_std_errors", (const char *const *) names1,
						   fit.std_error + 4, p1);
	clv_json_named_numbers(&meta, "dropout_coefficients", (const char *const *) names2,
						   fit.theta + 4 + p1, p2);
	clv_json_named_numbers(&meta, "dropout_std_errors", (const char *const *) names2,
						   fit.std_error + 4 + p1, p2);
	clv_json_number(&meta, "log_likelihood", fit.log_likelihood);
	clv_json_number(&meta, "iterations", fit.iterations);
	clv_json_key(&meta, "converged");
	appendStringInfoString(&meta, fit.converged ? "true" : "false");
	clv_json_number(&meta, "l2", opt.l2);
	clv_json_key(&meta, "options");
	appendStringInfoString(&meta, state->options ?
						   JsonbToCString(NULL, &state->options->root, VARSIZE(state->options)) : "{}");
	appendStringInfoChar(&meta, '}');

	{
		bytea	   *result = clv_btyd_cov_model_bytea(state->model, p1, p2, fit.theta, names1, names2,
													  meta.data);

		clv_btyd_cov_fit_free(&fit);
		PG_RETURN_BYTEA_P(result);
	}
}

PG_FUNCTION_INFO_V1(clv_btyd_cov_fit_final);
Datum
clv_btyd_cov_fit_final(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_btyd_cov_family, cov_finish);
}

/* ---- the customer's parameters for a prediction ------------------------------ */

clv_btyd_model
clv_btyd_customer_model_of(const clv_model *m, const char *fname)
{
	if (m->kind == CLV_KIND_BGNBD_COV)
		return CLV_BTYD_BGNBD;
	if (m->kind == CLV_KIND_PARETONBD_COV)
		return CLV_BTYD_PARETONBD;
	return clv_btyd_model_of(m, fname, false);
}

/*
 * Customers of a covariate model usually share a few covariate vectors (a
 * channel, a region).  Each call site keeps the parameters of the pairs of
 * vectors it has seen in a direct-mapped table keyed by the exact bytes of
 * the two arrays as stored: a row with a known pair needs no copy of its
 * arrays, no checks and no exponentials, and the factor memo keys it by the
 * slot's set number instead of its parameters, which keeps the memo's entries
 * small.  Equal bytes are equal arrays; equal arrays with unequal bytes
 * (padding could give them) only miss.
 */
#define COV_SLOTS 256
#define COV_KEY_MAX 200			/* both arrays, 20 + 8 bytes an element: 20 covariates */

typedef struct cov_slot
{
	uint32		len1,			/* 0: empty (an array has at least 12 bytes) */
				len2;
	uint64		set;
	double		params[4];
	char		key[COV_KEY_MAX];
} cov_slot;

struct clv_btyd_cov_cache
{
	uint64		last_set;		/* never reused: the memo cannot mistake a set */
	cov_slot	slots[COV_SLOTS];
};

clv_btyd_cov_cache *
clv_btyd_cov_cache_new(MemoryContext cxt)
{
	return MemoryContextAllocZero(cxt, sizeof(clv_btyd_cov_cache));
}

/*
 * The bytes of an array argument as stored, unless compressed or out of line:
 * a row's array read from a table has the short header, so that case comes first.
 */
static inline bool
stored_bytes(Datum d, const char **bytes, uint32 *len)
{
	const char *v = DatumGetPointer(d);

	if (VARATT_IS_1B(v))
	{
		if (VARATT_IS_1B_E(v))
			return false;
		*bytes = VARDATA_1B(v);
		*len = VARSIZE_1B(v) - VARHDRSZ_SHORT;
		return true;
	}
	if (VARATT_IS_4B_C(v))
		return false;
	*bytes = VARDATA_4B(v);
	*len = VARSIZE_4B(v) - VARHDRSZ;
	return true;
}

/*
 * A hash of an array's bytes (at least 12), word by word with the last word
 * overlapping, from byte 12 on: before it come the number of dimensions, the
 * data offset and the element type, which rows share.  A rotation between words
 * keeps their order in the hash, in a chain of single-cycle steps.  A
 * collision only costs a slot its place; the comparison sees every byte.
 */
static inline uint64
array_hash(uint64 h, const char *p, uint32 len)
{
	uint64		w;
	uint32		i;

	for (i = 12; i + 8 < len; i += 8)
	{
		memcpy(&w, p + i, 8);
		h = (h << 29 | h >> 35) ^ w;
	}
	memcpy(&w, p + len - 8, 8);
	return (h << 29 | h >> 35) ^ w;
}

/* The customer's parameters from the covariate arguments, checked; buf receives them. */
static void
covariate_params(FunctionCallInfo fcinfo, const clv_model *m, clv_btyd_model model,
				 int cov_arg, double *buf)
{
	int			p1,
				p2,
				want1 = (int) m->n_purchase_covariates,
				want2 = (int) m->n_params - 4 - want1;
	const double *z1 = covariates_arg(fcinfo, cov_arg, "purchase_covariates", &p1),
			   *z2 = covariates_arg(fcinfo, cov_arg + 1, "dropout_covariates", &p2);

	if (p1 != want1)
		covariate_count_error("purchase_covariates", p1, want1, "the model has purchase covariates");
	if (p2 != want2)
		covariate_count_error("dropout_covariates", p2, want2, "the model has dropout covariates");
	clv_btyd_cov_customer(model, m->params, p1, p2, z1, z2, buf);
}

/* The stored bytes of the covariate arguments, unless NULL, compressed, out of line or too long */
static inline bool
pair_bytes(FunctionCallInfo fcinfo, int cov_arg, const char **b1, uint32 *len1,
		   const char **b2, uint32 *len2)
{
	return !PG_ARGISNULL(cov_arg) && !PG_ARGISNULL(cov_arg + 1) &&
		stored_bytes(PG_GETARG_DATUM(cov_arg), b1, len1) &&
		stored_bytes(PG_GETARG_DATUM(cov_arg + 1), b2, len2) &&
		*len1 + *len2 <= COV_KEY_MAX;
}

/* The slot of a pair of arrays' stored bytes: where it is, if anywhere. */
static inline cov_slot *
pair_slot(clv_btyd_cov_cache *cache, const char *b1, uint32 len1, const char *b2, uint32 len2)
{
	return &cache->slots[clv_mix64(array_hash(array_hash(len1 | (uint64) len2 << 32, b1, len1),
											  b2, len2)) % COV_SLOTS];
}

static inline bool
slot_holds(const cov_slot *slot, const char *b1, uint32 len1, const char *b2, uint32 len2)
{
	return slot->len1 == len1 && slot->len2 == len2 && memcmp(slot->key, b1, len1) == 0 &&
		memcmp(slot->key + len1, b2, len2) == 0;
}

/* clv_btyd_customer_params for every other row: the checks, the errors and a new slot */
static pg_noinline const double *
customer_params_checked(FunctionCallInfo fcinfo, const clv_model *m, clv_btyd_model model,
						int cov_arg, const char *fname, clv_btyd_memo *memo,
						double *buf, uint64 *set)
{
	clv_btyd_cov_cache *cache = clv_btyd_memo_covariates(memo);
	bool		has_args = PG_NARGS() > cov_arg + 1;
	const char *b1,
			   *b2;
	uint32		len1,
				len2;
	cov_slot   *slot;

	*set = CLV_BTYD_OWN_PARAMS;
	if (cache != NULL && !has_args)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs the customer's covariates for a %s model", fname,
						clv_model_kind_name(m->kind)),
				 errhint("Pass purchase_covariates and dropout_covariates as the last arguments.")));
	if (!has_args)
		return m->params;
	if (cache == NULL)
	{
		int			p1,
					p2;

		(void) covariates_arg(fcinfo, cov_arg, "purchase_covariates", &p1);
		(void) covariates_arg(fcinfo, cov_arg + 1, "dropout_covariates", &p2);
		if (p1 > 0 || p2 > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a %s model takes no covariates", clv_model_kind_name(m->kind)),
					 errhint("Fit the model with covariates, or pass empty arrays.")));
		return m->params;
	}

	if (!pair_bytes(fcinfo, cov_arg, &b1, &len1, &b2, &len2))
	{
		/* the errors, or parameters shared with no other row */
		covariate_params(fcinfo, m, model, cov_arg, buf);
		*set = CLV_BTYD_UNSHARED;
		return buf;
	}
	/* checked before the slot changes: an error leaves it as it was */
	covariate_params(fcinfo, m, model, cov_arg, buf);
	slot = pair_slot(cache, b1, len1, b2, len2);
	memcpy(slot->params, buf, sizeof(slot->params));
	memcpy(slot->key, b1, len1);
	memcpy(slot->key + len1, b2, len2);
	slot->len1 = len1;
	slot->len2 = len2;
	slot->set = ++cache->last_set;
	*set = slot->set;
	return slot->params;
}

/*
 * The parameters of the customer of this row, and their set number for the
 * memo.  A model without covariates called without them, and a row of a
 * covariate model whose pair of arrays the cache holds, the cases of nearly
 * every row, take the short way; every other row goes through the checks.
 */
const double *
clv_btyd_customer_params(FunctionCallInfo fcinfo, const clv_model *m, clv_btyd_model model,
						 int cov_arg, const char *fname, clv_btyd_memo *memo,
						 double *buf, uint64 *set)
{
	clv_btyd_cov_cache *cache = clv_btyd_memo_covariates(memo);
	const char *b1,
			   *b2;
	uint32		len1,
				len2;

	if (cache == NULL && PG_NARGS() <= cov_arg + 1)
	{
		*set = CLV_BTYD_OWN_PARAMS;
		return m->params;
	}
	if (cache != NULL && PG_NARGS() > cov_arg + 1 &&
		pair_bytes(fcinfo, cov_arg, &b1, &len1, &b2, &len2))
	{
		cov_slot   *slot = pair_slot(cache, b1, len1, b2, len2);

		if (slot_holds(slot, b1, len1, b2, len2))
		{
			*set = slot->set;
			return slot->params;
		}
	}
	return customer_params_checked(fcinfo, m, model, cov_arg, fname, memo, buf, set);
}
