//go:build vmtest

package vmtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/internal/testenv"
)

// Deadlines of one first-boot scenario. Under TCG the guest reaches
// cloud-init's runcmd in about 50 s; these leave room for a loaded machine.
const (
	sshUpWithin        = 6 * time.Minute
	cloudInitWithin    = 8 * time.Minute
	powerOffWithin     = 2 * time.Minute
	forcedStopWithin   = time.Minute
	packagePlaceholder = "__VIGIE_PACKAGE_URL__"
	binaryPlaceholder  = "__VIGIE_BINARY_URL__"
)

// firstBoot is one way of putting vigie on a fresh instance with cloud-init.
type firstBoot struct {
	name        string
	userData    string // example user-data, relative to the repository root
	placeholder string // the URL token the operator replaces
	artifact    string // file served to the guest
	installed   string // where the guest ends up with the binary
}

// TestFirstBootPackage: a default Debian 12 guest installs the .deb through
// packaging/cloud-init/package.yaml and reports at first boot.
func TestFirstBootPackage(t *testing.T) {
	runFirstBoot(t, firstBoot{
		name:        "package",
		userData:    "packaging/cloud-init/package.yaml",
		placeholder: packagePlaceholder,
		artifact:    artifact(t, "VIGIE_DEB", "dist/vigie_*_amd64.deb"),
		installed:   "/usr/bin/vigie",
	})
}

// TestFirstBootBinary: the same with packaging/cloud-init/binary.yaml, which
// only drops the static binary in /usr/local/bin; then, in the running
// guest, the patches checks against a local repository (a stale security
// list among them), the disks, and ssh.host-keys with only the ED25519 host
// key.
func TestFirstBootBinary(t *testing.T) {
	runFirstBoot(t, firstBoot{
		name:        "binary",
		userData:    "packaging/cloud-init/binary.yaml",
		placeholder: binaryPlaceholder,
		artifact:    artifact(t, "VIGIE_BINARY", "bin/vigie"),
		installed:   "/usr/local/bin/vigie",
	})
}

func runFirstBoot(t *testing.T, fb firstBoot) {
	needTools(t)
	img := ensureImage(t, "")
	dir := runDir(t, fb.name)
	key := newSSHKey(t, dir)

	name := filepath.Base(fb.artifact)
	fileSrv, hits := serveFile(t, fb.artifact, "/"+name)
	template, err := os.ReadFile(filepath.Join("..", fb.userData))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(template), fb.placeholder); n != 1 {
		t.Fatalf("%s holds %s %d times, want once", fb.userData, fb.placeholder, n)
	}
	userData := strings.Replace(string(template), fb.placeholder, "http://"+guestFwdAddr+"/"+name, 1)
	metaData := fmt.Sprintf("instance-id: vigie-vmtest-%s-%d\nlocal-hostname: vigie-guest\npublic-keys:\n  - %s\n",
		fb.name, time.Now().UnixNano(), key.Public)

	port := testenv.FreePort(t)
	start := time.Now()
	v := startVM(t, vmConfig{Image: img, Dir: dir, UserData: userData, MetaData: metaData, SSHPort: port, FileSrv: fileSrv})
	v.waitSSH(t, key, sshUpWithin)
	sshUp := time.Since(start)

	// Stay up until cloud-init is done (runcmd ran vigie), then look from outside.
	v.waitBootFinished(t, key, cloudInitWithin)
	reported := time.Since(start)
	status, statusErr := guestSSH(port, key, time.Minute, "cloud-init status --long", nil)
	outside, probeErr := probeFromOutside(port)
	if fb.name == "binary" && statusErr == nil && strings.Contains(status, "status: done") {
		checkPatchesInGuest(t, port, key, fb.installed)
		checkDisksInGuest(t, port, key, fb.installed)
		checkED25519OnlyHostKeys(t, port, key, fb.installed)
	}

	// Power off from inside; the collector writes the results disk on the way down.
	_, _ = guestSSH(port, key, 30*time.Second, "sudo systemctl poweroff", nil)
	if err := v.waitExit(powerOffWithin); err != nil {
		t.Errorf("guest did not power off: %v", err)
		v.stop(forcedStopWithin)
	}
	total := time.Since(start)
	t.Logf("timings: ssh up %s, cloud-init done (report written) %s, powered off %s",
		sshUp.Round(time.Second), reported.Round(time.Second), total.Round(time.Second))

	res, err := v.readResults()
	if err != nil {
		t.Fatalf("%v\ncloud-init status: %s %v\n%s", err, status, statusErr, v.consoleTail(60))
	}
	cloudInitLog := fmt.Sprintf("--- cloud-init-output.log (tail) ---\n%s\n--- end ---", tailLines(string(res["files/cloud-init-output.log"]), 40))
	if statusErr != nil || !strings.Contains(status, "status: done") {
		t.Fatalf("cloud-init did not finish cleanly: %v\n%s\n%s\n%s", statusErr, status, cloudInitLog, v.consoleTail(40))
	}
	if hits.Load() == 0 {
		t.Errorf("the guest never fetched %s", name)
	}
	if fb.name == "package" && !strings.HasPrefix(string(res["dpkg-vigie.txt"]), "installed ") {
		t.Errorf("dpkg status of vigie: %q", res["dpkg-vigie.txt"])
	}
	if !strings.Contains(string(res["files.txt"]), fb.installed) {
		t.Errorf("%s missing in the guest:\n%s", fb.installed, res["files.txt"])
	}

	raw := res["files/vigie/first-boot.json"]
	if len(raw) == 0 {
		t.Fatalf("no /var/log/vigie/first-boot.json in the guest\n%s", cloudInitLog)
	}
	if err := validateReport(raw); err != nil {
		t.Errorf("first-boot report does not match docs/report.schema.json: %v", err)
	}
	if !strings.Contains(string(res["journal-vigie.txt"]), `"vigie.report/v1"`) {
		t.Errorf("the report is not in the journal (journalctl -t vigie):\n%s", tailLines(string(res["journal-vigie.txt"]), 10))
	}
	var rep report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("decode report: %v", err)
	}
	for _, id := range []string{"ssh.password-auth", "ssh.host-keys", "ssh.live-probe"} {
		f, ok := rep.finding(id)
		if !ok {
			t.Errorf("finding %s missing from the report", id)
			continue
		}
		if f.Status != "fail" {
			t.Errorf("%s: status %q (%s), want fail on a default Debian guest", id, f.Status, f.Reason)
		}
	}

	// A default Debian guest loads no nftables ruleset: input is open for
	// both families.
	if f, ok := rep.finding("firewall.input-default-deny"); !ok {
		t.Errorf("finding firewall.input-default-deny missing from the report")
	} else if f.Status != "fail" || !strings.Contains(f.Reason, "IPv4: not default-deny") || !strings.Contains(f.Reason, "IPv6: not default-deny") {
		t.Errorf("firewall.input-default-deny: %s %q, want fail for IPv4 and IPv6", f.Status, f.Reason)
	}

	if probeErr != nil {
		t.Fatalf("outside probe: %v", probeErr)
	}
	t.Logf("outside: host key algorithms %v, keyscan %v, auth methods %v", outside.HostKeyAlgorithms, outside.KeyTypes, outside.AuthMethods)
	compareLiveProbe(t, rep, outside)
	if !t.Failed() {
		t.Logf("run directory %s", dir)
	}
}

// compareLiveProbe checks that what vigie's ssh.live-probe recorded inside
// the guest is what the OpenSSH client sees from outside.
func compareLiveProbe(t *testing.T, rep report, outside outsideView) {
	t.Helper()
	f, ok := rep.finding("ssh.live-probe")
	if !ok {
		return
	}
	algs, err := f.stringsBySubject("host_key_algorithms")
	if err != nil {
		t.Error(err)
	}
	methods, err := f.stringsBySubject("auth_methods")
	if err != nil {
		t.Error(err)
	}
	if len(algs) == 0 || len(methods) == 0 {
		t.Fatalf("ssh.live-probe has no host_key_algorithms or auth_methods evidence: %+v", f.Evidence)
	}
	for subject, got := range algs {
		if !sameSet(got, outside.HostKeyAlgorithms) {
			t.Errorf("host key algorithms: vigie saw %v at %s, the OpenSSH client sees %v", got, subject, outside.HostKeyAlgorithms)
		}
		if kt := keyTypes(got); !slices.Equal(kt, outside.KeyTypes) {
			t.Errorf("host key types: vigie's %v at %s are keys %v, ssh-keyscan finds %v", got, subject, kt, outside.KeyTypes)
		}
	}
	for subject, got := range methods {
		if !sameSet(got, outside.AuthMethods) {
			t.Errorf("auth methods: vigie saw %v at %s, the OpenSSH client sees %v", got, subject, outside.AuthMethods)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// artifact is the file named by env, else the newest match of pattern under
// the repository root.
func artifact(t *testing.T, env, pattern string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	matches, _ := filepath.Glob(filepath.Join("..", pattern))
	if len(matches) == 0 {
		t.Fatalf("no %s: run make vmtest (it builds the packages), or set %s", pattern, env)
	}
	sort.Slice(matches, func(i, j int) bool { return mtime(matches[i]).After(mtime(matches[j])) })
	abs, err := filepath.Abs(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func mtime(p string) time.Time {
	st, err := os.Stat(p)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

// runDir is the per-run directory under the cache. It is deleted when the
// test passes, unless VIGIE_VM_KEEP is set, and kept (and named) otherwise.
func runDir(t *testing.T, name string) string {
	t.Helper()
	base := filepath.Join(cacheDir(), "runs")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(base, name+"-"+time.Now().Format("20060102-150405")+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("VIGIE_VM_KEEP") != "" {
			t.Logf("kept run directory %s (console.log, seed/, results.img)", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}

// serveFile serves one file on a loopback port; the guest reaches it through
// qemu's guestfwd. It returns the address and a counter of downloads.
func serveFile(t *testing.T, path, urlPath string) (string, *atomic.Int64) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc(urlPath, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.ServeFile(w, r, path)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String(), &hits
}
