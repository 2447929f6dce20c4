#!/bin/sh
# Installs, upgrades, removes and purges the built packages on this machine
# and checks what each step leaves behind. Run as root on a scratch machine
# (CI): it refuses to run where vigie is already installed.
#   lifecycle.sh OLD.deb NEW.deb OLD.rpm NEW.rpm
set -eu
old_deb=$1 new_deb=$2 old_rpm=$3 new_rpm=$4
conf=/etc/vigie/vigie.yaml
fail() {
	echo "lifecycle: FAIL: $*" >&2
	exit 1
}
step() { echo "lifecycle: $*"; }
[ "$(id -u)" -eq 0 ] || fail "run as root"
if dpkg-query -W -f='${Status}' vigie 2>/dev/null | grep -q installed || [ -e /usr/bin/vigie ] || [ -e /etc/vigie ]; then
	fail "vigie is already installed here; this test only runs on a scratch machine"
fi

check_runs() {
	# No configuration edited: defaults apply, and the exit status is 0 or 1
	# (findings), never 2 (vigie could not run).
	rc=0
	/usr/bin/vigie check --only ssh >/dev/null 2>&1 || rc=$?
	[ "$rc" -le 1 ] || fail "vigie check exited $rc after $1"
}

wants=/etc/systemd/system/multi-user.target.wants/vigie.service

step "deb: install $(basename "$old_deb")"
dpkg -i "$old_deb" >/dev/null
[ -x /usr/bin/vigie ] || fail "deb install: no /usr/bin/vigie"
[ -f /usr/lib/systemd/system/vigie.service ] || fail "deb install: no vigie.service"
[ -f /usr/share/vigie/remediate.conf ] || fail "deb install: no remediate drop-in"
[ -f /usr/share/vigie/prometheus/vigie.rules.yml ] || fail "deb install: no Prometheus rules"
[ -L "$wants" ] || fail "deb install: vigie.service is not enabled"
[ "$(stat -c %a /var/lib/vigie)" = 700 ] || fail "deb install: /var/lib/vigie is not 0700"
check_runs "install"
echo "fail_on: high" >>"$conf"

step "deb: upgrade to $(basename "$new_deb"), keeping the edited $conf"
dpkg -i "$new_deb" >/dev/null
grep -qx "fail_on: high" "$conf" || fail "deb upgrade overwrote $conf"
[ ! -e "$conf.dpkg-new" ] || fail "deb upgrade left $conf.dpkg-new"
check_runs "upgrade"
touch /var/lib/vigie/state

step "deb: remove"
dpkg -r vigie >/dev/null
[ ! -e /usr/bin/vigie ] || fail "deb remove left /usr/bin/vigie"
[ -e "$conf" ] || fail "deb remove deleted the conffile (only purge may)"
[ -e /var/lib/vigie/state ] || fail "deb remove deleted /var/lib/vigie"

step "deb: purge, keeping the backups of an applied fix"
mkdir -p /var/lib/vigie/backups/20260101T000000.000000Z-00000000
printf '{\n  "run": "20260101T000000.000000Z-00000000",\n  "area": "ssh",\n  "state": "applied"\n}\n' \
	>/var/lib/vigie/backups/20260101T000000.000000Z-00000000/manifest.json
dpkg -P vigie >/dev/null 2>&1
[ -e /var/lib/vigie/backups/20260101T000000.000000Z-00000000/manifest.json ] || fail "deb purge deleted the backups of an applied fix"
[ ! -e /var/lib/vigie/state ] || fail "deb purge left /var/lib/vigie/state beside the backups"
rm -rf /var/lib/vigie

step "deb: purge with VIGIE_PURGE_BACKUPS=yes"
dpkg -i "$new_deb" >/dev/null
mkdir -p /var/lib/vigie/backups/20260101T000000.000000Z-00000000
printf '{\n  "state": "applied"\n}\n' >/var/lib/vigie/backups/20260101T000000.000000Z-00000000/manifest.json
VIGIE_PURGE_BACKUPS=yes dpkg -P vigie >/dev/null
[ ! -e "$wants" ] && [ ! -L "$wants" ] || fail "deb purge left vigie.service enabled"
for p in /etc/vigie /var/lib/vigie /usr/bin/vigie /usr/share/doc/vigie /usr/share/vigie; do
	[ ! -e "$p" ] || fail "deb purge left $p"
done
dpkg-query -W vigie >/dev/null 2>&1 && fail "deb purge left the package known to dpkg"

step "rpm: install $(basename "$old_rpm")"
rpm -i --nodeps "$old_rpm"
[ -x /usr/bin/vigie ] || fail "rpm install: no /usr/bin/vigie"
[ -f /usr/share/vigie/prometheus/vigie.rules.yml ] || fail "rpm install: no Prometheus rules"
[ -L "$wants" ] || fail "rpm install: vigie.service is not enabled"
check_runs "rpm install"
echo "fail_on: high" >>"$conf"

step "rpm: upgrade to $(basename "$new_rpm")"
rpm -U --nodeps "$new_rpm"
grep -qx "fail_on: high" "$conf" || fail "rpm upgrade overwrote $conf"
touch /var/lib/vigie/state

step "rpm: erase"
rpm -e vigie
[ ! -e /usr/bin/vigie ] || fail "rpm erase left /usr/bin/vigie"
[ ! -e /usr/share/vigie ] || fail "rpm erase left /usr/share/vigie"
[ ! -L "$wants" ] || fail "rpm erase left vigie.service enabled"
[ -e "$conf.rpmsave" ] || fail "rpm erase did not keep the edited configuration as $conf.rpmsave"
[ -e /var/lib/vigie/state ] || fail "rpm erase deleted a non-empty /var/lib/vigie"
rm -rf /etc/vigie /var/lib/vigie

step "both formats install, upgrade and remove cleanly"
