package entra

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func TestInspectVerified(t *testing.T) {
	t.Parallel()
	m := newEmu(t)
	cred := m.secretCred(t, nil)
	ctx := context.Background()
	tok, err := cred.Token(ctx, m.apiScope())
	if err != nil {
		t.Fatal(err)
	}
	opts := &InspectOptions{Cloud: m.opts.Cloud}
	r, err := InspectVerified(ctx, tok.AccessToken, m.s.Client(), opts)
	if err != nil || !r.Verified || r.Has(CodeBadSignature) || r.Has(CodeNotVerified) {
		t.Fatalf("genuine token: %+v, %v", r, err)
	}
	// One claim altered, signature kept: refused, as an error finding.
	parts := strings.Split(tok.AccessToken, ".")
	c := claims(t, tok.AccessToken)
	c["roles"] = []string{"Admin.All"}
	forged := parts[0] + "." + encodeSegment(t, c) + "." + parts[2]
	r, err = InspectVerified(ctx, forged, m.s.Client(), opts)
	if err != nil || r.Verified || !r.Has(CodeBadSignature) || !r.HasErrors() {
		t.Fatalf("altered token: %+v, %v", r, err)
	}
	// Keys out of reach (no TLS trust): not verified, said so, not an error.
	r, err = InspectVerified(ctx, tok.AccessToken, nil, opts)
	if err != nil || r.Verified || !r.Has(CodeNotVerified) || r.Has(CodeBadSignature) {
		t.Fatalf("unreachable keys: %+v, %v", r, err)
	}
	// A Graph token: only Graph can verify it.
	graph, err := cred.Token(ctx, m.opts.Cloud.GraphScope())
	if err != nil {
		t.Fatal(err)
	}
	r, err = InspectVerified(ctx, graph.AccessToken, m.s.Client(), opts)
	if err != nil || r.Verified || !r.Has(CodeNotVerified) {
		t.Fatalf("Graph token: %+v, %v", r, err)
	}
	// Inspect never verifies.
	if r, _ := Inspect(tok.AccessToken); r.Verified {
		t.Fatal("Inspect claims a verified token")
	}
}

// encodeSegment is a JWT segment of v.
func encodeSegment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
