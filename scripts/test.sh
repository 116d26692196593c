#!/usr/bin/env bash
# Runs every check and test of Lectern on a fresh machine: installs what is missing (models,
# ONNX Runtime), then formatting, lints and the full test suite against the real models.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test-models
cargo fmt --all --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
