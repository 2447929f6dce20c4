package agent

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
)

// RunChecks runs the selected areas concurrently, each under the deadline,
// and returns their findings in catalogue order. An area that panics or
// overruns its deadline yields error findings for its checks; it never takes
// the run down or disappears from the report.
func RunChecks(ctx context.Context, cat *checks.Catalogue, env *host.Env, profile checks.Profile, sel checks.Selection, timeout time.Duration) []checks.Finding {
	areas := cat.Areas()
	results := make([][]checks.Finding, len(areas))
	var wg sync.WaitGroup
	for i, a := range areas {
		if !sel.WantsArea(a.Name()) {
			continue
		}
		wg.Go(func() { results[i] = runArea(ctx, a, env, timeout) })
	}
	wg.Wait()
	var out []checks.Finding
	for _, fs := range results {
		for _, f := range fs {
			if !sel.WantsCheck(f.ID) {
				continue
			}
			m, ok := profile.Apply(f.Meta)
			if !ok {
				continue
			}
			f.Meta = m
			out = append(out, f)
		}
	}
	return out
}

func runArea(ctx context.Context, a checks.Area, env *host.Env, timeout time.Duration) []checks.Finding {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan []checks.Finding, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- checks.ErrorAll(a.Checks(), fmt.Errorf("area %s crashed: %v\n%s", a.Name(), r, firstStackLines(debug.Stack())))
			}
		}()
		done <- a.Run(ctx, env)
	}()
	select {
	case f := <-done:
		return complete(a, f)
	case <-ctx.Done():
	}
	// Past the deadline the area's context is done: its commands are
	// killed (host.ExecRunner kills the whole process group) and its
	// reads stop at the next chunk (hostfs). Wait for it to return, so no
	// work goes on behind the report; an area that ignores its context is
	// a bug, and is given up on after areaGrace.
	reason := fmt.Errorf("area %s did not finish within %s", a.Name(), timeout)
	if ctx.Err() == context.Canceled {
		reason = fmt.Errorf("area %s stopped before it finished", a.Name())
	}
	grace := time.NewTimer(areaGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		reason = fmt.Errorf("%w (and still running %s later)", reason, areaGrace)
	}
	return checks.ErrorAll(a.Checks(), reason)
}

// areaGrace is how long an area past its deadline has to wind down.
const areaGrace = 2 * time.Second

// complete guarantees one finding per declared check, so a rule forgotten
// by an area shows as an error rather than vanishing.
func complete(a checks.Area, got []checks.Finding) []checks.Finding {
	have := map[string]bool{}
	for _, f := range got {
		have[f.ID] = true
	}
	for _, m := range a.Checks() {
		if !have[m.ID] {
			got = append(got, checks.NewFinding(m, checks.Errorf("area %s returned no result for this check", a.Name())))
		}
	}
	return got
}

func firstStackLines(b []byte) string {
	lines := strings.SplitN(string(b), "\n", 12)
	if len(lines) > 11 {
		lines = lines[:11]
	}
	return strings.Join(lines, "\n")
}
