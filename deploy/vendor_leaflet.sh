#!/bin/sh
# Vendor Leaflet from its npm package into node/static/leaflet/ (the node uses no CDN).
# Usage: sh deploy/vendor_leaflet.sh [VERSION]
set -eu
version="${1:-1.9.4}"
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "leaflet@$version" >/dev/null && tar xzf leaflet-*.tgz)
out="$here/node/static/leaflet"
mkdir -p "$out/images"
cp "$work/package/dist/leaflet.js" "$work/package/dist/leaflet.css" "$work/package/LICENSE" "$out/"
cp "$work/package/dist/images/"*.png "$out/images/"
echo "Leaflet $version (npm package leaflet), BSD-2-Clause: see LICENSE. Regenerate with deploy/vendor_leaflet.sh." > "$out/README"
