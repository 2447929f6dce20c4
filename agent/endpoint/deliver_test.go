package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/agent/spool"
)

func openSpool(t *testing.T) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool"), 1000, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func putReports(t *testing.T, sp *spool.Spool, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := sp.Put(id, reportJSON(id)); err != nil {
			t.Fatal(err)
		}
	}
}

func pending(t *testing.T, sp *spool.Spool) []string {
	t.Helper()
	es, err := sp.Pending()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func join(s []string) string { return strings.Join(s, ",") }

// TestDeliver runs passes over a spool of r0..r4 against a receiver that
// refuses or fails some of them.
func TestDeliver(t *testing.T) {
	tests := []struct {
		name      string
		respond   func(r received) int // status for a report
		corrupt   string               // id whose file is damaged before the pass
		want      Result
		err       bool
		received  string // ids the receiver got, in order
		remaining string // ids still spooled
		rejected  int    // files in rejected/ (reports and reasons)
	}{
		{
			name:     "all delivered",
			respond:  func(received) int { return 201 },
			want:     Result{Delivered: 5},
			received: "r0,r1,r2,r3,r4",
		},
		{
			name: "400 rejected, the next delivered",
			respond: func(r received) int {
				if r.ID == "r1" {
					return 400
				}
				return 200
			},
			want:     Result{Delivered: 4, Rejected: 1},
			received: "r0,r1,r2,r3,r4",
			rejected: 2,
		},
		{
			name:     "corrupt skipped",
			respond:  func(received) int { return 200 },
			corrupt:  "r2",
			want:     Result{Delivered: 4, Corrupt: 1},
			received: "r0,r1,r3,r4",
		},
		{
			name: "temporary failure stops the pass, order kept",
			respond: func(r received) int {
				if r.ID == "r2" {
					return 503
				}
				return 200
			},
			want:      Result{Delivered: 2, Remaining: 3},
			err:       true,
			received:  "r0,r1,r2,r2", // two attempts at r2, none at r3
			remaining: "r2,r3,r4",
		},
		{
			name: "configuration error keeps everything",
			respond: func(r received) int {
				return 401
			},
			want:      Result{Remaining: 5},
			err:       true,
			received:  "r0",
			remaining: "r0,r1,r2,r3,r4",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &receiver{respond: func(_ int, r received) answer { return answer{status: tt.respond(r), body: "no"} }}
			srv := newServer(t, rc)
			c, _ := newClient(t, Config{URL: srv.URL, MaxAttempts: 2})
			sp := openSpool(t)
			putReports(t, sp, "r0", "r1", "r2", "r3", "r4")
			if tt.corrupt != "" {
				es, _ := sp.Pending()
				for _, e := range es {
					if e.ID == tt.corrupt {
						if err := os.WriteFile(filepath.Join(sp.Dir(), e.Name), []byte("\x1f\x8bjunk"), 0o600); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			var logs []string
			res, err := Deliver(context.Background(), sp, c, func(m string) { logs = append(logs, m) })
			if (err != nil) != tt.err {
				t.Fatalf("Deliver: %v", err)
			}
			if res.RemainingBytes == 0 && res.Remaining > 0 {
				t.Errorf("remaining bytes 0 for %d reports", res.Remaining)
			}
			res.RemainingBytes = 0
			if res != tt.want {
				t.Errorf("result %+v, want %+v", res, tt.want)
			}
			if got := join(rc.ids()); got != tt.received {
				t.Errorf("received %s, want %s", got, tt.received)
			}
			if got := join(pending(t, sp)); got != tt.remaining {
				t.Errorf("remaining %s, want %s", got, tt.remaining)
			}
			des, _ := os.ReadDir(filepath.Join(sp.Dir(), "rejected"))
			if len(des) != tt.rejected {
				t.Errorf("%d files in rejected/, want %d", len(des), tt.rejected)
			}
			if len(logs) != tt.want.Rejected+tt.want.Corrupt {
				t.Errorf("logs %q", logs)
			}
			for _, m := range logs {
				if tt.want.Rejected > 0 && !strings.Contains(m, "400") {
					t.Errorf("log %q does not say why", m)
				}
			}
		})
	}
}

// listenLater reserves a loopback address, then frees it: the endpoint is
// down (connections refused) until start serves h on it.
func listenLater(t *testing.T) (url string, start func(h http.Handler)) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr, func(h http.Handler) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen again on %s: %v", addr, err)
		}
		srv := httptest.NewUnstartedServer(h)
		srv.Listener.Close()
		srv.Listener = l
		srv.Start()
		t.Cleanup(srv.Close)
	}
}

// TestDeliverThroughOutage: the endpoint is down for several passes while
// every cycle queues a new report; once it is up, every report arrives
// exactly once, in the order it was queued, and the spool empties.
func TestDeliverThroughOutage(t *testing.T) {
	url, start := listenLater(t)
	c, _ := newClient(t, Config{URL: url, MaxAttempts: 3})
	sp := openSpool(t)
	var want []string
	for pass := 0; pass < 4; pass++ {
		for i := 0; i < 3; i++ {
			id := fmt.Sprintf("p%d-r%d", pass, i)
			putReports(t, sp, id)
			want = append(want, id)
		}
		res, err := Deliver(context.Background(), sp, c, nil)
		if err == nil || IsPermanent(err) || res.Delivered != 0 || res.Remaining != len(want) {
			t.Fatalf("pass %d while down: %+v, %v", pass, res, err)
		}
	}
	rc := &receiver{}
	start(rc)
	putReports(t, sp, "last")
	want = append(want, "last")
	res, err := Deliver(context.Background(), sp, c, nil)
	if err != nil || res.Delivered != len(want) || res.Remaining != 0 {
		t.Fatalf("pass once up: %+v, %v", res, err)
	}
	if got := join(rc.ids()); got != join(want) {
		t.Errorf("received %s\nwant     %s", got, join(want))
	}
	for _, r := range rc.requests() {
		if string(r.Body) != string(reportJSON(r.ID)) {
			t.Errorf("%s arrived as %s", r.ID, r.Body)
		}
	}
	// Nothing left, nothing sent twice.
	if res, err := Deliver(context.Background(), sp, c, nil); err != nil || res != (Result{}) || len(rc.ids()) != len(want) {
		t.Errorf("pass after: %+v, %v, %d received", res, err, len(rc.ids()))
	}
}

// TestDeliverWaitsForOtherPass: while another pass holds the spool,
// Deliver sends nothing and says why when its context ends.
func TestDeliverWaitsForOtherPass(t *testing.T) {
	rc := &receiver{}
	srv := newServer(t, rc)
	c, _ := newClient(t, Config{URL: srv.URL})
	sp := openSpool(t)
	putReports(t, sp, "r0")
	other, err := spool.Open(sp.Dir(), 1000, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	err = other.WithLock(context.Background(), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		res, err := Deliver(ctx, sp, c, nil)
		if !errors.Is(err, context.DeadlineExceeded) || res.Delivered != 0 || res.Remaining != 1 {
			t.Errorf("Deliver during another pass: %+v, %v", res, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.ids()) != 0 {
		t.Errorf("sent %v during another pass", rc.ids())
	}
}

// TestDeliverStopsOnCancel: a cancelled context ends the pass between
// reports, leaving the rest queued.
func TestDeliverStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc := &receiver{respond: func(int, received) answer { cancel(); return answer{status: 200} }}
	srv := newServer(t, rc)
	c, _ := newClient(t, Config{URL: srv.URL})
	sp := openSpool(t)
	putReports(t, sp, "r0", "r1", "r2")
	res, err := Deliver(ctx, sp, c, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Deliver: %v", err)
	}
	// r0 may or may not count as delivered, depending on whether the
	// response beat the cancellation; r1 and r2 must wait.
	if got := join(pending(t, sp)); !strings.HasSuffix(got, "r1,r2") || res.Remaining != len(pending(t, sp)) {
		t.Errorf("remaining %s, result %+v", got, res)
	}
}
