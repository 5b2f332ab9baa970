#!/usr/bin/env bash
# bench_kmeans.sh — clv_kmeans_fit against scikit-learn's KMeans(algorithm="lloyd",
# n_init=1) on the same rows, k = 8, on two mixtures of 8 Gaussians in 8 dimensions
# (unit noise): "separated", centres drawn N(0, 3²) per coordinate, where Lloyd
# converges in a few iterations and fixed costs dominate, and "overlapping", centres
# N(0, 1.5²), where it takes tens of iterations.
#
#   1. clv: the whole aggregate over a table, SELECT clv_kmeans_fit(x, 8, ...) FROM t,
#      timed in the server, with clv.training_threads = 2 and
#      max_parallel_workers_per_gather = 0 (the fit's threads use both cores; a
#      parallel scan would only add the shipping of the rows between processes);
#   2. scikit-learn: KMeans(n_clusters=8, n_init=1, algorithm="lloyd") on 2 threads
#      (threadpoolctl), timing .fit only, on the rows already loaded into numpy;
#   3. for scale, a plain SQL scan of the same rows: SELECT sum(x[1]) FROM t.
#   Run r of each fit uses seed r (clv's "seed", scikit-learn's random_state): n_init = 1
#   makes the local optimum, and so the inertia and the iteration count, a matter of the
#   seed, so the medians over the runs are compared.  The target is clv's median time at
#   most scikit-learn's (ratio <= 1) at a median inertia at most scikit-learn's plus 0.1 %.
#
# Usage:
#   test/bench/bench_kmeans.sh            full run: 1,000,000 rows, 3 runs (seeds) each
#   test/bench/bench_kmeans.sh --smoke    20,000 rows, one run each
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
# The script creates the extension if missing, works in its own schema (BENCH_SCHEMA,
# default clv_bench_kmeans) and drops it at the end.
#
# Optional environment:
#   BENCH_ROWS=N       rows (default 1000000, smoke 20000)
#   BENCH_THREADS=N    clv.training_threads and scikit-learn's threads (default 2)
#   BENCH_WORKERS=N    max_parallel_workers_per_gather for the clv fit (default 0)
#   BENCH_REPS=N       runs of each fit, with seeds 1 .. N (default 3, smoke 1)
#   BENCH_JIT=on|off   the session's jit setting (default off)
#
# A MISS is reported, not fatal: the script fails only when a query fails or when
# scikit-learn is not installed.
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
THREADS=${BENCH_THREADS:-2}
WORKERS=${BENCH_WORKERS:-0}
JIT=${BENCH_JIT:-off}
SCHEMA=${BENCH_SCHEMA:-clv_bench_kmeans}
PYTHON=/usr/bin/python3
K=8
bench_validate ROWS THREADS WORKERS REPS

WORK=$(mktemp -d)
bench_exit() {
	rm -rf "$WORK"
	cleanup
}
trap bench_exit EXIT

echo "clv k-means benchmark ($MODE mode)"
echo "  server:  $(psql_val "SELECT version()")"
echo "  cores:   $(nproc 2>/dev/null || echo '?') (client machine)"
echo "  data:    $ROWS rows x 8 features, mixtures of 8 Gaussians; k = $K, n_init = 1"
echo "  method:  medians of $REPS run(s) (seeds 1 .. $REPS); clv: server time of the statement,"
echo "           clv.training_threads = $THREADS, max_parallel_workers_per_gather = $WORKERS, jit = $JIT;"
echo "           scikit-learn: .fit on numpy rows, $THREADS threads"

# ---- data ------------------------------------------------------------------
"$PYTHON" - "$WORK" "$ROWS" <<'PY'
import sys
import numpy as np

work, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(20260611)
for name, spread in (("separated", 3.0), ("overlapping", 1.5)):
    centres = rng.normal(0.0, spread, (8, 8))
    x = centres[rng.integers(0, 8, n)] + rng.standard_normal((n, 8))
    np.save("%s/%s.npy" % (work, name), x)
    with open("%s/%s.txt" % (work, name), "w") as f:
        for row in x:
            f.write("{" + ",".join(repr(float(v)) for v in row) + "}\n")
PY

T0=$(date +%s)
psql_do "
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS $SCHEMA CASCADE;
CREATE SCHEMA $SCHEMA;
SET search_path = $SCHEMA, public;
CREATE TABLE separated (x float8[]);
CREATE TABLE overlapping (x float8[]);
\\copy separated FROM '$WORK/separated.txt'
\\copy overlapping FROM '$WORK/overlapping.txt'
VACUUM (FREEZE, ANALYZE) separated, overlapping;

-- milliseconds of one statement, measured in the server
CREATE FUNCTION bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE q;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END \$\$;
"
prewarm separated overlapping
echo "  tables:  $(psql_val "SELECT pg_size_pretty(pg_table_size('$SCHEMA.separated'))") each, loaded in $(( $(date +%s) - T0 )) s"

# server_ms WORKERS SQL : server milliseconds of one run in a fresh session
server_ms() {
	"${PSQL[@]}" -A -t <<SQL | tail -n1
SET search_path = $SCHEMA, public;
SET jit = $JIT;
SET max_parallel_workers_per_gather = $1;
SET clv.training_threads = $THREADS;
SELECT round(bench_ms(\$q\$$2\$q\$)::numeric, 1);
SQL
}

# median VALUE... (as printed, with all digits)
median_of() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

MISSES=0
echo
echo "results (medians):"
for DATA in separated overlapping; do
	scan=() clv=() clv_inertia=() clv_iter=()
	for r in $(seq "$REPS"); do
		opts="{\"n_init\": 1, \"seed\": $r}"
		scan+=("$(server_ms 0 "SELECT sum(x[1]) FROM $DATA")")
		clv+=("$(server_ms "$WORKERS" "SELECT length(clv_kmeans_fit(x, $K, '$opts')) FROM $DATA")")
		read -r i n <<<"$(psql_val "SET search_path = $SCHEMA, public;
SELECT (i->>'inertia') || ' ' || (i->>'iterations')
FROM (SELECT clv_model_info(clv_kmeans_fit(x, $K, '$opts')) AS i FROM $DATA) s" | tail -n1)"
		clv_inertia+=("$i") clv_iter+=("$n")
	done
	read -r SK_MS SK_INERTIA SK_ITER <<<"$("$PYTHON" - "$WORK/$DATA.npy" "$THREADS" "$REPS" <<'PY'
import sys
import time
import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

path, threads, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x = np.load(path)
runs = []
with threadpool_limits(limits=threads):
    for r in range(1, reps + 1):
        km = KMeans(n_clusters=8, n_init=1, algorithm="lloyd", random_state=r)
        t0 = time.perf_counter()
        km.fit(x)
        runs.append(((time.perf_counter() - t0) * 1000, km.inertia_, km.n_iter_))
print("%.1f %.17g %g" % tuple(float(np.median([run[c] for run in runs])) for c in range(3)))
PY
)"
	SCAN_MS=$(median_of "${scan[@]}")
	CLV_MS=$(median_of "${clv[@]}")
	CLV_INERTIA=$(median_of "${clv_inertia[@]}")
	CLV_ITER=$(median_of "${clv_iter[@]}")
	RATIO=$(awk -v a="$CLV_MS" -v b="$SK_MS" 'BEGIN { printf "%.2f", a / b }')
	IRATIO=$(awk -v a="$CLV_INERTIA" -v b="$SK_INERTIA" 'BEGIN { printf "%.6f", a / b }')
	SCAN_RATIO=$(awk -v a="$CLV_MS" -v b="$SCAN_MS" 'BEGIN { printf "%.1f", a / b }')
	if awk -v r="$RATIO" -v i="$IRATIO" 'BEGIN { exit !(r <= 1 && i <= 1.001) }'; then
		verdict=ok
	else
		verdict=MISS
		MISSES=$((MISSES + 1))
	fi
	echo "  $DATA:"
	printf '    %-40s %9s ms\n' "plain SQL scan, SELECT sum(x[1])" "$SCAN_MS"
	printf '    %-40s %9s ms   inertia %.10g, %s iterations\n' "clv_kmeans_fit (whole aggregate)" "$CLV_MS" "$CLV_INERTIA" "$CLV_ITER"
	printf '    %-40s %9s ms   inertia %.10g, %s iterations\n' "scikit-learn KMeans lloyd .fit" "$SK_MS" "$SK_INERTIA" "$SK_ITER"
	echo "    time clv / scikit-learn $RATIO (target <= 1), inertia clv / scikit-learn $IRATIO (target <= 1.001),"
	echo "    clv / plain scan $SCAN_RATIO: $verdict"
done
echo
echo "MISS is reported, not fatal ($MISSES of 2)."
if [ "$MODE" = smoke ]; then
	echo "smoke mode: small tables, one run each; the ratios above are not meaningful."
fi
