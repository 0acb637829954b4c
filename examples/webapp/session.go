package main

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/entrakit/entra"
)

const (
	sessionCookie = "session"
	sessionTTL    = 8 * time.Hour
)

// sessions maps opaque random session IDs (the cookie's value) to the
// signed-in account. The cookie carries no identity and no token: the
// account and its tokens stay on the server. Safe for concurrent use.
type sessions struct {
	secure bool // https app: Secure cookies

	mu sync.Mutex
	m  map[string]session
}

type session struct {
	acct    entra.Account
	expires time.Time
}

func newSessions(base string) *sessions {
	return &sessions{secure: strings.HasPrefix(base, "https://"), m: map[string]session{}}
}

// start begins a session for acct and sets its cookie.
func (s *sessions) start(w http.ResponseWriter, acct entra.Account) {
	b := make([]byte, 32)
	rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	s.m[id] = session{acct: acct, expires: time.Now().Add(sessionTTL)}
	s.mu.Unlock()
	http.SetCookie(w, s.cookie(id, int(sessionTTL/time.Second)))
}

// get returns the account of r's session.
func (s *sessions) get(r *http.Request) (entra.Account, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return entra.Account{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[c.Value]
	if !ok || time.Now().After(ss.expires) {
		delete(s.m, c.Value)
		return entra.Account{}, false
	}
	return ss.acct, true
}

// end ends r's session, and every other session of its account (the
// account's tokens are gone), and deletes the cookie.
func (s *sessions) end(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.mu.Lock()
		if ss, ok := s.m[c.Value]; ok {
			for id, o := range s.m {
				if o.acct.HomeAccountID == ss.acct.HomeAccountID {
					delete(s.m, id)
				}
			}
		}
		s.mu.Unlock()
	}
	http.SetCookie(w, s.cookie("", -1))
}

func (s *sessions) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode}
}
