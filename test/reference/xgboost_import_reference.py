#!/usr/bin/python3
"""clv_import_xgboost against XGBoost itself: models trained here with
XGBoost (small, seeded, NaN in a sixth of the values), saved with
save_model to JSON, imported through SQL, and scored by clv_predict and
Booster.predict on the same rows:

  reg:squarederror at depths 2, 4 and 8 (hist), one with feature names,
  one tree_method "exact" (other thresholds), one pruned by gamma;
  binary:logistic at depths 3 and 6; reg:tweedie (power 1.3) at depth 4.

Predictions must agree to 1e-6 relative.  The rows include, besides random
ones, values at and around the models' own split thresholds (the float
threshold, the doubles next to it, the midpoint to the float below it and
the doubles next to that), where a comparison in double instead of float
would go the other way.  clv_explain is XGBoost's pred_contribs (both exact
TreeSHAP on the hessian covers): the contributions agree to 1e-5, and
clv_explain_expected is the bias column.  The margin XGBoost prints
(output_margin) is the sum of the contributions and the expected value.

Run by /usr/bin/python3.  Prints TAP lines; exits 0 after printing whatever
the results, non-zero only when the check cannot run at all.  Without
xgboost the checks are skipped.
"""

import json
import os
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _pg  # noqa: E402

NAME = "xgboost_import_reference"
SEED = 20261207
N_TRAIN, P = 1500, 6
ROWS = "clv_ref_xgb_rows"
MODELS = "clv_ref_xgb_models"
TOL_PREDICT = 1e-6
TOL_CONTRIB = 1e-5
NAMES = ["recency", "frequency", "monetary", "tenure", "visits", "tickets"]

# name, objective, parameters, rounds, feature names
CASES = [
    ("squared_d2", "reg:squarederror", {"max_depth": 2, "eta": 0.3}, 40, False),
    ("squared_d4_names", "reg:squarederror", {"max_depth": 4, "eta": 0.1}, 80, True),
    ("squared_d8", "reg:squarederror", {"max_depth": 8, "eta": 0.1, "subsample": 0.8}, 60, False),
    ("squared_exact", "reg:squarederror", {"max_depth": 5, "tree_method": "exact"}, 30, False),
    ("squared_pruned", "reg:squarederror", {"max_depth": 6, "gamma": 20.0}, 30, False),
    ("logistic_d3", "binary:logistic", {"max_depth": 3, "eta": 0.2}, 60, False),
    ("logistic_d6", "binary:logistic", {"max_depth": 6, "eta": 0.1, "colsample_bytree": 0.7}, 80, True),
    ("tweedie_d4", "reg:tweedie", {"max_depth": 4, "eta": 0.1, "tweedie_variance_power": 1.3}, 60, False),
]


def data(np):
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(N_TRAIN, P))
    margin = 1.5 * x[:, 0] - x[:, 1] + np.sin(2 * x[:, 2]) + 0.5 * x[:, 3] * x[:, 4]
    y = margin + 0.3 * rng.normal(size=N_TRAIN)
    labels = {
        "reg:squarederror": y,
        "binary:logistic": (margin + rng.logistic(size=N_TRAIN) > 0).astype(float),
        "reg:tweedie": rng.poisson(np.exp(0.4 * margin)) * rng.gamma(2.0, 0.5, size=N_TRAIN),
    }
    x[rng.random(x.shape) < 1 / 6] = np.nan
    return x, labels


def edge_rows(np, model_json, base):
    """Rows whose values sit at and around the model's split thresholds."""
    rng = np.random.default_rng(SEED + 1)
    out = []
    for tree in model_json["learner"]["gradient_booster"]["model"]["trees"][:6]:
        for i, left in enumerate(tree["left_children"]):
            if left == -1:
                continue
            t = np.float32(tree["split_conditions"][i])
            below = np.nextafter(t, np.float32(-np.inf))
            mid = (float(t) + float(below)) / 2
            for v in (float(t), np.nextafter(float(t), -np.inf), np.nextafter(float(t), np.inf),
                      mid, np.nextafter(mid, -np.inf), np.nextafter(mid, np.inf)):
                row = base[rng.integers(len(base))].copy()
                row[tree["split_indices"][i]] = v
                out.append(row)
    return np.array(out)


def main():
    tap = _pg.Tap()
    try:
        import numpy as np
        import xgboost
    except ImportError as exc:
        print("ok - # SKIP %s" % exc)
        tap.done()
        return 0
    _pg.connect_or_exit(NAME)
    x, labels = data(np)
    xgb_version = xgboost.__version__
    print("# xgboost %s" % xgb_version)
    _pg.run("DROP TABLE IF EXISTS %s;\nCREATE TABLE %s (name text, model bytea);\n" % (MODELS, MODELS))
    with tempfile.TemporaryDirectory() as tmp:
        for name, objective, params, rounds, named in CASES:
            try:
                check_case(tap, np, xgboost, tmp, x, labels[objective], name, objective,
                           params, rounds, named)
            except Exception as exc:   # noqa: BLE001
                tap.error(name, exc)
    try:
        _pg.run("DROP TABLE IF EXISTS %s, %s;\n" % (ROWS, MODELS))
    except Exception as exc:   # noqa: BLE001
        print("# cleanup failed: %s" % exc)
    tap.done()
    return 0


def check_case(tap, np, xgboost, tmp, x, y, name, objective, params, rounds, named):
    names = NAMES if named else None
    train = xgboost.DMatrix(x, label=y, feature_names=names)
    booster = xgboost.train(dict(params, objective=objective, seed=SEED, nthread=1),
                            train, rounds)
    path = os.path.join(tmp, name + ".json")
    booster.save_model(path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    model_json = json.loads(text)

    rows = np.vstack([x[:300], edge_rows(np, model_json, x)])
    test = xgboost.DMatrix(rows, feature_names=names)
    want = booster.predict(test).astype(float)
    want_margin = booster.predict(test, output_margin=True).astype(float)
    want_contrib = booster.predict(test, pred_contribs=True).astype(float)

    _pg.load_table(ROWS, "id integer, x float8[]",
                   [(i, [float(v) for v in row]) for i, row in enumerate(rows)])
    _pg.run("DELETE FROM %s WHERE name = '%s';\nINSERT INTO %s SELECT '%s', clv_import_xgboost($xgb$%s$xgb$::jsonb);\n"
            % (MODELS, name, MODELS, name, text))
    got = _pg.rows("SELECT clv_predict(m.model, r.x), clv_explain(m.model, r.x), "
                   "clv_explain_expected(m.model) FROM %s r, %s m WHERE m.name = '%s' ORDER BY r.id"
                   % (ROWS, MODELS, name))
    predictions = [float(r[0]) for r in got]
    contribs = [[float(v) for v in r[1].strip("{}").split(",")] for r in got]
    expected = float(got[0][2]) if got else float("nan")

    tap.close(predictions, want, TOL_PREDICT,
              "%s: clv_predict = XGBoost predict on %d rows (%d at split thresholds)"
              % (name, len(rows), len(rows) - 300), floor=1e-12)
    worst = max(abs(c - w) for row_c, row_w in zip(contribs, want_contrib)
                for c, w in zip(row_c + [expected], row_w))
    tap.ok(worst <= TOL_CONTRIB,
           "%s: clv_explain and clv_explain_expected = pred_contribs (max abs diff %.3g, tolerance %g)"
           % (name, worst, TOL_CONTRIB))
    sums = [expected + sum(c) for c in contribs]
    tap.close(sums, want_margin, TOL_CONTRIB,
              "%s: expected value + contributions = XGBoost's output margin" % name, floor=1.0)
    info = _pg.jsonb("SELECT clv_model_info(model) FROM %s WHERE name = '%s'" % (MODELS, name))
    tap.ok(info.get("kind") == "gbm" and info.get("objective") == objective
           and info.get("imported_from") == "xgboost"
           and info.get("n_trees") == rounds
           and (info.get("features") == NAMES if named else info.get("features") in (None, [])),
           "%s: clv_model_info records the import, %d trees and the feature names"
           % (name, rounds), json.dumps(info)[:300])


if __name__ == "__main__":
    sys.exit(main())
