package main

/*
#include <stdint.h>
#include <stdlib.h>

typedef const char vdr_cchar;
*/
import "C"

// vdr_verify checks cosign signatures of one manifest digest (docs/ffi.md,
// "Signature verification"). It lives here rather than in exports.go so the
// signature code stays in the verify*.go files; the conventions are the same.
//
//export vdr_verify
func vdr_verify(target, op C.uint64_t, req_json *C.vdr_cchar, out_json **C.char, err **C.char) (rc C.int32_t) {
	defer recoverTo(&rc, err)
	b, e := verifySignatures(uint64(target), uint64(op), goString(req_json))
	if e != nil {
		return setErr(err, e)
	}
	setOutJSON(out_json, b)
	return 0
}
