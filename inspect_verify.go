package entra

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/entrakit/entra/internal/jwks"
)

// Finding codes of InspectVerified.
const (
	// CodeBadSignature: the signature does not verify with the signing
	// keys the issuer's tenant publishes: forged, altered, or not from
	// this cloud.
	CodeBadSignature FindingCode = "bad-signature"
	// CodeNotVerified: the signature could not be checked (the keys were
	// unreachable, the issuer is not a known cloud's, or the token is
	// Microsoft Graph's, whose header nonce only Graph can verify).
	CodeNotVerified FindingCode = "not-verified"
)

// InspectVerified is InspectWith that also checks the token's signature
// against the keys its issuer's tenant publishes, found through the
// OpenID metadata of the cloud the issuer names: a preset, or
// opts.Cloud (a custom cloud, the emulator). Keys are fetched only from
// that cloud's authority host, never from a host the token merely names.
// Report.Verified is true when the signature verifies; otherwise a
// finding says why (CodeBadSignature, an error, or CodeNotVerified).
// Only the signature (and the signing key's issuer) is checked: the
// report's other findings say what else is wrong. client supplies the
// transport (nil: http.DefaultClient's); ctx bounds the fetches. Safe for
// concurrent use.
func InspectVerified(ctx context.Context, rawToken string, client *http.Client, opts *InspectOptions) (*Report, error) {
	r, err := InspectWith(rawToken, opts)
	if err != nil {
		return nil, err
	}
	var own Cloud
	if opts != nil {
		own = opts.Cloud
	}
	authority := verifyAuthority(r.Issuer, own)
	switch {
	case r.HeaderNonce:
		r.Findings = appendFinding(r.Findings, CodeNotVerified, SeverityInfo,
			"a Microsoft Graph token: the nonce in its header makes its signature verifiable by Graph alone",
			"nothing to do if it goes to Graph; for your API, request a token for your API")
		return r, nil
	case authority == "" || r.TenantID == "":
		r.Findings = appendFinding(r.Findings, CodeNotVerified, SeverityInfo,
			"the issuer is not one of a known cloud's, so its keys were not fetched",
			"for a custom cloud or the emulator, pass its Cloud in InspectOptions (entra inspect --authority-host)")
		return r, nil
	}
	meta := authority + "/" + r.TenantID + "/v2.0/.well-known/openid-configuration"
	_, err = jwks.New(meta, jwks.Options{HTTPClient: client}).Verify(ctx, rawToken)
	switch {
	case err == nil:
		r.Verified = true
	case errors.Is(err, jwks.ErrKeysUnavailable) || ctx.Err() != nil:
		r.Findings = appendFinding(r.Findings, CodeNotVerified, SeverityInfo,
			"the tenant's signing keys could not be fetched from "+authority,
			"check connectivity (and TLS trust) to the authority host, then try again")
	default:
		r.Findings = appendFinding(r.Findings, CodeBadSignature, SeverityError,
			"the signature does not verify with the keys of tenant "+r.TenantID+" ("+oneLine(strings.TrimPrefix(err.Error(), "entra: "), 160)+")",
			"do not trust this token: it was altered, forged, or signed by another cloud or tenant")
	}
	return r, nil
}

// verifyAuthority returns the authority host (an https URL) of the cloud
// whose issuer hosts include iss's host: own first, then the presets; ""
// when none does.
func verifyAuthority(iss string, own Cloud) string {
	host, _ := issuerParts(iss)
	if host == "" {
		return ""
	}
	clouds := append([]*Cloud{&own}, knownClouds[:]...)
	for _, c := range clouds {
		if c.IsZero() {
			continue
		}
		if host == c.issuerHostV1 || host == c.issuerHostV2 || host == strings.TrimPrefix(c.authorityHost, "https://") {
			return c.authorityHost
		}
	}
	return ""
}

// appendFinding adds a finding.
func appendFinding(fs []Finding, code FindingCode, sev Severity, msg, fix string) []Finding {
	return append(fs, Finding{Code: code, Severity: sev, Message: msg, Fix: fix})
}
