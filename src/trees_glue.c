/*
 * trees_glue.c — clv_forest_fit and clv_gbm_fit aggregates, and what
 * clv_model_info reports about a tree ensemble.
 *
 * Trees revisit their rows many times, so the state keeps the rows (float4
 * features, NaN = missing) in a clv_tree_rows buffer bounded by
 * clv.max_training_memory.  Training sorts the rows into a canonical order
 * first, so the model depends only on the multiset of rows and the seed:
 * combining partial states in any order (parallel plans) gives the same
 * bytes.  That sort is why the final functions are declared READ_WRITE.
 * The options are parsed in trees_options.c.  clv_mlp_fit keeps its rows
 * in the same state (mlp_glue.c).
 */
#include "clv.h"

#include <math.h>

#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "trees_options.h"


/* ---- transition ----------------------------------------------------------- */

/*
 * The features of one training row.  NaN marks a missing value; infinities
 * have no place among a tree's quantile bins and are an error.
 */
static const double *
row_features(FunctionCallInfo fcinfo, const trees_fit *fit, int expected, int *n)
{
	const double *x = clv_row_features(fcinfo, 2, expected, CLV_TREES_MAX_FEATURES,
									   fit->model_name, fit->missing_allowed, n);

	if (!fit->missing_allowed)
		return x;			/* NaN and infinities were refused */

	for (int j = 0; j < *n; j++)
		if (unlikely(isinf(x[j])))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("x must not contain infinite values"),
					 errdetail("Element %d is %s.", j + 1, x[j] > 0 ? "Infinity" : "-Infinity"),
					 errhint("Tree models take NaN as a missing value.")));
	return x;
}

static void
check_target(const trees_state *state, const char *fname, double y)
{
	if (state->loss == CLV_LOSS_LOGISTIC && !state->boolean_y && y != 0 && y != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s with the \"logistic\" loss needs y to be 0 or 1", fname),
				 errdetail("A row has y = %g.", y),
				 errhint("Pass a boolean y instead.")));
	if (state->loss == CLV_LOSS_TWEEDIE && y < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s with the \"tweedie\" loss needs y to be at least 0", fname),
				 errdetail("A row has y = %g.", y)));
}

void *
clv_trees_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt, const trees_fit *fit,
			   bool boolean_y)
{
	trees_state *state = prev;
	double		y;
	int			n;
	const double *x;
	clv_error	err;
	clv_status	st;
	MemoryContext old;

	if (boolean_y)
	{
		if (PG_ARGISNULL(1))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("y must not be NULL")));
		y = PG_GETARG_BOOL(1) ? 1.0 : 0.0;
	}
	else
		y = clv_finite_arg(fcinfo, 1, "y");
	x = row_features(fcinfo, fit, state ? (int) state->rows.p : -1, &n);

	old = MemoryContextSwitchTo(cxt);
	if (state == NULL)
	{
		trees_glue_options g;

		state = palloc0(sizeof(trees_state));
		state->options = clv_options_arg(fcinfo, 3, cxt);
		state->boolean_y = boolean_y;
		/* parse now, so that bad options fail on the first row */
		state->loss = fit->parse(state->options, n, boolean_y, &g);
		clv_check_feature_names(&g.features, n);
		clv_tree_rows_init(&state->rows, n, clv_training_memory_bytes());
	}
	else if (state->boolean_y != boolean_y)
		clv_state_of_other_aggregate(fcinfo, boolean_y ? "a regression fit" : "a classification fit");
	else
		clv_check_options_row(fcinfo, 3, state->options, fit->fname);
	check_target(state, fit->fname, y);
	st = clv_tree_rows_append(&state->rows, y, x, &err);
	MemoryContextSwitchTo(old);
	if (st != CLV_OK)
	{
		if (st == CLV_ERR_LIMIT)
			clv_set_hint(&err, "Raise clv.max_training_memory, or fit on a sample.");
		clv_raise(&err);
	}
	return state;
}

static int32
forest_parse(Jsonb *options, uint32 p, bool boolean_y, trees_glue_options *g)
{
	clv_forest_options fopt;

	clv_parse_forest_options(options, p, boolean_y, &fopt, g);
	return 0;
}

static int32
gbm_parse(Jsonb *options, uint32 p, bool boolean_y, trees_glue_options *g)
{
	clv_gbm_options gopt;

	(void) p;
	clv_parse_gbm_options(options, boolean_y, &gopt, g);
	return gopt.loss;
}

static const trees_fit forest_fit = {"clv_forest_fit", "tree", true, forest_parse};
static const trees_fit gbm_fit = {"clv_gbm_fit", "tree", true, gbm_parse};

static void *
forest_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return clv_trees_step(fcinfo, prev, cxt, &forest_fit, false);
}

static void *
forest_bool_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return clv_trees_step(fcinfo, prev, cxt, &forest_fit, true);
}

static void *
gbm_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return clv_trees_step(fcinfo, prev, cxt, &gbm_fit, false);
}

static void *
gbm_bool_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return clv_trees_step(fcinfo, prev, cxt, &gbm_fit, true);
}

/* ---- combine, serialize, deserialize -------------------------------------- */

static void *
trees_new_like(const void *b, MemoryContext cxt)
{
	const trees_state *src = b;
	trees_state *dst = palloc0(sizeof(trees_state));

	clv_tree_rows_init(&dst->rows, src->rows.p, clv_training_memory_bytes());
	dst->options = clv_copy_jsonb(cxt, src->options);
	dst->boolean_y = src->boolean_y;
	dst->loss = src->loss;
	return dst;
}

static void
trees_check_same(FunctionCallInfo fcinfo, const void *a, const void *b)
{
	const trees_state *sa = a,
			   *sb = b;

	if (sa->rows.p != sb->rows.p)
		clv_feature_count_error(true, sa->rows.p, sb->rows.p);
	clv_check_options_agree(fcinfo, sa->options, sb->options);
}

static void
trees_merge(void *a, const void *b)
{
	clv_error	err;
	clv_status	st;

	st = clv_tree_rows_merge(&((trees_state *) a)->rows, &((const trees_state *) b)->rows, &err);
	if (st != CLV_OK)
	{
		if (st == CLV_ERR_LIMIT)
			clv_set_hint(&err, "Raise clv.max_training_memory, or fit on a sample.");
		clv_raise(&err);
	}
}

static void
trees_send(StringInfo buf, const void *s)
{
	const trees_state *state = s;

	clv_state_send_begin(buf, state->rows.n, sizeof(double) + state->rows.p * sizeof(float),
						 4 + 8 + 1 + 4 + clv_sent_jsonb_bytes(state->options), "rows");
	pq_sendint32(buf, state->rows.p);
	pq_sendint64(buf, state->rows.n);
	pq_sendbyte(buf, state->boolean_y ? 1 : 0);
	pq_sendint32(buf, state->loss);
	clv_send_jsonb(buf, state->options);
	/* in the machine's byte order, which the flat state's header records */
	clv_state_send_bytes(buf, state->rows.y, state->rows.n * sizeof(double));
	clv_state_send_bytes(buf, state->rows.x, state->rows.n * state->rows.p * sizeof(float));
}

/*
 * The state is read where it lies: its rows are a view of the bytes, in the
 * current context like everything else here, and whoever keeps the state
 * copies them into its own.  Keeping a copy in the aggregate context instead
 * would hold every worker's rows twice until the group ends.
 */
static void *
trees_receive(StringInfo buf)
{
	trees_state *state;
	uint32		p;
	uint64		n;
	int			flag;

	p = clv_state_uint32(buf);
	n = (uint64) clv_state_int64(buf);
	flag = clv_state_byte(buf);
	if (p < 1 || p > CLV_TREES_MAX_FEATURES)
		clv_invalid_state("The feature count is %u.", p);
	if (flag != 0 && flag != 1)
		clv_invalid_state("The target type is %d.", flag);

	state = palloc0(sizeof(trees_state));
	state->boolean_y = flag;
	state->loss = (int32) clv_state_uint32(buf);
	if (state->loss < 0 || state->loss > CLV_LOSS_TWEEDIE)
		clv_invalid_state("The loss is %d.", state->loss);
	state->options = clv_receive_jsonb(buf);
	clv_tree_rows_init(&state->rows, p, 0);
	if (n > (uint64) buf->len / (sizeof(double) + p * sizeof(float)))
		clv_invalid_state("The row count is " UINT64_FORMAT ".", n);
	/* the merge copies with memcpy: the views need no alignment */
	state->rows.n = state->rows.cap = n;
	state->rows.y = (double *) clv_state_take(buf, n * sizeof(double));
	state->rows.x = (float *) clv_state_take(buf, n * p * sizeof(float));
	return state;
}

const clv_state_family clv_trees_family = {
	CLV_STATE_TREES, "clv_forest_fit or clv_gbm_fit",
	{"clv_trees_fit_combine", trees_new_like, trees_check_same, trees_merge},
	trees_send, trees_receive
};

PG_FUNCTION_INFO_V1(clv_forest_fit_trans);
Datum
clv_forest_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, forest_step);
}

PG_FUNCTION_INFO_V1(clv_forest_fit_trans_v2);
Datum
clv_forest_fit_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_trees_family, forest_step);
}

PG_FUNCTION_INFO_V1(clv_forest_fit_bool_trans);
Datum
clv_forest_fit_bool_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, forest_bool_step);
}

PG_FUNCTION_INFO_V1(clv_forest_fit_bool_trans_v2);
Datum
clv_forest_fit_bool_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_trees_family, forest_bool_step);
}

PG_FUNCTION_INFO_V1(clv_gbm_fit_trans);
Datum
clv_gbm_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, gbm_step);
}

PG_FUNCTION_INFO_V1(clv_gbm_fit_trans_v2);
Datum
clv_gbm_fit_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_trees_family, gbm_step);
}

PG_FUNCTION_INFO_V1(clv_gbm_fit_bool_trans);
Datum
clv_gbm_fit_bool_trans(PG_FUNCTION_ARGS)
{
	return clv_internal_trans(fcinfo, gbm_bool_step);
}

PG_FUNCTION_INFO_V1(clv_gbm_fit_bool_trans_v2);
Datum
clv_gbm_fit_bool_trans_v2(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_trees_family, gbm_bool_step);
}

PG_FUNCTION_INFO_V1(clv_trees_fit_combine);
Datum
clv_trees_fit_combine(PG_FUNCTION_ARGS)
{
	return clv_combine_states(fcinfo, &clv_trees_family.combine);
}

PG_FUNCTION_INFO_V1(clv_trees_fit_serialize);
Datum
clv_trees_fit_serialize(PG_FUNCTION_ARGS)
{
	return clv_internal_serialize(fcinfo, &clv_trees_family);
}

PG_FUNCTION_INFO_V1(clv_trees_fit_deserialize);
Datum
clv_trees_fit_deserialize(PG_FUNCTION_ARGS)
{
	return clv_internal_deserialize(fcinfo, &clv_trees_family);
}

/* ---- final functions ------------------------------------------------------ */

pg_attribute_noreturn()
static void
no_rows(const char *fname)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("%s cannot fit a model on zero rows", fname)));
}

static void
json_bool(StringInfo buf, const char *key, bool v)
{
	clv_json_key(buf, key);
	appendStringInfoString(buf, v ? "true" : "false");
}

static void
json_string(StringInfo buf, const char *key, const char *v)
{
	clv_json_key(buf, key);
	escape_json(buf, v);
}

/* The settings every tree shares: the resolved values, defaults included. */
static void
json_tree_settings(StringInfo buf, const clv_tree_settings *t)
{
	clv_json_number(buf, "max_depth", t->max_depth);
	clv_json_number(buf, "min_samples_leaf", t->min_samples_leaf);
	clv_json_number(buf, "min_gain", t->min_gain);
	clv_json_number(buf, "max_bins", t->max_bins);
	clv_json_number(buf, "seed", (double) t->seed);
}

static void
json_options(StringInfo buf, Jsonb *options)
{
	clv_json_key(buf, "options");
	appendStringInfoString(buf, options ? JsonbToCString(NULL, &options->root, VARSIZE(options)) : "{}");
}

/*
 * The model bytea.  The thread count is deliberately not recorded: the
 * model does not depend on it, and its bytes must not either.
 */
static bytea *
ensemble_model(clv_model_kind kind, clv_ensemble *e, const trees_glue_options *g, StringInfo meta)
{
	clv_model	model = {0};
	bytea	   *out;

	model.kind = kind;
	model.n_features = e->n_features;
	model.feature_names = g->features.n > 0 ? g->features.names : NULL;
	model.meta = meta->data;
	model.ensemble = e;
	out = clv_model_to_bytea(&model);
	clv_ensemble_free(e);
	return out;
}

static Datum
forest_finish(FunctionCallInfo fcinfo, void *s)
{
	trees_state *state = s;
	clv_forest_options opt;
	trees_glue_options g;
	clv_ensemble *e;
	clv_error	err;
	StringInfoData meta;
	size_t		n;

	if (state == NULL)
		no_rows("clv_forest_fit");
	clv_parse_forest_options(state->options, state->rows.p, state->boolean_y, &opt, &g);
	/* a partial state from another server was never checked by a first row */
	clv_check_feature_names(&g.features, state->rows.p);
	n = state->rows.n;
	clv_check(clv_forest_train(&state->rows, &opt, &e, &err), &err);

	initStringInfo(&meta);
	appendStringInfoChar(&meta, '{');
	clv_json_number(&meta, "n", (double) n);
	json_string(&meta, "task", opt.classification ? "classification" : "regression");
	json_options(&meta, state->options);
	clv_json_key(&meta, "settings");
	{
		StringInfoData s;

		initStringInfo(&s);
		appendStringInfoChar(&s, '{');
		clv_json_number(&s, "n_trees", opt.n_trees);
		json_tree_settings(&s, &opt.tree);
		clv_json_number(&s, "mtry", opt.mtry);
		clv_json_number(&s, "sample_fraction", opt.sample_fraction);
		json_bool(&s, "replace", opt.replace);
		json_string(&s, "criterion", opt.criterion == CLV_CRITERION_SQUARED ? "squared" :
					opt.criterion == CLV_CRITERION_GINI ? "gini" : "entropy");
		json_bool(&s, "permutation_importance", opt.permutation_importance);
		appendStringInfoChar(&s, '}');
		appendStringInfoString(&meta, s.data);
	}
	appendStringInfoChar(&meta, '}');
	PG_RETURN_BYTEA_P(ensemble_model(CLV_KIND_FOREST, e, &g, &meta));
}

PG_FUNCTION_INFO_V1(clv_forest_fit_final);
Datum
clv_forest_fit_final(PG_FUNCTION_ARGS)
{
	return clv_internal_final(fcinfo, forest_finish);
}

PG_FUNCTION_INFO_V1(clv_forest_fit_final_v2);
Datum
clv_forest_fit_final_v2(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_trees_family, forest_finish);
}

static Datum
gbm_finish(FunctionCallInfo fcinfo, void *s)
{
	trees_state *state = s;
	clv_gbm_options opt;
	trees_glue_options g;
	clv_ensemble *e;
	clv_error	err;
	StringInfoData meta;
	size_t		n;

	if (state == NULL)
		no_rows("clv_gbm_fit");
	clv_parse_gbm_options(state->options, state->boolean_y, &opt, &g);
	clv_check_feature_names(&g.features, state->rows.p);
	n = state->rows.n;
	clv_check(clv_gbm_train(&state->rows, &opt, &e, &err), &err);

	initStringInfo(&meta);
	appendStringInfoChar(&meta, '{');
	clv_json_number(&meta, "n", (double) n);
	json_string(&meta, "loss", clv_gbm_loss_name(opt.loss));
	json_options(&meta, state->options);
	clv_json_key(&meta, "settings");
	{
		StringInfoData s;

		initStringInfo(&s);
		appendStringInfoChar(&s, '{');
		json_string(&s, "loss", clv_gbm_loss_name(opt.loss));
		if (opt.loss == CLV_LOSS_TWEEDIE)
			clv_json_number(&s, "tweedie_power", opt.tweedie_power);
		clv_json_number(&s, "n_rounds", opt.n_rounds);
		clv_json_number(&s, "learning_rate", opt.learning_rate);
		json_tree_settings(&s, &opt.tree);
		clv_json_number(&s, "min_child_weight", opt.min_child_weight);
		clv_json_number(&s, "l2", opt.l2);
		clv_json_number(&s, "subsample", opt.subsample);
		clv_json_number(&s, "colsample", opt.colsample);
		clv_json_number(&s, "validation_fraction", opt.validation_fraction);
		clv_json_number(&s, "early_stopping_rounds", opt.early_stopping_rounds);
		appendStringInfoChar(&s, '}');
		appendStringInfoString(&meta, s.data);
	}
	appendStringInfoChar(&meta, '}');
	PG_RETURN_BYTEA_P(ensemble_model(CLV_KIND_GBM, e, &g, &meta));
}

PG_FUNCTION_INFO_V1(clv_gbm_fit_final);
Datum
clv_gbm_fit_final(PG_FUNCTION_ARGS)
{
	return clv_internal_final(fcinfo, gbm_finish);
}

PG_FUNCTION_INFO_V1(clv_gbm_fit_final_v2);
Datum
clv_gbm_fit_final_v2(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_trees_family, gbm_finish);
}

/* ---- clv_model_info ------------------------------------------------------- */

static void
json_per_feature(StringInfo buf, const char *key, const clv_model *model, const double *v)
{
	if (model->feature_names)
		clv_json_named_numbers(buf, key, (const char *const *) model->feature_names,
							   v, model->n_features);
	else
		clv_json_numbers(buf, key, v, model->n_features);
}

void
clv_ensemble_info(StringInfo buf, const clv_model *model)
{
	const clv_ensemble *e = model->ensemble;

	if (e->type == CLV_ENSEMBLE_FOREST)
		json_string(buf, "task", e->classification ? "classification" : "regression");
	else
		json_string(buf, "loss", e->link == CLV_LINK_LOGIT ? "logistic" :
					e->link == CLV_LINK_LOG ? "tweedie" : "squared");
	clv_json_number(buf, "n_trees", e->n_trees);
	clv_json_number(buf, "n_nodes", e->n_nodes);
	clv_json_number(buf, "max_depth", clv_ensemble_depth(e));
	clv_json_number(buf, "base_score", e->base_score);
	clv_json_number(buf, "expected_value", clv_ensemble_expected(e, model->n_features));
	json_per_feature(buf, "importance", model, e->importance);
	if (e->permutation_importance)
		json_per_feature(buf, "permutation_importance", model, e->permutation_importance);
	if (e->type == CLV_ENSEMBLE_FOREST)
	{
		clv_json_number(buf, "oob_score", e->oob_score);
		clv_json_number(buf, "oob_error", e->oob_error);
	}
	else
	{
		clv_json_number(buf, "best_round", e->best_round);
		clv_json_number(buf, "train_loss", e->train_loss);
		clv_json_number(buf, "valid_loss", e->valid_loss);
	}
}
