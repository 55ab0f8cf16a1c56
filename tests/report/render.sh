#!/bin/sh
# tests/report/render.sh HTML PNG [WIDTH HEIGHT [PDF]] — renders a self-contained
# HTML file in headless Chromium (no network, fresh profile) to a PNG screenshot,
# dumps the rendered DOM to PNG.dom.html and, with PDF, prints it (A4, no
# header or footer) to PDF. Exit 3 when Chromium is missing.
set -eu
html=$1 png=$2 w=${3:-1280} h=${4:-3000} pdf=${5:-}
command -v chromium >/dev/null 2>&1 || { echo "chromium not installed (scripts/setup.sh --test)"; exit 3; }
prof=$(mktemp -d)
trap 'rm -rf "$prof"' EXIT
flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
--disable-component-update --disable-sync --user-data-dir=$prof --hide-scrollbars"
abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
timeout 120 chromium $flags --window-size="$w,$h" --screenshot="$png" "file://$abs" >/dev/null 2>&1
timeout 120 chromium $flags --dump-dom "file://$abs" > "$png.dom.html" 2>/dev/null
test -s "$png"
if [ -n "$pdf" ]; then
  timeout 120 chromium $flags --no-pdf-header-footer --print-to-pdf="$pdf" "file://$abs" >/dev/null 2>&1
  test -s "$pdf"
fi
