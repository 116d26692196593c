#!/usr/bin/env bash
# Lectern's main job, headless for now: sets up the models, builds the `lectern` tool, ingests
# the given documents (default: the sample PDF in assets/) into the "demo" collection, lists
# them, and asks the local model about them: one sample question about the sample PDF, or an
# interactive chat about your own documents when run in a terminal.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --locked --release --bin lectern
lectern=target/release/lectern
inputs=("$@")
((${#inputs[@]})) || inputs=(assets/sample-lighthouses.pdf)

"$lectern" ingest --collection demo "${inputs[@]}" || true
echo
"$lectern" documents --collection demo
echo
if (($#)) && [[ -t 0 ]]; then
  "$lectern" chat --collection demo
else
  question=${LECTERN_QUESTION:-Why were lighthouse keepers called wickies?}
  echo "Q: $question"
  "$lectern" ask --collection demo "$question"
fi
