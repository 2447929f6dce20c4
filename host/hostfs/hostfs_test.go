package hostfs

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/internal/testenv"
)

// user is an unprivileged account the tests plant files as (by chown, as
// root: the tests need root to create files another uid owns).
const userUID, userGID = 4242, 4242

var user = &Cred{UID: userUID, GIDs: []uint32{userGID}}

func needRoot(t *testing.T) {
	t.Helper()
	testenv.Root(t, "files owned by another account are created with chown")
}

// tree builds a directory the tests resolve paths in: a root-owned 0755
// top with a home owned by the test account.
func tree(t *testing.T) (root, home string) {
	t.Helper()
	root = t.TempDir()
	// The account must be able to reach its home, as on a real host.
	for _, p := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	home = filepath.Join(root, "home", "u")
	mustMkdir(t, filepath.Join(root, "home"), 0o755)
	mustMkdir(t, home, 0o755)
	mustMkdir(t, filepath.Join(home, ".ssh"), 0o700)
	if os.Geteuid() == 0 {
		for _, p := range []string{home, filepath.Join(home, ".ssh")} {
			if err := os.Chown(p, userUID, userGID); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root, home
}

func mustMkdir(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p, data string, mode os.FileMode, uid int) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(p, uid, uid); err != nil && os.Geteuid() == 0 {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string, uid int) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Lchown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadAsAccount(t *testing.T) {
	needRoot(t)
	root, home := tree(t)
	ssh := filepath.Join(home, ".ssh")
	rel := func(p string) string { return p }
	secret := filepath.Join(root, "secret.yaml")
	write(t, secret, "api_key: sk-live-123\n", 0o600, 0)
	write(t, filepath.Join(ssh, "good"), "ssh-ed25519 AAAA k\n", 0o600, userUID)
	write(t, filepath.Join(ssh, "rootowned"), "ssh-ed25519 AAAA k\n", 0o600, 0)
	symlink(t, "/dev/zero", filepath.Join(ssh, "zero"), userUID)
	symlink(t, secret, filepath.Join(ssh, "secret"), userUID)
	symlink(t, "../../../secret.yaml", filepath.Join(ssh, "secret-rel"), userUID)
	symlink(t, "/proc/self/cmdline", filepath.Join(ssh, "cmdline"), userUID)
	symlink(t, "/proc/self/mem", filepath.Join(ssh, "mem"), userUID)
	symlink(t, "loop-b", filepath.Join(ssh, "loop-a"), userUID)
	symlink(t, "loop-a", filepath.Join(ssh, "loop-b"), userUID)
	symlink(t, "good", filepath.Join(ssh, "to-good"), userUID)
	if err := syscall.Mkfifo(filepath.Join(ssh, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustMkdir(t, filepath.Join(ssh, "dir"), 0o700)
	sparse := filepath.Join(ssh, "sparse")
	write(t, sparse, "", 0o600, userUID)
	if err := os.Truncate(sparse, 100<<30); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(ssh, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Read from the real root, so the links reach the real /proc and /dev.
	h := Host
	tests := []struct {
		name    string
		path    string
		want    string // content, when it reads
		err     error
		why     string
		timeout time.Duration
	}{
		{name: "own file", path: rel(ssh) + "/good", want: "ssh-ed25519 AAAA k\n"},
		{name: "link to own file", path: rel(ssh) + "/to-good", want: "ssh-ed25519 AAAA k\n"},
		{name: "root-owned 0600 file", path: rel(ssh) + "/rootowned", err: ErrNoAccess, why: "a file the account cannot read"},
		{name: "link to /dev/zero", path: rel(ssh) + "/zero", err: ErrKind, why: "a character device, not a file"},
		{name: "link to a root secret", path: rel(ssh) + "/secret", err: ErrNoAccess, why: "a symlink to a file the account cannot read"},
		{name: "relative link up to the secret", path: rel(ssh) + "/secret-rel", err: ErrNoAccess, why: "a symlink to a file the account cannot read"},
		{name: "link into procfs", path: rel(ssh) + "/cmdline", err: ErrPseudo},
		{name: "link to /proc/self/mem", path: rel(ssh) + "/mem", err: ErrNoAccess},
		{name: "symlink loop", path: rel(ssh) + "/loop-a", err: syscall.ELOOP, why: "too many levels of symbolic links"},
		{name: "FIFO", path: rel(ssh) + "/fifo", err: ErrKind, why: "a FIFO, not a file", timeout: time.Second},
		{name: "socket", path: rel(ssh) + "/sock", err: ErrKind, why: "a socket, not a file"},
		{name: "directory", path: rel(ssh) + "/dir", err: ErrKind, why: "a directory, not a file"},
		{name: "sparse 100 GB", path: rel(ssh) + "/sparse", err: ErrTooLarge, why: "larger than 1 MiB (100 GiB): not read"},
		{name: "missing", path: rel(ssh) + "/nothing", err: fs.ErrNotExist},
		{name: "through a file", path: rel(ssh) + "/good/x", err: fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			got, err := h.ReadFile(ctx, tc.path, Spec{Max: 1 << 20, As: user})
			if tc.err == nil {
				if err != nil || string(got) != tc.want {
					t.Fatalf("ReadFile = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("ReadFile = %q, %v; want %v", got, err, tc.err)
			}
			if tc.why != "" && Why(err) != tc.why {
				t.Errorf("Why = %q, want %q", Why(err), tc.why)
			}
			if strings.Contains(err.Error(), "sk-live") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestSearchPermission(t *testing.T) {
	needRoot(t)
	root, home := tree(t)
	if err := os.Chmod(filepath.Join(root, "home"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(home, "f"), "x", 0o644, userUID)
	h := FS{Root: root}
	_, err := h.ReadFile(context.Background(), "/home/u/f", Spec{As: user})
	if !errors.Is(err, ErrNoAccess) || Why(err) != "/home is not searchable by the account" {
		t.Fatalf("err = %v", err)
	}
	// Root reading for itself is not bound by the account's access.
	if got, err := h.ReadFile(context.Background(), "/home/u/f", Config); err != nil || string(got) != "x" {
		t.Fatalf("root read = %q, %v", got, err)
	}
}

func TestRootReadsFollowOnlyTrustedLinks(t *testing.T) {
	needRoot(t)
	root, home := tree(t)
	mustMkdir(t, filepath.Join(root, "etc"), 0o755)
	write(t, filepath.Join(root, "etc", "real.conf"), "ok\n", 0o644, 0)
	symlink(t, "real.conf", filepath.Join(root, "etc", "link.conf"), 0)
	symlink(t, "real.conf", filepath.Join(root, "etc", "users.conf"), userUID)
	symlink(t, "/etc/real.conf", filepath.Join(home, "planted"), userUID)
	h := FS{Root: root}
	ctx := context.Background()
	if got, err := h.ReadFile(ctx, "/etc/link.conf", Config); err != nil || string(got) != "ok\n" {
		t.Fatalf("root's link: %q, %v", got, err)
	}
	for _, p := range []string{"/etc/users.conf", "/home/u/planted"} {
		if _, err := h.ReadFile(ctx, p, Config); !errors.Is(err, ErrLink) {
			t.Errorf("%s: err = %v, want ErrLink", p, err)
		}
	}
}

func TestRootConfinesAbsoluteLinks(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "hostname"), []byte("image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(root, "etc", "name")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../etc/hostname", filepath.Join(root, "etc", "up")); err != nil {
		t.Fatal(err)
	}
	h := FS{Root: root}
	for _, p := range []string{"/etc/name", "/etc/up", "/../../etc/hostname"} {
		got, err := h.ReadFile(context.Background(), p, Config)
		if os.Geteuid() != 0 {
			// Links the test user owns are not root's to follow; as
			// another user the tree is not trusted.
			if err != nil && !errors.Is(err, ErrLink) {
				t.Fatalf("%s: %v", p, err)
			}
			continue
		}
		if err != nil || string(got) != "image\n" {
			t.Errorf("%s = %q, %v; want the image's own file", p, got, err)
		}
	}
}

func TestCaps(t *testing.T) {
	ctx := context.Background()
	// procfs reports size 0: the cap holds while reading.
	if _, err := ReadFile(ctx, "/proc/self/maps", Spec{Max: 16}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("/proc/self/maps with a 16-byte cap: %v", err)
	}
	if b, err := ReadFile(ctx, "/proc/self/status", Table); err != nil || !strings.Contains(string(b), "Name:") {
		t.Errorf("/proc/self/status: %v", err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte(strings.Repeat("x", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(ctx, p, Spec{Max: 99}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("100 bytes with a cap of 99: %v", err)
	}
	if b, err := ReadFile(ctx, p, Spec{Max: 100}); err != nil || len(b) != 100 {
		t.Errorf("100 bytes with a cap of 100: %d, %v", len(b), err)
	}
}

func TestContextStopsReads(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadFile(ctx, "/proc/self/status", Table); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled read: %v", err)
	}
}

func TestKindsAndDirs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, n := range []string{"b", "a", "c"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := Host.ReadDir(ctx, dir, Spec{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("ReadDir = %v", names)
	}
	if _, err := Host.ReadDir(ctx, filepath.Join(dir, "a"), Spec{}); !errors.Is(err, ErrKind) || Why(err) != "a file, not a directory" {
		t.Errorf("ReadDir of a file: %v", err)
	}
	f, err := Host.Open(ctx, "/dev/null", Spec{Kinds: CharDevice})
	if err != nil {
		t.Fatalf("a character device asked for: %v", err)
	}
	f.Close()
	if !Host.Exists(ctx, dir) || Host.Exists(ctx, filepath.Join(dir, "nope")) {
		t.Error("Exists")
	}
}
