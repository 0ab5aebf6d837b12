#!/usr/bin/env bash
# Refresh the vendored front-end assets under static/vendor/.
#
# Why vendored: users sit in closed bank networks, so every asset is served by the
# project itself (no CDN). This script is run by hand when upgrading; CI never runs it.
# Versions are pinned so the copy is reproducible; override them to upgrade, e.g.
#   BOOTSTRAP_VERSION=5.3.10 scripts/vendor-assets.sh
# then update static/vendor/README.md and commit the result.
set -euo pipefail

BOOTSTRAP_VERSION="${BOOTSTRAP_VERSION:-5.3.9}"
BOOTSTRAP_ICONS_VERSION="${BOOTSTRAP_ICONS_VERSION:-1.13.2}"
HTMX_VERSION="${HTMX_VERSION:-2.0.11}"
ECHARTS_VERSION="${ECHARTS_VERSION:-6.1.0}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

npm install --prefix "$work" --no-save --no-audit --no-fund --ignore-scripts \
    "bootstrap@$BOOTSTRAP_VERSION" "bootstrap-icons@$BOOTSTRAP_ICONS_VERSION" "htmx.org@$HTMX_VERSION" "echarts@$ECHARTS_VERSION"
nm="$work/node_modules"

# copy SRC DST: copy a file, dropping sourceMappingURL comment lines, because we do
# not ship .map files and browsers would otherwise request them (404 noise in devtools).
copy() {
    mkdir -p "$(dirname "$2")"
    grep -vE '^[[:space:]]*(//|/\*)# sourceMappingURL=' "$1" > "$2" || true
}

rm -rf "$dest/bootstrap" "$dest/bootstrap-icons" "$dest/htmx" "$dest/echarts"
copy "$nm/bootstrap/dist/css/bootstrap.min.css" "$dest/bootstrap/css/bootstrap.min.css"
copy "$nm/bootstrap/dist/js/bootstrap.bundle.min.js" "$dest/bootstrap/js/bootstrap.bundle.min.js"
cp "$nm/bootstrap/LICENSE" "$dest/bootstrap/LICENSE"

# The icon CSS refers to its fonts as url("fonts/..."), so fonts/ must sit next to it.
copy "$nm/bootstrap-icons/font/bootstrap-icons.min.css" "$dest/bootstrap-icons/bootstrap-icons.min.css"
mkdir -p "$dest/bootstrap-icons/fonts"
cp "$nm"/bootstrap-icons/font/fonts/*.woff2 "$nm"/bootstrap-icons/font/fonts/*.woff "$dest/bootstrap-icons/fonts/"
cp "$nm/bootstrap-icons/LICENSE" "$dest/bootstrap-icons/LICENSE"

copy "$nm/htmx.org/dist/htmx.min.js" "$dest/htmx/htmx.min.js"
cp "$nm/htmx.org/LICENSE" "$dest/htmx/LICENSE"

# The full build: it carries the Chinese locale (the portal speaks zh-hans).
copy "$nm/echarts/dist/echarts.min.js" "$dest/echarts/echarts.min.js"
cp "$nm/echarts/LICENSE" "$nm/echarts/NOTICE" "$dest/echarts/"
cp "$nm/echarts/licenses/LICENSE-d3" "$dest/echarts/LICENSE-d3"

# Guard: no url() in the copied CSS may point off-site (fonts must be local).
if grep -hoE 'url\((["'"'"']?)(https?:)?//' "$dest"/bootstrap/css/*.css "$dest"/bootstrap-icons/*.css; then
    echo "error: vendored CSS references an external URL" >&2
    exit 1
fi

echo "vendored bootstrap $BOOTSTRAP_VERSION, bootstrap-icons $BOOTSTRAP_ICONS_VERSION, htmx.org $HTMX_VERSION, echarts $ECHARTS_VERSION into $dest"
