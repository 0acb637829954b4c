package entra

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// testCert makes a certificate for key's public half, signed by parent
// (self-signed when parent is nil).
func testCert(t *testing.T, cn string, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  parent == nil,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseCertificates(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := testCert(t, "ca", caKey, nil, nil)
	leaf := testCert(t, "leaf", rsaKey, ca, caKey)
	ecLeaf := testCert(t, "ecleaf", ecKey, nil, nil)

	pkcs8DER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	password := []byte("correct horse battery staple")
	encDER, err := pkcs8.MarshalPrivateKey(rsaKey, password, nil)
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := pkcs12.Modern.Encode(rsaKey, leaf, []*x509.Certificate{ca}, string(password))
	if err != nil {
		t.Fatal(err)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	tests := []struct {
		name     string
		data     []byte
		password []byte
		leaf     *x509.Certificate
		chainLen int
	}{
		{"pkcs8, chain first", cat(pemBlock("CERTIFICATE", ca.Raw), pemBlock("CERTIFICATE", leaf.Raw), pemBlock("PRIVATE KEY", pkcs8DER)), nil, leaf, 2},
		{"pkcs1", cat(pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), pemBlock("CERTIFICATE", leaf.Raw)), nil, leaf, 1},
		{"sec1 ec", cat(pemBlock("CERTIFICATE", ecLeaf.Raw), pemBlock("EC PRIVATE KEY", ecDER)), nil, ecLeaf, 1},
		{"encrypted pkcs8", cat(pemBlock("CERTIFICATE", leaf.Raw), pemBlock("ENCRYPTED PRIVATE KEY", encDER)), password, leaf, 1},
		{"pkcs12", pfx, password, leaf, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, key, err := ParseCertificates(tt.data, tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != tt.chainLen {
				t.Errorf("got %d certificates, want %d", len(certs), tt.chainLen)
			}
			if !certs[0].Equal(tt.leaf) {
				t.Errorf("got leaf %q, want %q", certs[0].Subject.CommonName, tt.leaf.Subject.CommonName)
			}
			pub, ok := publicKey(key)
			if !ok || !tt.leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Errorf("returned key does not match the leaf")
			}
		})
	}

	bad := []struct {
		name     string
		data     []byte
		password []byte
		want     string
	}{
		{"empty", nil, nil, "no data"},
		{"no key", pemBlock("CERTIFICATE", leaf.Raw), nil, "no private key"},
		{"no cert", pemBlock("PRIVATE KEY", pkcs8DER), nil, "no certificate"},
		{"mismatch", cat(pemBlock("CERTIFICATE", ecLeaf.Raw), pemBlock("PRIVATE KEY", pkcs8DER)), nil, "does not match"},
		{"two keys", cat(pemBlock("CERTIFICATE", leaf.Raw), pemBlock("PRIVATE KEY", pkcs8DER), pemBlock("EC PRIVATE KEY", ecDER)), nil, "more than one"},
		{"garbage key", cat(pemBlock("CERTIFICATE", leaf.Raw), pemBlock("PRIVATE KEY", []byte("junk"))), nil, "not a valid private key"},
		{"garbage cert", pemBlock("CERTIFICATE", []byte("junk")), nil, "not a valid X.509"},
		{"encrypted, no password", cat(pemBlock("CERTIFICATE", leaf.Raw), pemBlock("ENCRYPTED PRIVATE KEY", encDER)), nil, "no password"},
		{"encrypted, wrong password", cat(pemBlock("CERTIFICATE", leaf.Raw), pemBlock("ENCRYPTED PRIVATE KEY", encDER)), []byte("hunter2-wrong"), "wrong password"},
		{"pkcs12, wrong password", pfx, []byte("hunter2-wrong"), "wrong password"},
		{"not pem nor pkcs12", []byte("hello"), nil, "neither PEM nor"},
	}
	for _, tt := range bad {
		t.Run("reject "+tt.name, func(t *testing.T) {
			certs, key, err := ParseCertificates(tt.data, tt.password)
			if err == nil || certs != nil || key != nil {
				t.Fatalf("got %d certs, key %v, err %v; want an error only", len(certs), key != nil, err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Op != "certificate" {
				t.Fatalf("got %T %v, want *Error Op certificate", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "horse") {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

// p12ContentInfo is PKCS#7 ContentInfo with its [0] content kept whole.
type p12ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"optional"`
}

// p12PDU is the PFX PDU of RFC 7292.
type p12PDU struct {
	Version  int
	AuthSafe p12ContentInfo
	MacData  struct {
		Mac struct {
			Algorithm pkix.AlgorithmIdentifier
			Digest    []byte
		}
		MacSalt    []byte
		Iterations int `asn1:"optional,default:1"`
	}
}

var oidP12Data = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}

// p12Octets returns the OCTET STRING inside a [0] EXPLICIT content.
func p12Octets(t *testing.T, v asn1.RawValue) []byte {
	t.Helper()
	var b []byte
	if _, err := asn1.Unmarshal(v.Bytes, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// p12Content wraps octets as a [0] EXPLICIT OCTET STRING.
func p12Content(t *testing.T, octets []byte) asn1.RawValue {
	t.Helper()
	inner, err := asn1.Marshal(octets)
	if err != nil {
		t.Fatal(err)
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}
}

// p12Safes returns a PFX's authenticated safe.
func p12Safes(t *testing.T, pfx []byte) (p12PDU, []p12ContentInfo) {
	t.Helper()
	var pdu p12PDU
	if _, err := asn1.Unmarshal(pfx, &pdu); err != nil {
		t.Fatal(err)
	}
	var safes []p12ContentInfo
	if _, err := asn1.Unmarshal(p12Octets(t, pdu.AuthSafe.Content), &safes); err != nil {
		t.Fatal(err)
	}
	return pdu, safes
}

// p12Bags returns the safe bags of the unencrypted (data) safe, where
// go-pkcs12 puts the shrouded key bag.
func p12Bags(t *testing.T, safes []p12ContentInfo) (int, []asn1.RawValue) {
	t.Helper()
	for i, s := range safes {
		if s.ContentType.Equal(oidP12Data) {
			var bags []asn1.RawValue
			if _, err := asn1.Unmarshal(p12Octets(t, s.Content), &bags); err != nil {
				t.Fatal(err)
			}
			return i, bags
		}
	}
	t.Fatal("no data safe")
	return 0, nil
}

// multiKeyPFX returns a PKCS#12 file holding certA (first) and certB and
// both private keys, as Windows exports several certificates at once.
// go-pkcs12 writes one key per file and OpenSSL's CLI too, so it is
// built here: keyB's shrouded key bag is spliced into the key safe of a
// file holding keyA, and the MAC (PBMAC1: PBKDF2-HMAC-SHA-256, RFC 9579)
// is recomputed over the new authenticated safe.
func multiKeyPFX(t *testing.T, keyA, keyB crypto.Signer, certA, certB *x509.Certificate, password string) []byte {
	t.Helper()
	a, err := pkcs12.Modern2026.Encode(keyA, certA, []*x509.Certificate{certB}, password)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pkcs12.Modern2026.Encode(keyB, certB, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	pdu, safes := p12Safes(t, a)
	i, bagsA := p12Bags(t, safes)
	_, safesB := p12Safes(t, b)
	_, bagsB := p12Bags(t, safesB)
	merged, err := asn1.Marshal(append(bagsA, bagsB...))
	if err != nil {
		t.Fatal(err)
	}
	safes[i].Content = p12Content(t, merged)
	authSafe, err := asn1.Marshal(safes)
	if err != nil {
		t.Fatal(err)
	}
	pdu.AuthSafe.Content = p12Content(t, authSafe)

	var params struct{ Kdf, MacAlg pkix.AlgorithmIdentifier }
	if _, err := asn1.Unmarshal(pdu.MacData.Mac.Algorithm.Parameters.FullBytes, &params); err != nil {
		t.Fatal(err)
	}
	var kdf struct {
		Salt       []byte
		Iterations int
		KeyLength  int
		Prf        pkix.AlgorithmIdentifier
	}
	if _, err := asn1.Unmarshal(params.Kdf.Parameters.FullBytes, &kdf); err != nil {
		t.Fatal(err)
	}
	macKey, err := pbkdf2.Key(sha256.New, password, kdf.Salt, kdf.Iterations, kdf.KeyLength)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, macKey)
	mac.Write(authSafe)
	pdu.MacData.Mac.Digest = mac.Sum(nil)
	out, err := asn1.Marshal(pdu)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseCertificatesMultiKeyPKCS12(t *testing.T) {
	keyA, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyB, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	certA := testCert(t, "app-a", keyA, nil, nil)
	certB := testCert(t, "app-b", keyB, nil, nil)
	const password = "correct horse battery staple"
	pfx := multiKeyPFX(t, keyA, keyB, certA, certB, password)
	if _, _, _, err := pkcs12.DecodeChain(pfx, password); err == nil || !strings.Contains(err.Error(), "one key bag") {
		t.Fatalf("fixture: DecodeChain: got %v, want its one-key refusal", err)
	}

	certs, key, err := ParseCertificates(pfx, []byte(password))
	if err != nil {
		t.Fatalf("got %v, want the key of the first certificate", err)
	}
	if len(certs) != 2 || !certs[0].Equal(certA) || !certs[1].Equal(certB) {
		t.Errorf("got %d certificates, want app-a then app-b", len(certs))
	}
	if k, ok := key.(*rsa.PrivateKey); !ok || !k.Equal(keyA) {
		t.Errorf("got key %T, want app-a's RSA key", key)
	}
	if _, err := NewClientCertificateCredential("contoso.onmicrosoft.com", "client", certs, key, nil); err != nil {
		t.Errorf("NewClientCertificateCredential: %v", err)
	}

	// No key matches the first certificate: say what to do.
	keyC, _ := rsa.GenerateKey(rand.Reader, 2048)
	certC := testCert(t, "app-c", keyC, nil, nil)
	pfx = multiKeyPFX(t, keyB, keyA, certC, certA, password) // certificates C, A; keys B, A
	_, _, err = ParseCertificates(pfx, []byte(password))
	var e *Error
	if !errors.As(err, &e) || e.Op != "certificate" {
		t.Fatalf("got %v, want an *Error with Op certificate", err)
	}
	if !strings.Contains(e.Description, "2 private keys") || !strings.Contains(e.Hint, "export only") {
		t.Errorf("got %q, want it to count the keys and say to export only this app's", err)
	}
	if strings.Contains(err.Error(), "horse") {
		t.Errorf("error %q contains the password", err)
	}
	if _, _, err := ParseCertificates(pfx, []byte("hunter2-wrong")); err == nil || !strings.Contains(err.Error(), "wrong password") {
		t.Errorf("wrong password: got %v", err)
	}
}

func TestParseCertificatesBase64(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	cert := testCert(t, "app", key, nil, nil)
	pfx, err := pkcs12.Modern.Encode(key, cert, nil, "pw")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemData := append(pemBlock("CERTIFICATE", cert.Raw), pemBlock("PRIVATE KEY", der)...)
	wrapped := func(s string) string { // as `base64 -w 76` writes it
		var b strings.Builder
		for len(s) > 76 {
			b.WriteString(s[:76] + "\n")
			s = s[76:]
		}
		return b.String() + s + "\n"
	}
	tests := []struct {
		name, data, want string
	}{
		{"pfx, one line", base64.StdEncoding.EncodeToString(pfx), "base64 text of a PKCS#12"},
		{"pfx, wrapped", wrapped(base64.StdEncoding.EncodeToString(pfx)), "base64 text of a PKCS#12"},
		{"pfx, URL alphabet", base64.RawURLEncoding.EncodeToString(pfx), "base64 text of a PKCS#12"},
		{"pem", base64.StdEncoding.EncodeToString(pemData), "base64 text of a PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseCertificates([]byte(tt.data), []byte("pw"))
			var e *Error
			if !errors.As(err, &e) || e.Op != "certificate" {
				t.Fatalf("got %v, want an *Error with Op certificate", err)
			}
			if !strings.Contains(e.Description, tt.want) || !strings.Contains(e.Hint, "decode the base64 first") {
				t.Errorf("got %q, want %q and a hint to decode the base64 first", err, tt.want)
			}
		})
	}
	// Decoded as the hint says, it parses.
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(wrapped(base64.StdEncoding.EncodeToString(pfx))), ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseCertificates(raw, []byte("pw")); err != nil {
		t.Errorf("decoded: %v", err)
	}
}
