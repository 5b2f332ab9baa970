#!/usr/bin/env bash
# The `cron` stage of test/run.sh: scores in a materialized view refreshed by pg_cron,
# on the running test cluster (test/lib.sh preloads pg_cron when it is installed).
# Builds the view of test/cron/scores.sql, schedules two jobs every minute, a
# REFRESH MATERIALIZED VIEW CONCURRENTLY and a model refit that fails, adds orders
# (a new customer, more orders of an existing one) and waits, at most WAIT seconds,
# for runs of both jobs that started after the new orders.  Then the view must hold
# what its query gives now, and the failed refit must be recorded with its message
# and leave the models as they were.  Prints TAP lines; without pg_cron it prints
# one SKIP line and exits 0.
set -uo pipefail
# shellcheck source=test/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$CLV_ROOT" || exit 1

WAIT=${CLV_CRON_WAIT:-75}   # pg_cron starts jobs at the top of each minute
PSQL=(psql -X -q -A -t -v ON_ERROR_STOP=1)

check() {   # check NAME COMMAND...: one TAP line, "ok" when COMMAND succeeds
    local name=$1; shift
    if "$@"; then echo "ok - cron: $name"; else echo "not ok - cron: $name"; fi
}
sql() { "${PSQL[@]}" -c "$1"; }
equals() {   # equals GOT EXPECTED, or a diagnostic
    [ "$1" = "$2" ] && return
    printf '%s\n' "got: $1" "expected: $2" | sed 's/^/#   /'
    return 1
}

if [ ! -e "$("$PG_CONFIG" --pkglibdir)/pg_cron.so" ]; then
    echo "ok 1 # SKIP cron: pg_cron is not installed (Debian package postgresql-15-cron)"
    exit 0
fi
case ",$(sql 'SHOW shared_preload_libraries' | tr -d ' ')," in
    *,pg_cron,*) ;;
    *) echo "ok 1 # SKIP cron: the server does not preload pg_cron"; exit 0 ;;
esac

# Dropping pg_cron drops its jobs too, so a run stopped half-way leaves none behind.
cleanup() {
    sql 'SET client_min_messages = warning;
         DROP SCHEMA IF EXISTS clv_cron CASCADE; DROP EXTENSION IF EXISTS pg_cron' >/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # so that the EXIT trap runs

if "${PSQL[@]}" -o /dev/null -f test/cron/scores.sql &&
        sql 'SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_cron'; then
    echo "ok - cron: the scores view of test/cron/scores.sql, and pg_cron"
else
    echo "not ok - cron: the scores view of test/cron/scores.sql, and pg_cron"; exit 1
fi
check "$(sql 'SELECT count(*) FROM clv_cron.scores') customers scored, 9 segments" \
    equals "$(sql 'SELECT count(*), count(DISTINCT segment) FROM clv_cron.scores')" "2357|9"

# A customer without repeat purchases gets two; customer 900001 is new.
OLD=$(sql 'SELECT min(customer_id) FROM clv_cron.scores WHERE frequency = 0')
SPEND=$(sql 'SELECT md5(spend) FROM clv_cron.models')
REFRESH=$(sql "SELECT cron.schedule('clv_cron_refresh', '* * * * *',
    'REFRESH MATERIALIZED VIEW CONCURRENTLY clv_cron.scores')")
REFIT=$(sql "SELECT cron.schedule('clv_cron_refit', '* * * * *',
    \$\$UPDATE clv_cron.models SET spend = (SELECT clv_gammagamma_fit(frequency, monetary,
        '{\"max_iterations\": 50}') FROM clv_cron.scores)\$\$)")
check "two jobs scheduled every minute" \
    equals "$(sql "SELECT count(*) FROM cron.job WHERE jobid IN ($REFRESH, $REFIT)
                   AND schedule = '* * * * *' AND active")" 2
SINCE=$(sql "INSERT INTO clv_cron.orders VALUES
    ($OLD, '1998-05-04', 25), ($OLD, '1998-06-15', 40),
    (900001, '1998-02-02', 30), (900001, '1998-04-20', 12.5), (900001, '1998-06-29', 18);
    SELECT clock_timestamp()")
check "new orders are not in the view before a refresh" \
    equals "$(sql "SELECT count(*) FROM clv_cron.scores WHERE customer_id = 900001")" 0

# Poll for a run of each job that started after the inserts committed.
runs() {
    sql "SELECT bool_or(jobid = $REFRESH AND status = 'succeeded') IS TRUE,
                bool_or(jobid = $REFIT AND status = 'failed') IS TRUE
         FROM cron.job_run_details WHERE start_time > '$SINCE'"
}
T0=$SECONDS
until [ "$(runs)" = "t|t" ] || [ $((SECONDS - T0)) -ge "$WAIT" ]; do sleep 1; done
echo "# waited $((SECONDS - T0)) s for the jobs (at most $WAIT s)"
check "the refresh job succeeded and the refit job failed, both after the new orders" \
    equals "$(runs)" "t|t"

VIEWDEF=$(sql "SELECT rtrim(pg_get_viewdef('clv_cron.scores'::regclass), ';')")
check "the view holds what its query gives now (EXCEPT both ways)" \
    equals "$(sql "SET search_path = clv_cron, public;
        SELECT (SELECT count(*) FROM (TABLE scores EXCEPT ($VIEWDEF)) a),
               (SELECT count(*) FROM (($VIEWDEF) EXCEPT TABLE scores) b),
               (SELECT count(*) FROM scores)")" "0|0|2358"
check "the new customer is scored" \
    equals "$(sql "SELECT frequency, orders, segment IS NOT NULL, value_next_year > 0
                   FROM clv_cron.scores WHERE customer_id = 900001")" "2|3|t|t"
check "customer $OLD's frequency went from 0 to 2" \
    equals "$(sql "SELECT frequency FROM clv_cron.scores WHERE customer_id = $OLD")" 2
check "the refresh is recorded with its command tag" \
    equals "$(sql "SELECT DISTINCT return_message FROM cron.job_run_details
                   WHERE jobid = $REFRESH AND status = 'succeeded'")" 'REFRESH MATERIALIZED VIEW'
check "the failed refit is recorded with its error" \
    equals "$(sql "SELECT split_part(return_message, E'\\n', 1) FROM cron.job_run_details
                   WHERE jobid = $REFIT AND status = 'failed' ORDER BY start_time DESC LIMIT 1")" \
        'ERROR: unknown option "max_iterations" for clv_gammagamma_fit'
check "the failed refit left the stored model as it was" \
    equals "$(sql 'SELECT md5(spend) FROM clv_cron.models')" "$SPEND"

UNSCHEDULED=$(sql "SELECT cron.unschedule($REFRESH) AND cron.unschedule($REFIT)")
check "both jobs unscheduled" \
    equals "$UNSCHEDULED|$(sql "SELECT count(*) FROM cron.job WHERE jobid IN ($REFRESH, $REFIT)")" "t|0"

crashes=$(grep 'terminated by signal' "$CLV_PGLOG")
check "no process terminated by a signal in the server log" equals "$crashes" ""
