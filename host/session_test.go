package host

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestOverSSH: a process under a parent named sshd-session (OpenSSH 10's
// session process) is in an SSH session, whatever its environment says;
// a process without such an ancestor and without SSH_CONNECTION is not.
func TestOverSSH(t *testing.T) {
	if os.Getenv("VIGIE_OVERSSH_CHILD") != "" {
		if OverSSH("/proc") {
			os.Stdout.WriteString("over ssh\n")
		} else {
			os.Stdout.WriteString("local\n")
		}
		return
	}
	t.Setenv("SSH_CONNECTION", "")
	os.Unsetenv("SSH_CONNECTION")
	if OverSSH("/proc") {
		t.Skip("this test itself runs in an SSH session")
	}
	// The child runs through a copy of sh named sshd-session, so its
	// parent's comm is that name, as under sshd.
	dir := t.TempDir()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sh)
	if err != nil {
		t.Fatal(err)
	}
	fake := dir + "/sshd-session"
	if err := os.WriteFile(fake, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		shell, want string
	}{{sh, "local"}, {fake, "over ssh"}} {
		// "; true" keeps the shell as the parent instead of exec'ing.
		cmd := exec.Command(tt.shell, "-c", `"$0" -test.run=^TestOverSSH$; true`, os.Args[0])
		cmd.Env = append(os.Environ(), "VIGIE_OVERSSH_CHILD=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", tt.shell, err)
		}
		if got := strings.SplitN(string(out), "\n", 2)[0]; got != tt.want {
			t.Errorf("under %s: %q, want %q", tt.shell, got, tt.want)
		}
	}
}
