package scaleway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/textbound"
)

// DefaultTimeout bounds the whole metadata lookup, every attempt and pause
// included. The API answers from the hypervisor in milliseconds on an idle
// instance, but a loaded one at first boot can take several hundred; two
// seconds leave room for three or four attempts while a host that is not
// what it looks like still does not wait long.
const DefaultTimeout = 2 * time.Second

// The schedule of attempts within the budget: the first attempt gets
// firstAttempt, each later one twice the one before, capped by what is
// left of the budget; between two attempts a pause, doubling from
// firstPause up to maxPause, so a refused connection is not retried in a
// tight loop.
const (
	firstAttempt = 250 * time.Millisecond
	firstPause   = 50 * time.Millisecond
	maxPause     = 250 * time.Millisecond
	// minAttempt is the least time worth an attempt: with less left of the
	// budget, the lookup stops.
	minAttempt = 20 * time.Millisecond
	// maxAttempts bounds the attempts, and so the length of the error,
	// however large the budget.
	maxAttempts = 8
)

// Bounds of the error that lists the attempts.
const (
	maxURLText     = 80
	maxAttemptText = 120
)

// Client fetches the metadata at most once per run.
type Client struct {
	URL string
	// Fallback is tried alternately with URL once an attempt fails: the
	// API's IPv6 address for the default URL, nothing for a configured one.
	Fallback string
	// Timeout bounds the whole lookup: every attempt and the pauses
	// between them.
	Timeout time.Duration
	// Forced is true when the configuration named the URL: then it is
	// contacted even where detection did not say Scaleway.
	Forced bool

	once sync.Once
	md   *Metadata
	err  error
}

// NewClient returns a client for url ("" for the default, contacted only
// on a detected Scaleway instance, at its IPv4 then its IPv6 address).
func NewClient(url string) *Client {
	c := &Client{URL: url, Timeout: DefaultTimeout, Forced: url != ""}
	if c.URL == "" {
		c.URL, c.Fallback = DefaultURL, DefaultURLv6
	}
	return c
}

// ErrNotScaleway is returned, without any request, off Scaleway.
var ErrNotScaleway = errors.New("not a Scaleway instance (no DMI vendor, /var/run/scaleway or /etc/scw-release): metadata API not contacted")

// ErrImage is returned, without any request, when the inspected system is
// an image tree: the metadata API answers for the machine vigie runs on,
// not for the instances that will be made from the image.
var ErrImage = errors.New("image mode: the metadata API answers for the machine vigie runs on, not for instances made from the image: not contacted")

// Get returns the metadata, asking the API on the first call only. Off a
// detected Scaleway instance, and without a configured URL, it sends
// nothing and returns ErrNotScaleway; on an image, even with a URL, it
// sends nothing and returns ErrImage.
func (c *Client) Get(ctx context.Context, env *host.Env) (*Metadata, error) {
	if env.Image {
		return nil, ErrImage
	}
	c.once.Do(func() {
		if !c.Forced && !Detect(ctx, env).Scaleway {
			c.err = ErrNotScaleway
			return
		}
		c.md, c.err = c.fetch(ctx)
	})
	return c.md, c.err
}

// fetch makes attempts until one returns the metadata or the budget is
// spent, alternating between URL and Fallback.
func (c *Client) fetch(ctx context.Context) (*Metadata, error) {
	start := time.Now()
	budget := c.Timeout
	if budget <= 0 {
		budget = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	deadline, _ := ctx.Deadline()
	urls := []string{c.URL}
	if c.Fallback != "" {
		urls = append(urls, c.Fallback)
	}
	for _, u := range urls {
		if _, err := http.NewRequest(http.MethodGet, u, nil); err != nil {
			return nil, fmt.Errorf("metadata request: %w", err)
		}
	}
	// No proxy: the metadata address is link-local, a proxy would answer
	// for someone else. No keep-alive: every attempt starts afresh.
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}

	var tried []string
	per, pause := firstAttempt, firstPause
	for n := 0; n < maxAttempts; n++ {
		left := time.Until(deadline)
		if left < minAttempt {
			break
		}
		u := urls[n%len(urls)]
		md, err := attempt(ctx, hc, u, min(per, left))
		if err == nil {
			return md, nil
		}
		tried = append(tried, textbound.Truncate(u, maxURLText)+": "+textbound.Truncate(err.Error(), maxAttemptText))
		if n+1 == maxAttempts || !sleep(ctx, min(pause, time.Until(deadline))) {
			break
		}
		per, pause = per*2, min(pause*2, maxPause)
	}
	return nil, attemptsError(ctx, tried, time.Since(start))
}

// attempt is one request with its own deadline d.
func attempt(ctx context.Context, hc *http.Client, u string, d time.Duration) (*Metadata, error) {
	actx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, describe(actx, d, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, describe(actx, d, err)
	}
	return Parse(b)
}

// describe says why an attempt failed in the fewest words: its deadline,
// or the socket error without the URL and addresses already named.
func describe(actx context.Context, d time.Duration, err error) error {
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timeout after %s", d.Round(time.Millisecond))
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// sleep waits d unless ctx ends first; it reports whether the wait ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// attemptsError lists what was tried and how long it took.
func attemptsError(ctx context.Context, tried []string, took time.Duration) error {
	var b strings.Builder
	fmt.Fprintf(&b, "metadata: %d attempt", len(tried))
	if len(tried) != 1 {
		b.WriteByte('s')
	}
	fmt.Fprintf(&b, " in %.1fs", took.Seconds())
	if len(tried) > 0 {
		b.WriteString(": " + strings.Join(tried, "; "))
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		b.WriteString(" (" + err.Error() + ")")
	}
	return errors.New(b.String())
}
