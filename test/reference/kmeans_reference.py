#!/usr/bin/python3
"""clv_kmeans_fit against scikit-learn's KMeans(algorithm="lloyd") with the
same number of restarts, on data drawn here with numpy (fixed seeds):
Gaussian mixtures, well separated and overlapping, of several k and
dimensions, and the CDNOW customers' summary features (frequency, recency,
age, mean spend) computed from test/data without clv.

For each data set:
  - clv's inertia is at most scikit-learn's plus 0.1 %;
  - clv's reported inertia and simplified silhouette equal numpy's
    recomputation from clv's own centroids;
  - clv_predict gives every training row its nearest centroid (numpy's
    argmin), and the cluster sizes are the counts of those labels;
  - on well-separated data the partition is scikit-learn's up to
    relabelling (a contingency table with one non-zero cell per row and
    column) and the centroids agree after relabelling;
  - with standardize, the comparison is with KMeans on StandardScaler'd
    data (population standard deviation), clv's centroids mapped back to
    the original units by its stored means and scales.

Run by /usr/bin/python3.  Prints TAP lines; exits 0 after printing whatever
the results, non-zero only when the check cannot run at all.
"""

import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _pg  # noqa: E402
import _cdnow  # noqa: E402

NAME = "kmeans_reference"
TABLE = "clv_ref_kmeans"
INERTIA_SLACK = 1e-3    # clv may be worse than scikit-learn by this much, relative
TOL = 1e-9              # recomputations from clv's own centroids, relative


def mixture(rng, n, k, d, spread, sd):
    """n rows around k centres drawn N(0, spread²) in d dimensions, noise sd."""
    centres = rng.normal(0.0, spread, (k, d))
    labels = rng.integers(0, k, n)
    return centres[labels] + rng.normal(0.0, sd, (n, d))


def datasets():
    """(description, x, k, n_init, standardize, well_separated)."""
    import numpy as np

    rng = np.random.default_rng(90417)
    out = [
        ("separated k=4 d=2", mixture(rng, 2000, 4, 2, 20.0, 0.5), 4, 1, False, True),
        ("separated k=6 d=5", mixture(rng, 5000, 6, 5, 15.0, 0.7), 6, 3, False, True),
        ("overlapping k=5 d=3", mixture(rng, 4000, 5, 3, 2.0, 1.5), 5, 10, False, False),
        ("overlapping k=8 d=8", mixture(rng, 10000, 8, 8, 1.5, 1.0), 8, 10, False, False),
        ("overlapping k=3 d=2, one restart", mixture(rng, 3000, 3, 2, 1.0, 1.0), 3, 1, False, False),
    ]
    scaled = mixture(rng, 3000, 3, 3, 10.0, 0.5) * np.array([1.0, 100.0, 0.01]) + [0, 5e3, -7]
    out.append(("separated k=3 d=3, standardize, scales 1e-2 to 1e2", scaled, 3, 3, True, True))
    cbs = np.array([(x, t_x, t_cal, m_x) for _c, x, t_x, t_cal, _xs, m_x in _cdnow.load_cbs()],
                   dtype=float)
    out.append(("CDNOW customers (x, t_x, T, m_x) k=4, standardize", cbs, 4, 10, True, False))
    out.append(("CDNOW customers (x, t_x, T, m_x) k=6", cbs, 6, 10, False, False))
    return out


def sklearn_fit(x, k, n_init, standardize):
    """scikit-learn's centroids (original units), labels and inertia (clustered space)."""
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    z = x
    scaler = None
    if standardize:
        scaler = StandardScaler()       # population standard deviation; zero becomes 1
        z = scaler.fit_transform(x)
    km = KMeans(n_clusters=k, n_init=n_init, algorithm="lloyd", random_state=0).fit(z)
    centres = km.cluster_centers_
    if scaler is not None:
        centres = scaler.inverse_transform(centres)
    return centres, km.labels_, km.inertia_


def space(x, info):
    """x in the space clv clustered: z-scores by the model's means and scales."""
    import numpy as np

    st = info["standardization"]
    if st is None:
        return x
    return (x - np.array(st["means"])) / np.array(st["scales"])


def check_dataset(tap, description, x, k, n_init, standardize, separated):
    import numpy as np

    _pg.load_table(TABLE, "i int, x float8[]", [(i, list(map(float, r))) for i, r in enumerate(x)])
    options = '{"n_init": %d, "seed": 1, "standardize": %s}' % (n_init, "true" if standardize else "false")
    _pg.run("DROP TABLE IF EXISTS %s_model;\n"
            "CREATE TABLE %s_model AS SELECT clv_kmeans_fit(x, %d, '%s') AS m FROM %s;\n"
            % (TABLE, TABLE, k, options, TABLE))
    info = _pg.jsonb("SELECT clv_model_info(m) FROM %s_model" % TABLE)
    predicted = np.array([int(float(v)) - 1 for (v,) in _pg.rows(
        "SELECT clv_predict(m, x) FROM %s, %s_model ORDER BY i" % (TABLE, TABLE))])

    centres = np.array(info["centroids"])
    z, zc = space(x, info), space(centres, info)
    d2 = ((z[:, None, :] - zc[None, :, :]) ** 2).sum(axis=2)
    nearest = d2.argmin(axis=1)
    own = d2[np.arange(len(z)), nearest]
    tap.ok(bool((predicted == nearest).all()),
           "%s: clv_predict gives every row its nearest centroid" % description,
           "%d rows differ" % int((predicted != nearest).sum()))
    tap.ok(list(np.bincount(predicted, minlength=k)) == [int(s) for s in info["sizes"]],
           "%s: cluster sizes are the counts of the labels" % description)
    tap.close([info["inertia"]], [float(own.sum())], TOL,
              "%s: inertia recomputed from clv's centroids" % description)
    if k > 1:
        other = np.sort(d2, axis=1)[:, 1]
        a, b = np.sqrt(own), np.sqrt(other)
        m = np.maximum(a, b)
        sil = np.where(m > 0, (b - a) / np.where(m > 0, m, 1), 0.0).mean()
        tap.close([info["silhouette"]], [float(sil)], TOL,
                  "%s: simplified silhouette recomputed" % description)

    sk_centres, sk_labels, sk_inertia = sklearn_fit(x, k, n_init, standardize)
    ratio = info["inertia"] / sk_inertia
    tap.ok(ratio <= 1 + INERTIA_SLACK,
           "%s: inertia %.6g vs scikit-learn's %.6g (ratio %.6f, %d iterations vs n_init %d)"
           % (description, info["inertia"], sk_inertia, ratio, info["iterations"], n_init),
           "clv worse by more than %g" % INERTIA_SLACK)
    if separated:
        table = np.zeros((k, k), dtype=int)
        np.add.at(table, (predicted, sk_labels), 1)
        one_to_one = bool(((table > 0).sum(axis=0) == 1).all() and ((table > 0).sum(axis=1) == 1).all())
        tap.ok(one_to_one, "%s: the partition is scikit-learn's up to relabelling" % description,
               "contingency table %s" % table.tolist())
        if one_to_one:
            match = table.argmax(axis=1)        # clv cluster -> scikit-learn label
            tap.close(list(centres.ravel()), list(sk_centres[match].ravel()), 1e-9,
                      "%s: centroids equal scikit-learn's after relabelling" % description,
                      floor=float(np.abs(x).max()) * 1e-3)


def main():
    tap = _pg.Tap()
    try:
        import numpy as np  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:
        print("# %s: cannot run: %s" % (NAME, exc), file=sys.stderr)
        sys.exit(2)
    _pg.connect_or_exit(NAME)
    for description, x, k, n_init, standardize, separated in datasets():
        try:
            check_dataset(tap, description, x, k, n_init, standardize, separated)
        except (RuntimeError, ValueError, KeyError) as exc:
            tap.error(description, exc)
    try:
        _pg.run("DROP TABLE IF EXISTS %s;\nDROP TABLE IF EXISTS %s_model;\n" % (TABLE, TABLE))
    except RuntimeError:
        pass
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
