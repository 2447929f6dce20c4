//go:build vmtest

package vmtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/agent"
)

// imageModeBudget bounds one `vigie check --path.root` of a guest tree: it
// reads files and runs this machine's apt and nft on them, offline.
const imageModeBudget = 15 * time.Second

// TestImageMode runs the real binary on the guest images the harness
// builds, as an image pipeline would on a mounted image: each cached
// rootfs.img is loop-mounted read-only (no boot), and `vigie check
// --path.root TREE --json --profile hds` must report on the image and on
// nothing else. Every live-only check is skipped, by name, with a reason
// naming image mode and the tree, and carries no evidence; every other
// check has a pass or fail verdict reflecting the image's files (its
// sshd_config line, its account count, its release, its units, its
// hostname); the two pending checks may only be errors saying the image
// holds no package index (mmdebstrap removes the lists). Nothing of this
// machine is in the report: not its hostname, machine-id or kernel, no
// socket, no cloud identity. It runs within imageModeBudget.
func TestImageMode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: mount -o loop, and the scratch namespaces of firewall.persistent")
	}
	bin := artifact(t, "VIGIE_BINARY", "bin/vigie")
	live := map[string]bool{}
	cat := agent.Catalogue()
	for _, id := range cat.IDs() {
		m, _ := cat.Lookup(id)
		live[id] = m.Image.Live
	}
	for _, suite := range []string{bookworm, trixie} {
		t.Run(suiteNames[suite], func(t *testing.T) {
			img := ensureImage(t, suite)
			tree := mountImage(t, img.Root)
			start := time.Now()
			cmd := exec.Command(bin, "check", "--path.root", tree, "--json", "--profile", "hds")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			took := time.Since(start)
			t.Logf("vigie check --path.root %s: %s (%d bytes of report)", tree, took.Round(time.Millisecond), len(out))
			if code := exitCode(err); code != 1 {
				t.Fatalf("exit %d (want 1: the stock image fails checks): %v\n%s", code, err, stderr.String())
			}
			if took > imageModeBudget {
				t.Errorf("took %s, over %s", took, imageModeBudget)
			}
			if err := validateReport(out); err != nil {
				t.Fatalf("the report does not match the schema: %v", err)
			}
			var rep report
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatal(err)
			}
			if len(rep.Findings) != len(live) {
				t.Errorf("%d findings, the catalogue has %d checks", len(rep.Findings), len(live))
			}
			for _, f := range rep.Findings {
				switch {
				case live[f.ID]:
					if f.Status != "skip" || !strings.HasPrefix(f.Reason, "image mode (--path.root "+tree+"): ") || len(f.Evidence) != 0 {
						t.Errorf("live-only %s: %s %q, %d evidence", f.ID, f.Status, f.Reason, len(f.Evidence))
					}
				case f.Status == "error" && (f.ID == "patches.security-pending" || f.ID == "patches.pending"):
					if !strings.Contains(f.Reason, "the image holds no package index") {
						t.Errorf("%s: error %q", f.ID, f.Reason)
					}
				case f.Status != "pass" && f.Status != "fail":
					t.Errorf("%s is judged from the files, yet %s: %q", f.ID, f.Status, f.Reason)
				}
			}
			imageVerdicts(t, tree, suite, rep)
			noHostLeak(t, out)
		})
	}
}

// imageVerdicts holds the file-judged verdicts to what the image's own
// files say, where this machine's would say otherwise or nothing.
func imageVerdicts(t *testing.T, tree, suite string, rep report) {
	t.Helper()
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(tree, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	want := func(id, status string, reason ...string) finding {
		t.Helper()
		f, ok := rep.finding(id)
		if !ok {
			t.Fatalf("no %s", id)
		}
		if f.Status != status {
			t.Errorf("%s: %s %q, want %s", id, f.Status, f.Reason, status)
		}
		for _, r := range reason {
			if !strings.Contains(f.Reason, r) {
				t.Errorf("%s: reason %q lacks %q", id, f.Reason, r)
			}
		}
		return f
	}
	// sshd: Debian's stock files, read by vigie (no drop-in turns
	// passwords off; the main file's KbdInteractiveAuthentication line is
	// cited), and no host key in the image.
	kbd := 0
	for i, l := range strings.Split(read("etc/ssh/sshd_config"), "\n") {
		if strings.HasPrefix(l, "KbdInteractiveAuthentication") {
			kbd = i + 1
		}
	}
	pw := want("ssh.password-auth", "fail", "passwordauthentication is yes (global)", "image mode: sshd -T is not run")
	cited := false
	for _, e := range pw.Evidence {
		cited = cited || e.Key == "kbdinteractiveauthentication" && e.Source == "config files" && e.File == "/etc/ssh/sshd_config" && e.Line == kbd
	}
	if kbd == 0 || !cited {
		t.Errorf("ssh.password-auth does not cite the image's /etc/ssh/sshd_config:%d: %+v", kbd, pw.Evidence)
	}
	want("ssh.host-keys", "fail", "/etc/ssh/ssh_host_rsa_key is a default path (no HostKey line) and not in the image: the first boot generates an ssh-rsa key there")
	// Accounts: the image's /etc/passwd, counted.
	accounts := strings.Count(strings.TrimSpace(read("etc/passwd")), "\n") + 1
	want("access.uid0-only-root", "pass", "("+strconv.Itoa(accounts)+" accounts in /etc/passwd)")
	// The release, the units the image enables, its fstab.
	release := map[string]string{bookworm: "Debian 12 (bookworm)", trixie: "Debian 13 (trixie)"}[suite]
	want("patches.os-supported", "pass", release)
	want("patches.auto-updates", "fail", `apt-daily.timer is "masked"`)
	want("firewall.persistent", "fail", "nftables.service is disabled")
	want("logging.audit", "fail", "not installed in the image")
	want("disks.swap-encrypted", "pass", "the image enables no swap at boot")
	if got, img := rep.Host.Hostname, strings.TrimSpace(read("etc/hostname")); got != img {
		t.Errorf("report hostname %q, the image's is %q", got, img)
	}
}

// noHostLeak holds the report to nothing of the machine vigie ran on: its
// name, machine-id and kernel release appear nowhere, and it names no
// cloud instance and no machine-id.
func noHostLeak(t *testing.T, out []byte) {
	t.Helper()
	var raw struct {
		Host map[string]any `json:"host"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"machine_id", "kernel", "cloud"} {
		if v, ok := raw.Host[k]; ok {
			t.Errorf("the report's host has %s %v: an image has none", k, v)
		}
	}
	name, _ := os.Hostname()
	id, _ := os.ReadFile("/etc/machine-id")
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	for what, s := range map[string]string{"hostname": name, "machine-id": strings.TrimSpace(string(id)), "kernel release": strings.TrimSpace(string(kernel))} {
		if s != "" && bytes.Contains(out, []byte(`"`+s+`"`)) || len(s) >= 8 && bytes.Contains(out, []byte(s)) {
			t.Errorf("the report holds this machine's %s %q", what, s)
		}
	}
}

// mountImage loop-mounts a raw ext4 image read-only (noload: no journal
// replay writes to it) and returns the mount point, unmounted at the end.
func mountImage(t *testing.T, img string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-o", "loop,ro,noload", img, dir).CombinedOutput(); err != nil {
		t.Fatalf("mount %s: %v\n%s", img, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
	return dir
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}
