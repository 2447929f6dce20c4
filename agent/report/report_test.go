package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/reportschema"
)

// TestSchemaRejects makes sure the schema is strict enough to mean
// something.
func TestSchemaRejects(t *testing.T) {
	good := `{"schema":"vigie.report/v1","id":"0123456789abcdef0123456789abcdef","agent":{"name":"vigie","version":"1"},
	  "host":{"hostname":"h","os":{}},"profile":"baseline","started_at":"2026-01-02T03:04:05Z","duration_ms":3,
	  "summary":{"total":1,"pass":0,"fail":1,"error":0,"skip":0,"failed_by_severity":{"high":1}},
	  "findings":[{"id":"ssh.password-auth","title":"t","severity":"high","status":"fail","reason":"r",
	  "evidence":[{"key":"passwordauthentication","value":"yes","ok":false}]}]}`
	if err := reportschema.Check([]byte(good)); err != nil {
		t.Fatalf("valid report rejected: %v", err)
	}
	for name, mutate := range map[string][2]string{
		"schema":     {`"vigie.report/v1"`, `"vigie.report/v2"`},
		"status":     {`"status":"fail"`, `"status":"failed"`},
		"severity":   {`"severity":"high"`, `"severity":"urgent"`},
		"id":         {`"ssh.password-auth"`, `"Password Auth"`},
		"ok missing": {`,"ok":false`, ``},
		"date":       {`2026-01-02T03:04:05Z`, `yesterday`},
		"value":      {`"value":"yes"`, `"value":{"a":1}`},
	} {
		bad := strings.Replace(good, mutate[0], mutate[1], 1)
		if bad == good {
			t.Fatalf("%s: mutation did not apply", name)
		}
		if err := reportschema.Check([]byte(bad)); err == nil {
			t.Errorf("%s: invalid report accepted", name)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	rep := &report.Report{Schema: report.SchemaV1, Findings: []checks.Finding{checks.NewFinding(checks.Meta{ID: "a.b", Severity: checks.Critical}, checks.Failf("x"))}}
	var buf bytes.Buffer
	if err := (report.JSON{}).Format(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var back report.Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Findings[0].Severity != checks.Critical || back.Findings[0].Status != checks.Fail {
		t.Errorf("round trip: %+v", back.Findings[0])
	}
}

// TestJSONFaithfulToHostText: the JSON report is not escaped for a
// terminal. Whatever bytes the host's strings hold, it is valid JSON that
// matches the schema and reads back to the same strings, except bytes that
// are not UTF-8, which encoding/json turns into U+FFFD one by one.
func TestJSONFaithfulToHostText(t *testing.T) {
	var every []byte
	for b := 0; b < 256; b++ {
		every = append(every, byte(b))
	}
	texts := []string{string(every), "\u2028\u2029\u202e\ufeff<script>&"}
	for _, tt := range reporttest.HostileText {
		texts = append(texts, tt.In)
	}
	for _, h := range texts {
		rep := reporttest.Sample()
		rep.Host.Hostname = h
		rep.Findings = rep.Findings[:1]
		rep.Summary = report.Summarize(rep.Findings)
		f := &rep.Findings[0]
		f.Title, f.Reason = h, h
		f.Evidence = []checks.Evidence{{Subject: h, Key: h, Value: []string{h}, Want: h, File: h, Source: h}}
		var buf bytes.Buffer
		if err := (report.JSON{Indent: true}).Format(&buf, rep); err != nil {
			t.Fatal(err)
		}
		marshalled, err := json.Marshal(rep) // what the spool keeps and the endpoint receives
		if err != nil {
			t.Fatal(err)
		}
		want := string([]rune(h)) // each invalid byte a U+FFFD
		for _, data := range [][]byte{buf.Bytes(), marshalled} {
			if !json.Valid(data) || bytes.ContainsFunc(data, func(r rune) bool { return r < 0x20 && r != '\n' }) {
				t.Fatalf("%.40q: not valid JSON, or raw control bytes in it", h)
			}
			if err := reportschema.Check(data); err != nil {
				t.Errorf("%.40q: %v", h, err)
			}
			var back report.Report
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			bf := back.Findings[0]
			e := bf.Evidence[0]
			got := []string{back.Host.Hostname, bf.Title, bf.Reason, e.Subject, e.Key, e.Want, e.File, e.Source, e.Value.([]any)[0].(string)}
			for i, g := range got {
				if g != want {
					t.Errorf("%.40q: string %d read back as %.40q", h, i, g)
				}
			}
		}
	}
}
