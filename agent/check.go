// Package agent orchestrates vigie: it builds a run from the configuration
// (the areas, their remediations, the metadata client they share), runs the
// checks with deadlines, plans and applies fixes, and turns the service's
// cycles. What the areas know lives in checks/ and remediations/, the
// configuration in agent/config, the report and its formats in
// agent/report, and where reports go in agent/sinks.
package agent

import (
	"context"
	"time"

	"github.com/spf13/pflag"

	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/waivers"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/checks/access"
	"github.com/vigie-agent/vigie/checks/disks"
	"github.com/vigie-agent/vigie/checks/firewall"
	"github.com/vigie-agent/vigie/checks/hds"
	"github.com/vigie-agent/vigie/checks/logging"
	"github.com/vigie-agent/vigie/checks/patches"
	"github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/scaleway"
	"github.com/vigie-agent/vigie/remediations"
	diskfix "github.com/vigie-agent/vigie/remediations/disks"
	fwfix "github.com/vigie-agent/vigie/remediations/firewall"
	patchfix "github.com/vigie-agent/vigie/remediations/patches"
	sshfix "github.com/vigie-agent/vigie/remediations/ssh"
)

// Version and Commit are stamped at build time with -ldflags -X.
var (
	Version = "dev"
	Commit  = ""
)

// Run is what one invocation of vigie works with: the configuration, the
// system it inspects, the catalogue of areas and the remediations built
// from that configuration, and the metadata client they share, so the
// metadata API is asked at most once per run.
type Run struct {
	Config       config.Config
	Env          *host.Env
	Catalogue    *checks.Catalogue
	Remediations []remediations.Remediation
	Metadata     *scaleway.Client
}

// NewRun builds a run from a configuration already loaded. It does not
// validate it (Load does). A root other than "/" makes env an image tree
// (host.Env.Resolve): one that is not a root file system is refused.
func NewRun(cfg config.Config, env *host.Env) (*Run, error) {
	if err := env.Resolve(); err != nil {
		return nil, err
	}
	md := cfg.Metadata()
	cat, err := checks.NewCatalogue(Areas(cfg, md)...)
	if err != nil {
		return nil, err
	}
	return &Run{Config: cfg, Env: env, Catalogue: cat, Remediations: Remediations(cfg, md), Metadata: md}, nil
}

// Load reads the configuration (flags, when given, override it), builds
// the run and validates the configuration against its catalogue and
// remediations. Any error is the operator's to fix: the command exits 2.
func Load(path string, explicit bool, flags *pflag.FlagSet, env *host.Env) (*Run, error) {
	cfg, err := config.Load(path, explicit, flags)
	if err != nil {
		return nil, err
	}
	r, err := NewRun(cfg, env)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(r.Catalogue, remediations.Names(r.Remediations)); err != nil {
		return nil, err
	}
	return r, nil
}

// Areas lists every area this build has, configured, in the order reports
// list them. md is the run's metadata client.
func Areas(cfg config.Config, md *scaleway.Client) []checks.Area {
	return []checks.Area{
		ssh.New(cfg.SSH.Options().WithMetadata(md)),
		firewall.New(cfg.Firewall.Options()),
		patches.New(cfg.Patches.Options()),
		disks.New(cfg.Disks.Options(md)),
		access.New(access.Options{}),
		logging.New(logging.Options{}),
		hds.New(hds.Options{Metadata: md}),
	}
}

// Catalogue is the catalogue of the default configuration: what `vigie
// explain` and the generated docs describe.
func Catalogue() *checks.Catalogue {
	cat, err := checks.NewCatalogue(Areas(config.Defaults(), nil)...)
	if err != nil {
		panic(err) // a build whose areas clash is not a build
	}
	return cat
}

// OwnChecks are the findings vigie makes of itself rather than of an
// area: the judgement of the waivers.
func OwnChecks() []checks.Meta { return []checks.Meta{waivers.Meta} }

// Lookup describes a check of the catalogue, or vigie's own judgement of
// the waivers, for `vigie explain`.
func Lookup(id string) (checks.Meta, bool) {
	if id == waivers.CheckID {
		return waivers.Meta, true
	}
	return Catalogue().Lookup(id)
}

// Remediations lists what `vigie fix` can change, configured, in the order
// it changes them: sshd first, then the firewall that keeps sshd's ports
// open, then packages and disks. md is the run's metadata client.
func Remediations(cfg config.Config, md *scaleway.Client) []remediations.Remediation {
	return []remediations.Remediation{
		sshfix.New(cfg.SSH.Options().WithMetadata(md)),
		fwfix.New(cfg.Firewall),
		patchfix.New(cfg.Patches),
		diskfix.New(cfg.Disks.Options(md)),
	}
}

// RemediableAreas names the areas `vigie fix` can change, for help texts
// and validation.
func RemediableAreas() []string { return remediations.Names(Remediations(config.Defaults(), nil)) }

// Check runs the run's checks on the system it inspects and builds the
// report; the metadata client, on a Scaleway instance, adds the cloud
// identity (server id, zone, type).
func Check(ctx context.Context, r *Run) (*report.Report, error) {
	cat, env, cfg, md := r.Catalogue, r.Env, r.Config, r.Metadata
	sel, err := cat.Select(cfg.Only)
	if err != nil {
		return nil, err
	}
	profile := checks.Profiles[cfg.Profile]
	start := time.Now()
	findings := RunChecks(ctx, cat, env, profile, sel, cfg.Timeout)
	findings = waivers.Apply(findings, cfg.Waivers, start)
	if findings == nil {
		findings = []checks.Finding{}
	}
	return &report.Report{
		Schema:     report.SchemaV1,
		ID:         report.NewID(),
		Agent:      report.AgentInfo{Name: "vigie", Version: Version, Commit: Commit},
		Host:       hostWithCloud(ctx, env, md),
		Profile:    profile.Name,
		StartedAt:  start.UTC().Truncate(time.Millisecond),
		DurationMS: time.Since(start).Milliseconds(),
		Summary:    report.Summarize(findings),
		Findings:   findings,
	}, nil
}
