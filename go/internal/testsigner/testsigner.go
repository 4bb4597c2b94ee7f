// Package testsigner makes keyless cosign-style signatures for tests, fully
// offline: its own Fulcio CA (certificates for an email or, as Fulcio issues
// them for CI workflows, a URI identity) with sigstore-go's VirtualSigstore
// as Rekor log and timestamping authority. It writes both the cosign v3
// bundle and the cosign <= v2 .sig layer of a manifest digest, and the
// trusted_root.json that trusts them. Used by go/cmd/testsigner (the
// integration tests) and the Go unit tests of the shim.
package testsigner

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/pki"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/rekor/pkg/types/hashedrekord"
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1" // registers the kind's version
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Output is one signing: both layouts and the roots.
type Output struct {
	// Bundle is the cosign v3 layout: a Sigstore bundle v0.3 (DSSE envelope
	// around an in-toto statement whose subject is the digest).
	Bundle []byte
	// LegacyPayload and LegacyAnnotations are the cosign <= v2 layout: the
	// simplesigning payload and its layer annotations (signature,
	// certificate, chain, Rekor bundle with SET, RFC 3161 timestamp).
	LegacyPayload     []byte
	LegacyAnnotations map[string]string
	// TrustedRoot trusts this signer (Fulcio CA, Rekor, TSA; no CT log, as
	// the test Fulcio issues no SCTs).
	TrustedRoot []byte
	// UntrustedRoot is an unrelated VirtualSigstore's (its own Fulcio CA): it
	// trusts nothing above.
	UntrustedRoot []byte
	// BlobBundle is what `cosign sign-blob --bundle` (v3) writes for a file
	// whose sha256 is the digest: a Sigstore bundle v0.3 with a message
	// signature, a hashedrekord log entry (with SET) and an RFC 3161
	// timestamp.
	BlobBundle []byte
	// BlobLegacyBundle is cosign <= v2's `sign-blob --bundle` file for the
	// same file: base64Signature, cert (base64 PEM) and rekorBundle.
	BlobLegacyBundle []byte
	// Attestation is a GitHub artifact attestation of that file, as
	// actions/attest-build-provenance makes it: a bundle v0.3 with a DSSE
	// envelope around an in-toto statement (subject: the digest, predicate
	// type SLSA provenance v1).
	Attestation []byte
}

// Sign signs digest (sha256:<hex>) for the certificate identity and OIDC
// issuer; name is the repository the claims name. An identity with a scheme
// (https://github.com/OWNER/REPO/.github/workflows/F@REF) is a URI SAN, as
// Fulcio issues for CI workflows; anything else an email SAN.
func Sign(identity, issuer, digest, name string) (*Output, error) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	other, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	f, err := newFulcio()
	if err != nil {
		return nil, err
	}
	var out Output
	if out.TrustedRoot, err = trustedRoot(vs, f.ca); err != nil {
		return nil, err
	}
	if out.UntrustedRoot, err = trustedRoot(other, other.FulcioCertificateAuthorities()[0]); err != nil {
		return nil, err
	}
	if out.Bundle, err = v3Bundle(vs, f, identity, issuer, digest, name, "https://sigstore.dev/cosign/sign/v1", map[string]any{}); err != nil {
		return nil, err
	}
	provenance := map[string]any{"buildDefinition": map[string]any{"buildType": "https://actions.github.io/buildtypes/workflow/v1"}}
	if out.Attestation, err = v3Bundle(vs, f, identity, issuer, digest, name, "https://slsa.dev/provenance/v1", provenance); err != nil {
		return nil, err
	}
	if out.LegacyPayload, out.LegacyAnnotations, err = legacySignature(vs, f, identity, issuer, digest, name); err != nil {
		return nil, err
	}
	if out.BlobBundle, out.BlobLegacyBundle, err = blobBundles(vs, f, identity, issuer, digest); err != nil {
		return nil, err
	}
	return &out, nil
}

// fulcio is the signer's certificate authority. Not VirtualSigstore's own:
// that one issues email SANs only and keeps its key unexported.
type fulcio struct {
	ca  *root.FulcioCertificateAuthority
	key *ecdsa.PrivateKey
}

func newFulcio() (*fulcio, error) {
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		return nil, err
	}
	inter, key, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		return nil, err
	}
	return &fulcio{
		ca: &root.FulcioCertificateAuthority{
			Root:                rootCert,
			Intermediates:       []*x509.Certificate{inter},
			ValidityPeriodStart: time.Now().Add(-5 * time.Hour),
			ValidityPeriodEnd:   time.Now().Add(time.Hour),
			URI:                 "https://fulcio.testsigner.invalid",
		},
		key: key,
	}, nil
}

// Fulcio's OIDC issuer extensions: the original (raw bytes) and its DER
// UTF8String successor; real certificates carry both.
var (
	oidIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
)

// leaf issues a code-signing certificate for identity and issuer, valid for
// the 10 minutes from now (the signatures below are logged 5 minutes in).
func (f *fulcio) leaf(identity, issuer string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	issuerV2, err := asn1.MarshalWithParams(issuer, "utf8")
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    time.Now(),
		NotAfter:     time.Now().Add(10 * time.Minute),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{
			{Id: oidIssuerV1, Value: []byte(issuer)},
			{Id: oidIssuerV2, Value: issuerV2},
		},
	}
	if strings.Contains(identity, "://") {
		u, err := url.Parse(identity)
		if err != nil {
			return nil, nil, fmt.Errorf("identity %q: %w", identity, err)
		}
		tmpl.URIs = []*url.URL{u}
	} else {
		tmpl.EmailAddresses = []string{identity}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.ca.Intermediates[0], &key.PublicKey, f.key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// sign is an ECDSA P-256 / SHA-256 signature of msg, as cosign makes.
func sign(key *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand.Reader, key, h[:])
}

// loggedAt is the integrated time of the log entries: inside the leaf
// certificate's 10 minutes, as VirtualSigstore.Attest does.
func loggedAt() time.Time { return time.Now().Add(5 * time.Minute) }

func trustedRoot(vs *ca.VirtualSigstore, fulcioCA root.CertificateAuthority) ([]byte, error) {
	// VirtualSigstore keys its logs by the hex log id but sets ID to that
	// hex text; a trusted_root.json carries the raw id, so fix it up or the
	// file would not name the log that signed.
	logs := map[string]*root.TransparencyLog{}
	for k, tl := range vs.RekorLogs() {
		raw, err := hex.DecodeString(k)
		if err != nil {
			return nil, err
		}
		c := *tl
		c.ID = raw
		logs[k] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{fulcioCA},
		map[string]*root.TransparencyLog{}, vs.TimestampingAuthorities(), logs)
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}

// v3Bundle is what `cosign sign` (v3) attaches as a referrer (with cosign's
// predicate type), or a GitHub artifact attestation (SLSA provenance).
func v3Bundle(vs *ca.VirtualSigstore, f *fulcio, identity, issuer, digest, name, predicateType string, predicate map[string]any) ([]byte, error) {
	statement, err := json.Marshal(map[string]any{
		"_type": "https://in-toto.io/Statement/v1",
		"subject": []any{map[string]any{
			"name":   name,
			"digest": map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")},
		}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
	if err != nil {
		return nil, err
	}
	cert, key, err := f.leaf(identity, issuer)
	if err != nil {
		return nil, err
	}
	const payloadType = "application/vnd.in-toto+json"
	sig, err := sign(key, dsse.PAE(payloadType, statement))
	if err != nil {
		return nil, err
	}
	env := &dsse.Envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(statement),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	}
	entry, err := vs.GenerateTlogEntry(cert, env, sig, loggedAt().Unix(), true)
	if err != nil {
		return nil, err
	}
	tle, err := protoEntry(entry)
	if err != nil {
		return nil, err
	}
	// The inclusion promise (SET) too, as Rekor v1 gives it: it is what makes
	// the integrated time a verified timestamp (cosign verify requires one).
	set, err := vs.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
		IntegratedTime: tle.IntegratedTime,
		LogIndex:       tle.LogIndex,
		LogID:          hex.EncodeToString(tle.LogId.KeyId),
	})
	if err != nil {
		return nil, err
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	ts, err := vs.TimestampResponse(sig)
	if err != nil {
		return nil, err
	}
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_Certificate{
				Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw},
			},
			TlogEntries:               []*protorekor.TransparencyLogEntry{tle},
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: rfc3161([][]byte{ts})},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     statement,
			PayloadType: payloadType,
			Signatures:  []*protodsse.Signature{{Sig: sig}},
		}},
	}
	b, err := bundle.NewBundle(pb) // validates
	if err != nil {
		return nil, err
	}
	return b.MarshalJSON()
}

func rfc3161(ts [][]byte) []*protocommon.RFC3161SignedTimestamp {
	var out []*protocommon.RFC3161SignedTimestamp
	for _, t := range ts {
		out = append(out, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: t})
	}
	return out
}

// protoEntry completes sigstore-go's entry proto with the kind and version
// of the canonicalized body.
func protoEntry(e *tlog.Entry) (*protorekor.TransparencyLogEntry, error) {
	tle := e.TransparencyLogEntry()
	var kv struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(tle.CanonicalizedBody, &kv); err != nil {
		return nil, err
	}
	tle.KindVersion = &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion}
	return tle, nil
}

// legacySignature is what `cosign sign --new-bundle-format=false` (<= v2
// layout) pushes as one layer of the sha256-<hex>.sig manifest.
func legacySignature(vs *ca.VirtualSigstore, f *fulcio, identity, issuer, digest, name string) ([]byte, map[string]string, error) {
	payload, err := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": name},
			"image":    map[string]string{"docker-manifest-digest": digest},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	})
	if err != nil {
		return nil, nil, err
	}
	cert, key, err := f.leaf(identity, issuer)
	if err != nil {
		return nil, nil, err
	}
	sig, err := sign(key, payload)
	if err != nil {
		return nil, nil, err
	}
	certPEM, err := cryptoutils.MarshalCertificateToPEM(cert)
	if err != nil {
		return nil, nil, err
	}
	chainPEM, err := cryptoutils.MarshalCertificatesToPEM(append(f.ca.Intermediates, f.ca.Root))
	if err != nil {
		return nil, nil, err
	}
	payloadSum := sha256.Sum256(payload)
	body, err := hashedRekord(hex.EncodeToString(payloadSum[:]), sig, certPEM)
	if err != nil {
		return nil, nil, err
	}
	logID, err := vs.RekorLogID()
	if err != nil {
		return nil, nil, err
	}
	rp := tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(body),
		IntegratedTime: loggedAt().Unix(),
		LogIndex:       1000,
		LogID:          logID,
	}
	set, err := vs.RekorSignPayload(rp)
	if err != nil {
		return nil, nil, err
	}
	rekorBundle, err := json.Marshal(map[string]any{
		"SignedEntryTimestamp": base64.StdEncoding.EncodeToString(set),
		"Payload": map[string]any{
			"body":           rp.Body,
			"integratedTime": rp.IntegratedTime,
			"logIndex":       rp.LogIndex,
			"logID":          rp.LogID,
		},
	})
	if err != nil {
		return nil, nil, err
	}
	ts, err := vs.TimestampResponse(sig)
	if err != nil {
		return nil, nil, err
	}
	tsJSON, err := json.Marshal(map[string]string{"SignedRFC3161Timestamp": base64.StdEncoding.EncodeToString(ts)})
	if err != nil {
		return nil, nil, err
	}
	return payload, map[string]string{
		"dev.cosignproject.cosign/signature":   base64.StdEncoding.EncodeToString(sig),
		"dev.sigstore.cosign/certificate":      string(certPEM),
		"dev.sigstore.cosign/chain":            string(chainPEM),
		"dev.sigstore.cosign/bundle":           string(rekorBundle),
		"dev.sigstore.cosign/rfc3161timestamp": string(tsJSON),
	}, nil
}

// hashedRekord is the canonical Rekor hashedrekord v0.0.1 body of a
// signature over the artifact with sha256 sumHex by the certificate's key.
func hashedRekord(sumHex string, sig, certPEM []byte) ([]byte, error) {
	ctx := context.Background()
	pe, err := types.NewProposedEntry(ctx, hashedrekord.KIND, "0.0.1", types.ArtifactProperties{
		ArtifactHash:   sumHex,
		SignatureBytes: sig,
		PublicKeyBytes: [][]byte{certPEM},
		PKIFormat:      string(pki.X509),
	})
	if err != nil {
		return nil, err
	}
	e, err := types.CreateVersionedEntry(pe)
	if err != nil {
		return nil, err
	}
	return types.CanonicalizeEntry(ctx, e)
}

// blobBundles are the two `cosign sign-blob --bundle` files of a blob whose
// sha256 is digest: the v0.3 Sigstore bundle (message signature) and
// cosign <= v2's own bundle format.
func blobBundles(vs *ca.VirtualSigstore, f *fulcio, identity, issuer, digest string) ([]byte, []byte, error) {
	sumHex := strings.TrimPrefix(digest, "sha256:")
	sum, err := hex.DecodeString(sumHex)
	if err != nil || len(sum) != sha256.Size {
		return nil, nil, fmt.Errorf("digest %q is not sha256:<64 hex>", digest)
	}
	cert, key, err := f.leaf(identity, issuer)
	if err != nil {
		return nil, nil, err
	}
	// A signature over the blob is one over its SHA-256 (ECDSA signs the hash).
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum)
	if err != nil {
		return nil, nil, err
	}
	certPEM, err := cryptoutils.MarshalCertificateToPEM(cert)
	if err != nil {
		return nil, nil, err
	}
	body, err := hashedRekord(sumHex, sig, certPEM)
	if err != nil {
		return nil, nil, err
	}
	logID, err := vs.RekorLogID()
	if err != nil {
		return nil, nil, err
	}
	rawLogID, err := hex.DecodeString(logID)
	if err != nil {
		return nil, nil, err
	}
	// Log index 0: the one VirtualSigstore's inclusion proofs are for.
	rp := tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(body),
		IntegratedTime: loggedAt().Unix(),
		LogIndex:       0,
		LogID:          logID,
	}
	set, err := vs.RekorSignPayload(rp)
	if err != nil {
		return nil, nil, err
	}
	proof, err := vs.GetInclusionProof(body)
	if err != nil {
		return nil, nil, err
	}
	entry, err := tlog.NewEntry(body, rp.IntegratedTime, rp.LogIndex, rawLogID, set, proof) //nolint:staticcheck
	if err != nil {
		return nil, nil, err
	}
	tle, err := protoEntry(entry)
	if err != nil {
		return nil, nil, err
	}
	ts, err := vs.TimestampResponse(sig)
	if err != nil {
		return nil, nil, err
	}
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_Certificate{
				Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw},
			},
			TlogEntries:               []*protorekor.TransparencyLogEntry{tle},
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: rfc3161([][]byte{ts})},
		},
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: sum},
			Signature:     sig,
		}},
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, nil, err
	}
	v3, err := b.MarshalJSON()
	if err != nil {
		return nil, nil, err
	}
	legacy, err := json.Marshal(map[string]any{
		"base64Signature": base64.StdEncoding.EncodeToString(sig),
		"cert":            base64.StdEncoding.EncodeToString(certPEM),
		"rekorBundle": map[string]any{
			"SignedEntryTimestamp": base64.StdEncoding.EncodeToString(set),
			"Payload": map[string]any{
				"body":           rp.Body,
				"integratedTime": rp.IntegratedTime,
				"logIndex":       rp.LogIndex,
				"logID":          rp.LogID,
			},
		},
	})
	if err != nil {
		return nil, nil, err
	}
	return v3, legacy, nil
}
