#!/usr/bin/python3
"""clv_qini on random uplift data against an independent numpy computation
of the same definition: the normalised Qini coefficient.

Rows are taken by score, descending, one group of tied scores at a time.
After each group, with Nt, Nc the treated and control rows so far and Yt, Yc
their summed outcomes, the Qini curve is at x = Nt + Nc and
Q = Yt - Yc * Nt / Nc (Q = Yt while Nc = 0), starting from (0, 0).  The
coefficient is the curve's trapezoidal area less that of the straight line
from (0, 0) to the curve's end, over the same quantity for the perfect
ranking (outcome for treated rows, -outcome for control rows, as score).

Run by /usr/bin/python3.  Prints TAP lines; exits 0 after printing whatever
the results, non-zero only when the check cannot run at all.
"""

import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _pg  # noqa: E402

NAME = "qini_reference"
TABLE = "clv_ref_qini"
TOL = 1e-12             # the coefficient, relative


def excess_area(key, treated, outcome):
    """Area between the Qini curve ranked by key (descending, ties grouped)
    and the random line."""
    import numpy as np

    order = np.argsort(-key, kind="stable")
    key, treated, outcome = key[order], treated[order], outcome[order]
    # last row of each tie group
    ends = np.flatnonzero(np.append(key[1:] != key[:-1], True))
    nt = np.cumsum(treated)[ends].astype(float)
    nc = (ends + 1) - nt
    yt = np.cumsum(np.where(treated, outcome, 0.0))[ends]
    yc = np.cumsum(np.where(treated, 0.0, outcome))[ends]
    ratio = np.divide(nt, nc, out=np.zeros_like(nt), where=nc > 0)
    q = np.concatenate(([0.0], yt - yc * ratio))
    x = np.concatenate(([0.0], ends + 1.0))
    area = float(np.sum(np.diff(x) * (q[1:] + q[:-1]) / 2))
    return area - x[-1] * q[-1] / 2


def qini(score, treated, outcome):
    import numpy as np

    perfect = np.where(treated, outcome, -outcome)
    return excess_area(score, treated, outcome) / excess_area(perfect, treated, outcome)


def datasets():
    """(description, score, treated, outcome) on seeded random data."""
    import numpy as np

    rng = np.random.default_rng(20071)
    out = []

    # spend: a treatment effect growing with the true uplift, a noisy score
    n = 5000
    uplift = rng.gamma(2.0, 5.0, n)
    treated = rng.random(n) < 0.4
    outcome = rng.gamma(2.0, 20.0, n) + np.where(treated, uplift, 0.0)
    score = uplift + rng.normal(0.0, 5.0, n)
    out.append(("continuous outcome, distinct scores", score, treated, outcome))

    # conversions: binary outcome, a score rounded to one decimal (many ties)
    n = 8000
    propensity = rng.random(n)
    treated = rng.random(n) < 0.5
    outcome = (rng.random(n) < 0.1 + np.where(treated, 0.2 * propensity, 0.0)).astype(float)
    score = np.round(propensity + rng.normal(0.0, 0.3, n), 1)
    out.append(("binary outcome, scores tied in groups", score, treated, outcome))

    # a few score levels only, negative outcomes too
    n = 3000
    level = rng.integers(0, 5, n)
    treated = rng.random(n) < 0.3
    outcome = rng.normal(0.0, 3.0, n) + np.where(treated, level - 1.0, 0.0)
    out.append(("five score levels, outcomes of both signs", level.astype(float), treated, outcome))
    return out


def main():
    tap = _pg.Tap()
    try:
        import numpy as np
    except ImportError as exc:
        print("# %s: cannot run: %s" % (NAME, exc), file=sys.stderr)
        sys.exit(2)
    _pg.connect_or_exit(NAME)

    for k, (description, score, treated, outcome) in enumerate(datasets()):
        try:
            _pg.load_table(TABLE, "score float8, treated boolean, outcome float8",
                           [(float(s), bool(t), float(y))
                            for s, t, y in zip(score, treated, outcome)])
            got = float(_pg.value("SELECT clv_qini(score, treated, outcome) FROM %s" % TABLE))
            tap.close([got], [qini(score, treated, outcome)], TOL, "%s: Qini vs numpy" % description)
            perfect = float(_pg.value(
                "SELECT clv_qini(CASE WHEN treated THEN outcome ELSE -outcome END, treated, outcome) FROM %s"
                % TABLE))
            tap.close([perfect], [1.0], TOL, "%s: perfect ranking gives 1" % description)
            inverted = float(_pg.value("SELECT clv_qini(-score, treated, outcome) FROM %s" % TABLE))
            tap.close([inverted], [qini(-score, treated, outcome)], TOL,
                      "%s: inverted ranking vs numpy" % description)
        except (RuntimeError, ValueError) as exc:
            tap.error(description, exc)
    try:
        _pg.run("DROP TABLE IF EXISTS %s;\n" % TABLE)
    except RuntimeError:
        pass
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
