/*
 * mlp_glue.c — the clv_mlp_fit aggregates (multi-layer perceptrons), their
 * options, and what clv_model_info reports about a network.
 *
 * A network revisits its rows every epoch, so the fit keeps them as the tree
 * ensembles do: the same state family (trees_glue.c), bounded by
 * clv.max_training_memory, sorted into canonical order before training, so
 * that serial and parallel plans give the same bytes.  Unlike a tree, a
 * network has no missing values: NaN in x is an error at the row.
 */
#include "clv.h"

#include "mlp.h"
#include "trees_options.h"

static const char *const fname = "clv_mlp_fit";

static const char *
activation_name(clv_mlp_activation a)
{
	return a == CLV_MLP_TANH ? "tanh" : "relu";
}

static const char *
loss_name(clv_mlp_loss loss)
{
	return loss == CLV_MLP_LOG_LOSS ? "log_loss" : "squared_error";
}

/* Parse the options; unknown keys and bad values are errors (22023). */
static void
parse_mlp_options(Jsonb *options, bool boolean_y, clv_mlp_options *opt, trees_glue_options *g)
{
	clv_numbers hidden = {-1, NULL};
	char	   *activation = NULL,
			   *loss = NULL;
	int			batch_size,
				max_epochs,
				n_iter_no_change;
	double		learning_rate,
				l2,
				validation_fraction,
				tol,
				seed = 0;
	bool		early_stopping;
	const clv_option spec[] = {
		{"hidden_layers", CLV_OPT_NUMBERS, &hidden, 1, CLV_MLP_MAX_UNITS},
		{"activation", CLV_OPT_STRING, &activation, 0, 0},
		{"loss", CLV_OPT_STRING, &loss, 0, 0},
		{"learning_rate", CLV_OPT_NUMBER, &learning_rate, 0, 1e300},
		{"batch_size", CLV_OPT_INTEGER, &batch_size, 1, CLV_MLP_MAX_BATCH},
		{"max_epochs", CLV_OPT_INTEGER, &max_epochs, 1, CLV_MLP_MAX_EPOCHS},
		{"l2", CLV_OPT_NUMBER, &l2, 0, 1e300},
		{"early_stopping", CLV_OPT_BOOL, &early_stopping, 0, 0},
		{"validation_fraction", CLV_OPT_NUMBER, &validation_fraction, 0, 1},
		{"n_iter_no_change", CLV_OPT_INTEGER, &n_iter_no_change, 1, CLV_MLP_MAX_EPOCHS},
		{"tol", CLV_OPT_NUMBER, &tol, 0, 1e300},
		{"seed", CLV_OPT_NUMBER, &seed, 0, CLV_MAX_SEED},
		{"progress", CLV_OPT_BOOL, &g->progress, 0, 0},
		{"features", CLV_OPT_NAMES, &g->features, 0, 0},
	};

	clv_mlp_options_default(opt, boolean_y);
	memset(g, 0, sizeof(*g));
	batch_size = 0;
	max_epochs = opt->max_epochs;
	n_iter_no_change = opt->n_iter_no_change;
	learning_rate = opt->learning_rate;
	l2 = opt->l2;
	validation_fraction = opt->validation_fraction;
	tol = opt->tol;
	early_stopping = opt->early_stopping;

	clv_parse_options(options, fname, spec, lengthof(spec));

	if (hidden.n >= 0)
	{
		if (hidden.n > CLV_MLP_MAX_HIDDEN_LAYERS)
			clv_option_out_of_range(fname, "hidden_layers",
									psprintf("A network has at most %d hidden layers.",
											 CLV_MLP_MAX_HIDDEN_LAYERS));
		opt->n_hidden = hidden.n;
		for (int l = 0; l < hidden.n; l++)
		{
			if (hidden.v[l] != floor(hidden.v[l]))
				clv_option_out_of_range(fname, "hidden_layers",
										"The layer sizes must be whole numbers.");
			opt->hidden[l] = (uint32) hidden.v[l];
		}
	}
	if (activation != NULL)
	{
		if (strcmp(activation, "relu") == 0)
			opt->activation = CLV_MLP_RELU;
		else if (strcmp(activation, "tanh") == 0)
			opt->activation = CLV_MLP_TANH;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"activation\" of %s has an invalid value \"%s\"", fname, activation),
					 errhint("Use \"relu\" or \"tanh\".")));
	}
	if (loss != NULL)
	{
		if (strcmp(loss, "squared_error") == 0)
			opt->loss = CLV_MLP_SQUARED_ERROR;
		else if (strcmp(loss, "log_loss") == 0)
			opt->loss = CLV_MLP_LOG_LOSS;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"loss\" of %s has an invalid value \"%s\"", fname, loss),
					 errhint("Use \"squared_error\" or \"log_loss\".")));
		if (boolean_y && opt->loss != CLV_MLP_LOG_LOSS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("clv_mlp_fit with a boolean y needs the \"log_loss\" loss")));
	}
	if (!(learning_rate > 0))
		clv_option_out_of_range(fname, "learning_rate", "The value must be greater than 0.");
	if (early_stopping && !(validation_fraction > 0 && validation_fraction < 1))
		clv_option_out_of_range(fname, "validation_fraction",
								"With early stopping the value must be greater than 0 and less than 1.");
	opt->batch_size = batch_size;
	opt->max_epochs = max_epochs;
	opt->n_iter_no_change = n_iter_no_change;
	opt->learning_rate = learning_rate;
	opt->l2 = l2;
	opt->validation_fraction = validation_fraction;
	opt->tol = tol;
	opt->early_stopping = early_stopping;
	opt->seed = clv_option_seed(fname, seed);
	opt->n_threads = (uint32) clv_training_threads;
	opt->progress = g->progress ? clv_report_training_progress : NULL;
	opt->progress_arg = (void *) fname;
}

static int32
mlp_parse(Jsonb *options, uint32 p, bool boolean_y, trees_glue_options *g)
{
	clv_mlp_options opt;

	(void) p;
	parse_mlp_options(options, boolean_y, &opt, g);
	return 0;					/* the training checks y for the log loss */
}

static const trees_fit mlp_fit = {"clv_mlp_fit", "multi-layer perceptron", false, mlp_parse};

static void *
mlp_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return clv_trees_step(fcinfo, prev, cxt, &mlp_fit, false);
}

static void *
mlp_bool_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt)
{
	return clv_trees_step(fcinfo, prev, cxt, &mlp_fit, true);
}

PG_FUNCTION_INFO_V1(clv_mlp_fit_trans);
Datum
clv_mlp_fit_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_trees_family, mlp_step);
}

PG_FUNCTION_INFO_V1(clv_mlp_fit_bool_trans);
Datum
clv_mlp_fit_bool_trans(PG_FUNCTION_ARGS)
{
	return clv_state_trans(fcinfo, &clv_trees_family, mlp_bool_step);
}

/* The resolved settings, defaults included; the thread count is not one. */
static void
json_settings(StringInfo buf, const clv_mlp_options *opt, uint32 batch_size)
{
	double		hidden[CLV_MLP_MAX_HIDDEN_LAYERS];
	StringInfoData s;

	for (uint32 l = 0; l < opt->n_hidden; l++)
		hidden[l] = opt->hidden[l];
	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	clv_json_numbers(&s, "hidden_layers", hidden, opt->n_hidden);
	clv_json_string(&s, "activation", activation_name(opt->activation));
	clv_json_string(&s, "loss", loss_name(opt->loss));
	clv_json_number(&s, "learning_rate", opt->learning_rate);
	clv_json_number(&s, "batch_size", batch_size);
	clv_json_number(&s, "max_epochs", opt->max_epochs);
	clv_json_number(&s, "l2", opt->l2);
	clv_json_bool(&s, "early_stopping", opt->early_stopping);
	clv_json_number(&s, "validation_fraction", opt->validation_fraction);
	clv_json_number(&s, "n_iter_no_change", opt->n_iter_no_change);
	clv_json_number(&s, "tol", opt->tol);
	clv_json_number(&s, "seed", (double) opt->seed);
	appendStringInfoChar(&s, '}');
	clv_json_key(buf, "settings");
	appendStringInfoString(buf, s.data);
	pfree(s.data);
}

static Datum
mlp_finish(FunctionCallInfo fcinfo, void *s)
{
	trees_state *state = s;
	clv_mlp_options opt;
	trees_glue_options g;
	clv_mlp    *mlp;
	clv_error	err;
	clv_model	model = {0};
	StringInfoData meta;
	size_t		n;
	bytea	   *out;

	if (state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s cannot fit a model on zero rows", fname)));
	parse_mlp_options(state->options, state->boolean_y, &opt, &g);
	/* a partial state from another server was never checked by a first row */
	clv_check_feature_names(&g.features, state->rows.p);
	n = state->rows.n;
	clv_check(clv_mlp_train(&state->rows, &opt, &mlp, &err), &err);

	initStringInfo(&meta);
	appendStringInfoChar(&meta, '{');
	clv_json_number(&meta, "n", (double) n);
	clv_json_string(&meta, "task", opt.loss == CLV_MLP_LOG_LOSS ? "classification" : "regression");
	clv_json_key(&meta, "options");
	appendStringInfoString(&meta, state->options
						   ? JsonbToCString(NULL, &state->options->root, VARSIZE(state->options))
						   : "{}");
	json_settings(&meta, &opt, clv_mlp_batch_size(&opt, clv_mlp_training_rows(&opt, n)));
	appendStringInfoChar(&meta, '}');

	model.kind = CLV_KIND_MLP;
	model.n_features = mlp->n_features;
	model.feature_names = g.features.n > 0 ? g.features.names : NULL;
	model.meta = meta.data;
	model.mlp = mlp;
	out = clv_model_to_bytea(&model);
	clv_mlp_free(mlp);
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(clv_mlp_fit_final);
Datum
clv_mlp_fit_final(PG_FUNCTION_ARGS)
{
	return clv_state_final(fcinfo, &clv_trees_family, mlp_finish);
}

/* clv_model_info: the architecture, the loss curve and the epoch kept. */
void
clv_mlp_info(StringInfo buf, const clv_model *model)
{
	const clv_mlp *m = model->mlp;
	double	   *sizes = palloc(sizeof(double) * (m->n_layers + 1));

	for (uint32 l = 0; l <= m->n_layers; l++)
		sizes[l] = m->sizes[l];
	clv_json_numbers(buf, "layer_sizes", sizes, m->n_layers + 1);
	clv_json_string(buf, "activation", activation_name(m->activation));
	clv_json_string(buf, "loss", loss_name(m->loss));
	clv_json_string(buf, "output", m->loss == CLV_MLP_LOG_LOSS ? "logistic" : "identity");
	clv_json_number(buf, "n_weights", m->n_weights);
	clv_json_number(buf, "epochs", m->n_epochs);
	clv_json_number(buf, "best_epoch", m->best_epoch);
	clv_json_numbers(buf, "loss_curve", m->loss_curve, m->n_epochs);
	if (m->valid_curve)
		clv_json_numbers(buf, "validation_scores", m->valid_curve, m->n_epochs);
	clv_json_numbers(buf, "feature_means", m->x_mean, m->n_features);
	clv_json_numbers(buf, "feature_scales", m->x_scale, m->n_features);
	if (m->loss == CLV_MLP_SQUARED_ERROR)
	{
		clv_json_number(buf, "target_mean", m->y_mean);
		clv_json_number(buf, "target_scale", m->y_scale);
	}
	pfree(sizes);
}
