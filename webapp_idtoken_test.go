package entra

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/entrakit/entra/entratest"
	"github.com/entrakit/entra/internal/entrahttp"
)

// Fixed values of the fake OpenID provider's tenant and app.
const (
	opTenant    = "11111111-2222-4333-8444-555555555555"
	opOther     = "99999999-8888-4777-8666-555555555555"
	opClientID  = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	opNonce     = "nonce-of-this-sign-in-0123456789abcdefghijk"
	opIssuerFmt = "https://login.microsoftonline.com/%s/v2.0"
)

var (
	opKeysOnce sync.Once
	opKeys     [2]*rsa.PrivateKey // [0] the provider's, [1] an attacker's
)

func opKey(i int) *rsa.PrivateKey {
	opKeysOnce.Do(func() {
		for i := range opKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			opKeys[i] = k
		}
	})
	return opKeys[i]
}

// fakeOP is an OpenID provider the test controls: its metadata at
// /<tenant>/v2.0/.well-known/openid-configuration names issuer and a
// jwks_uri serving one RS256 key, kid "k1", optionally carrying Entra's
// per-key issuer.
type fakeOP struct {
	srv       *httptest.Server
	issuer    string // the metadata's issuer; may hold {tenantid}
	keyIssuer string // the key's "issuer"; "" for none
}

func newFakeOP(t testing.TB, tenant, issuer, keyIssuer string) *fakeOP {
	t.Helper()
	op := &fakeOP{issuer: issuer, keyIssuer: keyIssuer}
	mux := http.NewServeMux()
	mux.HandleFunc("/"+tenant+"/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": op.issuer, "jwks_uri": op.srv.URL + "/" + tenant + "/discovery/v2.0/keys"})
	})
	mux.HandleFunc("/"+tenant+"/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		jwk, _ := jose.JSONWebKey{Key: &opKey(0).PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}.MarshalJSON()
		var m map[string]any
		json.Unmarshal(jwk, &m)
		if op.keyIssuer != "" {
			m["issuer"] = op.keyIssuer
		}
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{m}})
	})
	op.srv = httptest.NewTLSServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

// checker returns the id token checker of app opClientID in tenant, with
// the provider as authority host, at clock's time.
func (op *fakeOP) checker(t testing.TB, tenant string, clock Clock) *idTokenChecker {
	t.Helper()
	cloud, err := Public.WithAuthorityHost(op.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := (&Options{Cloud: cloud, HTTPClient: op.srv.Client(), Clock: clock}).resolve()
	return newIDTokenChecker(s, tenant, opClientID, entrahttp.New(entrahttp.Options{Base: op.srv.Client()}))
}

// signJWT signs claims with key under alg, naming kid.
func signJWT(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// unsignedJWT returns header.payload.sig, encoded, signed by nobody.
func unsignedJWT(header, claims map[string]any, sig string) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "." + sig
}

// goodClaims are the claims of a valid id token of tenant at now.
func goodClaims(tenant string, now time.Time) map[string]any {
	return map[string]any{
		"iss": strings.Replace(opIssuerFmt, "%s", tenant, 1), "aud": opClientID, "tid": tenant,
		"oid": "0a0b0c0d-0000-4000-8000-000000000001", "nonce": opNonce, "ver": "2.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"preferred_username": "alice@contoso.example",
	}
}

func with(c map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// assertRefused checks err is ErrInvalidIDToken and shows no part of raw.
func assertRefused(t *testing.T, err error, raw string) {
	t.Helper()
	if !errors.Is(err, ErrInvalidIDToken) {
		t.Fatalf("got %v, want ErrInvalidIDToken", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != "invalid_id_token" {
		t.Errorf("got %#v, want an *Error with Code invalid_id_token", err)
	}
	msg := err.Error()
	for _, part := range strings.Split(raw, ".") {
		if len(part) >= 16 && strings.Contains(msg, part) {
			t.Fatalf("error shows the token: %s", msg)
		}
	}
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "entra: ") {
		t.Errorf("error is not one line starting with entra: %q", msg)
	}
}

func TestIDTokenRefusals(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_760_000_000, 0)
	good := goodClaims(opTenant, now)
	rs := func(c map[string]any) func(t *testing.T) string {
		return func(t *testing.T) string { return signJWT(t, jose.RS256, opKey(0), "k1", c) }
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&opKey(0).PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	cases := []struct {
		name string
		raw  func(t *testing.T) string
		ok   bool
	}{
		{"valid", rs(good), true},
		{"expired within the 5 minutes of skew", rs(with(good, "exp", now.Add(-4*time.Minute).Unix())), true},
		{"nbf and iat 4 minutes ahead", rs(with(good, "nbf", now.Add(4*time.Minute).Unix(), "iat", now.Add(4*time.Minute).Unix())), true},
		{"two audiences, azp is the app", rs(with(good, "aud", []string{opClientID, "other-app"}, "azp", opClientID)), true},

		{"empty", func(*testing.T) string { return "" }, false},
		{"bad signature", func(t *testing.T) string {
			raw := rs(good)(t)
			i := strings.LastIndex(raw, ".") + 10
			b := []byte(raw)
			b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
			return string(b)
		}, false},
		{"payload altered after signing", func(t *testing.T) string {
			parts := strings.Split(rs(good)(t), ".")
			p, _ := json.Marshal(with(good, "oid", "another-user"))
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
		}, false},
		{"signed by an unknown key under the provider's kid", func(t *testing.T) string {
			return signJWT(t, jose.RS256, opKey(1), "k1", good)
		}, false},
		{"signed by an unknown key and kid", func(t *testing.T) string {
			return signJWT(t, jose.RS256, opKey(1), "attacker", good)
		}, false},
		{"no kid", func(t *testing.T) string { return signJWT(t, jose.RS256, opKey(0), "", good) }, false},
		{"alg none, no signature", func(*testing.T) string {
			return unsignedJWT(map[string]any{"alg": "none", "kid": "k1", "typ": "JWT"}, good, "")
		}, false},
		{"alg none, some signature", func(*testing.T) string {
			return unsignedJWT(map[string]any{"alg": "none", "kid": "k1", "typ": "JWT"}, good, "c2ln")
		}, false},
		{"HS256 keyed with the public key", func(t *testing.T) string { return signJWT(t, jose.HS256, pubPEM, "k1", good) }, false},
		{"HS256 keyed with the public key DER", func(t *testing.T) string { return signJWT(t, jose.HS256, pubDER, "k1", good) }, false},
		{"PS256 by the provider's key", func(t *testing.T) string { return signJWT(t, jose.PS256, opKey(0), "k1", good) }, false},
		{"wrong nonce", rs(with(good, "nonce", "nonce-of-another-sign-in")), false},
		{"no nonce", rs(with(good, "nonce", nil)), false},
		{"wrong audience", rs(with(good, "aud", "another-app")), false},
		{"no audience", rs(with(good, "aud", nil)), false},
		{"audience of another type", rs(with(good, "aud", 42)), false},
		{"two audiences, no azp", rs(with(good, "aud", []string{opClientID, "other-app"})), false},
		{"two audiences, azp another app", rs(with(good, "aud", []string{opClientID, "other-app"}, "azp", "other-app")), false},
		{"another tenant's issuer and tid", rs(with(good, "iss", strings.Replace(opIssuerFmt, "%s", opOther, 1), "tid", opOther)), false},
		{"another tenant's issuer", rs(with(good, "iss", strings.Replace(opIssuerFmt, "%s", opOther, 1))), false},
		{"issuer of another cloud", rs(with(good, "iss", "https://login.microsoftonline.us/"+opTenant+"/v2.0")), false},
		{"issuer of the China cloud", rs(with(good, "iss", "https://login.partner.microsoftonline.cn/"+opTenant+"/v2.0")), false},
		{"no issuer", rs(with(good, "iss", nil)), false},
		{"v1 token", rs(with(good, "ver", "1.0", "iss", "https://sts.windows.net/"+opTenant+"/")), false},
		{"ver 1.0 with the v2 issuer", rs(with(good, "ver", "1.0")), false},
		{"no ver", rs(with(good, "ver", nil)), false},
		{"no tid", rs(with(good, "tid", nil)), false},
		{"expired", rs(with(good, "exp", now.Add(-6*time.Minute).Unix())), false},
		{"expired long ago", rs(with(good, "exp", 1)), false},
		{"no exp", rs(with(good, "exp", nil)), false},
		{"negative exp", rs(with(good, "exp", -1e18)), false},
		{"nbf 6 minutes ahead", rs(with(good, "nbf", now.Add(6*time.Minute).Unix())), false},
		{"iat 6 minutes ahead", rs(with(good, "iat", now.Add(6*time.Minute).Unix())), false},
		{"nbf far in the future", rs(with(good, "nbf", 1e300)), false},
		{"claims not an object", func(t *testing.T) string { return signJWT(t, jose.RS256, opKey(0), "k1", []string{"a"}) }, false},
		{"exp a string", rs(with(good, "exp", "tomorrow")), false},
	}
	for _, keyIssuer := range []string{"", strings.Replace(opIssuerFmt, "%s", "{tenantid}", 1)} {
		op := newFakeOP(t, opTenant, strings.Replace(opIssuerFmt, "%s", opTenant, 1), keyIssuer)
		c := op.checker(t, opTenant, newFakeClock(now))
		for _, tc := range cases {
			t.Run(tc.name+map[bool]string{true: " (key with issuer)", false: ""}[keyIssuer != ""], func(t *testing.T) {
				raw := tc.raw(t)
				cl, err := c.check(context.Background(), raw, opNonce)
				if tc.ok {
					if err != nil || cl.Oid == "" {
						t.Fatalf("valid token refused: %v", err)
					}
					return
				}
				if err == nil {
					t.Fatalf("accepted: %+v", cl)
				}
				assertRefused(t, err, raw)
			})
		}
	}
}

// TestIDTokenMultiTenant: for "organizations" the issuer is the template
// with the token's own tid; a token whose tid is not its issuer's tenant
// is refused.
func TestIDTokenMultiTenant(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_760_000_000, 0)
	tmpl := strings.Replace(opIssuerFmt, "%s", "{tenantid}", 1)
	op := newFakeOP(t, "organizations", tmpl, tmpl)
	c := op.checker(t, "organizations", newFakeClock(now))
	for _, tenant := range []string{opTenant, opOther} {
		raw := signJWT(t, jose.RS256, opKey(0), "k1", goodClaims(tenant, now))
		if _, err := c.check(context.Background(), raw, opNonce); err != nil {
			t.Fatalf("tenant %s: %v", tenant, err)
		}
	}
	for name, cl := range map[string]map[string]any{
		"tid not the issuer's tenant": with(goodClaims(opTenant, now), "tid", opOther),
		"no tid":                      with(goodClaims(opTenant, now), "tid", nil),
		"template issuer":             with(goodClaims(opTenant, now), "iss", tmpl),
		"tid is the template":         with(goodClaims(opTenant, now), "tid", "{tenantid}", "iss", tmpl),
	} {
		raw := signJWT(t, jose.RS256, opKey(0), "k1", cl)
		_, err := c.check(context.Background(), raw, opNonce)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		t.Run(name, func(t *testing.T) { assertRefused(t, err, raw) })
	}
}

// TestIDTokenMetadataWithoutIssuer: a provider whose metadata names no
// issuer fails every sign-in (nothing to check the issuer against).
func TestIDTokenMetadataWithoutIssuer(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_760_000_000, 0)
	op := newFakeOP(t, opTenant, "", "")
	c := op.checker(t, opTenant, newFakeClock(now))
	raw := signJWT(t, jose.RS256, opKey(0), "k1", goodClaims(opTenant, now))
	_, err := c.check(context.Background(), raw, opNonce)
	if !errors.Is(err, ErrInvalidIDToken) {
		t.Fatalf("got %v, want ErrInvalidIDToken", err)
	}
}

// TestWebAppIDTokenRefusedThroughCompleteSignIn plays a hostile or broken
// token endpoint: the code redemption answers with a genuine token answer
// whose id token is replaced. CompleteSignIn refuses each one, and no
// account is signed in.
func TestWebAppIDTokenRefusedThroughCompleteSignIn(t *testing.T) {
	t.Parallel()
	w := newWebEnv(t, nil, nil)
	ctx := context.Background()
	genuine, state, pending := w.redeemByHand(t)
	var answer map[string]any
	if err := json.Unmarshal(genuine, &answer); err != nil {
		t.Fatal(err)
	}
	idToken, _ := answer["id_token"].(string)
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		t.Fatalf("the emulator's answer has no id token")
	}
	var good map[string]any
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(p, &good)
	var header struct{ Kid string }
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	json.Unmarshal(h, &header)

	retoken := func(idToken string) string {
		a := with(answer, "id_token", idToken)
		b, _ := json.Marshal(a)
		return string(b)
	}
	callback := func() *http.Request {
		r, _ := http.NewRequest(http.MethodGet, w.base+"/auth/callback?state="+state+"&code=any", nil)
		return r
	}
	forged := map[string]string{
		"signed by another key under the emulator's kid": signJWT(t, jose.RS256, opKey(1), header.Kid, good),
		"payload altered (another user)": parts[0] + "." + base64.RawURLEncoding.EncodeToString(func() []byte {
			b, _ := json.Marshal(with(good, "oid", "0a0b0c0d-0000-4000-8000-0000000000ff"))
			return b
		}()) + "." + parts[2],
		"alg none":      unsignedJWT(map[string]any{"alg": "none", "kid": header.Kid}, good, "c2ln"),
		"not a JWT":     "not-a-jwt",
		"truncated JWT": parts[0] + "." + parts[1],
	}
	for name, tok := range forged {
		t.Run(name, func(t *testing.T) {
			w.m.s.InjectFault(entratest.EndpointToken, faultBody(retoken(tok)))
			acct, err := w.app.CompleteSignIn(ctx, callback(), pending)
			if err == nil {
				t.Fatalf("signed in %+v", acct)
			}
			if acct != (Account{}) {
				t.Errorf("account %+v with an error", acct)
			}
			want := ErrInvalidIDToken
			if tok == "not-a-jwt" { // MSAL cannot parse it: a malformed answer
				want = ErrInvalidResponse
			}
			if !errors.Is(err, want) {
				t.Fatalf("got %v, want %v", err, want)
			}
			if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), parts[2]) {
				t.Fatalf("error shows the id token: %v", err)
			}
		})
	}
	if got, _ := w.app.Accounts(ctx); len(got) != 0 {
		t.Fatalf("accounts after refused sign-ins: %+v", got)
	}
	// A genuine id token, replayed into another sign-in, has the other
	// sign-in's nonce.
	_, other := w.startSignIn(t)
	w.m.s.InjectFault(entratest.EndpointToken, faultBody(string(genuine)))
	r, _ := http.NewRequest(http.MethodGet, w.base+"/auth/callback?state="+mustOpen(t, w, other).State+"&code=any", nil)
	if _, err := w.app.CompleteSignIn(ctx, r, other); !errors.Is(err, ErrInvalidIDToken) || !strings.Contains(err.Error(), "nonce") {
		t.Fatalf("replayed id token: %v, want ErrInvalidIDToken (nonce)", err)
	}
	// The genuine answer itself passes (the harness is right).
	w.m.s.InjectFault(entratest.EndpointToken, faultBody(string(genuine)))
	acct, err := w.app.CompleteSignIn(ctx, callback(), pending)
	if err != nil || acct.ObjectID != w.m.demo.User.ObjectID {
		t.Fatalf("genuine answer: %+v, %v", acct, err)
	}
}

// startSignIn starts a sign-in and returns its sign-in URL and pending
// value.
func (w *webEnv) startSignIn(t *testing.T) (signInURL, pending string) {
	t.Helper()
	signInURL, pending, err := w.app.StartSignIn(context.Background(), nil, w.m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	return signInURL, pending
}

func mustOpen(t *testing.T, w *webEnv, pending string) pendingSignIn {
	t.Helper()
	p, err := open(w.app.sealer, pending, w.app.s.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// code follows signInURL to the emulator's answer and returns its state
// and code, without completing the sign-in.
func (w *webEnv) code(t *testing.T, signInURL string) (state, code string) {
	t.Helper()
	nofollow := &http.Client{Transport: w.m.s.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := nofollow.Get(signInURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || u.Query().Get("code") == "" {
		t.Fatalf("no code in the answer %q", resp.Header.Get("Location"))
	}
	return u.Query().Get("state"), u.Query().Get("code")
}

// redeemByHand starts a sign-in, gets its code and redeems it itself (as
// the app would, with the pending sign-in's verifier): it returns the
// emulator's genuine token answer, the state and the pending value.
func (w *webEnv) redeemByHand(t *testing.T) (answer []byte, state, pending string) {
	t.Helper()
	signInURL, pending := w.startSignIn(t)
	state, code := w.code(t, signInURL)
	p := mustOpen(t, w, pending)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {w.base + "/auth/callback"},
		"client_id": {w.m.demo.WebApp.ClientID}, "client_secret": {w.m.demo.WebApp.ClientSecret},
		"code_verifier": {p.Verifier}, "scope": {strings.Join(p.Scopes, " ")}, "client_info": {"1"}}
	resp, err := w.m.s.Client().PostForm(w.m.s.URL+"/"+w.m.demo.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("redeeming by hand: %d %s", resp.StatusCode, answer)
	}
	return answer, state, pending
}

func faultBody(body string) entratest.Fault {
	return entratest.Fault{Status: http.StatusOK, Body: body}
}

// TestIDTokenSignatureEncodingIsCanonical: a 2048-bit RS256 signature
// leaves 4 unused bits in its last base64url character; a token whose
// signature sets them is another string for the same signature and is
// refused, so one signed token has one spelling (a replay cache keyed by
// the token cannot be bypassed by respelling it).
func TestIDTokenSignatureEncodingIsCanonical(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_760_000_000, 0)
	op := newFakeOP(t, opTenant, strings.Replace(opIssuerFmt, "%s", opTenant, 1), "")
	c := op.checker(t, opTenant, newFakeClock(now))
	valid := signJWT(t, jose.RS256, opKey(0), "k1", goodClaims(opTenant, now))
	if _, err := c.check(context.Background(), valid, opNonce); err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, valid[len(valid)-1])
	for i := 1; i < 16; i++ {
		respelled := valid[:len(valid)-1] + string(alphabet[last&^15|(last+i)&15])
		_, err := c.check(context.Background(), respelled, opNonce)
		if err == nil {
			t.Fatalf("signature respelled with unused bits %04b accepted", (last+i)&15)
		}
		assertRefused(t, err, respelled)
	}
	// The decoder skips CR and LF: a token with them is refused too.
	parts := strings.Split(valid, ".")
	for i := range parts {
		for _, nl := range []string{"\n", "\r", "\r\n", " ", "="} {
			p := append([]string(nil), parts...)
			p[i] = p[i][:5] + nl + p[i][5:]
			respelled := strings.Join(p, ".")
			_, err := c.check(context.Background(), respelled, opNonce)
			if err == nil {
				t.Fatalf("segment %d with %q inserted accepted", i, nl)
			}
			assertRefused(t, err, respelled)
		}
	}
}
