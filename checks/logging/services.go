package logging

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"

	"github.com/vigie-agent/vigie/host/units"
)

// Daemon is a service a check wants running: the units that start it and
// the process names it runs under.
type Daemon struct {
	Name      string
	Units     []string
	Processes []string
}

// auditDaemon is the Linux audit daemon.
var auditDaemon = Daemon{Name: "auditd", Units: []string{"auditd.service"}, Processes: []string{"auditd"}}

// timeDaemons are the clients that keep the clock synchronised. ntpd is
// the process name of ntp, ntpsec and OpenNTPD alike.
var timeDaemons = []Daemon{
	{Name: "systemd-timesyncd", Units: []string{"systemd-timesyncd.service"}, Processes: []string{"systemd-timesyncd"}},
	{Name: "chrony", Units: []string{"chrony.service", "chronyd.service"}, Processes: []string{"chronyd"}},
	{Name: "ntpd", Units: []string{"ntp.service", "ntpd.service", "ntpsec.service", "openntpd.service"}, Processes: []string{"ntpd"}},
}

// Service is what the system says about one daemon.
type Service struct {
	Daemon
	Active  map[string]string // unit -> ActiveState, from systemd D-Bus
	Enabled map[string]string // unit -> UnitFileState ("" when not installed)
	PIDs    []int             // processes running under one of its names
}

// Running reports whether the daemon runs: a unit active, or a process.
func (s Service) Running() bool {
	for _, st := range s.Active {
		if st == "active" || st == "reloading" {
			return true
		}
	}
	return len(s.PIDs) > 0
}

// How says why the daemon counts as running, or what is known otherwise.
func (s Service) How() string {
	var parts []string
	for _, u := range s.Units {
		switch {
		case s.Active[u] == "active" || s.Active[u] == "reloading":
			parts = append(parts, "unit "+u+" "+s.Active[u])
		case s.Enabled[u] != "":
			parts = append(parts, "unit "+u+" "+s.Enabled[u]+", "+cmp.Or(s.Active[u], "state unknown"))
		}
	}
	if len(s.PIDs) > 0 {
		pids := make([]string, len(s.PIDs))
		for i, p := range s.PIDs {
			pids[i] = strconv.Itoa(p)
		}
		parts = append(parts, "process "+strings.Join(s.Processes, "/")+" (pid "+strings.Join(pids, ", ")+")")
	}
	if len(parts) == 0 {
		return "not installed (no unit " + strings.Join(s.Units, ", ") + ") and no process " + strings.Join(s.Processes, ", ")
	}
	return strings.Join(parts, "; ")
}

// Services is the state of the daemons the logging checks care about, and
// how it was learnt.
type Services struct {
	Audit Service
	Time  []Service
	// ActiveVia is "systemd D-Bus" when unit states come from systemd, ""
	// when systemd could not be asked (ActiveErr says why).
	ActiveVia  string
	ActiveErr  string
	EnabledVia string
	// ProcOK is true when the process table was read.
	ProcOK  bool
	ProcErr string
	// Image says the services are an image's (host.Env.Image): nothing of
	// it runs, only its unit files say what will.
	Image bool
}

// Known reports whether running daemons can be told apart from stopped
// ones at all.
func (s Services) Known() bool { return s.ActiveVia != "" || s.ProcOK }

// ReadServices asks systemd for unit states (on the live system only),
// reads unit file states, and scans the process table under env.Proc.
func ReadServices(ctx context.Context, env *host.Env) Services {
	daemons := append([]Daemon{auditDaemon}, timeDaemons...)
	var names []string
	for _, d := range daemons {
		names = append(names, d.Units...)
	}
	var s Services
	active := map[string]string{}
	if env.Live() {
		var err error
		if active, err = activeStates(ctx, names); err == nil {
			s.ActiveVia = units.ViaDBus
		} else {
			s.ActiveErr = err.Error()
		}
	} else {
		s.ActiveErr = "not asked: the inspected root is not the running system"
	}
	enabled, via := units.States(ctx, env, names)
	s.EnabledVia = via
	var procs map[string][]int
	if env.Image {
		// The process table is this machine's, not the image's.
		s.Image, s.ProcErr = true, "not read on an image: no process of the image runs"
	} else {
		var err error
		if procs, err = processes(ctx, env.Proc); err != nil {
			s.ProcErr = err.Error()
		} else {
			s.ProcOK = true
		}
	}
	build := func(d Daemon) Service {
		sv := Service{Daemon: d, Active: map[string]string{}, Enabled: map[string]string{}}
		for _, u := range d.Units {
			if st, ok := active[u]; ok {
				sv.Active[u] = st
			}
			if st := enabled[u]; st != "" {
				sv.Enabled[u] = st
			}
		}
		for _, p := range d.Processes {
			sv.PIDs = append(sv.PIDs, procs[comm(p)]...)
		}
		sort.Ints(sv.PIDs)
		return sv
	}
	s.Audit = build(auditDaemon)
	for _, d := range timeDaemons {
		s.Time = append(s.Time, build(d))
	}
	return s
}

// comm is a process name as the kernel keeps it: at most 15 bytes
// ("systemd-timesyncd" runs as "systemd-timesyn").
func comm(name string) string {
	if len(name) > 15 {
		return name[:15]
	}
	return name
}

// processes maps process names (/proc/PID/comm) to pids.
func processes(ctx context.Context, proc string) (map[string][]int, error) {
	// The kernel's own listing, unbounded by hostfs's cap on entries:
	// a busy host runs more than ten thousand processes.
	ents, err := os.ReadDir(proc)
	if err != nil {
		return nil, fmt.Errorf("read process table: %w", err)
	}
	out := map[string][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		b, err := hostfs.ReadFile(ctx, filepath.Join(proc, e.Name(), "comm"), hostfs.Small)
		if err != nil {
			continue // gone meanwhile
		}
		name := strings.TrimSuffix(string(b), "\n")
		out[name] = append(out[name], pid)
	}
	return out, nil
}

// activeStates asks systemd for the ActiveState of units; units systemd
// does not know are absent from the answer.
func activeStates(ctx context.Context, names []string) (map[string]string, error) {
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return nil, errors.New("systemd is not running (no /run/systemd/system)")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := units.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	sts, err := conn.ListUnitsByNamesContext(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	out := map[string]string{}
	for _, st := range sts {
		if st.LoadState != "not-found" {
			out[st.Name] = st.ActiveState
		}
	}
	return out, nil
}
