/*
 * xgboost_glue.c — clv_import_xgboost: a gbm model from the JSON that
 * XGBoost's save_model writes (format of XGBoost 1.7 and later).
 *
 * The glue reads the JSON's keys and arrays, checking each key's presence,
 * type and length, and hands the trees to the core (xgboost.c), which checks
 * their indices and values and builds the ensemble.  Numbers are read from
 * their decimal text straight to float, as XGBoost wrote them from floats:
 * through a double they could round differently.
 */
#include "clv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "trees.h"

/* Structure: a key missing, of the wrong type or length (22P02). */
pg_attribute_noreturn()
static void
bad_key(const char *path, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid XGBoost model"),
			 errdetail("Key \"%s\" %s.", path, what),
			 errhint("Pass the JSON that XGBoost's save_model writes to a file ending in \".json\".")));
}

static char *
path_of(const char *parent, const char *key)
{
	return parent[0] ? psprintf("%s.%s", parent, key) : pstrdup(key);
}

/* obj[key], or NULL when absent. */
static JsonbValue *
member(JsonbContainer *obj, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(obj, JB_FOBJECT, &k);
}

static JsonbValue *
required(JsonbContainer *obj, const char *parent, const char *key)
{
	JsonbValue *v = member(obj, key);

	if (v == NULL)
		bad_key(path_of(parent, key), "is missing");
	return v;
}

static bool
is_container(const JsonbValue *v, bool array)
{
	return v->type == jbvBinary && !JsonContainerIsScalar(v->val.binary.data) &&
		(array ? JsonContainerIsArray(v->val.binary.data) : JsonContainerIsObject(v->val.binary.data));
}

static JsonbContainer *
object_at(JsonbContainer *obj, const char *parent, const char *key)
{
	JsonbValue *v = required(obj, parent, key);

	if (!is_container(v, false))
		bad_key(path_of(parent, key), psprintf("is %s, not an object", clv_jsonb_type_name(v)));
	return v->val.binary.data;
}

/* An array; its length must be `length` unless that is negative. */
static JsonbContainer *
array_at(JsonbContainer *obj, const char *parent, const char *key, int64 length)
{
	JsonbValue *v = required(obj, parent, key);

	if (!is_container(v, true))
		bad_key(path_of(parent, key), psprintf("is %s, not an array", clv_jsonb_type_name(v)));
	if (length >= 0 && JsonContainerSize(v->val.binary.data) != length)
		bad_key(path_of(parent, key),
				psprintf("has %u elements, not " INT64_FORMAT,
						 JsonContainerSize(v->val.binary.data), length));
	return v->val.binary.data;
}

static char *
string_value(const JsonbValue *v, const char *path)
{
	if (v->type != jbvString)
		bad_key(path, psprintf("is %s, not a string", clv_jsonb_type_name(v)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static char *
string_at(JsonbContainer *obj, const char *parent, const char *key)
{
	return string_value(required(obj, parent, key), path_of(parent, key));
}

/* A key in messages: a path, and the index of an element or -1. */
typedef struct key_name
{
	const char *path;
	int64		index;
} key_name;

#define KEY(path) ((key_name) {(path), -1})

/* Built only for a message: a large model has millions of elements. */
static const char *
key_text(key_name k)
{
	return k.index < 0 ? k.path : psprintf("%s[" INT64_FORMAT "]", k.path, k.index);
}

/* The decimal text of a number, or of a string (XGBoost writes parameters as strings). */
static char *
number_text(const JsonbValue *v, key_name k)
{
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	bad_key(key_text(k), psprintf("is %s, not a number", clv_jsonb_type_name(v)));
}

static float
parse_float(const char *text, key_name k)
{
	char	   *end;
	float		f;

	errno = 0;
	f = strtof(text, &end);
	if (end == text || *end != '\0' || isnan(f))
		bad_key(key_text(k), psprintf("is \"%s\", not a number", text));
	if (isinf(f))
		bad_key(key_text(k), psprintf("is %s, out of the range of float4", text));
	return f;
}

static int64
parse_integer(const char *text, key_name k, int64 min, int64 max)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (end == text || *end != '\0' || errno == ERANGE)
		bad_key(key_text(k), psprintf("is \"%s\", not an integer", text));
	if (v < min || v > max)
		bad_key(key_text(k), psprintf("is " INT64_FORMAT ", out of the range " INT64_FORMAT " to " INT64_FORMAT,
									  (int64) v, min, max));
	return v;
}

static int64
integer_at(JsonbContainer *obj, const char *parent, const char *key, int64 min, int64 max)
{
	char	   *path = path_of(parent, key);

	return parse_integer(number_text(required(obj, parent, key), KEY(path)), KEY(path), min, max);
}

/* "5E-1" as 1.7 writes it, or "[5E-1]" as later versions write a vector of one. */
static float
base_score_at(JsonbContainer *obj, const char *parent)
{
	char	   *path = path_of(parent, "base_score");
	char	   *text = number_text(required(obj, parent, "base_score"), KEY(path));
	size_t		len = strlen(text);

	if (len >= 2 && text[0] == '[' && text[len - 1] == ']')
	{
		text[len - 1] = '\0';
		text++;
	}
	return parse_float(text, KEY(path));
}

/* The n elements of an array whose length was checked, in one pass. */
static JsonbValue *
elements(JsonbContainer *arr, uint32 n)
{
	JsonbValue *out = palloc(sizeof(JsonbValue) * Max(n, 1));
	JsonbIterator *it = JsonbIteratorInit(arr);
	JsonbIteratorToken tok;
	JsonbValue	v;
	uint32		k = 0;

	/* scalars point into the container, which outlives them */
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM && k < n)
			out[k++] = v;
	return out;
}

/*
 * An array of n numbers: into ints, within [min, max], or into floats (the
 * other NULL).
 */
static void
read_numbers(JsonbContainer *arr, const char *path, uint32 n, int64 min, int64 max,
			 int64 *ints, float *floats)
{
	JsonbValue *v = elements(arr, n);

	for (uint32 i = 0; i < n; i++)
	{
		key_name	k = {path, i};
		char	   *text = number_text(&v[i], k);

		if (ints)
			ints[i] = parse_integer(text, k, min, max);
		else
			floats[i] = parse_float(text, k);
		pfree(text);
	}
	pfree(v);
}

static void
read_integers(JsonbContainer *arr, const char *path, uint32 n, int64 min, int64 max, int64 *out)
{
	read_numbers(arr, path, n, min, max, out, NULL);
}

static void
read_floats(JsonbContainer *arr, const char *path, uint32 n, float *out)
{
	read_numbers(arr, path, n, 0, 0, NULL, out);
}

/* default_left: 0 or 1, or a boolean. */
static void
read_flags(JsonbContainer *arr, const char *path, uint32 n, uint8 *out)
{
	JsonbValue *v = elements(arr, n);

	for (uint32 i = 0; i < n; i++)
	{
		if (v[i].type == jbvBool)
			out[i] = v[i].val.boolean ? 1 : 0;
		else
		{
			char	   *text = number_text(&v[i], (key_name) {path, i});

			out[i] = (uint8) parse_integer(text, (key_name) {path, i}, 0, 1);
			pfree(text);
		}
	}
	pfree(v);
}

/* One tree's arrays, each of the length tree_param.num_nodes says. */
static void
read_tree(JsonbContainer *tree, const char *path, clv_xgboost_tree *out)
{
	JsonbContainer *param = object_at(tree, path, "tree_param");
	char	   *param_path = path_of(path, "tree_param");
	uint32		n = (uint32) integer_at(param, param_path, "num_nodes", 1, INT32_MAX);
	/* the lengths checked before anything of n elements is allocated */
	JsonbContainer *left_arr = array_at(tree, path, "left_children", n),
			   *right_arr = array_at(tree, path, "right_children", n),
			   *feature_arr = array_at(tree, path, "split_indices", n),
			   *condition_arr = array_at(tree, path, "split_conditions", n),
			   *default_arr = array_at(tree, path, "default_left", n),
			   *hessian_arr = array_at(tree, path, "sum_hessian", n),
			   *gain_arr = array_at(tree, path, "loss_changes", n),
			   *type_arr = member(tree, "split_type") ? array_at(tree, path, "split_type", n) : NULL;
	int64	   *left = palloc(sizeof(int64) * n),
			   *right = palloc(sizeof(int64) * n),
			   *feature = palloc(sizeof(int64) * n);
	float	   *condition = palloc(sizeof(float) * n),
			   *hessian = palloc(sizeof(float) * n),
			   *gain = palloc(sizeof(float) * n);
	uint8	   *default_left = palloc(n);

	/* size_leaf_vector > 0: vector leaves of a multi-target tree */
	if (member(param, "size_leaf_vector") &&
		integer_at(param, param_path, "size_leaf_vector", 0, INT32_MAX) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clv_import_xgboost does not support trees with vector leaves"),
				 errdetail("Key \"%s.size_leaf_vector\" is not 0.", param_path)));
	read_integers(left_arr, path_of(path, "left_children"), n, -1, INT32_MAX, left);
	read_integers(right_arr, path_of(path, "right_children"), n, -1, INT32_MAX, right);
	read_integers(feature_arr, path_of(path, "split_indices"), n, 0, INT32_MAX, feature);
	read_floats(condition_arr, path_of(path, "split_conditions"), n, condition);
	read_flags(default_arr, path_of(path, "default_left"), n, default_left);
	read_floats(hessian_arr, path_of(path, "sum_hessian"), n, hessian);
	read_floats(gain_arr, path_of(path, "loss_changes"), n, gain);
	/* before 1.6 there were no categorical splits and no split_type */
	if (type_arr != NULL)
	{
		int64	   *kind = palloc(sizeof(int64) * n);

		read_integers(type_arr, path_of(path, "split_type"), n, 0, 1, kind);
		for (uint32 i = 0; i < n; i++)
			if (kind[i] != 0 && left[i] != -1)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("clv_import_xgboost does not support categorical splits"),
						 errdetail("Node %u of %s splits on categories.", i, path),
						 errhint("Train without enable_categorical, on numerically coded features.")));
		pfree(kind);
	}
	*out = (clv_xgboost_tree) {n, left, right, feature, condition, default_left, hessian, gain};
}

static clv_xgboost_objective
objective_of(const char *name)
{
	if (strcmp(name, "reg:squarederror") == 0)
		return CLV_XGBOOST_SQUARED;
	if (strcmp(name, "binary:logistic") == 0)
		return CLV_XGBOOST_LOGISTIC;
	if (strcmp(name, "reg:tweedie") == 0)
		return CLV_XGBOOST_TWEEDIE;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("clv_import_xgboost does not support the XGBoost objective \"%s\"", name),
			 errhint("The objectives it reads are reg:squarederror, reg:tweedie and binary:logistic.")));
}

/* "1.7.4" from [1, 7, 4]; XGBoost's JSON format began with 1.0. */
static char *
version_of(JsonbContainer *root)
{
	JsonbContainer *arr = array_at(root, "", "version", 3);
	int64		v[3];

	read_integers(arr, "version", 3, 0, INT32_MAX, v);
	if (v[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clv_import_xgboost does not support XGBoost version " INT64_FORMAT "." INT64_FORMAT "." INT64_FORMAT,
						v[0], v[1], v[2]),
				 errhint("Save the model with XGBoost 1.7 or later.")));
	return psprintf(INT64_FORMAT "." INT64_FORMAT "." INT64_FORMAT, v[0], v[1], v[2]);
}

/* learner.feature_names: none (absent or empty) or one per feature. */
static char **
feature_names_of(JsonbContainer *learner, uint32 p)
{
	JsonbContainer *arr;
	char	  **names;
	uint32		n;

	if (member(learner, "feature_names") == NULL)
		return NULL;
	arr = array_at(learner, "learner", "feature_names", -1);
	n = JsonContainerSize(arr);
	if (n == 0)
		return NULL;
	if (n != p)
		bad_key("learner.feature_names", psprintf("has %u names, but the model has %u features", n, p));
	names = palloc(sizeof(char *) * p);
	for (uint32 j = 0; j < p; j++)
	{
		names[j] = string_value(getIthJsonbValueFromContainer(arr, j),
								key_text((key_name) {"learner.feature_names", j}));
		if (strlen(names[j]) > CLV_MAX_NAME_LEN)
			bad_key(key_text((key_name) {"learner.feature_names", j}),
					psprintf("is longer than %d bytes", CLV_MAX_NAME_LEN));
	}
	return names;
}

PG_FUNCTION_INFO_V1(clv_import_xgboost);
Datum
clv_import_xgboost(PG_FUNCTION_ARGS)
{
	Jsonb	   *json = PG_GETARG_JSONB_P(0);
	JsonbContainer *root = &json->root,
			   *learner,
			   *booster,
			   *model_param,
			   *gbtree,
			   *trees_arr,
			   *objective_obj;
	char	   *booster_name,
			   *objective_name,
			   *version;
	JsonbValue *tweedie;
	clv_xgboost_objective objective;
	uint32		p,
				n_trees;
	float		base_score;
	clv_xgboost_tree *trees;
	clv_ensemble *e;
	clv_error	err;
	clv_model	model = {0};
	StringInfoData meta;
	bytea	   *out;

	if (!JB_ROOT_IS_OBJECT(json))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid XGBoost model"),
				 errdetail("The model is not a JSON object.")));
	version = version_of(root);
	learner = object_at(root, "", "learner");
	booster = object_at(learner, "learner", "gradient_booster");
	booster_name = string_at(booster, "learner.gradient_booster", "name");
	if (strcmp(booster_name, "gbtree") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clv_import_xgboost does not support the XGBoost booster \"%s\"", booster_name),
				 errhint("It reads tree models trained with booster \"gbtree\".")));
	objective_obj = object_at(learner, "learner", "objective");
	objective_name = string_at(objective_obj, "learner.objective", "name");
	objective = objective_of(objective_name);

	model_param = object_at(learner, "learner", "learner_model_param");
	p = (uint32) integer_at(model_param, "learner.learner_model_param", "num_feature",
							1, CLV_TREES_MAX_FEATURES);
	if (integer_at(model_param, "learner.learner_model_param", "num_class", 0, INT32_MAX) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clv_import_xgboost does not support multi-class models")));
	if (member(model_param, "num_target") &&
		integer_at(model_param, "learner.learner_model_param", "num_target", 1, INT32_MAX) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clv_import_xgboost does not support multi-target models")));
	base_score = base_score_at(model_param, "learner.learner_model_param");

	gbtree = object_at(booster, "learner.gradient_booster", "model");
	n_trees = (uint32) integer_at(object_at(gbtree, "learner.gradient_booster.model", "gbtree_model_param"),
								  "learner.gradient_booster.model.gbtree_model_param", "num_trees",
								  1, CLV_TREES_MAX_TREES);
	trees_arr = array_at(gbtree, "learner.gradient_booster.model", "trees", n_trees);
	{
		JsonbContainer *info = array_at(gbtree, "learner.gradient_booster.model", "tree_info", n_trees);
		int64	   *group = palloc(sizeof(int64) * n_trees);

		/* every tree adds to the one output a single-target model has */
		read_integers(info, "learner.gradient_booster.model.tree_info", n_trees, 0, 0, group);
		pfree(group);
	}
	trees = palloc(sizeof(clv_xgboost_tree) * n_trees);
	for (uint32 t = 0; t < n_trees; t++)
	{
		char	   *path = psprintf("learner.gradient_booster.model.trees[%u]", t);
		JsonbValue *tree = getIthJsonbValueFromContainer(trees_arr, t);

		if (!is_container(tree, false))
			bad_key(path, psprintf("is %s, not an object", clv_jsonb_type_name(tree)));
		read_tree(tree->val.binary.data, path, &trees[t]);
	}
	clv_check(clv_xgboost_ensemble(trees, n_trees, p, objective, base_score, &e, &err), &err);

	initStringInfo(&meta);
	appendStringInfoChar(&meta, '{');
	clv_json_key(&meta, "imported_from");
	escape_json(&meta, "xgboost");
	clv_json_key(&meta, "xgboost_version");
	escape_json(&meta, version);
	clv_json_key(&meta, "objective");
	escape_json(&meta, objective_name);
	clv_json_number(&meta, "xgboost_base_score", base_score);
	clv_json_key(&meta, "loss");
	escape_json(&meta, objective == CLV_XGBOOST_LOGISTIC ? "logistic" :
				objective == CLV_XGBOOST_TWEEDIE ? "tweedie" : "squared");
	tweedie = member(objective_obj, "tweedie_regression_param");
	if (objective == CLV_XGBOOST_TWEEDIE && tweedie != NULL && is_container(tweedie, false))
	{
		const char *power_key = "learner.objective.tweedie_regression_param.tweedie_variance_power";
		JsonbValue *power = member(tweedie->val.binary.data, "tweedie_variance_power");

		if (power != NULL)
			clv_json_number(&meta, "tweedie_power",
							parse_float(number_text(power, KEY(power_key)), KEY(power_key)));
	}
	appendStringInfoChar(&meta, '}');

	model.kind = CLV_KIND_GBM;
	model.n_features = p;
	model.feature_names = feature_names_of(learner, p);
	model.meta = meta.data;
	model.ensemble = e;
	out = clv_model_to_bytea(&model);
	clv_ensemble_free(e);
	PG_RETURN_BYTEA_P(out);
}
