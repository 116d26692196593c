#!/usr/bin/env bash
# Builds llama.cpp's own `llama-bench` (a benchmark step only: its sources are never committed)
# from the llama-cpp-python sdist on PyPI, which vendors llama.cpp with its tools, and runs it
# on a GGUF with the settings `cargo bench --bench llm -- engine` uses, for comparison.
#
# usage: benches/llama-bench.sh [MODEL.gguf] [THREADS] [N_PROMPT] [N_GEN] [REPS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${LECTERN_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lectern/llama-bench}
models=${LECTERN_MODELS_DIR:-${LECTERN_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/lectern}/models}
model=${1:-$models/SmolLM2-135M-Instruct.Q4_1.gguf}
threads=${2:-2}
n_prompt=${3:-1000}
n_gen=${4:-128}
reps=${5:-5}

sdist=llama_cpp_python-0.3.36.tar.gz
sdist_sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
bin=$work/build/bin/llama-bench
mkdir -p "$work"
if [[ ! -x $bin ]]; then
  if [[ ! -f $work/$sdist ]] || [[ $(sha256sum "$work/$sdist" | cut -d' ' -f1) != "$sdist_sha" ]]; then
    url=$(curl -fsS -H 'Accept: application/vnd.pypi.simple.v1+json' https://pypi.org/simple/llama-cpp-python/ |
      python3 -c 'import json,sys; print(next(f["url"] for f in json.load(sys.stdin)["files"] if f["filename"] == sys.argv[1]))' "$sdist")
    curl -fsSL -o "$work/$sdist.part" "$url"
    [[ $(sha256sum "$work/$sdist.part" | cut -d' ' -f1) == "$sdist_sha" ]] || { echo "SHA-256 mismatch: $sdist" >&2; exit 1; }
    mv "$work/$sdist.part" "$work/$sdist"
  fi
  rm -rf "$work/src" && mkdir -p "$work/src"
  tar -xzf "$work/$sdist" -C "$work/src" --strip-components=3 llama_cpp_python-0.3.36/vendor/llama.cpp
  # The same CPU configuration as llama-cpp-sys-2 builds for Lectern: not native, ggml's
  # default x86-64-v3 set (AVX2, FMA, F16C), and ggml's thread pool instead of OpenMP.
  cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
    -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON -DBUILD_SHARED_LIBS=OFF >/dev/null
  cmake --build "$work/build" --target llama-bench -j "$(nproc)" >/dev/null
fi
"$bin" -m "$model" -t "$threads" -p "$n_prompt" -n "$n_gen" -b 512 -ub 512 -r "$reps" -o md
