/*
 * sbg_glue.c — the shifted-beta-geometric model of contractual customers:
 * the fit aggregates, clv_sbg_fit (one row per customer) and
 * clv_sbg_fit_counts (one row per cohort cell, with a count of customers),
 * and the functions that score their model:
 * clv_sbg_survival, clv_sbg_retention, clv_sbg_palive and clv_sbg_derl.
 *
 * The state counts customers per (periods, churned) pattern (sbg.h), so
 * partial states combine exactly and the model does not depend on the order
 * of the rows.
 */
#include "clv.h"

#include <math.h>

#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "sbg.h"

/*
 * The counts form has a name of its own: with both forms called clv_sbg_fit,
 * a third argument written as a string literal ('{"unit": ...}') would
 * match bigint and jsonb alike, an ambiguous call.
 */
#define FIT_NAME "clv_sbg_fit"
#define COUNTS_NAME "clv_sbg_fit_counts"

typedef struct sbg_state
{
	clv_sbg_counts counts;
	Jsonb	   *options;		/* NULL when none were given */
} sbg_state;

typedef struct sbg_options
{
	int			max_iter;
	double		tol;
	clv_numbers start;
	/* an interval's text as given (not as printed: IntervalStyle varies), or NULL */
	char	   *unit;
	double		unit_days;		/* NaN without a unit */
} sbg_options;

static void
parse_sbg_options(Jsonb *options, const char *fname, sbg_options *out)
{
	const clv_option spec[] = {
		{"max_iter", CLV_OPT_INTEGER, &out->max_iter, 1, 100000},
		{"tol", CLV_OPT_NUMBER, &out->tol, 1e-15, 1},
		{"start", CLV_OPT_NUMBERS, &out->start, 1e-300, 1e300},
		{"unit", CLV_OPT_STRING, &out->unit, 0, 0},
	};

	memset(out, 0, sizeof(*out));
	out->max_iter = 500;
	out->tol = 1e-8;
	out->unit_days = NAN;
	clv_parse_options(options, fname, spec, lengthof(spec));
	if (out->start.n > 0 && out->start.n != 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"start\" of %s must have 2 values", fname)));
	if (out->unit)
		out->unit_days = clv_sbg_unit_days(out->unit, "option", fname);
}

double
clv_sbg_unit_days(const char *unit, const char *what, const char *fname)
{
	Datum		iv = DirectFunctionCall3(interval_in, CStringGetDatum(unit),
										 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	double		days = clv_interval_days(DatumGetIntervalP(iv), psprintf("%s \"unit\"", what));

	if (!(days > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"unit\" of %s must be a positive interval", what, fname)));
	return days;
}

/* ---- transition ------------------------------------------------------------ */

static int32
periods_arg(FunctionCallInfo fcinfo)
{
	int32		periods;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("periods must not be NULL")));
	periods = PG_GETARG_INT32(1);
	if (periods < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("periods must be at least 1"),
				 errdetail("periods is %d.", periods),
				 errhint("A customer who churned in their first period has periods = 1.")));
	return periods;
}

pg_attribute_noreturn()
static void
raise_pattern_limit(clv_error *err)
{
	clv_set_hint(err, "Raise clv.max_training_memory.");
	clv_raise(err);
}

/*
 * One row: customers (argument customers_arg, or 1 when it is 0) who
 * churned in period `periods` or were still subscribed after it.
 */
static void *
sbg_trans(FunctionCallInfo fcinfo, sbg_state *state, MemoryContext cxt, int customers_arg)
{
	int			options_arg = customers_arg ? customers_arg + 1 : 3;
	const char *fname = customers_arg ? COUNTS_NAME : FIT_NAME;
	int32		periods = periods_arg(fcinfo);
	int64		customers = 1;
	bool		churned;
	clv_error	err;
	clv_status	st;
	MemoryContext old;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("churned must not be NULL")));
	churned = PG_GETARG_BOOL(2);
	if (customers_arg)
	{
		if (PG_ARGISNULL(customers_arg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("customers must not be NULL")));
		customers = PG_GETARG_INT64(customers_arg);
		if (customers < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("customers must not be negative"),
					 errdetail("customers is " INT64_FORMAT ".", customers)));
	}

	old = MemoryContextSwitchTo(cxt);
	if (state == NULL)
	{
		sbg_options opt;
		Jsonb	   *options = clv_options_arg(fcinfo, options_arg, cxt);

		parse_sbg_options(options, fname, &opt);	/* fail early */
		state = palloc0(sizeof(sbg_state));
		state->options = options;
		clv_sbg_counts_init(&state->counts, clv_training_memory_bytes());
	}
	else
		clv_check_options_row(fcinfo, options_arg, state->options, fname);
	st = customers > 0
		? clv_sbg_counts_add(&state->counts, periods, churned, (double) customers, &err)
		: CLV_OK;				/* an empty cell of a cohort table */
	MemoryContextSwitchTo(old);
	if (st != CLV_OK)
		raise_pattern_limit(&err);
	return state;
}

static void *
customer_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return sbg_trans(fcinfo, prev, cxt, 0);
}

static void *
cohort_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return sbg_trans(fcinfo, prev, cxt, 3);
}

/* ---- combine, and the flat state --------------------------------------------- */

static void *
sbg_new_like(const void *b, MemoryContext cxt)
{
	sbg_state  *dst = palloc0(sizeof(sbg_state));

	dst->options = clv_copy_jsonb(cxt, ((const sbg_state *) b)->options);
	clv_sbg_counts_init(&dst->counts, clv_training_memory_bytes());
	return dst;
}

static void
sbg_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
	clv_check_options_agree(fcinfo, ((const sbg_state *) a)->options,
							((const sbg_state *) b)->options);
}

static void
sbg_merge(void *a, const void *b)
{
	clv_error	err;

	if (clv_sbg_counts_merge(&((sbg_state *) a)->counts, &((const sbg_state *) b)->counts,
							 &err) != CLV_OK)
		raise_pattern_limit(&err);
}

#define CELL_BYTES (4 + 1 + 8)

/* Compacting (sorting) the cells changes their order, not the state's content. */
static void
sbg_send(StringInfo buf, const void *state)
{
	sbg_state  *s = (sbg_state *) state;

	clv_sbg_counts_compact(&s->counts);
	clv_state_send_begin(buf, s->counts.n, CELL_BYTES,
						 clv_sent_jsonb_bytes(s->options) + 8, "distinct patterns");
	clv_send_jsonb(buf, s->options);
	pq_sendint64(buf, s->counts.n);
	for (size_t i = 0; i < s->counts.n; i++)
	{
		pq_sendint32(buf, s->counts.v[i].periods);
		pq_sendbyte(buf, s->counts.v[i].churned);
		pq_sendfloat8(buf, s->counts.v[i].count);
	}
}

/* In the current context: whoever keeps the state copies what it keeps. */
static void *
sbg_receive(StringInfo buf)
{
	sbg_state  *s = palloc0(sizeof(sbg_state));
	int64		n;
	clv_error	err;

	s->options = clv_receive_jsonb(buf);
	n = clv_state_int64(buf);
	if (n < 0 || n > (buf->len - buf->cursor) / CELL_BYTES)
		clv_invalid_state("The pattern count is " INT64_FORMAT ".", n);
	clv_sbg_counts_init(&s->counts, clv_training_memory_bytes());
	for (int64 i = 0; i < n; i++)
	{
		int32		periods = (int32) clv_state_uint32(buf);
		uint8		churned = clv_state_byte(buf);
		double		count = clv_state_float8(buf);

		if (periods < 1 || churned > 1 || !(count >= 1 && isfinite(count) && count == floor(count)))
			clv_invalid_state("Pattern " INT64_FORMAT " is not one that rows can produce.", i + 1);
		if (clv_sbg_counts_add(&s->counts, periods, churned, count, &err) != CLV_OK)
			raise_pattern_limit(&err);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return s;
}

const clv_state_family clv_sbg_family = {
	CLV_STATE_SBG, FIT_NAME " or " COUNTS_NAME,
	{"clv_state_combine", sbg_new_like, sbg_check_same, sbg_merge},
	sbg_send, sbg_receive
};

PG_FUNCTION_INFO_V1(clv_sbg_fit_trans);
Datum
clv_sbg_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_sbg_family, customer_step);
}

PG_FUNCTION_INFO_V1(clv_sbg_fit_counts_trans);
Datum
clv_sbg_fit_counts_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_sbg_family, cohort_step);
}

/* ---- final ----------------------------------------------------------------- */

const char *const clv_sbg_param_names[2] = {"alpha", "beta"};
static const char *const feature_names[] = {"periods", "churned"};

bytea *
clv_sbg_model_bytea(double *params, char *meta)
{
	clv_model	model = {0};

	model.kind = CLV_KIND_SBG;
	model.n_features = 2;
	model.feature_names = (char **) feature_names;
	model.meta = meta;
	model.n_params = 2;
	model.params = params;
	return clv_model_to_bytea(&model);
}

static Datum
sbg_finish(FunctionCallInfo fcinfo, void *state)
{
	sbg_state  *s = state;
	sbg_options opt;
	clv_sbg_options copt;
	clv_sbg_fit fit;
	clv_sbg_counts sorted;
	clv_error	err;
	StringInfoData meta;
	bytea	   *result;

	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s cannot fit a model on zero rows", clv_agg_name(fcinfo))));
	parse_sbg_options(s->options, clv_agg_name(fcinfo), &opt);
	copt.max_iter = opt.max_iter;
	copt.tol = opt.tol;
	copt.start = opt.start.n > 0 ? opt.start.v : NULL;

	/* a sorted copy: the final function leaves the state as it was */
	clv_sbg_counts_init(&sorted, 0);
	clv_check(clv_sbg_counts_merge(&sorted, &s->counts, &err), &err);
	clv_sbg_counts_compact(&sorted);
	clv_check(clv_sbg_solve(&sorted, &copt, &fit, &err), &err);

	initStringInfo(&meta);
	appendStringInfoChar(&meta, '{');
	clv_json_number(&meta, "n", fit.n_customers);
	clv_json_number(&meta, "n_churned", fit.n_churned);
	clv_json_number(&meta, "n_patterns", (double) sorted.n);
	clv_json_named_numbers(&meta, "params", clv_sbg_param_names, fit.params, 2);
	clv_json_named_numbers(&meta, "std_errors", clv_sbg_param_names, fit.std_error, 2);
	clv_json_number(&meta, "log_likelihood", fit.log_likelihood);
	clv_json_number(&meta, "iterations", fit.iterations);
	clv_json_key(&meta, "converged");
	appendStringInfoString(&meta, fit.converged ? "true" : "false");
	clv_json_key(&meta, "unit");
	if (opt.unit)
		escape_json(&meta, opt.unit);
	else
		appendStringInfoString(&meta, "null");
	clv_json_number(&meta, "unit_days", opt.unit_days);	/* null without a unit */
	clv_json_key(&meta, "options");
	appendStringInfoString(&meta, s->options ?
						   JsonbToCString(NULL, &s->options->root, VARSIZE(s->options)) : "{}");
	appendStringInfoChar(&meta, '}');

	result = clv_sbg_model_bytea(fit.params, meta.data);
	clv_sbg_counts_free(&sorted);
	PG_RETURN_BYTEA_P(result);
}

PG_FUNCTION_INFO_V1(clv_sbg_fit_final);
Datum
clv_sbg_fit_final(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_sbg_family, sbg_finish);
}

/* ---- scoring ----------------------------------------------------------------- */

static void
check_sbg(const clv_model *m, const char *fname)
{
	if (m->kind != CLV_KIND_SBG)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs an sbg model", fname),
				 errdetail("The model is a %s model.", clv_model_kind_name(m->kind)),
				 errhint("Fit one with clv_sbg_fit or clv_sbg_fit_counts.")));
}

static const clv_model *
sbg_model_arg(FunctionCallInfo fcinfo, const char *fname)
{
	const clv_model *m = clv_cached_model(fcinfo, 0);

	check_sbg(m, fname);
	return m;
}

static void
check_at_least(double v, double min, const char *what)
{
	if (!(v >= min))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at least %g", what, min),
				 errdetail("%s is %g.", what, v)));
}

PG_FUNCTION_INFO_V1(clv_sbg_survival);
Datum
clv_sbg_survival(PG_FUNCTION_ARGS)
{
	const clv_model *m = sbg_model_arg(fcinfo, "clv_sbg_survival");
	double		t = clv_finite_arg(fcinfo, 1, "t");

	check_at_least(t, 0, "t");
	PG_RETURN_FLOAT8(exp(clv_sbg_log_survival(m->params, t)));
}

PG_FUNCTION_INFO_V1(clv_sbg_retention);
Datum
clv_sbg_retention(PG_FUNCTION_ARGS)
{
	const clv_model *m = sbg_model_arg(fcinfo, "clv_sbg_retention");
	double		t = clv_finite_arg(fcinfo, 1, "t");

	check_at_least(t, 1, "t");
	PG_RETURN_FLOAT8(clv_sbg_retention_rate(m->params, t));
}

PG_FUNCTION_INFO_V1(clv_sbg_palive);
Datum
clv_sbg_palive(PG_FUNCTION_ARGS)
{
	const clv_model *m = sbg_model_arg(fcinfo, "clv_sbg_palive");
	int32		renewals = PG_GETARG_INT32(1),
				ahead = PG_GETARG_INT32(2);

	check_at_least(renewals, 0, "renewals");
	check_at_least(ahead, 0, "periods_ahead");
	PG_RETURN_FLOAT8(exp(clv_sbg_log_survival(m->params, (double) renewals + ahead) -
						 clv_sbg_log_survival(m->params, renewals)));
}

/* The model's period in days, NaN when its fit named no unit; cached with it. */
static double
model_unit_days(FunctionCallInfo fcinfo, const clv_model **out)
{
	void	  **slot;
	MemoryContext cxt;
	const clv_model *m = clv_cached_model_derived(fcinfo, 0, &slot, &cxt);

	check_sbg(m, "clv_sbg_derl");
	if (*slot == NULL)
	{
		Jsonb	   *meta = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(m->meta)));
		JsonbValue	key = {.type = jbvString, .val.string = {strlen("unit_days"), "unit_days"}};
		JsonbValue *v = JB_ROOT_IS_OBJECT(meta) ?
			findJsonbValueFromContainer(&meta->root, JB_FOBJECT, &key) : NULL;
		double	   *days = MemoryContextAlloc(cxt, sizeof(double));

		*days = NAN;
		if (v && v->type == jbvNumeric)
			*days = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
													   NumericGetDatum(v->val.numeric)));
		if (!(*days > 0 && isfinite(*days)))
			*days = NAN;
		*slot = days;
	}
	*out = m;
	return *(double *) *slot;
}

/*
 * clv_sbg_derl(model, renewals, discount_rate [, rate_unit]): the rate is per
 * period, or per rate_unit when given, converted to the model's period by
 * compounding: (1 + d_period) = (1 + d)^(unit / rate_unit).
 */
PG_FUNCTION_INFO_V1(clv_sbg_derl);
Datum
clv_sbg_derl(PG_FUNCTION_ARGS)
{
	const clv_model *m;
	double		unit_days = model_unit_days(fcinfo, &m);
	int32		renewals = PG_GETARG_INT32(1);
	double		d = clv_finite_arg(fcinfo, 2, "discount_rate");

	check_at_least(renewals, 0, "renewals");
	if (!(d > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("discount_rate must be positive"),
				 errdetail("Without discounting, the expected residual lifetime can be unbounded.")));
	if (PG_NARGS() > 3)
	{
		double		rate_days = clv_interval_days(PG_GETARG_INTERVAL_P(3), "rate_unit");

		if (isnan(unit_days))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("clv_sbg_derl cannot convert a rate per rate_unit: the model records no period length"),
					 errhint("Fit with the option \"unit\", or give the rate per period without rate_unit.")));
		if (!(rate_days > 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rate_unit must be positive")));
		d = expm1(log1p(d) * (unit_days / rate_days));
	}
	if (!isfinite(d))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the discount rate per period is out of range"),
				 errdetail("The rate converted from rate_unit to the model's period overflows.")));
	if (d < CLV_SBG_MIN_DISCOUNT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the discount rate per period must be at least %g", CLV_SBG_MIN_DISCOUNT),
				 errdetail("It is %g per period.", d),
				 errhint("Below that, the series of discounted survival takes too long to sum.")));
	PG_RETURN_FLOAT8(clv_sbg_residual_lifetime(m->params, renewals, d));
}
