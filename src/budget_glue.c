/*
 * budget_glue.c — clv_allocate_budget and clv_budget_threshold: aggregates
 * that keep their rows (response curve points, customers' options) in an
 * internal state bounded by clv.max_training_memory, and solve in the final
 * function, where the core sorts a copy into canonical order so that the
 * result depends only on the multiset of rows, never on the plan.
 *
 * Unlike the metrics, these do not skip NULLs: a NULL where a value is
 * needed is an error (22004), as in the fits; no rows give NULL.
 */
#include "clv.h"

#include <math.h>

#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "budget.h"

pg_attribute_noreturn()
static void
raise_limit(clv_error *err)
{
	clv_set_hint(err, "Raise clv.max_training_memory.");
	clv_raise(err);
}

static void
check_not_null(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
}

/* A budget: finite and not negative (22023), like any other parameter. */
static double
budget_value(double budget)
{
	if (!isfinite(budget) || budget < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("budget must be a finite number that is not negative"),
				 errdetail("The value is %s.", float8out_internal(budget))));
	return budget;
}

/* The budget argument of a row: the first row's for the whole group. */
static double
row_budget(FunctionCallInfo fcinfo, int argno, bool first, double kept)
{
	double		budget;

	check_not_null(fcinfo, argno, "budget");
	budget = budget_value(PG_GETARG_FLOAT8(argno));
	if (!first && budget != kept)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs the same budget in every row of a group", clv_agg_name(fcinfo)),
				 errdetail("The budget was %s and is now %s.",
						   float8out_internal(kept), float8out_internal(budget)),
				 errhint("Pass the budget as a constant, or group by it.")));
	return budget;
}

static void
check_same_budget(FunctionCallInfo fcinfo, double a, double b)
{
	if (a != b)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs the same budget in every row of a group", clv_agg_name(fcinfo)),
				 errhint("Pass the budget as a constant, or group by it.")));
}

/* ---- JSON output --------------------------------------------------------------- */

/* A finite number in its shortest exact form, or null. */
static void
append_json_number(StringInfo buf, const char *key, double v, bool more)
{
	appendStringInfo(buf, "\"%s\": %s%s", key,
					 isfinite(v) ? float8out_internal(v) : "null", more ? ", " : "");
}

/* ---- clv_allocate_budget: options ------------------------------------------------- */

#define ALLOCATE "clv_allocate_budget"

typedef struct allocation_options
{
	clv_budget_options core;
	clv_budget_bound *bounds;
	size_t		cap;
} allocation_options;

/* An option of the wrong type. */
#define option_error(key, expected, got) clv_option_type_error(ALLOCATE, key, expected, got)

/* One spend bound: a finite number, not negative. */
static double
bound_value(const char *key, const char *segment, JsonbValue *v)
{
	double		d;

	if (v->type != jbvNumeric)
		option_error(key, "an object of numbers", v);
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (!isfinite(d) || d < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" of %s for segment \"%s\" must be a finite number that is not negative",
						key, ALLOCATE, segment)));
	return d;
}

/* "min" or "max": {"segment": spend, ...} → bounds. */
static void
parse_bounds(allocation_options *o, const char *key, bool is_min, JsonbValue *value)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (value->type != jbvBinary || !JsonContainerIsObject(value->val.binary.data))
		option_error(key, "an object of numbers", value);
	it = JsonbIteratorInit(value->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		clv_budget_bound *b;
		char	   *segment;

		if (tok != WJB_KEY)
			continue;
		segment = pnstrdup(v.val.string.val, v.val.string.len);
		if (o->core.n_bounds == o->cap)
		{
			o->cap = o->cap ? o->cap * 2 : 8;
			o->bounds = o->bounds ? repalloc(o->bounds, o->cap * sizeof(clv_budget_bound))
				: palloc(o->cap * sizeof(clv_budget_bound));
		}
		b = &o->bounds[o->core.n_bounds++];
		b->name = segment;
		b->len = v.val.string.len;
		b->min = b->max = NAN;
		JsonbIteratorNext(&it, &v, true);
		if (is_min)
			b->min = bound_value(key, segment, &v);
		else
			b->max = bound_value(key, segment, &v);
	}
	o->core.bounds = o->bounds;
}

static void
parse_allocation_options(Jsonb *options, allocation_options *o)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	memset(o, 0, sizeof(*o));
	o->core.interpolate = true;
	o->core.max_combinations = CLV_BUDGET_MAX_COMBINATIONS;
	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options of %s must be a jsonb object", ALLOCATE)));
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "min") == 0 || strcmp(key, "max") == 0)
			parse_bounds(o, key, key[1] == 'i', &v);
		else if (strcmp(key, "interpolate") == 0)
		{
			if (v.type != jbvBool)
				option_error(key, "a boolean", &v);
			o->core.interpolate = v.val.boolean;
		}
		else if (strcmp(key, "objective") == 0)
		{
			if (v.type != jbvString)
				option_error(key, "a string", &v);
			if (v.val.string.len == 3 && memcmp(v.val.string.val, "net", 3) == 0)
				o->core.net = true;
			else if (!(v.val.string.len == 8 && memcmp(v.val.string.val, "response", 8) == 0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"objective\" of %s must be \"response\" or \"net\"",
								ALLOCATE)));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" for %s", key, ALLOCATE),
					 errhint("Known options are \"min\", \"max\", \"objective\", \"interpolate\".")));
	}
}

/* ---- clv_allocate_budget: state ----------------------------------------------------- */

typedef struct allocation_state
{
	clv_budget_points points;
	double		budget;
	Jsonb	   *options;		/* the first row's, or NULL */
} allocation_state;

static allocation_state *
allocation_state_new(double budget, const Jsonb *options, MemoryContext cxt)
{
	allocation_state *state = palloc0(sizeof(allocation_state));

	clv_budget_points_init(&state->points, clv_training_memory_bytes());
	state->budget = budget;
	state->options = clv_copy_jsonb(cxt, options);
	return state;
}

static void *
allocation_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	allocation_state *state = prev;
	text	   *segment;
	double		spend,
				response,
				budget;
	MemoryContext old;
	clv_error	err;

	check_not_null(fcinfo, 1, "segment");
	spend = clv_finite_arg(fcinfo, 2, "spend");
	response = clv_finite_arg(fcinfo, 3, "response");
	budget = row_budget(fcinfo, 4, state == NULL, state ? state->budget : 0);
	if (spend < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("spend must not be negative"),
				 errdetail("The value is %s.", float8out_internal(spend))));
	segment = PG_GETARG_TEXT_PP(1);

	if (state == NULL)
	{
		allocation_options o;
		Jsonb	   *options = clv_options_arg(fcinfo, 5, CurrentMemoryContext);

		/* options are checked once, on the first row, and then compared */
		parse_allocation_options(options, &o);
		old = MemoryContextSwitchTo(cxt);
		state = allocation_state_new(budget, options, cxt);
		MemoryContextSwitchTo(old);
	}
	else
		clv_check_options_row(fcinfo, 5, state->options, ALLOCATE);

	old = MemoryContextSwitchTo(cxt);
	if (clv_budget_points_append(&state->points, VARDATA_ANY(segment), VARSIZE_ANY_EXHDR(segment),
								 spend, response, &err) != CLV_OK)
	{
		MemoryContextSwitchTo(old);
		raise_limit(&err);
	}
	MemoryContextSwitchTo(old);
	return state;
}

static void *
allocation_new_like(const void *b, MemoryContext cxt)
{
	const allocation_state *s = b;

	return allocation_state_new(s->budget, s->options, cxt);
}

static void
allocation_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
	const allocation_state *x = a,
			   *y = b;

	check_same_budget(fcinfo, x->budget, y->budget);
	clv_check_options_agree(fcinfo, x->options, y->options);
}

static void
allocation_merge(void *a, const void *b)
{
	clv_error	err;

	if (clv_budget_points_merge(&((allocation_state *) a)->points,
								&((const allocation_state *) b)->points, &err) != CLV_OK)
		raise_limit(&err);
}

/*
 * The payload of the flat state: float8 budget, options (int32 length, bytes), int64 segment
 * count, each segment's name (int32 length, bytes), int64 point count, then
 * count × (int32 segment, float8 spend, float8 response).
 */
#define POINT_BYTES (4 + 8 + 8)

static void
allocation_send(StringInfo buf, const void *s)
{
	const allocation_state *state = s;
	const clv_budget_points *pts = &state->points;

	clv_state_send_begin(buf, pts->n + pts->n_segs, POINT_BYTES,
						 8 + clv_sent_jsonb_bytes(state->options) + 16 + pts->names_len, "points");
	pq_sendfloat8(buf, state->budget);
	clv_send_jsonb(buf, state->options);
	pq_sendint64(buf, (int64) pts->n_segs);
	for (size_t s = 0; s < pts->n_segs; s++)
	{
		pq_sendint32(buf, (int32) pts->segs[s].len);
		pq_sendbytes(buf, pts->names + pts->segs[s].off, (int) pts->segs[s].len);
	}
	pq_sendint64(buf, (int64) pts->n);
	for (size_t i = 0; i < pts->n; i++)
	{
		pq_sendint32(buf, (int32) pts->v[i].seg);
		pq_sendfloat8(buf, pts->v[i].spend);
		pq_sendfloat8(buf, pts->v[i].response);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

/* The segments of a serialized state, as segment numbers of state (returned). */
static uint32 *
receive_segments(StringInfo buf, allocation_state *state)
{
	int64		n_segs = clv_state_int64(buf);
	uint32	   *map;
	clv_error	err;

	/* each takes at least its 4-byte length */
	if (n_segs < 0 || n_segs > (buf->len - buf->cursor) / 4)
		clv_invalid_state("The segment count does not match the length of the state.");
	map = palloc(Max(n_segs, 1) * sizeof(uint32));
	for (int64 s = 0; s < n_segs; s++)
	{
		uint32		len = clv_state_uint32(buf);
		const char *name = clv_state_take(buf, len);

		if (clv_budget_segment_of(&state->points, name, len, &map[s], &err) != CLV_OK)
			raise_limit(&err);
	}
	return map;
}

static void *
allocation_receive(StringInfo buf)
{
	allocation_state *state;
	double		budget;
	uint32	   *map;
	int64		n,
				n_segs;
	clv_error	err;

	budget = clv_state_float8(buf);
	if (!isfinite(budget) || budget < 0)
		clv_invalid_state("The budget is not one that rows can give.");

	/* in the current context: whoever keeps the state copies it */
	state = allocation_state_new(budget, clv_receive_jsonb(buf), CurrentMemoryContext);
	map = receive_segments(buf, state);
	n_segs = (int64) state->points.n_segs;
	n = clv_state_int64(buf);
	if (n < 0 || (uint64) n != (uint64) (buf->len - buf->cursor) / POINT_BYTES ||
		(buf->len - buf->cursor) % POINT_BYTES != 0)
		clv_invalid_state("The point count does not match the length of the state.");
	if (clv_budget_points_reserve(&state->points, (size_t) n, &err) != CLV_OK)
		raise_limit(&err);
	for (int64 i = 0; i < n; i++)
	{
		uint32		seg = clv_state_uint32(buf);
		double		spend = clv_state_float8(buf),
					response = clv_state_float8(buf);

		if ((int64) seg >= n_segs || !isfinite(spend) || spend < 0 || !isfinite(response))
			clv_invalid_state("Point " INT64_FORMAT " is not one that rows can produce.", i + 1);
		/* cannot fail: the room is reserved */
		clv_budget_points_add(&state->points, map[seg], spend, response, &err);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return state;
}

const clv_state_family clv_allocation_family = {
	CLV_STATE_ALLOCATION, ALLOCATE,
	{"clv_state_combine", allocation_new_like, allocation_check_same, allocation_merge},
	allocation_send, allocation_receive
};

PG_FUNCTION_INFO_V1(clv_allocate_budget_trans);
Datum
clv_allocate_budget_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_allocation_family, allocation_step);
}

/* The segment name as a JSON string. */
static void
append_json_name(StringInfo buf, const char *name, size_t len)
{
	char	   *s = pnstrdup(name, len);

	escape_json(buf, s);
	pfree(s);
}

static Jsonb *
allocation_json(const clv_budget_result *r, double budget, const clv_budget_options *opt)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{");
	append_json_number(&buf, "budget", budget, true);
	appendStringInfo(&buf, "\"objective\": \"%s\", \"interpolate\": %s, ",
					 opt->net ? "net" : "response", opt->interpolate ? "true" : "false");
	append_json_number(&buf, "spend", r->spend, true);
	append_json_number(&buf, "response", r->response, true);
	append_json_number(&buf, "value", opt->net ? r->response - r->spend : r->response, true);
	append_json_number(&buf, "shadow_price", r->shadow_price, true);
	appendStringInfoString(&buf, "\"segments\": [");
	for (size_t i = 0; i < r->n; i++)
	{
		const clv_budget_segment *s = &r->segments[i];

		appendStringInfoString(&buf, i ? ", {\"segment\": " : "{\"segment\": ");
		append_json_name(&buf, s->name, s->len);
		appendStringInfoString(&buf, ", ");
		append_json_number(&buf, "spend", s->spend, true);
		append_json_number(&buf, "response", s->response, true);
		append_json_number(&buf, "marginal", s->marginal, false);
		appendStringInfoChar(&buf, '}');
		if ((i & 0xFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	appendStringInfoString(&buf, "]}");
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

static Datum
allocation_finish(FunctionCallInfo fcinfo, void *s)
{
	allocation_state *state = s;
	allocation_options o;
	clv_budget_result r;
	clv_error	err;

	if (state == NULL)
		PG_RETURN_NULL();
	parse_allocation_options(state->options, &o);
	clv_check(clv_budget_allocate(&state->points, state->budget, &o.core, &r, &err), &err);
	PG_RETURN_JSONB_P(allocation_json(&r, state->budget, &o.core));
}

PG_FUNCTION_INFO_V1(clv_allocate_budget_final);
Datum
clv_allocate_budget_final(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_allocation_family, allocation_finish);
}

/* ---- clv_budget_threshold ----------------------------------------------------------------- */

typedef struct threshold_state
{
	clv_offers	offers;
	double		budget;
	bool		grouped;		/* called with customer */
} threshold_state;

static threshold_state *
threshold_state_new(double budget, bool grouped)
{
	threshold_state *state = palloc0(sizeof(threshold_state));

	clv_offers_init(&state->offers, clv_training_memory_bytes());
	state->budget = budget;
	state->grouped = grouped;
	return state;
}

pg_attribute_noreturn()
static void
cost_error(double cost)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("cost must be positive"),
			 errdetail("The value is %s.", float8out_internal(cost)),
			 errhint("An option that costs nothing needs no budget: take it outside the budget "
					 "(its gain per unit of cost is unbounded).")));
}

/* A state of the other clv_budget_threshold (with or without customers): 42804. */
pg_attribute_noreturn()
static void
threshold_of_other_form(FunctionCallInfo fcinfo, const threshold_state *state)
{
	clv_state_of_other_aggregate(fcinfo, state->grouped ? "clv_budget_threshold with customers"
								 : "clv_budget_threshold without customers");
}

/* Arguments: state, gain, cost, budget [, customer]. */
static void *
threshold_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	threshold_state *state = prev;
	bool		grouped = PG_NARGS() > 4;
	double		gain = clv_finite_arg(fcinfo, 1, "gain"),
				cost = clv_finite_arg(fcinfo, 2, "cost"),
				budget;
	int64		customer = 0;
	clv_error	err;
	clv_status	st;

	if (!(cost > 0))
		cost_error(cost);
	if (state != NULL && !PG_ARGISNULL(3) && PG_GETARG_FLOAT8(3) == state->budget)
		budget = state->budget;
	else
		budget = row_budget(fcinfo, 3, state == NULL, state ? state->budget : 0);
	if (grouped)
	{
		check_not_null(fcinfo, 4, "customer");
		customer = PG_GETARG_INT64(4);
	}
	if (state != NULL && state->grouped != grouped)
		threshold_of_other_form(fcinfo, state);
	if (state == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		state = threshold_state_new(budget, grouped);
		MemoryContextSwitchTo(old);
	}
	/* the offers grow by clv_alloc, which allocates in the current context */
	if (state->offers.n == state->offers.cap)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		st = clv_offers_append(&state->offers, customer, gain, cost, &err);
		MemoryContextSwitchTo(old);
	}
	else
		st = clv_offers_append(&state->offers, customer, gain, cost, &err);
	if (st != CLV_OK)
		raise_limit(&err);
	return state;
}

static void *
threshold_new_like(const void *b, MemoryContext cxt)
{
	const threshold_state *s = b;

	return threshold_state_new(s->budget, s->grouped);
}

static void
threshold_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
	const threshold_state *x = a,
			   *y = b;

	if (x->grouped != y->grouped)
		threshold_of_other_form(fcinfo, y);
	check_same_budget(fcinfo, x->budget, y->budget);
}

static void
threshold_merge(void *a, const void *b)
{
	clv_error	err;

	if (clv_offers_merge(&((threshold_state *) a)->offers,
						 &((const threshold_state *) b)->offers, &err) != CLV_OK)
		raise_limit(&err);
}

/*
 * The payload of the flat state: byte grouped, float8 budget, int64 count, then
 * count × (int64 customer, float8 gain, float8 cost).
 */
#define THRESHOLD_HEADER_BYTES (1 + 8 + 8)
#define OFFER_BYTES (8 + 8 + 8)

static void
threshold_send(StringInfo buf, const void *s)
{
	const threshold_state *state = s;

	clv_state_send_begin(buf, state->offers.n, OFFER_BYTES, THRESHOLD_HEADER_BYTES, "options");
	pq_sendbyte(buf, state->grouped ? 1 : 0);
	pq_sendfloat8(buf, state->budget);
	pq_sendint64(buf, (int64) state->offers.n);
	for (size_t i = 0; i < state->offers.n; i++)
	{
		pq_sendint64(buf, state->offers.v[i].customer);
		pq_sendfloat8(buf, state->offers.v[i].gain);
		pq_sendfloat8(buf, state->offers.v[i].cost);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

static void *
threshold_receive(StringInfo buf)
{
	threshold_state *state;
	uint8		grouped;
	double		budget;
	int64		n;
	clv_error	err;

	grouped = clv_state_byte(buf);
	budget = clv_state_float8(buf);
	n = clv_state_int64(buf);
	if (grouped > 1 || !isfinite(budget) || budget < 0)
		clv_invalid_state("The header is not one that rows can give.");
	if (n < 0 || (uint64) n != (uint64) (buf->len - buf->cursor) / OFFER_BYTES ||
		(buf->len - buf->cursor) % OFFER_BYTES != 0)
		clv_invalid_state("The option count does not match the length of the state.");

	/* in the current context: whoever keeps the state copies it */
	state = threshold_state_new(budget, grouped == 1);
	if (clv_offers_reserve(&state->offers, (size_t) n, &err) != CLV_OK)
		raise_limit(&err);
	for (int64 i = 0; i < n; i++)
	{
		int64		customer = clv_state_int64(buf);
		double		gain = clv_state_float8(buf),
					cost = clv_state_float8(buf);

		if (!isfinite(gain) || !isfinite(cost) || !(cost > 0) || (!grouped && customer != 0))
			clv_invalid_state("Option " INT64_FORMAT " is not one that rows can produce.", i + 1);
		/* cannot fail: the room is reserved */
		clv_offers_append(&state->offers, customer, gain, cost, &err);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return state;
}

const clv_state_family clv_threshold_family = {
	CLV_STATE_THRESHOLD, "clv_budget_threshold",
	{"clv_state_combine", threshold_new_like, threshold_check_same, threshold_merge},
	threshold_send, threshold_receive
};

PG_FUNCTION_INFO_V1(clv_budget_threshold_trans);
Datum
clv_budget_threshold_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_threshold_family, threshold_step);
}

static Datum
threshold_finish(FunctionCallInfo fcinfo, void *s)
{
	threshold_state *state = s;
	double		lambda,
				spend;
	clv_error	err;

	if (state == NULL)
		PG_RETURN_NULL();
	clv_check(clv_budget_threshold(&state->offers, state->grouped, state->budget,
								   &lambda, &spend, &err), &err);
	PG_RETURN_FLOAT8(lambda);
}

PG_FUNCTION_INFO_V1(clv_budget_threshold_final);
Datum
clv_budget_threshold_final(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_threshold_family, threshold_finish);
}
