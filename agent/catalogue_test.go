package agent

import (
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/internal/printable"
)

// TestCatalogueTextPrintable: Explain prints the catalogue as written, so
// it must hold nothing printable would escape but its newlines and
// backslashes.
func TestCatalogueTextPrintable(t *testing.T) {
	cat, err := Catalogue(Defaults())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range cat.IDs() {
		m, _ := cat.Lookup(id)
		texts := []string{m.ID, m.Title, m.Rationale, m.ManualFix}
		for _, r := range m.References {
			texts = append(texts, r.Source, r.Section, r.Text)
		}
		for _, s := range texts {
			for _, l := range strings.Split(s, "\n") {
				if printable.Line(l, len(l)*10) != strings.ReplaceAll(l, `\`, `\\`) {
					t.Errorf("%s: the catalogue holds text a terminal would not show as written: %q", id, l)
				}
			}
		}
	}
}
