package logging

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// maxSyncError is the kernel's limit on the estimated maximum error
// (NTP_PHASE_LIMIT, 16 s): at or above it the clock counts as not
// synchronised. systemd (timedatectl's "System clock synchronized") uses
// the same test, and not STA_UNSYNC, which some daemons set to keep the
// kernel from writing the RTC.
const maxSyncError = 16 * time.Second

// KernelClock is the kernel's view of its clock discipline (adjtimex(2)).
type KernelClock struct {
	MaxError time.Duration // maximum error, grows by 500 ppm while nobody disciplines the clock
	EstError time.Duration
	Unsync   bool // STA_UNSYNC set
	State    int  // TIME_OK, TIME_INS, ... TIME_ERROR
}

// Synced reports whether something disciplines the clock.
func (c KernelClock) Synced() bool { return c.MaxError < maxSyncError }

func (c KernelClock) String() string {
	return fmt.Sprintf("maximum error %s, estimated error %s, STA_UNSYNC %v, state %d", c.MaxError, c.EstError, c.Unsync, c.State)
}

// ReadKernelClock reads the clock state without changing it (modes 0).
func ReadKernelClock() (*KernelClock, error) {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return nil, fmt.Errorf("adjtimex: %w", err)
	}
	return &KernelClock{
		MaxError: time.Duration(tx.Maxerror) * time.Microsecond,
		EstError: time.Duration(tx.Esterror) * time.Microsecond,
		Unsync:   tx.Status&unix.STA_UNSYNC != 0,
		State:    state,
	}, nil
}
