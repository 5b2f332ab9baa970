#!/usr/bin/python3
"""The distributed suite of the citus stage: clv on a Citus coordinator and two
workers (test/citus/stage.sh starts them and points PGHOST/PGPORT at the
coordinator).

1. Every aggregate of the extension, found from the catalog, over a table
   hash-distributed by customer and over a local copy of it:
   (a) without GROUP BY, the plan runs it as partial aggregates on the workers
       (worker_partial_agg in the task query, coord_combine_agg on the
       coordinator); an aggregate without a combine function is skipped;
   (b) the distributed result equals the local one: a model byte for byte, a
       float8 to 1e-12 relative, anything else (jsonb, records, arrays) after
       rounding its numbers to 12 significant digits.
2. Scoring with models in a reference table runs wholly on the workers (the
   function calls are in the task query, nothing is computed on the
   coordinator), and gives the local scores.
3. The tutorial's pipeline (test/citus/pipeline.sql) gives the same models,
   summaries, metrics and scores with its tables distributed as without; a
   summary grouped by the distribution column runs wholly on the workers, one
   grouped by anything else (or not grouped) as partial aggregates.

Run by /usr/bin/python3 from any directory.  Prints TAP lines; exits 0 after
printing whatever the results, non-zero only when the suite cannot run at all.
"""

import math
import os
import re
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "reference"))

import _pg  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
FLOAT_TOL = 1e-12           # float8 results, relative
DIGITS = 12                 # significant digits kept of other results' numbers

AGGREGATES = """
SELECT p.oid::regprocedure::text, p.proname, a.aggcombinefn <> 0,
       p.prorettype::regtype::text,
       array_to_string(array_agg(n.name ORDER BY n.k), ','),
       array_to_string(array_agg(n.type::text ORDER BY n.k), ',')
FROM pg_aggregate a
JOIN pg_proc p ON p.oid = a.aggfnoid
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'clv'
CROSS JOIN LATERAL unnest(p.proargnames, p.proargtypes::regtype[]) WITH ORDINALITY n(name, type, k)
GROUP BY p.oid, p.proname, a.aggcombinefn
ORDER BY 1
"""

FLOAT_COLUMNS = {
    "frequency": "frequency", "recency": "recency", "t": "t", "monetary": "monetary",
    "amount": "amount", "acquired": "acquired", "period": "1.0::float8",
    "prediction": "prediction", "predicted": "prediction",
    "probability": "probability", "score": "probability", "outcome": "frequency",
    "spend": "recency", "response": "amount", "gain": "y_float8", "cost": "t",
    "budget": "100.0::float8",
}


def arg_for(name, typ, agg):
    """The expression for an argument, from its name and type (and, where a
    name means different things, the aggregate agg's), over the rows r of
    test/citus/setup.sql and the model m (as sql/aggregate_forms.sql derives
    its arguments); None when there is no rule."""
    if typ == "bytea":
        return "m.model"
    if typ == "jsonb":
        return "'{}'::jsonb"
    if typ == "double precision[]":
        return "r.x_array"
    if typ == "clv_state":
        return "r.state"
    if typ == "interval":
        return "'7 days'::interval" if name == "unit" else "'1 day'::interval"
    if typ == "integer":
        # sBG periods vary by customer; clv_cumulative_expected_purchases's are one horizon
        return "(r.i % 8 + 1)" if name == "periods" and agg.startswith("clv_sbg") else "6"
    if typ == "bigint" and name == "customer":
        return "(r.i / 3)::bigint"
    if typ == "bigint" and name == "customers":
        return "(r.i % 4 + 1)::bigint"
    if typ == "text" and name == "segment":
        return "('s' || r.i % 4)"
    if typ == "timestamp with time zone":
        return {"ordered_at": "r.ordered_at",
                "observation_end": "'1997-12-31'::timestamptz"}.get(
                    name, "'1997-09-30'::timestamptz")
    if typ == "boolean":
        return {"treated": "(r.i % 2 = 0)", "churned": "(r.i % 8 < 3)"}.get(name, "r.y_bool")
    if typ == "double precision" and agg == "clv_bgbb_fit":
        # BG/BB counts opportunities: whole numbers, at most one purchase each
        return {"frequency": "least(r.frequency, ceil(r.recency))", "recency": "ceil(r.recency)",
                "n": "ceil(r.t)", "customers": "(1 + r.i % 3)::float8"}[name]
    if typ == "double precision":
        column = FLOAT_COLUMNS.get(name, "y_float8")
        return column if "::" in column else "r." + column
    return None


def rows_from(distributed):
    return ("agg_rows r CROSS JOIN agg_model m" if distributed
            else "agg_rows_local r CROSS JOIN agg_model_local m")


def plan(query):
    return _pg.run("EXPLAIN (VERBOSE, COSTS OFF) %s;\n" % query, tuples=True)


def task_queries(text):
    """The queries Citus sends to the workers, from an EXPLAIN VERBOSE."""
    return [line.split("Query:", 1)[1] for line in text.splitlines() if "Query:" in line]


def is_partial(text):
    """Partial aggregates on the workers, combined on the coordinator."""
    return (any("worker_partial_agg" in q for q in task_queries(text))
            and "coord_combine_agg" in text)


def is_pushed_down(text, calls):
    """The whole query runs on the workers: the plan's top node is Citus's scan,
    and every function call named in calls is in the task query."""
    queries = task_queries(text)
    return (text.lstrip().startswith("Custom Scan (Citus")
            and bool(queries) and all(c in q for c in calls for q in queries))


def plan_shape(text):
    """A short description of a plan that failed a check."""
    queries = task_queries(text)
    top = text.strip().splitlines()[0].strip() if text.strip() else "no plan"
    return "top node %s; task query: %s" % (top, queries[0].strip()[:200] if queries else "none")


NUMBER = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def numbers_and_text(value):
    """A value's text split into its numbers and the text between them."""
    return [float(n) for n in NUMBER.findall(value)], NUMBER.sub("#", value)


def rounded(value):
    nums, text = numbers_and_text(value)
    return text, ["%.*e" % (DIGITS - 1, n) for n in nums]


def same_value(rettype, got, want):
    """(equal, details) for two results of one aggregate, as text."""
    if rettype in ("bytea", "clv_state"):    # md5s
        return got == want, "md5 %s, local %s" % (got, want)
    if rettype in ("double precision", "double precision[]"):
        g_nums, g_text = numbers_and_text(got)
        w_nums, w_text = numbers_and_text(want)
        diff = _pg.max_rel_diff(g_nums, w_nums) if g_text == w_text else math.inf
        return diff <= FLOAT_TOL, "max rel diff %.3g; %s, local %s" % (diff, got[:200], want[:200])
    return rounded(got) == rounded(want), "%s, local %s" % (got[:300], want[:300])


def result_text(call, rettype, distributed):
    if rettype == "clv_state":
        # the aggregates that return a state here return linear-regression
        # statistics, whose double-double sums split differently in another
        # order: the model they give is what must not differ
        shown = "md5(clv_linreg_fit_stats(%s))" % call
    else:
        shown = "md5(%s)" % call if rettype == "bytea" else "(%s)::text" % call
    return _pg.value("SELECT %s FROM %s" % (shown, rows_from(distributed)))


def check_aggregates(tap):
    aggregates = _pg.rows(AGGREGATES)
    partial, gathered = [], []
    for signature, name, combinable, rettype, names, types in aggregates:
        args = [arg_for(n, t, name) for n, t in zip(names.split(","), types.split(","))]
        if None in args:
            tap.ok(False, "%s: arguments" % signature, "no rule for an argument in %s / %s"
                   % (names, types))
            continue
        call = "%s(%s)" % (name, ", ".join(args))
        if combinable != "t":
            tap.ok(True, "%s runs as partial aggregates # SKIP not combinable" % signature)
        else:
            try:
                text = plan("SELECT %s FROM %s" % (call, rows_from(True)))
                ok = is_partial(text)
                (partial if ok else gathered).append(signature)
                tap.ok(ok, "%s runs as partial aggregates on the workers" % signature,
                       plan_shape(text))
            except RuntimeError as exc:
                tap.error("%s runs as partial aggregates on the workers" % signature, exc)
        try:
            got = result_text(call, rettype, True)
            want = result_text(call, rettype, False)
            equal, details = same_value(rettype, got, want)
            tap.ok(equal, "%s: distributed result equals the local one" % signature, details)
        except RuntimeError as exc:
            tap.error("%s: distributed result equals the local one" % signature, exc)
    print("# partial aggregates: %d of %d combinable aggregates" % (
        len(partial), len(partial) + len(gathered)))
    for signature in gathered:
        print("#   rows gathered to the coordinator: %s" % signature)


SCORING = """
SELECT r.customer_id,
       clv_predict(s.spend, ARRAY[r.frequency, r.recency, r.t, r.monetary]) AS spend,
       clv_palive(m.model, r.frequency, r.recency, r.t) AS p_alive,
       clv_expected_purchases(m.model, 39, r.frequency, r.recency, r.t) AS expected
FROM {rows} r CROSS JOIN {model} m CROSS JOIN {spend} s
"""


def scoring_query(distributed):
    if distributed:
        return SCORING.format(rows="agg_rows", model="agg_model", spend="agg_spend_model")
    return SCORING.format(rows="agg_rows_local", model="agg_model_local",
                          spend="agg_spend_model_local")


def float_rows(query):
    return [[float(v) for v in row] for row in _pg.rows(query)]


def check_scoring(tap):
    _pg.run("""
SET client_min_messages = warning;
CREATE TABLE agg_spend_model_local AS
SELECT clv_linreg_fit(y_float8, ARRAY[frequency, recency, t, monetary]) AS spend FROM agg_rows_local;
CREATE TABLE agg_spend_model AS SELECT * FROM agg_spend_model_local;
SELECT create_reference_table('agg_spend_model');
""")
    text = plan(scoring_query(True))
    tap.ok(is_pushed_down(text, ("clv_predict(", "clv_palive(", "clv_expected_purchases(")),
           "scoring with models in reference tables runs wholly on the workers", plan_shape(text))
    got = float_rows("SELECT * FROM (%s) q ORDER BY customer_id" % scoring_query(True))
    want = float_rows("SELECT * FROM (%s) q ORDER BY customer_id" % scoring_query(False))
    tap.ok(len(got) == len(want) == 2357 and [g[0] for g in got] == [w[0] for w in want],
           "distributed scoring scores every customer once", "%d rows, local %d" % (len(got), len(want)))
    for k, what in enumerate(("clv_predict", "clv_palive", "clv_expected_purchases"), 1):
        tap.close([g[k] for g in got], [w[k] for w in want], FLOAT_TOL,
                  "distributed %s equals the local scores" % what)
    total = "SELECT sum(spend + p_alive + expected) FROM (%s) q"
    tap.close([float(_pg.value(total % scoring_query(True)))],
              [float(_pg.value(total % scoring_query(False)))], FLOAT_TOL,
              "summed distributed scores equal the local sum")


def run_pipeline(schema, distributed):
    with open(os.path.join(HERE, "pipeline.sql"), encoding="utf-8") as f:
        script = f.read()
    header = "\\set schema %s\n\\set distributed %s\n" % (schema, "true" if distributed else "false")
    return [line.split("\t") for line in _pg.run(header + script).splitlines() if line]


def same_rows(got, want):
    """(equal, details): the same labels and md5s, numbers to FLOAT_TOL."""
    if len(got) != len(want):
        return False, "%d rows, single-node %d" % (len(got), len(want))
    for g, w in zip(got, want):
        g_nums, g_text = numbers_and_text("\t".join(g))
        w_nums, w_text = numbers_and_text("\t".join(w))
        if g_text != w_text or _pg.max_rel_diff(g_nums, w_nums) > FLOAT_TOL:
            return False, "%s / single-node %s" % ("|".join(g)[:300], "|".join(w)[:300])
    return True, ""


SUMMARY = "clv_summary(ordered_at, amount, '1997-09-30', '1 day', '7 days')"
SUMMARY_QUERIES = {
    "over all orders": "SELECT %s FROM {s}.orders" % SUMMARY,
    "grouped by month": ("SELECT date_trunc('month', ordered_at) AS month, %s FROM {s}.orders "
                         "GROUP BY 1 ORDER BY 1" % SUMMARY),
}


def check_pipeline(tap):
    try:
        single = run_pipeline("single", False)
        dist = run_pipeline("dist", True)
    except RuntimeError as exc:
        tap.error("the tutorial pipeline runs with distributed tables", exc)
        return
    tap.ok(True, "the tutorial pipeline runs with distributed tables")
    for label in ("models", "customers", "metrics", "customer"):
        equal, details = same_rows([r for r in dist if r[0] == label],
                                   [r for r in single if r[0] == label])
        tap.ok(equal, "tutorial pipeline, distributed: %s as on a single node" % label, details)

    by_customer = ("SELECT customer_id, %s FROM dist.orders GROUP BY customer_id" % SUMMARY)
    text = plan(by_customer)
    tap.ok(is_pushed_down(text, ("clv_summary(",)) and not is_partial(text),
           "clv_summary grouped by the distribution column runs wholly on the workers",
           plan_shape(text))
    for what, query in SUMMARY_QUERIES.items():
        text = plan(query.format(s="dist"))
        tap.ok(is_partial(text), "clv_summary %s runs as partial aggregates" % what,
               plan_shape(text))
        try:
            got = _pg.rows("SELECT q::text FROM (%s) q" % query.format(s="dist"))
            want = _pg.rows("SELECT q::text FROM (%s) q" % query.format(s="single"))
            equal = len(got) == len(want) and all(
                rounded(g[0]) == rounded(w[0]) for g, w in zip(got, want))
            tap.ok(equal, "clv_summary %s: distributed result equals the single-node one" % what,
                   "%s / %s" % (got[:3], want[:3]))
        except RuntimeError as exc:
            tap.error("clv_summary %s: distributed result equals the single-node one" % what, exc)


def main():
    os.chdir(ROOT)       # the set-up reads test/data/ relative to the root
    tap = _pg.Tap()
    try:
        _pg.run("DROP SCHEMA IF EXISTS single, dist CASCADE;\n")
        with open(os.path.join(HERE, "setup.sql"), encoding="utf-8") as f:
            _pg.run(f.read())
    except (_pg.SetupError, RuntimeError, OSError) as exc:
        print("# citus suite: cannot set up: %s" % exc, file=sys.stderr)
        return 2
    check_aggregates(tap)
    try:
        check_scoring(tap)
    except RuntimeError as exc:
        tap.error("scoring with models in reference tables", exc)
    check_pipeline(tap)
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
