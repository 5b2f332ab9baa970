/*
 * clv.h — shared PostgreSQL glue: runtime hooks for the core, error
 * reporting, argument checks, jsonb options and the model bytea.
 */
#ifndef CLV_GLUE_H
#define CLV_GLUE_H

#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/array.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "clv_core.h"
#include "model.h"

/* clv.max_training_memory, in kB */
extern int	clv_max_training_memory;

/* clv.training_threads: threads a tree ensemble or k-means fit may use, the caller's included */
extern int	clv_training_threads;

/* clv.model_cache_size, in kB: decoded models kept per backend (model_cache.c) */
extern int	clv_model_cache_size;

static inline size_t
clv_training_memory_bytes(void)
{
	return (size_t) clv_max_training_memory * 1024;
}

/* Raise a core error as a PostgreSQL ERROR with the matching SQLSTATE. */
extern void clv_raise(const clv_error *err) pg_attribute_noreturn();

static inline void
clv_check(clv_status st, const clv_error *err)
{
	if (st != CLV_OK)
		clv_raise(err);
}

/*
 * The aggregate memory context, or an error (0A000) when not called as an
 * aggregate; fname names the function (NULL: looked up).
 */
extern MemoryContext clv_agg_context(FunctionCallInfo fcinfo, const char *fname);

/*
 * The name of the aggregate whose support function fcinfo runs, for the
 * messages of functions that several aggregates share; an aggregate run as a
 * window function has no Aggref, and then it is "the aggregate".
 */
extern const char *clv_agg_name(FunctionCallInfo fcinfo);

/*
 * Validate a float8[] argument: one dimension, no NULL elements, finite
 * values unless allow_nan.  Returns its values and sets *n.
 */
extern const double *clv_float8_array(ArrayType *array, const char *what,
									  int *n, bool allow_nan);

/*
 * The features x of one training row (argument argno): present, valid as for
 * clv_float8_array, at most max_features long ("a <model_name> model"
 * supports no more) and, once expected >= 0, as long as the earlier rows' x.
 */
extern const double *clv_row_features(FunctionCallInfo fcinfo, int argno, int expected,
									  int max_features, const char *model_name,
									  bool allow_nan, int *n);

/*
 * Training rows whose x differ in length (2202E): this row and the earlier
 * ones, or, between_states, two partial states of the same aggregate.
 */
extern void clv_feature_count_error(bool between_states, int got, int expected)
			pg_attribute_noreturn();

/*
 * A float8 argument that must be present and finite.  Inline: scoring
 * functions read several per row, and only the error is worth a call.
 */
extern void clv_finite_arg_error(FunctionCallInfo fcinfo, int argno,
								 const char *what) pg_attribute_noreturn();

static inline double
clv_finite_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (likely(!PG_ARGISNULL(argno)))
	{
		double		v = PG_GETARG_FLOAT8(argno);

		if (likely(isfinite(v)))
			return v;
	}
	clv_finite_arg_error(fcinfo, argno, what);
}

/*
 * Whether two varlenas, neither external nor compressed, hold the same bytes,
 * whatever their header sizes.
 */
static inline bool
clv_same_bytes(const struct varlena *a, const struct varlena *b)
{
	return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

/* ---- aggregate states (state_type.c, agg_state.c) ------------------------ */

/*
 * How a family of aggregates merges its partial states: what the combine
 * function does around it (a NULL side, the memory context, a copy of b's
 * settings for a new state) is shared.
 */
typedef struct clv_combine_ops
{
	const char *fname;			/* the combine function, for errors */
	/* an empty state with b's settings, allocated in the current context (cxt) */
	void	   *(*new_like) (const void *b, MemoryContext cxt);
	/* error unless a and b were built with the same arguments and options */
	void		(*check_same) (FunctionCallInfo fcinfo, const void *a, const void *b);
	/* add b's content to a, copying it; may raise (a memory limit, say) */
	void		(*merge) (void *a, const void *b);
} clv_combine_ops;

/*
 * A family of aggregates that share a state: its C struct, and how that is
 * written into and read from the payload of a flat clv_state.  The id is
 * stored in every flat state and never reused.
 */
typedef enum clv_state_family_id
{
	CLV_STATE_SUMMARY = 1,
	CLV_STATE_LINREG = 2,
	CLV_STATE_LOGREG = 3,
	CLV_STATE_BTYD = 4,
	CLV_STATE_TRACKING = 5,
	CLV_STATE_RANKING = 6,
	CLV_STATE_TREES = 7,
	CLV_STATE_QINI = 8,
	CLV_STATE_KMEANS = 9,
	CLV_STATE_ALLOCATION = 10,
	CLV_STATE_THRESHOLD = 11,
	CLV_STATE_MONITOR = 12,
	CLV_STATE_SBG = 13,
	CLV_STATE_BTYD_COV = 14
} clv_state_family_id;

typedef struct clv_state_family
{
	clv_state_family_id id;
	const char *aggregates;		/* "clv_linreg_fit", for messages */
	clv_combine_ops combine;
	/* append the payload: begin with clv_state_send_begin, which checks the size */
	void		(*send) (StringInfo buf, const void *state);
	/*
	 * Read a payload written by send into a state allocated in the current
	 * context, checking every value (clv_invalid_state); it may point into
	 * the buffer.  The caller checks that nothing is left over.
	 */
	void	   *(*receive) (StringInfo buf);
} clv_state_family;

/*
 * A transition function's work on one row: state is NULL on a group's first
 * row; the state, and anything it allocates to keep, lives in cxt.  Returns
 * the state (a new one, or state), or NULL when it skips a group's first row.
 */
typedef void *(*clv_state_step) (FunctionCallInfo fcinfo, void *state, MemoryContext cxt);

/* A final function's work; state is NULL after zero rows. */
typedef Datum (*clv_state_finish) (FunctionCallInfo fcinfo, void *state);

/*
 * Support functions of both SQL conventions.  Since 0.2.0 the state is a
 * clv_state (the _v2 C symbols); the unsuffixed symbols serve the 0.1.0
 * definitions, whose state is internal, until ALTER EXTENSION clv UPDATE.
 */
extern Datum clv_state_trans(FunctionCallInfo fcinfo, const clv_state_family *family,
							 clv_state_step step);
extern Datum clv_state_final(FunctionCallInfo fcinfo, const clv_state_family *family,
							 clv_state_finish finish);
extern Datum clv_internal_trans(FunctionCallInfo fcinfo, clv_state_step step);
extern Datum clv_internal_final(FunctionCallInfo fcinfo, clv_state_finish finish);
extern Datum clv_combine_states(FunctionCallInfo fcinfo, const clv_combine_ops *ops);

/*
 * The family's state in state argument argno of a function that is not an
 * aggregate's, to read only (it may point into the argument); a state of
 * another family is an error (42804).
 */
extern const void *clv_state_arg(FunctionCallInfo fcinfo, int argno,
								 const clv_state_family *family);
extern Datum clv_internal_serialize(FunctionCallInfo fcinfo, const clv_state_family *family);
extern Datum clv_internal_deserialize(FunctionCallInfo fcinfo, const clv_state_family *family);

/*
 * A state of aggregate got reached a support function of another aggregate
 * of its family (42804): possible now that states are values a user's own
 * aggregate can pass around.
 */
extern void clv_state_of_other_aggregate(FunctionCallInfo fcinfo, const char *got)
			pg_attribute_noreturn();

/*
 * A malformed aggregate state, serialized or float8[] (22P03, like a bad
 * model bytea): "invalid clv aggregate state", the detail a full sentence.
 */
extern void clv_invalid_state(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

/*
 * Make room in buf for fixed_bytes plus n_items of item_bytes each (what
 * items counts is named in the error): past what a bytea holds (just under
 * 1 GB), an error with a hint, before any size reaches an int length.
 */
extern void clv_state_send_begin(StringInfo buf, size_t n_items, size_t item_bytes,
								 size_t fixed_bytes, const char *items);

/* Append len bytes as they are, checking for interrupts between chunks. */
extern void clv_state_send_bytes(StringInfo buf, const void *data, size_t len);

/*
 * Read a serialized state in place.  Every read checks what is left, so a
 * state that ends early, or has bytes left over at clv_state_end, is
 * invalid like any other (never the protocol reader's 08P01).
 */
extern void clv_state_reader(bytea *bytes, StringInfo buf);
extern const char *clv_state_take(StringInfo buf, size_t len);
extern uint32 clv_state_uint32(StringInfo buf);
extern int64 clv_state_int64(StringInfo buf);
extern uint8 clv_state_byte(StringInfo buf);
extern double clv_state_float8(StringInfo buf);
extern void clv_state_end(StringInfo buf);

/*
 * Rows kept as (key, value) pairs (metrics.h) in a payload: an int64 count,
 * then each pair's two float8.  Sending, the caller's clv_state_send_begin
 * counts CLV_PAIRS_HEADER_BYTES and CLV_PAIR_BYTES a pair; receiving reads the
 * rest of the payload into empty pairs, each checked by valid (arg passed
 * on), and raises the memory limit's error when they do not fit.
 */
#include "metrics.h"

#define CLV_PAIRS_HEADER_BYTES 8
#define CLV_PAIR_BYTES (8 + 8)

/*
 * The error of rows past clv.max_training_memory in an aggregate that
 * evaluates predictions (metrics, monitoring), with its hint.
 */
extern void clv_raise_evaluation_limit(clv_error *err) pg_attribute_noreturn();
/* Append b's pairs to a's, within a's memory limit. */
extern void clv_state_merge_pairs(clv_pairs *a, const clv_pairs *b);
extern void clv_state_send_pairs(StringInfo buf, const clv_pairs *pairs);
extern void clv_state_receive_pairs(StringInfo buf, clv_pairs *pairs,
									bool (*valid) (double key, double value, const void *arg),
									const void *arg);

/* ---- options ------------------------------------------------------------ */

/*
 * Fit aggregates keep their options argument in the state, so the final
 * function (which sees only the state) can read them.
 */
extern Jsonb *clv_copy_jsonb(MemoryContext cxt, const Jsonb *j);	/* NULL stays NULL */
/* A copy of jsonb argument argno in cxt, or NULL when absent or NULL. */
extern Jsonb *clv_options_arg(FunctionCallInfo fcinfo, int argno, MemoryContext cxt);
/*
 * Options describe the whole fit, so every row of a group must pass the same
 * (equal as jsonb) as the first, whose copy is kept; partial states of one
 * group must agree too.  Otherwise an error naming fname.
 */
extern void clv_check_options_row(FunctionCallInfo fcinfo, int argno, const Jsonb *kept,
								  const char *fname);
extern void clv_check_options_agree(FunctionCallInfo fcinfo, const Jsonb *a, const Jsonb *b);
/* Options inside serialized aggregate states: a length, then the bytes. */
extern size_t clv_sent_jsonb_bytes(const Jsonb *j);
extern void clv_send_jsonb(StringInfo buf, const Jsonb *j);
extern Jsonb *clv_receive_jsonb(StringInfo buf);

typedef enum clv_option_type
{
	CLV_OPT_NUMBER,				/* double, within [min, max] */
	CLV_OPT_INTEGER,			/* int, within [min, max] */
	CLV_OPT_NAMES,				/* array of strings → clv_names */
	CLV_OPT_NUMBERS,			/* array of numbers within [min, max] → clv_numbers */
	CLV_OPT_BOOL,				/* true or false → bool */
	CLV_OPT_STRING				/* a string → char * (palloc'd) */
} clv_option_type;

typedef struct clv_numbers
{
	int			n;
	double	   *v;
} clv_numbers;

typedef struct clv_names
{
	int			n;
	char	  **names;
} clv_names;

typedef struct clv_option
{
	const char *name;
	clv_option_type type;
	void	   *target;			/* double *, int *, clv_names *, bool * or char ** */
	double		min;
	double		max;
} clv_option;

/* "a string", "an array", ...: a jsonb value's type, for messages. */
extern const char *clv_jsonb_type_name(const JsonbValue *v);

/* Option key of fname is not of the expected type ("a boolean", ...): 22023. */
extern void clv_option_type_error(const char *fname, const char *key, const char *expected,
								  const JsonbValue *got) pg_attribute_noreturn();

/* Parse a jsonb object; unknown keys and wrong types are errors naming them. */
extern void clv_parse_options(Jsonb *options, const char *fname,
							  const clv_option *spec, int n_spec);
/* The same for an object of other keys: noun says what they are ("parameter"). */
extern void clv_parse_object(Jsonb *object, const char *fname, const char *noun,
							 const clv_option *spec, int n_spec);

/* Check that "features" names, when given, match the feature count. */
extern void clv_check_feature_names(const clv_names *names, int n_features);

/* ---- model bytea -------------------------------------------------------- */

extern bytea *clv_model_to_bytea(const clv_model *model);

/* Decode a model for one-off use (not cached). */
extern clv_model *clv_model_from_bytea(bytea *bytes);

/*
 * The decoded model for argument argno, cached in fn_extra for the duration
 * of the query: decoded once, recognised on later calls without re-reading it.
 */
extern const clv_model *clv_cached_model(FunctionCallInfo fcinfo, int argno);

/*
 * The same, with a slot for data the caller derives from the model (say,
 * values parsed from its metadata): *derived points to it, NULL at first,
 * and whatever the caller allocates for it in *cxt lives exactly as long as
 * the cached model, so it can never be taken for another model's.
 */
extern const clv_model *clv_cached_model_derived(FunctionCallInfo fcinfo, int argno,
												 void ***derived, MemoryContext *cxt);

/*
 * The backend-wide cache of decoded models (model_cache.c).  acquire returns
 * the entry of a model datum, decoding and checking it unless a model with
 * its content digest is cached and the datum is known (or seen) to have
 * those bytes; the entry stays pinned, never evicted or freed, until the
 * matching release.  Errors (a corrupt value) leave nothing pinned.
 */
typedef struct clv_cached_entry clv_cached_entry;
extern clv_cached_entry *clv_model_cache_acquire(Datum datum);
extern const clv_model *clv_model_cache_model(const clv_cached_entry *entry);
extern void clv_model_cache_release(clv_cached_entry *entry);

/*
 * The feature vector x for a supervised model: its length must match the
 * model's; NaN (missing) is allowed for tree ensembles only, infinities never.
 * Other kinds are an error naming fname.
 */
extern const double *clv_model_features(ArrayType *xa, const clv_model *model,
										const char *fname);

/* ---- JSON text building for model metadata ------------------------------ */

#include "lib/stringinfo.h"

extern void clv_json_number(StringInfo buf, const char *key, double v);
extern void clv_json_numbers(StringInfo buf, const char *key, const double *v, int n);
/* [v[0], ...] without a key (non-finite values as null) */
extern void clv_json_array(StringInfo buf, const double *v, int n);
extern void clv_json_key(StringInfo buf, const char *key);
extern void clv_json_string(StringInfo buf, const char *key, const char *v);
extern void clv_json_bool(StringInfo buf, const char *key, bool v);
/* "key": {"names[0]": v[0], ...} */
extern void clv_json_named_numbers(StringInfo buf, const char *key,
								   const char *const *names, const double *v, int n);

/* ---- time spans (summary_glue.c) --------------------------------------- */

#include "datatype/timestamp.h"

/*
 * A period or a unit of time: a whole number of calendar months, or a fixed
 * length of local clock time in microseconds (a day counting as 24 hours).
 * Exactly one of the two is nonzero, and it is positive.
 */
typedef struct clv_span
{
	int64		months;
	int64		us;
} clv_span;

/*
 * Longer than PostgreSQL's range of timestamps, and short enough that the
 * year of any period's start fits an int
 */
#define CLV_MAX_SPAN_MONTHS		(12 * 300000)

/*
 * The span of an interval argument named what: whole months or days and
 * time, never both, and positive; otherwise an error (22023, 22008).
 */
extern clv_span clv_interval_span(const Interval *iv, const char *what);

/* ---- "buy till you die" models (btyd_glue.c) ---------------------------- */

#include "btyd.h"

/*
 * Which BTYD model a decoded model is: a purchase model or, when spend is
 * set, Gamma-Gamma; any other kind is an error naming fname.
 */
extern clv_btyd_model clv_btyd_model_of(const clv_model *m, const char *fname, bool spend);
/* Refuse a discrete-time model (BG/BB) in a function whose times are continuous. */
extern void clv_btyd_refuse_discrete(clv_btyd_model model, const char *fname);

/* ---- tree ensembles (trees_glue.c) ------------------------------------- */

/* Append the keys clv_model_info reports for a forest or gbm model. */
extern void clv_ensemble_info(StringInfo buf, const clv_model *model);

/*
 * An interval in days, a month being an average Gregorian month (so '1 year'
 * is 365.25 days); negative is an error naming what (btyd_value_glue.c).
 */
#include "datatype/timestamp.h"

extern double clv_interval_days(const Interval *iv, const char *what);
/* The days of an sBG model's period from its unit's text (22023 unless positive). */
extern double clv_sbg_unit_days(const char *unit, const char *what, const char *fname);
/* An sBG model of (alpha, beta) with the metadata given, as clv_sbg_fit writes it. */
extern const char *const clv_sbg_param_names[2];
extern bytea *clv_sbg_model_bytea(double *params, char *meta);

/* ---- k-means (kmeans_glue.c) -------------------------------------------- */

/* Append the keys clv_model_info reports for a kmeans model. */
extern void clv_kmeans_info(StringInfo buf, const clv_model *model);

/* What clv_model_info adds for a multi-layer perceptron (mlp_glue.c). */
extern void clv_mlp_info(StringInfo buf, const clv_model *model);

#endif							/* CLV_GLUE_H */
