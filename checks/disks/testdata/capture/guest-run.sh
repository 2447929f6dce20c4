#!/bin/sh
# guest-run.sh NAME
#
# The guest side of run.sh, started by cloud-init's runcmd from the NoCloud
# seed: sets up scenario NAME (scenarios.sh), captures the tree (capture.sh),
# writes it as a tar archive onto the blank disk with serial "capture", and
# powers the guest off. Progress goes to the serial console.
name=${1:?usage: guest-run.sh NAME}
here=$(cd "$(dirname "$0")" && pwd)
work=/root/capture-out
log() { echo "capture: $*" >/dev/ttyS0; }

rm -rf "$work"
mkdir -p "$work"
log "setting up $name"
sh "$here/scenarios.sh" "$name" >"$work/setup.log" 2>&1
rc=$?
log "setup exit status $rc"
udevadm settle --timeout=120
sh "$here/capture.sh" "$name" "$work/tree" >"$work/capture.log" 2>&1
crc=$?
log "capture exit status $crc"
{
	echo "scenario: $name"
	echo "setup exit status: $rc"
	echo "capture exit status: $crc"
	echo "kernel: $(uname -r) ($(uname -v))"
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	for p in cryptsetup lvm2 mdadm btrfs-progs util-linux udev e2fsprogs; do
		dpkg-query -W -f '${Package} ${Version}\n' "$p" 2>/dev/null
	done
	echo "--- lsblk"
	lsblk -o NAME,MAJ:MIN,TYPE,FSTYPE,SIZE,MOUNTPOINTS
	echo "--- dmsetup info"
	dmsetup info -c -o name,uuid,major,minor 2>&1
} >"$work/info.txt" 2>&1
tar -C "$work" -cf /dev/disk/by-id/virtio-capture . && sync
log "archive written; powering off"
systemctl poweroff
