package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Plain HTTP GETs (http.go): head, streamed body with its sha256, credentials
// per origin, retries, proxies from the request, size bounds and stalls.

func httpReq(url string, extra map[string]any) string {
	req := map[string]any{"url": url, "user_agent": "vendoras-test"}
	for k, v := range extra {
		req[k] = v
	}
	b, _ := json.Marshal(req)
	return string(b)
}

// get opens url and reads the whole body; it fails the test on a shim error
// unless wantErr says which code to expect.
func get(t *testing.T, req string, maxSize int64) (httpHead, []byte, httpBodyInfo, *vdrError) {
	t.Helper()
	id, headJSON, e := httpOpen(0, req)
	if e != nil {
		return httpHead{}, nil, httpBodyInfo{}, e
	}
	var head httpHead
	if err := json.Unmarshal(headJSON, &head); err != nil {
		t.Fatal(err)
	}
	r, fd := pipe(t)
	ch := drain(r)
	out, e := httpBodyToFD(id, fd, maxSize)
	body := recvEOF(t, ch)
	var info httpBodyInfo
	if e == nil {
		if err := json.Unmarshal(out, &info); err != nil {
			t.Fatal(err)
		}
	}
	return head, body, info, e
}

type seenReq struct {
	host, auth, ua, accept string
}

// recorder serves body on /file, redirects /away to other+"/file" and /here
// to /file, and records each request's Authorization header.
type recorder struct {
	mu   sync.Mutex
	seen []seenReq
}

func (rec *recorder) handler(body []byte, other *string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, seenReq{r.Host, r.Header.Get("Authorization"), r.UserAgent(), r.Header.Get("Accept")})
		rec.mu.Unlock()
		switch r.URL.Path {
		case "/file":
			_, _ = w.Write(body)
		case "/away":
			http.Redirect(w, r, *other+"/file", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/file", http.StatusFound)
		default:
			http.Error(w, "no such file", http.StatusNotFound)
		}
	}
}

func (rec *recorder) requests() []seenReq {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seenReq(nil), rec.seen...)
}

func TestHTTPGetStreamsAndHashes(t *testing.T) {
	body := bytes.Repeat([]byte("vendoras "), 300000) // several pipe buffers
	rec := &recorder{}
	none := ""
	srv := httptest.NewServer(rec.handler(body, &none))
	t.Cleanup(srv.Close)

	head, got, info, e := get(t, httpReq(srv.URL+"/file", map[string]any{
		"headers": map[string]string{"Accept": "application/octet-stream"},
	}), 1<<30)
	wantCode(t, e, codeOK)
	sum := sha256.Sum256(body)
	if head.Status != 200 || head.StatusText != "200 OK" || !bytes.Equal(got, body) ||
		info.Size != int64(len(body)) || info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("head %+v, %d bytes, info %+v", head, len(got), info)
	}
	seen := rec.requests()
	if len(seen) != 1 || seen[0].ua != "vendoras-test" || seen[0].accept != "application/octet-stream" || seen[0].auth != "" {
		t.Fatalf("requests %+v", seen)
	}
}

func TestHTTPErrorStatusIsAnAnswerNotAnError(t *testing.T) {
	rec := &recorder{}
	none := ""
	srv := httptest.NewServer(rec.handler(nil, &none))
	t.Cleanup(srv.Close)
	head, got, _, e := get(t, httpReq(srv.URL+"/missing", nil), 1<<20)
	wantCode(t, e, codeOK)
	if head.Status != 404 || head.StatusText != "404 Not Found" || !strings.Contains(string(got), "no such file") {
		t.Fatalf("head %+v body %q", head, got)
	}
}

// Credentials go to the origin the caller named, through same-origin
// redirects, and never to another origin: another port of the same host is
// another origin too (Go's client alone would keep the header there).
func TestHTTPCredentialsStayOnTheirOrigin(t *testing.T) {
	body := []byte("payload")
	recA, recB := &recorder{}, &recorder{}
	var urlB string
	none := ""
	srvB := httptest.NewServer(recB.handler(body, &none))
	t.Cleanup(srvB.Close)
	urlB = srvB.URL
	srvA := httptest.NewServer(recA.handler(body, &urlB))
	t.Cleanup(srvA.Close)

	for _, tc := range []struct {
		name string
		auth map[string]any
		want string
	}{
		{"basic", map[string]any{"basic": map[string]string{"username": "u", "password": "s3cret-pw"}}, "Basic dTpzM2NyZXQtcHc="},
		{"token", map[string]any{"authorization": "token s3cret-tok"}, "token s3cret-tok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recA.mu.Lock()
			recA.seen = nil
			recA.mu.Unlock()
			recB.mu.Lock()
			recB.seen = nil
			recB.mu.Unlock()
			_, got, _, e := get(t, httpReq(srvA.URL+"/here", tc.auth), 1<<20)
			wantCode(t, e, codeOK)
			_, got2, _, e := get(t, httpReq(srvA.URL+"/away", tc.auth), 1<<20)
			wantCode(t, e, codeOK)
			if string(got) != "payload" || string(got2) != "payload" {
				t.Fatalf("bodies %q %q", got, got2)
			}
			a, b := recA.requests(), recB.requests()
			if len(a) != 3 || len(b) != 1 {
				t.Fatalf("requests A %+v B %+v", a, b)
			}
			for _, r := range a {
				if r.auth != tc.want {
					t.Errorf("origin request without credentials: %+v", r)
				}
			}
			if b[0].auth != "" {
				t.Errorf("credentials sent across origins: %+v", b[0])
			}
		})
	}
}

func TestHTTPRetries5xx(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	head, got, _, e := get(t, httpReq(srv.URL+"/x", nil), 1<<20)
	wantCode(t, e, codeOK)
	if head.Status != 200 || string(got) != "ok" || calls.Load() != 3 {
		t.Fatalf("head %+v body %q after %d calls", head, got, calls.Load())
	}
}

// The proxy comes from the request, not Go's environment snapshot: an
// http:// URL for a name that does not resolve reaches the proxy, which
// sees the absolute URL.
func TestHTTPProxyFromTheRequest(t *testing.T) {
	var asked atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.URL.String())
		_, _ = w.Write([]byte("via proxy"))
	}))
	t.Cleanup(proxy.Close)
	req := httpReq("http://files.example.invalid/a.tgz", map[string]any{
		"proxy": map[string]string{"http_proxy": proxy.URL},
	})
	_, got, _, e := get(t, req, 1<<20)
	wantCode(t, e, codeOK)
	if string(got) != "via proxy" || asked.Load() != "http://files.example.invalid/a.tgz" {
		t.Fatalf("body %q, proxy asked for %v", got, asked.Load())
	}
	// no_proxy wins: the name is then looked up directly and fails.
	req = httpReq("http://files.example.invalid/a.tgz", map[string]any{
		"proxy": map[string]string{"http_proxy": proxy.URL, "no_proxy": "example.invalid"},
	})
	_, _, _, e = get(t, req, 1<<20)
	wantCode(t, e, codeNetwork)
}

func TestHTTPSizeLimit(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 5000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	// An empty body within a limit of zero (an empty release asset).
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(empty.Close)
	_, got, info, e := get(t, httpReq(empty.URL, nil), 0)
	wantCode(t, e, codeOK)
	if len(got) != 0 || info.Size != 0 {
		t.Fatalf("%d bytes, %+v", len(got), info)
	}
	_, _, _, e = get(t, httpReq(srv.URL+"/sized", nil), 0)
	wantCode(t, e, codeSizeExceeded)
	for _, path := range []string{"/sized", "/chunked"} {
		_, _, _, e := get(t, httpReq(srv.URL+path, nil), 4999)
		wantCode(t, e, codeSizeExceeded)
		_, got, _, e := get(t, httpReq(srv.URL+path, nil), 5000)
		wantCode(t, e, codeOK)
		if len(got) != 5000 {
			t.Fatalf("%s: %d bytes", path, len(got))
		}
	}
}

// A body that stalls is resumed with a Range + If-Range request when the
// server offers ranges and a validator; otherwise it fails naming the server.
func TestHTTPStalledBody(t *testing.T) {
	body := bytes.Repeat([]byte("s"), 100000)
	for _, ranges := range []bool{true, false} {
		t.Run(fmt.Sprint("ranges=", ranges), func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, strings.TrimSpace(r.Header.Get("Range")+" "+r.Header.Get("If-Range")))
				n := len(seen)
				mu.Unlock()
				b, status := body, http.StatusOK
				if ranges {
					w.Header().Set("Accept-Ranges", "bytes")
					w.Header().Set("ETag", `"v1"`)
					if rng := r.Header.Get("Range"); rng != "" {
						from, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rng, "bytes="), "-"))
						b, status = body[from:], http.StatusPartialContent
						w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(body)-1, len(body)))
					}
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(b)))
				w.WriteHeader(status)
				if n > 1 {
					_, _ = w.Write(b)
					return
				}
				_, _ = w.Write(b[:1000])
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			}))
			t.Cleanup(srv.Close)
			_, got, info, e := get(t, httpReq(srv.URL+"/f", map[string]any{"stall_timeout_ms": testStall.Milliseconds()}), 1<<20)
			if !ranges {
				wantCode(t, e, codeNetwork)
				if !strings.Contains(e.Message, "server 127.0.0.1") || !strings.Contains(e.Message, "no progress") {
					t.Fatalf("message %q", e.Message)
				}
				return
			}
			wantCode(t, e, codeOK)
			sum := sha256.Sum256(body)
			if !bytes.Equal(got, body) || info.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("%d bytes, %+v", len(got), info)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 2 || seen[1] != `bytes=1000- "v1"` {
				t.Fatalf("requests %q", seen)
			}
		})
	}
}

func TestHTTPBadRequestsAndHandles(t *testing.T) {
	for _, req := range []string{"{", httpReq("ftp://x/y", nil), httpReq("/relative", nil),
		httpReq("http://h/x", map[string]any{"headers": map[string]string{"authorization": "x"}})} {
		_, _, e := httpOpen(0, req)
		wantCode(t, e, codeInvalid)
	}
	// A bad handle still closes the fd it was given.
	_, fd := pipe(t)
	_, e := httpBodyToFD(424242, fd, 10)
	wantCode(t, e, codeBadHandle)
	if !fdClosed(fd) {
		t.Fatal("fd left open")
	}
	wantCode(t, httpClose(424242), codeBadHandle)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("x")) }))
	t.Cleanup(srv.Close)
	id, _, e := httpOpen(0, httpReq(srv.URL, nil))
	wantCode(t, e, codeOK)
	wantCode(t, httpClose(id), codeOK)
	wantCode(t, httpClose(id), codeBadHandle)
}

// Errors never quote credentials in a URL.
func TestHTTPErrorsHideCredentials(t *testing.T) {
	_, _, e := httpOpen(0, httpReq("http://user:pa55word@127.0.0.1:9/x?token=t0ken", nil))
	wantCode(t, e, codeNetwork)
	if strings.Contains(e.Message, "pa55word") || strings.Contains(e.Message, "t0ken") {
		t.Fatalf("leaked: %q", e.Message)
	}
}

func TestHTTPCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	oid := opNew()
	t.Cleanup(func() { _ = opFree(oid) })
	id, _, e := httpOpen(oid, httpReq(srv.URL, nil))
	wantCode(t, e, codeOK)
	r, fd := pipe(t)
	ch := drain(r)
	done := make(chan *vdrError, 1)
	go func() { _, e := httpBodyToFD(id, fd, 1<<20); done <- e }()
	wantCode(t, opCancel(oid), codeOK)
	wantCode(t, <-done, codeCancelled)
	recvEOF(t, ch)
}
