package aptrepo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/internal/testenv"
)

// Root is a private Debian system for apt and dpkg: its own dpkg database,
// apt state, sources and repository, with APT_CONFIG pointing the real
// apt-get, apt-config and apt-mark at it and DPkg::Options pointing dpkg at
// it, so packages really install there and nothing of the host changes.
type Root struct {
	Dir  string // the root: etc/, var/lib/dpkg/, usr/...
	Repo string // the file repository the sources name
	Conf string // the APT_CONFIG file
}

// NewRoot creates the root as a Debian 12 system and sets APT_CONFIG for
// the rest of the test. It needs root (dpkg --root) and the tools.
func NewRoot(t testing.TB) *Root {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root: dpkg installs into the private root")
	}
	for _, bin := range append([]string{"apt-get", "apt", "dpkg"}, Tools...) {
		if _, err := exec.LookPath(bin); err != nil {
			testenv.Missing(t, "needs %s", bin)
		}
	}
	dir := t.TempDir()
	r := &Root{Dir: dir, Repo: filepath.Join(dir, "srv/repo"), Conf: filepath.Join(dir, "apt.conf")}
	for _, d := range []string{"etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d", "var/lib/apt/lists/partial",
		"var/cache/apt/archives/partial", "var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log/apt", "srv/repo"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"var/lib/dpkg/status": "",
		"etc/os-release":      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
	}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`Dir "/";
Dir::State "%[1]s/var/lib/apt";
Dir::State::status "%[1]s/var/lib/dpkg/status";
Dir::Etc "%[1]s/etc/apt";
Dir::Cache "%[1]s/var/cache/apt";
Dir::Log "%[1]s/var/log/apt";
APT::Architecture "amd64";
APT::Sandbox::User "root";
APT::Get::List-Cleanup "false";
Acquire::Languages "none";
DPkg::Options { "--root=%[1]s"; "--admindir=%[1]s/var/lib/dpkg"; "--log=%[1]s/var/log/dpkg.log"; "--force-script-chrootless"; };
`, dir)
	if err := os.WriteFile(r.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("APT_CONFIG", r.Conf)
	return r
}

// Install installs packages into the root with dpkg itself.
func (r *Root) Install(t testing.TB, debs ...string) {
	t.Helper()
	args := append([]string{"--root=" + r.Dir, "--admindir=" + filepath.Join(r.Dir, "var/lib/dpkg"), "--force-script-chrootless", "-i"}, debs...)
	if out, err := exec.Command("dpkg", args...).CombinedOutput(); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
}

// Hold marks packages held, as apt-mark hold does.
func (r *Root) Hold(t testing.TB, names ...string) {
	t.Helper()
	cmd := exec.Command("dpkg", "--root="+r.Dir, "--admindir="+filepath.Join(r.Dir, "var/lib/dpkg"), "--set-selections")
	var sel strings.Builder
	for _, n := range names {
		sel.WriteString(n + " hold\n")
	}
	cmd.Stdin = strings.NewReader(sel.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg --set-selections: %v\n%s", err, out)
	}
}

// Sources lists suites of the repository in sources.list and runs
// apt-get update.
func (r *Root) Sources(t testing.TB, suites ...string) {
	t.Helper()
	var b strings.Builder
	for _, s := range suites {
		fmt.Fprintf(&b, "deb [trusted=yes] file://%s %s main\n", r.Repo, s)
	}
	if err := os.WriteFile(filepath.Join(r.Dir, "etc/apt/sources.list"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("apt-get", "-q", "update").CombinedOutput(); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
}

// Versions returns the installed version of every package in the root,
// as dpkg-query reports it.
func (r *Root) Versions(t testing.TB) map[string]string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "--admindir="+filepath.Join(r.Dir, "var/lib/dpkg"), "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\n").Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	v := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && strings.HasPrefix(f[2], "ii") || len(f) >= 3 && strings.HasPrefix(f[2], "hi") {
			v[f[0]] = f[1]
		}
	}
	return v
}

// DebFiles builds a package holding files (path under the root -> content)
// and returns its path.
func DebFiles(t testing.TB, dir, name, version string, files map[string]string) string {
	t.Helper()
	pkg := filepath.Join(dir, name+"_"+version)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(pkg, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(files[p]), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return Deb(t, dir, name, version)
}
