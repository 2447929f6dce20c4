package otlp

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"
	metricsv1 "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
	"github.com/vigie-agent/vigie/checks"
)

func attrs(kvs []*commonv1.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.Value.Value.(type) {
		case *commonv1.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		}
	}
	return m
}

func scaleway() *report.Report {
	r := reporttest.Sample()
	r.Host = report.Host{Hostname: "web-1", MachineID: "a1b2", Kernel: "6.12.48+deb13-cloud-amd64",
		OS:    report.OS{ID: "debian", VersionID: "13", PrettyName: "Debian GNU/Linux 13 (trixie)"},
		Cloud: &report.Cloud{Provider: "scaleway", ServerID: "3f9e1b2a-0000-4c1d-8e2f-aaaaaaaaaaaa", Zone: "fr-par-1", CommercialType: "PRO2-XS"}}
	return r
}

func TestResource(t *testing.T) {
	got := attrs(Resource(scaleway()).Attributes)
	want := map[string]string{"service.name": "vigie", "service.version": "1.2.3", "host.name": "web-1", "os.type": "linux",
		"host.id": "3f9e1b2a-0000-4c1d-8e2f-aaaaaaaaaaaa", "cloud.provider": "scaleway", "cloud.availability_zone": "fr-par-1",
		"cloud.region": "fr-par", "host.type": "PRO2-XS", "os.name": "debian", "os.version": "13",
		"os.description": "Debian GNU/Linux 13 (trixie)", "host.kernel.release": "6.12.48+deb13-cloud-amd64",
		// What backends make series and streams of: one per host.
		"service.instance.id": "3f9e1b2a-0000-4c1d-8e2f-aaaaaaaaaaaa"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// Off a cloud, the machine-id is the host's id.
	r := scaleway()
	r.Host.Cloud = nil
	if got := attrs(Resource(r).Attributes); got["host.id"] != "a1b2" || got["service.instance.id"] != "a1b2" || got["cloud.provider"] != "" {
		t.Errorf("off cloud: %v", got)
	}
}

func TestLogs(t *testing.T) {
	r := scaleway()
	r.Findings[0].Evidence = []checks.Evidence{{Subject: "sshd", Key: "passwordauthentication", Value: "yes", File: "/etc/ssh/sshd_config.d/50-cloud-init.conf", Line: 1},
		{Key: "ports", Value: []any{"22/tcp", float64(8080)}, OK: true}}
	full := Logs(&Batch{Kind: KindFull, Report: r, Changes: []report.Change{{Kind: report.Failing, Was: checks.Pass, Finding: r.Findings[0]}}})
	// The wire format is ExportLogsServiceRequest's: it round-trips.
	b, err := proto.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var back logsv1.LogsData
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	recs := back.ResourceLogs[0].ScopeLogs[0].LogRecords
	if len(recs) != len(r.Findings) {
		t.Fatalf("%d records for %d findings", len(recs), len(r.Findings))
	}
	tests := []struct {
		i      int
		sev    logsv1.SeverityNumber
		status string
		change string
	}{
		{0, logsv1.SeverityNumber_SEVERITY_NUMBER_ERROR, "fail", "failing"}, // high, failing
		{1, logsv1.SeverityNumber_SEVERITY_NUMBER_INFO, "pass", ""},         // high, passing
		{2, logsv1.SeverityNumber_SEVERITY_NUMBER_INFO, "error", ""},        // medium could not run: WARN at most, medium is WARN... see below
		{3, logsv1.SeverityNumber_SEVERITY_NUMBER_INFO, "skip", ""},
	}
	tests[2].sev = logsv1.SeverityNumber_SEVERITY_NUMBER_WARN
	for _, tt := range tests {
		rec := recs[tt.i]
		a := attrs(rec.Attributes)
		if rec.SeverityNumber != tt.sev || a[AttrStatus] != tt.status || a[AttrChange] != tt.change {
			t.Errorf("record %d: severity %v status %q change %q, want %v %q %q", tt.i, rec.SeverityNumber, a[AttrStatus], a[AttrChange], tt.sev, tt.status, tt.change)
		}
		if a[AttrReportID] != r.ID || a[AttrCheckID] != r.Findings[tt.i].ID || a[AttrKind] != KindFull || rec.EventName != EventFinding {
			t.Errorf("record %d: %v", tt.i, a)
		}
		if rec.TimeUnixNano != uint64(r.StartedAt.UnixNano()) {
			t.Errorf("record %d: time %d", tt.i, rec.TimeUnixNano)
		}
	}
	// The evidence travels in the body, typed.
	body := recs[0].Body.GetKvlistValue().Values
	if body[0].Key != "message" || body[1].Key != "evidence" {
		t.Fatalf("body %v", body)
	}
	ev := body[1].Value.GetArrayValue().Values
	if f := attrs(ev[0].GetKvlistValue().Values); f["file"] != "/etc/ssh/sshd_config.d/50-cloud-init.conf" || f["value"] != "yes" {
		t.Errorf("evidence %v", f)
	}
	if v := ev[1].GetKvlistValue().Values; v[1].Value.GetArrayValue().Values[1].GetIntValue() != 8080 {
		t.Errorf("a number read back from JSON is an int: %v", v)
	}

	// A changes batch has the changed findings only; none makes no record.
	ch := Logs(&Batch{Kind: KindChanges, Report: r, Changes: []report.Change{{Kind: report.Resolved, Was: checks.Fail, Finding: r.Findings[1]}}})
	crecs := ch.ResourceLogs[0].ScopeLogs[0].LogRecords
	if len(crecs) != 1 || attrs(crecs[0].Attributes)[AttrChange] != "resolved" || attrs(crecs[0].Attributes)[AttrWas] != "fail" {
		t.Errorf("changes batch: %v", crecs)
	}
	if n := len(Logs(&Batch{Kind: KindChanges, Report: r}).ResourceLogs[0].ScopeLogs[0].LogRecords); n != 0 {
		t.Errorf("%d records for no change", n)
	}
}

func TestHostileText(t *testing.T) {
	for _, h := range reporttest.HostileText {
		r := reporttest.Hostile(h.In)
		l := Logs(&Batch{Kind: KindFull, Report: r})
		for _, rec := range l.ResourceLogs[0].ScopeLogs[0].LogRecords {
			for k, v := range attrs(rec.Attributes) {
				reporttest.CheckPrintable(t, h.Name+" "+k, v, false, valueMax)
			}
			for _, kv := range rec.Body.GetKvlistValue().Values {
				if s := kv.Value.GetStringValue(); s != "" {
					reporttest.CheckPrintable(t, h.Name+" body", s, false, valueMax)
				}
			}
		}
		for k, v := range attrs(Resource(r).Attributes) {
			reporttest.CheckPrintable(t, h.Name+" resource "+k, v, false, valueMax)
		}
	}
}

func TestMetrics(t *testing.T) {
	m := Metrics(scaleway())
	got := map[string]map[string]int64{}
	for _, mt := range m.ResourceMetrics[0].ScopeMetrics[0].Metrics {
		got[mt.Name] = map[string]int64{}
		for _, p := range mt.GetGauge().DataPoints {
			a := attrs(p.Attributes)
			if _, ok := a[AttrReportID]; ok {
				t.Errorf("%s: a report id would make a series of every report", mt.Name)
			}
			got[mt.Name][a[AttrStatus]+a[AttrSeverity]] = p.GetAsInt()
		}
	}
	want := map[string]map[string]int64{
		MetricChecks:  {"pass": 1, "fail": 1, "error": 1, "skip": 1},
		MetricFailing: {"info": 0, "low": 0, "medium": 1, "high": 1, "critical": 0},
	}
	for name, pts := range want {
		for k, v := range pts {
			if got[name][k] != v {
				t.Errorf("%s{%s} = %d, want %d", name, k, got[name][k], v)
			}
		}
	}
	if _, ok := got[MetricDuration]; !ok {
		t.Error("no duration")
	}
	var back metricsv1.MetricsData
	b, _ := proto.Marshal(m)
	if err := proto.Unmarshal(b, &back); err != nil || len(back.ResourceMetrics[0].ScopeMetrics[0].Metrics) != 4 {
		t.Errorf("round trip: %v", err)
	}
}

func partialResponse(rejected int64, msg string) []byte {
	var ps []byte
	ps = protowire.AppendTag(ps, 1, protowire.VarintType)
	ps = protowire.AppendVarint(ps, uint64(rejected))
	ps = protowire.AppendTag(ps, 2, protowire.BytesType)
	ps = protowire.AppendString(ps, msg)
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendBytes(b, ps)
}

func TestPartialSuccess(t *testing.T) {
	tests := []struct {
		body []byte
		n    int64
		msg  string
	}{
		{nil, 0, ""},
		{partialResponse(3, "too old"), 3, "too old"},
		{partialResponse(0, "warning \x1b[2J"), 0, `warning \x1b[2J`},
		{[]byte("{}"), 0, ""}, // a JSON answer to a protobuf request says nothing
	}
	for _, tt := range tests {
		if n, msg := PartialSuccess(tt.body); n != tt.n || msg != tt.msg {
			t.Errorf("%q: %d %q, want %d %q", tt.body, n, msg, tt.n, tt.msg)
		}
	}
}

func FuzzPartialSuccess(f *testing.F) {
	f.Add(partialResponse(3, "too old"))
	f.Add([]byte{0x0a, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, msg := PartialSuccess(b)
		reporttest.CheckPrintable(t, "message", msg, false, 512)
	})
}
