package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The no-progress timeout (stall.go). Timeouts here are short so the tests
// are quick; nothing asserts how long anything took.

const testStall = 150 * time.Millisecond

// stallingBlobs makes the fake registry's blob GETs send their headers and
// `after` bytes, then nothing until the client gives up, for the first
// `times` requests (-1: all). It honours Range when ranges is set. It
// records every Range header it was sent.
type stallingBlobs struct {
	after, times int
	ranges       bool
	mu           sync.Mutex
	seen         []string // "GET" or "GET bytes=N-M", in order
}

func (s *stallingBlobs) hook(w http.ResponseWriter, r *http.Request, b []byte) bool {
	s.mu.Lock()
	rng := r.Header.Get("Range")
	s.seen = append(s.seen, strings.TrimSpace("GET "+rng))
	n := len(s.seen)
	s.mu.Unlock()
	body, status := b, http.StatusOK
	if s.ranges {
		w.Header().Set("Accept-Ranges", "bytes")
		if rng != "" {
			var from, to int
			if _, err := fmt.Sscanf(rng, "bytes=%d-%d", &from, &to); err != nil {
				http.Error(w, "bad range", http.StatusRequestedRangeNotSatisfiable)
				return true
			}
			body, status = b[from:to+1], http.StatusPartialContent
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(b)))
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if s.times >= 0 && n > s.times {
		_, _ = w.Write(body)
		return true
	}
	_, _ = w.Write(body[:min(s.after, len(body))])
	w.(http.Flusher).Flush()
	<-r.Context().Done() // stall until the client goes away
	return true
}

func (s *stallingBlobs) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func stallReq(srv *httptest.Server) map[string]any {
	return remoteReq(srv, map[string]any{"stall_timeout_ms": testStall.Milliseconds()})
}

func TestStalledBlobFailsAsNetworkNamingTheTimeout(t *testing.T) {
	reg := newFakeRegistry()
	layer := reg.addBlob(bytes.Repeat([]byte("s"), 100000))
	st := &stallingBlobs{after: 1000, times: -1}
	reg.blobHook = st.hook
	srv := startRegistry(t, reg)
	tid := openOK(t, stallReq(srv))

	r, w := pipe(t)
	ch := drain(r)
	e := fetchToFD(tid, 0, mustJSON(t, layer), w)
	recvEOF(t, ch)
	wantCode(t, e, codeNetwork)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, want := range []string{"registry " + host, "no progress for 150ms while reading the response body",
		fmt.Sprintf("gave up after %d attempts", maxStallResumes+1)} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q lacks %q", e.Message, want)
		}
	}
	// No ranges offered: every attempt starts from the beginning.
	if got := st.requests(); len(got) != maxStallResumes+1 {
		t.Errorf("requests %q, want %d plain GETs", got, maxStallResumes+1)
	}
}

func TestStalledBlobResumesFromTheStart(t *testing.T) {
	reg := newFakeRegistry()
	data := bytes.Repeat([]byte("0123456789"), 20000)
	layer := reg.addBlob(data)
	st := &stallingBlobs{after: 5000, times: 1}
	reg.blobHook = st.hook
	srv := startRegistry(t, reg)
	tid := openOK(t, stallReq(srv))

	r, w := pipe(t)
	ch := drain(r)
	wantCode(t, fetchToFD(tid, 0, mustJSON(t, layer), w), codeOK)
	if got := recvEOF(t, ch); !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, want the %d of the blob", len(got), len(data))
	}
	if got := st.requests(); len(got) != 2 || got[1] != "GET" {
		t.Fatalf("requests %q, want a stalled GET and a full one", got)
	}
}

func TestStalledBlobResumesWithARange(t *testing.T) {
	reg := newFakeRegistry()
	data := bytes.Repeat([]byte("abcdefghij"), 20000)
	layer := reg.addBlob(data)
	st := &stallingBlobs{after: 5000, times: 1, ranges: true}
	reg.blobHook = st.hook
	srv := startRegistry(t, reg)
	tid := openOK(t, stallReq(srv))

	r, w := pipe(t)
	ch := drain(r)
	wantCode(t, fetchToFD(tid, 0, mustJSON(t, layer), w), codeOK)
	if got := recvEOF(t, ch); !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, want the %d of the blob", len(got), len(data))
	}
	want := fmt.Sprintf("GET bytes=5000-%d", len(data)-1)
	if got := st.requests(); got[len(got)-1] != want {
		t.Fatalf("requests %q, want the last to be %q", got, want)
	}
}

func TestStalledManifestBytesResume(t *testing.T) {
	reg := newFakeRegistry()
	layer := reg.addBlob(bytes.Repeat([]byte("m"), 3000))
	st := &stallingBlobs{after: 100, times: 2}
	reg.blobHook = st.hook
	srv := startRegistry(t, reg)
	tid := openOK(t, stallReq(srv))
	b, e := fetchBytes(tid, 0, mustJSON(t, layer), 1<<20)
	wantCode(t, e, codeOK)
	if len(b) != 3000 {
		t.Fatalf("got %d bytes", len(b))
	}
}

// A server that sends no response headers: the request is cancelled and
// oras-go's retry transport retries it like a timeout.
func TestStalledHeadersAreRetried(t *testing.T) {
	reg := newFakeRegistry()
	m := reg.addManifest("v1")
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") && calls.Add(1) == 1 {
			<-r.Context().Done()
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tid := openOK(t, stallReq(srv))
	out, e := resolve(tid, 0, `{"reference":"v1"}`)
	wantCode(t, e, codeOK)
	if !strings.Contains(string(out), m.Digest.String()) || calls.Load() < 2 {
		t.Fatalf("resolve = %s after %d manifest requests", out, calls.Load())
	}
}

// The idle reader in isolation: time between reads is the consumer's and is
// not counted; a Read that waits for the server longer than the timeout
// fails with a stall error.
func TestIdleBody(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "20")
		_, _ = w.Write([]byte("0123456789"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
			_, _ = w.Write([]byte("abcdefghij"))
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	defer close(release)
	client := &http.Client{Transport: &stallTransport{base: http.DefaultTransport, timeout: testStall}}

	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatalf("first bytes: %v", err)
	}
	// A slow consumer: several timeouts pass with no Read in progress.
	time.Sleep(4 * testStall)
	// Now the server has nothing to send: this Read waits, and must fail.
	_, err = resp.Body.Read(buf)
	var se *stallError
	if !errors.As(err, &se) || !se.body || !isBodyStall(err) {
		t.Fatalf("read after the server went quiet: %v, want a body stall", err)
	}
	code, _ := classify(err)
	if code != codeNetwork {
		t.Fatalf("a stall classifies as %d, want network", code)
	}
	if !strings.Contains(err.Error(), "no progress for 150ms") {
		t.Fatalf("message %q", err)
	}
}

// A slow consumer does not trip the watchdog while bytes are waiting.
func TestIdleBodySlowConsumer(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &stallTransport{base: http.DefaultTransport, timeout: testStall}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []byte
	buf := make([]byte, 16)
	for {
		time.Sleep(2 * testStall)
		n, err := resp.Body.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %q", got)
	}
}

func TestRetryStallsBounded(t *testing.T) {
	ctx := context.Background()
	calls := 0
	stall := &stallError{timeout: time.Second, host: "r.example", body: true}
	_, err := retryStalls(ctx, func() (int, error) { calls++; return 0, fmt.Errorf("GET x: %w", stall) })
	if calls != maxStallResumes+1 || !strings.Contains(err.Error(), "gave up after 4 attempts") {
		t.Fatalf("%d calls, err %v", calls, err)
	}
	calls = 0
	_, err = retryStalls(ctx, func() (int, error) { calls++; return 0, errors.New("other") })
	if calls != 1 || err.Error() != "other" {
		t.Fatalf("a non-stall error is not retried: %d calls, %v", calls, err)
	}
	if formatSeconds(60*time.Second) != "60s" || formatSeconds(1500*time.Millisecond) != "1.5s" {
		t.Fatal("formatSeconds")
	}
}
