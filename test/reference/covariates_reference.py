#!/usr/bin/python3
"""clv's BG/NBD and Pareto/NBD with static covariates against an independent
scipy implementation, on simulated customers with known coefficients.

- The covariate link (Fader & Hardie 2007, "Incorporating time-invariant
  covariates into the Pareto/NBD and BG/NBD models", as CLVTools fits it):
  alpha_i = alpha exp(-g1'z1); BG/NBD a_i = a exp(g2'z2), b_i = b exp(g2'z2);
  Pareto/NBD beta_i = beta exp(-g2'z2).
- The log-likelihood of each customer is the published one (FHL 2005 eq. 6;
  Fader & Hardie's 2005 Pareto/NBD note with scipy's hyp2f1) at the
  customer's own parameters, vectorised with numpy and maximised with
  scipy.optimize (Nelder-Mead, then BFGS) from the plain model's maximum.
  Parameters, coefficients and the log-likelihood at the optimum are
  compared with clv's fit.
- P(alive) and expected purchases of each customer from the published
  formulas at the customer's own parameters (from clv's fitted values),
  against clv_palive and clv_expected_purchases with covariates.
- Parameter recovery: 20,000 simulated customers with 2 purchase and 1
  dropout covariate; every true value within 3 standard errors of clv's.

Run by /usr/bin/python3.  Prints TAP lines.
"""

import math
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _pg  # noqa: E402
import btyd_reference as br  # noqa: E402 - BG/NBD prediction formulas
import paretonbd_reference as pr  # noqa: E402 - Pareto/NBD likelihood terms

NAME = "covariates_reference"
TABLE = "clv_ref_cov_customers"

TRUE = {
    "bgnbd": {"base": (0.8, 8.0, 0.6, 2.5), "g1": (0.5, -0.3), "g2": (0.7,)},
    "paretonbd": {"base": (0.8, 8.0, 0.7, 12.0), "g1": (0.5, -0.3), "g2": (0.7,)},
}
NAMES = {"bgnbd": ("r", "alpha", "a", "b"), "paretonbd": ("r", "alpha", "s", "beta")}


def simulate(model, n, seed):
    """Customers of the model with covariates z1 ~ N(0, 1)^2, z2 ~ N(0, 1)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    true = TRUE[model]
    r, alpha, c, d = true["base"]
    z1 = rng.normal(size=(n, 2))
    z2 = rng.normal(size=(n, 1))
    alpha_i = alpha * np.exp(-z1 @ np.array(true["g1"]))
    lam = rng.gamma(r, 1.0 / alpha_i)
    T = np.round(rng.uniform(20, 52, size=n), 2)
    e2 = np.exp(z2 @ np.array(true["g2"]))
    out = []
    for i in range(n):
        if model == "bgnbd":
            p = rng.beta(c * e2[i], d * e2[i])
            death = math.inf
        else:
            mu = rng.gamma(c, 1.0 / (d / e2[i]))
            death = rng.exponential(1.0 / mu)
        t, x, tx = 0.0, 0, 0.0
        while True:
            t += rng.exponential(1.0 / lam[i])
            if t > T[i] or t > death:
                break
            x, tx = x + 1, t
            if model == "bgnbd" and rng.random() < p:
                break
        tx = round(tx, 2) if x > 0 else 0.0
        tx = min(max(tx, 0.01), T[i]) if x > 0 else 0.0
        out.append((i, float(x), tx, float(T[i]), [float(v) for v in z1[i]], [float(z2[i, 0])]))
    return out


def own_params(model, theta, z1, z2):
    import numpy as np

    r, alpha, c, d = theta[:4]
    g1, g2 = np.asarray(theta[4:6]), np.asarray(theta[6:7])
    alpha_i = alpha * np.exp(-z1 @ g1)
    e2 = np.exp(z2 @ g2)
    if model == "bgnbd":
        return r, alpha_i, c * e2, d * e2
    return r, alpha_i, np.full_like(alpha_i, c), d / e2


def bgnbd_ll(r, alpha, a, b, x, tx, t):
    """FHL 2005 eq. 6 per customer, with per-customer alpha, a, b."""
    import numpy as np
    from scipy.special import betaln, gammaln

    nbd = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + t)
    xs = np.where(x > 0, x, 1.0)
    dead = np.where(x > 0, betaln(a + 1, b + xs - 1) - betaln(a, b) - (r + x) * np.log(alpha + tx),
                    -np.inf)
    return nbd + np.logaddexp(alive, dead)


def pareto_ll(r, alpha, s, beta, x, tx, t):
    """Fader & Hardie's note per customer: the alive and dead terms, A0 with
    scipy's 2F1 taken at the larger of alpha_i and beta_i."""
    import numpy as np
    from scipy.special import gammaln, hyp2f1

    a = r + s + x
    big = alpha >= beta
    m = np.where(big, alpha, beta)
    b = np.where(big, s + 1, r + x)
    dd = np.abs(alpha - beta)
    l1 = np.log(hyp2f1(a, b, a + 1, dd / (m + tx))) - a * np.log(m + tx)
    l2 = np.log(hyp2f1(a, b, a + 1, dd / (m + t))) - a * np.log(m + t)
    with np.errstate(divide="ignore"):
        log_a0 = l1 + np.log1p(-np.exp(l2 - l1))
    t1 = -(r + x) * np.log(alpha + t) - s * np.log(beta + t)
    t2 = np.log(s) - np.log(a) + log_a0
    return (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
            + np.logaddexp(t1, t2))


def total_ll(model, theta, data):
    import numpy as np

    x, tx, t, z1, z2 = data
    r, alpha, c, d = own_params(model, theta, z1, z2)
    per = bgnbd_ll(r, alpha, c, d, x, tx, t) if model == "bgnbd" else pareto_ll(r, alpha, c, d, x, tx, t)
    return float(np.sum(per))


def fit_scipy(model, data):
    """The plain model's maximum, then the covariate model's from there with g = 0."""
    import numpy as np
    from scipy.optimize import minimize

    n = len(data[0])
    zero = np.zeros(3)

    def plain(theta):
        return total_ll(model, list(theta) + list(zero), data)

    base, _ = br.maximise(plain, (1.0, 5.0, 1.0, 5.0), n)

    def objective(v):
        theta = list(np.exp(v[:4])) + list(v[4:])
        value = -total_ll(model, theta, data) / n
        return value if math.isfinite(value) else np.inf

    v = np.concatenate([np.log(base), zero])
    res = minimize(objective, v, method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 40000, "maxfev": 80000,
                            "adaptive": True})
    res2 = minimize(objective, res.x, method="BFGS", jac="3-point",
                    options={"gtol": 1e-11, "maxiter": 2000})
    v = res2.x if res2.fun <= res.fun else res.x
    theta = list(np.exp(v[:4])) + list(v[4:])
    return theta, total_ll(model, theta, data)


def clv_fit(model, table):
    info = _pg.jsonb(
        "SELECT clv_model_info(clv_%s_fit(x, tx, t, z1, z2, "
        "'{\"purchase_features\": [\"z11\", \"z12\"], \"dropout_features\": [\"z21\"]}')) FROM %s"
        % (model, table))
    names = NAMES[model]
    theta = [info["params"][k] for k in names] + [info["purchase_coefficients"]["z11"],
                                                  info["purchase_coefficients"]["z12"],
                                                  info["dropout_coefficients"]["z21"]]
    se = [info["std_errors"][k] for k in names] + [info["purchase_std_errors"]["z11"],
                                                   info["purchase_std_errors"]["z12"],
                                                   info["dropout_std_errors"]["z21"]]
    return theta, se, info


def arrays(rows):
    import numpy as np

    return (np.array([r[1] for r in rows]), np.array([r[2] for r in rows]),
            np.array([r[3] for r in rows]), np.array([r[4] for r in rows]),
            np.array([r[5] for r in rows]))


def check_against_scipy(tap, model):
    rows = simulate(model, 2000, 11 if model == "bgnbd" else 12)
    _pg.load_table(TABLE, "id int, x float8, tx float8, t float8, z1 float8[], z2 float8[]", rows)
    data = arrays(rows)
    theta, _, info = clv_fit(model, TABLE)
    want, want_ll = fit_scipy(model, data)
    tap.close(theta[:4], want[:4], 1e-6, "%s with covariates: base parameters = scipy's" % model)
    tap.close(theta[4:], want[4:], 1e-6, "%s with covariates: coefficients = scipy's" % model,
              floor=0.1)
    tap.close([info["log_likelihood"]], [want_ll], 1e-9,
              "%s with covariates: log-likelihood at the optimum = scipy's" % model)
    tap.close([info["log_likelihood"]], [total_ll(model, theta, data)], 1e-10,
              "%s with covariates: log-likelihood at clv's parameters = the formula's" % model)

    # predictions of each customer at clv's parameters, from the published formulas
    sample = rows[:40]
    got = _pg.rows(
        "SELECT clv_palive(m, x, tx, t, z1, z2), clv_expected_purchases(m, 10, x, tx, t, z1, z2) "
        "FROM %s, (SELECT clv_%s_fit(x, tx, t, z1, z2) m FROM %s) f WHERE id < 40 ORDER BY id"
        % (TABLE, model, TABLE))
    want_pa, want_ep = [], []
    for (_, x, tx, t, z1, z2) in sample:
        import numpy as np

        r, alpha, c, d = own_params(model, theta, np.array([z1]), np.array([z2]))
        th = (r, float(alpha[0]), float(np.ravel(c)[0]), float(np.ravel(d)[0]))
        if model == "bgnbd":
            want_pa.append(br.palive_formula(False, th, x, tx, t))
            want_ep.append(br.expected_closed_form(False, th, 10.0, x, tx, t))
        else:
            want_pa.append(pr.pareto_palive(th, x, tx, t))
            want_ep.append(pr.pareto_expected(th, 10.0, x, tx, t))
    tap.close([float(g[0]) for g in got], want_pa, 1e-10,
              "%s with covariates: P(alive) of 40 customers = the formula's" % model)
    tap.close([float(g[1]) for g in got], want_ep, 1e-10,
              "%s with covariates: expected purchases in 10 of 40 customers = the formula's" % model)


def check_recovery(tap, model):
    rows = simulate(model, 20000, 21 if model == "bgnbd" else 22)
    _pg.load_table(TABLE, "id int, x float8, tx float8, t float8, z1 float8[], z2 float8[]", rows)
    theta, se, info = clv_fit(model, TABLE)
    true = list(TRUE[model]["base"]) + list(TRUE[model]["g1"]) + list(TRUE[model]["g2"])
    z = [(g - w) / s if s else math.inf for g, w, s in zip(theta, true, se)]
    print("# %s recovery: estimates %s, standard errors %s, z %s"
          % (model, _fmt(theta), _fmt(se), _fmt(z)))
    tap.ok(info["converged"] and all(abs(v) < 3 for v in z),
           "%s with covariates: 20,000 simulated customers, every true value within 3 standard "
           "errors" % model, "z = %s" % _fmt(z))


def _fmt(values):
    return "[" + ", ".join("%.4g" % v for v in values) + "]"


def main():
    _pg.connect_or_exit(NAME)
    tap = _pg.Tap()
    for model in ("bgnbd", "paretonbd"):
        for check in (check_against_scipy, check_recovery):
            try:
                check(tap, model)
            except Exception as exc:  # noqa: BLE001 - reported as a failed check
                tap.error("%s: %s" % (model, check.__name__), exc)
    _pg.run("DROP TABLE IF EXISTS %s;\n" % TABLE)
    tap.done()
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
