package entra

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

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
// encrypted with password). PKCS#12 data is decrypted with password; when
// it holds several private keys, the one matching its first certificate is
// used. The certificate whose public key matches the private key is
// returned first, followed by the others in their original order. Base64
// text of a .pfx (as Key Vault and environment variables hold it) is
// refused with a hint to decode it first.
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
		switch {
		case errors.Is(err, pkcs12.ErrIncorrectPassword):
			return nil, nil, certErrorHint("cannot decrypt the PKCS#12 data: wrong password",
				"pass the password the .pfx was exported with (an empty password is tried as such)")
		case isBase64Of(data, "PKCS#12"):
			return nil, nil, certErrorHint("the data is the base64 text of a PKCS#12 (.pfx) file, not the file itself",
				"decode the base64 first (base64.StdEncoding.DecodeString, or `base64 -d` in a shell) and pass the decoded bytes")
		case isBase64Of(data, "PEM"):
			return nil, nil, certErrorHint("the data is the base64 text of a PEM file, not the PEM itself",
				"decode the base64 first (base64.StdEncoding.DecodeString, or `base64 -d` in a shell) and pass the decoded bytes")
		case strings.Contains(err.Error(), "expected exactly one key bag"):
			// go-pkcs12's DecodeChain reads one private key only.
			return parseMultiKeyPKCS12(data, password)
		}
		return nil, nil, certErrorHint("the data is neither PEM nor valid PKCS#12",
			"pass the bytes of a .pfx/.p12 file, or PEM text holding a CERTIFICATE and a PRIVATE KEY block")
	}
	certs := make([]*x509.Certificate, 0, 1+len(chain))
	if leaf != nil {
		certs = append(certs, leaf)
	}
	certs = append(certs, chain...)
	return certs, k, nil
}

// hintOneKey tells how to get a PKCS#12 file with one private key.
const hintOneKey = "export only this app's certificate with its private key into its own .pfx " +
	"(e.g. openssl pkcs12 -in all.pfx -nodes, keep one key and its certificate, then openssl pkcs12 -export)"

// parseMultiKeyPKCS12 reads a PKCS#12 file holding several private keys,
// which DecodeChain refuses, and returns its certificates with the key
// that matches the first one. go-pkcs12's only reader of every bag is
// ToPEM (deprecated because its "PRIVATE KEY" blocks hold PKCS#1 or SEC 1
// keys, not PKCS#8, which is how they are parsed here). Files ToPEM cannot
// read get an error that says what to do.
func parseMultiKeyPKCS12(data, password []byte) ([]*x509.Certificate, crypto.PrivateKey, error) {
	//lint:ignore SA1019 the only go-pkcs12 reader of every bag; its key encoding is handled below
	blocks, err := pkcs12.ToPEM(data, string(password))
	if err != nil {
		return nil, nil, certErrorHint("the PKCS#12 file holds more than one private key; entra needs the one for this app", hintOneKey)
	}
	var certs []*x509.Certificate
	var keys []crypto.PrivateKey
	for _, b := range blocks {
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, certError("a certificate in the PKCS#12 file is not a valid X.509 certificate")
			}
			certs = append(certs, c)
		case "PRIVATE KEY":
			var k crypto.PrivateKey
			if rk, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
				k = rk
			} else if ek, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
				k = ek
			} else {
				return nil, nil, certError("a private key in the PKCS#12 file cannot be parsed")
			}
			keys = append(keys, k)
		}
	}
	if len(certs) == 0 {
		return nil, nil, certError("no certificate found")
	}
	for _, k := range keys {
		if pub, ok := publicKey(k); ok {
			if cp, ok := certs[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && cp.Equal(pub) {
				return certs, k, nil
			}
		}
	}
	return nil, nil, certErrorHint(fmt.Sprintf("the PKCS#12 file holds %d private keys and none matches its first certificate", len(keys)), hintOneKey)
}

// isBase64Of reports whether data is base64 text (standard or URL
// alphabet, padded or not, line breaks allowed) whose decoded bytes look
// like kind: "PKCS#12" (a DER SEQUENCE) or "PEM".
func isBase64Of(data []byte, kind string) bool {
	text := strings.Join(strings.Fields(string(data)), "")
	if len(text) < 16 {
		return false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		raw, err := enc.DecodeString(text)
		if err != nil || len(raw) < 2 {
			continue
		}
		if kind == "PEM" {
			return bytes.Contains(raw, []byte("-----BEGIN"))
		}
		return raw[0] == 0x30 // ASN.1 SEQUENCE: a PFX PDU
	}
	return false
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

// certErrorHint is certError with a Hint saying what to do.
func certErrorHint(desc, hint string) *Error {
	e := certError(desc)
	e.Hint = hint
	return e
}
