package main

import (
	"context"
	"sync"
)

// Handles are plain uint64 ids into mutex-guarded maps (no cgo.Handle) so an
// unknown, zero or freed id is an ordinary lookup miss -> VDR_BAD_HANDLE.
// Ids are never reused.

type op struct {
	ctx    context.Context
	cancel context.CancelFunc
}

var (
	handlesMu sync.Mutex
	nextID    uint64
	ops       = map[uint64]*op{}
	targets   = map[uint64]*target{}
)

func newID() uint64 {
	nextID++
	return nextID
}

func opNew() uint64 {
	ctx, cancel := context.WithCancel(context.Background())
	handlesMu.Lock()
	defer handlesMu.Unlock()
	id := newID()
	ops[id] = &op{ctx: ctx, cancel: cancel}
	return id
}

func opCancel(id uint64) *vdrError {
	handlesMu.Lock()
	o, ok := ops[id]
	handlesMu.Unlock()
	if !ok {
		return badHandle("op", id)
	}
	o.cancel()
	return nil
}

func opFree(id uint64) *vdrError {
	handlesMu.Lock()
	o, ok := ops[id]
	delete(ops, id)
	handlesMu.Unlock()
	if !ok {
		return badHandle("op", id)
	}
	o.cancel()
	return nil
}

// opContext returns the op's context; 0 means "not cancellable".
func opContext(id uint64) (context.Context, *vdrError) {
	if id == 0 {
		return context.Background(), nil
	}
	handlesMu.Lock()
	o, ok := ops[id]
	handlesMu.Unlock()
	if !ok {
		return nil, badHandle("op", id)
	}
	return o.ctx, nil
}

func targetAdd(t *target) uint64 {
	handlesMu.Lock()
	defer handlesMu.Unlock()
	id := newID()
	targets[id] = t
	return id
}

func targetGet(id uint64) (*target, *vdrError) {
	handlesMu.Lock()
	t, ok := targets[id]
	handlesMu.Unlock()
	if !ok {
		return nil, badHandle("target", id)
	}
	return t, nil
}

func targetClose(id uint64) *vdrError {
	handlesMu.Lock()
	t, ok := targets[id]
	delete(targets, id)
	handlesMu.Unlock()
	if !ok {
		return badHandle("target", id)
	}
	t.close()
	return nil
}

// lookup resolves the (target, op) pair every long call takes.
func lookup(tid, oid uint64) (readTarget, context.Context, *vdrError) {
	t, verr := targetGet(tid)
	if verr != nil {
		return nil, nil, verr
	}
	ctx, verr := opContext(oid)
	if verr != nil {
		return nil, nil, verr
	}
	return t.rt, ctx, nil
}
