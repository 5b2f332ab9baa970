/*
 * fold.c — the fold hash (see fold.h for its definition).
 */
#include "fold.h"

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

static uint64_t
fnv1a(uint64_t h, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * FNV_PRIME;
	return h;
}

/* MurmurHash3's fmix64. */
static uint64_t
finalize(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

uint64_t
clv_fold_hash(const void *key, size_t len, int64_t seed)
{
	unsigned char s[8];
	uint64_t	u = (uint64_t) seed;

	for (int i = 0; i < 8; i++)
		s[i] = (unsigned char) (u >> (56 - 8 * i));
	return finalize(fnv1a(fnv1a(FNV_OFFSET, s, sizeof(s)), key, len));
}
