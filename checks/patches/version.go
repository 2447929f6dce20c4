package patches

import "strings"

// CompareVersions orders two Debian versions ([epoch:]upstream[-revision])
// the way dpkg --compare-versions does: -1, 0 or 1. Kernel release strings
// (6.1.0-18-amd64, 5.14.0-427.13.1.el9_4.x86_64) order correctly with it
// too, which is what the reboot check needs.
func CompareVersions(a, b string) int {
	ea, ua, ra := splitVersion(a)
	eb, ub, rb := splitVersion(b)
	if c := compareNumeric(ea, eb); c != 0 {
		return c
	}
	if c := verrevcmp(ua, ub); c != 0 {
		return c
	}
	return verrevcmp(ra, rb)
}

func splitVersion(v string) (epoch, upstream, revision string) {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		epoch, v = v[:i], v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

func compareNumeric(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	switch {
	case len(a) != len(b):
		if len(a) < len(b) {
			return -1
		}
		return 1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// order is dpkg's weight of a non-digit character: '~' sorts before
// everything, even the end of the string; letters before other symbols.
func order(c byte, ok bool) int {
	switch {
	case !ok:
		return 0
	case c == '~':
		return -1
	case c >= '0' && c <= '9':
		return 0
	case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		return int(c)
	}
	return int(c) + 256
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// verrevcmp is dpkg's comparison of one version part: alternating runs of
// non-digits (compared by order) and digits (compared as numbers).
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			var ca, cb byte
			okA, okB := i < len(a) && !isDigit(a[i]), j < len(b) && !isDigit(b[j])
			if okA {
				ca = a[i]
			}
			if okB {
				cb = b[j]
			}
			if oa, ob := order(ca, okA), order(cb, okB); oa != ob {
				if oa < ob {
					return -1
				}
				return 1
			}
			if okA {
				i++
			}
			if okB {
				j++
			}
			if !okA && !okB {
				break
			}
		}
		si := i
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		sj := j
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if c := compareNumeric(a[si:i], b[sj:j]); c != 0 {
			return c
		}
	}
	return 0
}
