/*
 * params_glue.c — clv_model_from_params: a model of a parametric kind built
 * from its parameters (published estimates, a model fitted elsewhere, or the
 * parameters clv_model_info reports of a fitted one), which scores as a
 * fitted model of its kind does.
 *
 * One row of kinds[] per kind; a kind's parameters are named as
 * clv_model_info names them, so a fitted model's parameters build a model
 * with the same predictions.
 */
#include "btyd_glue.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/json.h"

#define FNAME "clv_model_from_params"

/* "a", "b", "c": names for messages */
static char *
quoted_list(const char *const *names, int n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, "%s\"%s\"", i ? ", " : "", names[i]);
	return buf.data;
}

pg_attribute_noreturn()
static void
missing_parameter(clv_model_kind kind, const char *name, const char *needed)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("parameter \"%s\" of a %s model is missing", name, clv_model_kind_name(kind)),
			 errhint("A %s model needs %s.", clv_model_kind_name(kind), needed)));
}

/*
 * The probabilistic kinds: their positive parameters, named as in their row
 * of clv_btyd_models, and for a purchase model an optional unit.
 */
static bytea *
build_btyd(clv_model_kind kind, Jsonb *params)
{
	clv_btyd_model bm;
	const clv_btyd_ops *ops;
	clv_option *spec;
	double	   *v;
	char	   *unit_text = NULL;
	int			n_spec;
	StringInfoData meta;
	clv_model	model = {0};

	if (!clv_btyd_model_of_kind(kind, &bm))
		elog(ERROR, "kind %d is not a BTYD model", kind);
	ops = &clv_btyd_models[bm];
	spec = palloc0(sizeof(clv_option) * (ops->n_params + 1));
	v = palloc(sizeof(double) * ops->n_params);
	for (n_spec = 0; n_spec < ops->n_params; n_spec++)
	{
		v[n_spec] = NAN;		/* not given */
		spec[n_spec] = (clv_option) {
			ops->param_names[n_spec], CLV_OPT_NUMBER, &v[n_spec], 1e-300, 1e300
		};
	}
	if (!ops->spend)			/* a spend model has no time axis */
		spec[n_spec++] = (clv_option) {"unit", CLV_OPT_STRING, &unit_text};
	clv_parse_object(params, FNAME, "parameter", spec, n_spec);
	for (int i = 0; i < ops->n_params; i++)
		if (isnan(v[i]))
			missing_parameter(kind, ops->param_names[i],
							  quoted_list(ops->param_names, ops->n_params));

	initStringInfo(&meta);
	appendStringInfoString(&meta, "{\"fitted\": false");
	clv_json_named_numbers(&meta, "params", ops->param_names, v, ops->n_params);
	if (unit_text != NULL)
		clv_btyd_json_unit(&meta, clv_btyd_unit_parse(unit_text));
	appendStringInfoChar(&meta, '}');

	model.kind = kind;
	model.n_features = ops->n_features;
	model.feature_names = (char **) ops->feature_names;
	model.meta = meta.data;
	model.n_params = ops->n_params;
	model.params = v;
	return clv_model_to_bytea(&model);
}

/* The linear kinds: intercept and coefficients, and optional feature names. */
static bytea *
build_linear(clv_model_kind kind, Jsonb *params)
{
	clv_numbers coef = {-1, NULL};	/* n -1: not given */
	clv_names	names = {-1, NULL};
	const clv_option spec[] = {
		{"coefficients", CLV_OPT_NUMBERS, &coef, -1e300, 1e300},
		{"features", CLV_OPT_NAMES, &names},
	};
	StringInfoData meta;
	clv_model	model = {0};

	clv_parse_object(params, FNAME, "parameter", spec, lengthof(spec));
	if (coef.n < 0)
		missing_parameter(kind, "coefficients", "\"coefficients\", the intercept first");
	if (coef.n < 2 || coef.n - 1 > CLV_MAX_FEATURES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"coefficients\" of %s must have 2 to %d values",
						FNAME, CLV_MAX_FEATURES + 1),
				 errdetail("The intercept comes first, then one coefficient per feature.")));
	if (names.n >= 0 && names.n != coef.n - 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"features\" of %s must name one feature per coefficient after the intercept",
						FNAME),
				 errdetail("It has %d names for %d coefficients.", names.n, coef.n - 1)));

	initStringInfo(&meta);
	appendStringInfoString(&meta, "{\"fitted\": false");
	clv_json_numbers(&meta, "coefficients", coef.v, coef.n);
	appendStringInfoChar(&meta, '}');

	model.kind = kind;
	model.n_features = coef.n - 1;
	model.feature_names = names.n > 0 ? names.names : NULL;
	model.meta = meta.data;
	model.coef = coef.v;
	return clv_model_to_bytea(&model);
}

/*
 * BG/NBD and Pareto/NBD with covariates: the 4 base parameters as for the
 * plain kind, "purchase_coefficients" and "dropout_coefficients" (arrays, in
 * the order of the covariates the predictions take), and optional
 * "purchase_features" and "dropout_features" naming them.
 */
static bytea *
build_btyd_cov(clv_model_kind kind, Jsonb *params)
{
	clv_btyd_model bm = kind == CLV_KIND_BGNBD_COV ? CLV_BTYD_BGNBD : CLV_BTYD_PARETONBD;
	const clv_btyd_ops *ops = &clv_btyd_models[bm];
	double		base[4] = {NAN, NAN, NAN, NAN};
	clv_numbers coef[2] = {{-1, NULL}, {-1, NULL}};	/* n −1: not given */
	clv_names	names[2] = {{0, NULL}, {0, NULL}};
	const char *const what[2] = {"purchase", "dropout"};
	clv_option	spec[8];
	double	   *theta;
	char	  **labels[2];
	StringInfoData meta;

	for (int i = 0; i < 4; i++)
		spec[i] = (clv_option) {ops->param_names[i], CLV_OPT_NUMBER, &base[i], 1e-300, 1e300};
	spec[4] = (clv_option) {"purchase_coefficients", CLV_OPT_NUMBERS, &coef[0], -1e300, 1e300};
	spec[5] = (clv_option) {"dropout_coefficients", CLV_OPT_NUMBERS, &coef[1], -1e300, 1e300};
	spec[6] = (clv_option) {"purchase_features", CLV_OPT_NAMES, &names[0]};
	spec[7] = (clv_option) {"dropout_features", CLV_OPT_NAMES, &names[1]};
	clv_parse_object(params, FNAME, "parameter", spec, lengthof(spec));
	for (int i = 0; i < 4; i++)
		if (isnan(base[i]))
			missing_parameter(kind, ops->param_names[i],
							  psprintf("%s, \"purchase_coefficients\" and \"dropout_coefficients\"",
									   quoted_list(ops->param_names, 4)));
	for (int k = 0; k < 2; k++)
	{
		if (coef[k].n < 0)
			missing_parameter(kind, spec[4 + k].name,
							  "an array of coefficients, empty for no covariates");
		if (coef[k].n > CLV_BTYD_COV_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"%s\" of %s has more than the %d coefficients a model supports",
							spec[4 + k].name, FNAME, CLV_BTYD_COV_MAX)));
		if (names[k].n > 0 && names[k].n != coef[k].n)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"%s\" of %s must name one covariate per coefficient",
							spec[6 + k].name, FNAME),
					 errdetail("It has %d names for %d coefficients.", names[k].n, coef[k].n)));
		labels[k] = clv_btyd_cov_names(&names[k], what[k], coef[k].n);
	}
	theta = palloc(sizeof(double) * (4 + coef[0].n + coef[1].n));
	memcpy(theta, base, sizeof(base));
	if (coef[0].n > 0)
		memcpy(theta + 4, coef[0].v, sizeof(double) * coef[0].n);
	if (coef[1].n > 0)
		memcpy(theta + 4 + coef[0].n, coef[1].v, sizeof(double) * coef[1].n);

	initStringInfo(&meta);
	appendStringInfoString(&meta, "{\"fitted\": false");
	clv_json_named_numbers(&meta, "params", ops->param_names, base, 4);
	clv_json_named_numbers(&meta, "purchase_coefficients", (const char *const *) labels[0],
						   theta + 4, coef[0].n);
	clv_json_named_numbers(&meta, "dropout_coefficients", (const char *const *) labels[1],
						   theta + 4 + coef[0].n, coef[1].n);
	appendStringInfoChar(&meta, '}');
	return clv_btyd_cov_model_bytea(bm, coef[0].n, coef[1].n, theta, labels[0], labels[1],
									meta.data);
}

/*
 * The sBG retention model: alpha and beta, and an optional unit (the length
 * of a period) recorded as clv_sbg_fit records it, with its days beside it.
 */
static bytea *
build_sbg(clv_model_kind kind, Jsonb *params)
{
	double		v[2] = {NAN, NAN};
	char	   *unit = NULL;
	const clv_option spec[] = {
		{"alpha", CLV_OPT_NUMBER, &v[0], 1e-300, 1e300},
		{"beta", CLV_OPT_NUMBER, &v[1], 1e-300, 1e300},
		{"unit", CLV_OPT_STRING, &unit},
	};
	StringInfoData meta;

	clv_parse_object(params, FNAME, "parameter", spec, lengthof(spec));
	for (int i = 0; i < 2; i++)
		if (isnan(v[i]))
			missing_parameter(kind, clv_sbg_param_names[i], quoted_list(clv_sbg_param_names, 2));
	initStringInfo(&meta);
	appendStringInfoString(&meta, "{\"fitted\": false");
	clv_json_named_numbers(&meta, "params", clv_sbg_param_names, v, 2);
	if (unit != NULL)
	{
		clv_json_key(&meta, "unit");
		escape_json(&meta, unit);
		clv_json_number(&meta, "unit_days", clv_sbg_unit_days(unit, "parameter", FNAME));
	}
	appendStringInfoChar(&meta, '}');
	return clv_sbg_model_bytea(v, meta.data);
}

/* The kinds built from parameters, each named as clv_model_info names it. */
static const struct
{
	clv_model_kind kind;
	bytea	   *(*build) (clv_model_kind kind, Jsonb *params);
}			kinds[] = {
	{CLV_KIND_LINREG, build_linear},
	{CLV_KIND_LOGREG, build_linear},
	{CLV_KIND_BGNBD, build_btyd},
	{CLV_KIND_MBGNBD, build_btyd},
	{CLV_KIND_PARETONBD, build_btyd},
	{CLV_KIND_GAMMAGAMMA, build_btyd},
	{CLV_KIND_SBG, build_sbg},
	{CLV_KIND_BGBB, build_btyd},
	{CLV_KIND_BGNBD_COV, build_btyd_cov},
	{CLV_KIND_PARETONBD_COV, build_btyd_cov},
};

PG_FUNCTION_INFO_V1(clv_model_from_params);
Datum
clv_model_from_params(PG_FUNCTION_ARGS)
{
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *params = PG_GETARG_JSONB_P(1);
	const char *known[lengthof(kinds)];

	for (int i = 0; i < (int) lengthof(kinds); i++)
	{
		known[i] = clv_model_kind_name(kinds[i].kind);
		if (strcmp(kind, known[i]) == 0)
			PG_RETURN_BYTEA_P(kinds[i].build(kinds[i].kind, params));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s cannot build a model of kind \"%s\"", FNAME, kind),
			 errhint("Known kinds are %s.", quoted_list(known, lengthof(kinds)))));
}
