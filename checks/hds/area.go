// Package hds checks what the health-data hosting (HDS) section of the
// shared responsibility model asks of an instance itself: that it runs in
// France, in a Paris zone, and on an eligible offer. Both facts come from
// the Scaleway instance metadata API; off Scaleway the checks are skipped.
package hds

import (
	"context"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
)

var residency = checks.Seed("Résidence des données HDS",
	"Instances HDS : limitées à la France. Les données ne doivent pas être transférées en dehors du périmètre autorisé.")

var parisDatacentres = checks.Seed("Résidence des données HDS",
	"Responsabilité de Scaleway : garantir techniquement que les données restent dans les datacenters parisiens autorisés")

var noOtherRegions = checks.Seed("Résidence des données HDS",
	"Ne pas utiliser ni créer d'instances dans des régions non HDS pour votre infrastructure HDS, ni d'instances non HDS.")

var offerTable = checks.Seed("Offres d'instances HDS",
	"Autres instances SLO (DEV1, GP1, PLAY2, PRO2, COPARM1, ENT1) | Eligible for HDS purposes ? Non | N/A")

var offerDuty = checks.Seed("Offres d'instances HDS",
	"Client : Veiller à ce que seules les offres éligibles soient utilisées et comprendre les obligations relatives aux options de stockage.")

var complianceDuty = checks.Seed("Exigences de conformité HDS",
	"Respecter les offres d'instances autorisées, y compris les exigences en matière de stockage.")

var rules = []checks.Rule[*Facts]{
	{Meta: checks.Meta{
		ID: IDZone, Title: "The instance runs in a Paris zone", Severity: checks.High,
		Rationale:  "The seed limits HDS instances to France: the provider guarantees that data stays in the authorised Paris data centres, and the customer must not create instances for HDS infrastructure in other regions. vigie reads the zone from the instance metadata API and passes only fr-par-* zones.",
		ManualFix:  "An instance cannot move between zones: create a new instance in fr-par-1, fr-par-2 or fr-par-3 (from a snapshot or image of this one, or by redeploying), move the data, then delete this instance and its volumes (ask for their deletion explicitly, the seed notes block volumes stay otherwise).",
		References: []checks.Reference{residency, parisDatacentres, noOtherRegions},
		Image:      checks.LiveOnly("the zone is each instance's, which only its metadata API tells, and the metadata API this machine reaches is its own"),
	}, Eval: zoneRule},
	{Meta: checks.Meta{
		ID: IDOffer, Title: "The instance type is eligible for HDS", Severity: checks.High,
		Rationale:  "The seed's table of HDS instance offers marks the DEV1, GP1, PLAY2, PRO2, COPARM1 and ENT1 families as not eligible; the customer must use eligible offers only. vigie reads the commercial type from the instance metadata API and compares its family (the part before the first dash: DEV1-S is DEV1). Types outside those families pass; the table's storage conditions are checked by the disks area.",
		ManualFix:  "Change the commercial type to an eligible offer: the Instance API's server update takes a new commercial_type while the instance is stopped and outside any placement group, provided the target type allows its local storage. Otherwise create an eligible instance and move the workload. Check the offer table of the HDS documentation for the storage each type allows.",
		References: []checks.Reference{offerTable, offerDuty, complianceDuty},
		Image:      checks.LiveOnly("the commercial type is each instance's, which only its metadata API tells, and the metadata API this machine reaches is its own"),
	}, Eval: offerRule},
}

// New returns the hds area with its options.
func New(opt Options) checks.Area {
	return &checks.RuleArea[*Facts]{
		AreaName: "hds",
		Rules:    rules,
		Gather:   func(ctx context.Context, env *host.Env) *Facts { return Gather(ctx, env, opt) },
	}
}

// Evaluate applies the rules to facts gathered elsewhere.
func Evaluate(f *Facts) []checks.Finding { return checks.Evaluate(rules, f) }
