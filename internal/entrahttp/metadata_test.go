package entrahttp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestMetadataAnswersAreReusedForAnHour(t *testing.T) {
	var hits, fails atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken/v2.0/.well-known/openid-configuration" {
			fails.Add(1)
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"issuer":"x"}`)
	}))
	defer srv.Close()
	now := time.Now()
	c := New(Options{Base: srv.Client(), Now: func() time.Time { return now }})
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	meta := "/t/v2.0/.well-known/openid-configuration"
	for i := 0; i < 3; i++ {
		if got := get(meta); got != `{"issuer":"x"}` {
			t.Fatalf("body %q", got)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("3 metadata GETs made %d requests, want 1", hits.Load())
	}
	get("/common/discovery/instance?api-version=1.1")
	get("/common/discovery/instance?api-version=1.1")
	get("/t/oauth2/v2.0/token") // not metadata: never kept
	get("/t/oauth2/v2.0/token")
	if hits.Load() != 4 {
		t.Fatalf("requests %d, want 4 (metadata 1+1, other 2)", hits.Load())
	}
	get("/broken/v2.0/.well-known/openid-configuration")
	get("/broken/v2.0/.well-known/openid-configuration")
	if fails.Load() != 2 {
		t.Fatalf("a failed metadata answer was kept: %d requests, want 2", fails.Load())
	}
	now = now.Add(time.Hour)
	get(meta)
	if hits.Load() != 5 {
		t.Fatalf("after an hour: %d requests, want 5", hits.Load())
	}
}
