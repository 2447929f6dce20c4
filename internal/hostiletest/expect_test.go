package hostiletest

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestLeaks(t *testing.T) {
	m := "sk-live-0123456789abcdef0123456789abcdef"
	tests := []struct {
		name string
		data string
		leak bool
	}{
		{"whole", "reason: /home/u/.ssh/authorized_keys:1 " + m + "; more", true},
		{"cut to a width", "FAIL high ssh.authorized-keys ...:1 sk-live-0123...", true},
		{"the tail only", "...789abcdef0123456789abcdef", true},
		{"eleven characters", "sk-live-012", false},
		{"none", "1 unparsable line (23 bytes, sha256 0f1e2d3c)", false},
	}
	for _, tt := range tests {
		got := Leaks("out", []byte(tt.data), m)
		if (len(got) > 0) != tt.leak {
			t.Errorf("%s: %v, want a leak %v", tt.name, got, tt.leak)
		}
	}
	short := Leaks("out", []byte("a tag-x here"), "tag-x")
	if len(short) != 1 {
		t.Errorf("a marker shorter than the window: %v", short)
	}
	if got := Leaks("out", []byte("\x1b[2J"+m), m); len(got) != 1 || strings.ContainsRune(got[0], 0x1b) {
		t.Errorf("the message must be safe to print: %q", got)
	}
}

func TestControlBytes(t *testing.T) {
	tests := []struct {
		name string
		data string
		bad  int // lines
	}{
		{"plain", "STATUS  CHECK\nFAIL    ssh.password-auth\n", 0},
		{"UTF-8 text", "zone fr-par-1 é ü 日本\n", 0},
		{"invalid UTF-8 but not a control", "vh-\xff\xfe home\n", 0},
		{"ESC", "key = ssh-ed25519 \x1b[2J\n", 1},
		{"BEL and CR", "a\x07b\rc\n", 1},
		{"TAB", "PASS\tmedium\n", 1},
		{"DEL", "x\x7f\n", 1},
		{"8-bit CSI", "x \x9b2J\n", 1},
		{"C1 in UTF-8", "x \u009b2J\n", 1},
		{"two lines", "\x1b[1A\nok\n\x1b[2K\n", 2},
	}
	for _, tt := range tests {
		got := ControlBytes([]byte(tt.data))
		if len(got) != tt.bad {
			t.Errorf("%s: %q, want %d line(s)", tt.name, got, tt.bad)
		}
		for _, g := range got {
			if len(ControlBytes([]byte(g))) > 0 {
				t.Errorf("%s: the description itself holds control bytes: %q", tt.name, g)
			}
		}
	}
}

func TestCatV(t *testing.T) {
	if got, want := CatV([]byte("a\x1b[2J\x07\r\x7f\x9b\xff\n")), "a^[[2J^G^M^?M-^[M-^?\n"; got != want {
		t.Errorf("CatV = %q, want %q", got, want)
	}
}

func TestExpectProblems(t *testing.T) {
	kf := "/home/vh-escapes/.ssh/authorized_keys"
	ev := func(file, value string, ok bool) Evidence {
		v, _ := json.Marshal(value)
		return Evidence{Subject: "vh-escapes", Key: "key", File: file, Value: v, OK: ok}
	}
	good := Report{Findings: []Finding{
		{ID: "ssh.password-auth", Status: "fail"},
		{ID: AuthorizedKeys, Status: "fail", Reason: "1 problem(s): " + kf + ":2 ssh-rsa",
			Evidence: []Evidence{ev(kf, "ssh-ed25519 \\x1b[2J", true), ev(kf, "ssh-rsa rsa-key-vh", false)}},
		{ID: InputDeny, Status: "fail"},
		{ID: Exposed, Status: "fail", Reason: "reachable: tcp 0.0.0.0:2024, tcp 0.0.0.0:41234 (\\x1b[2J, pid 7)"},
	}}
	exp := Expect{Checks: []string{"ssh.password-auth", AuthorizedKeys}, KeyFile: kf, Port: 41234}
	if p := exp.Problems(good); len(p) != 0 {
		t.Errorf("a good report: %v", p)
	}
	bad := Report{Findings: []Finding{
		{ID: AuthorizedKeys, Status: "error", Reason: "area ssh crashed: runtime error"},
		{ID: "access.uid0-only-root", Status: "error", Reason: "area access did not finish within 10s"},
		{ID: InputDeny, Status: "fail"},
		{ID: Exposed, Status: "fail", Reason: "reachable: tcp 0.0.0.0:412345"},
	}}
	want := []string{"crashed", "did not finish", "ssh.password-auth is missing", "does not name " + kf,
		"no passing ssh-ed25519", "no failing ssh-rsa", "does not list the listener on 0.0.0.0:41234"}
	got := strings.Join(exp.Problems(bad), "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("problems lack %q:\n%s", w, got)
		}
	}
	// Behind a default-deny firewall the listener need not be listed.
	bad.Findings[2].Status = "pass"
	if got := strings.Join(exp.Problems(bad), "\n"); strings.Contains(got, "listener") {
		t.Errorf("default-deny input, yet: %s", got)
	}
}
