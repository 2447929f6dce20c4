// Package endpoint sends reports to the fleet's HTTPS endpoint, and
// delivers the spool's backlog through it.
//
// The contract with the receiver, which its implementers rely on:
//
//   - POST to the configured URL; the body is the report's JSON compressed
//     with gzip (Content-Type: application/json, Content-Encoding: gzip).
//   - Authorization: Bearer <token> when a token file is configured.
//   - Idempotency-Key: the report's id, the same on every retry and every
//     delivery pass. The receiver must store a report at most once per key.
//   - Any 2xx means the receiver has stored the report. 409 Conflict means
//     the same: the receiver must answer 409 only when it already holds a
//     report with this key (typically a retry whose earlier answer was
//     lost), never while the first request is still being processed, or the
//     report could be lost. (This is stricter than the IETF
//     Idempotency-Key draft, which uses 409 for a request still in flight.)
//   - 408, 429 and 5xx are retried with backoff; 429 and 503 may carry
//     Retry-After, in seconds or as an HTTP date.
//   - 401, 403, 404, 405, 407 and redirects say the endpoint's
//     configuration is wrong (token, URL, proxy), not the report: the report
//     stays queued and the pass stops until that is fixed.
//   - Any other 4xx says the report itself is refused, for good: it is
//     moved aside and the next one is sent.
package endpoint

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMaxAttempts = 5
	DefaultMinBackoff  = time.Second
	DefaultMaxBackoff  = 2 * time.Minute
	DefaultUserAgent   = "vigie"
	// MaxRetryAfter caps how long one Retry-After makes Send wait. It is
	// separate from MaxBackoff, and larger, because it is the receiver
	// asking for room, and vigie is one of a fleet.
	MaxRetryAfter = 10 * time.Minute
)

// Config says where and how to send reports.
type Config struct {
	// URL is the endpoint. It must be https; plain http is accepted only
	// for a loopback host (127.0.0.0/8, ::1, localhost), where nothing
	// crosses a network: a local relay or a test receiver.
	URL string
	// TokenFile holds the bearer token. It is read at every request, so a
	// rotated token is used without a restart. Empty: no Authorization.
	TokenFile string
	// CAFile, when set, is the only trust anchor for the endpoint's
	// certificate: the system roots are not used. An operator who pins the
	// fleet's own CA means that no public CA may vouch for the endpoint.
	// Empty: the system roots. It is read once, by New.
	CAFile string
	// CertFile and KeyFile, both or neither, are the client certificate
	// for mutual TLS. They are read again at every TLS handshake, so a
	// renewed short-lived certificate is used without a restart.
	CertFile, KeyFile string
	// Timeout bounds one request, response included (DefaultTimeout).
	Timeout time.Duration
	// MaxAttempts bounds the requests of one Send (DefaultMaxAttempts).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between attempts
	// (DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// UserAgent is sent with every request (DefaultUserAgent).
	UserAgent string
	// ContentType is the body's media type (application/json); the body
	// is always sent gzip-compressed.
	ContentType string
	// Headers are sent with every request, as they are. HeaderFiles are
	// too, each value read from its file at every request with the
	// token's rules (a rotated secret is used without a restart) and
	// redacted like the token from what a response quotes.
	Headers, HeaderFiles map[string]string
	// Accepted, if set, is given the start of the body of a response that
	// delivered the report: a receiver may say there that it kept only
	// part of it.
	Accepted func(contentType string, body []byte)
	// Warn, if set, hears of problems that do not stop delivery: a token
	// file that others can read, a client certificate that failed to
	// reload. Messages never contain the token.
	Warn func(msg string)
}

// Client sends reports to one endpoint. It is safe for concurrent use.
type Client struct {
	cfg  Config
	url  *url.URL
	http *http.Client

	// sleep waits for d or until ctx is done; rand returns a number in
	// [0, 1) for the jitter; now is the clock Retry-After dates and
	// deadlines are compared with. Tests replace them.
	sleep func(ctx context.Context, d time.Duration) error
	rand  func() float64
	now   func() time.Time

	mu          sync.Mutex
	warnedMode  map[string]os.FileMode // the secret file modes last warned about
	warnedCert  string                 // the last certificate reload error warned about
	certificate *tls.Certificate
}

// New checks cfg and builds its client. It reads the CA file and the client
// key pair now, so that a wrong path fails at start rather than at the
// first report; the token file is read only when sending, since it may be
// provisioned after the service starts. A proxy is taken from the
// environment (HTTPS_PROXY, NO_PROXY) like any Go program's, never for a
// loopback endpoint; redirects are not followed.
func New(cfg Config) (*Client, error) {
	u, err := CheckURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if err := applyDefaults(&cfg); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, url: u, sleep: sleepCtx, rand: rand.Float64, now: time.Now}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", cfg.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("endpoint: a client certificate needs both a certificate file and a key file")
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate %s and key %s: %w", cfg.CertFile, cfg.KeyFile, err)
		}
		c.certificate = &cert
		tlsCfg.GetClientCertificate = c.clientCertificate
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	c.http = &http.Client{
		Transport: tr,
		// A redirect is a configuration problem to fix, not to follow: it
		// could lead the token and the report to another host, or to
		// plain http.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// checkURL parses the endpoint URL and enforces https outside loopback.
// CheckURL is the endpoint URL rule, for configuration validation and the
// client alike: https, or http to a loopback host, no credentials.
func CheckURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("endpoint: no URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("endpoint URL: %w", err)
	}
	if u.User != nil {
		// Credentials there would end up in logs and error messages.
		return nil, errors.New("endpoint URL: credentials in the URL are refused; use the token file")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("endpoint URL %q: no host", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("endpoint URL %s: plain http is allowed only to a loopback host; use https", u.Redacted())
		}
	default:
		return nil, fmt.Errorf("endpoint URL %s: scheme must be https", u.Redacted())
	}
	return u, nil
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func applyDefaults(cfg *Config) error {
	if cfg.Timeout < 0 || cfg.MaxAttempts < 0 || cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 {
		return errors.New("endpoint: timeout, attempts and backoffs must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.MinBackoff > cfg.MaxBackoff {
		return fmt.Errorf("endpoint: minimum backoff %s above maximum %s", cfg.MinBackoff, cfg.MaxBackoff)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.ContentType == "" {
		cfg.ContentType = "application/json"
	}
	for _, h := range []map[string]string{cfg.Headers, cfg.HeaderFiles} {
		for k, v := range h {
			if err := CheckHeader(k, v); err != nil {
				return err
			}
		}
	}
	if strings.ContainsAny(cfg.UserAgent, "\r\n") {
		return errors.New("endpoint: user agent contains a line break")
	}
	return nil
}

// reservedHeaders are set by the client itself: a configured header may
// not replace them.
var reservedHeaders = map[string]bool{"Content-Type": true, "Content-Encoding": true, "Content-Length": true,
	"Idempotency-Key": true, "User-Agent": true, "Host": true, "Transfer-Encoding": true, "Connection": true,
	"Expect": true, "Upgrade": true, "Te": true, "Trailer": true, "Keep-Alive": true, "Proxy-Connection": true}

// CheckHeader refuses a configured header the client could not send as
// it is, or that would replace one the client sets. value must be visible
// ASCII, spaces inside allowed: what HTTP sends as it is (a file path
// passes too).
func CheckHeader(name, value string) error {
	if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) }) {
		return fmt.Errorf("header %q: not a header name", name)
	}
	if reservedHeaders[http.CanonicalHeaderKey(name)] {
		return fmt.Errorf("header %s: set by vigie itself", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("header %s: its value holds a line break", name)
	}
	if strings.ContainsFunc(value, func(r rune) bool { return (r < 0x21 || r > 0x7e) && r != ' ' }) || strings.TrimSpace(value) != value {
		return fmt.Errorf("header %s: its value holds a control or non-ASCII character, or spaces at its ends", name)
	}
	return nil
}

// clientCertificate reloads the key pair at each handshake; when the files
// are mid-rotation or broken it keeps using the last good pair, and warns.
func (c *Client) clientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.cfg.CertFile, c.cfg.KeyFile)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if msg := err.Error(); msg != c.warnedCert {
			c.warnedCert = msg
			c.warn(fmt.Sprintf("reload client certificate %s: %v; using the one loaded before", c.cfg.CertFile, err))
		}
		return c.certificate, nil
	}
	c.warnedCert = ""
	c.certificate = &cert
	return &cert, nil
}

func (c *Client) warn(msg string) {
	if c.cfg.Warn != nil {
		c.cfg.Warn(msg)
	}
}

// Close drops the client's idle connections. A sink makes a client per
// delivery pass: without it, each pass would leave a kept-alive
// connection open on the receiver for a minute and a half, which a
// collector serving a fleet pays for.
func (c *Client) Close() { c.http.CloseIdleConnections() }
