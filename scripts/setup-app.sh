#!/usr/bin/env bash
# Installs what the desktop app needs to build and run, idempotently: Debian's WebKitGTK and
# friends, the UI's npm packages (the versions in package-lock.json), and the built UI (ui/dist, which the
# app embeds). With --test it also installs what the app's end-to-end test drives it with:
# Xvfb, WebKitWebDriver, xdotool, a GTK drag source, and tauri-driver. With --xvfb, only Xvfb
# and ImageMagick (for running the app without a display).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup-app: %s\n' "$*" >&2; }

packages=(libwebkit2gtk-4.1-dev build-essential file libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev pkg-config)
if [[ ${1:-} == --test ]]; then
  packages+=(xvfb xauth webkit2gtk-driver xdotool python3-gi gir1.2-gtk-3.0 fonts-dejavu-core
    imagemagick)
elif [[ ${1:-} == --xvfb ]]; then
  packages+=(xvfb xauth imagemagick fonts-dejavu-core)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  # No recommends: they pull in printing services whose set-up fails in containers.
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v npm >/dev/null || { say "npm not found: install Node.js 20 or newer"; exit 1; }
if [[ ! -d ui/node_modules ]] || [[ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]]; then
  say "installing the UI's npm packages"
  # Not `npm ci`: the lock file lists only the platform packages this registry resolved
  # (the tauri CLI's optional per-platform binaries), which `npm ci` rejects as out of sync.
  # `install --no-save` takes the locked versions and leaves the lock file untouched.
  npm install --prefix ui --no-save --no-audit --no-fund --loglevel=error
fi
say "building the UI (ui/dist)"
npm run --prefix ui --silent build >/dev/null

if [[ ${1:-} == --test ]] && ! command -v tauri-driver >/dev/null; then
  say "installing tauri-driver"
  cargo install tauri-driver --version 2.1.0 --locked --quiet
fi
say "app prerequisites ready"
