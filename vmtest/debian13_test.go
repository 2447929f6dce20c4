//go:build vmtest

package vmtest

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/internal/testenv"
)

// TestDebian13: one Debian 13 guest (OpenSSH 10 with sshd-session, ML-KEM
// key exchange, systemd 257, kernel 6.12, netplan on systemd-networkd) goes
// the operator's whole way in one boot. packaging/cloud-init/package.yaml
// installs the .deb and reports at first boot: the report validates against
// the schema and is in the journal; the SSH findings come from `sshd -T`
// (not the fallback on the files) and are verdicts, not errors; no
// finding of the SSH, firewall, access, logging or disks areas is an error;
// vigie's live probe sees the host key algorithms and auth methods the
// OpenSSH client sees from outside, whose server KEXINIT offers
// mlkem768x25519-sha256; vigie.service runs. With the RSA and ECDSA host
// keys moved aside and no HostKey line (cloud-init's ssh_genkeytypes:
// [ed25519]), ssh-keyscan sees only ssh-ed25519 and ssh.host-keys passes;
// the keys are put back. Then `vigie fix --yes --only
// ssh,firewall` (harden.yaml's command) and checkHardened, as on Debian 12:
// from outside and across a reboot; the hardened server still offers
// ML-KEM first and no MODP or NIST-curve key exchange.
func TestDebian13(t *testing.T) {
	echo := testenv.FreePort(t)
	g := bootGuest(t, "debian13", "packaging/cloud-init/package.yaml", packagePlaceholder, artifact(t, "VIGIE_DEB", "dist/vigie_*_amd64.deb"),
		vmConfig{Suite: trixie, ExtraFwd: map[int]int{echo: echoPort}, AllowReboot: true})
	sh := func(cmd string) string {
		t.Helper()
		return g.sh(cmd, nil)
	}

	// The guest is the Debian 13 it claims to be.
	release := sh(". /etc/os-release && echo \"$VERSION_ID\"; ssh -V 2>&1; uname -r; systemctl --version | head -n 1; test -x /usr/lib/openssh/sshd-session && echo sshd-session")
	t.Logf("guest: %s", strings.ReplaceAll(strings.TrimSpace(release), "\n", "; "))
	for _, want := range []string{"13\n", "OpenSSH_10.", "systemd 257", "sshd-session"} {
		if !strings.Contains(release, want) {
			t.Fatalf("not the Debian 13 guest (no %q):\n%s", want, release)
		}
	}

	// First boot: the package is installed, its service runs, the report
	// is kept and in the journal.
	if out := sh("cloud-init status --long; dpkg-query -W -f '${db:Status-Status}\\n' vigie; systemctl is-enabled vigie; systemctl is-active vigie"); !strings.Contains(out, "status: done") ||
		!strings.Contains(out, "\ninstalled\nenabled\nactive\n") {
		t.Fatalf("first boot on Debian 13:\n%s\n%s", out, sh("sudo tail -n 40 /var/log/cloud-init-output.log; sudo systemctl status vigie --no-pager -l || true"))
	}
	raw := []byte(sh("sudo cat /var/log/vigie/first-boot.json"))
	if err := validateReport(raw); err != nil {
		t.Errorf("first-boot report does not match docs/report.schema.json: %v", err)
	}
	if out := sh("sudo journalctl -t vigie -o cat --no-pager"); !strings.Contains(out, `"vigie.report/v1"`) {
		t.Errorf("the report is not in the journal (journalctl -t vigie):\n%s", tailLines(out, 10))
	}
	var rep report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("decode report: %v", err)
	}

	// OpenSSH 10: the SSH checks read sshd -T and give verdicts.
	var errs []string
	for _, f := range rep.Findings {
		area, _, _ := strings.Cut(f.ID, ".")
		// ssh.provider-keys judges what the Scaleway metadata installs:
		// skipped off Scaleway, by design (TestScaleway judges it).
		if area == "ssh" && f.Status != "pass" && f.Status != "fail" && (f.ID != "ssh.provider-keys" || f.Status != "skip") {
			t.Errorf("%s: %s (%s), want a verdict under OpenSSH 10", f.ID, f.Status, f.Reason)
		}
		if f.Status == "error" && slices.Contains([]string{"ssh", "firewall", "access", "logging", "disks"}, area) {
			errs = append(errs, f.ID+": "+f.Reason)
		}
	}
	if len(errs) > 0 {
		t.Errorf("checks that could not run on Debian 13:\n%s", strings.Join(errs, "\n"))
	}
	if f, _ := rep.finding("ssh.password-auth"); len(f.Evidence) == 0 || f.Evidence[0].Source != "sshd -T" {
		t.Errorf("ssh.password-auth does not come from sshd -T: %s %q %+v", f.Status, f.Reason, f.Evidence)
	}
	for _, id := range []string{"ssh.password-auth", "ssh.host-keys", "ssh.live-probe"} {
		if f, ok := rep.finding(id); !ok || f.Status != "fail" {
			t.Errorf("%s: %+v, want fail on a default Debian 13 guest", id, f)
		}
	}
	if f, ok := rep.finding("firewall.input-default-deny"); !ok || f.Status != "fail" ||
		!strings.Contains(f.Reason, "IPv4: not default-deny") || !strings.Contains(f.Reason, "IPv6: not default-deny") {
		t.Errorf("firewall.input-default-deny: %+v, want fail for IPv4 and IPv6", f)
	}
	probe, _ := rep.finding("ssh.live-probe")
	versions, err := probe.stringBySubject("server_version")
	if err != nil {
		t.Error(err)
	}
	for subject, v := range versions {
		if !strings.HasPrefix(v, "SSH-2.0-OpenSSH_10.") {
			t.Errorf("ssh.live-probe at %s: server version %q", subject, v)
		}
	}
	if len(versions) == 0 {
		t.Errorf("ssh.live-probe recorded no server version: %+v", probe.Evidence)
	}

	// From outside, before the fix: the same server vigie probed, with
	// OpenSSH 10's post-quantum key exchange first.
	outside, err := probeFromOutside(g.port)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("outside: KEX %v, host key algorithms %v, keyscan %v, auth methods %v", outside.KexAlgorithms, outside.HostKeyAlgorithms, outside.KeyTypes, outside.AuthMethods)
	if !slices.Contains(outside.KexAlgorithms, "mlkem768x25519-sha256") {
		t.Errorf("the server's KEXINIT offers no mlkem768x25519-sha256: %v", outside.KexAlgorithms)
	}
	compareLiveProbe(t, rep, outside)
	if t.Failed() {
		return
	}
	// Only the ED25519 host key file, no HostKey line: sshd skips its other
	// default paths, and so does ssh.host-keys.
	checkED25519OnlyHostKeys(t, g.port, g.key, "/usr/bin/vigie")

	// The hardening path of harden.yaml, with the packaged binary.
	sh("sudo vigie check --only ssh --json > /tmp/before.json; true")
	if out := sh("sudo vigie fix --yes --only ssh,firewall; echo exit=$?"); strings.Count(out, "applied and verified") != 2 || !strings.Contains(out, "exit=0") {
		t.Fatalf("vigie fix --only ssh,firewall on Debian 13:\n%s", out)
	}
	// What the fix changed, as `vigie diff` says it: the SSH checks
	// resolved and no regression; the other way round, regressions.
	sh("sudo vigie check --only ssh --json > /tmp/after.json; true")
	if out := sh("vigie diff /tmp/before.json /tmp/after.json; echo exit=$?"); !regexp.MustCompile(`(?m)^resolved +high +ssh\.password-auth +pass +fail `).MatchString(out) ||
		!strings.Contains(out, "; 0 regression(s)") || !strings.Contains(out, "exit=0") {
		t.Errorf("vigie diff before after the fix:\n%s", out)
	}
	if out := sh("vigie diff --json /tmp/after.json /tmp/before.json; echo exit=$?"); !strings.Contains(out, `"kind": "failing"`) || !strings.Contains(out, "exit=1") {
		t.Errorf("vigie diff after before the fix:\n%s", out)
	}
	// The hardened key exchanges are OpenSSH 10's strong ones: ML-KEM
	// first, and no MODP group turned back on.
	hardened := checkHardened(t, g, echo, "/usr/bin/vigie")
	t.Logf("outside after the fix: KEX %v", hardened.KexAlgorithms)
	if len(hardened.KexAlgorithms) == 0 || hardened.KexAlgorithms[0] != "mlkem768x25519-sha256" {
		t.Errorf("after the fix the server's first key exchange is not mlkem768x25519-sha256: %v", hardened.KexAlgorithms)
	}
	for _, k := range hardened.KexAlgorithms {
		if strings.HasPrefix(k, "diffie-hellman-") || strings.HasPrefix(k, "ecdh-") {
			t.Errorf("after the fix the server offers %s: %v", k, hardened.KexAlgorithms)
		}
	}

	// The same guest, both runs undone, for the fault matrix.
	for _, area := range []string{"firewall", "ssh"} {
		if out := sh("sudo vigie undo; echo exit=$?"); !strings.Contains(out, "("+area+") undone") || !strings.Contains(out, "exit=0") {
			t.Fatalf("vigie undo of the %s run before the fault matrix:\n%s", area, out)
		}
	}
	faultMatrix(t, g, "/usr/bin/vigie", os.Getenv(faultsAll) != "")
}
