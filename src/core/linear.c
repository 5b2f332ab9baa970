/*
 * linear.c — ordinary least squares and ridge regression from sufficient
 * statistics, with the usual inference statistics.
 */
#include "linear.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

/* ---- double-double accumulation ---------------------------------------- */

/*
 * Each sum is kept as an unevaluated pair hi + lo (about 106 bits).  Products
 * are made exact (with an FMA instruction where the CPU has one, else with
 * Dekker's splitting) and added with Knuth's two-sum.  This keeps the centred
 * cross-products accurate when features have large means, and makes partial
 * sums combine in any order to the same double result.
 */
#define SPLITTER 134217729.0	/* 2^27 + 1 */

static inline void
split(double a, double *a_hi, double *a_lo)
{
	double		c = SPLITTER * a;

	*a_hi = c - (c - a);
	*a_lo = a - *a_hi;
}

static inline void
dd_add(double *hi, double *lo, double v, double v_err)
{
	double		e;
	double		s = clv_two_sum(*hi, v, &e);
	double		t = *lo + (e + v_err);

	/* renormalise so |lo| stays below an ulp of hi: lo's own rounding stays O(u²) */
	*hi = clv_two_sum(s, t, lo);
}

/* Double-double values for the centring, which cancels most of the sums' digits. */
typedef struct dd
{
	double		hi,
				lo;
} dd;

static inline dd
dd_norm(double a, double b)
{
	dd			r;

	r.hi = clv_two_sum(a, b, &r.lo);
	return r;
}

static inline dd
dd_prod(double a, double b)
{
	double		ah,
				al,
				bh,
				bl,
				p = a * b;

	split(a, &ah, &al);
	split(b, &bh, &bl);
	return (dd) {p, ((ah * bh - p) + ah * bl + al * bh) + al * bl};
}

static inline dd
dd_sub(dd a, dd b)
{
	dd			s = dd_norm(a.hi, -b.hi);

	return dd_norm(s.hi, s.lo + (a.lo - b.lo));
}

static inline dd
dd_mul(dd a, dd b)
{
	dd			p = dd_prod(a.hi, b.hi);

	return dd_norm(p.hi, p.lo + (a.hi * b.lo + a.lo * b.hi));
}

static inline dd
dd_div(dd a, double b)
{
	double		q1 = a.hi / b;
	dd			r = dd_sub(a, dd_prod(q1, b));

	return dd_norm(q1, r.hi / b);
}

size_t
clv_linreg_terms(uint32_t p)
{
	size_t		d = (size_t) p + 2;

	return d * (d + 1) / 2;
}

void
clv_linreg_acc_init(clv_linreg_acc *acc, uint32_t p)
{
	acc->p = p;
	acc->n_terms = clv_linreg_terms(p);
	acc->hi = clv_alloc(sizeof(double) * acc->n_terms);
	acc->lo = clv_alloc(sizeof(double) * acc->n_terms);
	memset(acc->hi, 0, sizeof(double) * acc->n_terms);
	memset(acc->lo, 0, sizeof(double) * acc->n_terms);
}

/*
 * Add one row z = (1, x, y) to the packed upper triangle of Σ z zᵀ.  This is
 * the hot loop of clv_linreg_fit, so it comes in two builds: with FMA the
 * exact product takes two instructions and the loop vectorises; without it,
 * Dekker's split does the same.  Both compute the same exact products and the
 * same sums, so the result is bitwise identical on every CPU.
 */
static inline __attribute__((always_inline)) void
accumulate_row(const double *z, uint32_t d, double *restrict hi,
			   double *restrict lo, bool use_fma)
{
	double		z_hi[CLV_LINREG_MAX_DIM],
				z_lo[CLV_LINREG_MAX_DIM];

	if (!use_fma)
		for (uint32_t i = 0; i < d; i++)
			split(z[i], &z_hi[i], &z_lo[i]);

	for (uint32_t i = 0; i < d; i++)
	{
		double		a = z[i];

		for (uint32_t j = i; j < d; j++)
		{
			double		prod = a * z[j];
			double		err;
			double		s,
						bb;

			if (use_fma)
				err = __builtin_fma(a, z[j], -prod);
			else
				err = ((z_hi[i] * z_hi[j] - prod) + z_hi[i] * z_lo[j] + z_lo[i] * z_hi[j])
					+ z_lo[i] * z_lo[j];
			/* two-sum, written out so the loop vectorises */
			s = hi[j - i] + prod;
			bb = s - hi[j - i];
			lo[j - i] += ((hi[j - i] - (s - bb)) + (prod - bb)) + err;
			hi[j - i] = s;
		}
		hi += d - i;
		lo += d - i;
	}
}

static void
accumulate_portable(const double *z, uint32_t d, double *hi, double *lo)
{
	accumulate_row(z, d, hi, lo, false);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_FMA_CLONE 1
#ifdef __clang__
#define FMA_CLONE __attribute__((target("avx2,fma")))
#else
/* gcc vectorises at -O2 only loops it deems trivially profitable */
#define FMA_CLONE __attribute__((target("avx2,fma"), optimize("tree-vectorize")))
#endif
FMA_CLONE
static void
accumulate_fma(const double *z, uint32_t d, double *hi, double *lo)
{
	accumulate_row(z, d, hi, lo, true);
}
#endif

bool		clv_linreg_portable_only = false;

#ifdef HAVE_FMA_CLONE
/*
 * Set once when the library is loaded, before any thread exists, and only
 * read afterwards.
 */
static bool cpu_has_fma = false;

__attribute__((constructor))
static void
detect_fma(void)
{
	__builtin_cpu_init();
	cpu_has_fma = __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
}
#endif

void
clv_linreg_acc_add(clv_linreg_acc *acc, double y, const double *x)
{
	uint32_t	d = acc->p + 2;
	double		z[CLV_LINREG_MAX_DIM];

	z[0] = 1.0;
	memcpy(z + 1, x, sizeof(double) * acc->p);
	z[d - 1] = y;
#ifdef HAVE_FMA_CLONE
	if (cpu_has_fma && !clv_linreg_portable_only)
	{
		accumulate_fma(z, d, acc->hi, acc->lo);
		return;
	}
#endif
	accumulate_portable(z, d, acc->hi, acc->lo);
}

void
clv_linreg_acc_merge(clv_linreg_acc *acc, const clv_linreg_acc *other)
{
	for (size_t k = 0; k < acc->n_terms; k++)
		dd_add(&acc->hi[k], &acc->lo[k], other->hi[k], other->lo[k]);
}

double
clv_linreg_acc_count(const clv_linreg_acc *acc)
{
	return acc->hi[0] + acc->lo[0];
}

void
clv_linreg_acc_feature_means(const clv_linreg_acc *acc, double *means)
{
	double		n = acc->hi[0] + acc->lo[0];

	for (uint32_t j = 0; j < acc->p; j++)
		means[j] = (acc->hi[j + 1] + acc->lo[j + 1]) / n;
}

double
clv_linear_margin(const double *coef, const double *x, uint32_t p)
{
	double		eta = coef[0];

	for (uint32_t j = 0; j < p; j++)
		eta += coef[j + 1] * x[j];
	return eta;
}

void
clv_linear_explain(const double *coef, const double *means, const double *x, uint32_t p,
				   double *phi)
{
	for (uint32_t j = 0; j < p; j++)
		phi[j] = coef[j + 1] * (x[j] - means[j]);
}

/* ---- solving ----------------------------------------------------------- */

static inline size_t
tri_index(uint32_t d, uint32_t i, uint32_t j)
{
	if (i > j)
	{
		uint32_t	t = i;

		i = j;
		j = t;
	}
	return (size_t) i * d - (size_t) i * (i - 1) / 2 + (j - i);
}

void
clv_regression_fit_free(clv_regression_fit *fit)
{
	clv_release(fit->coef);
	clv_release(fit->std_error);
	clv_release(fit->statistic);
	clv_release(fit->p_value);
	fit->coef = fit->std_error = fit->statistic = fit->p_value = NULL;
}

void
clv_regression_fit_alloc(clv_regression_fit *fit, uint32_t p)
{
	size_t		k = (size_t) p + 1;

	memset(fit, 0, sizeof(*fit));
	fit->p = p;
	fit->coef = clv_alloc(sizeof(double) * k);
	fit->std_error = clv_alloc(sizeof(double) * k);
	fit->statistic = clv_alloc(sizeof(double) * k);
	fit->p_value = clv_alloc(sizeof(double) * k);
	for (size_t i = 0; i < k; i++)
		fit->coef[i] = fit->std_error[i] = fit->statistic[i] = fit->p_value[i] = NAN;
	fit->r2 = fit->adj_r2 = fit->rss = fit->sigma = fit->df_resid = NAN;
	fit->f_statistic = fit->f_p_value = fit->condition_number = NAN;
	fit->log_likelihood = fit->deviance = fit->null_deviance = fit->aic = NAN;
}

bool
clv_condition_number(const double *a, uint32_t p, double *cond)
{
	double	   *copy = clv_alloc(sizeof(double) * p * p);
	double	   *eval = clv_alloc(sizeof(double) * p);
	gsl_matrix_view m = gsl_matrix_view_array(copy, p, p);
	gsl_vector_view v = gsl_vector_view_array(eval, p);
	gsl_eigen_symm_workspace *ws = gsl_eigen_symm_alloc(p);
	bool		ok = false;

	memcpy(copy, a, sizeof(double) * p * p);
	if (ws != NULL && gsl_eigen_symm(&m.matrix, &v.vector, ws) == GSL_SUCCESS)
	{
		double		lo = INFINITY,
					hi = 0;

		for (uint32_t j = 0; j < p; j++)
		{
			lo = fmin(lo, eval[j]);
			hi = fmax(hi, eval[j]);
		}
		*cond = lo > 0 ? sqrt(hi / lo) : INFINITY;
		ok = !isnan(lo) && !isnan(hi);
	}
	if (ws != NULL)
		gsl_eigen_symm_free(ws);
	clv_release(copy);
	clv_release(eval);
	return ok;
}

/*
 * The sums as long doubles, n first, after checking that none overflowed.
 * Returns false, with err set, when one did.
 */
static bool
load_sums(const clv_linreg_acc *acc, long double *sum, const char *what, clv_error *err)
{
	for (size_t k = 0; k < acc->n_terms; k++)
	{
		if (!isfinite(acc->hi[k]) || !isfinite(acc->lo[k]))
		{
			clv_fail(err, CLV_ERR_DATA, "values are too large to %s", what);
			clv_set_detail(err, "A sum of squares or cross-products overflowed.");
			return false;
		}
		sum[k] = (long double) acc->hi[k] + acc->lo[k];
	}
	return true;
}

/*
 * The centred cross-products C = Σ z zᵀ − n z̄ z̄ᵀ over indices 1..p+1 of
 * z = (1, x, y), a (p + 1)² matrix, in double-double: with a large mean the
 * difference keeps only the low digits of the sums, which long double would
 * already have rounded off.
 */
static long double *
centred_cross_products(const clv_linreg_acc *acc, long double n)
{
	uint32_t	p = acc->p;
	uint32_t	d = p + 2;
	long double *cov = clv_alloc(sizeof(long double) * (p + 1) * (p + 1));

	for (uint32_t i = 0; i <= p; i++)
		for (uint32_t j = 0; j <= p; j++)
		{
			size_t		kij = tri_index(d, i + 1, j + 1),
						ki = tri_index(d, 0, i + 1),
						kj = tri_index(d, 0, j + 1);
			dd			sij = dd_norm(acc->hi[kij], acc->lo[kij]);
			dd			si = dd_norm(acc->hi[ki], acc->lo[ki]);
			dd			sj = dd_norm(acc->hi[kj], acc->lo[kj]);
			dd			c = dd_sub(sij, dd_mul(si, dd_div(sj, (double) n)));

			cov[(size_t) i * (p + 1) + j] = (long double) c.hi + c.lo;
		}
	return cov;
}

/*
 * Σ ((y − ȳ) − bᵀ(x − x̄))², the residual sum of squares about the means, from
 * the centred cross-products cov and the slopes coef[1..p].
 */
static long double
centred_rss(uint32_t p, const long double *cov, const double *coef)
{
	long double fitted = 0,
				quad = 0,
				rss;

	for (uint32_t j = 0; j < p; j++)
	{
		fitted += coef[j + 1] * cov[(size_t) j * (p + 1) + p];
		for (uint32_t k = 0; k < p; k++)
			quad += coef[j + 1] * cov[(size_t) j * (p + 1) + k] * coef[k + 1];
	}
	rss = cov[(size_t) p * (p + 1) + p] - 2 * fitted + quad;
	return rss < 0 ? 0 : rss;
}

clv_status
clv_linreg_rss(const clv_linreg_acc *acc, const double *coef, double *rss, clv_error *err)
{
	uint32_t	p = acc->p;
	uint32_t	d = p + 2;
	long double *sum = clv_alloc(sizeof(long double) * acc->n_terms);
	long double *cov;
	long double n,
				offset;

	if (!load_sums(acc, sum, "score a linear regression", err))
	{
		clv_release(sum);
		return CLV_ERR_DATA;
	}
	n = sum[0];
	cov = centred_cross_products(acc, n);

	/*
	 * Σ (y − b0 − bᵀx)² = Σ (centred residual)² + n (ȳ − b0 − bᵀx̄)²: the
	 * centred residuals sum to zero, so the cross term vanishes.
	 */
	offset = sum[tri_index(d, 0, p + 1)] / n - coef[0];
	for (uint32_t j = 0; j < p; j++)
		offset -= coef[j + 1] * (sum[tri_index(d, 0, j + 1)] / n);
	*rss = (double) (centred_rss(p, cov, coef) + n * offset * offset);
	clv_release(sum);
	clv_release(cov);
	return CLV_OK;
}

/* Largest condition number of the standardised design we still solve. */
#define MAX_CONDITION 1e7

/*
 * A least-squares problem on the standardised scale: the centred
 * cross-products cov of (x, y), each feature's scale √C_jj (1 for a constant
 * feature), a = C_jk / (s_j s_k) and b = C_jy / s_j.  Ordinary least squares,
 * ridge and elastic net are solved from it; slopes are γ_j / s_j.
 */
typedef struct linreg_problem
{
	uint32_t	p;
	long double n;
	long double *sum;			/* the sums, n first */
	long double *cov;			/* (p + 1)², y last */
	double	   *scale;
	bool	   *constant;		/* features without variance */
	double	   *a;
	double	   *b;
} linreg_problem;

static void
problem_free(linreg_problem *pb)
{
	clv_release(pb->sum);
	clv_release(pb->cov);
	clv_release(pb->scale);
	clv_release(pb->constant);
	clv_release(pb->a);
	clv_release(pb->b);
	memset(pb, 0, sizeof(*pb));
}

/*
 * Load and standardise the sums; a constant feature is an error unless the
 * fit is penalised, when it gets scale 1.  The condition number of the
 * design goes to fit.
 */
static clv_status
problem_prepare(const clv_linreg_acc *acc, bool penalised, clv_regression_fit *fit,
				linreg_problem *pb, clv_error *err)
{
	uint32_t	p = acc->p;
	uint32_t	d = p + 2;

#define S(i, j) pb->sum[tri_index(d, (i), (j))]
#define C(i, j) pb->cov[(size_t) (i) * (p + 1) + (j)]

	memset(pb, 0, sizeof(*pb));
	pb->p = p;
	pb->n = (long double) acc->hi[0] + acc->lo[0];
	pb->sum = clv_alloc(sizeof(long double) * acc->n_terms);
	if (!load_sums(acc, pb->sum, "fit a linear regression", err))
	{
		problem_free(pb);
		return CLV_ERR_DATA;
	}
	pb->cov = centred_cross_products(acc, pb->n);
	pb->scale = clv_alloc(sizeof(double) * p);
	pb->constant = clv_alloc(sizeof(bool) * p);
	pb->a = clv_alloc(sizeof(double) * p * p);
	pb->b = clv_alloc(sizeof(double) * p);

	for (uint32_t j = 0; j < p; j++)
	{
		double		var = (double) C(j, j);

		/* below the sums' rounding error, a centred square is no variance */
		if (var <= (double) pb->n * 0x1p-100 * (double) S(j + 1, j + 1))
			var = 0;
		pb->constant[j] = !(var > 0);
		if (var > 0)
			pb->scale[j] = sqrt(var);
		else if (penalised)
			pb->scale[j] = 1.0;
		else
		{
			clv_fail(err, CLV_ERR_SINGULAR,
					 "design matrix is singular: feature %u is constant", j + 1);
			clv_set_hint(err, "Remove the feature, or set a positive \"l2\" option for ridge regression.");
			problem_free(pb);
			return CLV_ERR_SINGULAR;
		}
	}
	for (uint32_t j = 0; j < p; j++)
	{
		for (uint32_t k = 0; k < p; k++)
			pb->a[j * p + k] = (double) (C(j, k) / ((long double) pb->scale[j] * pb->scale[k]));
		pb->b[j] = (double) (C(j, p) / pb->scale[j]);
	}

	/* the design's own conditioning, before any penalty */
	if (!clv_condition_number(pb->a, p, &fit->condition_number))
	{
		clv_fail(err, CLV_ERR_INTERNAL, "could not compute the eigenvalues of the design");
		problem_free(pb);
		return CLV_ERR_INTERNAL;
	}
	return CLV_OK;
#undef S
#undef C
}

/*
 * The intercept from the means, the residual sum of squares and R² of the
 * slopes in fit->coef[1..p]; df_resid as given.
 */
static void
finish_fit(const linreg_problem *pb, double df_resid, clv_regression_fit *fit)
{
	uint32_t	p = pb->p;
	uint32_t	d = p + 2;
	long double n = pb->n;
	long double b0 = pb->sum[tri_index(d, 0, p + 1)] / n;
	long double rss,
				syy;

	for (uint32_t j = 0; j < p; j++)
		b0 -= fit->coef[j + 1] * (pb->sum[tri_index(d, 0, j + 1)] / n);
	fit->coef[0] = (double) b0;
	syy = pb->cov[(size_t) p * (p + 1) + p];
	rss = centred_rss(p, pb->cov, fit->coef);

	fit->rss = (double) rss;
	fit->df_resid = df_resid;
	if (syy > 0)
	{
		fit->r2 = (double) (1 - rss / syy);
		if (fit->df_resid > 0)
			fit->adj_r2 = 1 - (1 - fit->r2) * ((double) n - 1) / fit->df_resid;
	}
}

clv_status
clv_linreg_solve(const clv_linreg_acc *acc, double l2,
				 clv_regression_fit *fit, clv_error *err)
{
	uint32_t	p = acc->p;
	uint32_t	d = p + 2;
	long double n = (long double) acc->hi[0] + acc->lo[0];
	linreg_problem pb;
	double	   *a,
			   *b,
			   *scale,
			   *ainv;
	clv_status	st = CLV_OK;

#define S(i, j) pb.sum[tri_index(d, (i), (j))]

	if (n < (long double) p + 1)
	{
		clv_fail(err, CLV_ERR_DATA, "too few rows to fit a linear regression");
		clv_set_detail(err, "%.0Lf rows were given; %u features need at least %u.",
					   n, p, p + 1);
		return CLV_ERR_DATA;
	}
	clv_regression_fit_alloc(fit, p);
	fit->n = (double) n;
	st = problem_prepare(acc, l2 > 0, fit, &pb, err);
	if (st != CLV_OK)
	{
		clv_regression_fit_free(fit);
		return st;
	}
	a = pb.a;
	b = pb.b;
	scale = pb.scale;
	ainv = clv_alloc(sizeof(double) * p * p);

	for (uint32_t j = 0; j < p; j++)
		a[j * p + j] += l2 / (scale[j] * scale[j]);
	if (l2 == 0 && !(fit->condition_number < MAX_CONDITION))
	{
		st = clv_fail(err, CLV_ERR_SINGULAR, "design matrix is singular or nearly singular");
		clv_set_detail(err, "The condition number of the standardised design is %g.",
					   fit->condition_number);
		clv_set_hint(err, "Remove collinear features, or set a positive \"l2\" option for ridge regression.");
		goto done;
	}

	{
		gsl_matrix_view av = gsl_matrix_view_array(a, p, p);
		gsl_matrix_view iv = gsl_matrix_view_array(ainv, p, p);
		gsl_vector_view bv = gsl_vector_view_array(b, p);
		double	   *gamma = clv_alloc(sizeof(double) * p);
		gsl_vector_view gv = gsl_vector_view_array(gamma, p);

		if (gsl_linalg_cholesky_decomp1(&av.matrix) != GSL_SUCCESS ||
			gsl_linalg_cholesky_solve(&av.matrix, &bv.vector, &gv.vector) != GSL_SUCCESS ||
			gsl_linalg_cholesky_invert(&av.matrix) != GSL_SUCCESS)
		{
			clv_release(gamma);
			st = clv_fail(err, CLV_ERR_SINGULAR, "design matrix is singular");
			clv_set_hint(err, "Remove collinear features, or set a positive \"l2\" option for ridge regression.");
			goto done;
		}
		gsl_matrix_memcpy(&iv.matrix, &av.matrix);
		for (uint32_t j = 0; j < p; j++)
			fit->coef[j + 1] = gamma[j] / scale[j];
		clv_release(gamma);
	}

	finish_fit(&pb, (double) (n - p - 1), fit);

	/* classical inference is defined for OLS with residual degrees of freedom */
	if (l2 == 0 && fit->df_resid > 0)
	{
		double		sigma2 = fit->rss / fit->df_resid;
		double		var0 = sigma2 / (double) n;
		double		syy = (double) pb.cov[(size_t) p * (p + 1) + p];

		fit->sigma = sqrt(sigma2);
		for (uint32_t j = 0; j < p; j++)
		{
			double		mj = (double) (S(0, j + 1) / n);

			for (uint32_t k = 0; k < p; k++)
			{
				double		mk = (double) (S(0, k + 1) / n);

				var0 += mj * mk * sigma2 * ainv[j * p + k] / (scale[j] * scale[k]);
			}
			fit->std_error[j + 1] = sqrt(sigma2 * ainv[j * p + j]) / scale[j];
		}
		fit->std_error[0] = sqrt(var0);
		for (uint32_t j = 0; j <= p; j++)
		{
			fit->statistic[j] = fit->coef[j] / fit->std_error[j];
			fit->p_value[j] = 2 * gsl_cdf_tdist_Q(fabs(fit->statistic[j]), fit->df_resid);
		}
		if (fit->rss > 0 && syy > 0)
		{
			fit->f_statistic = (syy - fit->rss) / p / sigma2;
			fit->f_p_value = gsl_cdf_fdist_Q(fit->f_statistic, p, fit->df_resid);
		}
	}

done:
	problem_free(&pb);
	clv_release(ainv);
	if (st != CLV_OK)
		clv_regression_fit_free(fit);
	return st;
#undef S
}

/* ---- elastic net ------------------------------------------------------- */

/*
 * Coordinate descent on the standardised problem: minimise
 *   ½ γᵀAγ − bᵀγ + ½ Σ pen2_j γ_j² + Σ thr_j |γ_j|,
 * which is half the elastic-net objective once γ_j = s_j β_j, with
 * pen2_j = l2 / s_j² and thr_j = l1 / (2 s_j).  The gradient g = b − Aγ is
 * kept up to date (covariance updates), so a sweep costs O(p) per feature
 * that moved and nothing for those that stay at zero.
 */
typedef struct enet_work
{
	uint32_t	p;
	const double *a;
	const double *b;
	const bool *constant;
	double	   *pen2;
	double	   *thr;
	double	   *gamma;			/* the solution, warm-started along a path */
	double	   *g;				/* b − Aγ */
	uint32_t   *active;
	uint32_t	n_active;
	long		sweeps;
} enet_work;

/* Sweeps (over every feature or the active ones) before giving up. */
#define ENET_MAX_SWEEPS 1000000
/* Largest coordinate change, relative to the scale of y, that counts as converged. */
#define ENET_TOL 1e-12

static inline double
soft_threshold(double z, double t)
{
	return z > t ? z - t : (z < -t ? z + t : 0.0);
}

/* Update coordinate j; returns |Δγ_j|. */
static inline double
enet_update(enet_work *w, uint32_t j)
{
	uint32_t	p = w->p;
	double		ajj = w->a[(size_t) j * p + j];
	double		old = w->gamma[j];
	double		next,
				delta;
	const double *col = w->a + (size_t) j * p;	/* a is symmetric: row j is column j */

	if (w->constant[j])
		return 0;
	next = soft_threshold(w->g[j] + ajj * old, w->thr[j]) / (ajj + w->pen2[j]);
	delta = next - old;
	if (delta == 0)
		return 0;
	w->gamma[j] = next;
	for (uint32_t k = 0; k < p; k++)
		w->g[k] -= delta * col[k];
	return fabs(delta);
}

static void
enet_recompute_gradient(enet_work *w)
{
	uint32_t	p = w->p;

	for (uint32_t j = 0; j < p; j++)
	{
		double		s = w->b[j];

		for (uint32_t k = 0; k < p; k++)
			if (w->gamma[k] != 0)
				s -= w->a[(size_t) j * p + k] * w->gamma[k];
		w->g[j] = s;
	}
}

/*
 * The exact solution for the signs coordinate descent found: on the
 * nonzero set S with signs σ, (A_SS + diag pen2_S) γ_S = b_S − thr_S σ_S.
 * It is kept when its signs are σ's and every feature outside S satisfies
 * |g_j| ≤ thr_j (the optimality conditions, which certify the solution);
 * otherwise the iterate stays, converged to the tolerance.
 */
static void
enet_polish(enet_work *w, double tol)
{
	uint32_t	p = w->p;
	uint32_t	m = 0;
	uint32_t   *idx = clv_alloc(sizeof(uint32_t) * (p ? p : 1));
	double	   *mat,
			   *rhs,
			   *sol,
			   *saved;
	bool		ok;

	for (uint32_t j = 0; j < p; j++)
		if (w->gamma[j] != 0)
			idx[m++] = j;
	if (m == 0)
	{
		clv_release(idx);
		return;
	}
	mat = clv_alloc(sizeof(double) * m * m);
	rhs = clv_alloc(sizeof(double) * m);
	sol = clv_alloc(sizeof(double) * m);
	saved = clv_alloc(sizeof(double) * p);
	for (uint32_t i = 0; i < m; i++)
	{
		uint32_t	j = idx[i];

		for (uint32_t k = 0; k < m; k++)
			mat[i * m + k] = w->a[(size_t) j * p + idx[k]];
		mat[i * m + i] += w->pen2[j];
		rhs[i] = w->b[j] - (w->gamma[j] > 0 ? w->thr[j] : -w->thr[j]);
	}
	{
		gsl_matrix_view mv = gsl_matrix_view_array(mat, m, m);
		gsl_vector_view rv = gsl_vector_view_array(rhs, m);
		gsl_vector_view sv = gsl_vector_view_array(sol, m);

		ok = gsl_linalg_cholesky_decomp1(&mv.matrix) == GSL_SUCCESS &&
			gsl_linalg_cholesky_solve(&mv.matrix, &rv.vector, &sv.vector) == GSL_SUCCESS;
	}
	for (uint32_t i = 0; ok && i < m; i++)
		ok = isfinite(sol[i]) && (sol[i] > 0) == (w->gamma[idx[i]] > 0) && sol[i] != 0;
	if (ok)
	{
		memcpy(saved, w->gamma, sizeof(double) * p);
		for (uint32_t i = 0; i < m; i++)
			w->gamma[idx[i]] = sol[i];
		enet_recompute_gradient(w);
		for (uint32_t j = 0; ok && j < p; j++)
			if (w->gamma[j] == 0 && !w->constant[j])
				ok = fabs(w->g[j]) <= w->thr[j] + tol;
		if (!ok)
		{
			memcpy(w->gamma, saved, sizeof(double) * p);
			enet_recompute_gradient(w);
		}
	}
	clv_release(idx);
	clv_release(mat);
	clv_release(rhs);
	clv_release(sol);
	clv_release(saved);
}

/*
 * Coordinate descent from the current γ: full sweeps find the active set,
 * sweeps over the active features alone converge on it, and a full sweep
 * that changes nothing beyond tol ends the descent.  tol is absolute, on
 * the standardised scale.
 */
static clv_status
enet_descend(enet_work *w, double tol, clv_error *err)
{
	uint32_t	p = w->p;

	enet_recompute_gradient(w);
	for (;;)
	{
		double		change = 0;

		if (w->sweeps++ >= ENET_MAX_SWEEPS)
			goto no_convergence;
		for (uint32_t j = 0; j < p; j++)
			change = fmax(change, enet_update(w, j));
		if (change <= tol)
			break;
		w->n_active = 0;
		for (uint32_t j = 0; j < p; j++)
			if (w->gamma[j] != 0)
				w->active[w->n_active++] = j;
		do
		{
			if ((w->sweeps & 255) == 0)
				clv_check_interrupts();
			if (w->sweeps++ >= ENET_MAX_SWEEPS)
				goto no_convergence;
			change = 0;
			for (uint32_t i = 0; i < w->n_active; i++)
				change = fmax(change, enet_update(w, w->active[i]));
		} while (change > tol);
		/* the gradient drifts with many updates: refresh it before checking all */
		enet_recompute_gradient(w);
	}
	enet_polish(w, tol);
	return CLV_OK;

no_convergence:
	clv_fail(err, CLV_ERR_NOCONVERGE, "elastic net did not converge");
	clv_set_detail(err, "Coordinate descent stopped after %d sweeps.", ENET_MAX_SWEEPS);
	clv_set_hint(err, "Scale the features, or raise \"l1\" or \"l2\".");
	return CLV_ERR_NOCONVERGE;
}

clv_status
clv_linreg_solve_path(const clv_linreg_acc *acc, double l2, const double *l1, size_t n_l1,
					  clv_regression_fit *fits, clv_error *err)
{
	uint32_t	p = acc->p;
	long double n = (long double) acc->hi[0] + acc->lo[0];
	clv_regression_fit shape;
	linreg_problem pb;
	enet_work	w;
	size_t	   *order;
	double		tol;
	clv_status	st = CLV_OK;
	size_t		done = 0;

	for (size_t i = 0; i < n_l1; i++)
		memset(&fits[i], 0, sizeof(fits[i]));
	if (n < 1)
	{
		clv_fail(err, CLV_ERR_DATA, "too few rows to fit a linear regression");
		clv_set_detail(err, "0 rows were given; an elastic net needs at least 1.");
		return CLV_ERR_DATA;
	}

	/* penalised: constant features are allowed and get the coefficient 0 */
	clv_regression_fit_alloc(&shape, p);
	st = problem_prepare(acc, true, &shape, &pb, err);
	if (st != CLV_OK)
	{
		clv_regression_fit_free(&shape);
		return st;
	}

	memset(&w, 0, sizeof(w));
	w.p = p;
	w.a = pb.a;
	w.b = pb.b;
	w.constant = pb.constant;
	w.pen2 = clv_alloc(sizeof(double) * p);
	w.thr = clv_alloc(sizeof(double) * p);
	w.gamma = clv_alloc(sizeof(double) * p);
	w.g = clv_alloc(sizeof(double) * p);
	w.active = clv_alloc(sizeof(uint32_t) * p);
	memset(w.gamma, 0, sizeof(double) * p);
	for (uint32_t j = 0; j < p; j++)
		w.pen2[j] = l2 / (pb.scale[j] * pb.scale[j]);
	/* γ is in units of y times √n: the tolerance follows y's spread */
	tol = ENET_TOL * sqrt(fmax((double) pb.cov[(size_t) p * (p + 1) + p], 0x1p-1000));

	/* largest l1 first: each solution starts the next, sparser to denser */
	order = clv_alloc(sizeof(size_t) * (n_l1 ? n_l1 : 1));
	for (size_t i = 0; i < n_l1; i++)
	{
		size_t		k = i;

		while (k > 0 && l1[order[k - 1]] < l1[i])
		{
			order[k] = order[k - 1];
			k--;
		}
		order[k] = i;
	}

	for (done = 0; done < n_l1; done++)
	{
		size_t		i = order[done];
		clv_regression_fit *fit = &fits[i];
		uint32_t	nonzero = 0;

		if (l1[i] == 0)
		{
			/* no lasso penalty: the ordinary or ridge fit, as without "l1" */
			st = clv_linreg_solve(acc, l2, fit, err);
			if (st != CLV_OK)
				break;
			continue;
		}
		for (uint32_t j = 0; j < p; j++)
			w.thr[j] = l1[i] / (2 * pb.scale[j]);
		w.sweeps = 0;
		st = enet_descend(&w, tol, err);
		if (st != CLV_OK)
			break;
		clv_regression_fit_alloc(fit, p);
		fit->n = (double) n;
		fit->condition_number = shape.condition_number;
		fit->iterations = (int) w.sweeps;
		fit->converged = true;
		for (uint32_t j = 0; j < p; j++)
		{
			fit->coef[j + 1] = w.gamma[j] / pb.scale[j];
			nonzero += w.gamma[j] != 0;
		}
		/* the lasso's degrees of freedom are its nonzero coefficients */
		finish_fit(&pb, (double) (n - 1 - nonzero), fit);
	}
	if (st != CLV_OK)
		for (size_t k = 0; k < done; k++)
			clv_regression_fit_free(&fits[order[k]]);

	clv_release(order);
	clv_release(w.pen2);
	clv_release(w.thr);
	clv_release(w.gamma);
	clv_release(w.g);
	clv_release(w.active);
	clv_regression_fit_free(&shape);
	problem_free(&pb);
	return st;
}

clv_status
clv_linreg_solve_enet(const clv_linreg_acc *acc, double l2, double l1,
					  clv_regression_fit *fit, clv_error *err)
{
	if (l1 == 0)
		return clv_linreg_solve(acc, l2, fit, err);
	return clv_linreg_solve_path(acc, l2, &l1, 1, fit, err);
}
