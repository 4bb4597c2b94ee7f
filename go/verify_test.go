package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"

	"vendoras.dev/shim/internal/testsigner"
)

// Unit tests of vdr_verify's logic on an OCI layout (the integration tests
// in tests/verify_cosign.rs use a real registry and the real cosign CLI).

type sigFixture struct {
	t     *testing.T
	store *oci.Store
	tid   uint64
}

func newSigFixture(t *testing.T) *sigFixture {
	t.Helper()
	store, err := oci.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tid := targetAdd(&target{rt: store})
	t.Cleanup(func() { _ = targetClose(tid) })
	return &sigFixture{t: t, store: store, tid: tid}
}

func (f *sigFixture) artifact(content string) ocispec.Descriptor {
	f.t.Helper()
	ctx := context.Background()
	layer, err := oras.PushBytes(ctx, f.store, ocispec.MediaTypeImageLayer, []byte(content))
	if err != nil {
		f.t.Fatal(err)
	}
	d, err := oras.PackManifest(ctx, f.store, oras.PackManifestVersion1_1, "application/vnd.example",
		oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// legacy pushes a cosign <= v2 .sig manifest for subject.
func (f *sigFixture) legacy(subject ocispec.Descriptor, payload []byte, ann map[string]string) {
	f.t.Helper()
	ctx := context.Background()
	layer, err := oras.PushBytes(ctx, f.store, simpleSigningMediaType, payload)
	if errors.Is(err, errdef.ErrAlreadyExists) {
		layer = content.NewDescriptorFromBytes(simpleSigningMediaType, payload)
	} else if err != nil {
		f.t.Fatal(err)
	}
	layer.Annotations = ann
	d, err := oras.PackManifest(ctx, f.store, oras.PackManifestVersion1_1, "application/vnd.example.sig",
		oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.store.Tag(ctx, d, "sha256-"+subject.Digest.Encoded()+".sig"); err != nil {
		f.t.Fatal(err)
	}
}

// referrer attaches a bundle to subject as an OCI 1.1 referrer and returns
// the referrer manifest's digest.
func (f *sigFixture) referrer(subject ocispec.Descriptor, bundleJSON []byte) string {
	f.t.Helper()
	ctx := context.Background()
	layer, err := oras.PushBytes(ctx, f.store, "application/vnd.dev.sigstore.bundle.v0.3+json", bundleJSON)
	if err != nil {
		f.t.Fatal(err)
	}
	m, err := oras.PackManifest(ctx, f.store, oras.PackManifestVersion1_1,
		"application/vnd.dev.sigstore.bundle.v0.3+json",
		oras.PackManifestOptions{Subject: &subject, Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		f.t.Fatal(err)
	}
	return m.Digest.String()
}

func (f *sigFixture) verify(d ocispec.Descriptor, req map[string]any) (*verifyResponse, *vdrError) {
	f.t.Helper()
	req["digest"] = d.Digest.String()
	req["media_type"] = d.MediaType
	req["size"] = d.Size
	b, _ := json.Marshal(req)
	out, verr := verifySignatures(f.tid, 0, string(b))
	if verr != nil {
		return nil, verr
	}
	var resp verifyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		f.t.Fatal(err)
	}
	return &resp, nil
}

func simpleSigningPayload(digest string) []byte {
	return []byte(`{"critical":{"identity":{"docker-reference":"example.com/app"},"image":{"docker-manifest-digest":"` +
		digest + `"},"type":"cosign container image signature"},"optional":null}`)
}

func newKey(t *testing.T) (signature.Signer, string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signature.LoadECDSASigner(priv, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return s, string(pem)
}

func signLegacy(t *testing.T, s signature.Signer, payload []byte) map[string]string {
	t.Helper()
	sig, err := s.SignMessage(strings.NewReader(string(payload)))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{annSignature: base64.StdEncoding.EncodeToString(sig)}
}

func wantVerification(t *testing.T, verr *vdrError, contains string) {
	t.Helper()
	if verr == nil {
		t.Fatalf("verified; want a failure mentioning %q", contains)
	}
	if verr.Code != codeVerification || !strings.Contains(verr.Message, contains) {
		t.Fatalf("got code %d %q; want verification mentioning %q", verr.Code, verr.Message, contains)
	}
}

func TestVerifyKeyLegacy(t *testing.T) {
	f := newSigFixture(t)
	signer, pub := newKey(t)
	_, otherPub := newKey(t)

	signed := f.artifact("signed")
	f.legacy(signed, simpleSigningPayload(signed.Digest.String()), signLegacy(t, signer, simpleSigningPayload(signed.Digest.String())))
	resp, verr := f.verify(signed, map[string]any{"keys": []string{otherPub, pub}})
	if verr != nil {
		t.Fatal(verr.Message)
	}
	if resp.Layout != layoutLegacy || resp.KeyIndex == nil || *resp.KeyIndex != 1 || !strings.HasPrefix(resp.VerifiedBy, "key sha256:") {
		t.Fatalf("unexpected answer %+v", resp)
	}

	_, verr = f.verify(signed, map[string]any{"keys": []string{otherPub}})
	wantVerification(t, verr, "does not verify with the given public key")

	unsigned := f.artifact("unsigned")
	_, verr = f.verify(unsigned, map[string]any{"keys": []string{pub}})
	wantVerification(t, verr, "no signature found for "+unsigned.Digest.String()+" (looked for tag sha256-"+unsigned.Digest.Encoded()+".sig and referrers)")

	// A valid signature whose claim names another digest.
	other := f.artifact("other")
	payload := simpleSigningPayload(signed.Digest.String())
	f.legacy(other, payload, signLegacy(t, signer, payload))
	_, verr = f.verify(other, map[string]any{"keys": []string{pub}})
	wantVerification(t, verr, "the signed claim names "+signed.Digest.String()+", not "+other.Digest.String())

	// Tampered payload.
	tampered := f.artifact("tampered")
	good := simpleSigningPayload(tampered.Digest.String())
	ann := signLegacy(t, signer, good)
	f.legacy(tampered, []byte(strings.Replace(string(good), "example.com/app", "example.com/evil", 1)), ann)
	_, verr = f.verify(tampered, map[string]any{"keys": []string{pub}})
	wantVerification(t, verr, "does not verify")
}

func TestVerifyKeyless(t *testing.T) {
	const id, issuer = "alice@example.com", "https://issuer.example"
	f := newSigFixture(t)
	for _, legacy := range []bool{false, true} {
		d := f.artifact("keyless " + map[bool]string{false: "bundle", true: "legacy"}[legacy])
		out, err := testsigner.Sign(id, issuer, d.Digest.String(), "example.com/app")
		if err != nil {
			t.Fatal(err)
		}
		if legacy {
			f.legacy(d, out.LegacyPayload, out.LegacyAnnotations)
		} else {
			f.referrer(d, out.Bundle)
		}
		req := func(identity, iss string, root []byte) map[string]any {
			return map[string]any{"certificate_identity": identity, "certificate_oidc_issuer": iss, "trusted_root_json": string(root)}
		}
		resp, verr := f.verify(d, req(id, issuer, out.TrustedRoot))
		if verr != nil {
			t.Fatalf("legacy=%v: %s", legacy, verr.Message)
		}
		wantLayout := map[bool]string{false: layoutReferrer, true: layoutLegacy}[legacy]
		if resp.Identity != id || resp.Issuer != issuer || resp.Layout != wantLayout {
			t.Fatalf("unexpected answer %+v", resp)
		}
		_, verr = f.verify(d, req("bob@example.com", issuer, out.TrustedRoot))
		wantVerification(t, verr, `expected SAN value "bob@example.com"`)
		_, verr = f.verify(d, req(id, "https://evil.example", out.TrustedRoot))
		wantVerification(t, verr, `expected issuer value "https://evil.example"`)
		_, verr = f.verify(d, req(id, issuer, out.UntrustedRoot))
		wantVerification(t, verr, "untrusted certificate chain")
		// A key policy does not accept a certificate signature.
		_, pub := newKey(t)
		_, verr = f.verify(d, map[string]any{"keys": []string{pub}})
		wantVerification(t, verr, "")
	}
}

// A CI workflow's identity is a URI SAN (Fulcio's GitHub Actions form); the
// owner-wide regexp vendoras suggests for an issuer-only config accepts it,
// another owner's (or a longer owner name) does not.
func TestVerifyKeylessWorkflowIdentity(t *testing.T) {
	const (
		id     = "https://github.com/home-operations/k8s-schemas/.github/workflows/release.yaml@refs/heads/main"
		issuer = "https://token.actions.githubusercontent.com"
	)
	f := newSigFixture(t)
	for _, legacy := range []bool{false, true} {
		d := f.artifact("workflow " + map[bool]string{false: "bundle", true: "legacy"}[legacy])
		out, err := testsigner.Sign(id, issuer, d.Digest.String(), "ghcr.io/home-operations/k8s-schemas")
		if err != nil {
			t.Fatal(err)
		}
		if legacy {
			f.legacy(d, out.LegacyPayload, out.LegacyAnnotations)
		} else {
			f.referrer(d, out.Bundle)
		}
		req := func(re string) map[string]any {
			return map[string]any{"certificate_identity_regexp": re, "certificate_oidc_issuer": issuer, "trusted_root_json": string(out.TrustedRoot)}
		}
		for _, re := range []string{`(?i)^https://github\.com/home-operations/`, `(?i)^https://github\.com/home-operations/k8s-schemas/\.github/workflows/`} {
			resp, verr := f.verify(d, req(re))
			if verr != nil {
				t.Fatalf("legacy=%v %s: %s", legacy, re, verr.Message)
			}
			if resp.Identity != id || resp.Issuer != issuer {
				t.Fatalf("unexpected answer %+v", resp)
			}
		}
		for _, re := range []string{`(?i)^https://github\.com/other-org/`, `(?i)^https://github\.com/home-operations/other-repo/`} {
			_, verr := f.verify(d, req(re))
			wantVerification(t, verr, "expected SAN value")
		}
		_, verr := f.verify(d, map[string]any{"certificate_identity": id, "certificate_oidc_issuer": "https://gitlab.com", "trusted_root_json": string(out.TrustedRoot)})
		wantVerification(t, verr, `expected issuer value "https://gitlab.com"`)
	}
}

func TestVerifyRequestValidation(t *testing.T) {
	f := newSigFixture(t)
	d := f.artifact("x")
	_, pub := newKey(t)
	for name, req := range map[string]map[string]any{
		"nothing":        {},
		"both":           {"keys": []string{pub}, "certificate_identity": "a", "certificate_oidc_issuer": "b"},
		"no issuer":      {"certificate_identity": "a"},
		"no identity":    {"certificate_oidc_issuer_regexp": "b"},
		"bad regexp":     {"certificate_identity_regexp": "(", "certificate_oidc_issuer": "b"},
		"bad key":        {"keys": []string{"not a key"}},
		"bad root":       {"certificate_identity": "a", "certificate_oidc_issuer": "b", "trusted_root_json": "{"},
		"bad root path":  {"certificate_identity": "a", "certificate_oidc_issuer": "b", "trusted_root_path": "/nonexistent/root.json"},
		"sha512 digests": {"keys": []string{pub}, "digest_override": true},
	} {
		if req["digest_override"] == true {
			b, _ := json.Marshal(map[string]any{"digest": "sha512:" + strings.Repeat("a", 128), "keys": []string{pub}})
			if _, verr := verifySignatures(f.tid, 0, string(b)); verr == nil || verr.Code != codeInvalid {
				t.Errorf("%s: got %+v, want invalid", name, verr)
			}
			continue
		}
		if _, verr := f.verify(d, req); verr == nil || verr.Code != codeInvalid {
			t.Errorf("%s: got %+v, want invalid", name, verr)
		}
	}
	if _, verr := verifySignatures(1<<62, 0, `{}`); verr == nil || verr.Code != codeBadHandle {
		t.Errorf("bad handle: got %+v", verr)
	}
	if _, verr := verifySignatures(f.tid, 0, `{not json`); verr == nil || verr.Code != codeInvalid {
		t.Errorf("bad json: got %+v", verr)
	}
}

// When several signatures fail equally far, the one reported is the first by
// (layout: .sig tag before referrers, signature manifest digest, layer
// position), whatever order the store lists referrers in. An OCI layout
// lists them from a map, so without the rule the answer changes run to run.
func TestVerifyTieBreakIsDeterministic(t *testing.T) {
	f := newSigFixture(t)
	_, pub := newKey(t)
	keys := map[string]any{"keys": []string{pub}}

	d := f.artifact("tie")
	var refs []string
	for i := range 6 {
		refs = append(refs, f.referrer(d, []byte(fmt.Sprintf("not a bundle #%d", i))))
	}
	want := slices.Min(refs)
	for range 30 {
		_, verr := f.verify(d, keys)
		wantVerification(t, verr, "none of the 6 signatures found for "+d.Digest.String())
		wantVerification(t, verr, "most relevant: signature "+want+" (bundle-referrer): not a readable Sigstore bundle")
	}

	// Equally unusable, the .sig tag's candidate sorts before every referrer.
	f.legacy(d, simpleSigningPayload(d.Digest.String()), nil)
	for range 10 {
		_, verr := f.verify(d, keys)
		wantVerification(t, verr, "none of the 7 signatures")
		wantVerification(t, verr, "(cosign-v2-tag): no readable "+annSignature)
	}

	// Rank beats order: a readable signature made with another key (further
	// than unreadable) is reported although it sorts last.
	other, _ := newKey(t)
	d2 := f.artifact("rank")
	f.referrer(d2, []byte("not a bundle"))
	payload := simpleSigningPayload(d2.Digest.String())
	wrongKeyAnn := signLegacy(t, other, payload)
	f.legacy(d2, payload, wrongKeyAnn)
	_, verr := f.verify(d2, keys)
	wantVerification(t, verr, "(cosign-v2-tag): the signature does not verify with the given public key")
}

func TestSortCandidates(t *testing.T) {
	c := func(layout, dig string, pos int) candidate {
		return candidate{layout: layout, sigDigest: dig, position: pos}
	}
	want := []candidate{
		c(layoutLegacy, "sha256:bb", 0),
		c(layoutLegacy, "sha256:bb", 1),
		c(layoutReferrer, "sha256:aa", 0),
		c(layoutReferrer, "sha256:aa", 2),
		c(layoutReferrer, "sha256:cc", 0),
	}
	for _, perm := range [][]int{{4, 3, 2, 1, 0}, {2, 0, 4, 1, 3}, {1, 0, 3, 2, 4}} {
		got := make([]candidate, 0, len(want))
		for _, i := range perm {
			got = append(got, want[i])
		}
		sortCandidates(got)
		for i := range want {
			if got[i].layout != want[i].layout || got[i].sigDigest != want[i].sigDigest || got[i].position != want[i].position {
				t.Fatalf("perm %v: got %+v, want %+v", perm, got, want)
			}
		}
	}
}

// A signature manifest the caller already verified (known) is answered as
// remembered when it is found again, without reading its material; one that
// is gone, or known for another policy's sake only, is not.
func TestVerifyKnownSignatureFoundAgain(t *testing.T) {
	f := newSigFixture(t)
	signer, pub := newKey(t)
	signed := f.artifact("signed")
	payload := simpleSigningPayload(signed.Digest.String())
	f.legacy(signed, payload, signLegacy(t, signer, payload))
	fresh, verr := f.verify(signed, map[string]any{"keys": []string{pub}})
	if verr != nil || fresh.Remembered {
		t.Fatalf("first check: %+v %+v", fresh, verr)
	}

	// The payload blob goes: a fresh check cannot read it, a known one does not need to.
	ctx := context.Background()
	if err := f.store.Delete(ctx, content.NewDescriptorFromBytes(simpleSigningMediaType, payload)); err != nil {
		t.Fatal(err)
	}
	if _, verr := f.verify(signed, map[string]any{"keys": []string{pub}}); verr == nil {
		t.Fatal("a fresh check read a deleted payload")
	}
	again, verr := f.verify(signed, map[string]any{"keys": []string{pub}, "known": known(fresh.SignatureDigest, layoutLegacy)})
	if verr != nil {
		t.Fatal(verr.Message)
	}
	if !again.Remembered || again.SignatureDigest != fresh.SignatureDigest || again.Layout != layoutLegacy {
		t.Fatalf("unexpected answer %+v", again)
	}

	// Known signatures of another digest are not found for this one.
	unsigned := f.artifact("unsigned")
	_, verr = f.verify(unsigned, map[string]any{"keys": []string{pub}, "known": known(fresh.SignatureDigest, layoutLegacy)})
	wantVerification(t, verr, "no signature found for "+unsigned.Digest.String())

	// A referrer: an unreadable bundle fails fresh, and is answered only when known.
	ref := f.artifact("with a referrer")
	refDigest := f.referrer(ref, []byte(`{"not":"a bundle"}`))
	_, verr = f.verify(ref, map[string]any{"keys": []string{pub}})
	wantVerification(t, verr, "not a readable Sigstore bundle")
	again, verr = f.verify(ref, map[string]any{"keys": []string{pub}, "known": known(refDigest, layoutReferrer)})
	if verr != nil {
		t.Fatal(verr.Message)
	}
	if !again.Remembered || again.SignatureDigest != refDigest || again.Layout != layoutReferrer {
		t.Fatalf("unexpected answer %+v", again)
	}
	// Known in the other layout: not where it was, so read and checked.
	_, verr = f.verify(ref, map[string]any{"keys": []string{pub}, "known": known(refDigest, layoutLegacy)})
	wantVerification(t, verr, "not a readable Sigstore bundle")
}

func known(d, layout string) []knownSignature {
	return []knownSignature{{Digest: d, Layout: layout}}
}
