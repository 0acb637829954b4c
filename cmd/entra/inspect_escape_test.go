package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestInspectNeverPrintsControlCharacters is a regression test (found by review). Before the fix:
// 'entra inspect' prints the claims of an unverified token
// (audience, issuer, user, scopes, roles) to the terminal as they are. A
// token pasted from a bug report or a log can carry terminal control
// sequences (ESC ] 0 ; title BEL, ESC [ 2 J, OSC 8 links, OSC 52 clipboard
// writes) that the user's terminal then executes.
func TestInspectNeverPrintsControlCharacters(t *testing.T) {
	seg := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	evil := "\x1b]52;c;ZWNobyBvd25lZA==\x07\x1b[2J\x1b]0;owned\x07"
	tok := seg(map[string]any{"alg": "RS256", "kid": "k", "typ": "JWT"}) + "." + seg(map[string]any{
		"aud": "api://x" + evil, "iss": "https://login.microsoftonline.com/" + evil + "/v2.0",
		"tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "preferred_username": "bob" + evil,
		"scp": "read" + evil, "azp": "11111111-2222-3333-4444-555555555555", "ver": "2.0",
		"exp": time.Now().Add(time.Hour).Unix(),
	}) + ".c2ln"
	var out, errOut bytes.Buffer
	run(context.Background(), []string{"inspect", tok}, &out, &errOut)
	for _, s := range []string{out.String(), errOut.String()} {
		if strings.ContainsRune(s, 0x1b) || strings.ContainsRune(s, 0x07) {
			t.Errorf("inspect output carries terminal control characters from the token's claims:\n%q", s)
		}
	}
}
