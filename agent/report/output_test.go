package report_test

import (
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
)

// TestTableEscapesHostText: whatever the host says, the table (colour
// off) holds no control character but its own newlines, keeps its lines
// short, and still shows the text, escaped.
func TestTableEscapesHostText(t *testing.T) {
	for _, tt := range reporttest.HostileText {
		for _, verbose := range []bool{false, true} {
			var b strings.Builder
			if err := (report.Table{Verbose: verbose}).Format(&b, reporttest.Hostile(tt.In)); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			reporttest.CheckPrintable(t, tt.Name, out, true, 400)
			if !strings.Contains(out, tt.Shows) {
				t.Errorf("%s: the table does not show %q:\n%.2000s", tt.Name, tt.Shows, out)
			}
			if !strings.Contains(out, "42") || !strings.Contains(out, "4 checks: 1 pass, 1 fail, 1 error, 1 skip") {
				t.Errorf("%s: the table lost its own text:\n%.2000s", tt.Name, out)
			}
		}
	}
}
