package endpoint

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/vigie-agent/vigie/agent/spool"
)

// maxDrain is how much of a response body is read and discarded so that
// the connection can serve the next report.
const maxDrain = 64 << 10

// Send delivers one report: gz is its JSON compressed with gzip, id its id,
// sent as the Idempotency-Key on every attempt. It returns nil once the
// endpoint has the report (2xx, or 409: see the package contract).
//
// Network errors, 408, 429 and 5xx are retried, at most MaxAttempts
// requests in all, each bounded by Timeout. Between attempts Send waits a
// random time between MinBackoff and an exponentially growing ceiling
// capped at MaxBackoff (full jitter, so that a fleet does not return in
// step when the endpoint comes back), or what Retry-After asks on 429 and
// 503, up to MaxRetryAfter. A wait that would pass ctx's deadline is not
// begun: Send returns at once. On failure the error is an *Error;
// IsPermanent tells whether the endpoint refused this report for good.
func (c *Client) Send(ctx context.Context, id string, gz []byte) error {
	if err := spool.CheckID(id); err != nil {
		return &Error{ID: "?", kind: permanent, err: err}
	}
	if len(gz) == 0 {
		return &Error{ID: id, kind: permanent, err: errors.New("empty body")}
	}
	for attempt := 1; ; attempt++ {
		e, retryAfter := c.attempt(ctx, id, gz)
		if e == nil {
			return nil
		}
		e.Attempts = attempt
		if e.kind != retryable || attempt >= c.cfg.MaxAttempts || ctx.Err() != nil {
			return e
		}
		wait := retryAfter
		if wait <= 0 {
			wait = c.backoff(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && c.now().Add(wait).After(dl) {
			e.note = fmt.Sprintf("not waiting %s for the next attempt: that would pass the deadline", wait)
			return e
		}
		if err := c.sleep(ctx, wait); err != nil {
			e.note = fmt.Sprintf("stopped waiting for the next attempt: %v", err)
			return e
		}
	}
}

// attempt makes one request. It returns nil when the endpoint has the
// report, or the failure and, for 429 and 503, the wait Retry-After asks.
func (c *Client) attempt(ctx context.Context, id string, gz []byte) (*Error, time.Duration) {
	token, err := c.readToken()
	if err != nil {
		return &Error{ID: id, kind: misconfigured, err: err}, 0
	}
	secrets := []string{token}
	for _, v := range c.cfg.Headers {
		secrets = append(secrets, v) // a tenant or a key inline, redacted all the same
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.url.String(), bytes.NewReader(gz))
	if err != nil {
		return &Error{ID: id, kind: misconfigured, err: fmt.Errorf("build request: %w", err)}, 0
	}
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v)
	}
	for k, path := range c.cfg.HeaderFiles {
		v, err := c.readSecret(path, "header "+k, true)
		if err != nil {
			return &Error{ID: id, kind: misconfigured, err: err}, 0
		}
		req.Header.Set(k, v)
		secrets = append(secrets, v)
	}
	req.Header.Set("Content-Type", c.cfg.ContentType)
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Idempotency-Key", id)
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		k := retryable
		var cv *tls.CertificateVerificationError
		if errors.As(err, &cv) {
			k = misconfigured // the same certificate will fail again
		}
		return &Error{ID: id, kind: k, err: err}, 0
	}
	defer resp.Body.Close()
	k, delivered := classify(resp.StatusCode)
	if delivered {
		if c.cfg.Accepted != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, maxDrain))
			c.cfg.Accepted(resp.Header.Get("Content-Type"), b)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		return nil, 0
	}
	// Read past the quoted part by the longest secret's length, so that a
	// secret straddling the cut is still redacted whole.
	longest := 0
	for _, s := range secrets {
		longest = max(longest, len(s))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, int64(maxErrorBody+longest)))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	e := &Error{ID: id, StatusCode: resp.StatusCode, Body: printable(body, secrets...), kind: k}
	var wait time.Duration
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		wait, _ = parseRetryAfter(resp.Header.Get("Retry-After"), c.now())
	}
	return e, wait
}

// classify says what a status means; see the package contract.
func classify(status int) (k kind, delivered bool) {
	switch {
	case status >= 200 && status < 300, status == http.StatusConflict:
		return 0, true
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests,
		status >= 500 && status < 600:
		return retryable, false
	case status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusNotFound, status == http.StatusMethodNotAllowed,
		status == http.StatusProxyAuthRequired:
		return misconfigured, false
	case status >= 400 && status < 500:
		return permanent, false
	default: // redirects, which are not followed, and anything unexpected
		return misconfigured, false
	}
}

// backoff returns the wait after the given failed attempt (1 for the first):
// uniform between MinBackoff and MinBackoff·2^attempt, that ceiling capped
// at MaxBackoff.
func (c *Client) backoff(attempt int) time.Duration {
	lo, hi := c.cfg.MinBackoff, c.cfg.MinBackoff
	for i := 0; i < attempt && hi < c.cfg.MaxBackoff; i++ {
		if hi > c.cfg.MaxBackoff/2 {
			hi = c.cfg.MaxBackoff // doubling would pass it, or overflow
			break
		}
		hi *= 2
	}
	span := hi - lo
	// float64 rounds: keep the product within the span, or lo+span could
	// overflow.
	j := time.Duration(c.rand() * float64(span))
	if j < 0 || j > span {
		j = span
	}
	return lo + j
}

// sleepCtx waits for d, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
