package flows

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// assertionLifetime is how long a client assertion built here is valid,
// as MSAL makes its own (exp = nbf + 10 minutes).
const assertionLifetime = 10 * time.Minute

// NewCertificate returns an App authenticating with a client assertion
// signed by key for certs[0], which key must match; certs[1:] is the chain.
// key is an *rsa.PrivateKey or any crypto.Signer with an RSA public key (an
// HSM, a cloud KMS or Key Vault key): every assertion is built here, in the
// form MSAL Go builds it, and signed PS256 through Sign, so the private key
// never has to leave the signer and the signing certificate is always
// certs[0] (MSAL picks the last certificate matching the key). With
// sendX5C the chain is sent in the assertion's x5c header (subject name +
// issuer authentication).
func NewCertificate(cfg Config, certs []*x509.Certificate, key crypto.PrivateKey, sendX5C bool) (*App, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: the key is neither an RSA private key nor a crypto.Signer", ErrConfig)
	}
	a, err := newSignerAssertion(certs, signer, sendX5C)
	if err != nil {
		return nil, err
	}
	return NewAssertion(cfg, func(_ context.Context, tokenEndpoint, clientID string) (string, error) {
		return a.sign(tokenEndpoint, clientID)
	})
}

// CertificateAuth is how a client built per call (a web app's) proves its
// identity with a certificate, as NewCertificate does.
func CertificateAuth(cfg Config, certs []*x509.Certificate, key crypto.PrivateKey, sendX5C bool) (ClientAuth, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return ClientAuth{}, fmt.Errorf("%w: the key is neither an RSA private key nor a crypto.Signer", ErrConfig)
	}
	a, err := newSignerAssertion(certs, signer, sendX5C)
	if err != nil {
		return ClientAuth{}, err
	}
	return AssertionAuth(cfg, func(_ context.Context, tokenEndpoint, clientID string) (string, error) {
		return a.sign(tokenEndpoint, clientID)
	})
}

// NewAssertion returns an App whose client assertion comes from assertion,
// called for every token request with the request's ctx, the token
// endpoint (the assertion's aud) and the client ID (its iss and sub). Use
// it for federated credentials or assertions made elsewhere. The callback
// must be safe for concurrent use. Config.OnAssertion sees every result.
func NewAssertion(cfg Config, assertion func(ctx context.Context, tokenEndpoint, clientID string) (string, error)) (*App, error) {
	auth, err := AssertionAuth(cfg, assertion)
	if err != nil {
		return nil, err
	}
	return newApp(cfg, auth.cred, false)
}

// AssertionAuth is how a client built per call proves its identity with
// assertions from assertion, as NewAssertion does.
func AssertionAuth(cfg Config, assertion func(ctx context.Context, tokenEndpoint, clientID string) (string, error)) (ClientAuth, error) {
	if assertion == nil {
		return ClientAuth{}, fmt.Errorf("%w: assertion callback is required", ErrConfig)
	}
	observe := cfg.OnAssertion
	cred := confidential.NewCredFromAssertionCallback(func(ctx context.Context, o confidential.AssertionRequestOptions) (string, error) {
		a, err := assertion(ctx, o.TokenEndpoint, o.ClientID)
		if err == nil && a == "" {
			err = errors.New("the assertion callback returned an empty assertion")
		}
		if observe != nil {
			observe(ctx, a, err)
		}
		return a, err
	})
	return ClientAuth{cred: cred}, nil
}

// signerAssertion makes private_key_jwt client assertions with a
// crypto.Signer, in the form MSAL Go makes them for Entra: header alg PS256,
// typ JWT, x5t#S256 (standard base64) and optionally x5c; claims aud, exp,
// iss, jti, nbf, sub.
type signerAssertion struct {
	signer     crypto.Signer
	thumbprint string   // x5t#S256 of the signing certificate
	x5c        []string // leaf first; nil unless sendX5C
}

func newSignerAssertion(certs []*x509.Certificate, signer crypto.Signer, sendX5C bool) (*signerAssertion, error) {
	pub, ok := signer.Public().(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: the signer's key is not RSA (Entra verifies client assertions with PS256)", ErrConfig)
	}
	a := &signerAssertion{signer: signer}
	if len(certs) == 0 || certs[0] == nil || !pub.Equal(certs[0].PublicKey) {
		return nil, fmt.Errorf("%w: the key does not match the first certificate", ErrConfig)
	}
	leaf := certs[0]
	var chain []string
	for _, c := range certs[1:] {
		if c != nil {
			chain = append(chain, base64.StdEncoding.EncodeToString(c.Raw))
		}
	}
	sum := sha256.Sum256(leaf.Raw)
	a.thumbprint = base64.StdEncoding.EncodeToString(sum[:])
	if sendX5C {
		a.x5c = append([]string{base64.StdEncoding.EncodeToString(leaf.Raw)}, chain...)
	}
	return a, nil
}

// sign returns an assertion for the token endpoint aud. Safe for concurrent
// use if the signer is.
func (a *signerAssertion) sign(aud, clientID string) (string, error) {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodPS256, jwt.MapClaims{
		"aud": aud, "iss": clientID, "sub": clientID, "jti": uuid.NewString(),
		"nbf": now.Unix(), "exp": now.Add(assertionLifetime).Unix(),
	})
	tok.Header = map[string]any{"alg": "PS256", "typ": "JWT", "x5t#S256": a.thumbprint}
	if a.x5c != nil {
		tok.Header["x5c"] = a.x5c
	}
	signing, err := tok.SigningString()
	if err != nil {
		return "", err
	}
	digest := sha256.Sum256([]byte(signing))
	sig, err := a.signer.Sign(rand.Reader, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	if err != nil {
		return "", fmt.Errorf("signing the client assertion: %w", err)
	}
	if len(sig) == 0 {
		return "", errors.New("signing the client assertion: the signer returned no signature")
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
