package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Status codes: mirrored in docs/ffi.md and src/ffi/mod.rs (ErrorKind).
const (
	codeOK             int32 = 0
	codeInvalid        int32 = 1
	codeNotFound       int32 = 2
	codeUnauthorized   int32 = 3
	codeDenied         int32 = 4
	codeDigestMismatch int32 = 5
	codeSizeExceeded   int32 = 6
	codeNetwork        int32 = 7
	codeCancelled      int32 = 8
	codeBadHandle      int32 = 9
	codeTLS            int32 = 10
	codeInternal       int32 = 11
	codeVerification   int32 = 12
	codeUnsupported    int32 = 13
	codeIO             int32 = 14
)

var kindNames = map[int32]string{
	codeInvalid:        "invalid",
	codeNotFound:       "not_found",
	codeUnauthorized:   "unauthorized",
	codeDenied:         "denied",
	codeDigestMismatch: "digest_mismatch",
	codeSizeExceeded:   "size_exceeded",
	codeNetwork:        "network",
	codeCancelled:      "cancelled",
	codeBadHandle:      "bad_handle",
	codeTLS:            "tls",
	codeInternal:       "internal",
	codeVerification:   "verification",
	codeUnsupported:    "unsupported",
	codeIO:             "io",
}

// vdrError is what crosses the ABI as *err JSON.
type vdrError struct {
	Code    int32  `json:"-"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Status  int    `json:"status,omitempty"`
}

func newError(code int32, msg string) *vdrError {
	return &vdrError{Code: code, Kind: kindNames[code], Message: redact(msg)}
}

func invalidf(format string, args ...any) *vdrError {
	return newError(codeInvalid, fmt.Sprintf(format, args...))
}

func badHandle(what string, id uint64) *vdrError {
	return newError(codeBadHandle, fmt.Sprintf("unknown or freed %s handle %d", what, id))
}

func (e *vdrError) json() []byte {
	b, err := json.Marshal(e)
	if err != nil { // cannot happen for this struct; keep the ABI promise anyway
		return []byte(`{"kind":"internal","message":"failed to encode error"}`)
	}
	return b
}

// toError classifies err for the ABI. A cancelled ctx wins over whatever error
// the interrupted I/O produced (closed body, write deadline, ...).
func toError(ctx context.Context, err error) *vdrError {
	if err == nil {
		return nil
	}
	code, status := classify(err)
	if ctx != nil && ctx.Err() != nil {
		code, status = codeCancelled, 0
	}
	e := newError(code, err.Error())
	e.Status = status
	return e
}

// classify maps a Go error to a status code (and the HTTP status, if any).
// Order matters: the most specific cause wins.
func classify(err error) (int32, int) {
	if errors.Is(err, context.Canceled) {
		return codeCancelled, 0
	}
	if isTLSError(err) {
		return codeTLS, 0
	}
	// Transport failures (incl. io.ErrUnexpectedEOF inside *url.Error after
	// retries) are network, not content, problems.
	var urlErr *url.Error
	var stall *stallError
	if errors.Is(err, errTruncatedBody) || errors.As(err, &urlErr) || errors.As(err, &stall) {
		return codeNetwork, 0
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		switch s := resp.StatusCode; {
		case s == http.StatusUnauthorized:
			return codeUnauthorized, s
		case s == http.StatusForbidden:
			return codeDenied, s
		case s == http.StatusNotFound:
			return codeNotFound, s
		default: // 429, 5xx (after retries) and anything else unexpected
			return codeNetwork, s
		}
	}
	switch {
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return codeUnauthorized, 0
	case errors.Is(err, errdef.ErrNotFound):
		return codeNotFound, 0
	case errors.Is(err, errdef.ErrSizeExceedsLimit):
		return codeSizeExceeded, 0
	case errors.Is(err, content.ErrMismatchedDigest),
		errors.Is(err, content.ErrTrailingData),
		errors.Is(err, content.ErrInvalidDescriptorSize),
		errors.Is(err, io.ErrUnexpectedEOF): // body shorter than desc.size
		return codeDigestMismatch, 0
	case errors.Is(err, errdef.ErrInvalidReference),
		errors.Is(err, errdef.ErrInvalidDigest),
		errors.Is(err, errdef.ErrMissingReference):
		return codeInvalid, 0
	case errors.Is(err, errdef.ErrUnsupported),
		errors.Is(err, errdef.ErrUnsupportedVersion):
		return codeUnsupported, 0
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return codeIO, 0
	}
	var netErr net.Error
	if errors.As(err, &netErr) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) {
		return codeNetwork, 0
	}
	return codeInternal, 0
}

func isTLSError(err error) bool {
	var (
		unknownAuth x509.UnknownAuthorityError
		hostname    x509.HostnameError
		invalid     x509.CertificateInvalidError
		verify      *tls.CertificateVerificationError
		record      tls.RecordHeaderError
		alert       tls.AlertError
	)
	// net/http turns the RecordHeaderError of an HTTPS request to a plain
	// HTTP server into this unexported-type error; it is a TLS setting problem.
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return true
	}
	return errors.As(err, &unknownAuth) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &verify) ||
		errors.As(err, &record) || errors.As(err, &alert)
}

// Messages quote request URLs (oras-go: `GET "https://host/v2/...": response
// status code 404: ...`). Credentials never travel in URLs oras-go builds, but
// a redirect target (pre-signed blob URL) carries secrets in its query and
// a URL may carry userinfo, so both are scrubbed. scope/service/n/last are
// kept: they are what makes a token or paging error understandable.
var urlPattern = regexp.MustCompile(`https?://[^\s"']+`)

var keptQueryKeys = map[string]bool{"scope": true, "service": true, "n": true, "last": true}

func redact(msg string) string {
	return urlPattern.ReplaceAllStringFunc(msg, redactURL)
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil { // unparsable: keep only the scheme rather than risk a leak
		scheme, _, _ := strings.Cut(raw, "://")
		return scheme + "://REDACTED"
	}
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if !keptQueryKeys[k] {
				q[k] = []string{"REDACTED"}
			}
		}
		u.RawQuery = q.Encode()
	}
	u.Fragment = ""
	return u.String()
}
