package entra

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"
)

// signInLifetime bounds the time between StartSignIn and the callback.
const signInLifetime = 10 * time.Minute

// maxPending bounds a sealed sign-in state (it travels in a cookie).
const maxPending = 3 << 10

// pendingAAD binds a sealed sign-in state to its use.
var pendingAAD = []byte("entra/signin/v1")

// pendingSignIn is what a web sign-in keeps between StartSignIn and the
// callback: the values the callback is checked against and the PKCE
// verifier the code is redeemed with.
type pendingSignIn struct {
	State    string   `json:"s"`
	Nonce    string   `json:"n"`
	Verifier string   `json:"v"`
	Scopes   []string `json:"sc"`
	Claims   string   `json:"c,omitempty"`
	ReturnTo string   `json:"r,omitempty"`
	Created  int64    `json:"t"` // unix seconds
}

// newSealer returns the AEAD that seals sign-in states: AES-256-GCM under
// key (32 bytes), or a random key.
func newSealer(key []byte) (cipher.AEAD, error) {
	if key == nil {
		key = make([]byte, 32)
		rand.Read(key)
	}
	if len(key) != 32 {
		return nil, configErrorHint("give Options.SignInKey 32 random bytes (the same on every instance), or leave it nil",
			"Options.SignInKey is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts and authenticates p into a cookie-safe string.
func seal(aead cipher.AEAD, p pendingSignIn) string {
	plain, _ := json.Marshal(p)
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, pendingAAD))
}

// errPending reports a sign-in state that cannot be used.
var errPending = errors.New("entra: sign-in state missing, altered, expired or from another key")

// open reverses seal and checks the state's age.
func open(aead cipher.AEAD, s string, now time.Time) (pendingSignIn, error) {
	if s == "" || len(s) > maxPending {
		return pendingSignIn{}, errPending
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < aead.NonceSize()+aead.Overhead() {
		return pendingSignIn{}, errPending
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], pendingAAD)
	if err != nil {
		return pendingSignIn{}, errPending
	}
	var p pendingSignIn
	if json.Unmarshal(plain, &p) != nil || p.State == "" || p.Verifier == "" || p.Nonce == "" {
		return pendingSignIn{}, errPending
	}
	age := now.Sub(time.Unix(p.Created, 0))
	if age > signInLifetime || age < -time.Minute {
		return pendingSignIn{}, errPending
	}
	return p, nil
}

// randomValue returns 32 random bytes, base64url: a state, nonce or PKCE
// verifier (43 characters, as RFC 7636 recommends).
func randomValue() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// challengeOf is the PKCE S256 challenge of verifier.
func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// cookieName is the name of the cookie holding the sign-in with state, so
// sign-ins started in two tabs do not overwrite each other.
func cookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return "entra_signin_" + hex.EncodeToString(sum[:6])
}
