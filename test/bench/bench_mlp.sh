#!/usr/bin/env bash
# bench_mlp.sh — clv_mlp_fit and clv_predict against scikit-learn's MLPRegressor on the
# same rows and settings: Friedman #1 (10 features), one hidden layer of 100 ReLU units,
# batches of 200, Adam at 0.001, l2 = alpha = 1e-4, a fixed number of epochs (tol = 0 and
# n_iter_no_change above the epochs on both sides, so neither stops early).
#
#   1. training: clv, the whole aggregate over a table, SELECT clv_mlp_fit(y, x, ...)
#      FROM t, timed in the server, with clv.training_threads = 2 and
#      max_parallel_workers_per_gather = 0; scikit-learn, StandardScaler + .fit on the
#      rows already in numpy, limited to 2 threads (threadpoolctl, OMP_NUM_THREADS and
#      OPENBLAS_NUM_THREADS).  Target: clv at least 3 times faster (ratio >= 3).
#   2. scoring, per row and per core: clv, SELECT sum(clv_predict((SELECT m FROM model),
#      x)) FROM t (the model read once, decoded once through the model cache);
#      scikit-learn, .predict on the same rows on one thread.  Target: clv faster per
#      row (ratio >= 1).  Also shown: the same query without the model,
#      SELECT sum(x[1]) FROM t, and so what the prediction itself adds.
#   3. for scale, a plain SQL pass over the same rows: SELECT count(*), avg(y) FROM t.
#   Times are the best of the runs, on both sides: on a machine shared with other
#   work the fastest run is the one least disturbed.
#
# Usage:
#   test/bench/bench_mlp.sh            full run: 20,000 rows, 50 epochs, 5 runs each
#   test/bench/bench_mlp.sh --smoke    2,000 rows, 3 epochs, one run each
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
# The script creates the extension if missing, works in its own schema (BENCH_SCHEMA,
# default clv_bench_mlp) and drops it at the end.
#
# Optional environment:
#   BENCH_ROWS=N       rows (default 20000, smoke 2000)
#   BENCH_EPOCHS=N     epochs (default 50, smoke 3)
#   BENCH_THREADS=N    clv.training_threads and scikit-learn's threads (default 2)
#   BENCH_REPS=N       runs of each timing (default 5, smoke 1)
#   BENCH_JIT=on|off   the session's jit setting (default off)
#
# A MISS is reported, not fatal: the script fails only when a query fails or when
# scikit-learn is not installed.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_parse_args "$@"

if [ "$MODE" = smoke ]; then
	ROWS=${BENCH_ROWS:-2000}
	EPOCHS=${BENCH_EPOCHS:-3}
	REPS=${BENCH_REPS:-1}
else
	ROWS=${BENCH_ROWS:-20000}
	EPOCHS=${BENCH_EPOCHS:-50}
	REPS=${BENCH_REPS:-5}
fi
THREADS=${BENCH_THREADS:-2}
JIT=${BENCH_JIT:-off}
SCHEMA=${BENCH_SCHEMA:-clv_bench_mlp}
PYTHON=/usr/bin/python3
bench_validate ROWS EPOCHS THREADS REPS

WORK=$(mktemp -d)
bench_exit() {
	rm -rf "$WORK"
	cleanup
}
trap bench_exit EXIT

OPTS="{\"hidden_layers\": [100], \"activation\": \"relu\", \"batch_size\": 200, \"learning_rate\": 0.001, \"l2\": 0.0001, \"max_epochs\": $EPOCHS, \"tol\": 0, \"n_iter_no_change\": 100000, \"seed\": 1}"

echo "clv multi-layer perceptron benchmark ($MODE mode)"
echo "  server:  $(psql_val "SELECT version()")"
echo "  cores:   $(nproc 2>/dev/null || echo '?') (client machine)"
echo "  data:    $ROWS rows x 10 features, Friedman #1 (noise 1); 100 ReLU units, batches of 200,"
echo "           $EPOCHS epochs, Adam 0.001, l2 1e-4"
echo "  method:  best of $REPS run(s); clv: server time of the statement, clv.training_threads"
echo "           = $THREADS, no parallel workers, jit = $JIT; scikit-learn: .fit on numpy rows,"
echo "           $THREADS threads; scoring on one core each"

# ---- data ------------------------------------------------------------------
"$PYTHON" - "$WORK" "$ROWS" <<'PY'
import sys
import numpy as np
from sklearn.datasets import make_friedman1

work, n = sys.argv[1], int(sys.argv[2])
x, y = make_friedman1(n_samples=n, n_features=10, noise=1.0, random_state=20260611)
np.save("%s/x.npy" % work, x)
np.save("%s/y.npy" % work, y)
with open("%s/rows.txt" % work, "w") as f:
    for xi, yi in zip(x, y):
        f.write("%r\t{%s}\n" % (float(yi), ",".join(repr(float(v)) for v in xi)))
PY

psql_do "
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS $SCHEMA CASCADE;
CREATE SCHEMA $SCHEMA;
SET search_path = $SCHEMA, public;
CREATE TABLE t (y float8, x float8[]);
\\copy t FROM '$WORK/rows.txt'
VACUUM (FREEZE, ANALYZE) t;
CREATE TABLE model AS SELECT clv_mlp_fit(y, x, '$OPTS') AS m FROM t;

-- milliseconds of one statement, measured in the server
CREATE FUNCTION bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE q;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END \$\$;
"
prewarm t

# server_ms SQL : server milliseconds of one run in a fresh session
server_ms() {
	"${PSQL[@]}" -A -t <<SQL | tail -n1
SET search_path = $SCHEMA, public;
SET jit = $JIT;
SET max_parallel_workers_per_gather = 0;
SET clv.training_threads = $THREADS;
SELECT round(bench_ms(\$q\$$1\$q\$)::numeric, 2);
SQL
}

best_of() {
	printf '%s\n' "$@" | sort -g | head -n1
}

scan=() fit=() score=() read_x=()
for _ in $(seq "$REPS"); do
	scan+=("$(server_ms "SELECT count(*), avg(y) FROM t")")
	fit+=("$(server_ms "SELECT length(clv_mlp_fit(y, x, '$OPTS')) FROM t")")
	score+=("$(server_ms "SELECT sum(clv_predict((SELECT m FROM model), x)) FROM t")")
	read_x+=("$(server_ms "SELECT sum(x[1]) FROM t")")
done
SCAN_MS=$(best_of "${scan[@]}")
FIT_MS=$(best_of "${fit[@]}")
SCORE_MS=$(best_of "${score[@]}")
READ_MS=$(best_of "${read_x[@]}")
CLV_R2=$(psql_val "SET search_path = $SCHEMA, public;
SELECT round((1 - sum((y - p) ^ 2) / sum((y - a) ^ 2))::numeric, 4)
FROM (SELECT y, clv_predict(m, x) AS p, avg(y) OVER () AS a FROM t, model) s" | tail -n1)

read -r SK_FIT_MS SK_SCORE_MS SK_R2 <<<"$(OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS \
	"$PYTHON" - "$WORK" "$EPOCHS" "$THREADS" "$REPS" <<'PY'
import sys
import time
import warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

work, epochs, threads, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
warnings.simplefilter("ignore", ConvergenceWarning)
x = np.load("%s/x.npy" % work)
y = np.load("%s/y.npy" % work)
fits, scores = [], []
for _ in range(reps):
    with threadpool_limits(limits=threads):
        t0 = time.perf_counter()
        scaler = StandardScaler().fit(x)
        net = MLPRegressor(hidden_layer_sizes=(100,), activation="relu", solver="adam",
                           alpha=1e-4, batch_size=200, learning_rate_init=0.001,
                           max_iter=epochs, tol=0, n_iter_no_change=epochs + 1,
                           shuffle=True, random_state=1).fit(scaler.transform(x), y)
        fits.append((time.perf_counter() - t0) * 1000)
    with threadpool_limits(limits=1):
        t0 = time.perf_counter()
        p = net.predict(scaler.transform(x))
        scores.append((time.perf_counter() - t0) * 1000)
r2 = 1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2)
print("%.2f %.2f %.4f" % (min(fits), min(scores), r2))
PY
)"

FIT_RATIO=$(awk -v a="$SK_FIT_MS" -v b="$FIT_MS" 'BEGIN { printf "%.2f", a / b }')
CLV_US=$(awk -v a="$SCORE_MS" -v n="$ROWS" 'BEGIN { printf "%.3f", a * 1000 / n }')
SK_US=$(awk -v a="$SK_SCORE_MS" -v n="$ROWS" 'BEGIN { printf "%.3f", a * 1000 / n }')
SCORE_RATIO=$(awk -v a="$SK_SCORE_MS" -v b="$SCORE_MS" 'BEGIN { printf "%.2f", a / b }')
SCAN_RATIO=$(awk -v a="$FIT_MS" -v b="$SCAN_MS" 'BEGIN { printf "%.0f", a / b }')
MISSES=0
verdict() { if awk -v r="$1" -v t="$2" 'BEGIN { exit !(r >= t) }'; then echo ok; else echo MISS; fi; }

echo
echo "results (best of $REPS):"
printf '  %-46s %10s ms\n' "plain SQL pass, SELECT count(*), avg(y)" "$SCAN_MS"
printf '  %-46s %10s ms   training R^2 %s\n' "clv_mlp_fit (whole aggregate)" "$FIT_MS" "$CLV_R2"
printf '  %-46s %10s ms   training R^2 %s\n' "scikit-learn MLPRegressor .fit" "$SK_FIT_MS" "$SK_R2"
printf '  %-46s %10s ms\n' "the same rows without the model, sum(x[1])" "$READ_MS"
printf '  %-46s %10s ms   %s us a row\n' "clv_predict over the table (one core)" "$SCORE_MS" "$CLV_US"
printf '  %-46s %10s ms   %s us a row\n' "scikit-learn .predict (one thread)" "$SK_SCORE_MS" "$SK_US"
v=$(verdict "$FIT_RATIO" 3); [ "$v" = ok ] || MISSES=$((MISSES + 1))
echo "  training: scikit-learn / clv $FIT_RATIO (target >= 3): $v"
v=$(verdict "$SCORE_RATIO" 1); [ "$v" = ok ] || MISSES=$((MISSES + 1))
echo "  scoring per row: scikit-learn / clv $SCORE_RATIO (target >= 1): $v"
echo "  training / plain SQL pass: $SCAN_RATIO"
echo
echo "MISS is reported, not fatal ($MISSES of 2)."
if [ "$MODE" = smoke ]; then
	echo "smoke mode: a small table, one run each; the ratios above are not meaningful."
fi
