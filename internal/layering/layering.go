// Package layering holds vigie's package layering as a rule a test holds
// the code to. From the top, each layer imports only the layers below it:
//
//	cmd/                     the commands (vigie, gendocs)
//	agent/                   orchestration, configuration, report, sinks
//	remediations/            the engine and one package per area
//	checks/                  the finding model and one package per area
//	host/                    what the areas read: files, commands, accounts, units, metadata
//	internal/                small helpers with no domain, test harnesses
//
// Within checks/ and remediations/ an area imports its parent (the model,
// the engine), never another area. The report spool and the HTTPS sink
// know reports as bytes: they import nothing of checks, remediations or
// host; the report's formats and the other sinks know the finding model
// (checks) and nothing else of them.
package layering

import (
	"fmt"
	"strings"
)

// Module is the module path the rule is stated against.
const Module = "github.com/vigie-agent/vigie"

var layers = []struct {
	prefix string
	rank   int
}{
	{"cmd", 6}, {"vmtest", 6},
	{"agent", 5},
	{"remediations", 4},
	{"checks", 3},
	{"host", 2},
	{"internal", 1},
}

// Rank is the layer of a package path relative to the module, 0 when it
// is none of the module's.
func Rank(pkg string) int {
	for _, l := range layers {
		if pkg == l.prefix || strings.HasPrefix(pkg, l.prefix+"/") {
			return l.rank
		}
	}
	return 0
}

// sinks are the packages that carry reports as bytes.
var sinks = []string{"agent/spool", "agent/endpoint"}

// reportModel are the packages that know a report through its model (and
// the finding model of checks), never an area, a remediation or the host.
var reportModel = []string{"agent/report", "agent/sinks", "agent/otlp"}

func under(pkg, prefix string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }

// Check says what is wrong with package from importing package to (both
// relative to the module), or "" when the import follows the layers.
func Check(from, to string) string {
	rf, rt := Rank(from), Rank(to)
	if rf == 0 || rt == 0 {
		return ""
	}
	for _, s := range sinks {
		if under(from, s) && (under(to, "checks") || under(to, "remediations") || under(to, "host")) {
			return fmt.Sprintf("%s carries reports as bytes and must not import %s", from, to)
		}
	}
	for _, s := range reportModel {
		if under(from, s) && (to != "checks" && under(to, "checks") || under(to, "remediations") || under(to, "host")) {
			return fmt.Sprintf("%s knows reports through their model and must not import %s", from, to)
		}
	}
	if rt > rf {
		return fmt.Sprintf("%s (layer %d) imports %s (layer %d): imports run from cmd down to internal", from, rf, to, rt)
	}
	if rt == rf {
		top := strings.SplitN(from, "/", 2)[0]
		if top == "checks" || top == "remediations" {
			// An area may import its parent, never a sibling area.
			if strings.Count(to, "/") >= 1 && to != from {
				return fmt.Sprintf("%s imports another area, %s: areas share only their parent package", from, to)
			}
		}
	}
	return ""
}
