#!/usr/bin/env bash
# bench_citus.sh — clv on Citus: the same queries over tables hash-distributed by
# customer across two workers and over local copies of them on the coordinator, side by
# side in one run, on a coordinator and two workers this script starts on this machine
# (test/citus/cluster.sh):
#
#   1. the baseline: sum() and count() over the customers, and over the orders
#   2. clv_summary of every customer's orders (GROUP BY customer_id, the distribution
#      column: the whole query runs on the workers)
#   3. clv_summary of the orders of each month (not grouped by the distribution column:
#      partial aggregates on the workers, or every order shipped to the coordinator)
#   4. clv_bgnbd_fit and clv_linreg_fit over the customers
#   5. scoring: sum(clv_palive(...) + clv_predict(...)) with the models in a reference
#      table
#
# For each: single-node ms, distributed ms, their ratio, and that ratio over the ratio
# of the baseline on the same table (target: at most 1.2, i.e. clv scales out like
# sum() does).  Then the bytes each worker sends the coordinator for each fit and for the
# monthly summaries: the text of its partial states.
#
# Usage:
#   test/bench/bench_citus.sh            full run (1M customers, 5M orders, 3 repetitions)
#   test/bench/bench_citus.sh --smoke    20,000 customers, 100,000 orders, 1 repetition
#
# Needs Citus installed in $PG_CONFIG's server (the `citus` stage of test/run.sh builds
# it); without it the script says so and exits 0.  The nodes run in $CLV_TMP/citus-bench
# on ports CLV_PGPORT + 4 to + 6 (see test/lib.sh) and are stopped at the end.
#
# Optional environment:
#   BENCH_REPS=N         repetitions per query (median is reported; default 3, smoke 1)
#   BENCH_CUSTOMERS=N    customers                 (default 1000000, smoke 20000)
#   BENCH_ORDERS=N       orders                    (default 5000000, smoke 100000)
#   BENCH_SHARDS=N       shards per distributed table (default 4: two per worker)
#   BENCH_JIT=on|off     the session's jit setting (default off)
#   BENCH_KEEP=1         leave the nodes running after the run
#
# Timing: each measurement is one fresh psql session on the coordinator: settings, one
# untimed LIMIT 0 pass, then the query under psql's \timing (client wall time; EXPLAIN
# ANALYZE would change how Citus runs the worker queries).  Single-node and distributed
# runs alternate; the table reports medians, and the ratio is the median of each
# repetition's own ratio.  max_parallel_workers_per_gather = 0 on every node, so the
# distributed side's only parallelism is the shards'.  A MISS is reported, not fatal.
set -euo pipefail

HERE=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$HERE/lib/common.sh"
bench_parse_args "$@"
# shellcheck source=test/lib.sh
source "$HERE/../lib.sh"

if [ "$MODE" = smoke ]; then
	CUSTOMERS=${BENCH_CUSTOMERS:-20000}
	ORDERS=${BENCH_ORDERS:-100000}
	REPS=${BENCH_REPS:-1}
else
	CUSTOMERS=${BENCH_CUSTOMERS:-1000000}
	ORDERS=${BENCH_ORDERS:-5000000}
	REPS=${BENCH_REPS:-3}
fi
SHARDS=${BENCH_SHARDS:-4}
JIT=${BENCH_JIT:-off}
SCHEMA=clv_bench_citus
TIMING=psql
bench_validate CUSTOMERS ORDERS SHARDS REPS

CITUS_DIR=$CLV_TMP/citus-bench
CITUS_PORT=$((PGPORT + 4))
CITUS_CONF="shared_buffers = '$([ "$MODE" = smoke ] && echo 128MB || echo 1GB)'
max_parallel_workers_per_gather = 0"
# shellcheck source=test/citus/cluster.sh
source "$HERE/../citus/cluster.sh"

if ! citus_available; then
	echo "$BENCH_NAME: SKIP: no Citus installed in $("$PG_CONFIG" --pkglibdir) (the citus stage of test/run.sh builds it)"
	exit 0
fi

# ---- nodes -----------------------------------------------------------------
if [ ! -d "$CLV_TMP" ]; then
	mkdir -p "$CLV_TMP" && touch "$CLV_TMP/.clv-scratch"
fi
stop_nodes() {
	local rc=$?
	[ "${BENCH_KEEP:-0}" = 1 ] || citus_cluster_stop || true
	exit "$rc"
}
trap stop_nodes EXIT
citus_cluster_start >/dev/null || bench_die "could not start the Citus nodes (logs in $CITUS_DIR)"
export PGHOST=$CITUS_DIR PGPORT=$CITUS_PORT

print_header "clv on Citus: distributed vs single-node" \
	"$CUSTOMERS customers, $ORDERS orders; $SHARDS shards over 2 workers on this machine" \
	"psql \\timing of the query after an untimed LIMIT 0 pass;" \
	"max_parallel_workers_per_gather = 0 on every node, jit = $JIT"

# ---- data ------------------------------------------------------------------
# Customers as in bench_btyd.sh (BG/NBD-like histories, in weeks) with a spend to
# regress on; orders spread over the customers and 1997-01-01 .. 1998-06-22.
T0=$(date +%s)
psql_do "
SET client_min_messages = warning;
CREATE SCHEMA $SCHEMA;
SET search_path = $SCHEMA, public;

$UNIFORM_SQL

CREATE TABLE customers_local AS
SELECT i AS customer_id, frequency, recency, t, monetary,
       3 * frequency + 0.5 * recency - 0.2 * t + 0.1 * monetary + 20 * u(i, 6) AS spend
FROM (SELECT i, frequency,
             CASE WHEN frequency = 0 THEN 0
                  ELSE least(t_days, greatest(1, ceil(w * u(i, 4) ^ (1 / frequency)))) / 7 END AS recency,
             t_days / 7 AS t, 5 + 95 * u(i, 5) AS monetary
      FROM (SELECT i, t_days, w, floor(ln(1 - u(i, 3)) / ln(w / (70 + w))) AS frequency
            FROM (SELECT i, t_days, least(t_days, greatest(1e-6, 140 * v / (1 - v))) AS w
                  FROM (SELECT i, 7 + floor(273 * u(i, 1)) AS t_days, u(i, 2) AS v
                        FROM generate_series(1, $CUSTOMERS::bigint) AS i) a) b) c) d;

CREATE TABLE orders_local AS
SELECT 1 + (k % $CUSTOMERS) AS customer_id,
       '1997-01-01'::timestamptz + floor(537 * u(k, 7)) * interval '1 day' AS ordered_at,
       round((5 + 95 * u(k, 8))::numeric, 2)::float8 AS amount
FROM generate_series(0, $ORDERS::bigint - 1) AS k;

CREATE TABLE models_local AS
SELECT (SELECT clv_bgnbd_fit(frequency, recency, t) FROM customers_local) AS bgnbd,
       (SELECT clv_linreg_fit(spend, ARRAY[frequency, recency, t, monetary]) FROM customers_local) AS spend;

CREATE TABLE customers (LIKE customers_local);
CREATE TABLE orders (LIKE orders_local);
CREATE TABLE models (LIKE models_local);
SELECT create_distributed_table('customers', 'customer_id', shard_count := $SHARDS);
SELECT create_distributed_table('orders', 'customer_id', colocate_with := 'customers');
SELECT create_reference_table('models');
INSERT INTO customers SELECT * FROM customers_local;
INSERT INTO orders SELECT * FROM orders_local;
INSERT INTO models SELECT * FROM models_local;
VACUUM (FREEZE, ANALYZE) customers_local, orders_local, models_local, customers, orders, models;
"
prewarm customers_local orders_local
echo "  tables:  customers $(psql_val "SELECT pg_size_pretty(pg_table_size('$SCHEMA.customers_local'))"), orders $(psql_val "SELECT pg_size_pretty(pg_table_size('$SCHEMA.orders_local'))") each side (made in $(( $(date +%s) - T0 )) s)"

# ---- queries (TABLE is replaced by customers/orders or their _local copies) ----
SUMMARY="clv_summary(ordered_at, amount, '1998-06-30', '1 day', '7 days')"
Q_NAMES=(
	"sum(), count() over customers"
	"sum(), count() over orders"
	"clv_summary per customer (pushed down)"
	"clv_summary per month (not by customer)"
	"clv_bgnbd_fit"
	"clv_linreg_fit"
	"scoring: sum(clv_palive + clv_predict)"
)
Q_BASE=(0 1 1 1 0 0 0)   # the baseline each query is scaled by (an index here)
Q_SQL=(
	"SELECT sum(monetary), count(*) FROM customers%"
	"SELECT sum(amount), count(*) FROM orders%"
	"SELECT sum((s).frequency), sum((s).monetary) FROM (SELECT customer_id, $SUMMARY AS s FROM orders% GROUP BY customer_id) q"
	"SELECT count(*) FROM (SELECT date_trunc('month', ordered_at), $SUMMARY FROM orders% GROUP BY 1) q"
	"SELECT length(clv_bgnbd_fit(frequency, recency, t)) FROM customers%"
	"SELECT length(clv_linreg_fit(spend, ARRAY[frequency, recency, t, monetary])) FROM customers%"
	"SELECT sum(clv_palive(m.bgnbd, c.frequency, c.recency, c.t)
            + clv_predict(m.spend, ARRAY[c.frequency, c.recency, c.t, c.monetary]))
     FROM customers% c CROSS JOIN models% m"
)
on_table() { local sql=$1; echo "${sql//%/$2}"; }   # on_table SQL SUFFIX

# time_pair SQL : a line with the runs, then "single_ms dist_ms ratio": medians over
# REPS alternating runs, after one untimed run of each (not in smoke mode).
time_pair() {
	local single=() dist=() ratios=() i s d
	if [ "$MODE" = full ]; then
		time_query "$TIMING" 0 "$(on_table "$1" _local)" >/dev/null || return 1
		time_query "$TIMING" 0 "$(on_table "$1" '')" >/dev/null || return 1
	fi
	for ((i = 1; i <= REPS; i++)); do
		if ((i % 2)); then
			s=$(time_query "$TIMING" 0 "$(on_table "$1" _local)") || return 1
			d=$(time_query "$TIMING" 0 "$(on_table "$1" '')") || return 1
		else
			d=$(time_query "$TIMING" 0 "$(on_table "$1" '')") || return 1
			s=$(time_query "$TIMING" 0 "$(on_table "$1" _local)") || return 1
		fi
		single+=("$s") dist+=("$d")
		ratios+=("$(awk -v s="$s" -v d="$d" 'BEGIN{ if (s > 0) printf "%.6f", d / s }')")
	done
	printf '  %-42s single %s | distributed %s\n' "$NAME" "${single[*]}" "${dist[*]}"
	echo "$(median "${single[@]}") $(median "${dist[@]}") $(median_as "%.3f" "${ratios[@]}")"
}

echo
echo "runs (ms):"
RATIO=()
TABLE=()
for q in "${!Q_SQL[@]}"; do
	NAME=${Q_NAMES[q]}
	out=$(time_pair "${Q_SQL[q]}") || bench_die "query failed: ${Q_SQL[q]}"
	head -n 1 <<<"$out"
	read -r single dist ratio <<<"$(tail -n 1 <<<"$out")"
	RATIO[q]=$ratio
	base=${RATIO[${Q_BASE[q]}]}
	if [ "$q" -le 1 ]; then
		scaled=1.00 verdict=baseline
	else
		scaled=$(awk -v r="$ratio" -v b="$base" 'BEGIN{ printf "%.2f", (b > 0) ? r / b : 0 }')
		verdict=$(awk -v x="$scaled" 'BEGIN{ print (x <= 1.2) ? "PASS" : "MISS" }')
	fi
	TABLE+=("$(printf '%-42s %11s %11s %7.2f %10s  %s' "$NAME" "$single" "$dist" "$ratio" "$scaled" "$verdict")")
done

# Bytes the workers send: each shard's task query, run on the shard as Citus runs it
# (worker_partial_agg of the aggregate over the shard), returns the partial states as
# text; their length summed over each worker's shards.  Row-gathering would ship the
# argument columns of every row instead (their text length, summed, for comparison).
shipped() {  # shipped TABLE PARTIAL_SQL ROW_SQL
	"${PSQL[@]}" -A -t -F ' ' <<SQL
$(session_settings 0)
WITH states AS (
    SELECT shardid, result::bigint AS bytes
    FROM run_command_on_shards('$SCHEMA.$1', \$q\$$2\$q\$)),
rows AS (
    SELECT shardid, result::bigint AS bytes
    FROM run_command_on_shards('$SCHEMA.$1', \$q\$$3\$q\$))
SELECT string_agg(format('worker %s: %s', nodeport, pg_size_pretty(s.bytes)), ', ' ORDER BY nodeport)
       || format(' (rows: %s)', pg_size_pretty(sum(r.bytes)))
FROM (SELECT p.nodeport, sum(states.bytes) AS bytes, array_agg(states.shardid) AS shards
      FROM states JOIN pg_dist_shard_placement p USING (shardid) GROUP BY p.nodeport) s,
     LATERAL (SELECT sum(bytes) AS bytes FROM rows WHERE shardid = ANY (s.shards)) r;
SQL
}
PARTIAL="SELECT coalesce(sum(length(s)), 0)
          FROM (SELECT worker_partial_agg('%s'::regprocedure, ROW(%s))::text AS s FROM %%s %s) q"
ROWS="SELECT coalesce(sum(length(ROW(%s)::text)), 0) FROM %%s"
shipped_fit() {  # shipped_fit TABLE AGGREGATE_SIGNATURE ARGS [GROUP BY]
	shipped "$1" "$(printf "$PARTIAL" "$2" "$3" "${4:+GROUP BY $4}")" "$(printf "$ROWS" "$3")"
}

echo
printf '%-42s %11s %11s %7s %10s  %s\n' "query" "single ms" "dist ms" "ratio" "÷ sum()" "target ≤ 1.2"
printf '%s\n' "---------------------------------------------------------------------------------------------"
printf '%s\n' "${TABLE[@]}"
echo
echo "data the workers send the coordinator: partial states (rows, were they gathered)"
SUMMARY_SIG="clv_summary(timestamptz, float8, timestamptz, interval, interval)"
SUMMARY_ARGS="ordered_at, amount, '1998-06-30'::timestamptz, '1 day'::interval, '7 days'::interval"
printf '  %-42s %s\n' "${Q_NAMES[3]}" \
	"$(shipped_fit orders "$SUMMARY_SIG" "$SUMMARY_ARGS" "date_trunc('month', ordered_at)")"
printf '  %-42s %s\n' "${Q_NAMES[4]}" \
	"$(shipped_fit customers "clv_bgnbd_fit(float8, float8, float8)" "frequency, recency, t")"
printf '  %-42s %s\n' "${Q_NAMES[5]}" \
	"$(shipped_fit customers "clv_linreg_fit(float8, float8[])" "spend, ARRAY[frequency, recency, t, monetary]")"
# What Citus's partial aggregation costs per row on a worker, apart from clv: one shard
# aggregated into the same partial state directly (an aggregate of the transition
# function alone, which Citus creates on the workers too) and through worker_partial_agg, which packs the
# arguments of a custom aggregate into a ROW per row; sum(), one argument, goes through
# the same wrapper without the ROW.
wrapper_cost() {  # wrapper_cost AGGREGATE_SIGNATURE DIRECT_AGGREGATE ARGS
	local direct wrapped rows packed=$3
	case $3 in *,*) packed="ROW($3)" ;; esac
	direct=$(PGPORT=$WORKER_PORT time_query "$TIMING" 0 "SELECT $2($3)::text FROM $SHARD") || return 1
	wrapped=$(PGPORT=$WORKER_PORT time_query "$TIMING" 0 \
		"SELECT worker_partial_agg('$1'::regprocedure, $packed)::text FROM $SHARD") || return 1
	rows=$(PGPORT=$WORKER_PORT psql_val "SELECT count(*) FROM $SHARD")
	awk -v d="$direct" -v w="$wrapped" -v n="$rows" 'BEGIN {
		printf "direct %.1f ms, through worker_partial_agg %.1f ms: %+.2f us a row", d, w, (w - d) * 1000 / n }'
}
WORKER_PORT=$(citus_port 1)
SHARD=$(psql_val "SELECT shard_name FROM citus_shards WHERE table_name = '$SCHEMA.customers'::regclass AND nodeport = $WORKER_PORT ORDER BY shardid LIMIT 1")
psql_do "
SET search_path = $SCHEMA, public;
CREATE AGGREGATE bgnbd_state(float8, float8, float8) (SFUNC = clv_bgnbd_fit_trans, STYPE = clv_state);
CREATE AGGREGATE linreg_state(float8, float8[]) (SFUNC = clv_linreg_fit_trans, STYPE = clv_state);"
echo
echo "Citus's partial aggregation of one shard on its worker ($SHARD, $(PGPORT=$WORKER_PORT psql_val "SELECT count(*) FROM $SHARD") rows):"
printf '  %-42s %s\n' "sum()" "$(wrapper_cost "sum(float8)" sum monetary)"
printf '  %-42s %s\n' "clv_bgnbd_fit" \
	"$(wrapper_cost "clv_bgnbd_fit(float8, float8, float8)" bgnbd_state "frequency, recency, t")"
printf '  %-42s %s\n' "clv_linreg_fit" \
	"$(wrapper_cost "clv_linreg_fit(float8, float8[])" linreg_state \
		"spend, ARRAY[frequency, recency, t, monetary]")"

echo
echo "ratio = distributed / single-node; \"÷ sum()\" divides it by the ratio of sum(), count()"
echo "over the same table, so it says how much worse than the baseline clv scales out."
if [ "$MODE" = smoke ]; then
	echo "smoke mode: small tables, one run each; the ratios above are not meaningful."
fi
