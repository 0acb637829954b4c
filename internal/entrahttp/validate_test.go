package entrahttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestValidateToken(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ok := `"access_token":"eyJ.x.y","token_type":"Bearer"`
	tests := []struct {
		name, ct, body string
		want           Kind // 0 = accepted
	}{
		{"v2", "application/json; charset=utf-8", `{` + ok + `,"expires_in":3599,"ext_expires_in":3599}`, 0},
		{"quoted int (v1)", "application/json", `{` + ok + `,"expires_in":"3599","expires_on":"` + strconv.FormatInt(now.Unix()+3599, 10) + `"}`, 0},
		{"no content type", "", `{` + ok + `,"expires_in":60}`, 0},
		{"bearer lower case", "application/json", `{"access_token":"a","token_type":"bearer","expires_in":60}`, 0},
		{"no token_type", "application/json", `{"access_token":"a","expires_in":60}`, 0},
		{"refresh_in", "application/json", `{` + ok + `,"expires_in":7200,"refresh_in":3600}`, 0},
		{"400 days", "application/json", `{` + ok + `,"expires_in":34560000}`, 0},
		{"html", "text/html; charset=utf-8", `<html>sign in</html>`, KindMalformed},
		{"json in text/plain", "text/plain", `{` + ok + `,"expires_in":60}`, KindMalformed},
		{"not json", "application/json", `hello`, KindMalformed},
		{"truncated", "application/json", `{"access_token":"eyJ0eXAiOiJKV1Qi`, KindMalformed},
		{"array", "application/json", `[1,2]`, KindMalformed},
		{"null", "application/json", `null`, KindMalformed},
		{"trailing", "application/json", `{` + ok + `,"expires_in":60} {}`, KindMalformed},
		{"missing access_token", "application/json", `{"token_type":"Bearer","expires_in":60}`, KindMissingToken},
		{"empty access_token", "application/json", `{"access_token":"","token_type":"Bearer","expires_in":60}`, KindMissingToken},
		{"numeric access_token", "application/json", `{"access_token":5,"expires_in":60}`, KindMissingToken},
		{"pop token_type", "application/json", `{"access_token":"a","token_type":"pop","expires_in":60}`, KindTokenType},
		{"numeric token_type", "application/json", `{"access_token":"a","token_type":1,"expires_in":60}`, KindTokenType},
		{"float", "application/json", `{` + ok + `,"expires_in":3599.0}`, KindExpiresIn},
		{"exponent", "application/json", `{` + ok + `,"expires_in":3e3}`, KindExpiresIn},
		{"null expires_in", "application/json", `{` + ok + `,"expires_in":null}`, KindExpiresIn},
		{"negative", "application/json", `{` + ok + `,"expires_in":-1}`, KindExpiresIn},
		{"zero", "application/json", `{` + ok + `,"expires_in":0}`, KindExpiresIn},
		{"quoted zero", "application/json", `{` + ok + `,"expires_in":"0"}`, KindExpiresIn},
		{"overflow", "application/json", `{` + ok + `,"expires_in":99999999999999}`, KindExpiresIn},
		{"401 days", "application/json", `{` + ok + `,"expires_in":34646400}`, KindExpiresIn},
		{"missing expiry", "application/json", `{` + ok + `}`, KindExpiresIn},
		{"quoted garbage", "application/json", `{` + ok + `,"expires_in":"soon"}`, KindExpiresIn},
		{"expires_on past", "application/json", `{` + ok + `,"expires_in":3600,"expires_on":1000}`, KindExpiresIn},
		{"expires_on date", "application/json", `{` + ok + `,"expires_on":"2030-01-01 00:00:00"}`, KindExpiresIn},
		{"bad refresh_in", "application/json", `{` + ok + `,"expires_in":60,"refresh_in":1.5}`, KindExpiresIn},
		{"bad ext_expires_in", "application/json", `{` + ok + `,"expires_in":60,"ext_expires_in":"x"}`, KindExpiresIn},
		// Keys bind as encoding/json binds them (defect 2): every spelling
		// is validated and two keys for one field are refused.
		{"upper-case duplicate", "application/json", `{` + ok + `,"expires_in":3599,"EXPIRES_IN":99999999999999}`, KindMalformed},
		{"mixed-case duplicate", "application/json", `{` + ok + `,"Expires_In":99999999999999,"expires_in":3599}`, KindMalformed},
		{"expires_on duplicate", "application/json", `{` + ok + `,"expires_in":3599,"expires_on":"1800003599","Expires_On":"99999999999"}`, KindMalformed},
		{"upper-case only, absurd", "application/json", `{` + ok + `,"EXPIRES_IN":99999999999999}`, KindExpiresIn},
		{"Expires_On only, absurd", "application/json", `{` + ok + `,"expires_in":3599,"Expires_On":99999999999}`, KindExpiresIn},
		{"upper-case only, fine", "application/json", `{` + ok + `,"EXPIRES_IN":3599}`, 0},
		{"long s duplicate", "application/json", `{` + ok + `,"expires_in":3599,"expireſ_in":99999999999999}`, KindMalformed},
		{"long s only, absurd", "application/json", `{` + ok + `,"expireſ_in":99999999999999}`, KindExpiresIn},
		{"escaped long s", "application/json", `{` + ok + `,"expires_in":3599,"expire\u017f_in":99999999999999}`, KindMalformed},
		{"escaped key", "application/json", `{` + ok + `,"expires_in":3599,"\u0065xpires_in":99999999999999}`, KindMalformed},
		{"kelvin token_type", "application/json", `{"access_token":"a","expires_in":60,"toKen_type":"pop"}`, KindTokenType},
		{"kelvin duplicate access_token", "application/json", `{"access_token":"a","expires_in":60,"ACCESS_TOKEN":"b
X: y"}`, KindMalformed},
		{"duplicate access_token", "application/json", `{"access_token":"a","expires_in":60,"Access_Token":"b"}`, KindMalformed},
		{"ext_expires_in spelled twice", "application/json", `{` + ok + `,"expires_in":60,"ext_expires_in":60,"EXT_EXPIRES_IN":-1}`, KindMalformed},
		{"refresh_in upper", "application/json", `{` + ok + `,"expires_in":60,"REFRESH_IN":99999999999999}`, KindExpiresIn},
		{"unrelated near-miss", "application/json", `{` + ok + `,"expires_in":60,"expires-in":99999999999999,"expires_in_":1}`, 0},
		{"DeclinedScopes", "application/json", `{` + ok + `,"expires_in":60,"declinedscopes":["x"]}`, KindMalformed},
		{"AdditionalFields", "application/json", `{` + ok + `,"expires_in":60,"AdditionalFields":{}}`, KindMalformed},
		// The access token must be sendable as a bearer token (defect 23).
		{"CRLF in token", "application/json", `{"access_token":"abc\r\nX-Evil: 1","expires_in":60}`, KindInvalidToken},
		{"LF in token", "application/json", `{"access_token":"abc\ndef","expires_in":60}`, KindInvalidToken},
		{"NUL in token", "application/json", `{"access_token":"abc\u0000def","expires_in":60}`, KindInvalidToken},
		{"tab in token", "application/json", `{"access_token":"abc\tdef","expires_in":60}`, KindInvalidToken},
		{"space in token", "application/json", `{"access_token":"abc def","expires_in":60}`, KindInvalidToken},
		{"quote in token", "application/json", `{"access_token":"abc\"def","expires_in":60}`, KindInvalidToken},
		{"comma in token", "application/json", `{"access_token":"abc,def","expires_in":60}`, KindInvalidToken},
		{"non-ASCII token", "application/json", `{"access_token":"abcé","expires_in":60}`, KindInvalidToken},
		{"DEL in token", "application/json", "{\"access_token\":\"abc\x7f\",\"expires_in\":60}", KindInvalidToken},
		{"padding inside token", "application/json", `{"access_token":"ab=cd","expires_in":60}`, KindInvalidToken},
		{"only padding", "application/json", `{"access_token":"==","expires_in":60}`, KindInvalidToken},
		{"opaque MSA-style token", "application/json", `{"access_token":"EwBwA8l6BAAU+h2F/xW~zL.S3_1Zg-Q==","expires_in":60}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validateToken(tt.ct, []byte(tt.body), now)
			var got Kind
			if p != nil {
				got = p.kind
				if strings.Contains(p.detail, "eyJ") || strings.Contains(p.detail, "sign in") {
					t.Errorf("detail %q quotes the body", p.detail)
				}
			}
			if got != tt.want {
				t.Errorf("got kind %v (%v), want %v", got, p, tt.want)
			}
		})
	}
}

func BenchmarkValidateToken(b *testing.B) {
	body := []byte(`{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"` + strings.Repeat("a", 1500) + `"}`)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if p := validateToken("application/json; charset=utf-8", body, now); p != nil {
			b.Fatal(p.detail)
		}
	}
}

func TestSafeMediaType(t *testing.T) {
	tests := []struct{ in, want string }{
		{"text/html; charset=utf-8", "text/html"},
		{"TEXT/PLAIN", "text/plain"},
		{"application/xml", "application/xml"},
		{"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0/sig", "a non-JSON type"},
		{"text/x-secret-Yy78Q~Uu5kDvlvk6ZGM", "a non-JSON type"},
		{"garbage\r\n", "a non-JSON type"},
		{"", "a non-JSON type"},
	}
	for _, tt := range tests {
		if got := safeMediaType(tt.in); got != tt.want {
			t.Errorf("safeMediaType(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A token placed in Content-Type never reaches the error (defect 21).
func TestDoContentTypeNotQuoted(t *testing.T) {
	const tok = "opaqueTokenValue0123456789abcdefABCDEF"
	srv := newFakeServer(t, answer{headers: map[string]string{"Content-Type": "text/" + tok + "; x=" + tok},
		body: `{"token_type":"Bearer","expires_in":3599,"access_token":"` + tok + `"}`})
	c, _ := newFakeClient(Options{}, srv)
	_, err := postToken(context.Background(), c, srv.URL+"/t/oauth2/v2.0/token", "s")
	var re *ResponseError
	if !errors.As(err, &re) || re.Kind != KindMalformed {
		t.Fatalf("got %v, want KindMalformed", err)
	}
	if strings.Contains(fmt.Sprintf("%v %#v", err, re), tok) {
		t.Errorf("error %q quotes the Content-Type", err)
	}
}

// A token answer is validated wherever metadata put the endpoint: any
// POST carrying grant_type, whatever its path.
func TestDoValidatesTokenRequestsByForm(t *testing.T) {
	bad := answer{body: `{"token_type":"Bearer","expires_in":3599,"EXPIRES_IN":99999999999999,"access_token":"a"}`}
	tests := []struct {
		name, path string
		form       string
		refused    bool
	}{
		{"token path", "/t/oauth2/v2.0/token", "client_id=c", true},
		{"odd path with grant_type", "/t/oauth2/v2.0/issue", "grant_type=client_credentials&client_secret=s", true},
		{"odd path, bad escape then grant_type", "/t/x", "a=%zz&grant_type=client_credentials", true},
		{"device code request", "/t/oauth2/v2.0/devicecode", "client_id=c&scope=x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, bad)
			c, _ := newFakeClient(Options{}, srv)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+tt.path, strings.NewReader(tt.form))
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			if refused := err != nil; refused != tt.refused {
				t.Errorf("got %v, want refused %v", err, tt.refused)
			}
		})
	}
}
