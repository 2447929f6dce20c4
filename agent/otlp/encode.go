// Package otlp turns reports into the OpenTelemetry protocol's own
// messages: each finding a log record, the summary as metrics, the host as
// the resource, following OpenTelemetry's semantic conventions so that a
// collector, Grafana Alloy or Scaleway Cockpit files them with no code on
// the receiving side.
//
// Only the data packages of go.opentelemetry.io/proto/otlp are used:
// LogsData and MetricsData have the wire format of ExportLogsServiceRequest
// and ExportMetricsServiceRequest (the protocol defines them so), and the
// service packages would link gRPC into a binary that never speaks it.
package otlp

import (
	"fmt"
	"strings"
	"time"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"
	metricsv1 "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/printable"
)

// Kinds of batch.
const (
	KindFull    = "full"
	KindChanges = "changes"
)

// Batch is what the logs queue holds for one report: the whole report, or
// only what changed since the one before. It is JSON in the spool and
// becomes protobuf only when sent, so the bytes of every retry are the
// same.
type Batch struct {
	Kind   string         `json:"kind"`
	Report *report.Report `json:"report"`
	// Changes are the findings that differ from the report before; in a
	// full batch they mark which of the report's findings changed.
	Changes []report.Change `json:"changes,omitempty"`
}

// Attribute names. The host's follow the semantic conventions; the rest
// are vigie's own, under its namespace.
const (
	AttrReportID = "vigie.report.id"
	AttrKind     = "vigie.report.kind"
	AttrProfile  = "vigie.profile"
	AttrCheckID  = "vigie.check.id"
	AttrTitle    = "vigie.check.title"
	AttrStatus   = "vigie.check.status"
	AttrArea     = "vigie.check.area"
	AttrSeverity = "vigie.check.severity"
	AttrReason   = "vigie.check.reason"
	AttrChange   = "vigie.change"
	AttrWas      = "vigie.check.previous_status"
	AttrDropped  = "vigie.reports.dropped_before"
	// A waived finding says who accepted the risk, until when and why
	// (the first waiver, when several cover its subjects).
	AttrWaivedBy     = "vigie.waiver.accepted_by"
	AttrWaivedUntil  = "vigie.waiver.expires"
	AttrWaivedReason = "vigie.waiver.reason"
	EventFinding     = "vigie.finding"
	ScopeName        = "vigie"
	valueMax         = 1024 // runes of one attribute or body string
	evidenceLimit    = 64   // evidence items carried in one body
)

func str(k, v string) *commonv1.KeyValue {
	return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: printable.Line(v, valueMax)}}}
}

func num(k string, v int64) *commonv1.KeyValue {
	return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_IntValue{IntValue: v}}}
}

// Resource describes the host as OpenTelemetry's semantic conventions name
// it: host.id is the provider's instance id where there is one (what the
// conventions ask for in a cloud), the machine-id otherwise.
func Resource(r *report.Report) *resourcev1.Resource {
	h := r.Host
	attrs := []*commonv1.KeyValue{
		str("service.name", "vigie"),
		str("service.version", r.Agent.Version),
		str("host.name", h.Hostname),
		str("os.type", "linux"),
	}
	id := h.MachineID
	if c := h.Cloud; c != nil {
		attrs = append(attrs, str("cloud.provider", c.Provider))
		if c.ServerID != "" {
			id = c.ServerID
		}
		if c.Zone != "" {
			attrs = append(attrs, str("cloud.availability_zone", c.Zone))
			if i := strings.LastIndexByte(c.Zone, '-'); i > 0 {
				attrs = append(attrs, str("cloud.region", c.Zone[:i])) // fr-par-1 is in fr-par
			}
		}
		if c.CommercialType != "" {
			attrs = append(attrs, str("host.type", c.CommercialType))
		}
	}
	if id != "" {
		attrs = append(attrs, str("host.id", id))
	}
	// service.instance.id is what backends make a series or a stream of
	// (Prometheus' and Mimir's instance label, one of Loki's stream
	// labels): without it every host's points would fall into one series.
	instance := id
	if instance == "" {
		instance = h.Hostname
	}
	if instance != "" {
		attrs = append(attrs, str("service.instance.id", instance))
	}
	if h.OS.ID != "" {
		attrs = append(attrs, str("os.name", h.OS.ID))
	}
	if h.OS.VersionID != "" {
		attrs = append(attrs, str("os.version", h.OS.VersionID))
	}
	if h.OS.PrettyName != "" {
		attrs = append(attrs, str("os.description", h.OS.PrettyName))
	}
	if h.Kernel != "" {
		attrs = append(attrs, str("host.kernel.release", h.Kernel))
	}
	return &resourcev1.Resource{Attributes: attrs}
}

func scope(r *report.Report) *commonv1.InstrumentationScope {
	return &commonv1.InstrumentationScope{Name: ScopeName, Version: r.Agent.Version}
}

// severity maps a finding to a log severity, in line with the journal's
// priorities: a failure by the check's severity, a check that could not
// run at most a warning, anything else information.
func severity(f checks.Finding) (logsv1.SeverityNumber, string) {
	if !f.Failing() {
		return logsv1.SeverityNumber_SEVERITY_NUMBER_INFO, "INFO"
	}
	n, t := logsv1.SeverityNumber_SEVERITY_NUMBER_INFO, "INFO"
	switch f.Severity {
	case checks.Critical:
		n, t = logsv1.SeverityNumber_SEVERITY_NUMBER_FATAL, "FATAL"
	case checks.High:
		n, t = logsv1.SeverityNumber_SEVERITY_NUMBER_ERROR, "ERROR"
	case checks.Medium:
		n, t = logsv1.SeverityNumber_SEVERITY_NUMBER_WARN, "WARN"
	case checks.Low:
		n, t = logsv1.SeverityNumber_SEVERITY_NUMBER_INFO4, "INFO4"
	}
	if f.Status == checks.Error && n > logsv1.SeverityNumber_SEVERITY_NUMBER_WARN {
		n, t = logsv1.SeverityNumber_SEVERITY_NUMBER_WARN, "WARN"
	}
	return n, t
}

// Logs is the batch as log records, one per finding: all of them for a
// full batch, the changed ones for a changes batch. Every record carries
// the report id, the key a receiver deduplicates a retry on.
func Logs(b *Batch) *logsv1.LogsData {
	r := b.Report
	ts := uint64(r.StartedAt.UnixNano())
	changed := map[string]report.Change{}
	for _, c := range b.Changes {
		changed[c.Finding.ID] = c
	}
	var findings []checks.Finding
	if b.Kind == KindChanges {
		for _, c := range b.Changes {
			findings = append(findings, c.Finding)
		}
	} else {
		findings = r.Findings
	}
	records := make([]*logsv1.LogRecord, 0, len(findings))
	for _, f := range findings {
		n, t := severity(f)
		attrs := []*commonv1.KeyValue{
			str(AttrReportID, r.ID),
			str(AttrKind, b.Kind),
			str(AttrProfile, r.Profile),
			str(AttrCheckID, f.ID),
			str(AttrTitle, f.Title),
			str(AttrStatus, string(f.Status)),
			str(AttrArea, f.Area()),
			str(AttrSeverity, f.Severity.String()),
			str(AttrReason, f.Reason),
		}
		if r.Delivery != nil && r.Delivery.DroppedReports > 0 {
			// The queue lost batches before this one, which is whole.
			attrs = append(attrs, num(AttrDropped, int64(r.Delivery.DroppedReports)))
		}
		if len(f.Waived) > 0 {
			w := f.Waived[0]
			attrs = append(attrs, str(AttrWaivedBy, w.AcceptedBy), str(AttrWaivedUntil, w.Expires), str(AttrWaivedReason, w.Reason))
		}
		if c, ok := changed[f.ID]; ok {
			attrs = append(attrs, str(AttrChange, string(c.Kind)))
			if c.Was != "" {
				attrs = append(attrs, str(AttrWas, string(c.Was)))
			}
		}
		records = append(records, &logsv1.LogRecord{
			TimeUnixNano:         ts,
			ObservedTimeUnixNano: ts,
			SeverityNumber:       n,
			SeverityText:         t,
			EventName:            EventFinding,
			Body:                 body(f),
			Attributes:           attrs,
		})
	}
	return &logsv1.LogsData{ResourceLogs: []*logsv1.ResourceLogs{{
		Resource:  Resource(r),
		ScopeLogs: []*logsv1.ScopeLogs{{Scope: scope(r), LogRecords: records}},
	}}}
}

// body is the finding's message and its evidence, structured, so a log
// view shows the line and a query reaches the file and line behind it.
func body(f checks.Finding) *commonv1.AnyValue {
	kv := []*commonv1.KeyValue{str("message", fmt.Sprintf("%s %s: %s", f.ID, f.Status, f.Reason))}
	var ev []*commonv1.AnyValue
	for i, e := range f.Evidence {
		if i == evidenceLimit {
			kv = append(kv, num("evidence_omitted", int64(len(f.Evidence)-evidenceLimit)))
			break
		}
		ev = append(ev, evidence(e))
	}
	if len(ev) > 0 {
		kv = append(kv, &commonv1.KeyValue{Key: "evidence", Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_ArrayValue{ArrayValue: &commonv1.ArrayValue{Values: ev}}}})
	}
	return &commonv1.AnyValue{Value: &commonv1.AnyValue_KvlistValue{KvlistValue: &commonv1.KeyValueList{Values: kv}}}
}

func evidence(e checks.Evidence) *commonv1.AnyValue {
	var kv []*commonv1.KeyValue
	for _, p := range [][2]string{{"subject", e.Subject}, {"key", e.Key}, {"want", e.Want}, {"source", e.Source}, {"file", e.File}} {
		if p[1] != "" {
			kv = append(kv, str(p[0], p[1]))
		}
	}
	if e.Value != nil {
		kv = append(kv, &commonv1.KeyValue{Key: "value", Value: anyValue(e.Value)})
	}
	if e.Line > 0 {
		kv = append(kv, num("line", int64(e.Line)))
	}
	kv = append(kv, &commonv1.KeyValue{Key: "ok", Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_BoolValue{BoolValue: e.OK}}})
	return &commonv1.AnyValue{Value: &commonv1.AnyValue_KvlistValue{KvlistValue: &commonv1.KeyValueList{Values: kv}}}
}

// anyValue carries an evidence value with its type: the string, number,
// bool or list the check recorded (lists as they come back from JSON too).
func anyValue(v any) *commonv1.AnyValue {
	switch x := v.(type) {
	case string:
		return &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: printable.Line(x, valueMax)}}
	case bool:
		return &commonv1.AnyValue{Value: &commonv1.AnyValue_BoolValue{BoolValue: x}}
	case int:
		return &commonv1.AnyValue{Value: &commonv1.AnyValue_IntValue{IntValue: int64(x)}}
	case int64:
		return &commonv1.AnyValue{Value: &commonv1.AnyValue_IntValue{IntValue: x}}
	case float64:
		if x == float64(int64(x)) {
			return &commonv1.AnyValue{Value: &commonv1.AnyValue_IntValue{IntValue: int64(x)}}
		}
		return &commonv1.AnyValue{Value: &commonv1.AnyValue_DoubleValue{DoubleValue: x}}
	case []string:
		return array(x)
	case []any:
		return array(x)
	default:
		return &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: printable.Line(fmt.Sprint(x), valueMax)}}
	}
}

// array carries a list, its first evidenceLimit items.
func array[T any](x []T) *commonv1.AnyValue {
	vs := make([]*commonv1.AnyValue, 0, min(len(x), evidenceLimit))
	for _, v := range x[:min(len(x), evidenceLimit)] {
		vs = append(vs, anyValue(v))
	}
	return &commonv1.AnyValue{Value: &commonv1.AnyValue_ArrayValue{ArrayValue: &commonv1.ArrayValue{Values: vs}}}
}

// Metric names, as OpenTelemetry names them; Prometheus-style backends
// show vigie_checks, vigie_checks_failing and vigie_run_duration_seconds.
const (
	MetricChecks   = "vigie.checks"
	MetricFailing  = "vigie.checks.failing"
	MetricDuration = "vigie.run.duration"
	MetricDropped  = "vigie.reports.dropped"
)

// Metrics is the report's summary as gauges: checks by status, failing
// checks by severity (every severity, zeros included, so a query sees a
// host recover), the run's duration, and the reports the queue dropped
// before this one. No point carries the report id: that would make a new
// series of every report. A retry repeats the same points at the same
// timestamp, which time-series stores keep once.
func Metrics(r *report.Report) *metricsv1.MetricsData {
	ts := uint64(r.StartedAt.UnixNano())
	gauge := func(name, desc, unit string, points ...*metricsv1.NumberDataPoint) *metricsv1.Metric {
		return &metricsv1.Metric{Name: name, Description: desc, Unit: unit, Data: &metricsv1.Metric_Gauge{Gauge: &metricsv1.Gauge{DataPoints: points}}}
	}
	point := func(v int64, attrs ...*commonv1.KeyValue) *metricsv1.NumberDataPoint {
		return &metricsv1.NumberDataPoint{TimeUnixNano: ts, Value: &metricsv1.NumberDataPoint_AsInt{AsInt: v}, Attributes: attrs}
	}
	s := r.Summary
	var byStatus []*metricsv1.NumberDataPoint
	for _, p := range []struct {
		status string
		n      int
	}{{"pass", s.Pass}, {"fail", s.Fail}, {"error", s.Error}, {"skip", s.Skip}, {"waived", s.Waived}} {
		byStatus = append(byStatus, point(int64(p.n), str(AttrStatus, p.status), str(AttrProfile, r.Profile)))
	}
	failing := map[checks.Severity]int64{}
	for _, f := range r.Findings {
		if f.Failing() {
			failing[f.Severity]++
		}
	}
	var bySeverity []*metricsv1.NumberDataPoint
	for _, sev := range []checks.Severity{checks.Info, checks.Low, checks.Medium, checks.High, checks.Critical} {
		bySeverity = append(bySeverity, point(failing[sev], str(AttrSeverity, sev.String()), str(AttrProfile, r.Profile)))
	}
	dropped := int64(0)
	if r.Delivery != nil {
		dropped = int64(r.Delivery.DroppedReports)
	}
	dur := &metricsv1.NumberDataPoint{TimeUnixNano: ts, Value: &metricsv1.NumberDataPoint_AsDouble{AsDouble: (time.Duration(r.DurationMS) * time.Millisecond).Seconds()}}
	metrics := []*metricsv1.Metric{
		gauge(MetricChecks, "Checks in the last run, by status.", "{check}", byStatus...),
		gauge(MetricFailing, "Checks that failed or could not run in the last run, by severity.", "{check}", bySeverity...),
		gauge(MetricDuration, "How long the last run's checks took.", "s", dur),
		gauge(MetricDropped, "Reports dropped from the full spool before this one.", "{report}", point(dropped)),
	}
	return &metricsv1.MetricsData{ResourceMetrics: []*metricsv1.ResourceMetrics{{
		Resource:     Resource(r),
		ScopeMetrics: []*metricsv1.ScopeMetrics{{Scope: scope(r), Metrics: metrics}},
	}}}
}
