#!/usr/bin/env bash
# bench_cv.sh — k-fold cross-validation of ridge regression over a grid of l2, the way
# doc/reference.md's recipe runs it: one pass over the rows into one clv_linreg_stats
# state per fold, then every fold's model fitted from the other folds' merged states
# and scored on its own state.  Side by side in one run:
#
#   1. the one-pass recipe (5 folds x 10 settings) against a single clv_linreg_fit over
#      all the rows: what the whole search costs beyond one fit
#   2. the one-pass recipe against plain SQL reading the same rows by fold
#      (GROUP BY clv_fold(...) with count and sum): the pass itself
#   3. the FILTER recipe (each fold's model fitted by clv_linreg_fit with
#      FILTER (WHERE fold <> f) over the rows crossed with the grid and the folds, then
#      every row scored with clv_predict and clv_mse) against the one-pass recipe, on
#      the first 100,000 rows (it feeds 50 times as many rows to its aggregates)
#
# The planner takes the number of folds of GROUP BY clv_fold(id, 5) for the number of
# ids and sorts the rows rather than hash them into 5 groups; the script creates
# statistics on the expression first, as doc/reference.md advises, and the header says
# how long the pass takes without them.
#
# Usage:
#   test/bench/bench_cv.sh            full run: 1,000,000 rows x 10 features, 3 runs
#   test/bench/bench_cv.sh --smoke    20,000 rows, one run: checks that everything runs
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
# The script creates the extension if missing, works in its own schema (BENCH_SCHEMA,
# default clv_bench_cv) and drops it at the end.
#
# Optional environment:
#   BENCH_ROWS=N         rows
#   BENCH_SMALL=N        rows of the FILTER recipe's comparison
#   BENCH_REPS=N         runs per side
#   BENCH_JIT=on|off     the session's jit setting (default off)
#   BENCH_KEEP=1         keep the schema and its tables after the run
#
# Timing: one fresh psql session per run: settings, an untimed LIMIT 0 pass (loads the
# library), then the query under \timing (client wall time); serial plans.  The two
# queries of a line alternate; the table reports medians.  A MISS is reported, not
# fatal: the script fails only when a query fails or the two recipes disagree.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_parse_args "$@"

if [ "$MODE" = smoke ]; then
	ROWS=${BENCH_ROWS:-20000}
	SMALL=${BENCH_SMALL:-5000}
	REPS=${BENCH_REPS:-1}
else
	ROWS=${BENCH_ROWS:-1000000}
	SMALL=${BENCH_SMALL:-100000}
	REPS=${BENCH_REPS:-3}
fi
JIT=${BENCH_JIT:-off}
SCHEMA=${BENCH_SCHEMA:-clv_bench_cv}
TIMING=psql
bench_validate ROWS SMALL REPS

print_header "clv cross-validation benchmark" \
	"$ROWS rows x 10 features; 5 folds x 10 values of l2" \
	"psql \\timing of the whole statement after an untimed LIMIT 0 pass; jit = $JIT"

trap cleanup EXIT
psql_do "
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS $SCHEMA CASCADE;
CREATE SCHEMA $SCHEMA;
SET search_path = $SCHEMA, public;
SELECT setseed(0.5);
CREATE TABLE bench_rows AS
SELECT id, x, 1 + x[1] - 2 * x[2] + 0.5 * x[3] + 0.1 * x[4] + random() AS y
FROM (SELECT id, ARRAY(SELECT random() + 0 * id FROM generate_series(1, 10)) AS x
      FROM generate_series(1, $ROWS) id) g;
CREATE TABLE bench_small AS SELECT * FROM bench_rows WHERE id <= $SMALL;
VACUUM (FREEZE, ANALYZE) bench_rows, bench_small;
"
prewarm bench_rows bench_small
echo "  table:   bench_rows $(psql_val "SELECT pg_size_pretty(pg_table_size('$SCHEMA.bench_rows'))")"

GRID="SELECT unnest('{0, 0.01, 0.1, 1, 10, 100, 1000, 10000, 100000, 1000000}'::float8[])"
ONE_PASS="WITH folds AS (
    SELECT clv_fold(id, 5) AS fold, clv_linreg_stats(y, x) AS stats FROM bench_rows GROUP BY 1),
grid(l2) AS ($GRID),
scores AS (
    SELECT g.l2, f.fold,
           clv_linreg_mse(clv_linreg_fit_stats(
               (SELECT clv_state_merge(o.stats) FROM folds o WHERE o.fold <> f.fold),
               jsonb_build_object('l2', g.l2)), f.stats) AS mse
    FROM grid g CROSS JOIN folds f)
SELECT l2, avg(mse) AS mean_mse, stddev_samp(mse) / sqrt(count(*)) AS se
FROM scores GROUP BY l2"
FILTERED="WITH data AS (SELECT y, x, clv_fold(id, 5) AS fold FROM bench_rows),
grid(l2, options) AS MATERIALIZED (SELECT l2, jsonb_build_object('l2', l2) FROM ($GRID) g(l2)),
models AS (
    SELECT g.l2, f.fold,
           clv_linreg_fit(d.y, d.x, g.options) FILTER (WHERE d.fold <> f.fold) AS model
    FROM grid g CROSS JOIN generate_series(1, 5) f(fold) CROSS JOIN data d
    GROUP BY g.l2, f.fold),
scores AS (
    SELECT m.l2, m.fold, clv_mse(d.y, clv_predict(m.model, d.x)) AS mse
    FROM models m JOIN data d ON d.fold = m.fold GROUP BY m.l2, m.fold)
SELECT l2, avg(mse) AS mean_mse, stddev_samp(mse) / sqrt(count(*)) AS se
FROM scores GROUP BY l2"
SINGLE_FIT="SELECT clv_linreg_fit(y, x) FROM bench_rows"
PLAIN_BY_FOLD="SELECT clv_fold(id, 5) AS fold, count(*), sum(y) FROM bench_rows GROUP BY 1"

ONE_PASS_SMALL=${ONE_PASS//bench_rows/bench_small}
FILTERED_SMALL=${FILTERED//bench_rows/bench_small}

# without statistics on the fold, the planner expects a fold per id and sorts
NO_STATS_MS=$(time_query psql 0 "$ONE_PASS")
psql_do "SET search_path = $SCHEMA, public;
CREATE STATISTICS bench_rows_fold ON (clv_fold(id, 5)) FROM bench_rows;
CREATE STATISTICS bench_small_fold ON (clv_fold(id, 5)) FROM bench_small;
ANALYZE bench_rows, bench_small;"
echo "  plan:    the one-pass recipe took $NO_STATS_MS ms before CREATE STATISTICS on clv_fold(id, 5)"

# the two recipes compute the same errors, the one-pass one without the rows
AGREE=$(psql_val "SET search_path = $SCHEMA, public;
SELECT max(abs(a.mean_mse / b.mean_mse - 1)) FROM ($ONE_PASS_SMALL) a JOIN ($FILTERED_SMALL) b USING (l2)" | tail -n1)
awk -v d="$AGREE" 'BEGIN { exit !(d != "" && d + 0 < 1e-9) }' ||
	bench_die "the one-pass and FILTER recipes disagree: max relative difference $AGREE"
echo "  check:   the two recipes' mean errors agree to $AGREE relative"

echo
echo "runs (ms):"
measure "one-pass CV 5x10 vs one clv_linreg_fit" 1.5 0 "$SINGLE_FIT" "$ONE_PASS"
measure "one-pass CV 5x10 vs GROUP BY fold sum(y)" - 0 "$PLAIN_BY_FOLD" "$ONE_PASS"
measure "FILTER recipe vs one-pass CV, $SMALL rows" - 0 "$ONE_PASS_SMALL" "$FILTERED_SMALL"

echo
print_results
echo
echo "targets: the ratio clv/baseline; on the last line the baseline is the one-pass recipe,"
echo "so its ratio is how many times longer the FILTER recipe takes.  MISS is reported, not fatal."
if [ "$MODE" = smoke ]; then
	echo "smoke mode: a small table, one run each; the ratios above are not meaningful."
fi
