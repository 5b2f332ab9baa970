/*
 * make_corpus.c — writes the fuzzer's seed models into a directory.
 *
 * A handful of small valid models of each kind, with and without feature
 * names and metadata, so that mutations start from bytes that pass every
 * check.  Not part of the build; regenerate with:
 *
 *   cc -std=gnu11 -Isrc/core -o make_corpus test/fuzz/make_corpus.c \
 *       src/core/model.c src/core/common.c -lm
 *   ./make_corpus test/fuzz/corpus && rm make_corpus
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
write_seed(const char *dir, const char *name, clv_model_kind kind, uint32_t p,
		   const char *const *names, const char *meta)
{
	clv_model	m;
	clv_buf		buf;
	char		path[4096];
	FILE	   *f;
	int			ok;

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.n_features = p;
	m.feature_names = (char **) names;
	m.meta = (char *) meta;
	m.coef = malloc(sizeof(double) * (p + 1));
	for (uint32_t i = 0; i <= p; i++)
		m.coef[i] = (i % 2 ? -1.0 : 1.0) * (0.5 + i) / 3.0;
	clv_model_encode(&m, &buf);
	free(m.coef);

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	ok = f != NULL && fwrite(buf.data, 1, buf.len, f) == buf.len;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	if (!ok)
		perror(path);
	else
		printf("%s: %zu bytes\n", path, buf.len);
	clv_release(buf.data);
	return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *const rfm[] = {"recency", "frequency", "monetary"};
	const char *const two[] = {"tenure_days", "orders_90d"};
	const char *const odd[] = {"", "caf\xc3\xa9", "x y"};
	const char *wide[24];
	char		wide_buf[24][16];
	int			failed = 0;

	if (argc != 2)
	{
		fprintf(stderr, "usage: %s corpus-directory\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < 24; i++)
	{
		snprintf(wide_buf[i], sizeof(wide_buf[i]), "feature_%02d", i);
		wide[i] = wide_buf[i];
	}
	failed += write_seed(argv[1], "linreg_p1_bare", CLV_KIND_LINREG, 1, NULL, "");
	failed += write_seed(argv[1], "linreg_p3_names_meta", CLV_KIND_LINREG, 3, rfm,
						 "{\"n\": 2357, \"l2\": 0, \"r2\": 0.41}");
	failed += write_seed(argv[1], "linreg_p24_names", CLV_KIND_LINREG, 24, wide, "{}");
	failed += write_seed(argv[1], "logreg_p2_names", CLV_KIND_LOGREG, 2, two,
						 "{\"n\": 100, \"converged\": true}");
	failed += write_seed(argv[1], "logreg_p5_meta", CLV_KIND_LOGREG, 5, NULL,
						 "{\"options\": {\"l2\": 1.5, \"max_iter\": 50}}");
	failed += write_seed(argv[1], "logreg_p3_odd_names", CLV_KIND_LOGREG, 3, odd, "");
	return failed ? 1 : 0;
}
