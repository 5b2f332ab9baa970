/*
 * summary_glue.c — clv_summary and clv_summary_holdout aggregates.
 *
 * Orders are mapped to periods of local time in the session time zone (like
 * date_trunc), counted from 2000-01-01 00:00: with the default one-day period
 * all orders of a calendar day merge into one purchase.  An order counts in
 * the calibration when its period is not after the period of as_of.
 */
#include "clv.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "pgtime.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "summary.h"

typedef struct summary_state
{
	/* arguments, fixed by the first row */
	TimestampTz as_of;
	TimestampTz observation_end;	/* holdout form only */
	int64		period_us;
	int64		unit_us;
	int64		as_of_period;
	int64		observation_period;
	bool		holdout;
	clv_summary_acc acc;
} summary_state;

/* ---- local time ---------------------------------------------------------- */

/*
 * Converting each order to local time through the time zone rules costs more
 * than the rest of the aggregate, so the UTC offset is cached for the span of
 * time around recent orders over which it is known not to change.
 */
typedef struct offset_span
{
	pg_time_t	lo;				/* offset valid on [lo, hi) */
	pg_time_t	hi;
	long		gmtoff;
} offset_span;

typedef struct tz_cache
{
	pg_tz	   *tz;
	offset_span span[2];		/* two spans: both sides of a DST change */
	int			victim;
} tz_cache;

static long
utc_offset(tz_cache *cache, TimestampTz ts)
{
	pg_time_t	t = timestamptz_to_time_t(ts);
	pg_time_t	boundary;
	long		before,
				after;
	int			before_dst,
				after_dst,
				found;
	offset_span *s;

	if (cache->tz != session_timezone)
	{
		memset(cache, 0, sizeof(*cache));
		cache->tz = session_timezone;
	}
	for (int i = 0; i < 2; i++)
	{
		s = &cache->span[i];
		if (s->hi != 0 && t >= s->lo && t < s->hi)
			return s->gmtoff;
	}

	found = pg_next_dst_boundary(&t, &before, &before_dst, &boundary,
								 &after, &after_dst, session_timezone);
	if (found < 0)
	{
		/* outside the zone's tables: ask the slow way, without caching */
		struct pg_tm tm;
		fsec_t		fsec;
		int			tz;

		if (timestamp2tm(ts, &tz, &tm, &fsec, NULL, session_timezone) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range")));
		return -tz;
	}
	if (found == 0)
		boundary = PG_INT64_MAX;

	/* the same span as a cached one seen from an earlier time: extend it */
	for (int i = 0; i < 2; i++)
	{
		s = &cache->span[i];
		if (s->hi == boundary && s->gmtoff == before && s->hi != 0)
		{
			s->lo = Min(s->lo, t);
			return before;
		}
	}
	s = &cache->span[cache->victim];
	cache->victim ^= 1;
	s->lo = t;
	s->hi = boundary;
	s->gmtoff = before;
	return before;
}

static inline int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64
period_of(tz_cache *cache, TimestampTz ts, int64 period_us)
{
	return floor_div(ts + (int64) utc_offset(cache, ts) * USECS_PER_SEC, period_us);
}

/* ---- arguments ------------------------------------------------------------- */

static TimestampTz
timestamp_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	TimestampTz ts;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	ts = PG_GETARG_TIMESTAMPTZ(argno);
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be finite", what)));
	return ts;
}

/* A fixed-length interval in microseconds: days count as 24 hours. */
static int64
interval_arg(FunctionCallInfo fcinfo, int argno, const char *what, int64 dflt)
{
	Interval   *iv;
	int64		us;

	if (PG_NARGS() <= argno)
		return dflt;
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	iv = PG_GETARG_INTERVAL_P(argno);
	if (iv->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not contain months or years", what),
				 errdetail("Months have no fixed length; use days or weeks.")));
	us = iv->time + (int64) iv->day * USECS_PER_DAY;
	if (us <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive", what)));
	return us;
}

static summary_state *
new_state(FunctionCallInfo fcinfo, bool holdout, tz_cache *cache)
{
	summary_state *s = palloc0(sizeof(summary_state));
	int			next = holdout ? 5 : 4;

	s->holdout = holdout;
	s->as_of = timestamp_arg(fcinfo, 3, holdout ? "calibration_end" : "as_of");
	if (holdout)
	{
		s->observation_end = timestamp_arg(fcinfo, 4, "observation_end");
		if (s->observation_end < s->as_of)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("observation_end must not be before calibration_end")));
	}
	s->period_us = interval_arg(fcinfo, next, "period", USECS_PER_DAY);
	s->unit_us = interval_arg(fcinfo, next + 1, "unit", s->period_us);
	s->as_of_period = period_of(cache, s->as_of, s->period_us);
	s->observation_period = holdout ? period_of(cache, s->observation_end, s->period_us)
		: s->as_of_period;
	clv_summary_init(&s->acc);
	return s;
}

/* ---- transition ------------------------------------------------------------ */

/* The arguments after ordered_at and amount must not change within a group. */
static void
check_same_arguments(FunctionCallInfo fcinfo, const summary_state *s)
{
	int			next = s->holdout ? 5 : 4;
	const char *what = NULL;

	if (timestamp_arg(fcinfo, 3, s->holdout ? "calibration_end" : "as_of") != s->as_of)
		what = s->holdout ? "calibration_end" : "as_of";
	else if (s->holdout && timestamp_arg(fcinfo, 4, "observation_end") != s->observation_end)
		what = "observation_end";
	else if (interval_arg(fcinfo, next, "period", USECS_PER_DAY) != s->period_us)
		what = "period";
	else if (interval_arg(fcinfo, next + 1, "unit", s->period_us) != s->unit_us)
		what = "unit";
	if (what)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be the same for every row of a group", what)));
}

static Datum
summary_trans(FunctionCallInfo fcinfo, bool holdout)
{
	MemoryContext cxt = clv_agg_context(fcinfo, "clv_summary_trans");
	summary_state *state = PG_ARGISNULL(0) ? NULL : (summary_state *) PG_GETARG_POINTER(0);
	tz_cache   *cache = fcinfo->flinfo->fn_extra;
	TimestampTz ts = timestamp_arg(fcinfo, 1, "ordered_at");
	double		amount = clv_finite_arg(fcinfo, 2, "amount");
	int64		period;
	MemoryContext old;

	if (cache == NULL)
		cache = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(tz_cache));
	old = MemoryContextSwitchTo(cxt);
	if (state == NULL)
		state = new_state(fcinfo, holdout, cache);
	else
		check_same_arguments(fcinfo, state);

	period = period_of(cache, ts, state->period_us);
	if (period <= state->as_of_period)
		clv_summary_add(&state->acc, period, ts, amount);
	else if (period <= state->observation_period)
		clv_summary_add_holdout(&state->acc, period, amount);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(clv_summary_trans);
Datum
clv_summary_trans(PG_FUNCTION_ARGS)
{
	return summary_trans(fcinfo, false);
}

PG_FUNCTION_INFO_V1(clv_summary_holdout_trans);
Datum
clv_summary_holdout_trans(PG_FUNCTION_ARGS)
{
	return summary_trans(fcinfo, true);
}

/* ---- combine, serialize, deserialize -------------------------------------- */

static bool
same_arguments(const summary_state *a, const summary_state *b)
{
	return a->as_of == b->as_of && a->observation_end == b->observation_end &&
		a->period_us == b->period_us && a->unit_us == b->unit_us &&
		a->holdout == b->holdout;
}

PG_FUNCTION_INFO_V1(clv_summary_combine);
Datum
clv_summary_combine(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = clv_agg_context(fcinfo, "clv_summary_combine");
	summary_state *a = PG_ARGISNULL(0) ? NULL : (summary_state *) PG_GETARG_POINTER(0);
	summary_state *b = PG_ARGISNULL(1) ? NULL : (summary_state *) PG_GETARG_POINTER(1);
	MemoryContext old;

	if (b == NULL)
		PG_RETURN_POINTER(a);
	old = MemoryContextSwitchTo(cxt);
	if (a == NULL)
	{
		a = palloc(sizeof(summary_state));
		*a = *b;
		clv_summary_init(&a->acc);
	}
	else if (!same_arguments(a, b))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of, observation_end, period and unit must be the same for every row of a group")));
	clv_summary_merge(&a->acc, &b->acc);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(a);
}

static void
send_sum(StringInfo buf, clv_sum s)
{
	pq_sendfloat8(buf, s.hi);
	pq_sendfloat8(buf, s.lo);
}

static clv_sum
get_sum(StringInfo buf)
{
	clv_sum		s;

	s.hi = clv_state_float8(buf);
	s.lo = clv_state_float8(buf);
	return s;
}

static void
send_periods(StringInfo buf, const clv_period_set *set)
{
	const int64 *v = clv_period_set_values(set);

	pq_sendint32(buf, set->n);
	for (uint32 i = 0; i < set->n; i++)
		pq_sendint64(buf, v[i]);
}

static void
get_periods(StringInfo buf, clv_period_set *set)
{
	uint32		n = clv_state_uint32(buf);

	if ((uint64) n * 8 > (uint64) (buf->len - buf->cursor))
		clv_invalid_state("The period count is %u.", n);
	for (uint32 i = 0; i < n; i++)
		clv_period_set_add(set, clv_state_int64(buf));
}

PG_FUNCTION_INFO_V1(clv_summary_serialize);
Datum
clv_summary_serialize(PG_FUNCTION_ARGS)
{
	summary_state *s = (summary_state *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	clv_agg_context(fcinfo, "clv_summary_serialize");
	/* the fields below: 11 of 8 bytes, 3 sums of 16, a byte, 2 counts of 4 */
	clv_state_send_begin(&buf, s->acc.periods.n + s->acc.holdout_periods.n, 8,
						 11 * 8 + 3 * 16 + 1 + 2 * 4, "purchase periods");
	pq_sendint64(&buf, s->as_of);
	pq_sendint64(&buf, s->observation_end);
	pq_sendint64(&buf, s->period_us);
	pq_sendint64(&buf, s->unit_us);
	pq_sendint64(&buf, s->as_of_period);
	pq_sendint64(&buf, s->observation_period);
	pq_sendbyte(&buf, s->holdout);
	pq_sendint64(&buf, s->acc.orders);
	send_sum(&buf, s->acc.revenue);
	pq_sendint64(&buf, s->acc.first_time);
	pq_sendint64(&buf, s->acc.last_time);
	pq_sendint64(&buf, s->acc.first_period);
	send_sum(&buf, s->acc.first_period_revenue);
	send_periods(&buf, &s->acc.periods);
	pq_sendint64(&buf, s->acc.holdout_orders);
	send_sum(&buf, s->acc.holdout_revenue);
	send_periods(&buf, &s->acc.holdout_periods);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(clv_summary_deserialize);
Datum
clv_summary_deserialize(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	summary_state *s;

	/* in the current context: the combine function copies what it keeps */
	clv_agg_context(fcinfo, "clv_summary_deserialize");
	clv_state_reader(PG_GETARG_BYTEA_PP(0), &buf);

	s = palloc0(sizeof(summary_state));
	s->as_of = clv_state_int64(&buf);
	s->observation_end = clv_state_int64(&buf);
	s->period_us = clv_state_int64(&buf);
	s->unit_us = clv_state_int64(&buf);
	s->as_of_period = clv_state_int64(&buf);
	s->observation_period = clv_state_int64(&buf);
	s->holdout = clv_state_byte(&buf) != 0;
	if (s->period_us <= 0 || s->unit_us <= 0)
		clv_invalid_state("The period is " INT64_FORMAT " and the unit " INT64_FORMAT " microseconds.",
						  s->period_us, s->unit_us);
	clv_summary_init(&s->acc);
	s->acc.orders = clv_state_int64(&buf);
	s->acc.revenue = get_sum(&buf);
	s->acc.first_time = clv_state_int64(&buf);
	s->acc.last_time = clv_state_int64(&buf);
	s->acc.first_period = clv_state_int64(&buf);
	s->acc.first_period_revenue = get_sum(&buf);
	get_periods(&buf, &s->acc.periods);
	s->acc.holdout_orders = clv_state_int64(&buf);
	s->acc.holdout_revenue = get_sum(&buf);
	get_periods(&buf, &s->acc.holdout_periods);
	clv_state_end(&buf);
	if ((s->acc.orders > 0) != (s->acc.periods.n > 0) ||
		(s->acc.holdout_orders > 0) != (s->acc.holdout_periods.n > 0))
		clv_invalid_state("The order counts disagree with the period counts.");
	PG_RETURN_POINTER(s);
}

/* ---- final ----------------------------------------------------------------- */

/* A number of periods in units: one division, so whole units come out exact. */
static double
in_units(const summary_state *s, int64 periods)
{
	return (double) (periods * s->period_us) / (double) s->unit_us;
}

static Datum
summary_final(FunctionCallInfo fcinfo, int natts)
{
	summary_state *s = PG_ARGISNULL(0) ? NULL : (summary_state *) PG_GETARG_POINTER(0);
	TupleDesc	desc = fcinfo->flinfo->fn_extra;
	clv_summary_result r;
	Datum		values[14];
	bool		nulls[14] = {0};

	clv_agg_context(fcinfo, "clv_summary_final");
	if (s == NULL || !clv_summary_result_of(&s->acc, &r))
		PG_RETURN_NULL();

	/* the row type is looked up once per query, not once per customer */
	if (desc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "clv_summary must return a composite type");
		desc = BlessTupleDesc(CreateTupleDescCopy(desc));
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = desc;
	}
	if (desc->natts != natts)
		elog(ERROR, "clv_summary result type has %d columns, expected %d", desc->natts, natts);

	values[0] = Int32GetDatum((int32) Min(r.frequency, PG_INT32_MAX));
	values[1] = Float8GetDatum(in_units(s, r.recency_periods));
	values[2] = Float8GetDatum(in_units(s, s->as_of_period - r.first_period));
	values[3] = Float8GetDatum(r.monetary);
	values[4] = Int64GetDatum(r.orders);
	values[5] = Float8GetDatum(r.revenue);
	values[6] = TimestampTzGetDatum(r.first_time);
	values[7] = TimestampTzGetDatum(r.last_time);
	values[8] = Float8GetDatum((double) ((s->as_of_period - r.last_period) * s->period_us) /
							   USECS_PER_DAY);
	if (natts > 9)
	{
		values[9] = Int32GetDatum((int32) Min(r.holdout_frequency, PG_INT32_MAX));
		values[10] = Float8GetDatum(r.holdout_monetary);
		values[11] = Int64GetDatum(r.holdout_orders);
		values[12] = Float8GetDatum(r.holdout_revenue);
		values[13] = Float8GetDatum(in_units(s, s->observation_period - s->as_of_period));
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

PG_FUNCTION_INFO_V1(clv_summary_final);
Datum
clv_summary_final(PG_FUNCTION_ARGS)
{
	return summary_final(fcinfo, 9);
}

PG_FUNCTION_INFO_V1(clv_summary_holdout_final);
Datum
clv_summary_holdout_final(PG_FUNCTION_ARGS)
{
	return summary_final(fcinfo, 14);
}
