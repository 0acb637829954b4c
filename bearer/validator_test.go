package bearer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/entrakit/entra/bearer"
	"github.com/golang-jwt/jwt/v5"
)

func TestClaimChecks(t *testing.T) {
	f := newFakeEntra(t)
	now := time.Now()
	_, keyB := keys()
	mod := func(base func(time.Time) jwt.MapClaims, m func(jwt.MapClaims)) jwt.MapClaims {
		c := base(now)
		m(c)
		return c
	}
	tests := []struct {
		name   string
		claims jwt.MapClaims
		want   error // nil = accepted
	}{
		{"v2 delegated", v2Claims(now), nil},
		{"v1 app-only with App ID URI audience", v1Claims(now), nil},
		{"aud as a one-element array", mod(v2Claims, func(c jwt.MapClaims) { c["aud"] = []string{apiID} }), nil},
		{"nbf within skew", mod(v2Claims, func(c jwt.MapClaims) { c["nbf"] = now.Add(4 * time.Minute).Unix() }), nil},
		{"expired within skew", mod(v2Claims, func(c jwt.MapClaims) { c["exp"] = now.Add(-4 * time.Minute).Unix() }), nil},
		{"expired", mod(v2Claims, func(c jwt.MapClaims) { c["exp"] = now.Add(-6 * time.Minute).Unix() }), bearer.ErrExpired},
		{"no exp", mod(v2Claims, func(c jwt.MapClaims) { delete(c, "exp") }), bearer.ErrExpired},
		{"nbf in the future", mod(v2Claims, func(c jwt.MapClaims) { c["nbf"] = now.Add(10 * time.Minute).Unix() }), bearer.ErrNotYetValid},
		{"wrong audience", mod(v2Claims, func(c jwt.MapClaims) { c["aud"] = "1b2c3d4e-0004-4000-8000-00000000b001" }), bearer.ErrAudience},
		{"two audiences", mod(v2Claims, func(c jwt.MapClaims) { c["aud"] = []string{apiID, "x"} }), bearer.ErrAudience},
		{"Graph audience", mod(v2Claims, func(c jwt.MapClaims) { c["aud"] = "https://graph.microsoft.com" }), bearer.ErrGraphToken},
		{"Graph app ID audience", mod(v2Claims, func(c jwt.MapClaims) { c["aud"] = "00000003-0000-0000-c000-000000000000" }), bearer.ErrGraphToken},
		{"other tenant", mod(v2Claims, func(c jwt.MapClaims) {
			c["tid"], c["iss"] = tenantB, "https://login.microsoftonline.com/"+tenantB+"/v2.0"
		}), bearer.ErrTenant},
		{"iss of another tenant", mod(v2Claims, func(c jwt.MapClaims) { c["iss"] = "https://login.microsoftonline.com/" + tenantB + "/v2.0" }), bearer.ErrKeyIssuer},
		{"iss of another cloud", mod(v1Claims, func(c jwt.MapClaims) { c["iss"] = "https://sts.chinacloudapi.cn/" + tenantA + "/" }), bearer.ErrIssuer},
		{"v1 token claiming v2", mod(v1Claims, func(c jwt.MapClaims) { c["ver"] = "2.0" }), bearer.ErrKeyIssuer},
		{"v2 token claiming v1", mod(v2Claims, func(c jwt.MapClaims) { c["ver"] = "1.0" }), bearer.ErrIssuer},
		{"no ver", mod(v2Claims, func(c jwt.MapClaims) { delete(c, "ver") }), bearer.ErrIssuer},
		{"no tid", mod(v2Claims, func(c jwt.MapClaims) { delete(c, "tid") }), bearer.ErrKeyIssuer},
		{"no scp or roles", mod(v2Claims, func(c jwt.MapClaims) { delete(c, "scp") }), bearer.ErrNoScopes},
		{"ID token (no azp)", mod(v2Claims, func(c jwt.MapClaims) { delete(c, "azp") }), bearer.ErrIDToken},
		{"scp of the wrong type", mod(v2Claims, func(c jwt.MapClaims) { c["scp"] = 5 }), bearer.ErrMalformed},
		{"exp absurd", mod(v2Claims, func(c jwt.MapClaims) { c["exp"] = 1e300 }), bearer.ErrExpired},
	}
	v := f.validator(t, tenantA, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := signA(t, tc.claims)
			c, err := v.Validate(context.Background(), raw)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
				}
				if c.TenantID != tenantA || c.ClientID != clientID {
					t.Errorf("claims tid %q client %q", c.TenantID, c.ClientID)
				}
				return
			}
			var be *bearer.Error
			if !errors.As(err, &be) || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if be.Status != 401 || be.Code != bearer.CodeInvalidToken || strings.Contains(be.Error(), raw[len(raw)-30:]) {
				t.Errorf("error %+v: want 401 invalid_token without the token", be)
			}
			if !strings.HasPrefix(be.Error(), "entra: ") {
				t.Errorf("error %q must start with entra:", be.Error())
			}
		})
	}
	// Forged: another key under a published kid.
	if _, err := v.Validate(context.Background(), signWith(t, keyB, "a", v2Claims(now))); !errors.Is(err, bearer.ErrSignature) {
		t.Errorf("forged signature: got %v", err)
	}
}

func TestNoScopesOptIn(t *testing.T) {
	f := newFakeEntra(t)
	c := v2Claims(time.Now())
	delete(c, "scp")
	v := f.validator(t, tenantA, &bearer.Options{AllowTokensWithoutScopesOrRoles: true})
	if _, err := v.Validate(context.Background(), signA(t, c)); err != nil {
		t.Fatalf("opted in: %v", err)
	}
}

func TestMultiTenant(t *testing.T) {
	f := newFakeEntra(t)
	now := time.Now()
	b := v2Claims(now)
	b["tid"], b["iss"] = tenantB, "https://login.microsoftonline.com/"+tenantB+"/v2.0"
	b1 := v1Claims(now)
	b1["tid"], b1["iss"] = tenantB, "https://sts.windows.net/"+tenantB+"/"
	onlyA := f.validator(t, "organizations", &bearer.Options{AllowedTenants: []string{strings.ToUpper(tenantA)}})
	all := f.validator(t, "common", &bearer.Options{AllowAllTenants: true})
	ctx := context.Background()
	if _, err := onlyA.Validate(ctx, signA(t, v2Claims(now))); err != nil {
		t.Errorf("allowed tenant: %v", err)
	}
	for _, c := range []jwt.MapClaims{b, b1} {
		if _, err := onlyA.Validate(ctx, signA(t, c)); !errors.Is(err, bearer.ErrTenant) {
			t.Errorf("tenant not in the allow-list: got %v", err)
		}
		if _, err := all.Validate(ctx, signA(t, c)); err != nil {
			t.Errorf("AllowAllTenants: %v", err)
		}
	}
	if _, err := bearer.New("organizations", apiID, nil); err == nil {
		t.Error("multi-tenant without an allow-list: want an error")
	}
	for _, bad := range []string{"contoso.onmicrosoft.com", "", "consumers"} {
		if _, err := bearer.New(bad, apiID, nil); err == nil || !strings.HasPrefix(err.Error(), "entra: ") {
			t.Errorf("tenant %q: got %v, want an entra: error", bad, err)
		}
	}
	if _, err := bearer.New(tenantA, "api://x", nil); err == nil {
		t.Error("client ID not a GUID: want an error")
	}
}

func TestCacheHitExpiryAndKeyRemoval(t *testing.T) {
	f := newFakeEntra(t)
	var clock atomicTime
	clock.set(time.Now())
	v := f.validator(t, tenantA, &bearer.Options{Clock: clock.now})
	raw := signA(t, v2Claims(clock.now()))
	ctx := context.Background()
	c1, err := v.Validate(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := v.Validate(ctx, raw)
	if err != nil || c2 != c1 {
		t.Fatalf("second validation: %v; want the cached claims", err)
	}
	// A cached token still expires.
	clock.set(clock.now().Add(time.Hour + 6*time.Minute))
	if _, err := v.Validate(ctx, raw); !errors.Is(err, bearer.ErrExpired) {
		t.Fatalf("cached token after expiry: got %v, want ErrExpired", err)
	}
	// A cached token whose key left the key set is validated again.
	clock.set(time.Now())
	raw = signA(t, v2Claims(clock.now()))
	if _, err := v.Validate(ctx, raw); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.kids = []string{"b"}
	f.mu.Unlock()
	clock.set(clock.now().Add(25 * time.Hour)) // past the periodic refresh
	fresh := signA(t, v2Claims(clock.now()))
	_, _ = v.Validate(ctx, fresh) // starts the refresh
	waitFor(t, "kid a to leave the set", func() bool {
		_, err := v.Validate(ctx, fresh)
		return errors.Is(err, bearer.ErrUnknownKey)
	})
	if _, err := v.Validate(ctx, raw); !errors.Is(err, bearer.ErrUnknownKey) && !errors.Is(err, bearer.ErrExpired) {
		t.Fatalf("cached token of a removed key: got %v, want a rejection", err)
	}
}

func TestCacheStaysBounded(t *testing.T) {
	f := newFakeEntra(t)
	v := f.validator(t, tenantA, &bearer.Options{CacheSize: 64})
	now := time.Now()
	for i := range 2000 {
		c := v2Claims(now)
		c["oid"] = i
		c["uti"] = i
		if _, err := v.Validate(context.Background(), signA(t, c)); err != nil && !errors.Is(err, bearer.ErrMalformed) {
			t.Fatal(err)
		}
	}
	if n := bearer.CacheLen(v); n > 64 {
		t.Errorf("cache holds %d entries, want at most 64", n)
	}
}
