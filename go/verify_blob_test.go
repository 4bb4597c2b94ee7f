package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"vendoras.dev/shim/internal/testsigner"
)

// Unit tests of vdr_verify_blob's logic (tests/sync_cosign_blobs.rs runs it
// against real `cosign sign-blob --bundle` output).

func verifyBlobReq(t *testing.T, blob []byte, bundle []byte, req map[string]any) (*verifyResponse, *vdrError) {
	t.Helper()
	sum := sha256.Sum256(blob)
	req["digest"] = "sha256:" + hex.EncodeToString(sum[:])
	req["bundles"] = []map[string]string{{"name": "https://example.com/tool.tgz.sigstore.json", "bundle": string(bundle)}}
	b, _ := json.Marshal(req)
	out, verr := verifyBlob(0, string(b))
	if verr != nil {
		return nil, verr
	}
	var resp verifyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	return &resp, nil
}

func TestVerifyBlobKeyless(t *testing.T) {
	const id, issuer = "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1.0.0", "https://token.actions.githubusercontent.com"
	blob := []byte("the release asset\n")
	sum := sha256.Sum256(blob)
	out, err := testsigner.Sign(id, issuer, "sha256:"+hex.EncodeToString(sum[:]), "tool.tgz")
	if err != nil {
		t.Fatal(err)
	}
	req := func(identity, iss string, root []byte) map[string]any {
		return map[string]any{"certificate_identity": identity, "certificate_oidc_issuer": iss, "trusted_root_json": string(root)}
	}
	for layout, bundle := range map[string][]byte{layoutBlobBundle: out.BlobBundle, layoutBlobCosignBundle: out.BlobLegacyBundle} {
		resp, verr := verifyBlobReq(t, blob, bundle, req(id, issuer, out.TrustedRoot))
		if verr != nil {
			t.Fatalf("%s: %s", layout, verr.Message)
		}
		if resp.Identity != id || resp.Issuer != issuer || resp.Layout != layout || !strings.HasPrefix(resp.SignatureDigest, "sha256:") {
			t.Fatalf("%s: unexpected answer %+v", layout, resp)
		}
		_, verr = verifyBlobReq(t, []byte("another file\n"), bundle, req(id, issuer, out.TrustedRoot))
		wantVerification(t, verr, "bundle https://example.com/tool.tgz.sigstore.json")
		if layout == layoutBlobBundle {
			wantVerification(t, verr, "the file was changed after signing")
		}
		_, verr = verifyBlobReq(t, blob, bundle, req("https://github.com/evil/r/.github/workflows/release.yml@refs/tags/v1.0.0", issuer, out.TrustedRoot))
		wantVerification(t, verr, "certificate identity or issuer mismatch")
		_, verr = verifyBlobReq(t, blob, bundle, req(id, issuer, out.UntrustedRoot))
		wantVerification(t, verr, "untrusted certificate chain")
		_, pub := newKey(t)
		_, verr = verifyBlobReq(t, blob, bundle, map[string]any{"keys": []string{pub}})
		wantVerification(t, verr, "")
	}
	// The DSSE bundle of an image signature names another digest: refused.
	_, verr := verifyBlobReq(t, []byte("another file\n"), out.Bundle, req(id, issuer, out.TrustedRoot))
	wantVerification(t, verr, "")
}

func TestVerifyBlobKeyCosignBundle(t *testing.T) {
	signer, pub := newKey(t)
	_, otherPub := newKey(t)
	blob := []byte("signed with a key\n")
	sig, err := signer.SignMessage(strings.NewReader(string(blob)))
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := json.Marshal(map[string]any{"base64Signature": base64.StdEncoding.EncodeToString(sig)})
	resp, verr := verifyBlobReq(t, blob, bundle, map[string]any{"keys": []string{otherPub, pub}})
	if verr != nil {
		t.Fatal(verr.Message)
	}
	if resp.Layout != layoutBlobCosignBundle || resp.KeyIndex == nil || *resp.KeyIndex != 1 {
		t.Fatalf("unexpected answer %+v", resp)
	}
	_, verr = verifyBlobReq(t, blob, bundle, map[string]any{"keys": []string{otherPub}})
	wantVerification(t, verr, "does not verify with the given public key")
	_, verr = verifyBlobReq(t, []byte("tampered\n"), bundle, map[string]any{"keys": []string{pub}})
	wantVerification(t, verr, "file or bundle tampered with")
}

func TestVerifyBlobUnreadable(t *testing.T) {
	_, pub := newKey(t)
	for bundle, want := range map[string]string{
		"<html>not found</html>":    "not a JSON object",
		`{"hello": 1}`:              "neither a Sigstore bundle",
		`{"mediaType": "x/y"}`:      "not a readable Sigstore bundle",
		`{"base64Signature": "!!"}`: "unreadable base64Signature",
	} {
		_, verr := verifyBlobReq(t, []byte("x"), []byte(bundle), map[string]any{"keys": []string{pub}})
		wantVerification(t, verr, want)
	}
	_, verr := verifyBlobReq(t, []byte("x"), []byte(`{}`), map[string]any{})
	if verr == nil || verr.Code != codeInvalid {
		t.Fatalf("a request without keys or identity must be invalid, got %+v", verr)
	}
}

// A GitHub artifact attestation: DSSE, SLSA provenance, subject = the file.
func TestVerifyBlobAttestation(t *testing.T) {
	const id, issuer = "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1.0.0", "https://token.actions.githubusercontent.com"
	const slsa = "https://slsa.dev/provenance/v1"
	blob := []byte("attested asset\n")
	sum := sha256.Sum256(blob)
	out, err := testsigner.Sign(id, issuer, "sha256:"+hex.EncodeToString(sum[:]), "tool.tgz")
	if err != nil {
		t.Fatal(err)
	}
	req := func(identity, predicate string) map[string]any {
		return map[string]any{"certificate_identity": identity, "certificate_oidc_issuer": issuer,
			"trusted_root_json": string(out.TrustedRoot), "predicate_type": predicate}
	}
	resp, verr := verifyBlobReq(t, blob, out.Attestation, req(id, slsa))
	if verr != nil {
		t.Fatal(verr.Message)
	}
	if resp.Layout != layoutAttestation || resp.Identity != id {
		t.Fatalf("unexpected answer %+v", resp)
	}
	_, verr = verifyBlobReq(t, []byte("another asset\n"), out.Attestation, req(id, slsa))
	wantVerification(t, verr, "the signed claim names sha256:"+hex.EncodeToString(sum[:]))
	_, verr = verifyBlobReq(t, blob, out.Attestation, req("https://github.com/o/other/.github/workflows/x.yml@refs/heads/main", slsa))
	wantVerification(t, verr, "certificate identity or issuer mismatch")
	_, verr = verifyBlobReq(t, blob, out.Attestation, req(id, "https://spdx.dev/Document/v2.3"))
	wantVerification(t, verr, `predicate type "https://slsa.dev/provenance/v1", not "https://spdx.dev/Document/v2.3"`)
	_, verr = verifyBlobReq(t, blob, out.BlobBundle, req(id, slsa))
	wantVerification(t, verr, "not an attestation")
}

// Several bundles: any one verifies; when none does, the most relevant failure.
func TestVerifyBlobSeveralBundles(t *testing.T) {
	const id, issuer = "alice@example.com", "https://issuer.example"
	blob := []byte("several\n")
	sum := sha256.Sum256(blob)
	out, err := testsigner.Sign(id, issuer, "sha256:"+hex.EncodeToString(sum[:]), "x")
	if err != nil {
		t.Fatal(err)
	}
	req := func(identity string, bundles ...[]byte) map[string]any {
		var list []map[string]string
		for i, b := range bundles {
			list = append(list, map[string]string{"name": fmt.Sprintf("b%d", i), "bundle": string(b)})
		}
		d := "sha256:" + hex.EncodeToString(sum[:])
		return map[string]any{"digest": d, "bundles": list, "certificate_identity": identity,
			"certificate_oidc_issuer": issuer, "trusted_root_json": string(out.TrustedRoot)}
	}
	call := func(r map[string]any) (*verifyResponse, *vdrError) {
		b, _ := json.Marshal(r)
		o, verr := verifyBlob(0, string(b))
		if verr != nil {
			return nil, verr
		}
		var resp verifyResponse
		_ = json.Unmarshal(o, &resp)
		return &resp, nil
	}
	if _, verr := call(req(id, []byte("garbage"), out.BlobBundle)); verr != nil {
		t.Fatal(verr.Message)
	}
	_, verr := call(req("bob@example.com", []byte("garbage"), out.BlobBundle))
	wantVerification(t, verr, "none of the 2 bundles verified; most relevant: bundle b1: certificate identity or issuer mismatch")
}
