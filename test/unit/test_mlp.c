/*
 * test_mlp.c — unit tests of the multi-layer perceptron core: fits that
 * learn what they should, bytes that depend on neither the row order nor
 * the thread count, early stopping, the codec's strictness, errors and
 * cancellation.
 *
 * CLV_TEST_QUICK=1 (used by unit-san) shrinks the data sets.
 */
#include "tap.h"
#include "mlp.h"
#include "model.h"

#include <stdlib.h>
#include <string.h>

static bool quick;

typedef struct data
{
	size_t		n;
	uint32_t	p;
	double	   *x;
	double	   *y;
} data;

/* A small deterministic generator for the test data (xorshift64*). */
static uint64_t rng_state = 88172645463325252ull;

static double
uniform(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double) ((rng_state * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

/* Friedman #1 without noise: y = 10 sin(π x1 x2) + 20 (x3 − ½)² + 10 x4 + 5 x5. */
static data
friedman(size_t n, bool classify)
{
	data		d = {n, 6, malloc(sizeof(double) * n * 6), malloc(sizeof(double) * n)};

	for (size_t i = 0; i < n; i++)
	{
		double	   *x = d.x + i * 6;
		double		f;

		for (int j = 0; j < 6; j++)
			x[j] = uniform();
		x[5] *= 1000;			/* an irrelevant feature on another scale */
		f = 10 * sin(M_PI * x[0] * x[1]) + 20 * (x[2] - 0.5) * (x[2] - 0.5) + 10 * x[3] + 5 * x[4];
		d.y[i] = classify ? (f > 14.4 ? 1 : 0) : f;
	}
	return d;
}

static void
load(clv_tree_rows *rows, const data *d, const size_t *order)
{
	clv_error	err;

	clv_tree_rows_init(rows, d->p, 0);
	for (size_t i = 0; i < d->n; i++)
	{
		size_t		k = order ? order[i] : i;

		if (clv_tree_rows_append(rows, d->y[k], d->x + k * d->p, &err) != CLV_OK)
			abort();
	}
}

static clv_mlp *
train(const data *d, const size_t *order, const clv_mlp_options *opt, clv_status *st,
	  clv_error *err)
{
	clv_tree_rows rows;
	clv_mlp    *m = NULL;

	load(&rows, d, order);
	*st = clv_mlp_train(&rows, opt, &m, err);
	clv_tree_rows_free(&rows);
	return m;
}

static void
encode(const clv_mlp *mlp, clv_buf *buf)
{
	clv_model	m = {0};

	m.kind = CLV_KIND_MLP;
	m.n_features = mlp->n_features;
	m.meta = "{}";
	m.mlp = (clv_mlp *) mlp;
	clv_model_encode(&m, buf);
}

static double
r_squared(const clv_mlp *m, const data *d)
{
	double		mean = 0,
				res = 0,
				tot = 0;

	for (size_t i = 0; i < d->n; i++)
		mean += d->y[i];
	mean /= d->n;
	for (size_t i = 0; i < d->n; i++)
	{
		double		e = d->y[i] - clv_mlp_predict(m, d->x + i * d->p);

		res += e * e;
		tot += (d->y[i] - mean) * (d->y[i] - mean);
	}
	return 1 - res / tot;
}

static void
free_data(data *d)
{
	free(d->x);
	free(d->y);
}

static void
test_regression(void)
{
	data		d = friedman(quick ? 600 : 2000, false);
	data		test = friedman(1000, false);
	clv_mlp_options opt;
	clv_error	err;
	clv_status	st;
	clv_mlp    *m;

	clv_mlp_options_default(&opt, false);
	opt.hidden[0] = 32;
	opt.max_epochs = quick ? 60 : 200;
	opt.learning_rate = 0.01;
	m = train(&d, NULL, &opt, &st, &err);
	if (!check_status(st, CLV_OK, &err, "regression: Friedman #1 trains"))
		return;
	diag("held-out R² %.4f after %u epochs", r_squared(m, &test), m->n_epochs);
	check(r_squared(m, &test) > 0.9, "regression: held-out R² above 0.9");
	check(m->best_epoch == m->n_epochs && m->valid_curve == NULL,
		  "regression: without early stopping the last epoch is kept");
	check(m->loss_curve[m->n_epochs - 1] < m->loss_curve[0], "regression: the loss falls");
	clv_mlp_free(m);
	free_data(&d);
	free_data(&test);
}

static void
test_classification(void)
{
	data		d = friedman(quick ? 600 : 2000, true);
	data		test = friedman(1000, true);
	clv_mlp_options opt;
	clv_error	err;
	clv_status	st;
	clv_mlp    *m;
	size_t		hits = 0;
	bool		in_range = true;

	clv_mlp_options_default(&opt, true);
	opt.n_hidden = 2;
	opt.hidden[0] = 16;
	opt.hidden[1] = 8;
	opt.activation = CLV_MLP_TANH;
	opt.learning_rate = 0.01;
	opt.early_stopping = true;
	opt.max_epochs = quick ? 40 : 150;
	m = train(&d, NULL, &opt, &st, &err);
	if (!check_status(st, CLV_OK, &err, "classification: two tanh layers train"))
		return;
	for (size_t i = 0; i < test.n; i++)
	{
		double		prob = clv_mlp_predict(m, test.x + i * test.p);

		in_range &= prob >= 0 && prob <= 1;
		hits += (prob > 0.5) == (test.y[i] > 0.5);
	}
	diag("held-out accuracy %.4f, best epoch %u of %u", (double) hits / test.n,
		 m->best_epoch, m->n_epochs);
	check(in_range, "classification: predictions are probabilities");
	/* the quick data set is a third of the rows, and stops early on them */
	check((double) hits / test.n > (quick ? 0.8 : 0.85),
		  "classification: held-out accuracy above %.2f", quick ? 0.8 : 0.85);
	check(m->valid_curve != NULL && m->best_epoch >= 1 && m->best_epoch <= m->n_epochs,
		  "classification: early stopping records its scores and best epoch");
	clv_mlp_free(m);
	free_data(&d);
	free_data(&test);
}

/* The same bytes whatever the row order and the thread count. */
static void
test_determinism(void)
{
	data		d = friedman(quick ? 500 : 1500, false);
	size_t	   *order = malloc(sizeof(size_t) * d.n);
	clv_mlp_options opt;
	clv_error	err;
	clv_status	s1,
				s2,
				s3;
	clv_mlp    *a,
			   *b,
			   *c;
	clv_buf		ba,
				bb,
				bc;

	for (size_t i = 0; i < d.n; i++)
		order[i] = d.n - 1 - i;
	clv_mlp_options_default(&opt, false);
	opt.n_hidden = 2;
	opt.hidden[0] = 20;
	opt.hidden[1] = 11;
	opt.max_epochs = 15;
	opt.batch_size = 67;
	opt.early_stopping = true;
	opt.seed = 42;
	opt.min_parallel_work = 0;	/* threads even for this small network */
	a = train(&d, NULL, &opt, &s1, &err);
	opt.n_threads = 2;
	b = train(&d, order, &opt, &s2, &err);
	opt.n_threads = 3;
	c = train(&d, NULL, &opt, &s3, &err);
	if (!check(s1 == CLV_OK && s2 == CLV_OK && s3 == CLV_OK, "determinism: three fits train"))
		return;
	encode(a, &ba);
	encode(b, &bb);
	encode(c, &bc);
	check(ba.len == bb.len && memcmp(ba.data, bb.data, ba.len) == 0,
		  "determinism: 2 threads and reversed rows give the bytes of 1 thread");
	check(ba.len == bc.len && memcmp(ba.data, bc.data, ba.len) == 0,
		  "determinism: 3 threads give the bytes of 1 thread");
	opt.seed = 43;
	clv_mlp_free(c);
	c = train(&d, NULL, &opt, &s3, &err);
	free(bc.data);
	encode(c, &bc);
	check(s3 == CLV_OK && (ba.len != bc.len || memcmp(ba.data, bc.data, ba.len) != 0),
		  "determinism: another seed gives another model");
	free(ba.data);
	free(bb.data);
	free(bc.data);
	clv_mlp_free(a);
	clv_mlp_free(b);
	clv_mlp_free(c);
	free(order);
	free_data(&d);
}

static void
test_codec(void)
{
	data		d = friedman(300, true);
	clv_mlp_options opt;
	clv_error	err;
	clv_status	st;
	clv_mlp    *m;
	clv_model  *back = NULL;
	clv_buf		buf;
	bool		same = true;
	size_t		refused = 0,
				payload;

	clv_mlp_options_default(&opt, true);
	opt.hidden[0] = 5;
	opt.max_epochs = 5;
	opt.early_stopping = true;
	m = train(&d, NULL, &opt, &st, &err);
	if (!check_status(st, CLV_OK, &err, "codec: a small network trains"))
		return;
	encode(m, &buf);
	st = clv_model_decode(buf.data, buf.len, &back, &err);
	if (!check_status(st, CLV_OK, &err, "codec: the model decodes"))
		return;
	for (size_t i = 0; i < d.n; i++)
		same &= clv_mlp_predict(m, d.x + i * d.p) == clv_model_predict(back, d.x + i * d.p);
	check(same, "codec: the decoded model predicts the same values");
	check(back->mlp->n_epochs == m->n_epochs && back->mlp->best_epoch == m->best_epoch &&
		  back->mlp->valid_curve != NULL, "codec: the training summary survives");
	clv_model_free(back);

	/* the payload decoder itself: every truncation, a non-finite weight */
	{
		clv_buf		raw;
		clv_mlp    *t = NULL;
		clv_reader	r;
		double		inf = INFINITY;
		size_t		at;

		clv_buf_init(&raw, 64);
		clv_mlp_encode(m, &raw);
		r = (clv_reader) {raw.data, raw.len, 0};
		check(clv_mlp_decode(&r, m->n_features, &t, &err) == CLV_OK && r.pos == raw.len,
			  "codec: the payload decodes to its end");
		clv_mlp_free(t);
		payload = 0;
		for (size_t len = 0; len < raw.len; len++)
		{
			t = NULL;
			r = (clv_reader) {raw.data, len, 0};
			refused += clv_mlp_decode(&r, m->n_features, &t, &err) == CLV_ERR_CORRUPT && t == NULL;
			payload++;
		}
		check(refused == payload, "codec: all %zu truncations are refused", payload);
		r = (clv_reader) {raw.data, raw.len, 0};
		check(clv_mlp_decode(&r, m->n_features + 1, &t, &err) == CLV_ERR_CORRUPT,
			  "codec: a feature count that is not the input layer's is refused");
		at = raw.len - (12 + 8 * (size_t) m->n_epochs * 2) - 8;	/* the last weight */
		memcpy(raw.data + at, &inf, 8);
		r = (clv_reader) {raw.data, raw.len, 0};
		st = clv_mlp_decode(&r, m->n_features, &t, &err);
		check(st == CLV_ERR_CORRUPT, "codec: an infinite weight is refused (%s)", err.detail);
		free(raw.data);
	}
	free(buf.data);
	clv_mlp_free(m);
	free_data(&d);
}

static void
test_errors(void)
{
	data		d = friedman(50, false);
	clv_mlp_options opt;
	clv_error	err;
	clv_status	st;
	clv_mlp    *m;

	clv_mlp_options_default(&opt, false);
	opt.hidden[0] = 4;
	opt.max_epochs = 2;

	d.x[7] = NAN;
	m = train(&d, NULL, &opt, &st, &err);
	check(st == CLV_ERR_INVALID && m == NULL, "errors: NaN in x is refused (%s)", err.message);
	d.x[7] = 0.5;

	opt.loss = CLV_MLP_LOG_LOSS;
	m = train(&d, NULL, &opt, &st, &err);
	check(st == CLV_ERR_INVALID && m == NULL, "errors: the log loss refuses y outside {0, 1}");
	opt.loss = CLV_MLP_SQUARED_ERROR;

	opt.n_hidden = 6;
	for (int l = 0; l < 6; l++)
		opt.hidden[l] = 1024;
	m = train(&d, NULL, &opt, &st, &err);
	check(st == CLV_ERR_LIMIT && m == NULL, "errors: too many weights (%s)", err.message);
	opt.n_hidden = 1;
	opt.hidden[0] = 4;

	opt.learning_rate = 1e6;
	opt.max_epochs = 50;
	m = train(&d, NULL, &opt, &st, &err);
	check(m == NULL ? st == CLV_ERR_NOCONVERGE : st == CLV_OK,
		  "errors: a huge learning rate diverges with an error or stays finite");
	clv_mlp_free(m);
	opt.learning_rate = 0.001;

	opt.early_stopping = true;
	opt.validation_fraction = 0.999;
	m = train(&d, NULL, &opt, &st, &err);
	check(st == CLV_ERR_DATA && m == NULL, "errors: no training rows left (%s)", err.message);
	opt.early_stopping = false;

	d.n = 1;
	m = train(&d, NULL, &opt, &st, &err);
	check(st == CLV_ERR_DATA && m == NULL, "errors: one row is too few");
	d.n = 50;
	free_data(&d);
}

/* Cancellation: the poll says "pending" after a few checks. */
static int	polls;
static int	raised;

static bool
pending_soon(void)
{
	return ++polls > 5;
}

static void
count_raise(void)
{
	if (polls > 5)
		raised++;
}

static void
test_cancel(void)
{
	data		d = friedman(2000, false);
	clv_mlp_options opt;
	clv_error	err;
	clv_status	st;
	clv_mlp    *m;

	clv_rt.interrupt_pending = pending_soon;
	clv_rt.check_interrupts = count_raise;
	for (uint32_t threads = 1; threads <= 2; threads++)
	{
		clv_mlp_options_default(&opt, false);
		opt.max_epochs = 1000;
		opt.n_threads = threads;
		opt.min_parallel_work = 0;
		polls = raised = 0;
		m = train(&d, NULL, &opt, &st, &err);
		check(st != CLV_OK && m == NULL && raised >= 1,
			  "cancel: a fit on %u thread(s) stops and raises the interrupt", threads);
	}
	clv_rt.interrupt_pending = NULL;
	clv_rt.check_interrupts = NULL;
	free_data(&d);
}

int
main(void)
{
	quick = getenv("CLV_TEST_QUICK") != NULL;
	test_regression();
	test_classification();
	test_determinism();
	test_codec();
	test_errors();
	test_cancel();
	return tap_done();
}
