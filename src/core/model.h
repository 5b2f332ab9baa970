/*
 * model.h — the model container: a documented, versioned byte format shared
 * by every model kind (see doc/model-format.md), and its strict decoder.
 */
#ifndef CLV_MODEL_H
#define CLV_MODEL_H

#include "clv_core.h"
#include "bytes.h"

#define CLV_MODEL_MAGIC			"CLVM"
#define CLV_MODEL_FORMAT_VERSION 2	/* what the encoder writes; 1 is still read */
#define CLV_MODEL_HEADER_SIZE	24	/* the fields every version starts with */
#define CLV_MODEL_DIGEST_SIZE	CLV_SHA256_SIZE
#define CLV_MODEL_HEADER_SIZE_V2 (CLV_MODEL_HEADER_SIZE + CLV_MODEL_DIGEST_SIZE)
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
	CLV_KIND_GBM = 8,
	CLV_KIND_KMEANS = 9,
	CLV_KIND_SBG = 10,
	CLV_KIND_BGBB = 11,
	CLV_KIND_BGNBD_COV = 12,
	CLV_KIND_PARETONBD_COV = 13,
	CLV_KIND_MLP = 14
} clv_model_kind;

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
	/*
	 * of the covariate kinds: params are the 4 base parameters, then the
	 * coefficients of the purchase covariates (this many), then those of the
	 * dropout covariates
	 */
	uint32_t	n_purchase_covariates;
	/* payload of the tree ensembles */
	struct clv_ensemble *ensemble;
	/* payload of k-means */
	struct clv_kmeans *kmeans;
	/* payload of multi-layer perceptrons */
	struct clv_mlp *mlp;
} clv_model;

/*
 * What a model kind is and does: one row per stored kind (model_kinds.c).
 * The container writes and reads the header, the names and the metadata; the
 * row handles the payload.  A NULL function: the kind cannot do that.
 */
typedef struct clv_kind_ops
{
	clv_model_kind kind;
	const char *name;			/* in clv_model_info and in messages */
	uint32_t	n_params;		/* probabilistic kinds: their parameters; else 0 */
	bool		missing_allowed;	/* NaN in x is a missing value (tree ensembles) */
	void		(*encode) (const clv_model *m, uint16_t version, clv_buf *buf);
	/* read the payload strictly: every count, length and value checked */
	clv_status	(*decode) (clv_reader *r, uint16_t version, clv_model *m, clv_error *err);
	void		(*free) (clv_model *m);	/* the payload; NULL-safe */
	/* supervised kinds: the value, P(y = true) or the Tweedie mean for x */
	double		(*predict) (const clv_model *m, const double *x);
	/*
	 * Per-feature contributions on the margin scale, and the value they add
	 * up from; kinds with needs_means take the training means of the features.
	 */
	bool		needs_means;
	void		(*explain) (const clv_model *m, const double *means, const double *x,
							double *phi);
	double		(*expected) (const clv_model *m, const double *means);
} clv_kind_ops;

/* The row of a stored kind number, or NULL when no such kind exists. */
const clv_kind_ops *clv_kind_ops_of(uint32_t kind);
const char *clv_model_kind_name(clv_model_kind kind);

/* For payload decoders: "invalid clv model" with detail what (CLV_ERR_CORRUPT). */
clv_status	clv_model_corrupt(clv_error *err, const char *what);

/*
 * Serialise a model into buf (which is initialised here), in the current
 * format version.  The model must be valid; encoding cannot fail except
 * through the allocator.
 */
void		clv_model_encode(const clv_model *model, clv_buf *buf);

/*
 * The same in a given format version (1 or 2): golden tests and the fuzz
 * target re-encode a version-1 model as it was read.  The payload is written
 * as the payload encoders write it.
 */
void		clv_model_encode_version(const clv_model *model, uint16_t version,
									 clv_buf *buf);

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

/*
 * The identity of a model read from the start of its value alone: header
 * holds the first header_len bytes of a value total_len bytes long (a slice
 * of at least CLV_MODEL_HEADER_SIZE_V2 bytes, or the whole value if shorter).
 * The header is checked as clv_model_check_header does, and a version-2
 * header's own CRC-32C too; *version is set, and for version 2 digest gets
 * the SHA-256 the header records.  That digest is the writer's claim: only
 * clv_model_decode (or clv_model_digest_matches) proves the body has it.
 */
clv_status	clv_model_read_identity(const unsigned char *header, size_t header_len,
									size_t total_len, uint16_t *version,
									unsigned char digest[CLV_MODEL_DIGEST_SIZE],
									clv_error *err);

/*
 * Whether the SHA-256 of a whole version-2 value (already checked by
 * clv_model_read_identity) is the one in its header.  When false, err is
 * set to the decoder's error for a digest mismatch.
 */
bool		clv_model_digest_matches(const unsigned char *data, size_t len,
									 clv_error *err);

/*
 * The content digest a version-2 model records: SHA-256 of header bytes
 * 0..19 followed by the body.  For a version-1 value, the SHA-256 of all its
 * bytes (the glue's cache key for them; never written anywhere).
 */
void		clv_model_compute_digest(const unsigned char *data, size_t len,
									 unsigned char digest[CLV_MODEL_DIGEST_SIZE]);

/* Parameters a probabilistic kind has, or 0 for the other kinds. */
uint32_t	clv_model_kind_params(clv_model_kind kind);

/*
 * Score one feature vector (length n_features; NaN only where the kind allows
 * missing values) with a supervised kind; NaN for the others, which have
 * their own prediction functions.
 */
double		clv_model_predict(const clv_model *model, const double *x);

#endif							/* CLV_MODEL_H */
