package agent

import (
	"bytes"
	"context"
	"testing"

	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/reportschema"
)

// TestReportMatchesSchema runs the real checks on this machine and
// validates the JSON they produce.
func TestReportMatchesSchema(t *testing.T) {
	cfg := config.Defaults()
	r, err := NewRun(cfg, host.DefaultEnv())
	if err != nil {
		t.Fatal(err)
	}
	cat := r.Catalogue
	rep, err := Check(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := (report.JSON{Indent: true}).Format(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if err := reportschema.Check(buf.Bytes()); err != nil {
		t.Fatalf("report does not match the schema: %v\n%s", err, buf.String())
	}
	n := 0
	for _, id := range cat.IDs() {
		m, _ := cat.Lookup(id)
		if _, in := checks.Profiles[cfg.Profile].Apply(m); in {
			n++
		}
	}
	if rep.Summary.Total != n {
		t.Errorf("summary counts %d findings, the profile has %d checks", rep.Summary.Total, n)
	}
}
