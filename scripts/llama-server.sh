#!/usr/bin/env bash
# Builds llama.cpp's own `llama-server` (an OpenAI-compatible server), which the tests run on
# loopback as a remote language model for Lectern. From the llama-cpp-python sdist on PyPI,
# which vendors llama.cpp with its tools (its sources are never committed); the same CPU
# configuration as benches/llama-bench.sh. Idempotent; prints the binary's path.
#
# usage: scripts/llama-server.sh    (the build lives in $LECTERN_LLAMA_SERVER_DIR, default
#                                   ~/.cache/lectern/llama-server)
set -euo pipefail
work=${LECTERN_LLAMA_SERVER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lectern/llama-server}
sdist=llama_cpp_python-0.3.36.tar.gz
sdist_sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
bin=$work/build/bin/llama-server
say() { printf 'llama-server: %s\n' "$*" >&2; }
mkdir -p "$work"
if [[ ! -x $bin ]]; then
  command -v cmake >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cmake >&2
  }
  if [[ ! -f $work/$sdist ]] || [[ $(sha256sum "$work/$sdist" | cut -d' ' -f1) != "$sdist_sha" ]]; then
    say "downloading $sdist from PyPI"
    url=$(curl -fsS -H 'Accept: application/vnd.pypi.simple.v1+json' https://pypi.org/simple/llama-cpp-python/ |
      python3 -c 'import json,sys; print(next(f["url"] for f in json.load(sys.stdin)["files"] if f["filename"] == sys.argv[1]))' "$sdist")
    curl -fsSL -o "$work/$sdist.part" "$url"
    [[ $(sha256sum "$work/$sdist.part" | cut -d' ' -f1) == "$sdist_sha" ]] || { say "SHA-256 mismatch: $sdist"; exit 1; }
    mv "$work/$sdist.part" "$work/$sdist"
  fi
  rm -rf "$work/src" "$work/build" && mkdir -p "$work/src"
  tar -xzf "$work/$sdist" -C "$work/src" --strip-components=3 llama_cpp_python-0.3.36/vendor/llama.cpp
  say "building llama-server (about 10 minutes on 2 cores)"
  cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
    -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON -DBUILD_SHARED_LIBS=OFF >/dev/null
  cmake --build "$work/build" --target llama-server -j "$(nproc)" >/dev/null
fi
echo "$bin"
