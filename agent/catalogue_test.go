package agent

import (
	"os"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/printable"
)

// TestCatalogueTextPrintable: Explain prints the catalogue as written, so
// it must hold nothing printable would escape but its newlines and
// backslashes.
func TestCatalogueTextPrintable(t *testing.T) {
	cat := Catalogue()
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

// TestChecksDocFresh: docs/checks.md is what the code says; `make docs`
// regenerates it.
func TestChecksDocFresh(t *testing.T) {
	cat := Catalogue()
	want := report.CatalogueMarkdown(cat)
	got, err := os.ReadFile("../docs/checks.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("docs/checks.md is stale: run `make docs` and commit it")
	}
	for _, id := range cat.IDs() {
		m, _ := cat.Lookup(id)
		if len(m.References) == 0 {
			t.Errorf("%s cites no reference", id)
		}
		if !strings.Contains(string(got), "### "+id+"\n") {
			t.Errorf("docs/checks.md lacks %s", id)
		}
	}
}

// TestProviderKeysInProfiles: the keys the provider installs at boot are
// a baseline duty of the ssh area, weighed the same in hds.
func TestProviderKeysInProfiles(t *testing.T) {
	m, ok := Catalogue().Lookup("ssh.provider-keys")
	if !ok || m.Area() != "ssh" || m.Severity != checks.High || m.Remediation != nil {
		t.Fatalf("ssh.provider-keys: %+v (found %v)", m, ok)
	}
	for _, name := range []string{"baseline", "hds"} {
		if got, in := checks.Profiles[name].Apply(m); !in || got.Severity != checks.High {
			t.Errorf("profile %s: included %v, severity %s", name, in, got.Severity)
		}
	}
}
