package main

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// Blob verification (vdr_verify_blob): one Sigstore bundle, as written by
// `cosign sign-blob --bundle`, checked against the sha256 of a file that
// Rust downloaded and hashed. The file itself never crosses the FFI. The
// policy (keys, or identity + issuer with a trusted root) is newPolicy's,
// the checks are those of registry signatures (checkBundleKey, keyless).
//
// Two bundle formats are read:
//   - a Sigstore bundle (v0.1 to v0.3 JSON; cosign v3's default);
//   - cosign <= v2's own sign-blob bundle: {base64Signature, cert,
//     rekorBundle}, turned into a Sigstore bundle as cosign itself does.

const (
	layoutBlobBundle       = "sigstore-bundle"
	layoutBlobCosignBundle = "cosign-bundle"
	layoutAttestation      = "attestation"
)

type blobVerifyRequest struct {
	verifyRequest
	// Bundles are the candidates, tried in order; any one that verifies is
	// enough.
	Bundles []blobBundle `json:"bundles"`
	// PredicateType, when set, asks for an attestation (GitHub artifact
	// attestations): a DSSE bundle whose in-toto statement has this
	// predicate type and the file's digest as a subject.
	PredicateType string `json:"predicate_type"`
}

// blobBundle is one bundle file: its text, and how messages name it (a
// URL, redacted by Rust, or a release asset).
type blobBundle struct {
	Name   string `json:"name"`
	Bundle string `json:"bundle"`
}

// cosignBlobBundle is cosign <= v2's `sign-blob --bundle` output.
type cosignBlobBundle struct {
	Base64Signature string       `json:"base64Signature"`
	Cert            string       `json:"cert"`
	RekorBundle     *rekorBundle `json:"rekorBundle"`
}

func verifyBlob(oid uint64, reqJSON string) ([]byte, *vdrError) {
	ctx, verr := opContext(oid)
	if verr != nil {
		return nil, verr
	}
	var req blobVerifyRequest
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil {
		return nil, invalidf("bad verify request: %v", err)
	}
	pol, verr := newPolicy(ctx, &req.verifyRequest)
	if verr != nil {
		return nil, verr
	}
	pol.predicateType = req.PredicateType
	if len(req.Bundles) == 0 {
		return nil, invalidf("no bundle to verify")
	}
	if len(req.Bundles) > maxSignatureManifests {
		req.Bundles = req.Bundles[:maxSignatureManifests]
	}
	// As for registry signatures: the first that verifies wins; when none
	// does, the failure that got furthest (the first among equals).
	var best *failure
	for _, b := range req.Bundles {
		out, f := pol.checkOneBlob(b)
		if f == nil {
			return marshalOut(out)
		}
		if best == nil || f.rank > best.rank {
			best = f
		}
	}
	msg := best.msg
	if len(req.Bundles) > 1 {
		msg = fmt.Sprintf("none of the %d bundles verified; most relevant: %s", len(req.Bundles), best.msg)
	}
	return nil, newError(codeVerification, msg)
}

func (p *policy) checkOneBlob(b blobBundle) (*verifyResponse, *failure) {
	where := "bundle " + b.Name
	if len(b.Bundle) > maxSignatureBytes {
		return nil, &failure{rankUnusable, fmt.Sprintf(
			"%s: %d bytes is more than the %d allowed for signature material", where, len(b.Bundle), maxSignatureBytes)}
	}
	sum := sha256.Sum256([]byte(b.Bundle))
	c := candidate{sigDigest: "sha256:" + hex.EncodeToString(sum[:])}
	return p.checkBlob(&c, []byte(b.Bundle), where)
}

func (p *policy) checkBlob(c *candidate, raw []byte, where string) (*verifyResponse, *failure) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, &failure{rankUnusable, fmt.Sprintf("%s: not a Sigstore or cosign bundle (not a JSON object): %v", where, err)}
	}
	if _, ok := probe["mediaType"]; ok {
		c.layout = layoutBlobBundle
		var sb bundle.Bundle
		if err := sb.UnmarshalJSON(raw); err != nil {
			return nil, &failure{rankUnusable, fmt.Sprintf("%s: not a readable Sigstore bundle: %v", where, err)}
		}
		c.bundle = &sb
		if p.predicateType != "" {
			c.layout = layoutAttestation
			if sb.GetDsseEnvelope() == nil {
				return nil, &failure{rankUnusable, fmt.Sprintf(
					"%s: not an attestation (a message signature, no DSSE in-toto statement)", where)}
			}
		}
		// Said plainly before any signature check: the bundle of another file.
		if ms := sb.GetMessageSignature(); ms != nil && ms.GetMessageDigest() != nil &&
			ms.GetMessageDigest().GetAlgorithm() == protocommon.HashAlgorithm_SHA2_256 {
			if got := hex.EncodeToString(ms.GetMessageDigest().GetDigest()); got != p.digest.Digest.Encoded() {
				return nil, &failure{rankClaim, fmt.Sprintf(
					"%s: it signs sha256:%s, not this file (%s): the file was changed after signing, or the bundle is another file's",
					where, got, p.digest.Digest)}
			}
		}
		if len(p.keys) > 0 {
			return p.checkBundleKey(c, where)
		}
		return p.checkBundleKeyless(c, where)
	}
	if _, ok := probe["base64Signature"]; !ok {
		return nil, &failure{rankUnusable, fmt.Sprintf(
			"%s: neither a Sigstore bundle (mediaType) nor a cosign bundle (base64Signature)", where)}
	}
	c.layout = layoutBlobCosignBundle
	var cb cosignBlobBundle
	if err := json.Unmarshal(raw, &cb); err != nil {
		return nil, &failure{rankUnusable, fmt.Sprintf("%s: not a readable cosign bundle: %v", where, err)}
	}
	sig, err := decodeB64(cb.Base64Signature)
	if err != nil || len(sig) == 0 {
		return nil, &failure{rankUnusable, fmt.Sprintf("%s: unreadable base64Signature", where)}
	}
	want, _ := hex.DecodeString(p.digest.Digest.Encoded())
	if len(p.keys) > 0 {
		for _, k := range p.keys {
			err := k.verifier.VerifySignature(bytes.NewReader(sig), nil,
				options.WithDigest(want), options.WithCryptoSignerOpts(crypto.SHA256))
			if err == nil {
				return p.keyResponse(c, k), nil
			}
		}
		return nil, &failure{rankSignature, fmt.Sprintf("%s: %s", where, wrongKeyBlob(len(p.keys)))}
	}
	if cb.Cert == "" {
		return nil, &failure{rankSignature, fmt.Sprintf(
			"%s: signed with a public key, but a certificate identity was asked for (use a key)", where)}
	}
	b, err := cosignBlobToBundle(&cb, sig, want)
	if err != nil {
		return nil, &failure{rankUnusable, fmt.Sprintf("%s: %v", where, err)}
	}
	return p.keyless(c, b, verify.WithArtifactDigest("sha256", want), where)
}

func wrongKeyBlob(n int) string {
	if n == 1 {
		return "the signature does not verify with the given public key (wrong key, or file or bundle tampered with)"
	}
	return fmt.Sprintf("the signature verifies with none of the %d given public keys (wrong keys, or file or bundle tampered with)", n)
}

// cosignBlobToBundle rebuilds a Sigstore bundle from cosign's older blob
// bundle: certificate (cosign writes it base64-encoded PEM), message
// signature over the blob's digest, Rekor entry with its SET.
func cosignBlobToBundle(cb *cosignBlobBundle, sig, sum []byte) (*bundle.Bundle, error) {
	certPEM, err := decodeB64(cb.Cert)
	if err != nil {
		certPEM = []byte(cb.Cert) // some writers keep the PEM as is
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM(certPEM)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("unreadable certificate (cert): %v", err)
	}
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_X509CertificateChain{
				X509CertificateChain: &protocommon.X509CertificateChain{
					Certificates: []*protocommon.X509Certificate{{RawBytes: certs[0].Raw}},
				},
			},
			TimestampVerificationData: &protobundle.TimestampVerificationData{},
		},
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: sum},
			Signature:     sig,
		}},
	}
	if cb.RekorBundle == nil {
		return nil, fmt.Errorf("no rekorBundle: a keyless signature needs its transparency log entry")
	}
	raw, err := json.Marshal(cb.RekorBundle)
	if err != nil {
		return nil, err
	}
	entry, err := legacyTlogEntry(string(raw))
	if err != nil {
		return nil, err
	}
	pb.VerificationMaterial.TlogEntries = []*protorekor.TransparencyLogEntry{entry}
	return bundle.NewBundle(pb)
}
