#!/usr/bin/env bash
# The long versions of the reliability tests, outside CI's time: many kill -9 rounds of a real
# ingest (each followed by a restart and the checks of tests/it/crash.rs). CI runs a short
# version of the same test. Usage: scripts/reliability.sh [ROUNDS] (default 50); set
# LECTERN_KILL_SEED to replay a failing run. Figures go to docs/RELIABILITY.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
rounds=${1:-50}
start=$(date +%s)
LECTERN_KILL_ROUNDS=$rounds cargo test --locked --release -p lectern --test it -- \
  crash:: --nocapture
echo "reliability.sh: $rounds kill rounds passed in $(($(date +%s) - start)) s"
