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

// vdr_verify_blob checks one Sigstore bundle (`cosign sign-blob --bundle`)
// against the sha256 of a file Rust downloaded (docs/ffi.md, "Blob
// verification"). No target: the bundle comes in the request. The
// conventions are those of vdr_verify.
//
//export vdr_verify_blob
func vdr_verify_blob(op C.uint64_t, req_json *C.vdr_cchar, out_json **C.char, err **C.char) (rc C.int32_t) {
	defer recoverTo(&rc, err)
	b, e := verifyBlob(uint64(op), goString(req_json))
	if e != nil {
		return setErr(err, e)
	}
	setOutJSON(out_json, b)
	return 0
}
