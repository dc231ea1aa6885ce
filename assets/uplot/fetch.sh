#!/usr/bin/env bash
# Fetch uplot from the npm registry (npm checks the package's integrity) and compare the
# vendored files with it; with --update, copy them over (then update SOURCE.md's version and sums).
set -euo pipefail
cd "$(dirname "$0")"
VERSION=${UPLOT_VERSION:-1.6.32}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
(cd "$T" && npm pack --silent "uplot@$VERSION" >/dev/null && tar xzf uplot-*.tgz)
for f in dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE; do
  if [ "${1:-}" = --update ]; then cp "$T/package/$f" "$(basename "$f")"; fi
  cmp "$T/package/$f" "$(basename "$f")" && echo "$(basename "$f"): as in uplot@$VERSION"
done
