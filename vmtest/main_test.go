//go:build vmtest

package vmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	// qemu runs this binary once per guest connection to 10.0.2.100:80.
	if port, ok := strings.CutPrefix(filepath.Base(os.Args[0]), relayPrefix); ok {
		os.Exit(relayGuestFwd("127.0.0.1:" + port))
	}
	if target := os.Getenv(guestFwdEnv); target != "" {
		os.Exit(relayGuestFwd(target))
	}
	os.Exit(m.Run())
}

// needTools fails the test when a host tool is missing: vmtest/ci-deps.sh
// installs all of them.
func needTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img", "mmdebstrap", "genisoimage", "mkfs.ext4", "ssh", "ssh-keyscan", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: run vmtest/ci-deps.sh", tool)
		}
	}
}
