#!/usr/bin/env bash
# Lectern's main job: sets up the models and the desktop app's prerequisites, builds the app,
# and opens it. Drop PDFs, Markdown or text files on its window to index them, then ask.
#
# With no display ($DISPLAY and $WAYLAND_DISPLAY unset, e.g. over SSH) the app runs on a
# virtual screen (Xvfb) and a screenshot is saved to target/lectern-window.png after start-up;
# connect a display (ssh -X, or run on the desktop) to use it for real.
#
# `scripts/run.sh --headless [FILES...]` runs the `lectern` command-line tool instead: it
# ingests the files (default: the sample PDF) into the "demo" collection and asks about them.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${1:-} == --headless ]]; then
  shift
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
  exit
fi

scripts/setup.sh
if [[ -z ${DISPLAY:-} && -z ${WAYLAND_DISPLAY:-} ]]; then
  scripts/setup-app.sh --xvfb
else
  scripts/setup-app.sh
fi
cargo build --locked --release -p lectern-app
app=target/release/lectern-app

if [[ -n ${DISPLAY:-} || -n ${WAYLAND_DISPLAY:-} ]]; then
  exec "$app"
fi
echo "run.sh: no display; starting Lectern on a virtual screen (Xvfb). Stop it with Ctrl-C." >&2
exec xvfb-run -a -s "-screen 0 1280x1024x24" bash -c '
  "$1" & app=$!
  trap "kill $app 2>/dev/null" INT TERM EXIT
  sleep 8
  import -window root target/lectern-window.png 2>/dev/null &&
    echo "run.sh: the window as it is now: target/lectern-window.png" >&2
  wait $app' run "$app"
