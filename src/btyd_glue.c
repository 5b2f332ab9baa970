/*
 * btyd_glue.c — fit aggregates and per-customer predictions of the "buy till
 * you die" models: clv_bgnbd_fit, clv_mbgnbd_fit, clv_gammagamma_fit,
 * clv_expected_purchases, clv_palive, clv_expected_spend.
 *
 * The aggregate state is the set of distinct customer patterns with counts
 * (see btyd.h), so partial states combine exactly.
 */
#include "clv.h"

#include <math.h>

#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "btyd.h"

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
} btyd_options;

static const char *
fit_name(clv_btyd_model model)
{
	switch (model)
	{
		case CLV_BTYD_BGNBD:
			return "clv_bgnbd_fit";
		case CLV_BTYD_MBGNBD:
			return "clv_mbgnbd_fit";
		case CLV_BTYD_GAMMAGAMMA:
			return "clv_gammagamma_fit";
		case CLV_BTYD_PARETONBD:
			return "clv_paretonbd_fit";
	}
	return "?";
}

static void
parse_btyd_options(clv_btyd_model model, Jsonb *options, btyd_options *out)
{
	const clv_option spec[] = {
		{"l2", CLV_OPT_NUMBER, &out->l2, 0, 1e300},
		{"max_iter", CLV_OPT_INTEGER, &out->max_iter, 1, 100000},
		{"start", CLV_OPT_NUMBERS, &out->start, 1e-300, 1e300},
	};

	memset(out, 0, sizeof(*out));
	out->max_iter = 500;
	clv_parse_options(options, fit_name(model), spec, lengthof(spec));
	if (out->start.n > 0 && out->start.n != clv_btyd_n_params(model))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"start\" of %s must have %d values", fit_name(model),
						clv_btyd_n_params(model))));
}

/* ---- transition ------------------------------------------------------------ */

pg_attribute_noreturn()
static void
raise_pattern_limit(clv_error *err, clv_btyd_model model)
{
	clv_set_hint(err, model == CLV_BTYD_GAMMAGAMMA
				 ? "Raise clv.max_training_memory, or round monetary to fewer distinct values."
				 : "Raise clv.max_training_memory, or round recency and t to fewer distinct values.");
	clv_raise(err);
}

static Datum
btyd_trans(FunctionCallInfo fcinfo, clv_btyd_model model)
{
	MemoryContext cxt = clv_agg_context(fcinfo, fit_name(model));
	btyd_state *state = PG_ARGISNULL(0) ? NULL : (btyd_state *) PG_GETARG_POINTER(0);
	bool		gg = model == CLV_BTYD_GAMMAGAMMA;
	int			options_arg = gg ? 3 : 4;
	double		x = clv_finite_arg(fcinfo, 1, "frequency");
	double		tx = clv_finite_arg(fcinfo, 2, gg ? "monetary" : "recency");
	double		T = gg ? 0 : clv_finite_arg(fcinfo, 3, "t");
	clv_error	err;
	clv_status	st;
	MemoryContext old;

	clv_check(clv_btyd_check_customer(model, x, tx, T, &err), &err);
	if (gg && x == 0)
		tx = 0;					/* one-time buyers' spend carries no information */

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
	else
		clv_check_options_row(fcinfo, options_arg, state->options, fit_name(model));
	st = clv_patterns_add(&state->patterns, x, tx, T, 1, &err);
	MemoryContextSwitchTo(old);
	if (st != CLV_OK)
		raise_pattern_limit(&err, model);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(clv_bgnbd_fit_trans);
Datum
clv_bgnbd_fit_trans(PG_FUNCTION_ARGS)
{
	return btyd_trans(fcinfo, CLV_BTYD_BGNBD);
}

PG_FUNCTION_INFO_V1(clv_mbgnbd_fit_trans);
Datum
clv_mbgnbd_fit_trans(PG_FUNCTION_ARGS)
{
	return btyd_trans(fcinfo, CLV_BTYD_MBGNBD);
}

PG_FUNCTION_INFO_V1(clv_paretonbd_fit_trans);
Datum
clv_paretonbd_fit_trans(PG_FUNCTION_ARGS)
{
	return btyd_trans(fcinfo, CLV_BTYD_PARETONBD);
}

PG_FUNCTION_INFO_V1(clv_gammagamma_fit_trans);
Datum
clv_gammagamma_fit_trans(PG_FUNCTION_ARGS)
{
	return btyd_trans(fcinfo, CLV_BTYD_GAMMAGAMMA);
}

/* ---- combine, serialize, deserialize -------------------------------------- */

PG_FUNCTION_INFO_V1(clv_btyd_fit_combine);
Datum
clv_btyd_fit_combine(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = clv_agg_context(fcinfo, "clv_btyd_fit_combine");
	btyd_state *a = PG_ARGISNULL(0) ? NULL : (btyd_state *) PG_GETARG_POINTER(0);
	btyd_state *b = PG_ARGISNULL(1) ? NULL : (btyd_state *) PG_GETARG_POINTER(1);
	MemoryContext old;
	clv_error	err;
	clv_status	st;

	if (b == NULL)
		PG_RETURN_POINTER(a);
	old = MemoryContextSwitchTo(cxt);
	if (a == NULL)
	{
		a = palloc0(sizeof(btyd_state));
		a->model = b->model;
		a->options = clv_copy_jsonb(cxt, b->options);
		clv_patterns_init(&a->patterns, clv_training_memory_bytes());
	}
	else
		clv_check_options_agree(fcinfo, a->options, b->options);
	st = clv_patterns_merge(&a->patterns, &b->patterns, &err);
	MemoryContextSwitchTo(old);
	if (st != CLV_OK)
		raise_pattern_limit(&err, a->model);
	PG_RETURN_POINTER(a);
}

PG_FUNCTION_INFO_V1(clv_btyd_fit_serialize);
Datum
clv_btyd_fit_serialize(PG_FUNCTION_ARGS)
{
	btyd_state *s = (btyd_state *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	clv_agg_context(fcinfo, "clv_btyd_fit_serialize");
	clv_patterns_compact(&s->patterns);
	clv_state_send_begin(&buf, s->patterns.n, 4 * sizeof(double),
						 4 + clv_sent_jsonb_bytes(s->options) + 8, "distinct patterns");
	pq_sendint32(&buf, s->model);
	clv_send_jsonb(&buf, s->options);
	pq_sendint64(&buf, s->patterns.n);
	for (size_t i = 0; i < s->patterns.n; i++)
	{
		pq_sendfloat8(&buf, s->patterns.v[i].x);
		pq_sendfloat8(&buf, s->patterns.v[i].tx);
		pq_sendfloat8(&buf, s->patterns.v[i].T);
		pq_sendfloat8(&buf, s->patterns.v[i].count);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* In the current context: the combine function copies what it keeps. */
PG_FUNCTION_INFO_V1(clv_btyd_fit_deserialize);
Datum
clv_btyd_fit_deserialize(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	btyd_state *s;
	uint32		model;
	int64		n;
	clv_error	err;

	clv_agg_context(fcinfo, "clv_btyd_fit_deserialize");
	clv_state_reader(PG_GETARG_BYTEA_PP(0), &buf);
	model = clv_state_uint32(&buf);
	if (model < CLV_BTYD_BGNBD || model > CLV_BTYD_PARETONBD)
		clv_invalid_state("The model number is %u.", model);
	s = palloc0(sizeof(btyd_state));
	s->model = (clv_btyd_model) model;
	s->options = clv_receive_jsonb(&buf);
	n = clv_state_int64(&buf);
	if (n < 0 || n > (buf.len - buf.cursor) / 32)
		clv_invalid_state("The pattern count is " INT64_FORMAT ".", n);
	clv_patterns_init(&s->patterns, clv_training_memory_bytes());
	for (int64 i = 0; i < n; i++)
	{
		double		x = clv_state_float8(&buf);
		double		tx = clv_state_float8(&buf);
		double		T = clv_state_float8(&buf);
		double		count = clv_state_float8(&buf);

		if (!(count >= 1 && isfinite(count)) ||
			clv_btyd_check_customer(s->model, x, tx, T, &err) != CLV_OK)
			clv_invalid_state("Pattern " INT64_FORMAT " is not one that rows can produce.", i + 1);
		clv_check(clv_patterns_add(&s->patterns, x, tx, T, count, &err), &err);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	clv_state_end(&buf);
	PG_RETURN_POINTER(s);
}

/* ---- final ----------------------------------------------------------------- */

static clv_model_kind
kind_of_model(clv_btyd_model model)
{
	switch (model)
	{
		case CLV_BTYD_BGNBD:
			return CLV_KIND_BGNBD;
		case CLV_BTYD_MBGNBD:
			return CLV_KIND_MBGNBD;
		case CLV_BTYD_PARETONBD:
			return CLV_KIND_PARETONBD;
		case CLV_BTYD_GAMMAGAMMA:
			break;
	}
	return CLV_KIND_GAMMAGAMMA;
}

static void
json_params(StringInfo buf, const char *key, clv_btyd_model model, const double *v)
{
	const char *names[CLV_BTYD_MAX_PARAMS];

	for (int i = 0; i < clv_btyd_n_params(model); i++)
		names[i] = clv_btyd_param_name(model, i);
	clv_json_named_numbers(buf, key, names, v, clv_btyd_n_params(model));
}

PG_FUNCTION_INFO_V1(clv_btyd_fit_final);
Datum
clv_btyd_fit_final(PG_FUNCTION_ARGS)
{
	btyd_state *s = PG_ARGISNULL(0) ? NULL : (btyd_state *) PG_GETARG_POINTER(0);
	static char *const bg_names[] = {"frequency", "recency", "t"};
	static char *const gg_names[] = {"frequency", "monetary"};
	btyd_options opt;
	clv_btyd_options copt;
	clv_btyd_fit fit;
	clv_error	err;
	clv_patterns sorted;
	StringInfoData meta;
	clv_model	model = {0};
	bool		gg;

	clv_agg_context(fcinfo, "clv_btyd_fit_final");
	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s cannot fit a model on zero rows",
						clv_agg_name(fcinfo))));
	gg = s->model == CLV_BTYD_GAMMAGAMMA;
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
	appendStringInfoChar(&meta, '}');

	model.kind = kind_of_model(s->model);
	model.n_features = gg ? 2 : 3;
	model.feature_names = gg ? (char **) gg_names : (char **) bg_names;
	model.meta = meta.data;
	model.n_params = fit.n_params;
	model.params = fit.params;
	PG_RETURN_BYTEA_P(clv_model_to_bytea(&model));
}

/* ---- predictions ----------------------------------------------------------- */

clv_btyd_model
clv_btyd_model_of(const clv_model *m, const char *fname, bool spend)
{
	for (int k = CLV_BTYD_BGNBD; k <= CLV_BTYD_PARETONBD; k++)
		if (kind_of_model(k) == m->kind && (k == CLV_BTYD_GAMMAGAMMA) == spend)
			return (clv_btyd_model) k;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s cannot use a %s model", fname, clv_model_kind_name(m->kind)),
			 errhint("%s takes a model fitted by %s.", fname,
					 spend ? "clv_gammagamma_fit"
					 : "clv_bgnbd_fit, clv_mbgnbd_fit or clv_paretonbd_fit")));
	pg_unreachable();
}

/*
 * The cached model of argument 0 as a purchase model (BG/NBD, MBG/NBD,
 * Pareto/NBD) or, when spend is set, a Gamma-Gamma model.
 */
static const clv_model *
btyd_model_arg(FunctionCallInfo fcinfo, const char *fname, bool spend,
			   clv_btyd_model *model)
{
	const clv_model *m = clv_cached_model(fcinfo, 0);

	*model = clv_btyd_model_of(m, fname, spend);
	return m;
}

/* frequency, recency, t from arguments first..first+2, checked (inline: per row). */
static pg_attribute_always_inline void
customer_args(FunctionCallInfo fcinfo, int first, clv_btyd_model model,
			  double *x, double *tx, double *T)
{
	clv_error	err;

	*x = clv_finite_arg(fcinfo, first, "frequency");
	*tx = clv_finite_arg(fcinfo, first + 1, model == CLV_BTYD_GAMMAGAMMA ? "monetary" : "recency");
	*T = model == CLV_BTYD_GAMMAGAMMA ? 0 : clv_finite_arg(fcinfo, first + 2, "t");
	clv_check(clv_btyd_check_customer(model, *x, *tx, *T, &err), &err);
}

pg_attribute_noreturn()
static void
hypergeometric_error(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("the model's prediction cannot be computed for this customer"),
			 errdetail("The Gauss hypergeometric function did not converge.")));
}

/*
 * A query that scores customers usually asks for P(alive) and expected
 * purchases (and a lifetime value) of the same customer in a row: each is
 * P(alive) times a factor, so the last P(alive) computed is kept, with its
 * full key, for the next call.
 */
static double
palive_of(clv_btyd_model model, const double *params, double x, double tx, double T)
{
	static struct
	{
		bool		valid;
		clv_btyd_model model;
		double		params[4],
					x,
					tx,
					T,
					value;
	}			last;

	/* compared as values: +0 and −0 give the same P(alive), NaN never comes */
	if (!last.valid || last.model != model || last.x != x || last.tx != tx || last.T != T ||
		last.params[0] != params[0] || last.params[1] != params[1] ||
		last.params[2] != params[2] || last.params[3] != params[3])
	{
		last.value = clv_bgnbd_palive(model, params, x, tx, T);
		last.model = model;
		memcpy(last.params, params, sizeof(last.params));
		last.x = x;
		last.tx = tx;
		last.T = T;
		last.valid = true;
	}
	return last.value;
}

PG_FUNCTION_INFO_V1(clv_palive);
Datum
clv_palive(PG_FUNCTION_ARGS)
{
	clv_btyd_model model;
	const clv_model *m = btyd_model_arg(fcinfo, "clv_palive", false, &model);
	double		x,
				tx,
				T,
				p;

	customer_args(fcinfo, 1, model, &x, &tx, &T);
	p = palive_of(model, m->params, x, tx, T);
	if (isnan(p))
		hypergeometric_error();
	PG_RETURN_FLOAT8(p);
}

/*
 * Scoring a table calls clv_expected_purchases or clv_lifetime_value once per
 * customer, and the Gauss hypergeometric terms dominate; but they enter
 * through a factor (the expectation for a customer known to be alive) that
 * depends only on (frequency, t, horizon) and the call's settings, and
 * customers share those.  So each cached purchase model carries a hash table
 * of its factors for one setting (discounting); another setting empties it.
 * The table starts small and doubles as it fills, so the few thousand keys of
 * typical data stay close together in cache; a full table starts over.
 */
#define MEMO_MIN_SLOTS 1024		/* powers of two */
#define MEMO_MAX_SLOTS 65536
#define MEMO_EMPTY (-1.0)		/* x of an unused slot: frequencies are >= 0 */

typedef struct memo_slot
{
	double		x,
				T,
				horizon,
				value;
} memo_slot;

/* clv_lifetime_value's settings as last read at a call site, and what they give */
typedef struct value_settings
{
	bool		valid;
	Interval	horizon,
				unit;
	double		annual;
	bool		continuous;
	double		horizon_units;	/* the horizon in units */
	double		rate;			/* continuous discount rate per unit */
} value_settings;

typedef struct factor_memo
{
	MemoryContext cxt;			/* the cached model's: the table lives as long */
	double		step,			/* the setting of the factors in the table */
				rate;
	uint32		n_slots;
	uint32		used;
	memo_slot  *slots;			/* cache-line aligned, in allocated */
	void	   *allocated;
	value_settings settings;
} factor_memo;

static void
memo_clear(factor_memo *memo)
{
	for (uint32 i = 0; i < memo->n_slots; i++)
		memo->slots[i].x = MEMO_EMPTY;
	memo->used = 0;
}

/* A table of n empty slots, each within one cache line. */
static void
memo_allocate(factor_memo *memo, uint32 n)
{
	memo->allocated = MemoryContextAlloc(memo->cxt, n * sizeof(memo_slot) + PG_CACHE_LINE_SIZE);
	memo->slots = (memo_slot *) TYPEALIGN(PG_CACHE_LINE_SIZE, memo->allocated);
	memo->n_slots = n;
	memo_clear(memo);
}

/* The cached purchase model of argument 0 and its factor table. */
static const clv_model *
purchase_model_arg(FunctionCallInfo fcinfo, const char *fname, clv_btyd_model *model,
				   factor_memo **memo)
{
	void	  **derived;
	MemoryContext cxt;
	const clv_model *m = clv_cached_model_derived(fcinfo, 0, &derived, &cxt);

	*model = clv_btyd_model_of(m, fname, false);
	if (*derived == NULL)
	{
		factor_memo *fresh = MemoryContextAllocZero(cxt, sizeof(factor_memo));

		fresh->cxt = cxt;
		fresh->step = -1;
		memo_allocate(fresh, MEMO_MIN_SLOTS);
		*derived = fresh;
	}
	*memo = *derived;
	return m;
}

/* The free slot of key, or the slot holding it. */
static memo_slot *
memo_find(const factor_memo *memo, double x, double T, double horizon)
{
	uint64		h,
				bits[3];
	double		key[3] = {x, T, horizon};

	memcpy(bits, key, sizeof(bits));
	/* whole numbers leave a double's low bits zero: mix every bit in */
	h = (((bits[0] * 0x9e3779b97f4a7c15ULL) ^ bits[1]) * 0x9e3779b97f4a7c15ULL) ^ bits[2];
	h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ULL;
	for (uint32 i = (uint32) (h >> 32) & (memo->n_slots - 1);; i = (i + 1) & (memo->n_slots - 1))
	{
		memo_slot  *s = &memo->slots[i];

		if (s->x == MEMO_EMPTY || (s->x == x && s->T == T && s->horizon == horizon))
			return s;
	}
}

/* Make room for one more entry: double the table, or empty it at its largest. */
static void
memo_reserve(factor_memo *memo)
{
	memo_slot  *old = memo->slots;
	void	   *old_allocated = memo->allocated;
	uint32		n_old = memo->n_slots;

	if (memo->used < memo->n_slots / 2)
		return;
	if (memo->n_slots == MEMO_MAX_SLOTS)
	{
		memo_clear(memo);
		return;
	}
	memo_allocate(memo, 2 * n_old);
	for (uint32 i = 0; i < n_old; i++)
		if (old[i].x != MEMO_EMPTY)
		{
			*memo_find(memo, old[i].x, old[i].T, old[i].horizon) = old[i];
			memo->used++;
		}
	pfree(old_allocated);
}

/*
 * The discounted factor of (x, T) over horizon for the memo's model and the
 * setting (step < 0: the plain factor at the horizon), from the table or
 * computed.
 */
static bool
memo_factor(factor_memo *memo, clv_btyd_model model, const double *params,
			double horizon, double step, double rate, double x, double T, double *out)
{
	memo_slot  *s;
	bool		ok;

	x += 0.0;					/* −0 as 0 */
	T += 0.0;
	horizon += 0.0;
	if (memo->step != step || memo->rate != rate)
	{
		memo->step = step;
		memo->rate = rate;
		memo_clear(memo);
	}
	s = memo_find(memo, x, T, horizon);
	if (s->x != MEMO_EMPTY)
	{
		*out = s->value;
		return true;
	}
	ok = step < 0 ? clv_btyd_purchase_factor(model, params, horizon, x, T, out)
		: clv_btyd_discounted_factor(model, params, x, T, horizon, step, rate, out);
	if (!ok)
		return false;
	memo_reserve(memo);
	*memo_find(memo, x, T, horizon) = (memo_slot) {x, T, horizon, *out};
	memo->used++;
	return true;
}

PG_FUNCTION_INFO_V1(clv_expected_purchases);
Datum
clv_expected_purchases(PG_FUNCTION_ARGS)
{
	clv_btyd_model model;
	factor_memo *memo;
	const clv_model *m = purchase_model_arg(fcinfo, "clv_expected_purchases", &model, &memo);
	double		horizon = clv_finite_arg(fcinfo, 1, "horizon");
	double		x,
				tx,
				T,
				e;

	if (horizon < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must not be negative")));
	customer_args(fcinfo, 2, model, &x, &tx, &T);
	if (!memo_factor(memo, model, m->params, horizon, -1, 0, x, T, &e))
		hypergeometric_error();
	if (horizon > 0)
		e *= palive_of(model, m->params, x, tx, T);
	if (!isfinite(e))
		hypergeometric_error();
	PG_RETURN_FLOAT8(e);
}

/*
 * clv_probability_of_purchases(model, horizon, purchases): a new customer's;
 * with frequency, recency and t after them, conditional on that history.
 */
PG_FUNCTION_INFO_V1(clv_probability_of_purchases);
Datum
clv_probability_of_purchases(PG_FUNCTION_ARGS)
{
	clv_btyd_model model;
	const clv_model *m = btyd_model_arg(fcinfo, "clv_probability_of_purchases", false, &model);
	double		t = clv_finite_arg(fcinfo, 1, "horizon");
	int32		n = PG_GETARG_INT32(2);
	double		p;

	if (t < 0 || n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon and purchases must not be negative")));
	if (PG_NARGS() > 3)
	{
		double		x,
					tx,
					T;

		customer_args(fcinfo, 3, model, &x, &tx, &T);
		p = clv_btyd_conditional_probability_of_purchases(model, m->params, t, n, x, tx, T);
	}
	else
		p = clv_btyd_probability_of_purchases(model, m->params, t, n);
	if (!isfinite(p))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the probability cannot be computed for this customer"),
				 errdetail("A hypergeometric term or an integral did not converge.")));
	PG_RETURN_FLOAT8(p);
}

PG_FUNCTION_INFO_V1(clv_expected_spend);
Datum
clv_expected_spend(PG_FUNCTION_ARGS)
{
	clv_btyd_model model;
	const clv_model *m = btyd_model_arg(fcinfo, "clv_expected_spend", true, &model);
	double		x,
				mon,
				T;

	customer_args(fcinfo, 1, CLV_BTYD_GAMMAGAMMA, &x, &mon, &T);
	if (m->params[1] <= 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected spend is not defined for this model"),
				 errdetail("Its parameter q is %g; the mean spend exists only for q > 1.",
						   m->params[1])));
	PG_RETURN_FLOAT8(clv_gammagamma_expected_spend(m->params, x, x > 0 ? mon : 0));
}

/*
 * clv_lifetime_value: discounted expected revenue over a horizon.  Horizon and
 * unit are intervals so the time unit is stated at every call: unit is what one
 * unit of recency and t meant when the purchase model was fitted (with the
 * CDNOW convention, '7 days').  The discount rate is annual.
 */
static double
interval_days(const Interval *iv, const char *what)
{
	/* a month is an average Gregorian month, so '1 year' is 365.25 days */
	double		days = iv->month * (DAYS_PER_YEAR / MONTHS_PER_YEAR) + iv->day +
		(double) iv->time / USECS_PER_DAY;

	if (!(days >= 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", what)));
	return days;
}

/* Whether t is s, without a per-row copy (inline, so strlen(s) is a constant). */
static inline bool
text_is(text *t, const char *s)
{
	size_t		len = strlen(s);

	return VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

/* Read and check clv_lifetime_value's settings (arguments 6 to 9) into set. */
static void
read_value_settings(const Interval *horizon, const Interval *unit, double annual,
					text *method, value_settings *set)
{
	double		horizon_days = interval_days(horizon, "horizon"),
				unit_days = interval_days(unit, "unit");

	set->valid = false;
	if (unit_days <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unit must be positive")));
	if (annual <= -1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("annual_discount_rate must be greater than -1")));
	if (text_is(method, "continuous"))
		set->continuous = true;
	else if (text_is(method, "discrete"))
		set->continuous = false;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown discounting \"%s\"", text_to_cstring(method)),
				 errhint("Use \"discrete\" (cash flows at the end of each unit) or \"continuous\".")));
	if (horizon_days / unit_days > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("horizon is more than 100000 units")));
	set->horizon = *horizon;
	set->unit = *unit;
	set->annual = annual;
	set->horizon_units = horizon_days / unit_days;
	/* cash flows at the end of each unit, or continuous; ρ per unit */
	set->rate = log1p(annual) * unit_days / DAYS_PER_YEAR;
	set->valid = true;
}

PG_FUNCTION_INFO_V1(clv_lifetime_value);
Datum
clv_lifetime_value(PG_FUNCTION_ARGS)
{
	clv_btyd_model purchase;
	factor_memo *memo;
	const clv_model *pm = purchase_model_arg(fcinfo, "clv_lifetime_value", &purchase, &memo);
	const clv_model *sm = clv_cached_model(fcinfo, 1);
	const Interval *horizon = PG_GETARG_INTERVAL_P(6),
			   *unit = PG_GETARG_INTERVAL_P(7);
	double		annual = clv_finite_arg(fcinfo, 8, "annual_discount_rate");
	text	   *method = PG_GETARG_TEXT_PP(9);
	value_settings *set = &memo->settings;
	double		x,
				tx,
				T,
				mon,
				spend,
				purchases;
	clv_error	err;

	if (sm->kind != CLV_KIND_GAMMAGAMMA)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clv_lifetime_value cannot use a %s model as its spend model",
						clv_model_kind_name(sm->kind)),
				 errhint("The second argument takes a model fitted by clv_gammagamma_fit.")));
	customer_args(fcinfo, 2, purchase, &x, &tx, &T);
	mon = clv_finite_arg(fcinfo, 5, "monetary");
	clv_check(clv_btyd_check_customer(CLV_BTYD_GAMMAGAMMA, x, mon, 0, &err), &err);
	/* the settings are usually the same on every row: checked once */
	if (!set->valid || set->annual != annual ||
		memcmp(&set->horizon, horizon, sizeof(Interval)) != 0 ||
		memcmp(&set->unit, unit, sizeof(Interval)) != 0 ||
		!text_is(method, set->continuous ? "continuous" : "discrete"))
		read_value_settings(horizon, unit, annual, method, set);
	if (sm->params[1] <= 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected spend is not defined for this model"),
				 errdetail("Its parameter q is %g; the mean spend exists only for q > 1.",
						   sm->params[1])));

	spend = clv_gammagamma_expected_spend(sm->params, x, x > 0 ? mon : 0);
	if (!memo_factor(memo, purchase, pm->params, set->horizon_units,
					 set->continuous ? 0 : 1, set->rate, x, T, &purchases))
		hypergeometric_error();
	if (set->horizon_units > 0)
		purchases *= palive_of(purchase, pm->params, x, tx, T);
	if (!isfinite(purchases))
		hypergeometric_error();
	PG_RETURN_FLOAT8(spend * purchases);
}

/* clv_dert: Pareto/NBD discounted expected residual transactions, unlimited horizon. */
PG_FUNCTION_INFO_V1(clv_dert);
Datum
clv_dert(PG_FUNCTION_ARGS)
{
	clv_btyd_model model;
	const clv_model *m = btyd_model_arg(fcinfo, "clv_dert", false, &model);
	double		x,
				tx,
				T,
				unit_days,
				annual,
				dert;

	if (model != CLV_BTYD_PARETONBD)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clv_dert needs a paretonbd model"),
				 errdetail("Only the Pareto/NBD model has a closed form for an unlimited horizon."),
				 errhint("Use clv_lifetime_value with a long horizon for a %s model.",
						 clv_model_kind_name(m->kind))));
	customer_args(fcinfo, 1, model, &x, &tx, &T);
	unit_days = interval_days(PG_GETARG_INTERVAL_P(4), "unit");
	annual = clv_finite_arg(fcinfo, 5, "annual_discount_rate");
	if (unit_days <= 0 || annual <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unit and annual_discount_rate must be positive"),
				 errdetail("Without discounting, expected residual purchases are unbounded.")));
	if (!clv_paretonbd_dert(m->params, x, tx, T, log1p(annual) * unit_days / DAYS_PER_YEAR, &dert))
		hypergeometric_error();
	PG_RETURN_FLOAT8(dert);
}
