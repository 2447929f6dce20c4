package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vigie-agent/vigie/agent"
	"github.com/vigie-agent/vigie/agent/report"
)

func newDiffCmd(stdout io.Writer) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff OLD.json NEW.json (- for standard input)",
		Short: "Compare two reports: newly failing, resolved, failing otherwise, waivers added or ended",
		Long: "Compare two reports of `vigie check --json` (an image and the previous release's, a host before and after\n" +
			"a change). Exit status: 0 when the new report has no regression, 1 when it has one (a check newly failing, a\n" +
			"waiver ended, new failing evidence for a failing check, a failing check no longer judged), 2 when a report\n" +
			"cannot be read.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "-" && args[1] == "-" {
				return &exitError{exitUsage, fmt.Errorf("only one of the reports can be standard input")}
			}
			old, err := agent.ReadReport(cmd.Context(), args[0], cmd.InOrStdin())
			if err != nil {
				return &exitError{exitUsage, err}
			}
			cur, err := agent.ReadReport(cmd.Context(), args[1], cmd.InOrStdin())
			if err != nil {
				return &exitError{exitUsage, err}
			}
			d := report.Compare(old, cur)
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(d); err != nil {
					return err
				}
			} else if err := report.FormatDiff(stdout, d); err != nil {
				return err
			}
			if d.Regressions > 0 {
				return &exitError{exitFailing, fmt.Errorf("%w: %d regression(s)", report.ErrRegression, d.Regressions)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "write the comparison as JSON ("+report.DiffSchema+")")
	return cmd
}
