/*
 * fuzz_model.c — libFuzzer target for the model container decoder.
 *
 * A bytea given to clv_predict or clv_model_info can come from any user, and
 * a crash restarts the whole server, so the decoder must survive any bytes.
 * Beyond "no crash", a successful decode must mean a usable model: it scores
 * a zero vector to a finite value and re-encodes to exactly the input (the
 * format has one encoding per model, so anything else is a decoder that
 * accepted bytes it does not understand).
 *
 * Random mutations almost never carry a valid CRC-32C (or, in format
 * version 2, SHA-256 digest), which would confine the fuzzer to the header
 * checks; so each input is decoded twice: as given, and with its body length,
 * digest and checksum fields made consistent for the version it claims,
 * which lets mutations reach the structural checks behind them.
 *
 * A decoded tree ensemble is also scored and explained on a few inputs
 * (all zeros, all missing, a mixture), and its TreeSHAP values must add up
 * to the margin minus the expected value wherever the numbers are finite.
 *
 * Build and run: make fuzz FUZZ_SECONDS=60 PG_CONFIG=...
 * Seeds: test/fuzz/corpus, written by test/fuzz/make_corpus.c.
 */
#include "model.h"
#include "mlp.h"
#include "kmeans.h"
#include "trees.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Larger ensembles decode but are not explained: iterations stay fast. */
#define EXPLAIN_MAX_NODES 4096

static void
check_ensemble(const clv_model *m)
{
	const clv_ensemble *e = m->ensemble;
	uint32_t	p = m->n_features;
	double	   *x = calloc(p, sizeof(double));
	double	   *phi = calloc(p, sizeof(double));

	if (x == NULL || phi == NULL || e == NULL || e->n_features != p)
		abort();
	for (int round = 0; round < 3; round++)
	{
		double		margin,
					expected,
					sum = 0,
					scale;

		for (uint32_t j = 0; j < p; j++)
			x[j] = round == 0 ? 0 : round == 1 ? NAN : (j % 3 == 0 ? NAN : (double) j - 1.5);
		margin = clv_ensemble_margin(e, x);
		(void) clv_ensemble_predict(e, x);
		if (e->n_nodes > EXPLAIN_MAX_NODES)
			continue;
		clv_ensemble_explain(e, x, phi, &expected);
		scale = 1 + fabs(margin) + fabs(expected);
		for (uint32_t j = 0; j < p; j++)
		{
			sum += phi[j];
			scale += fabs(phi[j]);
		}
		if (isfinite(scale) && isfinite(sum) && scale < 1e100 &&
			fabs(sum - (margin - expected)) > 1e-6 * scale)
			abort();
	}
	free(x);
	free(phi);
}

static void
decode_and_check(const uint8_t *data, size_t size)
{
	clv_model  *m = NULL;
	clv_error	err;
	clv_status	st;
	clv_buf		enc;
	double	   *x;
	double		y;

	memset(&err, 0, sizeof(err));
	st = clv_model_decode(data, size, &m, &err);
	if (st != CLV_OK)
	{
		/* every failure must be reported, never silent */
		if (err.status != st || err.message[0] == '\0')
			abort();
		clv_model_free(m);		/* a failed decode may leave a partial model */
		return;
	}
	if (m == NULL ||
		(m->coef == NULL && m->params == NULL && m->ensemble == NULL && m->kmeans == NULL &&
		 m->mlp == NULL) ||
		m->meta == NULL ||
		clv_model_check_header(data, size, &err) != CLV_OK)
		abort();

	clv_model_encode_version(m, m->format_version, &enc);
	if (enc.len != size || memcmp(enc.data, data, size) != 0)
		abort();				/* a valid decode must round-trip */
	clv_release(enc.data);

	if (m->ensemble != NULL)
	{
		check_ensemble(m);
		clv_model_free(m);
		return;
	}
	x = calloc(m->n_features, sizeof(double));
	if (x == NULL)
		abort();
	y = clv_model_predict(m, x);
	if (m->kmeans != NULL)
	{
		/* a cluster number 1 .. k */
		if (!(y >= 1 && y <= m->kmeans->k && y == floor(y)))
			abort();
	}
	else if (m->mlp != NULL)
	{
		/* finite weights may still overflow: a probability, or NaN */
		if (m->mlp->loss == CLV_MLP_LOG_LOSS && !isnan(y) && !(y >= 0 && y <= 1))
			abort();
	}
	else if (m->coef == NULL)
	{
		/*
		 * the probabilistic kinds have positive, finite parameters; those
		 * with covariates, finite coefficients after their 4 base ones
		 */
		bool		cov = m->kind == CLV_KIND_BGNBD_COV || m->kind == CLV_KIND_PARETONBD_COV;

		for (uint32_t i = 0; i < m->n_params; i++)
			if (!((m->params[i] > 0 || (cov && i >= 4)) && isfinite(m->params[i])))
				abort();
	}
	else if (!isfinite(y) ||
		(m->kind == CLV_KIND_LINREG && y != m->coef[0]) ||
		(m->kind == CLV_KIND_LOGREG && !(y >= 0 && y <= 1)))
		abort();
	free(x);
	clv_model_free(m);
}

static void
store_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_and_check(data, size);

	/* the same bytes with a consistent length, digest and checksum */
	if (size >= CLV_MODEL_HEADER_SIZE)
	{
		uint8_t    *copy = malloc(size);
		bool		v2 = (data[4] | data[5] << 8) >= 2;

		if (copy == NULL)
			abort();
		memcpy(copy, data, size);
		if (!v2)
		{
			store_u32(copy + 16, (uint32_t) (size - CLV_MODEL_HEADER_SIZE));
			store_u32(copy + 20, clv_crc32c(clv_crc32c(0, copy, 20), copy + CLV_MODEL_HEADER_SIZE,
											size - CLV_MODEL_HEADER_SIZE));
			decode_and_check(copy, size);
		}
		else if (size >= CLV_MODEL_HEADER_SIZE_V2)
		{
			store_u32(copy + 16, (uint32_t) (size - CLV_MODEL_HEADER_SIZE_V2));
			clv_model_compute_digest(copy, size, copy + CLV_MODEL_HEADER_SIZE);
			store_u32(copy + 20, clv_crc32c(clv_crc32c(0, copy, 20), copy + CLV_MODEL_HEADER_SIZE,
											CLV_MODEL_DIGEST_SIZE));
			decode_and_check(copy, size);
		}
		free(copy);
	}
	return 0;
}
