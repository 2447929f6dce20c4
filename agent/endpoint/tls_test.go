package endpoint

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServerTrust sends to httptest's TLS server: only a client that trusts
// its certificate through the CA file may deliver, and a failed
// verification is neither retried nor a refusal of the report.
func TestServerTrust(t *testing.T) {
	rc := &receiver{}
	srv := newTLSServer(t, rc)
	dir := t.TempDir()
	srvCA := writePEM(t, filepath.Join(dir, "server.pem"), "CERTIFICATE", srv.Certificate().Raw)
	other := newAuthority(t, "some other CA")
	tests := []struct {
		name   string
		caFile string
		ok     bool
	}{
		{"CA file of the server", srvCA, true},
		{"system roots", "", false},
		{"another CA only", other.caFile, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(rc.requests())
			c, sl := newClient(t, Config{URL: srv.URL, CAFile: tt.caFile, MaxAttempts: 3})
			err := c.Send(context.Background(), "abc123", gz(t, reportJSON("abc123")))
			if (err == nil) != tt.ok {
				t.Fatalf("Send: %v, want ok=%v", err, tt.ok)
			}
			if tt.ok {
				if got := len(rc.requests()) - before; got != 1 {
					t.Errorf("%d requests arrived", got)
				}
				return
			}
			if IsPermanent(err) {
				t.Errorf("untrusted server taken as a refusal of the report: %v", err)
			}
			if !strings.Contains(err.Error(), "certificate") || len(sl.all()) != 0 {
				t.Errorf("want one attempt failing on the certificate; waits %v, error %v", sl.all(), err)
			}
		})
	}
}

// TestMutualTLS runs a server that demands a client certificate from the
// test CA and trusts only that CA on the client side.
func TestMutualTLS(t *testing.T) {
	ca := newAuthority(t, "vigie test CA")
	rc := &receiver{}
	srv := newMTLSServer(t, ca, rc)
	goodCert, goodKey := ca.writeKeyPair(t, ca.issue(t, "host-1", false), "client")
	rogue := newAuthority(t, "rogue CA")
	rogueCert, rogueKey := rogue.writeKeyPair(t, rogue.issue(t, "host-1", false), "client")
	tests := []struct {
		name            string
		certFile, keyFy string
		ok              bool
	}{
		{"certificate presented", goodCert, goodKey, true},
		{"no certificate", "", "", false},
		{"certificate of another CA", rogueCert, rogueKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(rc.requests())
			c, _ := newClient(t, Config{URL: srv.URL, CAFile: ca.caFile, CertFile: tt.certFile, KeyFile: tt.keyFy, MaxAttempts: 2})
			err := c.Send(context.Background(), "abc123", gz(t, reportJSON("abc123")))
			if (err == nil) != tt.ok {
				t.Fatalf("Send: %v, want ok=%v", err, tt.ok)
			}
			reqs := rc.requests()[before:]
			if tt.ok && (len(reqs) != 1 || reqs[0].ClientCN != "host-1") {
				t.Errorf("server saw %+v", reqs)
			}
			if !tt.ok && (len(reqs) != 0 || IsPermanent(err)) {
				t.Errorf("requests %+v, error %v", reqs, err)
			}
		})
	}
}

// TestClientCertificateReload renews the client certificate on disk: the
// next connection presents the new one; a broken file keeps the old one
// in use, with a warning.
func TestClientCertificateReload(t *testing.T) {
	ca := newAuthority(t, "vigie test CA")
	rc := &receiver{}
	srv := newMTLSServer(t, ca, rc)
	certFile, keyFile := ca.writeKeyPair(t, ca.issue(t, "first", false), "client")
	var warnings []string
	c, _ := newClient(t, Config{URL: srv.URL, CAFile: ca.caFile, CertFile: certFile, KeyFile: keyFile,
		Warn: func(m string) { warnings = append(warnings, m) }})
	send := func() string {
		t.Helper()
		c.http.CloseIdleConnections() // a new handshake
		if err := c.Send(context.Background(), "abc123", gz(t, reportJSON("abc123"))); err != nil {
			t.Fatal(err)
		}
		reqs := rc.requests()
		return reqs[len(reqs)-1].ClientCN
	}
	if cn := send(); cn != "first" {
		t.Errorf("presented %q", cn)
	}
	ca.writeKeyPair(t, ca.issue(t, "renewed", false), "client")
	if cn := send(); cn != "renewed" {
		t.Errorf("after renewal presented %q", cn)
	}
	if err := os.WriteFile(keyFile, []byte("half written"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cn := send(); cn != "renewed" {
		t.Errorf("with a broken key file presented %q", cn)
	}
	send()
	if len(warnings) != 1 || !strings.Contains(warnings[0], certFile) {
		t.Errorf("warnings %q, want one naming %s", warnings, certFile)
	}
}

// TestCAFileIsTheOnlyTrust checks that the pool built from CAFile holds
// that CA alone, and that TLS 1.2 is the floor.
func TestCAFileIsTheOnlyTrust(t *testing.T) {
	ca := newAuthority(t, "pinned")
	c, _ := newClient(t, Config{URL: "https://127.0.0.1:1", CAFile: ca.caFile})
	cfg := c.http.Transport.(*http.Transport).TLSClientConfig
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("minimum version %x", cfg.MinVersion)
	}
	if cfg.RootCAs == nil || !cfg.RootCAs.Equal(ca.pool) {
		t.Error("RootCAs is not exactly the CA file")
	}
	// A file with something else than certificates is refused.
	bad := writePEM(t, filepath.Join(t.TempDir(), "key.pem"), "PRIVATE KEY", []byte("x"))
	if _, err := New(Config{URL: "https://127.0.0.1:1", CAFile: bad}); err == nil {
		t.Error("CA file without a certificate accepted")
	}
}
