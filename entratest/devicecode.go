package entratest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Device codes.
//
// POST /{tenant}/oauth2/v2.0/devicecode returns a user_code (8 characters from
// an alphabet without look-alikes: no 0/O, 1/I/L, no vowels) and an opaque
// device_code that live 900 s, with interval 5. Polling answers (HTTP 400):
//
//	pending, polled again less than interval/2 (2.5 s) after the
//	previous poll of the same code         slow_down              AADSTS70016
//	pending otherwise                      authorization_pending  AADSTS70016
//	declined (DeclineDeviceCode)           authorization_declined AADSTS70000
//	past expires_in                        expired_token          AADSTS70020
//	unknown device_code                    bad_verification_code  AADSTS70018
//	already redeemed                       invalid_grant          AADSTS70000
//
// slow_down only ever replaces authorization_pending: an approved, declined or
// expired code is answered at once however fast it is polled. MSAL Go (which
// ignores interval, polls after 50 ms, 150 ms, 450 ms, ... up to 5 s) treats
// slow_down exactly like authorization_pending, so it is never broken by it;
// x/oauth2 adds 5 s to its interval, as RFC 8628 asks. The interval/2 margin
// keeps a client that honours the interval (with timer jitter) from ever
// seeing slow_down.

const (
	deviceCodeLifetime = 900 * time.Second
	deviceCodeInterval = 5 // seconds
	userCodeAlphabet   = "BCDFGHJKMNPQRSTVWXZ23456789"
	userCodeLength     = 8
)

type deviceState int

const (
	devicePending deviceState = iota
	deviceApproved
	deviceDeclined
	deviceRedeemed
)

// deviceCode is the server-side record of one device authorization.
type deviceCode struct {
	userCode string
	clientID string
	tenantID string // set when the path named a tenant; else set on approval
	scope    string // scope of the devicecode request, as sent
	expires  time.Time
	state    deviceState
	username string // approved user
	signIn   uint64 // policy epoch of the approval (the sign-in)
	lastPoll time.Time
}

// deviceStore holds device codes by device_code, with an index by user_code.
// Safe for concurrent use; the mutex is never held across I/O.
type deviceStore struct {
	mu     sync.Mutex
	m      map[string]*deviceCode // by device_code
	byUser map[string]string      // user_code -> device_code
	adds   int                    // adds since the last sweep
}

// add stores a new device authorization and returns (device_code, user_code).
func (ds *deviceStore) add(now time.Time, d deviceCode) (string, string, error) {
	dc, err := opaqueValue(48)
	if err != nil {
		return "", "", err
	}
	d.expires = now.Add(deviceCodeLifetime)
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.m == nil {
		ds.m = make(map[string]*deviceCode)
		ds.byUser = make(map[string]string)
	}
	if ds.adds++; ds.adds >= 256 { // bounded: codes live 15 minutes
		ds.adds = 0
		for k, e := range ds.m {
			if now.Sub(e.expires) > time.Hour {
				delete(ds.byUser, e.userCode)
				delete(ds.m, k)
			}
		}
	}
	for {
		uc, err := randomUserCode()
		if err != nil {
			return "", "", err
		}
		if _, taken := ds.byUser[uc]; !taken {
			d.userCode = uc
			break
		}
	}
	ds.m[dc] = &d
	ds.byUser[d.userCode] = dc
	return dc, d.userCode, nil
}

// normalizeUserCode upper-cases a user code and drops spaces and dashes, so
// "abcd-1234" matches "ABCD1234".
func normalizeUserCode(uc string) string {
	uc = strings.ToUpper(uc)
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, uc)
}

// byUserCode returns a copy of the pending record of a user code.
func (ds *deviceStore) byUserCode(now time.Time, userCode string) (deviceCode, error) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	d, err := ds.lookupUserLocked(now, userCode)
	if err != nil {
		return deviceCode{}, err
	}
	return *d, nil
}

func (ds *deviceStore) lookupUserLocked(now time.Time, userCode string) (*deviceCode, error) {
	dc, ok := ds.byUser[normalizeUserCode(userCode)]
	if !ok {
		return nil, errors.New("entratest: unknown device user code")
	}
	d := ds.m[dc]
	switch {
	case !now.Before(d.expires):
		return nil, errors.New("entratest: device code expired")
	case d.state != devicePending:
		return nil, errors.New("entratest: device code already approved or declined")
	}
	return d, nil
}

// decide approves (username != "") or declines (username == "") a pending
// user code. tenantID is the approving user's tenant.
func (ds *deviceStore) decide(now time.Time, userCode, tenantID, username string, signIn uint64) error {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	d, err := ds.lookupUserLocked(now, userCode)
	if err != nil {
		return err
	}
	if username == "" {
		d.state = deviceDeclined
		return nil
	}
	d.state = deviceApproved
	d.signIn = signIn
	d.username = username
	d.tenantID = tenantID
	return nil
}

// poll answers one token poll for device_code from clientID. On success it
// marks the code redeemed and returns a copy of the record.
func (ds *deviceStore) poll(now time.Time, deviceCodeValue, clientID string) (deviceCode, *oauthError) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	d, ok := ds.m[deviceCodeValue]
	if !ok {
		return deviceCode{}, newOAuthError(http.StatusBadRequest, "bad_verification_code", 70018,
			"Invalid verification code. The device_code is not one this server issued.")
	}
	if !strings.EqualFold(d.clientID, clientID) {
		return deviceCode{}, newOAuthError(http.StatusBadRequest, "invalid_grant", 70000,
			"The provided value for the 'device_code' is not valid: it was issued to another client.")
	}
	last := d.lastPoll
	d.lastPoll = now
	switch {
	case d.state == deviceRedeemed:
		return deviceCode{}, newOAuthError(http.StatusBadRequest, "invalid_grant", 70000,
			"The provided value for the 'device_code' is not valid: it was already redeemed.")
	case !now.Before(d.expires):
		return deviceCode{}, newOAuthError(http.StatusBadRequest, "expired_token", 70020,
			"The provided device code has expired. Restart the device code flow.")
	case d.state == deviceDeclined:
		return deviceCode{}, newOAuthError(http.StatusBadRequest, "authorization_declined", 70000,
			"The end user declined the authorization request.")
	case d.state == devicePending && !last.IsZero() && now.Sub(last) < deviceCodeInterval*time.Second/2:
		return deviceCode{}, newOAuthError(http.StatusBadRequest, "slow_down", 70016,
			"OAuth 2.0 device flow error. Polling faster than the interval of %d seconds; slow down.", deviceCodeInterval)
	case d.state == devicePending:
		return deviceCode{}, newOAuthError(http.StatusBadRequest, "authorization_pending", 70016,
			"OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
	}
	d.state = deviceRedeemed
	return *d, nil
}

// randomUserCode returns userCodeLength characters of userCodeAlphabet,
// uniformly (rejection sampling).
func randomUserCode() (string, error) {
	const limit = 256 - 256%len(userCodeAlphabet)
	out := make([]byte, 0, userCodeLength)
	var buf [16]byte
	for len(out) < userCodeLength {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("entratest: random: %w", err)
		}
		for _, c := range buf {
			if int(c) < limit && len(out) < userCodeLength {
				out = append(out, userCodeAlphabet[int(c)%len(userCodeAlphabet)])
			}
		}
	}
	return string(out), nil
}

// handleDeviceCode serves POST /{tenant}/oauth2/v2.0/devicecode.
func (s *Server) handleDeviceCode(w http.ResponseWriter, r *http.Request) {
	body, e := s.deviceCodeCall(w, r)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	s.writeJSON(w, r, http.StatusOK, body)
}

func (s *Server) deviceCodeCall(w http.ResponseWriter, r *http.Request) (map[string]any, *oauthError) {
	form, e := s.parseForm(w, r)
	if e != nil {
		return nil, e
	}
	seg := r.PathValue("tenant")
	t, e := s.pathTenant(seg, true)
	if e != nil {
		return nil, e
	}
	clientID := strings.TrimSpace(form.Get("client_id"))
	if clientID == "" {
		return nil, errMissingParam("client_id")
	}
	client := s.lookupClient(t, clientID)
	if client == nil || client == s.graph {
		return nil, newOAuthError(http.StatusBadRequest, "unauthorized_client", 700016,
			"Application with identifier '%s' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant.",
			sanitize(clientID, 64))
	}
	scopeTenant := t
	if scopeTenant == nil {
		scopeTenant = s.tenantByID(client.tenantID)
	}
	req := &tokenRequest{r: r, form: form, tenant: scopeTenant, tenantPath: seg, grant: "device_code", client: client}
	if _, e := s.resolveScopes(req, form.Get("scope")); e != nil {
		return nil, e
	}
	d := deviceCode{clientID: client.ClientID, scope: form.Get("scope")}
	if t != nil {
		d.tenantID = t.id
	}
	var auto *user
	if name := s.user.autoApproveName(); name != "" {
		if auto = s.lookupUser(t, name); auto == nil {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_request", 50034,
				"The user account '%s' (entratest auto-approve user) does not exist in the directory.", sanitize(name, 128))
		}
		d.state, d.username, d.tenantID, d.signIn = deviceApproved, auto.Username, auto.tenantID, s.signInEpoch()
	}
	dc, uc, err := s.user.devices.add(s.now(), d)
	if err != nil {
		return nil, serverError("could not create a device code")
	}
	verify := "https://microsoft.com/devicelogin"
	return map[string]any{
		"user_code":        uc,
		"device_code":      dc,
		"verification_uri": verify,
		"expires_in":       int64(deviceCodeLifetime / time.Second),
		"interval":         deviceCodeInterval,
		"message": fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.",
			verify, uc),
	}, nil
}

// deviceCodeGrant answers a device-code poll (grant_type device_code or
// urn:ietf:params:oauth:grant-type:device_code).
func (s *Server) deviceCodeGrant(req *tokenRequest) (map[string]any, *oauthError) {
	dcv := req.form.Get("device_code")
	if dcv == "" {
		return nil, errMissingParam("device_code")
	}
	if e := s.authenticateClient(req); e != nil {
		return nil, e
	}
	d, e := s.user.devices.poll(s.now(), dcv, req.client.ClientID)
	if e != nil {
		return nil, e
	}
	t := s.tenantByID(d.tenantID)
	u := s.lookupUser(t, d.username)
	if t == nil || u == nil {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_grant", 50034,
			"The user account that approved this device code no longer exists in the directory.")
	}
	req.tenant = t
	raw := req.form.Get("scope")
	if strings.TrimSpace(raw) == "" {
		raw = d.scope
	}
	rs, e := s.resolveScopes(req, raw)
	if e != nil {
		return nil, e
	}
	return s.issueUserTokens(req, userGrant{tenant: t, user: u, rs: rs, oidc: rs.oidc, signIn: d.signIn})
}

// ApproveDeviceCode signs username in for a pending device code, as the user
// would on the verification page; the next poll gets the tokens. userCode is
// matched case-insensitively, ignoring dashes and spaces. Safe for
// concurrent use.
func (s *Server) ApproveDeviceCode(userCode, username string) error {
	if username == "" {
		return errors.New("entratest: ApproveDeviceCode needs a username")
	}
	d, err := s.user.devices.byUserCode(s.now(), userCode)
	if err != nil {
		return err
	}
	var t *tenant
	if d.tenantID != "" {
		t = s.tenantByID(d.tenantID)
	}
	u := s.lookupUser(t, username)
	if u == nil {
		return fmt.Errorf("entratest: user %q not found in the device code's tenant", sanitize(username, 128))
	}
	return s.user.devices.decide(s.now(), userCode, u.tenantID, u.Username, s.signInEpoch())
}

// DeclineDeviceCode refuses a pending device code, as the user would on the
// verification page; the next poll gets authorization_declined. Safe for
// concurrent use.
func (s *Server) DeclineDeviceCode(userCode string) error {
	return s.user.devices.decide(s.now(), userCode, "", "", 0)
}

// handleDeviceApprove serves POST /emulator/devicecode/approve (form
// user_code, username): the emulator's stand-in for the verification page.
func (s *Server) handleDeviceApprove(w http.ResponseWriter, r *http.Request) {
	form, e := s.parseForm(w, r)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	uc, name := form.Get("user_code"), form.Get("username")
	switch {
	case uc == "":
		s.writeError(w, r, errMissingParam("user_code"))
		return
	case name == "":
		s.writeError(w, r, errMissingParam("username"))
		return
	}
	if err := s.ApproveDeviceCode(uc, name); err != nil {
		s.writeError(w, r, newOAuthError(http.StatusBadRequest, "invalid_grant", 0, "%s", err.Error()))
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"status": "approved", "user_code": normalizeUserCode(uc)})
}
