#!/usr/bin/env bash
# Fuzzes the chunker, the Markdown/text loader, the prompt builder and the citation parser with
# libFuzzer (cargo-fuzz, nightly Rust), SECONDS each (default 300), outside CI's time.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# The corpus grows in fuzz/corpus/<target> (kept in git, minimised after each run); a crash
# is saved in fuzz/artifacts/<target>/ and must be fixed, then copied to
# fuzz/regressions/<target>/, which `cargo test` replays (tests/it/fuzz.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "fuzz: $*" >&2; }

seconds=${1:-300}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(chunker text_loader prompt citations)

bash scripts/setup.sh >/dev/null # the chunker target needs the tokenizer
rustup toolchain list | grep '^nightly' >/dev/null || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz

summary=()
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  # Seeds and past crashes start the corpus.
  cp -n fuzz/regressions/"$target"/* "fuzz/corpus/$target/" 2>/dev/null || true
  log=$(mktemp)
  say "$target for ${seconds}s"
  status=0
  # No sanitizer: the code under test is safe Rust (the C++ parts are not reached), and
  # without AddressSanitizer it runs several times as many inputs.
  cargo +nightly fuzz run -O -s none "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=4096 -print_final_stats=1 \
    2>&1 | tee "$log" | grep -E '^(#[0-9]+ +(DONE|pulse)|==|SUMMARY|thread)' || status=$?
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  crashes=$(find "fuzz/artifacts/$target" -type f | wc -l)
  summary+=("$target: ${seconds}s, $execs executions, corpus $(find "fuzz/corpus/$target" -type f | wc -l) inputs, $crashes crash files")
  # Keep the corpus small enough for git: the smallest set with the same coverage.
  merged=$(mktemp -d)
  cargo +nightly fuzz run -O -s none "$target" "$merged" "fuzz/corpus/$target" -- -merge=1 >/dev/null 2>&1 &&
    rm -rf "fuzz/corpus/$target" && mv "$merged" "fuzz/corpus/$target"
  rm -f "$log"
done
printf '%s\n' "${summary[@]}"
