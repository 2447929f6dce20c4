//go:build vmtest

package vmtest

import (
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/internal/testenv"
)

// endpointAddr is where the guest reaches the test receiver.
const endpointAddr = "10.0.2.101"

// receiver is a report endpoint on a fixed host loopback port, that can be
// stopped and started again: what a fleet's collector looks like to vigie.
type receiver struct {
	port   int
	tlsCfg *tls.Config
	token  string
	mu     sync.Mutex
	srv    *http.Server
	got    []received
}

type received struct {
	ID, Key, Auth, Encoding string
	StartedAt               time.Time
	Dropped                 int
	Body                    []byte // the report, decompressed
	Findings                []finding
}

func (r *receiver) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(r.port))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{TLSConfig: r.tlsCfg, Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 10 * time.Second}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.ServeTLS(ln, "", "") }()
}

func (r *receiver) stop() {
	r.mu.Lock()
	srv := r.srv
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/reports" {
		http.Error(w, "no", http.StatusNotFound)
		return
	}
	zr, err := gzip.NewReader(req.Body)
	if err != nil {
		http.Error(w, "not gzip", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		http.Error(w, "bad gzip", http.StatusBadRequest)
		return
	}
	var rep struct {
		ID        string    `json:"id"`
		StartedAt time.Time `json:"started_at"`
		Delivery  *struct {
			Dropped int `json:"dropped_reports"`
		} `json:"delivery"`
		Findings []finding `json:"findings"`
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	rc := received{ID: rep.ID, Key: req.Header.Get("Idempotency-Key"), Auth: req.Header.Get("Authorization"),
		Encoding: req.Header.Get("Content-Encoding"), StartedAt: rep.StartedAt, Body: body, Findings: rep.Findings}
	if rep.Delivery != nil {
		rc.Dropped = rep.Delivery.Dropped
	}
	r.mu.Lock()
	r.got = append(r.got, rc)
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (r *receiver) reports() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// newEndpointTLS makes a CA and a server certificate for the address the
// guest dials; it returns the server's TLS configuration and the CA in PEM.
func newEndpointTLS(t *testing.T) (*tls.Config, []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vigie vmtest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: endpointAddr},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP(endpointAddr)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// TestServiceReports: the package's vigie.service, pointed at a receiver on
// the host (through qemu's guestfwd) by a configuration reload, reports
// every cycle; with the receiver down the reports wait in the spool, and
// once it is back every one of them arrives, once, in order. Its sandbox
// costs no finding (checkServiceSandbox). Then real accounts plant every
// trick of scripts/hostile-home.sh, and the service must keep reporting,
// bounded, without leaking (hostile_test.go).
func TestServiceReports(t *testing.T) {
	tlsCfg, caPEM := newEndpointTLS(t)
	rcv := &receiver{port: testenv.FreePort(t), tlsCfg: tlsCfg, token: "vmtest-token-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	rcv.start(t)
	defer rcv.stop()
	g := bootGuest(t, "service", "packaging/cloud-init/package.yaml", packagePlaceholder, artifact(t, "VIGIE_DEB", "dist/vigie_*_amd64.deb"),
		vmConfig{GuestFwd: map[string]int{endpointAddr + ":443": rcv.port}})
	port, key, sh := g.port, g.key, g.sh
	if out := sh("sudo systemctl is-enabled vigie; sudo systemctl is-active vigie", nil); out != "enabled\nactive\n" {
		t.Fatalf("vigie.service after the package install: %q\n%s", out, sh("sudo systemctl status vigie --no-pager -l || true", nil))
	}
	luksDisk := prepareSandboxProbe(g)
	sh("sudo install -m 0644 /dev/stdin /etc/vigie/ca.pem", caPEM)
	sh("sudo install -m 0600 /dev/stdin /etc/vigie/token", []byte(rcv.token+"\n"))
	conf := fmt.Sprintf(`run:
  interval: 15s
  jitter: 0s
report:
  textfile: /var/lib/prometheus/node-exporter/vigie.prom
  endpoint:
    url: https://%s/v1/reports
    token_file: /etc/vigie/token
    ca_file: /etc/vigie/ca.pem
    timeout: 10s
`, endpointAddr)
	sh("sudo tee -a /etc/vigie/vigie.yaml >/dev/null", []byte(conf))
	sh("sudo systemctl reload vigie", nil)

	waitFor := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s\n%s", what, within, sh("sudo journalctl -u vigie --no-pager -n 40 || true", nil))
			}
			time.Sleep(2 * time.Second)
		}
	}
	waitFor("two reports delivered", 4*time.Minute, func() bool { return len(rcv.reports()) >= 2 })

	// The endpoint goes away for several cycles.
	rcv.stop()
	before := len(rcv.reports())
	spooled := func() int {
		out, _ := guestSSH(port, key, time.Minute, "sudo find /var/lib/vigie/spool -maxdepth 1 -type f -name '*.json.gz' | wc -l", nil)
		n, _ := strconv.Atoi(strings.TrimSpace(out))
		return n
	}
	waitFor("three reports spooled while the endpoint is down", 4*time.Minute, func() bool { return spooled() >= 3 })
	if prom := sh("cat /var/lib/prometheus/node-exporter/vigie.prom", nil); !strings.Contains(prom, "vigie_spool_reports ") || strings.Contains(prom, "vigie_spool_reports 0\n") {
		t.Errorf("textfile while the endpoint is down:\n%s", prom)
	}
	rcv.start(t)
	waitFor("the spool drained", 4*time.Minute, func() bool { return spooled() == 0 && len(rcv.reports()) > before+3 })

	// Every report the service made, as its journal summaries name them, up
	// to the last one received, arrived exactly once and in order.
	var made []string
	for _, l := range strings.Split(strings.TrimSpace(sh("sudo journalctl -t vigie VIGIE_SUMMARY=1 -o json --no-pager", nil)), "\n") {
		var e struct {
			ID string `json:"VIGIE_REPORT_ID"`
		}
		if json.Unmarshal([]byte(l), &e) == nil && e.ID != "" {
			made = append(made, e.ID)
		}
	}
	got := rcv.reports()
	var ids []string
	seen := map[string]bool{}
	for i, r := range got {
		if seen[r.ID] {
			t.Errorf("report %s delivered twice", r.ID)
		}
		seen[r.ID] = true
		ids = append(ids, r.ID)
		if r.Key != r.ID || r.Auth != "Bearer "+rcv.token || r.Encoding != "gzip" {
			t.Errorf("report %s: Idempotency-Key %q, Authorization %q, Content-Encoding %q", r.ID, r.Key, r.Auth, r.Encoding)
		}
		if i > 0 && r.StartedAt.Before(got[i-1].StartedAt) {
			t.Errorf("report %s (%s) arrived after a newer one (%s)", r.ID, r.StartedAt, got[i-1].StartedAt)
		}
	}
	last := slices.Index(made, ids[len(ids)-1])
	if last < 0 {
		t.Fatalf("the last report received (%s) is not in the journal: %v", ids[len(ids)-1], made)
	}
	first := slices.Index(made, ids[0])
	for _, id := range made[first : last+1] {
		if !seen[id] {
			t.Errorf("report %s was made but never arrived", id)
		}
	}
	t.Logf("%d reports made, %d received, %d of them once the endpoint was back", last-first+1, len(ids), len(ids)-before)

	if out := sh("sudo systemctl is-active vigie; sudo journalctl -t vigie VIGIE_CHECK_ID=ssh.password-auth -o json --no-pager -n 1", nil); !strings.HasPrefix(out, "active\n") ||
		!strings.Contains(out, `"VIGIE_STATUS":"fail"`) || !strings.Contains(out, `"VIGIE_SEVERITY":"high"`) {
		t.Errorf("service state and journal entries:\n%s", out)
	}
	checkServiceSandbox(t, g, got[len(got)-1].Findings, luksDisk)

	// The same boot: local users turn hostile.
	checkHostileService(t, g, rcv, plantHostileHomes(t, g, rcv))
}
