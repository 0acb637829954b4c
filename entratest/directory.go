package entratest

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// Tenant is an Entra tenant (directory).
type Tenant struct {
	ID          string // GUID
	Domain      string // e.g. contoso.onmicrosoft.com; optional
	DisplayName string
}

// Secret is a client secret of an App.
type Secret struct {
	Value   string
	Expires time.Time // zero = never
}

// App is an app registration (and its service principal) in a tenant.
type App struct {
	ClientID     string // GUID
	DisplayName  string
	Secrets      []Secret
	Certificates []*x509.Certificate // public keys accepted for private_key_jwt
	AppIDURI     string              // e.g. "api://<clientid>"; the bare client ID always works too
	AppRoles     []string            // app roles this app exposes as an API (application permissions)
	Scopes       []string            // delegated scopes it exposes, e.g. "access_as_user"
	// AccessTokenAcceptedVersion is the version of access tokens issued for
	// this app as a resource: 0 (null) or 1 -> v1 tokens; 2 -> v2 tokens.
	AccessTokenAcceptedVersion int
	RedirectURIs               []string
	PublicClient               bool    // public client: no secret needed (device code, auth code)
	Grants                     []Grant // permissions this app holds on other APIs
	// OptionalClaims are the optional access-token claims this app
	// requests as a resource (the manifest's optionalClaims.accessToken):
	// "idtyp" adds idtyp "app" to app-only tokens; "xms_cc" adds the client
	// capabilities ("cp1") of a client that sent them in the claims
	// parameter, which marks the token as CAE-capable. Without them neither
	// claim appears, as in Entra. Microsoft Graph requests both.
	OptionalClaims []string
}

// Grant is a permission an App holds on another API.
type Grant struct {
	Resource        string   // API's client ID or App ID URI (GraphAppID or the Graph URL for Graph)
	AppRoles        []string // application permissions; appear in `roles` only with AdminConsent
	DelegatedScopes []string // consented delegated scopes; requesting others -> AADSTS65001
	AdminConsent    bool
}

// User is a user account.
type User struct {
	Username    string // UPN
	ObjectID    string // generated if empty
	DisplayName string
}

type tenant struct {
	id, domain, name string
	apps             []*app
	appIndex         map[string]*app // appKey(client ID) and appKey(App ID URI) -> app; first registered wins
	users            []*user
}

// appKey is how a client ID or App ID URI is looked up: case-insensitive,
// one trailing "/" ignored.
func appKey(id string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(id), "/"))
}

// indexApp adds a to t's lookup index. s.mu held.
func (t *tenant) indexApp(a *app) {
	if t.appIndex == nil {
		t.appIndex = map[string]*app{}
	}
	for _, k := range []string{appKey(a.ClientID), appKey(a.AppIDURI)} {
		if _, taken := t.appIndex[k]; k != "" && !taken {
			t.appIndex[k] = a
		}
	}
}

type app struct {
	App
	tenantID string
	spOID    string // service principal object ID in its tenant
}

type user struct {
	User
	tenantID string
	personal bool
}

func newGraphApp(graphURL string) *app {
	return &app{
		App: App{
			ClientID:    GraphAppID,
			DisplayName: "Microsoft Graph",
			AppIDURI:    graphURL,
			Scopes: []string{"User.Read", "User.ReadBasic.All", "User.Read.All", "Mail.Read", "Mail.Send",
				"Calendars.Read", "Files.Read", "Files.ReadWrite", "Directory.Read.All", "Group.Read.All", "Application.Read.All",
				"email", "openid", "profile", "offline_access"},
			AppRoles: []string{"User.Read.All", "Mail.Read", "Directory.Read.All", "Group.Read.All",
				"Files.Read.All", "Sites.Read.All", "Application.Read.All", "Calendars.Read"},
			AccessTokenAcceptedVersion: 1,
			OptionalClaims:             []string{"idtyp", "xms_cc"},
		},
	}
}

// AddTenant adds a tenant. Safe for concurrent use.
func (s *Server) AddTenant(t Tenant) error {
	if !isGUID(t.ID) {
		return fmt.Errorf("entratest: tenant ID %q is not a GUID", t.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tenants[strings.ToLower(t.ID)] != nil {
		return fmt.Errorf("entratest: tenant %s already exists", t.ID)
	}
	if t.Domain != "" && s.tenants[strings.ToLower(t.Domain)] != nil {
		return fmt.Errorf("entratest: domain %s already exists", t.Domain)
	}
	s.addTenantLocked(&tenant{id: strings.ToLower(t.ID), domain: t.Domain, name: t.DisplayName})
	return nil
}

func (s *Server) addTenantLocked(t *tenant) {
	s.tenants[strings.ToLower(t.id)] = t
	if t.domain != "" {
		s.tenants[strings.ToLower(t.domain)] = t
	}
	s.tenantList = append(s.tenantList, t)
}

// AddApp registers an app in a tenant. Safe for concurrent use.
func (s *Server) AddApp(tenantID string, a App) error {
	if !isGUID(a.ClientID) {
		return fmt.Errorf("entratest: client ID %q is not a GUID", a.ClientID)
	}
	if a.AccessTokenAcceptedVersion < 0 || a.AccessTokenAcceptedVersion > 2 {
		return fmt.Errorf("entratest: AccessTokenAcceptedVersion %d is not 0, 1 or 2", a.AccessTokenAcceptedVersion)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return fmt.Errorf("entratest: unknown tenant %q", tenantID)
	}
	if other := t.appIndex[appKey(a.ClientID)]; other != nil && strings.EqualFold(other.ClientID, a.ClientID) {
		return fmt.Errorf("entratest: app %s already exists in tenant %s", a.ClientID, t.id)
	}
	a.ClientID = strings.ToLower(a.ClientID)
	a.Secrets = append([]Secret(nil), a.Secrets...)
	a.Certificates = append([]*x509.Certificate(nil), a.Certificates...)
	a.AppRoles = append([]string(nil), a.AppRoles...)
	a.Scopes = append([]string(nil), a.Scopes...)
	a.RedirectURIs = append([]string(nil), a.RedirectURIs...)
	a.OptionalClaims = append([]string(nil), a.OptionalClaims...)
	grants := make([]Grant, len(a.Grants))
	for i, g := range a.Grants {
		g.AppRoles = append([]string(nil), g.AppRoles...)
		g.DelegatedScopes = append([]string(nil), g.DelegatedScopes...)
		grants[i] = g
	}
	a.Grants = grants
	added := &app{App: a, tenantID: t.id, spOID: derivedGUID("sp", t.id, a.ClientID)}
	t.apps = append(t.apps, added)
	t.indexApp(added)
	return nil
}

// AddUser adds a work account, or a personal Microsoft account when tenantID
// is ConsumersTenantID (its oid then has the 00000000-0000-0000-XXXX-XXXXXXXXXXXX
// form). It returns the stored user. Safe for concurrent use.
func (s *Server) AddUser(tenantID string, u User) (User, error) {
	if u.Username == "" {
		return User{}, fmt.Errorf("entratest: user needs a username")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return User{}, fmt.Errorf("entratest: unknown tenant %q", tenantID)
	}
	for _, tt := range s.tenantList {
		for _, other := range tt.users {
			if strings.EqualFold(other.Username, u.Username) {
				return User{}, fmt.Errorf("entratest: user %s already exists", u.Username)
			}
		}
	}
	personal := t.id == ConsumersTenantID
	if u.ObjectID == "" {
		u.ObjectID = newGUID()
		if personal {
			u.ObjectID = "00000000-0000-0000-" + u.ObjectID[19:]
		}
	}
	if u.DisplayName == "" {
		u.DisplayName = strings.SplitN(u.Username, "@", 2)[0]
	}
	t.users = append(t.users, &user{User: u, tenantID: t.id, personal: personal})
	return u, nil
}

// lookupTenant resolves a path segment (GUID, domain or "consumers"); nil
// for unknown tenants and for common/organizations.
func (s *Server) lookupTenant(pathSegment string) *tenant {
	seg := strings.ToLower(pathSegment)
	if seg == "consumers" {
		seg = ConsumersTenantID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenants[seg]
}

// lookupApp finds an app by client ID or App ID URI (Graph by GUID or URL).
// With t nil (common/organizations) or the consumers tenant every tenant is searched.
func (s *Server) lookupApp(t *tenant, clientIDOrURI string) *app {
	id := strings.TrimSpace(clientIDOrURI)
	if id == "" {
		return nil
	}
	if matchesApp(s.graph, id) || strings.EqualFold(strings.TrimSuffix(id, "/"), s.GraphURL()) {
		return s.graph
	}
	key := appKey(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if t != nil {
		if a := t.appIndex[key]; a != nil {
			return a
		}
		if t.id != ConsumersTenantID {
			return nil
		}
	}
	for _, tt := range s.tenantList {
		if a := tt.appIndex[key]; a != nil {
			return a
		}
	}
	return nil
}

// wantsClaim reports whether resource a requests the optional claim name.
func wantsClaim(a *app, name string) bool {
	for _, c := range a.OptionalClaims {
		if strings.EqualFold(c, name) {
			return true
		}
	}
	return false
}

func matchesApp(a *app, id string) bool {
	if strings.EqualFold(a.ClientID, id) {
		return true
	}
	uri := a.AppIDURI
	if uri == "" {
		return false
	}
	return strings.EqualFold(uri, id) || strings.EqualFold(strings.TrimSuffix(uri, "/"), strings.TrimSuffix(id, "/"))
}

// lookupUser finds a user by UPN in t, or (t nil, or consumers) in any tenant.
// Personal accounts are found from any tenant.
func (s *Server) lookupUser(t *tenant, username string) *user {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tt := range s.tenantList {
		if t != nil && tt != t && tt.id != ConsumersTenantID && t.id != ConsumersTenantID {
			continue
		}
		for _, u := range tt.users {
			if strings.EqualFold(u.Username, username) {
				return u
			}
		}
	}
	return nil
}

// tenantUsers returns the users of a tenant in the order added.
func (s *Server) tenantUsers(t *tenant) []*user {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*user(nil), t.users...)
}

// tenantByID returns the tenant with this GUID.
func (s *Server) tenantByID(id string) *tenant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenants[strings.ToLower(id)]
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// derivedGUID returns a stable GUID-shaped hash of its parts.
func derivedGUID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.ToLower(strings.Join(parts, "\x00"))))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return formatGUID(h[:16])
}
