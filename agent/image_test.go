package agent

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hosttest"
	"github.com/vigie-agent/vigie/internal/reportschema"
)

// TestCheckImage: a run on an image tree reports on the image and nothing
// else. Every live-only check is skipped, by name, with a reason naming
// image mode and the tree; the others have verdicts; the report's host is
// what the image's files say (its hostname; no machine-id while it holds
// "uninitialized"; no kernel), never this machine's; and the metadata API,
// though configured, is never asked. A tree that is no root file system
// is refused.
func TestCheckImage(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"id":"host","commercial_type":"DEV1-S","zone":"fr-par-1"}`))
	}))
	defer srv.Close()
	root := hosttest.Tree(t, map[string]string{
		"etc/hostname":                        "img-build\n",
		"etc/machine-id":                      "uninitialized\n",
		"etc/os-release":                      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
		"etc/passwd":                          "root:x:0:0:root:/root:/bin/bash\n",
		"etc/shadow":                          "root:*:19000:0:99999:7:::\n",
		"etc/ssh/sshd_config":                 "PasswordAuthentication no\nKbdInteractiveAuthentication no\n",
		"var/lib/dpkg/status":                 "Package: dpkg\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.21.22\n",
		"lib/systemd/system/nftables.service": "",
	})
	cfg := config.Defaults()
	cfg.Profile = "hds"
	cfg.Scaleway.MetadataURL = srv.URL
	r, err := NewRun(cfg, &host.Env{Root: root, Proc: "/proc", Sys: "/sys", Cmd: host.ExecRunner{}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Env.Image {
		t.Fatal("a root other than / is not an image")
	}
	rep, err := Check(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	skipped := 0
	for _, f := range rep.Findings {
		switch {
		case f.Image.Live:
			skipped++
			if f.Status != checks.Skip || !strings.HasPrefix(f.Reason, "image mode (--path.root "+root+"): ") || len(f.Evidence) != 0 {
				t.Errorf("live-only %s: %s %q %v", f.ID, f.Status, f.Reason, f.Evidence)
			}
		case f.Status == checks.Skip:
			t.Errorf("%s is judged from the files but skipped: %q", f.ID, f.Reason)
		}
	}
	if skipped == 0 || skipped == len(rep.Findings) {
		t.Errorf("%d of %d findings skipped", skipped, len(rep.Findings))
	}
	name, _ := os.Hostname()
	if h := rep.Host; h.Hostname != "img-build" || h.MachineID != "" || h.Kernel != "" || h.Cloud != nil || h.OS.VersionID != "12" {
		t.Errorf("host of an image: %+v (this machine is %s)", h, name)
	}
	if hits.Load() != 0 {
		t.Errorf("the metadata API was asked %d times for an image", hits.Load())
	}
	var buf bytes.Buffer
	if err := (report.JSON{}).Format(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if err := reportschema.Check(buf.Bytes()); err != nil {
		t.Errorf("the report of an image does not match the schema: %v", err)
	}

	// An image without /etc/hostname has no name, not this machine's.
	if err := os.Remove(root + "/etc/hostname"); err != nil {
		t.Fatal(err)
	}
	if h := HostIdentity(context.Background(), r.Env); h.Hostname != "" {
		t.Errorf("an image without /etc/hostname is named %q", h.Hostname)
	}

	if _, err := NewRun(cfg, &host.Env{Root: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "is not a root file system") {
		t.Errorf("a tree without etc/: %v", err)
	}
}

// TestFixRefusedOnImage: a fix applies to a running system, which an
// image is not; a dry run, which changes nothing, still plans.
func TestFixRefusedOnImage(t *testing.T) {
	root := hosttest.Tree(t, map[string]string{"etc/ssh/sshd_config": "PasswordAuthentication yes\n", "etc/passwd": "root:x:0:0:root:/root:/bin/bash\n"})
	cfg := config.Defaults()
	cfg.StateDir = t.TempDir()
	r, err := NewRun(cfg, &host.Env{Root: root, Proc: "/proc", Sys: "/sys", Cmd: host.Replay{}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code, err := Fix(context.Background(), r, &out, FixOptions{Only: []string{"ssh"}, Yes: true}); code != 2 || err == nil || !strings.Contains(err.Error(), "fix: refused in image mode (--path.root "+root+")") {
		t.Errorf("fix on an image: exit %d, %v", code, err)
	}
	if err := Undo(context.Background(), r, &out, ""); err == nil || !strings.Contains(err.Error(), "undo: refused in image mode") {
		t.Errorf("undo on an image: %v", err)
	}
	if code, err := Fix(context.Background(), r, &out, FixOptions{Only: []string{"ssh"}, DryRun: true}); code == 2 || err != nil && strings.Contains(err.Error(), "refused") {
		t.Errorf("dry run on an image: exit %d, %v\n%s", code, err, out.String())
	}
}
