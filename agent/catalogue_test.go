package agent

import (
	"os"
	"regexp"
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
		texts := []string{m.ID, m.Title, m.Rationale, m.ManualFix, m.Image.How}
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
	want := report.CatalogueMarkdown(cat, OwnChecks()...)
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

// TestImageModeDeclared: every check says how it answers on an image tree
// (--path.root): from the image's files, or live-only and then skipped
// there; the checks a reason points to exist.
func TestImageModeDeclared(t *testing.T) {
	cat := Catalogue()
	ids := regexp.MustCompile(`\b(` + strings.Join(cat.AreaNames(), "|") + `)\.[a-z0-9-]*[a-z0-9]`)
	live := 0
	for _, id := range cat.IDs() {
		m, _ := cat.Lookup(id)
		if !m.Image.Declared() {
			t.Errorf("%s does not declare how it answers on an image (checks.Meta.Image: checks.LiveOnly or checks.FromFiles)", id)
			continue
		}
		if m.Image.Live {
			live++
		}
		for _, named := range ids.FindAllString(m.Image.How, -1) {
			if _, ok := cat.Lookup(named); !ok {
				t.Errorf("%s: its image mode text names %s, which is no check", id, named)
			}
		}
	}
	if live == 0 || live == len(cat.IDs()) {
		t.Errorf("%d of %d checks live-only: image mode would judge nothing or everything", live, len(cat.IDs()))
	}
}
