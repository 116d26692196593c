#!/usr/bin/env bash
# The long versions of the reliability tests, outside CI's time: many kill -9 rounds of a real
# ingest, of index compaction and of embedding-model switches (each followed by a restart and
# the checks of tests/it/crash.rs), and the hostile-file ingest with every PDF in
# ../shared/data/pdfs (tests/it/hostile.rs). CI runs short versions of the same tests.
# Fuzzing: scripts/fuzz.sh. Usage: scripts/reliability.sh [ROUNDS] (default 50); set
# LECTERN_KILL_SEED to replay a failing run. Figures go to docs/RELIABILITY.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
rounds=${1:-50}
start=$(date +%s)
LECTERN_KILL_ROUNDS=$rounds LECTERN_HOSTILE_ALL=1 cargo test --locked --release -p lectern \
  --test it -- crash:: hostile:: --nocapture --test-threads 1
echo "reliability.sh: $rounds kill rounds passed in $(($(date +%s) - start)) s"
