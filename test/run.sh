#!/usr/bin/env bash
# Run the tests: all stages in this order, or only those named as arguments
#     paths unit unit-san regress reference docs fuzz citus cron bench crash-check
# e.g. `bash test/run.sh` or `bash test/run.sh unit regress`.
# Ends with the line "N passed, M failed" and exits 0 only if M is 0.
# Environment: CLV_TMPDIR (scratch dir), CLV_PGPORT (default 54329),
# CLV_FUZZ_SECONDS (default 45, for each of the three fuzzers), CLV_CITUS_TARBALL (see
# test/citus/cluster.sh).
# No `set -e`: a failing step is counted and the run goes on.
set -uo pipefail
exec </dev/null
# shellcheck source=test/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=test/citus/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/citus/cluster.sh"
cd "$CLV_ROOT" || exit 1

ALL_STAGES=(paths unit unit-san regress reference docs fuzz citus cron bench crash-check)
SERVER_STAGES=" regress reference docs fuzz cron bench crash-check "
BUILD_STAGES="$SERVER_STAGES citus "   # stages that need clv installed
MAKE=(make PG_CONFIG="$PG_CONFIG")
PYTHON=/usr/bin/python3   # Debian's, which has numpy/scipy/sklearn
PASSED=0 FAILED=0

pass() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "not ok - $*"; }

# count_tap NAME RC LOG: each TAP "ok"/"not ok" line in LOG is one test.
# A non-zero exit with no failing line (crash, build error) is one more
# failure, and so is a run that printed no test at all.
count_tap() {
    local name=$1 rc=$2 log=$3 p f
    p=$(grep -cE '^ok( |$)' "$log")
    f=$(grep -cE '^not ok( |$)' "$log")
    PASSED=$((PASSED + p)) FAILED=$((FAILED + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then fail "$name exited with status $rc"
    elif [ $((p + f)) -eq 0 ]; then fail "$name printed no test results"
    fi
}

# run_logged LOG CMD...: show the output and keep a copy; returns CMD's status.
run_logged() { local log=$1; shift; "$@" 2>&1 | tee "$log"; return "${PIPESTATUS[0]}"; }

# No test reads a file outside the repository: a clone alone must pass.  And the
# release metadata agree, and `make dist` packs what a release needs.
stage_paths() {
    local log=$LOGS/paths.log
    run_logged "$log" "$PYTHON" test/lint/check_paths.py
    count_tap paths $? "$log"
    log=$LOGS/dist.log
    PG_CONFIG=$PG_CONFIG run_logged "$log" "$PYTHON" test/lint/check_dist.py
    count_tap dist $? "$log"
}

stage_unit()     { run_logged "$LOGS/unit.log" "${MAKE[@]}" -j2 unit; count_tap unit $? "$LOGS/unit.log"; }
stage_unit-san() { run_logged "$LOGS/unit-san.log" "${MAKE[@]}" -j2 unit-san; count_tap unit-san $? "$LOGS/unit-san.log"; }

stage_regress() {
    local out=$CLV_TMP/regress log=$LOGS/regress.log rc p f
    # pg_regress writes results/ and regression.diffs here, not in the tree.
    mkdir -p "$out" && chmod 777 "$out"
    CLV_REGRESS_OUT=$out run_logged "$log" "${MAKE[@]}" installcheck
    rc=$?
    # PG15 format: "test summary                 ... ok           12 ms"
    # (parallel groups indent the name instead of writing "test").
    p=$(grep -cE '^(test +| +)[^ ]+ +\.\.\. ok( |$)' "$log")
    f=$(grep -cE '^(test +| +)[^ ]+ +\.\.\. (FAILED|failed)' "$log")
    PASSED=$((PASSED + p)) FAILED=$((FAILED + f))
    # A non-zero exit without a failed test, or before pg_regress printed its
    # summary (it stops at a missing test file), is one more failure.
    if [ "$rc" -ne 0 ] && { [ "$f" -eq 0 ] ||
            ! grep -qE '^ *(All [0-9]+ tests|[0-9]+ of [0-9]+ tests)' "$log"; }; then
        fail "pg_regress did not finish cleanly (exit $rc)"
    fi
    if [ -s "$out/regression.diffs" ]; then
        echo "---- $out/regression.diffs (first 300 lines)"
        head -n 300 "$out/regression.diffs"
    fi
}

# Checks against independent implementations, and the campaign simulator.
stage_reference() {
    local s log found=0
    for s in test/reference/*.py test/sim/*.py; do
        case $(basename "$s") in _*) continue ;; esac   # helper modules
        [ -e "$s" ] || continue
        found=1 log=$LOGS/reference-$(basename "$s" .py).log
        run_logged "$log" "$PYTHON" "$s"
        count_tap "$s" $? "$log"
    done
    [ "$found" -eq 1 ] || echo "-- reference: no test/reference/*.py found"
}

# The documents' SQL examples print what the documents show, the data of the
# figures of doc/figures.md are what their queries return, and the demo runs
# without an error in a database of its own.
stage_docs() {
    local log=$LOGS/docs.log
    run_logged "$log" "$PYTHON" test/docs/check_examples.py
    count_tap docs $? "$log"
    log=$LOGS/docs-figures.log
    run_logged "$log" "$PYTHON" test/docs/check_figures.py
    count_tap docs-figures $? "$log"
    demo_check
}

demo_check() {
    local log=$LOGS/demo.log db=clv_demo_check
    if psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
            -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" &&
        PGDATABASE=$db psql -X -v ON_ERROR_STOP=1 -f test/demo.sql >"$log" 2>&1 &&
        ! grep -q 'ERROR:' "$log"; then
        pass "test/demo.sql runs without an error"
    else
        tail -n 20 "$log"
        fail "test/demo.sql runs without an error (log: $log)"
    fi
    psql -X -q -c "DROP DATABASE IF EXISTS $db"
}

# The model parser under libFuzzer, without a server.
fuzz_model() {
    local secs=${CLV_FUZZ_SECONDS:-45} dir=$CLV_TMP/fuzz log=$LOGS/fuzz.log
    local seeds=() rc a
    if ! run_logged "$LOGS/fuzz-build.log" "${MAKE[@]}" test/fuzz/fuzz_model; then
        fail "fuzz: build test/fuzz/fuzz_model"; return
    fi
    # New inputs go to the first (scratch) corpus dir; the tracked corpus is
    # only read, and crash artifacts land in the scratch dir too.
    mkdir -p "$dir/corpus"
    [ -d test/fuzz/corpus ] && seeds=(test/fuzz/corpus)
    echo "fuzzing for ${secs}s (log: $log)"
    timeout $((secs + 300)) test/fuzz/fuzz_model -max_total_time="$secs" \
        -max_len=4096 -timeout=20 -artifact_prefix="$dir/" \
        "$dir/corpus" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        pass "fuzz: $(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1)"
    else
        tail -n 40 "$log"
        for a in "$dir"/{crash,leak,timeout,oom,slow-unit}-*; do
            [ -e "$a" ] && echo "artifact: $a"
        done
        fail "fuzz exited with status $rc"
    fi
}

# clv on a Citus coordinator and two workers of its own (test/citus/): aggregates
# as partial aggregates on the workers, the same results as on one node.  The
# nodes' logs must show no crash.
stage_citus() {
    local log=$LOGS/citus.log node crashes
    run_logged "$log" bash test/citus/stage.sh
    count_tap citus $? "$log"
    for node in $(citus_logs); do
        [ -f "$node" ] || continue   # skipped, or the nodes never started
        crashes=$(log_crashes "$node")
        if [ -z "$crashes" ]; then pass "citus: no crash in $(basename "$node")"
        else printf '%s\n' "$crashes"; fail "citus: no crash in $(basename "$node")"; fi
    done
}

# A fuzzer of the server in Python (TAP): fuzz_states.py feeds malformed
# aggregate states (clv_state) to every decoder, fuzz_xgboost.py mutants of
# real XGBoost models to clv_import_xgboost.  Clean errors only: never a
# crash, a hang or an internal error.
fuzz_script() {
    local script=$1 log=$LOGS/$2.log
    CLV_FUZZ_SECONDS=${CLV_FUZZ_SECONDS:-45} CLV_PGLOG=$CLV_PGLOG \
        run_logged "$log" "$PYTHON" "$script"
    count_tap "$script" $? "$log"
}

# Each fuzzer runs for CLV_FUZZ_SECONDS.
stage_fuzz() {
    fuzz_model
    fuzz_script test/fuzz/fuzz_states.py fuzz-states
    fuzz_script test/fuzz/fuzz_xgboost.py fuzz-xgboost
}

# Scores in a materialized view refreshed by pg_cron (test/cron/stage.sh); a SKIP
# line without pg_cron.
stage_cron() {
    local log=$LOGS/cron.log
    run_logged "$log" bash test/cron/stage.sh
    count_tap cron $? "$log"
}

stage_bench() {
    local s log found=0
    for s in test/bench/*.sh; do
        [ -e "$s" ] || continue
        found=1 log=$LOGS/bench-$(basename "$s" .sh).log
        if run_logged "$log" bash "$s" --smoke; then pass "bench $s --smoke"
        else fail "bench $s --smoke"; fi
    done
    [ "$found" -eq 1 ] || echo "-- bench: no test/bench/*.sh found"
}

# The postmaster must be the one we started, and the server log must show no
# backend killed by a signal over the whole run: after a crash the postmaster
# resets every session but keeps its pid and pg_postmaster_start_time().
postmaster_id() {
    echo "$(head -n 1 "$CLV_PGDATA/postmaster.pid" 2>/dev/null)" \
         "$(psql -X -A -t -c 'SELECT pg_postmaster_start_time()' 2>/dev/null)"
}
# log_crashes FILE: the lines of a server log that tell of a crash.
log_crashes() {
    grep -E 'terminated by signal|was terminated by exception|server process \(PID [0-9]+\) exited with exit code|terminating any other active server processes|all server processes terminated' "$1"
}
stage_crash-check() {
    local now crashes sample=$CLV_TMP/crash-sample.log
    # The detector itself: it must see a real crash report and pass a clean log.
    printf '%s\n' 'LOG:  database system is ready to accept connections' >"$sample"
    if log_crashes "$sample" >/dev/null; then fail "crash check passes a clean log"
    else pass "crash check passes a clean log"; fi
    printf '%s\n' 'LOG:  server process (PID 4242) was terminated by signal 11: Segmentation fault' \
        'LOG:  all server processes terminated; reinitializing' >>"$sample"
    if log_crashes "$sample" >/dev/null; then pass "crash check sees a backend killed by a signal"
    else fail "crash check sees a backend killed by a signal"; fi

    now=$(postmaster_id)
    crashes=$(log_crashes "$CLV_PGLOG")
    if [ "$now" = "$BASE_ID" ] && [ -z "$crashes" ]; then
        pass "server did not crash"
    else
        echo "postmaster before: $BASE_ID"
        echo "postmaster after:  $now"
        [ -n "$crashes" ] && printf '%s\n' "$crashes"
        fail "server did not crash"
    fi
}

# ---- choose stages ---------------------------------------------------------
STAGES=("$@")
[ ${#STAGES[@]} -gt 0 ] || STAGES=("${ALL_STAGES[@]}")
for s in "${STAGES[@]}"; do
    case " ${ALL_STAGES[*]} " in *" $s "*) ;; *)
        echo "unknown stage '$s'; stages: ${ALL_STAGES[*]}" >&2; exit 2 ;;
    esac
done
need_server=0 need_build=0
for s in "${STAGES[@]}"; do
    [[ $SERVER_STAGES == *" $s "* ]] && need_server=1
    [[ $BUILD_STAGES == *" $s "* ]] && need_build=1
done

# ---- set up ----------------------------------------------------------------
trap 'cluster_stop; citus_cluster_stop' EXIT
trap 'exit 130' INT TERM   # so that the EXIT trap stops the clusters
citus_cluster_stop   # Citus nodes a killed run left in the scratch dir
install_packages || fail "install Debian packages"
if [ "$need_build" -eq 1 ]; then
    if build_install; then pass "build and install"; else fail "build and install"; fi
fi
if [ "$need_server" -eq 1 ]; then
    cluster_start || { fail "start the test cluster"; echo "$PASSED passed, $FAILED failed"; exit 1; }
    BASE_ID=$(postmaster_id)
    if psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION IF NOT EXISTS clv'; then
        pass "CREATE EXTENSION clv"
    else
        fail "CREATE EXTENSION clv"
    fi
else
    scratch_reset || { fail "create scratch dir $CLV_TMP"; echo "$PASSED passed, $FAILED failed"; exit 1; }
fi
LOGS=$CLV_TMP/logs
mkdir -p "$LOGS"

# ---- run -------------------------------------------------------------------
for s in "${STAGES[@]}"; do
    say "stage $s"
    p0=$PASSED f0=$FAILED t0=$SECONDS
    "stage_$s"
    echo "-- stage $s: $((PASSED - p0)) passed, $((FAILED - f0)) failed, $((SECONDS - t0))s"
done

echo
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
