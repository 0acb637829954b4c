package entratest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"

	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Server is an Entra ID emulator serving HTTPS on its own fresh CA, like
// net/http/httptest.Server. All its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, "https://127.0.0.1:PORT"; it is the authority host.
	URL string

	opts  Options
	cloud cloudInfo
	host  string // host:port of URL

	httpServer *http.Server
	listener   net.Listener
	caPEM      []byte
	caCert     *x509.Certificate
	transport  *http.Transport // shared by every Client
	closeOnce  sync.Once

	bodyTimeoutNS atomic.Int64 // body read bound in ns; 0 = defaultBodyTimeout

	// grants is filled in NewServer before serving and read-only afterwards.
	grants map[string]grantHandler

	mu          sync.Mutex         // guards everything below; never held across I/O
	tenants     map[string]*tenant // key: lower-case GUID or domain
	tenantList  []*tenant
	graph       *app
	keys        []*signingKey // published keys; the last one signs
	faults      map[Endpoint][]*Fault
	counts      map[Endpoint]int
	grantCounts map[string]int
	log         []Request

	// user holds the state of the user flows (authorize, codes, refresh
	// tokens, device codes). Its type is defined in usergrants.go, owned by
	// the user-flow half of the package; registerUserGrants initialises it.
	user userState

	// policy holds MFA rules, queued claims challenges and revocations
	// (interaction.go), under its own mutex.
	policy policyState
}

// NewServer starts an emulator. opts may be nil. The caller must Close it.
func NewServer(opts *Options) (*Server, error) {
	s := &Server{
		tenants:     map[string]*tenant{},
		grants:      map[string]grantHandler{},
		faults:      map[Endpoint][]*Fault{},
		counts:      map[Endpoint]int{},
		grantCounts: map[string]int{},
	}
	if opts != nil {
		s.opts = *opts
	}
	ci, ok := cloudInfoFor(s.opts.cloud())
	if !ok {
		return nil, fmt.Errorf("entratest: unknown cloud %q", s.opts.Cloud)
	}
	s.cloud = ci
	s.graph = newGraphApp(ci.graphURL)
	s.addTenantLocked(&tenant{id: ConsumersTenantID, name: "Microsoft Accounts"})
	if _, err := s.AddSigningKey(); err != nil {
		return nil, err
	}
	tlsCert, err := s.newTLSIdentity()
	if err != nil {
		return nil, err
	}
	s.registerGrant("client_credentials", s.clientCredentialsGrant)
	s.registerUserGrants()

	ln, err := net.Listen("tcp", s.opts.addr())
	if err != nil {
		return nil, fmt.Errorf("entratest: listen: %w", err)
	}
	s.listener = ln
	s.host = reachableHost(ln.Addr())
	s.URL = "https://" + s.host
	s.httpServer = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// The body is bounded per request (setBodyDeadline), not by
		// ReadTimeout, whose deadline would also cancel slow handlers.
		IdleTimeout: 90 * time.Second,
		TLSConfig:   &tls.Config{Certificates: []tls.Certificate{tlsCert}, MinVersion: tls.VersionTLS12},
		ErrorLog:    log.New(io.Discard, "", 0),
	}
	s.transport = &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	tl := tls.NewListener(ln, s.httpServer.TLSConfig)
	go func() { _ = s.httpServer.Serve(tl) }()
	return s, nil
}

// NewTestServer starts an emulator for a test; it calls t.Fatal on error and
// closes the server when the test ends.
func NewTestServer(t testing.TB, opts *Options) *Server {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Close shuts the server down, ending open connections. Safe to call twice.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.httpServer.Shutdown(ctx); err != nil {
			_ = s.httpServer.Close()
		}
		s.transport.CloseIdleConnections()
	})
}

// CACertPEM returns the PEM of the CA that signed the server certificate.
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.caPEM...) }

// CertPool returns a new pool holding only the server's CA.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.caCert)
	return p
}

// Client returns a new HTTP client that trusts the server's CA (and only
// it). Clients share one transport; changing the returned Client's fields
// affects only that Client.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: s.transport, Timeout: 30 * time.Second}
}

// Authority returns s.URL + "/" + tenant.
func (s *Server) Authority(tenant string) string { return s.URL + "/" + tenant }

// JWKSURL returns the v2 signing-key URL of a tenant.
func (s *Server) JWKSURL(tenant string) string { return s.URL + "/" + tenant + "/discovery/v2.0/keys" }

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// reachableHost returns the host:port clients use to reach a listener: an
// unspecified address (0.0.0.0 or ::, listening on every interface) is
// reached on 127.0.0.1, which the server certificate names.
func reachableHost(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok && (ta.IP == nil || ta.IP.IsUnspecified()) {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(ta.Port))
	}
	return a.String()
}

// newTLSIdentity makes a fresh ECDSA CA and a leaf for 127.0.0.1, ::1 and localhost.
func (s *Server) newTLSIdentity() (tls.Certificate, error) {
	fail := func(err error) (tls.Certificate, error) {
		return tls.Certificate{}, fmt.Errorf("entratest: tls identity: %w", err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fail(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "entratest CA " + newGUID()[:8]},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fail(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fail(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fail(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(9 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return fail(err)
	}
	s.caCert = caCert
	s.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}, nil
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// newGUID returns a random version-4 UUID in its canonical form.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatGUID(b[:])
}

// formatGUID formats 16 bytes as 8-4-4-4-12 hex.
func formatGUID(b []byte) string {
	h := hex.EncodeToString(b[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
