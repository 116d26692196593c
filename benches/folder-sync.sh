#!/usr/bin/env bash
# Followed-folder sync figures for docs/BENCHMARKS.md: a folder of N Markdown notes (default
# 2,000, each a few sentences of distinct text) followed by a fresh library, then
#   1. the first sync (every note ingested),
#   2. a sync with nothing changed (each file's size and mtime compared, nothing read),
#   3. a sync after every file was touched (each hashed, none embedded again),
#   4. a sync after 1 % of the notes were rewritten,
#   5. `lectern sync --watch`: from a note written to its document stored (QUIET 1.5 s included).
# Usage: benches/folder-sync.sh [N]   (builds nothing: run `cargo build --release` first)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
bin=${LECTERN_BIN:-target/release/lectern}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
data=$work/data docs=$work/docs
mkdir -p "$docs"
python3 - "$docs" "$n" <<'PY'
import random, sys
root, n = sys.argv[1], int(sys.argv[2])
words = "lamp lens keeper tide harbour beacon signal fog reef storm chart ledger rope brass oil wick".split()
rng = random.Random(7)
for i in range(n):
    body = " ".join(rng.choice(words) for _ in range(60))
    with open(f"{root}/note-{i:05}.md", "w") as f:
        f.write(f"# Note {i}\n\nNote {i} is about the number {i}. {body}.\n")
PY
sleep 1.2 # every note older than the sync's settle time
secs() { python3 -c 'import time; print(f"{time.time():.3f}")'; }
run() { # label, then the command
  local label=$1; shift
  local t0 t1
  t0=$(secs); "$@" >/dev/null; t1=$(secs)
  python3 -c "print(f'$label: {${t1} - ${t0}:.2f} s')"
}
run "1. follow + first sync of $n notes" "$bin" --data-dir "$data" --json follow -c bench "$docs"
run "2. sync, nothing changed" "$bin" --data-dir "$data" --json sync
touch "$docs"/*.md && sleep 1.2
run "3. sync, every file touched (hashed, not embedded)" "$bin" --data-dir "$data" --json sync
for ((i = 0; i < n / 100; i++)); do
  printf '# Note %d\n\nRewritten: note %d now tells of a %d-foot lighthouse.\n' "$i" "$i" "$i" >"$docs/note-$(printf %05d "$i").md"
done
sleep 1.2
run "4. sync, 1 % rewritten" "$bin" --data-dir "$data" --json sync
"$bin" --data-dir "$data" --json sync --watch >"$work/watch.out" 2>/dev/null &
sleep 5 # its start-up sync
for k in 1 2 3; do
  before=$(wc -l <"$work/watch.out")
  t0=$(secs)
  printf '# Fresh %d\n\nA note written while the watch runs.\n' "$k" >"$docs/fresh-$k.md"
  while (($(wc -l <"$work/watch.out") < before + 2)); do sleep 0.05; done
  t1=$(secs)
  python3 -c "print(f'5. watch, note written -> stored ({$k}): {${t1} - ${t0}:.2f} s')"
done
