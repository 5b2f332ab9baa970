#!/usr/bin/python3
"""clv_mlp_fit against scikit-learn's MLPRegressor and MLPClassifier with the
same architecture, epochs, batch size, learning rate, L2 penalty and
stopping rule, on held-out rows:

  Friedman #1 (make_friedman1, noise 1.0), 5,000 train x 10 features,
  5,000 test; one hidden layer of 100 ReLU units, at most 200 epochs,
  batches of 200, Adam at 0.001, alpha = l2 = 1e-4:
    clv's R^2 at least sklearn's - 0.01
  breast cancer (load_breast_cancer, a fixed stratified 70/30 split), the
  same network with the log loss:
    clv's AUC at least sklearn's - 0.01

clv standardises the features itself (and a regression's y); scikit-learn
gets features standardised by StandardScaler fitted on the training rows,
as its documentation recommends, so that neither side is handicapped.  The
networks start from other random weights, so the check is on quality, not
on equal predictions.  A second clv fit with early stopping checks that
the epoch kept is the one with the best validation score.

Run by /usr/bin/python3.  Prints TAP lines; exits 0 after printing whatever
the results, non-zero only when the check cannot run at all.
"""

import os
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _pg  # noqa: E402

NAME = "mlp_reference"
SEED = 20240611
N_TRAIN, N_TEST, P = 5_000, 5_000, 10
FRIEDMAN = "clv_ref_mlp_friedman"
CANCER = "clv_ref_mlp_cancer"
MODELS = "clv_ref_mlp_models"
TOL = 0.01
SETTINGS = ('"hidden_layers": [100], "activation": "relu", "learning_rate": 0.001, '
            '"batch_size": 200, "max_epochs": 200, "l2": 0.0001, "tol": 0.0001, '
            '"n_iter_no_change": 10, "seed": 1')


def r2(y, p):
    import numpy as np
    y = np.asarray(y)
    p = np.asarray(p)
    return 1 - float(np.sum((y - p) ** 2)) / float(np.sum((y - y.mean()) ** 2))


def main():
    tap = _pg.Tap()
    try:
        import warnings
        import numpy as np
        from sklearn.datasets import load_breast_cancer, make_friedman1
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        from sklearn.preprocessing import StandardScaler
    except Exception as exc:   # noqa: BLE001 - anything here means we cannot run
        print("# %s: cannot load numpy/scikit-learn: %s" % (NAME, exc), file=sys.stderr)
        return 2
    warnings.simplefilter("ignore", ConvergenceWarning)
    _pg.connect_or_exit(NAME)

    x, y = make_friedman1(n_samples=N_TRAIN + N_TEST, n_features=P, noise=1.0, random_state=SEED)
    xtr, ytr, xte, yte = x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]
    cancer = load_breast_cancer()
    cxtr, cxte, cytr, cyte = train_test_split(cancer.data, cancer.target, test_size=0.3,
                                              random_state=SEED, stratify=cancer.target)
    try:
        _pg.load_table(FRIEDMAN, "id int PRIMARY KEY, train boolean, y float8, x float8[]",
                       [(i + 1, i < N_TRAIN, float(y[i]), list(x[i])) for i in range(len(y))])
        _pg.load_table(CANCER, "id int PRIMARY KEY, train boolean, y boolean, x float8[]",
                       [(i + 1, True, bool(cytr[i] == 1), list(cxtr[i])) for i in range(len(cytr))]
                       + [(len(cytr) + i + 1, False, bool(cyte[i] == 1), list(cxte[i]))
                          for i in range(len(cyte))])
        t0 = time.time()
        _pg.run("""
DROP TABLE IF EXISTS %(m)s;
CREATE TABLE %(m)s (name text PRIMARY KEY, m bytea);
SET max_parallel_workers_per_gather = 0;
INSERT INTO %(m)s SELECT 'friedman', clv_mlp_fit(y, x, '{%(s)s}') FROM %(f)s WHERE train;
INSERT INTO %(m)s SELECT 'cancer', clv_mlp_fit(y, x, '{%(s)s}') FROM %(c)s WHERE train;
INSERT INTO %(m)s SELECT 'cancer_early', clv_mlp_fit(y, x, '{%(s)s, "early_stopping": true}')
    FROM %(c)s WHERE train;
""" % {"m": MODELS, "f": FRIEDMAN, "c": CANCER, "s": SETTINGS})
        print("# clv fitted three networks in %.1f s" % (time.time() - t0))
        tap.ok(int(_pg.value("SELECT count(*) FROM %s" % MODELS)) == 3, "fitted three networks")
    except Exception as exc:   # noqa: BLE001
        tap.error("load the data and fit the networks", exc)
        tap.done()
        return 0

    def clv_scores(model, table):
        return np.array([float(r[0]) for r in _pg.rows(
            "SELECT clv_predict(m.m, d.x) FROM %s d, %s m WHERE m.name = '%s' AND NOT d.train ORDER BY d.id"
            % (table, MODELS, model))])

    def epochs(model):
        info = _pg.jsonb("SELECT clv_model_info(m) FROM %s WHERE name = '%s'" % (MODELS, model))
        return info["epochs"], info

    common = dict(hidden_layer_sizes=(100,), activation="relu", solver="adam", alpha=1e-4,
                  batch_size=200, learning_rate_init=0.001, max_iter=200, tol=1e-4,
                  n_iter_no_change=10, random_state=SEED)

    # ---- Friedman #1 ---------------------------------------------------------------
    try:
        clv_r2 = r2(yte, clv_scores("friedman", FRIEDMAN))
        scaler = StandardScaler().fit(xtr)
        sk = MLPRegressor(**common).fit(scaler.transform(xtr), ytr)
        sk_r2 = r2(yte, sk.predict(scaler.transform(xte)))
        n_epochs, _ = epochs("friedman")
        print("# Friedman #1 R^2: clv %.5f (%d epochs), sklearn %.5f (%d epochs)"
              % (clv_r2, n_epochs, sk_r2, sk.n_iter_))
        tap.ok(clv_r2 >= sk_r2 - TOL,
               "Friedman #1 R^2 %.4f at least MLPRegressor's %.4f - %g" % (clv_r2, sk_r2, TOL))
    except Exception as exc:   # noqa: BLE001
        tap.error("Friedman #1", exc)

    # ---- breast cancer -------------------------------------------------------------
    try:
        clv_auc = roc_auc_score(cyte, clv_scores("cancer", CANCER))
        scaler = StandardScaler().fit(cxtr)
        sk = MLPClassifier(**common).fit(scaler.transform(cxtr), cytr)
        sk_auc = roc_auc_score(cyte, sk.predict_proba(scaler.transform(cxte))[:, 1])
        n_epochs, _ = epochs("cancer")
        print("# breast cancer AUC: clv %.5f (%d epochs), sklearn %.5f (%d epochs)"
              % (clv_auc, n_epochs, sk_auc, sk.n_iter_))
        tap.ok(clv_auc >= sk_auc - TOL,
               "breast cancer AUC %.4f at least MLPClassifier's %.4f - %g" % (clv_auc, sk_auc, TOL))
        early_auc = roc_auc_score(cyte, clv_scores("cancer_early", CANCER))
        n_epochs, info = epochs("cancer_early")
        scores = info["validation_scores"]
        best = info["best_epoch"]
        print("# breast cancer AUC with early stopping: clv %.5f, best epoch %d of %d"
              % (early_auc, best, n_epochs))
        tap.ok(len(scores) == n_epochs and scores[best - 1] == max(scores)
               and scores.index(max(scores)) == best - 1,
               "early stopping keeps the first epoch of the best validation score",
               "best epoch %d, scores %s" % (best, scores))
        tap.ok(early_auc >= sk_auc - 2 * TOL,
               "breast cancer AUC with early stopping %.4f at least MLPClassifier's %.4f - %g"
               % (early_auc, sk_auc, 2 * TOL))
    except Exception as exc:   # noqa: BLE001
        tap.error("breast cancer", exc)

    try:
        _pg.run("DROP TABLE IF EXISTS %s, %s, %s;\n" % (FRIEDMAN, CANCER, MODELS))
    except Exception as exc:   # noqa: BLE001
        print("# cleanup failed: %s" % exc)
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
