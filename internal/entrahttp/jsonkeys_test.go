package entrahttp

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/entrakit/entra/flows"
)

// mirror has MSAL's token-response field names (accesstokens.TokenResponse
// decoded through its aux struct), each as a raw value.
type mirror struct {
	ExpiresIn        json.RawMessage `json:"expires_in"`
	ExpiresOn        json.RawMessage `json:"expires_on"`
	AccessToken      json.RawMessage `json:"access_token"`
	RefreshToken     json.RawMessage `json:"refresh_token"`
	TokenType        json.RawMessage `json:"token_type"`
	FamilyID         json.RawMessage `json:"foci"`
	IDToken          json.RawMessage `json:"id_token"`
	ClientInfo       json.RawMessage `json:"client_info"`
	RefreshOn        json.RawMessage `json:"refresh_in"`
	ExtExpiresOn     json.RawMessage `json:"ext_expires_in"`
	GrantedScopes    json.RawMessage `json:"scope"`
	DeclinedScopes   json.RawMessage
	AdditionalFields json.RawMessage
	Error            json.RawMessage `json:"error"`
	SubError         json.RawMessage `json:"suberror"`
	ErrorDescription json.RawMessage `json:"error_description"`
	ErrorCodes       json.RawMessage `json:"error_codes"`
	CorrelationID    json.RawMessage `json:"correlation_id"`
	Claims           json.RawMessage `json:"claims"`
}

// boundBy returns the mirror field name (JSON name, else Go name) that
// encoding/json fills for key, or "".
func boundBy(t *testing.T, key string) string {
	t.Helper()
	k, _ := json.Marshal(key)
	var m mirror
	if err := json.Unmarshal([]byte(`{`+string(k)+`:1}`), &m); err != nil {
		t.Fatal(err)
	}
	v := reflect.ValueOf(m)
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).Len() > 0 {
			f := v.Type().Field(i)
			if name := f.Tag.Get("json"); name != "" {
				return name
			}
			return f.Name
		}
	}
	return ""
}

// TestFoldKeyMatchesEncodingJSON checks, against encoding/json itself,
// that msalField(foldKey(k)) binds k to the same field: every rune that
// folds to an ASCII letter (Kelvin sign, long s), substituted at every
// position of every field name, and a sample of runes that do not.
func TestFoldKeyMatchesEncodingJSON(t *testing.T) {
	var special, sample []rune
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		if foldRune(r) < utf8.RuneSelf {
			special = append(special, r)
		} else if r%4099 == 0 {
			sample = append(sample, r)
		}
	}
	if len(special) < 2 {
		t.Fatalf("found %q folding to ASCII, want at least K and ſ", special)
	}
	names := []string{"expires_in", "expires_on", "access_token", "refresh_token", "token_type", "foci", "id_token",
		"client_info", "refresh_in", "ext_expires_in", "scope", "DeclinedScopes", "AdditionalFields", "error",
		"suberror", "error_description", "error_codes", "correlation_id", "claims"}
	check := func(key string) {
		want := boundBy(t, key)
		got := ""
		if len(key) <= maxFieldKey {
			got = msalField(foldKey(key))
		}
		if got != want {
			t.Errorf("key %q: got field %q, encoding/json binds %q", key, got, want)
		}
	}
	for _, name := range names {
		check(name)
		check(strings.ToUpper(name))
		check(strings.ToLower(name))
		for i := range name {
			for _, r := range append(append([]rune(nil), special...), sample...) {
				check(name[:i] + string(r) + name[i+1:])
			}
		}
	}
}

// TestMSALDecodesWhatWasValidated runs MSAL Go itself over bodies whose
// keys differ only in case: through a plain client MSAL caches the last
// spelling (a token "valid" for years); through Client the answer is
// refused.
func TestMSALDecodesWhatWasValidated(t *testing.T) {
	const at = `"token_type":"Bearer","access_token":"eyJ0.eyJ1.c2ln"`
	tests := []struct {
		name, body string
	}{
		{"EXPIRES_IN", `{` + at + `,"expires_in":3599,"EXPIRES_IN":99999999999999}`},
		{"Expires_On", `{` + at + `,"expires_in":3599,"Expires_On":"99999999999"}`},
		{"long s", `{` + at + `,"expires_in":3599,"expireſ_in":99999999999999}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth := newFakeAuthority(t, nil, answer{body: tt.body})
			res, err := appToken(t, auth.tenantURL(), auth.plainClient())
			if err != nil {
				t.Fatalf("plain client: %v", err)
			}
			if d := time.Until(res.ExpiresOn); d < MaxLifetime {
				t.Fatalf("plain client: MSAL cached a token for %v; the test needs a body MSAL misreads", d)
			}
			_, err = appToken(t, auth.tenantURL(), New(Options{Base: auth.plainClient()}))
			var re *ResponseError
			if !errors.As(err, &re) || (re.Kind != KindMalformed && re.Kind != KindExpiresIn) {
				t.Fatalf("Client: got %v, want the answer refused", err)
			}
		})
	}
}

// appToken runs MSAL's client credentials grant through hc.
func appToken(t *testing.T, authority string, hc flows.HTTPClient) (flows.Result, error) {
	t.Helper()
	app, err := flows.NewSecret(flows.Config{Authority: authority, ClientID: "11111111-2222-3333-4444-555555555555",
		HTTPClient: hc, DisableInstanceDiscovery: true}, "the-secret-value")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return app.AppToken(ctx, []string{"api://x/.default"}, "")
}
