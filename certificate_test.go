package entra

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
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
