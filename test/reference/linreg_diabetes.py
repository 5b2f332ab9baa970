#!/usr/bin/python3
"""clv_linreg_fit on scikit-learn's diabetes data (raw, unscaled) against
numpy/scipy OLS, sklearn Ridge, and numpy predictions.

Run by /usr/bin/python3 (Debian's numpy, scipy, scikit-learn).  Prints TAP
lines; exits 0 after printing whatever the results, non-zero only when the
check cannot run at all.
"""

import gzip
import math
import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _pg  # noqa: E402

NAME = "linreg_diabetes"
TABLE = "clv_ref_diabetes"
MODELS = "clv_ref_diabetes_models"

TOL_COEF = 1e-8         # coefficients, relative
TOL_INFERENCE = 1e-6    # standard errors, t, p, R², F, relative
TOL_PREDICT = 1e-9      # predictions, relative
RIDGE_L2 = (1.0, 10.0, 1000.0)


def load_diabetes_raw():
    """The 442 × 10 raw diabetes features and the target."""
    import numpy as np
    import sklearn.datasets

    try:
        data = sklearn.datasets.load_diabetes(scaled=False)
        return np.asarray(data.data, dtype=float), np.asarray(data.target, dtype=float), \
            list(data.feature_names)
    except TypeError:
        pass    # scikit-learn before 1.1 has no `scaled`: read the bundled files
    base = os.path.join(os.path.dirname(sklearn.datasets.__file__), "data")
    with gzip.open(os.path.join(base, "diabetes_data_raw.csv.gz"), "rt") as f:
        x = np.loadtxt(f)
    with gzip.open(os.path.join(base, "diabetes_target.csv.gz"), "rt") as f:
        y = np.loadtxt(f)
    return x, y, ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def ols_reference(x, y):
    """OLS by numpy.linalg.lstsq and the textbook inference formulas."""
    import numpy as np
    from scipy import stats

    n, p = x.shape
    design = np.column_stack([np.ones(n), x])
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    resid = y - design @ beta
    rss = float(resid @ resid)
    df = n - p - 1
    sigma2 = rss / df
    xtx_inv = np.linalg.inv(design.T @ design)
    se = np.sqrt(sigma2 * np.diag(xtx_inv))
    t = beta / se
    pv = 2 * stats.t.sf(np.abs(t), df)
    tss = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - rss / tss
    adj_r2 = 1 - (1 - r2) * (n - 1) / df
    f = (tss - rss) / p / sigma2
    f_p = stats.f.sf(f, p, df)
    # condition number of the standardised design: √(λmax / λmin) of the correlation matrix
    eig = np.linalg.eigvalsh(np.corrcoef(x, rowvar=False))
    return {
        "coefficients": beta, "std_errors": se, "t_values": t, "p_values": pv,
        "r2": r2, "adj_r2": adj_r2, "rss": rss, "sigma": math.sqrt(sigma2),
        "df_resid": df, "f_statistic": f, "f_p_value": f_p, "n": n,
        "condition_number": math.sqrt(eig.max() / eig.min()),
    }


def floats(values):
    return [float("nan") if v is None else float(v) for v in values]


def main():
    tap = _pg.Tap()
    try:
        import numpy as np
        from sklearn.linear_model import Ridge
        x, y, names = load_diabetes_raw()
    except Exception as exc:   # noqa: BLE001 - anything here means we cannot run
        print("# %s: cannot load numpy/scikit-learn data: %s" % (NAME, exc), file=sys.stderr)
        return 2
    _pg.connect_or_exit(NAME)

    n = len(y)
    tap.ok(x.shape == (442, 10) and abs(float(x[0, 0]) - 59.0) < 1e-12 and abs(float(x[0, 2]) - 32.1) < 1e-12,
           "diabetes data is the raw (unscaled) form, 442 x 10", "shape %s, first row %s" % (x.shape, x[0]))
    try:
        _pg.load_table(TABLE, "id int PRIMARY KEY, target float8, x float8[]",
                       [(i + 1, float(y[i]), [float(v) for v in x[i]]) for i in range(n)])
        tap.ok(int(_pg.value("SELECT count(*) FROM %s" % TABLE)) == n, "loaded %d rows through COPY" % n)
        feats = "[" + ", ".join('"%s"' % s for s in names) + "]"
        script = ("DROP TABLE IF EXISTS %s;\nCREATE TABLE %s AS\n" % (MODELS, MODELS)
                  + "SELECT 0::float8 AS l2, clv_linreg_fit(target, x, '{\"features\": %s}') AS m FROM %s\n"
                  % (feats, TABLE))
        for l2 in RIDGE_L2:
            script += ("UNION ALL SELECT %r, clv_linreg_fit(target, x, '{\"l2\": %r}') FROM %s\n"
                       % (l2, l2, TABLE))
        _pg.run(script + ";\n")
    except Exception as exc:   # noqa: BLE001
        tap.error("load the data and fit the models", exc)
        tap.done()
        return 0

    # ---- OLS against numpy / scipy ------------------------------------------
    ref = ols_reference(x, y)
    try:
        info = _pg.jsonb("SELECT clv_model_info(m) FROM %s WHERE l2 = 0" % MODELS)
        tap.ok(info.get("kind") == "linreg" and info.get("n") == n and info.get("df_resid") == ref["df_resid"]
               and info.get("n_features") == 10,
               "OLS: kind, n = %d, df_resid = %d, 10 features" % (n, ref["df_resid"]),
               "kind %s, n %s, df_resid %s" % (info.get("kind"), info.get("n"), info.get("df_resid")))
        tap.ok(info.get("features") == names and info.get("terms") == ["(intercept)"] + names,
               "OLS: feature names stored", "features %s" % info.get("features"))
        tap.close(floats(info["coefficients"]), ref["coefficients"], TOL_COEF,
                  "OLS coefficients vs numpy.linalg.lstsq")
        for key in ("std_errors", "t_values", "p_values"):
            tap.close(floats(info[key]), ref[key], TOL_INFERENCE, "OLS %s vs numpy/scipy" % key)
        for key in ("r2", "adj_r2", "rss", "sigma", "f_statistic", "f_p_value", "condition_number"):
            tap.close([float(info[key])], [ref[key]], TOL_INFERENCE, "OLS %s vs numpy/scipy" % key)
    except Exception as exc:   # noqa: BLE001
        tap.error("OLS statistics", exc)

    # ---- ridge against sklearn.linear_model.Ridge ---------------------------
    for l2 in RIDGE_L2:
        try:
            model = Ridge(alpha=l2, fit_intercept=True, solver="cholesky").fit(x, y)
            want = [float(model.intercept_)] + [float(v) for v in model.coef_]
            info = _pg.jsonb("SELECT clv_model_info(m) FROM %s WHERE l2 = %r" % (MODELS, l2))
            tap.close(floats(info["coefficients"]), want, TOL_COEF,
                      "ridge l2=%g coefficients vs sklearn Ridge(alpha=%g)" % (l2, l2))
            tap.close([float(info["r2"])], [float(model.score(x, y))], TOL_COEF,
                      "ridge l2=%g R^2 vs sklearn Ridge.score" % l2)
        except Exception as exc:   # noqa: BLE001
            tap.error("ridge l2=%g" % l2, exc)

    # ---- predictions against X @ beta ----------------------------------------
    try:
        design = np.column_stack([np.ones(n), x])
        got = _pg.rows("SELECT d.id, clv_predict(m.m, d.x) FROM %s d, %s m WHERE m.l2 = 0 ORDER BY d.id"
                       % (TABLE, MODELS))
        tap.ok([int(r[0]) for r in got] == list(range(1, n + 1)), "OLS predictions: one per row")
        tap.close([float(r[1]) for r in got], design @ ref["coefficients"], TOL_PREDICT,
                  "OLS predictions vs numpy X @ beta", floor=1.0)
        model = Ridge(alpha=1.0, fit_intercept=True, solver="cholesky").fit(x, y)
        got = _pg.rows("SELECT clv_predict(m.m, d.x) FROM %s d, %s m WHERE m.l2 = 1 ORDER BY d.id"
                       % (TABLE, MODELS))
        tap.close([float(r[0]) for r in got], model.predict(x), TOL_PREDICT,
                  "ridge l2=1 predictions vs sklearn Ridge.predict", floor=1.0)
    except Exception as exc:   # noqa: BLE001
        tap.error("predictions", exc)

    try:
        _pg.run("DROP TABLE IF EXISTS %s, %s;\n" % (TABLE, MODELS))
    except Exception as exc:   # noqa: BLE001
        print("# cleanup failed: %s" % exc)
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
