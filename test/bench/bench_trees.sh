#!/usr/bin/env bash
# bench_trees.sh — clv's tree ensembles side by side with their usual peers, on the same
# Friedman #1 rows (10 features, noise 1.0), in one run:
#
#   1. clv_forest_fit, 100 trees, depth 12, min leaf 5, 5 of 10 features per split
#        vs scikit-learn RandomForestRegressor(n_jobs=2) and ranger (R, num.threads=2)
#   2. clv_gbm_fit, 300 rounds, depth 6, learning rate 0.1
#        vs XGBoost XGBRegressor(tree_method="hist", n_jobs=2)
#   3. scoring: SELECT sum(clv_predict(m, x)) over the scoring rows, one backend (one core)
#        vs scikit-learn's predict with n_jobs=1, for the forest; XGBoost's predict with
#        nthread=1, for the boosted model (info line)
#   and the held-out R² of every model.
#   4. the forest's size: its bytes, bytes a node and stored (compressed) bytes, next to
#        scikit-learn's pickled forest; and the fit alone (SELECT length(clv_forest_fit(...)))
#        against the fit stored with CREATE TABLE AS, whose difference is the cost of
#        storing the model (info lines)
#
# Usage:
#   test/bench/bench_trees.sh            full run (200,000 train / 100,000 test rows,
#                                        1,000,000 scoring rows)
#   test/bench/bench_trees.sh --smoke    2,000 / 1,000 / 10,000 rows: checks that everything runs
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
# The script creates the extension if missing, works in its own schema (BENCH_SCHEMA,
# default clv_bench_trees) and drops it at the end.
#
# Optional environment:
#   BENCH_TRAIN=N  BENCH_TEST=N  BENCH_SCORE=N   row counts
#   BENCH_THREADS=N      clv.training_threads and the peers' threads (default 2)
#   BENCH_JIT=on|off     the session's jit setting (default off)
#   BENCH_KEEP=1         keep the schema and its tables after the run
#
# Timing: clv is timed in the server, by clock_timestamp() around an EXECUTE of the
# statement in a PL/pgSQL function (fit: CREATE TABLE AS SELECT clv_..._fit(...); scoring:
# the sum over the scoring table); max_parallel_workers_per_gather = 0.  The peers are
# timed around their fit or predict call only, on data already in memory.  One run
# each; the data are generated once (numpy, fixed seed) and loaded with COPY.  A peer
# that is not installed (python3-sklearn, python3-xgboost, r-cran-ranger) is skipped and
# reported.  A MISS is reported, not fatal: the script fails only when a query fails.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_parse_args "$@"

if [ "$MODE" = smoke ]; then
	TRAIN=${BENCH_TRAIN:-2000}
	TEST=${BENCH_TEST:-1000}
	SCORE=${BENCH_SCORE:-10000}
else
	TRAIN=${BENCH_TRAIN:-200000}
	TEST=${BENCH_TEST:-100000}
	SCORE=${BENCH_SCORE:-1000000}
fi
THREADS=${BENCH_THREADS:-2}
JIT=${BENCH_JIT:-off}
SCHEMA=${BENCH_SCHEMA:-clv_bench_trees}
REPS=1
PYTHON=/usr/bin/python3
bench_validate TRAIN TEST SCORE THREADS

FOREST_OPTS='{"n_trees": 100, "max_depth": 12, "min_samples_leaf": 5, "mtry": 5, "seed": 1}'
GBM_OPTS='{"n_rounds": 300, "max_depth": 6, "learning_rate": 0.1, "seed": 1}'

WORK=$(mktemp -d)
bench_exit() {
	rm -rf "$WORK"
	cleanup
}
trap bench_exit EXIT

echo "clv tree ensemble benchmark ($MODE mode)"
echo "  server:  $(psql_val "SELECT version()")"
echo "  cores:   $(nproc 2>/dev/null || echo '?') (client machine)"
echo "  sizes:   Friedman #1, $TRAIN train / $TEST test rows x 10 features; $SCORE scoring rows"
echo "  method:  one run each; clv: server time of each statement (max_parallel_workers_per_gather = 0);"
echo "           peers: time of their fit or predict call on data in memory;"
echo "           clv.training_threads = $THREADS, peers on $THREADS threads (scoring: one thread); jit = $JIT"

# ---- data ------------------------------------------------------------------
"$PYTHON" - "$WORK" "$TRAIN" "$TEST" "$SCORE" <<'PY'
import sys
import numpy as np

work, n_train, n_test, n_score = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(20240611)

def friedman(n):
    x = rng.random((n, 10))
    y = (10 * np.sin(np.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2
         + 10 * x[:, 3] + 5 * x[:, 4] + rng.standard_normal(n))
    return x, y

for name, n in (("train", n_train), ("test", n_test), ("score", n_score)):
    x, y = friedman(n)
    np.save("%s/%s_x.npy" % (work, name), x)
    np.save("%s/%s_y.npy" % (work, name), y)
    with open("%s/%s.csv" % (work, name), "w") as f:
        f.write("y,x1,x2,x3,x4,x5,x6,x7,x8,x9,x10\n")
        np.savetxt(f, np.column_stack([y, x]), delimiter=",", fmt="%.17g")
PY

T0=$(date +%s)
psql_do "
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS $SCHEMA CASCADE;
CREATE SCHEMA $SCHEMA;
SET search_path = $SCHEMA, public;
CREATE TABLE raw (y float8, x1 float8, x2 float8, x3 float8, x4 float8, x5 float8,
                  x6 float8, x7 float8, x8 float8, x9 float8, x10 float8);
CREATE TABLE train (y float8, x float8[]);
CREATE TABLE test (y float8, x float8[]);
CREATE TABLE score (y float8, x float8[]);
\\copy raw FROM '$WORK/train.csv' WITH (FORMAT csv, HEADER true)
INSERT INTO train SELECT y, ARRAY[x1, x2, x3, x4, x5, x6, x7, x8, x9, x10] FROM raw;
TRUNCATE raw;
\\copy raw FROM '$WORK/test.csv' WITH (FORMAT csv, HEADER true)
INSERT INTO test SELECT y, ARRAY[x1, x2, x3, x4, x5, x6, x7, x8, x9, x10] FROM raw;
TRUNCATE raw;
\\copy raw FROM '$WORK/score.csv' WITH (FORMAT csv, HEADER true)
INSERT INTO score SELECT y, ARRAY[x1, x2, x3, x4, x5, x6, x7, x8, x9, x10] FROM raw;
DROP TABLE raw;
VACUUM (FREEZE, ANALYZE) train, test, score;

-- milliseconds of one statement, measured in the server
CREATE FUNCTION bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE q;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END \$\$;
"
prewarm train test score
echo "  data:    generated and loaded in $(( $(date +%s) - T0 )) s"

# clv_ms SQL : server milliseconds of one statement in a fresh session
clv_ms() {
	"${PSQL[@]}" -A -t <<SQL | tail -n1
SET search_path = $SCHEMA, public;
SET jit = $JIT;
SET max_parallel_workers_per_gather = 0;
SET clv.training_threads = $THREADS;
SELECT round(bench_ms(\$q\$$1\$q\$)::numeric, 1);
SQL
}

# ---- clv ----------------------------------------------------------------------
echo
echo "runs:"
CLV_FOREST_MS=$(clv_ms "CREATE TABLE forest_model AS SELECT clv_forest_fit(y, x, '$FOREST_OPTS') AS m FROM train")
echo "  clv forest fit:    $CLV_FOREST_MS ms"
CLV_FOREST_FIT_ONLY_MS=$(clv_ms "SELECT length(clv_forest_fit(y, x, '$FOREST_OPTS')) FROM train")
echo "  clv forest fit, not stored: $CLV_FOREST_FIT_ONLY_MS ms"
CLV_GBM_MS=$(clv_ms "CREATE TABLE gbm_model AS SELECT clv_gbm_fit(y, x, '$GBM_OPTS') AS m FROM train")
echo "  clv gbm fit:       $CLV_GBM_MS ms"
CLV_SCORE_FOREST_MS=$(clv_ms "SELECT sum(clv_predict(m, x)) FROM score, forest_model")
echo "  clv forest score:  $CLV_SCORE_FOREST_MS ms"
CLV_SCORE_GBM_MS=$(clv_ms "SELECT sum(clv_predict(m, x)) FROM score, gbm_model")
echo "  clv gbm score:     $CLV_SCORE_GBM_MS ms"
R2=$(psql_val "SET search_path = $SCHEMA, public;
SELECT round(clv_r2(y, clv_predict(f.m, x))::numeric, 4) || ' ' || round(clv_r2(y, clv_predict(g.m, x))::numeric, 4)
FROM test, forest_model f, gbm_model g" | tail -n1)
CLV_FOREST_R2=${R2% *}
CLV_GBM_R2=${R2#* }

# ---- peers --------------------------------------------------------------------
# Each prints "key value" lines; a missing package prints "skip reason".
"$PYTHON" - "$WORK" "$THREADS" >"$WORK/python.out" <<'PY' || true
import sys
import time
import numpy as np

work, threads = sys.argv[1], int(sys.argv[2])
load = lambda name: (np.load("%s/%s_x.npy" % (work, name)), np.load("%s/%s_y.npy" % (work, name)))
(xtr, ytr), (xte, yte), (xsc, _) = load("train"), load("test"), load("score")
r2 = lambda y, p: 1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2)
try:
    from sklearn.ensemble import RandomForestRegressor
except ImportError:
    print("sklearn_skip python3-sklearn not installed")
else:
    rf = RandomForestRegressor(n_estimators=100, max_depth=12, min_samples_leaf=5, max_features=0.5,
                               n_jobs=threads, random_state=1)
    t0 = time.perf_counter(); rf.fit(xtr, ytr); print("sklearn_fit_ms %.1f" % ((time.perf_counter() - t0) * 1000))
    import pickle
    print("sklearn_pickle_bytes %d" % len(pickle.dumps(rf, protocol=pickle.HIGHEST_PROTOCOL)))
    print("sklearn_nodes %d" % sum(t.tree_.node_count for t in rf.estimators_))
    print("sklearn_r2 %.4f" % r2(yte, rf.predict(xte)))
    rf.set_params(n_jobs=1)
    t0 = time.perf_counter(); s = rf.predict(xsc).sum()
    print("sklearn_score_ms %.1f" % ((time.perf_counter() - t0) * 1000))
try:
    import xgboost
except ImportError:
    print("xgboost_skip python3-xgboost not installed")
else:
    xg = xgboost.XGBRegressor(tree_method="hist", n_estimators=300, max_depth=6, learning_rate=0.1,
                              n_jobs=threads, random_state=1)
    t0 = time.perf_counter(); xg.fit(xtr, ytr); print("xgboost_fit_ms %.1f" % ((time.perf_counter() - t0) * 1000))
    print("xgboost_r2 %.4f" % r2(yte, xg.predict(xte)))
    print("xgboost_version %s" % xgboost.__version__)
    xg.set_params(n_jobs=1)
    t0 = time.perf_counter(); s = xg.predict(xsc).sum()
    print("xgboost_score_ms %.1f" % ((time.perf_counter() - t0) * 1000))
PY

if command -v Rscript >/dev/null 2>&1; then
	Rscript - "$WORK" "$THREADS" >"$WORK/ranger.out" 2>"$WORK/ranger.err" <<'R' || echo "ranger_skip ranger failed: $(tail -n1 "$WORK/ranger.err")" >"$WORK/ranger.out"
args <- commandArgs(trailingOnly = TRUE)
if (!requireNamespace("ranger", quietly = TRUE)) {
	cat("ranger_skip r-cran-ranger not installed\n")
	quit(status = 0)
}
train <- read.csv(file.path(args[1], "train.csv"))
test <- read.csv(file.path(args[1], "test.csv"))
t0 <- proc.time()[["elapsed"]]
rf <- ranger::ranger(y ~ ., data = train, num.trees = 100, max.depth = 12, min.node.size = 5,
                     mtry = 5, num.threads = as.integer(args[2]), seed = 1)
cat(sprintf("ranger_fit_ms %.1f\n", (proc.time()[["elapsed"]] - t0) * 1000))
p <- predict(rf, test, num.threads = as.integer(args[2]))$predictions
cat(sprintf("ranger_r2 %.4f\n", 1 - sum((test$y - p)^2) / sum((test$y - mean(test$y))^2)))
R
else
	echo "ranger_skip Rscript not installed" >"$WORK/ranger.out"
fi

peer() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$WORK/python.out" "$WORK/ranger.out"; }
for p in sklearn xgboost ranger; do
	reason=$(peer "${p}_skip")
	[ -z "$reason" ] || echo "  SKIP $p: $reason"
done

# line NAME PEER_MS CLV_MS TARGET : peer time / clv time is the speed-up; TARGET is the
# least speed-up wanted ("-" for an info line)
line() {
	local name=$1 peer_ms=$2 clv_ms=$3 target=$4 speedup verdict
	if [ -z "$peer_ms" ]; then
		RESULTS+=("$(printf '%-44s %12s %12s %8s %7s  %s' "$name" "skipped" "$clv_ms" "-" "$target" "SKIP")")
		return
	fi
	speedup=$(awk -v b="$peer_ms" -v c="$clv_ms" 'BEGIN{ if (c > 0) printf "%.2f", b / c; else print "nan" }')
	if [ "$target" = - ]; then verdict=info
	else verdict=$(awk -v s="$speedup" -v t="$target" 'BEGIN{ print (s != "nan" && s + 0 >= t + 0) ? "PASS" : "MISS" }')
	fi
	RESULTS+=("$(printf '%-44s %12s %12s %8s %7s  %s' "$name" "$peer_ms" "$clv_ms" "${speedup}x" "$target" "$verdict")")
}
line "forest fit vs sklearn RandomForestRegressor" "$(peer sklearn_fit_ms)" "$CLV_FOREST_MS" 10
line "forest fit vs ranger" "$(peer ranger_fit_ms)" "$CLV_FOREST_MS" 10
line "gbm fit vs XGBoost $(peer xgboost_version) hist" "$(peer xgboost_fit_ms)" "$CLV_GBM_MS" 1
line "forest scoring, one core, vs sklearn predict" "$(peer sklearn_score_ms)" "$CLV_SCORE_FOREST_MS" 1
line "gbm scoring, one core, vs XGBoost predict" "$(peer xgboost_score_ms)" "$CLV_SCORE_GBM_MS" -

echo
printf '%-44s %12s %12s %8s %7s  %s\n' "name" "peer ms" "clv ms" "speed-up" "target" "result"
printf '%s\n' "--------------------------------------------------------------------------------------------"
printf '%s\n' "${RESULTS[@]}"
echo
echo "held-out R²: clv forest $CLV_FOREST_R2, sklearn forest $(peer sklearn_r2), ranger $(peer ranger_r2);"
echo "             clv gbm $CLV_GBM_R2, XGBoost $(peer xgboost_r2)"
echo "speed-up = peer time / clv time; targets are the least speed-up wanted. MISS is reported, not fatal."
SIZE=$(psql_val "SET search_path = $SCHEMA, public;
SELECT length(m) || ' ' || pg_column_size(m) || ' ' || (clv_model_info(m) ->> 'n_nodes') FROM forest_model" | tail -n1)
read -r CLV_BYTES CLV_STORED CLV_NODES <<<"$SIZE"
echo
echo "forest model size and storing it (info):"
printf '  clv model:        %12d bytes, %8d nodes, %6.2f bytes a node; stored (compressed) %d bytes\n' \
	"$CLV_BYTES" "$CLV_NODES" "$(awk -v b="$CLV_BYTES" -v n="$CLV_NODES" 'BEGIN{ print b / n }')" "$CLV_STORED"
if [ -n "$(peer sklearn_pickle_bytes)" ]; then
	printf '  sklearn pickle:   %12d bytes, %8d nodes, %6.2f bytes a node\n' "$(peer sklearn_pickle_bytes)" \
		"$(peer sklearn_nodes)" "$(awk -v b="$(peer sklearn_pickle_bytes)" -v n="$(peer sklearn_nodes)" 'BEGIN{ print b / n }')"
fi
echo "  clv fit alone $CLV_FOREST_FIT_ONLY_MS ms, fit stored by CREATE TABLE AS $CLV_FOREST_MS ms:" \
	"storing costs $(awk -v a="$CLV_FOREST_FIT_ONLY_MS" -v b="$CLV_FOREST_MS" 'BEGIN{ printf "%.0f", b - a }') ms (one run each)"
if [ "$MODE" = smoke ]; then
	echo "smoke mode: tiny tables, one run each; the ratios above are not meaningful."
fi
