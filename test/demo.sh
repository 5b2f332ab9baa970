#!/usr/bin/env bash
# Set up (see test/setup.sh), then run test/demo.sql on the bundled CDNOW
# sample.  The cluster is left running so you can explore the results.
set -euo pipefail
exec </dev/null
# shellcheck source=test/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

prepare
say "running test/demo.sql"
# demo.sql reads test/data/... relative to the repository root.
cd "$CLV_ROOT"
psql -X -v ON_ERROR_STOP=1 -f test/demo.sql
connect_help
