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

/* Parse the options of a fit on p features; unknown keys and bad values are errors. */
extern void clv_parse_forest_options(Jsonb *options, uint32 p, bool classification,
									 clv_forest_options *opt, trees_glue_options *g);
extern void clv_parse_gbm_options(Jsonb *options, bool boolean_y, clv_gbm_options *opt,
								  trees_glue_options *g);
extern const char *clv_gbm_loss_name(clv_gbm_loss loss);

#endif							/* CLV_TREES_OPTIONS_H */
