package checks

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/vigie-agent/vigie/host"
)

// Area gathers the facts of one part of the system once and turns them into
// findings. Run must not panic and must return one finding per check it
// declares, whatever happens: a fact it cannot read becomes an error finding.
type Area interface {
	Name() string
	Checks() []Meta
	Run(ctx context.Context, env *host.Env) []Finding
}

// Rule is a pure function from an area's facts to a verdict, next to the
// description of the check it decides.
type Rule[F any] struct {
	Meta
	Eval func(F) Result
}

// Metas lists the descriptions of rules, in order.
func Metas[F any](rules []Rule[F]) []Meta {
	out := make([]Meta, len(rules))
	for i, r := range rules {
		out[i] = r.Meta
	}
	return out
}

// Evaluate applies every rule to the same facts.
func Evaluate[F any](rules []Rule[F], facts F) []Finding {
	out := make([]Finding, 0, len(rules))
	for _, r := range rules {
		out = append(out, NewFinding(r.Meta, r.Eval(facts)))
	}
	return out
}

// ErrorAll turns one failure to gather facts into an error finding per check,
// so a broken fact source is visible in the report instead of silently absent.
func ErrorAll(metas []Meta, err error) []Finding {
	out := make([]Finding, 0, len(metas))
	for _, m := range metas {
		out = append(out, NewFinding(m, Errorf("%v", err)))
	}
	return out
}

// SkipAll marks every check of an area as not applicable, with one reason.
func SkipAll(metas []Meta, reason string) []Finding {
	out := make([]Finding, 0, len(metas))
	for _, m := range metas {
		out = append(out, NewFinding(m, Skipf("%s", reason)))
	}
	return out
}

// Catalogue indexes every check of a set of areas by id.
type Catalogue struct {
	areas []Area
	byID  map[string]Meta
}

// NewCatalogue builds the index and rejects duplicate ids, which would make
// reports ambiguous.
func NewCatalogue(areas ...Area) (*Catalogue, error) {
	c := &Catalogue{areas: areas, byID: map[string]Meta{}}
	for _, a := range areas {
		for _, m := range a.Checks() {
			if _, dup := c.byID[m.ID]; dup {
				return nil, fmt.Errorf("check id %s declared twice", m.ID)
			}
			if m.Area() != a.Name() {
				return nil, fmt.Errorf("check id %s does not belong to area %s", m.ID, a.Name())
			}
			c.byID[m.ID] = m
		}
	}
	return c, nil
}

// Areas returns the areas in registration order.
func (c *Catalogue) Areas() []Area { return c.areas }

// Area returns the area with that name.
func (c *Catalogue) Area(name string) (Area, bool) {
	for _, a := range c.areas {
		if a.Name() == name {
			return a, true
		}
	}
	return nil, false
}

// AreaNames lists the registered areas.
func (c *Catalogue) AreaNames() []string {
	names := make([]string, len(c.areas))
	for i, a := range c.areas {
		names[i] = a.Name()
	}
	return names
}

// Lookup finds a check by id.
func (c *Catalogue) Lookup(id string) (Meta, bool) {
	m, ok := c.byID[id]
	return m, ok
}

// IDs lists every check id, sorted.
func (c *Catalogue) IDs() []string {
	ids := make([]string, 0, len(c.byID))
	for id := range c.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// RuleArea is an area whose checks are rules over facts gathered once per
// run: the shape of every area, written once.
type RuleArea[F any] struct {
	AreaName string
	Rules    []Rule[F]
	Gather   func(ctx context.Context, env *host.Env) F
	// Finish, when set, may rewrite the findings with what only the facts
	// as a whole tell (an area not installed, a fact source that fell back).
	Finish func(F, []Finding) []Finding
}

// Name implements Area.
func (a *RuleArea[F]) Name() string { return a.AreaName }

// Checks implements Area.
func (a *RuleArea[F]) Checks() []Meta { return Metas(a.Rules) }

// Run gathers the facts once and evaluates every rule over them. On an
// image (env.Image), the live-only checks are skipped, whatever the facts.
func (a *RuleArea[F]) Run(ctx context.Context, env *host.Env) []Finding {
	f := a.Gather(ctx, env)
	out := Evaluate(a.Rules, f)
	if a.Finish != nil {
		out = a.Finish(f, out)
	}
	if env.Image {
		out = SkipLive(out, env.Root)
	}
	return out
}

// Selection is what --only asks for: whole areas and single checks. The
// zero value selects everything.
type Selection struct {
	areas map[string]bool // area name -> every check of it
	ids   map[string]bool // single check ids
}

// WantsArea says whether any check of the area is selected.
func (s Selection) WantsArea(area string) bool {
	if len(s.areas) == 0 && len(s.ids) == 0 {
		return true
	}
	if s.areas[area] {
		return true
	}
	for id := range s.ids {
		if strings.HasPrefix(id, area+".") {
			return true
		}
	}
	return false
}

// WantsCheck says whether the check is selected.
func (s Selection) WantsCheck(id string) bool {
	if len(s.areas) == 0 && len(s.ids) == 0 {
		return true
	}
	area, _, _ := strings.Cut(id, ".")
	return s.areas[area] || s.ids[id]
}

// Select parses --only: each entry is an area ("ssh") or a check id
// ("ssh.password-auth"). Anything else is an error naming the entry.
func (cat *Catalogue) Select(only []string) (Selection, error) {
	sel := Selection{areas: map[string]bool{}, ids: map[string]bool{}}
	for _, raw := range only {
		for _, item := range strings.Split(raw, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			if _, ok := cat.Area(item); ok {
				sel.areas[item] = true
				continue
			}
			if _, ok := cat.Lookup(item); ok {
				sel.ids[item] = true
				continue
			}
			return sel, fmt.Errorf("only: unknown area or check %q (areas: %s; `vigie check --list` lists checks)", item, strings.Join(cat.AreaNames(), ", "))
		}
	}
	return sel, nil
}
