#!/usr/bin/python3
"""clv_linreg_fit with option l1 (lasso, elastic net) and clv_linreg_path
against scikit-learn's Lasso and ElasticNet, converged tightly.

The scaling.  scikit-learn minimises
    1/(2n) ‖y − Xw − b‖² + α·ρ ‖w‖₁ + α(1 − ρ)/2 ‖w‖²      (ρ = l1_ratio)
and clv minimises
    ‖y − Xw − b‖² + l1 ‖w‖₁ + l2 ‖w‖²
(clv's l2 has no factor 1/2, as in Ridge).  Multiplying the first by 2n:
    l1 = 2 n α ρ,    l2 = n α (1 − ρ).
Lasso(alpha=α) is ρ = 1.  Both leave the intercept unpenalised and both work
on the raw features (scikit-learn's ElasticNet does not standardise).

Data: the diabetes data, raw and unscaled (test/reference/linreg_diabetes.py
explains its loading); random data with 40 features of which 5 are
informative (n = 200); and random data with more features than rows
(n = 50, p = 120).  Coefficients must agree to 1e-6 relative, the set of
zero coefficients exactly.

Run by /usr/bin/python3 (Debian's numpy, scikit-learn).  Prints TAP lines;
exits 0 after printing whatever the results, non-zero only when the check
cannot run at all.
"""

import os
import sys
import warnings

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _pg  # noqa: E402
from linreg_diabetes import load_diabetes_raw  # noqa: E402

NAME = "lasso_reference"
TABLE = "clv_ref_lasso"
TOL_COEF = 1e-6       # coefficients, relative to each (floored: see FLOOR)
# a coefficient's relative difference is taken against max(|coefficient|,
# FLOOR × the largest |slope|): sklearn's convergence leaves an absolute error
FLOOR = 1e-6
FRACTIONS = (0.5, 0.1, 0.01, 0.001)      # α as a fraction of the α that zeroes every slope
L1_RATIOS = (1.0, 0.5, 0.1)


def clv_penalties(n, alpha, l1_ratio):
    """clv's (l1, l2) for scikit-learn's (alpha, l1_ratio) on n rows."""
    return 2 * n * alpha * l1_ratio, n * alpha * (1 - l1_ratio)


def alpha_max(x, y, l1_ratio):
    """The smallest α with every slope 0: max |x_jᵀ(y − ȳ)| / (n ρ)."""
    import numpy as np
    xc = x - x.mean(axis=0)
    return float(np.max(np.abs(xc.T @ (y - y.mean())))) / (len(y) * l1_ratio)


def sklearn_fit(x, y, alpha, l1_ratio):
    from sklearn.linear_model import ElasticNet, Lasso
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ConvergenceWarning at tol 1e-12 is informational
        if l1_ratio == 1.0:
            model = Lasso(alpha=alpha, tol=1e-12, max_iter=10 ** 6, fit_intercept=True)
        else:
            model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=10 ** 6,
                               fit_intercept=True)
        model.fit(x, y)
    return [float(model.intercept_)] + [float(v) for v in model.coef_]


def compare(tap, label, got, want):
    slopes = max(abs(v) for v in want[1:]) if len(want) > 1 else 0.0
    floor = FLOOR * max(slopes, abs(want[0]) * 1e-3)
    tap.close(got, want, TOL_COEF, "%s: coefficients" % label, floor=floor)
    zeros_got = [j for j, v in enumerate(got[1:]) if v == 0]
    zeros_want = [j for j, v in enumerate(want[1:]) if v == 0]
    tap.ok(zeros_got == zeros_want, "%s: the same %d zero slopes" % (label, len(zeros_want)),
           "clv zeroes %s, sklearn %s" % (zeros_got, zeros_want))


def check_data(tap, label, x, y):
    """Fits of clv_linreg_fit and clv_linreg_path against scikit-learn."""
    n = len(y)
    _pg.load_table(TABLE, "id int PRIMARY KEY, y float8, x float8[]",
                   [(i + 1, float(y[i]), [float(v) for v in x[i]]) for i in range(n)])
    for ratio in L1_RATIOS:
        amax = alpha_max(x, y, ratio)
        settings = [(f * amax, clv_penalties(n, f * amax, ratio)) for f in FRACTIONS]
        # one query: every (l1, l2) fitted by the aggregate over the table
        values = ", ".join("(%d, %r, %r)" % (k, l1, l2) for k, (_, (l1, l2)) in enumerate(settings))
        got = _pg.rows(
            "SELECT k, clv_model_info(clv_linreg_fit(y, x, jsonb_build_object('l1', l1, 'l2', l2))) "
            "-> 'coefficients' FROM %s, (VALUES %s) s(k, l1, l2) GROUP BY k, l1, l2 ORDER BY k"
            % (TABLE, values))
        for (alpha, _), row in zip(settings, got):
            want = sklearn_fit(x, y, alpha, ratio)
            name = "Lasso" if ratio == 1.0 else "ElasticNet(l1_ratio=%g)" % ratio
            compare(tap, "%s: clv_linreg_fit vs %s(alpha=%.4g)" % (label, name, alpha),
                    [float(v) for v in _pg.json.loads(row[1])], want)

    # the path from one set of statistics, in one call, against the same fits
    ratio = 1.0
    amax = alpha_max(x, y, ratio)
    alphas = [f * amax for f in FRACTIONS]
    l1s = "{%s}" % ", ".join(repr(clv_penalties(n, a, ratio)[0]) for a in alphas)
    got = _pg.rows("SELECT p.l1, clv_model_info(p.model) -> 'coefficients' "
                   "FROM (SELECT clv_linreg_stats(y, x) AS s FROM %s) q, clv_linreg_path(q.s, '%s') p"
                   % (TABLE, l1s))
    tap.ok(len(got) == len(alphas), "%s: clv_linreg_path returns %d models" % (label, len(alphas)))
    worst = 0.0
    for alpha, row in zip(alphas, got):
        want = sklearn_fit(x, y, alpha, ratio)
        slopes = max(abs(v) for v in want[1:])
        worst = max(worst, _pg.max_rel_diff([float(v) for v in _pg.json.loads(row[1])], want,
                                            FLOOR * max(slopes, abs(want[0]) * 1e-3)))
    tap.ok(worst <= TOL_COEF, "%s: clv_linreg_path vs Lasso at %d values of alpha (max rel diff %.3g)"
           % (label, len(alphas), worst))
    tap.measured.append(("%s: clv_linreg_path vs Lasso" % label, worst))


def random_data(seed, n, p, informative):
    """Features on unequal scales and offsets; y depends on the first few."""
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p)) * rng.uniform(0.5, 20, p) + rng.uniform(-10, 10, p)
    beta = np.zeros(p)
    beta[:informative] = rng.uniform(1, 3, informative) * rng.choice([-1, 1], informative) \
        / x[:, :informative].std(axis=0)
    y = 4 + x @ beta + rng.standard_normal(n)
    return x, y


def main():
    tap = _pg.Tap()
    try:
        import numpy  # noqa: F401
        import sklearn.linear_model  # noqa: F401
        x, y, _ = load_diabetes_raw()
    except Exception as exc:   # noqa: BLE001 - anything here means we cannot run
        print("# %s: cannot load numpy/scikit-learn data: %s" % (NAME, exc), file=sys.stderr)
        return 2
    _pg.connect_or_exit(NAME)

    # the mapping itself: at α_max (and above) every slope is 0, in both
    n = len(y)
    try:
        l1, _ = clv_penalties(n, alpha_max(x, y, 1.0) * 1.000001, 1.0)
        info = _pg.jsonb("SELECT clv_model_info(clv_linreg_fit(y, x, '{\"l1\": %r}')) FROM (VALUES %s) v(y, x)"
                         % (l1, ", ".join("(%r, '{%s}'::float8[])" % (float(y[i]), ", ".join(repr(float(v)) for v in x[i]))
                                          for i in range(n))))
        tap.ok(info["nonzero"] == 0 and all(v == 0 for v in info["coefficients"][1:]),
               "diabetes: l1 = 2 n alpha_max zeroes every slope, as Lasso(alpha_max) does")
    except Exception as exc:   # noqa: BLE001
        tap.error("alpha_max", exc)

    for label, data in (("diabetes", (x, y)),
                        ("random n=200 p=40 (5 informative)", random_data(7, 200, 40, 5)),
                        ("random n=50 p=120 (5 informative)", random_data(11, 50, 120, 5))):
        try:
            check_data(tap, label, *data)
        except Exception as exc:   # noqa: BLE001
            tap.error(label, exc)

    try:
        _pg.run("DROP TABLE IF EXISTS %s;\n" % TABLE)
    except Exception as exc:   # noqa: BLE001
        print("# cleanup failed: %s" % exc)
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
