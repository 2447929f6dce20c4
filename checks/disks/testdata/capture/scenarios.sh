#!/bin/sh
# scenarios.sh NAME
#
# Runs inside the guest, as root: sets up the storage of one fixture
# scenario on the blank disks run.sh attached (virtio disks are found by
# serial under /dev/disk/by-id/virtio-SERIAL, NVMe disks by controller
# serial, the SCSI disk by its vendor). Every command is traced (set -x) so
# the log shows exactly what ran.
set -eux

name=${1:?usage: scenarios.sh NAME}
key=/root/fixture.key
printf '%s' 'vigie-fixture-passphrase' >"$key"
chmod 0600 "$key"

# LUKS2 with argon2id; memory and time cut down for a small TCG guest.
luks_format() {
	cryptsetup luksFormat --batch-mode --type luks2 --pbkdf argon2id \
		--pbkdf-memory 65536 --iter-time 200 --key-file "$key" "$1"
}
luks_open() {
	cryptsetup open --type luks2 --key-file "$key" "$1" "$2"
}
vd() { echo "/dev/disk/by-id/virtio-$1"; }
settle() { udevadm settle --timeout=120; }
# nvme SERIAL: the namespace block device whose controller (or NVMe
# subsystem) reports that serial.
nvme() {
	for n in /sys/block/nvme*; do
		if [ "$(tr -d ' ' <"$n/device/serial")" = "$1" ]; then
			echo "/dev/$(basename "$n")"
			return 0
		fi
	done
	return 1
}
# scsi_vendor VENDOR: the first SCSI disk whose INQUIRY vendor is VENDOR.
scsi_vendor() {
	for d in /sys/block/sd*; do
		if [ "$(tr -d ' ' <"$d/device/vendor")" = "$1" ]; then
			echo "/dev/$(basename "$d")"
			return 0
		fi
	done
	return 1
}

settle
case $name in
plain)
	# A data disk with two GPT partitions: ext4 on /data, swap.
	printf 'label: gpt\nsize=384MiB, type=L, name=data\ntype=S, name=swap\n' | sfdisk -q "$(vd data)"
	settle
	mkfs.ext4 -q -F -L data "$(vd data)-part1"
	mkdir -p /data
	mount "$(vd data)-part1" /data
	mkswap -L swap "$(vd data)-part2"
	swapon "$(vd data)-part2"
	;;
luks2-partition)
	printf 'label: gpt\ntype=L, name=secure\n' | sfdisk -q "$(vd secure)"
	settle
	luks_format "$(vd secure)-part1"
	uuid=$(cryptsetup luksUUID "$(vd secure)-part1")
	luks_open "$(vd secure)-part1" "luks-$uuid"
	mkfs.ext4 -q -F -L secure "/dev/mapper/luks-$uuid"
	mkdir -p /secure
	mount "/dev/mapper/luks-$uuid" /secure
	;;
lvm-on-luks)
	luks_format "$(vd pv)"
	luks_open "$(vd pv)" pv_crypt
	pvcreate /dev/mapper/pv_crypt
	vgcreate vgcrypt /dev/mapper/pv_crypt
	lvcreate --yes -L 256M -n srv vgcrypt
	lvcreate --yes -L 128M -n swap vgcrypt
	settle
	mkfs.ext4 -q -F -L srv /dev/vgcrypt/srv
	mkdir -p /srv
	mount /dev/vgcrypt/srv /srv
	mkswap -L lvswap /dev/vgcrypt/swap
	swapon /dev/vgcrypt/swap
	;;
luks-on-lvm)
	pvcreate "$(vd lvm)"
	vgcreate vgdata "$(vd lvm)"
	lvcreate --yes -L 256M -n vault vgdata
	lvcreate --yes -L 256M -n plain vgdata
	settle
	luks_format /dev/vgdata/vault
	luks_open /dev/vgdata/vault vault_crypt
	mkfs.ext4 -q -F -L vault /dev/mapper/vault_crypt
	mkdir -p /vault
	mount /dev/mapper/vault_crypt /vault
	mkfs.ext4 -q -F -L plainlv /dev/vgdata/plain
	mkdir -p /plainlv
	mount /dev/vgdata/plain /plainlv
	;;
md-raid1-luks)
	mdadm --create /dev/md0 --run --level=1 --raid-devices=2 --metadata=1.2 \
		"$(vd md1)" "$(vd md2)"
	mdadm --wait /dev/md0 || true
	settle
	luks_format /dev/md0
	luks_open /dev/md0 md0_crypt
	mkfs.ext4 -q -F -L raid /dev/mapper/md0_crypt
	mkdir -p /raid
	mount /dev/mapper/md0_crypt /raid
	mdadm --wait /dev/md0 || true
	;;
crypt-swap)
	# What `swap /dev/vdX /dev/urandom swap,cipher=aes-xts-plain64,size=256`
	# in /etc/crypttab does at boot, by hand.
	cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 256 \
		--key-file /dev/urandom "$(vd cswap)" swap
	mkswap /dev/mapper/swap
	swapon /dev/mapper/swap
	printf 'label: gpt\ntype=S, name=swap\n' | sfdisk -q "$(vd pswap)"
	settle
	mkswap -L pswap "$(vd pswap)-part1"
	swapon "$(vd pswap)-part1"
	;;
nvme-scratch)
	n0=$(nvme scratch0)
	n1=$(nvme scratch1)
	mkfs.ext4 -q -F -L scratch "$n0"
	mkdir -p /scratch
	mount "$n0" /scratch
	luks_format "$n1"
	luks_open "$n1" scratch2_crypt
	mkfs.ext4 -q -F -L scratch2 /dev/mapper/scratch2_crypt
	mkdir -p /scratch2
	mount /dev/mapper/scratch2_crypt /scratch2
	;;
scw-block)
	sd=$(scsi_vendor SCW)
	mkfs.ext4 -q -F -L block "$sd"
	mkdir -p /mnt/block
	mount "$sd" /mnt/block
	;;
btrfs)
	luks_format "$(vd btr)"
	luks_open "$(vd btr)" btr_crypt
	mkfs.btrfs -q -f -L btr /dev/mapper/btr_crypt
	mkdir -p /btr /btr-sub
	mount /dev/mapper/btr_crypt /btr
	btrfs subvolume create /btr/sub
	mount -o subvol=sub /dev/mapper/btr_crypt /btr-sub
	;;
*)
	echo "scenarios.sh: unknown scenario $name" >&2
	exit 2
	;;
esac
settle
