/*
 * btyd_value_glue.c — the discounted value of a customer: clv_lifetime_value
 * and clv_dert, and the table of expected-purchase factors that each cached
 * purchase model carries, which clv_expected_purchases shares.
 */
#include "btyd_glue.h"

#include <math.h>

#include "common/int.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/timestamp.h"

/*
 * Scoring a table calls clv_expected_purchases or clv_lifetime_value once per
 * customer, and the Gauss hypergeometric terms dominate; but they enter
 * through a factor (the expectation for a customer known to be alive) that
 * depends only on (frequency, t, horizon), the call's settings and the
 * customer's parameters, and customers share those.  So each cached purchase
 * model carries a memo of its factors for one setting (discounting); another
 * setting empties it.  The parameters enter the key as the number
 * clv_btyd_customer_params gives them (0 for the model's own), not as values.
 *
 * Rows come in no order, so every lookup lands somewhere at random in the
 * memo, and its size decides whether that is a cache hit.  Hence two levels:
 * a point (t, horizon, parameters) holds the factors of frequencies 0, 1, ...
 * in an array indexed by frequency, 8 bytes a factor where a hash entry of
 * the whole key would take 48; the rare frequencies from MEMO_DENSE_X on go
 * to a hash table of whole keys.  The tables (PostgreSQL's simplehash, as
 * every hash table of the glue) start small and grow; a memo holding more
 * than MEMO_MAX_FACTORS starts over.
 */
#define MEMO_MIN_ENTRIES 256
#define MEMO_MAX_FACTORS 262144
#define MEMO_DENSE_X 256

/* a point: what a factor depends on besides the frequency */
typedef struct point_key
{
	double		T,
				horizon;
	uint64		set;			/* numbers the customer's parameters */
} point_key;

typedef struct point_entry
{
	point_key	key;
	char		status;			/* simplehash's */
	uint32		n;				/* factor[x] for x < n; NaN: not yet computed */
	double	   *factor;
} point_entry;

static inline bool
same_point(point_key p, point_key q)
{
	return p.T == q.T && p.horizon == q.horizon && p.set == q.set;
}

/* whole numbers leave a double's low bits zero: clv_mix64 mixes every bit in */
static inline uint32
point_key_hash(point_key k)
{
	uint64		bits[2];

	memcpy(bits, &k, sizeof(bits));
	return (uint32) (clv_mix64(bits[0] ^ clv_mix64(bits[1] ^ k.set)) >> 32);
}

#define SH_PREFIX points
#define SH_ELEMENT_TYPE point_entry
#define SH_KEY_TYPE point_key
#define SH_KEY key
#define SH_HASH_KEY(tb, k) point_key_hash(k)
#define SH_EQUAL(tb, p, q) same_point(p, q)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* a factor of a frequency from MEMO_DENSE_X on */
typedef struct memo_key
{
	double		x;
	point_key	point;
} memo_key;

typedef struct memo_entry
{
	memo_key	key;
	double		value;
	char		status;			/* simplehash's */
} memo_entry;

static inline uint32
memo_key_hash(memo_key k)
{
	uint64		bits;

	memcpy(&bits, &k.x, sizeof(bits));
	return (uint32) (clv_mix64(bits ^ point_key_hash(k.point)) >> 32);
}

#define SH_PREFIX memo
#define SH_ELEMENT_TYPE memo_entry
#define SH_KEY_TYPE memo_key
#define SH_KEY key
#define SH_HASH_KEY(tb, k) memo_key_hash(k)
#define SH_EQUAL(tb, p, q) ((p).x == (q).x && same_point((p).point, (q).point))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

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

struct clv_btyd_memo
{
	double		step,			/* the setting of the factors in the memo */
				rate;
	points_hash *points;			/* in the cached model's context: live as long */
	memo_hash  *table;
	MemoryContext arrays;		/* the points' arrays of factors */
	Size		factors;		/* held in both, for MEMO_MAX_FACTORS */
	clv_btyd_cov_cache *covariates;	/* a covariate model's, else NULL */
	value_settings settings;
	bool		has_unit;		/* the model records its unit: */
	clv_span	unit;
	Interval	unit_interval;	/* the same as an interval */
};

/* ---- the unit of a purchase model ------------------------------------------ */

clv_span
clv_btyd_unit_parse(const char *text)
{
	Datum		iv = DirectFunctionCall3(interval_in, CStringGetDatum(text),
										 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

	return clv_interval_span(DatumGetIntervalP(iv), "unit");
}

static Interval
unit_interval(clv_span unit)
{
	Interval	iv = {0};

	if (unit.months != 0)
		iv.month = (int32) unit.months;
	else
	{
		iv.day = (int32) (unit.us / USECS_PER_DAY);
		iv.time = unit.us % USECS_PER_DAY;
	}
	return iv;
}

/* In the postgres interval style whatever IntervalStyle says: metadata must not vary. */
static char *
interval_text(Interval iv)
{
	struct pg_itm itm;
	char		buf[MAXDATELEN + 1];

	interval2itm(iv, &itm);
	EncodeInterval(&itm, INTSTYLE_POSTGRES, buf);
	return pstrdup(buf);
}

static char *
unit_text(clv_span unit)
{
	return interval_text(unit_interval(unit));
}

void
clv_btyd_json_unit(StringInfo buf, clv_span unit)
{
	clv_json_key(buf, "unit");
	escape_json(buf, unit_text(unit));
}

/* The unit a model's metadata records, if any. */
static bool
model_unit(const clv_model *m, clv_span *out)
{
	Jsonb	   *meta = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(m->meta)));
	JsonbValue *v = getKeyJsonValueFromContainer(&meta->root, "unit", strlen("unit"), NULL);

	if (v == NULL)
		return false;
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid clv model"),
				 errdetail("The model's unit is not a string.")));
	*out = clv_btyd_unit_parse(pnstrdup(v->val.string.val, v->val.string.len));
	return true;
}

/* Whether an interval is the unit: of the same kind (months or not) and length. */
static bool
same_unit(clv_span unit, const Interval *iv)
{
	int64		us;

	if (unit.months != 0)
		return iv->month == unit.months && iv->day == 0 && iv->time == 0;
	return iv->month == 0 && !pg_mul_s64_overflow(iv->day, USECS_PER_DAY, &us) &&
		!pg_add_s64_overflow(us, iv->time, &us) && us == unit.us;
}

/*
 * The unit of a call: the one given, which must be the model's when the model
 * records one, or (given NULL) the model's.  Models without a unit take any.
 */
static const Interval *
call_unit(const clv_btyd_memo *memo, const Interval *given, const char *fname)
{
	if (given == NULL)
	{
		if (!memo->has_unit)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s needs a unit, and the model does not record one", fname),
					 errhint("Pass the unit that recency and t were measured in, or fit the model with the option \"unit\".")));
		return &memo->unit_interval;
	}
	if (memo->has_unit && !same_unit(memo->unit, given))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unit does not match the unit of the model"),
				 errdetail("The model records unit \"%s\"; the call gives \"%s\".",
						   unit_text(memo->unit), interval_text(*given)),
				 errhint("Omit the unit to use the model's.")));
	return given;
}

/* The cached purchase model of argument 0 and its factor table. */
const clv_model *
clv_btyd_purchase_model_arg(FunctionCallInfo fcinfo, const char *fname, clv_btyd_model *model,
							clv_btyd_memo **memo)
{
	void	  **derived;
	MemoryContext cxt;
	const clv_model *m = clv_cached_model_derived(fcinfo, 0, &derived, &cxt);

	*model = clv_btyd_customer_model_of(m, fname);
	if (*derived == NULL)
	{
		clv_btyd_memo *fresh = MemoryContextAllocZero(cxt, sizeof(clv_btyd_memo));

		fresh->step = -1;
		fresh->points = points_create(cxt, MEMO_MIN_ENTRIES, NULL);
		fresh->table = memo_create(cxt, MEMO_MIN_ENTRIES, NULL);
		fresh->arrays = AllocSetContextCreate(cxt, "clv factor memo", ALLOCSET_DEFAULT_SIZES);
		if (m->kind == CLV_KIND_BGNBD_COV || m->kind == CLV_KIND_PARETONBD_COV)
			fresh->covariates = clv_btyd_cov_cache_new(cxt);
		fresh->has_unit = model_unit(m, &fresh->unit);
		if (fresh->has_unit)
			fresh->unit_interval = unit_interval(fresh->unit);
		*derived = fresh;
	}
	*memo = *derived;
	return m;
}

/* The covariate cache of a covariate model's memo; NULL for another model. */
clv_btyd_cov_cache *
clv_btyd_memo_covariates(clv_btyd_memo *memo)
{
	return memo->covariates;
}

/* Forget every factor: the memo is full, or its setting changed. */
static void
memo_empty(clv_btyd_memo *memo)
{
	points_reset(memo->points);
	memo_reset(memo->table);
	MemoryContextReset(memo->arrays);
	memo->factors = 0;
}

/*
 * Where the memo keeps the factor of (x, point): a slot of the point's
 * array, grown to hold x, or an entry of the table; NaN for a factor not yet
 * computed.
 */
static double *
memo_slot(clv_btyd_memo *memo, point_key point, double x)
{
	bool		found;

	if (memo->factors >= MEMO_MAX_FACTORS)
		memo_empty(memo);
	if (x < MEMO_DENSE_X)
	{
		point_entry *p = points_insert(memo->points, point, &found);
		uint32		i = (uint32) x;

		if (!found)
		{
			p->n = 0;
			p->factor = NULL;
		}
		if (i >= p->n)
		{
			/* by half again, up to the frequency: for the few frequencies a point has */
			uint32		n = Min(Max(i + 1, p->n + p->n / 2), MEMO_DENSE_X);

			p->factor = p->factor == NULL ? MemoryContextAlloc(memo->arrays, n * sizeof(double))
				: repalloc(p->factor, n * sizeof(double));
			for (uint32 k = p->n; k < n; k++)
				p->factor[k] = NAN;
			memo->factors += n - p->n;
			p->n = n;
		}
		return &p->factor[i];
	}
	else
	{
		memo_key	key = {x, point};
		memo_entry *e = memo_insert(memo->table, key, &found);

		if (!found)
		{
			e->value = NAN;
			memo->factors++;
		}
		return &e->value;
	}
}

/*
 * The customer's expected purchases over horizon, discounted as the setting
 * says (step < 0: not at all), at params numbered set: the memo's factor of
 * (x, T) times P(alive).
 */
bool
clv_btyd_memo_expected(clv_btyd_memo *memo, clv_btyd_model model, const double *params,
					   uint64 set, double horizon, double step, double rate, double x,
					   double tx, double T, double *out)
{
	point_key	point = {T + 0.0, horizon + 0.0, set};	/* −0 as 0 */
	double		palive = horizon > 0 ? clv_btyd_palive_of(model, params, x, tx, T) : 1,
				factor,
			   *slot = NULL;

	x += 0.0;
	if (set != CLV_BTYD_UNSHARED)
	{
		if (memo->step != step || memo->rate != rate)
		{
			memo->step = step;
			memo->rate = rate;
			memo_empty(memo);
		}
		slot = memo_slot(memo, point, x);
	}
	if (slot != NULL && !isnan(*slot))
		factor = *slot;
	else
	{
		if (!(step < 0 ? clv_btyd_purchase_factor(model, params, point.horizon, x, point.T, &factor)
			  : clv_btyd_discounted_factor(model, params, x, point.T, point.horizon, step, rate,
										   &factor)))
			return false;
		if (slot != NULL)
			*slot = factor;
	}
	*out = factor * palive;
	return isfinite(*out);
}

/*
 * clv_lifetime_value: discounted expected revenue over a horizon.  Horizon and
 * unit are intervals: unit is what one unit of recency and t meant when the
 * purchase model was fitted (with the CDNOW convention, '7 days'), given at
 * the call or recorded in the model, or both when they agree.  The discount
 * rate is annual.
 */
double
clv_interval_days(const Interval *iv, const char *what)
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

/* Read and check clv_lifetime_value's settings into set. */
static void
read_value_settings(const Interval *horizon, const Interval *unit, double annual,
					text *method, value_settings *set)
{
	double		horizon_days = clv_interval_days(horizon, "horizon"),
				unit_days = clv_interval_days(unit, "unit");

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
	set->rate = clv_btyd_discount_rate(annual, unit_days);
	set->valid = true;
}

/*
 * Two SQL forms: (..., horizon, unit, annual_discount_rate, discounting) and,
 * for a model that records its unit, (..., horizon, annual_discount_rate,
 * discounting).
 */
PG_FUNCTION_INFO_V1(clv_lifetime_value);
Datum
clv_lifetime_value(PG_FUNCTION_ARGS)
{
	clv_btyd_model purchase,
				spend_model;
	clv_btyd_memo *memo;
	const clv_model *pm = clv_btyd_purchase_model_arg(fcinfo, "clv_lifetime_value", &purchase,
													  &memo);
	const clv_model *sm = clv_cached_model(fcinfo, 1);
	/* unit at 7 in the forms with it: 10 arguments, 12 with the covariates */
	int			rate_arg = PG_NARGS() == 9 ? 7 : 8;
	const Interval *horizon = PG_GETARG_INTERVAL_P(6),
			   *unit = call_unit(memo, rate_arg == 8 ? PG_GETARG_INTERVAL_P(7) : NULL,
								 "clv_lifetime_value");
	double		annual = clv_finite_arg(fcinfo, rate_arg, "annual_discount_rate");
	text	   *method = PG_GETARG_TEXT_PP(rate_arg + 1);
	value_settings *set = &memo->settings;
	double		x,
				tx,
				T,
				mon,
				spend,
				purchases,
				own[4];
	const double *params;
	uint64		pset;
	clv_error	err;

	clv_btyd_refuse_discrete(purchase, "clv_lifetime_value");
	if (!clv_btyd_model_of_kind(sm->kind, &spend_model) || !clv_btyd_models[spend_model].spend)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clv_lifetime_value cannot use a %s model as its spend model",
						clv_model_kind_name(sm->kind)),
				 errhint("The second argument takes a model fitted by clv_gammagamma_fit.")));
	clv_btyd_customer_args(fcinfo, 2, purchase, &x, &tx, &T);
	params = clv_btyd_customer_params(fcinfo, pm, purchase, 10, "clv_lifetime_value", memo, own,
									  &pset);
	mon = clv_finite_arg(fcinfo, 5, "monetary");
	clv_check(clv_btyd_check_customer(spend_model, x, mon, 0, &err), &err);
	/* the settings are usually the same on every row: checked once */
	if (!set->valid || set->annual != annual ||
		memcmp(&set->horizon, horizon, sizeof(Interval)) != 0 ||
		memcmp(&set->unit, unit, sizeof(Interval)) != 0 ||
		!text_is(method, set->continuous ? "continuous" : "discrete"))
		read_value_settings(horizon, unit, annual, method, set);
	clv_check(clv_btyd_expected_spend(spend_model, sm->params, x, mon, &spend, &err), &err);
	if (!clv_btyd_memo_expected(memo, purchase, params, pset, set->horizon_units,
								set->continuous ? 0 : 1, set->rate, x, tx, T, &purchases))
		clv_btyd_hypergeometric_error();
	PG_RETURN_FLOAT8(spend * purchases);
}

/*
 * clv_dert: discounted expected residual transactions over an unlimited
 * horizon, Pareto/NBD (continuous discounting) or BG/BB (one discount per
 * opportunity, unit being the length of one).  SQL forms (model, frequency,
 * recency, t, unit, annual_discount_rate) and, for a model that records its
 * unit, without unit.
 */
PG_FUNCTION_INFO_V1(clv_dert);
Datum
clv_dert(PG_FUNCTION_ARGS)
{
	clv_btyd_model model;
	clv_btyd_memo *memo;
	const clv_model *m = clv_btyd_purchase_model_arg(fcinfo, "clv_dert", &model, &memo);
	/* unit at 4 in the forms with it: 6 arguments, 8 with the covariates */
	int			rate_arg = PG_NARGS() == 5 ? 4 : 5;
	double		x,
				tx,
				T,
				unit_days,
				annual,
				dert,
				own[4];
	const double *params;
	uint64		set;

	if (clv_btyd_models[model].dert == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clv_dert needs a paretonbd or bgbb model"),
				 errdetail("Only the Pareto/NBD and BG/BB models have a closed form for an unlimited horizon."),
				 errhint("Use clv_lifetime_value with a long horizon for a %s model.",
						 clv_model_kind_name(m->kind))));
	clv_btyd_customer_args(fcinfo, 1, model, &x, &tx, &T);
	params = clv_btyd_customer_params(fcinfo, m, model, 6, "clv_dert", memo, own, &set);
	unit_days = clv_interval_days(call_unit(memo, rate_arg == 5 ? PG_GETARG_INTERVAL_P(4) : NULL,
										"clv_dert"), "unit");
	annual = clv_finite_arg(fcinfo, rate_arg, "annual_discount_rate");
	if (unit_days <= 0 || annual <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unit and annual_discount_rate must be positive"),
				 errdetail("Without discounting, expected residual purchases are unbounded.")));
	if (!clv_btyd_dert(model, params, x, tx, T, clv_btyd_discount_rate(annual, unit_days),
					   &dert))
		clv_btyd_hypergeometric_error();
	PG_RETURN_FLOAT8(dert);
}
