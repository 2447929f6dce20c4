// Package waivers reads accepted risks (the configuration's `waivers:` and
// the files of waivers.d) and applies them to a run's findings. A waiver
// names a check, optionally one subject of it, a reason, who accepted it
// and the last day it holds. It never hides what it does not name: a
// waiver for 8080/tcp leaves a finding about 9090/tcp failing. When it
// expires, or no longer matches anything, it is itself a failing finding,
// so an accepted risk cannot be forgotten.
package waivers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// DefaultDir holds one YAML file of waivers per team or change.
const DefaultDir = "/etc/vigie/waivers.d"

// DefaultMaxDays is how far ahead a waiver may expire unless configured:
// an accepted risk is reviewed at least once a year.
const DefaultMaxDays = 365

// dateLayout is the one date format accepted, so no date is misread.
const dateLayout = "2006-01-02"

// keys are a waiver's keys, in the order errors list them.
var keys = []string{"check", "subject", "reason", "accepted_by", "expires"}

// maxFile bounds a waivers.d file; maxFiles the files read.
const (
	maxFile  = 1 << 20
	maxFiles = 1000
)

// Parse reads waivers from their YAML form (a list of maps, as the
// configuration file's `waivers:` or a waivers.d file's), refusing unknown
// keys, missing ones and bad dates by name. now and maxDays bound the
// expiry: at most maxDays ahead. source names where they came from.
func Parse(raw any, source string, now time.Time, maxDays int) ([]checks.Waiver, error) {
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: waivers: want a list of waivers, got %T", source, raw)
	}
	var out []checks.Waiver
	for i, item := range list {
		where := fmt.Sprintf("%s: waivers[%d]", source, i)
		raw, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: want a map with the keys %s, got %T", where, strings.Join(keys, ", "), item)
		}
		// Keys are folded to lower case, as the configuration file's are,
		// so a waiver means the same wherever it is written.
		m := make(map[string]any, len(raw))
		for k, v := range raw {
			lk := strings.ToLower(k)
			if _, dup := m[lk]; dup {
				return nil, fmt.Errorf("%s: key %s given twice", where, lk)
			}
			m[lk] = v
		}
		var unknown []string
		for k := range m {
			if !slices.Contains(keys, k) {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return nil, fmt.Errorf("%s: unknown key %s (known keys: %s)", where, strings.Join(unknown, ", "), strings.Join(keys, ", "))
		}
		w := checks.Waiver{Source: source}
		for _, k := range keys {
			v, present := m[k]
			var s string
			switch x := v.(type) {
			case nil:
			case string:
				s = strings.TrimSpace(x)
			case time.Time:
				// YAML reads an unquoted 2026-12-31 as a timestamp: only a
				// plain date, at midnight UTC, is one.
				if k != "expires" || !x.Equal(x.UTC().Truncate(24*time.Hour)) {
					return nil, fmt.Errorf("%s: %s: want a date as YYYY-MM-DD, got %s", where, k, x.Format(time.RFC3339))
				}
				s = x.UTC().Format(dateLayout)
			default:
				return nil, fmt.Errorf("%s: %s: want a string, got %T", where, k, v)
			}
			if !present || s == "" {
				if k == "subject" {
					continue
				}
				return nil, fmt.Errorf("%s: %s is required", where, k)
			}
			if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				return nil, fmt.Errorf("%s: %s holds a control character", where, k)
			}
			switch k {
			case "check":
				w.Check = s
			case "subject":
				w.Subject = s
			case "reason":
				w.Reason = s
			case "accepted_by":
				w.AcceptedBy = s
			case "expires":
				w.Expires = s
			}
		}
		day, err := time.Parse(dateLayout, w.Expires)
		if err != nil {
			return nil, fmt.Errorf("%s (check %s): expires: %q is not a date as YYYY-MM-DD", where, w.Check, w.Expires)
		}
		if limit := today(now).AddDate(0, 0, maxDays); day.After(limit) {
			return nil, fmt.Errorf("%s (check %s): expires %s is more than %d days ahead (waiver_max_days): accept the risk for less, and review it then",
				where, w.Check, w.Expires, maxDays)
		}
		out = append(out, w)
	}
	return out, nil
}

func today(now time.Time) time.Time { return now.UTC().Truncate(24 * time.Hour) }

// Expired reports whether the waiver's last day is over.
func Expired(w checks.Waiver, now time.Time) bool {
	day, err := time.Parse(dateLayout, w.Expires)
	return err != nil || today(now).After(day)
}

// LoadDir reads every *.yaml file of dir, in name order: each holds
// `waivers:` and a list. A missing directory holds none. The directory is
// root's; it is still read as hostile input would be (regular files only,
// bounded, no link followed at the last step).
func LoadDir(ctx context.Context, dir string, now time.Time, maxDays int) ([]checks.Waiver, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("waivers: %w", err)
	}
	var out []checks.Waiver
	n := 0
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		if n++; n > maxFiles {
			return nil, fmt.Errorf("waivers: %s holds more than %d files", dir, maxFiles)
		}
		p := filepath.Join(dir, name)
		b, err := hostfs.ReadFile(ctx, p, hostfs.Spec{Max: maxFile})
		if err != nil {
			return nil, fmt.Errorf("waivers: %w", err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("waivers: %s: %v", p, err)
		}
		for k := range doc {
			if k != "waivers" {
				return nil, fmt.Errorf("waivers: %s: unknown key %s (a waivers.d file holds waivers: and a list)", p, k)
			}
		}
		ws, err := Parse(doc["waivers"], p, now, maxDays)
		if err != nil {
			return nil, fmt.Errorf("waivers: %w", err)
		}
		out = append(out, ws...)
	}
	return out, nil
}

// Check validates waivers against the catalogue: a waiver for a check that
// does not exist is a typo that would waive nothing, forever.
func Check(ws []checks.Waiver, known func(id string) bool) error {
	for _, w := range ws {
		if !known(w.Check) {
			return fmt.Errorf("%s: waiver for %s: no such check", w.Source, w.Check)
		}
	}
	return nil
}
