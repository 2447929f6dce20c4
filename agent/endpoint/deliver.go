package endpoint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/vigie-agent/vigie/agent/spool"
)

// Sender sends one spooled report; *Client is the one that speaks HTTPS.
// Its errors follow Send's: IsPermanent for a refusal for good, anything
// else to try again later.
type Sender interface {
	Send(ctx context.Context, id string, gz []byte) error
}

// Result is what one delivery pass did.
type Result struct {
	Delivered      int   // sent, and removed from the spool
	Rejected       int   // refused for good, moved to the spool's rejected/
	Corrupt        int   // unreadable, moved to the spool's corrupt/
	Remaining      int   // reports still waiting after the pass
	RemainingBytes int64 // their compressed size
}

// Deliver sends the spool's reports oldest first, holding the spool's
// delivery lock so that another vigie process does not send them at the
// same time. A delivered report is removed; a corrupt one (already moved
// aside by the spool) and one the endpoint refuses for good (moved to
// rejected/, and logged) are skipped, since they would block the others
// forever. Any other failure ends the pass and is returned: the reports
// after it wait for the next pass, which keeps the order the receiver sees.
// The Result is valid also with an error. log may be nil.
func Deliver(ctx context.Context, sp *spool.Spool, c Sender, log func(msg string)) (Result, error) {
	if log == nil {
		log = func(string) {}
	}
	var res Result
	err := sp.WithLock(ctx, func() error {
		entries, err := sp.Pending()
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("delivery stopped: %w", err)
			}
			if err := deliverOne(ctx, sp, c, e, &res, log); err != nil {
				return err
			}
		}
		return nil
	})
	files, size, derr := sp.Depth()
	res.Remaining, res.RemainingBytes = files, size
	return res, errors.Join(err, derr)
}

// deliverOne sends e and records the outcome; an error ends the pass.
func deliverOne(ctx context.Context, sp *spool.Spool, c Sender, e spool.Entry, res *Result, log func(string)) error {
	gz, err := sp.Read(e)
	switch {
	case errors.Is(err, spool.ErrCorrupt):
		res.Corrupt++
		log(err.Error())
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return nil // dropped for the bounds by another process meanwhile
	case err != nil:
		return err
	}
	err = c.Send(ctx, e.ID, gz)
	switch {
	case err == nil:
		if err := sp.Remove(e); err != nil {
			return fmt.Errorf("report %s was delivered but stays spooled and will be sent again: %w", e.ID, err)
		}
		res.Delivered++
	case IsPermanent(err):
		if rerr := sp.Reject(e, err.Error()); rerr != nil {
			return fmt.Errorf("set aside report %s that the endpoint refused (%v): %w", e.ID, err, rerr)
		}
		res.Rejected++
		log(fmt.Sprintf("report %s refused by the endpoint, moved to %s/rejected: %v", e.ID, sp.Dir(), err))
	default:
		return err
	}
	return nil
}
