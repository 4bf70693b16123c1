#!/usr/bin/env bash
# Re-fetch the vendored chart library from the npm registry and check it byte for byte
# (console/vendor/README.md). Nothing is built: the package's own dist/ files are copied.
set -euo pipefail
cd "$(dirname "$0")"
version=1.6.32
integrity="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$version" >/dev/null)
got="sha512-$(openssl dgst -sha512 -binary "$work/uplot-$version.tgz" | base64 -w0)"
[ "$got" = "$integrity" ] || { echo "uplot@$version: integrity $got, expected $integrity" >&2; exit 1; }
tar -xzf "$work/uplot-$version.tgz" -C "$work"
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" .
cp "$work/package/LICENSE" LICENSE-uPlot.txt
sha256sum -c <<'SUMS'
19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f  uPlot.iife.min.js
df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04  uPlot.min.css
8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd  LICENSE-uPlot.txt
SUMS
