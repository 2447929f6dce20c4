package disks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vigie-agent/vigie/checks"
)

// Check ids of the disks area.
const (
	IDLocal   = "disks.local-encrypted"
	IDScratch = "disks.scratch-encrypted"
	IDSwap    = "disks.swap-encrypted"
	IDBlock   = "disks.block-encrypted"
)

func describe(it Item) string {
	var classes []string
	for c := range it.Classes() {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	return fmt.Sprintf("%s %s on %s", it.Kind, it.Label, strings.Join(classes, "+"))
}

// classRule checks that everything stored on disks of one class goes
// through dm-crypt. Disks of the class that hold nothing are listed as
// information, not failures.
func classRule(class string, none checks.Status) func(*Facts) checks.Result {
	return func(f *Facts) checks.Result {
		if f.Err != "" {
			return checks.Errorf("%s", f.Err)
		}
		ev := []checks.Evidence{{Key: "classified_by", Value: f.ClassSource, OK: true}}
		var bad []string
		n := 0
		for _, it := range f.Items {
			if !it.Classes()[class] {
				continue
			}
			n++
			ev = append(ev, checks.Evidence{Subject: it.Kind + " " + it.Label, Key: "chain", Value: it.Chain, Want: "a dm-crypt layer (LUKS or plain)", Source: "sysfs", OK: it.Encrypted})
			if !it.Encrypted {
				bad = append(bad, describe(it)+" ("+it.Chain+")")
			}
		}
		for _, d := range f.Disks {
			switch {
			case d.Class != class:
			case !d.InUse && d.Header != "":
				ev = append(ev, checks.Evidence{Subject: d.Name, Key: "not_in_use", Value: d.Header + " (" + d.Why + ")", OK: true})
			case !d.InUse && len(d.Upper) == 0:
				ev = append(ev, checks.Evidence{Subject: d.Name, Key: "not_in_use", Value: "blank: no partition, filesystem or swap uses it (" + d.Why + ")", OK: true})
			case !d.InUse:
				ev = append(ev, checks.Evidence{Subject: d.Name, Key: "not_in_use", Value: "holds devices but nothing mounted from it (" + d.Why + ")", OK: true})
			default:
				ev = append(ev, checks.Evidence{Subject: d.Name, Key: "class", Value: class + ": " + d.Why, OK: true})
			}
		}
		switch {
		case len(bad) > 0:
			return checks.Failf("%d of %d %s storage item(s) not encrypted: %s", len(bad), n, class, strings.Join(bad, "; ")).With(ev...)
		case n == 0 && none == checks.Skip:
			return checks.Skipf("no %s storage in use", class).With(ev...)
		case n == 0:
			return checks.Passf("no %s storage in use", class).With(ev...)
		}
		return checks.Passf("all %d %s storage item(s) sit on dm-crypt", n, class).With(ev...)
	}
}

func swapRule(f *Facts) checks.Result {
	if f.Image != nil {
		return imageSwapRule(f.Image)
	}
	if f.Err != "" {
		return checks.Errorf("%s", f.Err)
	}
	var ev []checks.Evidence
	var bad []string
	n := 0
	for _, it := range f.Items {
		if it.Kind != "swap" {
			continue
		}
		n++
		ev = append(ev, checks.Evidence{Subject: it.Label, Key: "chain", Value: it.Chain, Want: "a dm-crypt layer (crypttab swap with a random key)", Source: "/proc/swaps, sysfs", OK: it.Encrypted})
		if !it.Encrypted {
			bad = append(bad, it.Label+" ("+it.Chain+")")
		}
	}
	switch {
	case len(bad) > 0:
		return checks.Failf("swap holds memory pages in clear on disk: %s", strings.Join(bad, "; ")).With(ev...)
	case n == 0:
		return checks.Passf("no swap is active").With(ev...)
	}
	return checks.Passf("all %d swap area(s) are encrypted", n).With(ev...)
}
