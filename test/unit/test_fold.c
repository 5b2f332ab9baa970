/*
 * test_fold.c — the fold hash against values computed from its definition
 * (fold.h) by a separate implementation, and its spread over folds.
 */
#include <stdio.h>
#include <string.h>

#include "fold.h"
#include "tap.h"

static void
test_known_hashes(void)
{
	const unsigned char minus5[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb};
	struct
	{
		const void *key;
		size_t		len;
		int64_t		seed;
		uint64_t	want;
	}			cases[] = {
		{"", 0, 0, UINT64_C(0x7bd3144f29c0cc9e)},
		{"abc", 3, 0, UINT64_C(0xd16881089f6d3b14)},
		{"abc", 3, 7, UINT64_C(0xd7ed8ada8ffdf2be)},
		{minus5, 8, -3, UINT64_C(0x5dabf0bd47b57cb0)},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		uint64_t	got = clv_fold_hash(cases[i].key, cases[i].len, cases[i].seed);

		check(got == cases[i].want, "fold hash of case %zu is %016llx (got %016llx)", i,
			  (unsigned long long) cases[i].want, (unsigned long long) got);
	}
	check(clv_fold_of(UINT64_C(0x5dabf0bd47b57cb0), 1000) == 366,
		  "bigint -5, seed -3, k = 1000: fold 366");
}

/* Fold k of a 64-bit hash covers 1..k: the smallest and largest hashes. */
static void
test_fold_range(void)
{
	check(clv_fold_of(0, 7) == 1 && clv_fold_of(UINT64_MAX, 7) == 7 &&
		  clv_fold_of(UINT64_MAX, 1) == 1 && clv_fold_of(UINT64_MAX, 2147483647) == 2147483647,
		  "folds run from 1 to k, k up to the largest integer");
}

/* Consecutive integer keys spread evenly: chi-square below its 0.1 % value. */
static void
test_uniform(void)
{
	enum {N = 200000, K = 16};
	unsigned	counts[K] = {0};
	double		chi2 = 0;

	for (uint32_t i = 0; i < N; i++)
	{
		unsigned char key[4] = {(unsigned char) (i >> 24), (unsigned char) (i >> 16),
		(unsigned char) (i >> 8), (unsigned char) i};

		counts[clv_fold_of(clv_fold_hash(key, sizeof(key), 0), K) - 1]++;
	}
	for (int f = 0; f < K; f++)
		chi2 += (counts[f] - N / (double) K) * (counts[f] - N / (double) K) / (N / (double) K);
	check(chi2 < 37.70, "200,000 consecutive keys over 16 folds: chi-square %.2f below 37.70 "
		  "(0.1 %% critical value, 15 degrees of freedom)", chi2);
}

int
main(void)
{
	test_known_hashes();
	test_fold_range();
	test_uniform();
	return tap_done();
}
