# shellcheck shell=bash
# Shared shell helpers for test/setup.sh, test/demo.sh and test/run.sh.
# Source it; it defines variables and functions and runs nothing by itself.
# Every function returns non-zero on failure instead of exiting, so callers
# can decide whether a failure is fatal (setup, demo) or just counted (run).

CLV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
CLV_TMP=${CLV_TMPDIR:-${TMPDIR:-/tmp}/clv-test}
case $CLV_TMP in /*) ;; *) CLV_TMP=$PWD/$CLV_TMP ;; esac   # scripts change dir
CLV_PGDATA=$CLV_TMP/pgdata
CLV_PGLOG=$CLV_TMP/server.log
CLV_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron libgsl-dev make
              gcc clang libclang-rt-14-dev python3-numpy python3-scipy python3-sklearn
              python3-xgboost)

# The socket lives in the scratch dir, so the cluster never touches a system one.
export PGHOST=$CLV_TMP PGPORT=${CLV_PGPORT:-54329} PGUSER=postgres
export PGDATABASE=clv
export PATH=$PGBIN:$PATH

say() { printf '\n== %s\n' "$*"; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# apt and `make install` need root; use sudo only when we are not root already.
as_root() { if is_root; then "$@"; else sudo "$@"; fi; }

# initdb and pg_ctl refuse to run as root, so root runs them as `postgres`.
# cd first: initdb fails if it cannot read the caller's working directory.
as_pg() {
    if is_root; then (cd "$CLV_TMP" && runuser -u postgres -- "$@")
    else "$@"; fi
}

# install_packages [PACKAGE...]: the Debian packages missing of those named
# (default: CLV_PACKAGES).
install_packages() {
    local missing=() p
    [ $# -gt 0 ] || set -- "${CLV_PACKAGES[@]}"
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing packages: ${missing[*]}"
    as_root apt-get update -q &&
        as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q "${missing[@]}"
}

build_install() {
    say "building and installing the extension"
    (cd "$CLV_ROOT" && make PG_CONFIG="$PG_CONFIG" -j2 &&
        as_root make PG_CONFIG="$PG_CONFIG" install)
}

cluster_stop() {
    [ -f "$CLV_PGDATA/postmaster.pid" ] || return 0
    as_pg "$PGBIN/pg_ctl" -D "$CLV_PGDATA" -m fast -w stop >/dev/null
}

# Fresh scratch dir, after stopping any cluster an earlier run left in it.
# The marker file keeps us from ever deleting a directory we did not create
# (CLV_TMPDIR is user-supplied).
scratch_reset() {
    if [ -e "$CLV_TMP" ]; then
        if [ ! -e "$CLV_TMP/.clv-scratch" ] && [ -n "$(ls -A "$CLV_TMP")" ]; then
            echo "refusing to wipe $CLV_TMP: not a clv scratch dir" >&2
            return 1
        fi
        cluster_stop || true
        rm -rf "$CLV_TMP" || return 1
    fi
    mkdir -p "$CLV_TMP" && touch "$CLV_TMP/.clv-scratch" || return 1
    if is_root; then chown postgres: "$CLV_TMP" || return 1; fi
    if ! as_pg test -w "$CLV_TMP"; then
        echo "$CLV_TMP is not writable by the cluster owner" >&2
        return 1
    fi
}

# The settings that preload pg_cron (the `cron` stage of test/run.sh), or nothing
# when pg_cron is not installed, so that the other stages run without it.  Jobs run
# in background workers, which need no connection: the cluster has no TCP (pg_cron's
# default, a libpq connection to localhost, fails; cron.host set to the socket
# directory also works, but only for jobs scheduled after it is set).  The launcher
# and up to four jobs at a time take five workers besides the parallel ones.  The
# launcher logs one FATAL at start-up, as the database does not exist yet.
cron_conf() {
    [ -e "$("$PG_CONFIG" --pkglibdir)/pg_cron.so" ] || return 0
    cat <<EOF
shared_preload_libraries = 'pg_cron'
cron.database_name = '$PGDATABASE'
cron.use_background_workers = on
cron.max_running_jobs = 4
max_worker_processes = 12
EOF
}

cluster_start() {
    say "starting a throwaway cluster in $CLV_TMP on port $PGPORT"
    scratch_reset || return 1
    as_pg "$PGBIN/initdb" -D "$CLV_PGDATA" -U postgres --auth=trust \
        --locale=C --encoding=UTF8 >"$CLV_TMP/initdb.log" 2>&1 ||
        { cat "$CLV_TMP/initdb.log" >&2; return 1; }
    as_pg tee -a "$CLV_PGDATA/postgresql.conf" >/dev/null <<EOF || return 1
# throwaway test cluster: private socket and port, no TCP, no durability
port = $PGPORT
listen_addresses = ''
unix_socket_directories = '$CLV_TMP'
fsync = off
synchronous_commit = off
full_page_writes = off
max_worker_processes = 8
max_parallel_workers = 4
lc_messages = 'C'
timezone = 'UTC'
log_min_messages = warning
EOF
    cron_conf | as_pg tee -a "$CLV_PGDATA/postgresql.conf" >/dev/null || return 1
    as_pg "$PGBIN/pg_ctl" -D "$CLV_PGDATA" -l "$CLV_PGLOG" -w -t 60 start \
        >/dev/null || { tail -n 30 "$CLV_PGLOG" >&2; return 1; }
    # The database the demo, reference checks and benchmarks connect to.
    "$PGBIN/createdb" "$PGDATABASE"
}

connect_help() {
    local pg_ctl="$PGBIN/pg_ctl"
    is_root && pg_ctl="runuser -u postgres -- $pg_ctl"
    cat <<EOF

The cluster is still running.  Connect with:
    psql -h $PGHOST -p $PGPORT -U postgres $PGDATABASE
Stop it with:
    $pg_ctl -D $CLV_PGDATA stop
EOF
}

# Everything test/setup.sh does: packages, build, install, a fresh cluster
# and a database with the extension.
prepare() {
    install_packages
    build_install
    cluster_start
    psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION IF NOT EXISTS clv'
}
