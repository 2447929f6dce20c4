package checks

// The documents checks are traced to. The shared responsibility model lists
// the duties inside the guest that the provider says it cannot see; the
// technical and organisational measures describe the provider's own side,
// the mirror of what the customer must do in the guest.
const (
	SharedResponsibility = "Scaleway Instances, modèle de responsabilité partagée"
	ProviderMeasures     = "Scaleway Technical and Organizational Measures"
)

// Sections of the shared responsibility model, as titled there.
const (
	SectionBestPractices = "Meilleures pratiques en matière de sécurité"
	SectionTransit       = "Protection des données / Chiffrement en transit"
	SectionCustomer      = "Sécurité dans le cloud (responsabilité de l'utilisateur)"
	SectionAccess        = "Accès Scaleway"
)

// Seed builds a reference to a section of the shared responsibility model.
func Seed(section, text string) Reference {
	return Reference{Source: SharedResponsibility, Section: section, Text: text}
}
