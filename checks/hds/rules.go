package hds

import (
	"strings"

	"github.com/vigie-agent/vigie/checks"
)

// Check ids of the hds area.
const (
	IDZone  = "hds.zone"
	IDOffer = "hds.offer"
)

// ZonePrefix is what the zone of an HDS instance starts with: the seed
// keeps HDS data in France, in the Paris data centres.
const ZonePrefix = "fr-par-"

// NonEligibleFamilies are the instance families the seed's offer table
// marks not eligible for HDS ("Autres instances SLO (DEV1, GP1, PLAY2,
// PRO2, COPARM1, ENT1) — Non").
var NonEligibleFamilies = []string{"DEV1", "GP1", "PLAY2", "PRO2", "COPARM1", "ENT1"}

// Family returns the family of a commercial type: the part before the
// first "-", upper case ("DEV1-S" -> "DEV1", "PRO2-XXS" -> "PRO2").
func Family(commercialType string) string {
	fam, _, _ := strings.Cut(strings.TrimSpace(commercialType), "-")
	return strings.ToUpper(fam)
}

// Eligible reports whether a commercial type is outside the non-eligible
// families.
func Eligible(commercialType string) bool {
	fam := Family(commercialType)
	for _, f := range NonEligibleFamilies {
		if fam == f {
			return false
		}
	}
	return true
}

// applicable turns the facts into a skip or error result when there is no
// metadata to judge.
func applicable(f *Facts) (checks.Result, bool) {
	switch {
	case f.NotApplicable != "":
		return checks.Skipf("%s", f.NotApplicable), false
	case f.Err != "":
		return checks.Errorf("%s", f.Err), false
	case f.Metadata == nil:
		return checks.Errorf("no instance metadata"), false
	}
	return checks.Result{}, true
}

func zoneRule(f *Facts) checks.Result {
	if r, ok := applicable(f); !ok {
		return r
	}
	zone := f.Metadata.ZoneName()
	ev := checks.Evidence{Subject: f.Metadata.ID, Key: "zone", Value: zone, Want: ZonePrefix + "* (France, Paris)", Source: "Scaleway metadata API"}
	switch {
	case zone == "":
		return checks.Errorf("the instance metadata carries no zone").With(ev)
	case strings.HasPrefix(zone, ZonePrefix):
		ev.OK = true
		return checks.Passf("the instance runs in %s, a Paris zone", zone).With(ev)
	}
	return checks.Failf("the instance runs in %s, outside France: HDS instances are limited to the Paris zones (%s*)", zone, ZonePrefix).With(ev)
}

func offerRule(f *Facts) checks.Result {
	if r, ok := applicable(f); !ok {
		return r
	}
	ct := f.Metadata.CommercialType
	ev := checks.Evidence{Subject: f.Metadata.ID, Key: "commercial_type", Value: ct, Want: "not in the families " + strings.Join(NonEligibleFamilies, ", "), Source: "Scaleway metadata API"}
	switch {
	case strings.TrimSpace(ct) == "":
		return checks.Errorf("the instance metadata carries no commercial type").With(ev)
	case !Eligible(ct):
		return checks.Failf("%s belongs to the %s family, which the HDS offer table lists as not eligible", ct, Family(ct)).With(ev)
	}
	ev.OK = true
	return checks.Passf("%s (family %s) is not among the offers the HDS table excludes", ct, Family(ct)).With(ev)
}
