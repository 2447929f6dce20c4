package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/agent"
	"github.com/vigie-agent/vigie/internal/reportschema"
)

// TestCheckImageTree: `vigie check --path.root` on an image tree
// (testdata/image: a hardened sshd, locked accounts, timesyncd and the apt
// timers enabled) skips every live-only check, naming image mode and the
// tree, judges the others from its files, and reports the image's host
// alone. fix is refused there; a tree without etc/ is no root.
func TestCheckImageTree(t *testing.T) {
	root, err := filepath.Abs("testdata/image")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runVigie(t, "check", "--json", "--profile", "hds", "--config", "testdata/offline.yaml", "--path.root", "testdata/image")
	if code != 1 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	if err := reportschema.Check([]byte(out)); err != nil {
		t.Fatalf("does not validate: %v", err)
	}
	var rep struct {
		Host     map[string]any
		Findings []struct{ ID, Status, Reason string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	cat := agent.Catalogue()
	status := map[string]string{}
	for _, f := range rep.Findings {
		status[f.ID] = f.Status
		m, _ := cat.Lookup(f.ID)
		if m.Image.Live != (f.Status == "skip" && strings.HasPrefix(f.Reason, "image mode (--path.root "+root+"): ")) {
			t.Errorf("%s (live-only %v): %s %q", f.ID, m.Image.Live, f.Status, f.Reason)
		}
	}
	for id, want := range map[string]string{
		"ssh.password-auth": "pass", "ssh.root-login": "pass", "ssh.host-keys": "pass", "ssh.crypto": "fail",
		"access.uid0-only-root": "pass", "access.empty-passwords": "pass", "logging.time-sync": "pass", "logging.audit": "fail",
		"logging.journald-persistent": "pass", "firewall.persistent": "fail", "disks.swap-encrypted": "pass", "patches.os-supported": "pass",
	} {
		if status[id] != want {
			t.Errorf("%s: %s, want %s", id, status[id], want)
		}
	}
	if rep.Host["hostname"] != "image-tree" || rep.Host["machine_id"] != nil || rep.Host["kernel"] != nil || rep.Host["cloud"] != nil {
		t.Errorf("host of the image: %v", rep.Host)
	}

	if code, _, errOut := runVigie(t, "fix", "--yes", "--only", "ssh", "--config", "testdata/offline.yaml", "--path.root", "testdata/image"); code != 2 || !strings.Contains(errOut, "refused in image mode") {
		t.Errorf("fix on an image: exit %d %q", code, errOut)
	}
	if code, _, errOut := runVigie(t, "check", "--config", "testdata/offline.yaml", "--path.root", "testdata/image/etc"); code != 2 || !strings.Contains(errOut, "is not a root file system") {
		t.Errorf("a tree without etc/: exit %d %q", code, errOut)
	}
}
