#!/usr/bin/python3
"""Fuzz clv_import_xgboost with mutants of real XGBoost models.

Seeds are models saved by XGBoost's save_model: test/data/xgboost_tiny.json,
and, when xgboost is installed, a few small ones trained here (squared error
with feature names, logistic, Tweedie pruned by gamma, deep trees).  Until
the time budget (CLV_FUZZ_SECONDS, default 60) runs out, a seeded RNG
(CLV_FUZZ_SEED, printed) mutates them: keys dropped, values of another
type, numbers changed (±1, 0, -1, the array's length, 2^31, 2^63, 1e39,
1e-50, -0, fractions), arrays shortened, lengthened and swapped, children
pointing anywhere (cycles, shared nodes, out of range), other objectives and
boosters, and the JSON text truncated or with bytes flipped.  Each mutant is
imported; a model that imports is then scored, explained and described on
rows with missing values.

Every outcome must be a clean SQL error or success: one TAP line with the
histogram of SQLSTATEs, "not ok" with the mutant for an internal error
(XX000), a hang (statement_timeout) or a crash.  After every batch the server
must be up with the same postmaster and no backend killed by a signal in its
log (CLV_PGLOG as test/run.sh passes it).
"""

import base64
import collections
import copy
import json
import os
import random
import sys
import tempfile
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test", "reference"))
sys.path.insert(0, HERE)
import _pg  # noqa: E402
# the server checks the state fuzzer does after every batch
from fuzz_states import (log_crashes, log_size, postmaster_start, psql,  # noqa: E402
                         server_log, wait_for_server)

BATCH = 200
STATEMENT_TIMEOUT = "5s"
FAILING = ("XX000", "XX001", "XX002", "57014")
MAX_REPORTED = 5

SETUP = r"""
DROP SCHEMA IF EXISTS clv_fuzz_xgb CASCADE;
CREATE SCHEMA clv_fuzz_xgb;
-- import a mutant; when it imports, use the model: 'ok' or the SQLSTATE
CREATE FUNCTION clv_fuzz_xgb.outcome(b64 text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE m bytea; p int; x float8[];
BEGIN
    m := clv_import_xgboost(convert_from(decode(b64, 'base64'), 'UTF8')::jsonb);
    p := (clv_model_info(m)->>'n_features')::int;
    FOR k IN 0..3 LOOP
        x := ARRAY(SELECT CASE WHEN (j + k) % 3 = 0 THEN 'NaN'::float8
                               ELSE ((j * 7 + k * 13) % 11 - 5)::float8 / 3 END
                   FROM generate_series(1, p) j);
        PERFORM clv_predict(m, x), clv_explain(m, x), clv_explain_expected(m);
    END LOOP;
    RETURN 'ok';
EXCEPTION WHEN query_canceled THEN
    RETURN '57014';
WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
"""


def seeds():
    """name -> model JSON (parsed)."""
    out = {}
    with open(os.path.join(ROOT, "test", "data", "xgboost_tiny.json"), encoding="utf-8") as f:
        out["tiny"] = json.load(f)
    try:
        import numpy as np
        import xgboost
    except ImportError:
        return out
    rng = np.random.default_rng(11)
    x = rng.normal(size=(300, 4))
    y = x[:, 0] - x[:, 1] ** 2 + 0.2 * rng.normal(size=300)
    x[rng.random(x.shape) < 0.2] = np.nan
    cases = [
        ("squared_names", "reg:squarederror", {"max_depth": 3}, 4, y, ["a", "b", "c", "d"]),
        ("logistic", "binary:logistic", {"max_depth": 2}, 3, (y > 0).astype(float), None),
        ("tweedie_pruned", "reg:tweedie", {"max_depth": 5, "gamma": 2.0}, 3, np.exp(y / 3), None),
        ("deep", "reg:squarederror", {"max_depth": 7, "min_child_weight": 0}, 2, y, None),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, objective, params, rounds, label, names in cases:
            booster = xgboost.train(dict(params, objective=objective, seed=1, nthread=1),
                                    xgboost.DMatrix(x, label=label, feature_names=names), rounds)
            path = os.path.join(tmp, name + ".json")
            booster.save_model(path)
            with open(path, encoding="utf-8") as f:
                out[name] = json.load(f)
    return out


# ---- mutations ----------------------------------------------------------------

def paths(value, prefix=()):
    """Every path into the JSON value."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, prefix + (i,))


def get(doc, path):
    for p in path:
        if not isinstance(doc, (dict, list)):
            raise TypeError("not a container")
        doc = doc[p]
    return doc


def replace(doc, path, value):
    if not path:
        return value
    get(doc, path[:-1])[path[-1]] = value
    return doc


NAMES = ["reg:squarederror", "binary:logistic", "reg:tweedie", "reg:logistic", "multi:softmax",
         "reg:gamma", "rank:pairwise", "gbtree", "dart", "gblinear", "", "x" * 3000]


def other_value(rng, old, length):
    choices = [None, True, False, 0, -1, 1, 2, length, length - 1, length + 1, 2 ** 31 - 1, 2 ** 31,
               2 ** 63, -2 ** 63, 1e39, -1e39, 1e-50, -0.0, 0.5, 3.25, 1e308, "", "0", "-1",
               "5E-1", "[5E-1]", "[]", "NaN", "inf", "1e39", rng.choice(NAMES), [], {}, [1, 2],
               {"name": "gbtree"}]
    if isinstance(old, (int, float)) and not isinstance(old, bool):
        choices += [old + 1, old - 1, -old, old * 2, old / 3]
    return rng.choice(choices)


class Mutator:
    def __init__(self, rng, docs):
        self.rng = rng
        self.docs = docs
        self.names = sorted(docs)
        self.paths = {n: list(paths(d)) for n, d in docs.items()}

    def mutant(self):
        rng = self.rng
        name = rng.choice(self.names)
        doc = copy.deepcopy(self.docs[name])
        steps = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            doc, step = self.mutate(doc, name)
            steps.append(step)
        text = json.dumps(doc, separators=(",", ":"))
        if rng.random() < 0.08:
            cut = rng.randrange(len(text) + 1)
            text = text[:cut]
            steps.append("truncated at %d" % cut)
        elif rng.random() < 0.05:
            pos = rng.randrange(len(text))
            text = text[:pos] + chr(rng.randrange(32, 127)) + text[pos + 1:]
            steps.append("byte %d replaced" % pos)
        return "%s: %s" % (name, "; ".join(steps)), text

    def mutate(self, doc, name):
        rng = self.rng
        candidates = [p for p in self.paths[name] if self._exists(doc, p)]
        path = rng.choice(candidates)
        target = get(doc, path)
        parent = get(doc, path[:-1]) if path else None
        length = len(parent) if isinstance(parent, list) else 4
        op = rng.random()
        where = ".".join(str(p) for p in path)
        if path and op < 0.12:
            del parent[path[-1]]
            return doc, "drop %s" % where
        if isinstance(target, list) and op < 0.45:
            kind = rng.randrange(5)
            if kind == 0 and target:
                del target[rng.randrange(len(target)):]
                return doc, "shorten %s" % where
            if kind == 1:
                target.append(rng.choice(target) if target else 0)
                return doc, "lengthen %s" % where
            if kind == 2 and target:
                rng.shuffle(target)
                return doc, "shuffle %s" % where
            if kind == 3 and target and all(isinstance(v, int) for v in target):
                # children anywhere: cycles, shared nodes, out of range
                i = rng.randrange(len(target))
                target[i] = rng.choice([0, i, -1, -2, len(target), rng.randrange(len(target))])
                return doc, "%s[%d] = %r" % (where, i, target[i])
            if isinstance(parent, dict):
                siblings = [k for k, v in parent.items() if isinstance(v, list) and k != path[-1]]
                if siblings:
                    other = rng.choice(siblings)
                    parent[path[-1]], parent[other] = parent[other], target
                    return doc, "swap %s with %s" % (where, other)
        value = other_value(rng, target, length)
        doc = replace(doc, path, value)
        return doc, "%s = %s" % (where, json.dumps(value)[:40])

    @staticmethod
    def _exists(doc, path):
        try:
            get(doc, path)
            return True
        except (KeyError, IndexError, TypeError):
            return False


def main():
    tap = _pg.Tap()
    started = time.time()
    budget = float(os.environ.get("CLV_FUZZ_SECONDS", "60"))
    seed = int(os.environ.get("CLV_FUZZ_SEED") or random.SystemRandom().randrange(1 << 31))
    print("# clv_import_xgboost fuzzer: seed %d (CLV_FUZZ_SEED=%d reruns it), %gs" % (seed, seed, budget))
    rng = random.Random(seed)
    _pg.connect_or_exit("fuzz_xgboost")
    _pg.run(SETUP)
    docs = seeds()
    print("# seeds: %s" % ", ".join(sorted(docs)))
    mutator = Mutator(rng, docs)

    pm_start = postmaster_start()
    logpath = server_log()
    log_at = log_start = log_size(logpath)
    outcomes = collections.Counter()
    failures = []
    n_batch = 0
    # the seeds themselves must import
    first = [("seed " + n, json.dumps(d)) for n, d in sorted(docs.items())]
    while time.time() - started < budget or first:
        batch = first or [mutator.mutant() for _ in range(BATCH)]
        first = []
        n_batch += 1
        lines = ["SET statement_timeout = '%s';" % STATEMENT_TIMEOUT]
        for i, (_, text) in enumerate(batch):
            b64 = base64.b64encode(text.encode("utf-8")).decode("ascii")
            lines.append("SELECT 'R %d ' || clv_fuzz_xgb.outcome('%s');" % (i, b64))
        rc, out, err = psql("\n".join(lines) + "\n", timeout=600)
        done = {}
        for line in out.splitlines():
            if line.startswith("R "):
                _, i, state = line.split(" ", 2)
                done[int(i)] = state
        for i, (desc, text) in enumerate(batch):
            state = done.get(i)
            if state is None:
                continue
            outcomes[state] += 1
            if state in FAILING or (desc.startswith("seed ") and state != "ok"):
                failures.append("%s: %s (%s)" % (state, desc, text[:200]))
        missing = sorted(set(range(len(batch))) - set(done))
        crashes = log_crashes(logpath, log_at)
        now_start = postmaster_start() if rc is not None else None
        if missing or rc is None or crashes or now_start != pm_start:
            why = ("hang (psql did not finish)" if rc is None else
                   "server crash" + (": " + crashes[0].strip() if crashes else ""))
            culprit = batch[missing[0]] if missing else ("?", "")
            failures.append("%s on %s (%s)" % (why, culprit[0], culprit[1][:300]))
            if not wait_for_server():
                tap.ok(False, "fuzz_xgboost: the server came back after a crash")
                break
            pm_start = postmaster_start()
            log_at = log_size(logpath)
            _pg.run(SETUP)

    tried = sum(outcomes.values())
    hist = ", ".join("%s: %d" % kv for kv in sorted(outcomes.items()))
    desc = "fuzz_xgboost: %d mutants of %d seeds [%s]" % (tried, len(docs), hist)
    if failures:
        tap.ok(False, desc, "%d failing: %s%s" % (len(failures), " | ".join(failures[:MAX_REPORTED]),
                                                 " | ..." if len(failures) > MAX_REPORTED else ""))
    else:
        tap.ok(tried > len(docs), desc, "no mutant tried")
    tap.ok(outcomes["ok"] >= len(docs), "fuzz_xgboost: the seeds and some mutants import")
    server_ok = log_crashes(logpath, log_start) == [] and postmaster_start() == pm_start
    tap.ok(server_ok, "fuzz_xgboost: server up, same postmaster, no backend killed by a "
           "signal (%d batches, %.0fs)" % (n_batch, time.time() - started))
    if server_ok:
        _pg.run("DROP SCHEMA IF EXISTS clv_fuzz_xgb CASCADE;\n")
    tap.done()
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
