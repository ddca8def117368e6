package checks

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// GRPC calls the standard health service (grpc.health.v1.Health/Check) at
// Target ("host:port" or "host:port/service"): SERVING is passing,
// anything else critical. It speaks the protocol directly over HTTP/2 —
// prior-knowledge cleartext, or TLS when UseTLS — so it needs no gRPC
// library.
type GRPC struct {
	CheckID       string
	Target        string
	UseTLS        bool
	TLSSkipVerify bool
	TLSServerName string
	Interval      time.Duration
	Timeout       time.Duration // default DefaultTimeout
	Notify        Notify
	Logger        hclog.Logger

	client *http.Client
	loop   loop
}

// gRPC health serving states (grpc.health.v1.HealthCheckResponse.ServingStatus).
var grpcServingStatus = map[uint64]string{0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}

// Start implements Runner.
func (c *GRPC) Start() {
	c.setup()
	c.loop.start(c.Interval, false, c.Check)
}

func (c *GRPC) setup() {
	if c.client != nil {
		return
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: c.TLSSkipVerify, ServerName: c.TLSServerName}, //nolint:gosec // the check's own setting
		Protocols:       new(http.Protocols),
	}
	if c.UseTLS {
		tr.Protocols.SetHTTP2(true)
		tr.ForceAttemptHTTP2 = true
	} else {
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	c.client = &http.Client{Transport: tr}
}

// Stop implements Runner.
func (c *GRPC) Stop() {
	c.loop.stop()
	if c.client != nil {
		c.client.CloseIdleConnections()
	}
}

// Check runs the check once and reports the result.
func (c *GRPC) Check() {
	c.setup()
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	status, err := c.call(ctx)
	if err != nil {
		logger(c.Logger).Debug("grpc check failed", "check", c.CheckID, "error", err)
		c.Notify.UpdateCheck(c.CheckID, Critical, fmt.Sprintf("gRPC %s: %v", c.Target, err))
		return
	}
	name := grpcServingStatus[status]
	if status == 1 {
		c.Notify.UpdateCheck(c.CheckID, Passing, fmt.Sprintf("gRPC check %s: success", c.Target))
		return
	}
	c.Notify.UpdateCheck(c.CheckID, Critical, fmt.Sprintf("gRPC check %s: failed: status %s", c.Target, name))
}

// call performs one Health/Check call and returns the serving status.
func (c *GRPC) call(ctx context.Context) (uint64, error) {
	addr, service, _ := strings.Cut(c.Target, "/")
	scheme := "http"
	if c.UseTLS {
		scheme = "https"
	}
	// HealthCheckRequest{service = 1}: field 1, wire type 2.
	var msg []byte
	if service != "" {
		msg = append([]byte{0x0a}, binary.AppendUvarint(nil, uint64(len(service)))...)
		msg = append(msg, service...)
	}
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	frame = append(frame, msg...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		scheme+"://"+addr+"/grpc.health.v1.Health/Check", bytes.NewReader(frame))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header.Set("User-Agent", UserAgent)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP status %s", resp.Status)
	}
	gs := resp.Trailer.Get("Grpc-Status")
	if gs == "" {
		gs = resp.Header.Get("Grpc-Status") // trailers-only response
	}
	if gs != "" && gs != "0" {
		msg := resp.Trailer.Get("Grpc-Message")
		if msg == "" {
			msg = resp.Header.Get("Grpc-Message")
		}
		return 0, fmt.Errorf("rpc error: code = %s desc = %s", gs, msg)
	}
	return parseHealthResponse(body)
}

// parseHealthResponse decodes one length-prefixed HealthCheckResponse
// and returns its status (field 1, varint; absent means UNKNOWN).
func parseHealthResponse(b []byte) (uint64, error) {
	if len(b) < 5 {
		return 0, errors.New("short gRPC response")
	}
	if b[0] != 0 {
		return 0, errors.New("compressed gRPC response not supported")
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if int(n) > len(b)-5 {
		return 0, errors.New("truncated gRPC response")
	}
	m := b[5 : 5+n]
	var status uint64
	for len(m) > 0 {
		key, k := binary.Uvarint(m)
		if k <= 0 {
			return 0, errors.New("malformed gRPC response")
		}
		m = m[k:]
		switch key & 7 {
		case 0:
			v, k := binary.Uvarint(m)
			if k <= 0 {
				return 0, errors.New("malformed gRPC response")
			}
			m = m[k:]
			if key>>3 == 1 {
				status = v
			}
		case 2:
			l, k := binary.Uvarint(m)
			if k <= 0 || uint64(len(m)-k) < l {
				return 0, errors.New("malformed gRPC response")
			}
			m = m[k+int(l):]
		case 1:
			if len(m) < 8 {
				return 0, errors.New("malformed gRPC response")
			}
			m = m[8:]
		case 5:
			if len(m) < 4 {
				return 0, errors.New("malformed gRPC response")
			}
			m = m[4:]
		default:
			return 0, errors.New("malformed gRPC response")
		}
	}
	return status, nil
}
