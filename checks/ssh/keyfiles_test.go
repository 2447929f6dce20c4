package ssh

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/testenv"
)

// TestHostileKeyFiles plants, as another account would, every kind of
// authorized_keys file a local user can make, and checks what the SSH area
// concludes: what sshd would not read grants nothing and is reported as
// such; what it would read but vigie cannot inspect is an error; nothing of
// a file the account cannot read is ever reported; the area never blocks.
func TestHostileKeyFiles(t *testing.T) {
	testenv.Root(t, "the files are planted owned by another account")
	const uid = 4243
	base, err := os.MkdirTemp("/run", "vigie-keyfiles-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(base, "secret.yaml")
	if err := os.WriteFile(secret, []byte("api_key: sk-live-SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ed := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	tests := []struct {
		name   string
		plant  func(t *testing.T, kf string)
		status checks.Status
		want   string // in the reason or the evidence
	}{
		{"link to /dev/zero", func(t *testing.T, kf string) { must(t, os.Symlink("/dev/zero", kf)) }, checks.Pass, "not read by sshd: a character device, not a file"},
		{"FIFO", func(t *testing.T, kf string) { must(t, syscall.Mkfifo(kf, 0o600)) }, checks.Pass, "not read by sshd: a FIFO, not a file"},
		{"directory", func(t *testing.T, kf string) { must(t, os.Mkdir(kf, 0o700)) }, checks.Pass, "a directory, not a file"},
		{"link to a root secret", func(t *testing.T, kf string) { must(t, os.Symlink(secret, kf)) }, checks.Pass, "a symlink to a file the account cannot read"},
		{"link loop", func(t *testing.T, kf string) { must(t, os.Symlink(kf, kf)) }, checks.Pass, "too many levels of symbolic links"},
		{"link to /proc/self/mem", func(t *testing.T, kf string) { must(t, os.Symlink("/proc/self/mem", kf)) }, checks.Pass, "cannot read"},
		{"link to /proc/self/environ", func(t *testing.T, kf string) { must(t, os.Symlink("/proc/self/environ", kf)) }, checks.Pass, "not read by sshd"},
		{"socket", func(t *testing.T, kf string) {
			l, err := net.Listen("unix", kf)
			must(t, err)
			t.Cleanup(func() { l.Close() })
		}, checks.Pass, "a socket, not a file"},
		{"sparse 100 GB", func(t *testing.T, kf string) {
			must(t, os.WriteFile(kf, nil, 0o600))
			must(t, os.Truncate(kf, 100<<30))
		}, checks.Error, "larger than 1 MiB"},
		{"secret text as a key file", func(t *testing.T, kf string) {
			must(t, os.WriteFile(kf, []byte("api_key: sk-live-SECRET\nssh-dss AAAA sk-live-SECRET\n"), 0o600))
		}, checks.Fail, "unparsable line"},
		{"half a million junk lines", func(t *testing.T, kf string) {
			must(t, os.WriteFile(kf, []byte(strings.Repeat("x\n", 500_000)), 0o600))
		}, checks.Fail, "more entries not ED25519"},
		{"an ED25519 key", func(t *testing.T, kf string) { must(t, os.WriteFile(kf, []byte(ed+" ok\n"), 0o600)) }, checks.Pass, "all ED25519"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home := filepath.Join(base, "home"+string(rune('a'+i)))
			sshDir := filepath.Join(home, ".ssh")
			must(t, os.MkdirAll(sshDir, 0o700))
			kf := filepath.Join(sshDir, "authorized_keys")
			tc.plant(t, kf)
			for _, p := range []string{home, sshDir, kf} {
				must(t, os.Lchown(p, uid, uid))
			}
			must(t, os.Chmod(home, 0o755))
			f := &Facts{Global: Settings{"authorizedkeysfile": {".ssh/authorized_keys"}}, Source: "sshd -T",
				Accounts: []Account{{Name: "u", UID: uid, GID: uid, Home: home, Shell: "/bin/bash"}}}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			f.KeyFiles = readKeyFiles(ctx, host.DefaultEnv(), f)
			r := authorizedKeys(f)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s", d)
			}
			text := r.Reason
			for _, e := range r.Evidence {
				text += "\n" + describeForTest(e)
			}
			if r.Status != tc.status || !strings.Contains(text, tc.want) {
				t.Errorf("%s: %s\n%s\nwant %s with %q", tc.name, r.Status, text, tc.status, tc.want)
			}
			if strings.Contains(text, "sk-live") {
				t.Errorf("the secret leaked: %s", text)
			}
		})
	}
}

func describeForTest(e checks.Evidence) string {
	v := ""
	if s, ok := e.Value.(string); ok {
		v = s
	}
	return e.Subject + " " + e.Key + " " + v
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
