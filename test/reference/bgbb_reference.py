#!/usr/bin/python3
"""clv's BG/BB fit and predictions against formulas written from Fader, Hardie
& Shang (2010), "Customer-Base Analysis in a Discrete-Time Noncontractual
Setting", Marketing Science 29(6), evaluated in mpmath at 40 digits.

- the log-likelihood (eq. 5): the beta-function ratios summed term by term;
  its maximum by scipy.optimize on the same sum in doubles (scipy's betaln);
- P(alive at n+1) (eq. 11) and E[X(n, n+n*)] (eq. 13, its gamma-function
  closed form, which clv does not use);
- P(X(n) = x) of a new customer (eq. 7), summed term by term;
- P(X(n, n+n*) = x* | x, t_x, n) as P(alive at n | history) times a new
  customer's probability with the posterior parameters (alpha+x, beta+n-x,
  gamma, delta+n), plus the dead customers' zero (clv conditions on being
  alive at n+1 instead);
- DERT (eq. 14) with mpmath's 2F1 (clv sums its own series).

Customers: the donation data's 22 patterns, and histories of n = 1000
opportunities up to heavy buyers (x = n); parameters: the donation fit, a
second fit on a simulated count table with gamma > 1, and models built by
clv_model_from_params at extreme parameters (all 0.001; hundreds to
thousands; beta 0.01).  Every prediction within 1e-10 relative.

Run by /usr/bin/python3.  Prints TAP lines.
"""

import os
import random
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _pg  # noqa: E402

NAME = "bgbb_reference"
TABLE = "clv_ref_bgbb_counts"
MODELS = "clv_ref_bgbb_models"
PARAMS = ("alpha", "beta", "gamma", "delta")
TOL = 1e-10

# Fader, Hardie & Shang (2010), the 1995 cohort of donors over 1996-2001
# (x, t_x, n, donors); the BTYD R package's donationsSummary$rf.matrix.
DONATIONS = [
    (6, 6, 6, 1203), (5, 6, 6, 728), (4, 6, 6, 512), (3, 6, 6, 357), (2, 6, 6, 234),
    (1, 6, 6, 129), (5, 5, 6, 335), (4, 5, 6, 284), (3, 5, 6, 225), (2, 5, 6, 173),
    (1, 5, 6, 119), (4, 4, 6, 240), (3, 4, 6, 181), (2, 4, 6, 155), (1, 4, 6, 78),
    (3, 3, 6, 322), (2, 3, 6, 255), (1, 3, 6, 129), (2, 2, 6, 613), (1, 2, 6, 277),
    (1, 1, 6, 1091), (0, 0, 6, 3464)]
PUBLISHED = (1.204, 0.750, 0.657, 2.783)

# parameters far from the fits: tiny, large, and a purchase probability near 1
EXTREME = {"tiny": (0.001, 0.001, 0.001, 0.001), "large": (1000.0, 500.0, 50.0, 1000.0),
           "skewed": (5.0, 0.01, 1.5, 3.0)}

# long histories: (x, t_x, n) with n = 1000, up to a purchase at every opportunity
LONG = [(0, 0, 1000), (1, 1, 1000), (1, 1000, 1000), (10, 990, 1000), (500, 700, 1000),
        (500, 1000, 1000), (999, 1000, 1000), (1000, 1000, 1000), (3, 20, 20), (0, 0, 1)]


def mp():
    import mpmath
    mpmath.mp.dps = 40
    return mpmath


def lb(a, b):
    m = mp()
    return m.log(m.beta(a, b))


def likelihood(th, x, tx, n):
    """eq. 5: alive through n, or dead after opportunity t_x + i."""
    m = mp()
    a, b, g, d = [m.mpf(v) for v in th]
    total = m.exp(lb(a + x, b + n - x) - lb(a, b) + lb(g, d + n) - lb(g, d))
    for i in range(int(n - tx)):
        total += m.exp(lb(a + x, b + tx - x + i) - lb(a, b) + lb(g + 1, d + tx + i) - lb(g, d))
    return total


def log_likelihood(th, patterns):
    m = mp()
    return sum(c * m.log(likelihood(th, x, tx, n)) for x, tx, n, c in patterns)


def float_log_likelihood(th, patterns):
    """eq. 5 in doubles (scipy's betaln), for the optimiser."""
    import numpy as np
    from scipy.special import betaln
    a, b, g, d = th
    total = 0.0
    for x, tx, n, c in patterns:
        terms = [betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n) - betaln(g, d)]
        terms += [betaln(a + x, b + tx - x + i) - betaln(a, b) + betaln(g + 1, d + tx + i) - betaln(g, d)
                  for i in range(int(n - tx))]
        total += c * np.logaddexp.reduce(terms)
    return total


def palive(th, x, tx, n):
    """eq. 11: P(alive at n+1 | x, t_x, n)."""
    m = mp()
    a, b, g, d = [m.mpf(v) for v in th]
    return m.exp(lb(a + x, b + n - x) - lb(a, b) + lb(g, d + n + 1) - lb(g, d)) / likelihood(th, x, tx, n)


def expected(th, ns, x, tx, n):
    """eq. 13: E[X(n, n+n*) | x, t_x, n] in its gamma-function form."""
    m = mp()
    a, b, g, d = [m.mpf(v) for v in th]
    front = m.exp(lb(a + x + 1, b + n - x) - lb(a, b)) / likelihood(th, x, tx, n)
    bracket = (m.exp(m.loggamma(1 + d + n) - m.loggamma(g + d + n))
               - m.exp(m.loggamma(1 + d + n + ns) - m.loggamma(g + d + n + ns)))
    return front * d / (g - 1) * m.exp(m.loggamma(g + d) - m.loggamma(1 + d)) * bracket


def new_pmf(th, n, k):
    """eq. 7: P(X(n) = k) for a new customer."""
    m = mp()
    a, b, g, d = [m.mpf(v) for v in th]
    if k > n:
        return m.mpf(0)
    p = m.binomial(n, k) * m.exp(lb(a + k, b + n - k) - lb(a, b) + lb(g, d + n) - lb(g, d))
    for i in range(k, n):
        p += m.binomial(i, k) * m.exp(lb(a + k, b + i - k) - lb(a, b) + lb(g + 1, d + i) - lb(g, d))
    return p


def conditional_pmf(th, ns, k, x, tx, n):
    """P(X(n, n+n*) = k | x, t_x, n): alive at n (the first term of eq. 5
    over the likelihood), then a new customer with the posterior parameters."""
    m = mp()
    a, b, g, d = [m.mpf(v) for v in th]
    alive_n = m.exp(lb(a + x, b + n - x) - lb(a, b) + lb(g, d + n) - lb(g, d)) / likelihood(th, x, tx, n)
    p = alive_n * new_pmf((a + x, b + n - x, g, d + n), ns, k)
    return p + (1 - alive_n if k == 0 else 0)


def dert(th, rate, x, tx, n):
    """eq. 14, with mpmath's Gauss hypergeometric function."""
    m = mp()
    a, b, g, d = [m.mpf(v) for v in th]
    r = m.mpf(rate)
    head = m.exp(lb(a + x + 1, b + n - x) - lb(a, b) + lb(g, d + n + 1) - lb(g, d)) / (1 + r)
    return head * m.hyp2f1(1, d + n + 1, g + d + n + 1, 1 / (1 + r)) / likelihood(th, x, tx, n)


def simulated_counts(th, customers, n, seed):
    """A count table of customers simulated from the model (Python's random)."""
    rng = random.Random(seed)
    counts = {}
    for _ in range(customers):
        p = rng.betavariate(th[0], th[1])
        theta = rng.betavariate(th[2], th[3])
        x = tx = 0
        for t in range(1, n + 1):
            if rng.random() < theta:
                break
            if rng.random() < p:
                x, tx = x + 1, t
        counts[(x, tx)] = counts.get((x, tx), 0) + 1
    return [(x, tx, n, c) for (x, tx), c in sorted(counts.items())]


def values(sql):
    return [float(r[0]) for r in _pg.rows(sql)]


def main():
    tap = _pg.Tap()
    try:
        mp()
        from scipy.optimize import minimize
    except Exception as exc:   # noqa: BLE001
        print("# %s: cannot load mpmath/scipy: %s" % (NAME, exc), file=sys.stderr)
        return 2
    _pg.connect_or_exit(NAME)
    simulated = simulated_counts((2.0, 5.0, 3.0, 12.0), 4000, 20, 2010)
    try:
        _pg.load_table(TABLE, "data text, x float8, t_x float8, n float8, customers float8",
                       [("donations",) + tuple(float(v) for v in r) for r in DONATIONS]
                       + [("simulated",) + tuple(float(v) for v in r) for r in simulated])
        _pg.run("DROP TABLE IF EXISTS %s;\nCREATE TABLE %s AS\n"
                "SELECT data, clv_bgbb_fit(x, t_x, n, customers) AS model FROM %s GROUP BY data;\n"
                % (MODELS, MODELS, TABLE))
        infos = {r[0]: r[1] for r in _pg.rows("SELECT data, clv_model_info(model) FROM %s" % MODELS)}
        import json
        infos = {k: json.loads(v) for k, v in infos.items()}
    except Exception as exc:   # noqa: BLE001
        tap.error("load the count tables and fit the models", exc)
        tap.done()
        return 0

    # ---- the fits --------------------------------------------------------------
    thetas = {}
    for data, patterns in (("donations", DONATIONS), ("simulated", simulated)):
        info = infos[data]
        got = [float(info["params"][k]) for k in PARAMS]
        thetas[data] = got
        try:
            tap.ok(info.get("converged") is True, "%s: converged" % data)
            tap.close([float(info["log_likelihood"])], [float(log_likelihood(got, patterns))], TOL,
                      "%s: log-likelihood at clv's parameters vs eq. 5 in mpmath" % data)
            import numpy as np
            res = minimize(lambda v: -float_log_likelihood(np.exp(v), patterns), np.log(got),
                           method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-9, "maxiter": 4000})
            tap.close(got, list(np.exp(res.x)), 1e-4, "%s: parameters vs scipy's maximum of eq. 5" % data)
            tap.ok(-res.fun <= float(info["log_likelihood"]) + 1e-6,
                   "%s: scipy finds no higher log-likelihood (%.9f vs clv's %.9f)"
                   % (data, -res.fun, float(info["log_likelihood"])))
        except Exception as exc:   # noqa: BLE001
            tap.error("%s fit" % data, exc)
    tap.ok(all(round(g, 3) == p for g, p in zip(thetas["donations"], PUBLISHED)),
           "donations: the published estimates %s" % (PUBLISHED,))

    # models at extreme parameters, from clv_model_from_params
    for name, th in EXTREME.items():
        try:
            _pg.run("INSERT INTO %s SELECT '%s', clv_model_from_params('bgbb', '{%s}');\n"
                    % (MODELS, name, ", ".join('"%s": %r' % kv for kv in zip(PARAMS, th))))
            thetas[name] = list(th)
        except Exception as exc:   # noqa: BLE001
            tap.error("%s: build the model" % name, exc)

    # ---- predictions -------------------------------------------------------------
    customers = [(x, tx, n) for x, tx, n, _ in DONATIONS] + LONG
    for data, th in thetas.items():
        rows = ", ".join("(%d::float8, %d::float8, %d::float8, %d)" % (x, tx, n, i)
                         for i, (x, tx, n) in enumerate(customers))
        try:
            got = values("SELECT clv_palive(model, c.x, c.tx, c.n) FROM %s, (VALUES %s) c(x, tx, n, ord) "
                         "WHERE data = '%s' ORDER BY c.ord" % (MODELS, rows, data))
            tap.close(got, [float(palive(th, *c)) for c in customers], TOL,
                      "%s: P(alive) of %d customers (n to 1000) vs eq. 11" % (data, len(customers)))
            cases = [(h, c) for h in (1, 5, 10, 100, 1000) for c in customers]
            got = values("SELECT clv_expected_purchases(model, c.h, c.x, c.tx, c.n) FROM %s, (VALUES %s) "
                         "c(h, x, tx, n, ord) WHERE data = '%s' ORDER BY c.ord"
                         % (MODELS, ", ".join("(%d::float8, %d::float8, %d::float8, %d::float8, %d)"
                                              % ((h,) + c + (i,)) for i, (h, c) in enumerate(cases)), data))
            tap.close(got, [float(expected(th, h, *c)) for h, c in cases], TOL,
                      "%s: E[X(n, n+n*)] of %d customer-horizons (n* 1 to 1000) vs eq. 13" % (data, len(cases)))
            cases = [(n, k) for n in (1, 6, 30, 1000) for k in sorted({0, 1, 2, n // 2, n - 1, n}) if k >= 0]
            got = values("SELECT clv_probability_of_purchases(model, c.n, c.k) FROM %s, (VALUES %s) c(n, k, ord) "
                         "WHERE data = '%s' ORDER BY c.ord"
                         % (MODELS, ", ".join("(%d::float8, %d, %d)" % (n, k, i)
                                              for i, (n, k) in enumerate(cases)), data))
            tap.close(got, [float(new_pmf(th, n, k)) for n, k in cases], TOL,
                      "%s: P(X(n) = x) of a new customer, n to 1000, vs eq. 7" % data, floor=1e-300)
            hist = [c for c in customers if c[2] <= 20] + [(500, 1000, 1000), (1000, 1000, 1000)]
            cases = [(ns, k, c) for ns in (1, 5) for k in range(0, ns + 1) for c in hist]
            got = values("SELECT clv_probability_of_purchases(model, c.ns, c.k, c.x, c.tx, c.n) FROM %s, "
                         "(VALUES %s) c(ns, k, x, tx, n, ord) WHERE data = '%s' ORDER BY c.ord"
                         % (MODELS, ", ".join("(%d::float8, %d, %d::float8, %d::float8, %d::float8, %d)"
                                              % ((ns, k) + c + (i,)) for i, (ns, k, c) in enumerate(cases)),
                            data))
            tap.close(got, [float(conditional_pmf(th, ns, k, *c)) for ns, k, c in cases], TOL,
                      "%s: P(X(n, n+n*) = x* | history), %d cases, vs the posterior's eq. 7" % (data, len(cases)),
                      floor=1e-300)
            cases = [(d, c) for d in (0.5, 0.1, 0.01, 0.001) for c in customers]
            got = values("SELECT clv_dert(model, c.x, c.tx, c.n, '1 year', c.d) FROM %s, (VALUES %s) "
                         "c(d, x, tx, n, ord) WHERE data = '%s' ORDER BY c.ord"
                         % (MODELS, ", ".join("(%r::float8, %d::float8, %d::float8, %d::float8, %d)"
                                              % ((d,) + c + (i,)) for i, (d, c) in enumerate(cases)), data))
            tap.close(got, [float(dert(th, d, *c)) for d, c in cases], TOL,
                      "%s: DERT at d 0.5 to 0.001 per opportunity, %d cases, vs eq. 14 (mpmath 2F1)"
                      % (data, len(cases)))
        except Exception as exc:   # noqa: BLE001
            tap.error("%s predictions" % data, exc)

    try:
        _pg.run("DROP TABLE IF EXISTS %s, %s;" % (TABLE, MODELS))
    except Exception:   # noqa: BLE001 - cleaning up is best effort
        pass
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
