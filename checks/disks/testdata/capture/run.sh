#!/bin/sh
# run.sh [SCENARIO...]
#
# Host side: for each scenario (default: all of them) boots the Debian 12
# guest of vmtest/ (image built or reused through image.sh) under qemu TCG
# with the scenario's blank disks, lets cloud-init run guest-run.sh from the
# NoCloud seed, and, once the guest has powered itself off, unpacks the tar
# archive it left on the "capture" disk into checks/disks/testdata/SCENARIO/
# (everything in that directory but README.md is replaced).
#
# Needs root only if the image must be built; qemu-system-x86_64, qemu-img,
# genisoimage. The guest has no network (-nic user,restrict=on, nothing
# forwarded). Run directories (console.log, qemu.log, the disks, the archive)
# stay under $VIGIE_CAPTURE_RUNS (default /var/cache/vigie-vmtest/capture-runs).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
testdata=$(cd "$here/.." && pwd)
all="plain luks2-partition lvm-on-luks luks-on-lvm md-raid1-luks crypt-swap nvme-scratch scw-block btrfs"
runs=${VIGIE_CAPTURE_RUNS:-/var/cache/vigie-vmtest/capture-runs}
timeout=${VIGIE_CAPTURE_TIMEOUT:-900}
# The Scaleway-style block volume id of scenario scw-block.
scw_volume=volume-8a4d9c7e-3f1b-4e2a-9c6d-5b7e1f2a3c4d

img=$("$here/image.sh")

run_one() {
	name=$1
	rd="$runs/$name-$(date +%Y%m%d-%H%M%S)"
	mkdir -p "$rd/seed"
	extra=""
	# disk SERIAL SIZE: a blank raw virtio disk with that serial.
	disk() {
		truncate -s "$2" "$rd/$1.img"
		extra="$extra -drive if=none,id=$1,format=raw,file=$rd/$1.img -device virtio-blk-pci,drive=$1,serial=$1"
	}
	case $name in
	plain) disk data 512M ;;
	luks2-partition) disk secure 256M ;;
	lvm-on-luks) disk pv 512M ;;
	luks-on-lvm) disk lvm 640M ;;
	md-raid1-luks) disk md1 256M; disk md2 256M ;;
	crypt-swap) disk cswap 128M; disk pswap 128M ;;
	nvme-scratch)
		for s in scratch0 scratch1; do
			truncate -s 256M "$rd/$s.img"
			extra="$extra -drive if=none,id=$s,format=raw,file=$rd/$s.img -device nvme,serial=$s,drive=$s"
		done
		;;
	scw-block)
		truncate -s 256M "$rd/b1.img"
		extra="$extra -device virtio-scsi-pci,id=scsi0"
		extra="$extra -drive if=none,id=b1,format=raw,file=$rd/b1.img"
		extra="$extra -device scsi-hd,bus=scsi0.0,drive=b1,vendor=SCW,product=b_ssd,serial=$scw_volume,device_id=$scw_volume"
		extra="$extra -smbios type=1,manufacturer=Scaleway,product=PRO2-XXS"
		;;
	btrfs) disk btr 512M ;;
	*) echo "run.sh: unknown scenario $name" >&2; return 2 ;;
	esac

	qemu-img create -q -f qcow2 -F raw -b "$img/rootfs.img" "$rd/root.qcow2"
	truncate -s 64M "$rd/capture.img"
	cp "$here/guest-run.sh" "$here/scenarios.sh" "$here/capture.sh" "$rd/seed/"
	cat >"$rd/seed/meta-data" <<META
instance-id: capture-$name-$(date +%s)
local-hostname: vigie-guest
META
	cat >"$rd/seed/user-data" <<USER
#cloud-config
runcmd:
  - [sh, -c, "mkdir -p /root/capture && mount -o ro /dev/disk/by-label/cidata /mnt && cp /mnt/*.sh /root/capture/ && umount /mnt && sh /root/capture/guest-run.sh $name"]
USER
	genisoimage -quiet -output "$rd/seed.iso" -volid cidata -joliet -rock "$rd/seed"/*

	# shellcheck disable=SC2086 # $extra is a list of words on purpose
	set -- -accel tcg,thread=multi -smp 2 -m 1536 \
		-nodefaults -no-user-config -display none -no-reboot \
		-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
		-append "root=LABEL=vigie-root rw console=ttyS0 net.ifnames=0 panic=-1" \
		-drive "if=none,id=root,format=qcow2,file=$rd/root.qcow2" \
		-device virtio-blk-pci,drive=root,serial=root \
		-drive "if=none,id=seed,format=raw,readonly=on,file=$rd/seed.iso" \
		-device virtio-blk-pci,drive=seed,serial=seed \
		-drive "if=none,id=capture,format=raw,file=$rd/capture.img" \
		-device virtio-blk-pci,drive=capture,serial=capture \
		$extra \
		-nic user,model=virtio-net-pci,restrict=on \
		-serial "file:$rd/console.log"
	printf '%s\n' "$@" >"$rd/qemu.args"
	echo "run.sh: $name: booting (run directory $rd)"
	start=$(date +%s)
	if ! timeout "$timeout" qemu-system-x86_64 "$@" >"$rd/qemu.log" 2>&1; then
		echo "run.sh: $name: qemu failed or timed out; see $rd/console.log" >&2
		tail -n 20 "$rd/console.log" >&2
		return 1
	fi
	mkdir -p "$rd/out"
	if ! tar -C "$rd/out" -xf "$rd/capture.img"; then
		echo "run.sh: $name: no archive on the capture disk; see $rd/console.log" >&2
		return 1
	fi
	sed -n 's/^/  /p' "$rd/out/info.txt" | head -n 4
	if ! grep -q '^setup exit status: 0$' "$rd/out/info.txt"; then
		echo "run.sh: $name: setup failed:" >&2
		tail -n 20 "$rd/out/setup.log" >&2
		return 1
	fi
	dest="$testdata/$name"
	mkdir -p "$dest"
	find "$dest" -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	cp -a "$rd/out/tree/$name/." "$dest/"
	echo "run.sh: $name: done in $(($(date +%s) - start)) s -> $dest"
}

status=0
for name in ${*:-$all}; do
	run_one "$name" || status=1
done
exit $status
