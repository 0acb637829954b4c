package entra

import (
	"context"
	"crypto"
	"crypto/x509"
	"strings"

	"github.com/entrakit/entra/flows"
)

// ClientAuth is how a confidential client (a web app, a web API) proves
// its identity to Entra: make one with ClientSecret, ClientCertificate or
// ClientAssertion. The zero value is not valid. A ClientAuth is an
// immutable value, safe to share.
type ClientAuth struct {
	secret    string
	certs     []*x509.Certificate
	key       crypto.PrivateKey
	assertion func(ctx context.Context) (string, error)
}

// ClientSecret authenticates with a client secret (its Value in the app
// registration).
func ClientSecret(secret string) ClientAuth { return ClientAuth{secret: secret} }

// ClientCertificate authenticates with a certificate, as
// NewClientCertificateCredential does: certs[0] must match key, an RSA key
// or crypto.Signer.
func ClientCertificate(certs []*x509.Certificate, key crypto.PrivateKey) ClientAuth {
	return ClientAuth{certs: append([]*x509.Certificate(nil), certs...), key: key}
}

// ClientAssertion authenticates with assertions made by assertion (a
// federated token, a JWT signed elsewhere), as
// NewClientAssertionCredential does.
func ClientAssertion(assertion func(ctx context.Context) (string, error)) ClientAuth {
	return ClientAuth{assertion: assertion}
}

// flowAuth validates a and builds its flows form.
func (a ClientAuth) flowAuth(cfg flows.Config, s settings) (flows.ClientAuth, error) {
	switch {
	case a.assertion != nil:
		return flows.AssertionAuth(cfg, func(ctx context.Context, _, _ string) (string, error) { return a.assertion(ctx) })
	case a.certs != nil || a.key != nil:
		if err := checkCertificate(a.certs, a.key); err != nil {
			return flows.ClientAuth{}, err
		}
		return flows.CertificateAuth(cfg, a.certs, a.key, s.sendCertificateChain)
	case strings.TrimSpace(a.secret) != "":
		return flows.SecretAuth(a.secret)
	}
	return flows.ClientAuth{}, configErrorHint("pass entra.ClientSecret(value), entra.ClientCertificate(certs, key) or entra.ClientAssertion(f)",
		"no client credential given (an empty secret, or a zero ClientAuth)")
}
