#!/usr/bin/env bash
# bench_model_cache.sh — scoring one customer per query with a large stored model, the
# dashboard case: how long a query takes when the backend decodes the model for every
# query, and when it keeps the decoded model across queries (clv.model_cache_size).
#
#   1. fit: clv_forest_fit, 100 trees, depth 12, min leaf 5, 5 of 10 features per split,
#      on Friedman #1 rows (10 features, noise 1.0), stored in a one-row table
#   2. per query: SELECT clv_predict(m, ARRAY[...]) FROM bench_models, one customer,
#      many times in one session; p50, p99 and mean of the server time of each query,
#        without the cache (clv.model_cache_size = 0: every query decodes the model)
#        with the cache (after one first query that decodes it, reported on its own)
#      and, when pgbench is there, the client-side latencies of the cached case.
#
# Usage:
#   test/bench/bench_model_cache.sh            full run (100,000 training rows, 1,000
#                                              cached and 30 uncached queries)
#   test/bench/bench_model_cache.sh --smoke    2,000 rows, 10 trees, 20 and 5 queries:
#                                              checks that everything runs
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
# The script creates the extension if missing, works in its own schema (BENCH_SCHEMA,
# default clv_bench_model_cache) and drops it at the end.
#
# Optional environment:
#   BENCH_TRAIN=N        training rows
#   BENCH_TREES=N        trees of the forest
#   BENCH_QUERIES=N      cached queries timed (after the first)
#   BENCH_COLD=N         uncached queries timed
#   BENCH_THREADS=N      clv.training_threads for the fit (default 2)
#   BENCH_JIT=on|off     the session's jit setting (default off)
#   BENCH_KEEP=1         keep the schema and its tables after the run
#
# Timing: server time, by clock_timestamp() around an EXECUTE of the query in a PL/pgSQL
# function; EXECUTE plans and runs each query afresh, as a client's query is (so no
# per-query state such as fn_extra is shared between them); one session per side.
# Against a build without clv.model_cache_size (0.1.0), only the uncached side runs.
# Latencies are reported, not judged: the script fails only when a query fails.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_parse_args "$@"

if [ "$MODE" = smoke ]; then
	TRAIN=${BENCH_TRAIN:-2000}
	TREES=${BENCH_TREES:-10}
	QUERIES=${BENCH_QUERIES:-20}
	COLD=${BENCH_COLD:-5}
else
	TRAIN=${BENCH_TRAIN:-100000}
	TREES=${BENCH_TREES:-100}
	QUERIES=${BENCH_QUERIES:-1000}
	COLD=${BENCH_COLD:-30}
fi
THREADS=${BENCH_THREADS:-2}
JIT=${BENCH_JIT:-off}
SCHEMA=${BENCH_SCHEMA:-clv_bench_model_cache}
REPS=1
bench_validate TRAIN TREES QUERIES COLD THREADS
[ "$QUERIES" -ge 1 ] || QUERIES=1
[ "$COLD" -ge 1 ] || COLD=1

OPTS="{\"n_trees\": $TREES, \"max_depth\": 12, \"min_samples_leaf\": 5, \"mtry\": 5, \"seed\": 1}"
trap cleanup EXIT

echo "clv model cache benchmark ($MODE mode)"
echo "  server:  $(psql_val "SELECT version()")"
echo "  sizes:   Friedman #1, $TRAIN training rows x 10 features; forest $OPTS"
echo "  method:  server time of each query (clock_timestamp() around EXECUTE in PL/pgSQL),"
echo "           one session per side; jit = $JIT; max_parallel_workers_per_gather = 0"

psql_do "
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS $SCHEMA CASCADE;
CREATE SCHEMA $SCHEMA;
SET search_path = $SCHEMA, public;
SELECT setseed(0.25);
CREATE TABLE bench_train AS
SELECT 10 * sin(pi() * x[1] * x[2]) + 20 * (x[3] - 0.5) ^ 2 + 10 * x[4] + 5 * x[5]
       + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS y, x
FROM (SELECT ARRAY(SELECT random() FROM generate_series(1, 10) WHERE i > 0) AS x
      FROM generate_series(1, $TRAIN) i) q;

-- milliseconds of one statement, measured in the server
CREATE FUNCTION bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE q;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END \$\$;
-- p50, p99 and mean milliseconds of n executions of q, each planned afresh
CREATE FUNCTION bench_latencies(q text, n int, OUT p50 float8, OUT p99 float8, OUT mean float8)
LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; ms float8[] := '{}';
BEGIN
    FOR k IN 1 .. n LOOP
        t0 := clock_timestamp();
        EXECUTE q;
        ms := ms || extract(epoch FROM clock_timestamp() - t0) * 1000;
    END LOOP;
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v), percentile_cont(0.99) WITHIN GROUP (ORDER BY v), avg(v)
    INTO p50, p99, mean FROM unnest(ms) v;
END \$\$;
"

FIT_MS=$("${PSQL[@]}" -A -t <<SQL | tail -n1
SET search_path = $SCHEMA, public;
SET max_parallel_workers_per_gather = 0;
SET clv.training_threads = $THREADS;
SELECT round(bench_ms(\$q\$CREATE TABLE bench_models AS SELECT 1 AS id, clv_forest_fit(y, x, '$OPTS') AS m FROM bench_train\$q\$)::numeric, 1);
SQL
)
MODEL=$(psql_val "SET search_path = $SCHEMA, public;
SELECT (clv_model_info(m) ->> 'n_nodes') || ' nodes, ' || pg_size_pretty(length(m)::bigint)
       || ' (' || pg_size_pretty(pg_column_size(m)::bigint) || ' stored), format version '
       || (clv_model_info(m) ->> 'format_version')
FROM bench_models" | tail -n1)
echo "  fit:     $FIT_MS ms, $MODEL"

# the library's settings show once it is loaded in the session
HAS_CACHE=$(psql_val "SET search_path = $SCHEMA, public;
SELECT clv_model_info(m) IS NOT NULL FROM bench_models;
SELECT count(*) FROM pg_settings WHERE name = 'clv.model_cache_size'" | tail -n1)
QUERY="SELECT clv_predict(m, ARRAY[0.5, 0.25, 0.75, 0.1, 0.9, 0.3, 0.6, 0.2, 0.8, 0.4]::float8[]) FROM bench_models WHERE id = 1"

# latencies SETTING N : "p50 p99 mean" of N queries in a fresh session; SETTING is the
# clv.model_cache_size to use, or - to leave it alone.  With the cache on, one untimed
# first query decodes the model, and its time is printed as a fourth field.
latencies() {
	local setting=$1 n=$2 first=""
	"${PSQL[@]}" -A -t -F ' ' <<SQL | tail -n2 | tr '\n' ' '
SET search_path = $SCHEMA, public;
SET jit = $JIT;
SET max_parallel_workers_per_gather = 0;
$( [ "$setting" = - ] || echo "SET clv.model_cache_size = '$setting';" )
SELECT round(bench_ms(\$q\$$QUERY\$q\$)::numeric, 3);
SELECT round(p50::numeric, 3), round(p99::numeric, 3), round(mean::numeric, 3)
FROM bench_latencies(\$q\$$QUERY\$q\$, $n);
SQL
}

echo
echo "runs:"
if [ "$HAS_CACHE" = 1 ]; then
	read -r COLD_FIRST COLD_P50 COLD_P99 COLD_MEAN <<<"$(latencies 0 "$COLD")"
else
	read -r COLD_FIRST COLD_P50 COLD_P99 COLD_MEAN <<<"$(latencies - "$COLD")"
fi
echo "  uncached: $COLD queries: p50 $COLD_P50 ms, p99 $COLD_P99 ms, mean $COLD_MEAN ms"
if [ "$HAS_CACHE" = 1 ]; then
	read -r FIRST WARM_P50 WARM_P99 WARM_MEAN <<<"$(latencies 256MB "$QUERIES")"
	echo "  cached:   first query $FIRST ms; then $QUERIES queries: p50 $WARM_P50 ms, p99 $WARM_P99 ms, mean $WARM_MEAN ms"
	ENTRIES=$("${PSQL[@]}" -A -t <<SQL | tail -n1
SET search_path = $SCHEMA, public;
SELECT clv_predict(m, ARRAY[0.5, 0.25, 0.75, 0.1, 0.9, 0.3, 0.6, 0.2, 0.8, 0.4]::float8[]) IS NOT NULL FROM bench_models;
SELECT string_agg(kind || ' ' || pg_size_pretty(bytes) || ', ' || hits || ' hit(s)', '; ') FROM clv_model_cache();
SQL
)
	echo "  cache:    a fresh session after one query: $ENTRIES"
else
	echo "  cached:   this build has no clv.model_cache_size; skipped"
fi

# client-side latencies with pgbench, one connection, queries sent one by one
PGBENCH_LINE=""
if [ "$HAS_CACHE" = 1 ] && command -v pgbench >/dev/null 2>&1; then
	WORK=$(mktemp -d)
	printf 'SET search_path = %s, public;\n%s;\n' "$SCHEMA" "$QUERY" >"$WORK/query.sql"
	if (cd "$WORK" && pgbench -n -t "$((QUERIES + 1))" -f query.sql -l --log-prefix=lat >/dev/null 2>&1); then
		# per transaction: the latency (µs) is the third field; the first one decodes
		PGBENCH_LINE=$(cat "$WORK"/lat* | awk 'NR > 1 { print $3 / 1000 }' | sort -g | awk '
			{ v[NR] = $1; s += $1 }
			END { i50 = int(0.5 * NR + 0.5); i99 = int(0.99 * NR + 0.5); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1;
			      printf "%.3f %.3f %.3f", v[i50], v[i99], s / NR }')
		read -r PGB_P50 PGB_P99 PGB_MEAN <<<"$PGBENCH_LINE"
		echo "  pgbench:  $QUERIES cached queries (two statements each, client side): p50 $PGB_P50 ms, p99 $PGB_P99 ms, mean $PGB_MEAN ms"
	else
		echo "  pgbench:  failed; skipped"
		PGBENCH_LINE=""
	fi
	rm -rf "$WORK"
fi

echo
printf '%-34s %12s %12s %12s %9s\n' "one customer per query" "p50 ms" "p99 ms" "mean ms" "p50 ratio"
printf '%s\n' "-----------------------------------------------------------------------------------"
printf '%-34s %12s %12s %12s %9s\n' "uncached (decode every query)" "$COLD_P50" "$COLD_P99" "$COLD_MEAN" "1.00"
if [ "$HAS_CACHE" = 1 ]; then
	printf '%-34s %12s %12s %12s %9s\n' "cached (clv.model_cache_size)" "$WARM_P50" "$WARM_P99" "$WARM_MEAN" \
		"$(awk -v a="$COLD_P50" -v b="$WARM_P50" 'BEGIN { if (b > 0) printf "%.0fx", a / b; else print "-" }')"
	[ -z "$PGBENCH_LINE" ] ||
		printf '%-34s %12s %12s %12s %9s\n' "cached, pgbench (client side)" "$PGB_P50" "$PGB_P99" "$PGB_MEAN" "-"
fi
echo
echo "ratio: uncached p50 / cached p50 (how many times faster a query is once the model is cached)."
if [ "$MODE" = smoke ]; then
	echo "smoke mode: a small forest and few queries; the numbers above are not meaningful."
fi
