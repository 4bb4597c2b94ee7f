package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// No-progress timeouts for every remote transfer (docs/ffi.md, "Stalls").
//
// net/http has no idle timeout for a response body, and oras-go's retry
// transport retries requests, not a body that stops arriving mid-stream: a
// registry that sends headers and then nothing would hold a sync forever.
// Two pieces stop that:
//   - stallTransport, under the retry transport, arms a timer while a
//     request waits for its response headers and while a body Read waits
//     for bytes. When it fires the request is cancelled and the error is a
//     *stallError: a net.Error whose Timeout() is true, so oras-go retries
//     a stall before the headers as it retries a dial timeout.
//   - resumingBody, under the digest verifier, re-opens content whose body
//     stalled, at the offset reached (a Range request when the registry
//     offers ranges, else from the start, skipping what was passed on).
//     Content is addressed by digest, so a new response serves the same
//     bytes, and the verifier still hashes one continuous stream.
//
// Only time spent waiting on the server counts: between reads (the consumer
// busy, the pipe to Rust full) no timer runs.

const (
	defaultStallTimeout = 60 * time.Second
	// maxStallResumes bounds how often one transfer is re-opened after its
	// body stalled: with the first attempt, 1+maxStallResumes attempts.
	maxStallResumes = 3
)

// stallError says a server made no progress for the timeout.
type stallError struct {
	timeout time.Duration
	host    string
	body    bool   // the body stalled (false: no response headers)
	what    string // "registry" (the default) or "server", for the message
}

func (e *stallError) Error() string {
	phase := "waiting for the response"
	if e.body {
		phase = "reading the response body"
	}
	what := e.what
	if what == "" {
		what = "registry"
	}
	return fmt.Sprintf("%s %s: no progress for %s while %s", what, e.host, formatSeconds(e.timeout), phase)
}

// Timeout and Temporary make a stall a net.Error that oras-go's retry
// transport retries (its predicate asserts net.Error and checks Timeout).
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }

// isBodyStall reports whether err is, or wraps, a stalled response body.
func isBodyStall(err error) bool {
	var se *stallError
	return errors.As(err, &se) && se.body
}

// formatSeconds writes whole seconds as "60s" rather than Go's "1m0s".
func formatSeconds(d time.Duration) string {
	if d >= time.Second && d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// watchdog runs onFire when armed for longer than d; disarmed it waits.
type watchdog struct {
	d     time.Duration
	timer *time.Timer
	fired atomic.Bool
}

// newWatchdog returns an armed watchdog.
func newWatchdog(d time.Duration, onFire func()) *watchdog {
	w := &watchdog{d: d}
	// fired is set before onFire cancels anything, so whoever sees the
	// cancellation also sees fired (the cancel happens after the store).
	w.timer = time.AfterFunc(d, func() { w.fired.Store(true); onFire() })
	return w
}

func (w *watchdog) arm()    { w.timer.Reset(w.d) }
func (w *watchdog) disarm() { w.timer.Stop() }

// stallTransport cancels a request that makes no progress for timeout.
type stallTransport struct {
	base    http.RoundTripper
	timeout time.Duration
	what    string // names the server in a stallError; "" = "registry"
}

func (t *stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	w := newWatchdog(t.timeout, func() { cancel(errors.New("no progress")) })
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	w.disarm()
	if err == nil && w.fired.Load() { // fired as the headers arrived: the body is cut already
		_ = resp.Body.Close()
		err = context.Canceled
	}
	if err != nil {
		cancel(nil)
		if w.fired.Load() {
			// Returned bare (not wrapped) for the retry predicate.
			return nil, &stallError{timeout: t.timeout, host: req.URL.Host, what: t.what}
		}
		return nil, err
	}
	resp.Body = &idleBody{
		rc:     resp.Body,
		w:      w,
		cancel: cancel,
		stall:  &stallError{timeout: t.timeout, host: req.URL.Host, body: true, what: t.what},
	}
	return resp, nil
}

// idleBody arms its request's watchdog for the length of each Read.
type idleBody struct {
	rc     io.ReadCloser
	w      *watchdog
	cancel context.CancelCauseFunc
	stall  *stallError
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.w.arm()
	n, err := b.rc.Read(p)
	b.w.disarm()
	if err != nil && err != io.EOF && b.w.fired.Load() {
		err = b.stall
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.w.disarm()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}

// resumingBody reads desc from t, re-opening it where it stopped when its
// body stalls (at most maxStallResumes times). Close may be called from
// another goroutine (a cancelled op) while Read runs.
type resumingBody struct {
	ctx  context.Context
	t    readTarget
	desc ocispec.Descriptor

	mu     sync.Mutex
	rc     io.ReadCloser
	closed bool

	off     int64 // bytes passed on to the caller
	resumes int
	stalled error // a stall seen after bytes were passed on; resume next Read
}

func newResumingBody(ctx context.Context, t readTarget, desc ocispec.Descriptor, rc io.ReadCloser) *resumingBody {
	return &resumingBody{ctx: ctx, t: t, desc: desc, rc: rc}
}

func (b *resumingBody) current() io.ReadCloser {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rc
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		if b.stalled != nil {
			if err := b.resume(); err != nil {
				return 0, err
			}
		}
		n, err := b.current().Read(p)
		b.off += int64(n)
		if err == nil || !isBodyStall(err) || b.ctx.Err() != nil {
			return n, err
		}
		b.stalled = err
		if n > 0 {
			return n, nil // hand these over; the next Read resumes
		}
	}
}

// resume replaces the stalled body by a new response positioned at b.off.
// A new response that stalls before reaching b.off uses up an attempt too.
func (b *resumingBody) resume() error {
	for {
		cause := b.stalled
		if b.resumes >= maxStallResumes {
			return fmt.Errorf("%w (gave up after %d attempts)", cause, b.resumes+1)
		}
		b.resumes++
		b.stalled = nil
		rc, err := b.reopen()
		if err == nil {
			return b.swap(rc)
		}
		if !isBodyStall(err) || b.ctx.Err() != nil {
			return err
		}
		b.stalled = err
	}
}

func (b *resumingBody) reopen() (io.ReadCloser, error) {
	rc, err := b.t.Fetch(b.ctx, b.desc)
	if err != nil {
		return nil, err
	}
	if b.off == 0 {
		return rc, nil
	}
	// oras-go's blob bodies seek with a Range request when the registry
	// says Accept-Ranges: bytes; a failed Seek leaves the body at 0.
	if s, ok := rc.(io.Seeker); ok {
		if _, err := s.Seek(b.off, io.SeekStart); err == nil {
			return rc, nil
		}
	}
	if _, err := io.CopyN(io.Discard, rc, b.off); err != nil {
		_ = rc.Close()
		return nil, err
	}
	return rc, nil
}

func (b *resumingBody) swap(rc io.ReadCloser) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		_ = rc.Close()
		if err := b.ctx.Err(); err != nil {
			return err
		}
		return errors.New("read: body closed")
	}
	_ = b.rc.Close()
	b.rc = rc
	return nil
}

func (b *resumingBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	return b.rc.Close()
}

// retryStalls runs f again when its response body stalled (at most
// maxStallResumes times): for calls that read a whole response inside
// oras-go (manifest by reference, tag lists, referrers), where resuming
// mid-body is not possible. Each is an idempotent read.
func retryStalls[T any](ctx context.Context, f func() (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := f()
		if err == nil || !isBodyStall(err) || ctx.Err() != nil {
			return v, err
		}
		if attempt >= maxStallResumes {
			return v, fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1)
		}
	}
}
