#!/usr/bin/python3
"""The probabilistic models' predictions for extreme customers against mpmath.

Heavy buyers are where implementations fail: overflowing powers, Gauss
hypergeometric series that do not converge, differences of nearly equal
terms.  Customers with frequency up to 10,000, recency from half of T to T,
and T from 1 to 1,000 periods are scored by every prediction function of
BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma, with the models fitted on the
bundled CDNOW sample and from extreme parameters (one of them a Pareto/NBD
fit on data without dropout, s and β large together), and by those of
BG/NBD and Pareto/NBD with covariates whose coefficients move the parameters
far, and clv_lifetime_value of each with Gamma-Gamma; every value must be
finite and equal to the published closed form evaluated by mpmath at 60
significant digits, to 1e-8 relative.
A true value below the smallest double (1e-300 here) may come back as 0.

The closed forms: BG/NBD and its P(X(t) = x) from Fader, Hardie & Lee (2005),
"Counting your customers the easy way"; MBG/NBD as Batislam, Denizel &
Filiztekin (2007); Pareto/NBD's likelihood, P(alive) and expectation from
Fader & Hardie's note on the Pareto/NBD, DERT from Fader, Hardie & Lee
(2005), "RFM and CLV"; Gamma-Gamma from Fader & Hardie (2013).  The lifetime
value is the expected spend times P(alive) times the discounted purchases of
a customer alive now: each week's expected purchases discounted at the
week's end, or continuously (∫ e^(−ρτ) dF(τ), by mpmath's quadrature).

Run by /usr/bin/python3 (Debian's python3-mpmath).  Prints TAP lines; exits 0
after printing whatever the results, non-zero only when the check cannot run
at all.
"""

import json
import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _cdnow  # noqa: E402
import _pg  # noqa: E402

NAME = "extremes_reference"
TABLE = "clv_ref_extremes_cbs"
TOL = 1e-8              # relative
TINY = 1e-300           # below this a true value may underflow to 0
HORIZON = 52            # periods ahead for the expectations
WEEKLY_15 = "'7 days', 0.15"    # DERT's unit and annual rate
MONETARY = 35.0         # the lifetime value's customers' average spend

# (x, t_x, T): heavy and light buyers, recency T/2 and T, plus the customer at
# which CLVTools' Pareto/NBD P(alive) was reported as NaN
CUSTOMERS = ([(0, 0.0, T) for T in (1.0, 10.0, 100.0, 1000.0)]
             + [(x, f * T, T) for x in (1, 10, 100, 1000, 10000)
                for T in (1.0, 10.0, 100.0, 1000.0) for f in (0.5, 1.0)]
             + [(221, 103.4, 103.6)])
# heavy buyers of a few weeks, for the lifetime value over 51 weeks
HEAVY = [(236, 8.067 / 2, 8.067), (240, 8.511 / 2, 8.511), (150, 2.0, 4.0), (300, 20.0, 20.0)]
SPEND = [(x, m) for x in (1, 10, 100, 1000, 10000) for m in (0.01, 35.0, 1e5)]
PMF = [(t, k) for t in (1.0, 52.0, 1000.0) for k in (0, 1, 5, 50, 500)]
# P(X = n) in the next HORIZON periods given a history
HISTORIES = [(0, 0.0, 1000.0), (100, 50.0, 100.0), (221, 103.4, 103.6), (10000, 500.0, 1000.0),
             (10000, 1.0, 1.0)]
COUNTS = (0, 1, 100, 10000)


def main():
    tap = _pg.Tap()
    try:
        import mpmath as mp
    except ImportError as exc:
        print("# %s: cannot import mpmath: %s" % (NAME, exc), file=sys.stderr)
        return 2
    mp.mp.dps = 60
    _pg.connect_or_exit(NAME)
    try:
        _pg.load_table(TABLE, "cust int, x float8, t_x float8, t_cal float8, x_star float8, m_x float8",
                       _cdnow.load_cbs())
    except Exception as exc:   # noqa: BLE001
        tap.error("%s: load the CDNOW summary" % NAME, exc)
        tap.done()
        return 0

    def params(fit, args):
        info = _pg.jsonb("SELECT clv_model_info(%s(%s)) FROM %s" % (fit, args, TABLE))
        return {k: mp.mpf(repr(v)) for k, v in info["params"].items()}

    # ---- the closed forms ----------------------------------------------------
    def hyp2f1(a, b, c, z):
        return mp.hyp2f1(a, b, c, z, maxterms=10 ** 6)

    def bgnbd_palive(p, x, tx, T, modified):
        r, al, a, b = p["r"], p["alpha"], p["a"], p["b"]
        if x == 0 and not modified:
            return mp.mpf(1)
        return 1 / (1 + a / (b + x - 1 + modified) * ((al + T) / (al + tx)) ** (r + x))

    def bgnbd_alive_factor(p, t, x, T, modified=0):
        # the expected purchases of a customer alive now
        r, al, a, b, k = p["r"], p["alpha"], p["a"], p["b"], modified
        return ((a + b + x - 1 + k) / (a - 1)
                * (1 - ((al + T) / (al + T + t)) ** (r + x)
                   * hyp2f1(r + x, b + x + k, a + b + x - 1 + k, t / (al + T + t))))

    def bgnbd_expected(p, t, x, tx, T, modified):
        if p["a"] == 1:
            # the closed form is 0/0 at a = 1 and continuous there: its limit,
            # within 1e-20 at 60 digits
            side = lambda e: bgnbd_expected(dict(p, a=1 + e), t, x, tx, T, modified)  # noqa: E731
            return (side(mp.mpf("1e-20")) + side(mp.mpf("-1e-20"))) / 2
        return bgnbd_alive_factor(p, t, x, T, modified) * bgnbd_palive(p, x, tx, T, modified)

    def bgnbd_pmf(p, t, n, modified):
        r, al, a, b = p["r"], p["alpha"], p["a"], p["b"]
        k = modified
        nbd = lambda j: (mp.gamma(r + j) / (mp.gamma(r) * mp.factorial(j))  # noqa: E731
                         * (al / (al + t)) ** r * (t / (al + t)) ** j)
        first = mp.beta(a, b + n + k) / mp.beta(a, b) * nbd(n)
        if n == 0 and not modified:
            return first
        # 1 − Σ_{j<n} NB(j), the NBD's P(N ≥ n), as mpmath's regularised
        # incomplete beta: the sum itself cancels beyond even 60 digits
        at_least_n = mp.betainc(n, r, 0, t / (al + t), regularized=True) if n > 0 else 1
        return first + mp.beta(a + 1, b + n - 1 + k) / mp.beta(a, b) * at_least_n

    def bgnbd_conditional_pmf(p, t, n, x, tx, T, modified):
        # alive: a new customer's count under the posterior (r+x, α+T, a, b+x(+1)),
        # with the BG/NBD formula; dead: no purchase
        alive = bgnbd_palive(p, x, tx, T, modified)
        post = {"r": p["r"] + x, "alpha": p["alpha"] + T, "a": p["a"], "b": p["b"] + x + modified}
        return alive * bgnbd_pmf(post, t, n, 0) + (1 - alive if n == 0 else 0)

    def pareto_pmf(p, t, n):
        # dead at u < t: ∫ NB(n; u) (s/β) (β/(β+u))^(s+1) du, in w = u/(α+u), where
        # NB(n; u) becomes the kernel w^n (1−w)^r that quadrature follows well
        # on many short pieces
        r, al, s, be = p["r"], p["alpha"], p["s"], p["beta"]
        c = mp.exp(mp.loggamma(r + n) - mp.loggamma(r) - mp.loggamma(n + 1))
        top = t / (al + t)
        dead = mp.quad(lambda w: (c * w ** n * (1 - w) ** r * s / be
                                  * (be / (be + al * w / (1 - w))) ** (s + 1) * al / (1 - w) ** 2),
                       mp.linspace(0, top, 65))
        return c * (1 - top) ** r * top ** n * (be / (be + t)) ** s + dead

    def pareto_conditional_pmf(p, t, n, x, tx, T):
        alive = pareto_palive(p, x, tx, T)
        post = {"r": p["r"] + x, "alpha": p["alpha"] + T, "s": p["s"], "beta": p["beta"] + T}
        return alive * pareto_pmf(post, t, n) + (1 - alive if n == 0 else 0)

    def pareto_likelihood(p, x, tx, T):
        r, al, s, be = p["r"], p["alpha"], p["s"], p["beta"]
        if al >= be:
            f = lambda u: hyp2f1(r + s + x, s + 1, r + s + x + 1, (al - be) / (al + u)) / (al + u) ** (r + s + x)  # noqa: E731,E501
        else:
            f = lambda u: hyp2f1(r + s + x, r + x, r + s + x + 1, (be - al) / (be + u)) / (be + u) ** (r + s + x)  # noqa: E731,E501
        lead = mp.gamma(r + x) * al ** r * be ** s / mp.gamma(r)
        alive = 1 / ((al + T) ** (r + x) * (be + T) ** s)
        return lead * (alive + s / (r + s + x) * (f(tx) - f(T))), lead * alive

    def pareto_palive(p, x, tx, T):
        like, alive = pareto_likelihood(p, x, tx, T)
        return alive / like

    def pareto_alive_factor(p, t, x, T):
        r, al, s, be = p["r"], p["alpha"], p["s"], p["beta"]
        return (r + x) * (be + T) / ((al + T) * (s - 1)) * (1 - ((be + T) / (be + T + t)) ** (s - 1))

    def pareto_expected(p, t, x, tx, T):
        return pareto_alive_factor(p, t, x, T) * pareto_palive(p, x, tx, T)

    # the continuous discount rate per week of WEEKLY_15 (15 % a year)
    rho = mp.log(mp.mpf("1.15")) * 7 / mp.mpf("365.25")

    def pareto_dert(p, x, tx, T):
        r, al, s, be = p["r"], p["alpha"], p["s"], p["beta"]
        like, _ = pareto_likelihood(p, x, tx, T)
        return (al ** r * be ** s * rho ** (s - 1) * mp.gamma(r + x + 1)
                * mp.hyperu(s, s, rho * (be + T)) / (mp.gamma(r) * (al + T) ** (r + x + 1) * like))

    def spend(p, x, m):
        pp, q, g = p["p"], p["q"], p["gamma"]
        return (g + m * x) * pp / (pp * x + q - 1)

    # the lifetime value: E[spend] · P(alive) · ∫ e^(−ρτ) dF(τ) over 52 weeks, F
    # the expected purchases of a customer alive now, at weekly ends or continuously

    def lifetime_value(factor, palive, gg, continuous, horizon):
        def value(p, x, tx, T):
            F = lambda t: factor(p, t, x, T)  # noqa: E731
            if continuous:
                with mp.workdps(30):
                    flow = mp.exp(-rho * horizon) * F(horizon) + rho * mp.quad(
                        lambda t: mp.exp(-rho * t) * F(t), mp.linspace(0, horizon, 5),
                        method="gauss-legendre")
            else:
                ends = [F(k) for k in range(horizon + 1)]
                flow = mp.fsum((ends[k] - ends[k - 1]) * mp.exp(-rho * k) for k in range(1, horizon + 1))
            return spend(gg, x, MONETARY) * palive(p, x, tx, T) * flow
        return value

    def check_lifetime_value(label, source, p, customers, factor, palive, cov="", horizon=HORIZON):
        # not 10,000 purchases in one period: mpmath's series for the 52 weeks'
        # factors there take minutes (its expected purchases are checked above)
        ordered = sorted((c for c in customers if (c[0], c[2]) != (10000, 1.0)),
                         key=lambda c: (c[0], c[2], c[1]))
        both = "(SELECT f.m, g.m AS g FROM %s f, %s g)" % (source, gg_source)
        for discounting in ("discrete", "continuous"):
            call = ("clv_lifetime_value(f.m, f.g, c.x, c.tx, c.t, %r, '%d weeks', %s, '%s'%s)"
                    % (MONETARY, horizon, WEEKLY_15, discounting, cov and ", " + cov))
            compare("%s clv_lifetime_value over %d weeks, %s" % (label, horizon, discounting),
                    customer_query(both, call, ordered),
                    [lifetime_value(factor, palive, gg, discounting == "continuous", horizon)(p, *c)
                     for c in ordered])

    # ---- clv's values, compared ---------------------------------------------
    def compare(label, sql, expected):
        try:
            got = _pg.rows(sql)
        except RuntimeError as exc:
            tap.error(label, exc)
            return
        worst, where, bad = 0.0, "", []
        for row, want in zip(got, expected):
            value = row[-1]
            if value is None or value in ("NaN", "Infinity", "-Infinity"):
                bad.append("%s gave %s" % (row[:-1], value))
                continue
            g = mp.mpf(value)
            if abs(want) < TINY and (g == 0 or abs(g) < TINY):
                continue
            err = float(abs(g / want - 1)) if want != 0 else float(abs(g))
            if err > worst:
                worst, where = err, "%s: clv %s, mpmath %s" % (row[:-1], value, mp.nstr(want, 17))
        ok = not bad and len(got) == len(expected) and worst <= TOL
        tap.ok(ok, "%s: %d values finite and within %g of mpmath" % (label, len(expected), TOL),
               "; ".join(bad[:3]) or "worst %.3g at %s" % (worst, where))

    # ---- the models: fitted on CDNOW, and from extreme parameters -------------
    def fitted(fit, args):
        return "(SELECT %s(%s) AS m FROM %s)" % (fit, args, TABLE), params(fit, args)

    def from_params(kind, values):
        text = "{%s}" % ", ".join('"%s": %r' % kv for kv in values.items())
        return ("(SELECT clv_model_from_params('%s', '%s') AS m)" % (kind, text),
                {k: mp.mpf(repr(v)) for k, v in values.items()})

    def customer_query(source, call, customers):
        return ("SELECT c.x, c.tx, c.t, %s FROM %s f, (VALUES %s) c(x, tx, t) ORDER BY c.x, c.t, c.tx"
                % (call, source, ", ".join("(%d, %r, %r)" % c for c in customers)))

    def pmf_query(source):
        return ("SELECT h, k, clv_probability_of_purchases(f.m, h, k) FROM %s f, (VALUES %s) v(h, k) "
                "ORDER BY h, k" % (source, ", ".join("(%r, %d)" % pk for pk in PMF)))

    def conditional_query(source):
        return ("SELECT c.x, c.t, c.tx, c.n, clv_probability_of_purchases(f.m, %d, c.n, c.x, c.tx, c.t) "
                "FROM %s f, (VALUES %s) c(x, tx, t, n) ORDER BY c.x, c.tx, c.t, c.n"
                % (HORIZON, source, ", ".join("(%d, %r, %r, %d)" % (h + (n,)) for h, n in histories)))

    histories = sorted((h, n) for h in HISTORIES for n in COUNTS)
    gg_source, gg = fitted("clv_gammagamma_fit", "x, m_x")

    def check_purchase_model(label, source, p, customers, palive, expected, pmf, conditional,
                             dert=None):
        ordered = sorted(customers, key=lambda c: (c[0], c[2], c[1]))
        compare("%s clv_palive" % label, customer_query(source, "clv_palive(f.m, c.x, c.tx, c.t)", ordered),
                [palive(p, *c) for c in ordered])
        compare("%s clv_expected_purchases" % label,
                customer_query(source, "clv_expected_purchases(f.m, %d, c.x, c.tx, c.t)" % HORIZON, ordered),
                [expected(p, HORIZON, *c) for c in ordered])
        if dert is not None:
            compare("%s clv_dert" % label,
                    customer_query(source, "clv_dert(f.m, c.x, c.tx, c.t, %s)" % WEEKLY_15, ordered),
                    [dert(p, *c) for c in ordered])
        if pmf is not None:
            compare("%s clv_probability_of_purchases" % label, pmf_query(source),
                    [pmf(p, t, k) for t, k in PMF])
            compare("%s clv_probability_of_purchases given a history" % label,
                    conditional_query(source),
                    [conditional(p, HORIZON, n, *h) for h, n in histories])

    # extreme parameters score a smaller set of customers, without the
    # distributions (whose references take long at such parameters)
    few = [c for c in CUSTOMERS if c[0] in (0, 1, 100, 10000) and c[2] in (1.0, 1000.0)]
    for fit, kind, modified in (("clv_bgnbd_fit", "bgnbd", 0), ("clv_mbgnbd_fit", "mbgnbd", 1)):
        name = "BG/NBD" if kind == "bgnbd" else "MBG/NBD"
        palive = lambda p, x, tx, T, m=modified: bgnbd_palive(p, x, tx, T, m)  # noqa: E731
        expected = lambda p, t, x, tx, T, m=modified: bgnbd_expected(p, t, x, tx, T, m)  # noqa: E731
        source, p = fitted(fit, "x, t_x, t_cal")
        check_purchase_model(name, source, p, CUSTOMERS, palive, expected,
                             lambda p, t, k, m=modified: bgnbd_pmf(p, t, k, m),
                             lambda p, t, n, x, tx, T, m=modified: bgnbd_conditional_pmf(p, t, n, x, tx, T, m))
        check_lifetime_value(name, source, p, few,
                             lambda p, t, x, T, m=modified: bgnbd_alive_factor(p, t, x, T, m), palive)
        # heavy buyers of a few weeks over 51 weeks, where the weekly factors'
        # series once overflowed and the value was an error
        check_lifetime_value(name, source, p, HEAVY,
                             lambda p, t, x, T, m=modified: bgnbd_alive_factor(p, t, x, T, m), palive,
                             horizon=51)
        for values in ({"r": 0.001, "alpha": 0.001, "a": 0.001, "b": 0.001},
                       {"r": 100.0, "alpha": 1000.0, "a": 50.0, "b": 500.0},
                       {"r": 5.0, "alpha": 0.01, "a": 1.0, "b": 3.0}):
            source, p = from_params(kind, values)
            check_purchase_model("%s %s" % (name, values), source, p, few, palive, expected, None, None)

    source, p = fitted("clv_paretonbd_fit", "x, t_x, t_cal")
    check_purchase_model("Pareto/NBD", source, p, CUSTOMERS, pareto_palive, pareto_expected,
                         pareto_pmf, pareto_conditional_pmf, pareto_dert)
    check_lifetime_value("Pareto/NBD", source, p, few, pareto_alive_factor, pareto_palive)
    # the last: a fit on data without dropout, s and β large together (quadrature's domain)
    for values in ({"r": 0.001, "alpha": 0.001, "s": 0.001, "beta": 0.001},
                   {"r": 100.0, "alpha": 1000.0, "s": 50.0, "beta": 500.0},
                   {"r": 2.0, "alpha": 3.0, "s": 1.5, "beta": 3.0},
                   {"r": 1.7, "alpha": 10.5, "s": 45000.0, "beta": 1270000.0}):
        source, p = from_params("paretonbd", values)
        check_purchase_model("Pareto/NBD %s" % values, source, p, few, pareto_palive,
                             pareto_expected, None, None, pareto_dert)

    # the covariate kinds: each customer scored at their own parameters, the
    # base ones through the link (α e^−γ₁z₁; BG/NBD a, b e^γ₂z₂, Pareto/NBD
    # β e^−γ₂z₂), from coefficients that move them far
    def bgnbd_link(p, e1, e2):
        return dict(p, alpha=p["alpha"] * mp.exp(-e1), a=p["a"] * mp.exp(e2), b=p["b"] * mp.exp(e2))

    def pareto_link(p, e1, e2):
        return dict(p, alpha=p["alpha"] * mp.exp(-e1), beta=p["beta"] * mp.exp(-e2))

    bg_palive = lambda p, x, tx, T: bgnbd_palive(p, x, tx, T, 0)  # noqa: E731
    bg_expected = lambda p, t, x, tx, T: bgnbd_expected(p, t, x, tx, T, 0)  # noqa: E731
    for kind, base, link, palive, expected, dert, factor in (
            ("bgnbd_cov", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, bgnbd_link,
             bg_palive, bg_expected, None, bgnbd_alive_factor),
            ("paretonbd_cov", {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}, pareto_link,
             pareto_palive, pareto_expected, pareto_dert, pareto_alive_factor)):
        for g1, g2, z1, z2 in ((0.8, -1.2, 1.5, 2.0), (-3.0, 2.5, 2.0, 1.0)):
            values = dict(base, purchase_coefficients=[g1], dropout_coefficients=[g2])
            source = "(SELECT clv_model_from_params('%s', '%s') AS m)" % (kind, json.dumps(values))
            # the link's exponent as the model computes it: a double product
            p = link({k: mp.mpf(repr(v)) for k, v in base.items()},
                     mp.mpf(repr(g1 * z1)), mp.mpf(repr(g2 * z2)))
            label = "%s (γ %r, %r; z %r, %r)" % (kind, g1, g2, z1, z2)
            cov = "ARRAY[%r]::float8[], ARRAY[%r]::float8[]" % (z1, z2)
            ordered = sorted(few, key=lambda c: (c[0], c[2], c[1]))
            compare("%s clv_palive" % label,
                    customer_query(source, "clv_palive(f.m, c.x, c.tx, c.t, %s)" % cov, ordered),
                    [palive(p, *c) for c in ordered])
            compare("%s clv_expected_purchases" % label,
                    customer_query(source, "clv_expected_purchases(f.m, %d, c.x, c.tx, c.t, %s)"
                                   % (HORIZON, cov), ordered),
                    [expected(p, HORIZON, *c) for c in ordered])
            if dert is not None:
                compare("%s clv_dert" % label,
                        customer_query(source, "clv_dert(f.m, c.x, c.tx, c.t, %s, %s)" % (WEEKLY_15, cov),
                                       ordered),
                        [dert(p, *c) for c in ordered])
            check_lifetime_value(label, source, p, few, factor, palive, cov)

    spend_values = ", ".join("(%d, %r)" % s for s in SPEND)
    for source, p in (fitted("clv_gammagamma_fit", "x, m_x"),
                      from_params("gammagamma", {"p": 0.01, "q": 1.001, "gamma": 0.001}),
                      from_params("gammagamma", {"p": 1000.0, "q": 1000.0, "gamma": 100000.0})):
        compare("Gamma-Gamma %s clv_expected_spend" % {k: float(v) for k, v in p.items()},
                "SELECT s.x, s.m, clv_expected_spend(f.m, s.x, s.m) FROM %s f, (VALUES %s) s(x, m) "
                "ORDER BY s.x, s.m" % (source, spend_values),
                [spend(p, x, m) for x, m in sorted(SPEND)])

    _pg.run("DROP TABLE IF EXISTS %s;\n" % TABLE)
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
