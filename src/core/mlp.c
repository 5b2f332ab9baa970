/*
 * mlp.c — multi-layer perceptrons trained with Adam on mini-batches, with
 * scikit-learn's semantics where they are a choice: Glorot-uniform
 * initial weights, loss = mean row loss + alpha/(2 · batch rows) · ‖W‖² per
 * batch (½ squared error, or the log loss), the gradient of exactly that,
 * rows reshuffled every epoch, and the stopping rule of n_iter_no_change
 * epochs without an improvement of tol (on the training loss, or on the
 * validation score with early stopping, which keeps the best epoch).
 *
 * Unlike scikit-learn the features are standardised with the training
 * means and standard deviations, and so is y for the squared error; both
 * are stored in the model, so a prediction takes raw features.
 *
 * Determinism: the rows are sorted into canonical order, every random draw
 * comes from a stream seeded by (seed, purpose), and a mini-batch is two
 * passes on the worker pool: first disjoint chunks of rows (forward and
 * backward, each row on its own), then disjoint blocks of weights (each
 * gradient summed over the batch's rows in row order, then the Adam
 * step).  No sum is split between threads, so 1 or N threads give the same
 * bytes.
 */
#include "mlp.h"
#include "tree_internal.h"
#include "bytes.h"
#include "model.h"

#include <float.h>

/*
 * The hot loops again for AVX2 where the processor has it, chosen when the
 * library loads (GCC's function multiversioning on ELF).  Without fused
 * multiply-add (-ffp-contract=off) wider vectors round as narrower ones do:
 * the model's bytes and predictions do not depend on the clone.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define MLP_HOT __attribute__((target_clones("avx2", "default")))
#else
#define MLP_HOT
#endif
#include <string.h>
#include <time.h>

#define ROW_CHUNK		16		/* rows per forward/backward task */
#define WEIGHT_BLOCK	8		/* input units (weight rows) per gradient task */

#define ADAM_BETA1		0.9
#define ADAM_BETA2		0.999
#define ADAM_EPSILON	1e-8
#define STREAM_INIT		UINT64_C(0xFFFFFFFF00000011)
#define STREAM_VALID	UINT64_C(0xFFFFFFFF00000012)
#define STREAM_EPOCH	UINT64_C(0x200000000)

void
clv_mlp_options_default(clv_mlp_options *opt, bool classification)
{
	memset(opt, 0, sizeof(*opt));
	opt->n_hidden = 1;
	opt->hidden[0] = 100;
	opt->activation = CLV_MLP_RELU;
	opt->loss = classification ? CLV_MLP_LOG_LOSS : CLV_MLP_SQUARED_ERROR;
	opt->learning_rate = 0.001;
	opt->batch_size = 0;
	opt->max_epochs = 200;
	opt->l2 = 0.0001;
	opt->early_stopping = false;
	opt->validation_fraction = 0.1;
	opt->n_iter_no_change = 10;
	opt->tol = 1e-4;
	opt->seed = 0;
	opt->n_threads = 1;
	opt->min_parallel_work = UINT64_C(1) << 22;
}

uint32_t
clv_mlp_batch_size(const clv_mlp_options *opt, size_t n_train)
{
	size_t		batch = opt->batch_size == 0 ? (n_train < 200 ? n_train : 200) : opt->batch_size;

	return (uint32_t) (batch > n_train ? n_train : batch);
}

size_t
clv_mlp_training_rows(const clv_mlp_options *opt, size_t n)
{
	return n - (opt->early_stopping ? (size_t) ceil(opt->validation_fraction * n) : 0);
}

/* ---- the network's shape ---------------------------------------------------- */

static size_t
layer_weights(const uint32_t *sizes, uint32_t l)
{
	return ((size_t) sizes[l] + 1) * sizes[l + 1];
}

/* Weights and biases of all layers, or SIZE_MAX past CLV_MLP_MAX_WEIGHTS. */
static size_t
count_weights(const uint32_t *sizes, uint32_t n_layers)
{
	size_t		total = 0;

	for (uint32_t l = 0; l < n_layers; l++)
	{
		total += layer_weights(sizes, l);
		if (total > CLV_MLP_MAX_WEIGHTS)
			return SIZE_MAX;
	}
	return total;
}

static clv_mlp *
mlp_new(uint32_t p, uint32_t n_layers, const uint32_t *sizes)
{
	clv_mlp    *m = clv_alloc(sizeof(clv_mlp));

	memset(m, 0, sizeof(*m));
	m->n_features = p;
	m->n_layers = n_layers;
	m->sizes = clv_alloc(sizeof(uint32_t) * (n_layers + 1));
	memcpy(m->sizes, sizes, sizeof(uint32_t) * (n_layers + 1));
	m->x_mean = clv_alloc(sizeof(double) * p);
	m->x_scale = clv_alloc(sizeof(double) * p);
	m->max_width = 0;
	for (uint32_t l = 0; l <= n_layers; l++)
		if (sizes[l] > m->max_width)
			m->max_width = sizes[l];
	m->scratch = clv_alloc(sizeof(double) * 2 * m->max_width);
	return m;
}

void
clv_mlp_free(clv_mlp *m)
{
	if (m == NULL)
		return;
	clv_release(m->sizes);
	clv_release(m->x_mean);
	clv_release(m->x_scale);
	clv_release(m->weights);
	clv_release(m->loss_curve);
	clv_release(m->valid_curve);
	clv_release(m->scratch);
	clv_release(m);
}

/* ---- one layer, forward and backward ---------------------------------------- */

static inline void
activate(clv_mlp_activation act, double *z, uint32_t n)
{
	if (act == CLV_MLP_RELU)
		for (uint32_t j = 0; j < n; j++)
			z[j] = z[j] > 0 ? z[j] : 0;
	else
		for (uint32_t j = 0; j < n; j++)
			z[j] = tanh(z[j]);
}

/* Σ_j row[j] · d[j] in four running sums, always combined the same way. */
static inline double
dot(const double *restrict row, const double *restrict d, uint32_t n)
{
	double		s0 = 0,
				s1 = 0,
				s2 = 0,
				s3 = 0;
	uint32_t	j = 0;

	for (; j + 4 <= n; j += 4)
	{
		s0 += row[j] * d[j];
		s1 += row[j + 1] * d[j + 1];
		s2 += row[j + 2] * d[j + 2];
		s3 += row[j + 3] * d[j + 3];
	}
	for (; j < n; j++)
		s0 += row[j] * d[j];
	return (s0 + s1) + (s2 + s3);
}

/*
 * out = in · W + b for one row; W is n_in × n_out row-major, b follows it.
 * The inner loop runs along a row of W, contiguous, so it vectorises; a
 * zero input (a ReLU unit that is off) adds nothing and is skipped.
 */
static inline void
affine(const double *restrict w, const double *restrict in, uint32_t n_in, uint32_t n_out,
	   double *restrict out)
{
	const double *b = w + (size_t) n_in * n_out;

	if (n_out == 1)
	{
		/* the output unit: four running sums, without a branch per input */
		out[0] = b[0] + dot(w, in, n_in);
		return;
	}
	memcpy(out, b, sizeof(double) * n_out);
	for (uint32_t i = 0; i < n_in; i++)
	{
		const double *row = w + (size_t) i * n_out;
		double		a = in[i];

		if (a == 0)
			continue;
		for (uint32_t j = 0; j < n_out; j++)
			out[j] += a * row[j];
	}
}

/*
 * affine() for four rows at once: each weight row is read once for the four,
 * and the four independent sums vectorise.  A zero input adds an exact zero,
 * so every row's value is the one affine() gives it.
 */
static inline void
affine4(const double *restrict w, const double *in, size_t in_stride, uint32_t n_in,
		uint32_t n_out, double *out, size_t out_stride)
{
	const double *b = w + (size_t) n_in * n_out;
	double	   *restrict o0 = out;
	double	   *restrict o1 = out + out_stride;
	double	   *restrict o2 = out + 2 * out_stride;
	double	   *restrict o3 = out + 3 * out_stride;

	if (n_out == 1)
	{
		/* each row's sum as affine() takes it */
		double		z0 = b[0] + dot(w, in, n_in),
					z1 = b[0] + dot(w, in + in_stride, n_in),
					z2 = b[0] + dot(w, in + 2 * in_stride, n_in),
					z3 = b[0] + dot(w, in + 3 * in_stride, n_in);

		o0[0] = z0;
		o1[0] = z1;
		o2[0] = z2;
		o3[0] = z3;
		return;
	}
	memcpy(o0, b, sizeof(double) * n_out);
	memcpy(o1, b, sizeof(double) * n_out);
	memcpy(o2, b, sizeof(double) * n_out);
	memcpy(o3, b, sizeof(double) * n_out);
	for (uint32_t i = 0; i < n_in; i++)
	{
		const double *restrict row = w + (size_t) i * n_out;
		double		a0 = in[i],
					a1 = in[in_stride + i],
					a2 = in[2 * in_stride + i],
					a3 = in[3 * in_stride + i];

		if ((a0 == 0) & (a1 == 0) & (a2 == 0) & (a3 == 0))
			continue;
		for (uint32_t j = 0; j < n_out; j++)
		{
			double		wj = row[j];

			o0[j] += a0 * wj;
			o1[j] += a1 * wj;
			o2[j] += a2 * wj;
			o3[j] += a3 * wj;
		}
	}
}

static inline double
softplus(double z)
{
	return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

MLP_HOT double
clv_mlp_predict(const clv_mlp *m, const double *x)
{
	double	   *a = m->scratch;
	double	   *b = m->scratch + m->max_width;
	const double *w = m->weights;
	uint32_t	last = m->n_layers - 1;
	double		z;

	for (uint32_t j = 0; j < m->n_features; j++)
		a[j] = (x[j] - m->x_mean[j]) / m->x_scale[j];
	for (uint32_t l = 0; l < last; l++)
	{
		double	   *t;

		affine(w, a, m->sizes[l], m->sizes[l + 1], b);
		activate(m->activation, b, m->sizes[l + 1]);
		w += layer_weights(m->sizes, l);
		t = a;
		a = b;
		b = t;
	}
	affine(w, a, m->sizes[last], 1, &z);
	if (m->loss == CLV_MLP_LOG_LOSS)
		return clv_logistic(z);
	return m->y_mean + m->y_scale * z;
}

/* ---- training ------------------------------------------------------------------- */

typedef struct mlp_job
{
	clv_mlp    *m;
	const clv_mlp_options *opt;
	const double *x;			/* n × p, standardised */
	const double *y;			/* standardised, or 0/1 */
	size_t	   *w_off;			/* n_layers: where each layer's weights start */
	size_t	   *a_off;			/* n_layers + 1: where each layer's units start in a row */
	size_t		width;			/* units of all layers, inputs and output included */
	/* the batch */
	const uint32_t *rows;
	uint32_t	bn;
	bool		backward;		/* false: forward only (validation scores) */
	double	   *act;			/* batch × width: inputs, activations, output margin */
	double	   *delta;			/* batch × width: dLoss/dz of each unit */
	double	   *row_loss;		/* batch */
	/* the weight blocks of the gradient pass */
	uint32_t	n_blocks;
	uint32_t   *block_layer;
	uint32_t   *block_first;	/* first input unit; sizes[l] is the bias row */
	uint32_t   *block_count;
	double	   *block_sq;		/* Σ w² of each block's weights before the step */
	double	  **grad;			/* per worker: WEIGHT_BLOCK × max width */
	double	   *adam_m;
	double	   *adam_v;
	double		step;			/* Adam's bias-corrected step size */
} mlp_job;

/* The forward pass of rows [begin, end) of the batch, four rows at a time. */
static void
forward_rows(mlp_job *job, uint32_t begin, uint32_t end)
{
	const clv_mlp *m = job->m;
	uint32_t	p = m->n_features;
	size_t		width = job->width;

	for (uint32_t r = begin; r < end; r++)
		memcpy(job->act + (size_t) r * width, job->x + (size_t) job->rows[r] * p,
			   sizeof(double) * p);
	for (uint32_t l = 0; l < m->n_layers; l++)
	{
		const double *w = m->weights + job->w_off[l];
		uint32_t	n_in = m->sizes[l],
					n_out = m->sizes[l + 1];
		uint32_t	r = begin;

		for (; r + 4 <= end; r += 4)
			affine4(w, job->act + (size_t) r * width + job->a_off[l], width, n_in, n_out,
					job->act + (size_t) r * width + job->a_off[l + 1], width);
		for (; r < end; r++)
			affine(w, job->act + (size_t) r * width + job->a_off[l], n_in, n_out,
				   job->act + (size_t) r * width + job->a_off[l + 1]);
		if (l + 1 < m->n_layers)
			for (r = begin; r < end; r++)
				activate(m->activation, job->act + (size_t) r * width + job->a_off[l + 1], n_out);
	}
}

MLP_HOT static void
rows_task(void *arg, uint32_t chunk, uint32_t worker)
{
	mlp_job    *job = arg;
	const clv_mlp *m = job->m;
	uint32_t	L = m->n_layers;
	uint32_t	begin = chunk * ROW_CHUNK;
	uint32_t	end = begin + ROW_CHUNK < job->bn ? begin + ROW_CHUNK : job->bn;

	(void) worker;
	forward_rows(job, begin, end);
	if (!job->backward)
		return;
	for (uint32_t r = begin; r < end; r++)
	{
		double	   *act = job->act + (size_t) r * job->width;
		double	   *delta = job->delta + (size_t) r * job->width;
		double		z = act[job->a_off[L]],
					y = job->y[job->rows[r]];

		if (m->loss == CLV_MLP_LOG_LOSS)
		{
			job->row_loss[r] = softplus(z) - y * z;
			delta[job->a_off[L]] = clv_logistic(z) - y;
		}
		else
		{
			job->row_loss[r] = 0.5 * (z - y) * (z - y);
			delta[job->a_off[L]] = z - y;
		}
		for (uint32_t l = L - 1; l >= 1; l--)
		{
			const double *w = m->weights + job->w_off[l];
			const double *a = act + job->a_off[l];
			const double *d_next = delta + job->a_off[l + 1];
			double	   *d = delta + job->a_off[l];
			uint32_t	n_out = m->sizes[l + 1];

			if (n_out == 1)
			{
				/* the output unit: a product per unit, without a loop */
				for (uint32_t i = 0; i < m->sizes[l]; i++)
				{
					double		slope = m->activation == CLV_MLP_RELU ? (a[i] > 0 ? 1.0 : 0.0)
						: 1.0 - a[i] * a[i];

					d[i] = slope * (w[i] * d_next[0]);
				}
				continue;
			}
			for (uint32_t i = 0; i < m->sizes[l]; i++)
			{
				double		slope = m->activation == CLV_MLP_RELU ? (a[i] > 0 ? 1.0 : 0.0)
					: 1.0 - a[i] * a[i];

				d[i] = slope == 0 ? 0 : slope * dot(w + (size_t) i * n_out, d_next, n_out);
			}
		}
	}
}

/*
 * The gradient of a block of weight rows (one input unit's weights to
 * every unit of the next layer, or the biases), summed over the batch in
 * row order, then Adam's step on those weights.
 */
MLP_HOT static void
weights_task(void *arg, uint32_t block, uint32_t worker)
{
	mlp_job    *job = arg;
	clv_mlp    *m = job->m;
	uint32_t	l = job->block_layer[block];
	uint32_t	first = job->block_first[block];
	uint32_t	count = job->block_count[block];
	uint32_t	n_in = m->sizes[l];
	uint32_t	n_out = m->sizes[l + 1];
	double	   *g = job->grad[worker];
	double		bn = job->bn;
	double		alpha = job->opt->l2;
	double		sq = 0;

	memset(g, 0, sizeof(double) * count * n_out);
	if (n_out == 1)
	{
		/* into the output unit: one gradient per weight row, summed by row */
		for (uint32_t r = 0; r < job->bn; r++)
		{
			const double *a = job->act + (size_t) r * job->width + job->a_off[l];
			double		d = job->delta[(size_t) r * job->width + job->a_off[l + 1]];

			/* without a branch: a zero input adds an exact zero */
			for (uint32_t k = 0; k < count; k++)
				g[k] += (first + k == n_in ? 1.0 : a[first + k]) * d;
		}
	}
	for (uint32_t r = 0; r < job->bn && n_out > 1; r++)
	{
		const double *a = job->act + (size_t) r * job->width + job->a_off[l];
		const double *restrict d = job->delta + (size_t) r * job->width + job->a_off[l + 1];
		uint32_t	k = 0;

		/* four weight rows at a time read each delta once; zeros add exact zeros */
		for (; k + 4 <= count && first + k + 4 <= n_in; k += 4)
		{
			const double *ak = a + first + k;
			double	   *restrict g0 = g + (size_t) k * n_out;
			double	   *restrict g1 = g0 + n_out;
			double	   *restrict g2 = g1 + n_out;
			double	   *restrict g3 = g2 + n_out;
			double		a0 = ak[0],
						a1 = ak[1],
						a2 = ak[2],
						a3 = ak[3];

			if ((a0 == 0) & (a1 == 0) & (a2 == 0) & (a3 == 0))
				continue;
			for (uint32_t j = 0; j < n_out; j++)
			{
				double		dj = d[j];

				g0[j] += a0 * dj;
				g1[j] += a1 * dj;
				g2[j] += a2 * dj;
				g3[j] += a3 * dj;
			}
		}
		for (; k < count; k++)
		{
			uint32_t	i = first + k;
			double		ai = i == n_in ? 1.0 : a[i];
			double	   *restrict gk = g + (size_t) k * n_out;

			if (ai == 0)
				continue;
			for (uint32_t j = 0; j < n_out; j++)
				gk[j] += ai * d[j];
		}
	}
	for (uint32_t k = 0; k < count; k++)
	{
		uint32_t	i = first + k;
		size_t		base = job->w_off[l] + (size_t) i * n_out;
		double	   *restrict w = m->weights + base;
		double	   *restrict mm = job->adam_m + base;
		double	   *restrict vv = job->adam_v + base;
		const double *restrict gk = g + (size_t) k * n_out;
		bool		bias = i == n_in;

		for (uint32_t j = 0; j < n_out; j++)
		{
			double		grad = bias ? gk[j] / bn : (gk[j] + alpha * w[j]) / bn;

			if (!bias)
				sq += w[j] * w[j];
			mm[j] = ADAM_BETA1 * mm[j] + (1 - ADAM_BETA1) * grad;
			vv[j] = ADAM_BETA2 * vv[j] + (1 - ADAM_BETA2) * grad * grad;
			w[j] -= job->step * mm[j] / (sqrt(vv[j]) + ADAM_EPSILON);
		}
	}
	job->block_sq[block] = sq;
}

static uint64_t
rng_unit_bits(tree_rng *rng)
{
	return tree_rng_next(rng) >> 11;
}

/* Glorot-uniform weights and biases: ±sqrt(6 / (fan in + fan out)). */
static void
init_weights(clv_mlp *m, uint64_t seed)
{
	tree_rng	rng;
	double	   *w = m->weights;

	tree_rng_init(&rng, seed, STREAM_INIT);
	for (uint32_t l = 0; l < m->n_layers; l++)
	{
		double		bound = sqrt(6.0 / ((double) m->sizes[l] + m->sizes[l + 1]));
		size_t		count = layer_weights(m->sizes, l);

		for (size_t k = 0; k < count; k++)
			*w++ = -bound + 2 * bound * (rng_unit_bits(&rng) * 0x1.0p-53);
	}
}

static void
shuffle(uint32_t *idx, uint32_t n, tree_rng *rng)
{
	for (uint32_t i = n; i > 1; i--)
	{
		uint32_t	k = (uint32_t) tree_rng_below(rng, i);
		uint32_t	t = idx[i - 1];

		idx[i - 1] = idx[k];
		idx[k] = t;
	}
}

/* Mean and population standard deviation, in row order with compensated sums. */
static void
moments(const double *v, size_t n, size_t stride, double *mean, double *sd)
{
	double		hi = 0,
				lo = 0;

	for (size_t i = 0; i < n; i++)
		clv_dd_add(&hi, &lo, v[i * stride]);
	*mean = (hi + lo) / (double) n;
	hi = lo = 0;
	for (size_t i = 0; i < n; i++)
	{
		double		e = v[i * stride] - *mean;

		clv_dd_add(&hi, &lo, e * e);
	}
	*sd = sqrt((hi + lo) / (double) n);
}

static clv_status
check_options(const clv_mlp_options *o, clv_error *err)
{
	if (o->n_hidden > CLV_MLP_MAX_HIDDEN_LAYERS)
		return clv_fail(err, CLV_ERR_INVALID, "a multi-layer perceptron has at most %d hidden layers",
						CLV_MLP_MAX_HIDDEN_LAYERS);
	for (uint32_t l = 0; l < o->n_hidden; l++)
		if (o->hidden[l] < 1 || o->hidden[l] > CLV_MLP_MAX_UNITS)
			return clv_fail(err, CLV_ERR_INVALID, "a hidden layer has 1 to %d units",
							CLV_MLP_MAX_UNITS);
	if ((o->activation != CLV_MLP_RELU && o->activation != CLV_MLP_TANH) ||
		(o->loss != CLV_MLP_SQUARED_ERROR && o->loss != CLV_MLP_LOG_LOSS) ||
		!(o->learning_rate > 0 && isfinite(o->learning_rate)) ||
		!(o->l2 >= 0 && isfinite(o->l2)) || !(o->tol >= 0 && isfinite(o->tol)) ||
		o->batch_size > CLV_MLP_MAX_BATCH || o->max_epochs < 1 ||
		o->max_epochs > CLV_MLP_MAX_EPOCHS || o->n_threads < 1 ||
		(o->early_stopping && !(o->validation_fraction > 0 && o->validation_fraction < 1)))
		return clv_fail(err, CLV_ERR_INVALID, "invalid multi-layer perceptron options");
	return CLV_OK;
}

typedef struct epoch_scores
{
	double		best_loss;
	double		best_score;
	uint32_t	no_change;
} epoch_scores;

/* R² of the standardised targets, or the accuracy of P(y = 1) > 0.5. */
static double
validation_score(const clv_mlp *m, const double *y, const uint32_t *rows, const double *out,
				 uint32_t n)
{
	double		mean = 0,
				ss_res = 0,
				ss_tot = 0;
	uint32_t	hits = 0;

	if (m->loss == CLV_MLP_LOG_LOSS)
	{
		for (uint32_t i = 0; i < n; i++)
			hits += (out[i] > 0) == (y[rows[i]] > 0.5);
		return (double) hits / n;
	}
	for (uint32_t i = 0; i < n; i++)
		mean += y[rows[i]];
	mean /= n;
	for (uint32_t i = 0; i < n; i++)
	{
		ss_res += (y[rows[i]] - out[i]) * (y[rows[i]] - out[i]);
		ss_tot += (y[rows[i]] - mean) * (y[rows[i]] - mean);
	}
	if (ss_tot == 0)
		return ss_res == 0 ? 1.0 : 0.0;
	return 1 - ss_res / ss_tot;
}

clv_status
clv_mlp_train(clv_tree_rows *rows, const clv_mlp_options *opt, clv_mlp **out, clv_error *err)
{
	size_t		n = rows->n;
	uint32_t	p = rows->p;
	uint32_t	sizes[CLV_MLP_MAX_HIDDEN_LAYERS + 2];
	uint32_t	L;
	size_t		n_weights;
	uint32_t	n_valid = 0,
				n_train,
				batch;
	clv_mlp    *m;
	mlp_job		job = {0};
	double	   *x,
			   *y,
			   *best = NULL,
			   *valid_out = NULL;
	uint32_t   *order;
	tree_pool  *pool;
	uint32_t	workers = 0;
	epoch_scores sc = {INFINITY, -INFINITY, 0};
	clv_status	st = CLV_OK;
	bool		stopped = false;
	double		last_report;
	uint64_t	t = 0;

	*out = NULL;
	if ((st = check_options(opt, err)) != CLV_OK)
		return st;
	if (n < 2)
		return clv_fail(err, CLV_ERR_DATA, "a multi-layer perceptron needs at least 2 rows");
	if (n > UINT32_MAX)
		return clv_fail(err, CLV_ERR_LIMIT, "a multi-layer perceptron trains on at most %u rows",
						UINT32_MAX);
	L = opt->n_hidden + 1;
	sizes[0] = p;
	for (uint32_t l = 0; l < opt->n_hidden; l++)
		sizes[l + 1] = opt->hidden[l];
	sizes[L] = 1;
	n_weights = count_weights(sizes, L);
	if (n_weights == SIZE_MAX)
	{
		clv_fail(err, CLV_ERR_LIMIT, "the multi-layer perceptron has too many weights");
		clv_set_detail(err, "A network has at most %u weights and biases.", CLV_MLP_MAX_WEIGHTS);
		return CLV_ERR_LIMIT;
	}
	for (size_t i = 0; i < n; i++)
	{
		for (uint32_t j = 0; j < p; j++)
			if (isnan(rows->x[i * p + j]))
			{
				clv_fail(err, CLV_ERR_INVALID, "x must not contain NaN");
				clv_set_detail(err, "Feature %u of a row is NaN.", j + 1);
				clv_set_hint(err, "A multi-layer perceptron has no missing values: impute them first.");
				return CLV_ERR_INVALID;
			}
		if (opt->loss == CLV_MLP_LOG_LOSS && rows->y[i] != 0 && rows->y[i] != 1)
		{
			clv_fail(err, CLV_ERR_INVALID, "the log loss needs y to be 0 or 1");
			clv_set_detail(err, "A row has y = %g.", rows->y[i]);
			return CLV_ERR_INVALID;
		}
	}
	tree_rows_sort(rows);

	m = mlp_new(p, L, sizes);
	m->activation = opt->activation;
	m->loss = opt->loss;
	m->n_weights = (uint32_t) n_weights;
	m->weights = clv_alloc(sizeof(double) * n_weights);

	/* standardised copies: columns as doubles, y for the squared error */
	x = clv_alloc_huge(sizeof(double) * n * p);
	y = clv_alloc_huge(sizeof(double) * n);
	for (size_t i = 0; i < n * p; i++)
		x[i] = rows->x[i];
	for (uint32_t j = 0; j < p; j++)
	{
		moments(x + j, n, p, &m->x_mean[j], &m->x_scale[j]);
		if (!(m->x_scale[j] > 0 && isfinite(m->x_scale[j])))
			m->x_scale[j] = 1;
		for (size_t i = 0; i < n; i++)
			x[i * p + j] = (x[i * p + j] - m->x_mean[j]) / m->x_scale[j];
	}
	m->y_mean = 0;
	m->y_scale = 1;
	if (opt->loss == CLV_MLP_SQUARED_ERROR)
	{
		moments(rows->y, n, 1, &m->y_mean, &m->y_scale);
		if (!isfinite(m->y_scale) || !isfinite(m->y_mean))
		{
			clv_mlp_free(m);
			clv_release(x);
			clv_release(y);
			return clv_fail(err, CLV_ERR_DATA, "y is too large to standardise");
		}
		if (!(m->y_scale > 0))
			m->y_scale = 1;
	}
	for (size_t i = 0; i < n; i++)
		y[i] = (rows->y[i] - m->y_mean) / m->y_scale;

	/* the held-out rows: a seeded draw from the canonical order */
	order = clv_alloc(sizeof(uint32_t) * n);
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	if (opt->early_stopping)
	{
		tree_rng	rng;

		tree_rng_init(&rng, opt->seed, STREAM_VALID);
		shuffle(order, (uint32_t) n, &rng);
		n_valid = (uint32_t) (n - clv_mlp_training_rows(opt, n));
		if (n_valid < 1 || n_valid >= n)
		{
			clv_mlp_free(m);
			clv_release(x);
			clv_release(y);
			clv_release(order);
			return clv_fail(err, CLV_ERR_DATA,
							"too few rows for a validation fraction of %g", opt->validation_fraction);
		}
		/* each part in canonical order, so only membership is random */
		for (uint32_t i = 0; i < n_valid; i++)
			for (uint32_t k = i; k > 0 && order[k - 1] > order[k]; k--)
			{
				uint32_t	tmp = order[k];

				order[k] = order[k - 1];
				order[k - 1] = tmp;
			}
	}
	n_train = (uint32_t) n - n_valid;
	batch = clv_mlp_batch_size(opt, n_train);

	init_weights(m, opt->seed);
	m->loss_curve = clv_alloc(sizeof(double) * opt->max_epochs);
	if (opt->early_stopping)
	{
		uint32_t	vb = n_valid < batch ? batch : n_valid;

		m->valid_curve = clv_alloc(sizeof(double) * opt->max_epochs);
		best = clv_alloc(sizeof(double) * n_weights);
		valid_out = clv_alloc(sizeof(double) * vb);
		memcpy(best, m->weights, sizeof(double) * n_weights);
	}

	/* the job: offsets, batch buffers, weight blocks, Adam's moments */
	job.m = m;
	job.opt = opt;
	job.x = x;
	job.y = y;
	job.w_off = clv_alloc(sizeof(size_t) * L);
	job.a_off = clv_alloc(sizeof(size_t) * (L + 1));
	job.a_off[0] = 0;
	job.w_off[0] = 0;
	for (uint32_t l = 0; l < L; l++)
	{
		job.a_off[l + 1] = job.a_off[l] + sizes[l];
		if (l + 1 < L)
			job.w_off[l + 1] = job.w_off[l] + layer_weights(sizes, l);
	}
	job.width = job.a_off[L] + 1;
	{
		/* validation rows go through the same buffers, a batch at a time */
		size_t		rows_cap = batch;

		job.act = clv_alloc_huge(sizeof(double) * rows_cap * job.width);
		job.delta = clv_alloc_huge(sizeof(double) * rows_cap * job.width);
		job.row_loss = clv_alloc(sizeof(double) * rows_cap);
	}
	job.n_blocks = 0;
	for (uint32_t l = 0; l < L; l++)
		job.n_blocks += (sizes[l] + 1 + WEIGHT_BLOCK - 1) / WEIGHT_BLOCK;
	job.block_layer = clv_alloc(sizeof(uint32_t) * job.n_blocks);
	job.block_first = clv_alloc(sizeof(uint32_t) * job.n_blocks);
	job.block_count = clv_alloc(sizeof(uint32_t) * job.n_blocks);
	job.block_sq = clv_alloc(sizeof(double) * job.n_blocks);
	{
		uint32_t	b = 0;

		for (uint32_t l = 0; l < L; l++)
			for (uint32_t i = 0; i <= sizes[l]; i += WEIGHT_BLOCK)
			{
				job.block_layer[b] = l;
				job.block_first[b] = i;
				job.block_count[b] = sizes[l] + 1 - i < WEIGHT_BLOCK ? sizes[l] + 1 - i : WEIGHT_BLOCK;
				b++;
			}
	}
	job.adam_m = clv_alloc(sizeof(double) * n_weights);
	job.adam_v = clv_alloc(sizeof(double) * n_weights);
	memset(job.adam_m, 0, sizeof(double) * n_weights);
	memset(job.adam_v, 0, sizeof(double) * n_weights);

	pool = tree_pool_start((uint64_t) batch * n_weights < opt->min_parallel_work ? 1 : opt->n_threads);
	if (pool == NULL)
	{
		st = clv_fail(err, CLV_ERR_LIMIT, "out of memory while starting the training threads");
		goto done;
	}
	workers = tree_pool_workers(pool);
	job.grad = clv_alloc(sizeof(double *) * workers);
	for (uint32_t w = 0; w < workers; w++)
		job.grad[w] = clv_alloc(sizeof(double) * WEIGHT_BLOCK * m->max_width);

	last_report = tree_seconds_now();
	for (uint32_t epoch = 0; epoch < opt->max_epochs && !stopped; epoch++)
	{
		uint32_t   *train = order + n_valid;
		tree_rng	rng;
		double		loss_sum = 0;

		tree_rng_init(&rng, opt->seed, STREAM_EPOCH + epoch);
		shuffle(train, n_train, &rng);
		for (uint32_t start = 0; start < n_train; start += batch)
		{
			uint32_t	bn = n_train - start < batch ? n_train - start : batch;
			double		batch_loss = 0,
						sq = 0;

			t++;
			job.rows = train + start;
			job.bn = bn;
			job.backward = true;
			job.step = opt->learning_rate * sqrt(1 - pow(ADAM_BETA2, (double) t)) /
				(1 - pow(ADAM_BETA1, (double) t));
			if (!tree_pool_run(pool, rows_task, &job, (bn + ROW_CHUNK - 1) / ROW_CHUNK,
							   NULL, 0, 0, NULL) ||
				!tree_pool_run(pool, weights_task, &job, job.n_blocks, NULL, 0, 0, NULL))
			{
				stopped = true;
				break;
			}
			for (uint32_t r = 0; r < bn; r++)
				batch_loss += job.row_loss[r];
			for (uint32_t b = 0; b < job.n_blocks; b++)
				sq += job.block_sq[b];
			batch_loss = batch_loss / bn + 0.5 * opt->l2 * sq / bn;
			loss_sum += batch_loss * bn;
		}
		if (stopped)
			break;
		m->n_epochs = epoch + 1;
		m->loss_curve[epoch] = loss_sum / n_train;
		if (!isfinite(m->loss_curve[epoch]))
		{
			st = clv_fail(err, CLV_ERR_NOCONVERGE, "the multi-layer perceptron diverged");
			clv_set_detail(err, "The training loss of epoch %u is not finite.", epoch + 1);
			clv_set_hint(err, "Lower \"learning_rate\".");
			goto done;
		}
		if (opt->early_stopping)
		{
			double		score;

			job.backward = false;
			for (uint32_t start = 0; start < n_valid && !stopped; start += batch)
			{
				uint32_t	bn = n_valid - start < batch ? n_valid - start : batch;

				job.rows = order + start;
				job.bn = bn;
				if (!tree_pool_run(pool, rows_task, &job, (bn + ROW_CHUNK - 1) / ROW_CHUNK,
								   NULL, 0, 0, NULL))
					stopped = true;
				for (uint32_t r = 0; r < bn; r++)
					valid_out[start + r] = job.act[(size_t) r * job.width + job.a_off[L]];
			}
			if (stopped)
				break;
			score = validation_score(m, y, order, valid_out, n_valid);
			m->valid_curve[epoch] = score;
			sc.no_change = score < sc.best_score + opt->tol ? sc.no_change + 1 : 0;
			if (score > sc.best_score)
			{
				sc.best_score = score;
				m->best_epoch = epoch + 1;
				memcpy(best, m->weights, sizeof(double) * n_weights);
			}
		}
		else
		{
			double		loss = m->loss_curve[epoch];

			sc.no_change = loss > sc.best_loss - opt->tol ? sc.no_change + 1 : 0;
			if (loss < sc.best_loss)
				sc.best_loss = loss;
			m->best_epoch = epoch + 1;
		}
		if (sc.no_change > opt->n_iter_no_change)
			break;
		if (opt->progress && tree_seconds_now() - last_report >= 1.0)
		{
			last_report = tree_seconds_now();
			opt->progress(opt->progress_arg, epoch + 1, opt->max_epochs, "epochs");
		}
	}
	if (stopped)
	{
		tree_pool_finish(pool);
		pool = NULL;
		st = tree_interrupted(err);
		goto done;
	}
	if (opt->early_stopping)
		memcpy(m->weights, best, sizeof(double) * n_weights);

done:
	if (pool)
		tree_pool_finish(pool);
	if (job.grad)
		for (uint32_t w = 0; w < workers; w++)
			clv_release(job.grad[w]);
	clv_release(job.grad);
	clv_release(job.adam_m);
	clv_release(job.adam_v);
	clv_release(job.block_layer);
	clv_release(job.block_first);
	clv_release(job.block_count);
	clv_release(job.block_sq);
	clv_release(job.act);
	clv_release(job.delta);
	clv_release(job.row_loss);
	clv_release(job.w_off);
	clv_release(job.a_off);
	clv_release(order);
	clv_release(best);
	clv_release(valid_out);
	clv_release(x);
	clv_release(y);
	if (st != CLV_OK)
	{
		clv_mlp_free(m);
		return st;
	}
	*out = m;
	return CLV_OK;
}

/* ---- the payload ---------------------------------------------------------------- */

void
clv_mlp_encode(const clv_mlp *m, clv_buf *buf)
{
	clv_buf_put_u32(buf, m->n_layers);
	for (uint32_t l = 0; l <= m->n_layers; l++)
		clv_buf_put_u32(buf, m->sizes[l]);
	clv_buf_put_u32(buf, (uint32_t) m->activation);
	clv_buf_put_u32(buf, (uint32_t) m->loss);
	for (uint32_t j = 0; j < m->n_features; j++)
		clv_buf_put_f64(buf, m->x_mean[j]);
	for (uint32_t j = 0; j < m->n_features; j++)
		clv_buf_put_f64(buf, m->x_scale[j]);
	clv_buf_put_f64(buf, m->y_mean);
	clv_buf_put_f64(buf, m->y_scale);
	clv_buf_put_u32(buf, m->n_weights);
	for (uint32_t k = 0; k < m->n_weights; k++)
		clv_buf_put_f64(buf, m->weights[k]);
	clv_buf_put_u32(buf, m->n_epochs);
	clv_buf_put_u32(buf, m->best_epoch);
	clv_buf_put_u32(buf, m->valid_curve ? 1 : 0);
	for (uint32_t e = 0; e < m->n_epochs; e++)
		clv_buf_put_f64(buf, m->loss_curve[e]);
	if (m->valid_curve)
		for (uint32_t e = 0; e < m->n_epochs; e++)
			clv_buf_put_f64(buf, m->valid_curve[e]);
}

static bool
bytes_left(const clv_reader *r, size_t count, size_t each)
{
	return count <= (r->len - r->pos) / each;
}

/* count finite doubles into a new array, or NULL when truncated or not finite. */
static double *
read_finite(clv_reader *r, size_t count)
{
	double	   *v;

	if (!bytes_left(r, count, 8))
		return NULL;
	v = clv_alloc(sizeof(double) * count);
	for (size_t k = 0; k < count; k++)
		if (!clv_read_f64(r, &v[k]) || !isfinite(v[k]))
		{
			clv_release(v);
			return NULL;
		}
	return v;
}

static clv_status
corrupt(clv_mlp *m, clv_error *err, const char *what)
{
	clv_mlp_free(m);
	return clv_model_corrupt(err, what);
}

clv_status
clv_mlp_decode(clv_reader *r, uint32_t n_features, clv_mlp **out, clv_error *err)
{
	uint32_t	L,
				sizes[CLV_MLP_MAX_HIDDEN_LAYERS + 2],
				activation,
				loss,
				n_weights,
				has_valid;
	clv_mlp    *m;
	double	   *v;

	*out = NULL;
	if (!clv_read_u32(r, &L))
		return clv_model_corrupt(err, "The layer count is missing.");
	if (L < 1 || L > CLV_MLP_MAX_HIDDEN_LAYERS + 1)
		return clv_model_corrupt(err, "The layer count is out of range.");
	for (uint32_t l = 0; l <= L; l++)
		if (!clv_read_u32(r, &sizes[l]))
			return clv_model_corrupt(err, "The layer sizes are truncated.");
	if (sizes[0] != n_features || sizes[L] != 1)
		return clv_model_corrupt(err, "The layer sizes do not match the features and the output.");
	for (uint32_t l = 1; l < L; l++)
		if (sizes[l] < 1 || sizes[l] > CLV_MLP_MAX_UNITS)
			return clv_model_corrupt(err, "A hidden layer size is out of range.");
	if (count_weights(sizes, L) == SIZE_MAX)
		return clv_model_corrupt(err, "The network has too many weights.");
	if (!clv_read_u32(r, &activation) || !clv_read_u32(r, &loss))
		return clv_model_corrupt(err, "The activation and loss are missing.");
	if ((activation != CLV_MLP_RELU && activation != CLV_MLP_TANH) ||
		(loss != CLV_MLP_SQUARED_ERROR && loss != CLV_MLP_LOG_LOSS))
		return clv_model_corrupt(err, "The activation or loss is unknown.");
	if (!bytes_left(r, n_features, 16))
		return clv_model_corrupt(err, "The standardisation is truncated.");

	m = mlp_new(n_features, L, sizes);
	m->activation = activation;
	m->loss = loss;
	clv_release(m->x_mean);
	clv_release(m->x_scale);
	m->x_mean = m->x_scale = NULL;
	if ((m->x_mean = read_finite(r, n_features)) == NULL ||
		(m->x_scale = read_finite(r, n_features)) == NULL)
		return corrupt(m, err, "The standardisation is truncated or not finite.");
	for (uint32_t j = 0; j < n_features; j++)
		if (!(m->x_scale[j] > 0))
			return corrupt(m, err, "A feature scale is not positive.");
	if (!clv_read_f64(r, &m->y_mean) || !clv_read_f64(r, &m->y_scale))
		return corrupt(m, err, "The target scale is missing.");
	if (!isfinite(m->y_mean) || !(isfinite(m->y_scale) && m->y_scale > 0) ||
		(loss == CLV_MLP_LOG_LOSS && (m->y_mean != 0 || m->y_scale != 1)))
		return corrupt(m, err, "The target scale is invalid.");
	if (!clv_read_u32(r, &n_weights))
		return corrupt(m, err, "The weight count is missing.");
	if (n_weights != count_weights(sizes, L))
		return corrupt(m, err, "The weight count does not match the layer sizes.");
	m->n_weights = n_weights;
	if ((m->weights = read_finite(r, n_weights)) == NULL)
		return corrupt(m, err, "The weights are truncated or not finite.");
	if (!clv_read_u32(r, &m->n_epochs) || !clv_read_u32(r, &m->best_epoch) ||
		!clv_read_u32(r, &has_valid))
		return corrupt(m, err, "The training summary is missing.");
	if (m->n_epochs < 1 || m->n_epochs > CLV_MLP_MAX_EPOCHS ||
		m->best_epoch < 1 || m->best_epoch > m->n_epochs || has_valid > 1)
		return corrupt(m, err, "The training summary is out of range.");
	if ((m->loss_curve = read_finite(r, m->n_epochs)) == NULL)
		return corrupt(m, err, "The loss curve is truncated or not finite.");
	if (has_valid && (v = read_finite(r, m->n_epochs)) == NULL)
		return corrupt(m, err, "The validation scores are truncated or not finite.");
	if (has_valid)
		m->valid_curve = v;
	*out = m;
	return CLV_OK;
}
