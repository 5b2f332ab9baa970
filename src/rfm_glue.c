/*
 * rfm_glue.c — RFM scores and named segments.
 *
 * clv_rfm_score places a value among quantile thresholds computed once (by
 * percentile_cont, say), so scoring is a per-row function that runs in any
 * plan.  clv_rfm_segment maps scores 1..5 to a segment name through a table
 * of all 125 (r, f, m) combinations, built once per query: the default map is
 * built from a grid of (R, FM) regions, a user's map from its rules, and the
 * table of a user map is kept in fn_extra with the map's bytes, so that a
 * constant map is parsed once.
 */
#include "clv.h"

#include "utils/builtins.h"

#define RFM_SCORES 5
#define RFM_CELLS (RFM_SCORES * RFM_SCORES * RFM_SCORES)
#define RFM_CELL(r, f, m) ((((r) - 1) * RFM_SCORES + ((f) - 1)) * RFM_SCORES + ((m) - 1))
/* more thresholds than anyone uses for scores, and small enough to check per row */
#define RFM_MAX_THRESHOLDS 100

/*
 * The default segments over R and FM, FM being the mean of F and M rounded
 * half up ((F + M + 1) / 2): rows are R = 5 down to 1, columns FM = 1..5.
 */
static const char *const default_segment_names[] = {
	"Champions", "Loyal Customers", "Potential Loyalists", "New Customers",
	"Promising", "Need Attention", "About To Sleep", "At Risk",
	"Can't Lose Them", "Hibernating", "Lost"
};

enum
{
	CHAMPIONS, LOYAL, POTENTIAL, NEW, PROMISING, ATTENTION, SLEEP, RISK,
	CANT_LOSE, HIBERNATING, LOST
};

static const uint8 default_grid[RFM_SCORES][RFM_SCORES] = {
	/* R = 5 */ {NEW, POTENTIAL, POTENTIAL, CHAMPIONS, CHAMPIONS},
	/* R = 4 */ {PROMISING, POTENTIAL, POTENTIAL, LOYAL, LOYAL},
	/* R = 3 */ {SLEEP, SLEEP, ATTENTION, LOYAL, LOYAL},
	/* R = 2 */ {HIBERNATING, HIBERNATING, RISK, RISK, CANT_LOSE},
	/* R = 1 */ {LOST, HIBERNATING, RISK, RISK, CANT_LOSE},
};

/* A parsed map: the segment of every cell, as an index into names. */
typedef struct rfm_map
{
	int			n_names;
	text	  **names;
	uint8		cell[RFM_CELLS];
	bytea	   *source;			/* the map's jsonb bytes, to recognise it */
} rfm_map;

static inline int
check_score(FunctionCallInfo fcinfo, int argno, const char *what)
{
	int32		s = PG_GETARG_INT32(argno);

	if (unlikely(s < 1 || s > RFM_SCORES))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("RFM score \"%s\" must be between 1 and %d, not %d",
						what, RFM_SCORES, s)));
	return s;
}

static void
map_error(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid RFM segment map"),
			 errdetail_internal("%s", detail)));
}

/* Mark in allowed[] the scores listed by a rule's "r", "f" or "m" array. */
static void
parse_scores(const JsonbValue *v, int rule, const char *key, bool *allowed)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	int			n = 0;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		map_error(psprintf("Key \"%s\" of rule %d must be an array of scores, not %s.",
						   key, rule, clv_jsonb_type_name(v)));
	memset(allowed, 0, sizeof(bool) * RFM_SCORES);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		double		s;

		if (tok != WJB_ELEM)
			continue;
		s = e.type == jbvNumeric ?
			DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											 NumericGetDatum(e.val.numeric))) : 0;
		if (!(s >= 1 && s <= RFM_SCORES && s == floor(s)))
			map_error(psprintf("Key \"%s\" of rule %d must list whole numbers from 1 to %d.",
							   key, rule, RFM_SCORES));
		allowed[(int) s - 1] = true;
		n++;
	}
	if (n == 0)
		map_error(psprintf("Key \"%s\" of rule %d is an empty array, which matches nothing.",
						   key, rule));
}

/* The index of name among map->names, added when new. */
static int
intern_name(rfm_map *map, const JsonbValue *v, int max_names)
{
	text	   *t = cstring_to_text_with_len(v->val.string.val, v->val.string.len);

	for (int i = 0; i < map->n_names; i++)
		if (clv_same_bytes((struct varlena *) map->names[i], (struct varlena *) t))
			return i;
	if (map->n_names >= max_names)
		elog(ERROR, "RFM map has more segment names than rules");
	map->names[map->n_names] = t;
	return map->n_names++;
}

static void
parse_rule(rfm_map *map, const JsonbValue *v, int rule, bool *assigned, int max_names)
{
	JsonbIterator *it;
	JsonbValue	k,
				val;
	JsonbIteratorToken tok;
	bool		allowed[3][RFM_SCORES];
	bool		has_segment = false;
	int			segment = 0;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		map_error(psprintf("Rule %d must be an object, not %s.", rule, clv_jsonb_type_name(v)));
	memset(allowed, 1, sizeof(allowed));
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		const char *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &val, true);
		if (strcmp(key, "segment") == 0)
		{
			if (val.type != jbvString || val.val.string.len == 0)
				map_error(psprintf("Key \"segment\" of rule %d must be a nonempty string.", rule));
			segment = intern_name(map, &val, max_names);
			has_segment = true;
		}
		else if (strcmp(key, "r") == 0)
			parse_scores(&val, rule, key, allowed[0]);
		else if (strcmp(key, "f") == 0)
			parse_scores(&val, rule, key, allowed[1]);
		else if (strcmp(key, "m") == 0)
			parse_scores(&val, rule, key, allowed[2]);
		else
			map_error(psprintf("Rule %d has unknown key \"%s\"; a rule has keys \"segment\", \"r\", \"f\" and \"m\".",
							   rule, key));
	}
	if (!has_segment)
		map_error(psprintf("Rule %d has no key \"segment\".", rule));

	/* the first matching rule wins: fill only what earlier rules left */
	for (int r = 1; r <= RFM_SCORES; r++)
		for (int f = 1; f <= RFM_SCORES; f++)
			for (int m = 1; m <= RFM_SCORES; m++)
			{
				int			c = RFM_CELL(r, f, m);

				if (!assigned[c] && allowed[0][r - 1] && allowed[1][f - 1] && allowed[2][m - 1])
				{
					map->cell[c] = segment;
					assigned[c] = true;
				}
			}
}

/* Parse a user's map, allocating in the current context. */
static rfm_map *
parse_map(Jsonb *jb)
{
	rfm_map    *map = palloc0(sizeof(rfm_map));
	bool		assigned[RFM_CELLS] = {0};
	JsonbValue	rules = {0},
				deflt = {0};
	bool		has_rules = false,
				has_default = false;
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	int			n_rules;

	if (!JB_ROOT_IS_OBJECT(jb))
		map_error("The map must be a JSON object with keys \"rules\" and, optionally, \"default\".");
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		const char *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "rules") == 0)
		{
			if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
				map_error(psprintf("Key \"rules\" must be an array of rules, not %s.",
								   clv_jsonb_type_name(&v)));
			rules = v;
			has_rules = true;
		}
		else if (strcmp(key, "default") == 0)
		{
			if (v.type != jbvString || v.val.string.len == 0)
				map_error("Key \"default\" must be a nonempty string.");
			deflt = v;
			has_default = true;
		}
		else
			map_error(psprintf("The map has unknown key \"%s\"; a map has keys \"rules\" and \"default\".",
							   key));
	}
	if (!has_rules)
		map_error("The map has no key \"rules\".");

	n_rules = JsonContainerSize(rules.val.binary.data);
	map->names = palloc(sizeof(text *) * (n_rules + 1));
	{
		int			rule = 0;

		it = JsonbIteratorInit(rules.val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_ELEM)
				parse_rule(map, &v, ++rule, assigned, n_rules + 1);
	}

	for (int r = 1; r <= RFM_SCORES; r++)
		for (int f = 1; f <= RFM_SCORES; f++)
			for (int m = 1; m <= RFM_SCORES; m++)
			{
				int			c = RFM_CELL(r, f, m);

				if (assigned[c])
					continue;
				if (!has_default)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid RFM segment map"),
							 errdetail("No rule matches r = %d, f = %d, m = %d, and the map has no \"default\".",
									   r, f, m),
							 errhint("Add a \"default\" segment, or rules that cover every combination of scores 1 to 5.")));
				map->cell[c] = intern_name(map, &deflt, n_rules + 1);
			}
	return map;
}

static rfm_map *
build_default_map(void)
{
	rfm_map    *map = palloc0(sizeof(rfm_map));

	map->n_names = lengthof(default_segment_names);
	map->names = palloc(sizeof(text *) * map->n_names);
	for (int i = 0; i < map->n_names; i++)
		map->names[i] = cstring_to_text(default_segment_names[i]);
	for (int r = 1; r <= RFM_SCORES; r++)
		for (int f = 1; f <= RFM_SCORES; f++)
			for (int m = 1; m <= RFM_SCORES; m++)
				map->cell[RFM_CELL(r, f, m)] =
					default_grid[RFM_SCORES - r][(f + m + 1) / 2 - 1];
	return map;
}

static Datum
segment_result(const rfm_map *map, int r, int f, int m)
{
	const text *name = map->names[map->cell[RFM_CELL(r, f, m)]];
	Size		len = VARSIZE(name);
	text	   *copy = palloc(len);

	memcpy(copy, name, len);
	PG_RETURN_TEXT_P(copy);
}

PG_FUNCTION_INFO_V1(clv_rfm_segment);
Datum
clv_rfm_segment(PG_FUNCTION_ARGS)
{
	int			r = check_score(fcinfo, 0, "r"),
				f = check_score(fcinfo, 1, "f"),
				m = check_score(fcinfo, 2, "m");
	rfm_map    *map = (rfm_map *) fcinfo->flinfo->fn_extra;

	if (map == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		map = build_default_map();
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = map;
	}
	return segment_result(map, r, f, m);
}

PG_FUNCTION_INFO_V1(clv_rfm_segment_map);
Datum
clv_rfm_segment_map(PG_FUNCTION_ARGS)
{
	int			r = check_score(fcinfo, 0, "r"),
				f = check_score(fcinfo, 1, "f"),
				m = check_score(fcinfo, 2, "m");
	Jsonb	   *jb = PG_GETARG_JSONB_P(3);
	rfm_map    *map = (rfm_map *) fcinfo->flinfo->fn_extra;

	if (map == NULL || !clv_same_bytes((struct varlena *) map->source, (struct varlena *) jb))
	{
		MemoryContext cxt = fcinfo->flinfo->fn_mcxt;
		MemoryContext old;
		rfm_map    *fresh;

		/*
		 * Parse before replacing: an error leaves the earlier map, and its
		 * memory, in place.  A map that changes from row to row leaks the old
		 * table into fn_mcxt; it is small and lives only as long as the query.
		 */
		old = MemoryContextSwitchTo(cxt);
		fresh = parse_map(jb);
		fresh->source = (bytea *) palloc(VARSIZE_ANY(jb));
		memcpy(fresh->source, jb, VARSIZE_ANY(jb));
		MemoryContextSwitchTo(old);
		if (map != NULL)
		{
			for (int i = 0; i < map->n_names; i++)
				pfree(map->names[i]);
			pfree(map->names);
			pfree(map->source);
			pfree(map);
		}
		map = fresh;
		fcinfo->flinfo->fn_extra = map;
	}
	return segment_result(map, r, f, m);
}

PG_FUNCTION_INFO_V1(clv_rfm_score);
Datum
clv_rfm_score(PG_FUNCTION_ARGS)
{
	double		value = PG_GETARG_FLOAT8(0);
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(1);
	bool		higher_is_better = PG_GETARG_BOOL(2);
	int			n;
	const double *t = clv_float8_array(ta, "thresholds", &n, false);
	int			better = 0;

	if (n > RFM_MAX_THRESHOLDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("thresholds must have at most %d elements, not %d",
						RFM_MAX_THRESHOLDS, n)));
	for (int i = 1; i < n; i++)
		if (t[i] < t[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("thresholds must be in ascending order"),
					 errdetail("Element %d (%g) is less than element %d (%g).",
							   i + 1, t[i], i, t[i - 1])));
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value to score must not be NaN")));

	/* a value equal to a threshold takes the worse score */
	for (int i = 0; i < n; i++)
		if (higher_is_better ? value > t[i] : value < t[i])
			better++;
	PG_RETURN_INT32(better + 1);
}
