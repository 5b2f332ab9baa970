#!/usr/bin/python3
"""clv's BG/NBD, MBG/NBD and Gamma-Gamma fits and predictions on the CDNOW
sample against an independent numpy/scipy implementation.

The log-likelihoods are written from the published formulas, per customer
(no pattern compaction), with Beta functions rather than clv's gamma-function
pieces: BG/NBD from Fader, Hardie & Lee (2005, eq. 6), MBG/NBD as lifetimes'
ModifiedBetaGeoFitter (Batislam, Denizel & Filiztekin 2007), Gamma-Gamma
from Fader & Hardie (2013).  They are maximised with scipy.optimize
(Nelder-Mead, then BFGS, on log-parameters).  Standard errors come from a
finite-difference Hessian in the natural parameters.  Expected purchases are
computed twice: by numerical integration over the model's definition (the
posterior over the dropout probability p, with lambda integrated out), and
by the published closed form with scipy.special.hyp2f1; clv is compared to
the integral.

Run by /usr/bin/python3 (Debian's numpy and scipy).  Prints TAP lines;
exits 0 after printing whatever the results, non-zero only when the check
cannot run at all.
"""

import math
import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _cdnow  # noqa: E402
import _pg  # noqa: E402

NAME = "btyd_reference"
TABLE = "clv_ref_btyd_cbs"
MODELS = "clv_ref_btyd_models"
GRID = "clv_ref_btyd_grid"

TOL_PARAMS = 1e-3       # parameters, relative (3 significant digits)
TOL_LL = 0.01           # log-likelihood, absolute
TOL_LL_SAME = 1e-9      # log-likelihood at the same parameters, relative
TOL_SE = 2e-2           # standard errors, relative
TOL_PURCHASES = 1e-6    # expected purchases, relative
TOL_PALIVE = 1e-9       # P(alive), relative
TOL_SPEND = 1e-9        # expected spend, relative

HORIZONS = (1.0, 10.0, 39.0, 52.0, 100.0)
PURCHASE_PARAMS = ("r", "alpha", "a", "b")
SPEND_PARAMS = ("p", "q", "gamma")


def load_cbs():
    """BTYD's cdnowSummary$cbs: x, t_x, T_cal (weeks), m_x, one row per customer,
    computed from the bundled transactions by _cdnow."""
    import numpy as np

    data = [(c, x, tx, t, m) for c, x, tx, t, _x_star, m in _cdnow.load_cbs()]
    cust, x, tx, t, m = (np.array(c, dtype=float) for c in zip(*data))
    return cust.astype(int), x, tx, t, m


# ---- log-likelihoods from the published formulas ---------------------------

def bgnbd_ll(theta, x, tx, t):
    """FHL 2005 eq. 6: L = B(a, b+x)/B(a, b) * G(r+x) a^r / (G(r) (alpha+T)^(r+x))
    + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) a^r / (G(r) (alpha+t_x)^(r+x))."""
    import numpy as np
    from scipy.special import betaln, gammaln

    r, alpha, a, b = theta
    nbd = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + t)
    # the second term exists only for repeat buyers; b + x - 1 > 0 there
    xs = np.where(x > 0, x, 1.0)
    dead = np.where(x > 0, betaln(a + 1, b + xs - 1) - betaln(a, b) - (r + x) * np.log(alpha + tx),
                    -np.inf)
    return float(np.sum(nbd + np.logaddexp(alive, dead)))


def mbgnbd_ll(theta, x, tx, t):
    """Batislam et al. 2007 as lifetimes' ModifiedBetaGeoFitter: dropout is
    possible at time 0 as well, so both terms are present for every customer:
    L = B(a, b+x+1)/B(a, b) * NBD(alpha+T) + B(a+1, b+x)/B(a, b) * NBD(alpha+t_x)."""
    import numpy as np
    from scipy.special import betaln, gammaln

    r, alpha, a, b = theta
    nbd = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x + 1) - betaln(a, b) - (r + x) * np.log(alpha + t)
    dead = betaln(a + 1, b + x) - betaln(a, b) - (r + x) * np.log(alpha + tx)
    return float(np.sum(nbd + np.logaddexp(alive, dead)))


def gammagamma_ll(theta, x, m):
    """Fader & Hardie 2013: the mean m of x spends, each Gamma(p, nu), with
    nu ~ Gamma(q, gamma), has density
    G(px+q)/(G(px) G(q)) * gamma^q * m^(px-1) * x^(px) / (gamma + m x)^(px+q).
    Customers without repeat purchases carry no spend information."""
    import numpy as np
    from scipy.special import gammaln

    p, q, gamma = theta
    keep = x > 0
    x, m = x[keep], m[keep]
    px = p * x
    return float(np.sum(gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma)
                        + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(gamma + m * x)))


def maximise(ll, start, n):
    """Maximise ll over positive parameters: Nelder-Mead then BFGS on logs."""
    import numpy as np
    from scipy.optimize import minimize

    def objective(z):
        theta = np.exp(z)
        if not np.all(np.isfinite(theta)):
            return np.inf
        value = -ll(theta) / n
        return value if math.isfinite(value) else np.inf

    z = np.log(np.asarray(start, dtype=float))
    res = minimize(objective, z, method="Nelder-Mead",
                   options={"xatol": 1e-11, "fatol": 1e-14, "maxiter": 40000, "maxfev": 80000,
                            "adaptive": True})
    z = res.x
    res2 = minimize(objective, z, method="BFGS", jac="3-point", options={"gtol": 1e-11, "maxiter": 2000})
    if res2.fun <= res.fun:
        z = res2.x
    theta = np.exp(z)
    return theta, ll(theta)


def hessian_se(ll, theta, rel_step=1e-3):
    """sqrt(diag(inv(H))) of -ll in the natural parameters; H by central
    second differences with steps relative to each parameter."""
    import numpy as np

    k = len(theta)
    h = rel_step * np.asarray(theta)
    hess = np.zeros((k, k))
    f0 = ll(theta)
    for i in range(k):
        for j in range(i, k):
            if i == j:
                up = np.array(theta, dtype=float)
                down = np.array(theta, dtype=float)
                up[i] += h[i]
                down[i] -= h[i]
                hess[i, i] = -(ll(up) - 2 * f0 + ll(down)) / h[i] ** 2
            else:
                vals = []
                for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                    v = np.array(theta, dtype=float)
                    v[i] += si * h[i]
                    v[j] += sj * h[j]
                    vals.append(ll(v))
                hess[i, j] = hess[j, i] = -(vals[0] - vals[1] - vals[2] + vals[3]) / (4 * h[i] * h[j])
    return np.sqrt(np.diag(np.linalg.inv(hess)))


# ---- predictions ---------------------------------------------------------------

def palive_formula(modified, theta, x, tx, t):
    """FHL 2005 eq. 11 (BG/NBD; 1 for x = 0) and its MBG/NBD analogue
    1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))."""
    r, alpha, a, b = theta
    if not modified and x == 0:
        return 1.0
    odds = a / (b + x - 1 + (1 if modified else 0)) * ((alpha + t) / (alpha + tx)) ** (r + x)
    return 1.0 / (1.0 + odds)


def expected_integral(modified, theta, h, x, tx, t):
    """E[purchases in (T, T+h] | x, t_x, T] from the model's definition.

    Given lambda and p and alive at T, the expected purchases in the next h
    are (1 - exp(-lambda p h)) / p.  The joint likelihood of (lambda, p) is
    (1-p)^(x+k) lambda^x e^(-lambda T) alive (k = 1 for MBG/NBD) plus the
    dropped-out term.  Integrating lambda against its gamma(r, alpha) prior in
    closed form leaves one integral over p with the beta(a, b) weight, done
    by QUADPACK's QAWS for the algebraic end-point behaviour.
    """
    from scipy.integrate import quad
    from scipy.special import betaln

    r, alpha, a, b = theta
    k = 1 if modified else 0
    if h == 0:
        return 0.0
    c = h / (alpha + t)

    def g(p):
        # (1 - (1 + p h/(alpha+T))^-(r+x)) / p, without cancellation
        if p == 0:
            return (r + x) * c
        return -math.expm1(-(r + x) * math.log1p(p * c)) / p

    integral, _ = quad(g, 0.0, 1.0, weight="alg", wvar=(a - 1, b + x + k - 1),
                       epsabs=0.0, epsrel=1e-13, limit=200)
    # alive term of the likelihood over B(a, b) and the NBD factor
    alive = betaln(a, b + x + k)
    if x > 0 or modified:
        dead = betaln(a + 1, b + x - 1 + k) + (r + x) * (math.log(alpha + t) - math.log(alpha + tx))
        log_denominator = max(alive, dead) + math.log1p(math.exp(-abs(alive - dead)))
    else:
        log_denominator = alive
    if integral <= 0:
        return 0.0
    return math.exp(math.log(integral) - log_denominator)


def expected_closed_form(modified, theta, h, x, tx, t):
    """FHL 2005 eq. 10 (and lifetimes' MBG/NBD version) with scipy's 2F1."""
    from scipy.special import hyp2f1

    r, alpha, a, b = theta
    k = 1 if modified else 0
    z = h / (alpha + t + h)
    hyp = hyp2f1(r + x, b + x + k, a + b + x - 1 + k, z)
    head = (a + b + x - 1 + k) / (a - 1)
    return head * (1 - ((alpha + t) / (alpha + t + h)) ** (r + x) * hyp) * palive_formula(modified, theta, x, tx, t)


def spend_formula(theta, x, m):
    """FH 2013: a weighted mean of the population mean p gamma/(q-1) and m."""
    p, q, gamma = theta
    w = (q - 1) / (p * x + q - 1)
    return w * p * gamma / (q - 1) + (1 - w) * m


def grid_customers():
    """A grid of customers: x in 0..10, several t_x and T; edge cases last."""
    out = []
    for t in (10.0, 38.86, 60.0):
        out.append((0.0, 0.0, t))
        for x in range(1, 11):
            for tx in (1.0, round(t / 2, 2), t):
                out.append((float(x), tx, t))
    return out


EDGE_CUSTOMERS = [(300.0, 50.0, 50.0), (50.0, 20.0, 60.0), (0.0, 0.0, 0.0), (25.0, 38.0, 38.86)]


def params_of(info, names):
    return [float(info["params"][n]) for n in names]


def main():
    tap = _pg.Tap()
    try:
        import numpy as np
        cust, x, tx, t, m = load_cbs()
    except Exception as exc:   # noqa: BLE001 - anything here means we cannot run
        print("# %s: cannot load numpy/scipy or the CDNOW data: %s" % (NAME, exc), file=sys.stderr)
        return 2
    _pg.connect_or_exit(NAME)

    n = len(x)
    tap.ok(n == 2357 and int(x.sum()) == 2457 and int((x > 0).sum()) == 946,
           "CDNOW cbs: 2357 customers, 2457 repeat purchases, 946 repeat buyers",
           "n %d, sum x %d, repeat buyers %d" % (n, int(x.sum()), int((x > 0).sum())))
    try:
        _pg.load_table(TABLE, "cust int, x float8, t_x float8, t_cal float8, m_x float8",
                       [(int(cust[i]), float(x[i]), float(tx[i]), float(t[i]), float(m[i]))
                        for i in range(n)])
        _pg.run("DROP TABLE IF EXISTS %s;\nCREATE TABLE %s AS\n"
                "SELECT clv_bgnbd_fit(x, t_x, t_cal) AS bg, clv_mbgnbd_fit(x, t_x, t_cal) AS mbg,\n"
                "       clv_gammagamma_fit(x, m_x) AS gg FROM %s;\n" % (MODELS, MODELS, TABLE))
        infos = {k: _pg.jsonb("SELECT clv_model_info(%s) FROM %s" % (k, MODELS)) for k in ("bg", "mbg", "gg")}
    except Exception as exc:   # noqa: BLE001
        tap.error("load the data and fit the models", exc)
        tap.done()
        return 0

    # ---- fits: parameters, log-likelihood, standard errors -------------------
    fits = {
        "bg": ("BG/NBD", "bgnbd", lambda th: bgnbd_ll(th, x, tx, t), PURCHASE_PARAMS, n,
               (0.5, 5.0, 0.5, 2.0)),
        "mbg": ("MBG/NBD", "mbgnbd", lambda th: mbgnbd_ll(th, x, tx, t), PURCHASE_PARAMS, n,
                (0.5, 5.0, 0.5, 2.0)),
        "gg": ("Gamma-Gamma", "gammagamma", lambda th: gammagamma_ll(th, x, m), SPEND_PARAMS,
               int((x > 0).sum()), (1.0, 2.0, 30.0)),
    }
    scipy_theta = {}
    for key, (label, kind, ll, names, count, start) in fits.items():
        info = infos[key]
        try:
            got = params_of(info, names)
            theta, ref_ll = maximise(ll, start, count)
            scipy_theta[key] = theta
            tap.ok(info.get("kind") == kind and info.get("converged") is True
                   and info.get("n_customers") == n,
                   "%s: kind %s, converged, %d customers" % (label, kind, n),
                   "kind %s, converged %s, n_customers %s"
                   % (info.get("kind"), info.get("converged"), info.get("n_customers")))
            tap.close(got, list(theta), TOL_PARAMS,
                      "%s parameters vs scipy.optimize on the published likelihood" % label)
            print("# %s: clv %s; scipy %s" % (label, _fmt_params(names, got), _fmt_params(names, theta)))
            diff = abs(float(info["log_likelihood"]) - ref_ll)
            tap.measured.append(("%s log-likelihood, absolute" % label, diff))
            tap.ok(diff <= TOL_LL, "%s log-likelihood %.4f vs scipy's maximum %.4f (|diff| %.3g, tolerance %g)"
                   % (label, float(info["log_likelihood"]), ref_ll, diff, TOL_LL))
            # the same likelihood at clv's own parameters: a check of the formula itself
            tap.close([float(info["log_likelihood"])], [ll(np.array(got))], TOL_LL_SAME,
                      "%s log-likelihood at clv's parameters vs the published formula" % label)
            tap.close([float(info["std_errors"][nm]) for nm in names], list(hessian_se(ll, theta)), TOL_SE,
                      "%s standard errors vs sqrt(diag(inv(finite-difference Hessian)))" % label)
        except Exception as exc:   # noqa: BLE001
            tap.error("%s fit" % label, exc)

    # ---- the "start" option: any reasonable start reaches the same maximum --
    # b = 1 exactly is an ordinary point of the BG/NBD likelihood (the
    # dropout term a/(b+x-1) is absent for x = 0), so starting there must work
    for start in ((0.5, 4.0, 0.5, 1.0), (0.5, 4.0, 0.5, 3.0)):
        try:
            info = _pg.jsonb("SELECT clv_model_info(clv_bgnbd_fit(x, t_x, t_cal, '{\"start\": [%s]}')) FROM %s"
                             % (", ".join(repr(v) for v in start), TABLE))
            tap.ok(info.get("converged") is True, "BG/NBD from start %s: converged" % (start,),
                   "converged %s after %s iterations, params %s"
                   % (info.get("converged"), info.get("iterations"), info.get("params")))
            tap.close(params_of(info, PURCHASE_PARAMS), list(scipy_theta["bg"]), TOL_PARAMS,
                      "BG/NBD from start %s: parameters vs scipy" % (start,))
        except Exception as exc:   # noqa: BLE001
            tap.error("BG/NBD from start %s" % (start,), exc)

    # ---- predictions for a grid of customers ---------------------------------
    customers = grid_customers()
    try:
        _pg.load_table(GRID, "id int, x float8, t_x float8, t_cal float8",
                       [(i, c[0], c[1], c[2]) for i, c in enumerate(customers + EDGE_CUSTOMERS)])
    except Exception as exc:   # noqa: BLE001
        tap.error("load the customer grid", exc)
        tap.done()
        return 0
    n_grid = len(customers)
    for key, label, modified in (("bg", "BG/NBD", False), ("mbg", "MBG/NBD", True)):
        theta = params_of(infos[key], PURCHASE_PARAMS)
        try:
            got = _pg.rows("SELECT g.id, h, clv_expected_purchases(%s, h, g.x, g.t_x, g.t_cal)\n"
                           "FROM %s g, %s, unnest('{%s}'::float8[]) h ORDER BY g.id, h"
                           % (key, GRID, MODELS, ",".join(repr(v) for v in HORIZONS)))
            rows = [(int(r[0]), float(r[1]), float(r[2])) for r in got]
            tap.ok(len(rows) == len(HORIZONS) * (n_grid + len(EDGE_CUSTOMERS)),
                   "%s expected purchases: one value per customer and horizon" % label)
            grid = [r for r in rows if r[0] < n_grid]
            edge = [r for r in rows if r[0] >= n_grid]
            everyone = customers + EDGE_CUSTOMERS
            integral = [expected_integral(modified, theta, h, *everyone[i]) for i, h, _ in grid]
            closed = [expected_closed_form(modified, theta, h, *everyone[i]) for i, h, _ in grid]
            tap.close(closed, integral, 1e-9,
                      "%s: the closed form with scipy hyp2f1 agrees with the integral (sanity of the reference)"
                      % label)
            tap.close([g for _, _, g in grid], integral, TOL_PURCHASES,
                      "%s expected purchases, %d customers x horizons 1..100, vs integral over the model"
                      % (label, n_grid))
            tap.close([g for _, _, g in edge],
                      [expected_integral(modified, theta, h, *everyone[i]) for i, h, _ in edge],
                      TOL_PURCHASES,
                      "%s expected purchases, edge customers (x = 300, x = 50, T = 0), vs integral" % label)
            # the FHL worked example, BG/NBD only: 1.226 over 39 weeks
            if key == "bg":
                fhl = float(_pg.value("SELECT clv_expected_purchases(bg, 39, 2, 30.43, 38.86) FROM %s" % MODELS))
                tap.ok(round(fhl, 3) == 1.226, "BG/NBD: FHL 2005 worked example, 1.226 purchases in 39 weeks",
                       "got %r" % fhl)
        except Exception as exc:   # noqa: BLE001
            tap.error("%s expected purchases" % label, exc)
        try:
            got = _pg.rows("SELECT g.id, clv_palive(%s, g.x, g.t_x, g.t_cal) FROM %s g, %s ORDER BY g.id"
                           % (key, GRID, MODELS))
            everyone = customers + EDGE_CUSTOMERS
            tap.close([float(r[1]) for r in got],
                      [palive_formula(modified, theta, *everyone[int(r[0])]) for r in got], TOL_PALIVE,
                      "%s P(alive), %d customers, vs the published formula" % (label, len(got)))
            got = _pg.rows("SELECT clv_palive(%s, x, t_x, t_cal) FROM %s, %s ORDER BY cust"
                           % (key, TABLE, MODELS))
            tap.close([float(r[0]) for r in got],
                      [palive_formula(modified, theta, x[i], tx[i], t[i]) for i in range(n)], TOL_PALIVE,
                      "%s P(alive), all %d CDNOW customers, vs the published formula" % (label, n))
        except Exception as exc:   # noqa: BLE001
            tap.error("%s P(alive)" % label, exc)

    # ---- tracking plot: the cohort's cumulative expected repeat purchases ------
    # customer i was acquired at week 39 - T_i; by the end of week w they have had
    # max(w - acquired, 0) weeks, and a new customer's expectation is the
    # integral with x = t_x = T = 0.  Weeks 1, 13, 26, 39, 52, 78.
    weeks = (1, 13, 26, 39, 52, 78)
    acquired = 39.0 - t
    for key, label, modified in (("bg", "BG/NBD", False), ("mbg", "MBG/NBD", True)):
        try:
            theta = params_of(infos[key], PURCHASE_PARAMS)
            curve = [float(v) for v in _pg.value(
                "SELECT array_to_string(clv_cumulative_expected_purchases(%s, 39 - t_cal, 78), ',')"
                " FROM %s, %s GROUP BY %s" % (key, TABLE, MODELS, key)).split(",")]
            ages, counts = np.unique(acquired, return_counts=True)
            want = []
            for w in weeks:
                want.append(sum(c * expected_integral(modified, theta, w - b, 0.0, 0.0, 0.0)
                                for b, c in zip(ages, counts) if w > b))
            tap.close([curve[w - 1] for w in weeks], want, TOL_PURCHASES,
                      "%s tracking curve (clv_cumulative_expected_purchases), CDNOW cohort, weeks %s,"
                      " vs integrals over the model" % (label, ", ".join(str(w) for w in weeks)))
        except Exception as exc:   # noqa: BLE001
            tap.error("%s tracking curve" % label, exc)

    # ---- expected spend --------------------------------------------------------
    try:
        theta = params_of(infos["gg"], SPEND_PARAMS)
        got = _pg.rows("SELECT clv_expected_spend(gg, x, m_x) FROM %s, %s ORDER BY cust" % (TABLE, MODELS))
        tap.close([float(r[0]) for r in got], [spend_formula(theta, x[i], m[i]) for i in range(n)], TOL_SPEND,
                  "Gamma-Gamma expected spend, all %d CDNOW customers, vs FH 2013" % n)
        pop = float(_pg.value("SELECT clv_expected_spend(gg, 0, 0) FROM %s" % MODELS))
        tap.close([pop], [theta[0] * theta[2] / (theta[1] - 1)], TOL_SPEND,
                  "Gamma-Gamma expected spend for x = 0 is the population mean p gamma/(q-1)")
    except Exception as exc:   # noqa: BLE001
        tap.error("expected spend", exc)

    try:
        _pg.run("DROP TABLE IF EXISTS %s, %s, %s;\n" % (TABLE, MODELS, GRID))
    except Exception as exc:   # noqa: BLE001
        print("# cleanup failed: %s" % exc)
    tap.done()
    return 0


def _fmt_params(names, values):
    return ", ".join("%s=%.9g" % (k, float(v)) for k, v in zip(names, values))


if __name__ == "__main__":
    sys.exit(main())
