package ssh

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/accounts"

	"github.com/vigie-agent/vigie/checks"
)

func TestLiveProbeVerdicts(t *testing.T) {
	ed := []string{"ssh-ed25519"}
	tests := []struct {
		name   string
		probes []ProbeResult
		off    bool
		want   checks.Status
	}{
		{"hardened", []ProbeResult{{Address: "127.0.0.1:22", HostKeyAlgorithms: ed, AuthMethods: []string{"publickey"}}}, false, checks.Pass},
		{"password offered", []ProbeResult{{Address: "127.0.0.1:22", HostKeyAlgorithms: ed, AuthMethods: []string{"publickey", "password"}}}, false, checks.Fail},
		{"none accepted", []ProbeResult{{Address: "127.0.0.1:22", HostKeyAlgorithms: ed, AuthMethods: []string{"none"}}}, false, checks.Fail},
		{"rsa host key", []ProbeResult{{Address: "127.0.0.1:22", HostKeyAlgorithms: []string{"rsa-sha2-512", "ssh-ed25519"}, AuthMethods: []string{"publickey"}}}, false, checks.Fail},
		{"not running", []ProbeResult{{Address: "127.0.0.1:22", Refused: true, Err: "connection refused"}}, false, checks.Skip},
		{"one refused one good", []ProbeResult{{Address: "[::1]:22", Refused: true}, {Address: "127.0.0.1:22", HostKeyAlgorithms: ed, AuthMethods: []string{"publickey"}}}, false, checks.Pass},
		{"timeout", []ProbeResult{{Address: "127.0.0.1:22", Err: "i/o timeout"}}, false, checks.Error},
		{"fail beats error", []ProbeResult{{Address: "a:22", Err: "i/o timeout"}, {Address: "b:22", HostKeyAlgorithms: ed, AuthMethods: []string{"password"}}}, false, checks.Fail},
		{"no addresses", nil, false, checks.Error},
		{"disabled", nil, true, checks.Skip},
	}
	for _, tt := range tests {
		f := &Facts{Global: Settings{}, Probes: tt.probes, ProbeOff: tt.off, Source: "sshd -T"}
		if got := liveProbe(f); got.Status != tt.want {
			t.Errorf("%s: %s (%s), want %s", tt.name, got.Status, got.Reason, tt.want)
		}
	}
}

func TestNoConfigIsAnError(t *testing.T) {
	f := &Facts{Installed: true, SourceNote: "sshd -T: exit status 255: no hostkeys available", FilesErr: "read /etc/ssh/sshd_config: permission denied"}
	for _, fi := range Evaluate(f) {
		if fi.ID == IDProviderKeys { // the metadata's keys do not depend on sshd's configuration
			continue
		}
		if fi.Status != checks.Error {
			t.Errorf("%s: %s, want error", fi.ID, fi.Status)
		}
		if fi.ID == IDPasswordAuth && !strings.Contains(fi.Reason, "no hostkeys") {
			t.Errorf("reason %q lacks the cause", fi.Reason)
		}
	}
}

func TestAuthorizedKeysPermissions(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home", "alice")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile("testdata/authorized_keys/ed25519-only")
	kf := filepath.Join(home, ".ssh", "authorized_keys")
	if err := os.WriteFile(kf, key, 0o600); err != nil {
		t.Fatal(err)
	}
	uid := os.Getuid()
	passwd := "alice:x:" + strconv.Itoa(uid) + ":" + strconv.Itoa(uid) + "::/home/alice:/bin/bash\n"
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	env := &host.Env{Root: root}
	run := func() checks.Result {
		f := &Facts{Global: Settings{"authorizedkeysfile": {".ssh/authorized_keys"}}, Source: "sshd -T"}
		f.Accounts, _ = accounts.ParsePasswd([]byte(passwd))
		f.KeyFiles = readKeyFiles(context.Background(), env, f)
		return authorizedKeys(f)
	}
	if r := run(); r.Status != checks.Pass {
		t.Fatalf("safe file: %s %s", r.Status, r.Reason)
	}
	if err := os.Chmod(filepath.Join(home, ".ssh"), 0o777); err != nil {
		t.Fatal(err)
	}
	r := run()
	if r.Status != checks.Fail || !strings.Contains(r.Reason, "/home/alice/.ssh is writable by group or others") {
		t.Fatalf("world-writable ~/.ssh: %s %s", r.Status, r.Reason)
	}
	if err := os.Chmod(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf, append(key, []byte("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	r = run()
	if r.Status != checks.Fail || !strings.Contains(r.Reason, "/home/alice/.ssh/authorized_keys:2") {
		t.Fatalf("rsa line: %s %s", r.Status, r.Reason)
	}
}

// TestReconcileProbes: results probed early on the files' addresses are
// kept only where sshd -T agrees, and what sshd adds is probed then.
func TestReconcileProbes(t *testing.T) {
	early := make(chan []ProbeResult, 1)
	early <- []ProbeResult{{Address: "127.0.0.1:1", Refused: true, Err: "early"}, {Address: "127.0.0.1:3", Err: "stale"}}
	opt := DefaultOptions()
	got := reconcileProbes(context.Background(), early, []string{"127.0.0.1:2", "127.0.0.1:1"}, opt)
	if len(got) != 2 || got[0].Address != "127.0.0.1:2" || got[1].Address != "127.0.0.1:1" {
		t.Fatalf("got %+v", got)
	}
	if got[1].Err != "early" {
		t.Errorf("early result not reused: %+v", got[1])
	}
	if !got[0].Refused || got[0].Err == "" {
		t.Errorf("late probe of a closed port: %+v", got[0])
	}
}
