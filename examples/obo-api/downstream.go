package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"

	"github.com/entrakit/entra/bearer"
)

// caller is who called an API, as its validated token says.
type caller struct {
	OID      string `json:"oid"`      // the user
	Username string `json:"username"` // preferred_username
	AppID    string `json:"azp"`      // the app that got the token
}

func callerOf(c *bearer.Claims) caller {
	return caller{OID: c.ObjectID, Username: c.Username, AppID: c.ClientID}
}

// startDownstream starts the downstream custom API (https, in-process),
// or returns nil when there is none. It accepts only tokens issued for
// itself (audience cfg.apiID or its App ID URI) holding its delegated
// scope access_as_user, and answers who called: the user (oid) and the
// app that got the token (azp: the middle tier, for an on-behalf-of
// token).
func startDownstream(cfg *config) (*httptest.Server, error) {
	if cfg.apiID == "" {
		return nil, nil
	}
	v, err := bearer.New(cfg.tenantID, cfg.apiID, &bearer.Options{
		Cloud: cfg.cloud, AppIDURI: cfg.apiIDURI, HTTPClient: httpClient(cfg.pool)})
	if err != nil {
		return nil, err
	}
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := bearer.FromContext(r.Context()) // set by the middleware
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(callerOf(c))
	})
	mux := http.NewServeMux()
	mux.Handle("GET /whoami", v.Middleware(v.RequireScopes("access_as_user")(whoami)))
	return httptest.NewTLSServer(mux), nil
}
