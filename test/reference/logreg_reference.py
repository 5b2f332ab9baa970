#!/usr/bin/python3
"""clv_logreg_fit on scikit-learn's breast-cancer data against a numpy IRLS,
sklearn LogisticRegression (unpenalised and L2), and sklearn's log-loss and
predict_proba.

The features are mean radius, mean texture and mean smoothness: informative
but not separating, so the unpenalised maximum-likelihood fit exists.  The
outcome is the data set's target (true = benign).

clv minimises -loglik + l2/2 * |beta|^2 with the intercept unpenalised, which
is sklearn's objective with C = 1 / l2.

Run by /usr/bin/python3.  Prints TAP lines; exits 0 after printing whatever
the results, non-zero only when the check cannot run at all.
"""

import math
import os
import sys
import warnings

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _pg  # noqa: E402

NAME = "logreg_reference"
TABLE = "clv_ref_breast_cancer"
MODELS = "clv_ref_breast_cancer_models"
FEATURES = ["mean radius", "mean texture", "mean smoothness"]
L2 = (0.1, 1.0, 10.0)

TOL_COEF = 1e-6         # coefficients, relative
TOL_SE = 1e-5           # standard errors, z, p, relative
TOL_LL = 1e-9           # log-likelihood and deviances, relative
TOL_PREDICT = 1e-9      # probabilities, relative


def irls(design, y, l2=0.0, max_iter=100):
    """Newton's method for -loglik + l2/2 * |beta[1:]|^2, straight from the
    formulas; returns beta and X'WX + penalty at the solution."""
    import numpy as np

    k = design.shape[1]
    penalty = l2 * np.eye(k)
    penalty[0, 0] = 0.0
    beta = np.zeros(k)
    for _ in range(max_iter):
        p = 1 / (1 + np.exp(-design @ beta))
        hess = design.T @ (design * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hess, design.T @ (y - p) - penalty @ beta)
        beta = beta + step
        if np.max(np.abs(step)) <= 1e-14 * (1 + np.max(np.abs(beta))):
            break
    p = 1 / (1 + np.exp(-design @ beta))
    hess = design.T @ (design * (p * (1 - p))[:, None]) + penalty
    return beta, hess


def floats(values):
    return [float("nan") if v is None else float(v) for v in values]


def main():
    tap = _pg.Tap()
    try:
        import numpy as np
        from scipy import stats
        from sklearn.datasets import load_breast_cancer
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import log_loss

        data = load_breast_cancer()
        names = list(data.feature_names)
        x = np.asarray(data.data[:, [names.index(f) for f in FEATURES]], dtype=float)
        y = np.asarray(data.target, dtype=float)
    except Exception as exc:   # noqa: BLE001 - anything here means we cannot run
        print("# %s: cannot load numpy/scikit-learn data: %s" % (NAME, exc), file=sys.stderr)
        return 2
    _pg.connect_or_exit(NAME)

    n = len(y)
    design = np.column_stack([np.ones(n), x])
    tap.ok(x.shape == (569, 3) and int(y.sum()) == 357, "breast-cancer data: 569 rows, 357 benign",
           "shape %s, positives %d" % (x.shape, int(y.sum())))
    try:
        _pg.load_table(TABLE, "id int PRIMARY KEY, benign boolean, x float8[]",
                       [(i + 1, bool(y[i] == 1), [float(v) for v in x[i]]) for i in range(n)])
        script = ("DROP TABLE IF EXISTS %s;\nCREATE TABLE %s AS\n" % (MODELS, MODELS)
                  + "SELECT 0::float8 AS l2, clv_logreg_fit(benign, x) AS m FROM %s\n" % TABLE)
        for l2 in L2:
            script += ("UNION ALL SELECT %r, clv_logreg_fit(benign, x, '{\"l2\": %r}') FROM %s\n"
                       % (l2, l2, TABLE))
        _pg.run(script + ";\n")
        tap.ok(int(_pg.value("SELECT count(*) FROM %s" % MODELS)) == 1 + len(L2),
               "fitted the unpenalised model and %d penalised ones" % len(L2))
    except Exception as exc:   # noqa: BLE001
        tap.error("load the data and fit the models", exc)
        tap.done()
        return 0

    def info_of(l2):
        return _pg.jsonb("SELECT clv_model_info(m) FROM %s WHERE l2 = %r" % (MODELS, l2))

    def probabilities(l2):
        got = _pg.rows("SELECT clv_predict(m.m, d.x) FROM %s d, %s m WHERE m.l2 = %r ORDER BY d.id"
                       % (TABLE, MODELS, l2))
        return np.array([float(r[0]) for r in got])

    # ---- unpenalised: IRLS, sklearn, Wald statistics, likelihoods ----------
    beta, hess = irls(design, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        sk = LogisticRegression(penalty=None, solver="newton-cg", tol=1e-12, max_iter=1000).fit(x, y)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        print("# note: sklearn newton-cg stopped at max_iter=1000 on the unscaled features "
              "(within about 1e-7 of the optimum)")
    try:
        info = info_of(0.0)
        coef = floats(info["coefficients"])
        tap.ok(info.get("kind") == "logreg" and info.get("n") == n and info.get("converged") is True,
               "unpenalised fit converged in %s iterations" % info.get("iterations"),
               "kind %s, n %s, converged %s" % (info.get("kind"), info.get("n"), info.get("converged")))
        tap.close(coef, beta, TOL_COEF, "coefficients vs numpy IRLS")
        tap.close(coef, [float(sk.intercept_[0])] + [float(v) for v in sk.coef_[0]], TOL_COEF,
                  "coefficients vs sklearn LogisticRegression(penalty=None, newton-cg)")
        se = np.sqrt(np.diag(np.linalg.inv(hess)))
        tap.close(floats(info["std_errors"]), se, TOL_SE, "standard errors vs sqrt(diag(inv(X'WX)))")
        tap.close(floats(info["z_values"]), beta / se, TOL_SE, "z values vs numpy")
        tap.close(floats(info["p_values"]), 2 * stats.norm.sf(np.abs(beta / se)), TOL_SE,
                  "p values vs scipy.stats.norm")

        p = 1 / (1 + np.exp(-design @ beta))
        ll = float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))
        ybar = y.mean()
        null_dev = -2 * n * (ybar * math.log(ybar) + (1 - ybar) * math.log(1 - ybar))
        tap.close([float(info["log_likelihood"])], [-log_loss(y, sk.predict_proba(x)[:, 1]) * n], TOL_LL,
                  "log-likelihood vs -sklearn log_loss * n")
        tap.close([float(info["log_likelihood"])], [ll], TOL_LL, "log-likelihood vs numpy")
        tap.close([float(info["deviance"])], [-2 * ll], TOL_LL, "deviance vs numpy")
        tap.close([float(info["null_deviance"])], [null_dev], TOL_LL, "null deviance vs numpy")
        tap.close([float(info["aic"])], [-2 * ll + 2 * design.shape[1]], TOL_LL, "AIC vs numpy")

        got = probabilities(0.0)
        tap.ok(len(got) == n and bool(np.all((got > 0) & (got < 1))), "probabilities: one per row, in (0, 1)")
        tap.close(got, p, TOL_PREDICT, "probabilities vs numpy IRLS")
        # sklearn's predict_proba carrying clv's coefficients: the scoring alone
        carrier = LogisticRegression(penalty=None)
        carrier.classes_ = np.array([0.0, 1.0])
        carrier.coef_ = np.array([coef[1:]])
        carrier.intercept_ = np.array([coef[0]])
        tap.close(got, carrier.predict_proba(x)[:, 1], TOL_PREDICT,
                  "probabilities vs sklearn predict_proba with clv's coefficients")
    except Exception as exc:   # noqa: BLE001
        tap.error("unpenalised fit", exc)

    # ---- L2: sklearn with C = 1 / l2 -----------------------------------------
    for l2 in L2:
        try:
            info = info_of(l2)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                sk = LogisticRegression(penalty="l2", C=1 / l2, solver="newton-cg", tol=1e-12,
                                        max_iter=1000).fit(x, y)
            want = [float(sk.intercept_[0])] + [float(v) for v in sk.coef_[0]]
            tap.close(floats(info["coefficients"]), want, TOL_COEF,
                      "l2=%g coefficients vs sklearn LogisticRegression(C=%g)" % (l2, 1 / l2))
            tap.close(floats(info["coefficients"]), irls(design, y, l2)[0], TOL_COEF,
                      "l2=%g coefficients vs numpy penalised IRLS" % l2)
            tap.close([float(info["log_likelihood"])], [-log_loss(y, sk.predict_proba(x)[:, 1]) * n], TOL_LL,
                      "l2=%g log-likelihood vs -sklearn log_loss * n" % l2)
            got = probabilities(l2)
            pen_beta = irls(design, y, l2)[0]
            tap.close(got, 1 / (1 + np.exp(-design @ pen_beta)), TOL_PREDICT,
                      "l2=%g probabilities vs numpy penalised IRLS" % l2)
            # newton-cg on these unscaled features stops about 1e-9 short of
            # the optimum when the penalty is small: its own probabilities
            # are a 1e-9 reference only from l2 = 1 on
            if l2 >= 1:
                tap.close(got, sk.predict_proba(x)[:, 1], TOL_PREDICT,
                          "l2=%g probabilities vs sklearn predict_proba" % l2)
        except Exception as exc:   # noqa: BLE001
            tap.error("l2=%g" % l2, exc)

    try:
        _pg.run("DROP TABLE IF EXISTS %s, %s;\n" % (TABLE, MODELS))
    except Exception as exc:   # noqa: BLE001
        print("# cleanup failed: %s" % exc)
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
