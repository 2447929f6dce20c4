package ssh

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/host"

	"github.com/vigie-agent/vigie/checks"
)

// TestHostKeysAsSshdLoadsThem: a default path (no HostKey line anywhere)
// whose file is absent is not loaded by sshd and is no finding; a HostKey
// line naming a missing file is. The sshd -T outputs are Debian 12's,
// captured with only an ED25519 host key in /etc/ssh (testdata/sshd-T).
func TestHostKeysAsSshdLoadsThem(t *testing.T) {
	const rsa, ecdsa, ed = "/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key", "/etc/ssh/ssh_host_ed25519_key"
	const dropIn = "/etc/ssh/sshd_config.d/50-hostkeys.conf"
	tests := []struct {
		name   string
		sshdT  string   // captured sshd -T; "" when sshd -T cannot run
		dropIn bool     // testdata/hostkeys/50-hostkeys.conf in sshd_config.d
		keys   []string // host key files present
		want   checks.Status
		reason string
		values map[string]string // evidence value per host key path
		where  map[string]string // evidence FILE:LINE per host key path
	}{
		{
			name: "ed25519 only, no HostKey line", sshdT: "debian12-ed25519-only.txt", keys: []string{ed},
			want: checks.Pass, reason: "2 default path(s) without a file",
			values: map[string]string{rsa: "default path, file absent: not loaded by sshd", ecdsa: "default path, file absent: not loaded by sshd", ed: "ssh-ed25519"},
		},
		{
			name: "ed25519 only, no HostKey line, from the files", keys: []string{ed},
			want:   checks.Pass,
			values: map[string]string{rsa: "default path, file absent: not loaded by sshd", ed: "ssh-ed25519"},
		},
		{
			name: "HostKey lines, rsa missing", sshdT: "debian12-hostkey-lines.txt", dropIn: true, keys: []string{ed},
			want: checks.Fail, reason: rsa + " is configured by " + dropIn + ":3 but missing",
			values: map[string]string{rsa: "configured by " + dropIn + ":3, missing", ed: "ssh-ed25519"},
			where:  map[string]string{rsa: dropIn + ":3", ed: dropIn + ":2"},
		},
		{
			name: "HostKey lines, rsa missing, from the files", dropIn: true, keys: []string{ed},
			want: checks.Fail, reason: rsa + " is configured by " + dropIn + ":3 but missing",
		},
		{
			name: "HostKey lines, rsa present", sshdT: "debian12-hostkey-lines.txt", dropIn: true, keys: []string{ed, rsa},
			want: checks.Fail, reason: rsa + " is ssh-rsa",
		},
		{
			name: "no HostKey line, every default key present", sshdT: "debian12-ed25519-only.txt", keys: []string{rsa, ecdsa, ed},
			want: checks.Fail, reason: rsa + " is ssh-rsa; " + ecdsa + " is ecdsa-sha2-nistp256",
		},
		{
			name: "no HostKey line, no key at all", sshdT: "debian12-ed25519-only.txt",
			want: checks.Fail, reason: "no ED25519 host key is configured and present",
			values: map[string]string{rsa: "default path, file absent: not loaded by sshd"},
		},
		{
			name: "no HostKey line, rsa only", sshdT: "debian12-ed25519-only.txt", keys: []string{rsa},
			want: checks.Fail, reason: rsa + " is ssh-rsa; no ED25519 host key",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			copyFile(t, "testdata/hostkeys/sshd_config", filepath.Join(root, "etc/ssh/sshd_config"))
			if err := os.MkdirAll(filepath.Join(root, "etc/ssh/sshd_config.d"), 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.dropIn {
				copyFile(t, "testdata/hostkeys/50-hostkeys.conf", filepath.Join(root, dropIn))
			}
			for _, k := range tt.keys {
				writeHostKey(t, filepath.Join(root, k))
			}
			replay := host.Replay{}
			if tt.sshdT != "" {
				out, err := os.ReadFile(filepath.Join("testdata/sshd-T", tt.sshdT))
				if err != nil {
					t.Fatal(err)
				}
				replay["/usr/sbin/sshd -T -f /etc/ssh/sshd_config"] = host.ReplayOutput{Stdout: out}
			}
			opt := DefaultOptions()
			opt.Probe = false
			f := Gather(context.Background(), &host.Env{Root: root, Proc: "/proc", Sys: "/sys", Cmd: replay}, opt)
			if want := map[bool]string{true: "sshd -T", false: "config files"}[tt.sshdT != ""]; f.Source != want {
				t.Fatalf("source %q, want %q (%s)", f.Source, want, f.SourceNote)
			}
			r := hostKeys(f)
			if r.Status != tt.want || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("%s %q, want %s with %q", r.Status, r.Reason, tt.want, tt.reason)
			}
			for _, e := range r.Evidence {
				if want, ok := tt.values[e.Subject]; ok && e.Value != want {
					t.Errorf("%s: evidence %q, want %q", e.Subject, e.Value, want)
				}
				if want, ok := tt.where[e.Subject]; ok && e.File+":"+strconv.Itoa(e.Line) != want {
					t.Errorf("%s: evidence at %s:%d, want %s", e.Subject, e.File, e.Line, want)
				}
			}
		})
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
