package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"
)

// httpClient returns the client for Entra: the system's roots, plus the
// CA certificates in caFile (PEM) when given, e.g. the emulator's
// ca_cert_file. On Linux and the BSDs the SSL_CERT_FILE and SSL_CERT_DIR
// variables also replace the system's roots (Go's crypto/x509 reads them).
func httpClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil // entra's default
	}
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--ca-file: cannot read %q: give a PEM file of CA certificates", caFile)}
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, usageError{fmt.Sprintf("--ca-file %q holds no PEM certificate", caFile)}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
