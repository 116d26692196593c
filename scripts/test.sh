#!/usr/bin/env bash
# Runs every check and test of Lectern on a fresh machine: installs what is missing (models,
# ONNX Runtime, the desktop app's system packages and npm packages, the end-to-end test's
# tools), then formatting, lints, the UI's type check and unit tests, and the full Rust test
# suite against the real models, including the real app driven under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's end, in seconds since the start, so a slow CI run shows where its time went.
step() { echo "test.sh: $1 done at ${SECONDS} s" >&2; }

scripts/setup.sh --test-models --test-clients --test-servers
step "setup"
scripts/setup-app.sh --test
step "setup-app"
cargo fmt --all --check
npm run --prefix ui --silent check
npm run --prefix ui --silent test
step "UI check and unit tests"
# Release for both: the end-to-end test drives the release app binary that cargo builds for it,
# one optimised build serves every test (dependencies are optimised in dev builds too), and
# clippy in the same profile shares its build scripts (llama.cpp's compile, ~8 min) with it.
cargo clippy --locked --workspace --all-targets --release -- -D warnings
step "clippy"
cargo test --locked --workspace --release
step "cargo test"
# The Debian package of the app binary the tests above built and drove, packed offline by the
# Tauri CLI from npm. Not `tauri build`: it builds the app alone, without the test build's
# dev-dependencies, so feature unification differs and ~170 crates compiled again (measured:
# the .deb step took 951 s of a 3554 s run that way, and 6 s this way).
ui/node_modules/.bin/tauri bundle --bundles deb
step "the .deb"
deb=$(ls target/release/bundle/deb/*.deb)
# The output is read whole before grep looks at it: `grep -q` stops at the first match, and
# under pipefail the writer's SIGPIPE (exit 141) would fail the run.
deb_info=$(dpkg-deb -I "$deb")
for dep in libwebkit2gtk-4.1-0 tesseract-ocr poppler-utils; do
  grep -q "Depends: .*$dep" <<<"$deb_info" ||
    { echo "test.sh: $deb should depend on $dep" >&2; exit 1; }
done
[[ $(dpkg-deb -c "$deb" | awk '$6 ~ /^(\.\/)?usr\/bin\/./ { n++ } END { print n }') == 1 ]] ||
  { echo "test.sh: $deb should hold exactly one program" >&2; exit 1; }
echo "test.sh: all checks passed; package at $deb"
