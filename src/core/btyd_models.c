/*
 * btyd_models.c — the table of BTYD models: one row per clv_btyd_model with
 * what the fitting and prediction code needs to know of it.  A new model is
 * its own file of operations, a row here, and its tests.
 */
#include "btyd_internal.h"

static const char *const bgnbd_params[] = {"r", "alpha", "a", "b"};
static const char *const paretonbd_params[] = {"r", "alpha", "s", "beta"};
static const char *const gammagamma_params[] = {"p", "q", "gamma"};
static const char *const bgbb_params[] = {"alpha", "beta", "gamma", "delta"};
static const char *const purchase_features[] = {"frequency", "recency", "t"};
static const char *const opportunity_features[] = {"frequency", "recency", "n"};
static const char *const spend_features[] = {"frequency", "monetary"};

/* Read-only, so any thread may read it; every row fills every field that its kind uses. */
const clv_btyd_ops clv_btyd_models[CLV_BTYD_N_MODELS] = {
	[CLV_BTYD_BGNBD] = {
		.title = "BG/NBD",
		.kind = CLV_KIND_BGNBD,
		.n_params = 4,
		.param_names = bgnbd_params,
		.n_features = 3,
		.feature_names = purchase_features,
		.log_likelihood = clv_bgnbd_ll,
		.starts = clv_bgnbd_starts,
		.palive = clv_bgnbd_palive,
		.purchase_factor = clv_bgnbd_purchase_factor,
		.purchase_factor_curve = clv_bgnbd_purchase_factor_curve,
		.time_scale = 1,		/* alpha */
		.probability_of_purchases = clv_bgnbd_probability_of_purchases,
		.alive_probability_of_purchases = clv_bgnbd_alive_probability_of_purchases,
	},
	[CLV_BTYD_MBGNBD] = {
		.title = "MBG/NBD",
		.kind = CLV_KIND_MBGNBD,
		.n_params = 4,
		.param_names = bgnbd_params,
		.n_features = 3,
		.feature_names = purchase_features,
		.log_likelihood = clv_mbgnbd_ll,
		.starts = clv_bgnbd_starts,
		.palive = clv_mbgnbd_palive,
		.purchase_factor = clv_mbgnbd_purchase_factor,
		.purchase_factor_curve = clv_mbgnbd_purchase_factor_curve,
		.time_scale = 1,		/* alpha */
		.probability_of_purchases = clv_mbgnbd_probability_of_purchases,
		.alive_probability_of_purchases = clv_mbgnbd_alive_probability_of_purchases,
	},
	[CLV_BTYD_GAMMAGAMMA] = {
		.title = "Gamma-Gamma",
		.kind = CLV_KIND_GAMMAGAMMA,
		.n_params = 3,
		.param_names = gammagamma_params,
		.n_features = 2,
		.feature_names = spend_features,
		.spend = true,
		.log_likelihood = clv_gammagamma_ll,
		.starts = clv_gammagamma_starts,
		.expected_spend = clv_gammagamma_expected_spend,
	},
	[CLV_BTYD_PARETONBD] = {
		.title = "Pareto/NBD",
		.kind = CLV_KIND_PARETONBD,
		.n_params = 4,
		.param_names = paretonbd_params,
		.n_features = 3,
		.feature_names = purchase_features,
		.log_likelihood = clv_paretonbd_ll,
		.starts = clv_paretonbd_starts,
		.palive = clv_paretonbd_palive,
		.purchase_factor = clv_paretonbd_purchase_factor,
		.time_scale = 3,		/* beta */
		.probability_of_purchases = clv_paretonbd_probability_of_purchases,
		.alive_probability_of_purchases = clv_paretonbd_alive_probability_of_purchases,
		.dert = clv_paretonbd_dert,
	},
	[CLV_BTYD_BGBB] = {
		.title = "BG/BB",
		.kind = CLV_KIND_BGBB,
		.n_params = 4,
		.param_names = bgbb_params,
		.n_features = 3,
		.feature_names = opportunity_features,
		.discrete = true,
		.log_likelihood = clv_bgbb_ll,
		.starts = clv_bgbb_starts,
		.palive = clv_bgbb_palive,
		.purchase_factor = clv_bgbb_purchase_factor,
		.time_scale = 3,		/* delta; unused: horizons are whole opportunities */
		.probability_of_purchases = clv_bgbb_probability_of_purchases,
		.alive_probability_of_purchases = clv_bgbb_alive_probability_of_purchases,
		.dert = clv_bgbb_dert,
	},
};

bool
clv_btyd_model_of_kind(clv_model_kind kind, clv_btyd_model *out)
{
	for (int m = 0; m < CLV_BTYD_N_MODELS; m++)
		if (clv_btyd_models[m].kind == kind)
		{
			*out = (clv_btyd_model) m;
			return true;
		}
	return false;
}
