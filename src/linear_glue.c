/*
 * linear_glue.c — clv_linreg_fit and clv_logreg_fit aggregates.
 *
 * clv_linreg_fit keeps sufficient statistics (combined exactly); the logistic
 * fit keeps its rows, since Newton's method revisits them.  Both take their
 * options from the first row and store a copy so the final function sees them.
 */
#include "clv.h"

#include "libpq/pqformat.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"

#include "linear.h"

typedef struct linreg_state
{
	clv_linreg_acc acc;
	Jsonb	   *options;		/* NULL when none were given */
} linreg_state;

typedef struct logreg_state
{
	clv_rows	rows;
	Jsonb	   *options;
} logreg_state;

typedef struct linear_options
{
	double		l2;
	double		l1;				/* lasso penalty; linear regression only */
	int			max_iter;
	double		tol;
	clv_names	features;
} linear_options;

static void
parse_linear_options(Jsonb *options, bool logistic, linear_options *out)
{
	const clv_option linreg_spec[] = {
		{"l2", CLV_OPT_NUMBER, &out->l2, 0, 1e300},
		{"l1", CLV_OPT_NUMBER, &out->l1, 0, 1e300},
		{"features", CLV_OPT_NAMES, &out->features, 0, 0},
	};
	const clv_option logreg_spec[] = {
		{"l2", CLV_OPT_NUMBER, &out->l2, 0, 1e300},
		{"max_iter", CLV_OPT_INTEGER, &out->max_iter, 1, 10000},
		{"tol", CLV_OPT_NUMBER, &out->tol, 1e-300, 1},
		{"features", CLV_OPT_NAMES, &out->features, 0, 0},
	};

	memset(out, 0, sizeof(*out));
	out->max_iter = 100;
	out->tol = 1e-10;
	if (logistic)
		clv_parse_options(options, "clv_logreg_fit", logreg_spec, lengthof(logreg_spec));
	else
		clv_parse_options(options, "clv_linreg_fit", linreg_spec, lengthof(linreg_spec));
}

/* Metadata shared by both kinds: size, options, coefficient table. */
static void
json_regression(StringInfo buf, const clv_regression_fit *fit, const char *stat_name,
				const linear_options *opt, Jsonb *options)
{
	int			k = fit->p + 1;

	clv_json_number(buf, "n", fit->n);
	clv_json_number(buf, "l2", opt->l2);
	clv_json_key(buf, "options");
	appendStringInfoString(buf, options ? JsonbToCString(NULL, &options->root, VARSIZE(options)) : "{}");
	clv_json_key(buf, "terms");
	appendStringInfoString(buf, "[\"(intercept)\"");
	for (int j = 1; j < k; j++)
	{
		appendStringInfoString(buf, ", ");
		if (opt->features.n > 0)
			escape_json(buf, opt->features.names[j - 1]);
		else
			appendStringInfo(buf, "\"x%d\"", j);
	}
	appendStringInfoChar(buf, ']');
	clv_json_numbers(buf, "coefficients", fit->coef, k);
	clv_json_numbers(buf, "std_errors", fit->std_error, k);
	clv_json_numbers(buf, stat_name, fit->statistic, k);
	clv_json_numbers(buf, "p_values", fit->p_value, k);
	clv_json_number(buf, "condition_number", fit->condition_number);
}


static bytea *
regression_model(clv_model_kind kind, const clv_regression_fit *fit,
				 const linear_options *opt, StringInfo meta)
{
	clv_model	model = {0};

	model.kind = kind;
	model.n_features = fit->p;
	model.feature_names = opt->features.n > 0 ? opt->features.names : NULL;
	model.meta = meta->data;
	model.coef = fit->coef;
	return clv_model_to_bytea(&model);
}

/* ---- clv_linreg_fit ------------------------------------------------------- */

static void *
linreg_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	linreg_state *state = prev;
	double		y = clv_finite_arg(fcinfo, 1, "y");
	int			n;
	const double *x = clv_row_features(fcinfo, 2, state ? (int) state->acc.p : -1,
											   CLV_LINREG_MAX_FEATURES, "linear", false, &n);

	if (state == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		linear_options opt;

		state = palloc0(sizeof(linreg_state));
		state->options = clv_options_arg(fcinfo, 3, cxt);
		parse_linear_options(state->options, false, &opt);	/* fail early */
		clv_check_feature_names(&opt.features, n);
		clv_linreg_acc_init(&state->acc, n);
		MemoryContextSwitchTo(old);
	}
	else
		clv_check_options_row(fcinfo, 3, state->options, "clv_linreg_fit");
	clv_linreg_acc_add(&state->acc, y, x);
	return state;
}

static void *
linreg_new_like(const void *b, MemoryContext cxt)
{
	const linreg_state *src = b;
	linreg_state *dst = palloc0(sizeof(linreg_state));

	clv_linreg_acc_init(&dst->acc, src->acc.p);
	dst->options = clv_copy_jsonb(cxt, src->options);
	return dst;
}

static void
linreg_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
	const linreg_state *sa = a,
			   *sb = b;

	if (sa->acc.p != sb->acc.p)
		clv_feature_count_error(true, sa->acc.p, sb->acc.p);
	clv_check_options_agree(fcinfo, sa->options, sb->options);
}

static void
linreg_merge(void *a, const void *b)
{
	clv_linreg_acc_merge(&((linreg_state *) a)->acc, &((const linreg_state *) b)->acc);
}

static void
linreg_send(StringInfo buf, const void *s)
{
	const linreg_state *state = s;

	clv_state_send_begin(buf, state->acc.n_terms, 2 * sizeof(double),
						 4 + clv_sent_jsonb_bytes(state->options), "sums");
	pq_sendint32(buf, state->acc.p);
	clv_send_jsonb(buf, state->options);
	for (size_t k = 0; k < state->acc.n_terms; k++)
	{
		pq_sendfloat8(buf, state->acc.hi[k]);
		pq_sendfloat8(buf, state->acc.lo[k]);
	}
}

static void *
linreg_receive(StringInfo buf)
{
	linreg_state *state;
	uint32		p;

	p = clv_state_uint32(buf);
	if (p < 1 || p > CLV_LINREG_MAX_FEATURES)
		clv_invalid_state("The feature count is %u.", p);
	state = palloc0(sizeof(linreg_state));
	state->options = clv_receive_jsonb(buf);
	clv_linreg_acc_init(&state->acc, p);
	for (size_t k = 0; k < state->acc.n_terms; k++)
	{
		state->acc.hi[k] = clv_state_float8(buf);
		state->acc.lo[k] = clv_state_float8(buf);
	}
	return state;
}

const clv_state_family clv_linreg_family = {
	CLV_STATE_LINREG, "clv_linreg_fit",
	{"clv_linreg_fit_combine", linreg_new_like, linreg_check_same, linreg_merge},
	linreg_send, linreg_receive
};

PG_FUNCTION_INFO_V1(clv_linreg_fit_trans);
Datum
clv_linreg_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, linreg_step);
}

PG_FUNCTION_INFO_V1(clv_linreg_fit_trans_v2);
Datum
clv_linreg_fit_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_linreg_family, linreg_step);
}

PG_FUNCTION_INFO_V1(clv_linreg_fit_combine);
Datum
clv_linreg_fit_combine(PG_FUNCTION_ARGS)
{
	return clv_combine_states(fcinfo, &clv_linreg_family.combine);
}

PG_FUNCTION_INFO_V1(clv_linreg_fit_serialize);
Datum
clv_linreg_fit_serialize(PG_FUNCTION_ARGS)
{
	return clv_internal_serialize(fcinfo, &clv_linreg_family);
}

PG_FUNCTION_INFO_V1(clv_linreg_fit_deserialize);
Datum
clv_linreg_fit_deserialize(PG_FUNCTION_ARGS)
{
	return clv_internal_deserialize(fcinfo, &clv_linreg_family);
}

pg_attribute_noreturn()
static void
no_rows(const char *fname)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("%s cannot fit a model on zero rows", fname)));
}

/*
 * The model of a fit: coefficients, and the metadata clv_model_info shows.
 * Lasso fits (l1 > 0) also record l1 and their nonzero slopes; other fits
 * keep the metadata they always had, so their bytes do not change.
 */
static bytea *
linreg_model(const clv_linreg_acc *acc, Jsonb *options, const linear_options *opt,
			 const clv_regression_fit *fit)
{
	StringInfoData meta;
	double	   *means;

	initStringInfo(&meta);
	appendStringInfoChar(&meta, '{');
	json_regression(&meta, fit, "t_values", opt, options);
	if (opt->l1 > 0)
	{
		int			nonzero = 0;

		for (uint32 j = 1; j <= fit->p; j++)
			nonzero += fit->coef[j] != 0;
		clv_json_number(&meta, "l1", opt->l1);
		clv_json_number(&meta, "nonzero", nonzero);
	}
	clv_json_number(&meta, "r2", fit->r2);
	clv_json_number(&meta, "adj_r2", fit->adj_r2);
	clv_json_number(&meta, "rss", fit->rss);
	clv_json_number(&meta, "sigma", fit->sigma);
	clv_json_number(&meta, "df_resid", fit->df_resid);
	clv_json_number(&meta, "f_statistic", fit->f_statistic);
	clv_json_number(&meta, "f_p_value", fit->f_p_value);
	/* the training means, which clv_explain centres the features at */
	means = palloc(sizeof(double) * acc->p);
	clv_linreg_acc_feature_means(acc, means);
	clv_json_numbers(&meta, "feature_means", means, acc->p);
	appendStringInfoChar(&meta, '}');
	return regression_model(CLV_KIND_LINREG, fit, opt, &meta);
}

static Datum
linreg_finish(FunctionCallInfo fcinfo, void *s)
{
	linreg_state *state = s;
	linear_options opt;
	clv_regression_fit fit;
	clv_error	err;

	if (state == NULL)
		no_rows("clv_linreg_fit");
	parse_linear_options(state->options, false, &opt);
	/* a partial state from another server was never checked by a first row */
	clv_check_feature_names(&opt.features, state->acc.p);
	clv_check(clv_linreg_solve_enet(&state->acc, opt.l2, opt.l1, &fit, &err), &err);
	PG_RETURN_BYTEA_P(linreg_model(&state->acc, state->options, &opt, &fit));
}

PG_FUNCTION_INFO_V1(clv_linreg_fit_final);
Datum
clv_linreg_fit_final(PG_FUNCTION_ARGS)
{
	return clv_internal_final(fcinfo, linreg_finish);
}

PG_FUNCTION_INFO_V1(clv_linreg_fit_final_v2);
Datum
clv_linreg_fit_final_v2(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_linreg_family, linreg_finish);
}

/* ---- a fit and its error from the statistics alone -------------------------- */

/*
 * clv_linreg_stats(y, x [, options]) returns clv_linreg_fit's state, the
 * sufficient statistics of the rows; states of disjoint rows combine
 * (clv_state_merge) into those of their union.  Cross-validation then needs
 * one pass over the rows: one state per fold, each fold's model fitted from
 * the merge of the others, and scored on its own state.
 */

/* Options a replaced key by key by b (either may be NULL). */
static Jsonb *
options_replaced(Jsonb *a, Jsonb *b)
{
	if (a == NULL || b == NULL)
		return a == NULL ? b : a;
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(a),
											  JsonbPGetDatum(b)));
}

/* clv_linreg_fit_stats(stats clv_state [, options jsonb]) → bytea */
PG_FUNCTION_INFO_V1(clv_linreg_fit_stats);
Datum
clv_linreg_fit_stats(PG_FUNCTION_ARGS)
{
	linreg_state state = *(const linreg_state *) clv_state_arg(fcinfo, 0, &clv_linreg_family);

	/* the options given replace those of the statistics key by key */
	if (PG_NARGS() > 1)
		state.options = options_replaced(state.options, PG_GETARG_JSONB_P(1));
	return linreg_finish(fcinfo, &state);
}

/*
 * clv_linreg_path(stats clv_state, l1 float8[] [, options jsonb])
 *     → TABLE(l1 float8, model bytea)
 *
 * One model per value of l1, in the order given: each is the model
 * clv_linreg_fit_stats(stats, options || {"l1": value}) returns, the options
 * recorded in it included.  The core solves them from the largest l1 down,
 * each solution the next one's start.
 */
PG_FUNCTION_INFO_V1(clv_linreg_path);
Datum
clv_linreg_path(PG_FUNCTION_ARGS)
{
	const linreg_state *state = clv_state_arg(fcinfo, 0, &clv_linreg_family);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Jsonb	   *options = state->options;
	linear_options opt;
	clv_regression_fit *fits;
	clv_error	err;
	const double *l1;
	int			n_l1;

	l1 = clv_float8_array(PG_GETARG_ARRAYTYPE_P(1), "l1", &n_l1, false);
	for (int i = 0; i < n_l1; i++)
		if (l1[i] < 0 || l1[i] > 1e300)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("l1 values must be between 0 and 1e+300"),
					 errdetail("Element %d is %g.", i + 1, l1[i])));
	if (PG_NARGS() > 2)
		options = options_replaced(options, PG_GETARG_JSONB_P(2));
	parse_linear_options(options, false, &opt);
	clv_check_feature_names(&opt.features, state->acc.p);

	fits = palloc0(sizeof(clv_regression_fit) * n_l1);
	clv_check(clv_linreg_solve_path(&state->acc, opt.l2, l1, n_l1, fits, &err), &err);

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < n_l1; i++)
	{
		char		one[64];
		Jsonb	   *with_l1;
		Datum		values[2];
		bool		nulls[2] = {false, false};

		/* the number as jsonb_build_object('l1', value) writes it */
		snprintf(one, sizeof(one), "{\"l1\": %s}", float8out_internal(l1[i]));
		with_l1 = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(one)));
		opt.l1 = l1[i];
		values[0] = Float8GetDatum(l1[i]);
		values[1] = PointerGetDatum(linreg_model(&state->acc, options_replaced(options, with_l1),
												 &opt, &fits[i]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		clv_regression_fit_free(&fits[i]);
	}
	return (Datum) 0;
}

/* clv_linreg_mse(model bytea, stats clv_state) → float8 */
PG_FUNCTION_INFO_V1(clv_linreg_mse);
Datum
clv_linreg_mse(PG_FUNCTION_ARGS)
{
	clv_model  *model = clv_model_from_bytea(PG_GETARG_BYTEA_PP(0));
	const linreg_state *state = clv_state_arg(fcinfo, 1, &clv_linreg_family);
	clv_error	err;
	double		rss;

	if (model->kind != CLV_KIND_LINREG)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clv_linreg_mse cannot use a %s model", clv_model_kind_name(model->kind)),
				 errhint("clv_linreg_mse takes a model fitted by clv_linreg_fit or clv_linreg_fit_stats.")));
	if (model->n_features != state->acc.p)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the statistics have %u features, but the model has %u",
						state->acc.p, model->n_features)));
	clv_check(clv_linreg_rss(&state->acc, model->coef, &rss, &err), &err);
	PG_RETURN_FLOAT8(rss / clv_linreg_acc_count(&state->acc));
}

/* ---- clv_logreg_fit ------------------------------------------------------- */

static void *
logreg_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	logreg_state *state = prev;
	int			n;
	const double *x;
	bool		y;
	clv_error	err;
	clv_status	st;
	MemoryContext old;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("y must not be NULL")));
	y = PG_GETARG_BOOL(1);
	x = clv_row_features(fcinfo, 2, state ? (int) state->rows.p : -1,
						 CLV_LINREG_MAX_FEATURES, "linear", false, &n);

	old = MemoryContextSwitchTo(cxt);
	if (state == NULL)
	{
		linear_options opt;

		state = palloc0(sizeof(logreg_state));
		state->options = clv_options_arg(fcinfo, 3, cxt);
		parse_linear_options(state->options, true, &opt);
		clv_check_feature_names(&opt.features, n);
		clv_rows_init(&state->rows, n, clv_training_memory_bytes());
	}
	else
		clv_check_options_row(fcinfo, 3, state->options, "clv_logreg_fit");
	st = clv_rows_append(&state->rows, y ? 1.0 : 0.0, x, &err);
	MemoryContextSwitchTo(old);
	if (st != CLV_OK)
	{
		clv_set_hint(&err, "Raise clv.max_training_memory, or fit on a sample.");
		clv_raise(&err);
	}
	return state;
}

static void *
logreg_new_like(const void *b, MemoryContext cxt)
{
	const logreg_state *src = b;
	logreg_state *dst = palloc0(sizeof(logreg_state));

	clv_rows_init(&dst->rows, src->rows.p, clv_training_memory_bytes());
	dst->options = clv_copy_jsonb(cxt, src->options);
	return dst;
}

static void
logreg_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
	const logreg_state *sa = a,
			   *sb = b;

	if (sa->rows.p != sb->rows.p)
		clv_feature_count_error(true, sa->rows.p, sb->rows.p);
	clv_check_options_agree(fcinfo, sa->options, sb->options);
}

static void
logreg_merge(void *a, const void *b)
{
	clv_error	err;

	if (clv_rows_merge(&((logreg_state *) a)->rows, &((const logreg_state *) b)->rows,
					   &err) != CLV_OK)
	{
		clv_set_hint(&err, "Raise clv.max_training_memory, or fit on a sample.");
		clv_raise(&err);
	}
}

static void
logreg_send(StringInfo buf, const void *s)
{
	const logreg_state *state = s;

	clv_state_send_begin(buf, state->rows.n, (state->rows.p + 1) * sizeof(double),
						 4 + 8 + clv_sent_jsonb_bytes(state->options), "rows");
	pq_sendint32(buf, state->rows.p);
	pq_sendint64(buf, state->rows.n);
	clv_send_jsonb(buf, state->options);
	/* in the machine's byte order, which the flat state's header records */
	clv_state_send_bytes(buf, state->rows.y, state->rows.n * sizeof(double));
	clv_state_send_bytes(buf, state->rows.x, state->rows.n * state->rows.p * sizeof(double));
}

/*
 * The rows are a view of the bytes: whoever keeps the state copies them
 * (with memcpy, so the view needs no alignment).
 */
static void *
logreg_receive(StringInfo buf)
{
	logreg_state *state;
	uint32		p;
	uint64		n;

	p = clv_state_uint32(buf);
	n = (uint64) clv_state_int64(buf);
	if (p < 1 || p > CLV_LINREG_MAX_FEATURES)
		clv_invalid_state("The feature count is %u.", p);
	if (n > (uint64) buf->len / ((p + 1) * sizeof(double)))
		clv_invalid_state("The row count is " UINT64_FORMAT ".", n);
	state = palloc0(sizeof(logreg_state));
	state->options = clv_receive_jsonb(buf);
	clv_rows_init(&state->rows, p, 0);
	state->rows.n = state->rows.cap = n;
	state->rows.y = (double *) clv_state_take(buf, n * sizeof(double));
	state->rows.x = (double *) clv_state_take(buf, n * p * sizeof(double));
	return state;
}

const clv_state_family clv_logreg_family = {
	CLV_STATE_LOGREG, "clv_logreg_fit",
	{"clv_logreg_fit_combine", logreg_new_like, logreg_check_same, logreg_merge},
	logreg_send, logreg_receive
};

PG_FUNCTION_INFO_V1(clv_logreg_fit_trans);
Datum
clv_logreg_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, logreg_step);
}

PG_FUNCTION_INFO_V1(clv_logreg_fit_trans_v2);
Datum
clv_logreg_fit_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_logreg_family, logreg_step);
}

PG_FUNCTION_INFO_V1(clv_logreg_fit_combine);
Datum
clv_logreg_fit_combine(PG_FUNCTION_ARGS)
{
	return clv_combine_states(fcinfo, &clv_logreg_family.combine);
}

PG_FUNCTION_INFO_V1(clv_logreg_fit_serialize);
Datum
clv_logreg_fit_serialize(PG_FUNCTION_ARGS)
{
	return clv_internal_serialize(fcinfo, &clv_logreg_family);
}

PG_FUNCTION_INFO_V1(clv_logreg_fit_deserialize);
Datum
clv_logreg_fit_deserialize(PG_FUNCTION_ARGS)
{
	return clv_internal_deserialize(fcinfo, &clv_logreg_family);
}

static Datum
logreg_finish(FunctionCallInfo fcinfo, void *s)
{
	logreg_state *state = s;
	linear_options opt;
	clv_logreg_options lopt;
	clv_rows	sorted;
	clv_regression_fit fit;
	clv_error	err;
	StringInfoData meta;
	double	   *means;

	if (state == NULL)
		no_rows("clv_logreg_fit");
	parse_linear_options(state->options, true, &opt);
	clv_check_feature_names(&opt.features, state->rows.p);
	lopt.l2 = opt.l2;
	lopt.max_iter = opt.max_iter;
	lopt.tol = opt.tol;
	/* Newton's sums in a canonical row order: the same model whatever the plan */
	clv_rows_sorted_copy(&state->rows, &sorted);
	clv_check(clv_logreg_solve(&sorted, &lopt, &fit, &err), &err);

	initStringInfo(&meta);
	appendStringInfoChar(&meta, '{');
	json_regression(&meta, &fit, "z_values", &opt, state->options);
	clv_json_number(&meta, "log_likelihood", fit.log_likelihood);
	clv_json_number(&meta, "deviance", fit.deviance);
	clv_json_number(&meta, "null_deviance", fit.null_deviance);
	clv_json_number(&meta, "aic", fit.aic);
	clv_json_number(&meta, "iterations", fit.iterations);
	clv_json_key(&meta, "converged");
	appendStringInfoString(&meta, fit.converged ? "true" : "false");
	/* the training means, which clv_explain centres the features at */
	means = palloc(sizeof(double) * sorted.p);
	clv_rows_feature_means(&sorted, means);
	clv_rows_free(&sorted);
	clv_json_numbers(&meta, "feature_means", means, state->rows.p);
	appendStringInfoChar(&meta, '}');
	PG_RETURN_BYTEA_P(regression_model(CLV_KIND_LOGREG, &fit, &opt, &meta));
}

PG_FUNCTION_INFO_V1(clv_logreg_fit_final);
Datum
clv_logreg_fit_final(PG_FUNCTION_ARGS)
{
	return clv_internal_final(fcinfo, logreg_finish);
}

PG_FUNCTION_INFO_V1(clv_logreg_fit_final_v2);
Datum
clv_logreg_fit_final_v2(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_logreg_family, logreg_finish);
}
