package entra

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"

	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// errCertificate is the cause of every ParseCertificates error.
var errCertificate = errors.New("entra: invalid certificate")

// ParseCertificates loads a certificate chain and its private key from PEM
// or PKCS#12 (.pfx/.p12) data, for NewClientCertificateCredential.
//
// PEM blocks understood: CERTIFICATE, PRIVATE KEY (PKCS#8), RSA PRIVATE KEY
// (PKCS#1), EC PRIVATE KEY (SEC 1) and ENCRYPTED PRIVATE KEY (PKCS#8
// encrypted with password). PKCS#12 data is decrypted with password. The
// certificate whose public key matches the private key is returned first,
// followed by the others in their original order.
//
// Errors are *Error values with Op "certificate"; they never contain the
// password or key material. Safe for concurrent use.
func ParseCertificates(data, password []byte) ([]*x509.Certificate, crypto.PrivateKey, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, certError("no data")
	}
	var certs []*x509.Certificate
	var key crypto.PrivateKey
	var err error
	if bytes.Contains(data, []byte("-----BEGIN")) {
		certs, key, err = parsePEM(data, password)
	} else {
		certs, key, err = parsePKCS12(data, password)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(certs) == 0 {
		return nil, nil, certError("no certificate found")
	}
	if key == nil {
		return nil, nil, certError("no private key found")
	}
	pub, ok := publicKey(key)
	if !ok {
		return nil, nil, certError("unsupported private key type")
	}
	leaf := -1
	for i, c := range certs {
		if k, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && k.Equal(pub) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		return nil, nil, certError("the private key does not match any certificate")
	}
	ordered := make([]*x509.Certificate, 0, len(certs))
	ordered = append(ordered, certs[leaf])
	ordered = append(ordered, certs[:leaf]...)
	ordered = append(ordered, certs[leaf+1:]...)
	return ordered, key, nil
}

func parsePEM(data, password []byte) ([]*x509.Certificate, crypto.PrivateKey, error) {
	var certs []*x509.Certificate
	var key crypto.PrivateKey
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		var k crypto.PrivateKey
		var err error
		switch block.Type {
		case "CERTIFICATE":
			c, cerr := x509.ParseCertificate(block.Bytes)
			if cerr != nil {
				return nil, nil, certError("a CERTIFICATE block is not a valid X.509 certificate")
			}
			certs = append(certs, c)
			continue
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			if _, legacy := block.Headers["DEK-Info"]; legacy {
				return nil, nil, certError("legacy encrypted PEM (DEK-Info) is not supported: convert the key to encrypted PKCS#8")
			}
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			if _, legacy := block.Headers["DEK-Info"]; legacy {
				return nil, nil, certError("legacy encrypted PEM (DEK-Info) is not supported: convert the key to encrypted PKCS#8")
			}
			k, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			if len(password) == 0 {
				return nil, nil, certError("the private key is encrypted and no password was given")
			}
			k, err = pkcs8.ParsePKCS8PrivateKey(block.Bytes, password)
			if err != nil {
				return nil, nil, certError("cannot decrypt the private key: wrong password or unsupported encryption")
			}
		default:
			continue
		}
		if err != nil {
			return nil, nil, certError("a " + block.Type + " block is not a valid private key")
		}
		if key != nil {
			return nil, nil, certError("more than one private key found")
		}
		key = k
	}
	return certs, key, nil
}

func parsePKCS12(data, password []byte) ([]*x509.Certificate, crypto.PrivateKey, error) {
	k, leaf, chain, err := pkcs12.DecodeChain(data, string(password))
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, nil, certError("cannot decrypt the PKCS#12 data: wrong password")
		}
		return nil, nil, certError("the data is neither PEM nor valid PKCS#12")
	}
	certs := make([]*x509.Certificate, 0, 1+len(chain))
	if leaf != nil {
		certs = append(certs, leaf)
	}
	certs = append(certs, chain...)
	return certs, k, nil
}

// publicKey returns the public half of a supported private key.
func publicKey(k crypto.PrivateKey) (crypto.PublicKey, bool) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey, true
	case *ecdsa.PrivateKey:
		return &k.PublicKey, true
	case ed25519.PrivateKey:
		return k.Public(), true
	}
	return nil, false
}

func certError(desc string) *Error {
	return &Error{Op: "certificate", Code: "invalid_certificate", Description: desc, Err: errCertificate}
}
