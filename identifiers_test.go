package entra_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/entrakit/entra"
)

func TestGraphIDAndOID(t *testing.T) {
	// The seed: Graph /me answers 0123456789abcdef for a personal account
	// whose id_token says oid 00000000-0000-0000-0123-456789abcdef.
	const graphID, oid = "0123456789abcdef", "00000000-0000-0000-0123-456789abcdef"
	if got, ok := entra.GraphIDFromOID(oid); !ok || got != graphID {
		t.Errorf("GraphIDFromOID = %q, %v", got, ok)
	}
	if got, ok := entra.OIDFromGraphID("0123456789ABCDEF"); !ok || got != oid {
		t.Errorf("OIDFromGraphID = %q, %v", got, ok)
	}
	tests := []struct {
		graphID, oid string
		want         bool
	}{
		{graphID, oid, true},
		{"0123456789ABCDEF", strings.ToUpper(oid), true},
		{"4c037c2f-4b2f-46c1-a25f-d214e2396d47", "4C037C2F-4B2F-46C1-A25F-D214E2396D47", true},
		{"0123456789abcdee", oid, false},
		{graphID, "10000000-0000-0000-0123-456789abcdef", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got := entra.SameUser(tt.graphID, tt.oid); got != tt.want {
			t.Errorf("SameUser(%q, %q) = %v, want %v", tt.graphID, tt.oid, got, tt.want)
		}
	}
	for _, bad := range []string{"", "0123456789abcde", "0123456789abcdeg", "00000000-0000-0000-0123-456789abcdeX"} {
		if _, ok := entra.OIDFromGraphID(bad); ok && len(bad) != 36 {
			t.Errorf("OIDFromGraphID(%q) ok", bad)
		}
		if _, ok := entra.GraphIDFromOID(bad); ok {
			t.Errorf("GraphIDFromOID(%q) ok", bad)
		}
	}
}

func TestDecodeProfileInfoFromSeed(t *testing.T) {
	b, err := os.ReadFile("testdata/inspect/b2c-profile-info.txt")
	if err != nil {
		t.Fatal(err)
	}
	p, err := entra.DecodeProfileInfo(string(b))
	if err != nil {
		t.Fatal(err)
	}
	want := entra.ProfileInfo{Version: "1.0", TenantID: "9e037b16-972f-4fed-ba28-725932f93f6d"}
	if p != want {
		t.Errorf("DecodeProfileInfo = %+v, want %+v", p, want)
	}
}

func TestDecodeClientInfo(t *testing.T) {
	// base64url of {"uid":"4c037c2f-4b2f-46c1-a25f-d214e2396d47","utid":"2ed832a8-cd8c-4f7d-89b3-935447e260c8"}, padded.
	const ci = "eyJ1aWQiOiI0YzAzN2MyZi00YjJmLTQ2YzEtYTI1Zi1kMjE0ZTIzOTZkNDciLCJ1dGlkIjoiMmVkODMyYTgtY2Q4Yy00ZjdkLTg5YjMtOTM1NDQ3ZTI2MGM4In0="
	c, err := entra.DecodeClientInfo(ci)
	if err != nil {
		t.Fatal(err)
	}
	if c.HomeAccountID() != "4c037c2f-4b2f-46c1-a25f-d214e2396d47.2ed832a8-cd8c-4f7d-89b3-935447e260c8" {
		t.Errorf("HomeAccountID = %q", c.HomeAccountID())
	}
	for _, bad := range []string{"", "!!!", "WzEsMl0", "eyJ1aWQiOjF9", strings.Repeat("A", 20000)} {
		_, err := entra.DecodeClientInfo(bad)
		if !errors.Is(err, entra.ErrInvalidResponse) {
			t.Errorf("DecodeClientInfo(%.20q) = %v, want ErrInvalidResponse", bad, err)
		}
	}
}
