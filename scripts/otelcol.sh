#!/usr/bin/env bash
# Builds the test OpenTelemetry Collector (tools/otelcol, a module of its own)
# once and prints the binary's path on stdout. The binary is cached under
# VIGIE_OTELCOL_CACHE (default /var/cache/vigie-otelcol as root, else
# ~/.cache/vigie-otelcol), named after the sha256 of the module's go.mod,
# go.sum and main.go and the Go version: a change to any of them builds a new
# one, an unchanged tree reuses it. The build needs only the Go module proxy
# (about 95 s and 34 MB the first time on two cores).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/tools/otelcol"
go="${GO:-go}"
if [ "$(id -u)" -eq 0 ]; then
  cache="${VIGIE_OTELCOL_CACHE:-/var/cache/vigie-otelcol}"
else
  cache="${VIGIE_OTELCOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigie-otelcol}"
fi
key=$( { cat "$src/go.mod" "$src/go.sum" "$src/main.go"; "$go" env GOVERSION; } | sha256sum | cut -c1-12)
bin="$cache/otelcol-$key"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp "$cache/.otelcol-$key.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  echo "otelcol.sh: building $bin (a few minutes the first time)" >&2
  start=$(date +%s)
  # Low priority: the build is large and shares the machine.
  (cd "$src" && GOWORK=off CGO_ENABLED=0 nice -n 10 "$go" build \
    -mod=readonly -trimpath -buildvcs=false -ldflags='-s -w' -o "$tmp" .) >&2
  mv -f "$tmp" "$bin"
  trap - EXIT
  echo "otelcol.sh: built in $(( $(date +%s) - start )) s, $(stat -c %s "$bin") bytes" >&2
fi
echo "$bin"
