#!/usr/bin/env bash
# bench_budget.sh — timings of clv's budget aggregates:
#
#   1. clv_allocate_budget over 1,000 segments × 50 points (response curves on a grid
#      of spends, not concave): absolute target, < 50 ms for the whole SQL call
#      (psql's \timing), beside the GROUP BY of the same rows for scale; and scipy's
#      linprog (HiGHS) on the same linear programme, for comparison (solve time only)
#   2. clv_budget_threshold(gain, cost, budget, customer) over customers × 3 offers
#      (1M customers: 3M rows)  vs  SELECT sum(gain) FROM offers: target ratio 2, serial
#      and again under a parallel plan (2 workers); and, for information, the same over
#      the rows stored in random order (the final function then sorts them)
#
# Usage:
#   test/bench/bench_budget.sh            full run (1M customers, 5 repetitions)
#   test/bench/bench_budget.sh --smoke    20,000 customers, 1 repetition: checks that everything runs
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
# The script creates the extension if missing, works in its own schema (BENCH_SCHEMA,
# default clv_bench_budget) and drops it at the end.
#
# Optional environment:
#   BENCH_REPS=N         repetitions per query (median is reported; default 5, smoke 1)
#   BENCH_CUSTOMERS=N    customers of the threshold benchmark (default 1000000, smoke 20000)
#   BENCH_JIT=on|off     the session's jit setting (default off)
#   BENCH_KEEP=1         keep the schema and its tables after the run
#
# Data (deterministic, from hashes of the row numbers):
#   curves   segment s (1..1000), point p (1..50): spend p × (1 + s mod 7) × 10, response
#            a concave curve of the spend times a segment scale, plus noise, so the
#            points are not concave
#   offers   customer c, offer o (1..3): cost uniform in 1..11, gain cost × uniform 0..3 − 2
#            (some negative); the budget buys about a third of what all positive offers cost
#
# Timing: one fresh psql session per run: settings, an untimed LIMIT 0 pass (loads the
# library), then the query under \timing (client wall time).  Baseline and clv queries
# alternate; the table reports medians.  A MISS is reported, not fatal: the script fails
# only when a query fails.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_parse_args "$@"

if [ "$MODE" = smoke ]; then
	CUSTOMERS=${BENCH_CUSTOMERS:-20000}
	REPS=${BENCH_REPS:-1}
else
	CUSTOMERS=${BENCH_CUSTOMERS:-1000000}
	REPS=${BENCH_REPS:-5}
fi
JIT=${BENCH_JIT:-off}
SCHEMA=${BENCH_SCHEMA:-clv_bench_budget}
TIMING=psql
bench_validate CUSTOMERS REPS

print_header "clv budget benchmark" \
	"1,000 segments x 50 points; $CUSTOMERS customers x 3 offers" \
	"psql \\timing of the whole call after an untimed LIMIT 0 pass; jit = $JIT"

# ---- set-up --------------------------------------------------------------
trap cleanup EXIT
T0=$(date +%s)
psql_do "
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS $SCHEMA CASCADE;
CREATE SCHEMA $SCHEMA;
SET search_path = $SCHEMA, public;
SET max_parallel_workers_per_gather = 0;

$UNIFORM_SQL

CREATE TABLE curves AS
SELECT 'segment ' || lpad(s::text, 4, '0') AS segment, x AS spend,
       (1 + 4 * u(s, 1)) * 100 * ln(1 + x / (50 + 200 * u(s, 2))) * (0.9 + 0.2 * u(s * 64 + p, 3)) AS response
FROM (SELECT s, p, (p * (1 + s % 7) * 10)::float8 AS x
      FROM generate_series(1, 1000) s, generate_series(1, 50) p) g;

CREATE TABLE offers AS
SELECT c AS customer, cost * 3 * u(c * 4 + o, 5) - 2 AS gain, cost
FROM (SELECT c, o, 1 + 10 * u(c * 4 + o, 4) AS cost
      FROM generate_series(1, $CUSTOMERS::bigint) c CROSS JOIN LATERAL generate_series(1, 3 + 0 * c) o) g;
CREATE TABLE offers_shuffled AS SELECT * FROM offers ORDER BY u(customer * 7 + (cost * 1000)::bigint, 6);

VACUUM (FREEZE, ANALYZE) curves, offers, offers_shuffled;
"
prewarm curves offers offers_shuffled
BUDGET=$((CUSTOMERS * 4))
ALLOC_BUDGET=500000
echo "  tables:  offers $(psql_val "SELECT pg_size_pretty(pg_table_size('$SCHEMA.offers'))") (generated in $(( $(date +%s) - T0 )) s); budgets: allocation $ALLOC_BUDGET, threshold $BUDGET"

# ---- linprog on the allocation LP --------------------------------------------
# Convex-combination weights per segment and point (plus (0, 0)), a spend that buys
# nothing per segment; the budget row.  Prints its solve time and optimum beside clv's.
CLV_TOTAL=$(psql_val "SET search_path = $SCHEMA, public;
SELECT clv_allocate_budget(segment, spend, response, $ALLOC_BUDGET)->>'response' FROM curves" | tail -n1)
LINPROG=$(psql_val "SET search_path = $SCHEMA, public;
COPY (SELECT segment, spend, response FROM curves ORDER BY segment, spend) TO STDOUT" | /usr/bin/python3 -c "
import sys, time
import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix
rows = [l.split('\t') for l in sys.stdin.read().splitlines() if l]
names = sorted({r[0] for r in rows})
idx = {n: i for i, n in enumerate(names)}
seg = [idx[r[0]] for r in rows] + list(range(len(names)))          # the (0, 0) points
x = [float(r[1]) for r in rows] + [0.0] * len(names)
y = [float(r[2]) for r in rows] + [0.0] * len(names)
n, k = len(x), len(names)
c = np.concatenate([-np.array(y), np.zeros(k)])
a_eq = coo_matrix((np.ones(n), (seg, range(n))), shape=(k, n + k))
a_ub = np.concatenate([np.array(x), np.ones(k)]).reshape(1, -1)
t = time.perf_counter()
res = linprog(c, A_ub=a_ub, b_ub=[$ALLOC_BUDGET], A_eq=a_eq, b_eq=np.ones(k), bounds=(0, None), method='highs')
ms = (time.perf_counter() - t) * 1000
print('%.1f %.10g %s' % (ms, -res.fun, res.status))
")
read -r LP_MS LP_TOTAL LP_STATUS <<<"$LINPROG"
echo "  linprog: HiGHS solve $LP_MS ms (status $LP_STATUS), optimum $LP_TOTAL; clv_allocate_budget total response $CLV_TOTAL"

# ---- queries ---------------------------------------------------------------
ALLOC_BASE="SELECT count(*) FROM (SELECT segment, count(*) FROM curves GROUP BY segment) q"
ALLOC_CLV="SELECT clv_allocate_budget(segment, spend, response, $ALLOC_BUDGET)->'shadow_price' FROM curves"
ALLOC_KNAPSACK="SELECT clv_allocate_budget(segment, spend, response, $ALLOC_BUDGET, '{\"objective\": \"net\"}')->'shadow_price' FROM curves"
SCAN="SELECT sum(gain) FROM offers"
THRESHOLD="SELECT clv_budget_threshold(gain, cost, $BUDGET, customer) FROM offers"
SCAN_SHUFFLED="SELECT sum(gain) FROM offers_shuffled"
THRESHOLD_SHUFFLED="SELECT clv_budget_threshold(gain, cost, $BUDGET, customer) FROM offers_shuffled"
THRESHOLD_SINGLE="SELECT clv_budget_threshold(gain, cost, $BUDGET) FROM offers"

echo
echo "runs (ms):"
measure "allocate_budget 1000x50 vs GROUP BY segment" "<50" 0 "$ALLOC_BASE" "$ALLOC_CLV"
measure "allocate_budget net objective" "<50" 0 "$ALLOC_BASE" "$ALLOC_KNAPSACK"
measure "budget_threshold(customer) vs sum(gain)" 2 0 "$SCAN" "$THRESHOLD"
measure "... parallel plan, 2 workers" 2 2 "$SCAN" "$THRESHOLD"
measure "... rows in random order" - 0 "$SCAN_SHUFFLED" "$THRESHOLD_SHUFFLED"
measure "budget_threshold, no customer" - 0 "$SCAN" "$THRESHOLD_SINGLE"

echo
print_results
echo
echo "linprog (HiGHS) on the 1000x50 allocation LP: $LP_MS ms solve time alone, against the clv call above."
echo "targets: \"<50\" is the clv time in ms (the baseline is for scale), others the ratio clv/baseline."
echo "MISS is reported, not fatal."
if [ "$MODE" = smoke ]; then
	echo "smoke mode: small tables, one run each; the ratios above are not meaningful."
fi
