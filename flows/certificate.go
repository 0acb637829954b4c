package flows

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// NewCertificate returns an App authenticating with a client assertion
// signed by key (an RSA private key matching one of certs; MSAL signs
// PS256). With sendX5C the chain is sent in the assertion's x5c header
// (subject name + issuer authentication).
func NewCertificate(cfg Config, certs []*x509.Certificate, key crypto.PrivateKey, sendX5C bool) (*App, error) {
	cred, err := confidential.NewCredFromCert(certs, key)
	if err != nil {
		return nil, err
	}
	return newApp(cfg, cred, sendX5C)
}

// NewAssertion returns an App whose client assertion comes from assertion,
// called for every token request with the request's ctx, the token
// endpoint (the assertion's aud) and the client ID (its iss and sub). Use
// it for keys held in an HSM or Key Vault, or federated credentials. The
// callback must be safe for concurrent use.
func NewAssertion(cfg Config, assertion func(ctx context.Context, tokenEndpoint, clientID string) (string, error)) (*App, error) {
	if assertion == nil {
		return nil, fmt.Errorf("%w: assertion callback is required", ErrConfig)
	}
	cred := confidential.NewCredFromAssertionCallback(func(ctx context.Context, o confidential.AssertionRequestOptions) (string, error) {
		return assertion(ctx, o.TokenEndpoint, o.ClientID)
	})
	return newApp(cfg, cred, false)
}
