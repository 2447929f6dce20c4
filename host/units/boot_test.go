package units

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestExecQuote(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
		err  bool
	}{
		{argv: []string{"/usr/bin/vigie", "undo", "--unconfirmed", "r1"}, want: `"/usr/bin/vigie" "undo" "--unconfirmed" "r1"`},
		{argv: []string{"/opt/my vigie/vigie", "--config", `/etc/a"b\c$HOME%n`}, want: `"/opt/my vigie/vigie" "--config" "/etc/a\"b\\c$$HOME%%n"`},
		{argv: []string{"/bin/x", "a\nExecStartPre=/bin/evil"}, err: true},
		{argv: []string{"/bin/x", ""}, err: true},
	} {
		got, err := ExecQuote(tc.argv)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ExecQuote(%q) = %q, %v; want %q, error %v", tc.argv, got, err, tc.want, tc.err)
		}
	}
}

// TestBootJob: the unit InstallBootJob leaves is one systemd accepts,
// enabled as systemctl enable would, and RemoveBootJob leaves nothing.
func TestBootJob(t *testing.T) {
	dir := t.TempDir()
	j := BootJob{Name: "vigie-window-r1.service", Description: "undo run r1", After: []string{"ssh.service", "nftables.service"},
		Argv: []string{"/bin/true", "--config", "/etc/vigie/my config.yaml", "r1"}, Comment: "Left by a test.\nRemoved by it."}
	if err := InstallBootJob(dir, j); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, j.Name))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Left by a test.\n# Removed by it.\n", "After=ssh.service nftables.service\n", "Type=simple\n",
		`ExecStart="/bin/true" "--config" "/etc/vigie/my config.yaml" "r1"` + "\n", "WantedBy=multi-user.target\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("unit lacks %q:\n%s", want, b)
		}
	}
	link := filepath.Join(dir, "multi-user.target.wants", j.Name)
	if got, err := os.Readlink(link); err != nil || got != filepath.Join(dir, j.Name) {
		t.Errorf("wants link: %q, %v", got, err)
	}
	// systemd's own reading of it.
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", filepath.Join(dir, j.Name)).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s\n%s", err, out, b)
	}
	if names, err := BootJobs(dir, "vigie-window-"); err != nil || len(names) != 1 || names[0] != j.Name {
		t.Errorf("BootJobs: %q, %v", names, err)
	}
	if err := RemoveBootJob(dir, j.Name); err != nil {
		t.Fatal(err)
	}
	if err := RemoveBootJob(dir, j.Name); err != nil {
		t.Errorf("removing a job already gone: %v", err)
	}
	for _, p := range []string{link, filepath.Join(dir, j.Name)} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s is left: %v", p, err)
		}
	}
	if err := InstallBootJob(dir, BootJob{Name: "../x.service", Argv: []string{"/bin/true"}}); err == nil {
		t.Error("a name with a slash was accepted")
	}
}
