#!/usr/bin/env bash
# bench_btyd.sh — timings of clv's "buy till you die" models, side by side with the plain
# SQL that scans the same rows:
#
#   1. clv_bgnbd_fit, clv_mbgnbd_fit, clv_paretonbd_fit and clv_gammagamma_fit on the
#      CDNOW calibration summary (2,357 customers, summarised from the bundled
#      test/data/cdnow_sample.txt by test/data/cdnow_cbs.sql): absolute target,
#      < 50 ms each
#   2. clv_bgnbd_fit(frequency, recency, t) on simulated customers  vs  the GROUP BY of
#      the same (frequency, recency, t) patterns with count(*)
#   3. sum(clv_expected_purchases(m, 52, ...) + clv_palive(m, ...)) over the simulated
#      customers  vs  sum(exp(ln(frequency + 1)))
#   4. the same plus clv_lifetime_value(..., '1 year', '7 days', 0.1, 'continuous')
#      vs  sum(exp(ln(frequency + 1)))
#   5. clv_cumulative_expected_purchases(m, 40 - t, 52), the 52-week tracking curve of the
#      simulated cohort  vs  the GROUP BY of t it keeps, and vs the plain SQL sum of
#      clv_expected_purchases for one of the 52 weeks
#   6. for scale, the floor of 3 and 4: the same calls with the same arguments doing no
#      work (num_nonnulls) vs  sum(exp(ln(frequency + 1))); and three clv_palive calls
#      for customers without repeat purchases (P(alive) = 1 at once), which cost only
#      what every scoring call pays: the exact check of the model argument and of the
#      customer's values
#
# Usage:
#   test/bench/bench_btyd.sh            full run (1M simulated customers, 5 repetitions)
#   test/bench/bench_btyd.sh --smoke    20,000 customers, 1 repetition: checks that everything runs
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
# The script creates the extension if missing, works in its own schema (BENCH_SCHEMA,
# default clv_bench_btyd) and drops it at the end.
#
# Optional environment:
#   BENCH_REPS=N         repetitions per query (median is reported; default 5, smoke 1)
#   BENCH_CUSTOMERS=N    simulated customers      (default 1000000, smoke 20000)
#   BENCH_JIT=on|off     the session's jit setting (default off)
#   BENCH_KEEP=1         keep the schema and its tables after the run
#
# Simulated customers (deterministic, from hashes of the row number), in days, then in
# weeks rounded to days like a summary made with clv_summary(..., '1 day', '7 days'):
#   T  (age)       uniform in 7..279 days (t = 1 to 40 weeks)
#   lifetime       Lomax(shape 1, scale 140 days): exponential with a Gamma(1) death rate
#   frequency      purchases in min(lifetime, T): geometric, the Poisson count with a
#                  Gamma(shape 1, rate 70 days) purchase rate (Pareto/NBD data, r = s = 1)
#   recency        last of `frequency` uniform times in min(lifetime, T), rounded up to
#                  whole days (at least 1); 0 without repeat purchases
#
# Timing: each measurement is one fresh psql session: settings, one untimed LIMIT 0 pass
# of the query (loads the library and catalogs), then EXPLAIN (ANALYZE, TIMING OFF,
# SUMMARY ON) of the query; the reported time is its server-side "Execution Time" (no
# parse, plan or client round trip).  Baseline and clv queries alternate; the table
# reports medians.  max_parallel_workers_per_gather = 0.  A MISS is reported, not fatal:
# the script fails only when a query fails.
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
SCHEMA=${BENCH_SCHEMA:-clv_bench_btyd}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1   # the CDNOW set-up reads test/data/ relative to the root

TIMING=explain
bench_validate CUSTOMERS REPS

# ---- header ----------------------------------------------------------------
print_header "clv BTYD benchmark" \
	"CDNOW calibration summary; $CUSTOMERS simulated customers" \
	"EXPLAIN (ANALYZE, TIMING OFF) execution time after an untimed LIMIT 0 pass;" \
	"max_parallel_workers_per_gather = 0, jit = $JIT"

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

\\set cbs cbs
\\i test/data/cdnow_cbs.sql

$UNIFORM_SQL

CREATE TABLE sim AS
SELECT frequency,
       CASE WHEN frequency = 0 THEN 0
            ELSE least(t_days, greatest(1, ceil(w * u(i, 4) ^ (1 / frequency)))) / 7 END AS recency,
       t_days / 7 AS t
FROM (SELECT i, t_days, w, floor(ln(1 - u(i, 3)) / ln(w / (70 + w))) AS frequency
      FROM (SELECT i, t_days, least(t_days, greatest(1e-6, 140 * v / (1 - v))) AS w
            FROM (SELECT i, 7 + floor(273 * u(i, 1)) AS t_days, u(i, 2) AS v
                  FROM generate_series(1, $CUSTOMERS::bigint) AS i) a) b) c;

CREATE TABLE model AS SELECT clv_bgnbd_fit(frequency, recency, t) AS m,
                             (SELECT clv_gammagamma_fit(x, m_x) FROM cbs) AS sm FROM sim;

VACUUM (FREEZE, ANALYZE) cbs, sim, model;
"
prewarm cbs sim model
echo "  tables:  sim $(psql_val "SELECT pg_size_pretty(pg_table_size('$SCHEMA.sim'))") (generated and fitted in $(( $(date +%s) - T0 )) s)"
psql_val "
SET search_path = $SCHEMA, public;
SELECT format('  sim:     %s customers, %s patterns, %s%% without repeat purchases; BG/NBD fit r %s, alpha %s, a %s, b %s, converged %s',
              i ->> 'n_customers', i ->> 'n_patterns',
              (SELECT round(100.0 * avg((frequency = 0)::int), 1) FROM sim),
              round((i #>> '{params,r}')::numeric, 3), round((i #>> '{params,alpha}')::numeric, 3),
              round((i #>> '{params,a}')::numeric, 3), round((i #>> '{params,b}')::numeric, 3),
              i ->> 'converged')
FROM (SELECT clv_model_info(m) AS i FROM model) q" | tail -n1

# ---- queries ---------------------------------------------------------------
CDNOW_BASE="SELECT count(*) FROM (SELECT x, t_x, t_cal, count(*) FROM cbs GROUP BY 1, 2, 3) q"
CDNOW_BGNBD="SELECT clv_bgnbd_fit(x, t_x, t_cal) FROM cbs"
CDNOW_MBGNBD="SELECT clv_mbgnbd_fit(x, t_x, t_cal) FROM cbs"
CDNOW_PARETO="SELECT clv_paretonbd_fit(x, t_x, t_cal) FROM cbs"
CDNOW_GG_BASE="SELECT count(*) FROM (SELECT x, m_x, count(*) FROM cbs GROUP BY 1, 2) q"
CDNOW_GG="SELECT clv_gammagamma_fit(x, m_x) FROM cbs"

FIT_BASE="SELECT count(*) FROM (SELECT frequency, recency, t, count(*) FROM sim GROUP BY 1, 2, 3) q"
FIT_CLV="SELECT length(clv_bgnbd_fit(frequency, recency, t)) FROM sim"

SCORE_BASE="SELECT sum(exp(ln(frequency + 1))) FROM sim"
SCORE_CLV="SELECT sum(clv_expected_purchases(m, 52, frequency, recency, t) + clv_palive(m, frequency, recency, t))
FROM sim, model"
SCORE_CLV_LTV="SELECT sum(clv_expected_purchases(m, 52, frequency, recency, t) + clv_palive(m, frequency, recency, t)
           + clv_lifetime_value(m, sm, frequency, recency, t, 20 + frequency, '1 year', '7 days', 0.1, 'continuous'))
FROM sim, model"

# The floor: the same function calls with the same arguments doing no work
# (num_nonnulls), which is what the executor alone costs per row.
SCORE_FLOOR="SELECT sum(num_nonnulls(m, 52, frequency, recency, t) + num_nonnulls(m, frequency, recency, t))
FROM sim, model"
SCORE_FLOOR_LTV="SELECT sum(num_nonnulls(m, 52, frequency, recency, t) + num_nonnulls(m, frequency, recency, t)
           + num_nonnulls(m, sm, frequency, recency, t, 20 + frequency, '1 year'::interval, '7 days'::interval,
                          0.1, 'continuous'))
FROM sim, model"
SCORE_FLOOR_CHECKED="SELECT sum(clv_palive(m, 0, 0, t) + clv_palive(m, 0, 0, t) + clv_palive(m, 0, 0, t))
FROM sim, model"

# The tracking curve of the simulated cohort over 52 weeks (acquired in week 40 − t),
# against the GROUP BY of the acquisition times it keeps, and against the plain SQL sum
# of a single one of its 52 weeks.
TRACK_BASE="SELECT count(*) FROM (SELECT t, count(*) FROM sim GROUP BY t) q"
TRACK_CLV="SELECT clv_cumulative_expected_purchases(m, 40 - t, 52) FROM sim, model"
TRACK_ONE_WEEK="SELECT sum(clv_expected_purchases(m, greatest(t - 40 + 52, 0), 0, 0, 0)) FROM sim, model"

# ---- measurements ----------------------------------------------------------
echo
echo "runs (ms):"
measure "CDNOW bgnbd_fit vs GROUP BY x, t_x, T" "<50" 0 "$CDNOW_BASE" "$CDNOW_BGNBD"
measure "CDNOW mbgnbd_fit vs GROUP BY x, t_x, T" "<50" 0 "$CDNOW_BASE" "$CDNOW_MBGNBD"
measure "CDNOW paretonbd_fit vs GROUP BY x, t_x, T" "<50" 0 "$CDNOW_BASE" "$CDNOW_PARETO"
measure "CDNOW gammagamma_fit vs GROUP BY x, m_x" "<50" 0 "$CDNOW_GG_BASE" "$CDNOW_GG"
measure "bgnbd_fit on sim vs GROUP BY patterns" 2 0 "$FIT_BASE" "$FIT_CLV"
measure "expected_purchases + palive vs exp(ln(f+1))" 2 0 "$SCORE_BASE" "$SCORE_CLV"
measure "... + lifetime_value vs exp(ln(f+1))" 2 0 "$SCORE_BASE" "$SCORE_CLV_LTV"
measure "tracking curve, 52 weeks vs GROUP BY t" 2 0 "$TRACK_BASE" "$TRACK_CLV"
measure "tracking curve vs one week's sum in SQL" - 0 "$TRACK_ONE_WEEK" "$TRACK_CLV"
measure "floor: 2 calls doing nothing vs exp(ln(f+1))" - 0 "$SCORE_BASE" "$SCORE_FLOOR"
measure "floor: 3 calls doing nothing vs exp(ln(f+1))" - 0 "$SCORE_BASE" "$SCORE_FLOOR_LTV"
measure "floor: 3 calls checking model and args" - 0 "$SCORE_BASE" "$SCORE_FLOOR_CHECKED"

echo
print_results
echo
echo "targets: \"<50\" is the clv time in ms (the baseline is for scale), others the ratio clv/baseline."
echo "MISS is reported, not fatal."
if [ "$MODE" = smoke ]; then
	echo "smoke mode: small tables, one run each; the ratios above are not meaningful."
fi
