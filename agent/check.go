package agent

import (
	"context"
	"time"

	"github.com/vigie-agent/vigie/agent/report"
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

// Catalogue registers every area this build has, configured. The areas of
// one catalogue share one metadata client, so the API is asked at most once
// per run.
func Catalogue(cfg Config) (*checks.Catalogue, error) {
	cat, _, err := NewCatalogue(cfg)
	return cat, err
}

// NewCatalogue is Catalogue with the metadata client its areas share, for
// the report's host identity.
func NewCatalogue(cfg Config) (*checks.Catalogue, *scaleway.Client, error) {
	md := cfg.Metadata()
	cat, err := checks.NewCatalogue(
		ssh.New(cfg.SSH.Options()),
		firewall.New(cfg.Firewall.Options()),
		patches.New(cfg.Patches.Options()),
		disks.New(cfg.Disks.Options(md)),
		access.New(access.Options{}),
		logging.New(logging.Options{}),
		hds.New(hds.Options{Metadata: md}),
	)
	return cat, md, err
}

// Remediations lists what `vigie fix` can change, configured, in the order
// it changes them: sshd first, then the firewall that keeps sshd's ports
// open, then packages and disks. md is the run's metadata client.
func Remediations(cfg Config, md *scaleway.Client) []remediations.Remediation {
	return []remediations.Remediation{
		sshfix.New(cfg.SSH.Options()),
		fwfix.New(cfg.Firewall.Options()),
		patchfix.New(cfg.Patches),
		diskfix.New(cfg.Disks.Options(md)),
	}
}

// RemediableAreas names the areas `vigie fix` can change, for help texts
// and validation.
func RemediableAreas() []string { return remediations.Names(Remediations(Defaults(), nil)) }

// Check runs the configured checks on the system env describes and builds
// the report. The configuration must have been validated.
// md, when not nil, adds the cloud identity (server id, zone, type).
func Check(ctx context.Context, cat *checks.Catalogue, env *host.Env, cfg Config, md *scaleway.Client) (*report.Report, error) {
	sel, err := cat.Select(cfg.Only)
	if err != nil {
		return nil, err
	}
	profile := checks.Profiles[cfg.Profile]
	start := time.Now()
	findings := RunChecks(ctx, cat, env, profile, sel, cfg.Timeout)
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
