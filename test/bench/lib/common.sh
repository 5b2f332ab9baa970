# test/bench/lib/common.sh — helpers shared by the test/bench/*.sh benchmarks.
# shellcheck shell=bash
# Sourced, not run (it lives in a subdirectory so the test runner's test/bench/*.sh glob
# does not pick it up).
#
# The sourcing script calls bench_parse_args "$@" and bench_validate, and sets:
#   SCHEMA  the bench schema     JIT   on|off     REPS  repetitions per query
#   TIMING  how time_query measures one run:
#             psql     \timing of the query in psql (client-side wall time)
#             explain  "Execution Time" of EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON)
# Results are collected in RESULTS and printed by print_results.

export PSQLRC=/dev/null

BENCH_NAME=$(basename "$0")
PSQL=(psql -X -q -v ON_ERROR_STOP=1 --no-psqlrc)
RESULTS=()

bench_die() {
	echo "$BENCH_NAME: $1" >&2
	exit "${2:-1}"
}

# bench_parse_args ARGS... : sets MODE to full or smoke; --help prints the script's
# leading comment block.
bench_parse_args() {
	MODE=full
	local arg
	for arg in "$@"; do
		case "$arg" in
			--smoke) MODE=smoke ;;
			--full) MODE=full ;;
			-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { print }' "$0"; exit 0 ;;
			*) bench_die "unknown argument: $arg" 2 ;;
		esac
	done
}

# bench_validate VAR... : the named variables are non-negative integers; also checks
# JIT and SCHEMA, and raises REPS to at least 1.
bench_validate() {
	local v
	for v in "$@"; do
		case "${!v}" in
			''|*[!0-9]*) bench_die "$v must be a non-negative integer" 2 ;;
		esac
	done
	case "$JIT" in
		on|off) ;;
		*) bench_die "BENCH_JIT must be on or off" 2 ;;
	esac
	case "$SCHEMA" in
		''|*[!a-z0-9_]*) bench_die "BENCH_SCHEMA must be a plain lower-case identifier" 2 ;;
	esac
	[ "$REPS" -ge 1 ] || REPS=1
}

# UNIFORM_SQL : creates the SQL function u(i, s), a deterministic uniform number in
# [0, 1) from a hash of the row number i and the stream number s, with which the
# benchmarks generate their data in the server.
UNIFORM_SQL='CREATE FUNCTION u(i bigint, s bigint) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ((hashint8extended(i, s) >> 11) & 9007199254740991)::float8 / 9007199254740992.0 $$;'

# psql_do SQL... : run statements in one session, fail on error.
psql_do() {
	"${PSQL[@]}" -o /dev/null <<<"$*"
}

# psql_val SQL : one value, unaligned.
psql_val() {
	"${PSQL[@]}" -A -t -c "$1"
}

# session_settings WORKERS : settings applied to every timed session.  search_path puts
# the bench schema first and keeps public (where CREATE EXTENSION usually puts clv).
session_settings() {
	local workers=$1
	cat <<SQL
SET search_path = $SCHEMA, public;
SET timezone = 'UTC';
SET jit = $JIT;
SET max_parallel_workers_per_gather = $workers;
SQL
}

# time_query METHOD WORKERS SQL : milliseconds of one execution in a fresh session,
# after one untimed LIMIT 0 pass (loads the library and catalogs).  METHOD is psql or
# explain (see the top of this file).
time_query() {
	local method=$1 workers=$2 sql=$3 out ms what
	case "$method" in
		psql)
			out=$("${PSQL[@]}" -o /dev/null <<SQL
$(session_settings "$workers")
SELECT * FROM ($sql) bench_prelude LIMIT 0;
\\timing on
$sql;
SQL
) || { echo "$BENCH_NAME: query failed: $sql" >&2; return 1; }
			ms=$(awk '/^Time: /{v=$2} END{print v}' <<<"$out")
			what="timing in psql output"
			;;
		explain)
			out=$("${PSQL[@]}" -A -t <<SQL
$(session_settings "$workers")
SELECT * FROM ($sql) bench_prelude LIMIT 0;
EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) $sql;
SQL
) || { echo "$BENCH_NAME: query failed: $sql" >&2; return 1; }
			ms=$(awk '/Execution Time: /{v=$3} END{print v}' <<<"$out")
			what="execution time in EXPLAIN output"
			;;
		*)
			echo "$BENCH_NAME: unknown timing method: $method" >&2
			return 1
			;;
	esac
	if [ -z "$ms" ]; then
		echo "$BENCH_NAME: no $what for: $sql" >&2
		return 1
	fi
	echo "$ms"
}

# median VALUE... : printed with one decimal; nan without values.
median() {
	median_as "%.1f" "$@"
}

# median_as FORMAT VALUE... : the median printed with printf FORMAT; nan without values.
median_as() {
	local format=$1
	shift
	tr ' ' '\n' <<<"$*" | grep . | sort -g | awk -v f="$format\n" '{a[NR]=$1} END{
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) printf f, a[(NR+1)/2]; else printf f, (a[NR/2]+a[NR/2+1])/2 }'
}

# measure NAME TARGET WORKERS BASELINE_SQL CLV_SQL
#   Times both queries REPS times with $TIMING, alternating which goes first, and adds a
#   line to RESULTS: the median times and the median of the per-repetition ratios.
#   TARGET is a maximum ratio clv/baseline, "<N" (a maximum clv time in ms), or "-"
#   (an info line without a target).
measure() {
	local name=$1 target=$2 workers=$3 base_sql=$4 clv_sql=$5
	local b=() c=() i bm cm ratio verdict
	# warm the cache (and hint bits) once with each query
	time_query "$TIMING" "$workers" "$base_sql" >/dev/null
	time_query "$TIMING" "$workers" "$clv_sql" >/dev/null
	for ((i = 1; i <= REPS; i++)); do
		# alternate which one goes first so drift hits both sides alike
		if ((i % 2)); then
			b+=("$(time_query "$TIMING" "$workers" "$base_sql")")
			c+=("$(time_query "$TIMING" "$workers" "$clv_sql")")
		else
			c+=("$(time_query "$TIMING" "$workers" "$clv_sql")")
			b+=("$(time_query "$TIMING" "$workers" "$base_sql")")
		fi
	done
	bm=$(median "${b[@]}")
	cm=$(median "${c[@]}")
	# the ratio is the median of each repetition's own ratio: the two queries of a
	# repetition run back to back, so a machine that drifts between fast and slow
	# spells (shared hosts do) slows both alike
	local pairs=()
	for ((i = 0; i < REPS; i++)); do
		pairs+=("$(awk -v b="${b[i]}" -v c="${c[i]}" 'BEGIN{ if (b > 0) printf "%.6f", c / b }')")
	done
	ratio=$(median_as "%.2f" "${pairs[@]}")
	case "$target" in
		-) verdict=info ;;
		"<"*) verdict=$(awk -v c="$cm" -v t="${target#<}" 'BEGIN{ print (c != "nan" && c + 0 < t + 0) ? "PASS" : "MISS" }') ;;
		*) verdict=$(awk -v r="$ratio" -v t="$target" 'BEGIN{ print (r != "nan" && r + 0 <= t + 0) ? "PASS" : "MISS" }') ;;
	esac
	RESULTS+=("$(printf '%-44s %12s %12s %7s %7s  %s' "$name" "$bm" "$cm" "$ratio" "$target" "$verdict")")
	printf '  %-42s baseline %s ms  clv %s ms  (runs: base %s | clv %s)\n' \
		"$name" "$bm" "$cm" "${b[*]}" "${c[*]}"
}

# print_results : the summary table of everything measure collected.
print_results() {
	printf '%-44s %12s %12s %7s %7s  %s\n' "name" "baseline ms" "clv ms" "ratio" "target" "result"
	printf '%s\n' "-------------------------------------------------------------------------------------------"
	printf '%s\n' "${RESULTS[@]}"
}

# print_header TITLE SIZES METHOD_LINE... : the run description.  The first method line
# is common to all benchmarks; METHOD_LINEs follow it.
print_header() {
	local title=$1 sizes=$2 line cores server
	shift 2
	cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')
	server=$(psql_val "SELECT version()")
	echo "$title ($MODE mode)"
	echo "  server:  $server"
	echo "  cores:   $cores (client machine)"
	echo "  sizes:   $sizes"
	echo "  method:  median of $REPS run(s) per side, alternating, one psql session per run;"
	for line in "$@"; do
		echo "           $line"
	done
}

# prewarm TABLE... : load the bench tables into shared_buffers when pg_prewarm is
# available: a sequential scan of a table larger than shared_buffers/4 otherwise reads
# through a small ring from the OS cache, which adds the same copying cost to both sides
# and flattens the ratios.
prewarm() {
	local tables out
	tables=$(printf "'$SCHEMA.%s', " "$@")
	out=$("${PSQL[@]}" -A -t 2>/dev/null <<SQL || true
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_prewarm SCHEMA $SCHEMA;
SET search_path = $SCHEMA, public;
SELECT sum(pg_prewarm(c::regclass))
FROM unnest(ARRAY[${tables%, }]) c;
SQL
)
	out=$(tail -n1 <<<"$out")
	if [ -n "$out" ]; then
		echo "  prewarm: $out blocks loaded with pg_prewarm"
	else
		echo "  prewarm: pg_prewarm not available; relying on warm-up runs"
	fi
}

# cleanup : EXIT trap; drops the bench schema unless BENCH_KEEP=1, keeps the exit status.
cleanup() {
	local rc=$?
	if [ "${BENCH_KEEP:-0}" != 1 ]; then
		psql_do "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE;" \
			>/dev/null 2>&1 || true
	fi
	exit "$rc"
}
