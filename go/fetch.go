package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
)

const copyBufferSize = 1 << 20

// copyBuffers recycles the copy buffers: a sync of many small artifacts
// would otherwise allocate (and have the GC scan for) one MiB per blob.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

// errTruncatedBody marks a body the *transport* cut short (net/http reports
// io.ErrUnexpectedEOF). Without it, the verifier's own io.ErrUnexpectedEOF
// ("source ended before desc.size") and a dropped connection look alike; the
// first is digest_mismatch, the second network.
var errTruncatedBody = errors.New("connection closed before the whole body was read")

func parseDescriptor(descJSON string) (ocispec.Descriptor, *vdrError) {
	var desc ocispec.Descriptor
	if err := json.Unmarshal([]byte(descJSON), &desc); err != nil {
		return desc, invalidf("bad descriptor: %v", err)
	}
	if err := desc.Digest.Validate(); err != nil {
		return desc, invalidf("bad descriptor digest %q: %v", desc.Digest, err)
	}
	if desc.Size < 0 {
		return desc, invalidf("bad descriptor size %d", desc.Size)
	}
	return desc, nil
}

// openContent fetches desc (repo.Fetch picks the manifests or blobs endpoint
// by media type) and arranges for ctx cancellation to close the body at once,
// so a stalled read returns instead of waiting for the server.
func openContent(ctx context.Context, t readTarget, desc ocispec.Descriptor) (io.ReadCloser, func(), error) {
	rc, err := t.Fetch(ctx, desc)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := t.(*remote.Repository); ok {
		// A stalled body is re-opened where it stopped (stall.go).
		rc = newResumingBody(ctx, t, desc, rc)
	}
	stop := context.AfterFunc(ctx, func() { _ = rc.Close() })
	var r io.ReadCloser = rc
	if _, ok := t.(*remote.Repository); ok {
		r = &remoteBody{rc}
	}
	return r, func() { stop(); _ = rc.Close() }, nil
}

type remoteBody struct{ io.ReadCloser }

func (b *remoteBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w: %w", errTruncatedBody, err)
	}
	return n, err
}

func fetchBytes(tid, oid uint64, descJSON string, maxSize int64) ([]byte, *vdrError) {
	t, ctx, verr := lookup(tid, oid)
	if verr != nil {
		return nil, verr
	}
	desc, verr := parseDescriptor(descJSON)
	if verr != nil {
		return nil, verr
	}
	if desc.Size > maxSize {
		return nil, newError(codeSizeExceeded, fmt.Sprintf(
			"%s: descriptor size %d exceeds the limit of %d bytes", desc.Digest, desc.Size, maxSize))
	}
	rc, done, err := openContent(ctx, t, desc)
	if err != nil {
		return nil, toError(ctx, err)
	}
	defer done()
	b, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, toError(ctx, err)
	}
	return b, nil
}

// fetchReference resolves a tag or digest and fetches what it names in one
// step: a registry answers a manifest GET by reference with the content and
// its digest, so resolving costs no extra round trip. Verified like
// fetchBytes; refused above maxSize.
func fetchReference(tid, oid uint64, reqJSON string, maxSize int64) ([]byte, []byte, *vdrError) {
	t, ctx, verr := lookup(tid, oid)
	if verr != nil {
		return nil, nil, verr
	}
	var req struct {
		Reference string `json:"reference"`
	}
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil || req.Reference == "" {
		return nil, nil, invalidf("fetch reference: bad request %q", reqJSON)
	}
	type fetched struct {
		desc ocispec.Descriptor
		b    []byte
	}
	got, err := retryStalls(ctx, func() (fetched, error) {
		desc, b, err := oras.FetchBytes(ctx, t, req.Reference, oras.FetchBytesOptions{MaxBytes: maxSize})
		return fetched{desc, b}, err
	})
	desc, b := got.desc, got.b
	if err != nil {
		return nil, nil, toError(ctx, err)
	}
	out, err := json.Marshal(desc)
	if err != nil {
		return nil, nil, toError(ctx, err)
	}
	return out, b, nil
}

// fetchToFD streams desc into fd. It owns fd from the first statement: the
// file is closed on every path (including panics) so the reader sees EOF.
func fetchToFD(tid, oid uint64, descJSON string, fd int) *vdrError {
	if fd < 0 {
		return invalidf("bad file descriptor %d", fd)
	}
	// Non-blocking lets the runtime poller park the write, so cancellation can
	// interrupt a write blocked on a full pipe (via a write deadline). The fd
	// is ours alone now, so changing its flags affects nobody else.
	_ = syscall.SetNonblock(fd, true)
	f := os.NewFile(uintptr(fd), "vdr-fetch-fd")
	defer f.Close()

	t, ctx, verr := lookup(tid, oid)
	if verr != nil {
		return verr
	}
	desc, verr := parseDescriptor(descJSON)
	if verr != nil {
		return verr
	}
	rc, done, err := openContent(ctx, t, desc)
	if err != nil {
		return toError(ctx, err)
	}
	defer done()
	stopWrite := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stopWrite()

	vr := content.NewVerifyReader(rc, desc)
	// Hide (*os.File).ReadFrom so io.CopyBuffer really uses our 1 MiB buffer.
	w := struct{ io.Writer }{f}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	if _, err := io.CopyBuffer(w, vr, *buf); err != nil {
		return toError(ctx, err)
	}
	if err := vr.Verify(); err != nil {
		return toError(ctx, err)
	}
	// Close errors (e.g. EIO) must fail the call too; the deferred Close
	// is then a harmless no-op.
	if err := f.Close(); err != nil {
		return toError(ctx, err)
	}
	return nil
}
