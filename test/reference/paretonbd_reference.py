#!/usr/bin/python3
"""clv's Pareto/NBD fit and predictions, and the purchase-count distributions of
all three purchase models, on the CDNOW sample against independent numpy/scipy
computations.

- Pareto/NBD log-likelihood: Fader & Hardie's note (2005), per pattern, with
  A0 from scipy.special.hyp2f1 (clv sums its own series); maximised with
  scipy.optimize as in btyd_reference.py.
- P(alive) from the same formula; expected purchases by quadrature over the
  posterior of the death rate (given alive at T, lambda ~ Gamma(r+x, alpha+T)
  and mu ~ Gamma(s, beta+T); the expected purchases of a customer with rates
  lambda, mu over h are lambda/mu (1 - exp(-mu h))).
- P(X(t) = n) of a new customer and P(n in (T, T+t] | x, t_x, T): product
  Gauss rules over the rates (generalised Laguerre for gamma weights, shifted
  Jacobi for beta weights) of the count's definition given the rates -- a
  Poisson count cut short by an exponential lifetime (Pareto/NBD) or by a
  coin flip after each purchase (BG/NBD, MBG/NBD) -- with the alive and dead
  parts of the history's likelihood weighted separately.

Run by /usr/bin/python3.  Prints TAP lines.
"""

import math
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _pg  # noqa: E402
import btyd_reference as br  # noqa: E402 - shares the data loader and the optimiser

NAME = "paretonbd_reference"
TABLE = "clv_ref_pnbd_cbs"
MODELS = "clv_ref_pnbd_models"

PUBLISHED = (0.553, 10.578, 0.606, 11.669)   # Fader, Hardie & Lee 2005
PUBLISHED_LL = -9595.0
PARAMS = ("r", "alpha", "s", "beta")
HISTORIES = ((0.0, 0.0, 38.86), (2.0, 30.43, 38.86), (7.0, 10.0, 38.86), (25.0, 38.0, 38.86))
NODES = 160


def log_a0(theta, x, tx, t):
    """log A0 of the note, with the larger of alpha and beta."""
    import numpy as np
    from scipy.special import hyp2f1

    r, alpha, s, beta = theta
    a = r + s + x
    if alpha >= beta:
        m, b = alpha, s + 1
    else:
        m, b = beta, r + x
    d = abs(alpha - beta)
    l1 = np.log(hyp2f1(a, b, a + 1, d / (m + tx))) - a * np.log(m + tx)
    l2 = np.log(hyp2f1(a, b, a + 1, d / (m + t))) - a * np.log(m + t)
    with np.errstate(divide="ignore"):
        return l1 + np.log1p(-np.exp(l2 - l1))


def pareto_ll(theta, x, tx, t, count):
    import numpy as np
    from scipy.special import gammaln

    r, alpha, s, beta = theta
    t1 = -(r + x) * np.log(alpha + t) - s * np.log(beta + t)
    t2 = np.log(s) - np.log(r + s + x) + log_a0(theta, x, tx, t)
    hi = np.maximum(t1, t2)
    per = (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
           + hi + np.log(np.exp(t1 - hi) + np.exp(t2 - hi)))
    return float(np.sum(count * per))


def pareto_palive(theta, x, tx, t):
    r, alpha, s, beta = theta
    z = (math.log(s) - math.log(r + s + x) + (r + x) * math.log(alpha + t)
         + s * math.log(beta + t) + float(log_a0(theta, x, tx, t)))
    return 1.0 / (1.0 + math.exp(z))


def pareto_expected(theta, h, x, tx, t):
    """P(alive) (r+x)/(alpha+T) E[(1 - e^(-mu h))/mu], mu ~ Gamma(s, beta+T)."""
    from scipy.integrate import quad
    from scipy.stats import gamma as gamma_dist

    r, alpha, s, beta = theta
    if h == 0:
        return 0.0
    dens = gamma_dist(s, scale=1.0 / (beta + t)).pdf
    f = lambda mu: dens(mu) * (-math.expm1(-mu * h) / mu if mu > 0 else h)  # noqa: E731
    part, _ = quad(f, 0, math.inf, epsabs=0, epsrel=1e-12, limit=400)
    return pareto_palive(theta, x, tx, t) * (r + x) / (alpha + t) * part


def poisson(n, mean):
    import numpy as np
    from scipy.special import gammaln

    with np.errstate(divide="ignore"):
        return np.exp(n * np.log(mean) - mean - gammaln(n + 1.0)) if n > 0 else np.exp(-mean)


def laguerre(shape, rate):
    """Nodes and normalised weights for E[f(v)], v ~ Gamma(shape, rate)."""
    import numpy as np
    from scipy.special import roots_genlaguerre

    u, w = roots_genlaguerre(NODES, shape - 1)
    return u / rate, w / np.sum(w)


def jacobi(a, b):
    """Nodes and normalised weights for E[f(p)], p ~ Beta(a, b)."""
    import numpy as np
    from scipy.special import roots_sh_jacobi

    p, w = roots_sh_jacobi(NODES, a + b - 1, a)
    return p, w / np.sum(w)


def pareto_count_given_rates(n, lam, mu, t):
    """P(n purchases in t | lambda, mu, alive at the start): alive through t,
    or dead at tau < t, Poisson counts until then (Gauss-Legendre in tau)."""
    import numpy as np

    tau, w = np.polynomial.legendre.leggauss(64)
    tau = (tau + 1) * t / 2
    w = w * t / 2
    lam = lam[:, None, None]
    mu = mu[None, :, None]
    died = np.sum(w * mu * np.exp(-mu * tau) * poisson(n, lam * tau), axis=2)
    return np.exp(-mu[:, :, 0] * t) * poisson(n, lam[:, :, 0] * t) + died


def bg_count_given_rates(n, lam, p, t):
    """P(n purchases in t | lambda, p, alive): a coin flip after each purchase."""
    import numpy as np

    lam = lam[:, None]
    p = p[None, :]
    out = (1 - p) ** n * poisson(n, lam * t)
    if n > 0:
        fewer = sum(poisson(j, lam * t) for j in range(n))
        out = out + p * (1 - p) ** (n - 1) * (1 - fewer)
    return out


def pareto_count(theta, n, t, x=0.0, tx=0.0, T=0.0):
    """P(n in (T, T+t] | history): alive part over the rates' posterior given
    alive at T, plus the dead customers at n = 0."""
    import numpy as np

    r, alpha, s, beta = theta
    lam, wl = laguerre(r + x, alpha + T)
    mu, wm = laguerre(s, beta + T)
    alive_q = float(wl @ pareto_count_given_rates(n, lam, mu, t) @ wm)
    pa = pareto_palive(theta, x, tx, T) if T > 0 else 1.0
    return pa * alive_q + (1 - pa if n == 0 else 0.0)


def bg_count(theta, modified, n, t, x=0.0, tx=0.0, T=0.0):
    """The same for BG/NBD (modified=False) and MBG/NBD: the likelihood of the
    history splits into alive ((1-p)^(x+k) lambda^x e^(-lambda T)) and dead
    (p (1-p)^(x+k-1) lambda^x e^(-lambda t_x)) parts, k = 1 for MBG/NBD."""
    import numpy as np
    from scipy.special import betaln

    r, alpha, a, b = theta
    k = 1 if modified else 0
    if modified and T == 0:
        # a new MBG/NBD customer may drop out at the first purchase: weight p
        alive_w, dead_w = betaln(a, b + 1), betaln(a + 1, b)
        lam, wl = laguerre(r, alpha)
        p, wp = jacobi(a, b + 1)
    else:
        lam, wl = laguerre(r + x, alpha + T)
        p, wp = jacobi(a, b + x + k)
        alive_w = betaln(a, b + x + k) - (r + x) * math.log(alpha + T)
        dead_w = (betaln(a + 1, b + x + k - 1) - (r + x) * math.log(alpha + tx)
                  if (x > 0 or modified) else -math.inf)
    pa = 1.0 / (1.0 + math.exp(dead_w - alive_w)) if dead_w > -math.inf else 1.0
    alive_q = float(wl @ bg_count_given_rates(n, lam, p, t) @ wp)
    return pa * alive_q + (1 - pa if n == 0 else 0.0)


def main():
    tap = _pg.Tap()
    try:
        import numpy as np
        cust, x, tx, t, m = br.load_cbs()
    except Exception as exc:   # noqa: BLE001
        print("# %s: cannot load numpy/scipy or the CDNOW data: %s" % (NAME, exc), file=sys.stderr)
        return 2
    _pg.connect_or_exit(NAME)
    n = len(x)
    try:
        _pg.load_table(TABLE, "cust int, x float8, t_x float8, t_cal float8",
                       [(int(cust[i]), float(x[i]), float(tx[i]), float(t[i])) for i in range(n)])
        _pg.run("DROP TABLE IF EXISTS %s;\nCREATE TABLE %s AS\n"
                "SELECT clv_paretonbd_fit(x, t_x, t_cal) AS pn, clv_bgnbd_fit(x, t_x, t_cal) AS bg,\n"
                "       clv_mbgnbd_fit(x, t_x, t_cal) AS mbg FROM %s;\n" % (MODELS, MODELS, TABLE))
        infos = {k: _pg.jsonb("SELECT clv_model_info(%s) FROM %s" % (k, MODELS)) for k in ("pn", "bg", "mbg")}
    except Exception as exc:   # noqa: BLE001
        tap.error("load the data and fit the models", exc)
        tap.done()
        return 0

    # ---- the Pareto/NBD fit ---------------------------------------------------
    pats, counts = np.unique(np.stack([x, tx, t], axis=1), axis=0, return_counts=True)
    px, ptx, pt = pats[:, 0], pats[:, 1], pats[:, 2]
    ll = lambda th: pareto_ll(th, px, ptx, pt, counts)  # noqa: E731
    theta = None
    try:
        info = infos["pn"]
        got = [float(info["params"][k]) for k in PARAMS]
        theta, ref_ll = br.maximise(ll, (1.0, 10.0, 1.0, 10.0), n)
        tap.ok(info.get("converged") is True, "Pareto/NBD: converged")
        tap.close(got, list(theta), br.TOL_PARAMS, "Pareto/NBD parameters vs scipy's maximum")
        diff = abs(float(info["log_likelihood"]) - ref_ll)
        tap.ok(diff <= br.TOL_LL, "Pareto/NBD log-likelihood %.4f vs scipy's %.4f (|diff| %.3g)"
               % (float(info["log_likelihood"]), ref_ll, diff))
        tap.close([float(info["log_likelihood"])], [ll(np.array(got))], br.TOL_LL_SAME,
                  "Pareto/NBD log-likelihood at clv's parameters, hyp2f1 formula")
        tap.close([float(info["std_errors"][k]) for k in PARAMS], list(br.hessian_se(ll, theta)),
                  br.TOL_SE, "Pareto/NBD standard errors vs a finite-difference Hessian")
        tap.ok(all(round(g, 3) == p for g, p in zip(got, PUBLISHED))
               and round(float(info["log_likelihood"]), 1) == PUBLISHED_LL,
               "Pareto/NBD: the published CDNOW estimates %s, LL %.1f" % (PUBLISHED, PUBLISHED_LL))
        theta = got
    except Exception as exc:   # noqa: BLE001
        tap.error("Pareto/NBD fit", exc)

    # ---- Pareto/NBD predictions ----------------------------------------------
    if theta is not None:
        grid = br.grid_customers() + [c for c in br.EDGE_CUSTOMERS if c[2] > 0]
        try:
            sql = ("SELECT clv_palive(pn, c.x, c.tx, c.t) FROM %s, (VALUES %s) c(x, tx, t, ord) ORDER BY c.ord"
                   % (MODELS, ", ".join("(%r::float8, %r::float8, %r::float8, %d)" % (a, b, c, i)
                                        for i, (a, b, c) in enumerate(grid))))
            got = [float(r[0]) for r in _pg.rows(sql)]
            tap.close(got, [pareto_palive(theta, *c) for c in grid], br.TOL_PALIVE,
                      "Pareto/NBD P(alive) on %d customers vs the note's formula (hyp2f1)" % len(grid))
            want, have = [], []
            for h in br.HORIZONS:
                for (a, b, c) in grid[::3]:
                    want.append(pareto_expected(theta, h, a, b, c))
                    have.append((h, a, b, c))
            sql = ("SELECT clv_expected_purchases(pn, c.h, c.x, c.tx, c.t) FROM %s, (VALUES %s) c(h, x, tx, t, ord) "
                   "ORDER BY c.ord" % (MODELS, ", ".join("(%r::float8, %r::float8, %r::float8, %r::float8, %d)"
                                                          % (h, a, b, c, i) for i, (h, a, b, c) in enumerate(have))))
            got = [float(r[0]) for r in _pg.rows(sql)]
            tap.close(got, want, br.TOL_PURCHASES,
                      "Pareto/NBD expected purchases (%d customer-horizons) vs quadrature over the death rate"
                      % len(want))
        except Exception as exc:   # noqa: BLE001
            tap.error("Pareto/NBD predictions", exc)

    # ---- purchase-count distributions -----------------------------------------
    models = {"pn": ("Pareto/NBD", lambda th, k, h, *hist: pareto_count(th, k, h, *hist)),
              "bg": ("BG/NBD", lambda th, k, h, *hist: bg_count(th, False, k, h, *hist)),
              "mbg": ("MBG/NBD", lambda th, k, h, *hist: bg_count(th, True, k, h, *hist))}
    names = {"pn": PARAMS, "bg": br.PURCHASE_PARAMS, "mbg": br.PURCHASE_PARAMS}
    for key, (label, count) in models.items():
        th = [float(infos[key]["params"][k]) for k in names[key]]
        try:
            cases = [(h, k) for h in (1.0, 39.0, 52.0) for k in range(0, 11)]
            sql = ("SELECT clv_probability_of_purchases(%s, c.h, c.n) FROM %s, (VALUES %s) c(h, n, ord) ORDER BY c.ord"
                   % (key, MODELS, ", ".join("(%r::float8, %d, %d)" % (h, k, i) for i, (h, k) in enumerate(cases))))
            got = [float(r[0]) for r in _pg.rows(sql)]
            want = [count(th, k, h) for h, k in cases]
            tap.close(got, want, 1e-6, "%s P(X(t)=n), new customer, t in 1, 39, 52, n 0..10, vs Gauss rules over "
                      "the rates" % label, floor=1e-9)
            cases = [(hist, k) for hist in HISTORIES for k in range(0, 9)]
            sql = ("SELECT clv_probability_of_purchases(%s, 52, c.n, c.x, c.tx, c.t) FROM %s, (VALUES %s) "
                   "c(x, tx, t, n, ord) ORDER BY c.ord"
                   % (key, MODELS, ", ".join("(%r::float8, %r::float8, %r::float8, %d, %d)" % (a, b, c, k, i)
                                             for i, ((a, b, c), k) in enumerate(cases))))
            got = [float(r[0]) for r in _pg.rows(sql)]
            want = [count(th, k, 52.0, *hist) for hist, k in cases]
            tap.close(got, want, 1e-6, "%s P(n in the next 52 weeks | history), %d histories, n 0..8, vs "
                      "Gauss rules over the posterior" % (label, len(HISTORIES)), floor=1e-9)
        except Exception as exc:   # noqa: BLE001
            tap.error("%s purchase-count distribution" % label, exc)

    try:
        _pg.run("DROP TABLE IF EXISTS %s, %s;" % (TABLE, MODELS))
    except Exception:   # noqa: BLE001 - cleaning up is best effort
        pass
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
