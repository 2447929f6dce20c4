package patches

import (
	"strings"
	"time"
)

// Support is the end of security support of the running release.
type Support struct {
	Known bool
	Name  string
	Until time.Time // last day security fixes are published (LTS included)
	Note  string
}

// supportTable lists when releases stop receiving security fixes, from the
// distributions' own announcements (Debian: wiki.debian.org/LTS; Ubuntu:
// ubuntu.com/about/release-cycle, standard support without ESM; Red Hat:
// access.redhat.com/support/policy/updates/errata, Maintenance Support;
// Rocky and Alma follow RHEL; openSUSE: en.opensuse.org/Lifetime), as of
// November 2026. Extended paid programmes (Debian ELTS, Ubuntu Pro ESM, RHEL
// ELS) are not counted: they need a subscription vigie cannot see.
var supportTable = map[string]map[string]Support{
	"debian": {
		"10": {Name: "Debian 10 (buster)", Until: day(2024, 6, 30)},
		"11": {Name: "Debian 11 (bullseye)", Until: day(2026, 8, 31), Note: "LTS"},
		"12": {Name: "Debian 12 (bookworm)", Until: day(2028, 6, 30), Note: "LTS after 2026-06-10"},
		"13": {Name: "Debian 13 (trixie)", Until: day(2030, 6, 30)},
	},
	"ubuntu": {
		"20.04": {Name: "Ubuntu 20.04 LTS", Until: day(2025, 5, 31)},
		"22.04": {Name: "Ubuntu 22.04 LTS", Until: day(2027, 6, 30)},
		"24.04": {Name: "Ubuntu 24.04 LTS", Until: day(2029, 6, 30)},
		"26.04": {Name: "Ubuntu 26.04 LTS", Until: day(2031, 6, 30)},
	},
	"rhel": {
		"8":  {Name: "RHEL 8", Until: day(2029, 5, 31)},
		"9":  {Name: "RHEL 9", Until: day(2032, 5, 31)},
		"10": {Name: "RHEL 10", Until: day(2035, 5, 31)},
	},
	"rocky":     {"8": {Name: "Rocky Linux 8", Until: day(2029, 5, 31)}, "9": {Name: "Rocky Linux 9", Until: day(2032, 5, 31)}, "10": {Name: "Rocky Linux 10", Until: day(2035, 5, 31)}},
	"almalinux": {"8": {Name: "AlmaLinux 8", Until: day(2029, 3, 1)}, "9": {Name: "AlmaLinux 9", Until: day(2032, 5, 31)}, "10": {Name: "AlmaLinux 10", Until: day(2035, 5, 31)}},
	"opensuse-leap": {
		"15.5": {Name: "openSUSE Leap 15.5", Until: day(2024, 12, 31)},
		"15.6": {Name: "openSUSE Leap 15.6", Until: day(2026, 4, 30)},
	},
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 23, 59, 59, 0, time.UTC) }

// supportOf finds a release in the table; RHEL-family minor versions
// ("9.4") count as their major release.
func supportOf(os OSRelease) Support {
	rel, ok := supportTable[os.ID]
	if !ok {
		return Support{}
	}
	v := os.VersionID
	if s, ok := rel[v]; ok {
		s.Known = true
		return s
	}
	if i := strings.IndexByte(v, '.'); i > 0 && os.ID != "ubuntu" && os.ID != "opensuse-leap" {
		if s, ok := rel[v[:i]]; ok {
			s.Known = true
			return s
		}
	}
	return Support{}
}
