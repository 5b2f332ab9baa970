/*
 * trees_options.h — the options of clv_forest_fit and clv_gbm_fit, parsed from
 * jsonb into the core's option structs, and the run-time settings (threads,
 * progress reports) that the glue adds to them.
 */
#ifndef CLV_TREES_OPTIONS_H
#define CLV_TREES_OPTIONS_H

#include "clv.h"
#include "trees.h"

/* What the options say beyond the core's option structs. */
typedef struct trees_glue_options
{
	bool		progress;
	clv_names	features;
} trees_glue_options;

/* Largest seed that a jsonb number (a double) holds exactly. */
#define CLV_MAX_SEED 9007199254740991.0

/* Option key of fname has a value out of range (22023); detail a full sentence. */
extern void clv_option_out_of_range(const char *fname, const char *key, const char *detail)
			pg_attribute_noreturn();
/* The "seed" option's value, which must be a whole number. */
extern uint64 clv_option_seed(const char *fname, double seed);
/*
 * A clv_progress_fn: a NOTICE "<fname>: done of total what", arg being
 * fname; it holds interrupts off, as worker threads may be running.
 */
extern void clv_report_training_progress(void *arg, uint32_t done, uint32_t total,
										 const char *what);

/* Parse the options of a fit on p features; unknown keys and bad values are errors. */
extern void clv_parse_forest_options(Jsonb *options, uint32 p, bool classification,
									 clv_forest_options *opt, trees_glue_options *g);
extern void clv_parse_gbm_options(Jsonb *options, bool boolean_y, clv_gbm_options *opt,
								  trees_glue_options *g);
extern const char *clv_gbm_loss_name(clv_gbm_loss loss);

/*
 * The state of the fits that keep their training rows (trees_glue.c): the
 * tree ensembles and the multi-layer perceptrons.
 */
typedef struct trees_state
{
	clv_tree_rows rows;
	Jsonb	   *options;		/* NULL when none were given */
	bool		boolean_y;		/* classification forest or logistic boosting */
	int32		loss;			/* a clv_gbm_loss to check y row by row, or 0 */
} trees_state;

extern const clv_state_family clv_trees_family;

/* How one such fit reads its rows. */
typedef struct trees_fit
{
	const char *fname;			/* the aggregate, for messages */
	const char *model_name;		/* "a <model_name> model supports at most ... features" */
	bool		missing_allowed;	/* NaN in x is a missing value; else an error */
	/* parse the options at the first row; returns the loss to check y by */
	int32		(*parse) (Jsonb *options, uint32 p, bool boolean_y, trees_glue_options *g);
} trees_fit;

/* The transition step: y (argument 1), x (2) and the options (3) of one row. */
extern void *clv_trees_step(FunctionCallInfo fcinfo, void *prev, MemoryContext cxt,
							const trees_fit *fit, bool boolean_y);

#endif							/* CLV_TREES_OPTIONS_H */
