#!/usr/bin/python3
"""clv's shifted-beta-geometric (sBG) fit and predictions against independent
scipy/mpmath computations.

- The fit: Fader & Hardie (2007), "How to project customer retention", the
  two cohorts of 1,000 customers observed for 7 years.  The log-likelihood is
  written from the paper's P(T = t) and S(t) with scipy.special.betaln and
  maximised with scipy.optimize (Nelder-Mead on log-parameters); clv's
  estimates must match it, and the published ones to three digits.
- S(t), r(t) and P(alive): ratios of beta functions in mpmath at 30 digits,
  up to t = 10,000.
- DERL (Fader & Hardie 2010): mpmath's hyp2f1 in the paper's closed form,
  r(n) 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d)) for a customer with
  n - 1 renewals, and, for some cases, the defining sum
  sum_k S(n + k) / S(n - 1) / (1 + d)^k by mpmath.nsum; to 1e-10 relative,
  renewals up to 1,000 and d down to 0.001, for the fitted models and fits
  to cohorts with extreme alpha and beta.

Run by /usr/bin/python3.  Prints TAP lines.
"""

import math
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _pg  # noqa: E402

NAME = "sbg_reference"
TABLE = "clv_ref_sbg_cells"

# survivors at the start of years 0..7 (Fader & Hardie 2007, table 1)
COHORTS = {
    "regular": [1000, 631, 468, 382, 326, 289, 262, 241],
    "high end": [1000, 869, 743, 653, 593, 551, 517, 491],
}
PUBLISHED = {"regular": (0.704, 1.182), "high end": (0.668, 3.806)}
# cohorts of expected counts under extreme parameters, fitted for the checks
# of the predictions far from the paper's values
EXTREME = {"tiny alpha": (0.05, 0.4), "large alpha beta": (40.0, 300.0),
           "small beta": (3.0, 0.2)}
RENEWALS = (0, 1, 7, 100, 1000)
RATES = (0.001, 0.01, 0.1, 1.0)


def cells(name, survivors):
    out = [(name, t, True, survivors[t - 1] - survivors[t]) for t in range(1, len(survivors))]
    out.append((name, len(survivors) - 1, False, survivors[-1]))
    return [c for c in out if c[3] > 0]


def expected_survivors(alpha, beta, n, periods):
    from scipy.special import betaln
    return [int(round(n * math.exp(betaln(alpha, beta + t) - betaln(alpha, beta))))
            for t in range(periods + 1)]


def reference_fit(rows):
    import numpy as np
    from scipy.optimize import minimize
    from scipy.special import betaln

    t = np.array([r[1] for r in rows], float)
    churned = np.array([r[2] for r in rows])
    w = np.array([r[3] for r in rows], float)

    def nll(v):
        a, b = np.exp(v)
        ll = np.where(churned, betaln(a + 1, b + t - 1), betaln(a, b + t)) - betaln(a, b)
        return -np.sum(w * ll)

    best = minimize(nll, [0.0, 0.0], method="Nelder-Mead",
                    options={"xatol": 1e-12, "fatol": 1e-13, "maxiter": 20000})
    return np.exp(best.x), -best.fun


def mp_survival(mp, a, b, t):
    return mp.beta(a, b + t) / mp.beta(a, b)


def mp_derl(mp, a, b, renewals, d):
    n = renewals + 1                    # the paper's n: n - 1 renewals made
    return (b + n - 1) / (a + b + n - 1) * mp.hyp2f1(1, b + n, a + b + n, 1 / (1 + d))


def mp_derl_sum(mp, a, b, renewals, d):
    base = mp_survival(mp, a, b, renewals)
    return mp.nsum(lambda k: mp_survival(mp, a, b, renewals + 1 + k) / base / (1 + d) ** k,
                   [0, mp.inf])


def fitted_params(name):
    info = _pg.jsonb("SELECT clv_model_info(clv_sbg_fit_counts(periods, churned, customers)) "
                     "FROM %s WHERE cohort = '%s'" % (TABLE, name))
    return info["params"]["alpha"], info["params"]["beta"], info


def check_paper(tap):
    from scipy.special import betaln

    for name in COHORTS:
        alpha, beta, info = fitted_params(name)
        want, want_ll = reference_fit(cells(name, COHORTS[name]))
        tap.close([alpha, beta], list(want), 1e-6, "%s: alpha, beta as scipy's maximum" % name)
        tap.close([info["log_likelihood"]], [want_ll], 1e-10, "%s: log-likelihood" % name)
        tap.ok(info["converged"] and round(alpha, 3) == PUBLISHED[name][0]
               and round(beta, 3) == PUBLISHED[name][1],
               "%s: alpha %.3f, beta %.3f as published (%.3f, %.3f)"
               % (name, alpha, beta, *PUBLISHED[name]))
        # projections for the holdout years 8..12 from the fit and from the
        # published values: within what rounding to three digits moves them
        got = [float(r[0]) for r in _pg.rows(
            "SELECT 1000 * clv_sbg_survival(m, t) FROM (SELECT clv_sbg_fit_counts(periods, churned, "
            "customers) m FROM %s WHERE cohort = '%s') f, generate_series(8, 12) t ORDER BY t"
            % (TABLE, name))]
        pa, pb = PUBLISHED[name]
        published = [1000 * math.exp(betaln(pa, pb + t) - betaln(pa, pb)) for t in range(8, 13)]
        tap.close(got, published, 2e-3, "%s: holdout survivors as projected from the "
                  "published alpha, beta" % name)
        print("# %s: years 8-12 projected %s" % (name, ", ".join("%.1f" % v for v in got)))


def check_predictions(tap, mp):
    for name in list(COHORTS) + list(EXTREME):
        alpha, beta, _ = fitted_params(name)
        a, b = mp.mpf(alpha), mp.mpf(beta)
        ts = (0, 1, 2, 7.5, 12, 100, 10000)
        got = [float(r[0]) for r in _pg.rows(
            "SELECT clv_sbg_survival(m, t) FROM (SELECT clv_sbg_fit_counts(periods, churned, customers) m "
            "FROM %s WHERE cohort = '%s') f, unnest(ARRAY%r::float8[]) WITH ORDINALITY u(t, k) "
            "ORDER BY k" % (TABLE, name, list(ts)))]
        tap.close(got, [float(mp_survival(mp, a, b, t)) for t in ts], 1e-12,
                  "%s: S(t) for t up to 10,000" % name)
        got = [float(r[0]) for r in _pg.rows(
            "SELECT clv_sbg_palive(m, n, h) FROM (SELECT clv_sbg_fit_counts(periods, churned, customers) m "
            "FROM %s WHERE cohort = '%s') f, (VALUES (0, 1), (3, 2), (100, 50), (1000, 9000)) v(n, h)"
            % (TABLE, name))]
        want = [float(mp_survival(mp, a, b, n + h) / mp_survival(mp, a, b, n))
                for n, h in ((0, 1), (3, 2), (100, 50), (1000, 9000))]
        tap.close(got, want, 1e-12, "%s: P(alive) after renewals" % name)

        pairs = [(n, d) for n in RENEWALS for d in RATES]
        got = [float(r[0]) for r in _pg.rows(
            "SELECT clv_sbg_derl(m, n, d) FROM (SELECT clv_sbg_fit_counts(periods, churned, customers) m "
            "FROM %s WHERE cohort = '%s') f, unnest(ARRAY%r::int[], ARRAY%r::float8[]) "
            "WITH ORDINALITY u(n, d, k) ORDER BY k"
            % (TABLE, name, [p[0] for p in pairs], [p[1] for p in pairs]))]
        want = [float(mp_derl(mp, a, b, n, mp.mpf(d))) for n, d in pairs]
        tap.close(got, want, 1e-10, "%s: DERL, renewals 0 to 1,000, d 0.001 to 1" % name)
    # the closed form is the defining sum (the convention: the next renewal
    # undiscounted, the period already paid not counted)
    a, b = mp.mpf(PUBLISHED["regular"][0]), mp.mpf(PUBLISHED["regular"][1])
    for n, d in ((0, 0.1), (4, 0.05), (30, 0.2)):
        closed, direct = mp_derl(mp, a, b, n, mp.mpf(d)), mp_derl_sum(mp, a, b, n, mp.mpf(d))
        tap.ok(abs(closed - direct) <= 1e-20 * abs(direct),
               "the 2F1 form is the sum of discounted survival (renewals %d, d %g): %.12f"
               % (n, d, float(direct)))


def main():
    tap = _pg.Tap()
    try:
        import mpmath as mp
        import numpy  # noqa: F401
        import scipy.optimize  # noqa: F401
    except ImportError as exc:
        print("# %s: cannot run: %s" % (NAME, exc), file=sys.stderr)
        sys.exit(2)
    mp.mp.dps = 30
    _pg.connect_or_exit(NAME)
    rows = []
    for name, survivors in COHORTS.items():
        rows += cells(name, survivors)
    for name, (a, b) in EXTREME.items():
        rows += cells(name, expected_survivors(a, b, 10 ** 9, 12))
    try:
        _pg.load_table(TABLE, "cohort text, periods integer, churned boolean, customers bigint",
                       rows)
        check_paper(tap)
        check_predictions(tap, mp)
    except (RuntimeError, ValueError) as exc:
        tap.error(NAME, exc)
    try:
        _pg.run("DROP TABLE IF EXISTS %s;\n" % TABLE)
    except RuntimeError:
        pass
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
