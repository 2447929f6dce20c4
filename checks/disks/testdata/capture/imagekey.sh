#!/bin/sh
# Prints the cache key of the guest image built from DIR (default: the
# repository's vmtest/image): the first 16 hex digits of a SHA-256 over every
# regular file of DIR in byte order ("file NAME SIZE\n" then the content) and
# the VIGIE_VM_* variables build.sh reads ("env NAME=VALUE\n").
set -eu
dir=${1:-$(cd "$(dirname "$0")/../../../../vmtest/image" && pwd)}
{
	for path in $(cd "$dir" && ls -A | LC_ALL=C sort); do
		f="$dir/$path"
		[ -f "$f" ] && [ ! -L "$f" ] || continue
		printf 'file %s %d\n' "$path" "$(stat -c %s "$f")"
		cat "$f"
	done
	for v in VIGIE_VM_MIRROR VIGIE_VM_SECURITY_MIRROR VIGIE_VM_SUITE VIGIE_VM_ROOT_SIZE; do
		printf 'env %s=%s\n' "$v" "$(printenv "$v" || true)"
	done
} | sha256sum | cut -c1-16
