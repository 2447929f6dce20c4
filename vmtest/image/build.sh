#!/bin/sh
# Builds a Debian guest used by the VM tests:
#   build.sh OUTDIR [SUITE]
# SUITE is bookworm (Debian 12, the default) or trixie (Debian 13). It leaves
# in OUTDIR
#   rootfs.img   raw ext4 image labelled vigie-root (boot with root=LABEL=vigie-root)
#   vmlinuz      the guest kernel (linux-image-cloud-amd64)
#   initrd.img   its initramfs
# Needs root, mmdebstrap and mkfs.ext4. The packages are those of
# packages.list next to this script plus those of packages.SUITE.list;
# collect.sh and vmtest-collect.service (next to it too) copy the test's
# evidence onto the results disk when the guest shuts down.
# iptables-persistent's postinst saves the rules it sees, which in the
# chroot are the build host's: the saved files are removed.
# VIGIE_VM_MIRROR and VIGIE_VM_SECURITY_MIRROR override the archives.
# The VM test hashes the suite, this directory's files (of the suite lists,
# only SUITE's) and the variables above to name its cache entry, so editing
# any of them rebuilds the image.
set -eu

out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
mirror=${VIGIE_VM_MIRROR:-http://deb.debian.org/debian}
security=${VIGIE_VM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
suite=${2:-bookworm}
label=vigie-root
size=${VIGIE_VM_ROOT_SIZE:-3G}

if [ ! -f "$here/packages.$suite.list" ]; then
	echo "build.sh: no packages.$suite.list next to build.sh: unknown suite $suite" >&2
	exit 2
fi
pkgs=$(cat "$here/packages.list" "$here/packages.$suite.list" | grep -v -e '^#' -e '^[[:space:]]*$' | paste -sd, -)

mkdir -p "$out"
work=$(mktemp -d "$out/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"

echo "build.sh: mmdebstrap $suite ($pkgs)"
mmdebstrap \
	--variant=minbase \
	--format=directory \
	--include="$pkgs" \
	--aptopt='Acquire::Retries "3"' \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-include=/usr/share/locale/locale.alias' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--customize-hook='echo "LABEL='"$label"' / ext4 defaults,errors=remount-ro 0 1" > "$1/etc/fstab"' \
	--customize-hook='echo vigie-guest > "$1/etc/hostname"' \
	--customize-hook='printf "127.0.0.1 localhost\n127.0.1.1 vigie-guest\n::1 localhost ip6-localhost ip6-loopback\n" > "$1/etc/hosts"' \
	--customize-hook="install -m 0644 '$here/90-vmtest.cfg' \"\$1/etc/cloud/cloud.cfg.d/\"" \
	--customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
	--customize-hook='rm -f "$1"/etc/iptables/rules.v4 "$1"/etc/iptables/rules.v6' \
	--customize-hook="install -m 0755 '$here/collect.sh' \"\$1/usr/local/sbin/vmtest-collect\"" \
	--customize-hook="install -m 0644 '$here/vmtest-collect.service' \"\$1/etc/systemd/system/\"" \
	--customize-hook='chroot "$1" systemctl enable vmtest-collect.service' \
	--customize-hook='if [ -x "$1/usr/sbin/netplan" ]; then chroot "$1" systemctl enable systemd-networkd.service; fi' \
	--customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer >/dev/null 2>&1 || true' \
	"$suite" "$root" \
	"deb $mirror $suite main" \
	"deb $mirror $suite-updates main" \
	"deb $security $suite-security main"

# The kernel and initramfs boot the guest directly (-kernel/-initrd).
kernel=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n 1)
initrd=$(ls "$root"/boot/initrd.img-* | sort -V | tail -n 1)
cp "$kernel" "$work/vmlinuz"
cp "$initrd" "$work/initrd.img"
chmod 0644 "$work/vmlinuz" "$work/initrd.img"

truncate -s "$size" "$work/rootfs.img"
mkfs.ext4 -q -F -L "$label" -d "$root" "$work/rootfs.img"

mv "$work/vmlinuz" "$work/initrd.img" "$work/rootfs.img" "$out/"
echo "build.sh: image ready in $out"
