package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/vigie-agent/vigie/agent/endpoint"
	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/spool"
	"github.com/vigie-agent/vigie/internal/printable"
)

// Signal is one of the protocol's two requests vigie makes.
type Signal string

// The signals, each with its own queue, so that one delivered and the
// other not is never sent twice.
const (
	SignalLogs    Signal = "logs"
	SignalMetrics Signal = "metrics"
)

// Path is the signal's path under a collector's base URL, as the protocol
// names it (OTEL_EXPORTER_OTLP_ENDPOINT's rule).
func (s Signal) Path() string { return "/v1/" + string(s) }

// Sender sends the spooled entries of one signal to its URL as OTLP/HTTP
// protobuf, compressed with gzip. It is an endpoint.Sender: the spool's
// delivery pass, retries and backoff are the HTTPS sink's.
type Sender struct {
	Signal Signal
	Client *endpoint.Client
}

// ContentType is OTLP/HTTP's binary encoding.
const ContentType = "application/x-protobuf"

// Send decodes the spooled JSON, encodes the signal's message and posts
// it. An entry that does not decode is refused for good.
func (s *Sender) Send(ctx context.Context, id string, gz []byte) error {
	js, err := inflate(gz)
	if err != nil {
		return endpoint.Unsendable(id, err)
	}
	var msg proto.Message
	switch s.Signal {
	case SignalLogs:
		var b Batch
		if err := json.Unmarshal(js, &b); err != nil || b.Report == nil {
			return endpoint.Unsendable(id, fmt.Errorf("spooled logs batch does not decode: %v", err))
		}
		msg = Logs(&b)
	case SignalMetrics:
		var r report.Report
		if err := json.Unmarshal(js, &r); err != nil {
			return endpoint.Unsendable(id, fmt.Errorf("spooled report does not decode: %w", err))
		}
		msg = Metrics(&r)
	default:
		return endpoint.Unsendable(id, fmt.Errorf("unknown signal %q", s.Signal))
	}
	pb, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return endpoint.Unsendable(id, fmt.Errorf("encode %s: %w", s.Signal, err))
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(pb)
	if err := zw.Close(); err != nil {
		return endpoint.Unsendable(id, err)
	}
	return s.Client.Send(ctx, id, buf.Bytes())
}

func inflate(gz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(zr, spool.MaxReportSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > spool.MaxReportSize {
		return nil, fmt.Errorf("inflates beyond %d bytes", spool.MaxReportSize)
	}
	return b, nil
}

// PartialSuccess reads an Export*ServiceResponse: how many records or data
// points the receiver rejected of a request it answered 200, and its
// message. The two responses share that shape (field 1, partial_success:
// field 1 the count, field 2 the message), read here with protowire since
// their generated types live in the gRPC service packages. A body that
// does not parse says nothing: the request was accepted.
func PartialSuccess(body []byte) (rejected int64, msg string) {
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			return 0, ""
		}
		body = body[n:]
		if num == 1 && typ == protowire.BytesType {
			ps, n := protowire.ConsumeBytes(body)
			if n < 0 {
				return 0, ""
			}
			body = body[n:]
			rejected, msg = partial(ps)
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, body)
		if n < 0 {
			return 0, ""
		}
		body = body[n:]
	}
	return rejected, msg
}

func partial(b []byte) (rejected int64, msg string) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return rejected, msg
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return rejected, msg
			}
			rejected, b = int64(v), b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return rejected, msg
			}
			msg, b = printable.Line(string(v), 512), b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return rejected, msg
			}
			b = b[n:]
		}
	}
	return rejected, msg
}
