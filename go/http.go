package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/http/httpproxy"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// Plain HTTP GETs (http sources, GitHub releases, chart repositories) over
// the same transport stack as registry targets (docs/ffi.md, "Plain HTTP"):
// the shared *http.Transport for the TLS settings, the stall timer, and
// oras-go's retry transport (429/5xx with backoff, Retry-After on 429).
//
// A GET is two calls: httpOpen sends the request and answers the status and
// headers (any status: the caller words the error, and may want the body of
// an error response), httpBodyToFD then streams the body into a pipe while
// hashing it. Credentials are added per hop by hostAuth, so a redirect to
// another origin never carries them (Go itself would keep Authorization
// across a redirect to another port of the same host name).

// httpRequest is the vdr_http_open request. Unknown fields are ignored.
type httpRequest struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	// Basic auth, or a whole Authorization header value ("token T").
	Basic         *basicAuth `json:"basic"`
	Authorization string     `json:"authorization"`
	Insecure      bool       `json:"insecure"`
	CAFiles       []string   `json:"ca_files"`
	// The proxy settings of the caller's environment (Go's own copy of the
	// environment is a snapshot from process start). Absent: Go's snapshot.
	Proxy          *proxyReq `json:"proxy"`
	UserAgent      string    `json:"user_agent"`
	StallTimeoutMS int64     `json:"stall_timeout_ms"`
}

type basicAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type proxyReq struct {
	HTTPProxy  string `json:"http_proxy"`
	HTTPSProxy string `json:"https_proxy"`
	NoProxy    string `json:"no_proxy"`
}

// httpHead is the vdr_http_open answer.
type httpHead struct {
	Status        int                 `json:"status"`
	StatusText    string              `json:"status_text"` // "404 Not Found"
	Headers       map[string][]string `json:"headers"`     // canonical names
	ContentLength int64               `json:"content_length"`
}

// httpBodyInfo is the vdr_http_body_to_fd answer.
type httpBodyInfo struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
}

type httpResponse struct {
	ctx    context.Context
	resp   *http.Response
	body   io.ReadCloser
	cancel context.CancelFunc
}

func (r *httpResponse) close() {
	_ = r.body.Close()
	r.cancel()
}

var httpResps = map[uint64]*httpResponse{} // guarded by handlesMu

func httpTake(id uint64) (*httpResponse, *vdrError) {
	handlesMu.Lock()
	defer handlesMu.Unlock()
	r, ok := httpResps[id]
	if !ok {
		return nil, badHandle("http response", id)
	}
	delete(httpResps, id)
	return r, nil
}

// proxyKey carries a request's proxy settings to the shared transport's
// Proxy func (transport.go), so one transport serves any proxy setting.
type proxyKey struct{}

func proxyFor(req *http.Request) (*url.URL, error) {
	if cfg, ok := req.Context().Value(proxyKey{}).(*httpproxy.Config); ok {
		return cfg.ProxyFunc()(req.URL)
	}
	return http.ProxyFromEnvironment(req)
}

// hostAuth adds the Authorization header only to requests for the origin
// (scheme, host and port) the caller named.
type hostAuth struct {
	base   http.RoundTripper
	origin string
	value  string
}

func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + strings.ToLower(net.JoinHostPort(u.Hostname(), port))
}

func (t *hostAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.value != "" && origin(req.URL) == t.origin {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", t.value)
	}
	return t.base.RoundTrip(req)
}

// httpClient builds the client for one request: shared base transport ->
// stall timer -> retry -> per-origin credentials.
func httpClient(req *httpRequest, u *url.URL, stall time.Duration) (*http.Client, error) {
	cfg, err := tlsConfig(req.Insecure, req.CAFiles)
	if err != nil {
		return nil, err
	}
	base, err := sharedTransport(req.Insecure, req.CAFiles, cfg)
	if err != nil {
		return nil, err
	}
	auth := ""
	switch {
	case req.Authorization != "":
		auth = req.Authorization
	case req.Basic != nil && (req.Basic.Username != "" || req.Basic.Password != ""):
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(req.Basic.Username, req.Basic.Password)
		auth = r.Header.Get("Authorization")
	}
	rt := retry.NewTransport(&stallTransport{base: base, timeout: stall, what: "server"})
	return &http.Client{Transport: &hostAuth{base: rt, origin: origin(u), value: auth}}, nil
}

// httpOpen sends a GET and returns the response head and a handle to its body.
func httpOpen(oid uint64, reqJSON string) (uint64, []byte, *vdrError) {
	var req httpRequest
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil {
		return 0, nil, invalidf("bad http request: %v", err)
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return 0, nil, invalidf("bad http URL %q: want http:// or https://", redactURL(req.URL))
	}
	opCtx, verr := opContext(oid)
	if verr != nil {
		return 0, nil, verr
	}
	stall := defaultStallTimeout
	if req.StallTimeoutMS > 0 {
		stall = time.Duration(req.StallTimeoutMS) * time.Millisecond
	}
	client, err := httpClient(&req, u, stall)
	if err != nil {
		return 0, nil, newError(codeInvalid, err.Error())
	}
	ctx, cancel := context.WithCancel(opCtx)
	if req.Proxy != nil {
		ctx = context.WithValue(ctx, proxyKey{}, &httpproxy.Config{
			HTTPProxy: req.Proxy.HTTPProxy, HTTPSProxy: req.Proxy.HTTPSProxy, NoProxy: req.Proxy.NoProxy,
		})
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return 0, nil, invalidf("bad http request: %v", err)
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, "Authorization") {
			cancel()
			return 0, nil, invalidf("credentials go in basic/authorization, not headers")
		}
		hreq.Header.Set(k, v)
	}
	if req.UserAgent != "" {
		hreq.Header.Set("User-Agent", req.UserAgent)
	}
	resp, err := client.Do(hreq)
	if err != nil {
		cancel()
		return 0, nil, toError(opCtx, err)
	}
	head, _ := json.Marshal(httpHead{
		Status:        resp.StatusCode,
		StatusText:    resp.Status,
		Headers:       resp.Header,
		ContentLength: resp.ContentLength,
	})
	r := &httpResponse{ctx: ctx, resp: resp, cancel: cancel}
	r.body = &httpResumingBody{ctx: ctx, client: client, req: hreq, resp: resp, rc: resp.Body}
	handlesMu.Lock()
	id := newID()
	httpResps[id] = r
	handlesMu.Unlock()
	return id, head, nil
}

// httpClose discards a response without reading its body.
func httpClose(id uint64) *vdrError {
	r, verr := httpTake(id)
	if verr != nil {
		return verr
	}
	r.close()
	return nil
}

// httpBodyToFD streams the body of response id into fd, hashing it, and
// frees the response. It owns fd from the first statement (closed on every
// path, so the reader sees EOF). More than maxSize bytes is size_exceeded.
func httpBodyToFD(id uint64, fd int, maxSize int64) ([]byte, *vdrError) {
	if fd < 0 {
		return nil, invalidf("bad file descriptor %d", fd)
	}
	_ = syscall.SetNonblock(fd, true) // as fetchToFD: cancellation can interrupt a blocked write
	f := os.NewFile(uintptr(fd), "vdr-http-fd")
	defer f.Close()
	r, verr := httpTake(id)
	if verr != nil {
		return nil, verr
	}
	defer r.close()
	ctx := r.ctx
	host := r.resp.Request.URL.Host
	if maxSize < 0 {
		return nil, invalidf("max_size must not be negative")
	}
	if r.resp.ContentLength > maxSize {
		return nil, newError(codeSizeExceeded, fmt.Sprintf(
			"%s: response of %d bytes exceeds the limit of %d bytes", host, r.resp.ContentLength, maxSize))
	}
	stopWrite := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stopWrite()

	h := sha256.New()
	w := struct{ io.Writer }{io.MultiWriter(f, h)}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	n, err := io.CopyBuffer(w, io.LimitReader(&remoteBody{r.body}, maxSize+1), *buf)
	if err != nil {
		return nil, toError(ctx, err)
	}
	if n > maxSize {
		return nil, newError(codeSizeExceeded, fmt.Sprintf(
			"%s: response body exceeds the limit of %d bytes", host, maxSize))
	}
	if r.resp.ContentLength >= 0 && n != r.resp.ContentLength {
		return nil, newError(codeNetwork, fmt.Sprintf(
			"%s: %v (%d of %d bytes)", host, errTruncatedBody, n, r.resp.ContentLength))
	}
	if err := f.Close(); err != nil {
		return nil, toError(ctx, err)
	}
	out, _ := json.Marshal(httpBodyInfo{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
	return out, nil
}

// httpResumingBody re-requests the rest of a body that stalled, at most
// maxStallResumes times, but only where the server can prove it serves the
// same bytes: Accept-Ranges: bytes and a validator (ETag or Last-Modified)
// sent back as If-Range, answered by 206 from the offset reached. Plain
// URLs are not content-addressed, so anything less fails the transfer.
type httpResumingBody struct {
	ctx     context.Context
	client  *http.Client
	req     *http.Request
	resp    *http.Response // the first response
	rc      io.ReadCloser
	off     int64
	resumes int
}

func (b *httpResumingBody) Read(p []byte) (int, error) {
	for {
		n, err := b.rc.Read(p)
		b.off += int64(n)
		if err == nil || !isBodyStall(err) || b.ctx.Err() != nil || n > 0 {
			if n > 0 && err != nil && isBodyStall(err) {
				err = nil // hand these over; the next Read stalls again and resumes
			}
			return n, err
		}
		validator := b.resp.Header.Get("ETag")
		if validator == "" {
			validator = b.resp.Header.Get("Last-Modified")
		}
		if validator == "" || b.resp.Header.Get("Accept-Ranges") != "bytes" {
			return 0, err
		}
		if b.resumes >= maxStallResumes {
			return 0, fmt.Errorf("%w (gave up after %d attempts)", err, b.resumes+1)
		}
		b.resumes++
		req := b.req.Clone(b.ctx)
		req.Header.Set("Range", "bytes="+strconv.FormatInt(b.off, 10)+"-")
		req.Header.Set("If-Range", validator)
		resp, rerr := b.client.Do(req)
		if rerr != nil {
			return 0, rerr
		}
		if resp.StatusCode != http.StatusPartialContent ||
			!strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(b.off, 10)+"-") {
			_ = resp.Body.Close()
			return 0, err
		}
		_ = b.rc.Close()
		b.rc = resp.Body
	}
}

func (b *httpResumingBody) Close() error { return b.rc.Close() }
