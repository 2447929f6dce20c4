//go:build vmtest

package vmtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// imageEnv are the variables image/build.sh reads; they are part of the key.
var imageEnv = []string{"VIGIE_VM_MIRROR", "VIGIE_VM_SECURITY_MIRROR", "VIGIE_VM_ROOT_SIZE"}

// The Debian suites a guest can run: image/packages.SUITE.list holds what
// each needs besides image/packages.list.
const (
	bookworm = "bookworm" // Debian 12
	trixie   = "trixie"   // Debian 13
)

// suiteNames name each suite's cache entries.
var suiteNames = map[string]string{bookworm: "debian12", trixie: "debian13"}

// defaultSuite is the suite of the scenarios that do not name one:
// bookworm, or VIGIE_VM_SUITE.
func defaultSuite() string {
	if s := os.Getenv("VIGIE_VM_SUITE"); s != "" {
		return s
	}
	return bookworm
}

const imageBuildTimeout = 12 * time.Minute

// guestImage is a built guest: a raw ext4 root labelled vigie-root, and the
// kernel and initramfs to boot it with.
type guestImage struct {
	Dir, Root, Kernel, Initrd string
}

func cacheDir() string {
	if d := os.Getenv("VIGIE_VM_CACHE"); d != "" {
		return d
	}
	return "/var/cache/vigie-vmtest"
}

// imageKey hashes the suite, every file of image/ (build script, package
// lists, the collector baked into the guest) but the package lists of other
// suites, and the variables the script reads.
func imageKey(dir, suite string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("read image inputs: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if s, ok := suiteList(e.Name()); ok && s != suite {
			continue
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	h := sha256.New()
	fmt.Fprintf(h, "suite %s\n", suite)
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return "", fmt.Errorf("read image input: %w", err)
		}
		fmt.Fprintf(h, "file %s %d\n", n, len(data))
		h.Write(data)
	}
	for _, v := range imageEnv {
		fmt.Fprintf(h, "env %s=%s\n", v, os.Getenv(v))
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// suiteList returns the suite of a file named packages.SUITE.list.
func suiteList(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "packages.")
	if !ok {
		return "", false
	}
	suite, ok := strings.CutSuffix(rest, ".list")
	return suite, ok && suite != ""
}

func (g guestImage) complete() bool {
	for _, p := range []string{g.Root, g.Kernel, g.Initrd, filepath.Join(g.Dir, "READY")} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

func imageAt(dir string) guestImage {
	return guestImage{
		Dir:    dir,
		Root:   filepath.Join(dir, "rootfs.img"),
		Kernel: filepath.Join(dir, "vmlinuz"),
		Initrd: filepath.Join(dir, "initrd.img"),
	}
}

// ensureImage returns the cached guest of suite ("" for the default one)
// for the current inputs, building it first when it is missing. The cache
// is never modified once READY exists: every boot runs on a qcow2 overlay.
func ensureImage(t *testing.T, suite string) guestImage {
	t.Helper()
	if suite == "" {
		suite = defaultSuite()
	}
	name, ok := suiteNames[suite]
	if !ok {
		t.Fatalf("unknown guest suite %q (VIGIE_VM_SUITE?): want %s or %s", suite, bookworm, trixie)
	}
	inputs, err := filepath.Abs("image")
	if err != nil {
		t.Fatal(err)
	}
	key, err := imageKey(inputs, suite)
	if err != nil {
		t.Fatal(err)
	}
	cache := cacheDir()
	img := imageAt(filepath.Join(cache, name+"-"+key))
	if img.complete() {
		t.Logf("guest image: %s (cached)", img.Dir)
		return img
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatalf("create image cache: %v", err)
	}
	unlock := lockCache(t, filepath.Join(cache, ".lock"), imageBuildTimeout+time.Minute)
	defer unlock()
	if img.complete() {
		t.Logf("guest image: %s (built by another run)", img.Dir)
		return img
	}
	if os.Geteuid() != 0 {
		t.Fatalf("building the guest image needs root (mmdebstrap, mkfs.ext4 -d keeping owners); run as root or point VIGIE_VM_CACHE at a cache that holds %s-%s", name, key)
	}
	tmp := img.Dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	logPath := img.Dir + ".build.log"
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	start := time.Now()
	t.Logf("building guest image %s (log: %s)", img.Dir, logPath)
	cmd := exec.Command(filepath.Join(inputs, "build.sh"), tmp, suite)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := runWithTimeout(cmd, imageBuildTimeout); err != nil {
		t.Fatalf("image build failed after %s: %v\n--- %s (tail) ---\n%s", time.Since(start).Round(time.Second), err, logPath, tailFile(logPath, 40))
	}
	if err := os.WriteFile(filepath.Join(tmp, "READY"), []byte(key+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, img.Dir); err != nil {
		t.Fatalf("install image in cache: %v", err)
	}
	t.Logf("guest image built in %s", time.Since(start).Round(time.Second))
	return img
}

// lockCache takes an exclusive flock on path, waiting at most wait.
func lockCache(t *testing.T, path string, wait time.Duration) func() {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("open cache lock: %v", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }
		}
		if time.Now().After(deadline) {
			f.Close()
			t.Fatalf("cache %s still locked by another run after %s", path, wait)
		}
		time.Sleep(2 * time.Second)
	}
}

// runWithTimeout runs cmd in its own process group and kills the whole group
// when it overruns.
func runWithTimeout(cmd *exec.Cmd, d time.Duration) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("timed out after %s", d)
	}
}

// tailFile returns the last n lines of a text file, without terminal noise.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return tailLines(string(data), n)
}

func tailLines(s string, n int) string {
	s = strings.ReplaceAll(s, "\r", "")
	s = ansi.ReplaceAllString(s, "")
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
