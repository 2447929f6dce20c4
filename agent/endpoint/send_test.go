package endpoint

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestSendHeaders(t *testing.T) {
	rc := &receiver{}
	srv := newTLSServer(t, rc)
	dir := t.TempDir()
	caFile := writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", srv.Certificate().Raw)
	token := writeToken(t, dir, "  s3cr3t-t0ken\n", 0o600)
	c, _ := newClient(t, Config{URL: srv.URL + "/v1/reports", CAFile: caFile, TokenFile: token, UserAgent: "vigie/1.2.3"})
	body := reportJSON("0a1b2c")
	if err := c.Send(context.Background(), "0a1b2c", gz(t, body)); err != nil {
		t.Fatal(err)
	}
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	want := received{ID: "0a1b2c", Auth: "Bearer s3cr3t-t0ken", ContentType: "application/json",
		Encoding: "gzip", UserAgent: "vigie/1.2.3", Body: body}
	if g := got[0]; g.ID != want.ID || g.Auth != want.Auth || g.ContentType != want.ContentType ||
		g.Encoding != want.Encoding || g.UserAgent != want.UserAgent || string(g.Body) != string(want.Body) {
		t.Errorf("received %+v\nwant     %+v", g, want)
	}

	// Without a token file there is no Authorization header.
	c, _ = newClient(t, Config{URL: srv.URL, CAFile: caFile})
	if err := c.Send(context.Background(), "0a1b2d", gz(t, body)); err != nil {
		t.Fatal(err)
	}
	if g := rc.requests()[1]; g.Auth != "" || g.UserAgent != DefaultUserAgent {
		t.Errorf("without token: %+v", g)
	}
}

// TestSendOutcomes plays answer sequences and checks what Send makes of
// them: attempts, waits, and the kind of error. With the jitter at 0.5,
// MinBackoff 1s and MaxBackoff 1m, the backoff after attempt n is
// 1s + 0.5·(2^n - 1)s: 1.5s, 2.5s, 4.5s.
func TestSendOutcomes(t *testing.T) {
	now := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	ok := answer{status: 200}
	st := func(code int) answer { return answer{status: code, body: http.StatusText(code)} }
	retryAfter := func(code int, v string) answer {
		return answer{status: code, header: map[string]string{"Retry-After": v}}
	}
	s := time.Second
	tests := []struct {
		name      string
		answers   []answer // the nth request gets answers[n-1], the last one after
		err       bool
		permanent bool
		requests  int
		waits     []time.Duration
		inError   string
	}{
		{"200", []answer{ok}, false, false, 1, nil, ""},
		{"204", []answer{st(204)}, false, false, 1, nil, ""},
		{"409 already stored", []answer{st(409)}, false, false, 1, nil, ""},
		{"500 twice then 200", []answer{st(500), st(500), ok}, false, false, 3, []time.Duration{1500 * time.Millisecond, 2500 * time.Millisecond}, ""},
		{"429 Retry-After 2", []answer{retryAfter(429, "2"), ok}, false, false, 2, []time.Duration{2 * s}, ""},
		{"503 Retry-After date", []answer{retryAfter(503, now.Add(30*s).Format(http.TimeFormat)), ok}, false, false, 2, []time.Duration{30 * s}, ""},
		{"503 Retry-After date past", []answer{retryAfter(503, now.Add(-30*s).Format(http.TimeFormat)), ok}, false, false, 2, []time.Duration{1500 * time.Millisecond}, ""},
		{"429 Retry-After capped", []answer{retryAfter(429, "86400"), ok}, false, false, 2, []time.Duration{MaxRetryAfter}, ""},
		{"429 Retry-After garbage", []answer{retryAfter(429, "soon"), ok}, false, false, 2, []time.Duration{1500 * time.Millisecond}, ""},
		{"500 Retry-After not honoured", []answer{retryAfter(500, "7"), ok}, false, false, 2, []time.Duration{1500 * time.Millisecond}, ""},
		{"503 without Retry-After", []answer{st(503), ok}, false, false, 2, []time.Duration{1500 * time.Millisecond}, ""},
		{"408 retried", []answer{st(408), ok}, false, false, 2, []time.Duration{1500 * time.Millisecond}, ""},
		{"500 until attempts run out", []answer{st(500)}, true, false, 4, []time.Duration{1500 * time.Millisecond, 2500 * time.Millisecond, 4500 * time.Millisecond}, "500 Internal Server Error"},
		{"400 refused", []answer{{status: 400, body: "field summary missing\n"}}, true, true, 1, nil, `400 Bad Request: "field summary missing"`},
		{"413 refused", []answer{st(413)}, true, true, 1, nil, "413"},
		{"422 refused", []answer{st(422)}, true, true, 1, nil, "422"},
		{"401 configuration", []answer{st(401)}, true, false, 1, nil, "401"},
		{"403 configuration", []answer{st(403)}, true, false, 1, nil, "403"},
		{"404 configuration", []answer{st(404)}, true, false, 1, nil, "404"},
		{"405 configuration", []answer{st(405)}, true, false, 1, nil, "405"},
		{"redirect not followed", []answer{{status: 307, header: map[string]string{"Location": "/elsewhere"}}}, true, false, 1, nil, "307"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &receiver{respond: func(n int, _ received) answer { return tt.answers[min(n, len(tt.answers))-1] }}
			srv := newServer(t, rc)
			c, sl := newClient(t, Config{URL: srv.URL, MaxAttempts: 4, MinBackoff: s, MaxBackoff: time.Minute})
			c.now = func() time.Time { return now }
			err := c.Send(context.Background(), "abc-123", gz(t, reportJSON("abc-123")))
			if (err != nil) != tt.err || IsPermanent(err) != tt.permanent {
				t.Fatalf("Send: %v; want error %v, permanent %v", err, tt.err, tt.permanent)
			}
			if err != nil && !strings.Contains(err.Error(), tt.inError) {
				t.Errorf("error %q does not say %q", err, tt.inError)
			}
			var e *Error
			if err != nil && (!errors.As(err, &e) || e.Attempts != tt.requests) {
				t.Errorf("error %#v: want an *Error with %d attempts", err, tt.requests)
			}
			ids := rc.ids()
			if len(ids) != tt.requests {
				t.Errorf("%d requests, want %d", len(ids), tt.requests)
			}
			for _, id := range ids {
				if id != "abc-123" {
					t.Errorf("Idempotency-Key %q on a retry", id)
				}
			}
			if got := sl.all(); !slices.Equal(got, tt.waits) {
				t.Errorf("waits %v, want %v", got, tt.waits)
			}
		})
	}
}

// TestSendDeadline: a wait that would pass the context's deadline is not
// begun; Send returns a temporary error at once.
func TestSendDeadline(t *testing.T) {
	tests := []struct {
		name       string
		answer     answer
		minBackoff time.Duration
	}{
		{"Retry-After past the deadline", answer{status: 429, header: map[string]string{"Retry-After": "60"}}, time.Millisecond},
		{"backoff past the deadline", answer{status: 502}, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &receiver{respond: func(int, received) answer { return tt.answer }}
			srv := newServer(t, rc)
			c, sl := newClient(t, Config{URL: srv.URL, MaxAttempts: 5, MinBackoff: tt.minBackoff})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := c.Send(ctx, "abc", gz(t, reportJSON("abc")))
			if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "deadline") {
				t.Errorf("Send: %v", err)
			}
			if n := len(rc.ids()); n != 1 || len(sl.all()) != 0 {
				t.Errorf("%d requests, waits %v", n, sl.all())
			}
		})
	}
}

func TestSendStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc := &receiver{respond: func(int, received) answer { cancel(); return answer{status: 500} }}
	srv := newServer(t, rc)
	c, sl := newClient(t, Config{URL: srv.URL, MaxAttempts: 5})
	err := c.Send(ctx, "abc", gz(t, reportJSON("abc")))
	if err == nil || IsPermanent(err) {
		t.Errorf("Send: %v", err)
	}
	if n := len(rc.ids()); n != 1 || len(sl.all()) != 0 {
		t.Errorf("%d requests, waits %v after cancellation", n, sl.all())
	}
}

func TestSendEndpointDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	c, sl := newClient(t, Config{URL: url, MaxAttempts: 3})
	err = c.Send(context.Background(), "abc", gz(t, reportJSON("abc")))
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Send: %v", err)
	}
	if len(sl.all()) != 2 {
		t.Errorf("waits %v, want 2 between 3 attempts", sl.all())
	}
}

func TestSendRefusesBadInput(t *testing.T) {
	c, _ := newClient(t, Config{URL: "http://127.0.0.1:1"})
	for _, tt := range []struct{ id, body string }{{"../x", "x"}, {"", "x"}, {"a\r\nX-Evil: 1", "x"}, {"abc", ""}} {
		if err := c.Send(context.Background(), tt.id, []byte(tt.body)); !IsPermanent(err) {
			t.Errorf("Send(%q, %q) = %v, want a permanent error", tt.id, tt.body, err)
		}
	}
}

func TestBackoff(t *testing.T) {
	s := time.Second
	tests := []struct {
		min, max time.Duration
		attempt  int
		rand     float64
		want     time.Duration
	}{
		{s, time.Minute, 1, 0, s},
		{s, time.Minute, 1, 0.5, 1500 * time.Millisecond},
		{s, time.Minute, 3, 0.5, 4500 * time.Millisecond},
		{s, time.Minute, 3, 1, 8 * s},
		{s, 10 * s, 10, 1, 10 * s},
		{s, 10 * s, 10, 0, s},
		{s, s, 5, 0.9, s},
		{time.Duration(1) << 62, time.Duration(1<<63 - 1), 100, 1, time.Duration(1<<63 - 1)},
	}
	for _, tt := range tests {
		c := &Client{cfg: Config{MinBackoff: tt.min, MaxBackoff: tt.max}, rand: func() float64 { return tt.rand }}
		if got := c.backoff(tt.attempt); got != tt.want {
			t.Errorf("backoff(min %s, max %s, attempt %d, rand %g) = %s, want %s", tt.min, tt.max, tt.attempt, tt.rand, got, tt.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct {
		body, token, want string
	}{
		{"plain", "", "plain"},
		{"line\r\none\ttab\n", "", "line  one tab"},
		{"bell\x07 esc\x1b[31m", "", "bell? esc?[31m"},
		{"bad \xff\xfe utf8", "", "bad ?? utf8"},
		{"bidi \u202e override", "", "bidi ? override"},
		{"été", "", "été"},
		{"echo: Bearer tok3n!", "tok3n", "echo: Bearer [redacted]!"},
		{strings.Repeat("a", 600), "", strings.Repeat("a", maxErrorBody)},
		{strings.Repeat("a", 511) + "é", "", strings.Repeat("a", 511)},
	}
	for _, tt := range tests {
		if got := printable([]byte(tt.body), tt.token); got != tt.want {
			t.Errorf("printable(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}
