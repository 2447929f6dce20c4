#!/bin/sh
# capture.sh NAME OUTDIR
#
# Runs inside the guest, as root, once the storage of a scenario is set up.
# Copies into OUTDIR/NAME a minimal but faithful subset of what a program
# reading procfs and sysfs sees about block devices:
#
#   proc/self/mountinfo, proc/swaps            verbatim
#   sys/block/*, sys/class/block/*,
#   sys/dev/block/*                            symlinks, link text kept verbatim
#                                              (the kernel's links are relative)
#   sys/devices/.../<dev>/                     the directories those links point
#                                              to, with only the attributes below
#   sys/class/dmi/id -> sys/devices/virtual/dmi/id/{sys_vendor,product_name}
#   run/udev/data/b<MAJ>:<MIN>                 udev database entries, if present
#   lsblk.json, by-id.txt                      `lsblk -J -O`, `ls -l /dev/disk/by-id/`
#                                              (for reference, not for parsing)
#
# Attributes copied, as regular files, from each block device or partition
# directory: dev size removable ro partition start uevent dm/name dm/uuid
# md/level md/array_state serial wwid queue/rotational, and from the
# directory its `device` link points to: vendor model serial wwid, and the
# binary SCSI VPD pages vpd_pg80 (unit serial) and vpd_pg83 (device
# identification) byte for byte. The `device`, `slaves/*` and `holders/*`
# links are kept as relative symlinks, and so are the /dev/disk/by-id links
# (dev/disk/by-id/NAME -> ../../sda: only their text is meant to be read,
# they are kept though they dangle in the copy). A file over 64 KiB, one
# holding a NUL byte (but the VPD pages), or one that cannot be read is
# skipped. Symlinks that do not resolve inside OUTDIR/NAME are removed at the
# end, and so are directories left empty (a checkout could not keep them).
set -eu

name=${1:?usage: capture.sh NAME OUTDIR}
out=${2:?usage: capture.sh NAME OUTDIR}/$name
rm -rf "$out"
mkdir -p "$out/proc/self"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

cat /proc/self/mountinfo >"$out/proc/self/mountinfo"
cat /proc/swaps >"$out/proc/swaps"

# copy_file ABS: copies one small text attribute.
copy_file() {
	[ -f "$1" ] && [ ! -L "$1" ] || return 0
	if ! head -c 65537 "$1" >"$tmp" 2>/dev/null; then
		echo "capture.sh: skipped $1: read failed" >&2
		return 0
	fi
	if [ "$(stat -c %s "$tmp")" -gt 65536 ]; then
		echo "capture.sh: skipped $1: over 64 KiB" >&2
		return 0
	fi
	if ! tr -d '\000' <"$tmp" | cmp -s - "$tmp"; then
		echo "capture.sh: skipped $1: binary" >&2
		return 0
	fi
	mkdir -p "$(dirname "$out$1")"
	cat "$tmp" >"$out$1"
}

# copy_bin ABS: copies one binary attribute (a VPD page) as it is.
copy_bin() {
	[ -f "$1" ] && [ ! -L "$1" ] || return 0
	if ! head -c 65540 "$1" >"$tmp" 2>/dev/null; then
		echo "capture.sh: skipped $1: read failed" >&2
		return 0
	fi
	[ -s "$tmp" ] || return 0
	mkdir -p "$(dirname "$out$1")"
	cat "$tmp" >"$out$1"
}

# copy_link ABS: recreates one symlink with the same (relative) text; an
# absolute target is rewritten relative to the link's directory.
copy_link() {
	[ -L "$1" ] || return 0
	target=$(readlink "$1")
	case $target in
	/*) target=$(realpath -s --relative-to="$(dirname "$1")" "$target") ;;
	esac
	mkdir -p "$(dirname "$out$1")"
	ln -sfn "$target" "$out$1"
}

seen=" "
for link in /sys/block/* /sys/class/block/* /sys/dev/block/*; do
	[ -L "$link" ] || continue
	copy_link "$link"
	dir=$(readlink -f "$link")
	case $seen in *" $dir "*) continue ;; esac
	seen="$seen$dir "
	for a in dev size removable ro partition start uevent dm/name dm/uuid \
		md/level md/array_state serial wwid queue/rotational; do
		copy_file "$dir/$a"
	done
	for l in "$dir"/slaves/* "$dir"/holders/*; do
		copy_link "$l"
	done
	if [ -L "$dir/device" ]; then
		copy_link "$dir/device"
		parent=$(readlink -f "$dir/device")
		for a in vendor model serial wwid; do
			copy_file "$parent/$a"
		done
		for a in vpd_pg80 vpd_pg83; do
			copy_bin "$parent/$a"
		done
	fi
	if [ -r "$dir/dev" ]; then
		udev="/run/udev/data/b$(cat "$dir/dev")"
		[ -f "$udev" ] && copy_file "$udev"
	fi
done

copy_link /sys/class/dmi/id
for a in sys_vendor product_name; do
	copy_file "/sys/devices/virtual/dmi/id/$a"
done

for l in /dev/disk/by-id/*; do
	copy_link "$l"
done

# Drop links that leave the tree or dangle (repeat: links can chain), but
# the by-id links, which name devices of /dev.
while :; do
	dropped=0
	for l in $(find "$out" -path "$out/dev" -prune -o -type l -print); do
		r=$(readlink -e "$l" || true)
		case $r in
		"$out"/*) ;;
		*) rm -f "$l"; dropped=1 ;;
		esac
	done
	[ "$dropped" = 0 ] && break
done
find "$out" -mindepth 1 -type d -empty -delete

lsblk -J -O >"$out/lsblk.json" 2>&1 || true
ls -l /dev/disk/by-id/ >"$out/by-id.txt" 2>&1 || true
