package ssh

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/testenv"
)

// TestScenariosFromFiles evaluates every scenario from its files alone, the
// path vigie takes when sshd -T cannot run.
func TestScenariosFromFiles(t *testing.T) {
	for _, name := range scenarioNames(t) {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			exp := installScenario(t, name, root, "/etc/ssh", root)
			env := &host.Env{Root: root, Proc: "/proc", Sys: "/sys", Cmd: host.Replay{}}
			opt := DefaultOptions()
			opt.Probe = false
			f := Gather(context.Background(), env, opt)
			if f.Source != "config files" {
				t.Fatalf("source %q, want config files (note %q)", f.Source, f.SourceNote)
			}
			assertFindings(t, Evaluate(f), exp)
		})
	}
}

// TestScenariosSshdT runs every scenario through the real `sshd -T`, so the
// expectations are checked against OpenSSH itself, not only against
// vigie's reading of the files.
func TestScenariosSshdT(t *testing.T) {
	testenv.Sshd(t)
	for _, name := range scenarioNames(t) {
		if unitOnly(name) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			sshdir := filepath.Join(dir, "etc", "ssh")
			exp := installScenario(t, name, dir, sshdir, "/")
			env := host.DefaultEnv()
			opt := DefaultOptions()
			opt.Probe = false
			opt.ConfigPath = filepath.Join(sshdir, "sshd_config")
			f := Gather(context.Background(), env, opt)
			if f.Source != "sshd -T" {
				t.Fatalf("source %q, want sshd -T (note %q)", f.Source, f.SourceNote)
			}
			assertFindings(t, Evaluate(f), exp)
			// The files-only reading must agree with sshd on every value the
			// rules use.
			fromFiles := FromFiles(f.Files)
			for _, k := range []string{"passwordauthentication", "kbdinteractiveauthentication", "pubkeyacceptedalgorithms", "ciphers", "macs", "kexalgorithms"} {
				if got, want := fromFiles.Get(k), f.Global.Get(k); got != want {
					t.Errorf("%s: from files %q, sshd -T %q", k, got, want)
				}
			}
			if got, want := fromFiles["hostkey"], f.Global["hostkey"]; !slices.Equal(got, want) {
				t.Errorf("hostkey: from files %q, sshd -T %q", got, want)
			}
		})
	}
}
