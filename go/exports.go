package main

/*
#include <stdint.h>
#include <stdlib.h>

// Lets the generated header say `const char *` for request strings, as in
// docs/ffi.md (cgo cannot spell const in Go signatures).
typedef const char vdr_cchar;
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// The exports only convert C <-> Go, look nothing up themselves, and turn a
// panic into VDR_INTERNAL. All logic lives in plain Go functions so that
// tests (which cannot import "C") exercise exactly what these call.

func main() {} // required by -buildmode=c-archive, never run

func goString(p *C.vdr_cchar) string {
	if p == nil {
		return ""
	}
	return C.GoString((*C.char)(unsafe.Pointer(p)))
}

func setErr(errp **C.char, e *vdrError) C.int32_t {
	if errp != nil {
		*errp = C.CString(string(e.json()))
	}
	return C.int32_t(e.Code)
}

// recoverTo must be deferred directly: it converts a panic into code 11.
func recoverTo(rc *C.int32_t, errp **C.char) {
	if r := recover(); r != nil {
		*rc = setErr(errp, newError(codeInternal, fmt.Sprintf("panic in vendoras shim: %v", r)))
	}
}

func setOutJSON(out **C.char, b []byte) {
	if out != nil {
		*out = C.CString(string(b))
	}
}

//export vdr_free
func vdr_free(p unsafe.Pointer) {
	C.free(p)
}

//export vdr_op_new
func vdr_op_new() C.uint64_t {
	return C.uint64_t(opNew())
}

//export vdr_op_cancel
func vdr_op_cancel(op C.uint64_t) (rc C.int32_t) {
	defer recoverTo(&rc, nil)
	if e := opCancel(uint64(op)); e != nil {
		return C.int32_t(e.Code)
	}
	return 0
}

//export vdr_op_free
func vdr_op_free(op C.uint64_t) (rc C.int32_t) {
	defer recoverTo(&rc, nil)
	if e := opFree(uint64(op)); e != nil {
		return C.int32_t(e.Code)
	}
	return 0
}

//export vdr_target_open
func vdr_target_open(req_json *C.vdr_cchar, target *C.uint64_t, err **C.char) (rc C.int32_t) {
	defer recoverTo(&rc, err)
	id, e := openTarget(goString(req_json))
	if e != nil {
		return setErr(err, e)
	}
	if target != nil {
		*target = C.uint64_t(id)
	}
	return 0
}

//export vdr_target_close
func vdr_target_close(target C.uint64_t) (rc C.int32_t) {
	defer recoverTo(&rc, nil)
	if e := targetClose(uint64(target)); e != nil {
		return C.int32_t(e.Code)
	}
	return 0
}

//export vdr_resolve
func vdr_resolve(target, op C.uint64_t, req_json *C.vdr_cchar, out_json **C.char, err **C.char) (rc C.int32_t) {
	defer recoverTo(&rc, err)
	b, e := resolve(uint64(target), uint64(op), goString(req_json))
	if e != nil {
		return setErr(err, e)
	}
	setOutJSON(out_json, b)
	return 0
}

//export vdr_fetch_bytes
func vdr_fetch_bytes(target, op C.uint64_t, desc_json *C.vdr_cchar, max_size C.int64_t,
	buf **C.uint8_t, len *C.size_t, err **C.char) (rc C.int32_t) {
	defer recoverTo(&rc, err)
	b, e := fetchBytes(uint64(target), uint64(op), goString(desc_json), int64(max_size))
	if e != nil {
		return setErr(err, e)
	}
	if buf != nil {
		// C.CBytes(empty) still mallocs, so *buf is never NULL on success.
		*buf = (*C.uint8_t)(C.CBytes(b))
	}
	if len != nil { // the ABI names this parameter len, shadowing the builtin
		*len = C.size_t(byteLen(b))
	}
	return 0
}

//export vdr_fetch_reference
func vdr_fetch_reference(target, op C.uint64_t, req_json *C.vdr_cchar, max_size C.int64_t,
	out_json **C.char, buf **C.uint8_t, len *C.size_t, err **C.char) (rc C.int32_t) {
	defer recoverTo(&rc, err)
	d, b, e := fetchReference(uint64(target), uint64(op), goString(req_json), int64(max_size))
	if e != nil {
		return setErr(err, e)
	}
	setOutJSON(out_json, d)
	if buf != nil {
		*buf = (*C.uint8_t)(C.CBytes(b))
	}
	if len != nil { // the ABI names this parameter len, shadowing the builtin
		*len = C.size_t(byteLen(b))
	}
	return 0
}

//export vdr_fetch_to_fd
func vdr_fetch_to_fd(target, op C.uint64_t, desc_json *C.vdr_cchar, fd C.int32_t, err **C.char) (rc C.int32_t) {
	defer recoverTo(&rc, err)
	if e := fetchToFD(uint64(target), uint64(op), goString(desc_json), int(fd)); e != nil {
		return setErr(err, e)
	}
	return 0
}

//export vdr_list_tags
func vdr_list_tags(target, op C.uint64_t, out_json **C.char, err **C.char) (rc C.int32_t) {
	defer recoverTo(&rc, err)
	b, e := listTags(uint64(target), uint64(op))
	if e != nil {
		return setErr(err, e)
	}
	setOutJSON(out_json, b)
	return 0
}

func byteLen(b []byte) int { return len(b) }

//export vdr_http_open
func vdr_http_open(op C.uint64_t, req_json *C.vdr_cchar, resp *C.uint64_t, out_json **C.char, err **C.char) (rc C.int32_t) {
	defer recoverTo(&rc, err)
	id, head, e := httpOpen(uint64(op), goString(req_json))
	if e != nil {
		return setErr(err, e)
	}
	if resp != nil {
		*resp = C.uint64_t(id)
	} else {
		_ = httpClose(id) // nobody could ever free it
	}
	setOutJSON(out_json, head)
	return 0
}

//export vdr_http_body_to_fd
func vdr_http_body_to_fd(resp C.uint64_t, fd C.int32_t, max_size C.int64_t, out_json **C.char, err **C.char) (rc C.int32_t) {
	defer recoverTo(&rc, err)
	b, e := httpBodyToFD(uint64(resp), int(fd), int64(max_size))
	if e != nil {
		return setErr(err, e)
	}
	setOutJSON(out_json, b)
	return 0
}

//export vdr_http_close
func vdr_http_close(resp C.uint64_t) (rc C.int32_t) {
	defer recoverTo(&rc, nil)
	if e := httpClose(uint64(resp)); e != nil {
		return C.int32_t(e.Code)
	}
	return 0
}
