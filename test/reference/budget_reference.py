#!/usr/bin/python3
"""clv_allocate_budget and clv_budget_threshold against independent solvers.

Allocation: on hundreds of random instances (curves that are not concave,
collinear points, duplicate spends, points at spend 0, bounds, budgets above
every maximum, scales from 1e-6 to 1e6), the total response (or response -
spend for the net objective) equals the optimum of the same linear programme
solved by scipy's linprog (HiGHS), formulated independently of the greedy:
for each segment, convex-combination weights over its points (plus (0, 0)
when no point has spend 0) summing to 1 and a spend w >= 0 that buys nothing,

    maximise    sum_s sum_p l_sp y_sp  (- spend_s for the net objective)
    subject to  spend_s = sum_p l_sp x_sp + w_s,   sum_p l_sp = 1,   l, w >= 0,
                min_s <= spend_s <= max_s,          sum_s spend_s <= budget.

Budgets below the minimum spends must raise 22023.  Without interpolation the
result equals enumeration of every combination of levels on small instances.

Threshold: on 10^4 to 10^5 options, with and without customer groups, the
rule "for each customer the option with the largest gain - lambda * cost when
positive, ties to the cheaper" (in double arithmetic, as SQL computes it)
spends at most the budget and reaches the LP relaxation's optimum (linprog)
less the largest single gain.

Run by /usr/bin/python3.  Prints TAP lines; exits 0 after printing whatever
the results, non-zero only when the check cannot run at all.
"""

import itertools
import json
import math
import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _pg  # noqa: E402

NAME = "budget_reference"
TOL = 1e-9              # total response against linprog, relative
N_LP = 300              # random allocation instances
N_KNAPSACK = 150        # knapsack instances against enumeration


# ---- random allocation instances ---------------------------------------------

def random_instance(rng, small=False):
    """(segments {name: [(spend, response)]}, budget, options dict)."""
    n_seg = int(rng.integers(1, 4 if small else 7))
    x_scale = 10.0 ** int(rng.integers(-6, 7))
    y_scale = 10.0 ** int(rng.integers(-6, 7))
    segments = {}
    for s in range(n_seg):
        name = "seg %d" % s if s % 2 else "s%d" % s
        k = int(rng.integers(1, 5 if small else 9))
        if small or rng.random() < 0.3:
            # whole levels: duplicates and collinear points happen
            xs = rng.integers(0, 12, k).astype(float)
            ys = rng.integers(-2, 20, k).astype(float)
        else:
            xs = rng.random(k) * 10
            ys = rng.random(k) * 20 - (rng.random(k) < 0.1) * 5
            if rng.random() < 0.3:      # collinear points
                xs = rng.integers(1, 10, k).astype(float)
                ys = xs * 1.5
        segments[name] = [(float(x) * x_scale, float(y) * y_scale) for x, y in zip(xs, ys)]
    options = {}
    if rng.random() < 0.3:
        options["objective"] = "net"
        # make net returns possible: slopes of order 1
        segments = {k: [(x, y * x_scale / y_scale) for x, y in v] for k, v in segments.items()}
    lo, hi = {}, {}
    for name, pts in segments.items():
        top = max(x for x, _ in pts)
        if rng.random() < 0.25:
            lo[name] = float(rng.random() * top * 0.6)
        if rng.random() < 0.25:
            hi[name] = float(lo.get(name, 0) + rng.random() * top)
    if lo:
        options["min"] = lo
    if hi:
        options["max"] = hi
    total = sum(max(x for x, _ in pts) for pts in segments.values())
    budget = float(sum(lo.values()) + rng.random() * 1.3 * total)
    if rng.random() < 0.1:
        budget = float(total * 2)       # above every maximum
    return segments, budget, options


def lp_optimum(segments, budget, options):
    """Optimal objective of the LP above, via linprog on data scaled to 1."""
    import numpy as np
    from scipy.optimize import linprog

    net = options.get("objective") == "net"
    xs_all = [x for pts in segments.values() for x, _ in pts] + [budget]
    ys_all = [abs(y) for pts in segments.values() for _, y in pts]
    sx = max(xs_all) or 1.0
    sy = max(ys_all) or 1.0
    if net:
        sy = sx = max(sx, sy)
    names = sorted(segments)
    cols = []       # (segment index, x, y) per weight, then one waste column per segment
    for i, name in enumerate(names):
        pts = list(segments[name])
        if not any(x == 0 for x, _ in pts):
            pts.append((0.0, 0.0))
        cols += [(i, x / sx, y / sy) for x, y in pts]
    n_w = len(cols)
    n = n_w + len(names)
    c = np.zeros(n)
    a_eq = np.zeros((len(names), n))
    spend_row = np.zeros((len(names), n))      # spend_s as a row over the variables
    for j, (i, x, y) in enumerate(cols):
        c[j] = -(y - (x if net else 0))
        a_eq[i, j] = 1
        spend_row[i, j] = x
    for i in range(len(names)):
        spend_row[i, n_w + i] = 1
        if net:
            c[n_w + i] = 1.0
    a_ub = [spend_row.sum(axis=0)]
    b_ub = [budget / sx]
    for i, name in enumerate(names):
        if name in options.get("max", {}):
            a_ub.append(spend_row[i])
            b_ub.append(options["max"][name] / sx)
        if name in options.get("min", {}):
            a_ub.append(-spend_row[i])
            b_ub.append(-options["min"][name] / sx)
    res = linprog(c, A_ub=np.array(a_ub), b_ub=np.array(b_ub), A_eq=a_eq,
                  b_eq=np.ones(len(names)), bounds=(0, None), method="highs",
                  options={"primal_feasibility_tolerance": 1e-10,
                           "dual_feasibility_tolerance": 1e-10})
    if res.status == 2:
        return None
    if res.status != 0:
        raise RuntimeError("linprog: %s" % res.message)
    return -res.fun * sy


def knapsack_brute_force(segments, budget, options):
    net = options.get("objective") == "net"
    choices = []
    for name in sorted(segments):
        levels = {}
        for x, y in segments[name]:
            levels[x] = max(levels.get(x, -math.inf), y)
        levels.setdefault(0.0, 0.0)
        lo = options.get("min", {}).get(name, 0.0)
        hi = options.get("max", {}).get(name, math.inf)
        choices.append([(x, y) for x, y in levels.items() if lo <= x <= hi])
    best = None
    for combo in itertools.product(*choices):
        spend = 0.0
        for x, _ in combo:
            spend += x
        if spend <= budget:
            value = sum(y - (x if net else 0) for x, y in combo)
            best = value if best is None else max(best, value)
    return best


def load_instances(table, instances):
    rows = []
    for k, (segments, budget, options) in enumerate(instances):
        opts = json.dumps(options).replace("\\", "\\\\").replace("\t", "\\t")
        for name, pts in segments.items():
            for x, y in pts:
                rows.append("%d\t%s\t%r\t%r\t%r\t%s\n" % (k, name, x, y, budget, opts))
    _pg.run("DROP TABLE IF EXISTS %s;\nCREATE TABLE %s (instance int, segment text, spend float8, "
            "response float8, budget float8, options jsonb);\nCOPY %s FROM STDIN;\n%s\\.\n"
            % (table, table, table, "".join(rows)))


def allocate_all(table):
    out = {}
    for k, text in _pg.rows("SELECT instance, clv_allocate_budget(segment, spend, response, budget, options) "
                            "FROM %s GROUP BY instance" % table):
        out[int(k)] = json.loads(text)
    return out


def objective(result):
    return result["response"] - (result["spend"] if result["objective"] == "net" else 0.0)


def check_allocation(tap, rng):
    instances, infeasible, wants = [], [], []
    while len(instances) < N_LP:
        inst = random_instance(rng)
        want = lp_optimum(*inst)
        if want is None:
            if len(infeasible) < 5:
                infeasible.append(inst)
            continue
        instances.append(inst)
        wants.append(want)
    while len(infeasible) < 5:
        segments, budget, options = random_instance(rng)
        minimums = sum(options.get("min", {}).values())
        if minimums > 0:
            inst = (segments, minimums * 0.99, options)
            if lp_optimum(*inst) is None:
                infeasible.append(inst)
    load_instances("clv_ref_budget", instances)
    got = allocate_all("clv_ref_budget")
    gots = [objective(got[k]) for k in range(len(instances))]
    floor = [max(1e-300, max(abs(y) for pts in s.values() for _, y in pts)) for s, _, _ in instances]
    worst = max(abs(g - w) / max(abs(w), f * 1e-3) for g, w, f in zip(gots, wants, floor))
    tap.measured.append(("allocation vs linprog, %d instances" % N_LP, worst))
    tap.ok(worst <= TOL, "allocation: %d random instances equal linprog's optimum (max rel diff %.3g, "
           "tolerance %g)" % (N_LP, worst, TOL))
    spent_ok = all(got[k]["spend"] <= inst[1] * (1 + 1e-12) for k, inst in enumerate(instances))
    tap.ok(spent_ok, "allocation: every total spend within its budget")
    bounds_ok = all(
        inst[2].get("min", {}).get(s["segment"], 0) * (1 - 1e-12) <= s["spend"]
        <= inst[2].get("max", {}).get(s["segment"], math.inf) * (1 + 1e-12)
        for k, inst in enumerate(instances) for s in got[k]["segments"])
    tap.ok(bounds_ok, "allocation: every segment's spend within its bounds")
    ordered = all([s["segment"] for s in got[k]["segments"]] ==
                  sorted(inst[0], key=lambda n: n.encode()) for k, inst in enumerate(instances))
    tap.ok(ordered, "allocation: segments by name, each once")

    for k, inst in enumerate(infeasible):
        load_instances("clv_ref_budget", [inst])
        try:
            allocate_all("clv_ref_budget")
            tap.ok(False, "infeasible instance %d raises an error" % k)
        except RuntimeError as exc:
            tap.ok("below the minimum spends" in str(exc),
                   "infeasible instance %d (budget below the minimums): error" % k, str(exc))


def check_knapsack(tap, rng):
    instances, wants = [], []
    while len(instances) < N_KNAPSACK:
        segments, budget, options = random_instance(rng, small=True)
        options["interpolate"] = False
        want = knapsack_brute_force(segments, budget, options)
        if want is None:
            continue
        instances.append((segments, budget, options))
        wants.append(want)
    load_instances("clv_ref_budget", instances)
    got = allocate_all("clv_ref_budget")
    gots = [objective(got[k]) for k in range(len(instances))]
    worst = _pg.max_rel_diff(gots, wants, 1e-300)
    tap.close(gots, wants, TOL, "no interpolation: %d instances equal enumeration" % N_KNAPSACK)
    levels_ok = all(
        any(x == s["spend"] for x, _ in inst[0][s["segment"]]) or s["spend"] == 0
        for k, inst in enumerate(instances) for s in got[k]["segments"])
    tap.ok(levels_ok and worst <= TOL, "no interpolation: every spend is a given level or 0")


# ---- threshold -------------------------------------------------------------------

def threshold_instances(rng):
    """(description, customer ids or None, gain, cost, budget)."""
    out = []
    n = 10000
    gain = rng.gamma(2.0, 10.0, n) - 5
    cost = rng.gamma(2.0, 2.0, n) + 0.01
    out.append(("10^4 single options", None, gain, cost, float(cost.sum() * 0.2)))
    n_c = 20000
    customer = np.repeat(np.arange(n_c), 3)
    cost = rng.gamma(2.0, 2.0, 3 * n_c) + 0.01
    gain = cost * rng.gamma(3.0, 1.0, 3 * n_c) - 2
    out.append(("2 x 10^4 customers x 3 offers", customer, gain, cost, float(n_c * 2.0)))
    counts = rng.integers(1, 6, 35000)
    customer = np.repeat(np.arange(len(counts)) * 7 - 50000, counts)
    m = len(customer)
    cost = np.round(rng.random(m) * 20 + 1, 1)
    gain = np.round(cost * rng.random(m) * 4 - 3, 2)
    out.append(("~10^5 options, 1 to 5 per customer, rounded values", customer, gain, cost,
                float(len(counts) * 3.0)))
    return out


def lp_relaxation(customer, gain, cost, budget):
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, vstack

    m = len(gain)
    rows = [csr_matrix((cost, (np.zeros(m, dtype=int), np.arange(m))), shape=(1, m))]
    b = [budget]
    if customer is not None:
        _, group = np.unique(customer, return_inverse=True)
        rows.append(csr_matrix((np.ones(m), (group, np.arange(m))), shape=(group.max() + 1, m)))
        b += [1.0] * (group.max() + 1)
    res = linprog(-gain, A_ub=vstack(rows).tocsr(), b_ub=np.array(b), bounds=(0, 1), method="highs")
    if res.status != 0:
        raise RuntimeError("linprog: %s" % res.message)
    return -res.fun


def apply_rule(customer, gain, cost, lam):
    """Spend and value of the rule at lam, in double arithmetic."""
    net = gain - lam * cost
    if customer is None:
        take = net > 0
        return math.fsum(cost[take]), math.fsum(gain[take])
    # per customer: the largest net, then the cheapest
    order = np.lexsort((cost, -net, customer))
    first = np.ones(len(order), dtype=bool)
    first[1:] = customer[order][1:] != customer[order][:-1]
    chosen = order[first]
    chosen = chosen[net[chosen] > 0]
    return math.fsum(cost[chosen]), math.fsum(gain[chosen])


def check_threshold(tap, rng):
    for description, customer, gain, cost, budget in threshold_instances(rng):
        try:
            if customer is None:
                _pg.load_table("clv_ref_threshold", "gain float8, cost float8",
                               [(float(g), float(c)) for g, c in zip(gain, cost)])
                call = "clv_budget_threshold(gain, cost, %r)" % budget
            else:
                _pg.load_table("clv_ref_threshold", "customer bigint, gain float8, cost float8",
                               [(int(k), float(g), float(c)) for k, g, c in zip(customer, gain, cost)])
                call = "clv_budget_threshold(gain, cost, %r, customer)" % budget
            lam = float(_pg.value("SELECT %s FROM clv_ref_threshold" % call))
            spend, value = apply_rule(customer, gain, cost, lam)
            lp = lp_relaxation(customer, gain, cost, budget)
            tap.ok(spend <= budget, "%s: the rule at lambda %.6g spends %.6f <= budget %.6f"
                   % (description, lam, spend, budget))
            tap.ok(value >= lp - gain.max(),
                   "%s: value %.6f >= LP optimum %.6f - largest gain %.4f"
                   % (description, value, lp, gain.max()))
            if customer is not None:
                sql_spend = float(_pg.value(
                    "SELECT coalesce(sum(cost), 0) FROM (SELECT DISTINCT ON (customer) customer, cost "
                    "FROM clv_ref_threshold WHERE gain - %r * cost > 0 "
                    "ORDER BY customer, gain - %r * cost DESC, cost) t" % (lam, lam)))
                tap.ok(abs(sql_spend - spend) <= 1e-9 * max(1.0, spend),
                       "%s: the documented SQL rule spends the same (%.6f)" % (description, sql_spend))
        except (RuntimeError, ValueError) as exc:
            tap.error(description, exc)


def main():
    global np
    tap = _pg.Tap()
    try:
        import numpy as np
        import scipy.optimize  # noqa: F401
    except ImportError as exc:
        print("# %s: cannot run: %s" % (NAME, exc), file=sys.stderr)
        sys.exit(2)
    _pg.connect_or_exit(NAME)
    rng = np.random.default_rng(4242)
    for part in (check_allocation, check_knapsack, check_threshold):
        try:
            part(tap, rng)
        except (RuntimeError, ValueError) as exc:
            tap.error(part.__name__, exc)
    try:
        _pg.run("DROP TABLE IF EXISTS clv_ref_budget, clv_ref_threshold;\n")
    except RuntimeError:
        pass
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
