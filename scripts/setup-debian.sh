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
# makes unix sockets and a listener with it. libxml2-utils: xmllint validates
# the JUnit reports of `vigie check --format junit` against their schema.
pkgs=(make git file time ca-certificates openssh-server openssh-client nftables iptables iproute2 apt-utils cryptsetup-bin dnf rpm createrepo-c sudo python3 libxml2-utils)
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

# prometheus (with promtool) and prometheus-node-exporter: the Prometheus tests
# of agent/sinks run both, on free loopback ports, with configurations of their
# own. Their maintainer scripts start the daemons, through systemd or, where
# systemd does not run, /etc/init.d, on :9090 and :9100 with Debian's
# configuration; a policy-rc.d that answers 101 forbids every start during the
# install, and the units are disabled afterwards so no boot starts them.
prom=()
for p in prometheus prometheus-node-exporter; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || prom+=("$p")
done
if [ ${#prom[@]} -gt 0 ]; then
  policy=/usr/sbin/policy-rc.d
  kept=
  if [ -e "$policy" ]; then
    kept=$(mktemp /usr/sbin/policy-rc.d.vigie-XXXXXX)
    mv "$policy" "$kept"
  fi
  restore() {
    rm -f "$policy"
    if [ -n "$kept" ]; then mv "$kept" "$policy"; fi
  }
  trap restore EXIT
  printf '#!/bin/sh\n# setup-debian.sh: no service starts while it installs packages.\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${prom[@]}"
  restore
  trap - EXIT
  for unit in prometheus prometheus-node-exporter; do
    # Both are harmless where systemd does not run (update-rc.d edits links).
    systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
    update-rc.d "$unit" disable >/dev/null 2>&1 || true
  done
fi
