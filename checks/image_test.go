package checks

import (
	"context"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/host"
)

// TestRuleAreaImageMode: on an image a live-only check is skipped, by name
// and with its reason, whatever its rule would say; the others are
// evaluated. Off an image, every rule is.
func TestRuleAreaImageMode(t *testing.T) {
	pass := func(bool) Result { return Passf("fine") }
	area := &RuleArea[bool]{
		AreaName: "demo",
		Rules: []Rule[bool]{
			{Meta: Meta{ID: "demo.files", Image: FromFiles("the image's demo.conf")}, Eval: pass},
			{Meta: Meta{ID: "demo.live", Image: LiveOnly("only the running demo daemon knows; demo.files judges the image's demo.conf")}, Eval: pass},
		},
		Gather: func(context.Context, *host.Env) bool { return true },
	}
	got := area.Run(context.Background(), &host.Env{Root: "/mnt/img", Image: true})
	if got[0].Status != Pass {
		t.Errorf("file-judged check on an image: %s %q", got[0].Status, got[0].Reason)
	}
	if got[1].Status != Skip || got[1].Reason != "image mode (--path.root /mnt/img): only the running demo daemon knows; demo.files judges the image's demo.conf" {
		t.Errorf("live-only check on an image: %s %q", got[1].Status, got[1].Reason)
	}
	for _, env := range []*host.Env{{Root: "/"}, {Root: "testdata/captured"}} {
		for _, f := range area.Run(context.Background(), env) {
			if f.Status != Pass || strings.Contains(f.Reason, "image mode") {
				t.Errorf("root %s, not an image: %s %s %q", env.Root, f.ID, f.Status, f.Reason)
			}
		}
	}
}
