#!/usr/bin/python3
"""The one-pass ridge cross-validation of doc/reference.md against scikit-learn.

On scikit-learn's diabetes data (raw, unscaled), with the folds clv_fold assigns:
for each fold and l2, scikit-learn's Ridge(alpha=l2) fitted on the other folds' rows
and its mean squared error on the fold's rows, against clv_linreg_mse of
clv_linreg_fit_stats over the merged clv_linreg_stats of the other folds, scored on
the fold's statistics.  Also the folds' sizes: the recipe sees every row once.

Run by /usr/bin/python3 (Debian's numpy and scikit-learn).  Prints TAP lines; exits 0
after printing whatever the results, non-zero only when the check cannot run at all.
"""

import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _pg  # noqa: E402
from linreg_diabetes import load_diabetes_raw  # noqa: E402

NAME = "cv_reference"
TABLE = "clv_ref_cv"
K = 5
GRID = (0.0, 0.1, 10.0, 1000.0, 1e5)
TOL_MSE = 1e-9          # relative: two solvers of one linear system, scored two ways

RECIPE = """
WITH folds AS (
    SELECT clv_fold(id, %(k)d) AS fold, clv_linreg_stats(target, x) AS stats
    FROM %(table)s GROUP BY 1),
grid(l2) AS (SELECT unnest('{%(grid)s}'::float8[])),
scores AS (
    SELECT g.l2, f.fold,
           clv_linreg_mse(clv_linreg_fit_stats(
               (SELECT clv_state_merge(o.stats) FROM folds o WHERE o.fold <> f.fold),
               jsonb_build_object('l2', g.l2)), f.stats) AS mse
    FROM grid g CROSS JOIN folds f)
SELECT l2, fold, mse FROM scores ORDER BY l2, fold
"""


def main():
    tap = _pg.Tap()
    try:
        import numpy as np
        from sklearn.linear_model import LinearRegression, Ridge
        x, y, _ = load_diabetes_raw()
    except Exception as exc:   # noqa: BLE001 - anything here means we cannot run
        print("# %s: cannot load numpy/scikit-learn data: %s" % (NAME, exc), file=sys.stderr)
        return 2
    _pg.connect_or_exit(NAME)

    n = len(y)
    try:
        _pg.load_table(TABLE, "id int PRIMARY KEY, target float8, x float8[]",
                       [(i + 1, float(y[i]), [float(v) for v in x[i]]) for i in range(n)])
        folds = np.array([int(f) for (f,) in _pg.rows(
            "SELECT clv_fold(id, %d) FROM %s ORDER BY id" % (K, TABLE))])
        got = _pg.rows(RECIPE % {"k": K, "table": TABLE, "grid": ", ".join(repr(g) for g in GRID)})
    except Exception as exc:   # noqa: BLE001
        tap.error("%s: load the data and run the recipe" % NAME, exc)
        tap.done()
        return 0

    sizes = np.bincount(folds, minlength=K + 1)[1:]
    tap.ok(len(folds) == n and sizes.min() > 0,
           "%s: every row has a fold, every fold rows" % NAME, "sizes %s" % sizes.tolist())
    tap.ok(len(got) == K * len(GRID), "%s: one error per fold and setting" % NAME,
           "%d rows" % len(got))

    worst = {}
    for l2, fold, mse in got:
        l2, fold, mse = float(l2), int(fold), float(mse)
        train, test = folds != fold, folds == fold
        # scikit-learn's alpha is clv's l2: both minimise RSS + l2 Σ β², intercept free
        model = Ridge(alpha=l2, solver="cholesky") if l2 > 0 else LinearRegression()
        model.fit(x[train], y[train])
        want = float(np.mean((model.predict(x[test]) - y[test]) ** 2))
        worst[l2] = max(worst.get(l2, 0.0), abs(mse / want - 1))
    for l2 in GRID:
        tap.ok(worst.get(l2, 1.0) <= TOL_MSE,
               "%s: l2 = %g, each fold's error equals scikit-learn's Ridge on the other folds"
               % (NAME, l2), "max relative difference %.3g (tolerance %g)"
               % (worst.get(l2, float("nan")), TOL_MSE))
    _pg.run("DROP TABLE IF EXISTS %s;\n" % TABLE)
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
