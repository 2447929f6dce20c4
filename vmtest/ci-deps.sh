#!/bin/sh
# Installs the Debian packages that `make package` and `make vmtest` need.
# Non-interactive and idempotent: packages already present are left alone.
#
#   sudo vmtest/ci-deps.sh            # install what is missing
#   vmtest/ci-deps.sh --list          # print the package list and exit
set -eu

PKGS="
qemu-system-x86
qemu-utils
mmdebstrap
genisoimage
e2fsprogs
openssh-client
lintian
rpm
apt-utils
dpkg-dev
tar
ca-certificates
socat
"

if [ "${1:-}" = "--list" ]; then
	printf '%s\n' $PKGS
	exit 0
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "ci-deps: all packages present"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi

echo "ci-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# An index older than the archive makes installs fail with 404s: refresh once,
# and retry the install after a refresh if the first attempt fails anyway.
if [ ! -d /var/lib/apt/lists ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
	$SUDO apt-get update -qq
fi
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -qq --no-install-recommends $missing; then
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing
fi
