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
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/internal/otelcoltest"
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
	// The OpenTelemetry Collector, on the host, behind the same address and
	// certificate, requiring Cockpit's kind of token header.
	otlpToken := "vmtest-otlp-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	certFile, keyFile := writeTLSFiles(t, tlsCfg)
	col := otelcoltest.Start(t, otelcoltest.WithTLS(certFile, keyFile), otelcoltest.WithHeader("X-Token", otlpToken))
	colPort, err := strconv.Atoi(col.Endpoint()[strings.LastIndexByte(col.Endpoint(), ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	g := bootGuest(t, "service", "packaging/cloud-init/package.yaml", packagePlaceholder, artifact(t, "VIGIE_DEB", "dist/vigie_*_amd64.deb"),
		vmConfig{GuestFwd: map[string]int{endpointAddr + ":443": rcv.port, endpointAddr + ":4318": colPort}})
	port, key, sh := g.port, g.key, g.sh
	if out := sh("sudo systemctl is-enabled vigie; sudo systemctl is-active vigie", nil); out != "enabled\nactive\n" {
		t.Fatalf("vigie.service after the package install: %q\n%s", out, sh("sudo systemctl status vigie --no-pager -l || true", nil))
	}
	luksDisk := prepareSandboxProbe(g)
	sh("sudo install -m 0644 /dev/stdin /etc/vigie/ca.pem", caPEM)
	sh("sudo install -m 0600 /dev/stdin /etc/vigie/token", []byte(rcv.token+"\n"))
	sh("sudo install -m 0600 /dev/stdin /etc/vigie/otlp-token", []byte(otlpToken+"\n"))
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
  otlp:
    endpoint: https://%s:4318
    header_files:
      X-Token: /etc/vigie/otlp-token
    ca_file: /etc/vigie/ca.pem
    timeout: 10s
`, endpointAddr, endpointAddr)
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
	checkOTLP(t, g, col, waitFor)

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

// writeTLSFiles writes the endpoint's certificate and key as PEM files,
// for the collector to serve.
func writeTLSFiles(t *testing.T, cfg *tls.Config) (certFile, keyFile string) {
	t.Helper()
	c := cfg.Certificates[0]
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// otlpFinding is one log record the collector wrote.
type otlpFinding struct{ check, status, change, kind, report string }

func otlpFindings(col *otelcoltest.Collector) []otlpFinding {
	var out []otlpFinding
	for _, rl := range col.Logs() {
		for _, sl := range rl.ScopeLogs {
			for _, lr := range sl.LogRecords {
				a := func(k string) string { return otelcoltest.Attr(lr.Attributes, k).GetStringValue() }
				out = append(out, otlpFinding{a("vigie.check.id"), a("vigie.check.status"), a("vigie.change"), a("vigie.report.kind"), a("vigie.report.id")})
			}
		}
	}
	return out
}

// checkOTLP: the service, given an OTLP collector by a reload, sends it the
// whole report first (the section changed), then only what changes: an
// account with an empty password, planted, is a failing finding within a
// cycle, and its removal a resolved one. The metrics come every cycle,
// with the host as the resource.
func checkOTLP(t *testing.T, g *guest, col *otelcoltest.Collector, waitFor func(string, time.Duration, func() bool)) {
	t.Helper()
	find := func(check, change string) bool {
		for _, f := range otlpFindings(col) {
			if f.check == check && f.change == change && f.kind == "changes" {
				return true
			}
		}
		return false
	}
	waitFor("a full report at the collector", 3*time.Minute, func() bool {
		for _, f := range otlpFindings(col) {
			if f.kind == "full" && f.check == "ssh.password-auth" {
				return true
			}
		}
		return false
	})
	g.sh("sudo useradd -M -s /bin/bash vigie-otlp-probe && sudo passwd -d vigie-otlp-probe >/dev/null", nil)
	planted := time.Now()
	waitFor("the planted account as a failing change", 2*time.Minute, func() bool { return find("access.empty-passwords", "failing") })
	t.Logf("planted fault at the collector %s later", time.Since(planted).Round(time.Second))
	g.sh("sudo userdel vigie-otlp-probe", nil)
	waitFor("its removal as a resolved change", 2*time.Minute, func() bool { return find("access.empty-passwords", "resolved") })
	// Changes only between full reports: no report repeats what did not change.
	byReport := map[string]int{}
	for _, f := range otlpFindings(col) {
		if f.kind == "changes" {
			byReport[f.report]++
		}
	}
	for id, n := range byReport {
		if n > 3 {
			t.Errorf("changes report %s has %d records", id, n)
		}
	}
	hosts := map[string]bool{}
	for _, rm := range col.Metrics() {
		hosts[otelcoltest.Attr(rm.Resource.Attributes, "host.name").GetStringValue()+" "+otelcoltest.Attr(rm.Resource.Attributes, "os.version").GetStringValue()] = true
	}
	if len(hosts) != 1 || otelcoltest.CountDataPoints(col.Metrics()) < 11 {
		t.Errorf("metrics from hosts %v, %d points", hosts, otelcoltest.CountDataPoints(col.Metrics()))
	}
}
