package entratest

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"time"
)

// signingKey is one token-signing key with its self-signed certificate.
type signingKey struct {
	kid  string // = x5t = base64url SHA-1 of the certificate DER
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

// AddSigningKey creates an RSA-2048 key, publishes it in the JWKS and makes
// it the active signer. Safe for concurrent use.
func (s *Server) AddSigningKey() (kid string, err error) {
	k, err := newSigningKey()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.keys = append(s.keys, k)
	s.mu.Unlock()
	return k.kid, nil
}

// RetireSigningKey removes a key from the JWKS; tokens it signed no longer
// verify. It fails for an unknown kid or the last key. Safe for concurrent use.
func (s *Server) RetireSigningKey(kid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.keys {
		if k.kid != kid {
			continue
		}
		if len(s.keys) == 1 {
			return fmt.Errorf("entratest: cannot retire the last signing key")
		}
		s.keys = append(s.keys[:i:i], s.keys[i+1:]...)
		return nil
	}
	return fmt.Errorf("entratest: unknown signing key %q", kid)
}

// SigningKeyIDs returns the published key IDs, oldest first; the last one
// signs new tokens. Safe for concurrent use.
func (s *Server) SigningKeyIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, len(s.keys))
	for i, k := range s.keys {
		ids[i] = k.kid
	}
	return ids
}

func (s *Server) activeKey() *signingKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1]
}

func (s *Server) publishedKey(kid string) *signingKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.kid == kid {
			return k
		}
	}
	return nil
}

// jwks returns the key set; issuer is added to every key when non-empty.
func (s *Server) jwks(issuer string) map[string]any {
	s.mu.Lock()
	keys := append([]*signingKey(nil), s.keys...)
	s.mu.Unlock()
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		m := map[string]any{
			"kty": "RSA",
			"use": "sig",
			"kid": k.kid,
			"x5t": k.kid,
			"n":   base64.RawURLEncoding.EncodeToString(k.key.N.Bytes()),
			"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.key.E)).Bytes()),
			"x5c": []string{base64.StdEncoding.EncodeToString(k.cert.Raw)},
		}
		if issuer != "" {
			m["issuer"] = issuer
		}
		out = append(out, m)
	}
	return map[string]any{"keys": out}
}

func newSigningKey() (*signingKey, error) {
	key, cert, err := newSelfSignedRSA("signing", "accounts.accesscontrol.windows.net", 5*365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(cert.Raw)
	return &signingKey{kid: base64.RawURLEncoding.EncodeToString(sum[:]), key: key, cert: cert}, nil
}
