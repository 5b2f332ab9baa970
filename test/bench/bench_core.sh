#!/usr/bin/env bash
# bench_core.sh — side-by-side timings of clv's three hot paths against the plain SQL
# that does the same amount of scanning:
#
#   1. clv_summary(...) GROUP BY customer_id   vs  count/min/max/sum GROUP BY customer_id
#   2. clv_linreg_fit(y, ARRAY[x1..x10])       vs  sum(y*x1), ..., sum(y*x10)   (one pass)
#      clv_linreg_fit(y, x) on a float8[] column, against the same baseline
#   3. sum(clv_predict(m, ARRAY[x1..x10]))     vs  sum(b0 + b1*x1 + ... + b10*x10) with the
#      fitted coefficients inlined as literals
#
# Usage:
#   test/bench/bench_core.sh            full run (5M orders, 1M regression rows, 5 repetitions)
#   test/bench/bench_core.sh --smoke    tiny sizes, 1 repetition: checks that everything runs
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
# The script creates the extension if missing, works in its own schema (BENCH_SCHEMA,
# default clv_bench) and drops it at the end.
#
# Optional environment:
#   BENCH_REPS=N         repetitions per query (median is reported; default 5, smoke 1)
#   BENCH_ORDERS=N       orders in the summary table     (default 5000000, smoke 20000)
#   BENCH_CUSTOMERS=N    customers                       (default 500000,  smoke 2000)
#   BENCH_ROWS=N         rows in the regression tables   (default 1000000, smoke 10000)
#   BENCH_JIT=on|off     the session's jit setting       (default off: no compile-time noise)
#   BENCH_PARALLEL=N     workers for the extra parallel summary line (default 2)
#   BENCH_KEEP=1         keep the schema and its tables after the run
#
# Each measurement is one fresh psql session: settings, one untimed LIMIT 0 pass of the
# query (loads the library and catalogs), then the query under \timing.  The queries
# aggregate in the server, so only one row travels to the client.  Baseline and clv
# queries alternate; the table reports medians.  A MISS is reported, not fatal: the
# script fails only when a query fails.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_parse_args "$@"

if [ "$MODE" = smoke ]; then
	ORDERS=${BENCH_ORDERS:-20000}
	CUSTOMERS=${BENCH_CUSTOMERS:-2000}
	ROWS=${BENCH_ROWS:-10000}
	REPS=${BENCH_REPS:-1}
else
	ORDERS=${BENCH_ORDERS:-5000000}
	CUSTOMERS=${BENCH_CUSTOMERS:-500000}
	ROWS=${BENCH_ROWS:-1000000}
	REPS=${BENCH_REPS:-5}
fi
JIT=${BENCH_JIT:-off}
PAR_WORKERS=${BENCH_PARALLEL:-2}
SCHEMA=${BENCH_SCHEMA:-clv_bench}
AS_OF='2024-01-01 00:00:00+00'

TIMING=psql
bench_validate ORDERS CUSTOMERS ROWS REPS PAR_WORKERS

# ---- header ----------------------------------------------------------------
print_header "clv core benchmark" \
	"$ORDERS orders / $CUSTOMERS customers; $ROWS regression rows x 10 features" \
	"max_parallel_workers_per_gather = 0, jit = $JIT (unless stated)"

# ---- set-up --------------------------------------------------------------
trap cleanup EXIT
T0=$(date +%s)
psql_do "
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS $SCHEMA CASCADE;
CREATE SCHEMA $SCHEMA;
SET search_path = $SCHEMA, public;
SET timezone = 'UTC';
SET max_parallel_workers_per_gather = 0;

$UNIFORM_SQL

-- 1. orders: uniform customers, ~2 years of timestamps, skewed amounts with cents
CREATE TABLE orders AS
SELECT 1 + floor(u(i, 1) * $CUSTOMERS)::int AS customer_id,
       timestamptz '2022-01-01 00:00:00+00'
           + floor(u(i, 2) * 730 * 86400) * interval '1 second' AS ordered_at,
       floor((5 + 295 * u(i, 3) * u(i, 3)) * 100) / 100 AS amount
FROM generate_series(1, $ORDERS::bigint) AS i;

-- 2. regression rows: ten features on different scales, y linear in them plus noise
CREATE TABLE reg AS
SELECT 3.0 + 0.5 * x1 - 0.25 * x2 + 2.0 * x3 + 0.1 * x4 - 1.5 * x5
           + 0.75 * x6 + 0.0 * x7 - 0.3 * x8 + 1.25 * x9 + 0.05 * x10
           + (u(i, 99) - 0.5) AS y,
       x1, x2, x3, x4, x5, x6, x7, x8, x9, x10
FROM (SELECT i,
             u(i, 11) AS x1, 10 * u(i, 12) AS x2, u(i, 13) - 0.5 AS x3,
             100 * u(i, 14) AS x4, u(i, 15) * u(i, 15) AS x5, 2 * u(i, 16) AS x6,
             u(i, 17) AS x7, 5 * u(i, 18) - 1 AS x8, u(i, 19) + u(i, 20) AS x9,
             50 * u(i, 21) AS x10
      FROM generate_series(1, $ROWS::bigint) AS i) s;

CREATE TABLE reg_arr AS
SELECT y, ARRAY[x1, x2, x3, x4, x5, x6, x7, x8, x9, x10] AS x FROM reg;

-- 3. the model, fitted once
CREATE TABLE model AS
SELECT clv_linreg_fit(y, ARRAY[x1, x2, x3, x4, x5, x6, x7, x8, x9, x10]) AS m FROM reg;

VACUUM (FREEZE, ANALYZE) orders, reg, reg_arr, model;
"
prewarm orders reg reg_arr model
SIZES=$(psql_val "SELECT string_agg(c || ' ' || pg_size_pretty(pg_table_size('$SCHEMA.' || c)), ', ')
                  FROM unnest(ARRAY['orders', 'reg', 'reg_arr']) c")
echo "  tables:  $SIZES (generated in $(( $(date +%s) - T0 )) s)"

# The linear formula with the fitted coefficients as literals, read from clv_model_info.
FORMULA=$(psql_val "
SET search_path = $SCHEMA, public;
SELECT format('%L::float8', c ->> 0) || ' + ' ||
       string_agg(format('%L::float8 * x%s', c ->> k, k), ' + ' ORDER BY k)
FROM (SELECT clv_model_info(m) -> 'coefficients' AS c FROM model) i,
     generate_series(1, 10) AS k
GROUP BY c" | tail -n1)
if [ -z "$FORMULA" ]; then
	bench_die "could not read the coefficients from clv_model_info"
fi

# Sanity check: clv_predict and the written-out formula agree (same model, same rows).
CHECK=$(psql_val "
SET search_path = $SCHEMA, public;
SELECT abs(sum(clv_predict(m, ARRAY[x1, x2, x3, x4, x5, x6, x7, x8, x9, x10]))
           - sum($FORMULA)) <= 1e-6 * greatest(1, abs(sum($FORMULA)))
FROM reg, model" | tail -n1)
if [ "$CHECK" != t ]; then
	bench_die "clv_predict disagrees with the inlined linear formula"
fi

# ---- queries ---------------------------------------------------------------
# The outer aggregates read every column of the grouped subquery: the planner replaces
# subquery outputs nobody reads by NULLs, and would then skip the aggregates entirely.
SUMMARY_BASE="SELECT count(*), count(n), count(first_at), count(last_at), count(revenue)
FROM (SELECT customer_id, count(*) AS n, min(ordered_at) AS first_at,
             max(ordered_at) AS last_at, sum(amount) AS revenue
      FROM orders GROUP BY customer_id) q"
SUMMARY_CLV="SELECT count(*), count(s)
FROM (SELECT customer_id, clv_summary(ordered_at, amount, '$AS_OF') AS s
      FROM orders GROUP BY customer_id) q"

XCOLS="x1, x2, x3, x4, x5, x6, x7, x8, x9, x10"
FIT_BASE="SELECT sum(y * x1), sum(y * x2), sum(y * x3), sum(y * x4), sum(y * x5),
       sum(y * x6), sum(y * x7), sum(y * x8), sum(y * x9), sum(y * x10) FROM reg"
FIT_CLV="SELECT length(clv_linreg_fit(y, ARRAY[$XCOLS])) FROM reg"
FIT_ARR_CLV="SELECT length(clv_linreg_fit(y, x)) FROM reg_arr"
FIT_ARR_BASE="SELECT sum(y * x[1]), sum(y * x[2]), sum(y * x[3]), sum(y * x[4]), sum(y * x[5]),
       sum(y * x[6]), sum(y * x[7]), sum(y * x[8]), sum(y * x[9]), sum(y * x[10]) FROM reg_arr"

PREDICT_BASE="SELECT sum($FORMULA) FROM reg, model"
PREDICT_CLV="SELECT sum(clv_predict(m, ARRAY[$XCOLS])) FROM reg, model"

# ---- measurements ----------------------------------------------------------
echo
echo "runs (ms):"
measure "summary: clv_summary vs count/min/max/sum" 1.3 0 "$SUMMARY_BASE" "$SUMMARY_CLV"
measure "summary, parallel ($PAR_WORKERS workers)" - "$PAR_WORKERS" "$SUMMARY_BASE" "$SUMMARY_CLV"
measure "linreg_fit(y, ARRAY[x1..x10]) vs sum(y*xj)" 1.5 0 "$FIT_BASE" "$FIT_CLV"
measure "linreg_fit(y, x float8[]) vs sum(y*xj)" 1.5 0 "$FIT_BASE" "$FIT_ARR_CLV"
measure "linreg_fit(y, x float8[]) vs sum(y*x[j])" - 0 "$FIT_ARR_BASE" "$FIT_ARR_CLV"
measure "sum(clv_predict) vs inlined formula" 1.3 0 "$PREDICT_BASE" "$PREDICT_CLV"

PLANNED=$(psql_val "$(session_settings "$PAR_WORKERS")
EXPLAIN (COSTS OFF) $SUMMARY_CLV" | grep -o 'Workers Planned: [0-9]*' | head -n1 || true)

echo
print_results
echo
echo "parallel line: ${PLANNED:-no parallel plan chosen} (targets apply to the serial lines)"
echo "info lines have no target; MISS is reported, not fatal."
if [ "$MODE" = smoke ]; then
	echo "smoke mode: tiny tables, one run each; the ratios above are not meaningful."
fi
