#!/usr/bin/env bash
# Regenerate the figures of doc/figures.md: install gnuplot, prepare a throwaway
# cluster with clv as test/setup.sh does, run each doc/figures/NAME.sql into
# NAME.dat (test/docs/check_figures.py --write, the script the docs stage
# compares them with), and draw each NAME.gp into NAME.svg.
# Run from anywhere: bash doc/figures/make.sh
# Environment: CLV_TMPDIR (scratch dir), CLV_PGPORT (default 54329), PG_CONFIG.
set -euo pipefail
exec </dev/null
# shellcheck source=test/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../test/lib.sh"

install_packages gnuplot-nox
prepare
trap cluster_stop EXIT
say "running the queries of doc/figures"
/usr/bin/python3 "$CLV_ROOT/test/docs/check_figures.py" --write
say "drawing the figures"
cd "$CLV_ROOT/doc/figures"
for gp in *.gp; do
    gnuplot "$gp"
    echo "${gp%.gp}.svg"
done
