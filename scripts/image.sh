#!/usr/bin/env bash
# Builds the server's container image: a static binary (go build) and
# Debian's CA certificates, FROM scratch (Containerfile). No base image is
# pulled, so it builds offline.
#
#   scripts/image.sh [IMAGE]
#
# IMAGE defaults to localhost/memories-graphql:<git describe>, also tagged
# localhost/memories-graphql:latest (the tag compose.yaml runs). On success it
# prints one line on stdout: the image's name and its size.
#
# Environment:
#   CONTAINER_ENGINE  podman (default) or docker
#   VERSION           stamped into the binary (main.version); default git describe --always --dirty
#   CA_BUNDLE         CA certificates to copy in; default /etc/ssl/certs/ca-certificates.crt (Debian's ca-certificates)
#   GOARCH            the image's architecture; default the Go toolchain's
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

engine=${CONTAINER_ENGINE:-podman}
version=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
image=${1:-localhost/memories-graphql:$version}
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
arch=${GOARCH:-$(go env GOARCH)}

if [ ! -s "$ca" ]; then
  echo "image.sh: no CA bundle at $ca (install Debian's ca-certificates, or set CA_BUNDLE)" >&2
  exit 1
fi
command -v "$engine" >/dev/null || { echo "image.sh: $engine not found (apt-get install podman, or CONTAINER_ENGINE=docker)" >&2; exit 1; }

# The build context holds exactly what the image gets.
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath \
  -ldflags "-s -w -X main.version=$version -X main.commit=$revision" -o "$ctx/memories-graphql" .
cp "$ca" "$ctx/ca-certificates.crt"
chmod 0755 "$ctx/memories-graphql"
chmod 0644 "$ctx/ca-certificates.crt"

# podman keeps an image per step for its cache unless told; nothing here
# is worth caching.
layers=()
[ "$(basename "$engine")" = podman ] && layers=(--layers=false)
"$engine" build --quiet ${layers[@]+"${layers[@]}"} --file "$root/Containerfile" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  --tag "$image" "$ctx" >/dev/null
if [ $# -eq 0 ]; then
  "$engine" tag "$image" localhost/memories-graphql:latest
fi

size=$("$engine" image inspect --format '{{.Size}}' "$image")
echo "$image $(awk -v b="$size" 'BEGIN { printf "%.1f MB (%d bytes)", b / 1e6, b }')"
