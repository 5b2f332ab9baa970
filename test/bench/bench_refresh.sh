#!/usr/bin/env bash
# bench_refresh.sh — what it costs to keep the scores of test/cron/scores_view.sql (the
# view that the `cron` stage refreshes with pg_cron) up to date, three ways side by side:
#
#   1. REFRESH MATERIALIZED VIEW CONCURRENTLY scores, after 1 % of the customers got a
#      new order: runs the query into a temporary table, compares it with the view
#      row by row and applies only the differences; readers are never blocked
#   2. REFRESH MATERIALIZED VIEW scores: runs the query into a new heap and swaps it
#      in, under an ACCESS EXCLUSIVE lock that blocks every reader meanwhile
#   3. CREATE TABLE AS of the same query (the floor: the query and its writing alone)
#   4. REFRESH MATERIALIZED VIEW CONCURRENTLY scores after the Gamma-Gamma model was
#      refitted (on every other customer), which changes every customer's value
#   and the ratios to 3.  Each repetition adds the new orders of another 1 % of the
#   customers, runs 1, then 2 and 3 in alternating order, refits, and runs 4.
#
# Usage:
#   test/bench/bench_refresh.sh            full run: 1,000,000 customers, 3 repetitions
#   test/bench/bench_refresh.sh --smoke    5,000 customers, 1 repetition
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
# The script creates the extension if missing, works in its own schema (BENCH_SCHEMA,
# default clv_bench_refresh) and drops it at the end.
#
# Optional environment:
#   BENCH_CUSTOMERS=N  simulated customers (default 1000000, smoke 5000)
#   BENCH_REPS=N       repetitions (median is reported; default 3, smoke 1)
#   BENCH_WORKERS=N    max_parallel_workers_per_gather (default 2)
#   BENCH_JIT=on|off   the session's jit setting (default off)
#   BENCH_KEEP=1       keep the schema and its tables after the run
#
# Simulated orders (deterministic, from hashes of the customer and order numbers): 1 to
# 5 orders per customer (3 on average) on days uniform in 2024-01-01 .. 2025-12-31,
# amounts uniform in 5 .. 105; as_of is 2025-12-31, calibration_end 2025-06-30.  The
# models are fitted once, at set-up, on every customer.
#
# Timing: each statement runs in a fresh psql session and is timed there (\timing,
# client wall time, which is what a scheduled job takes).  The script fails only when
# a statement fails.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_parse_args "$@"

if [ "$MODE" = smoke ]; then
	CUSTOMERS=${BENCH_CUSTOMERS:-5000}
	REPS=${BENCH_REPS:-1}
else
	CUSTOMERS=${BENCH_CUSTOMERS:-1000000}
	REPS=${BENCH_REPS:-3}
fi
WORKERS=${BENCH_WORKERS:-2}
JIT=${BENCH_JIT:-off}
SCHEMA=${BENCH_SCHEMA:-clv_bench_refresh}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1   # the set-up reads test/cron/ relative to the root
bench_validate CUSTOMERS REPS WORKERS

print_header "clv scores refresh benchmark" \
	"$CUSTOMERS simulated customers, 1 to 5 orders each; 1 % get a new order per repetition" \
	"client wall time (\\timing) of each statement in its own session;" \
	"max_parallel_workers_per_gather = $WORKERS, jit = $JIT"

# ---- set-up ----------------------------------------------------------------
trap cleanup EXIT
T0=$(date +%s)
psql_do "
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE EXTENSION IF NOT EXISTS clv;
DROP SCHEMA IF EXISTS $SCHEMA CASCADE;
CREATE SCHEMA $SCHEMA;
SET search_path = $SCHEMA, public;

$UNIFORM_SQL

CREATE TABLE orders AS
SELECT c::int AS customer_id,
       '2024-01-01'::timestamptz + floor(730 * u(c * 8 + k, 2)) * interval '1 day' AS ordered_at,
       round((5 + 100 * u(c * 8 + k, 3))::numeric, 2)::float8 AS amount
FROM generate_series(1, $CUSTOMERS::bigint) c,
     generate_series(1, 1 + floor(5 * u(c, 1))::int) k;
CREATE INDEX ON orders (customer_id);

\\set as_of '2025-12-31'
\\set calibration_end '2025-06-30'
\\i test/cron/scores_view.sql
VACUUM (ANALYZE) orders, scores;
"
prewarm orders scores
echo "  tables:  orders $(psql_val "SELECT count(*) || ' rows, ' || pg_size_pretty(pg_table_size('$SCHEMA.orders')) FROM $SCHEMA.orders"), scores $(psql_val "SELECT pg_size_pretty(pg_table_size('$SCHEMA.scores'))") (made in $(( $(date +%s) - T0 )) s)"

QUERY=$(psql_val "SELECT rtrim(pg_get_viewdef('$SCHEMA.scores'::regclass), ';')")

# timed SQL : milliseconds of SQL in a fresh session
timed() {
	"${PSQL[@]}" <<SQL | awk '/^Time: /{v=$2} END{print v}'
$(session_settings "$WORKERS")
\\timing on
$1;
SQL
}

# new_orders REP : one more order, on as_of, for 1 % of the customers (a different
# 1 % each repetition)
new_orders() {
	psql_do "SET search_path = $SCHEMA, public;
INSERT INTO orders
SELECT customer_id, '2025-12-31', 50 FROM generate_series(1, $CUSTOMERS) customer_id
WHERE customer_id % 100 = $1 % 100;
ANALYZE orders;"
}

# refit REP : the Gamma-Gamma model again, on the odd or the even customers
refit() {
	psql_do "UPDATE $SCHEMA.models SET spend = (SELECT clv_gammagamma_fit(frequency, monetary)
	FROM $SCHEMA.scores WHERE customer_id % 2 = $1 % 2)"
}

conc=() plain=() ctas=() all=()
for ((i = 1; i <= REPS; i++)); do
	new_orders "$i"
	before=$(psql_val "SELECT md5(string_agg(s::text, ',' ORDER BY customer_id)) FROM $SCHEMA.scores s WHERE customer_id % 100 = $i % 100")
	conc+=("$(timed "REFRESH MATERIALIZED VIEW CONCURRENTLY scores")")
	after=$(psql_val "SELECT md5(string_agg(s::text, ',' ORDER BY customer_id)) FROM $SCHEMA.scores s WHERE customer_id % 100 = $i % 100")
	[ "$before" != "$after" ] || bench_die "the concurrent refresh changed none of the customers with new orders"
	if ((i % 2)); then
		plain+=("$(timed "REFRESH MATERIALIZED VIEW scores")")
		ctas+=("$(timed "CREATE TABLE scores_ctas AS $QUERY")")
	else
		ctas+=("$(timed "CREATE TABLE scores_ctas AS $QUERY")")
		plain+=("$(timed "REFRESH MATERIALIZED VIEW scores")")
	fi
	psql_do "DROP TABLE $SCHEMA.scores_ctas"
	refit "$i"
	all+=("$(timed "REFRESH MATERIALIZED VIEW CONCURRENTLY scores")")
	printf '  run %d: concurrently %s ms, plain %s ms, create table as %s ms, concurrently after a refit %s ms\n' \
		"$i" "${conc[-1]}" "${plain[-1]}" "${ctas[-1]}" "${all[-1]}"
done

C=$(median "${conc[@]}") P=$(median "${plain[@]}") A=$(median "${ctas[@]}") R=$(median "${all[@]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "results (medians of $REPS run(s), ms):"
printf '  %-52s %10s\n' "CREATE TABLE AS of the view's query" "$A"
printf '  %-52s %10s   %s x create table as\n' "REFRESH MATERIALIZED VIEW" "$P" "$(ratio "$P" "$A")"
printf '  %-52s %10s   %s x create table as, %s x plain refresh\n' \
	"REFRESH MATERIALIZED VIEW CONCURRENTLY (1 % changed)" "$C" "$(ratio "$C" "$A")" "$(ratio "$C" "$P")"
printf '  %-52s %10s   %s x create table as, %s x plain refresh\n' \
	"REFRESH ... CONCURRENTLY after a refit (all changed)" "$R" "$(ratio "$R" "$A")" "$(ratio "$R" "$P")"
if [ "$MODE" = smoke ]; then
	echo "smoke mode: small tables, one run each; the ratios above are not meaningful."
fi
