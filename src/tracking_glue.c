/*
 * tracking_glue.c — clv_cumulative_expected_purchases, the aggregate behind a
 * tracking plot: a cohort's cumulative expected repeat purchases per period.
 *
 * Summed in plain SQL, the curve costs one expectation per customer and
 * period, each at a different age.  The state keeps instead the distinct
 * acquisition times with counts (combining exactly, like the fit
 * aggregates), and the final function evaluates each distinct time once per
 * period.
 */
#include "clv.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"

#define MAX_PERIODS 100000

typedef struct tracking_state
{
	bytea	   *model;			/* the purchase model, as given */
	int32		periods;
	double		period;			/* length of a period, in model units */
	clv_patterns acquired;		/* T = acquisition time, x = tx = 0 */
} tracking_state;

static const char *const fname = "clv_cumulative_expected_purchases";

pg_attribute_noreturn()
static void
not_constant(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s needs the same %s in every row", fname, what),
			 errhint("Group by the model, or compute one curve per model.")));
}

static void
check_settings(int32 periods, double period)
{
	if (periods < 1 || periods > MAX_PERIODS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("periods must be between 1 and %d", MAX_PERIODS)));
	if (!(period > 0) || !isfinite(period))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period must be positive and finite")));
}

/* The state's acquisition times (as T of patterns), within the memory limit. */
static void
acquired_init(clv_patterns *p)
{
	clv_patterns_init(p, clv_training_memory_bytes());
	p->noun = "acquisition times";
}

pg_attribute_noreturn()
static void
raise_limit(clv_error *err)
{
	clv_set_hint(err, "Raise clv.max_training_memory, or round the acquisition times to fewer distinct values.");
	clv_raise(err);
}

/*
 * (state, model, acquired, periods [, period]); a row with a NULL is skipped,
 * as by sum(): the state stays as it is (NULL before the first row without
 * one).
 */
static void *
tracking_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	tracking_state *s = prev;
	bytea	   *model;
	double		acquired,
				period;
	int32		periods;
	clv_error	err;
	clv_status	st;
	MemoryContext old;

	for (int i = 1; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i))
			return s;
	model = PG_GETARG_BYTEA_PP(1);
	acquired = clv_finite_arg(fcinfo, 2, "acquired");
	periods = PG_GETARG_INT32(3);
	period = PG_NARGS() > 4 ? clv_finite_arg(fcinfo, 4, "period") : 1;
	if (acquired < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("acquired must not be negative"),
				 errdetail("It is the time of the customer's first purchase, from the start of the first period.")));
	if (s == NULL)
	{
		check_settings(periods, period);
		/* fail early */
		clv_btyd_refuse_discrete(clv_btyd_model_of(clv_model_from_bytea(model), fname, false),
								 fname);
		old = MemoryContextSwitchTo(cxt);
		s = palloc0(sizeof(tracking_state));
		s->model = (bytea *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(1));
		s->periods = periods;
		s->period = period;
		acquired_init(&s->acquired);
		MemoryContextSwitchTo(old);
	}
	else
	{
		if (!clv_same_bytes(s->model, model))
			not_constant("model");
		if (s->periods != periods || s->period != period)
			not_constant("periods and period");
	}
	old = MemoryContextSwitchTo(cxt);
	st = clv_patterns_add(&s->acquired, 0, 0, acquired, 1, &err);
	MemoryContextSwitchTo(old);
	if (st != CLV_OK)
		raise_limit(&err);
	return s;
}

static void *
tracking_new_like(const void *b, MemoryContext cxt)
{
	const tracking_state *src = b;
	tracking_state *dst = palloc0(sizeof(tracking_state));

	dst->model = (bytea *) PG_DETOAST_DATUM_COPY(PointerGetDatum(src->model));
	dst->periods = src->periods;
	dst->period = src->period;
	acquired_init(&dst->acquired);
	return dst;
}

static void
tracking_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
	const tracking_state *sa = a,
			   *sb = b;

	if (!clv_same_bytes(sa->model, sb->model))
		not_constant("model");
	if (sa->periods != sb->periods || sa->period != sb->period)
		not_constant("periods and period");
}

static void
tracking_merge(void *a, const void *b)
{
	clv_error	err;

	if (clv_patterns_merge(&((tracking_state *) a)->acquired,
						   &((const tracking_state *) b)->acquired, &err) != CLV_OK)
		raise_limit(&err);
}

/* Compacting (sorting) the times changes their order, not the state's content. */
static void
tracking_send(StringInfo buf, const void *state)
{
	tracking_state *s = (tracking_state *) state;

	clv_patterns_compact(&s->acquired);
	clv_state_send_begin(buf, s->acquired.n, 2 * sizeof(double),
						 4 + VARSIZE_ANY_EXHDR(s->model) + 4 + 8 + 8, "acquisition times");
	pq_sendint32(buf, VARSIZE_ANY_EXHDR(s->model));
	clv_state_send_bytes(buf, VARDATA_ANY(s->model), VARSIZE_ANY_EXHDR(s->model));
	pq_sendint32(buf, s->periods);
	pq_sendfloat8(buf, s->period);
	pq_sendint64(buf, s->acquired.n);
	for (size_t i = 0; i < s->acquired.n; i++)
	{
		pq_sendfloat8(buf, s->acquired.v[i].T);
		pq_sendfloat8(buf, s->acquired.v[i].count);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

/* In the current context: whoever keeps the state copies what it keeps. */
static void *
tracking_receive(StringInfo buf)
{
	tracking_state *s;
	uint32		model_len;
	int64		n;
	clv_error	err;

	s = palloc0(sizeof(tracking_state));
	model_len = clv_state_uint32(buf);
	if (model_len > (uint32) (buf->len - buf->cursor))
		clv_invalid_state("The model is %u bytes long.", model_len);
	s->model = palloc(VARHDRSZ + model_len);
	SET_VARSIZE(s->model, VARHDRSZ + model_len);
	memcpy(VARDATA(s->model), clv_state_take(buf, model_len), model_len);
	s->periods = (int32) clv_state_uint32(buf);
	s->period = clv_state_float8(buf);
	if (s->periods < 1 || s->periods > MAX_PERIODS || !(s->period > 0) || !isfinite(s->period))
		clv_invalid_state("The state has %d periods of %g.", s->periods, s->period);
	n = clv_state_int64(buf);
	if (n < 0 || n > (buf->len - buf->cursor) / 16)
		clv_invalid_state("The count of acquisition times is " INT64_FORMAT ".", n);
	acquired_init(&s->acquired);
	for (int64 i = 0; i < n; i++)
	{
		double		T = clv_state_float8(buf);
		double		count = clv_state_float8(buf);

		if (!(count >= 1 && isfinite(count)) || !(T >= 0 && isfinite(T)))
			clv_invalid_state("Acquisition time " INT64_FORMAT " is not one that rows can produce.",
							  i + 1);
		clv_check(clv_patterns_add(&s->acquired, 0, 0, T, count, &err), &err);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return s;
}

const clv_state_family clv_tracking_family = {
	CLV_STATE_TRACKING, "clv_cumulative_expected_purchases",
	{"clv_tracking_combine", tracking_new_like, tracking_check_same, tracking_merge},
	tracking_send, tracking_receive
};

PG_FUNCTION_INFO_V1(clv_tracking_trans);
Datum
clv_tracking_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, tracking_step);
}

PG_FUNCTION_INFO_V1(clv_tracking_trans_v2);
Datum
clv_tracking_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_tracking_family, tracking_step);
}

PG_FUNCTION_INFO_V1(clv_tracking_combine);
Datum
clv_tracking_combine(PG_FUNCTION_ARGS)
{
	return clv_combine_states(fcinfo, &clv_tracking_family.combine);
}

PG_FUNCTION_INFO_V1(clv_tracking_serialize);
Datum
clv_tracking_serialize(PG_FUNCTION_ARGS)
{
	return clv_internal_serialize(fcinfo, &clv_tracking_family);
}

PG_FUNCTION_INFO_V1(clv_tracking_deserialize);
Datum
clv_tracking_deserialize(PG_FUNCTION_ARGS)
{
	return clv_internal_deserialize(fcinfo, &clv_tracking_family);
}

static Datum
tracking_finish(FunctionCallInfo fcinfo, void *state)
{
	tracking_state *s = state;
	clv_btyd_model kind;
	const clv_model *m;
	clv_patterns sorted;
	clv_error	err;
	double	   *curve;
	Datum	   *values;

	if (s == NULL)
		PG_RETURN_NULL();		/* no customers: no curve, like sum() */
	m = clv_model_from_bytea(s->model);
	kind = clv_btyd_model_of(m, fname, false);
	clv_btyd_refuse_discrete(kind, fname);
	/* sorted, so that every plan sums in the same order; the state stays as it was */
	clv_patterns_init(&sorted, 0);
	clv_check(clv_patterns_merge(&sorted, &s->acquired, &err), &err);
	clv_patterns_compact(&sorted);
	curve = palloc(sizeof(double) * s->periods);
	if (!clv_btyd_cumulative_expected(kind, m->params, &sorted, s->periods, s->period, curve))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the expected purchases of the cohort cannot be computed"),
				 errdetail("The Gauss hypergeometric function did not converge.")));
	clv_patterns_free(&sorted);
	values = palloc(sizeof(Datum) * s->periods);
	for (int w = 0; w < s->periods; w++)
		values[w] = Float8GetDatum(curve[w]);
	PG_RETURN_ARRAYTYPE_P(construct_array(values, s->periods, FLOAT8OID, sizeof(float8),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

PG_FUNCTION_INFO_V1(clv_tracking_final);
Datum
clv_tracking_final(PG_FUNCTION_ARGS)
{
	return clv_internal_final(fcinfo, tracking_finish);
}

PG_FUNCTION_INFO_V1(clv_tracking_final_v2);
Datum
clv_tracking_final_v2(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_tracking_family, tracking_finish);
}
