package scaleway

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/host/hosttest"
)

// stand is a metadata stand-in on loopback: it counts the requests it gets
// and the answers it completed.
type stand struct {
	URL          string
	hits, served atomic.Int64
}

// answer is what a stand-in does with its n-th request (from 1): true when
// it answered with the metadata.
type answer func(n int64, w http.ResponseWriter, r *http.Request) bool

func newStand(t *testing.T, network, addr string, a answer) *stand {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("no %s listener on %s here: %v", network, addr, err)
	}
	st := &stand{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a(st.hits.Add(1), w, r) {
			st.served.Add(1)
		}
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	st.URL = srv.URL + "/conf?format=json"
	return st
}

func serve(w http.ResponseWriter) bool {
	_, err := w.Write([]byte(sample))
	return err == nil
}

// after answers once d has passed, unless the client gave up first.
func after(d time.Duration) answer {
	return func(_ int64, w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-time.After(d):
			return serve(w)
		case <-r.Context().Done():
			return false
		}
	}
}

func never(_ int64, _ http.ResponseWriter, r *http.Request) bool {
	<-r.Context().Done()
	return false
}

// deadURL is an address on loopback where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/conf?format=json"
}

var onScaleway = map[string]string{"sys/class/dmi/id/sys_vendor": "Scaleway\n"}

// TestAttempts: the lookup makes several attempts within its budget, the
// default address alternating with its IPv6 one, stops at the first answer
// and, when nothing answers, says what it tried and for how long.
func TestAttempts(t *testing.T) {
	const slack = 300 * time.Millisecond // a loaded test machine
	tests := []struct {
		name string
		// setup returns the client and the stand-in that should answer.
		setup   func(t *testing.T) (*Client, *stand)
		budget  time.Duration
		wantErr []string // substrings of the error; none: success
		noErr   []string // substrings the error must not hold
		hits    int64    // requests the stand-in must have seen, at least
		exact   bool     // exactly one answer served
	}{
		{
			name: "answers from the second request (503 first)",
			setup: func(t *testing.T) (*Client, *stand) {
				st := newStand(t, "tcp", "127.0.0.1:0", func(n int64, w http.ResponseWriter, r *http.Request) bool {
					if n == 1 {
						w.WriteHeader(http.StatusServiceUnavailable)
						return false
					}
					return serve(w)
				})
				return NewClient(st.URL), st
			},
			budget: DefaultTimeout, hits: 2, exact: true,
		},
		{
			name: "hangs up on the first request",
			setup: func(t *testing.T) (*Client, *stand) {
				st := newStand(t, "tcp", "127.0.0.1:0", func(n int64, w http.ResponseWriter, r *http.Request) bool {
					if n == 1 {
						conn, _, err := w.(http.Hijacker).Hijack()
						if err == nil {
							conn.Close()
						}
						return false
					}
					return serve(w)
				})
				return NewClient(st.URL), st
			},
			budget: DefaultTimeout, hits: 2, exact: true,
		},
		{
			name: "answers in 300ms: the first short attempt times out, a later one succeeds",
			setup: func(t *testing.T) (*Client, *stand) {
				st := newStand(t, "tcp", "127.0.0.1:0", after(300*time.Millisecond))
				return NewClient(st.URL), st
			},
			budget: DefaultTimeout, hits: 2,
		},
		{
			name: "never answers: every attempt named, within the budget",
			setup: func(t *testing.T) (*Client, *stand) {
				st := newStand(t, "tcp", "127.0.0.1:0", never)
				return NewClient(st.URL), st
			},
			budget:  1200 * time.Millisecond,
			wantErr: []string{"metadata: 3 attempts in 1.", "s: http://127.0.0.1:", ": timeout after 250ms; http://127.0.0.1:", ": timeout after 500ms; http://127.0.0.1:"},
			hits:    3,
		},
		{
			name: "IPv4 refused, the IPv6 address answers",
			setup: func(t *testing.T) (*Client, *stand) {
				st := newStand(t, "tcp6", "[::1]:0", after(0))
				c := NewClient("")
				c.URL, c.Fallback = deadURL(t), st.URL
				return c, st
			},
			budget: DefaultTimeout, hits: 1, exact: true,
		},
		{
			name: "IPv4 refused, IPv6 silent: both named, alternately",
			setup: func(t *testing.T) (*Client, *stand) {
				st := newStand(t, "tcp6", "[::1]:0", never)
				c := NewClient("")
				c.URL, c.Fallback = deadURL(t), st.URL
				return c, st
			},
			budget:  time.Second,
			wantErr: []string{" attempts in 1.", "s: http://127.0.0.1:", "connect: connection refused; http://[::1]:", ": timeout after 500ms; http://127.0.0.1:"},
			hits:    1,
		},
		{
			name: "a configured URL has no IPv6 alternative",
			setup: func(t *testing.T) (*Client, *stand) {
				c := NewClient(deadURL(t))
				if c.Fallback != "" {
					t.Errorf("configured URL got the fallback %q", c.Fallback)
				}
				return c, nil
			},
			budget:  500 * time.Millisecond,
			wantErr: []string{"attempts in 0.", "connection refused"},
			noErr:   []string{"fd00", "[::1]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, st := tt.setup(t)
			c.Timeout = tt.budget
			env := hosttest.Env(t, onScaleway)
			start := time.Now()
			md, err := c.Get(context.Background(), env)
			took := time.Since(start)
			var hits int64
			if st != nil {
				hits = st.hits.Load()
			}
			for i := 0; i < 2; i++ { // one lookup per client, however often asked
				md2, err2 := c.Get(context.Background(), env)
				if md2 != md || err2 != err {
					t.Errorf("Get again: %v, %v", md2, err2)
				}
			}
			if took > tt.budget+slack {
				t.Errorf("took %s, budget %s", took, tt.budget)
			}
			if len(tt.wantErr) == 0 {
				if err != nil || md == nil || md.CommercialType != "PRO2-S" {
					t.Fatalf("md %+v, err %v", md, err)
				}
			} else if err == nil {
				t.Fatalf("no error, metadata %+v", md)
			}
			if err != nil {
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				for _, w := range tt.noErr {
					if strings.Contains(err.Error(), w) {
						t.Errorf("error %q holds %q", err, w)
					}
				}
				if len(err.Error()) > 2000 {
					t.Errorf("error of %d bytes", len(err.Error()))
				}
			}
			if st == nil {
				return
			}
			if hits < tt.hits || st.hits.Load() != hits {
				t.Errorf("%d requests, want at least %d; %d after the lookup", hits, tt.hits, st.hits.Load()-hits)
			}
			// The stand-in may have written an answer the client had
			// stopped waiting for; it never serves more than one the
			// client could take, nor any after the lookup.
			served := st.served.Load()
			if len(tt.wantErr) == 0 && (served < 1 || tt.exact && served != 1) || len(tt.wantErr) > 0 && served != 0 {
				t.Errorf("%d answers served", served)
			}
		})
	}
}

// TestAttemptsBounded: however many attempts fit, the error stays
// bounded and the lookup within its budget.
func TestAttemptsBounded(t *testing.T) {
	c := NewClient(deadURL(t) + strings.Repeat("x", 4000))
	c.Timeout = 3 * time.Second
	start := time.Now()
	_, err := c.Get(context.Background(), hosttest.Env(t, nil))
	if err == nil || time.Since(start) > c.Timeout+300*time.Millisecond {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
	if n := strings.Count(err.Error(), "connection refused"); n != maxAttempts || len(err.Error()) > maxAttempts*(maxURLText+maxAttemptText+16)+64 {
		t.Errorf("%d attempts in an error of %d bytes: %s", n, len(err.Error()), err)
	}
}

// TestDefaultAddresses: the default client asks the IPv4 address first,
// then the IPv6 one; the budget is the documented default.
func TestDefaultAddresses(t *testing.T) {
	c := NewClient("")
	if c.URL != "http://169.254.42.42/conf?format=json" || c.Fallback != "http://[fd00:42::42]/conf?format=json" || c.Timeout != 2*time.Second || c.Forced {
		t.Errorf("%+v", c)
	}
	if got := DefaultConfig().Client(); got.Timeout != DefaultTimeout || got.Fallback != DefaultURLv6 {
		t.Errorf("%+v", got)
	}
}
