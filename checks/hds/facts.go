package hds

import (
	"context"
	"errors"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/scaleway"
)

// Options are the hds area's settings.
type Options struct {
	// Metadata is the shared metadata client, nil to never ask: then
	// every hds check is skipped.
	Metadata *scaleway.Client
}

// Facts is what the hds rules need: the instance metadata, or why there
// is none.
type Facts struct {
	Metadata *scaleway.Metadata
	// NotApplicable says why the checks do not apply (not a Scaleway
	// instance, no metadata client).
	NotApplicable string
	// Err is a metadata API failure on a Scaleway instance.
	Err string
}

// Gather asks the metadata API, through the shared client, which sends
// nothing off Scaleway.
func Gather(ctx context.Context, env *host.Env, opt Options) *Facts {
	if opt.Metadata == nil {
		return &Facts{NotApplicable: "no metadata client configured: the HDS checks need the Scaleway instance metadata"}
	}
	md, err := opt.Metadata.Get(ctx, env)
	switch {
	case errors.Is(err, scaleway.ErrNotScaleway):
		return &Facts{NotApplicable: err.Error()}
	case err != nil:
		return &Facts{Err: err.Error()}
	}
	return &Facts{Metadata: md}
}
