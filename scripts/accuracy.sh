#!/usr/bin/env bash
# The accuracy study (issue 16): seeded simulated windows with known truth, calibrated by the
# pipeline both front ends run under every linking method and priors setting, measured against
# the truth; the tables go between the markers of docs/accuracy.md (the prose around them stays).
#
#   bash scripts/accuracy.sh [--quick] [--drift | --dif | --trend] [--reps N] [--seed S] [--threads N]
#
# --quick: the seed's shape only, 2 replications (a test-size run, docs/accuracy.md untouched).
# --dif: the DIF study alone (false alarms and power of Mantel–Haenszel and of the run's whole
#        screen), between its own markers.
# --trend: the trend study alone (the CUSUM across runs on item histories with known truth),
#        between its own markers.
# No database is needed. The full study takes about 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

WRITE=(--write docs/accuracy.md)
for arg in "$@"; do
    [[ $arg == --quick ]] && WRITE=()
done
cargo build --quiet --release -p irt-core --bin irt-accuracy
machine="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//' || uname -m)"
echo "Machine: ${machine:-unknown}, $(nproc) cores; $(git rev-parse --short HEAD 2>/dev/null || echo 'no git')" >&2
exec target/release/irt-accuracy --machine "${machine:-unknown}, $(nproc) cores" "$@" "${WRITE[@]}"
