package bearer_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/entrakit/entra/bearer"
)

// FuzzMiddleware sends arbitrary Authorization headers through the
// middleware: it never panics, answers 200 only for the valid token, and
// 400/401 otherwise (the key set is loaded first, and unknown kids stay
// inside the refetch window, so no network is used while fuzzing).
func FuzzMiddleware(f *testing.F) {
	fe := newFakeEntra(f)
	v := fe.validator(f, tenantA, &bearer.Options{CacheSize: 16})
	valid := signA(f, v2Claims(time.Now()))
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	warm := func(a string) int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", a)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if warm("Bearer "+valid) != 200 {
		f.Fatal("valid token refused")
	}
	warm("Bearer " + signA(f, v2Claims(time.Now()))[:10] + "x") // nothing
	p := strings.Split(valid, ".")
	for _, s := range []string{"Bearer " + valid, "Bearer " + p[0] + "." + p[1] + ".", "Basic x", "Bearer", "bearer  a.b.c",
		"Bearer " + badTokens(f)["alg none"][0], "Bearer " + badTokens(f)["JSON bomb in header"][0]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, authz string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{authz}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200:
			if !strings.Contains(authz, valid) {
				t.Fatalf("accepted a header without the valid token")
			}
		case 400, 401:
		default:
			t.Fatalf("status %d", w.Code)
		}
	})
}
