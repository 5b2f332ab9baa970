/*
 * model.h — the model container: a documented, versioned byte format shared
 * by every model kind (see doc/model-format.md), and its strict decoder.
 */
#ifndef CLV_MODEL_H
#define CLV_MODEL_H

#include "clv_core.h"

#define CLV_MODEL_MAGIC			"CLVM"
#define CLV_MODEL_FORMAT_VERSION 2	/* 2: compact tree nodes; 1 still read */
#define CLV_MODEL_HEADER_SIZE	24
#define CLV_MAX_FEATURES		10000
#define CLV_MAX_NAME_LEN		1024
#define CLV_MAX_META_LEN		(16u * 1024 * 1024)

typedef enum clv_model_kind
{
	CLV_KIND_LINREG = 1,
	CLV_KIND_LOGREG = 2,
	CLV_KIND_BGNBD = 3,
	CLV_KIND_MBGNBD = 4,
	CLV_KIND_PARETONBD = 5,
	CLV_KIND_GAMMAGAMMA = 6,
	CLV_KIND_FOREST = 7,
	CLV_KIND_GBM = 8
} clv_model_kind;

/* Kinds whose payload is a linear predictor's coefficients. */
static inline bool
clv_kind_is_linear(clv_model_kind kind)
{
	return kind == CLV_KIND_LINREG || kind == CLV_KIND_LOGREG;
}

/* Kinds whose payload is a tree ensemble (trees.h). */
static inline bool
clv_kind_is_ensemble(clv_model_kind kind)
{
	return kind == CLV_KIND_FOREST || kind == CLV_KIND_GBM;
}

/* A decoded model.  Everything hangs off one clv_alloc'd block per field. */
typedef struct clv_model
{
	clv_model_kind kind;
	uint16_t	format_version;	/* as read; encoding always writes the current one */
	uint32_t	n_features;
	char	  **feature_names;	/* n_features names, or NULL */
	char	   *meta;			/* NUL-terminated JSON object text */
	/* payload of the linear kinds: intercept, then one per feature */
	double	   *coef;
	/* payload of the probabilistic kinds: positive parameters */
	uint32_t	n_params;
	double	   *params;
	/* payload of the tree ensembles */
	struct clv_ensemble *ensemble;
} clv_model;

/* Growable output buffer for encoders. */
typedef struct clv_buf
{
	unsigned char *data;
	size_t		len;
	size_t		cap;
} clv_buf;

void		clv_buf_init(clv_buf *buf, size_t reserve);
void		clv_buf_put(clv_buf *buf, const void *src, size_t n);
void		clv_buf_put_u32(clv_buf *buf, uint32_t v);
void		clv_buf_put_f64(clv_buf *buf, double v);

/* Bounds-checked little-endian reader for decoders. */
typedef struct clv_reader
{
	const unsigned char *data;
	size_t		len;
	size_t		pos;
} clv_reader;

bool		clv_read_u32(clv_reader *r, uint32_t *v);
bool		clv_read_f64(clv_reader *r, double *v);
bool		clv_read_bytes(clv_reader *r, size_t n, const unsigned char **p);

const char *clv_model_kind_name(clv_model_kind kind);

/*
 * Serialise a model into buf (which is initialised here).  The model must be
 * valid; encoding cannot fail except through the allocator.
 */
void		clv_model_encode(const clv_model *model, clv_buf *buf);

/*
 * Decode and validate bytes.  On success *out holds a model whose every
 * field has been checked; on failure err says why and nothing leaks beyond
 * what the allocator reclaims (clv_model_free releases a partial model).
 */
clv_status	clv_model_decode(const unsigned char *data, size_t len,
							 clv_model **out, clv_error *err);
void		clv_model_free(clv_model *model);

/* Validate only the fixed header: used to key the scoring cache cheaply. */
clv_status	clv_model_check_header(const unsigned char *data, size_t len,
								   clv_error *err);

/* Parameters a probabilistic kind has, or 0 for the other kinds. */
uint32_t	clv_model_kind_params(clv_model_kind kind);

/*
 * Score one feature vector (length n_features, finite values) with a linear
 * kind; NaN for the others, which have their own prediction functions.
 */
double		clv_model_predict(const clv_model *model, const double *x);

#endif							/* CLV_MODEL_H */
