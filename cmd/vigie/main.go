// Command vigie checks, inside a cloud instance, the security duties the
// provider's shared responsibility model leaves to the customer.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/vigie-agent/vigie/agent"
	"github.com/vigie-agent/vigie/agent/config"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/sinks"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
)

// Exit codes: 0 nothing fails, 1 something fails, 2 vigie could not run.
const (
	exitOK      = 0
	exitFailing = 1
	exitUsage   = 2
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(stdout)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	// An error may quote the host (a path, a value of the configuration):
	// it is printed escaped, on one line.
	logLine := agent.LogLine(stderr)
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			logLine("vigie: " + ee.err.Error())
		}
		return ee.code
	}
	logLine("vigie: " + err.Error())
	return exitUsage
}

type globalFlags struct {
	config   string
	rootPath string
	procPath string
	sysPath  string
}

func newRootCmd(stdout io.Writer) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "vigie",
		Short:         "Check the customer's side of the cloud shared responsibility model on this instance",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.config, "config", config.DefaultPath, "configuration file (a missing default file means defaults)")
	pf.StringVar(&g.rootPath, "path.root", "/", "root of the inspected file system; any other than / is an image tree (a mounted image, a build chroot), judged from its files")
	pf.StringVar(&g.procPath, "path.proc", "/proc", "procfs mount point")
	pf.StringVar(&g.sysPath, "path.sys", "/sys", "sysfs mount point")
	root.AddCommand(newCheckCmd(g, stdout), newFixCmd(g, stdout), newUndoCmd(g, stdout), newExplainCmd(stdout), newVersionCmd(stdout),
		newRunCmd(g), newReportCmd(g, stdout), newDiffCmd(stdout))
	return root
}

// load reads and validates the configuration (flags, when given, override
// it) into the run. Any problem is a usage error (exit 2).
func (g *globalFlags) load(cmd *cobra.Command, flags *pflag.FlagSet) (*agent.Run, error) {
	r, err := agent.Load(g.config, cmd.Flags().Changed("config"), flags, g.env())
	if err != nil {
		return nil, &exitError{exitUsage, err}
	}
	return r, nil
}

func (g *globalFlags) env() *host.Env {
	env := host.DefaultEnv()
	env.Root, env.Proc, env.Sys = g.rootPath, g.procPath, g.sysPath
	return env
}

func newCheckCmd(g *globalFlags, stdout io.Writer) *cobra.Command {
	var asJSON, list, verbose bool
	format := formatFlag(report.FormatNames[0])
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Run the checks and print the findings",
		Long: "Run the checks of the selected profile and print the findings: a table for a person, or with --format the\n" +
			"vigie.report/v1 JSON report (json, also --json), a SARIF 2.1.0 log for code scanning (sarif), a JUnit XML\n" +
			"report for CI (junit). Exit status: 0 when nothing fails (or cannot be checked) at or above --fail-on,\n" +
			"1 when something does, 2 when vigie could not run; the same whatever the format.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				if cmd.Flags().Changed("format") && format != "json" {
					return &exitError{exitUsage, fmt.Errorf("--json is --format json: it cannot go with --format %s", format)}
				}
				format = "json"
			}
			out, err := report.NewOutput(string(format), report.Options{Color: colorOK(stdout), Verbose: verbose})
			if err != nil {
				return &exitError{exitUsage, err}
			}
			r, err := g.load(cmd, cmd.Flags())
			if err != nil {
				return err
			}
			if list {
				return listChecks(stdout, r.Catalogue, r.Config.Profile)
			}
			rep, err := agent.Check(cmd.Context(), r)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			if err := out.Format(stdout, rep); err != nil {
				return &exitError{exitUsage, err}
			}
			threshold, _ := checks.ParseSeverity(r.Config.FailOn)
			if rep.Failing(threshold) {
				return &exitError{code: exitFailing}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Var(&format, "format", "output format: "+strings.Join(report.FormatNames, ", "))
	fl.BoolVar(&asJSON, "json", false, "print the JSON report (schema vigie.report/v1): the same as --format json")
	fl.BoolVar(&list, "list", false, "list the checks of the profile and exit")
	fl.BoolVarP(&verbose, "verbose", "v", false, "show the evidence of passing checks too (table)")
	fl.StringSlice("only", nil, "areas or check ids to run, comma-separated (e.g. ssh or ssh.password-auth)")
	fl.String("profile", "baseline", "profile: "+fmt.Sprint(checks.ProfileNames()))
	fl.String("fail-on", "low", "lowest severity that makes the exit status 1: info, low, medium, high, critical")
	return cmd
}

// formatFlag is --format: a name report.NewOutput knows, checked as the
// flag is parsed, so that a wrong one is a usage error naming the formats.
type formatFlag string

func (f *formatFlag) String() string { return string(*f) }
func (f *formatFlag) Type() string   { return "format" }

func (f *formatFlag) Set(name string) error {
	if _, err := report.NewOutput(name, report.Options{}); err != nil {
		return err
	}
	*f = formatFlag(name)
	return nil
}

func newFixCmd(g *globalFlags, stdout io.Writer) *cobra.Command {
	var opt agent.FixOptions
	var confirm bool
	var window time.Duration
	cmd := &cobra.Command{
		Use:   "fix",
		Short: "Plan, show and apply the remediations, transactionally",
		Long: "Build a plan of changes from the same facts as `check`, print it as a diff, and apply it with --yes (or after a\n" +
			"confirmation on a terminal): back up every file, write atomically, reload, check again, roll everything back on failure.\n" +
			"Without a terminal and without --yes it only shows the plan. Exit status: 0 applied and verified (or nothing to do),\n" +
			"1 a change failed and was rolled back, 2 vigie could not run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := g.load(cmd, nil)
			if err != nil {
				return err
			}
			if window < 0 {
				return &exitError{exitUsage, fmt.Errorf("--confirm-window: must not be negative, got %s", window)}
			}
			if confirm {
				if err := agent.ConfirmPending(r.Config, stdout); err != nil {
					return &exitError{exitFailing, err}
				}
				return nil
			}
			interactive := term.IsTerminal(int(os.Stdin.Fd()))
			if !opt.Yes && !opt.DryRun && interactive {
				opt.Confirm = agent.TTYConfirm(os.Stdin, stdout)
			}
			// Over SSH, a change can cut the operator off: keep it only
			// once the operator, still connected, confirms it. sudo and su
			// drop SSH_CONNECTION; the session's sshd above is seen too.
			// --confirm-window asks for it where vigie sees no SSH session
			// (a console, an orchestration tool's pipe).
			if !opt.DryRun && (window > 0 || interactive && host.OverSSH(g.procPath)) {
				opt.Window = r.Config.Fix.ConfirmWindow
				if window > 0 {
					opt.Window = window
				}
				if interactive {
					opt.Answer = agent.StdinAnswer(os.Stdin)
				}
			}
			// The revert armed before each run: after the window for a
			// change that waits for its confirmation, at once for the
			// others should this process die half way.
			if !opt.DryRun {
				self, err := os.Executable()
				if err != nil {
					return &exitError{exitUsage, fmt.Errorf("cannot arm the revert of a change: %w", err)}
				}
				opt.Revert = revertCommand(self, cmd.Flags().Changed("config"), g.config, os.Environ())
			}
			// A session that drops sends SIGHUP (sudo passes it on): the
			// change waiting for its confirmation is then undone, not
			// kept. Writes to the gone terminal or pipe must fail, not
			// kill vigie half way with SIGPIPE.
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGHUP)
			defer stop()
			signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
			code, err := agent.Fix(ctx, r, stdout, opt)
			if err != nil || code != 0 {
				return &exitError{code, err}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opt.Only, "only", nil, "areas to fix, comma-separated (available: "+strings.Join(agent.RemediableAreas(), ", ")+")")
	fl.BoolVar(&opt.DryRun, "dry-run", false, "show the plan, change nothing")
	fl.BoolVar(&opt.Yes, "yes", false, "apply without asking")
	fl.BoolVar(&confirm, "confirm", false, "keep the change a `vigie fix` in another session is waiting on")
	fl.DurationVar(&window, "confirm-window", 0, "keep an ssh or firewall change only if confirmed within this time, also where no SSH session is seen (over SSH: fix.confirm_window)")
	fl.BoolVar(&opt.AllowDestructive, "allow-destructive", false, "let the disks fix erase empty scratch filesystems and swap to re-create them encrypted")
	fl.BoolVar(&opt.Force, "force", false, "turn password login off even when an administrator would be locked out, add vigie's table beside firewalld or ufw (risky)")
	return cmd
}

func newRunCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run as a service: check (and remediate run.remediate) every run.interval, report every time",
		Long: "The service systemd runs (vigie.service, Type=notify): a cycle at start, then every run.interval plus a random\n" +
			"run.jitter, and at once on SIGHUP, which also reloads the configuration. Each cycle fixes the areas run.remediate\n" +
			"lists, checks, and reports to the journal, the endpoint (through the spool) and the textfile. SIGTERM stops it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			load := func() (config.Config, error) {
				r, err := g.load(cmd, nil)
				if err != nil {
					return config.Config{}, err
				}
				if len(r.Config.Run.Remediate) > 0 && readOnly("/etc") {
					fmt.Fprintln(os.Stderr, "run.remediate is set but /etc is read-only for this service: remediations will fail until the drop-in /usr/share/vigie/remediate.conf is installed in /etc/systemd/system/vigie.service.d/ (the file says how)")
				}
				return r.Config, nil
			}
			signals := make(chan os.Signal, 4)
			signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, os.Interrupt)
			defer signal.Stop(signals)
			// The first cycle sends the whole report to the sinks that
			// otherwise hear only of changes: a receiver learns everything
			// at each start. So does the first cycle after a reload that
			// changed the report section: a sink just configured knows
			// nothing yet. Cycles never overlap, so this needs no lock.
			var sent *sinks.Config
			svc := agent.NewService(load, func(ctx context.Context, cfg config.Config) error {
				r, err := agent.NewRun(cfg, g.env())
				if err != nil {
					return err
				}
				full := sent == nil || !reflect.DeepEqual(*sent, cfg.Report)
				sent = &cfg.Report
				return agent.Cycle(ctx, r, os.Stderr, full)
			}, signals)
			svc.Log = func(line string) { fmt.Fprintln(os.Stderr, line) }
			svc.Pending = agent.Pending
			svc.Flush = func(ctx context.Context, cfg config.Config) error { return agent.Flush(ctx, cfg, os.Stderr) }
			if err := svc.Run(cmd.Context()); err != nil {
				return err
			}
			return nil
		},
	}
}

// readOnly reports whether the filesystem holding dir is mounted
// read-only for this process.
func readOnly(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Flags&unix.ST_RDONLY != 0
}

func newReportCmd(g *globalFlags, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "report",
		Short: "Check now and deliver: the journal, the endpoint (with every spooled report, oldest first), the textfile",
		Long: "Run the checks of the configured profile and send the report to the configured sinks now, with the reports\n" +
			"the spool holds from earlier outages. Exit status: 0 everything delivered (or no endpoint configured), 1 some\n" +
			"report is still waiting in the spool or a sink failed, 2 vigie could not run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := g.load(cmd, nil)
			if err != nil {
				return err
			}
			// A deadline, as for a service cycle: delivery never waits on a
			// Retry-After past it, and the report stays in the spool.
			ctx, cancel := context.WithTimeout(cmd.Context(), r.Config.Run.CycleTimeout)
			defer cancel()
			rep, err := agent.Check(ctx, r)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			res, err := agent.Deliver(ctx, r, rep, agent.LogLine(os.Stderr), true)
			fmt.Fprintf(stdout, "report %s: %d checks, %d fail, %d error; %s\n", rep.ID, rep.Summary.Total, rep.Summary.Fail, rep.Summary.Error, res)
			if err != nil {
				return &exitError{exitFailing, err}
			}
			if n := res.Pending(); n > 0 {
				return &exitError{exitFailing, fmt.Errorf("%d report(s) still waiting in the spools", n)}
			}
			return nil
		},
	}
}

func newUndoCmd(g *globalFlags, stdout io.Writer) *cobra.Command {
	var unconfirmed bool
	cmd := &cobra.Command{
		Use:   "undo [RUN-ID]",
		Short: "Restore the files of a fix run (the last applied one by default) and reload",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Not validated: a configuration broken since the fix must not
			// keep its undo from running.
			cfg, err := config.Load(g.config, cmd.Flags().Changed("config"), nil)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			r, err := agent.NewRun(cfg, g.env())
			if err != nil {
				return &exitError{exitUsage, err}
			}
			run := ""
			if len(args) == 1 {
				run = args[0]
			}
			if unconfirmed {
				if run == "" {
					return &exitError{exitUsage, errors.New("undo --unconfirmed needs the run id")}
				}
				// The armed revert: it must outlive the session that armed
				// it, and a hangup is not a reason to stop.
				signal.Ignore(syscall.SIGHUP)
				err = agent.UndoUnconfirmed(cmd.Context(), r, stdout, run)
			} else {
				err = agent.Undo(cmd.Context(), r, stdout, run)
			}
			if err != nil {
				return &exitError{exitFailing, err}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&unconfirmed, "unconfirmed", false, "undo the run only if it was not confirmed, once its confirm window is over (what `vigie fix` arms before a change that waits for confirmation)")
	return cmd
}

func listChecks(w io.Writer, cat *checks.Catalogue, profileName string) error {
	p := checks.Profiles[profileName]
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, id := range cat.IDs() {
		m, _ := cat.Lookup(id)
		if m, ok := p.Apply(m); ok {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", m.ID, m.Severity, m.Title)
		}
	}
	return tw.Flush()
}

func newExplainCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "explain CHECK-ID",
		Short: "Say why a check matters, where the duty comes from and how to fix it by hand",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			m, ok := agent.Lookup(args[0])
			if !ok {
				return &exitError{exitUsage, fmt.Errorf("unknown check %q (`vigie check --list` lists them)", args[0])}
			}
			report.Explain(stdout, m)
			return nil
		},
	}
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(stdout, "vigie %s", agent.Version)
			if agent.Commit != "" {
				fmt.Fprintf(stdout, " (%s)", agent.Commit)
			}
			fmt.Fprintf(stdout, " %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}

// colorOK is true only for a terminal, and never when NO_COLOR is set
// (https://no-color.org).
func colorOK(w io.Writer) bool {
	if _, set := os.LookupEnv("NO_COLOR"); set {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// revertCommand is the command line of the revert a fix arms: run later
// by systemd from /, or at boot, it must read the same configuration as
// this fix (the file made absolute, the VIGIE_ variables that override
// its keys, state_dir among them) or it would look for the run in
// another state directory, find nothing and remove its boot job. The
// fault hooks of the tests (VIGIE_FAULT_*) stay with the fix.
func revertCommand(self string, configSet bool, config string, environ []string) []string {
	var env []string
	for _, kv := range environ {
		if strings.HasPrefix(kv, "VIGIE_") && !strings.HasPrefix(kv, "VIGIE_FAULT_") {
			env = append(env, kv)
		}
	}
	var argv []string
	if len(env) > 0 {
		slices.Sort(env)
		argv = append(append([]string{"/usr/bin/env"}, env...), self)
	} else {
		argv = []string{self}
	}
	if configSet {
		if abs, err := filepath.Abs(config); err == nil {
			config = abs
		}
		argv = append(argv, "--config", config)
	}
	return append(argv, "undo", "--unconfirmed")
}
