#!/bin/sh
# Makes sure the cached Debian 12 guest image for the current vmtest/image
# inputs exists, building it with vmtest/image/build.sh when it does not, in
# the same cache and under the same lock and READY marker as the VM tests
# (VIGIE_VM_CACHE, default /var/cache/vigie-vmtest). Prints its directory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
inputs=$(cd "$here/../../../../vmtest/image" && pwd)
cache=${VIGIE_VM_CACHE:-/var/cache/vigie-vmtest}
key=$("$here/imagekey.sh" "$inputs")
dir="$cache/debian12-$key"
ready() { [ -f "$dir/READY" ] && [ -f "$dir/rootfs.img" ] && [ -f "$dir/vmlinuz" ] && [ -f "$dir/initrd.img" ]; }
if ! ready; then
	mkdir -p "$cache"
	exec 9>>"$cache/.lock"
	flock -w 780 9
	if ! ready; then
		rm -rf "$dir.tmp"
		echo "image.sh: building $dir (log $dir.build.log)" >&2
		timeout 720 "$inputs/build.sh" "$dir.tmp" >"$dir.build.log" 2>&1 || {
			tail -n 30 "$dir.build.log" >&2
			exit 1
		}
		echo "$key" >"$dir.tmp/READY"
		mv "$dir.tmp" "$dir"
	fi
	exec 9>&-
fi
echo "$dir"
