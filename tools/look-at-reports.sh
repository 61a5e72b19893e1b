#!/usr/bin/env bash
# Turns a report folder into pictures a person can look at before calling a report done:
# a full-page screenshot of report.html (headless Chromium) and one PNG per PDF page
# (pdftoppm). Usage: tools/look-at-reports.sh REPORT_DIR [OUT_DIR]
# Needs Debian's chromium and poppler-utils (apt-get install chromium poppler-utils).
set -euo pipefail
report_dir=${1:?usage: tools/look-at-reports.sh REPORT_DIR [OUT_DIR]}
out_dir=${2:-$report_dir/pictures}
mkdir -p "$out_dir"
if [ -f "$report_dir/report.html" ]; then
  if command -v chromium >/dev/null; then
    # --no-sandbox: CI and these machines run as root, where Chromium's sandbox refuses to start.
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,4000 \
      --screenshot="$out_dir/report.html.png" "file://$(readlink -f "$report_dir/report.html")" \
      >/dev/null 2>&1
    echo "wrote $out_dir/report.html.png"
  else
    echo "chromium not installed: skipping the HTML screenshot" >&2
  fi
fi
if [ -f "$report_dir/report.pdf" ]; then
  pdftoppm -r 60 -png "$report_dir/report.pdf" "$out_dir/report.pdf-page"
  echo "wrote $(ls "$out_dir"/report.pdf-page-*.png | wc -l) PDF pages to $out_dir"
fi
