package disks

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/internal/testenv"
)

// TestLUKSVersionReal formats image files with the real cryptsetup and
// reads their headers back.
func TestLUKSVersionReal(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	if _, err := exec.LookPath("cryptsetup"); err != nil {
		testenv.Missing(t, "needs cryptsetup (apt-get install cryptsetup-bin)")
	}
	for _, v := range []int{1, 2} {
		img := filepath.Join(t.TempDir(), "disk.img")
		if err := os.WriteFile(img, make([]byte, 32<<20), 0o600); err != nil {
			t.Fatal(err)
		}
		key := filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(key, []byte("test key material"), 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"luksFormat", "--batch-mode", "--type", "luks" + string(rune('0'+v)), "--key-file", key,
			"--pbkdf-force-iterations", "1000", img}
		if v == 2 {
			args = append(args[:len(args)-1], "--pbkdf", "pbkdf2", img)
		}
		if out, err := exec.Command("cryptsetup", args...).CombinedOutput(); err != nil {
			if strings.Contains(string(out), "loop") || strings.Contains(string(out), "device-mapper") {
				testenv.Missing(t, "cryptsetup cannot format here: %s", out)
			}
			t.Fatalf("cryptsetup %v: %v\n%s", args, err, out)
		}
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		got, err := LUKSVersion(f)
		f.Close()
		if err != nil || got != v {
			t.Errorf("LUKS%d image read as %d, %v", v, got, err)
		}
	}
}

func TestLUKSVersionBytes(t *testing.T) {
	tests := []struct {
		in   []byte
		want int
		err  bool
	}{
		{append([]byte("LUKS\xba\xbe"), 0, 2), 2, false},
		{append([]byte("LUKS\xba\xbe"), 0, 1), 1, false},
		{append([]byte("LUKS\xba\xbe"), 0, 9), 0, true},
		{make([]byte, 512), 0, false},
		{[]byte("LU"), 0, false},
		{[]byte("SKUL\xba\xbe\x00\x02"), 0, false},
	}
	for _, tt := range tests {
		got, err := LUKSVersion(bytes.NewReader(tt.in))
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("%q: %d %v", tt.in, got, err)
		}
	}
}

func FuzzLUKSVersion(f *testing.F) {
	f.Add(append([]byte("LUKS\xba\xbe"), 0, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := LUKSVersion(bytes.NewReader(b))
		if err == nil && v != 0 && !bytes.HasPrefix(b, luksMagic) {
			t.Fatalf("version %d without the magic", v)
		}
	})
}
