#!/bin/bash
# make-rpm-fixtures.sh: regenerate the dnf and zypper fixtures in this directory.
#
# What it does, all inside one scratch directory ($WORK, default
# /tmp/rpm-fixtures, removed on exit):
#   1. builds with rpmbuild tiny rpm packages with empty payloads, named and
#      versioned like a Rocky Linux 9 system, each in an older and a newer
#      version (plus rocky-release, which has one version only);
#   2. publishes the newer versions in a local rpm-md repository
#      (createrepo_c) and adds an updateinfo.xml (modifyrepo_c
#      --mdtype=updateinfo) with four advisories:
#        RLSA-2024:1234  security, Important  openssl-libs (2 CVEs)
#        RLSA-2024:2345  security, Moderate   bash (1 CVE)
#        RLBA-2024:3456  bugfix               tzdata
#        RLEA-2024:4567  enhancement          vim-minimal
#      kernel and kernel-core also have a newer version in the repository but
#      no advisory (an update that only check-update / list-updates show);
#   3. installs the older versions into a scratch root ($WORK/root) with
#      `rpm --root`, writes a Rocky Linux 9.4 /etc/os-release, a dnf.conf, a
#      yum repo file and a zypper repo definition into that root;
#   4. captures stdout, stderr and the exit code of dnf and zypper commands
#      in three states: updates pending, everything up to date (after
#      `dnf upgrade`), and repository unreachable;
#   5. tries `dnf needs-restarting -r` with the needs_restarting plugin taken
#      from Debian's dnf-plugins-core package (which cannot be installed next
#      to zypper, see README.md); skipped if that package cannot be fetched.
#
# Requirements (Debian 12): apt-get install dnf zypper rpm createrepo-c
# Run as root (rpm --root, zypper --root).  Usage:
#   ./make-rpm-fixtures.sh [OUTPUT_DIR]     (default: the script's directory)
#
# Every capture NAME gets NAME (stdout), NAME-without-extension.stderr and
# NAME-without-extension.exit (the exit code); zypper's text-mode captures
# are named *.text.txt so that they do not share .stderr/.exit with the
# --xmlout capture of the same command.  Directories:
#   OUTPUT_DIR/dnf/{pending,uptodate,unreachable,needs-restarting}/
#   OUTPUT_DIR/zypper/{pending,uptodate,unreachable}/
# and a line "file<TAB>command" in OUTPUT_DIR/{dnf,zypper}/commands.tsv.
# All commands run with LANG=C and TZ=UTC.

set -euo pipefail

OUT=$(readlink -f "${1:-$(dirname "$(readlink -f "$0")")}")
WORK=${WORK:-/tmp/rpm-fixtures}
R=$WORK/root            # the scratch root (the "Rocky 9.4 host")
REPO=$WORK/repo         # the local rpm-md repository (file://)

# A clean, predictable environment: system tools only, C locale, UTC, and a
# private HOME whose ~/.rpmmacros sets the rpm database path.  Debian's rpm
# defaults %_dbpath to ~/.rpmdb; Rocky/RHEL use /var/lib/rpm, and dnf,
# zypper and rpm must all agree on it inside the root.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C TZ=UTC
unset LANGUAGE LC_ALL LC_CTYPE LC_MESSAGES LC_TIME LC_NUMERIC PYTHONPATH
# Fixed build times, and fixed install times: rpm 4.18 records
# SOURCE_DATE_EPOCH, when set, as the INSTALLTIME of what it installs.  The
# older versions are thus "installed" on 2024-05-01, before the host booted;
# the upgrade below runs without it, so the new kernel is installed "now".
export SOURCE_DATE_EPOCH=1714521600   # 2024-05-01 00:00:00 UTC

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for t in rpmbuild rpm createrepo_c modifyrepo_c dnf zypper; do
	command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
if [ -e "$WORK" ]; then
	echo "$WORK exists; remove it or set WORK to another path" >&2
	exit 1
fi
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

export HOME=$WORK/home
mkdir -p "$HOME"
cat >"$HOME/.rpmmacros" <<EOF
%_dbpath /var/lib/rpm
%_topdir $WORK/rpmbuild
%_buildhost build.example.org
%use_source_date_epoch_as_buildtime 1
%clamp_mtime_to_source_date_epoch 1
%_source_payload w9.gzdio
%_binary_payload w9.gzdio
EOF

# ---------------------------------------------------------------- packages
# build NAME EPOCH VERSION RELEASE ARCH SUMMARY [EXTRA-SPEC-LINES]
build() {
	local name=$1 epoch=$2 ver=$3 rel=$4 arch=$5 summary=$6 extra=${7:-}
	local spec=$WORK/specs/$name-$ver-$rel.spec
	mkdir -p "$WORK/specs"
	{
		echo "Name: $name"
		[ "$epoch" = 0 ] || echo "Epoch: $epoch"
		echo "Version: $ver"
		echo "Release: $rel"
		echo "Summary: $summary"
		echo "License: MIT"
		echo "BuildArch: $arch"
		[ -z "$extra" ] || printf '%s\n' "$extra"
		echo "%description"
		echo "$summary (test package, empty payload)."
		echo "%files"
	} >"$spec"
	rpmbuild --quiet -bb "$spec" >/dev/null
}

# name epoch old-version old-release new-version new-release arch summary
PKGS='
openssl-libs 1 3.0.7 25.el9_3 3.0.7 27.el9 x86_64 A general purpose cryptography library with TLS implementation
bash 0 5.1.8 6.el9_1 5.1.8 9.el9 x86_64 The GNU Bourne Again shell
tzdata 0 2024a 1.el9 2024b 2.el9 noarch Timezone data
vim-minimal 2 8.2.2637 20.el9_1 8.2.2637 21.el9 x86_64 A minimal version of the VIM editor
kernel-core 0 5.14.0 362.24.1.el9_3 5.14.0 427.13.1.el9_4 x86_64 The Linux kernel
kernel 0 5.14.0 362.24.1.el9_3 5.14.0 427.13.1.el9_4 x86_64 The Linux kernel, based on version 5.14.0, heavily modified with backports
'
while read -r name epoch ov orel nv nrel arch summary; do
	[ -n "$name" ] || continue
	extra=
	case $name in kernel*) extra='Provides: installonlypkg(kernel)' ;; esac
	build "$name" "$epoch" "$ov" "$orel" "$arch" "$summary" "$extra"
	build "$name" "$epoch" "$nv" "$nrel" "$arch" "$summary" "$extra"
done <<<"$PKGS"
# One version only: the release package, as on a real Rocky host.
build rocky-release 0 9.4 1.7.el9 noarch "Rocky Linux release files" \
	"$(printf '%s\n' 'Provides: system-release = 9.4-1.7.el9' \
		'Provides: system-release(releasever) = 9' 'Provides: redhat-release = 9.4-1.7.el9')"

RPMS=$WORK/rpmbuild/RPMS
rpmfile() { echo "$RPMS/$5/$1-$3-$4.$5.rpm"; }   # same args as pkgxml

# ---------------------------------------------------------------- repository
mkdir -p "$REPO/Packages"
while read -r name epoch ov orel nv nrel arch summary; do
	[ -n "$name" ] || continue
	cp "$(rpmfile "$name" "$epoch" "$nv" "$nrel" "$arch")" "$REPO/Packages/"
done <<<"$PKGS"
cp "$RPMS/noarch/rocky-release-9.4-1.7.el9.noarch.rpm" "$REPO/Packages/"
createrepo_c --quiet --revision "$SOURCE_DATE_EPOCH" --set-timestamp-to-revision "$REPO" >/dev/null

# pkgxml NAME EPOCH VERSION RELEASE ARCH: one <package> of an updateinfo
# pkglist, with the rpm's sha256 when it was built.
pkgxml() {
	local f sum=
	f=$(rpmfile "$@")
	[ -f "$f" ] && sum="
          <sum type=\"sha256\">$(sha256sum "$f" | cut -d' ' -f1)</sum>"
	cat <<EOF
        <package name="$1" version="$3" release="$4" epoch="$2" arch="$5" src="$1-$3-$4.src.rpm" filename="$1-$3-$4.$5.rpm">
          <filename>$1-$3-$4.$5.rpm</filename>$sum
        </package>
EOF
}

# Layout and field usage follow Rocky Linux 9's published updateinfo.xml.
# openssl (the binary package) is listed in the advisory but is neither in
# the repository nor installed, as happens on hosts without it.
cat >"$WORK/updateinfo.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="releng@rockylinux.org" status="final" type="security" version="2">
    <id>RLSA-2024:1234</id>
    <title>Important: openssl security update</title>
    <issued date="2024-04-30 10:12:44"/>
    <updated date="2024-04-30 10:12:44"/>
    <rights>Copyright 2024 Rocky Enterprise Software Foundation</rights>
    <release>Rocky Linux 9</release>
    <pushcount>1</pushcount>
    <severity>Important</severity>
    <summary>An update is available for openssl.
This update affects Rocky Linux 9.
A Common Vulnerability Scoring System (CVSS) base score, which gives a detailed severity rating, is available for each vulnerability from the CVE list</summary>
    <description>OpenSSL is a toolkit that implements the Secure Sockets Layer (SSL) and Transport Layer Security (TLS) protocols, as well as a full-strength general-purpose cryptography library.

Security Fix(es):

* openssl: Excessive time spent in DH check / generation with large Q parameter value (CVE-2023-5678)

* openssl: denial of service via null dereference (CVE-2024-0727)</description>
    <solution>For details on how to apply this update, which includes the changes described in this advisory, refer to:

https://docs.rockylinux.org/</solution>
    <references>
      <reference href="https://errata.rockylinux.org/RLSA-2024:1234" id="RLSA-2024:1234" type="self" title="RLSA-2024:1234"/>
      <reference href="https://www.cve.org/CVERecord?id=CVE-2023-5678" id="CVE-2023-5678" type="cve" title="CVE-2023-5678"/>
      <reference href="https://www.cve.org/CVERecord?id=CVE-2024-0727" id="CVE-2024-0727" type="cve" title="CVE-2024-0727"/>
      <reference href="https://bugs.rockylinux.org/show_bug.cgi?id=2248616" id="2248616" type="bugzilla" title="openssl: Excessive time spent in DH check / generation with large Q parameter value"/>
    </references>
    <pkglist>
      <collection short="rocky-linux-9-x86-64-baseos-rpms">
        <name>rocky-linux-9-x86-64-baseos-rpms</name>
$(pkgxml openssl 1 3.0.7 27.el9 x86_64)
$(pkgxml openssl-libs 1 3.0.7 27.el9 x86_64)
      </collection>
    </pkglist>
  </update>
  <update from="releng@rockylinux.org" status="final" type="security" version="2">
    <id>RLSA-2024:2345</id>
    <title>Moderate: bash security update</title>
    <issued date="2024-04-30 11:03:19"/>
    <updated date="2024-04-30 11:03:19"/>
    <rights>Copyright 2024 Rocky Enterprise Software Foundation</rights>
    <release>Rocky Linux 9</release>
    <pushcount>1</pushcount>
    <severity>Moderate</severity>
    <summary>An update is available for bash.
This update affects Rocky Linux 9.</summary>
    <description>The bash packages provide Bash (Bourne-again shell), which is the default shell for Rocky Linux.

Security Fix(es):

* bash: a heap-buffer-overflow in valid_parameter_transform (CVE-2022-3715)</description>
    <solution>For details on how to apply this update, which includes the changes described in this advisory, refer to:

https://docs.rockylinux.org/</solution>
    <references>
      <reference href="https://errata.rockylinux.org/RLSA-2024:2345" id="RLSA-2024:2345" type="self" title="RLSA-2024:2345"/>
      <reference href="https://www.cve.org/CVERecord?id=CVE-2022-3715" id="CVE-2022-3715" type="cve" title="CVE-2022-3715"/>
    </references>
    <pkglist>
      <collection short="rocky-linux-9-x86-64-baseos-rpms">
        <name>rocky-linux-9-x86-64-baseos-rpms</name>
$(pkgxml bash 0 5.1.8 9.el9 x86_64)
      </collection>
    </pkglist>
  </update>
  <update from="releng@rockylinux.org" status="final" type="bugfix" version="2">
    <id>RLBA-2024:3456</id>
    <title>tzdata bug fix and enhancement update</title>
    <issued date="2024-04-30 12:20:05"/>
    <updated date="2024-04-30 12:20:05"/>
    <rights>Copyright 2024 Rocky Enterprise Software Foundation</rights>
    <release>Rocky Linux 9</release>
    <pushcount>1</pushcount>
    <severity>None</severity>
    <summary>An update is available for tzdata.
This update affects Rocky Linux 9.</summary>
    <description>The tzdata packages contain data files with rules for various time zones.

The tzdata packages have been upgraded to upstream version 2024b.</description>
    <solution>For details on how to apply this update, which includes the changes described in this advisory, refer to:

https://docs.rockylinux.org/</solution>
    <references>
      <reference href="https://errata.rockylinux.org/RLBA-2024:3456" id="RLBA-2024:3456" type="self" title="RLBA-2024:3456"/>
    </references>
    <pkglist>
      <collection short="rocky-linux-9-x86-64-baseos-rpms">
        <name>rocky-linux-9-x86-64-baseos-rpms</name>
$(pkgxml tzdata 0 2024b 2.el9 noarch)
      </collection>
    </pkglist>
  </update>
  <update from="releng@rockylinux.org" status="final" type="enhancement" version="2">
    <id>RLEA-2024:4567</id>
    <title>vim enhancement update</title>
    <issued date="2024-04-30 13:45:51"/>
    <updated date="2024-04-30 13:45:51"/>
    <rights>Copyright 2024 Rocky Enterprise Software Foundation</rights>
    <release>Rocky Linux 9</release>
    <pushcount>1</pushcount>
    <severity>None</severity>
    <summary>An update is available for vim.
This update affects Rocky Linux 9.</summary>
    <description>Vim (Vi IMproved) is an updated and improved version of the vi editor.

This update adds enhancements.</description>
    <solution>For details on how to apply this update, which includes the changes described in this advisory, refer to:

https://docs.rockylinux.org/</solution>
    <references>
      <reference href="https://errata.rockylinux.org/RLEA-2024:4567" id="RLEA-2024:4567" type="self" title="RLEA-2024:4567"/>
    </references>
    <pkglist>
      <collection short="rocky-linux-9-x86-64-baseos-rpms">
        <name>rocky-linux-9-x86-64-baseos-rpms</name>
$(pkgxml vim-minimal 2 8.2.2637 21.el9 x86_64)
      </collection>
    </pkglist>
  </update>
</updates>
EOF
modifyrepo_c --mdtype=updateinfo "$WORK/updateinfo.xml" "$REPO/repodata" >/dev/null

# ---------------------------------------------------------------- scratch root
mkdir -p "$R/etc/yum.repos.d" "$R/etc/dnf" "$R/var/lib/rpm"
rpm --root "$R" --initdb
cat >"$R/etc/os-release" <<'EOF'
NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.4"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
EOF
# Rocky Linux 9's stock /etc/dnf/dnf.conf.
cat >"$R/etc/dnf/dnf.conf" <<'EOF'
[main]
gpgcheck=1
installonly_limit=3
clean_requirements_on_remove=True
best=True
skip_if_unavailable=False
EOF
write_yum_repo() {   # write_yum_repo BASEURL
	cat >"$R/etc/yum.repos.d/rocky.repo" <<EOF
[baseos]
name=Rocky Linux \$releasever - BaseOS
baseurl=$1
gpgcheck=0
enabled=1
countme=1
metadata_expire=6h
EOF
}
write_yum_repo "file://$REPO"

# Older versions (and rocky-release) into the root.  Empty payloads, so
# plain `rpm -i` is enough; --nodeps because nothing else is installed;
# --force-debian silences Debian's rpm warning about installing with rpm.
OLD=()
while read -r name epoch ov orel nv nrel arch summary; do
	[ -n "$name" ] || continue
	OLD+=("$(rpmfile "$name" "$epoch" "$ov" "$orel" "$arch")")
done <<<"$PKGS"
rpm --root "$R" -i --nodeps --force-debian "$RPMS/noarch/rocky-release-9.4-1.7.el9.noarch.rpm" "${OLD[@]}"

# ---------------------------------------------------------------- capture
# cap TOOLDIR STATE FILE COMMAND...: stdout to FILE, stderr and exit code to
# siblings, command line to TOOLDIR/commands.tsv.
cap() {
	local tool=$1 state=$2 file=$3
	shift 3
	local dir=$OUT/$tool/$state base=${file%.*}
	mkdir -p "$dir"
	local rc=0
	"$@" >"$dir/$file" 2>"$dir/$base.stderr" </dev/null || rc=$?
	echo "$rc" >"$dir/$base.exit"
	printf '%s\t%s\n' "$state/$file" "LANG=C $*" >>"$OUT/$tool/commands.tsv"
}
rm -rf "$OUT/dnf" "$OUT/zypper"
mkdir -p "$OUT/dnf" "$OUT/zypper"

DNF=(dnf "--installroot=$R" "--setopt=reposdir=$R/etc/yum.repos.d" --releasever=9)
ZYP=(zypper --root "$R" --non-interactive --no-gpg-checks)

# needs-restarting comes from Debian's dnf-plugins-core, which Breaks zypper
# (both ship /usr/share/man/man1/needs-restarting.1.gz), so it is unpacked here rather than
# installed; only the needs_restarting plugin is put on dnf's plugin path.
NR=()
if (cd "$WORK" && apt-get download dnf-plugins-core >/dev/null 2>&1); then
	dpkg-deb -x "$WORK"/dnf-plugins-core_*.deb "$WORK/dpc"
	mkdir -p "$WORK/plugins"
	cp "$WORK/dpc/usr/lib/python3/dist-packages/dnf-plugins/needs_restarting.py" "$WORK/plugins/"
	NR=(env "PYTHONPATH=$WORK/dpc/usr/lib/python3/dist-packages" "${DNF[@]}" "--setopt=pluginpath=$WORK/plugins")
fi
if [ ${#NR[@]} -gt 0 ]; then
	# kernel is installed, but with an install time (2024-05-01) older than
	# the host's boot time.
	cap dnf needs-restarting needs-restarting-r-before-upgrade.txt "${NR[@]}" needs-restarting -r
fi

# The zypper repository definition lives under the root too
# (R/etc/zypp/repos.d/baseos.repo); -G: no gpg check for this repo.
zypper --root "$R" --non-interactive ar -G -n "Rocky Linux 9 - BaseOS" "file://$REPO" baseos >/dev/null

# dnf_all STATE / zypper_all STATE: the same command set for each state.
dnf_all() {
	local s=$1
	# Warm the metadata cache once, as a host with dnf-makecache.timer would.
	"${DNF[@]}" -q makecache >/dev/null 2>&1 || true
	# dnf omits "Last metadata expiration check" when the cache is less
	# than a second old.
	sleep 2
	cap dnf "$s" updateinfo-list-security.txt "${DNF[@]}" -q updateinfo list --security
	cap dnf "$s" updateinfo-list-security.noquiet.txt "${DNF[@]}" updateinfo list --security
	cap dnf "$s" updateinfo-list.txt "${DNF[@]}" -q updateinfo list
	cap dnf "$s" updateinfo-list-all.txt "${DNF[@]}" -q updateinfo list --all
	cap dnf "$s" updateinfo-list-with-cve.txt "${DNF[@]}" -q updateinfo list --with-cve
	cap dnf "$s" updateinfo-list-sec-severity-important.txt "${DNF[@]}" -q updateinfo list --sec-severity Important
	cap dnf "$s" updateinfo-summary.txt "${DNF[@]}" -q updateinfo summary
	cap dnf "$s" updateinfo-info-security.txt "${DNF[@]}" -q updateinfo info --security
	cap dnf "$s" check-update.txt "${DNF[@]}" -q check-update
	cap dnf "$s" check-update.noquiet.txt "${DNF[@]}" check-update
	cap dnf "$s" check-update-security.txt "${DNF[@]}" -q check-update --security
	cap dnf "$s" list-upgrades.txt "${DNF[@]}" -q list --upgrades
}
zypper_all() {
	local s=$1
	"${ZYP[@]}" refresh >/dev/null 2>&1 || true
	cap zypper "$s" list-patches-security.xml "${ZYP[@]}" --xmlout list-patches --category security
	cap zypper "$s" list-patches.xml "${ZYP[@]}" --xmlout list-patches
	cap zypper "$s" list-patches-all.xml "${ZYP[@]}" --xmlout list-patches --all
	cap zypper "$s" list-updates.xml "${ZYP[@]}" --xmlout list-updates
	cap zypper "$s" patch-check.xml "${ZYP[@]}" --xmlout patch-check
	cap zypper "$s" list-patches-security.text.txt "${ZYP[@]}" list-patches --category security
	cap zypper "$s" list-patches.text.txt "${ZYP[@]}" list-patches
	cap zypper "$s" list-updates.text.txt "${ZYP[@]}" list-updates
	cap zypper "$s" patch-check.text.txt "${ZYP[@]}" patch-check
}

# 1. updates pending
dnf_all pending
zypper_all pending

# 2. everything up to date
# Without SOURCE_DATE_EPOCH: the new packages get the real install time.
env -u SOURCE_DATE_EPOCH "${DNF[@]}" -q -y upgrade >/dev/null
if [ ${#NR[@]} -gt 0 ]; then
	# A new kernel (and kernel-core) installed after boot.
	cap dnf needs-restarting needs-restarting-r-after-upgrade.txt "${NR[@]}" needs-restarting -r
fi
dnf_all uptodate
zypper_all uptodate

# 3. repository unreachable: baseurl points to a directory that does not
# exist, and the caches are dropped first (with a valid cache neither tool
# would look at the repository again).
"${DNF[@]}" -q clean all >/dev/null 2>&1 || true
write_yum_repo "file://$WORK/missing-repo"
cap dnf unreachable updateinfo-list-security.txt "${DNF[@]}" -q updateinfo list --security
cap dnf unreachable check-update.txt "${DNF[@]}" -q check-update
cap dnf unreachable check-update.noquiet.txt "${DNF[@]}" check-update
# The same with skip_if_unavailable=True, as an administrator may set it
# (dnf's own default and Rocky/RHEL 9's dnf.conf say False).
cap dnf unreachable check-update-skip-if-unavailable.txt "${DNF[@]}" -q --setopt=skip_if_unavailable=True check-update
cap dnf unreachable check-update-skip-if-unavailable.noquiet.txt "${DNF[@]}" --setopt=skip_if_unavailable=True check-update
cap dnf unreachable updateinfo-list-security-skip-if-unavailable.txt "${DNF[@]}" -q --setopt=skip_if_unavailable=True updateinfo list --security

"${ZYP[@]}" clean --all >/dev/null 2>&1 || true
zypper --root "$R" --non-interactive rr baseos >/dev/null
zypper --root "$R" --non-interactive ar -G -n "Rocky Linux 9 - BaseOS" "file://$WORK/missing-repo" baseos >/dev/null
cap zypper unreachable list-patches-security.xml "${ZYP[@]}" --xmlout list-patches --category security
cap zypper unreachable list-patches-security.text.txt "${ZYP[@]}" list-patches --category security
cap zypper unreachable list-updates.xml "${ZYP[@]}" --xmlout list-updates
cap zypper unreachable patch-check.text.txt "${ZYP[@]}" patch-check

echo "fixtures written to $OUT/dnf and $OUT/zypper"
