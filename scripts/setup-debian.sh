#!/usr/bin/env bash
# Installs what building and testing vigie needs on Debian 12 (run as root).
# Go itself must be on PATH (1.21 or later): the go.mod toolchain line makes
# it fetch the exact release the project builds with.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-debian.sh: run as root (apt-get install)" >&2
  exit 1
fi
if ! command -v go >/dev/null 2>&1; then
  echo "setup-debian.sh: no 'go' on PATH; install Go 1.21 or later first (/usr/local/go/bin)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# dnf, rpm (rpmbuild) and createrepo-c: the real dnf runs the patches remediation
# against a local repository in a private root. sudo brings cvtsudoers, which
# the sudoers parser is cross-checked with. python3: scripts/hostile-home.sh
# makes unix sockets and a listener with it.
pkgs=(make git file time ca-certificates openssh-server openssh-client nftables iptables iproute2 apt-utils cryptsetup-bin dnf rpm createrepo-c sudo python3)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  # openssh-server's maintainer scripts start sshd only where systemd runs;
  # the tests start their own sshd on loopback ports.
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
mkdir -p /run/sshd
