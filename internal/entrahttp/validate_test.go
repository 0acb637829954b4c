package entrahttp

import (
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
