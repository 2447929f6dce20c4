package ssh

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/host/hostfs"

	xssh "golang.org/x/crypto/ssh"

	"github.com/vigie-agent/vigie/checks"
)

// expectation is one line of a scenario's expect file:
// "CHECK-ID STATUS [FILE:LINE]", FILE:LINE naming evidence that must appear.
type expectation struct {
	id, status, where string
}

// installScenario copies testdata/scenarios/NAME into dst, replacing
// @SSHDIR@ with sshdir, and generates a private key for every HostKey line
// (its type from the file name). It returns the expectations.
func installScenario(t *testing.T, name, dst, sshdir string, hostKeyRoot string) []expectation {
	t.Helper()
	src := filepath.Join("testdata", "scenarios", name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "expect" || rel == "unit-only" {
			return nil
		}
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, []byte(strings.ReplaceAll(string(b), "@SSHDIR@", sshdir)), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfigFiles(context.Background(), hostfs.FS{Root: hostKeyRoot}, filepath.Join(sshdir, "sshd_config"), sshdir)
	if err != nil {
		t.Fatalf("scenario %s: %v", name, err)
	}
	for _, d := range cfg.Global {
		if d.Keyword == "hostkey" {
			writeHostKey(t, filepath.Join(hostKeyRoot, d.Value()))
		}
	}
	b, err := os.ReadFile(filepath.Join(src, "expect"))
	if err != nil {
		t.Fatal(err)
	}
	var exp []expectation
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(string(b), "@SSHDIR@", sshdir)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		e := expectation{id: f[0], status: f[1]}
		if len(f) > 2 {
			e.where = f[2]
		}
		exp = append(exp, e)
	}
	return exp
}

// writeHostKey writes an OpenSSH private key and its .pub, of the type the
// file name says, as ssh-keygen -A would name them.
func writeHostKey(t *testing.T, path string) {
	t.Helper()
	var key any
	var err error
	switch {
	case strings.Contains(path, "ed25519"):
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case strings.Contains(path, "ecdsa"):
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	block, err := xssh.MarshalPrivateKey(key, "test host key")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := xssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".pub", xssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// assertFindings compares findings with a scenario's expectations.
func assertFindings(t *testing.T, got []checks.Finding, exp []expectation) {
	t.Helper()
	byID := map[string]checks.Finding{}
	for _, f := range got {
		byID[f.ID] = f
	}
	for _, e := range exp {
		f, ok := byID[e.id]
		if !ok {
			t.Errorf("%s: no finding", e.id)
			continue
		}
		if string(f.Status) != e.status {
			t.Errorf("%s: status %s, want %s (reason: %s)", e.id, f.Status, e.status, f.Reason)
		}
		if e.where == "" {
			continue
		}
		found := false
		var seen []string
		for _, ev := range f.Evidence {
			w := ev.File + ":" + strconv.Itoa(ev.Line)
			seen = append(seen, w)
			if w == e.where {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no evidence at %s (have %v)", e.id, e.where, seen)
		}
	}
}

func scenarioNames(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join("testdata", "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

func unitOnly(name string) bool {
	_, err := os.Stat(filepath.Join("testdata", "scenarios", name, "unit-only"))
	return err == nil
}
