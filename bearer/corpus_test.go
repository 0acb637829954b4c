package bearer_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// badTokens generates malformed and forged tokens against the fake
// provider's API (tenantA, apiID); none may be accepted.
func badTokens(t testing.TB) map[string][]string {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	a, b := keys()
	out := map[string][]string{}
	add := func(kind, tok string) { out[kind] = append(out[kind], tok) }
	variant := func(i int) jwt.MapClaims {
		c := v2Claims(now)
		c["uti"] = fmt.Sprint(i)
		if i%2 == 1 {
			c = v1Claims(now)
			c["uti"] = fmt.Sprint(i)
		}
		return c
	}
	enc := func(v any) string {
		j, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(j)
	}
	guid := func() string {
		return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xfff, rng.Uint64()&0xffffffffffff)
	}
	pubPEM := []byte(fmt.Sprintf("%x", a.N.Bytes()))
	for i := range 60 {
		c := variant(i)
		none := jwt.NewWithClaims(jwt.SigningMethodNone, c)
		none.Header["kid"] = "a"
		s, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
		add("alg none", s)
		add("alg none with signature", s+"AAAA")
		for _, key := range [][]byte{a.N.Bytes(), pubPEM} {
			hs := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
			hs.Header["kid"] = "a"
			s, _ := hs.SignedString(key)
			add("HS256 with the public key", s)
		}
		good := signA(t, c)
		p := strings.Split(good, ".")
		sig := []byte(p[2])
		j := rng.IntN(len(sig) - 2)
		sig[j] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[(strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[j])+1+rng.IntN(62))%64]
		add("bad signature", p[0]+"."+p[1]+"."+string(sig))
		add("signature of another key", signWith(t, b, "a", c))
		add("unknown kid", signWith(t, a, fmt.Sprintf("kid-%d", i), c))
		add("missing kid", signWith(t, a, "", c))
		for _, alg := range []string{"RS384", "PS256", "ES256", "none", "HS512", "RS256 "} {
			add("other alg", enc(map[string]string{"alg": alg, "kid": "a"})+"."+p[1]+"."+p[2])
		}
		add("claims swapped under a valid signature", p[0]+"."+enc(map[string]any{"aud": apiID, "tid": tenantA})+"."+p[2])
	}
	claimForgeries := []struct {
		kind string
		m    func(c jwt.MapClaims)
	}{
		{"expired", func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Duration(6+rng.IntN(10000)) * time.Minute).Unix() }},
		{"not yet valid", func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Duration(6+rng.IntN(10000)) * time.Minute).Unix() }},
		{"wrong aud", func(c jwt.MapClaims) { c["aud"] = guid() }},
		{"wrong aud URI", func(c jwt.MapClaims) { c["aud"] = "api://" + guid() }},
		{"graph aud", func(c jwt.MapClaims) {
			c["aud"] = []string{"https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"}[rng.IntN(2)]
		}},
		{"wrong tenant", func(c jwt.MapClaims) {
			tid := guid()
			c["tid"] = tid
			c["iss"] = strings.Replace(c["iss"].(string), tenantA, tid, 1)
		}},
		{"wrong iss host", func(c jwt.MapClaims) {
			c["iss"] = "https://" + []string{"evil.example", "login.microsoftonline.us", "sts.chinacloudapi.cn", "login.microsoftonline.de"}[rng.IntN(4)] + "/" + tenantA + "/"
		}},
		{"wrong cloud v2 iss", func(c jwt.MapClaims) {
			c["iss"], c["ver"] = "https://login.partner.microsoftonline.cn/"+tenantA+"/v2.0", "2.0"
		}},
		{"v1 token claiming v2", func(c jwt.MapClaims) {
			c["iss"], c["ver"] = "https://sts.windows.net/"+tenantA+"/", "2.0"
		}},
		{"no scp or roles", func(c jwt.MapClaims) { delete(c, "scp"); delete(c, "roles") }},
		{"ID token", func(c jwt.MapClaims) { delete(c, "azp"); delete(c, "appid"); c["nonce"] = "n" }},
		{"wrong claim types", func(c jwt.MapClaims) {
			c[[]string{"scp", "roles", "tid", "ver", "exp"}[rng.IntN(5)]] = map[string]any{"x": 1}
		}},
	}
	for _, cf := range claimForgeries {
		for i := range 30 {
			c := variant(i)
			cf.m(c)
			add(cf.kind, signA(t, c))
		}
	}
	valid := signA(t, v2Claims(now))
	p := strings.Split(valid, ".")
	for range 40 {
		pad := strings.Repeat("x", 2048+rng.IntN(8192))
		add("oversized header", enc(map[string]string{"alg": "RS256", "kid": "a", "pad": pad})+"."+p[1]+"."+p[2])
		add("oversized token", valid+strings.Repeat("A", 16<<10))
		cut := 1 + rng.IntN(len(valid)-2)
		add("truncated", valid[:cut])
		bad := []byte(valid)
		bad[rng.IntN(len(bad))] = "!@#$%^&*()=?~"[rng.IntN(13)]
		add("invalid base64", string(bad))
		add("padded base64", p[0]+"=."+p[1]+"."+p[2])
		garbage := make([]byte, 1+rng.IntN(200))
		for j := range garbage {
			garbage[j] = byte(33 + rng.IntN(94))
		}
		add("garbage", strings.ReplaceAll(string(garbage), ",", "."))
		depth := 100 + rng.IntN(5000)
		add("JSON bomb in header", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"a","x":`+strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}`))+"."+p[1]+"."+p[2])
		add("JSON bomb in payload", p[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(`{"a":`+strings.Repeat(`{"a":`, depth)+"1"+strings.Repeat("}", depth+1)))+"."+p[2])
		add("huge array in payload", p[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(`{"roles":[`+strings.Repeat(`"x",`, 2000)+`"x"]}`))+"."+p[2])
		add("payload not an object", p[0]+"."+enc([]any{1, 2})+"."+p[2])
		add("JWE-shaped", p[0]+"."+p[1]+"."+p[2]+".x.y")
	}
	return out
}

func TestBadTokenCorpus(t *testing.T) {
	f := newFakeEntra(t)
	v := f.validator(t, tenantA, nil)
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a bad token reached the handler")
	}))
	corpus := badTokens(t)
	total := 0
	for kind, toks := range corpus {
		for _, tok := range toks {
			total++
			w := serve(h, "/", "Bearer "+tok)
			if w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s: status %d %q, want 401 invalid_token", kind, w.Code, w.Header().Get("WWW-Authenticate"))
			}
		}
	}
	if total < 1000 {
		t.Fatalf("corpus has %d tokens, want at least 1000", total)
	}
	t.Logf("%d bad tokens in %d kinds: all 401", total, len(corpus))
}
