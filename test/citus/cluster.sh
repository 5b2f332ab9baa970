# shellcheck shell=bash
# Citus for the `citus` test stage and for test/bench/bench_citus.sh: find or build
# Citus, and run a coordinator and two workers on this machine.
# Source it after test/lib.sh; like lib.sh it runs nothing by itself, and every
# function returns non-zero on failure.
#
# Citus is not packaged by Debian.  Its source tarball is looked for beside the
# repository (in ../shared/vendor/, as citus-VERSION.tar.gz) or given in
# CLV_CITUS_TARBALL; it is built and installed into $PG_CONFIG's server unless the
# installed Citus is already that version.  With neither a tarball nor an installed
# Citus, the caller skips.
#
# The three clusters live in CITUS_DIR (default $CLV_TMP/citus) on the ports
# CITUS_PORT, +1, +2 (default PGPORT + 1): the coordinator first, then the workers.
# Each is initdb'd as the unprivileged `postgres` user with trust authentication,
# listens on localhost only (the nodes talk to each other over TCP) and keeps its
# socket and its log (NAME.log) in CITUS_DIR.  CITUS_CONF, if set, is appended to
# each node's postgresql.conf.

CITUS_DIR=${CITUS_DIR:-$CLV_TMP/citus}
CITUS_PORT=${CITUS_PORT:-$((PGPORT + 1))}
CITUS_NODES=(coordinator worker1 worker2)
CITUS_PACKAGES=(libzstd-dev liblz4-dev libkrb5-dev libcurl4-openssl-dev libssl-dev)

# The tarball to build from, or nothing.  The newest version wins when several
# lie beside the repository.
citus_tarball() {
    if [ -n "${CLV_CITUS_TARBALL:-}" ]; then
        [ -f "$CLV_CITUS_TARBALL" ] && echo "$CLV_CITUS_TARBALL"
        return 0
    fi
    compgen -G "$CLV_ROOT/../shared/vendor/citus-*.tar.gz" | sort -V | tail -n 1
}

# Where citus_tarball looked, for messages.
citus_tarball_wanted() {
    echo "${CLV_CITUS_TARBALL:-$CLV_ROOT/../shared/vendor/citus-*.tar.gz}"
}

# The version of the Citus library installed in $PG_CONFIG's server ("13.2.2"), or
# nothing.  The library names its exact version ("Citus 13.2.2"), where
# citus.control only knows the schema version ("13.2-1").
citus_installed_version() {
    local so
    so="$("$PG_CONFIG" --pkglibdir)/citus.so"
    [ -f "$so" ] || return 0
    grep -a -o -E 'Citus [0-9]+\.[0-9]+\.[0-9]+' "$so" | head -n 1 | cut -d' ' -f2
}

citus_available() { [ -n "$(citus_installed_version)" ]; }

# Citus 13.2's pg_version_compat.h defines, for servers before 16, a static inline
# have_createdb_privilege(); newer PostgreSQL 15 minor releases declare the same
# function in commands/dbcommands.h, and the two conflict.  When the server has it,
# rename Citus's copy out of the way so that its callers use the server's.
citus_patch_sources() {
    local src=$1 header
    header="$("$PG_CONFIG" --includedir-server)/commands/dbcommands.h"
    grep -q 'have_createdb_privilege' "$header" || return 0
    sed -i 's/^have_createdb_privilege(void)$/citus_have_createdb_privilege(void)/' \
        "$src/src/include/pg_version_compat.h"
}

# citus_build_install TARBALL: configure, build and install, in $CLV_TMP/citus-build.
citus_build_install() {
    local tarball=$1 build=$CLV_TMP/citus-build src t0=$SECONDS
    say "building Citus from $tarball (log: $build/build.log)"
    install_packages "${CITUS_PACKAGES[@]}" || return 1
    rm -rf "$build" && mkdir -p "$build" && tar -xzf "$tarball" -C "$build" || return 1
    src=$(find "$build" -mindepth 1 -maxdepth 1 -type d | head -n 1)
    citus_patch_sources "$src" || return 1
    if ! (cd "$src" && ./configure PG_CONFIG="$PG_CONFIG" &&
            make -j2 with_llvm=no && as_root make install with_llvm=no) \
            >"$build/build.log" 2>&1; then
        tail -n 40 "$build/build.log"
        return 1
    fi
    echo "built and installed Citus $(citus_installed_version) in $((SECONDS - t0)) s"
}

# citus_prepare: 0 when Citus is ready (installed, or built now), 1 when the build
# failed, 2 when there is nothing to build from (CITUS_SKIP says why).
citus_prepare() {
    local tarball version installed
    tarball=$(citus_tarball)
    installed=$(citus_installed_version)
    if [ -z "$tarball" ]; then
        [ -n "$installed" ] && return 0
        CITUS_SKIP="no Citus source tarball at $(citus_tarball_wanted) and no Citus installed"
        return 2
    fi
    version=$(basename "$tarball" .tar.gz)
    version=${version#citus-}
    if [ "$installed" = "$version" ]; then
        echo "Citus $version is installed"
        return 0
    fi
    citus_build_install "$tarball"
}

citus_port() { echo $((CITUS_PORT + $1)); }   # node index 0, 1, 2

# citus_psql INDEX ARGS...: psql on one node, stopping at the first error.
citus_psql() {
    local i=$1
    shift
    psql -X -q -v ON_ERROR_STOP=1 -h "$CITUS_DIR" -p "$(citus_port "$i")" -d "$PGDATABASE" "$@"
}

citus_cluster_stop() {
    local node
    for node in "${CITUS_NODES[@]}"; do
        [ -f "$CITUS_DIR/$node/postmaster.pid" ] || continue
        as_pg "$PGBIN/pg_ctl" -D "$CITUS_DIR/$node" -m fast -w stop >/dev/null
    done
}

# citus_node_init INDEX: initdb and configure one node.
citus_node_init() {
    local node=${CITUS_NODES[$1]} port
    port=$(citus_port "$1")
    as_pg "$PGBIN/initdb" -D "$CITUS_DIR/$node" -U postgres --auth=trust \
        --locale=C --encoding=UTF8 >"$CITUS_DIR/$node-initdb.log" 2>&1 ||
        { cat "$CITUS_DIR/$node-initdb.log" >&2; return 1; }
    as_pg tee -a "$CITUS_DIR/$node/postgresql.conf" >/dev/null <<EOF
# throwaway Citus node: loopback and a private socket, no durability
shared_preload_libraries = 'citus'
port = $port
listen_addresses = 'localhost'
unix_socket_directories = '$CITUS_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_worker_processes = 16
max_parallel_workers = 4
lc_messages = 'C'
timezone = 'UTC'
log_min_messages = warning
${CITUS_CONF:-}
EOF
}

# A fresh coordinator and two workers, with citus and clv in database $PGDATABASE
# on each, the workers added to the coordinator's metadata.
citus_cluster_start() {
    local i node
    say "starting a Citus coordinator and two workers in $CITUS_DIR on ports $CITUS_PORT-$(citus_port 2)"
    citus_cluster_stop
    rm -rf "$CITUS_DIR" && mkdir -p "$CITUS_DIR" || return 1
    if is_root; then chown postgres: "$CITUS_DIR" || return 1; fi
    for i in 0 1 2; do
        node=${CITUS_NODES[$i]}
        citus_node_init "$i" || return 1
        as_pg "$PGBIN/pg_ctl" -D "$CITUS_DIR/$node" -l "$CITUS_DIR/$node.log" -w -t 60 start \
            >/dev/null || { tail -n 30 "$CITUS_DIR/$node.log" >&2; return 1; }
        "$PGBIN/createdb" -h "$CITUS_DIR" -p "$(citus_port "$i")" "$PGDATABASE" || return 1
        citus_psql "$i" -c 'SET client_min_messages = warning' \
            -c 'CREATE EXTENSION citus' -c 'CREATE EXTENSION clv' || return 1
    done
    citus_psql 0 -o /dev/null <<SQL
SELECT citus_set_coordinator_host('localhost', $(citus_port 0));
SELECT citus_add_node('localhost', $(citus_port 1));
SELECT citus_add_node('localhost', $(citus_port 2));
SQL
}

# The server logs of the three nodes.
citus_logs() {
    local node
    for node in "${CITUS_NODES[@]}"; do echo "$CITUS_DIR/$node.log"; done
}
