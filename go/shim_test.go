package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// pipe returns a reader and the raw write fd, which fetchToFD takes over.
func pipe(t *testing.T) (*os.File, int) {
	t.Helper()
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r := os.NewFile(uintptr(fds[0]), "pipe-r")
	t.Cleanup(func() { _ = r.Close() })
	return r, fds[1]
}

// drain reads r to EOF in the background; the result proves the fd was closed.
func drain(r io.Reader) <-chan []byte {
	ch := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		ch <- b
	}()
	return ch
}

func recvEOF(t *testing.T, ch <-chan []byte) []byte {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("reader never saw EOF: fd not closed")
		return nil
	}
}

func fdClosed(fd int) bool {
	_, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	return errors.Is(errno, syscall.EBADF)
}

func TestHandleMisuse(t *testing.T) {
	f := newLayout(t)
	desc := mustJSON(t, f.manifest)
	for _, id := range []uint64{0, 999999} {
		_, e := resolve(id, 0, `{"reference":"v1"}`)
		wantCode(t, e, codeBadHandle)
		_, e = fetchBytes(id, 0, desc, 1<<20)
		wantCode(t, e, codeBadHandle)
		_, e = listTags(id, 0)
		wantCode(t, e, codeBadHandle)
		wantCode(t, targetClose(id), codeBadHandle)
		wantCode(t, opCancel(id), codeBadHandle)
		wantCode(t, opFree(id), codeBadHandle)
	}

	tid := openOK(t, map[string]any{"kind": "oci_layout", "path": f.dir})
	// A valid target with an unknown op is still a bad handle.
	_, e := resolve(tid, 424242, `{"reference":"v1"}`)
	wantCode(t, e, codeBadHandle)

	// Freed handles stay dead; cancel is idempotent until free.
	op := opNew()
	wantCode(t, opCancel(op), codeOK)
	wantCode(t, opCancel(op), codeOK)
	wantCode(t, opFree(op), codeOK)
	wantCode(t, opFree(op), codeBadHandle)
	wantCode(t, opCancel(op), codeBadHandle)
	wantCode(t, targetClose(tid), codeOK)
	wantCode(t, targetClose(tid), codeBadHandle)
	_, e = resolve(tid, 0, `{"reference":"v1"}`)
	wantCode(t, e, codeBadHandle)

	// fetch_to_fd owns the fd even when the handle is bad.
	r, w := pipe(t)
	ch := drain(r)
	wantCode(t, fetchToFD(777777, 0, desc, w), codeBadHandle)
	recvEOF(t, ch)
	if !fdClosed(w) {
		t.Fatal("fd left open")
	}
}

func TestBadRequests(t *testing.T) {
	f := newLayout(t)
	_, e := openTarget(`{nope`)
	wantCode(t, e, codeInvalid)
	_, e = openTarget(`{"kind":"ftp"}`)
	wantCode(t, e, codeInvalid)
	_, e = openTarget(`{"kind":"remote","repository":"no-registry"}`)
	wantCode(t, e, codeInvalid)
	_, e = openTarget(`{"kind":"remote","repository":"localhost:5000/x:tag"}`)
	wantCode(t, e, codeInvalid)
	_, e = openTarget(`{"kind":"oci_layout","path":"/does/not/exist"}`)
	wantCode(t, e, codeIO)
	_, e = openTarget(mustJSON(t, map[string]any{"kind": "oci_layout", "path": t.TempDir()}))
	wantCode(t, e, codeIO) // no oci-layout file

	tid := openOK(t, map[string]any{"kind": "oci_layout", "path": f.dir})
	for _, req := range []string{`{`, `{"reference":""}`, `{"reference":"v1","platform":"/amd64"}`, `{"reference":"v1","platform":"a/b/c/d"}`} {
		_, e = resolve(tid, 0, req)
		wantCode(t, e, codeInvalid)
	}
	_, e = fetchBytes(tid, 0, `{"mediaType":"x","digest":"sha256:zz","size":1}`, 10)
	wantCode(t, e, codeInvalid)
	r, w := pipe(t)
	ch := drain(r)
	wantCode(t, fetchToFD(tid, 0, `not json`, w), codeInvalid)
	recvEOF(t, ch)
}

func TestLayoutResolveFetch(t *testing.T) {
	f := newLayout(t)
	for name, path := range map[string]string{"dir": f.dir, "tar": tarLayout(t, f.dir)} {
		t.Run(name, func(t *testing.T) {
			tid := openOK(t, map[string]any{"kind": "oci_layout", "path": path})

			out, e := resolve(tid, 0, `{"reference":"v1","platform":""}`)
			wantCode(t, e, codeOK)
			var got ocispec.Descriptor
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if got.Digest != f.manifest.Digest || got.Size != f.manifest.Size || got.MediaType != ocispec.MediaTypeImageManifest {
				t.Fatalf("resolve v1 = %s", out)
			}
			// By digest too.
			out, e = resolve(tid, 0, mustJSON(t, map[string]string{"reference": f.manifest.Digest.String()}))
			wantCode(t, e, codeOK)
			if !bytes.Contains(out, []byte(f.manifest.Digest)) {
				t.Fatalf("resolve digest = %s", out)
			}
			// Platform selection through the index.
			out, e = resolve(tid, 0, `{"reference":"multi","platform":"linux/arm64/v8"}`)
			wantCode(t, e, codeOK)
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if got.Digest != f.armManifest.Digest || got.Platform == nil || got.Platform.Variant != "v8" {
				t.Fatalf("platform resolve = %s", out)
			}
			_, e = resolve(tid, 0, `{"reference":"multi","platform":"windows/amd64"}`)
			wantCode(t, e, codeNotFound)
			_, e = resolve(tid, 0, `{"reference":"nope"}`)
			wantCode(t, e, codeNotFound)

			// fetch_bytes: verified content, limit enforced before fetching.
			b, e := fetchBytes(tid, 0, mustJSON(t, f.layerDesc), int64(len(f.layerBytes)))
			wantCode(t, e, codeOK)
			if !bytes.Equal(b, f.layerBytes) {
				t.Fatalf("fetch_bytes = %q", b)
			}
			_, e = fetchBytes(tid, 0, mustJSON(t, f.layerDesc), int64(len(f.layerBytes))-1)
			wantCode(t, e, codeSizeExceeded)
			bad := f.layerDesc
			bad.Digest = digest.FromString("something else")
			_, e = fetchBytes(tid, 0, mustJSON(t, bad), 1<<20)
			wantCode(t, e, codeNotFound) // a layout looks blobs up by digest

			out, e = listTags(tid, 0)
			wantCode(t, e, codeOK)
			if string(out) != `{"tags":["multi","sig","v1"]}` {
				t.Fatalf("tags = %s", out)
			}
		})
	}
}

func TestFetchToFD(t *testing.T) {
	f := newLayout(t)
	tid := openOK(t, map[string]any{"kind": "oci_layout", "path": f.dir})

	r, w := pipe(t)
	ch := drain(r)
	wantCode(t, fetchToFD(tid, 0, mustJSON(t, f.layerDesc), w), codeOK)
	if got := recvEOF(t, ch); !bytes.Equal(got, f.layerBytes) {
		t.Fatalf("fd got %q", got)
	}
	if !fdClosed(w) {
		t.Fatal("fd left open after success")
	}

	// Size lies (content is longer than the descriptor says): not all bytes
	// of the blob, and a digest_mismatch, never success.
	short := f.layerDesc
	short.Size--
	r, w = pipe(t)
	ch = drain(r)
	wantCode(t, fetchToFD(tid, 0, mustJSON(t, short), w), codeDigestMismatch)
	recvEOF(t, ch)

	// Size claims more than there is.
	long := f.layerDesc
	long.Size++
	r, w = pipe(t)
	ch = drain(r)
	wantCode(t, fetchToFD(tid, 0, mustJSON(t, long), w), codeDigestMismatch)
	recvEOF(t, ch)

	// Reader gone: EPIPE is local I/O.
	r, w = pipe(t)
	_ = r.Close()
	wantCode(t, fetchToFD(tid, 0, mustJSON(t, f.layerDesc), w), codeIO)
}

// A blob stored under a digest that does not match its bytes: the layout
// serves it, the verifier must reject it.
func TestFetchToFDDigestMismatch(t *testing.T) {
	f := newLayout(t)
	fake := digest.FromString("not the layer")
	blobDir := f.dir + "/blobs/sha256/"
	if err := os.WriteFile(blobDir+fake.Encoded(), f.layerBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	tid := openOK(t, map[string]any{"kind": "oci_layout", "path": f.dir})
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: fake, Size: int64(len(f.layerBytes))}
	r, w := pipe(t)
	ch := drain(r)
	e := fetchToFD(tid, 0, mustJSON(t, desc), w)
	wantCode(t, e, codeDigestMismatch)
	recvEOF(t, ch)
	_, e = fetchBytes(tid, 0, mustJSON(t, desc), 1<<20)
	wantCode(t, e, codeDigestMismatch)
}

func TestOpCancelledBeforeCall(t *testing.T) {
	f := newLayout(t)
	tid := openOK(t, map[string]any{"kind": "oci_layout", "path": f.dir})
	op := opNew()
	defer opFree(op)
	wantCode(t, opCancel(op), codeOK)
	r, w := pipe(t)
	ch := drain(r)
	// The local store ignores ctx while opening, but the copy sees it.
	e := fetchToFD(tid, op, mustJSON(t, f.layerDesc), w)
	if e != nil {
		wantCode(t, e, codeCancelled)
	}
	recvEOF(t, ch)
}

func TestErrorJSON(t *testing.T) {
	e := toError(context.Background(), fmt.Errorf("wrapped: %w", os.ErrPermission))
	if got := string(e.json()); got != `{"kind":"internal","message":"wrapped: permission denied"}` {
		t.Fatalf("json = %s", got)
	}
	e = newError(codeNotFound, "x")
	e.Status = 404
	if got := string(e.json()); got != `{"kind":"not_found","message":"x","status":404}` {
		t.Fatalf("json = %s", got)
	}
}
