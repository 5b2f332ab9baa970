/*
 * trees_options.c — the options of clv_forest_fit and clv_gbm_fit: jsonb into
 * the core's option structs, with the run-time settings of the training
 * (threads from clv.training_threads, progress reports) added.
 */
#include "trees_options.h"

#include <limits.h>
#include <math.h>

#include "miscadmin.h"

void
clv_option_out_of_range(const char *fname, const char *key, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"%s\" of %s is out of range", key, fname),
			 errdetail("%s", detail)));
}

uint64
clv_option_seed(const char *fname, double seed)
{
	if (seed != floor(seed))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"seed\" of %s must be an integer", fname)));
	return (uint64) seed;
}

/*
 * Worker threads may be running while this reports, so it must not throw:
 * ereport(NOTICE) ends in CHECK_FOR_INTERRUPTS, which would serve a cancel
 * here and unwind with the workers still reading the rows.  Held off, the
 * cancel waits for the training's next poll, which joins the workers first.
 */
void
clv_report_training_progress(void *arg, uint32_t done, uint32_t total, const char *what)
{
	HOLD_INTERRUPTS();
	ereport(NOTICE,
			(errmsg("%s: %u of %u %s", (const char *) arg, done, total, what)));
	RESUME_INTERRUPTS();
}

static void
set_runtime(clv_tree_settings *tree, const char *fname, const trees_glue_options *g)
{
	tree->n_threads = (uint32) clv_training_threads;
	tree->progress = g->progress ? clv_report_training_progress : NULL;
	tree->progress_arg = (void *) fname;
}

void
clv_parse_forest_options(Jsonb *options, uint32 p, bool classification,
						 clv_forest_options *opt, trees_glue_options *g)
{
	const char *fname = "clv_forest_fit";
	int			n_trees,
				max_depth,
				min_samples_leaf,
				mtry,
				max_bins;
	double		min_gain,
				sample_fraction,
				seed = 0;
	bool		replace,
				permutation;
	char	   *criterion = NULL;
	const clv_option spec[] = {
		{"n_trees", CLV_OPT_INTEGER, &n_trees, 1, CLV_TREES_MAX_TREES},
		{"max_depth", CLV_OPT_INTEGER, &max_depth, 1, CLV_TREES_MAX_DEPTH},
		{"min_samples_leaf", CLV_OPT_INTEGER, &min_samples_leaf, 1, INT_MAX},
		{"min_gain", CLV_OPT_NUMBER, &min_gain, 0, 1e300},
		{"mtry", CLV_OPT_INTEGER, &mtry, 1, p},
		{"sample_fraction", CLV_OPT_NUMBER, &sample_fraction, 0, 1},
		{"replace", CLV_OPT_BOOL, &replace, 0, 0},
		{"criterion", CLV_OPT_STRING, &criterion, 0, 0},
		{"max_bins", CLV_OPT_INTEGER, &max_bins, 2, CLV_TREES_MAX_BINS},
		{"seed", CLV_OPT_NUMBER, &seed, 0, CLV_MAX_SEED},
		{"permutation_importance", CLV_OPT_BOOL, &permutation, 0, 0},
		{"progress", CLV_OPT_BOOL, &g->progress, 0, 0},
		{"features", CLV_OPT_NAMES, &g->features, 0, 0},
	};

	clv_forest_options_default(opt, p, classification);
	memset(g, 0, sizeof(*g));
	n_trees = opt->n_trees;
	max_depth = opt->tree.max_depth;
	min_samples_leaf = opt->tree.min_samples_leaf;
	mtry = opt->mtry;
	max_bins = opt->tree.max_bins;
	min_gain = opt->tree.min_gain;
	sample_fraction = opt->sample_fraction;
	replace = opt->replace;
	permutation = opt->permutation_importance;

	clv_parse_options(options, fname, spec, lengthof(spec));

	if (!(sample_fraction > 0))
		clv_option_out_of_range(fname, "sample_fraction", "The value must be greater than 0 and at most 1.");
	if (criterion != NULL)
	{
		if (strcmp(criterion, "squared") == 0 && !classification)
			opt->criterion = CLV_CRITERION_SQUARED;
		else if (strcmp(criterion, "gini") == 0 && classification)
			opt->criterion = CLV_CRITERION_GINI;
		else if (strcmp(criterion, "entropy") == 0 && classification)
			opt->criterion = CLV_CRITERION_ENTROPY;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"criterion\" of %s has an invalid value \"%s\"", fname, criterion),
					 errdetail(classification
							   ? "A boolean y (classification) takes \"gini\" or \"entropy\"."
							   : "A float8 y (regression) takes \"squared\".")));
	}
	opt->n_trees = n_trees;
	opt->tree.max_depth = max_depth;
	opt->tree.min_samples_leaf = min_samples_leaf;
	opt->tree.min_gain = min_gain;
	opt->tree.max_bins = max_bins;
	opt->tree.seed = clv_option_seed(fname, seed);
	opt->mtry = mtry;
	opt->sample_fraction = sample_fraction;
	opt->replace = replace;
	opt->permutation_importance = permutation;
	set_runtime(&opt->tree, fname, g);
}

const char *
clv_gbm_loss_name(clv_gbm_loss loss)
{
	switch (loss)
	{
		case CLV_LOSS_SQUARED:
			return "squared";
		case CLV_LOSS_LOGISTIC:
			return "logistic";
		case CLV_LOSS_TWEEDIE:
			return "tweedie";
	}
	return "unknown";
}

void
clv_parse_gbm_options(Jsonb *options, bool boolean_y, clv_gbm_options *opt, trees_glue_options *g)
{
	const char *fname = "clv_gbm_fit";
	int			n_rounds,
				max_depth,
				min_samples_leaf,
				max_bins,
				early_stopping_rounds;
	double		tweedie_power = NAN,
				learning_rate,
				min_child_weight,
				l2,
				min_gain,
				subsample,
				colsample,
				validation_fraction,
				seed = 0;
	char	   *loss = NULL;
	const clv_option spec[] = {
		{"loss", CLV_OPT_STRING, &loss, 0, 0},
		{"tweedie_power", CLV_OPT_NUMBER, &tweedie_power, 1, 2},
		{"n_rounds", CLV_OPT_INTEGER, &n_rounds, 1, CLV_TREES_MAX_TREES},
		{"learning_rate", CLV_OPT_NUMBER, &learning_rate, 0, 1},
		{"max_depth", CLV_OPT_INTEGER, &max_depth, 1, CLV_TREES_MAX_DEPTH},
		{"min_samples_leaf", CLV_OPT_INTEGER, &min_samples_leaf, 1, INT_MAX},
		{"min_child_weight", CLV_OPT_NUMBER, &min_child_weight, 0, 1e300},
		{"l2", CLV_OPT_NUMBER, &l2, 0, 1e300},
		{"min_gain", CLV_OPT_NUMBER, &min_gain, 0, 1e300},
		{"subsample", CLV_OPT_NUMBER, &subsample, 0, 1},
		{"colsample", CLV_OPT_NUMBER, &colsample, 0, 1},
		{"validation_fraction", CLV_OPT_NUMBER, &validation_fraction, 0, 1},
		{"early_stopping_rounds", CLV_OPT_INTEGER, &early_stopping_rounds, 0, CLV_TREES_MAX_TREES},
		{"max_bins", CLV_OPT_INTEGER, &max_bins, 2, CLV_TREES_MAX_BINS},
		{"seed", CLV_OPT_NUMBER, &seed, 0, CLV_MAX_SEED},
		{"progress", CLV_OPT_BOOL, &g->progress, 0, 0},
		{"features", CLV_OPT_NAMES, &g->features, 0, 0},
	};

	clv_gbm_options_default(opt);
	memset(g, 0, sizeof(*g));
	n_rounds = opt->n_rounds;
	max_depth = opt->tree.max_depth;
	min_samples_leaf = opt->tree.min_samples_leaf;
	max_bins = opt->tree.max_bins;
	early_stopping_rounds = opt->early_stopping_rounds;
	learning_rate = opt->learning_rate;
	min_child_weight = opt->min_child_weight;
	l2 = opt->l2;
	min_gain = opt->tree.min_gain;
	subsample = opt->subsample;
	colsample = opt->colsample;
	validation_fraction = opt->validation_fraction;

	clv_parse_options(options, fname, spec, lengthof(spec));

	if (loss == NULL)
		opt->loss = boolean_y ? CLV_LOSS_LOGISTIC : CLV_LOSS_SQUARED;
	else if (strcmp(loss, "squared") == 0)
		opt->loss = CLV_LOSS_SQUARED;
	else if (strcmp(loss, "logistic") == 0)
		opt->loss = CLV_LOSS_LOGISTIC;
	else if (strcmp(loss, "tweedie") == 0)
		opt->loss = CLV_LOSS_TWEEDIE;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"loss\" of %s has an invalid value \"%s\"", fname, loss),
				 errhint("Use \"squared\", \"logistic\" or \"tweedie\".")));
	if (boolean_y && opt->loss != CLV_LOSS_LOGISTIC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clv_gbm_fit with a boolean y needs the \"logistic\" loss"),
				 errdetail("The loss given is \"%s\".", loss)));
	if (!isnan(tweedie_power))
	{
		if (opt->loss != CLV_LOSS_TWEEDIE)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"tweedie_power\" of %s needs \"loss\": \"tweedie\"", fname)));
		if (!(tweedie_power > 1 && tweedie_power < 2))
			clv_option_out_of_range(fname, "tweedie_power", "The value must be greater than 1 and less than 2.");
		opt->tweedie_power = tweedie_power;
	}
	if (!(learning_rate > 0))
		clv_option_out_of_range(fname, "learning_rate", "The value must be greater than 0 and at most 1.");
	if (!(subsample > 0))
		clv_option_out_of_range(fname, "subsample", "The value must be greater than 0 and at most 1.");
	if (!(colsample > 0))
		clv_option_out_of_range(fname, "colsample", "The value must be greater than 0 and at most 1.");
	if (!(validation_fraction < 1))
		clv_option_out_of_range(fname, "validation_fraction", "The value must be at least 0 and less than 1.");
	if (early_stopping_rounds > 0 && validation_fraction == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"early_stopping_rounds\" of %s needs a \"validation_fraction\" above 0",
						fname)));

	opt->n_rounds = n_rounds;
	opt->tree.max_depth = max_depth;
	opt->tree.min_samples_leaf = min_samples_leaf;
	opt->tree.max_bins = max_bins;
	opt->tree.min_gain = min_gain;
	opt->tree.seed = clv_option_seed(fname, seed);
	opt->early_stopping_rounds = early_stopping_rounds;
	opt->learning_rate = learning_rate;
	opt->min_child_weight = min_child_weight;
	opt->l2 = l2;
	opt->subsample = subsample;
	opt->colsample = colsample;
	opt->validation_fraction = validation_fraction;
	set_runtime(&opt->tree, fname, g);
}

