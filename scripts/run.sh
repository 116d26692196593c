#!/usr/bin/env bash
# Lectern's main job, headless for now: sets up the models, builds the `lectern` tool, ingests
# the given documents (default: the sample PDF in assets/) into the "demo" collection, and
# lists the collection's documents and the first document's chunks with their pages.
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
first=$(basename "${inputs[0]}")
[[ -d ${inputs[0]} ]] || "$lectern" chunks --collection demo "$first" --limit 5
