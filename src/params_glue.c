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
