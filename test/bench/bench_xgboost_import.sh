#!/usr/bin/env bash
# bench_xgboost_import.sh — scoring models trained in XGBoost: clv_predict of the model
# clv_import_xgboost read, next to XGBoost's own predict, on the same rows, per core:
#
#   for each model (reg:squarederror and binary:logistic, depth 6, 10 features with a
#   tenth of the values missing):
#     clv:      SELECT sum(clv_predict(m, x)) FROM score, model   (one backend, one core)
#     xgboost:  Booster.predict(DMatrix) with nthread=1, on a new DMatrix built beforehand
#               (XGBoost caches the predictions of a DMatrix it has seen)
#   and the time clv_import_xgboost takes to read the model's JSON, and a check that
#   the two sums of predictions agree to 1e-6 relative.
#
# Usage:
#   test/bench/bench_xgboost_import.sh            full run: 300 trees, 200,000 scoring rows
#   test/bench/bench_xgboost_import.sh --smoke    30 trees, 5,000 rows: checks that it runs
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
# The script creates the extension if missing, works in its own schema (BENCH_SCHEMA,
# default clv_bench_xgb) and drops it at the end.
#
# Optional environment:
#   BENCH_TREES=N  BENCH_SCORE=N   trees per model, scoring rows
#   BENCH_REPS=N                   runs per side, the median is shown (default 3)
#   BENCH_JIT=on|off               the session's jit setting (default off)
#   BENCH_KEEP=1                   keep the schema and its tables after the run
#
# Timing: clv in the server, by clock_timestamp() around an EXECUTE of the query in a
# PL/pgSQL function, max_parallel_workers_per_gather = 0, the model already decoded
# by a first run (the scoring cache); XGBoost around its predict call on a DMatrix in
# memory.  Without python3-xgboost the script says so and exits 0.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_parse_args "$@"

if [ "$MODE" = smoke ]; then
	TREES=${BENCH_TREES:-30}
	SCORE=${BENCH_SCORE:-5000}
else
	TREES=${BENCH_TREES:-300}
	SCORE=${BENCH_SCORE:-200000}
fi
REPS=${BENCH_REPS:-3}
JIT=${BENCH_JIT:-off}
SCHEMA=${BENCH_SCHEMA:-clv_bench_xgb}
PYTHON=/usr/bin/python3
bench_validate TREES SCORE REPS

if ! "$PYTHON" -c 'import numpy, xgboost' 2>/dev/null; then
	echo "SKIP: python3-xgboost (or numpy) is not installed"
	exit 0
fi

WORK=$(mktemp -d)
bench_exit() {
	rm -rf "$WORK"
	cleanup
}
trap bench_exit EXIT

print_header "clv_import_xgboost scoring benchmark" \
	"$TREES trees of depth 6 per model, 10 features, $SCORE scoring rows" \
	"clv: server time of the query, one backend, the model cached by a first run;" \
	"xgboost: its predict call, nthread=1, on a DMatrix in memory; jit = $JIT"

# ---- models and data: trained and timed in XGBoost -----------------------------------
"$PYTHON" - "$WORK" "$TREES" "$SCORE" "$REPS" <<'PY'
import sys
import time
import numpy as np
import xgboost

work, trees, n_score, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(20261207)

# customers: log-normal spend and counts, a few ratios, noise; a tenth missing
def rows(n):
    x = np.column_stack([rng.lognormal(3, 1, n), rng.poisson(4, n), rng.exponential(90, n),
                         rng.normal(size=(n, 7))])
    y = (np.log1p(x[:, 0]) * np.sqrt(x[:, 1]) - x[:, 2] / 60 + np.tanh(x[:, 3] * x[:, 4])
         + rng.normal(scale=0.5, size=n))
    x[rng.random(x.shape) < 0.1] = np.nan
    return x, y

xtr, ytr = rows(20000)
xsc, _ = rows(n_score)
with open("%s/score.csv" % work, "w") as f:
    for i, row in enumerate(xsc):
        f.write("%d\t{%s}\n" % (i, ",".join("NaN" if np.isnan(v) else repr(float(v)) for v in row)))
for name, objective, label in (("squared", "reg:squarederror", ytr),
                               ("logistic", "binary:logistic", (ytr > np.median(ytr)).astype(float))):
    booster = xgboost.train({"objective": objective, "max_depth": 6, "eta": 0.1,
                             "tree_method": "hist", "nthread": 2, "seed": 1},
                            xgboost.DMatrix(xtr, label=label), trees)
    booster.save_model("%s/%s.json" % (work, name))
    booster.set_param({"nthread": 1})
    times = []
    for _ in range(reps + 1):
        # a new DMatrix each time: XGBoost caches the predictions of one it has seen
        scoring = xgboost.DMatrix(xsc, nthread=1)
        t0 = time.perf_counter()
        p = booster.predict(scoring)
        times.append((time.perf_counter() - t0) * 1000)
    times = times[1:]                               # the first warms up
    with open("%s/%s.xgb" % (work, name), "w") as f:
        f.write("%.1f %.17g\n" % (sorted(times)[len(times) // 2], float(np.sum(p, dtype=np.float64))))
PY

psql_do "
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS $SCHEMA CASCADE;
CREATE SCHEMA $SCHEMA;
SET search_path = $SCHEMA, public;
CREATE TABLE score (i int, x float8[]);
\\copy score FROM '$WORK/score.csv'
CREATE TABLE json (name text, doc jsonb);
CREATE TABLE raw (doc text);
\\copy raw FROM '$WORK/squared.json'
INSERT INTO json SELECT 'squared', doc::jsonb FROM raw;
TRUNCATE raw;
\\copy raw FROM '$WORK/logistic.json'
INSERT INTO json SELECT 'logistic', doc::jsonb FROM raw;
CREATE TABLE model AS SELECT name, clv_import_xgboost(doc) AS m FROM json;
VACUUM (FREEZE, ANALYZE) score;
-- milliseconds of runs of a query in this session: the median
CREATE FUNCTION bench_ms(q text, runs int) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; ms float8[] := '{}';
BEGIN
    EXECUTE q;          -- decodes the model into the scoring cache
    FOR k IN 1..runs LOOP
        t0 := clock_timestamp();
        EXECUTE q;
        ms := ms || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
    END LOOP;
    RETURN (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY v) FROM unnest(ms) v);
END \$\$;
"

clv_val() {
	"${PSQL[@]}" -A -t <<SQL | tail -n1
SET search_path = $SCHEMA, public;
SET jit = $JIT;
SET max_parallel_workers_per_gather = 0;
$1
SQL
}

echo
printf '%-34s %12s %12s %8s\n' "per core" "xgboost ms" "clv ms" "clv/xgb"
printf '%s\n' "--------------------------------------------------------------------"
status=0
SCAN_MS=$(clv_val "SELECT round(bench_ms('SELECT sum(x[1]) FROM score', $REPS)::numeric, 1);")
for name in squared logistic; do
	read -r XGB_MS XGB_SUM <"$WORK/$name.xgb"
	CLV_MS=$(clv_val "SELECT round(bench_ms(\$q\$SELECT sum(clv_predict(m, x)) FROM score, model WHERE name = '$name'\$q\$, $REPS)::numeric, 1);")
	IMPORT_MS=$(clv_val "SELECT round(bench_ms(\$q\$SELECT length(clv_import_xgboost(doc)) FROM json WHERE name = '$name'\$q\$, $REPS)::numeric, 1);")
	CLV_SUM=$(clv_val "SELECT sum(clv_predict(m, x)) FROM score, model WHERE name = '$name';")
	printf '%-34s %12s %12s %8s\n' "score $SCORE rows, $name" "$XGB_MS" "$CLV_MS" \
		"$(awk -v c="$CLV_MS" -v x="$XGB_MS" 'BEGIN{ if (x > 0) printf "%.2f", c / x; else print "nan" }')"
	echo "  import of the JSON ($name): $IMPORT_MS ms"
	if awk -v c="$CLV_SUM" -v x="$XGB_SUM" 'BEGIN{ d = c - x; if (d < 0) d = -d; s = x < 0 ? -x : x; exit !(d <= 1e-6 * s) }'; then
		echo "  sums of predictions agree: clv $CLV_SUM, xgboost $XGB_SUM"
	else
		echo "  MISMATCH: sum of predictions clv $CLV_SUM, xgboost $XGB_SUM"
		status=1
	fi
done
echo "  scan alone (SELECT sum(x[1]) FROM score): $SCAN_MS ms"
exit "$status"
