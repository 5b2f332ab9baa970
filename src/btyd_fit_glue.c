/*
 * btyd_fit_glue.c — the fit aggregates of the "buy till you die" models:
 * clv_bgnbd_fit, clv_mbgnbd_fit, clv_paretonbd_fit, clv_gammagamma_fit and
 * clv_bgbb_fit (also weighted: a count of customers per row), with their
 * support functions.
 *
 * The aggregate state is the set of distinct customer patterns with counts
 * (see btyd.h), so partial states combine exactly.
 */
#include "btyd_glue.h"

#include <math.h>

#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

typedef struct btyd_state
{
	clv_btyd_model model;
	clv_patterns patterns;
	Jsonb	   *options;		/* NULL when none were given */
} btyd_state;

typedef struct btyd_options
{
	double		l2;
	int			max_iter;
	clv_numbers start;
	char	   *unit_text;		/* NULL when none was given */
	clv_span	unit;
} btyd_options;

/* The SQL name of each model's fit aggregate, for messages. */
static const char *const fit_names[CLV_BTYD_N_MODELS] = {
	[CLV_BTYD_BGNBD] = "clv_bgnbd_fit",
	[CLV_BTYD_MBGNBD] = "clv_mbgnbd_fit",
	[CLV_BTYD_GAMMAGAMMA] = "clv_gammagamma_fit",
	[CLV_BTYD_PARETONBD] = "clv_paretonbd_fit",
	[CLV_BTYD_BGBB] = "clv_bgbb_fit",
};

static inline const char *
fit_name(clv_btyd_model model)
{
	return fit_names[model];
}

static void
parse_btyd_options(clv_btyd_model model, Jsonb *options, btyd_options *out)
{
	const clv_option spec[] = {
		{"l2", CLV_OPT_NUMBER, &out->l2, 0, 1e300},
		{"max_iter", CLV_OPT_INTEGER, &out->max_iter, 1, 100000},
		{"start", CLV_OPT_NUMBERS, &out->start, 1e-300, 1e300},
		/* last: a spend model has no time axis, so no unit */
		{"unit", CLV_OPT_STRING, &out->unit_text},
	};

	memset(out, 0, sizeof(*out));
	out->max_iter = 500;
	clv_parse_options(options, fit_name(model), spec,
					  lengthof(spec) - (clv_btyd_models[model].spend ? 1 : 0));
	if (out->unit_text != NULL)
		out->unit = clv_btyd_unit_parse(out->unit_text);
	if (out->start.n > 0 && out->start.n != clv_btyd_models[model].n_params)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"start\" of %s must have %d values", fit_name(model),
						clv_btyd_models[model].n_params)));
}

/* ---- transition ------------------------------------------------------------ */

pg_attribute_noreturn()
static void
raise_pattern_limit(clv_error *err, clv_btyd_model model)
{
	clv_set_hint(err, clv_btyd_models[model].spend
				 ? "Raise clv.max_training_memory, or round monetary to fewer distinct values."
				 : "Raise clv.max_training_memory, or round recency and t to fewer distinct values.");
	clv_raise(err);
}

/*
 * One row: a customer or, when weighted, a count of customers with the same
 * data (the argument after them, a non-negative whole number).
 */
static void *
btyd_trans(FunctionCallInfo fcinfo, btyd_state *state, MemoryContext cxt, clv_btyd_model model,
		   bool weighted)
{
	int			options_arg = 1 + clv_btyd_models[model].n_features + weighted;
	double		x,
				tx,
				T,
				count = 1;
	clv_error	err;
	clv_status	st = CLV_OK;
	MemoryContext old;

	clv_btyd_customer_args(fcinfo, 1, model, &x, &tx, &T);
	if (weighted)
	{
		count = clv_finite_arg(fcinfo, options_arg - 1, "customers");
		if (!(count >= 0 && count == floor(count) && count < 9007199254740992.0))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("customers must be a non-negative whole number"),
					 errdetail("The value is %g.", count)));
	}

	old = MemoryContextSwitchTo(cxt);
	if (state == NULL)
	{
		btyd_options opt;
		Jsonb	   *options = clv_options_arg(fcinfo, options_arg, cxt);

		parse_btyd_options(model, options, &opt);	/* fail early */
		state = palloc0(sizeof(btyd_state));
		state->model = model;
		state->options = options;
		clv_patterns_init(&state->patterns, clv_training_memory_bytes());
	}
	else if (state->model != model)
		clv_state_of_other_aggregate(fcinfo, fit_name(state->model));
	else
		clv_check_options_row(fcinfo, options_arg, state->options, fit_name(model));
	if (!weighted)
		st = clv_btyd_add_customer(model, &state->patterns, x, tx, T, &err);
	else if (count > 0)
		st = clv_patterns_add(&state->patterns, x, tx, T, count, &err);
	MemoryContextSwitchTo(old);
	if (st != CLV_OK)
		raise_pattern_limit(&err, model);
	return state;
}

static void *
bgnbd_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return btyd_trans(fcinfo, prev, cxt, CLV_BTYD_BGNBD, false);
}

static void *
mbgnbd_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return btyd_trans(fcinfo, prev, cxt, CLV_BTYD_MBGNBD, false);
}

static void *
paretonbd_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return btyd_trans(fcinfo, prev, cxt, CLV_BTYD_PARETONBD, false);
}

static void *
gammagamma_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return btyd_trans(fcinfo, prev, cxt, CLV_BTYD_GAMMAGAMMA, false);
}

static void *
bgbb_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return btyd_trans(fcinfo, prev, cxt, CLV_BTYD_BGBB, false);
}

static void *
bgbb_weighted_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return btyd_trans(fcinfo, prev, cxt, CLV_BTYD_BGBB, true);
}

/* ---- combine, serialize, deserialize -------------------------------------- */

static void *
btyd_new_like(const void *b, MemoryContext cxt)
{
	const btyd_state *src = b;
	btyd_state *dst = palloc0(sizeof(btyd_state));

	dst->model = src->model;
	dst->options = clv_copy_jsonb(cxt, src->options);
	clv_patterns_init(&dst->patterns, clv_training_memory_bytes());
	return dst;
}

static void
btyd_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
	const btyd_state *sa = a,
			   *sb = b;

	if (sa->model != sb->model)
		clv_state_of_other_aggregate(fcinfo, fit_name(sb->model));
	clv_check_options_agree(fcinfo, sa->options, sb->options);
}

static void
btyd_merge(void *a, const void *b)
{
	btyd_state *sa = a;
	clv_error	err;

	if (clv_patterns_merge(&sa->patterns, &((const btyd_state *) b)->patterns, &err) != CLV_OK)
		raise_pattern_limit(&err, sa->model);
}

/* Compacting (sorting) the patterns changes their order, not the state's content. */
static void
btyd_send(StringInfo buf, const void *state)
{
	btyd_state *s = (btyd_state *) state;

	clv_patterns_compact(&s->patterns);
	clv_state_send_begin(buf, s->patterns.n, 4 * sizeof(double),
						 4 + clv_sent_jsonb_bytes(s->options) + 8, "distinct patterns");
	pq_sendint32(buf, s->model);
	clv_send_jsonb(buf, s->options);
	pq_sendint64(buf, s->patterns.n);
	for (size_t i = 0; i < s->patterns.n; i++)
	{
		pq_sendfloat8(buf, s->patterns.v[i].x);
		pq_sendfloat8(buf, s->patterns.v[i].tx);
		pq_sendfloat8(buf, s->patterns.v[i].T);
		pq_sendfloat8(buf, s->patterns.v[i].count);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

/* In the current context: whoever keeps the state copies what it keeps. */
static void *
btyd_receive(StringInfo buf)
{
	btyd_state *s;
	uint32		model;
	int64		n;
	clv_error	err;

	model = clv_state_uint32(buf);
	if (model >= CLV_BTYD_N_MODELS)
		clv_invalid_state("The model number is %u.", model);
	s = palloc0(sizeof(btyd_state));
	s->model = (clv_btyd_model) model;
	s->options = clv_receive_jsonb(buf);
	n = clv_state_int64(buf);
	if (n < 0 || n > (buf->len - buf->cursor) / 32)
		clv_invalid_state("The pattern count is " INT64_FORMAT ".", n);
	clv_patterns_init(&s->patterns, clv_training_memory_bytes());
	for (int64 i = 0; i < n; i++)
	{
		double		x = clv_state_float8(buf);
		double		tx = clv_state_float8(buf);
		double		T = clv_state_float8(buf);
		double		count = clv_state_float8(buf);

		if (!(count >= 1 && isfinite(count)) ||
			clv_btyd_check_customer(s->model, x, tx, T, &err) != CLV_OK)
			clv_invalid_state("Pattern " INT64_FORMAT " is not one that rows can produce.", i + 1);
		clv_check(clv_patterns_add(&s->patterns, x, tx, T, count, &err), &err);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return s;
}

const clv_state_family clv_btyd_family = {
	CLV_STATE_BTYD,
	"clv_bgnbd_fit, clv_mbgnbd_fit, clv_paretonbd_fit, clv_gammagamma_fit or clv_bgbb_fit",
	{"clv_btyd_fit_combine", btyd_new_like, btyd_check_same, btyd_merge},
	btyd_send, btyd_receive
};

PG_FUNCTION_INFO_V1(clv_bgnbd_fit_trans);
Datum
clv_bgnbd_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, bgnbd_step);
}

PG_FUNCTION_INFO_V1(clv_bgnbd_fit_trans_v2);
Datum
clv_bgnbd_fit_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_btyd_family, bgnbd_step);
}

PG_FUNCTION_INFO_V1(clv_mbgnbd_fit_trans);
Datum
clv_mbgnbd_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, mbgnbd_step);
}

PG_FUNCTION_INFO_V1(clv_mbgnbd_fit_trans_v2);
Datum
clv_mbgnbd_fit_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_btyd_family, mbgnbd_step);
}

PG_FUNCTION_INFO_V1(clv_paretonbd_fit_trans);
Datum
clv_paretonbd_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, paretonbd_step);
}

PG_FUNCTION_INFO_V1(clv_paretonbd_fit_trans_v2);
Datum
clv_paretonbd_fit_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_btyd_family, paretonbd_step);
}

PG_FUNCTION_INFO_V1(clv_gammagamma_fit_trans);
Datum
clv_gammagamma_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, gammagamma_step);
}

PG_FUNCTION_INFO_V1(clv_gammagamma_fit_trans_v2);
Datum
clv_gammagamma_fit_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_btyd_family, gammagamma_step);
}

PG_FUNCTION_INFO_V1(clv_bgbb_fit_trans);
Datum
clv_bgbb_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_btyd_family, bgbb_step);
}

PG_FUNCTION_INFO_V1(clv_bgbb_weighted_fit_trans);
Datum
clv_bgbb_weighted_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_btyd_family, bgbb_weighted_step);
}

PG_FUNCTION_INFO_V1(clv_btyd_fit_combine);
Datum
clv_btyd_fit_combine(PG_FUNCTION_ARGS)
{
	return clv_combine_states(fcinfo, &clv_btyd_family.combine);
}

PG_FUNCTION_INFO_V1(clv_btyd_fit_serialize);
Datum
clv_btyd_fit_serialize(PG_FUNCTION_ARGS)
{
	return clv_internal_serialize(fcinfo, &clv_btyd_family);
}

PG_FUNCTION_INFO_V1(clv_btyd_fit_deserialize);
Datum
clv_btyd_fit_deserialize(PG_FUNCTION_ARGS)
{
	return clv_internal_deserialize(fcinfo, &clv_btyd_family);
}

/* ---- final ----------------------------------------------------------------- */

static void
json_params(StringInfo buf, const char *key, clv_btyd_model model, const double *v)
{
	const clv_btyd_ops *ops = &clv_btyd_models[model];

	clv_json_named_numbers(buf, key, ops->param_names, v, ops->n_params);
}

static Datum
btyd_finish(FunctionCallInfo fcinfo, void *state)
{
	btyd_state *s = state;
	const clv_btyd_ops *ops;
	btyd_options opt;
	clv_btyd_options copt;
	clv_btyd_fit fit;
	clv_error	err;
	clv_patterns sorted;
	StringInfoData meta;
	clv_model	model = {0};

	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s cannot fit a model on zero rows",
						clv_agg_name(fcinfo))));
	ops = &clv_btyd_models[s->model];
	parse_btyd_options(s->model, s->options, &opt);
	copt.l2 = opt.l2;
	copt.max_iter = opt.max_iter;
	copt.start = opt.start.n > 0 ? opt.start.v : NULL;

	/* a sorted copy: the final function leaves the state as it was */
	clv_patterns_init(&sorted, 0);
	clv_check(clv_patterns_merge(&sorted, &s->patterns, &err), &err);
	clv_patterns_compact(&sorted);
	clv_check(clv_btyd_solve(s->model, &sorted, &copt, &fit, &err), &err);

	initStringInfo(&meta);
	appendStringInfoChar(&meta, '{');
	clv_json_number(&meta, "n_customers", fit.n_customers);
	clv_json_number(&meta, "n_patterns", (double) fit.n_patterns);
	json_params(&meta, "params", s->model, fit.params);
	json_params(&meta, "std_errors", s->model, fit.std_error);
	clv_json_number(&meta, "log_likelihood", fit.log_likelihood);
	clv_json_number(&meta, "iterations", fit.iterations);
	clv_json_key(&meta, "converged");
	appendStringInfoString(&meta, fit.converged ? "true" : "false");
	clv_json_number(&meta, "l2", opt.l2);
	clv_json_key(&meta, "options");
	appendStringInfoString(&meta, s->options ?
						   JsonbToCString(NULL, &s->options->root, VARSIZE(s->options)) : "{}");
	if (opt.unit_text != NULL)
		clv_btyd_json_unit(&meta, opt.unit);
	appendStringInfoChar(&meta, '}');

	model.kind = ops->kind;
	model.n_features = ops->n_features;
	model.feature_names = (char **) ops->feature_names;
	model.meta = meta.data;
	model.n_params = fit.n_params;
	model.params = fit.params;
	PG_RETURN_BYTEA_P(clv_model_to_bytea(&model));
}

PG_FUNCTION_INFO_V1(clv_btyd_fit_final);
Datum
clv_btyd_fit_final(PG_FUNCTION_ARGS)
{
	return clv_internal_final(fcinfo, btyd_finish);
}

PG_FUNCTION_INFO_V1(clv_btyd_fit_final_v2);
Datum
clv_btyd_fit_final_v2(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_btyd_family, btyd_finish);
}
