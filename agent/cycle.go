package agent

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/sinks"
	"github.com/vigie-agent/vigie/remediations"
)

// Cycle is one turn of `vigie run`: remediate the areas the configuration
// lists, check, and report to every configured sink.
//
// full sends the whole report to the sinks that otherwise get only its
// changes: the service's first cycle.
func Cycle(ctx context.Context, r *Run, log io.Writer, full bool) error {
	var errs []error
	if len(r.Config.Run.Remediate) > 0 {
		code, err := Fix(ctx, r, log, FixOptions{Only: r.Config.Run.Remediate, Yes: true})
		switch {
		case errors.Is(err, remediations.ErrBusy):
			// An operator's fix or undo is under way: this cycle leaves the
			// host to it and only checks.
			fmt.Fprintf(log, "remediation skipped this cycle: %v\n", err)
		case err != nil:
			errs = append(errs, runError("remediate", err))
		case code != 0:
			errs = append(errs, runError("remediate", fmt.Errorf("a change failed and was rolled back (exit %d)", code)))
		}
	}
	rep, err := Check(ctx, r)
	if err != nil {
		return runError("check", err)
	}
	res, err := Deliver(ctx, r, rep, LogLine(log), full)
	if err != nil {
		errs = append(errs, err)
	}
	fmt.Fprintf(log, "report %s: %d pass, %d fail, %d error, %d skip; %s\n", rep.ID, rep.Summary.Pass, rep.Summary.Fail, rep.Summary.Error, rep.Summary.Skip, res)
	return errors.Join(errs...)
}

// Deliver sends a report to the sinks the configuration names, with what
// the spool kept from an outage.
// full sends the whole report to every sink, changes mode or not.
func Deliver(ctx context.Context, r *Run, rep *report.Report, logf func(string), full bool) (sinks.Outcome, error) {
	return sinks.Deliver(ctx, r.Config.Report, r.Config.StateDir, "vigie/"+Version, rep, logf, sinks.Options{Full: full})
}

// Flush delivers what the spools kept from earlier cycles; the service
// calls it between cycles while something waits.
func Flush(ctx context.Context, cfg config.Config, log io.Writer) error {
	res, err := sinks.Flush(ctx, cfg.Report, cfg.StateDir, "vigie/"+Version, LogLine(log))
	if res.OTLPDelivered+res.Delivered > 0 || err != nil {
		fmt.Fprintf(log, "spooled reports: %s\n", res)
	}
	return err
}

// Pending reports whether a spool holds something to deliver.
func Pending(cfg config.Config) bool { return sinks.Pending(cfg.Report, cfg.StateDir) }

// LogLine returns a logger writing one escaped, bounded line per message.
func LogLine(w io.Writer) func(string) { return sinks.LogLine(w) }
