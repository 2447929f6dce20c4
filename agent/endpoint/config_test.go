package endpoint

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	ca := newAuthority(t, "ca")
	cert, key := ca.writeKeyPair(t, ca.issue(t, "host", false), "client")
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"https", Config{URL: "https://reports.example.com/v1/reports"}, true},
		{"https with port and query", Config{URL: "https://10.0.0.1:8443/r?fleet=a"}, true},
		{"http to 127.0.0.1", Config{URL: "http://127.0.0.1:8080/r"}, true},
		{"http to 127.1.2.3", Config{URL: "http://127.1.2.3/r"}, true},
		{"http to ::1", Config{URL: "http://[::1]:8080/r"}, true},
		{"http to localhost", Config{URL: "http://localhost:8080/r"}, true},
		{"http to LOCALHOST.", Config{URL: "http://LOCALHOST.:8080/r"}, true},
		{"http elsewhere", Config{URL: "http://reports.example.com/r"}, false},
		{"http to a name starting with localhost", Config{URL: "http://localhost.example.com/r"}, false},
		{"http to 0.0.0.0", Config{URL: "http://0.0.0.0/r"}, false},
		{"http to a private address", Config{URL: "http://10.0.0.1/r"}, false},
		{"other scheme", Config{URL: "ftp://reports.example.com/r"}, false},
		{"no scheme", Config{URL: "reports.example.com/r"}, false},
		{"no host", Config{URL: "https:///r"}, false},
		{"credentials in the URL", Config{URL: "https://user:pw@reports.example.com/r"}, false},
		{"no URL", Config{}, false},
		{"unparsable", Config{URL: "https://exa mple.com/%zz"}, false},
		{"mTLS pair", Config{URL: "https://h/", CertFile: cert, KeyFile: key}, true},
		{"certificate without key", Config{URL: "https://h/", CertFile: cert}, false},
		{"key without certificate", Config{URL: "https://h/", KeyFile: key}, false},
		{"key pair swapped", Config{URL: "https://h/", CertFile: key, KeyFile: cert}, false},
		{"CA file", Config{URL: "https://h/", CAFile: ca.caFile}, true},
		{"CA file missing", Config{URL: "https://h/", CAFile: filepath.Join(t.TempDir(), "nope")}, false},
		{"CA file not PEM", Config{URL: "https://h/", CAFile: notPEM}, false},
		{"negative timeout", Config{URL: "https://h/", Timeout: -time.Second}, false},
		{"negative attempts", Config{URL: "https://h/", MaxAttempts: -1}, false},
		{"backoffs inverted", Config{URL: "https://h/", MinBackoff: time.Minute, MaxBackoff: time.Second}, false},
		{"min backoff above the default max", Config{URL: "https://h/", MinBackoff: time.Hour}, true},
		{"user agent with a line break", Config{URL: "https://h/", UserAgent: "vigie\r\nX: y"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Errorf("New: %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "pw") {
				t.Errorf("error repeats the URL's password: %v", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := New(Config{URL: "https://h/"})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{URL: "https://h/", Timeout: DefaultTimeout, MaxAttempts: DefaultMaxAttempts,
		MinBackoff: DefaultMinBackoff, MaxBackoff: DefaultMaxBackoff, UserAgent: DefaultUserAgent}
	if c.cfg.Timeout != want.Timeout || c.cfg.MaxAttempts != want.MaxAttempts || c.cfg.MinBackoff != want.MinBackoff ||
		c.cfg.MaxBackoff != want.MaxBackoff || c.cfg.UserAgent != want.UserAgent {
		t.Errorf("defaults %+v", c.cfg)
	}
}

// TestToken covers the token file: rotation without restart, trimming,
// failures that keep the report queued, and that the token shows up in no
// error or warning, even when the receiver echoes it back.
func TestToken(t *testing.T) {
	const secret = "tok-9f8e7d6c5b4a"
	echo := func(int, received) answer { return answer{status: 200} }
	rc := &receiver{respond: func(n int, r received) answer { return echo(n, r) }}
	srv := newServer(t, rc)
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	var warnings []string
	c, _ := newClient(t, Config{URL: srv.URL, TokenFile: path, MaxAttempts: 2,
		Warn: func(m string) { warnings = append(warnings, m) }})
	send := func() error { return c.Send(context.Background(), "abc", gz(t, reportJSON("abc"))) }
	lastAuth := func() string {
		reqs := rc.requests()
		if len(reqs) == 0 {
			return ""
		}
		return reqs[len(reqs)-1].Auth
	}
	noSecret := func(what, s string) {
		t.Helper()
		if strings.Contains(s, secret[:8]) || strings.Contains(s, "rotated-") {
			t.Errorf("%s shows the token: %s", what, s)
		}
	}

	// Missing: not sent, not refused; the report waits.
	err := send()
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), path) || len(rc.requests()) != 0 {
		t.Errorf("missing token file: %v, %d requests", err, len(rc.requests()))
	}
	for _, bad := range []string{"", " \n", "two words", "ctl\x01char", "caf\xc3\xa9"} {
		writeToken(t, dir, bad, 0o600)
		err := send()
		if err == nil || IsPermanent(err) || len(rc.requests()) != 0 {
			t.Errorf("token %q: %v, %d requests", bad, err, len(rc.requests()))
		}
		if bad != "" && strings.TrimSpace(bad) != "" {
			noSecret("error", strings.ReplaceAll(err.Error(), path, ""))
			if strings.Contains(err.Error(), strings.TrimSpace(bad)) {
				t.Errorf("error quotes the token file: %v", err)
			}
		}
	}

	writeToken(t, dir, "  "+secret+"\n", 0o600)
	if err := send(); err != nil || lastAuth() != "Bearer "+secret {
		t.Fatalf("send: %v, Authorization %q", err, lastAuth())
	}
	writeToken(t, dir, "rotated-1\n", 0o600)
	if err := send(); err != nil || lastAuth() != "Bearer rotated-1" {
		t.Errorf("after rotation: %v, Authorization %q", err, lastAuth())
	}
	if len(warnings) != 0 {
		t.Errorf("warnings for a 0600 file: %q", warnings)
	}

	// Readable by others: used, warned about once per mode.
	for _, mode := range []os.FileMode{0o640, 0o640, 0o600, 0o644} {
		writeToken(t, dir, secret, mode)
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "0640") || !strings.Contains(warnings[1], "0644") {
		t.Errorf("warnings %q, want one for 0640 and one for 0644", warnings)
	}
	for _, w := range warnings {
		noSecret("warning", w)
	}

	// A receiver that echoes the request back in its refusal.
	writeToken(t, dir, secret, 0o600)
	// At maxErrorBody-20 the token starts inside the quoted 512 bytes and
	// ends after them.
	for _, pad := range []int{0, maxErrorBody - 20, maxErrorBody} {
		echo = func(_ int, r received) answer {
			return answer{status: 400, body: strings.Repeat("x", pad) + "got " + r.Auth}
		}
		err := send()
		if !IsPermanent(err) {
			t.Fatalf("echoing 400: %v", err)
		}
		noSecret("refusal", err.Error())
		if pad == 0 && !strings.Contains(err.Error(), "Bearer [redacted]") {
			t.Errorf("refusal %q", err)
		}
	}
}
