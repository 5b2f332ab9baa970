#!/usr/bin/env bash
# bench_covariates.sh — timings of BG/NBD and Pareto/NBD with static covariates, side by
# side with the plain SQL that scans the same rows and with the models without covariates:
#
#   1. clv_bgnbd_fit(frequency, recency, t, z1, z2) on simulated customers  vs  the GROUP BY
#      of the same rows (frequency, recency, t, z1, z2) with count(*): target 3
#   2. the same with clv_paretonbd_fit: target 3
#   3. sum(clv_expected_purchases(m, 52, ..., z1, z2) + clv_palive(m, ..., z1, z2)) with the
#      BG/NBD covariate model  vs  the same calls without covariates on the model fitted
#      without them: target 1.2
#   4. the same with the Pareto/NBD models: target 1.2
#   5. 3 with a one-hot purchase covariate of five levels (a region) and z2 instead: ten
#      covariate groups whose vectors differ in their first elements: target 1.2
#   6. for scale, without targets: the BG/NBD and Pareto/NBD fits and the scoring of 3
#      with continuous covariates (every customer's parameters differ, so nothing is
#      shared between rows)
#
# Usage:
#   test/bench/bench_covariates.sh          full run (1M simulated customers, 3 repetitions)
#   test/bench/bench_covariates.sh --smoke  20,000 customers, 1 repetition: checks that everything runs
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
# The script creates the extension if missing, works in its own schema (BENCH_SCHEMA,
# default clv_bench_cov) and drops it at the end.
#
# Optional environment:
#   BENCH_REPS=N         repetitions per query (median is reported; default 3, smoke 1)
#   BENCH_CUSTOMERS=N    simulated customers      (default 1000000, smoke 20000)
#   BENCH_JIT=on|off     the session's jit setting (default off)
#   BENCH_KEEP=1         keep the schema and its tables after the run
#
# Simulated customers (deterministic, from hashes of the row number), in weeks rounded to
# days, as in bench_btyd.sh, with covariates that shift the rates:
#   z1  (purchase)  two indicators (a channel, a first order above some value), P = 0.5, 0.3
#   z2  (dropout)   one indicator (a segment), P = 0.5
#   zh  (purchase)  one-hot of five levels, each P = 0.2, without effect on the purchases.
#   T (age) uniform in 1..40 weeks; lifetime Lomax(1, 140 days) scaled by 2 in segment 1;
#   purchases with a Gamma(1, 70 days) rate scaled by 1.5 and 0.7 by the two indicators.
#   The continuous variant (6) draws z1 and z2 uniform in [-0.5, 0.5), to 3 decimals.
#
# Timing as in bench_btyd.sh: EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) after an untimed
# LIMIT 0 pass, in one fresh psql session per run; max_parallel_workers_per_gather = 0.
# A MISS is reported, not fatal: the script fails only when a query fails.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_parse_args "$@"

if [ "$MODE" = smoke ]; then
	CUSTOMERS=${BENCH_CUSTOMERS:-20000}
	REPS=${BENCH_REPS:-1}
else
	CUSTOMERS=${BENCH_CUSTOMERS:-1000000}
	REPS=${BENCH_REPS:-3}
fi
JIT=${BENCH_JIT:-off}
SCHEMA=${BENCH_SCHEMA:-clv_bench_cov}
TIMING=explain
bench_validate CUSTOMERS REPS

print_header "clv covariates benchmark" \
	"$CUSTOMERS simulated customers" \
	"EXPLAIN (ANALYZE, TIMING OFF) execution time after an untimed LIMIT 0 pass;" \
	"max_parallel_workers_per_gather = 0, jit = $JIT"

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

CREATE TABLE sim AS
SELECT frequency,
       CASE WHEN frequency = 0 THEN 0
            ELSE least(t_days, greatest(1, ceil(w * u(i, 4) ^ (1 / frequency)))) / 7 END AS recency,
       t_days / 7 AS t, z1, z2, zc1, zc2, zh
FROM (SELECT i, t_days, w, z1, z2, zc1, zc2, zh,
             floor(ln(1 - u(i, 3)) / ln(w / (70 / rate + w))) AS frequency
      FROM (SELECT i, t_days, z1, z2, zc1, zc2, zh,
                   least(t_days, greatest(1e-6, 140 * (1 + z2[1]) * v / (1 - v))) AS w,
                   (1.5 ^ z1[1]) * (0.7 ^ z1[2]) AS rate
            FROM (SELECT i, 7 + floor(273 * u(i, 1)) AS t_days, u(i, 2) AS v,
                         ARRAY[(u(i, 5) < 0.5)::int, (u(i, 6) < 0.3)::int]::float8[] AS z1,
                         ARRAY[(u(i, 7) < 0.5)::int]::float8[] AS z2,
                         ARRAY[round(u(i, 8)::numeric - 0.5, 3), round(u(i, 9)::numeric - 0.5, 3)]::float8[] AS zc1,
                         ARRAY[round(u(i, 10)::numeric - 0.5, 3)]::float8[] AS zc2,
                         (SELECT array_agg((k = floor(5 * u(i, 11)))::int ORDER BY k)::float8[]
                          FROM generate_series(0, 4) k) AS zh
                  FROM generate_series(1, $CUSTOMERS::bigint) AS i) a) b) c;

CREATE TABLE model AS
SELECT clv_bgnbd_fit(frequency, recency, t) AS bg,
       clv_bgnbd_fit(frequency, recency, t, z1, z2) AS bg_cov,
       clv_bgnbd_fit(frequency, recency, t, zc1, zc2) AS bg_cont,
       clv_bgnbd_fit(frequency, recency, t, zh, z2) AS bg_onehot,
       clv_paretonbd_fit(frequency, recency, t) AS pnbd,
       clv_paretonbd_fit(frequency, recency, t, z1, z2) AS pnbd_cov
FROM sim;

-- scored from a row of their own, as a table of models keeps them: five models in
-- one row would move some out of line, and a model stored out of line is known by
-- its TOAST pointer, which is cheaper to compare than the bytes of one in line
CREATE TABLE models AS
SELECT name, m
FROM model, LATERAL (VALUES ('bg', bg), ('bg_cov', bg_cov), ('bg_cont', bg_cont), ('bg_onehot', bg_onehot),
                            ('pnbd', pnbd), ('pnbd_cov', pnbd_cov)) v(name, m);

VACUUM (FREEZE, ANALYZE) sim, model, models;
"
prewarm sim model models
echo "  tables:  sim $(psql_val "SELECT pg_size_pretty(pg_table_size('$SCHEMA.sim'))") (generated and fitted in $(( $(date +%s) - T0 )) s)"
psql_val "
SET search_path = $SCHEMA, public;
SELECT format('  %s: %s distinct rows; purchase coefficients %s, dropout %s, converged %s',
              k, i ->> 'n_rows', i -> 'purchase_coefficients', i -> 'dropout_coefficients', i ->> 'converged')
FROM model, LATERAL (VALUES ('bgnbd_cov', clv_model_info(bg_cov)), ('paretonbd_cov', clv_model_info(pnbd_cov))) v(k, i)"

FIT_BASE="SELECT count(*) FROM (SELECT frequency, recency, t, z1, z2, count(*) FROM sim GROUP BY 1, 2, 3, 4, 5) q"
FIT_BG="SELECT length(clv_bgnbd_fit(frequency, recency, t, z1, z2)) FROM sim"
FIT_PNBD="SELECT length(clv_paretonbd_fit(frequency, recency, t, z1, z2)) FROM sim"
FIT_CONT_BASE="SELECT count(*) FROM (SELECT frequency, recency, t, zc1, zc2, count(*) FROM sim GROUP BY 1, 2, 3, 4, 5) q"
FIT_CONT="SELECT length(clv_bgnbd_fit(frequency, recency, t, zc1, zc2)) FROM sim"
FIT_CONT_PNBD="SELECT length(clv_paretonbd_fit(frequency, recency, t, zc1, zc2)) FROM sim"

score() {	# score MODEL [COVARIATES]: expected purchases + P(alive) of every customer
	local m=$1 cov=${2:+, $2}
	echo "SELECT sum(clv_expected_purchases(m, 52, frequency, recency, t$cov) + clv_palive(m, frequency, recency, t$cov)) FROM sim, models WHERE name = '$m'"
}

echo
echo "runs (ms):"
measure "bgnbd_fit with covariates vs GROUP BY rows" 3 0 "$FIT_BASE" "$FIT_BG"
measure "paretonbd_fit with covariates vs GROUP BY" 3 0 "$FIT_BASE" "$FIT_PNBD"
measure "BG/NBD scoring: covariates vs none" 1.2 0 "$(score bg)" "$(score bg_cov 'z1, z2')"
measure "Pareto/NBD scoring: covariates vs none" 1.2 0 "$(score pnbd)" "$(score pnbd_cov 'z1, z2')"
measure "bgnbd_fit, continuous covariates" - 0 "$FIT_CONT_BASE" "$FIT_CONT"
measure "paretonbd_fit, continuous covariates" - 0 "$FIT_CONT_BASE" "$FIT_CONT_PNBD"
measure "BG/NBD scoring: one-hot covariates" 1.2 0 "$(score bg)" "$(score bg_onehot 'zh, z2')"
measure "BG/NBD scoring, continuous covariates" - 0 "$(score bg)" "$(score bg_cont 'zc1, zc2')"

echo
print_results
echo
echo "targets: the ratio clv/baseline; MISS is reported, not fatal."
if [ "$MODE" = smoke ]; then
	echo "smoke mode: small tables, one run each; the ratios above are not meaningful."
fi
