/*
 * metrics_glue.c — evaluation metric aggregates: clv_mse, clv_rmse, clv_mae,
 * clv_r2, clv_logloss, clv_auc, clv_gini and clv_qini.
 *
 * The error metrics and the log loss keep a few sums in a float8[] state,
 * like avg(float8): no serialization, and the four error metrics of one query
 * share a single state.  AUC and Gini must sort every row, so they keep the
 * (key, value) pairs in a state bounded by clv.max_training_memory, and the
 * Qini coefficient keeps its (score, treated, outcome) rows the same way.
 *
 * Rows with a NULL in either argument are skipped, as avg() skips them; no
 * rows give NULL.  Values that are summed must be finite; values that are
 * only ranked (AUC's score, Gini's predicted) may be infinite but not NaN.
 */
#include "clv.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "metrics.h"

/* ---- float8[] states -------------------------------------------------------- */

typedef bool (*state_check) (const double *s);

/*
 * The values of a float8[] state.  The support functions are callable from
 * SQL, so the array may come from a user rather than from the aggregate.
 */
static double *
state_values(ArrayType *state, int len, state_check valid)
{
	double	   *v;

	if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] != len ||
		ARR_ELEMTYPE(state) != FLOAT8OID ||
		(ARR_HASNULL(state) && array_contains_nulls(state)))
		clv_invalid_state("The state must be a float8 array of %d elements without NULLs.", len);
	v = (double *) ARR_DATA_PTR(state);
	if (!valid(v))
		clv_invalid_state("The state holds values that no rows can produce.");
	return v;
}

/*
 * The state argument, ready to be updated.  Inside an aggregate the state
 * belongs to the aggregate and is updated in place, as float8_accum does;
 * called directly, the caller's array must not change, so it is copied.
 */
static ArrayType *
writable_state(FunctionCallInfo fcinfo, int argno)
{
	if (AggCheckCallContext(fcinfo, NULL))
		return PG_GETARG_ARRAYTYPE_P(argno);
	return PG_GETARG_ARRAYTYPE_P_COPY(argno);
}

/* what: the sums that overflowed, as the subject of a sentence */
pg_attribute_noreturn()
static void
overflow_error(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("value out of range: overflow"),
			 errdetail("%s exceed the range of double precision.", what)));
}

#define RESIDUAL_SUMS "The squared errors or the squared deviations of y"

/* ---- clv_mse, clv_rmse, clv_mae, clv_r2 ------------------------------------- */

PG_FUNCTION_INFO_V1(clv_residuals_trans);
Datum
clv_residuals_trans(PG_FUNCTION_ARGS)
{
	ArrayType  *state = writable_state(fcinfo, 0);
	double	   *s = state_values(state, CLV_RESID_LEN, clv_residuals_valid);
	double		y = clv_finite_arg(fcinfo, 1, "y");
	double		prediction = clv_finite_arg(fcinfo, 2, "prediction");

	if (!clv_residuals_add(s, y, prediction))
		overflow_error(RESIDUAL_SUMS);
	PG_RETURN_ARRAYTYPE_P(state);
}

PG_FUNCTION_INFO_V1(clv_residuals_combine);
Datum
clv_residuals_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state = writable_state(fcinfo, 0);
	double	   *a = state_values(state, CLV_RESID_LEN, clv_residuals_valid);
	const double *b = state_values(PG_GETARG_ARRAYTYPE_P(1), CLV_RESID_LEN,
								   clv_residuals_valid);

	if (!clv_residuals_merge(a, b))
		overflow_error(RESIDUAL_SUMS);
	PG_RETURN_ARRAYTYPE_P(state);
}

/* The residual state of a final function, or NULL when no rows were seen. */
static const double *
residuals_final_state(FunctionCallInfo fcinfo)
{
	const double *s = state_values(PG_GETARG_ARRAYTYPE_P(0), CLV_RESID_LEN,
								   clv_residuals_valid);

	return s[CLV_RESID_N] > 0 ? s : NULL;
}

PG_FUNCTION_INFO_V1(clv_mse_final);
Datum
clv_mse_final(PG_FUNCTION_ARGS)
{
	const double *s = residuals_final_state(fcinfo);

	if (s == NULL)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(clv_residuals_mse(s));
}

PG_FUNCTION_INFO_V1(clv_rmse_final);
Datum
clv_rmse_final(PG_FUNCTION_ARGS)
{
	const double *s = residuals_final_state(fcinfo);

	if (s == NULL)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(sqrt(clv_residuals_mse(s)));
}

PG_FUNCTION_INFO_V1(clv_mae_final);
Datum
clv_mae_final(PG_FUNCTION_ARGS)
{
	const double *s = residuals_final_state(fcinfo);

	if (s == NULL)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(clv_residuals_mae(s));
}

PG_FUNCTION_INFO_V1(clv_r2_final);
Datum
clv_r2_final(PG_FUNCTION_ARGS)
{
	const double *s = residuals_final_state(fcinfo);
	double		r2;

	/* SST = 0: every model explains a constant equally well, or not at all */
	if (s == NULL || !clv_residuals_r2(s, &r2))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(r2);
}

/* ---- clv_logloss ------------------------------------------------------------ */

PG_FUNCTION_INFO_V1(clv_logloss_trans);
Datum
clv_logloss_trans(PG_FUNCTION_ARGS)
{
	ArrayType  *state = writable_state(fcinfo, 0);
	double	   *s = state_values(state, CLV_LOGLOSS_STATE_LEN, clv_logloss_state_valid);
	bool		label = PG_GETARG_BOOL(1);
	double		probability = PG_GETARG_FLOAT8(2);

	/* written so that NaN fails too */
	if (!(probability >= 0 && probability <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("probability must be between 0 and 1"),
				 errdetail("The value is %s.", float8out_internal(probability))));
	clv_logloss_state_add(s, label, probability);
	PG_RETURN_ARRAYTYPE_P(state);
}

PG_FUNCTION_INFO_V1(clv_logloss_combine);
Datum
clv_logloss_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state = writable_state(fcinfo, 0);
	double	   *a = state_values(state, CLV_LOGLOSS_STATE_LEN, clv_logloss_state_valid);
	const double *b = state_values(PG_GETARG_ARRAYTYPE_P(1), CLV_LOGLOSS_STATE_LEN,
								   clv_logloss_state_valid);

	clv_logloss_state_merge(a, b);
	PG_RETURN_ARRAYTYPE_P(state);
}

PG_FUNCTION_INFO_V1(clv_logloss_final);
Datum
clv_logloss_final(PG_FUNCTION_ARGS)
{
	const double *s = state_values(PG_GETARG_ARRAYTYPE_P(0), CLV_LOGLOSS_STATE_LEN,
								   clv_logloss_state_valid);

	if (s[CLV_LOGLOSS_STATE_N] == 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(clv_logloss_state_mean(s));
}

/* ---- clv_auc and clv_gini: a state of pairs --------------------------------- */

/* Which metric a state belongs to; also written in the serialized form. */
typedef enum ranking_kind
{
	RANKING_AUC = 1,			/* (score, label as 0 or 1) */
	RANKING_GINI = 2			/* (predicted, actual) */
} ranking_kind;

typedef struct ranking_state
{
	ranking_kind kind;
	clv_pairs	pairs;
} ranking_state;

/* Serialized: int32 kind, then the pairs (clv_state_send_pairs). */

/* A new, empty state in the current memory context. */
static ranking_state *
ranking_state_new(ranking_kind kind)
{
	ranking_state *state = palloc0(sizeof(ranking_state));

	state->kind = kind;
	clv_pairs_init(&state->pairs, clv_training_memory_bytes());
	return state;
}

static void
check_kind(FunctionCallInfo fcinfo, const ranking_state *state, ranking_kind kind)
{
	if (state->kind != kind)
		clv_state_of_other_aggregate(fcinfo, state->kind == RANKING_AUC ? "clv_auc" : "clv_gini");
}

/* Append one pair to the state, creating it on the first row. */
static ranking_state *
ranking_append(FunctionCallInfo fcinfo, ranking_state *state, MemoryContext cxt,
			   ranking_kind kind, double key, double value)
{
	MemoryContext old;
	clv_error	err;
	clv_status	st;

	old = MemoryContextSwitchTo(cxt);
	if (state == NULL)
		state = ranking_state_new(kind);
	else
		check_kind(fcinfo, state, kind);
	st = clv_pairs_append(&state->pairs, key, value, &err);
	MemoryContextSwitchTo(old);
	if (st != CLV_OK)
		clv_raise_evaluation_limit(&err);
	return state;
}

/*
 * The pair of a clv_auc row.  A row with a NULL is skipped, like sum()'s: the
 * state stays as it is (NULL before the first row without one).
 */
static void *
auc_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	bool		label;
	double		score;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return prev;
	label = PG_GETARG_BOOL(1);
	score = PG_GETARG_FLOAT8(2);
	if (isnan(score))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("score must not be NaN")));
	return ranking_append(fcinfo, prev, cxt, RANKING_AUC, score, label ? 1.0 : 0.0);
}

/* The pair of a clv_gini row; a row with a NULL is skipped, as by clv_auc. */
static void *
gini_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	double		actual,
				predicted;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return prev;
	actual = clv_finite_arg(fcinfo, 1, "actual");
	predicted = PG_GETARG_FLOAT8(2);
	if (isnan(predicted))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("predicted must not be NaN")));
	return ranking_append(fcinfo, prev, cxt, RANKING_GINI, predicted, actual);
}

static void *
ranking_new_like(const void *b, MemoryContext cxt)
{
	return ranking_state_new(((const ranking_state *) b)->kind);
}

static void
ranking_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
	check_kind(fcinfo, b, ((const ranking_state *) a)->kind);
}

static void
ranking_merge(void *a, const void *b)
{
	clv_state_merge_pairs(&((ranking_state *) a)->pairs, &((const ranking_state *) b)->pairs);
}

static void
ranking_send(StringInfo buf, const void *s)
{
	const ranking_state *state = s;

	clv_state_send_begin(buf, state->pairs.n, CLV_PAIR_BYTES, 4 + CLV_PAIRS_HEADER_BYTES, "rows");
	pq_sendint32(buf, (int32) state->kind);
	clv_state_send_pairs(buf, &state->pairs);
}

/* A pair that rows of the metric (a ranking_kind) can produce. */
static bool
ranking_pair_valid(double key, double value, const void *kind)
{
	return !isnan(key) &&
		(*(const ranking_kind *) kind == RANKING_AUC ? (value == 0 || value == 1) : isfinite(value));
}

static void *
ranking_receive(StringInfo buf)
{
	ranking_state *state;
	uint32		kind;

	kind = clv_state_uint32(buf);
	if (kind != RANKING_AUC && kind != RANKING_GINI)
		clv_invalid_state("The metric number is %u.", kind);

	/*
	 * Whoever keeps the state copies it: the current context, not the
	 * aggregate's, is the right home for it.
	 */
	state = ranking_state_new((ranking_kind) kind);
	clv_state_receive_pairs(buf, &state->pairs, ranking_pair_valid, &state->kind);
	return state;
}

const clv_state_family clv_ranking_family = {
	CLV_STATE_RANKING, "clv_auc or clv_gini",
	{"clv_ranking_combine", ranking_new_like, ranking_check_same, ranking_merge},
	ranking_send, ranking_receive
};

PG_FUNCTION_INFO_V1(clv_auc_trans);
Datum
clv_auc_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, auc_step);
}

PG_FUNCTION_INFO_V1(clv_auc_trans_v2);
Datum
clv_auc_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_ranking_family, auc_step);
}

PG_FUNCTION_INFO_V1(clv_gini_trans);
Datum
clv_gini_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, gini_step);
}

PG_FUNCTION_INFO_V1(clv_gini_trans_v2);
Datum
clv_gini_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_ranking_family, gini_step);
}

PG_FUNCTION_INFO_V1(clv_ranking_combine);
Datum
clv_ranking_combine(PG_FUNCTION_ARGS)
{
	return clv_combine_states(fcinfo, &clv_ranking_family.combine);
}

PG_FUNCTION_INFO_V1(clv_ranking_serialize);
Datum
clv_ranking_serialize(PG_FUNCTION_ARGS)
{
	return clv_internal_serialize(fcinfo, &clv_ranking_family);
}

PG_FUNCTION_INFO_V1(clv_ranking_deserialize);
Datum
clv_ranking_deserialize(PG_FUNCTION_ARGS)
{
	return clv_internal_deserialize(fcinfo, &clv_ranking_family);
}

static Datum
auc_finish(FunctionCallInfo fcinfo, void *s)
{
	ranking_state *state = s;
	double		auc;

	if (state == NULL)
		PG_RETURN_NULL();
	check_kind(fcinfo, state, RANKING_AUC);
	/* one class only: no pair to rank, so no AUC */
	if (!clv_auc(&state->pairs, &auc))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(auc);
}

PG_FUNCTION_INFO_V1(clv_auc_final);
Datum
clv_auc_final(PG_FUNCTION_ARGS)
{
	return clv_internal_final(fcinfo, auc_finish);
}

PG_FUNCTION_INFO_V1(clv_auc_final_v2);
Datum
clv_auc_final_v2(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_ranking_family, auc_finish);
}

static Datum
gini_finish(FunctionCallInfo fcinfo, void *s)
{
	ranking_state *state = s;
	double		gini;

	if (state == NULL)
		PG_RETURN_NULL();
	check_kind(fcinfo, state, RANKING_GINI);
	/* all actual values equal: no ranking is better than another */
	if (!clv_gini(&state->pairs, &gini))
		PG_RETURN_NULL();
	if (!isfinite(gini))
		overflow_error("The rank-weighted sums of actual");
	PG_RETURN_FLOAT8(gini);
}

PG_FUNCTION_INFO_V1(clv_gini_final);
Datum
clv_gini_final(PG_FUNCTION_ARGS)
{
	return clv_internal_final(fcinfo, gini_finish);
}

PG_FUNCTION_INFO_V1(clv_gini_final_v2);
Datum
clv_gini_final_v2(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_ranking_family, gini_finish);
}

/* ---- clv_qini: a state of (score, treated, outcome) rows -------------------- */

typedef struct qini_state
{
	clv_uplift_rows rows;
} qini_state;

/* Serialized: int64 count, then count × (float8 score, float8 outcome, byte treated). */
#define QINI_HEADER_BYTES 8
#define QINI_ROW_BYTES (8 + 8 + 1)

/* A new, empty state in the current memory context. */
static qini_state *
qini_state_new(void)
{
	qini_state *state = palloc0(sizeof(qini_state));

	clv_uplift_rows_init(&state->rows, clv_training_memory_bytes());
	return state;
}

/* A clv_qini row; a row with a NULL is skipped, as by clv_auc. */
static void *
qini_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	qini_state *state = prev;
	double		score;
	bool		treated;
	double		outcome;
	MemoryContext old;
	clv_error	err;
	clv_status	st;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		return prev;

	score = clv_finite_arg(fcinfo, 1, "score");
	treated = PG_GETARG_BOOL(2);
	outcome = clv_finite_arg(fcinfo, 3, "outcome");

	old = MemoryContextSwitchTo(cxt);
	if (state == NULL)
		state = qini_state_new();
	st = clv_uplift_rows_append(&state->rows, score, treated, outcome, &err);
	MemoryContextSwitchTo(old);
	if (st != CLV_OK)
		clv_raise_evaluation_limit(&err);
	return state;
}

static void *
qini_new_like(const void *b, MemoryContext cxt)
{
	return qini_state_new();
}

/* Every qini state is built the same way: nothing to compare. */
static void
qini_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
}

static void
qini_merge(void *a, const void *b)
{
	clv_error	err;

	if (clv_uplift_rows_merge(&((qini_state *) a)->rows, &((const qini_state *) b)->rows,
							  &err) != CLV_OK)
		clv_raise_evaluation_limit(&err);
}

static void
qini_send(StringInfo buf, const void *s)
{
	const qini_state *state = s;

	clv_state_send_begin(buf, state->rows.n, QINI_ROW_BYTES, QINI_HEADER_BYTES, "rows");
	pq_sendint64(buf, (int64) state->rows.n);
	for (size_t i = 0; i < state->rows.n; i++)
	{
		pq_sendfloat8(buf, state->rows.v[i].score);
		pq_sendfloat8(buf, state->rows.v[i].outcome);
		pq_sendbyte(buf, state->rows.v[i].treated ? 1 : 0);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

static void *
qini_receive(StringInfo buf)
{
	qini_state *state;
	int64		n;
	clv_error	err;

	n = clv_state_int64(buf);
	if (n < 0 || (uint64) n != (uint64) (buf->len - buf->cursor) / QINI_ROW_BYTES ||
		(buf->len - buf->cursor) % QINI_ROW_BYTES != 0)
		clv_invalid_state("The row count does not match the length of the state.");

	/* the current context, as for the ranking states: whoever keeps it copies it */
	state = qini_state_new();
	if (clv_uplift_rows_reserve(&state->rows, (size_t) n, &err) != CLV_OK)
		clv_raise_evaluation_limit(&err);

	for (int64 i = 0; i < n; i++)
	{
		double		score = clv_state_float8(buf);
		double		outcome = clv_state_float8(buf);
		uint8		treated = clv_state_byte(buf);

		if (!isfinite(score) || !isfinite(outcome) || treated > 1)
			clv_invalid_state("Row " INT64_FORMAT " is not one that rows can produce.", i + 1);
		state->rows.v[i].score = score;
		state->rows.v[i].outcome = outcome;
		state->rows.v[i].treated = treated == 1;
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	state->rows.n = (size_t) n;
	return state;
}

const clv_state_family clv_qini_family = {
	CLV_STATE_QINI, "clv_qini",
	{"clv_state_combine", qini_new_like, qini_check_same, qini_merge},
	qini_send, qini_receive
};

PG_FUNCTION_INFO_V1(clv_qini_trans);
Datum
clv_qini_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_qini_family, qini_step);
}

static Datum
qini_finish(FunctionCallInfo fcinfo, void *s)
{
	qini_state *state = s;
	double		qini;

	if (state == NULL)
		PG_RETURN_NULL();
	/* no treated or no control row, or even the perfect ranking is no better than chance */
	if (!clv_qini(&state->rows, &qini))
		PG_RETURN_NULL();
	if (!isfinite(qini))
		overflow_error("The Qini curve's areas");
	PG_RETURN_FLOAT8(qini);
}

PG_FUNCTION_INFO_V1(clv_qini_final);
Datum
clv_qini_final(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_qini_family, qini_finish);
}
