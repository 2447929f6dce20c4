package otelcoltest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/internal/testenv"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"
	metricsv1 "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

func str(k, v string) *commonv1.KeyValue {
	return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: v}}}
}

func integer(k string, v int64) *commonv1.KeyValue {
	return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_IntValue{IntValue: v}}}
}

var (
	traceID = []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	spanID  = []byte{0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8}
)

// logs is a LogsData of one record whose body is body: its wire format is
// that of ExportLogsServiceRequest.
func logs(t *testing.T, body string) []byte {
	t.Helper()
	b, err := proto.Marshal(&logsv1.LogsData{ResourceLogs: []*logsv1.ResourceLogs{{
		Resource: &resourcev1.Resource{Attributes: []*commonv1.KeyValue{str("service.name", "vigie"), str("host.name", "web-1")}},
		ScopeLogs: []*logsv1.ScopeLogs{{
			Scope: &commonv1.InstrumentationScope{Name: "vigie", Version: "0.1.0"},
			LogRecords: []*logsv1.LogRecord{{
				TimeUnixNano:   1_700_000_000_000_000_000,
				SeverityNumber: logsv1.SeverityNumber_SEVERITY_NUMBER_WARN,
				SeverityText:   "WARN",
				Body:           &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: body}},
				Attributes:     []*commonv1.KeyValue{str("vigie.check", "ssh.root-login"), integer("vigie.findings", 3)},
				TraceId:        traceID,
				SpanId:         spanID,
			}},
		}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metrics is a MetricsData (the wire format of ExportMetricsServiceRequest)
// of a gauge of one point, value v, with an exemplar.
func metrics(t *testing.T, v int64) []byte {
	t.Helper()
	b, err := proto.Marshal(&metricsv1.MetricsData{ResourceMetrics: []*metricsv1.ResourceMetrics{{
		Resource: &resourcev1.Resource{Attributes: []*commonv1.KeyValue{str("service.name", "vigie")}},
		ScopeMetrics: []*metricsv1.ScopeMetrics{{
			Scope: &commonv1.InstrumentationScope{Name: "vigie"},
			Metrics: []*metricsv1.Metric{{
				Name: "vigie.findings",
				Unit: "{finding}",
				Data: &metricsv1.Metric_Gauge{Gauge: &metricsv1.Gauge{DataPoints: []*metricsv1.NumberDataPoint{{
					TimeUnixNano: 1_700_000_000_000_000_000,
					Attributes:   []*commonv1.KeyValue{str("vigie.severity", "high")},
					Value:        &metricsv1.NumberDataPoint_AsInt{AsInt: v},
					Exemplars: []*metricsv1.Exemplar{{
						TimeUnixNano: 1_700_000_000_000_000_000,
						Value:        &metricsv1.Exemplar_AsInt{AsInt: v},
						TraceId:      traceID,
						SpanId:       spanID,
					}},
				}}}},
			}},
		}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends body to the endpoint's path as OTLP/HTTP protobuf.
func post(client *http.Client, url string, body []byte, header ...string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func mustPost(t *testing.T, client *http.Client, url string, body []byte, header ...string) {
	t.Helper()
	code, err := post(client, url, body, header...)
	if err != nil || code != http.StatusOK {
		t.Fatalf("POST %s: %d %v", url, code, err)
	}
}

func bodies(rl []*logsv1.ResourceLogs) []string {
	var out []string
	for _, r := range rl {
		for _, s := range r.ScopeLogs {
			for _, l := range s.LogRecords {
				out = append(out, l.GetBody().GetStringValue())
			}
		}
	}
	return out
}

func TestLogsAndMetricsAcrossRestart(t *testing.T) {
	testenv.Integration(t)
	c := Start(t)
	client := &http.Client{Timeout: 10 * time.Second}
	if !strings.HasPrefix(c.Endpoint(), "http://127.0.0.1:") {
		t.Fatalf("Endpoint() = %q", c.Endpoint())
	}

	mustPost(t, client, c.Endpoint()+"/v1/logs", logs(t, "first"))
	rl := c.WaitLogs(1)
	if len(rl) != 1 || CountLogRecords(rl) != 1 {
		t.Fatalf("logs: %v", rl)
	}
	if v := Attr(rl[0].GetResource().GetAttributes(), "host.name").GetStringValue(); v != "web-1" {
		t.Errorf("resource host.name = %q", v)
	}
	sl := rl[0].ScopeLogs[0]
	if sl.GetScope().GetName() != "vigie" || sl.GetScope().GetVersion() != "0.1.0" {
		t.Errorf("scope = %v", sl.GetScope())
	}
	r := sl.LogRecords[0]
	if r.GetBody().GetStringValue() != "first" || r.SeverityNumber != logsv1.SeverityNumber_SEVERITY_NUMBER_WARN || r.SeverityText != "WARN" || r.TimeUnixNano != 1_700_000_000_000_000_000 {
		t.Errorf("record = %v", r)
	}
	if v := Attr(r.Attributes, "vigie.check").GetStringValue(); v != "ssh.root-login" {
		t.Errorf("vigie.check = %q", v)
	}
	if v := Attr(r.Attributes, "vigie.findings").GetIntValue(); v != 3 {
		t.Errorf("vigie.findings = %d", v)
	}
	if !bytes.Equal(r.TraceId, traceID) || !bytes.Equal(r.SpanId, spanID) {
		t.Errorf("trace id %x, span id %x", r.TraceId, r.SpanId)
	}

	mustPost(t, client, c.Endpoint()+"/v1/metrics", metrics(t, 7))
	rm := c.WaitMetrics(1)
	m := rm[0].ScopeMetrics[0].Metrics[0]
	p := m.GetGauge().GetDataPoints()[0]
	if m.Name != "vigie.findings" || m.Unit != "{finding}" || p.GetAsInt() != 7 || Attr(p.Attributes, "vigie.severity").GetStringValue() != "high" {
		t.Errorf("metric = %v", m)
	}
	if e := p.Exemplars[0]; !bytes.Equal(e.TraceId, traceID) || !bytes.Equal(e.SpanId, spanID) {
		t.Errorf("exemplar trace id %x, span id %x", e.TraceId, e.SpanId)
	}

	pid := c.PID()
	c.Stop()
	if c.PID() != 0 {
		t.Errorf("PID() = %d after Stop", c.PID())
	}
	fresh := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if _, err := post(fresh, c.Endpoint()+"/v1/logs", logs(t, "refused")); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("POST to a stopped collector: %v, want connection refused", err)
	}
	if got := bodies(c.Logs()); len(got) != 1 {
		t.Fatalf("after Stop: %q", got)
	}

	c.Restart()
	if c.PID() == 0 || c.PID() == pid {
		t.Errorf("PID() = %d after Restart, was %d", c.PID(), pid)
	}
	mustPost(t, client, c.Endpoint()+"/v1/logs", logs(t, "second"))
	mustPost(t, client, c.Endpoint()+"/v1/metrics", metrics(t, 8))
	got := bodies(c.WaitLogs(2))
	if strings.Join(got, ",") != "first,second" {
		t.Errorf("log bodies across the restart = %q, want first,second", got)
	}
	c.WaitMetrics(2)
	c.Stop()
	if got := bodies(c.Logs()); strings.Join(got, ",") != "first,second" {
		t.Errorf("log bodies after Stop = %q, want first,second", got)
	}
	var values []int64
	for _, r := range c.Metrics() {
		values = append(values, r.ScopeMetrics[0].Metrics[0].GetGauge().DataPoints[0].GetAsInt())
	}
	if len(values) != 2 || values[0] != 7 || values[1] != 8 {
		t.Errorf("gauge values = %v, want [7 8]", values)
	}
	if cpu := c.CPU(); cpu <= 0 {
		t.Errorf("CPU() = %s", cpu)
	}
}

func TestRequiredHeader(t *testing.T) {
	testenv.Integration(t)
	c := Start(t, WithHeader("X-Token", "s3cr$t"))
	client := &http.Client{Timeout: 10 * time.Second}
	url := c.Endpoint() + "/v1/logs"
	for _, h := range [][]string{nil, {"X-Token", "wrong"}, {"X-Token", "Bearer s3cr$t"}, {"Authorization", "s3cr$t"}} {
		if code, err := post(client, url, logs(t, "refused"), h...); err != nil || code != http.StatusUnauthorized {
			t.Errorf("header %q: %d %v, want 401", h, code, err)
		}
	}
	mustPost(t, client, url, logs(t, "accepted"), "X-Token", "s3cr$t")
	running := c.CPU()
	c.Stop()
	if stopped := c.CPU(); stopped <= 0 || stopped < running {
		t.Errorf("CPU() = %s while running, %s once stopped", running, stopped)
	}
	if got := bodies(c.Logs()); strings.Join(got, ",") != "accepted" {
		t.Errorf("log bodies = %q, want only the accepted one", got)
	}
}

func TestTLS(t *testing.T) {
	testenv.Integration(t)
	cert, key, roots := SelfSignedCert(t)
	c := Start(t, WithTLS(cert, key), WithHeader("Authorization", "Bearer tok"))
	if !strings.HasPrefix(c.Endpoint(), "https://127.0.0.1:") {
		t.Fatalf("Endpoint() = %q", c.Endpoint())
	}
	url := c.Endpoint() + "/v1/metrics"
	var unknown *tls.CertificateVerificationError
	if _, err := post(&http.Client{Timeout: 10 * time.Second}, url, metrics(t, 1)); !errors.As(err, &unknown) {
		t.Errorf("POST without the root: %v, want a certificate verification error", err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	mustPost(t, client, url, metrics(t, 5), "Authorization", "Bearer tok")
	if rm := c.WaitMetrics(1); rm[0].ScopeMetrics[0].Metrics[0].GetGauge().DataPoints[0].GetAsInt() != 5 {
		t.Errorf("metrics = %v", rm)
	}
}

func TestDecodePartialLine(t *testing.T) {
	line := `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"a"},"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"f1f2f3f4f5f6f7f8"}]}]}]}`
	whole := line + "\n"
	for _, tc := range []struct {
		data    string
		running bool
		n       int
		err     string
	}{
		{"", false, 0, ""},
		{whole, false, 1, ""},
		{whole + whole, true, 2, ""},
		{whole + line[:40], true, 1, ""},
		{whole + line[:40], false, 0, "line 2 has no newline"},
		{whole + "{not json}\n", true, 0, "line 2"},
	} {
		rl, err := decodeLogs([]byte(tc.data), tc.running)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%.60q running=%v: %v, want %q", tc.data, tc.running, err, tc.err)
			}
			continue
		}
		if err != nil || CountLogRecords(rl) != tc.n {
			t.Errorf("%.60q running=%v: %d records, %v; want %d", tc.data, tc.running, CountLogRecords(rl), err, tc.n)
			continue
		}
		for _, r := range rl {
			l := r.ScopeLogs[0].LogRecords[0]
			if !bytes.Equal(l.TraceId, traceID) || !bytes.Equal(l.SpanId, spanID) {
				t.Errorf("trace id %x, span id %x", l.TraceId, l.SpanId)
			}
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
	stat := "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 9 0\n"
	d, err := parseStatCPU(stat)
	if err != nil || d != 2810*time.Millisecond {
		t.Errorf("parseStatCPU = %s, %v; want 2.81s", d, err)
	}
	if _, err := parseStatCPU("4242 (x) S 1"); err == nil {
		t.Error("a short stat parsed")
	}
}
