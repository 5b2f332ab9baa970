/*
 * summary_glue.c — clv_summary and clv_summary_holdout aggregates.
 *
 * Orders are mapped to periods of local time in the session time zone (like
 * date_trunc).  A period is either a fixed length of local clock time, counted
 * from an origin (by default Monday 2000-01-03 00:00, so that seven-day
 * periods are ISO weeks), or a whole number of calendar months, counted from
 * January 2000 (so that three months are calendar quarters) or from the month
 * of the origin.  An order counts in the calibration when it is not after
 * as_of (calibration_end), in the holdout when it is after that and not after
 * observation_end: the boundary is a time, not a period.
 */
#include "clv.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "pgtime.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "summary.h"

/* A period or a unit (see clv_interval_span) */
typedef clv_span span;

/* Monday 2000-01-03 00:00 local time, in microseconds from 2000-01-01 00:00 */
#define DEFAULT_ORIGIN_LOCAL	(2 * USECS_PER_DAY)
/* January 2000, as a month number (year * 12 + month - 1) */
#define DEFAULT_ORIGIN_MONTH	(2000 * 12)

typedef struct summary_state
{
	/* arguments, fixed by the first row */
	TimestampTz as_of;
	TimestampTz observation_end;	/* as_of in the plain form */
	TimestampTz origin;			/* DT_NOBEGIN when not given */
	span		period;
	span		unit;
	/* derived from them in the session time zone */
	int64		origin_local;	/* local microseconds, or a month number */
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

#define ARGUMENT_TIMES 3

typedef struct tz_cache
{
	pg_tz	   *tz;
	offset_span span[2];		/* two spans: both sides of a DST change */
	int			victim;
	/*
	 * as_of, observation_end and origin are the same for every group: their
	 * local times are kept, so that starting a group costs no time zone lookup
	 * and does not evict the spans of the orders
	 */
	int			n_arguments;
	TimestampTz argument[ARGUMENT_TIMES];
	int64		argument_local[ARGUMENT_TIMES];
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

static inline int64
local_time(tz_cache *cache, TimestampTz ts)
{
	return ts + (int64) utc_offset(cache, ts) * USECS_PER_SEC;
}

static int64
argument_local_time(tz_cache *cache, TimestampTz ts)
{
	int64		local;

	if (cache->tz == session_timezone)
		for (int i = 0; i < cache->n_arguments; i++)
			if (cache->argument[i] == ts)
				return cache->argument_local[i];
	local = local_time(cache, ts);	/* resets the cache on a new time zone */
	if (cache->n_arguments < ARGUMENT_TIMES)
	{
		cache->argument[cache->n_arguments] = ts;
		cache->argument_local[cache->n_arguments++] = local;
	}
	return local;
}

/* The month number (year * 12 + month - 1) of a local time. */
static inline int64
month_of(int64 local)
{
	int			year,
				month,
				day;

	j2date((int) (floor_div(local, USECS_PER_DAY) + POSTGRES_EPOCH_JDATE),
		   &year, &month, &day);
	return (int64) year * 12 + month - 1;
}

static pg_noinline void
period_out_of_range(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("timestamp out of range for the summary's periods")));
}

/*
 * The period of an order.  The local time was computed anyway; a calendar
 * month costs one Julian-day conversion more.
 */
static inline int64
period_of_local(const summary_state *s, int64 local)
{
	int64		from_origin;

	if (s->period.months != 0)
		return floor_div(month_of(local) - s->origin_local, s->period.months);
	if (unlikely(pg_sub_s64_overflow(local, s->origin_local, &from_origin)))
		period_out_of_range();
	return floor_div(from_origin, s->period.us);
}

static inline int64
period_of(const summary_state *s, tz_cache *cache, TimestampTz ts)
{
	return period_of_local(s, local_time(cache, ts));
}

/*
 * The local date on which a period in months starts, in days from 2000-01-01.
 * A long period can start before the earliest date that date2j handles, but
 * the calendar repeats every 400 years (146,097 days): take the year from
 * 2000 to 2399 with the same place in the cycle.
 */
static int64
month_period_start(const summary_state *s, int64 period)
{
	int64		month = s->origin_local + period * s->period.months;
	int64		year = floor_div(month, 12);
	int64		cycles = floor_div(year, 400);

	return date2j((int) (year - cycles * 400) + 2000, (int) (month - year * 12) + 1, 1) -
		POSTGRES_EPOCH_JDATE + (cycles - 5) * 146097;
}

/*
 * (to − from) × m / b, with one division, so that a whole result is exact;
 * in floating point when the product does not fit 64 bits, which takes a
 * span of about 300,000 years in microseconds.
 */
static double
scaled_span(int64 from, int64 to, int64 m, int64 b)
{
	int64		n,
				product;

	if (!pg_sub_s64_overflow(to, from, &n) && !pg_mul_s64_overflow(n, m, &product))
		return (double) product / (double) b;
	return ((double) to - (double) from) * ((double) m / (double) b);
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

/* A period or unit argument, or dflt when the call has no such argument. */
static span
span_arg(FunctionCallInfo fcinfo, int argno, const char *what, span dflt)
{
	if (PG_NARGS() <= argno)
		return dflt;
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	return clv_interval_span(PG_GETARG_INTERVAL_P(argno), what);
}

/*
 * A period or unit: whole months (a year is 12), or days and time (a day
 * counting as 24 hours), never both.
 */
clv_span
clv_interval_span(const Interval *iv, const char *what)
{
	span		sp = {0, 0};

	if (iv->month != 0 && (iv->day != 0 || iv->time != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not combine months with days or time", what),
				 errdetail("Months have no fixed length, and neither has a number of months plus days or time."),
				 errhint("Use whole months or years, such as '1 month' or '3 months', or days and time, such as '7 days'.")));
	if (iv->month != 0)
		sp.months = iv->month;
	if (sp.months > CLV_MAX_SPAN_MONTHS ||
		pg_mul_s64_overflow(iv->day, USECS_PER_DAY, &sp.us) ||
		pg_add_s64_overflow(sp.us, iv->time, &sp.us))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", what)));
	if (sp.months < 0 || sp.us < 0 || (sp.months == 0 && sp.us == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive", what)));
	return sp;
}

static inline bool
same_span(span a, span b)
{
	return a.months == b.months && a.us == b.us;
}

static void
set_origin(summary_state *s, FunctionCallInfo fcinfo, int argno, tz_cache *cache)
{
	int64		local;
	int			year,
				month,
				day;

	if (PG_NARGS() <= argno)
	{
		s->origin = DT_NOBEGIN;
		s->origin_local = s->period.months ? DEFAULT_ORIGIN_MONTH : DEFAULT_ORIGIN_LOCAL;
		return;
	}
	s->origin = timestamp_arg(fcinfo, argno, "origin");
	local = argument_local_time(cache, s->origin);
	if (s->period.months == 0)
	{
		/* reduced, so that an order's distance from it cannot overflow */
		s->origin_local = local - floor_div(local, s->period.us) * s->period.us;
		return;
	}
	j2date((int) (floor_div(local, USECS_PER_DAY) + POSTGRES_EPOCH_JDATE),
		   &year, &month, &day);
	if (day != 1 || local != floor_div(local, USECS_PER_DAY) * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("origin must be the start of a month when period is in months"),
				 errdetail("Periods of months start at midnight on the first day of a month, in the session time zone.")));
	s->origin_local = month_of(local);
}

static summary_state *
new_state(FunctionCallInfo fcinfo, bool holdout, tz_cache *cache)
{
	summary_state *s = palloc0(sizeof(summary_state));
	int			next = holdout ? 5 : 4;
	span		one_day = {0, USECS_PER_DAY};

	s->holdout = holdout;
	s->as_of = timestamp_arg(fcinfo, 3, holdout ? "calibration_end" : "as_of");
	s->observation_end = s->as_of;
	if (holdout)
	{
		s->observation_end = timestamp_arg(fcinfo, 4, "observation_end");
		if (s->observation_end < s->as_of)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("observation_end must not be before calibration_end")));
	}
	s->period = span_arg(fcinfo, next, "period", one_day);
	s->unit = span_arg(fcinfo, next + 1, "unit", s->period);
	if (s->unit.months != 0 && s->period.months == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unit must not be in months when period is not"),
				 errdetail("Periods of fixed length are not a whole number of months apart."),
				 errhint("Use a period in months, or a unit of fixed length such as '30.436875 days', the mean Gregorian month.")));
	set_origin(s, fcinfo, next + 2, cache);
	s->as_of_period = period_of_local(s, argument_local_time(cache, s->as_of));
	s->observation_period = period_of_local(s, argument_local_time(cache, s->observation_end));
	clv_summary_init(&s->acc);
	return s;
}

/* ---- transition ------------------------------------------------------------ */

/*
 * The arguments after ordered_at and amount must not change within a group.
 * They are compared as given, without time zone conversions.
 */
static void
check_same_arguments(FunctionCallInfo fcinfo, const summary_state *s)
{
	int			next = s->holdout ? 5 : 4;
	span		one_day = {0, USECS_PER_DAY};
	const char *what = NULL;

	if (timestamp_arg(fcinfo, 3, s->holdout ? "calibration_end" : "as_of") != s->as_of)
		what = s->holdout ? "calibration_end" : "as_of";
	else if (s->holdout && timestamp_arg(fcinfo, 4, "observation_end") != s->observation_end)
		what = "observation_end";
	else if (!same_span(span_arg(fcinfo, next, "period", one_day), s->period))
		what = "period";
	else if (!same_span(span_arg(fcinfo, next + 1, "unit", s->period), s->unit))
		what = "unit";
	else if (PG_NARGS() > next + 2 && timestamp_arg(fcinfo, next + 2, "origin") != s->origin)
		what = "origin";
	if (what)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be the same for every row of a group", what)));
}

static void *
summary_trans(FunctionCallInfo fcinfo, summary_state *state, MemoryContext cxt, bool holdout)
{
	tz_cache   *cache = fcinfo->flinfo->fn_extra;
	TimestampTz ts = timestamp_arg(fcinfo, 1, "ordered_at");
	double		amount = clv_finite_arg(fcinfo, 2, "amount");
	MemoryContext old;

	if (cache == NULL)
		cache = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(tz_cache));
	old = MemoryContextSwitchTo(cxt);
	if (state == NULL)
		state = new_state(fcinfo, holdout, cache);
	else if (state->holdout != holdout)
		clv_state_of_other_aggregate(fcinfo, state->holdout ? "clv_summary_holdout" : "clv_summary");
	else
		check_same_arguments(fcinfo, state);

	/* the boundaries are times: a period that straddles one is split */
	if (ts <= state->as_of)
		clv_summary_add(&state->acc, period_of(state, cache, ts), ts, amount);
	else if (ts <= state->observation_end)
		clv_summary_add_holdout(&state->acc, period_of(state, cache, ts), amount);
	MemoryContextSwitchTo(old);
	return state;
}

static void *
summary_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return summary_trans(fcinfo, prev, cxt, false);
}

static void *
summary_holdout_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return summary_trans(fcinfo, prev, cxt, true);
}

/* ---- combine, serialize, deserialize -------------------------------------- */

static bool
same_arguments(const summary_state *a, const summary_state *b)
{
	return a->as_of == b->as_of && a->observation_end == b->observation_end &&
		same_span(a->period, b->period) && same_span(a->unit, b->unit) &&
		a->origin == b->origin && a->origin_local == b->origin_local &&
		a->holdout == b->holdout;
}

static void *
summary_new_like(const void *b, MemoryContext cxt)
{
	summary_state *dst = palloc(sizeof(summary_state));

	*dst = *(const summary_state *) b;	/* the arguments; the counts start empty */
	clv_summary_init(&dst->acc);
	return dst;
}

static void
summary_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
	if (!same_arguments(a, b))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of, observation_end, period, unit and origin must be the same for every row of a group")));
}

static void
summary_merge(void *a, const void *b)
{
	clv_summary_merge(&((summary_state *) a)->acc, &((const summary_state *) b)->acc);
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

static void
summary_send(StringInfo buf, const void *state)
{
	const summary_state *s = state;

	/* the fields below: 11 of 8 bytes, 3 sums of 16, a byte, 2 counts of 4 */
	clv_state_send_begin(buf, s->acc.periods.n + s->acc.holdout_periods.n, 8,
						 11 * 8 + 3 * 16 + 1 + 2 * 4, "purchase periods");
	pq_sendint64(buf, s->as_of);
	pq_sendint64(buf, s->observation_end);
	pq_sendint64(buf, s->origin);
	pq_sendint64(buf, s->period.months);
	pq_sendint64(buf, s->period.us);
	pq_sendint64(buf, s->unit.months);
	pq_sendint64(buf, s->unit.us);
	pq_sendint64(buf, s->origin_local);
	pq_sendint64(buf, s->as_of_period);
	pq_sendint64(buf, s->observation_period);
	pq_sendbyte(buf, s->holdout);
	pq_sendint64(buf, s->acc.orders);
	send_sum(buf, s->acc.revenue);
	pq_sendint64(buf, s->acc.first_time);
	pq_sendint64(buf, s->acc.last_time);
	pq_sendint64(buf, s->acc.first_period);
	send_sum(buf, s->acc.first_period_revenue);
	send_periods(buf, &s->acc.periods);
	pq_sendint64(buf, s->acc.holdout_orders);
	send_sum(buf, s->acc.holdout_revenue);
	send_periods(buf, &s->acc.holdout_periods);
}

static bool
valid_span(span sp)
{
	return sp.months >= 0 && sp.us >= 0 && (sp.months == 0) != (sp.us == 0) &&
		sp.months <= CLV_MAX_SPAN_MONTHS;
}

/* In the current context: whoever keeps the state copies what it keeps. */
static void *
summary_receive(StringInfo buf)
{
	summary_state *s;

	s = palloc0(sizeof(summary_state));
	s->as_of = clv_state_int64(buf);
	s->observation_end = clv_state_int64(buf);
	s->origin = clv_state_int64(buf);
	s->period.months = clv_state_int64(buf);
	s->period.us = clv_state_int64(buf);
	s->unit.months = clv_state_int64(buf);
	s->unit.us = clv_state_int64(buf);
	s->origin_local = clv_state_int64(buf);
	s->as_of_period = clv_state_int64(buf);
	s->observation_period = clv_state_int64(buf);
	s->holdout = clv_state_byte(buf) != 0;
	if (!valid_span(s->period) || !valid_span(s->unit) ||
		(s->unit.months != 0 && s->period.months == 0) ||
		s->as_of_period > s->observation_period)
		clv_invalid_state("The period, the unit or the boundaries are not valid.");
	clv_summary_init(&s->acc);
	s->acc.orders = clv_state_int64(buf);
	s->acc.revenue = get_sum(buf);
	s->acc.first_time = clv_state_int64(buf);
	s->acc.last_time = clv_state_int64(buf);
	s->acc.first_period = clv_state_int64(buf);
	s->acc.first_period_revenue = get_sum(buf);
	get_periods(buf, &s->acc.periods);
	s->acc.holdout_orders = clv_state_int64(buf);
	s->acc.holdout_revenue = get_sum(buf);
	get_periods(buf, &s->acc.holdout_periods);
	if ((s->acc.orders > 0) != (s->acc.periods.n > 0) ||
		(s->acc.holdout_orders > 0) != (s->acc.holdout_periods.n > 0))
		clv_invalid_state("The order counts disagree with the period counts.");
	return s;
}

const clv_state_family clv_summary_family = {
	CLV_STATE_SUMMARY, "clv_summary or clv_summary_holdout",
	{"clv_summary_combine", summary_new_like, summary_check_same, summary_merge},
	summary_send, summary_receive
};

PG_FUNCTION_INFO_V1(clv_summary_trans);
Datum
clv_summary_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, summary_step);
}

PG_FUNCTION_INFO_V1(clv_summary_trans_v2);
Datum
clv_summary_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_summary_family, summary_step);
}

PG_FUNCTION_INFO_V1(clv_summary_holdout_trans);
Datum
clv_summary_holdout_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, summary_holdout_step);
}

PG_FUNCTION_INFO_V1(clv_summary_holdout_trans_v2);
Datum
clv_summary_holdout_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_summary_family, summary_holdout_step);
}

PG_FUNCTION_INFO_V1(clv_summary_combine);
Datum
clv_summary_combine(PG_FUNCTION_ARGS)
{
	return clv_combine_states(fcinfo, &clv_summary_family.combine);
}

PG_FUNCTION_INFO_V1(clv_summary_serialize);
Datum
clv_summary_serialize(PG_FUNCTION_ARGS)
{
	return clv_internal_serialize(fcinfo, &clv_summary_family);
}

PG_FUNCTION_INFO_V1(clv_summary_deserialize);
Datum
clv_summary_deserialize(PG_FUNCTION_ARGS)
{
	return clv_internal_deserialize(fcinfo, &clv_summary_family);
}

/* ---- final ----------------------------------------------------------------- */

/*
 * The time from the start of one period to the start of another, in units.
 * Periods and units in months count whole months; a unit of fixed length
 * measures the local clock time between the starts (for periods in months,
 * the days between the months' first days).
 */
static double
in_units(const summary_state *s, int64 from, int64 to)
{
	if (s->unit.months != 0)
		return scaled_span(from, to, s->period.months, s->unit.months);
	if (s->period.months == 0)
		return scaled_span(from, to, s->period.us, s->unit.us);
	return scaled_span(month_period_start(s, from), month_period_start(s, to),
					   USECS_PER_DAY, s->unit.us);
}

/* The same in days (days_since_last). */
static double
in_days(const summary_state *s, int64 from, int64 to)
{
	if (s->period.months == 0)
		return scaled_span(from, to, s->period.us, USECS_PER_DAY);
	return (double) (month_period_start(s, to) - month_period_start(s, from));
}

static Datum
summary_final(FunctionCallInfo fcinfo, const summary_state *s, int natts)
{
	TupleDesc	desc = fcinfo->flinfo->fn_extra;
	clv_summary_result r;
	Datum		values[14];
	bool		nulls[14] = {0};

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
	values[1] = Float8GetDatum(in_units(s, r.first_period, r.last_period));
	values[2] = Float8GetDatum(in_units(s, r.first_period, s->as_of_period));
	values[3] = Float8GetDatum(r.monetary);
	values[4] = Int64GetDatum(r.orders);
	values[5] = Float8GetDatum(r.revenue);
	values[6] = TimestampTzGetDatum(r.first_time);
	values[7] = TimestampTzGetDatum(r.last_time);
	values[8] = Float8GetDatum(in_days(s, r.last_period, s->as_of_period));
	if (natts > 9)
	{
		values[9] = Int32GetDatum((int32) Min(r.holdout_frequency, PG_INT32_MAX));
		values[10] = Float8GetDatum(r.holdout_monetary);
		values[11] = Int64GetDatum(r.holdout_orders);
		values[12] = Float8GetDatum(r.holdout_revenue);
		values[13] = Float8GetDatum(in_units(s, s->as_of_period, s->observation_period));
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

static Datum
summary_finish(FunctionCallInfo fcinfo, void *state)
{
	return summary_final(fcinfo, state, 9);
}

static Datum
summary_holdout_finish(FunctionCallInfo fcinfo, void *state)
{
	return summary_final(fcinfo, state, 14);
}

PG_FUNCTION_INFO_V1(clv_summary_final);
Datum
clv_summary_final(PG_FUNCTION_ARGS)
{
	return clv_internal_final(fcinfo, summary_finish);
}

PG_FUNCTION_INFO_V1(clv_summary_final_v2);
Datum
clv_summary_final_v2(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_summary_family, summary_finish);
}

PG_FUNCTION_INFO_V1(clv_summary_holdout_final);
Datum
clv_summary_holdout_final(PG_FUNCTION_ARGS)
{
	return clv_internal_final(fcinfo, summary_holdout_finish);
}

PG_FUNCTION_INFO_V1(clv_summary_holdout_final_v2);
Datum
clv_summary_holdout_final_v2(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_summary_family, summary_holdout_finish);
}
