package otelcoltest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"
	metricsv1 "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

var unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// lines splits the output into its complete lines. A last line without its
// newline is one being written: dropped while the collector runs, an error
// once it has stopped.
func lines(b []byte, running bool) ([][]byte, error) {
	ls := bytes.Split(b, []byte("\n"))
	last := ls[len(ls)-1]
	ls = ls[:len(ls)-1]
	if len(last) > 0 && !running {
		return nil, fmt.Errorf("line %d has no newline and the collector has stopped: %.200q", len(ls)+1, last)
	}
	return ls, nil
}

func decodeLines(b []byte, running bool, decode func([]byte) error) error {
	ls, err := lines(b, running)
	if err != nil {
		return err
	}
	for i, l := range ls {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if err := decode(l); err != nil {
			return fmt.Errorf("line %d: %v: %.200q", i+1, err, l)
		}
	}
	return nil
}

func decodeLogs(b []byte, running bool) ([]*logsv1.ResourceLogs, error) {
	var out []*logsv1.ResourceLogs
	err := decodeLines(b, running, func(l []byte) error {
		var d logsv1.LogsData
		if err := unmarshal.Unmarshal(l, &d); err != nil {
			return err
		}
		for _, rl := range d.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, r := range sl.LogRecords {
					if err := fixIDs(&r.TraceId, &r.SpanId); err != nil {
						return err
					}
				}
			}
		}
		out = append(out, d.ResourceLogs...)
		return nil
	})
	return out, err
}

func decodeMetrics(b []byte, running bool) ([]*metricsv1.ResourceMetrics, error) {
	var out []*metricsv1.ResourceMetrics
	err := decodeLines(b, running, func(l []byte) error {
		var d metricsv1.MetricsData
		if err := unmarshal.Unmarshal(l, &d); err != nil {
			return err
		}
		for _, rm := range d.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if err := fixExemplars(m); err != nil {
						return err
					}
				}
			}
		}
		out = append(out, d.ResourceMetrics...)
		return nil
	})
	return out, err
}

func fixExemplars(m *metricsv1.Metric) error {
	var ex [][]*metricsv1.Exemplar
	switch d := m.Data.(type) {
	case *metricsv1.Metric_Gauge:
		for _, p := range d.Gauge.DataPoints {
			ex = append(ex, p.Exemplars)
		}
	case *metricsv1.Metric_Sum:
		for _, p := range d.Sum.DataPoints {
			ex = append(ex, p.Exemplars)
		}
	case *metricsv1.Metric_Histogram:
		for _, p := range d.Histogram.DataPoints {
			ex = append(ex, p.Exemplars)
		}
	case *metricsv1.Metric_ExponentialHistogram:
		for _, p := range d.ExponentialHistogram.DataPoints {
			ex = append(ex, p.Exemplars)
		}
	}
	for _, es := range ex {
		for _, e := range es {
			if err := fixIDs(&e.TraceId, &e.SpanId); err != nil {
				return err
			}
		}
	}
	return nil
}

// fixIDs restores a trace and a span id. OTLP/JSON writes them in hex where
// protojson reads bytes as base64: the 32 and 16 hex digits decode as
// base64 to 24 and 12 bytes, which encode back to the same digits.
func fixIDs(trace, span *[]byte) error {
	for _, id := range []struct {
		b    *[]byte
		size int
	}{{trace, 16}, {span, 8}} {
		if len(*id.b) == 0 {
			continue
		}
		if len(*id.b) != id.size*3/2 {
			return fmt.Errorf("an id of %d bytes as base64 is not %d hex digits", len(*id.b), 2*id.size)
		}
		b, err := hex.DecodeString(base64.StdEncoding.EncodeToString(*id.b))
		if err != nil {
			return fmt.Errorf("id is not hex: %v", err)
		}
		*id.b = b
	}
	return nil
}

// CountLogRecords is the number of log records in rl.
func CountLogRecords(rl []*logsv1.ResourceLogs) int {
	n := 0
	for _, r := range rl {
		for _, s := range r.ScopeLogs {
			n += len(s.LogRecords)
		}
	}
	return n
}

// CountDataPoints is the number of data points, of every kind, in rm.
func CountDataPoints(rm []*metricsv1.ResourceMetrics) int {
	n := 0
	for _, r := range rm {
		for _, s := range r.ScopeMetrics {
			for _, m := range s.Metrics {
				switch d := m.Data.(type) {
				case *metricsv1.Metric_Gauge:
					n += len(d.Gauge.DataPoints)
				case *metricsv1.Metric_Sum:
					n += len(d.Sum.DataPoints)
				case *metricsv1.Metric_Histogram:
					n += len(d.Histogram.DataPoints)
				case *metricsv1.Metric_ExponentialHistogram:
					n += len(d.ExponentialHistogram.DataPoints)
				case *metricsv1.Metric_Summary:
					n += len(d.Summary.DataPoints)
				}
			}
		}
	}
	return n
}

// Attr is the value of the attribute key in kvs, nil when there is none.
func Attr(kvs []*commonv1.KeyValue, key string) *commonv1.AnyValue {
	for _, kv := range kvs {
		if kv.Key == key {
			if kv.Value == nil {
				return &commonv1.AnyValue{}
			}
			return kv.Value
		}
	}
	return nil
}

// SelfSignedCert writes a self-signed certificate for 127.0.0.1 and localhost and
// its key, PEM files in a temporary directory, for WithTLS; roots holds
// the certificate, for the client.
func SelfSignedCert(t testing.TB) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "otelcoltest"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	err = errors.Join(
		os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600),
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600),
	)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}
