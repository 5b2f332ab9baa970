#!/usr/bin/env bash
# Prepare a machine and start a throwaway PostgreSQL 15 cluster with clv
# installed: Debian packages, build, install, fresh cluster, database.
# Environment: CLV_TMPDIR (scratch dir), CLV_PGPORT (default 54329).
set -euo pipefail
exec </dev/null
# shellcheck source=test/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

prepare
connect_help
