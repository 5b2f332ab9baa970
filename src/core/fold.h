/*
 * fold.h — stable fold numbers for cross-validation.
 *
 * A key's fold must be the same on every server, clv version and platform,
 * so the hash is spelled out here (and in doc/reference.md) rather than taken
 * from PostgreSQL, whose hash functions may change between major versions:
 *
 *     h = FNV-1a 64 over the seed (8 bytes, big-endian) and then the key's bytes
 *     h = MurmurHash3's 64-bit finalizer of h
 *     fold = 1 + ((h >> 32) * k >> 32)
 *
 * The finalizer spreads FNV's weak high bits; the multiply-shift maps the top
 * 32 bits onto 1..k without the bias of a modulo.
 */
#ifndef CLV_FOLD_H
#define CLV_FOLD_H

#include "clv_core.h"

uint64_t	clv_fold_hash(const void *key, size_t len, int64_t seed);

/* The fold 1..k of a hash; k at least 1. */
static inline uint32_t
clv_fold_of(uint64_t hash, uint32_t k)
{
	return 1 + (uint32_t) (((hash >> 32) * (uint64_t) k) >> 32);
}

#endif							/* CLV_FOLD_H */
