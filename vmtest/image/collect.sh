#!/bin/sh
# Installed in the guest image as /usr/local/sbin/vmtest-collect and run by
# vmtest-collect.service when the guest shuts down: writes a tar archive of
# the test's evidence onto the results disk (virtio serial "results"), which
# the host reads after qemu exits. Does nothing on a guest without that disk.
dev=/dev/disk/by-id/virtio-results
[ -b "$dev" ] || exit 0

out=$(mktemp -d)
mkdir -p "$out/files"
cp -a /var/log/vigie "$out/files/" 2>/dev/null
cp -a /var/log/cloud-init.log /var/log/cloud-init-output.log "$out/files/" 2>/dev/null
cloud-init status --long >"$out/cloud-init-status.txt" 2>&1
cp -a /run/cloud-init/result.json "$out/cloud-init-result.json" 2>/dev/null
journalctl -b --no-pager -t vigie -o cat >"$out/journal-vigie.txt" 2>&1
journalctl -b --no-pager >"$out/journal.txt" 2>&1
dpkg-query -W -f='${db:Status-Status} ${Version}\n' vigie >"$out/dpkg-vigie.txt" 2>&1
ls -ld /usr/bin/vigie /usr/local/bin/vigie /etc/vigie /etc/vigie/vigie.yaml \
	/var/lib/vigie /var/log/vigie >"$out/files.txt" 2>&1

tar -C "$out" -cf "$dev" .
sync
rm -rf "$out"
