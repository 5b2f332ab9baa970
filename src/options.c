/*
 * options.c — the jsonb options object every fit aggregate takes.
 */
#include "clv.h"

#include <math.h>

#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/lsyscache.h"

const char *
clv_jsonb_type_name(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvArray:
			return "an array";
		case jbvObject:
			return "an object";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		default:
			return "a scalar";
	}
}

/* noun: what the object's keys are, "option" or "parameter" */
pg_attribute_noreturn()
static void
type_error(const char *noun, const char *fname, const char *key, const char *expected,
		   const JsonbValue *got)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s \"%s\" of %s must be %s", noun, key, fname, expected),
			 errdetail("The value given is %s.", clv_jsonb_type_name(got))));
}

void
clv_option_type_error(const char *fname, const char *key, const char *expected,
					  const JsonbValue *got)
{
	type_error("option", fname, key, expected, got);
}

static double
number_value(const char *noun, const char *fname, const clv_option *opt, JsonbValue *v)
{
	double		d;

	if (v->type != jbvNumeric)
		type_error(noun, fname, opt->name,
				   opt->type == CLV_OPT_INTEGER ? "an integer" : "a number", v);
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
										   NumericGetDatum(v->val.numeric)));
	if (opt->type == CLV_OPT_INTEGER && d != floor(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" of %s must be an integer", noun, opt->name, fname)));
	if (!(d >= opt->min && d <= opt->max))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" of %s is out of range", noun, opt->name, fname),
				 errdetail("The value must be between %g and %g.", opt->min, opt->max)));
	return d;
}

static void
names_value(const char *noun, const char *fname, const clv_option *opt, JsonbValue *value,
			clv_names *out)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			cap = 8;

	if (value->type != jbvBinary || !JsonContainerIsArray(value->val.binary.data))
		type_error(noun, fname, opt->name, "an array of strings", value);
	out->n = 0;
	out->names = palloc(sizeof(char *) * cap);
	it = JsonbIteratorInit(value->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;			/* the array's begin and end */
		if (v.type != jbvString)
			type_error(noun, fname, opt->name, "an array of strings", &v);
		if (v.val.string.len == 0 || v.val.string.len > CLV_MAX_NAME_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s \"%s\" of %s has an empty or too long name", noun, opt->name,
							fname)));
		if (out->n == cap)
		{
			cap *= 2;
			out->names = repalloc(out->names, sizeof(char *) * cap);
		}
		out->names[out->n++] = pnstrdup(v.val.string.val, v.val.string.len);
	}
}

static void
numbers_value(const char *noun, const char *fname, const clv_option *opt, JsonbValue *value,
			  clv_numbers *out)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			cap = 8;
	clv_option	element = *opt;

	if (value->type != jbvBinary || !JsonContainerIsArray(value->val.binary.data))
		type_error(noun, fname, opt->name, "an array of numbers", value);
	element.type = CLV_OPT_NUMBER;
	out->n = 0;
	out->v = palloc(sizeof(double) * cap);
	it = JsonbIteratorInit(value->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;			/* the array's begin and end */
		if (out->n == cap)
		{
			cap *= 2;
			out->v = repalloc(out->v, sizeof(double) * cap);
		}
		out->v[out->n++] = number_value(noun, fname, &element, &v);
	}
}

void
clv_parse_options(Jsonb *options, const char *fname, const clv_option *spec, int n_spec)
{
	clv_parse_object(options, fname, "option", spec, n_spec);
}

void
clv_parse_object(Jsonb *options, const char *fname, const char *noun,
				 const clv_option *spec, int n_spec)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%ss of %s must be a jsonb object", noun, fname)));

	it = JsonbIteratorInit(&options->root);
	tok = JsonbIteratorNext(&it, &v, true);		/* WJB_BEGIN_OBJECT */
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		const clv_option *opt = NULL;

		if (tok != WJB_KEY)
			continue;			/* WJB_END_OBJECT */
		key = pnstrdup(v.val.string.val, v.val.string.len);
		for (int i = 0; i < n_spec; i++)
			if (strcmp(spec[i].name, key) == 0)
				opt = &spec[i];
		if (opt == NULL)
		{
			StringInfoData known;

			initStringInfo(&known);
			for (int i = 0; i < n_spec; i++)
				appendStringInfo(&known, "%s\"%s\"", i ? ", " : "", spec[i].name);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown %s \"%s\" for %s", noun, key, fname),
					 errhint("Known %ss are %s.", noun, known.data)));
		}

		tok = JsonbIteratorNext(&it, &v, true);
		switch (opt->type)
		{
			case CLV_OPT_NUMBER:
				*(double *) opt->target = number_value(noun, fname, opt, &v);
				break;
			case CLV_OPT_INTEGER:
				*(int *) opt->target = (int) number_value(noun, fname, opt, &v);
				break;
			case CLV_OPT_NAMES:
				names_value(noun, fname, opt, &v, (clv_names *) opt->target);
				break;
			case CLV_OPT_NUMBERS:
				numbers_value(noun, fname, opt, &v, (clv_numbers *) opt->target);
				break;
			case CLV_OPT_BOOL:
				if (v.type != jbvBool)
					type_error(noun, fname, opt->name, "a boolean", &v);
				*(bool *) opt->target = v.val.boolean;
				break;
			case CLV_OPT_STRING:
				if (v.type != jbvString)
					type_error(noun, fname, opt->name, "a string", &v);
				*(char **) opt->target = pnstrdup(v.val.string.val, v.val.string.len);
				break;
		}
	}
}

void
clv_check_feature_names(const clv_names *names, int n_features)
{
	if (names->n > 0 && names->n != n_features)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_plural("option \"features\" names %d features, but x has %d element",
							   "option \"features\" names %d features, but x has %d elements",
							   n_features, names->n, n_features)));
}

Jsonb *
clv_copy_jsonb(MemoryContext cxt, const Jsonb *j)
{
	Jsonb	   *copy;

	if (j == NULL)
		return NULL;
	copy = MemoryContextAlloc(cxt, VARSIZE(j));
	memcpy(copy, j, VARSIZE(j));
	return copy;
}

Jsonb *
clv_options_arg(FunctionCallInfo fcinfo, int argno, MemoryContext cxt)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	return clv_copy_jsonb(cxt, PG_GETARG_JSONB_P(argno));
}

static bool
same_jsonb(const Jsonb *a, const Jsonb *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return DatumGetBool(DirectFunctionCall2(jsonb_eq, JsonbPGetDatum(a), JsonbPGetDatum(b)));
}

pg_attribute_noreturn()
static void
options_differ(const char *fname)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s needs the same options in every row of a group", fname),
			 errhint("Pass the options as a constant, or group by them.")));
}

void
clv_check_options_row(FunctionCallInfo fcinfo, int argno, const Jsonb *kept, const char *fname)
{
	struct varlena *raw;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
	{
		if (kept != NULL)
			options_differ(fname);
		return;
	}
	if (kept == NULL)
		options_differ(fname);
	/* usually a constant: the same bytes, compared without a copy */
	raw = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(argno));
	if (!VARATT_IS_EXTERNAL(raw) && !VARATT_IS_COMPRESSED(raw) &&
		clv_same_bytes(raw, (const struct varlena *) kept))
		return;
	if (!same_jsonb(PG_GETARG_JSONB_P(argno), kept))
		options_differ(fname);
}

/* In a combine function, which several aggregates share: the error names the aggregate. */
void
clv_check_options_agree(FunctionCallInfo fcinfo, const Jsonb *a, const Jsonb *b)
{
	if (!same_jsonb(a, b))
		options_differ(clv_agg_name(fcinfo));
}

size_t
clv_sent_jsonb_bytes(const Jsonb *j)
{
	return 4 + (j ? VARSIZE(j) : 0);
}

void
clv_send_jsonb(StringInfo buf, const Jsonb *j)
{
	pq_sendint32(buf, j ? VARSIZE(j) : 0);
	if (j)
		pq_sendbytes(buf, (const char *) j, VARSIZE(j));
}

/*
 * Whether the len bytes at c (4-byte aligned) hold a jsonb container whose
 * every child lies inside it, as jsonb's readers assume without checking.
 * Strings must be in the database encoding, numbers plain numeric varlenas
 * (jsonb holds no NaN or infinity).
 */
static bool
jsonb_container_ok(const char *c, uint32 len, bool root)
{
	uint32		header,
				count,
				n,
				start = 0;
	const char *base;
	uint32		data_len;

	check_stack_depth();
	if (len < sizeof(uint32))
		return false;
	memcpy(&header, c, sizeof(uint32));
	count = header & JB_CMASK;
	switch (header & ~JB_CMASK)
	{
		case JB_FOBJECT:
			n = 2 * count;		/* keys, then values */
			break;
		case JB_FARRAY:
			n = count;
			break;
		case JB_FARRAY | JB_FSCALAR:
			if (!root || count != 1)
				return false;
			n = 1;
			break;
		default:
			return false;
	}
	if (n > (len - sizeof(uint32)) / sizeof(JEntry))
		return false;
	base = c + sizeof(uint32) + n * sizeof(JEntry);
	data_len = len - sizeof(uint32) - n * sizeof(JEntry);
	for (uint32 i = 0; i < n; i++)
	{
		JEntry		e;
		uint32		end,
					pad;

		memcpy(&e, c + sizeof(uint32) + i * sizeof(JEntry), sizeof(JEntry));
		end = JBE_HAS_OFF(e) ? JBE_OFFLENFLD(e) : start + JBE_OFFLENFLD(e);
		if (end < start || end > data_len)
			return false;
		/* numbers and containers start 4-byte aligned, after padding */
		pad = INTALIGN(start) - start;
		if ((header & JB_FOBJECT) && i < count && !JBE_ISSTRING(e))
			return false;		/* a key that is not a string */
		switch (e & JENTRY_TYPEMASK)
		{
			case JENTRY_ISSTRING:
				if (!pg_verifymbstr(base + start, (int) (end - start), true))
					return false;
				break;
			case JENTRY_ISNUMERIC:
				{
					const char *num = base + start + pad;
					uint32		num_len = end - start - pad;
					uint16		flags;

					uint32		digits;

					/*
					 * numeric's on-disk form: a 4-byte varlena header, a
					 * header word whose top bits are 11 for NaN and the
					 * infinities and 10 for the short format (one header
					 * word, else two), then base-10000 digits.
					 */
					if (pad > end - start || num_len < VARHDRSZ + sizeof(uint16) ||
						!VARATT_IS_4B_U(num) || VARSIZE(num) != num_len)
						return false;
					memcpy(&flags, num + VARHDRSZ, sizeof(uint16));
					digits = VARHDRSZ + ((flags & 0xC000) == 0x8000 ? 1 : 2) * sizeof(uint16);
					if ((flags & 0xC000) == 0xC000 || num_len < digits ||
						(num_len - digits) % sizeof(int16) != 0)
						return false;
					for (; digits < num_len; digits += sizeof(int16))
					{
						int16		d;

						memcpy(&d, num + digits, sizeof(int16));
						if (d < 0 || d >= 10000)
							return false;
					}
					break;
				}
			case JENTRY_ISBOOL_FALSE:
			case JENTRY_ISBOOL_TRUE:
			case JENTRY_ISNULL:
				if (end != start)
					return false;
				break;
			case JENTRY_ISCONTAINER:
				if (pad > end - start ||
					!jsonb_container_ok(base + start + pad, end - start - pad, false))
					return false;
				break;
			default:
				return false;
		}
		start = end;
	}
	return true;
}

Jsonb *
clv_receive_jsonb(StringInfo buf)
{
	uint32		len = clv_state_uint32(buf);
	const char *bytes;
	Jsonb	   *j;

	if (len == 0)
		return NULL;
	if (len < VARHDRSZ + sizeof(uint32))
		clv_invalid_state("The options are %u bytes long.", len);
	bytes = clv_state_take(buf, len);	/* before the allocation: len is checked */
	j = palloc(len);
	memcpy(j, bytes, len);
	if (!VARATT_IS_4B_U(j) || VARSIZE(j) != (Size) len)
		clv_invalid_state("The options are %u bytes long, their header says otherwise.", len);
	if (!jsonb_container_ok((const char *) &j->root, len - VARHDRSZ, true))
		clv_invalid_state("The options are not a valid jsonb value.");
	return j;
}
