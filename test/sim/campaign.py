#!/usr/bin/python3
"""A campaign simulator: how much true incremental value a marketing budget
earns when clv decides whom to target, against simple rules and the ceiling.

Customers are drawn from the BG/NBD and Gamma-Gamma models with the
parameters published for CDNOW (weeks), so their histories look like
CDNOW's: mostly one-time buyers, a long tail of frequent ones.  Each has a
true purchase rate, dropout probability and mean spend, hence a true value
over the next year (V: expected purchases of a customer still alive, times
their mean spend).  A campaign offer, costing 1 plus 10 % of the customer's
mean observed spend, makes a customer respond (buy within four weeks) with
probability P0 untreated and P0 + tau treated.  The true uplift tau is
largest for customers who are alive but would not have bought anyway, and
negative for the most frequent buyers, whom the offer annoys.  The true
incremental value of treating a customer is tau * V.

First a randomised campaign on one population (half treated) yields the
data of the recipe in doc/decisions.md: purchase and spend models fitted on
the histories give each customer's lifetime value, two boosted models of
response (treated rows, control rows) give the estimated uplift, and the
gain is their difference times the lifetime value.  Then, on a second
population from the same process, a budget is spent four ways, and the true
incremental value each earns is reported:

  (a) uniform:       every customer treated with the same probability;
  (b) top value:     the customers of highest predicted lifetime value;
  (c) threshold:     clv_budget_threshold on the estimated gain;
  (d) true uplift:   clv_budget_threshold on the true gain (the ceiling).

Run by /usr/bin/python3 against the test cluster (see test/reference/_pg.py).
Prints TAP lines.  --table prints the Markdown table of doc/decisions.md;
without it the run also checks that table against what it computed.
--smoke draws fewer customers (the table check is then skipped).
"""

import math
import os
import re
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))

import _pg  # noqa: E402

NAME = "campaign"
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOC = os.path.join(ROOT, "doc", "decisions.md")

# BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma (Fader & Hardie 2013) on CDNOW, in weeks
R, ALPHA, A, B = 0.243, 4.414, 0.793, 2.426
P_GG, Q_GG, GAMMA_GG = 6.25, 3.74, 15.44
HORIZON = 52            # weeks of future value
WINDOW = 4              # weeks in which a customer responds to the campaign
SEED = 20261207
BUDGET_SHARES = (0.02, 0.05, 0.10, 0.20, 0.50)   # of the cost of treating everyone
DOC_TOLERANCE = 0.005   # relative, between the table in the document and a run


def draw_customers(rng, n):
    """Histories and true quantities of n customers, as numpy arrays."""
    import numpy as np

    t_cal = rng.uniform(27.0, 39.0, n)             # weeks since the first purchase
    lam = rng.gamma(R, 1.0 / ALPHA, n)
    p = rng.beta(A, B, n)
    nu = rng.gamma(Q_GG, 1.0 / GAMMA_GG, n)
    x = np.zeros(n, dtype=np.int64)
    t_x = np.zeros(n)
    now = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    active = np.ones(n, dtype=bool)                # still buying within the calibration
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1.0, idx.size) / lam[idx]
        inside = now[idx] <= t_cal[idx]
        bought = idx[inside]
        active[idx[~inside]] = False
        x[bought] += 1
        t_x[bought] = now[bought]
        dies = rng.random(bought.size) < p[bought]   # BG/NBD: dropout after a purchase
        alive[bought[dies]] = False
        active[bought[dies]] = False
    spend_sum = rng.gamma(np.maximum(x, 1) * P_GG, 1.0 / nu)
    monetary = np.where(x > 0, spend_sum / np.maximum(x, 1), 0.0)
    mean_spend = P_GG / nu
    # an alive customer's expected purchases over the horizon: (1 - exp(-lam p t)) / p
    value = alive * (1.0 - np.exp(-lam * p * HORIZON)) / p * mean_spend
    quiet = np.exp(-lam * WINDOW)                  # chance of no purchase in the window
    p0 = alive * (1.0 - quiet)
    tau = alive * (0.3 * quiet - 0.08 * (x >= 8))
    tau = np.clip(p0 + tau, 0.0, 1.0) - p0
    cost = 1.0 + 0.1 * monetary
    return {"x": x, "t_x": t_x, "t_cal": t_cal, "monetary": monetary, "value": value,
            "p0": p0, "tau": tau, "cost": cost}


def load(name, c, treated=None, response=None):
    rows = []
    for i in range(len(c["x"])):
        row = [i + 1, int(c["x"][i]), float(c["t_x"][i]), float(c["t_cal"][i]),
               float(c["monetary"][i]), float(c["cost"][i]),
               float(c["tau"][i] * c["value"][i])]
        if treated is not None:
            row += [bool(treated[i]), bool(response[i])]
        rows.append(row)
    columns = ("customer_id bigint, frequency float8, recency float8, t float8, "
               "monetary float8, cost float8, true_gain float8")
    if treated is not None:
        columns += ", treated boolean, responded boolean"
    _pg.load_table(name, columns, rows)


# The recipe of doc/decisions.md: lifetime value from the purchase and spend
# models, response models of the treated and of the control rows, and the
# gain: their difference times the lifetime value.
FEATURES = "ARRAY[frequency, recency, t, monetary, clv_palive(m.purchases, frequency, recency, t)]"
FIT = """
DROP TABLE IF EXISTS clv_sim_models;
CREATE TABLE clv_sim_models AS
SELECT clv_bgnbd_fit(frequency, recency, t) AS purchases,
       clv_gammagamma_fit(frequency, monetary) FILTER (WHERE frequency > 0) AS spend
FROM clv_sim_experiment;
ALTER TABLE clv_sim_models ADD COLUMN treated bytea, ADD COLUMN control bytea;
UPDATE clv_sim_models m SET
    treated = (SELECT clv_gbm_fit(responded, %(f)s, '{"n_rounds": 150, "max_depth": 3, "learning_rate": 0.05, "min_samples_leaf": 50}')
               FROM clv_sim_experiment WHERE treated),
    control = (SELECT clv_gbm_fit(responded, %(f)s, '{"n_rounds": 150, "max_depth": 3, "learning_rate": 0.05, "min_samples_leaf": 50}')
               FROM clv_sim_experiment WHERE NOT treated);
""" % {"f": FEATURES}

SCORE = """
DROP TABLE IF EXISTS clv_sim_scored;
CREATE TABLE clv_sim_scored AS
SELECT c.customer_id, c.cost, c.true_gain, v.clv, u.uplift, u.uplift * v.clv AS gain
FROM clv_sim_target c CROSS JOIN clv_sim_models m,
     LATERAL (SELECT %(f)s AS x) f,
     LATERAL (SELECT clv_predict(m.treated, f.x) - clv_predict(m.control, f.x) AS uplift) u,
     LATERAL (SELECT clv_lifetime_value(m.purchases, m.spend, frequency, recency, t, monetary,
                                        '%(h)s weeks', '7 days', 0) AS clv) v;
""" % {"f": FEATURES, "h": HORIZON}

# the true value each strategy earns with budget :b, and what it spends
STRATEGIES = """
WITH budget AS (SELECT %(b)r::float8 AS b),
ranked AS (SELECT *, sum(cost) OVER (ORDER BY clv DESC, customer_id) AS spent_before_and_this
           FROM clv_sim_scored),
lambda AS (SELECT clv_budget_threshold(gain, cost, b) AS estimated,
                  clv_budget_threshold(true_gain, cost, b) AS ceiling
           FROM clv_sim_scored, budget GROUP BY b)
SELECT (SELECT b / sum(cost) * sum(true_gain) FROM clv_sim_scored, budget GROUP BY b),
       (SELECT b FROM budget),
       (SELECT coalesce(sum(true_gain), 0) FROM ranked, budget WHERE spent_before_and_this <= b),
       (SELECT coalesce(sum(cost), 0) FROM ranked, budget WHERE spent_before_and_this <= b),
       (SELECT coalesce(sum(true_gain), 0) FROM clv_sim_scored, lambda WHERE gain - estimated * cost > 0),
       (SELECT coalesce(sum(cost), 0) FROM clv_sim_scored, lambda WHERE gain - estimated * cost > 0),
       (SELECT coalesce(sum(true_gain), 0) FROM clv_sim_scored, lambda WHERE true_gain - ceiling * cost > 0),
       (SELECT coalesce(sum(cost), 0) FROM clv_sim_scored, lambda WHERE true_gain - ceiling * cost > 0)
"""


def simulate(n):
    import numpy as np

    rng = np.random.default_rng(SEED)
    experiment = draw_customers(rng, n)
    treated = rng.random(n) < 0.5
    response = rng.random(n) < experiment["p0"] + treated * experiment["tau"]
    target = draw_customers(rng, n)
    # a second randomised campaign on the target population, to measure the
    # estimated uplift's ranking with clv_qini
    again = rng.random(n) < 0.5
    answered = rng.random(n) < target["p0"] + again * target["tau"]
    load("clv_sim_experiment", experiment, treated, response)
    load("clv_sim_target", target)
    _pg.load_table("clv_sim_holdout", "customer_id bigint, treated boolean, responded boolean",
                   [[i + 1, bool(again[i]), bool(answered[i])] for i in range(n)])
    _pg.run(FIT)
    _pg.run(SCORE)
    total_cost = float(target["cost"].sum())
    results = []
    for share in BUDGET_SHARES:
        budget = share * total_cost
        v = [float(s) for s in _pg.rows(STRATEGIES % {"b": budget})[0]]
        results.append({"share": share, "budget": budget,
                        "uniform": (v[0], v[1]), "top_value": (v[2], v[3]),
                        "threshold": (v[4], v[5]), "true_uplift": (v[6], v[7])})
    return results


def qini_of_estimate():
    """The Qini coefficient of the estimated uplift on a fresh randomised
    campaign drawn for the target population (the truth is known, so the
    outcomes are drawn from it)."""
    return float(_pg.value("SELECT clv_qini(uplift, treated, responded::int::float8) "
                           "FROM clv_sim_scored JOIN clv_sim_holdout USING (customer_id)"))


def table(results):
    lines = ["| budget (share of treating all) | (a) uniform | (b) top predicted value "
             "| (c) clv_budget_threshold on estimated gain | (d) true uplift (ceiling) | (c) ÷ (d) |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append("| %.0f (%g %%) | %.0f | %.0f | %.0f | %.0f | %.0f %% |" % (
            r["budget"], 100 * r["share"], r["uniform"][0], r["top_value"][0],
            r["threshold"][0], r["true_uplift"][0],
            100 * r["threshold"][0] / r["true_uplift"][0]))
    return "\n".join(lines)


def documented_rows():
    """The numbers of the table in doc/decisions.md, row by row."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- campaign-table -->\n(.*?)\n<!-- /campaign-table -->", text, re.S)
    if not m:
        return None
    out = []
    for line in m.group(1).splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        out.append([float(cells[0].split()[0])] + [float(c) for c in cells[1:5]])
    return out


def main():
    smoke = "--smoke" in sys.argv
    _pg.connect_or_exit(NAME)
    tap = _pg.Tap()
    n = 5000 if smoke else 40000
    try:
        results = simulate(n)
    except RuntimeError as exc:
        tap.error("simulate a campaign on %d + %d customers" % (n, n), exc)
        tap.done()
        return
    fitted = _pg.jsonb("SELECT clv_model_info(purchases) -> 'params' FROM clv_sim_models")
    for name, true in (("r", R), ("alpha", ALPHA), ("a", A), ("b", B)):
        tap.ok(abs(fitted[name] / true - 1) < 0.1,
               "BG/NBD on the simulated histories recovers %s within 10 %%" % name,
               "fitted %.17g, true %g" % (fitted[name], true))
    qini = qini_of_estimate()
    tap.ok(qini > 0.05, "the estimated uplift ranks a fresh campaign's customers (Qini %.3f)" % qini)
    if "--table" in sys.argv:
        print(table(results))
    for r in results:
        b = r["budget"]
        label = "budget %g %%" % (100 * r["share"])
        for key in ("top_value", "threshold", "true_uplift"):
            tap.ok(r[key][1] <= b, "%s: %s spends at most the budget" % (label, key),
                   "spent %.17g of %.17g" % (r[key][1], b))
        best = max(r[k][0] for k in ("uniform", "top_value", "threshold"))
        tap.ok(r["true_uplift"][0] >= best - 1e-9 * abs(best),
               "%s: the true uplifts earn the most" % label, str(r))
        tap.ok(r["threshold"][0] > r["uniform"][0],
               "%s: targeting by estimated gain beats spending uniformly" % label, str(r))
    if not smoke:
        want = documented_rows()
        got = [[r["budget"], r["uniform"][0], r["top_value"][0], r["threshold"][0],
                r["true_uplift"][0]] for r in results]
        if want is None:
            tap.ok(False, "doc/decisions.md has the campaign table", "no table between the markers")
        else:
            tap.close([v for row in got for v in row], [v for row in want for v in row],
                      DOC_TOLERANCE, "the table in doc/decisions.md is what the simulator computes",
                      floor=1.0)
    tap.done()


if __name__ == "__main__":
    main()
