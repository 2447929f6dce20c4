package logging

import (
	"context"
	"os"

	"github.com/vigie-agent/vigie/host"
)

// SyncMarker is the file systemd-timesyncd creates once it has
// synchronised the clock.
const SyncMarker = "/run/systemd/timesync/synchronized"

// Options are the logging area's settings; it has none yet.
type Options struct{}

// Facts is what the logging rules need.
type Facts struct {
	Journald Journald
	Services Services
	// Clock is the kernel's clock state, read on the running system only.
	Clock    *KernelClock
	ClockErr string
	// Synchronized is true when SyncMarker exists.
	Synchronized bool
}

// Gather reads journald's configuration, the state of the audit and time
// daemons, and the kernel's clock discipline.
func Gather(ctx context.Context, env *host.Env, _ Options) *Facts {
	f := &Facts{Journald: ReadJournald(ctx, env), Services: ReadServices(ctx, env)}
	if env.Live() {
		c, err := ReadKernelClock()
		if err != nil {
			f.ClockErr = err.Error()
		}
		f.Clock = c
	} else {
		f.ClockErr = "not read: the inspected root is not the running system"
	}
	if _, err := os.Stat(env.Path(SyncMarker)); err == nil && !env.Image {
		f.Synchronized = true
	}
	return f
}
