//go:build vmtest

package vmtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/internal/aptrepo"
)

// demoRepo builds, on the host, a repository with a security archive the
// way Debian labels it: vigie-demo has a fix in stable-security, vigie-bump
// an ordinary update in stable. It returns the repository as a tar.gz.
func demoRepo(t *testing.T) []byte {
	t.Helper()
	if m := aptrepo.Missing(); m != "" {
		t.Fatalf("needs %s on the host (vmtest/ci-deps.sh installs it)", m)
	}
	build, repo := t.TempDir(), t.TempDir()
	aptrepo.Publish(t, repo, "stable", "Debian",
		aptrepo.Deb(t, build, "vigie-demo", "1.0-1"),
		aptrepo.Deb(t, build, "vigie-bump", "1.0-1"),
		aptrepo.Deb(t, build, "vigie-bump", "1.1-1"))
	aptrepo.Publish(t, repo, "stable-security", "Debian-Security", aptrepo.Deb(t, build, "vigie-demo", "1.0-1+deb12u1"))
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == repo {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name, _ = filepath.Rel(repo, p)
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "root", "root"
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkPatchesInGuest installs the old versions from the demo repository
// in the running guest, then asks vigie: the security update must be told
// apart from the ordinary one, as the guest's own apt sees them.
func checkPatchesInGuest(t *testing.T, port int, key sshKey, vigie string) {
	t.Helper()
	repo := demoRepo(t)
	steps := []struct {
		cmd   string
		stdin []byte
	}{
		{"sudo mkdir -p /srv/vigie-repo && sudo tar -C /srv/vigie-repo -xzf -", repo},
		{"printf 'deb [trusted=yes] file:/srv/vigie-repo stable main\\ndeb [trusted=yes] file:/srv/vigie-repo stable-security main\\n' | sudo tee /etc/apt/sources.list.d/vigie-demo.list", nil},
		// Only the demo sources: the guest reaches no Debian mirror.
		{"sudo apt-get -q update -o Dir::Etc::SourceList=/etc/apt/sources.list.d/vigie-demo.list -o Dir::Etc::SourceParts=/nonexistent", nil},
		{"sudo apt-get -q install -y vigie-demo=1.0-1 vigie-bump=1.0-1", nil},
	}
	// Errors, not fatal: the caller still powers the guest off cleanly.
	for _, s := range steps {
		if out, err := guestSSH(port, key, 3*time.Minute, s.cmd, s.stdin); err != nil {
			t.Errorf("%v\n%s", err, out)
			return
		}
	}
	rep, ok := guestCheck(t, port, key, vigie+" check --only patches --json")
	if !ok {
		return
	}
	sec, ok := rep.finding("patches.security-pending")
	if !ok || sec.Status != "fail" || !strings.Contains(sec.Reason, "vigie-demo 1.0-1 -> 1.0-1+deb12u1 (stable-security)") || strings.Contains(sec.Reason, "vigie-bump") {
		t.Errorf("patches.security-pending: %+v", sec)
	}
	all, ok := rep.finding("patches.pending")
	if !ok || all.Status != "fail" || !strings.Contains(all.Reason, "vigie-bump 1.0-1 -> 1.1-1 (stable)") {
		t.Errorf("patches.pending: %+v", all)
	}
	if f, ok := rep.finding("patches.index-fresh"); !ok || f.Status != "pass" {
		t.Errorf("patches.index-fresh right after apt-get update: %+v", f)
	}
	t.Logf("patches in the guest: %s / %s", sec.Reason, all.Reason)
	checkStaleSecurityList(t, port, key, vigie, steps[2].cmd)
}

// checkStaleSecurityList ages the security archive's list ten days while
// the other list stays fresh: patches.index-fresh fails and names the
// security source. The refresh command then puts the lists back.
func checkStaleSecurityList(t *testing.T, port int, key sshKey, vigie, refresh string) {
	t.Helper()
	const list = "/var/lib/apt/lists/_srv_vigie-repo_dists_stable-security_Release"
	if out, err := guestSSH(port, key, time.Minute, "sudo touch -d '10 days ago' "+list+" && ls -l --time-style=+%F /var/lib/apt/lists/*Release", nil); err != nil {
		t.Errorf("age the security list: %v\n%s", err, out)
		return
	}
	defer func() {
		if out, err := guestSSH(port, key, 3*time.Minute, refresh, nil); err != nil {
			t.Errorf("refresh the lists again: %v\n%s", err, out)
		}
	}()
	rep, ok := guestCheck(t, port, key, vigie+" check --only patches --json")
	if !ok {
		return
	}
	f, ok := rep.finding("patches.index-fresh")
	if !ok || f.Status != "fail" || !strings.Contains(f.Reason, "the security source Debian/Debian-Security stable-security ("+list+") is 10 days old") {
		t.Errorf("patches.index-fresh with a security list ten days old and a fresh stable list: %+v", f)
		return
	}
	t.Logf("stale security list: %s", f.Reason)
}

// guestCheck runs `vigie check ... --json` in the guest as root, expects
// exit status 1 (findings), and returns the report, validated against the
// schema. Errors are reported, not fatal: the caller still powers off.
func guestCheck(t *testing.T, port int, key sshKey, args string) (report, bool) {
	t.Helper()
	var rep report
	out, err := guestSSH(port, key, 2*time.Minute, "sudo "+args+"; echo \"exit=$?\" >&2", nil)
	if !strings.Contains(out, "exit=1") {
		t.Errorf("%s: %v, want exit 1\n%s", args, err, out)
		return rep, false
	}
	js := out[:strings.LastIndex(out, "exit=1")]
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Errorf("decode report: %v\n%s", err, out)
		return rep, false
	}
	if err := validateReport([]byte(js)); err != nil {
		t.Errorf("%s: the report does not match the schema: %v", args, err)
	}
	return rep, true
}
