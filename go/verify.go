package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
)

// Cosign signature verification (vdr_verify). Two layouts are looked for,
// both for the one manifest digest the caller resolved:
//   - cosign <= v2: tag sha256-<hex>.sig, simplesigning payload layers with
//     the signature (and certificate, chain, Rekor bundle) in annotations;
//   - cosign v3: Sigstore bundles attached as OCI 1.1 referrers (the
//     referrers API or the sha256-<hex> tag-schema fallback; artifactType is
//     not filtered on, fallback entries written by cosign 3 may lack it).
//
// Any one valid signature is enough. When none verifies, the failure of the
// candidate that got furthest is reported (see failure.rank); among equally
// far ones, that of the candidate sorting first (see sortCandidates), so the
// answer never depends on listing order.

const (
	simpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	annSignature           = "dev.cosignproject.cosign/signature"
	annCertificate         = "dev.sigstore.cosign/certificate"
	annChain               = "dev.sigstore.cosign/chain"
	annRekorBundle         = "dev.sigstore.cosign/bundle"
	annRFC3161             = "dev.sigstore.cosign/rfc3161timestamp"
	bundleMediaTypePrefix  = "application/vnd.dev.sigstore.bundle"
	cosignSignPredicate    = "https://sigstore.dev/cosign/sign/v1"
	cosignClaimType        = "cosign container image signature"

	layoutLegacy   = "cosign-v2-tag"
	layoutReferrer = "bundle-referrer"

	// Bounds on what one verification may fetch: signatures are tiny, a
	// hostile registry must not make us read or try without end.
	maxSignatureBytes     = 1 << 20
	maxSignatureManifests = 32
	maxSignatureLayers    = 64
)

type verifyRequest struct {
	Digest                      string   `json:"digest"`
	MediaType                   string   `json:"media_type"`
	Size                        int64    `json:"size"`
	Keys                        []string `json:"keys"`
	CertificateIdentity         string   `json:"certificate_identity"`
	CertificateIdentityRegexp   string   `json:"certificate_identity_regexp"`
	CertificateOIDCIssuer       string   `json:"certificate_oidc_issuer"`
	CertificateOIDCIssuerRegexp string   `json:"certificate_oidc_issuer_regexp"`
	TrustedRootJSON             string   `json:"trusted_root_json"`
	TrustedRootPath             string   `json:"trusted_root_path"`
	TUFCacheDir                 string   `json:"tuf_cache_dir"`
	TUFTimeoutSeconds           int      `json:"tuf_timeout_seconds"`
	// Known lists signature manifests that verified this very digest under
	// this very policy before (the caller's memo), with the layout each was
	// found in. One found again where it was is answered as remembered: it
	// must still be there, but its material is content-addressed by that
	// digest, so it is not fetched or checked again.
	Known []knownSignature `json:"known"`
}

type knownSignature struct {
	Digest string `json:"digest"`
	Layout string `json:"layout"`
}

type verifyResponse struct {
	VerifiedBy      string `json:"verified_by"`
	Layout          string `json:"layout"`
	SignatureDigest string `json:"signature_digest"`
	KeyIndex        *int   `json:"key_index,omitempty"`
	KeyFingerprint  string `json:"key_fingerprint,omitempty"`
	Identity        string `json:"identity,omitempty"`
	Issuer          string `json:"issuer,omitempty"`
	// Remembered: SignatureDigest is one of the request's Known ones, found
	// again; the caller holds who signed it.
	Remembered bool `json:"remembered,omitempty"`
}

// publicKey is one trusted key of a key-based policy.
type publicKey struct {
	index       int
	fingerprint string // sha256:<hex> of the DER SubjectPublicKeyInfo
	verifier    signature.Verifier
}

// policy is a parsed request: keys, or a certificate identity + trust root.
type policy struct {
	digest   ocispec.Descriptor
	keys     []publicKey
	identity *verify.CertificateIdentity
	trust    root.TrustedMaterial
	vopts    []verify.VerifierOption
	// predicateType a DSSE statement must carry; "" = cosign's signing
	// predicate (an image or blob signature).
	predicateType string
}

// candidate is one signature found for the digest.
type candidate struct {
	layout    string
	sigDigest string // the signature manifest (legacy tag or referrer)
	position  int    // index of the layer within that manifest
	// legacy layout
	payload     []byte
	annotations map[string]string
	// bundle layout
	bundle *bundle.Bundle
}

// failure is why one candidate did not verify. rank says how far it got:
// the furthest one is the most relevant when all fail.
type failure struct {
	rank int
	msg  string
}

const (
	rankUnusable  = iota // not a signature we can read
	rankSignature        // signature/key/chain/log did not verify
	rankIdentity         // valid signature, wrong identity or issuer
	rankClaim            // valid signature, claim names another digest
)

func verifySignatures(tid, oid uint64, reqJSON string) ([]byte, *vdrError) {
	t, ctx, verr := lookup(tid, oid)
	if verr != nil {
		return nil, verr
	}
	var req verifyRequest
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil {
		return nil, invalidf("bad verify request: %v", err)
	}
	pol, verr := newPolicy(ctx, &req)
	if verr != nil {
		return nil, verr
	}
	cands, again, verr := findSignatures(ctx, t, pol.digest, req.Known)
	if verr != nil {
		return nil, verr
	}
	if again != nil {
		return marshalOut(again)
	}
	if len(cands) == 0 {
		hexPart := pol.digest.Digest.Encoded()
		return nil, newError(codeVerification, fmt.Sprintf(
			"no signature found for %s (looked for tag sha256-%s.sig and referrers)", pol.digest.Digest, hexPart))
	}
	var best *failure
	for i := range cands {
		out, f := pol.check(&cands[i])
		if f == nil {
			return marshalOut(out)
		}
		// Strictly greater: among equal ranks the first candidate in
		// sortCandidates order is kept.
		if best == nil || f.rank > best.rank {
			best = f
		}
	}
	msg := best.msg
	if len(cands) > 1 {
		msg = fmt.Sprintf("none of the %d signatures found for %s verified; most relevant: %s",
			len(cands), pol.digest.Digest, best.msg)
	}
	return nil, newError(codeVerification, msg)
}

func newPolicy(ctx context.Context, req *verifyRequest) (*policy, *vdrError) {
	desc := ocispec.Descriptor{MediaType: req.MediaType, Digest: digest.Digest(req.Digest), Size: req.Size}
	if err := desc.Digest.Validate(); err != nil {
		return nil, invalidf("bad digest %q: %v", req.Digest, err)
	}
	if desc.Digest.Algorithm().String() != "sha256" {
		return nil, invalidf("cosign signatures are looked up by sha256 digests, not %s", desc.Digest.Algorithm())
	}
	p := &policy{digest: desc}
	keyless := req.CertificateIdentity != "" || req.CertificateIdentityRegexp != "" ||
		req.CertificateOIDCIssuer != "" || req.CertificateOIDCIssuerRegexp != ""
	switch {
	case len(req.Keys) > 0 && keyless:
		return nil, invalidf("use either public keys or a certificate identity and issuer, not both")
	case len(req.Keys) > 0:
		for i, pemKey := range req.Keys {
			k, err := parsePublicKey(i, pemKey)
			if err != nil {
				return nil, invalidf("public key #%d: %v", i+1, err)
			}
			p.keys = append(p.keys, k)
		}
		return p, nil
	case !keyless:
		return nil, invalidf("verification needs public keys, or a certificate identity and OIDC issuer")
	}
	if req.CertificateIdentity == "" && req.CertificateIdentityRegexp == "" {
		return nil, invalidf("keyless verification needs certificateIdentity or certificateIdentityRegexp")
	}
	if req.CertificateOIDCIssuer == "" && req.CertificateOIDCIssuerRegexp == "" {
		return nil, invalidf("keyless verification needs certificateOidcIssuer or certificateOidcIssuerRegexp")
	}
	id, err := verify.NewShortCertificateIdentity(req.CertificateOIDCIssuer, req.CertificateOIDCIssuerRegexp,
		req.CertificateIdentity, req.CertificateIdentityRegexp)
	if err != nil {
		return nil, invalidf("certificate identity: %v", err)
	}
	p.identity = &id
	tr, verr := loadTrustedRoot(ctx, req)
	if verr != nil {
		return nil, verr
	}
	p.trust = tr
	p.vopts = verifierOptions(tr)
	return p, nil
}

// verifierOptions asks for what the trusted root can vouch for: SCTs when it
// lists CT logs, a transparency-log entry when it lists Rekor logs, a signed
// timestamp when it has only timestamping authorities. A time for the
// certificate is always required.
func verifierOptions(tr root.TrustedMaterial) []verify.VerifierOption {
	var opts []verify.VerifierOption
	if len(tr.CTLogs()) > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	switch {
	case len(tr.RekorLogs()) > 0:
		opts = append(opts, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	case len(tr.TimestampingAuthorities()) > 0:
		opts = append(opts, verify.WithSignedTimestamps(1))
	default:
		opts = append(opts, verify.WithObserverTimestamps(1))
	}
	return opts
}

func parsePublicKey(index int, pemKey string) (publicKey, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(pemKey))
	if err != nil {
		return publicKey{}, err
	}
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return publicKey{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return publicKey{}, err
	}
	sum := sha256.Sum256(der)
	return publicKey{index: index, fingerprint: "sha256:" + hex.EncodeToString(sum[:]), verifier: v}, nil
}

// findSignatures lists every candidate signature for desc, in both layouts.
// A missing tag or an empty referrers list is no error; registry failures are.
// A known signature found again where it was ends the search before anything
// more is fetched: it is answered as remembered.
func findSignatures(ctx context.Context, t readTarget, desc ocispec.Descriptor, known []knownSignature) ([]candidate, *verifyResponse, *vdrError) {
	var cands []candidate
	wrap := func(what string, err error) *vdrError {
		verr := toError(ctx, err)
		verr.Message = redact(fmt.Sprintf("looking for signatures of %s: %s: %v", desc.Digest, what, err))
		return verr
	}
	isKnown := func(layout string, d digest.Digest) bool {
		return slices.Contains(known, knownSignature{Digest: d.String(), Layout: layout})
	}
	inLayout := func(layout string) bool {
		return slices.ContainsFunc(known, func(k knownSignature) bool { return k.Layout == layout })
	}
	sigTag := "sha256-" + desc.Digest.Encoded() + ".sig"
	lookupTag := func() resolvedTag {
		d, err := t.Resolve(ctx, sigTag)
		return resolvedTag{d, err}
	}
	listReferrers := func() listedReferrers {
		if repo, ok := t.(*remote.Repository); ok {
			learnReferrersCapability(repo)
		}
		// No artifactType filter (see above). The listing is read whole
		// inside oras-go: retried whole if it stalls.
		refs, err := retryStalls(ctx, func() ([]ocispec.Descriptor, error) {
			return registry.Referrers(ctx, t, desc, "")
		})
		return listedReferrers{signatureReferrers(refs), err}
	}

	// Where a known signature was, it is looked for first, and alone.
	var tag *resolvedTag
	var refs *listedReferrers
	if inLayout(layoutLegacy) {
		r := lookupTag()
		if r.err == nil && isKnown(layoutLegacy, r.desc.Digest) {
			return nil, remembered(layoutLegacy, r.desc.Digest), nil
		}
		tag = &r
	}
	if inLayout(layoutReferrer) {
		l := listReferrers()
		for _, ref := range l.refs {
			if l.err == nil && isKnown(layoutReferrer, ref.Digest) {
				return nil, remembered(layoutReferrer, ref.Digest), nil
			}
		}
		refs = &l
	}
	// What is still to be looked up, both layouts at once (a round trip less
	// per content).
	switch {
	case tag == nil && refs == nil:
		tagDone := make(chan resolvedTag, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					tagDone <- resolvedTag{err: fmt.Errorf("panic: %v", r)}
				}
			}()
			tagDone <- lookupTag()
		}()
		l := listReferrers()
		r := <-tagDone
		tag, refs = &r, &l
	case tag == nil:
		r := lookupTag()
		tag = &r
	case refs == nil:
		l := listReferrers()
		refs = &l
	}

	// cosign <= v2: the .sig tag.
	switch err := tag.err; {
	case errors.Is(err, errdef.ErrNotFound) || isNotFound(err):
	case err != nil:
		return nil, nil, wrap("resolve tag "+sigTag, err)
	default:
		legacy, err := legacyCandidates(ctx, t, tag.desc)
		if err != nil {
			return nil, nil, wrap("read "+sigTag, err)
		}
		cands = append(cands, legacy...)
	}

	// cosign v3: bundles as referrers.
	if refs.err != nil && !errors.Is(refs.err, errdef.ErrNotFound) && !isNotFound(refs.err) {
		return nil, nil, wrap("list referrers", refs.err)
	}
	for _, ref := range refs.refs {
		found, err := bundleCandidates(ctx, t, ref)
		if err != nil {
			return nil, nil, wrap("read referrer "+ref.Digest.String(), err)
		}
		cands = append(cands, found...)
	}
	sortCandidates(cands)
	return cands, nil, nil
}

type resolvedTag struct {
	desc ocispec.Descriptor
	err  error
}

type listedReferrers struct {
	refs []ocispec.Descriptor
	err  error
}

// signatureReferrers keeps the referrers that may be signatures, in a fixed
// order and bounded.
func signatureReferrers(refs []ocispec.Descriptor) []ocispec.Descriptor {
	// Referrers come in the registry's order (the API leaves it open; an
	// OCI layout lists them from a map): sorted before the bound is applied
	// so the same ones are read every time.
	slices.SortFunc(refs, func(a, b ocispec.Descriptor) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	if len(refs) > maxSignatureManifests {
		refs = refs[:maxSignatureManifests]
	}
	return slices.DeleteFunc(refs, func(ref ocispec.Descriptor) bool {
		if ref.ArtifactType != "" && ref.ArtifactType != ocispec.MediaTypeEmptyJSON &&
			!strings.HasPrefix(ref.ArtifactType, bundleMediaTypePrefix) {
			return true // an SBOM, a notation signature, ...
		}
		return ref.MediaType != ocispec.MediaTypeImageManifest
	})
}

// remembered answers for a known signature manifest found again.
func remembered(layout string, sig digest.Digest) *verifyResponse {
	return &verifyResponse{Layout: layout, SignatureDigest: sig.String(), Remembered: true}
}

// sortCandidates puts candidates in the order they are tried and in which
// ties between equally relevant failures are broken (docs/ffi.md): the
// cosign <= v2 .sig tag before bundle referrers, then by signature manifest
// digest, then by layer position in that manifest. All three are properties
// of the signatures themselves, not of the order a registry lists them in.
func sortCandidates(cands []candidate) {
	layoutOrder := func(l string) int {
		if l == layoutLegacy {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		return cmp.Or(
			cmp.Compare(layoutOrder(a.layout), layoutOrder(b.layout)),
			strings.Compare(a.sigDigest, b.sigDigest),
			cmp.Compare(a.position, b.position),
		)
	})
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	code, _ := classify(err)
	return code == codeNotFound
}

func fetchSmall(ctx context.Context, t readTarget, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	if desc.Size > limit {
		return nil, fmt.Errorf("%s: %d bytes is more than the %d allowed for signature material",
			desc.Digest, desc.Size, limit)
	}
	return fetchVerified(ctx, t, desc)
}

func fetchVerified(ctx context.Context, t readTarget, desc ocispec.Descriptor) ([]byte, error) {
	rc, done, err := openContent(ctx, t, desc)
	if err != nil {
		return nil, err
	}
	defer done()
	return content.ReadAll(rc, desc)
}

var timeZero time.Time // an ExpiringKey without a validity window

func decodeB64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimSpace(s))
}

func legacyCandidates(ctx context.Context, t readTarget, sigDesc ocispec.Descriptor) ([]candidate, error) {
	raw, err := fetchSmall(ctx, t, sigDesc, maxSignatureBytes)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("signature manifest %s is not valid JSON: %w", sigDesc.Digest, err)
	}
	var out []candidate
	for i, l := range m.Layers {
		if i >= maxSignatureLayers {
			break
		}
		if l.MediaType != simpleSigningMediaType {
			continue
		}
		payload, err := fetchSmall(ctx, t, l, maxSignatureBytes)
		if err != nil {
			return nil, err
		}
		out = append(out, candidate{
			layout:      layoutLegacy,
			sigDigest:   sigDesc.Digest.String(),
			position:    i,
			payload:     payload,
			annotations: l.Annotations,
		})
	}
	return out, nil
}

func bundleCandidates(ctx context.Context, t readTarget, ref ocispec.Descriptor) ([]candidate, error) {
	raw, err := fetchSmall(ctx, t, ref, maxSignatureBytes)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil // not a manifest we understand; not a signature
	}
	var out []candidate
	for i, l := range m.Layers {
		if i >= maxSignatureLayers {
			break
		}
		if !strings.HasPrefix(l.MediaType, bundleMediaTypePrefix) {
			continue
		}
		b, err := fetchSmall(ctx, t, l, maxSignatureBytes)
		if err != nil {
			return nil, err
		}
		c := candidate{layout: layoutReferrer, sigDigest: ref.Digest.String(), position: i}
		var sb bundle.Bundle
		if err := sb.UnmarshalJSON(b); err != nil {
			// Kept so that "found but unreadable" is what the user hears.
			c.payload = []byte(err.Error())
		} else {
			c.bundle = &sb
		}
		out = append(out, c)
	}
	return out, nil
}

// check verifies one candidate against the policy.
func (p *policy) check(c *candidate) (*verifyResponse, *failure) {
	where := fmt.Sprintf("signature %s (%s)", c.sigDigest, c.layout)
	if c.layout == layoutReferrer && c.bundle == nil {
		return nil, &failure{rankUnusable, fmt.Sprintf("%s: not a readable Sigstore bundle: %s", where, c.payload)}
	}
	if len(p.keys) > 0 {
		if c.layout == layoutLegacy {
			return p.checkLegacyKey(c, where)
		}
		return p.checkBundleKey(c, where)
	}
	if c.layout == layoutLegacy {
		return p.checkLegacyKeyless(c, where)
	}
	return p.checkBundleKeyless(c, where)
}

func (p *policy) keyResponse(c *candidate, k publicKey) *verifyResponse {
	idx := k.index
	return &verifyResponse{
		VerifiedBy:      "key " + k.fingerprint,
		Layout:          c.layout,
		SignatureDigest: c.sigDigest,
		KeyIndex:        &idx,
		KeyFingerprint:  k.fingerprint,
	}
}

func (p *policy) identityResponse(c *candidate, res *verify.VerificationResult) *verifyResponse {
	var san, issuer string
	if res.Signature != nil && res.Signature.Certificate != nil {
		san = res.Signature.Certificate.SubjectAlternativeName
		issuer = res.Signature.Certificate.Issuer
	}
	return &verifyResponse{
		VerifiedBy:      fmt.Sprintf("identity %s issued by %s", san, issuer),
		Layout:          c.layout,
		SignatureDigest: c.sigDigest,
		Identity:        san,
		Issuer:          issuer,
	}
}

// simpleSigning is the cosign <= v2 payload (the parts that are checked).
type simpleSigning struct {
	Critical struct {
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// checkClaim is run only on a payload whose signature verified.
func (p *policy) checkLegacyClaim(c *candidate, where string) *failure {
	var ss simpleSigning
	if err := json.Unmarshal(c.payload, &ss); err != nil {
		return &failure{rankClaim, fmt.Sprintf("%s: signed payload is not a cosign simplesigning claim: %v", where, err)}
	}
	if ss.Critical.Type != cosignClaimType {
		return &failure{rankClaim, fmt.Sprintf("%s: signed payload has type %q, not %q", where, ss.Critical.Type, cosignClaimType)}
	}
	if got := ss.Critical.Image.DockerManifestDigest; got != p.digest.Digest.String() {
		return &failure{rankClaim, fmt.Sprintf("%s: the signed claim names %s, not %s", where, got, p.digest.Digest)}
	}
	return nil
}

func (p *policy) checkLegacyKey(c *candidate, where string) (*verifyResponse, *failure) {
	sig, err := decodeB64(c.annotations[annSignature])
	if err != nil || len(sig) == 0 {
		return nil, &failure{rankUnusable, fmt.Sprintf("%s: no readable %s annotation", where, annSignature)}
	}
	for _, k := range p.keys {
		if err := k.verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(c.payload)); err != nil {
			continue
		}
		if f := p.checkLegacyClaim(c, where); f != nil {
			return nil, f
		}
		return p.keyResponse(c, k), nil
	}
	return nil, &failure{rankSignature, fmt.Sprintf("%s: %s", where, wrongKey(len(p.keys)))}
}

func wrongKey(n int) string {
	if n == 1 {
		return "the signature does not verify with the given public key (wrong key, or payload or signature tampered with)"
	}
	return fmt.Sprintf("the signature verifies with none of the %d given public keys (wrong keys, or payload or signature tampered with)", n)
}

// checkStatement checks the in-toto statement of a verified DSSE bundle:
// cosign's signing predicate, and a subject naming the pulled digest.
func (p *policy) checkStatement(res *verify.VerificationResult, where string) *failure {
	st := res.Statement
	if st == nil {
		return nil // a message signature: verified against the digest itself
	}
	if want := cmp.Or(p.predicateType, cosignSignPredicate); st.GetPredicateType() != want {
		return &failure{rankClaim, fmt.Sprintf("%s: signed statement has predicate type %q, not %q",
			where, st.GetPredicateType(), want)}
	}
	want := p.digest.Digest.Encoded()
	var named []string
	for _, s := range st.GetSubject() {
		d := s.GetDigest()["sha256"]
		if d == want {
			return nil
		}
		if d != "" {
			named = append(named, "sha256:"+d)
		}
	}
	return &failure{rankClaim, fmt.Sprintf("%s: the signed claim names %s, not %s",
		where, strings.Join(named, ", "), p.digest.Digest)}
}

func (p *policy) bundleArtifactPolicy(c *candidate) verify.ArtifactPolicyOption {
	if c.bundle.GetMessageSignature() != nil {
		raw, _ := hex.DecodeString(p.digest.Digest.Encoded())
		return verify.WithArtifactDigest("sha256", raw)
	}
	return verify.WithoutArtifactUnsafe() // the subject is checked in checkStatement
}

func (p *policy) checkBundleKey(c *candidate, where string) (*verifyResponse, *failure) {
	if c.bundle.VerificationMaterial.GetPublicKey() == nil {
		return nil, &failure{rankSignature, fmt.Sprintf(
			"%s: signed with a certificate (keyless), but a public key was given", where)}
	}
	for _, k := range p.keys {
		key := root.NewExpiringKey(k.verifier, timeZero, timeZero)
		tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil })
		v, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
		if err != nil {
			return nil, &failure{rankUnusable, fmt.Sprintf("%s: %v", where, err)}
		}
		res, err := v.Verify(c.bundle, verify.NewPolicy(p.bundleArtifactPolicy(c), verify.WithKey()))
		if err != nil {
			continue
		}
		if f := p.checkStatement(res, where); f != nil {
			return nil, f
		}
		return p.keyResponse(c, k), nil
	}
	return nil, &failure{rankSignature, fmt.Sprintf("%s: %s", where, wrongKey(len(p.keys)))}
}

func (p *policy) checkBundleKeyless(c *candidate, where string) (*verifyResponse, *failure) {
	if c.bundle.VerificationMaterial.GetPublicKey() != nil {
		return nil, &failure{rankSignature, fmt.Sprintf(
			"%s: signed with a public key, but a certificate identity was asked for (use a key)", where)}
	}
	return p.keyless(c, c.bundle, p.bundleArtifactPolicy(c), where)
}

func (p *policy) keyless(c *candidate, entity verify.SignedEntity, ap verify.ArtifactPolicyOption, where string) (*verifyResponse, *failure) {
	if f := p.checkChain(entity, where); f != nil {
		return nil, f
	}
	v, err := verify.NewVerifier(p.trust, p.vopts...)
	if err != nil {
		return nil, &failure{rankUnusable, fmt.Sprintf("%s: %v", where, err)}
	}
	res, err := v.Verify(entity, verify.NewPolicy(ap, verify.WithCertificateIdentity(*p.identity)))
	if err != nil {
		return nil, keylessFailure(where, err)
	}
	if c.layout == layoutLegacy {
		if f := p.checkLegacyClaim(c, where); f != nil {
			return nil, f
		}
	} else if f := p.checkStatement(res, where); f != nil {
		return nil, f
	}
	return p.identityResponse(c, res), nil
}

// keylessFailure words sigstore-go's error by the step that failed.
func keylessFailure(where string, err error) *failure {
	var idErr *verify.ErrNoMatchingCertificateIdentity
	msg := err.Error()
	switch {
	case errors.As(err, &idErr):
		return &failure{rankIdentity, fmt.Sprintf("%s: certificate identity or issuer mismatch: %v", where, idErr)}
	case strings.Contains(msg, "failed to verify leaf certificate"):
		return &failure{rankSignature, fmt.Sprintf("%s: untrusted certificate chain (not issued by a Fulcio root in the trusted root): %s", where, msg)}
	case strings.Contains(msg, "log inclusion"), strings.Contains(msg, "transparency log"):
		return &failure{rankSignature, fmt.Sprintf("%s: transparency log entry not trusted or missing: %s", where, msg)}
	case strings.Contains(msg, "signed certificate timestamp"):
		return &failure{rankSignature, fmt.Sprintf("%s: certificate transparency (SCT) check failed: %s", where, msg)}
	case strings.Contains(msg, "timestamp"):
		return &failure{rankSignature, fmt.Sprintf("%s: no trusted timestamp: %s", where, msg)}
	}
	return &failure{rankSignature, fmt.Sprintf("%s: %s", where, msg)}
}

// checkChain tells "not issued by a CA this root trusts" apart up front:
// sigstore-go checks the transparency log first, and would report an
// untrusted signer as a log entry it cannot verify. The full check
// (at the observed timestamps) is still sigstore-go's.
func (p *policy) checkChain(entity verify.SignedEntity, where string) *failure {
	vc, err := entity.VerificationContent()
	if err != nil {
		return &failure{rankUnusable, fmt.Sprintf("%s: %v", where, err)}
	}
	leaf := vc.Certificate()
	if leaf == nil {
		return nil
	}
	c := *leaf
	c.UnhandledCriticalExtensions = nil // Fulcio's OtherName SAN; as sigstore-go does
	var last error
	for _, ca := range p.trust.FulcioCertificateAuthorities() {
		if _, err := ca.Verify(&c, c.NotBefore); err == nil {
			return nil
		} else {
			last = err
		}
	}
	san := ""
	if len(c.EmailAddresses) > 0 {
		san = c.EmailAddresses[0]
	} else if len(c.URIs) > 0 {
		san = c.URIs[0].String()
	}
	return &failure{rankSignature, fmt.Sprintf(
		"%s: untrusted certificate chain: the signing certificate (for %q, issued by %q) does not chain to a Fulcio CA of the trusted root: %v",
		where, san, c.Issuer.String(), last)}
}
