package ssh

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/host"
)

func BenchmarkParseSshdT(b *testing.B) {
	data, err := os.ReadFile("testdata/sshd-T/debian12-default.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseSshdT(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAuthorizedKeys(b *testing.B) {
	data, err := os.ReadFile("testdata/authorized_keys/mixed")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		ParseAuthorizedKeys(data)
	}
}

// BenchmarkGatherFromFiles is the whole area minus sshd -T and the probe:
// config files with Includes, host keys, accounts and rules.
func BenchmarkGatherFromFiles(b *testing.B) {
	root := b.TempDir()
	t := &testing.T{}
	installScenario(t, "debian-default", root, "/etc/ssh", root)
	env := &host.Env{Root: root, Proc: "/proc", Sys: "/sys", Cmd: host.Replay{}}
	opt := DefaultOptions()
	opt.Probe = false
	for b.Loop() {
		Evaluate(Gather(context.Background(), env, opt))
	}
}

func BenchmarkRules(b *testing.B) {
	data, err := os.ReadFile("testdata/sshd-T/debian12-default.txt")
	if err != nil {
		b.Fatal(err)
	}
	s, err := ParseSshdT(data)
	if err != nil {
		b.Fatal(err)
	}
	f := &Facts{Installed: true, Source: "sshd -T", Global: s, ProbeOff: true}
	for b.Loop() {
		Evaluate(f)
	}
}

// BenchmarkProbe measures one live probe of the sshd listening on
// 127.0.0.1:22, when there is one: a TCP connection, a key exchange and the
// "none" authentication request.
func BenchmarkProbe(b *testing.B) {
	if r := Probe(context.Background(), "127.0.0.1:22", "root", 2*time.Second); r.AuthMethods == nil {
		b.Skipf("no sshd answering on 127.0.0.1:22: %s", r.Err)
	}
	for b.Loop() {
		Probe(context.Background(), "127.0.0.1:22", "root", 2*time.Second)
	}
}
