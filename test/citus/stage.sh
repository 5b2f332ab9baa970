#!/usr/bin/env bash
# The `citus` stage of test/run.sh: make Citus available (test/citus/cluster.sh),
# start a coordinator and two workers with clv (built and installed by run.sh), run
# the distributed suite (test/citus/suite.py) and stop the nodes.  Prints TAP lines.
# Without a Citus tarball or an installed Citus it prints one SKIP line and exits 0.
# The nodes' logs stay in $CLV_TMP/citus/*.log, where run.sh looks for crashes.
set -uo pipefail
# shellcheck source=test/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=test/citus/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
cd "$CLV_ROOT" || exit 1

citus_prepare
case $? in
    0) echo "ok - Citus $(citus_installed_version) installed in $("$PG_CONFIG" --pkglibdir)" ;;
    2) echo "ok 1 # SKIP citus: $CITUS_SKIP"; exit 0 ;;
    *) echo "not ok - build and install Citus from $(citus_tarball)"; exit 1 ;;
esac

trap citus_cluster_stop EXIT
trap 'exit 130' INT TERM   # so that the EXIT trap stops the nodes
if citus_cluster_start; then echo "ok - start a Citus coordinator and two workers with clv"
else echo "not ok - start a Citus coordinator and two workers with clv"; exit 1; fi

PGHOST=$CITUS_DIR PGPORT=$(citus_port 0) /usr/bin/python3 test/citus/suite.py
