/*
 * explain_glue.c — clv_explain and clv_explain_expected: per-feature
 * contributions that add up to the model's margin minus its expected value.
 *
 * Tree ensembles: exact TreeSHAP on the margin scale (the core's
 * clv_ensemble_explain).  Linear kinds: coefficient × (x − training mean) on
 * the link scale, with the means the fit stored in the metadata
 * ("feature_means"); the expected value is then the margin at the means,
 * which for a linear predictor is also its mean over the training rows.
 */
#include "clv.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"


/*
 * What explanations derive from a model, computed on first use and kept with
 * the cached model: the expected value, and a linear model's training means.
 */
typedef struct explain_data
{
	double		expected;
	double	   *means;			/* linear kinds; NULL for ensembles */
} explain_data;

pg_attribute_noreturn()
static void
bad_means(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid clv model"),
			 errdetail("%s", detail)));
}

static double *
parse_means(const clv_model *model)
{
	Jsonb	   *meta = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(model->meta)));
	JsonbValue *v;
	JsonbValue	key;
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	double	   *means;
	uint32		n = 0;

	key.type = jbvString;
	key.val.string.val = "feature_means";
	key.val.string.len = strlen("feature_means");
	v = JB_ROOT_IS_OBJECT(meta) ? findJsonbValueFromContainer(&meta->root, JB_FOBJECT, &key) : NULL;
	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clv_explain needs the training means of the features, which this %s model does not store",
						clv_model_kind_name(model->kind)),
				 errdetail("Models fitted by earlier versions of clv lack them."),
				 errhint("Refit the model.")));
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		bad_means("The feature means are not an array.");

	means = palloc(sizeof(double) * model->n_features);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvNumeric || n >= model->n_features)
			bad_means("The feature means do not match the features.");
		means[n++] = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
														NumericGetDatum(elem.val.numeric)));
	}
	if (n != model->n_features)
		bad_means("The feature means do not match the features.");
	return means;
}

/* The model of argument 0 and its explain_data; other kinds are an error. */
static const clv_model *
explained_model(FunctionCallInfo fcinfo, const char *fname, const explain_data **out)
{
	void	  **slot;
	MemoryContext cxt;
	const clv_model *model = clv_cached_model_derived(fcinfo, 0, &slot, &cxt);
	explain_data *d = *slot;

	if (d == NULL)
	{
		const clv_kind_ops *ops = clv_kind_ops_of(model->kind);
		MemoryContext old;

		if (ops->explain == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s cannot use a %s model", fname, clv_model_kind_name(model->kind)),
			/* a kind that scores but has no contributions: k-means */
					 ops->predict ? errhint("clv_predict scores a %s model.",
											clv_model_kind_name(model->kind)) :
					 errhint("Use clv_expected_purchases, clv_palive or clv_expected_spend.")));
		old = MemoryContextSwitchTo(cxt);
		d = palloc0(sizeof(explain_data));
		if (ops->needs_means)
			d->means = parse_means(model);
		d->expected = ops->expected(model, d->means);
		MemoryContextSwitchTo(old);
		*slot = d;
	}
	*out = d;
	return model;
}

static ArrayType *
float8_array(const double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return construct_array(d, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

PG_FUNCTION_INFO_V1(clv_explain);
Datum
clv_explain(PG_FUNCTION_ARGS)
{
	const explain_data *d;
	const clv_model *model = explained_model(fcinfo, "clv_explain", &d);
	const double *x = clv_model_features(PG_GETARG_ARRAYTYPE_P(1), model, "clv_explain");
	uint32		p = model->n_features;
	double	   *phi = palloc(sizeof(double) * p);

	clv_kind_ops_of(model->kind)->explain(model, d->means, x, phi);
	PG_RETURN_ARRAYTYPE_P(float8_array(phi, p));
}

PG_FUNCTION_INFO_V1(clv_explain_expected);
Datum
clv_explain_expected(PG_FUNCTION_ARGS)
{
	const explain_data *d;

	explained_model(fcinfo, "clv_explain_expected", &d);
	PG_RETURN_FLOAT8(d->expected);
}
