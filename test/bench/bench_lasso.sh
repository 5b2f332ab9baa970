#!/usr/bin/env bash
# bench_lasso.sh — the lasso / elastic net of clv_linreg_fit (option "l1") side by side
# with what it competes with:
#
#   1. clv_linreg_fit(y, x, '{"l1": ..., "l2": ...}') against the OLS fit
#      clv_linreg_fit(y, x) over the same rows: what the penalty costs (target 1.5x)
#   2. the same lasso fit against plain SQL reading the same rows (avg(y), avg(x[1])):
#      the cost of the fit beyond the scan
#   3. a path of 20 values of l1 (clv_linreg_stats, then clv_linreg_path) against
#      the OLS fit: many penalties from one pass
#   4. scikit-learn's ElasticNet (the same penalties, mapped as doc/learners.md says;
#      tol 1e-12, precompute=True, and with its defaults) on the same data in numpy,
#      against the clv lasso fit: .fit time alone, the data already in memory
#
# The data: x_ij = ((i * a_j) mod 100003) / 10000 − 5 for rows i = 1..N and features
# j = 1..50 (a_j = 1009 j + 7), y = 1 + 2 x_1 − 3 x_2 + 1.5 x_3 + 0.5 x_4 − x_5 +
# u_i with u_i = ((i · 48271) mod 2147483647) / 2147483647 − 0.5: integer arithmetic
# and correctly rounded divisions, so SQL and numpy build the same doubles.  The
# script checks that the two fits agree (coefficients to 1e-6 relative).
#
# Usage:
#   test/bench/bench_lasso.sh            full run: 1,000,000 rows x 50 features, 3 runs
#   test/bench/bench_lasso.sh --smoke    20,000 rows, one run: checks that everything runs
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
# The script creates the extension if missing, works in its own schema (BENCH_SCHEMA,
# default clv_bench_lasso) and drops it at the end.
#
# Optional environment:
#   BENCH_ROWS=N         rows
#   BENCH_REPS=N         runs per side
#   BENCH_JIT=on|off     the session's jit setting (default off)
#   BENCH_KEEP=1         keep the schema and its tables after the run
#
# Timing: one fresh psql session per run: settings, an untimed LIMIT 0 pass (loads the
# library), then the query under \timing (client wall time); serial plans.  The two
# queries of a line alternate; the table reports medians.  scikit-learn runs in one
# process with one BLAS thread, the median of the same number of runs.  A MISS is
# reported, not fatal: the script fails only when a query fails or the fits disagree.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_parse_args "$@"

if [ "$MODE" = smoke ]; then
	ROWS=${BENCH_ROWS:-20000}
	REPS=${BENCH_REPS:-1}
else
	ROWS=${BENCH_ROWS:-1000000}
	REPS=${BENCH_REPS:-3}
fi
JIT=${BENCH_JIT:-off}
SCHEMA=${BENCH_SCHEMA:-clv_bench_lasso}
TIMING=psql
PYTHON=/usr/bin/python3
P=50
bench_validate ROWS REPS

print_header "clv lasso / elastic net benchmark" \
	"$ROWS rows x $P features (5 informative)" \
	"psql \\timing of the whole statement after an untimed LIMIT 0 pass; jit = $JIT"

trap cleanup EXIT
T0=$(date +%s)
psql_do "
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS $SCHEMA CASCADE;
CREATE SCHEMA $SCHEMA;
SET search_path = $SCHEMA, public;
CREATE TABLE bench_rows AS
SELECT i, x, 1 + 2 * x[1] - 3 * x[2] + 1.5 * x[3] + 0.5 * x[4] - x[5]
             + (((i * 48271) % 2147483647)::float8 / 2147483647 - 0.5) AS y
FROM (SELECT i, ARRAY(SELECT ((i * (1009 * j + 7)) % 100003)::float8 / 10000 - 5
                      FROM generate_series(1, $P) j) AS x
      FROM generate_series(1::bigint, $ROWS) i) g;
VACUUM (FREEZE, ANALYZE) bench_rows;
"
prewarm bench_rows
echo "  table:   bench_rows $(psql_val "SELECT pg_size_pretty(pg_table_size('$SCHEMA.bench_rows'))"), built in $(( $(date +%s) - T0 )) s"

# penalties: l1 a fifth of the l1 that zeroes every slope, l2 = l1 / 10
LMAX=$(psql_val "SET search_path = $SCHEMA, public;
SELECT max(abs(2 * (sxy - sx * sy / n)))
FROM (SELECT j, count(*)::float8 AS n, sum(x[j] * y) AS sxy, sum(x[j]) AS sx, sum(y) AS sy
      FROM bench_rows, generate_series(1, $P) j GROUP BY j) s" | tail -n1)
L1=$(awk -v m="$LMAX" 'BEGIN { printf "%.17g", m / 5 }')
L2=$(awk -v m="$L1" 'BEGIN { printf "%.17g", m / 10 }')
OPTIONS="{\"l1\": $L1, \"l2\": $L2}"
echo "  penalty: l1 = $L1 (l1_max / 5), l2 = $L2; sklearn alpha = (l1 / 2 + l2) / n, l1_ratio = (l1 / 2) / (l1 / 2 + l2)"

OLS="SELECT clv_linreg_fit(y, x) FROM bench_rows"
LASSO="SELECT clv_linreg_fit(y, x, '$OPTIONS') FROM bench_rows"
PLAIN="SELECT avg(y), avg(x[1]) FROM bench_rows"
PATH20="SELECT count(*) FROM clv_linreg_path((SELECT clv_linreg_stats(y, x) FROM bench_rows),
    ARRAY(SELECT $L1 * 5 * 0.7 ^ k FROM generate_series(0, 19) k), '{\"l2\": $L2}')"

echo
echo "runs (ms):"
measure "lasso fit vs OLS fit (clv_linreg_fit)" 1.5 0 "$OLS" "$LASSO"
measure "lasso fit vs SELECT avg(y), avg(x[1])" - 0 "$PLAIN" "$LASSO"
measure "path of 20 l1 (stats + path) vs OLS fit" 1.5 0 "$OLS" "$PATH20"
CLV_LASSO_MS=$(median "$(for ((r = 1; r <= REPS; r++)); do time_query psql 0 "$LASSO"; done)")

# ---- scikit-learn on the same doubles ---------------------------------------
COEF=$(psql_val "SET search_path = $SCHEMA, public;
SELECT clv_model_info(clv_linreg_fit(y, x, '$OPTIONS')) -> 'coefficients' FROM bench_rows" | tail -n1)
PEER=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$PYTHON" - "$ROWS" "$P" "$L1" "$L2" "$REPS" "$COEF" <<'PY' || true
import json
import sys
import time
import warnings

try:
    import numpy as np
    from sklearn.linear_model import ElasticNet
except ImportError:
    print("skip python3-sklearn not installed")
    sys.exit(0)

n, p, l1, l2, reps = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
clv = json.loads(sys.argv[6])
i = np.arange(1, n + 1, dtype=np.int64)[:, None]
a = 1009 * np.arange(1, p + 1, dtype=np.int64) + 7
x = ((i * a) % 100003).astype(np.float64) / 10000 - 5
i = i[:, 0]
y = 1 + 2 * x[:, 0] - 3 * x[:, 1] + 1.5 * x[:, 2] + 0.5 * x[:, 3] - x[:, 4] \
    + (((i * 48271) % 2147483647).astype(np.float64) / 2147483647 - 0.5)
# clv: ‖r‖² + l1 ‖w‖₁ + l2 ‖w‖²;  sklearn: ‖r‖²/(2n) + α ρ ‖w‖₁ + α (1 − ρ)/2 ‖w‖²
alpha = (l1 / 2 + l2) / n
ratio = (l1 / 2) / (l1 / 2 + l2)


def timed(**kw):
    runs, model = [], None
    for _ in range(reps):
        model = ElasticNet(alpha=alpha, l1_ratio=ratio, **kw)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x, y)
        runs.append((time.perf_counter() - t0) * 1000)
    return float(np.median(runs)), model


tight_ms, tight = timed(tol=1e-12, max_iter=10 ** 6, precompute=True)
default_ms, _ = timed()
want = np.concatenate([[tight.intercept_], tight.coef_])
got = np.array(clv, dtype=float)
floor = 1e-6 * np.max(np.abs(want[1:]))
diff = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), floor)))
print("tight_ms %.1f" % tight_ms)
print("default_ms %.1f" % default_ms)
print("max_rel_diff %.3g" % diff)
print("nonzero %d %d" % (int(np.sum(got[1:] != 0)), int(np.sum(want[1:] != 0))))
PY
)
peer() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' <<<"$PEER"; }
if [ -n "$(peer tight_ms)" ]; then
	DIFF=$(peer max_rel_diff)
	awk -v d="$DIFF" 'BEGIN { exit !(d != "" && d + 0 <= 1e-6) }' ||
		bench_die "clv and scikit-learn disagree: max relative difference $DIFF"
	echo "  check:   clv and sklearn ElasticNet(tol=1e-12) agree to $DIFF relative; nonzero slopes (clv, sklearn): $(peer nonzero)"
	for kind in tight default; do
		ms=$(peer "${kind}_ms")
		ratio=$(awk -v b="$ms" -v c="$CLV_LASSO_MS" 'BEGIN { printf "%.2f", c / b }')
		label="clv lasso fit vs sklearn ElasticNet ($kind)"
		RESULTS+=("$(printf '%-44s %12s %12s %7s %7s  %s' "$label" "$ms" "$CLV_LASSO_MS" "$ratio" - info)")
	done
else
	echo "  sklearn: skipped ($(peer skip))"
fi

echo
print_results
echo
echo "targets: the ratio clv/baseline.  The sklearn lines time .fit on numpy arrays already in"
echo "memory (tight: tol=1e-12, precompute=True; default: its defaults), the clv line the whole"
echo "statement, scan of the table included.  MISS is reported, not fatal."
if [ "$MODE" = smoke ]; then
	echo "smoke mode: a small table, one run each; the ratios above are not meaningful."
fi
