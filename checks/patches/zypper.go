package patches

import (
	"context"
	"encoding/xml"
	"fmt"

	"github.com/vigie-agent/vigie/host"
)

// zypperStream is `zypper --xmlout list-patches` / `list-updates`.
type zypperStream struct {
	XMLName xml.Name `xml:"stream"`
	Updates []struct {
		Kind     string `xml:"kind,attr"`
		Name     string `xml:"name,attr"`
		Edition  string `xml:"edition,attr"`
		Arch     string `xml:"arch,attr"`
		Category string `xml:"category,attr"`
		Severity string `xml:"severity,attr"`
		Status   string `xml:"status,attr"`
		Source   struct {
			Alias string `xml:"alias,attr"`
		} `xml:"source"`
		Issues []struct {
			Type string `xml:"type,attr"`
			ID   string `xml:"id,attr"`
		} `xml:"issue-list>issue"`
	} `xml:"update-status>update-list>update"`
	Messages []struct {
		Type string `xml:"type,attr"`
		Text string `xml:",chardata"`
	} `xml:"message"`
}

// ParseZypperXML reads zypper's XML output of list-patches or
// list-updates. Patches carry the advisory (name), category and severity.
func ParseZypperXML(out []byte) ([]Update, error) {
	var s zypperStream
	if err := xml.Unmarshal(out, &s); err != nil {
		return nil, fmt.Errorf("parse zypper XML: %w", err)
	}
	for _, m := range s.Messages {
		if m.Type == "error" {
			return nil, fmt.Errorf("zypper: %s", m.Text)
		}
	}
	var ups []Update
	for _, u := range s.Updates {
		up := Update{Name: u.Name, To: u.Edition, Arch: u.Arch, Severity: u.Severity}
		if u.Source.Alias != "" {
			up.Archives = []string{u.Source.Alias}
		}
		if u.Kind == "patch" {
			up.Patch = true
			up.Advisories = []string{u.Name}
			up.Security = u.Category == "security"
			if u.Status != "" && u.Status != "needed" {
				continue // applied or not relevant
			}
		}
		for _, is := range u.Issues {
			if is.Type == "cve" {
				up.CVEs = append(up.CVEs, is.ID)
			}
		}
		ups = append(ups, up)
	}
	return ups, nil
}

func gatherZypper(ctx context.Context, env *host.Env, opt Options, f *Facts) {
	args := []string{"--non-interactive", "--xmlout"}
	if !opt.Refresh {
		args = append(args, "--no-refresh")
	}
	f.Source = "zypper list-patches, zypper list-updates"
	if env.Image {
		args = append([]string{"--root", env.Root}, args...)
		f.Source += onImage
	}
	patches, err := env.Cmd.Run(ctx, "zypper", append(args, "list-patches")...)
	if err != nil && host.ExitCode(err) != 100 && host.ExitCode(err) != 101 {
		f.UpdatesErr = err.Error()
		return
	}
	ps, err := ParseZypperXML(patches)
	if err != nil {
		f.UpdatesErr = err.Error()
		return
	}
	pkgs, err := env.Cmd.Run(ctx, "zypper", append(args, "list-updates")...)
	if err == nil || host.ExitCode(err) == 100 {
		if us, err := ParseZypperXML(pkgs); err == nil {
			ps = append(ps, us...)
		}
	}
	f.Updates = ps
	f.Indexes, f.IndexNewest, f.IndexErr = rpmIndexes(ctx, env)
}
