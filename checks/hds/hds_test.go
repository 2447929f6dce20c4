package hds

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/scaleway"
)

// tree returns an inspected root, with the Scaleway DMI vendor when asked.
func tree(t *testing.T, scw bool) *host.Env {
	t.Helper()
	root := t.TempDir()
	if scw {
		p := filepath.Join(root, "sys/class/dmi/id/sys_vendor")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("Scaleway\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &host.Env{Root: root, Sys: filepath.Join(root, "sys"), Proc: filepath.Join(root, "proc")}
}

// serve answers every request with a fixture from testdata/metadata, or
// with the status code when fixture is "".
func serve(t *testing.T, fixture string, code int, hits *atomic.Int64) *httptest.Server {
	t.Helper()
	var body []byte
	if fixture != "" {
		var err error
		if body, err = os.ReadFile(filepath.Join("testdata/metadata", fixture)); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if body == nil {
			http.Error(w, "metadata unavailable", code)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func byID(fs []checks.Finding) map[string]checks.Finding {
	out := map[string]checks.Finding{}
	for _, f := range fs {
		out[f.ID] = f
	}
	return out
}

func TestMetadataScenarios(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		code    int
		scw     bool // the tree looks like a Scaleway instance
		forced  bool // the configuration names the metadata URL
		nilMD   bool
		zone    checks.Status
		offer   checks.Status
		reasons map[string]string // id -> substring of the reason
		hits    int64             // -1: more than one (retried)
	}{
		{
			name: "eligible offer in fr-par-2", fixture: "pop2-fr-par-2.json", scw: true,
			zone: checks.Pass, offer: checks.Pass, hits: 1,
			reasons: map[string]string{IDZone: "fr-par-2, a Paris zone", IDOffer: "POP2-4C-16G (family POP2)"},
		},
		{
			name: "non-eligible DEV1-S in fr-par-1", fixture: "dev1-s-fr-par-1.json", forced: true,
			zone: checks.Pass, offer: checks.Fail, hits: 1,
			reasons: map[string]string{IDOffer: "DEV1-S belongs to the DEV1 family"},
		},
		{
			name: "eligible offer in nl-ams-1", fixture: "pop2-nl-ams-1.json", scw: true,
			zone: checks.Fail, offer: checks.Pass, hits: 1,
			reasons: map[string]string{IDZone: "nl-ams-1, outside France"},
		},
		{
			name: "off Scaleway: skipped, nothing sent", fixture: "pop2-fr-par-2.json",
			zone: checks.Skip, offer: checks.Skip, hits: 0,
			reasons: map[string]string{IDZone: "not a Scaleway instance", IDOffer: "not a Scaleway instance"},
		},
		{
			name: "no metadata client: skipped", nilMD: true, scw: true,
			zone: checks.Skip, offer: checks.Skip,
			reasons: map[string]string{IDZone: "no metadata client"},
		},
		{
			name: "metadata API error on Scaleway: retried within the budget", code: http.StatusInternalServerError, scw: true,
			zone: checks.Error, offer: checks.Error, hits: -1,
			reasons: map[string]string{IDZone: " attempts in 0.5s: http://127.0.0.1:", IDOffer: "500 Internal Server Error"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int64
			srv := serve(t, tt.fixture, tt.code, &hits)
			var opt Options
			if !tt.nilMD {
				c := scaleway.NewClient("")
				if tt.forced {
					c = scaleway.NewClient(srv.URL)
				}
				// Only the stand-in, never the real IPv6 address; a short
				// budget for the error case.
				c.URL, c.Fallback, c.Timeout = srv.URL, "", 500*time.Millisecond
				opt.Metadata = c
			}
			got := byID(New(opt).Run(context.Background(), tree(t, tt.scw)))
			if got[IDZone].Status != tt.zone || got[IDOffer].Status != tt.offer {
				t.Errorf("zone %s (%s), offer %s (%s); want %s, %s", got[IDZone].Status, got[IDZone].Reason, got[IDOffer].Status, got[IDOffer].Reason, tt.zone, tt.offer)
			}
			for id, r := range tt.reasons {
				if !strings.Contains(got[id].Reason, r) {
					t.Errorf("%s: reason %q lacks %q", id, got[id].Reason, r)
				}
			}
			if tt.hits < 0 && hits.Load() < 2 || tt.hits >= 0 && hits.Load() != tt.hits {
				t.Errorf("%d metadata requests, want %d", hits.Load(), tt.hits)
			}
			for _, f := range got {
				if f.Severity != checks.High {
					t.Errorf("%s: severity %s", f.ID, f.Severity)
				}
			}
		})
	}
}

// TestEvidence: the evidence names the instance and the value read.
func TestEvidence(t *testing.T) {
	f := &Facts{Metadata: &scaleway.Metadata{ID: "srv-1", CommercialType: "PRO2-XXS", Location: scaleway.Location{ZoneID: "fr-par-3"}}}
	got := byID(Evaluate(f))
	z, o := got[IDZone], got[IDOffer]
	if z.Status != checks.Pass || len(z.Evidence) != 1 || z.Evidence[0].Value != "fr-par-3" || !z.Evidence[0].OK || z.Evidence[0].Subject != "srv-1" {
		t.Errorf("zone %+v", z)
	}
	if o.Status != checks.Fail || len(o.Evidence) != 1 || o.Evidence[0].Value != "PRO2-XXS" || o.Evidence[0].OK {
		t.Errorf("offer %+v", o)
	}
}

func TestMissingFields(t *testing.T) {
	got := byID(Evaluate(&Facts{Metadata: &scaleway.Metadata{ID: "srv-1"}}))
	if got[IDZone].Status != checks.Error || got[IDOffer].Status != checks.Error {
		t.Errorf("zone %s, offer %s", got[IDZone].Status, got[IDOffer].Status)
	}
}

func TestFamily(t *testing.T) {
	for ct, want := range map[string]struct {
		fam      string
		eligible bool
	}{
		"DEV1-S":         {"DEV1", false},
		"dev1-l":         {"DEV1", false},
		"GP1-XS":         {"GP1", false},
		"PLAY2-PICO":     {"PLAY2", false},
		"PRO2-XXS":       {"PRO2", false},
		"COPARM1-2C-8G":  {"COPARM1", false},
		"ENT1-M":         {"ENT1", false},
		"POP2-4C-16G":    {"POP2", true},
		"POP2-HM-2C-16G": {"POP2", true},
		"GPU-3070-S":     {"GPU", true},
		"H100-1-80G":     {"H100", true},
		"STARDUST1-S":    {"STARDUST1", true},
		"PRO":            {"PRO", true},  // a family of its own, not PRO2
		"GP1X-S":         {"GP1X", true}, // prefixes do not count, families do
	} {
		if Family(ct) != want.fam || Eligible(ct) != want.eligible {
			t.Errorf("%s: family %s eligible %v, want %s %v", ct, Family(ct), Eligible(ct), want.fam, want.eligible)
		}
	}
}

// TestFamiliesMatchTheSeedRow: the list the rule uses is the row the
// reference quotes.
func TestFamiliesMatchTheSeedRow(t *testing.T) {
	row := "(" + strings.Join(NonEligibleFamilies, ", ") + ")"
	if !strings.Contains(offerTable.Text, row) {
		t.Errorf("%q does not quote %s", offerTable.Text, row)
	}
}

func FuzzFamily(f *testing.F) {
	for _, s := range []string{"DEV1-S", "POP2-4C-16G", "", "-", " pro2-xxs ", "ENT1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		fam := Family(ct)
		if strings.Contains(fam, "-") || fam != strings.ToUpper(fam) {
			t.Fatalf("family %q of %q", fam, ct)
		}
		for _, ne := range NonEligibleFamilies {
			if fam == ne && Eligible(ct) {
				t.Fatalf("%q eligible though family %s is not", ct, fam)
			}
		}
	})
}
