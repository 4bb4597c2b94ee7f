package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

func TestClassify(t *testing.T) {
	u, _ := url.Parse("https://reg.example/v2/repo/manifests/v1")
	resp := func(s int) error {
		return fmt.Errorf("wrapped: %w", &errcode.ErrorResponse{Method: "GET", URL: u, StatusCode: s})
	}
	urlErr := func(err error) error { return &url.Error{Op: "Get", URL: u.String(), Err: err} }
	cases := []struct {
		name   string
		err    error
		code   int32
		status int
	}{
		{"401", resp(401), codeUnauthorized, 401},
		{"403", resp(403), codeDenied, 403},
		{"404", resp(404), codeNotFound, 404},
		{"429", resp(429), codeNetwork, 429},
		{"500", resp(500), codeNetwork, 500},
		{"503", resp(503), codeNetwork, 503},
		{"418", resp(418), codeNetwork, 418},
		{"no credential", fmt.Errorf("x: %w", auth.ErrBasicCredentialNotFound), codeUnauthorized, 0},
		{"not found", fmt.Errorf("v1: %w", errdef.ErrNotFound), codeNotFound, 0},
		{"size limit", fmt.Errorf("x: %w", errdef.ErrSizeExceedsLimit), codeSizeExceeded, 0},
		{"digest", content.ErrMismatchedDigest, codeDigestMismatch, 0},
		{"trailing", content.ErrTrailingData, codeDigestMismatch, 0},
		{"short content", fmt.Errorf("read failed: %w", io.ErrUnexpectedEOF), codeDigestMismatch, 0},
		{"truncated body", fmt.Errorf("%w: %w", errTruncatedBody, io.ErrUnexpectedEOF), codeNetwork, 0},
		{"transport EOF after retries", urlErr(io.ErrUnexpectedEOF), codeNetwork, 0},
		{"bad reference", fmt.Errorf("x: %w", errdef.ErrInvalidReference), codeInvalid, 0},
		{"unsupported", fmt.Errorf("x: %w", errdef.ErrUnsupported), codeUnsupported, 0},
		{"cancelled", urlErr(context.Canceled), codeCancelled, 0},
		{"unknown CA", urlErr(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), codeTLS, 0},
		{"hostname", urlErr(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "x"}), codeTLS, 0},
		{"https to http", urlErr(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), codeTLS, 0},
		{"refused", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), codeNetwork, 0},
		{"dns", urlErr(&net.DNSError{Err: "no such host", Name: "reg.example"}), codeNetwork, 0},
		{"bare net error", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, codeNetwork, 0},
		{"epipe", &fs.PathError{Op: "write", Path: "fd", Err: syscall.EPIPE}, codeIO, 0},
		{"layout file", fmt.Errorf("x: %w", &fs.PathError{Op: "open", Path: "/l/index.json", Err: fs.ErrNotExist}), codeIO, 0},
		{"other", errors.New("boom"), codeInternal, 0},
	}
	for _, c := range cases {
		code, status := classify(c.err)
		if code != c.code || status != c.status {
			t.Errorf("%s: got (%d,%d) want (%d,%d)", c.name, code, status, c.code, c.status)
		}
	}
	// A cancelled op wins over whatever the interrupted I/O reported.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	wantCode(t, toError(ctx, &fs.PathError{Op: "write", Err: os.ErrDeadlineExceeded}), codeCancelled)
}

func TestRedact(t *testing.T) {
	u, _ := url.Parse("https://bob:hunter2@bucket.example/blob?X-Amz-Signature=abc123&X-Amz-Credential=AKIA&scope=repository%3Arepo%3Apull&service=reg")
	err := fmt.Errorf("fetch: %w", &errcode.ErrorResponse{Method: "GET", URL: u, StatusCode: 403})
	e := toError(context.Background(), err)
	for _, secret := range []string{"hunter2", "bob", "abc123", "AKIA"} {
		if strings.Contains(e.Message, secret) {
			t.Fatalf("%q leaked in %q", secret, e.Message)
		}
	}
	for _, keep := range []string{"bucket.example/blob", "scope=repository%3Arepo%3Apull", "service=reg", "403"} {
		if !strings.Contains(e.Message, keep) {
			t.Fatalf("%q missing from %q", keep, e.Message)
		}
	}
	if got := redact(`Get "http://u:p%zz@h/x": boom`); strings.Contains(got, "u:p") {
		t.Fatalf("unparsable URL leaked: %q", got)
	}
}

func TestPlainHTTPRule(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		registry string
		explicit *bool
		want     bool
	}{
		{"localhost", nil, true},
		{"localhost:5000", nil, true},
		{"127.0.0.1:5000", nil, false},
		{"[::1]:5000", nil, false},
		{"localhost.localdomain:5000", nil, false},
		{"mylocalhost:5000", nil, false},
		{"ghcr.io", nil, false},
		{"localhost:5000", &no, false},
		{"ghcr.io", &yes, true},
	}
	for _, c := range cases {
		if got := isPlainHTTP(c.registry, c.explicit); got != c.want {
			t.Errorf("isPlainHTTP(%q, %v) = %v", c.registry, c.explicit, got)
		}
	}
}

func TestTLS(t *testing.T) {
	reg := newFakeRegistry()
	reg.addManifest("v1")
	srv := httptest.NewTLSServer(reg)
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "https://") + "/repo"

	// Unknown CA: tls error; plain_http null means HTTPS for 127.0.0.1.
	tid := openOK(t, map[string]any{"kind": "remote", "repository": repo, "plain_http": nil})
	_, e := resolve(tid, 0, `{"reference":"v1"}`)
	wantCode(t, e, codeTLS)

	// ca_files trusts it.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	tid = openOK(t, map[string]any{"kind": "remote", "repository": repo, "ca_files": []string{ca}})
	_, e = resolve(tid, 0, `{"reference":"v1"}`)
	wantCode(t, e, codeOK)

	// insecure skips verification.
	tid = openOK(t, map[string]any{"kind": "remote", "repository": repo, "insecure": true})
	_, e = resolve(tid, 0, `{"reference":"v1"}`)
	wantCode(t, e, codeOK)

	// Speaking TLS to a plain HTTP server is a TLS error too.
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	tid = openOK(t, map[string]any{"kind": "remote", "repository": strings.TrimPrefix(plain.URL, "http://") + "/repo", "plain_http": false})
	_, e = resolve(tid, 0, `{"reference":"v1"}`)
	wantCode(t, e, codeTLS)

	// Bad CA files.
	_, e = openTarget(mustJSON(t, map[string]any{"kind": "remote", "repository": repo, "ca_files": []string{"/nope.pem"}}))
	wantCode(t, e, codeIO)
	_, e = openTarget(mustJSON(t, map[string]any{"kind": "remote", "repository": repo, "ca_files": []string{writeBroken(t)}}))
	wantCode(t, e, codeInvalid)
}
