/*
 * monitor_glue.c — monitoring aggregates: clv_psi, the population stability
 * index of a score against its reference distribution, and clv_calibration,
 * the data of a calibration plot.
 *
 * Both need every row sorted, so they keep (key, value) pairs bounded by
 * clv.max_training_memory, as clv_auc does: (value, 1 or 0 for a reference
 * or a current row) for clv_psi, (predicted, actual) for clv_calibration.
 * The final functions work on sorted copies (monitor.c), so a state is never
 * changed by them and the aggregates run as window functions too.
 *
 * A row with a NULL value or flag (a NULL predicted or actual) is skipped;
 * no rows, or no reference or no current row for clv_psi, give NULL, as an
 * AUC of one class does.  NaN and ±Infinity are errors: a quantile bin or a
 * mean has no place for them.
 */
#include "clv.h"

#include "common/shortest_dec.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "monitor.h"

#define DEFAULT_BINS 10

/* Which aggregate a state belongs to; also written in the serialized form. */
typedef enum monitor_kind
{
	MONITOR_PSI = 1,			/* (value, 1 for a reference row, 0 for a current one) */
	MONITOR_CALIBRATION = 2		/* (predicted, actual) */
} monitor_kind;

typedef struct monitor_state
{
	monitor_kind kind;
	int32		bins;
	clv_pairs	pairs;
} monitor_state;

/* Serialized: int32 kind, int32 bins, then the pairs (clv_state_send_pairs). */
#define MONITOR_HEADER_BYTES (4 + 4)

static const char *
kind_name(monitor_kind kind)
{
	return kind == MONITOR_PSI ? "clv_psi" : "clv_calibration";
}

/* A new, empty state in the current memory context. */
static monitor_state *
monitor_state_new(monitor_kind kind, int32 bins)
{
	monitor_state *state = palloc0(sizeof(monitor_state));

	state->kind = kind;
	state->bins = bins;
	clv_pairs_init(&state->pairs, clv_training_memory_bytes());
	return state;
}

static bool
bins_valid(int32 bins)
{
	return bins >= CLV_MONITOR_MIN_BINS && bins <= CLV_MONITOR_MAX_BINS;
}

/* The bins argument (argno), or the default when the aggregate has none. */
static int32
bins_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		bins;

	if (PG_NARGS() <= argno)
		return DEFAULT_BINS;
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("bins must not be NULL")));
	bins = PG_GETARG_INT32(argno);
	if (!bins_valid(bins))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins must be between %d and %d", CLV_MONITOR_MIN_BINS,
						CLV_MONITOR_MAX_BINS),
				 errdetail("bins is %d.", bins)));
	return bins;
}

/* Errors unless state, when there is one, comes from kind with the same bins. */
static void
check_same(FunctionCallInfo fcinfo, const monitor_state *state, monitor_kind kind, int32 bins)
{
	if (state->kind != kind)
		clv_state_of_other_aggregate(fcinfo, kind_name(state->kind));
	if (state->bins != bins)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins must be the same in every row of a %s group", kind_name(kind)),
				 errdetail("A row has bins = %d, an earlier one bins = %d.", bins, state->bins),
				 errhint("Pass bins as a constant, or group by it.")));
}

/*
 * One row of either aggregate: arguments state, key, value [, bins].  bins is
 * checked on every row, even one that is skipped for a NULL.
 */
static void *
monitor_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt, monitor_kind kind,
			 const char *key_name, const char *value_name)
{
	monitor_state *state = prev;
	int32		bins = bins_arg(fcinfo, 3);
	double		key,
				value;
	MemoryContext old;
	clv_error	err;
	clv_status	st;

	if (state != NULL)
		check_same(fcinfo, state, kind, bins);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return prev;
	key = clv_finite_arg(fcinfo, 1, key_name);
	if (kind == MONITOR_PSI)
		value = PG_GETARG_BOOL(2) ? 1.0 : 0.0;
	else
		value = clv_finite_arg(fcinfo, 2, value_name);

	old = MemoryContextSwitchTo(cxt);
	if (state == NULL)
		state = monitor_state_new(kind, bins);
	st = clv_pairs_append(&state->pairs, key, value, &err);
	MemoryContextSwitchTo(old);
	if (st != CLV_OK)
		clv_raise_evaluation_limit(&err);
	return state;
}

static void *
psi_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return monitor_step(fcinfo, prev, cxt, MONITOR_PSI, "value", "is_reference");
}

static void *
calibration_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return monitor_step(fcinfo, prev, cxt, MONITOR_CALIBRATION, "predicted", "actual");
}

/* ---- combine, and the flat state ------------------------------------------ */

static void *
monitor_new_like(const void *b, MemoryContext cxt)
{
	const monitor_state *s = b;

	return monitor_state_new(s->kind, s->bins);
}

static void
monitor_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
	const monitor_state *sb = b;

	check_same(fcinfo, a, sb->kind, sb->bins);
}

static void
monitor_merge(void *a, const void *b)
{
	clv_state_merge_pairs(&((monitor_state *) a)->pairs, &((const monitor_state *) b)->pairs);
}

static void
monitor_send(StringInfo buf, const void *s)
{
	const monitor_state *state = s;

	clv_state_send_begin(buf, state->pairs.n, CLV_PAIR_BYTES,
						 MONITOR_HEADER_BYTES + CLV_PAIRS_HEADER_BYTES, "rows");
	pq_sendint32(buf, (int32) state->kind);
	pq_sendint32(buf, state->bins);
	clv_state_send_pairs(buf, &state->pairs);
}

/* A pair that rows of the aggregate (a monitor_kind) can produce. */
static bool
monitor_pair_valid(double key, double value, const void *kind)
{
	return isfinite(key) &&
		(*(const monitor_kind *) kind == MONITOR_PSI ? (value == 0 || value == 1) : isfinite(value));
}

static void *
monitor_receive(StringInfo buf)
{
	monitor_state *state;
	uint32		kind = clv_state_uint32(buf);
	int32		bins = (int32) clv_state_uint32(buf);

	if (kind != MONITOR_PSI && kind != MONITOR_CALIBRATION)
		clv_invalid_state("The aggregate number is %u.", kind);
	if (!bins_valid(bins))
		clv_invalid_state("The state has %d bins.", bins);
	/* the current context, as for the ranking states: whoever keeps it copies it */
	state = monitor_state_new((monitor_kind) kind, bins);
	clv_state_receive_pairs(buf, &state->pairs, monitor_pair_valid, &state->kind);
	return state;
}

const clv_state_family clv_monitor_family = {
	CLV_STATE_MONITOR, "clv_psi or clv_calibration",
	{"clv_state_combine", monitor_new_like, monitor_check_same, monitor_merge},
	monitor_send, monitor_receive
};

/* ---- clv_psi ---------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(clv_psi_trans);
Datum
clv_psi_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_monitor_family, psi_step);
}

/* The state of a final function of kind, or NULL after no rows. */
static monitor_state *
final_state(FunctionCallInfo fcinfo, void *s, monitor_kind kind)
{
	monitor_state *state = s;

	if (state != NULL && state->kind != kind)
		clv_state_of_other_aggregate(fcinfo, kind_name(state->kind));
	return state;
}

static Datum
psi_finish(FunctionCallInfo fcinfo, void *s)
{
	monitor_state *state = final_state(fcinfo, s, MONITOR_PSI);
	double		psi;

	/* no reference or no current rows: nothing to compare */
	if (state == NULL || !clv_psi(&state->pairs, state->bins, &psi, NULL))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(psi);
}

PG_FUNCTION_INFO_V1(clv_psi_final);
Datum
clv_psi_final(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_monitor_family, psi_finish);
}

/* ---- clv_calibration -------------------------------------------------------- */

PG_FUNCTION_INFO_V1(clv_calibration_trans);
Datum
clv_calibration_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_monitor_family, calibration_step);
}

/*
 * "key": v, a finite double in its shortest exact form whatever
 * extra_float_digits says; overflowed sums are an error.
 */
static void
json_finite(StringInfo buf, const char *key, double v)
{
	char		digits[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (!isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range: overflow"),
				 errdetail("The sums of predicted or actual, or their differences, exceed the range of double precision.")));
	double_to_shortest_decimal_buf(v, digits);
	clv_json_key(buf, key);
	appendStringInfoString(buf, digits);
}

static void
json_count(StringInfo buf, const char *key, size_t n)
{
	clv_json_key(buf, key);
	appendStringInfo(buf, "%zu", n);
}

static Datum
calibration_finish(FunctionCallInfo fcinfo, void *s)
{
	monitor_state *state = final_state(fcinfo, s, MONITOR_CALIBRATION);
	clv_calibration c;
	StringInfoData buf;

	if (state == NULL || !clv_calibration_of(&state->pairs, state->bins, &c))
		PG_RETURN_NULL();
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	json_count(&buf, "n", c.n);
	json_finite(&buf, "mean_predicted", c.mean_predicted);
	json_finite(&buf, "mean_actual", c.mean_actual);
	json_finite(&buf, "ece", c.ece);
	json_finite(&buf, "mce", c.mce);
	clv_json_key(&buf, "bins");
	appendStringInfoChar(&buf, '[');
	for (int b = 0; b < c.n_bins; b++)
	{
		const clv_calibration_bin *bin = &c.bins[b];
		StringInfoData item;

		/* clv_json_key separates keys by what the buffer holds: one per object */
		initStringInfo(&item);
		appendStringInfoChar(&item, '{');
		json_count(&item, "bin", (size_t) b + 1);
		json_count(&item, "n", bin->n);
		json_finite(&item, "mean_predicted", bin->mean_predicted);
		json_finite(&item, "mean_actual", bin->mean_actual);
		json_finite(&item, "min_predicted", bin->min_predicted);
		json_finite(&item, "max_predicted", bin->max_predicted);
		appendStringInfo(&buf, "%s%s}", b > 0 ? ", " : "", item.data);
		pfree(item.data);
	}
	appendStringInfoString(&buf, "]}");
	clv_release(c.bins);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

PG_FUNCTION_INFO_V1(clv_calibration_final);
Datum
clv_calibration_final(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_monitor_family, calibration_finish);
}
