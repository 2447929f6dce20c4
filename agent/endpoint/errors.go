package endpoint

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxErrorBody is how much of a refusal's response body an error quotes.
const maxErrorBody = 512

// kind is what a failed attempt means for the report.
type kind int

const (
	// retryable: the network, 408, 429 and 5xx. Send tries again; when
	// it gives up the report waits for the next pass.
	retryable kind = iota
	// misconfigured: the endpoint refuses every report as configured
	// (token, URL, TLS trust, redirect). Trying again now is pointless,
	// dropping the report would be wrong: it waits for an operator.
	misconfigured
	// permanent: the endpoint refuses this report, for good.
	permanent
)

// Error is why Send failed. Its message names the report, the status and
// up to 512 bytes of the response body, made printable, or the network
// error; never the token.
type Error struct {
	ID         string // the report id
	StatusCode int    // the last response's status, 0 when none came
	Body       string // the start of the last response body, printable
	Attempts   int    // requests made
	kind       kind
	err        error  // the cause when there was no response
	note       string // why Send stopped early, if it did
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "send report %s", e.ID)
	if e.Attempts > 0 {
		fmt.Fprintf(&b, " (%d attempt%s)", e.Attempts, plural(e.Attempts))
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": endpoint answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
		if e.Body != "" {
			fmt.Fprintf(&b, ": %q", e.Body)
		}
	}
	if e.err != nil {
		fmt.Fprintf(&b, ": %v", e.err)
	}
	if e.note != "" {
		fmt.Fprintf(&b, "; %s", e.note)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.err }

// IsPermanent reports whether err says the endpoint refused the report for
// good, so that sending it again would be refused again: the caller moves
// it aside and goes on with the next. Any other error from Send means the
// report should wait and be sent later.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.kind == permanent
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// printable prepares a response body for an error message: every
// occurrence of the token or another secret (a debugging receiver may echo the request) is
// redacted, line breaks and tabs become spaces, other control and format
// characters and invalid UTF-8 become '?', and the result is cut to
// maxErrorBody bytes on a character boundary.
func printable(body []byte, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			body = bytes.ReplaceAll(body, []byte(s), []byte("[redacted]"))
		}
	}
	var b strings.Builder
	for len(body) > 0 {
		r, size := utf8.DecodeRune(body)
		body = body[size:]
		switch {
		case r == utf8.RuneError && size <= 1:
			r = '?'
		case r == '\n' || r == '\r' || r == '\t':
			r = ' '
		case !unicode.IsPrint(r):
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > maxErrorBody {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// Unsendable is the error of a Sender that cannot turn a spooled report
// into a request (it does not decode): it is refused for good, like a
// report the endpoint refuses, so it is moved aside instead of holding
// back the reports after it.
func Unsendable(id string, err error) error { return &Error{ID: id, kind: permanent, err: err} }
