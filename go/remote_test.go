package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestRemoteResolveFetchList(t *testing.T) {
	reg := newFakeRegistry()
	layer := reg.addBlob(bytes.Repeat([]byte("x"), 3<<20)) // > copy buffer
	m := reg.addManifest("v1", layer)
	reg.addManifest("v2")
	reg.addManifest("v3")
	srv := startRegistry(t, reg)
	tid := openOK(t, remoteReq(srv, nil))

	out, e := resolve(tid, 0, `{"reference":"v1","platform":""}`)
	wantCode(t, e, codeOK)
	var got ocispec.Descriptor
	_ = json.Unmarshal(out, &got)
	if got.Digest != m.Digest || got.Size != m.Size {
		t.Fatalf("resolve = %s", out)
	}
	b, e := fetchBytes(tid, 0, string(out), 1<<20)
	wantCode(t, e, codeOK)
	if !bytes.Equal(b, reg.manifests["v1"]) {
		t.Fatal("manifest bytes differ")
	}

	// Resolve and fetch in one step: the same descriptor and bytes.
	d, b, e := fetchReference(tid, 0, `{"reference":"v1"}`, 1<<20)
	wantCode(t, e, codeOK)
	var byRef ocispec.Descriptor
	_ = json.Unmarshal(d, &byRef)
	if byRef.Digest != m.Digest || !bytes.Equal(b, reg.manifests["v1"]) {
		t.Fatalf("fetchReference = %s", d)
	}
	_, _, e = fetchReference(tid, 0, `{"reference":"v1"}`, 10)
	wantCode(t, e, codeSizeExceeded)
	_, _, e = fetchReference(tid, 0, `{"reference":"nope"}`, 1<<20)
	wantCode(t, e, codeNotFound)

	r, w := pipe(t)
	ch := drain(r)
	wantCode(t, fetchToFD(tid, 0, mustJSON(t, layer), w), codeOK)
	if got := recvEOF(t, ch); !bytes.Equal(got, reg.blobs[layer.Digest]) {
		t.Fatalf("blob: got %d bytes", len(got))
	}

	out, e = listTags(tid, 0)
	wantCode(t, e, codeOK)
	if string(out) != `{"tags":["v1","v2","v3"]}` {
		t.Fatalf("tags = %s", out)
	}

	_, e = resolve(tid, 0, `{"reference":"missing"}`)
	wantCode(t, e, codeNotFound)
	if !strings.Contains(e.Message, "missing") {
		t.Fatalf("message should name the reference: %q", e.Message)
	}
	for _, ua := range reg.agents {
		if ua != "vendoras-test/1" {
			t.Fatalf("user agent %q", ua)
		}
	}
}

func TestRemoteHTTPStatuses(t *testing.T) {
	reg := newFakeRegistry()
	layer := reg.addBlob([]byte("blob"))
	srv := startRegistry(t, reg)
	tid := openOK(t, remoteReq(srv, nil))
	for status, code := range map[int]int32{403: codeDenied, 404: codeNotFound, 401: codeUnauthorized, 400: codeNetwork} {
		reg.status["/v2/repo/blobs/"+layer.Digest.String()] = status
		_, e := fetchBytes(tid, 0, mustJSON(t, layer), 100)
		wantCode(t, e, code)
		if e.Status != status && status != 404 {
			t.Fatalf("status %d: %+v", status, e)
		}
		// oras-go names the URL for HTTP errors; its 404 is "<digest>: not found".
		if status != 404 && !strings.Contains(e.Message, srv.Listener.Addr().String()) {
			t.Fatalf("message should name the registry: %q", e.Message)
		}
	}
}

// Credential precedence, the oras way: static > registry_configs > docker_config.
func TestCredentialPrecedence(t *testing.T) {
	reg := newFakeRegistry()
	reg.user, reg.pass = "alice", "s3cret-from-file"
	reg.addManifest("v1")
	srv := startRegistry(t, reg)
	host := strings.TrimPrefix(srv.URL, "http://")

	writeConfig := func(user, pass string) string {
		path := filepath.Join(t.TempDir(), "config.json")
		auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
		cfg := map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}}
		if err := os.WriteFile(path, []byte(mustJSON(t, cfg)), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := writeConfig("alice", "s3cret-from-file")
	bad := writeConfig("alice", "wrong-file-pass")
	empty := filepath.Join(t.TempDir(), "absent.json") // missing file = no auths

	cases := []struct {
		name string
		req  map[string]any
		want int32
	}{
		{"anonymous", nil, codeUnauthorized},
		{"docker_config", map[string]any{"docker_config": good}, codeOK},
		{"registry_configs beat docker_config", map[string]any{"registry_configs": []string{bad}, "docker_config": good}, codeUnauthorized},
		{"registry_configs fall back in order", map[string]any{"registry_configs": []string{empty, good}}, codeOK},
		{"first registry_config wins", map[string]any{"registry_configs": []string{bad, good}}, codeUnauthorized},
		{"static beats stores", map[string]any{
			"credential":       map[string]string{"username": "alice", "password": "wrong-static-pass"},
			"registry_configs": []string{good}, "docker_config": good}, codeUnauthorized},
		{"static ok", map[string]any{"credential": map[string]string{"username": "alice", "password": "s3cret-from-file"}}, codeOK},
		{"empty static is no static", map[string]any{"credential": map[string]string{}, "docker_config": good}, codeOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tid := openOK(t, remoteReq(srv, c.req))
			_, e := resolve(tid, 0, `{"reference":"v1"}`)
			wantCode(t, e, c.want)
			if e != nil {
				for _, secret := range []string{"s3cret", "wrong-", base64.StdEncoding.EncodeToString([]byte("alice:"))[:8]} {
					if strings.Contains(e.Message, secret) {
						t.Fatalf("credential leaked into %q", e.Message)
					}
				}
				// A 401 response carries its status; "no credential at all" is
				// oras-go's auth.ErrBasicCredentialNotFound without one.
				if e.Status != 401 && !(c.name == "anonymous" && e.Status == 0) {
					t.Fatalf("want status 401: %+v", e)
				}
			}
		})
	}

	_, e := openTarget(mustJSON(t, remoteReq(srv, map[string]any{"docker_config": writeBroken(t)})))
	wantCode(t, e, codeInvalid)
}

func writeBroken(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCancelMidStream(t *testing.T) {
	reg := newFakeRegistry()
	layer := reg.addBlob(bytes.Repeat([]byte("y"), 1<<20))
	reg.blobHook = func(w http.ResponseWriter, r *http.Request, b []byte) bool {
		w.Header().Set("Content-Length", "1048576")
		_, _ = w.Write(b[:1000])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // stall until the client goes away
		return true
	}
	srv := startRegistry(t, reg)
	tid := openOK(t, remoteReq(srv, nil))

	op := opNew()
	defer opFree(op)
	r, w := pipe(t)
	first := make(chan struct{})
	ch := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 10)
		n, _ := r.Read(buf)
		close(first)
		rest := make([]byte, 1<<20)
		m, _ := readAll(r, rest)
		ch <- append(buf[:n], rest[:m]...)
	}()
	done := make(chan *vdrError, 1)
	go func() { done <- fetchToFD(tid, op, mustJSON(t, layer), w) }()
	select {
	case <-first:
	case <-time.After(5 * time.Second):
		t.Fatal("no bytes arrived")
	}
	start := time.Now()
	wantCode(t, opCancel(op), codeOK)
	select {
	case e := <-done:
		wantCode(t, e, codeCancelled)
	case <-time.After(2 * time.Second):
		t.Fatal("cancel did not interrupt the body read")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("cancel took %v", d)
	}
	if got := recvEOF(t, ch); len(got) != 1000 {
		t.Fatalf("reader got %d bytes", len(got))
	}
}

// The reader never reads: the write blocks on a full pipe, and cancel must
// still return promptly.
func TestCancelBlockedWrite(t *testing.T) {
	reg := newFakeRegistry()
	layer := reg.addBlob(bytes.Repeat([]byte("z"), 4<<20))
	srv := startRegistry(t, reg)
	tid := openOK(t, remoteReq(srv, nil))
	op := opNew()
	defer opFree(op)
	_, w := pipe(t)
	done := make(chan *vdrError, 1)
	go func() { done <- fetchToFD(tid, op, mustJSON(t, layer), w) }()
	time.Sleep(300 * time.Millisecond)
	wantCode(t, opCancel(op), codeOK)
	select {
	case e := <-done:
		wantCode(t, e, codeCancelled)
	case <-time.After(2 * time.Second):
		t.Fatal("cancel did not interrupt the blocked write")
	}
}

func TestTruncatedBodyIsNetwork(t *testing.T) {
	reg := newFakeRegistry()
	layer := reg.addBlob(bytes.Repeat([]byte("t"), 100000))
	reg.blobHook = func(w http.ResponseWriter, r *http.Request, b []byte) bool {
		w.Header().Set("Content-Length", "100000")
		_, _ = w.Write(b[:5000])
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		_ = conn.Close()
		return true
	}
	srv := startRegistry(t, reg)
	tid := openOK(t, remoteReq(srv, nil))
	r, w := pipe(t)
	ch := drain(r)
	wantCode(t, fetchToFD(tid, 0, mustJSON(t, layer), w), codeNetwork)
	recvEOF(t, ch)
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	tid := openOK(t, map[string]any{"kind": "remote", "repository": addr + "/repo", "plain_http": true})
	_, e := resolve(tid, 0, `{"reference":"v1"}`)
	wantCode(t, e, codeNetwork)
}

func readAll(r interface{ Read([]byte) (int, error) }, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
