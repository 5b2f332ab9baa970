/*
 * fold_glue.c — clv_fold: a key's cross-validation fold, the same on every
 * server, version and platform.
 *
 * The key is hashed in PostgreSQL's binary send form (big-endian integers,
 * IEEE floats), which does not depend on the platform.  Text types are hashed
 * in the database encoding instead: their send functions convert to the
 * client's encoding, which changes from session to session.
 */
#include "clv.h"

#include "catalog/pg_type.h"
#include "utils/lsyscache.h"

#include "fold.h"

typedef struct fold_key
{
	Oid			type;
	bool		is_text;
	int			int_bytes;		/* 2, 4 or 8 for the integer types, else 0 */
	FmgrInfo	send;
} fold_key;

/* How to read argument 0, looked up once per call site. */
static const fold_key *
key_info(FunctionCallInfo fcinfo)
{
	fold_key   *info = fcinfo->flinfo->fn_extra;
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 0);

	if (info != NULL && info->type == type)
		return info;
	if (!OidIsValid(type))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clv_fold could not determine the type of its key")));
	info = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(fold_key));
	info->type = type;
	switch (getBaseType(type))
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			info->is_text = true;
			break;
		case INT2OID:
			info->int_bytes = 2;
			break;
		case INT4OID:
			info->int_bytes = 4;
			break;
		case INT8OID:
			info->int_bytes = 8;
			break;
		default:
			{
				Oid			send;
				bool		is_varlena;

				/* a type without a binary form is an error here (42883) */
				getTypeBinaryOutputInfo(type, &send, &is_varlena);
				fmgr_info_cxt(send, &info->send, fcinfo->flinfo->fn_mcxt);
			}
	}
	fcinfo->flinfo->fn_extra = info;
	return info;
}

PG_FUNCTION_INFO_V1(clv_fold);
Datum
clv_fold(PG_FUNCTION_ARGS)
{
	int32		k = PG_GETARG_INT32(1);
	int64		seed = PG_NARGS() > 2 ? PG_GETARG_INT32(2) : 0;
	const fold_key *info;
	bytea	   *bytes;

	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1"),
				 errdetail("The value is %d.", k)));
	info = key_info(fcinfo);
	if (info->int_bytes > 0)
	{
		/* the integers' send form, big-endian, without a call and a palloc per row */
		Datum		d = PG_GETARG_DATUM(0);
		uint64		v = info->int_bytes == 8 ? (uint64) DatumGetInt64(d) :
			info->int_bytes == 4 ? (uint64) (uint32) DatumGetInt32(d) :
			(uint64) (uint16) DatumGetInt16(d);
		unsigned char be[8];

		for (int i = 0; i < info->int_bytes; i++)
			be[i] = (unsigned char) (v >> (8 * (info->int_bytes - 1 - i)));
		PG_RETURN_INT32((int32) clv_fold_of(clv_fold_hash(be, info->int_bytes, seed), (uint32) k));
	}
	if (info->is_text)
		bytes = (bytea *) PG_GETARG_TEXT_PP(0);
	else
		bytes = SendFunctionCall((FmgrInfo *) &info->send, PG_GETARG_DATUM(0));
	PG_RETURN_INT32((int32) clv_fold_of(clv_fold_hash(VARDATA_ANY(bytes),
													 VARSIZE_ANY_EXHDR(bytes), seed),
										(uint32) k));
}
