//go:build vmtest

package vmtest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFixPatchesDisks: a guest installed by packaging/cloud-init/binary.yaml
// (URL substituted) gets a pending security update from a local repository
// with unattended-upgrades turned off, an empty scratch filesystem, a clear
// swap disk and a LUKS data disk. `vigie fix --only patches` installs the
// security update only and turns unattended-upgrades on. Scratch and swap
// go into fstab by UUID, without nofail, and disksFaultMatrix interrupts
// the disks fix at its steps, twice with a reboot, each followed by `vigie
// undo`. Then `vigie fix --allow-destructive --only disks` re-creates
// scratch and swap on dm-crypt and leaves the data disk alone. After a reboot scratch and swap come back
// encrypted, and the data disk still opens with its passphrase.
func TestFixPatchesDisks(t *testing.T) {
	// A Scaleway metadata server, from the hds fixtures, for the hds profile.
	mdAddr, _ := serveFile(t, filepath.Join("..", "checks/hds/testdata/metadata/pop2-fr-par-2.json"), "/conf")
	_, mdPort, _ := net.SplitHostPort(mdAddr)
	mdPortN, _ := strconv.Atoi(mdPort)
	g := bootGuest(t, "fix-patches-disks", "packaging/cloud-init/binary.yaml", binaryPlaceholder, artifact(t, "VIGIE_BINARY", "bin/vigie"),
		vmConfig{AllowReboot: true, GuestFwd: map[string]int{metadataAddr + ":80": mdPortN}})
	port, key, sh := g.port, g.key, g.sh
	const vigie = "/usr/local/bin/vigie"
	const conf = "/etc/vigie-fix.yaml"

	// Patches: old versions installed, the fix published, automatic
	// updates off.
	sh("sudo mkdir -p /srv/vigie-repo && sudo tar -C /srv/vigie-repo -xzf -", demoRepo(t))
	sh("printf 'deb [trusted=yes] file:/srv/vigie-repo stable main\\ndeb [trusted=yes] file:/srv/vigie-repo stable-security main\\n' | sudo tee /etc/apt/sources.list.d/vigie-demo.list", nil)
	sh("sudo apt-get -q update -o Dir::Etc::SourceList=/etc/apt/sources.list.d/vigie-demo.list -o Dir::Etc::SourceParts=/nonexistent", nil)
	sh("sudo apt-get -q install -y vigie-demo=1.0-1 vigie-bump=1.0-1", nil)
	sh(`printf 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "0";\n' | sudo tee /etc/apt/apt.conf.d/20auto-upgrades`, nil)
	// The image masks the apt timers (no mirror to reach); an instance
	// as installed has them, disabled here so the fix enables them.
	sh("sudo systemctl unmask apt-daily.timer apt-daily-upgrade.timer && sudo systemctl disable apt-daily.timer apt-daily-upgrade.timer", nil)

	// Disks: an empty scratch filesystem, a clear swap, a LUKS data disk
	// holding a file.
	sh("sudo mkfs.ext4 -q -F /dev/disk/by-id/virtio-scratch1 && sudo mkdir -p /scratch && sudo mount /dev/disk/by-id/virtio-scratch1 /scratch", nil)
	sh("sudo mkswap /dev/disk/by-id/virtio-swap1 && sudo swapon /dev/disk/by-id/virtio-swap1", nil)
	sh("printf vigie-test-passphrase | sudo cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file - /dev/disk/by-id/virtio-scratch2", nil)
	sh("printf vigie-test-passphrase | sudo cryptsetup open --key-file - /dev/disk/by-id/virtio-scratch2 securedata && sudo mkfs.ext4 -q /dev/mapper/securedata && sudo mkdir -p /secure && sudo mount /dev/mapper/securedata /secure && echo precious | sudo tee /secure/record.txt", nil)
	luksUUID := strings.TrimSpace(sh("sudo cryptsetup luksUUID /dev/disk/by-id/virtio-scratch2", nil))
	sh(`printf 'disks:\n  scratch: ["/scratch"]\n' | sudo tee `+conf, nil)

	// The dry run changes nothing and says why the data disks stay.
	plan := sh("sudo "+vigie+" fix --dry-run --only patches,disks --config "+conf, nil)
	for _, want := range []string{"vigie-demo 1.0-1 -> 1.0-1+deb12u1 (stable-security)", "re-creating it encrypted erases it", "holds data: vigie never encrypts data in place"} {
		if !strings.Contains(plan, want) {
			t.Errorf("dry run lacks %q:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, "vigie-bump=") {
		t.Errorf("the plan upgrades a package with no security fix:\n%s", plan)
	}

	out := sh("sudo "+vigie+" fix --yes --only patches --config "+conf+"; echo exit=$?", nil)
	if !strings.Contains(out, "patches: applied and verified") || !strings.Contains(out, "exit=0") {
		t.Fatalf("vigie fix --only patches:\n%s", out)
	}
	if got := sh("dpkg-query -W -f '${Package}=${Version} ' vigie-demo vigie-bump", nil); got != "vigie-bump=1.0-1 vigie-demo=1.0-1+deb12u1 " {
		t.Errorf("installed after the fix: %q", got)
	}
	rep, ok := guestCheck(t, port, key, vigie+" check --only patches --json --config "+conf)
	if ok {
		for id, want := range map[string]string{"patches.security-pending": "pass", "patches.auto-updates": "pass", "patches.pending": "fail"} {
			if f, _ := rep.finding(id); f.Status != want {
				t.Errorf("%s after the fix: %s %s, want %s", id, f.Status, f.Reason, want)
			}
		}
	}
	if got := sh("sudo systemctl is-enabled apt-daily.timer apt-daily-upgrade.timer", nil); got != "enabled\nenabled\n" {
		t.Errorf("apt timers after the fix: %q", got)
	}
	if got := sh("apt-config dump Unattended-Upgrade::Origins-Pattern APT::Periodic::Unattended-Upgrade", nil); !strings.Contains(got, `APT::Periodic::Unattended-Upgrade "1";`) || !strings.Contains(got, "codename=${distro_codename}-security") || strings.Contains(got, "label=Debian\"") {
		t.Errorf("unattended-upgrades after the fix:\n%s", got)
	}

	// The scratch filesystem and the swap in fstab too, by UUID and
	// without nofail, as an operator would have them: a boot that does not
	// find them stops in emergency mode.
	sh(`sudo sh -c 'echo "UUID=$(blkid -s UUID -o value /dev/disk/by-id/virtio-scratch1) /scratch ext4 defaults 0 2" >>/etc/fstab; `+
		`echo "UUID=$(blkid -s UUID -o value /dev/disk/by-id/virtio-swap1) none swap sw 0 0" >>/etc/fstab; systemctl daemon-reload'`, nil)
	disksFaultMatrix(t, g, vigie, conf, os.Getenv(faultsAll) != "")

	out = sh("sudo "+vigie+" fix --yes --allow-destructive --only disks --config "+conf+"; echo exit=$?", nil)
	if !strings.Contains(out, "disks: applied and verified") || !strings.Contains(out, "exit=0") {
		t.Fatalf("vigie fix --only disks:\n%s", out)
	}
	t.Logf("disks fix:\n%s", out)
	checkEncryptedDisks := func(when string) {
		t.Helper()
		rep, ok := guestCheck(t, port, key, vigie+" check --only disks --json --config "+conf)
		if !ok {
			return
		}
		for _, id := range []string{"disks.scratch-encrypted", "disks.swap-encrypted"} {
			if f, _ := rep.finding(id); f.Status != "pass" {
				t.Errorf("%s %s: %s %s", when, id, f.Status, f.Reason)
			}
		}
		// The root filesystem of the image is clear: that one still fails.
		if f, _ := rep.finding("disks.local-encrypted"); f.Status != "fail" || !strings.Contains(f.Reason, "filesystem /") {
			t.Errorf("%s disks.local-encrypted: %s %s", when, f.Status, f.Reason)
		}
		mnt := sh("findmnt -n -o SOURCE,FSTYPE /scratch; swapon --show=NAME --noheadings; sudo dmsetup table --target crypt", nil)
		if !strings.Contains(mnt, "/dev/mapper/vigie_scratch_") || !strings.Contains(mnt, "aes-xts-plain64") {
			t.Errorf("%s: /scratch and swap:\n%s", when, mnt)
		}
	}
	checkEncryptedDisks("after the fix")
	if got := strings.TrimSpace(sh("cat /secure/record.txt", nil)); got != "precious" {
		t.Errorf("data disk content after the fix: %q", got)
	}

	g.reboot()
	checkEncryptedDisks("after the reboot")
	if got := strings.TrimSpace(sh("sudo cryptsetup luksUUID /dev/disk/by-id/virtio-scratch2", nil)); got != luksUUID {
		t.Errorf("LUKS data disk UUID %q, was %q", got, luksUUID)
	}
	got := sh("printf vigie-test-passphrase | sudo cryptsetup open --key-file - /dev/disk/by-id/virtio-scratch2 securedata && sudo mount /dev/mapper/securedata /secure && cat /secure/record.txt", nil)
	if strings.TrimSpace(got) != "precious" {
		t.Errorf("data disk after the reboot: %q", got)
	}
	raw := sh("sudo cat /etc/crypttab /etc/fstab", nil)
	t.Logf("crypttab and fstab after the fix:\n%s", raw)

	// The hds profile, with the metadata of an eligible POP2 in fr-par-2.
	// Through qemu's guestfwd each connection starts a relay process: give
	// it more than the link-local API's 200ms.
	sh(`printf 'scaleway:\n  metadata_url: http://`+metadataAddr+`/conf?format=json\n  metadata_timeout: 10s\n' | sudo tee -a `+conf, nil)
	rep, ok = guestCheck(t, port, key, vigie+" check --profile hds --json --config "+conf)
	if !ok {
		return
	}
	for id, want := range map[string]string{"hds.zone": "pass", "hds.offer": "pass", "disks.scratch-encrypted": "pass"} {
		if f, _ := rep.finding(id); f.Status != want {
			t.Errorf("hds profile %s: %s %s, want %s", id, f.Status, f.Reason, want)
		}
	}
	for _, id := range []string{"disks.local-encrypted", "disks.block-encrypted", "logging.audit"} {
		if f, ok := rep.finding(id); !ok || f.Severity != "high" {
			t.Errorf("hds profile %s: severity %q, want high", id, f.Severity)
		}
	}
	if rep.Profile != "hds" || rep.Host.Cloud == nil || rep.Host.Cloud.ServerID != "5a1c9e3b-7d2f-4b6a-9e8c-1f0a2b3c4d5e" || rep.Host.Cloud.Zone != "fr-par-2" {
		t.Errorf("hds report: profile %q, cloud %+v", rep.Profile, rep.Host.Cloud)
	}
}

// disksFaultMatrix interrupts `vigie fix --allow-destructive --only disks`
// at each step of its run in turn (all of them, or the representative part
// CI runs): after the backup, each file write, each action (the umount and
// the wipefs of the scratch, the swapoff and the wipefs of the swap, the
// daemon-reload, the starts of the mappings and of their mount and swap
// units), activate and verify; and twice with a reset of the machine at
// the step instead (a power cut: nothing armed in /run survives, the boot
// job must do the revert): after the files are written and before any
// action, and after the scratch's wipefs. At that boot systemd acts on the new crypttab and fstab: it opens both
// devices as plain dm-crypt mappings with random keys and makes a new
// filesystem and swap in them, which overwrites the clear ones'
// signatures. After every fault the harness's key logs in, and once the
// revert the fix armed has put the run back by itself (at once, or by its
// boot job after the reboot) the disks are byte for byte as before:
// fstab and crypttab, the UUID, type and label of the two devices, what
// is mounted on /scratch, the swap in use, and the dm-crypt mappings
// (only the LUKS data disk, opened by hand, which a reboot closes: it is
// opened again after each). Then a reboot on the restored fstab, whose
// entries lack nofail, must reach SSH.
func disksFaultMatrix(t *testing.T, g *guest, vigie, conf string, all bool) {
	t.Helper()
	start := time.Now()
	scratch := strings.TrimSpace(g.sh("readlink -f /dev/disk/by-id/virtio-scratch1", nil))
	swap := strings.TrimSpace(g.sh("readlink -f /dev/disk/by-id/virtio-swap1", nil))
	faults := []fault{
		{at: "backup"},
		{at: "write /etc/crypttab"},
		{at: "write /etc/fstab"},
		{at: "action umount /scratch"},
		{at: "action wipefs --all " + scratch},
		{at: "action swapoff " + swap},
		{at: "action wipefs --all " + swap, ci: true},
		{at: "action systemctl daemon-reload"},
		{at: "action systemctl start systemd-cryptsetup@vigie_scratch_", ci: true},
		{at: "action systemctl start scratch.mount"},
		{at: "action systemctl start systemd-cryptsetup@vigie_swap_"},
		{at: "action systemctl start dev-mapper-vigie_swap_"},
		{at: "activate"},
		{at: "verify", ci: true},
		{at: "write /etc/fstab", reboot: true, ci: true},
		{at: "action wipefs --all " + scratch, reboot: true, ci: true},
	}
	state := func() string {
		return g.sh(`sudo sh -c 'sha256sum /etc/fstab /etc/crypttab 2>&1; `+
			`for d in /dev/disk/by-id/virtio-scratch1 /dev/disk/by-id/virtio-swap1; do echo "$d:"; blkid -p -o export "$d" | grep -E "^(UUID|TYPE|LABEL)="; done; `+
			`echo "/scratch: $(findmnt -n -o SOURCE,FSTYPE /scratch)"; echo "swap: $(swapon --show=NAME,TYPE --noheadings)"; `+
			`echo "crypt: $(dmsetup ls --target crypt | sed "s/[[:space:]].*//")"'`, nil)
	}
	// A reboot closes the LUKS data disk, which the test opened by hand.
	reopen := func() {
		t.Helper()
		g.sh("printf vigie-test-passphrase | sudo cryptsetup open --key-file - /dev/disk/by-id/virtio-scratch2 securedata && sudo mount /dev/mapper/securedata /secure", nil)
	}
	reboot := func() {
		t.Helper()
		g.reboot()
		reopen()
	}
	before := state()
	injected, checked, rebooted := 0, 0, false
	for _, f := range faults {
		if !all && !f.ci {
			continue
		}
		name := "disks killed after " + f.at
		if f.reboot {
			name += ", then a reboot"
		}
		if !g.injectFault(name, fmt.Sprintf("%s fix --yes --allow-destructive --only disks --config %s", vigie, conf), f) {
			g.sh("sudo "+vigie+" undo --config "+conf, nil)
			continue
		}
		injected++
		if f.reboot {
			reopen()
			rebooted = true
		}
		checked += g.restoredAfter(name, before, state)
		if f.reboot {
			g.revertedAtBoot(name)
		}
	}
	if rebooted {
		// The restored fstab names the clear filesystem and swap by UUID,
		// without nofail: the next boot must find them.
		reboot()
		g.mustLogIn("a reboot on the restored fstab")
		if got := state(); got != before {
			t.Errorf("after a reboot on the restored fstab, the disks are not as they were:\n%s", diffLines(before, got))
		}
		checked++
	}
	t.Logf("disks faults: %d injected, %d states checked, 0 lockouts and 0 half-applied states unless reported above; %s", injected, checked, time.Since(start).Round(time.Second))
}

// metadataAddr stands for 169.254.42.42 in the guest: a configured
// scaleway.metadata_url is asked on any host.
const metadataAddr = "10.0.2.102"
